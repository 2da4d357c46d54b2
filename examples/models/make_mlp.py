#!/usr/bin/env python3
"""Builds a seeded MLP as an ONNX model with python3-onnx (no download).

    make_mlp.py OUT.onnx --inputs 8 --hidden 64 --outputs 2 [--seed 7]
                [--input-name features] [--output-name probabilities]
                [--layers 2] [--softmax] [--weights OUT.npz]

The model maps float32[batch, inputs] through `layers` dense+ReLU layers to
float32[batch, outputs] (softmax'd with --softmax). --weights saves the
weights so tests can compute reference predictions with numpy
(see `forward`).
"""
import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def make_weights(n_in, hidden, n_out, layers, seed):
    rng = np.random.default_rng(seed)
    dims = [n_in] + [hidden] * layers + [n_out]
    ws, bs = [], []
    for a, b in zip(dims[:-1], dims[1:]):
        ws.append((rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32))
        bs.append((rng.standard_normal(b) * 0.1).astype(np.float32))
    return ws, bs


def forward(x, ws, bs, softmax):
    """Reference forward pass in float64 (independent of ONNX Runtime)."""
    h = np.asarray(x, dtype=np.float64)
    for i, (w, b) in enumerate(zip(ws, bs)):
        h = h @ w.astype(np.float64) + b.astype(np.float64)
        if i < len(ws) - 1:
            h = np.maximum(h, 0)
    if softmax:
        h = h - h.max(axis=1, keepdims=True)
        e = np.exp(h)
        h = e / e.sum(axis=1, keepdims=True)
    return h


def build(ws, bs, softmax, input_name, output_name):
    n_in, n_out = ws[0].shape[0], ws[-1].shape[1]
    nodes, inits = [], []
    cur = input_name
    for i, (w, b) in enumerate(zip(ws, bs)):
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        last = i == len(ws) - 1
        out = (output_name if not softmax else "logits") if last else f"h{i}"
        mm = f"mm{i}"
        nodes.append(helper.make_node("MatMul", [cur, f"w{i}"], [mm]))
        nodes.append(helper.make_node("Add", [mm, f"b{i}"], [out if last else f"a{i}"]))
        if not last:
            nodes.append(helper.make_node("Relu", [f"a{i}"], [out]))
        cur = out
    if softmax:
        nodes.append(helper.make_node("Softmax", ["logits"], [output_name], axis=1))
    graph = helper.make_graph(
        nodes, "mlp",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["batch", n_in])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["batch", n_out])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--inputs", type=int, default=8)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--outputs", type=int, default=2)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--softmax", action="store_true")
    p.add_argument("--input-name", default="features")
    p.add_argument("--output-name", default="probabilities")
    p.add_argument("--weights")
    a = p.parse_args()
    ws, bs = make_weights(a.inputs, a.hidden, a.outputs, a.layers, a.seed)
    onnx.save(build(ws, bs, a.softmax, a.input_name, a.output_name), a.out)
    if a.weights:
        np.savez(a.weights, *ws, *bs)


if __name__ == "__main__":
    main()
