"""postprocess: top_k, end to end: a two-tower recommender (user features ->
user vector; the item matrix inside the graph; scores = dot products over
5,000 items) whose score vector never reaches the output: top_k keeps the 20
best items per user, mapped through a labels file, as two list columns.
Checked against numpy (a stable sort by score descending, index ascending:
the documented tie rule; the integer-valued weights make ties common)."""
import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import assert_not_crashed, part_files, read_part, run, sql, write_job

USERS, FEATURES, DIM, ITEMS, K = 700, 6, 8, 5000, 20


def make_two_tower(path, seed=9):
    rng = np.random.default_rng(seed)
    user_w = rng.integers(-2, 3, size=(FEATURES, DIM)).astype(np.float32)
    items = rng.integers(-1, 2, size=(DIM, ITEMS)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["features", "user_w"], ["user_vec"]),
             helper.make_node("MatMul", ["user_vec", "items"], ["scores"]),
             helper.make_node("ReduceSum", ["user_vec", "axis1"], ["user_sum"], keepdims=1)]
    graph = helper.make_graph(
        nodes, "two_tower",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", FEATURES])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", ITEMS]),
         helper.make_tensor_value_info("user_sum", TensorProto.FLOAT, ["batch", 1])],
        [numpy_helper.from_array(user_w, "user_w"), numpy_helper.from_array(items, "items"),
         numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return user_w, items


@pytest.fixture
def recs(tmp_path):
    user_w, items = make_two_tower(tmp_path / "two_tower.onnx")
    cols = ", ".join(f"((hash(range, {c}) % 5)::INTEGER - 2)::FLOAT AS f{c}" for c in range(FEATURES))
    data = tmp_path / "users.parquet"
    sql(f"COPY (SELECT range + 100 AS user_id, {cols} FROM range({USERS})) TO '{data}' (FORMAT parquet)")
    labels = np.arange(ITEMS) * 7 + 1000
    (tmp_path / "items.txt").write_text("\n".join(map(str, labels)) + "\n")
    job = {
        "name": "recs",
        "input": {"path": str(data), "key": "user_id"},
        "model": {"path": "two_tower.onnx", "threads": 1,
                  "inputs": [{"name": "features", "columns": [f"f{c}" for c in range(FEATURES)]}],
                  "outputs": [{"name": "user_sum", "columns": ["user_sum"]}]},
        "postprocess": [{"top_k": {"output": "scores", "k": K, "into": ["item_ids", "item_scores"],
                                   "labels": "items.txt"}}],
        "batch": {"size": 128},
        "output": {"path": "out", "keep": ["user_id"]},
        "run": {"shard_rows": 300, "ledger": "ledger.db"},
    }
    return tmp_path, job, user_w, items, labels


def features_of(rows_out, tmp):
    feats = sql(f"SELECT * FROM read_parquet('{tmp / 'users.parquet'}') ORDER BY user_id").splitlines()[1:]
    return {int(l.split(",")[0]): np.array([float(x) for x in l.split(",")[1:]], dtype=np.float32)
            for l in feats}


@pytest.mark.parametrize("kind", ["integer", "text"])
def test_top_k_matches_numpy_with_ties_by_lower_index(recs, kind):
    root, job, user_w, items, labels = recs
    if kind == "text":  # one id that is not a plain integer makes every id text: VARCHAR[]
        labels = np.array([f"{n:05d}" for n in labels])
        (root / "items.txt").write_text("\n".join(labels) + "\n")
    rc, out, err = run("run", write_job(root / "job.yaml", job), cwd=root)
    assert_not_crashed(rc, err)
    assert rc == 0, err
    rows = [r for p in part_files(root / "out") for r in read_part(p)]
    assert len(rows) == USERS
    feats = features_of(rows, root)
    ties_seen = 0
    for r in rows:
        scores = (feats[r["user_id"]] @ user_w) @ items
        order = np.lexsort((np.arange(ITEMS), -scores))[:K]  # score desc, then index asc
        assert r["item_ids"] == labels[order].tolist(), r["user_id"]
        np.testing.assert_allclose(r["item_scores"], scores[order], rtol=1e-6)
        ties_seen += len(set(r["item_scores"])) < K
    assert ties_seen > USERS // 2  # the tie rule was exercised


def test_k_larger_than_the_axis_is_refused_at_validate(recs):
    root, job, *_ = recs
    job["postprocess"][0]["top_k"]["k"] = ITEMS + 1
    rc, out, err = run("validate", write_job(root / "job.yaml", job), cwd=root)
    assert rc == 2, err
    assert f"postprocess[0].top_k.k is {ITEMS + 1}" in err, err


def test_fewer_labels_than_the_declared_items_is_refused_at_validate(recs):
    root, job, *_ = recs
    (root / "items.txt").write_text("\n".join(map(str, range(ITEMS - 1))) + "\n")
    rc, out, err = run("validate", write_job(root / "job.yaml", job), cwd=root)
    assert rc == 2, err
    assert f"items.txt' has {ITEMS - 1} ids, fewer than the {ITEMS} values per row of output 'scores'" in err, err


def test_steps_are_part_of_the_run(recs):
    """A resume with another k (or labels, or into) would leave one folder of
    rows computed two ways: refused by run id, a new run by derived id."""
    root, job, *_ = recs
    path = write_job(root / "job.yaml", job)
    rc, out, err = run("run", path, "--run-id", "nightly", cwd=root)
    assert rc == 0, err
    for override in ["postprocess.0.top_k.k=5", "postprocess.0.top_k.into=[a, b]"]:
        rc, out, err = run("run", path, "--run-id", "nightly", "--set", override, cwd=root)
        assert rc == 2, (override, out, err)
        assert "job key 'postprocess' changed" in err, err
    rc, out, err = run("run", path, "--set", "postprocess.0.top_k.k=5", cwd=root)
    assert "already completed" not in out + err, (rc, out, err)


def test_labels_without_blank_lines(recs):
    root, job, *_ = recs
    (root / "items.txt").write_text("10\n\nabc\n")
    rc, out, err = run("validate", write_job(root / "job.yaml", job), cwd=root)
    assert rc == 2, err
    assert "items.txt' line 2 is blank" in err, err


@pytest.mark.parametrize("fmt", ["sqlite", "duckdb"])
def test_text_labels_into_sqlite_and_duckdb(recs, fmt):
    """Text ids are a VARCHAR[] column in DuckDB and JSON text in SQLite, in rank order."""
    root, job, user_w, items, labels = recs
    texts = np.array([f"item-{n}" for n in labels])
    (root / "items.txt").write_text("\n".join(texts) + "\n")
    job["output"] = {"format": fmt, "url": f"recs.{fmt}", "table": "recs", "keep": ["user_id"]}
    rc, out, err = run("run", write_job(root / "job.yaml", job), cwd=root)
    assert rc == 0, err
    db = root / f"recs.{fmt}"
    if fmt == "sqlite":
        import sqlite3
        with sqlite3.connect(db) as c:
            got = {u: json.loads(ids) for u, ids in c.execute("SELECT user_id, item_ids FROM recs")}
    else:
        kind = sql(f"ATTACH '{db}' AS r (READ_ONLY); SELECT data_type FROM duckdb_columns() "
                   "WHERE table_name = 'recs' AND column_name = 'item_ids'")
        assert kind.splitlines()[1:] == ["VARCHAR[]"], kind
        rows = sql(f"ATTACH '{db}' AS r (READ_ONLY); SELECT user_id, to_json(item_ids) FROM r.recs").splitlines()[1:]
        got = {int(l.split(",", 1)[0]): json.loads(l.split(",", 1)[1].strip('"').replace('""', '"')) for l in rows}
    assert len(got) == USERS
    feats = features_of(None, root)
    for user, ids in got.items():
        scores = (feats[user] @ user_w) @ items
        assert ids == texts[np.lexsort((np.arange(ITEMS), -scores))[:K]].tolist(), user
