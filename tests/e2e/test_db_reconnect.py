"""The PostgreSQL sink survives a cut connection: the server ends the sink's
session (pg_terminate_backend) between shards and while a shard is written,
again and again during a run; each shard is retried on a fresh connection and
written exactly once."""
import json
import threading
import time
from pathlib import Path

import pytest

from conftest import EXIT_OK, Case, read_parts, run, start, status_json, write_job
from pg_fixture import PASSWORD, ROLE, pg_server  # noqa: F401  (the session fixture)
from test_db_output import check_table

N = 1000
SHARD = 125  # 8 shards
ENV = {"PGPASSWORD": PASSWORD}


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    c = Case(tmp_path_factory.mktemp("dbreconnect"), n=N, seed=17)
    c.input_path = c.make_input("parquet")
    return c


def job_for(case, d, url, table, mode="insert"):
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    job = case.job(str(case.root / case.input_path), shard_rows=SHARD)
    job["model"]["path"] = str(case.model.path)
    job["output"] = {"format": "postgres", "url": url, "table": table, "mode": mode, "keep": ["id", "name"]}
    job["batch"] = {"size": 64}
    return write_job(d / "job.yaml", job)


def cut_connections(pg):
    """Ends every session of the role the runs log in as; how many it ended."""
    rows = pg.query(f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = '{ROLE}'")
    return int(rows[0][0])


def test_cut_connections_during_a_run_write_each_shard_once(case, pg_server, tmp_path):
    """insert (a table without a key): a shard written twice would show."""
    pg = pg_server
    table = "analytics.reconnect_insert"
    job = job_for(case, tmp_path, pg.url(with_password=False), table)
    p = start("run", job, env={**ENV, "NIGHTSHIFT_TEST_BATCH_SLEEP_MS": "120"})
    cuts = 0
    stop = threading.Event()

    def cutter():
        nonlocal cuts
        while not stop.is_set():
            cuts += cut_connections(pg)
            time.sleep(0.15)

    t = threading.Thread(target=cutter)
    t.start()
    try:
        out, err = p.communicate(timeout=120)
    finally:
        stop.set()
        t.join()
    assert p.returncode == EXIT_OK, err
    assert cuts >= 3, f"only {cuts} sessions were cut: the test did not test"
    check_table(case, pg, table)
    commits = pg.query(f"SELECT count(*), sum(rows) FROM {table}__nightshift_commits")
    assert commits == [["8", str(N)]], commits
    st = status_json(job)
    assert st["state"] == "completed" and st["counts"]["succeeded"] == N, st
    assert PASSWORD not in out + err


def restart_server(pg, down_s):
    """Stops the server (as a crash would), keeps it down `down_s` seconds, starts it again."""
    import subprocess
    from pg_fixture import PG_BIN
    pg_ctl = str(PG_BIN / "pg_ctl")
    r = subprocess.run(pg._as_owner([pg_ctl, "-D", str(pg.data), "-m", "immediate", "-w", "stop"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    time.sleep(down_s)
    opts = f"-k {pg.sock} -p {pg.port} -c listen_addresses='' -c fsync=off -c max_connections=50"
    r = subprocess.run(pg._as_owner([pg_ctl, "-D", str(pg.data), "-o", opts, "-l", str(pg.sock / "server.log"),
                                     "-w", "-t", "60", "start"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=90)
    assert r.returncode == 0, r.stderr


def test_database_restart_during_a_run_is_survived(case, pg_server, tmp_path):
    """The server is down for 2 s mid-run (a restart): the sink reconnects
    with backoff instead of failing the shard, and writes each shard once."""
    pg = pg_server
    table = "analytics.reconnect_restart"
    job = job_for(case, tmp_path, pg.url(with_password=False), table, mode="upsert")
    p = start("run", job, env={**ENV, "NIGHTSHIFT_TEST_BATCH_SLEEP_MS": "150"})
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            exists = pg.query(f"SELECT to_regclass('{table}__nightshift_commits') IS NOT NULL")
            if exists == [["t"]] and pg.query(f"SELECT count(*) FROM {table}__nightshift_commits") != [["0"]]:
                break
            time.sleep(0.05)
        restart_server(pg, 2.0)
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == EXIT_OK, err
    check_table(case, pg, table)
    commits = pg.query(f"SELECT count(*), sum(rows) FROM {table}__nightshift_commits")
    assert commits == [["8", str(N)]], commits
    assert int(commits[0][0]) == 8


def test_crash_restart_under_a_postgres_ledger_is_survived(case, pg_server, tmp_path):
    """A backend crash makes PostgreSQL end every session and restart (here:
    its checkpointer SIGKILLed). libpq then reports "server closed the
    connection" with its status still OK: the ledger must reconnect and go on,
    not fail the run, and every key is written once."""
    import os
    import signal
    pg = pg_server
    d = tmp_path / "crash"
    d.mkdir()
    job = case.job(str(case.root / case.input_path), shard_rows=SHARD)
    job["model"]["path"] = str(case.model.path)
    job["output"] = {"path": str(d / "out"), "format": "parquet", "keep": ["id"]}
    job["batch"] = {"size": 64}
    job["run"]["ledger"] = pg.url(with_password=False)
    job = write_job(d / "job.yaml", job)
    p = start("run", job, "--run-id", "crash", env={**ENV, "NIGHTSHIFT_TEST_BATCH_SLEEP_MS": "150"})
    try:
        deadline = time.monotonic() + 60
        while not list((d / "out").glob("part-*.parquet")):
            assert p.poll() is None and time.monotonic() < deadline, p.communicate()
            time.sleep(0.05)
        pid = int(pg.query("SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'")[0][0])
        os.kill(pid, signal.SIGKILL)
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == EXIT_OK, err
    rc, out, err = run("status", job, "--run-id", "crash", "--json", env=ENV)
    st = json.loads(out)
    assert st["state"] == "completed" and st["counts"]["succeeded"] == N, st
    ids = sorted(r["id"] for part in read_parts(d / "out", "parquet").values() for r in part)
    assert ids == sorted(int(k) for k in case.ids), "a key lost or written twice"
