"""examples/orchestrators: the Airflow, Prefect and Dagster examples of
docs/orchestrators.md. The orchestrators are not installable here, so:

- each example compiles (python3 -m py_compile);
- the Airflow example's own argv (NIGHTSHIFT_ARGV) and exit-code table
  (OUTCOME_BY_EXIT_CODE), read from its source, drive the real binary: a good
  job is 'success' (the status JSON on the last stdout line), a bad job
  'failed_no_retry', a run beyond its failure limit 'failed', a SIGTERMed run
  'retry', and the retry (the same argv again) resumes and completes it;
- the three examples agree on the exit-code table.
"""
import ast
import json
import py_compile
import signal
import subprocess
import time

import pytest

from conftest import BIN, REPO, Case, _env, _retry_exec, status_json

EXAMPLES = REPO / "examples" / "orchestrators"
FILES = ["airflow_dag.py", "prefect_flow.py", "dagster_asset.py"]
NULLS = [(7, "f2"), (123, "f2")]


def constants(path):
    """Module-level NAME = literal assignments of a Python file, without importing it."""
    out = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return out


AIRFLOW = constants(EXAMPLES / "airflow_dag.py")


def airflow_argv(job, run_id):
    """The Airflow example's command line, the binary under test in place of `nightshift`."""
    argv = [a.format(job=job, run_id=run_id) for a in AIRFLOW["NIGHTSHIFT_ARGV"]]
    assert argv[0] == "nightshift"
    return [str(BIN), *argv[1:]]


def outcome(rc):
    return AIRFLOW["OUTCOME_BY_EXIT_CODE"].get(rc, "failed")


def launch(job, run_id):
    return _retry_exec(lambda: subprocess.Popen(airflow_argv(job, run_id), env=_env(None),
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                text=True))


def run_as_airflow(job, run_id):
    p = launch(job, run_id)
    out, err = p.communicate(timeout=300)
    return p.returncode, out, err


@pytest.mark.parametrize("name", FILES)
def test_example_compiles(name, tmp_path):
    py_compile.compile(str(EXAMPLES / name), cfile=str(tmp_path / "out.pyc"), doraise=True)


def test_examples_agree_on_the_exit_codes():
    want = {0: "success", 1: "failed", 2: "failed_no_retry", 75: "retry"}
    for name in FILES:
        c = constants(EXAMPLES / name)
        assert c["OUTCOME_BY_EXIT_CODE"] == want, name
        assert c["NIGHTSHIFT_ARGV"][:5] == ["nightshift", "run", "{job}", "--run-id", "{run_id}"]


def test_airflow_argv_success_and_bad_job(case_factory):
    case = case_factory(n=200, seed=4)
    job = case.write_job(case.job(case.make_input("csv"), out_format="jsonl"))
    rc, out, err = run_as_airflow(job, "churn-20261201T020000")
    assert outcome(rc) == "success", err
    status = json.loads(out.strip().splitlines()[-1])  # what the task returns as XCom
    assert status["run_id"] == "churn-20261201T020000" and status["state"] == "completed"
    assert status["counts"]["succeeded"] == 200
    assert all(json.loads(line)["ts"] for line in err.splitlines()), err  # --log-format json

    bad = case.job(case.make_input("csv"))
    bad["model"]["path"] = str(case.root / "missing.onnx")
    rc, out, err = run_as_airflow(case.write_job(bad, "bad.yaml"), "churn-20261202T020000")
    assert rc == 2 and outcome(rc) == "failed_no_retry", err
    assert "missing.onnx" in err


def test_airflow_argv_a_failed_run(case_factory):
    case = case_factory(n=300, seed=35, null_at=NULLS)
    job = case.job(case.make_input("csv"), out_format="jsonl", shard_rows=100)
    job["errors"] = {"max_failed_items": 0}
    rc, out, err = run_as_airflow(case.write_job(job), "churn-20261203T020000")
    assert rc == 1 and outcome(rc) == "failed", err
    assert status_json(case.root / "job.yaml", "churn-20261203T020000")["state"] == "failed"


def test_airflow_argv_interrupted_then_the_retry_resumes(tmp_path):
    case = Case(tmp_path / "slow", n=6000, seed=6, hidden=768)
    job = case.job(case.make_input("csv"), out_format="jsonl", shard_rows=200)
    job["batch"] = {"size": 1}
    path = case.write_job(job)
    run_id = "churn-20261204T020000"
    p = launch(path, run_id)
    deadline = time.time() + 120
    for line in p.stderr:  # a shard committed: the run is well under way
        if json.loads(line)["event"] == "shard_committed" or time.time() > deadline:
            break
    p.send_signal(signal.SIGTERM)  # what Airflow sends on timeout or kill
    out, err = p.communicate(timeout=120)
    assert p.returncode == 75 and outcome(p.returncode) == "retry", err
    before = status_json(path, run_id)
    assert before["state"] == "interrupted" and 0 < before["shards"]["committed"] < 30, before

    rc, out, err = run_as_airflow(path, run_id)  # Airflow's retry: the same argv
    assert outcome(rc) == "success", err
    status = json.loads(out.strip().splitlines()[-1])
    assert status["state"] == "completed" and status["counts"]["succeeded"] == 6000
    assert status["invocation"]["rows_processed"] < 6000  # resumed, not redone
