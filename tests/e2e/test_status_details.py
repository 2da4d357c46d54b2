"""`status --json` for orchestrators: `state_times` (when the run reached each
state) and `failure_reasons` (top classes with counts and example keys), with
every earlier field unchanged."""
import json
from datetime import datetime

from conftest import EXIT_OK, run, status_json

NULLS = [(7, "f2"), (123, "f2"), (124, "f2"), (250, "f2"), (40, "f0"), (41, "f0")]
BASE_FIELDS = {"run_id", "job", "state", "counts", "shards", "output_path", "created_at",
               "updated_at", "finished_at"}


def ts(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_status_json_has_state_times_and_top_failure_reasons(case_factory):
    case = case_factory(n=300, seed=32, null_at=NULLS)
    job = case.job(case.make_input("csv"), shard_rows=100, out_format="jsonl")
    job["errors"] = {"max_failed_items": -1}
    path = case.write_job(job)
    rc, out, err = run("run", path, "--json")
    assert rc == EXIT_OK, err
    st = status_json(path)
    # The fields `status --json` always had are there, with the same values `run --json` gives.
    ran = json.loads(out)
    assert BASE_FIELDS <= st.keys()
    for k in BASE_FIELDS:
        assert st[k] == ran[k], k
    assert "state_times" not in ran and "failure_reasons" not in ran

    times = st["state_times"]
    assert set(times) == {"pending", "running", "completed"}, times
    assert times["pending"] == st["created_at"] and times["completed"] == st["finished_at"]
    assert ts(times["pending"]) <= ts(times["running"]) <= ts(times["completed"])

    reasons = st["failure_reasons"]
    assert [r["count"] for r in reasons] == [4, 2], reasons  # largest first
    assert "f2" in reasons[0]["reason"] and "f0" in reasons[1]["reason"], reasons
    ids = [int(case.ids[i]) for i in range(300)]
    assert set(reasons[1]["example_keys"]) == {ids[40], ids[41]}, reasons[1]
    assert set(reasons[0]["example_keys"]) <= {ids[7], ids[123], ids[124], ids[250]}
    assert len(reasons[0]["example_keys"]) == 3
    assert "failure_reasons_over" not in st


def test_status_json_of_a_run_not_started_has_empty_details(case_factory):
    case = case_factory(n=20, seed=3)
    path = case.write_job(case.job(case.make_input("csv")))
    st = status_json(path)
    assert st["state"] == "pending"
    assert st["state_times"] == {} and st["failure_reasons"] == []


def test_updated_at_moves_with_each_shard_commit(case_factory):
    """A staleness check on updated_at is how a stuck run is found: it stayed
    at the run's start while shards committed."""
    import time as _time
    from conftest import start, status_json as _status
    case = case_factory(n=2000, seed=61)
    job = case.write_job(case.job(case.make_input("parquet"), shard_rows=200))
    p = start("run", job, env={"NIGHTSHIFT_TEST_BATCH_SLEEP_MS": "150"})
    try:
        seen = []
        deadline = _time.time() + 60
        while len(seen) < 2 and _time.time() < deadline:
            st = _status(job)
            if st.get("shards", {}).get("committed", 0) >= 1 and (not seen or st["shards"]["committed"] > seen[-1][0]):
                seen.append((st["shards"]["committed"], st["updated_at"]))
            _time.sleep(0.2)
    finally:
        p.terminate()
        p.communicate(timeout=60)
    assert len(seen) == 2 and seen[1][1] > seen[0][1], seen


def test_run_json_of_a_failed_run_has_its_invocation_figures(case_factory):
    """`run --json` of a run that failed past max_failed_items: the invocation
    object (rows_processed, stages) was all zeros."""
    import json as _json
    from conftest import run as _run
    case = case_factory(n=3000, seed=62, null_at=[(i, "f0") for i in range(2100, 2104)])
    job = case.job(case.make_input("parquet"), shard_rows=100)
    job["errors"] = {"max_failed_items": 3}
    path = case.write_job(job)
    rc, out, err = _run("run", path, "--json")
    assert rc == 1, err
    inv = _json.loads(out)["invocation"]
    assert inv["rows_processed"] >= 2000 and inv["stages"]["wall_s"] > 0, inv
