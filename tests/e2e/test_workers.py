"""Worker flags with the SQLite ledger: `run --worker-index I --workers N`,
their defaults from Kubernetes/Slurm/AWS Batch array variables, exit 2 for
values that cannot name a worker, and `run.lease`.

With the SQLite ledger one process owns a run, so a worker still runs every
shard (its own first): the run completes. The ledger's `workers` table shows
the index and count the process took, which is how these tests see which
default applied. (Many workers on one shared PostgreSQL ledger are tested
with that ledger.)"""
import sqlite3
from pathlib import Path

import pytest

from conftest import EXIT_CANNOT_START, EXIT_OK, assert_not_crashed, check_output, run, status_json

NO_ARRAY_ENV = {k: "" for k in ("JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN",
                                "SLURM_ARRAY_TASK_COUNT", "AWS_BATCH_JOB_ARRAY_INDEX",
                                "AWS_BATCH_JOB_ARRAY_SIZE")}


@pytest.fixture
def job(case_factory):
    case = case_factory(n=700, seed=41)
    spec = case.job(case.make_input("csv"), shard_rows=100, out_format="jsonl")
    spec["run"]["ledger"] = str(case.root / "ledger.db")
    return case, case.write_job(spec)


def workers_in_ledger(case):
    with sqlite3.connect(case.root / "ledger.db") as db:
        return db.execute("SELECT worker_index, workers FROM workers").fetchall()


def run_worker(job_path, *flags, env=None):
    full_env = dict(NO_ARRAY_ENV)
    full_env.update(env or {})
    rc, out, err = run("run", job_path, *flags, env=full_env)
    assert_not_crashed(rc, err)
    return rc, out, err


def test_sqlite_worker_still_runs_every_shard(job):
    case, job_path = job
    rc, out, err = run_worker(job_path, "--workers", "2", "--worker-index", "1")
    assert rc == EXIT_OK, err
    st = status_json(job_path)
    assert st["state"] == "completed", st
    assert st["shards"]["committed"] == st["shards"]["total"] == 7, st
    check_output(case, case.root / "out", "jsonl", range(case.n), job=job_path)
    assert (case.root / "out" / "_SUCCESS").exists()
    assert workers_in_ledger(case) == [(1, 2)]


@pytest.mark.parametrize("env,expected", [
    ({"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "4"}, (2, 4)),
    ({"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "4"}, (0, 4)),
    ({"AWS_BATCH_JOB_ARRAY_INDEX": "5", "AWS_BATCH_JOB_ARRAY_SIZE": "6"}, (5, 6)),
    ({}, (0, 1)),
])
def test_defaults_from_array_job_environment(job, env, expected):
    case, job_path = job
    rc, out, err = run_worker(job_path, env=env)
    assert rc == EXIT_OK, err
    assert workers_in_ledger(case) == [expected]


def test_kubernetes_index_with_workers_flag(job):
    case, job_path = job
    rc, out, err = run_worker(job_path, "--workers", "3", env={"JOB_COMPLETION_INDEX": "2"})
    assert rc == EXIT_OK, err
    assert workers_in_ledger(case) == [(2, 3)]


def test_flags_override_the_environment(job):
    case, job_path = job
    env = {"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_COUNT": "4"}
    rc, out, err = run_worker(job_path, "--workers", "8", env=env)
    assert rc == EXIT_OK, err
    assert workers_in_ledger(case) == [(7, 8)]


@pytest.mark.parametrize("flags,env,message", [
    (["--workers", "0"], {}, "--workers 0 must be at least 1"),
    (["--workers", "2", "--worker-index", "2"], {}, "--worker-index 2 is outside [0, 2)"),
    (["--workers", "2", "--worker-index", "-1"], {}, "--worker-index -1 is outside [0, 2)"),
    (["--worker-index", "1"], {}, "--worker-index 1 is outside [0, 1)"),
    ([], {"JOB_COMPLETION_INDEX": "3"},
     "worker index 3 (from JOB_COMPLETION_INDEX) is outside [0, 1)"),
    ([], {"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_COUNT": "4"},
     "worker index 4 (from SLURM_ARRAY_TASK_ID) is outside [0, 4)"),
    ([], {"AWS_BATCH_JOB_ARRAY_INDEX": "1", "AWS_BATCH_JOB_ARRAY_SIZE": "0"},
     "environment variable AWS_BATCH_JOB_ARRAY_SIZE=0 must be at least 1 (it is the number of workers)"),
    ([], {"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "0"},
     "environment variable SLURM_ARRAY_TASK_COUNT=0 must be at least 1"),
    (["--workers", "0"], {"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "3"},
     "--workers 0 must be at least 1"),
    ([], {"SLURM_ARRAY_TASK_ID": "two"}, "SLURM_ARRAY_TASK_ID='two' is not an integer"),
])
def test_bad_worker_values_are_exit_2(job, flags, env, message):
    case, job_path = job
    rc, out, err = run_worker(job_path, *flags, env=env)
    assert rc == EXIT_CANNOT_START, err
    assert message in err, err
    assert not (case.root / "out").exists(), "nothing may run"
    assert not (case.root / "ledger.db").exists(), "nothing may run"


def test_kubernetes_index_without_workers_says_what_to_pass(job):
    case, job_path = job
    rc, out, err = run_worker(job_path, env={"JOB_COMPLETION_INDEX": "1"})
    assert rc == EXIT_CANNOT_START, err
    assert "pass --workers N" in err, err


@pytest.mark.parametrize("lease,message", [("500ms", "must be at least 1s"), ("soon", "run.lease")])
def test_bad_lease_is_exit_2(job, lease, message):
    case, job_path = job
    rc, out, err = run_worker(job_path, "--set", f"run.lease={lease}")
    assert rc == EXIT_CANNOT_START, err
    assert "run.lease" in err and message in err, err


def test_lease_is_accepted(job):
    case, job_path = job
    rc, out, err = run_worker(job_path, "--set", "run.lease=5s")
    assert rc == EXIT_OK, err
    assert status_json(job_path)["state"] == "completed"
