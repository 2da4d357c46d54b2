#!/usr/bin/env python3
"""Builds the small ONNX models the backend tests run, into OUTDIR.

Usage: make_test_models.py OUTDIR

Needs onnx and numpy (Debian: python3-onnx, python3-numpy); does not need
onnxruntime: expected outputs are computed here with numpy, independently of
the runtime under test. Everything is seeded, so the files are deterministic.

Writes:
  mlp.onnx            features float32[N,3] -> relu(x W1 + b1) W2 + b2 -> softmax
                      -> probabilities float32[N,2]
  mlp_input.bin       float32[1024,3] raw little-endian
  mlp_expected.bin    float32[1024,2]: the MLP's outputs for mlp_input.bin
  two_inputs.onnx     a float64[N,2], b int64[N,1] -> sum float64[N,1] (a0 + a1 + b),
                      emb float32[N,4] (b * [1, 2, 3, 4] + 0.5)
  symbolic.onnx       x float32[N,K] -> y float32[N,K] (2x), rowsum float32[N,1]
  int32.onnx          ids int32[N,4] -> total int32[N,1] (row sums)
  string_input.onnx   text string[N] -> same string[N] (an input nightshift cannot feed)
  string_output.onnx  x float32[N,1] -> y float32[N,1] (x + 1), label string[N,1]
  wrong_decl.onnx     x float32[N,2] -> y float32[N,2] declared, but y = concat(x, x) is [2N,2]
  slow.onnx           features float32[N,3] -> probabilities float32[N,2]: a Loop of 2^40
                      iterations (hours) that only the RunOptions terminate flag stops
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
IR_VERSION = 7  # ONNX Runtime reads every IR version up to its own


def save(graph, path):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="nightshift-tests")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    onnx.save(model, path)


def mlp(outdir):
    rng = np.random.default_rng(20240601)
    w1 = rng.normal(0, 1, (3, 8)).astype(np.float32)
    b1 = rng.normal(0, 0.1, (8,)).astype(np.float32)
    w2 = rng.normal(0, 1, (8, 2)).astype(np.float32)
    b2 = rng.normal(0, 0.1, (2,)).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["features", "w1"], ["h0"]),
        helper.make_node("Add", ["h0", "b1"], ["h1"]),
        helper.make_node("Relu", ["h1"], ["h2"]),
        helper.make_node("MatMul", ["h2", "w2"], ["l0"]),
        helper.make_node("Add", ["l0", "b2"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes, "mlp",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 2])],
        initializer=[numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1"),
                     numpy_helper.from_array(w2, "w2"), numpy_helper.from_array(b2, "b2")])
    save(graph, os.path.join(outdir, "mlp.onnx"))

    x = rng.normal(0, 1, (1024, 3)).astype(np.float32)
    h = np.maximum(x.astype(np.float64) @ w1 + b1, 0.0)
    logits = h @ w2 + b2
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    x.astype("<f4").tofile(os.path.join(outdir, "mlp_input.bin"))
    probs.astype("<f4").tofile(os.path.join(outdir, "mlp_expected.bin"))


def two_inputs(outdir):
    scale = np.array([[1, 2, 3, 4]], dtype=np.float32)
    nodes = [
        helper.make_node("ReduceSum", ["a", "axes"], ["asum"], keepdims=1),
        helper.make_node("Cast", ["b"], ["bd"], to=TensorProto.DOUBLE),
        helper.make_node("Add", ["asum", "bd"], ["sum"]),
        helper.make_node("Cast", ["b"], ["bf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["bf", "scale"], ["scaled"]),
        helper.make_node("Add", ["scaled", "half"], ["emb"]),
    ]
    graph = helper.make_graph(
        nodes, "two_inputs",
        [helper.make_tensor_value_info("a", TensorProto.DOUBLE, ["N", 2]),
         helper.make_tensor_value_info("b", TensorProto.INT64, ["N", 1])],
        [helper.make_tensor_value_info("sum", TensorProto.DOUBLE, ["N", 1]),
         helper.make_tensor_value_info("emb", TensorProto.FLOAT, ["N", 4])],
        initializer=[numpy_helper.from_array(np.array([1], dtype=np.int64), "axes"),
                     numpy_helper.from_array(scale, "scale"),
                     numpy_helper.from_array(np.array(0.5, dtype=np.float32), "half")])
    save(graph, os.path.join(outdir, "two_inputs.onnx"))


def symbolic(outdir):
    nodes = [
        helper.make_node("Mul", ["x", "two"], ["y"]),
        helper.make_node("ReduceSum", ["x", "axes"], ["rowsum"], keepdims=1),
    ]
    graph = helper.make_graph(
        nodes, "symbolic",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", "K"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", "K"]),
         helper.make_tensor_value_info("rowsum", TensorProto.FLOAT, ["N", 1])],
        initializer=[numpy_helper.from_array(np.array(2.0, dtype=np.float32), "two"),
                     numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")])
    save(graph, os.path.join(outdir, "symbolic.onnx"))


def int32(outdir):
    graph = helper.make_graph(
        [helper.make_node("ReduceSum", ["ids", "axes"], ["total"], keepdims=1)], "int32",
        [helper.make_tensor_value_info("ids", TensorProto.INT32, ["N", 4])],
        [helper.make_tensor_value_info("total", TensorProto.INT32, ["N", 1])],
        initializer=[numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")])
    save(graph, os.path.join(outdir, "int32.onnx"))


def strings(outdir):
    graph = helper.make_graph(
        [helper.make_node("Identity", ["text"], ["same"])], "string_input",
        [helper.make_tensor_value_info("text", TensorProto.STRING, ["N"])],
        [helper.make_tensor_value_info("same", TensorProto.STRING, ["N"])])
    save(graph, os.path.join(outdir, "string_input.onnx"))

    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "one"], ["y"]),
         helper.make_node("Cast", ["x"], ["label"], to=TensorProto.STRING)], "string_output",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1]),
         helper.make_tensor_value_info("label", TensorProto.STRING, ["N", 1])],
        initializer=[numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one")])
    save(graph, os.path.join(outdir, "string_output.onnx"))


def wrong_decl(outdir):
    # Declares y as [N, 2] (static but for the batch) though it has 2N rows: the
    # backend must notice when ORT cannot write into the buffer it sized.
    graph = helper.make_graph(
        [helper.make_node("Concat", ["x", "x"], ["y"], axis=0)], "wrong_decl",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])])
    save(graph, os.path.join(outdir, "wrong_decl.onnx"))


def slow_graph(input_name="features", output_name="probabilities", width=3, outputs=2):
    """A graph that runs for hours: a Loop of 2^40 cheap iterations, so that
    cancelling it (ORT checks the terminate flag between iterations) is the
    only way a call returns. Shaped like the MLP: float32[N, width] in,
    float32[N, outputs] out (the first `outputs` columns of x)."""
    zero = numpy_helper.from_array(np.zeros((1,), np.float32), "zero")
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Add", ["v_in", "zero"], ["v_out"])],
        "spin",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_in", TensorProto.FLOAT, ["N", width])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, ["N", width])],
        [zero])
    trips = numpy_helper.from_array(np.array(1 << 40, np.int64), "trips")
    cond = numpy_helper.from_array(np.array(True), "cond")
    starts = numpy_helper.from_array(np.array([0], np.int64), "starts")
    ends = numpy_helper.from_array(np.array([outputs], np.int64), "ends")
    axes = numpy_helper.from_array(np.array([1], np.int64), "axes")
    return helper.make_graph(
        [helper.make_node("Loop", ["trips", "cond", input_name], ["spun"], body=body),
         helper.make_node("Slice", ["spun", "starts", "ends", "axes"], [output_name])],
        "slow",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["N", width])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["N", outputs])],
        [trips, cond, starts, ends, axes])


def slow(outdir):
    save(slow_graph(), os.path.join(outdir, "slow.onnx"))


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    outdir = argv[1]
    os.makedirs(outdir, exist_ok=True)
    mlp(outdir)
    two_inputs(outdir)
    symbolic(outdir)
    int32(outdir)
    strings(outdir)
    wrong_decl(outdir)
    slow(outdir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
