"""The shared PostgreSQL ledger (run.ledger: postgresql://...) on a real
PostgreSQL 15: the ledger's own GoogleTest suite run against the server
(claims from many connections, leases on the database clock, fencing,
migrations by concurrent openers, lost connections, no password in errors),
then nightshift runs and `status` shows the run's workers."""
import itertools
import json
import socket
import os
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, EXIT_OK, Case, check_output, run, write_job
from pg_fixture import PASSWORD, pg_server  # noqa: F401  (the session fixture)

GTEST = BIN.parents[2] / "src" / "ledger" / "ns_pg_ledger_test"
ENV = {"PGPASSWORD": PASSWORD}
_db_names = itertools.count()


def fresh_database(pg, prefix):
    """A new empty database owned by the test role; its name."""
    name = f"{prefix}_{os.getpid()}_{next(_db_names)}"
    pg.admin(f"CREATE DATABASE {name} OWNER scorer")
    return name


def test_ledger_suite_against_real_server(pg_server):
    pg = pg_server
    assert GTEST.is_file(), f"{GTEST} is not built (ninja ns_pg_ledger_test)"
    env = {**os.environ,
           "NIGHTSHIFT_TEST_PG_URL": pg.url(db=fresh_database(pg, "ledger_unit")),
           "NIGHTSHIFT_TEST_PG_EMPTY_URL": pg.url(db=fresh_database(pg, "ledger_empty")),
           "NIGHTSHIFT_TEST_PG_PASSWORD": PASSWORD}
    p = subprocess.run([str(GTEST)], env=env, capture_output=True, text=True, timeout=600)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-6000:]
    # Really run, not skipped: every test passed against the server.
    assert "SKIPPED" not in out, out[-3000:]
    assert "[  PASSED  ] 19 tests." in out, out[-3000:]
    measured = [l for l in out.splitlines() if "[ measure  ]" in l]
    print("\n".join(measured))


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    c = Case(tmp_path_factory.mktemp("pgledger"), n=1200, seed=3)
    c.input_path = c.make_input("parquet")
    return c


def ledger_job(case, pg, d, db):
    job = case.job(str(case.root / case.input_path), shard_rows=300,
                   out_path=str(Path(d) / "out"))
    job["model"]["path"] = str(case.model.path)
    job["run"]["ledger"] = pg.url(with_password=False, db=db)
    return write_job(Path(d) / "job.yaml", job)


def pg_status(job):
    rc, out, err = run("status", job, "--json", env=ENV)
    assert rc == 0, err
    return json.loads(out)


def test_run_on_pg_ledger_then_status_shows_workers(case, pg_server, tmp_path):
    pg = pg_server
    db = fresh_database(pg, "ledger_run")
    job = ledger_job(case, pg, tmp_path, db)
    rc, out, err = run("run", job, env=ENV)
    assert rc == EXIT_OK, err
    check_output(case, tmp_path / "out", "parquet", range(case.n))
    assert PASSWORD not in out + err
    st = pg_status(job)
    assert st["state"] == "completed", st
    assert st["shards"] == {"total": 4, "committed": 4}, st
    # A shared ledger lists its workers: the run above was the only one, and
    # committed every shard.
    assert [(w["host"], w["shards_committed"]) for w in st["workers"]] == [(socket.gethostname(), 4)], st
    runs = pg.query("SELECT run_id, state FROM nightshift.runs", db=db)
    assert runs == [[st["run_id"], "completed"]], runs

    # Two workers as the claim loop records them (RenewLeases): one holding a
    # live lease on shard 1, one that committed shards 0, 2 and 3.
    rid = st["run_id"]
    pg.query(f"""DELETE FROM nightshift.workers WHERE run_id = '{rid}';
               INSERT INTO nightshift.workers VALUES
                 ('{rid}', 'node-a', 111, 5, 0, 2, nightshift.now_ms() - 5000, nightshift.now_ms() - 1000),
                 ('{rid}', 'node-b', 222, 6, 1, 2, nightshift.now_ms() - 5000, nightshift.now_ms());
               UPDATE nightshift.shards SET holder_host = 'node-b', holder_pid = 222, holder_start = 6
                 WHERE run_id = '{rid}' AND shard_id IN (0, 2, 3);
               UPDATE nightshift.shards SET state = 'running', holder_host = 'node-a', holder_pid = 111,
                 holder_start = 5, lease_until_ms = nightshift.now_ms() + 60000
                 WHERE run_id = '{rid}' AND shard_id = 1""", db=db)
    st = pg_status(job)
    workers = st["workers"]
    assert [w["host"] for w in workers] == ["node-b", "node-a"], workers  # newest heartbeat first
    b, a = workers
    assert (b["pid"], b["worker_index"], b["workers"], b["shards_held"], b["shards_committed"]) == \
        (222, 1, 2, 0, 3), b
    assert (a["pid"], a["shards_held"], a["shards_committed"]) == (111, 1, 0), a
    assert a["heartbeat_at"].endswith("Z") and a["heartbeat_at"] < b["heartbeat_at"], workers
    rc, out, err = run("status", job, env=ENV)
    assert rc == 0, err
    assert "workers: 2" in out, out
    assert "worker 0 of 2: pid 111 on host node-a, 1 shard(s) held, 0 committed" in out, out


def test_bad_ledger_password_is_refused_without_showing_it(case, pg_server, tmp_path):
    pg = pg_server
    job = ledger_job(case, pg, tmp_path, "crm")
    rc, out, err = run("run", job, env={"PGPASSWORD": PASSWORD + "-wrong"})
    assert rc == 2, (rc, err)
    assert "run.ledger" in err and "postgresql://scorer@" in err, err
    assert PASSWORD not in out + err
