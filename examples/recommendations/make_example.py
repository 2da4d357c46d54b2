#!/usr/bin/env python3
"""Makes the recommendations example: a two-tower model and its data.

    make_example.py OUT_DIR [--users 20000] [--items 50000] [--seed 3]

- two_tower.onnx: the user tower (features float32 [batch, 16] -> a hidden
  layer of 64 with ReLU -> a user vector of 32) and the item tower's output,
  the item matrix [32, items], as a constant inside the graph; scores = the
  dot product of the user vector with every item vector, float32 [batch,
  items]. The weights are small integers, so every score is an integer that
  float32 holds exactly: any correct engine ranks the items the same way, and
  ties (broken by the lower index) are common.
- items.txt: the item ids, one per line (line i is the id of item i), as
  text (`sku-000123-ab`): top_k writes them as a list-of-strings column.
- users.csv: user_id and the 16 features f0..f15 (small integers).

Deterministic. `scores(features, weights)` is the numpy reference.
"""
import argparse
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FEATURES, HIDDEN, DIM = 16, 64, 32


def make_weights(items, seed=3):
    rng = np.random.default_rng(seed)
    return {"w1": rng.integers(-1, 2, size=(FEATURES, HIDDEN)).astype(np.float32),
            "w2": rng.integers(-1, 2, size=(HIDDEN, DIM)).astype(np.float32),
            "items": rng.integers(-1, 2, size=(DIM, items)).astype(np.float32)}


def scores(features, w):
    """The model's scores for features [n, FEATURES], in float64 (exact: integers)."""
    h = np.maximum(features.astype(np.float64) @ w["w1"], 0)
    return (h @ w["w2"]) @ w["items"]


def save_model(w, path, max_score=False):
    """max_score: also output each row's best score (float32 [batch, 1]), a
    column that needs every score computed without top_k (bench/top_k.py)."""
    items = w["items"].shape[1]
    n = helper.make_node
    nodes = [n("MatMul", ["features", "w1"], ["h1"]), n("Relu", ["h1"], ["r1"]),
             n("MatMul", ["r1", "w2"], ["user_vec"]),                # the user tower
             n("MatMul", ["user_vec", "items"], ["scores"])]         # dot with every item
    outputs = [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", items]),
               helper.make_tensor_value_info("user_vec", TensorProto.FLOAT, ["batch", DIM])]
    if max_score:
        nodes.append(n("ReduceMax", ["scores"], ["max_score"], axes=[1], keepdims=1))
        outputs.append(helper.make_tensor_value_info("max_score", TensorProto.FLOAT, ["batch", 1]))
    graph = helper.make_graph(
        nodes, "two_tower",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", FEATURES])], outputs,
        [numpy_helper.from_array(w[k], k) for k in ("w1", "w2", "items")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


def item_ids(items, seed=3):
    rng = np.random.default_rng(seed + 1)
    return [f"sku-{i:06d}-{''.join(rng.choice(list('abcdef'), 2))}" for i in range(items)]


def user_features(users, seed=3):
    return np.random.default_rng(seed + 2).integers(-2, 3, size=(users, FEATURES)).astype(np.float32)


def write_users(features, path, first_id=1000):
    """users.csv: user_id (from first_id) and the features."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("user_id," + ",".join(f"f{c}" for c in range(FEATURES)) + "\n")
        for i, row in enumerate(features):
            f.write(f"{first_id + i}," + ",".join(str(int(v)) for v in row) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--users", type=int, default=20000)
    ap.add_argument("--items", type=int, default=50000)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_model(make_weights(args.items, args.seed), out / "two_tower.onnx")
    (out / "items.txt").write_text("\n".join(item_ids(args.items, args.seed)) + "\n", encoding="utf-8")
    write_users(user_features(args.users, args.seed), out / "users.csv")


if __name__ == "__main__":
    main()
