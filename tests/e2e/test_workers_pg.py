"""Many workers on one run through a shared PostgreSQL ledger (a real
PostgreSQL 15, started by pg_fixture): claims, leases, fencing, completion.

- Four workers split a run and the output holds every key exactly once, with
  `_SUCCESS` written once and `status` listing the workers.
- A worker SIGSTOPped while it holds a shard loses the shard when its lease
  expires; another worker commits it; when the paused worker continues, its
  late output is refused ("claim lost") and never published, and it exits 0;
  so is one frozen (NIGHTSHIFT_STOP_AT) exactly after its claim check, the
  window a check alone cannot cover.
- Chaos: 4 workers on WORKERS_ROWS rows (default 500,000), random SIGKILLs of
  random workers, each restarted like a Job controller would, and one worker
  holding a shard SIGSTOPped past its lease then continued; for file output, PostgreSQL upsert
  and PostgreSQL insert. At the end every key is in the output exactly once and
  the predictions equal the numpy reference.
- A shard committed to the output table by a worker killed before its ledger
  commit is adopted by the next claimer; a run completed by a worker killed
  before writing _SUCCESS gets it on the next `run`; the server dropping every
  connection mid-run does not stop the workers.
"""
import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

import conftest
from conftest import EXIT_OK, Case, check_output, run, status_json, write_job
from pg_fixture import PASSWORD, pg_server  # noqa: F401  (the session fixture)
from test_db_output import check_table
from test_pg_ledger import fresh_database

ROWS = int(os.environ.get("WORKERS_ROWS", "500000"))
SEED = int(os.environ.get("WORKERS_SEED", "20261201"))
SHARD = 10000
LEASE_S = 3


@pytest.fixture(autouse=True)
def _password(monkeypatch):
    monkeypatch.setenv("PGPASSWORD", PASSWORD)


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    c = Case(tmp_path_factory.mktemp("workers"), n=ROWS, seed=11)
    c.input_path = c.make_input("parquet", layout="glob", n_files=4)
    return c


def worker_job(case, pg, d, output=None, batch=1024, ledger_db="crm", writers=None):
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    job = case.job(str(case.root / case.input_path), shard_rows=SHARD, out_path=str(d / "out"))
    job["model"]["path"] = str(case.model.path)
    job["batch"] = {"size": batch}
    job["run"]["ledger"] = pg.url(with_password=False, db=ledger_db)
    job["run"]["lease"] = f"{LEASE_S}s"
    if writers is not None:
        job["run"]["writers"] = writers
    if output is not None:
        job["output"] = {"keep": ["id", "name"], **output}
    return write_job(d / "job.yaml", job)


def start_worker(job, run_id, index, workers, log, wait=False, env=None):
    """A worker; with `wait` it exits only once the run is completed (claiming
    shards whose leases lapse meanwhile), as a Job controller's pod would."""
    f = open(log, "ab")
    args = [str(conftest.BIN), "run", str(job), "--run-id", run_id, "--worker-index", str(index),
            "--workers", str(workers)] + (["--wait"] if wait else [])
    try:
        return conftest._retry_exec(lambda: subprocess.Popen(
            args, env=conftest._env(env), stdout=f, stderr=subprocess.STDOUT))
    finally:
        f.close()


def wait_all(procs, timeout):
    deadline = time.time() + timeout
    for p in procs:
        p.wait(timeout=max(1, deadline - time.time()))
    return [p.returncode for p in procs]


def logs(d):
    return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(Path(d).glob("w*.log")))


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    c = Case(tmp_path_factory.mktemp("workers-small"), n=40000, seed=12)
    c.input_path = c.make_input("parquet")
    return c


def test_four_workers_share_a_run_and_complete_it_once(small, pg_server, tmp_path):
    job = worker_job(small, pg_server, tmp_path)
    # Each batch waits 100 ms (a shard about 1 s), so that every worker has
    # started before the first ones run out of their own shards: otherwise, on a
    # loaded machine, two quick workers take all four shards (as they should:
    # a worker never waits for a peer that may never come).
    slow = {"NIGHTSHIFT_TEST_BATCH_SLEEP_MS": "100"}
    procs = [start_worker(job, "four", i, 4, tmp_path / f"w{i}.log", env=slow) for i in range(4)]
    assert wait_all(procs, 300) == [EXIT_OK] * 4, logs(tmp_path)
    check_output(small, tmp_path / "out", "parquet", range(small.n), job=None)
    st = status_json(job, run_id="four")
    assert st["state"] == "completed", st
    assert st["shards"]["committed"] == st["shards"]["total"] == 4, st["shards"]
    workers = st["workers"]
    assert sorted(w["worker_index"] for w in workers) == [0, 1, 2, 3], workers
    assert len({w["pid"] for w in workers}) == 4, workers
    assert sum(w["shards_committed"] for w in workers) == 4, workers
    # The worker that committed the last shard wrote _SUCCESS; nobody else did.
    assert sum("this worker completed the run" in (tmp_path / f"w{i}.log").read_text() for i in range(4)) == 1, logs(tmp_path)


def test_the_failure_limit_counts_every_workers_dead_letters(pg_server, tmp_path):
    """One bad row (max_failed_items 0): the worker that scores it fails the
    run, and the others, which never saw it, must not complete it after."""
    case = Case(tmp_path / "case", n=40000, seed=13, null_at=[(25000, "f1")])
    case.input_path = case.make_input("parquet")
    job = worker_job(case, pg_server, tmp_path)
    slow = {"NIGHTSHIFT_TEST_BATCH_SLEEP_MS": "50"}
    procs = [start_worker(job, "limit", i, 3, tmp_path / f"w{i}.log", wait=True, env=slow) for i in range(3)]
    codes = wait_all(procs, 300)
    assert EXIT_OK not in codes, (codes, logs(tmp_path))
    assert "more than errors.max_failed_items allows (0)" in logs(tmp_path), logs(tmp_path)
    st = status_json(job, run_id="limit")
    assert st["state"] == "failed" and st["counts"]["failed"] == 1, st
    assert not (tmp_path / "out" / "_SUCCESS").exists()
    rc, out, err = run("run", job, "--run-id", "limit", "--worker-index", "0", "--workers", "1")
    assert rc == 1 and "more than errors.max_failed_items allows (0)" in err, (rc, out, err)
    assert status_json(job, run_id="limit")["state"] == "failed"


def held_by(job, run_id, pid):
    """Shards worker `pid` holds (0 while the run does not exist yet)."""
    rc, out, _ = run("status", job, "--run-id", run_id, "--json")
    if rc != EXIT_OK:
        return 0
    return next((w["shards_held"] for w in json.loads(out).get("workers", []) if w["pid"] == pid), 0)


def test_a_paused_worker_loses_its_shard_and_never_publishes(big, pg_server, tmp_path):
    job = worker_job(big, pg_server, tmp_path)
    a = start_worker(job, "paused", 0, 1, tmp_path / "wa.log")
    deadline = time.time() + 60
    while held_by(job, "paused", a.pid) == 0:
        assert time.time() < deadline and a.poll() is None, logs(tmp_path)
        time.sleep(0.05)
    os.kill(a.pid, signal.SIGSTOP)
    try:
        # B can only finish after A's lease ran out: it takes A's shard over.
        b = start_worker(job, "paused", 0, 1, tmp_path / "wb.log", wait=True)
        assert b.wait(timeout=300) == EXIT_OK, logs(tmp_path)
        assert status_json(job, run_id="paused")["state"] == "completed"
        before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").glob("part-*")}
    finally:
        os.kill(a.pid, signal.SIGCONT)
    assert a.wait(timeout=120) == EXIT_OK, logs(tmp_path)
    assert "claim lost" in (tmp_path / "wa.log").read_text(), logs(tmp_path)
    after = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").glob("part-*")}
    assert after == before, "the paused worker's late output was published"
    check_output(big, tmp_path / "out", "parquet", range(big.n), job=None)


def stopped(pid):
    """True once process `pid` is stopped (SIGSTOP: state T in /proc)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2] in "Tt"


def test_a_worker_stopped_right_after_its_claim_check_never_replaces_the_new_holders_part(
        small, pg_server, tmp_path):
    """The exact window the claim check cannot cover: A passed it, then froze
    before writing and publishing its part. B takes the shard over once A's
    lease lapses and publishes it; when A continues, its part must not replace
    B's (before RENAME_NOREPLACE it always did)."""
    job = worker_job(small, pg_server, tmp_path)
    a = start_worker(job, "frozen", 0, 1, tmp_path / "wa.log",
                     env={"NIGHTSHIFT_STOP_AT": "after_claim_check:1"})
    deadline = time.time() + 60
    while not stopped(a.pid):
        assert time.time() < deadline and a.poll() is None, logs(tmp_path)
        time.sleep(0.05)
    try:
        b = start_worker(job, "frozen", 0, 1, tmp_path / "wb.log", wait=True)
        assert b.wait(timeout=300) == EXIT_OK, logs(tmp_path)
        before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in (tmp_path / "out").glob("part-*")}
        assert len(before) == 4, sorted(before)
    finally:
        os.kill(a.pid, signal.SIGCONT)
    assert a.wait(timeout=120) == EXIT_OK, logs(tmp_path)
    assert "claim lost" in (tmp_path / "wa.log").read_text(), logs(tmp_path)
    after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in (tmp_path / "out").glob("part-*")}
    assert after == before, "the frozen worker replaced the new holder's part"
    assert not list((tmp_path / "out").glob(".*tmp*")), sorted(os.listdir(tmp_path / "out"))
    check_output(small, tmp_path / "out", "parquet", range(small.n), job=None)
    st = status_json(job, run_id="frozen")
    assert st["state"] == "completed" and st["shards"]["committed"] == 4, st


def holding(job, run_id):
    """pid -> shards held, of the run's workers (empty before the run exists)."""
    rc, out, _ = run("status", job, "--run-id", run_id, "--json")
    if rc != EXIT_OK:
        return {}
    return {w["pid"]: w["shards_held"] for w in json.loads(out).get("workers", [])}


def chaos(case, pg, d, run_id, output=None, kills=6, writers=None):
    """4 workers; one SIGSTOPped while it holds a shard, continued after twice
    the lease; meanwhile random SIGKILLs, each victim restarted at once (as a
    Job controller would). The paused worker's shard keeps the run open until
    its lease lapses, so every kill lands while the run is unfinished. Returns
    when every worker exited 0."""
    rng = random.Random(SEED + sum(map(ord, run_id)))
    # Small batches: a run long enough (seconds) to catch a worker holding a shard.
    job = worker_job(case, pg, d, output, batch=128, writers=writers)
    procs = {i: start_worker(job, run_id, i, 4, d / f"w{i}.log", wait=True) for i in range(4)}
    deadline = time.time() + 600
    time.sleep(rng.uniform(0.05, 0.3))
    while True:  # pause a worker caught holding a shard
        assert time.time() < deadline and all(p.poll() is None for p in procs.values()), logs(d)
        held = holding(job, run_id)
        busy = [i for i, p in procs.items() if held.get(p.pid, 0) > 0]
        if busy:
            break
        time.sleep(0.02)
    stopped = rng.choice(busy)
    os.kill(procs[stopped].pid, signal.SIGSTOP)
    stopped_at = time.time()
    landed = 0
    while any(p.poll() is None for p in procs.values()):
        assert time.time() < deadline, f"seed {SEED}: workers did not finish\n{logs(d)}"
        # Quick enough that all the kills land while the paused worker's
        # lease (renewed every LEASE_S / 3 until the pause) still holds the
        # run open: at least 2/3 of LEASE_S.
        time.sleep(rng.uniform(0.05, 0.25))
        if stopped is not None and time.time() - stopped_at > 2 * LEASE_S + 1:
            os.kill(procs[stopped].pid, signal.SIGCONT)
            stopped = None
        live = [i for i, p in procs.items() if p.poll() is None and i != stopped]
        if live and landed < kills:
            i = rng.choice(live)
            procs[i].kill()
            procs[i].wait()
            landed += 1
            procs[i] = start_worker(job, run_id, i, 4, d / f"w{i}.log", wait=True)
    if stopped is not None:
        os.kill(procs[stopped].pid, signal.SIGCONT)
    codes = {i: p.wait() for i, p in procs.items()}
    assert set(codes.values()) == {EXIT_OK}, f"seed {SEED}: exit codes {codes}\n{logs(d)}"
    assert landed == kills, f"seed {SEED}: only {landed} kills landed"
    st = status_json(job, run_id=run_id)
    assert st["state"] == "completed", st
    return job


def test_chaos_file_output(big, pg_server, tmp_path):
    chaos(big, pg_server, tmp_path, "chaos-files")
    check_output(big, tmp_path / "out", "parquet", range(big.n), job=None)


def test_chaos_file_output_with_two_writers_per_worker(big, pg_server, tmp_path):
    """run.writers: 2 in every worker: two shards of a worker publish at once,
    each fenced by its own claim."""
    chaos(big, pg_server, tmp_path, "chaos-writers", writers=2)
    check_output(big, tmp_path / "out", "parquet", range(big.n), job=None)


@pytest.mark.parametrize("mode", ["upsert", "insert"])
def test_chaos_postgres_output(big, pg_server, tmp_path, mode):
    table = f"analytics.chaos_{mode}"
    chaos(big, pg_server, tmp_path, f"chaos-{mode}",
          output={"format": "postgres", "url": pg_server.url(with_password=False), "table": table, "mode": mode})
    check_table(big, pg_server, table)


def test_a_shard_in_the_table_but_not_the_ledger_is_adopted(small, pg_server, tmp_path):
    """A worker killed between its table commit and its ledger commit: the
    next claimer's table commit is refused (another epoch holds the shard), so
    it records the shard from what the table holds instead of failing. The
    ledger is in another database than the table (in the same one, rows and
    ledger commit are one transaction: test_db_one_txn.py)."""
    table = "analytics.adopted"
    job = worker_job(small, pg_server, tmp_path, output={
        "format": "postgres", "url": pg_server.url(with_password=False), "table": table, "mode": "insert"},
        ledger_db=fresh_database(pg_server, "adopt_ledger"))
    a = start_worker(job, "adopt", 0, 1, tmp_path / "wa.log", env={"NIGHTSHIFT_CRASH_AT": "db_after_commit:1"})
    assert a.wait(timeout=120) == -signal.SIGKILL, logs(tmp_path)
    b = start_worker(job, "adopt", 0, 1, tmp_path / "wb.log", wait=True)
    assert b.wait(timeout=120) == EXIT_OK, logs(tmp_path)
    assert "already in the table" in (tmp_path / "wb.log").read_text(), logs(tmp_path)
    st = status_json(job, run_id="adopt")
    assert st["state"] == "completed", st
    assert st["shards"]["committed"] == st["shards"]["total"], st["shards"]
    check_table(small, pg_server, table)  # insert mode: a shard written twice would show


def test_a_completed_run_missing_success_gets_it_on_the_next_run(small, pg_server, tmp_path):
    """Killed between completing the run in the ledger and writing _SUCCESS:
    the next `run` of the completed run writes it."""
    job = worker_job(small, pg_server, tmp_path)
    a = start_worker(job, "nosuccess", 0, 1, tmp_path / "wa.log", env={"NIGHTSHIFT_CRASH_AT": "after_complete:1"})
    assert a.wait(timeout=120) == -signal.SIGKILL, logs(tmp_path)
    assert status_json(job, run_id="nosuccess")["state"] == "completed"
    assert not (tmp_path / "out" / "_SUCCESS").exists()
    rc, out, err = run("run", job, "--run-id", "nosuccess")
    assert rc == EXIT_OK, err
    manifest = json.loads((tmp_path / "out" / "_SUCCESS").read_text())
    assert manifest["counts"]["succeeded"] == small.n, manifest
    check_output(small, tmp_path / "out", "parquet", range(small.n), job=None)
    rc, _, err = run("run", job, "--run-id", "nosuccess")  # again: nothing to do
    assert rc == EXIT_OK and "written now" not in err, err


def test_connections_cut_mid_run_workers_reconnect_and_finish(big, pg_server, tmp_path):
    """The server drops every worker connection (as a database restart or a
    failover would) every 0.3 s while four workers run: each reconnects and
    retries, and the run completes with every key once."""
    job = worker_job(big, pg_server, tmp_path)
    procs = [start_worker(job, "cut", i, 4, tmp_path / f"w{i}.log", wait=True) for i in range(4)]
    cuts = 0
    while any(p.poll() is None for p in procs):
        time.sleep(0.3)
        pg_server.admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE usename = 'scorer' AND pid <> pg_backend_pid()")
        cuts += 1
    assert wait_all(procs, 300) == [EXIT_OK] * 4, logs(tmp_path)
    assert cuts >= 3, f"the run ended after {cuts} cut(s)"
    assert status_json(job, run_id="cut")["state"] == "completed"
    check_output(big, tmp_path / "out", "parquet", range(big.n), job=None)
