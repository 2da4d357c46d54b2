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
