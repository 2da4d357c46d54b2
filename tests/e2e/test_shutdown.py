"""Shutdown and cancellation (docs/shutdown.md): a model that hangs, on a real
ONNX Runtime call (a Loop of 2^40 iterations that only the RunOptions
terminate flag stops).

- a batch that times out past its retries fails the run (exit 1);
- a model that always times out trips the breaker: exit 1 with its reason
  after a bounded number of calls, no dead letters, shards explained;
- SIGTERM with a hung call: the call is cancelled after run.drain_timeout and
  the process exits 75 on its own, every thread joined, nothing left running.
"""
import signal
import sqlite3
import sys
import time
from pathlib import Path

import onnx

from conftest import EXIT_FAILED, EXIT_INTERRUPTED, REPO, run, start, status_json

sys.path.insert(0, str(REPO / "tests" / "models"))
import make_test_models  # noqa: E402


def slow_case(case_factory, n=600, **errors):
    """A case whose model never finishes a call on its own."""
    case = case_factory(n=n)
    graph = make_test_models.slow_graph(width=len(case.feature_cols), outputs=len(case.out_cols))
    make_test_models.save(graph, str(case.root / "slow.onnx"))
    job = case.job(case.make_input("parquet"), shard_rows=n)
    job["model"]["path"] = "slow.onnx"
    job["errors"] = errors
    return case, job


def shards(case):
    db = sqlite3.connect(f"file:{case.root / '.nightshift' / 'ledger.db'}?mode=ro", uri=True)
    try:
        return db.execute("SELECT state, message FROM shards ORDER BY shard_id").fetchall()
    finally:
        db.close()


def test_a_batch_that_times_out_past_its_retries_fails_the_run(case_factory):
    case, job = slow_case(case_factory, n=20, batch_timeout="300ms", max_retries=1)
    path = case.write_job(job)
    t0 = time.time()
    rc, out, err = run("run", path, timeout=60)
    assert rc == EXIT_FAILED, err
    assert time.time() - t0 < 20
    assert "more than errors.max_failed_items" in err, err
    st = status_json(path)
    assert st["state"] == "failed"


def test_a_model_that_always_times_out_trips_the_breaker(case_factory):
    # 600 rows in batches of 64: without the breaker the run would time out
    # on all 10 batches and dead-letter every row (max_failed_items: -1).
    case, job = slow_case(case_factory, batch_timeout="200ms", max_retries=1, max_failed_items=-1)
    path = case.write_job(job)
    t0 = time.time()
    rc, out, err = run("run", path, timeout=60)
    elapsed = time.time() - t0
    assert rc == EXIT_FAILED, err
    assert "3 consecutive batches failed (timeout)" in err, err
    # 3 batches x 2 calls x 200 ms, plus backoff and start-up; not 10 batches.
    assert elapsed < 3 * 2 * 0.2 + 8, elapsed
    st = status_json(path)
    assert st["state"] == "failed"
    assert "consecutive batches failed" in st["message"]
    assert st["counts"]["failed"] == 0
    assert not list((case.root / "out").glob("_failed/*")), "no dead letters"
    assert shards(case) and all(s == "failed" and "consecutive batches" in m for s, m in shards(case))


def test_sigterm_cancels_a_hung_call_after_the_drain_timeout_and_exits_75(case_factory):
    case, job = slow_case(case_factory)
    job["run"]["drain_timeout"] = "500ms"
    path = case.write_job(job)
    p = start("run", path)
    time.sleep(2.0)  # planned, and the first batch is in the model
    assert p.poll() is None, p.communicate()
    t0 = time.time()
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=30)
    assert p.returncode == EXIT_INTERRUPTED, err
    assert time.time() - t0 < 10
    assert "drain timeout" in err, err
    st = status_json(path)
    assert st["state"] == "interrupted"
    assert st["counts"]["failed"] == 0
    assert all(s != "running" for s, _ in shards(case)), shards(case)
    assert any("cancelled after run.drain_timeout" in m for _, m in shards(case)), shards(case)


def test_sigterm_with_two_readers_exits_75_after_the_drain_timeout(tmp_path):
    """Two readers: the writer holds one reader's scored batches while it waits,
    in shard order, for the other reader's batch that the drain timeout
    cancelled; that reader, waiting for a free batch, must still stop (it
    waited for ever: the process never exited)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper
    from conftest import sql, write_job
    x = helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 1])
    y = helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 1])
    weights = [numpy_helper.from_array(np.ones((1, 1024), np.float32), "a"),
               numpy_helper.from_array(np.ones((1024, 1024), np.float32) / 1024, "b"),
               numpy_helper.from_array(np.ones((1024, 1), np.float32) / 1024, "c")]
    nodes = [helper.make_node("MatMul", ["features", "a"], ["h1"]), helper.make_node("MatMul", ["h1", "b"], ["h2"]),
             helper.make_node("MatMul", ["h2", "b"], ["h3"]), helper.make_node("MatMul", ["h3", "c"], ["out"])]
    model = helper.make_model(helper.make_graph(nodes, "slow", [x], [y], weights),
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "slow.onnx"))
    sql(f"COPY (SELECT i::BIGINT AS id, i::FLOAT AS v FROM range(0, 300000) t(i)) TO '{tmp_path / 'in.parquet'}' "
        "(FORMAT parquet, ROW_GROUP_SIZE 5000)")
    job = write_job(tmp_path / "job.yaml", {
        "name": "readers", "input": {"path": "in.parquet", "key": "id"},
        "model": {"path": "slow.onnx", "threads": 1, "inputs": [{"name": "features", "columns": ["v"]}],
                  "outputs": [{"name": "out", "columns": ["p"]}]},
        "batch": {"size": 100}, "output": {"path": "out", "keep": ["id"]},
        "run": {"shard_rows": 50000, "readers": 2, "drain_timeout": "1s"}})
    p = start("run", job, cwd=tmp_path)
    time.sleep(4.0)
    assert p.poll() is None, p.communicate()
    t0 = time.time()
    p.send_signal(signal.SIGTERM)
    try:
        out, err = p.communicate(timeout=30)
    except Exception:
        p.kill()
        p.communicate()
        raise AssertionError("still running 30 s after SIGTERM with run.drain_timeout 1s")
    assert p.returncode == EXIT_INTERRUPTED, err
    assert time.time() - t0 < 15
    rc, out, err = run("run", job, cwd=tmp_path)
    assert rc == 0, err
    counts = sql(f"SELECT count(*), count(DISTINCT id) FROM '{tmp_path / 'out'}/part-*.parquet'")
    assert counts.splitlines()[1] == "300000,300000", counts
