#!/usr/bin/env python3
"""Builds a seeded, small encoder-like ONNX model over padded token sequences
(python3-onnx, no download) for the bucketing benchmark.

    make_encoder.py OUT.onnx [--vocab 8192] [--dim 128] [--ffn 256] [--classes 2] [--seed 9]
                    [--weights OUT.npz]
    make_encoder.py OUT.onnx --probe

Inputs: tokens int64[batch, seq] (0 = padding) and mask int64[batch, seq]
(1 for a real token, 0 for padding). Per token: embedding lookup (Gather),
a feed-forward block dim -> ffn -> dim with ReLU and a residual connection
(two MatMuls over [batch, seq, dim]); then mean pooling over the real tokens
(the mask), a dense head and a softmax: probabilities float32[batch, classes].
Every per-token step costs the same for a padding token as for a real one, so
the model's work is proportional to batch × padded length, as in a
transformer encoder's projections and feed-forward layers. --probe writes a
model with the same inputs that outputs each row's batch shape (see
build_probe): the benchmark uses it to count the padded tokens the engine feeds.
"""
import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def make_weights(vocab, dim, ffn, classes, seed):
    rng = np.random.default_rng(seed)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    return {"embedding": f(vocab, dim), "w1": f(dim, ffn) / np.sqrt(dim), "b1": f(ffn) * 0.1,
            "w2": f(ffn, dim) / np.sqrt(ffn), "b2": f(dim) * 0.1, "wh": f(dim, classes) / np.sqrt(dim),
            "bh": f(classes) * 0.1}


def forward(tokens, w):
    """Reference forward pass for one row (a list of token ids), float64."""
    g = lambda k: w[k].astype(np.float64)  # noqa: E731
    e = g("embedding")[np.asarray(tokens)]
    h = e + np.maximum(e @ g("w1") + g("b1"), 0) @ g("w2") + g("b2")
    z = h.mean(axis=0) @ g("wh") + g("bh")
    z = np.exp(z - z.max())
    return z / z.sum()


def build(w):
    classes = w["wh"].shape[1]
    n = helper.make_node
    nodes = [
        n("Gather", ["embedding", "tokens"], ["emb"]),                        # [b, s, d]
        n("MatMul", ["emb", "w1"], ["mm1"]),                                  # [b, s, ffn]
        n("Add", ["mm1", "b1"], ["a1"]),
        n("Relu", ["a1"], ["r1"]),
        n("MatMul", ["r1", "w2"], ["mm2"]),                                   # [b, s, d]
        n("Add", ["mm2", "b2"], ["a2"]),
        n("Add", ["a2", "emb"], ["h"]),                                       # residual
        n("Cast", ["mask"], ["maskf"], to=TensorProto.FLOAT),                 # [b, s]
        n("Unsqueeze", ["maskf", "axis2"], ["mask3"]),                        # [b, s, 1]
        n("Mul", ["h", "mask3"], ["masked"]),
        n("ReduceSum", ["masked", "axis1"], ["total"], keepdims=0),           # [b, d]
        n("ReduceSum", ["maskf", "axis1"], ["count"], keepdims=1),            # [b, 1]
        n("Div", ["total", "count"], ["pooled"]),
        n("MatMul", ["pooled", "wh"], ["mmh"]),
        n("Add", ["mmh", "bh"], ["logits"]),
        n("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    inits = [numpy_helper.from_array(v, k) for k, v in w.items()]
    inits += [numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"),
              numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1")]
    graph = helper.make_graph(
        nodes, "encoder",
        [helper.make_tensor_value_info("tokens", TensorProto.INT64, ["batch", "seq"]),
         helper.make_tensor_value_info("mask", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", classes])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def build_probe():
    """A model with the encoder's inputs whose output is, for every row, the
    shape of the batch it was fed in: float32[batch, 2] = (rows, padded length).
    Summing the second column over the output counts the padded tokens the
    engine really fed; summing 1 / the first counts the batches."""
    n = helper.make_node
    nodes = [
        n("Shape", ["tokens"], ["shape"]),                                    # [2]: batch, seq
        n("Cast", ["shape"], ["shapef"], to=TensorProto.FLOAT),
        n("Cast", ["mask"], ["maskf"], to=TensorProto.FLOAT),                 # [b, s]
        n("ReduceSum", ["maskf", "axis1"], ["count"], keepdims=1),            # [b, 1]
        n("Mul", ["count", "zero"], ["zeros"]),
        n("Add", ["zeros", "shapef"], ["batch_shape"]),                       # [b, 2]
    ]
    graph = helper.make_graph(
        nodes, "probe",
        [helper.make_tensor_value_info("tokens", TensorProto.INT64, ["batch", "seq"]),
         helper.make_tensor_value_info("mask", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("batch_shape", TensorProto.FLOAT, ["batch", 2])],
        [numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
         numpy_helper.from_array(np.array(0, dtype=np.float32), "zero")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--vocab", type=int, default=8192)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--ffn", type=int, default=256)
    p.add_argument("--classes", type=int, default=2)
    p.add_argument("--seed", type=int, default=9)
    p.add_argument("--weights")
    p.add_argument("--probe", action="store_true", help="write the batch-shape probe model instead")
    a = p.parse_args()
    if a.probe:
        onnx.save(build_probe(), a.out)
        return
    w = make_weights(a.vocab, a.dim, a.ffn, a.classes, a.seed)
    onnx.save(build(w), a.out)
    if a.weights:
        np.savez(a.weights, **w)


if __name__ == "__main__":
    main()
