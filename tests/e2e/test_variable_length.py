"""Variable-length list inputs: padding (pad_value), attention masks
(mask_of), and bucketing (batch.sort_by_length + batch.max_tokens).

The model embeds token ids and averages the embeddings of the real tokens
(mask 1) only, so a wrong pad, a wrong mask or a row paired with another
row's output all change the prediction. References come from numpy.
"""
import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import read_part, part_files, run, sql, write_job, assert_not_crashed

VOCAB, DIM = 50, 4


def make_model(path, seed=3):
    rng = np.random.default_rng(seed)
    table = rng.standard_normal((VOCAB, DIM)).astype(np.float32)
    nodes = [
        helper.make_node("Gather", ["table", "tokens"], ["emb"]),                      # [b, s, d]
        helper.make_node("Cast", ["mask"], ["maskf"], to=TensorProto.FLOAT),           # [b, s]
        helper.make_node("Unsqueeze", ["maskf", "axis2"], ["mask3"]),                  # [b, s, 1]
        helper.make_node("Mul", ["emb", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axis1"], ["total"], keepdims=0),     # [b, d]
        helper.make_node("ReduceSum", ["maskf", "axis1"], ["count"], keepdims=1),      # [b, 1]
        helper.make_node("Div", ["total", "count"], ["mean"]),
    ]
    graph = helper.make_graph(
        nodes, "bag",
        [helper.make_tensor_value_info("tokens", TensorProto.INT64, ["batch", "seq"]),
         helper.make_tensor_value_info("mask", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("mean", TensorProto.FLOAT, ["batch", DIM])],
        [numpy_helper.from_array(table, "table"),
         numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"),
         numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
    return table


@pytest.fixture
def bag_case(tmp_path):
    rng = np.random.default_rng(11)
    n = 3000
    # Long-tailed lengths: most short, a few long (up to 64).
    lengths = np.minimum(64, 1 + rng.pareto(1.5, n).astype(int) * 3)
    seqs = [rng.integers(1, VOCAB, size=l).tolist() for l in lengths]
    ids = rng.permutation(n) * 7 - 1000  # not sorted: order checks are real
    jsonl = tmp_path / "in.jsonl"
    with open(jsonl, "w") as f:
        for i, s in zip(ids, seqs):
            f.write(json.dumps({"id": int(i), "tokens": s}) + "\n")
    data = tmp_path / "in.parquet"
    sql(f"COPY (SELECT id::BIGINT AS id, tokens::BIGINT[] AS tokens FROM read_json('{jsonl}', "
        f"format='newline_delimited')) TO '{data}' (FORMAT parquet, ROW_GROUP_SIZE 1000)")
    table = make_model(tmp_path / "bag.onnx")
    ref = np.stack([table[np.array(s)].mean(axis=0) for s in seqs])
    return tmp_path, data, ids, ref, lengths


def job_for(root, data, **batch):
    job = {
        "name": "bag",
        "input": {"path": str(data), "key": "id"},
        "model": {"path": str(root / "bag.onnx"), "threads": 1, "inputs": [
            {"name": "tokens", "columns": ["tokens"], "dtype": "int64", "pad_value": 0},
            {"name": "mask", "mask_of": "tokens"},
        ], "outputs": [{"name": "mean", "columns": ["e0", "e1", "e2", "e3"]}]},
        "batch": {"size": 64, **batch},
        "output": {"path": str(root / "out"), "keep": ["id"]},
        "run": {"shard_rows": 1000, "ledger": str(root / "ledger.db")},
    }
    return write_job(root / "job.yaml", job)


def check(root, ids, ref):
    pos = {int(k): i for i, k in enumerate(ids)}
    seen = 0
    for part in part_files(root / "out"):
        rows = read_part(part)
        pos_in_file = [pos[r["id"]] for r in rows]
        assert pos_in_file == sorted(pos_in_file), f"{part.name}: output order differs from input order"
        for r in rows:
            got = np.array([r["e0"], r["e1"], r["e2"], r["e3"]])
            np.testing.assert_allclose(got, ref[pos[r["id"]]], atol=1e-5, rtol=1e-5)
        seen += len(rows)
    assert seen == len(ids)


def test_padded_lists_with_mask_match_numpy(bag_case):
    root, data, ids, ref, _ = bag_case
    rc, out, err = run("run", job_for(root, data))
    assert_not_crashed(rc, err)
    assert rc == 0, err
    check(root, ids, ref)


def test_bucketing_with_max_tokens_restores_input_order(bag_case):
    root, data, ids, ref, lengths = bag_case
    rc, out, err = run("run", job_for(root, data, sort_by_length="tokens", max_tokens=512))
    assert_not_crashed(rc, err)
    assert rc == 0, err
    check(root, ids, ref)


def test_sort_by_length_must_name_a_list_input(bag_case):
    root, data, ids, ref, _ = bag_case
    rc, out, err = run("validate", job_for(root, data, sort_by_length="id"))
    assert rc == 2
    assert "batch.sort_by_length" in err and "'id'" in err
