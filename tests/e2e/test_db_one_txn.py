"""The PostgreSQL ledger and the PostgreSQL output table in one database: a
shard's rows and the ledger's epoch-fenced commit of the shard are one
transaction (a real PostgreSQL 15 from pg_fixture).

- Proof of the single transaction: test-only triggers record txid_current()
  for every row the run inserts and for every shard the ledger marks
  committed; each row's txid is its shard's ledger-commit txid, and the
  commit table gets no row for the run's shards.
- A kill at every step of a shard's commit (NIGHTSHIFT_CRASH_AT): right after
  the kill the ledger's committed shards and the table's rows agree (no
  window where one holds a shard and the other not), and the resumed run
  writes every key exactly once without adopting anything.
- A stale epoch (another claim of the shard lands while the sink waits on the
  shard's ledger row) rolls the whole transaction back: no row of it is
  visible, the worker says the claim was lost, and the shard is written once.
- The ledger in another database keeps the commit table.
"""
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import EXIT_OK, Case, run, start, status_json, write_job
from pg_fixture import PASSWORD, pg_server  # noqa: F401  (the session fixture)
from test_db_output import check_table
from test_pg_ledger import fresh_database

N = 2000
SHARD = 250  # 8 shards
ENV = {"PGPASSWORD": PASSWORD}


@pytest.fixture(autouse=True)
def _password(monkeypatch):
    monkeypatch.setenv("PGPASSWORD", PASSWORD)


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    c = Case(tmp_path_factory.mktemp("onetx"), n=N, seed=31)
    c.input_path = c.make_input("parquet")
    return c


def job_file(case, pg, d, table, mode="insert", ledger_db="crm", lease="3s", shard=SHARD, batch=64):
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    job = case.job(str(case.root / case.input_path), shard_rows=shard)
    job["model"]["path"] = str(case.model.path)
    job["output"] = {"format": "postgres", "url": pg.url(with_password=False), "table": table,
                     "mode": mode, "keep": ["id", "name"]}
    job["batch"] = {"size": batch}
    job["run"]["ledger"] = pg.url(with_password=False, db=ledger_db)
    job["run"]["lease"] = lease
    return write_job(d / "job.yaml", job)


@pytest.fixture(scope="module")
def ledger_ready(case, pg_server, tmp_path_factory):
    """The ledger's schema in database crm (a first run migrates it)."""
    job = job_file(case, pg_server, tmp_path_factory.mktemp("warm"), "analytics.onetx_warm")
    rc, out, err = run("run", job, "--run-id", "onetx-warm", env=ENV)
    assert rc == EXIT_OK, err
    return pg_server


def commit_rows(pg, table, run_id):
    return pg.query(f"SELECT count(*) FROM {table}__nightshift_commits WHERE run_id = '{run_id}' "
                    "AND shard_id >= 0")


def committed_shards(pg, run_id):
    return int(pg.query(f"SELECT count(*) FROM nightshift.shards WHERE run_id = '{run_id}' "
                        "AND state = 'committed'")[0][0])


def test_rows_and_ledger_commit_share_one_transaction(case, ledger_ready, tmp_path):
    pg = ledger_ready
    table = "analytics.onetx_txid"
    pg.admin(f"CREATE TABLE {table} (id bigint, name text, p0 real, p1 real, p2 real)", db="crm")
    pg.admin(f"ALTER TABLE {table} OWNER TO scorer", db="crm")
    pg.admin("CREATE TABLE public.ns_txids (kind text, run_id text, shard bigint, id bigint, txid bigint); "
             "GRANT ALL ON public.ns_txids TO scorer; "
             "CREATE FUNCTION public.ns_ledger_txid() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
             "INSERT INTO public.ns_txids VALUES ('ledger', NEW.run_id, NEW.shard_id, NULL, txid_current()); "
             "RETURN NULL; END $$; "
             "CREATE FUNCTION public.ns_row_txid() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
             "INSERT INTO public.ns_txids VALUES ('row', NULL, NULL, NEW.id, txid_current()); "
             "RETURN NULL; END $$; "
             "CREATE TRIGGER ns_ledger_txid AFTER UPDATE ON nightshift.shards FOR EACH ROW WHEN "
             "(NEW.state = 'committed' AND OLD.state <> 'committed') EXECUTE FUNCTION public.ns_ledger_txid(); "
             f"CREATE TRIGGER ns_row_txid AFTER INSERT ON {table} FOR EACH ROW "
             "EXECUTE FUNCTION public.ns_row_txid()", db="crm")
    try:
        job = job_file(case, pg, tmp_path, table)
        rc, out, err = run("run", job, "--run-id", "onetx-txid", env=ENV)
        assert rc == EXIT_OK, err
        ledger = {int(s): int(t) for s, t in pg.query(
            "SELECT shard, txid FROM public.ns_txids WHERE kind = 'ledger' AND run_id = 'onetx-txid'")}
        rows = {int(k): int(t) for k, t in pg.query("SELECT id, txid FROM public.ns_txids WHERE kind = 'row'")}
    finally:
        pg.admin("DROP TRIGGER IF EXISTS ns_ledger_txid ON nightshift.shards; "
                 f"DROP TRIGGER IF EXISTS ns_row_txid ON {table}", db="crm")
    check_table(case, pg, table)
    assert sorted(ledger) == list(range(N // SHARD)), ledger
    assert len(set(ledger.values())) == N // SHARD, "each shard commits in a transaction of its own"
    assert len(rows) == N
    for k, txid in rows.items():
        shard = case.pos[k] // SHARD
        assert txid == ledger[shard], f"key {k} (shard {shard}) committed in txid {txid}, " \
                                      f"its ledger commit in {ledger[shard]}"
    assert commit_rows(pg, table, "onetx-txid") == [["0"]]


@pytest.mark.parametrize("point", ["db_before_commit:3", "db_after_commit:3", "after_publish:3",
                                   "after_commit:3"])
def test_kill_at_every_step_leaves_ledger_and_table_in_step(case, ledger_ready, tmp_path, point):
    pg = ledger_ready
    run_id = "onetx-" + point.replace(":", "-").replace("_", "-")
    table = "analytics.onetx_" + point.replace(":", "_")
    job = job_file(case, pg, tmp_path, table)
    rc, out, err = run("run", job, "--run-id", run_id, env={**ENV, "NIGHTSHIFT_CRASH_AT": point})
    assert rc in (-9, 137), f"expected a kill at {point}, got {rc}: {err}"
    held = committed_shards(pg, run_id)
    in_table = int(pg.query(f"SELECT count(*) FROM {table}")[0][0])
    want = 2 if point.startswith("db_before_commit") else 3
    assert held == want, (point, held)
    assert in_table == held * SHARD, f"ledger holds {held} shards, the table {in_table} rows"
    rc, out, err = run("run", job, "--run-id", run_id, "--wait", env=ENV)
    assert rc == EXIT_OK, err
    assert "already in the table" not in err, err  # nothing to adopt: the ledger had it
    check_table(case, pg, table)
    assert commit_rows(pg, table, run_id) == [["0"]]
    st = status_json(job, run_id=run_id)
    assert st["state"] == "completed" and st["counts"]["succeeded"] == N, st


def test_ledger_in_another_database_keeps_the_commit_table(case, pg_server, tmp_path):
    pg = pg_server
    table = "analytics.onetx_other"
    job = job_file(case, pg, tmp_path, table, ledger_db=fresh_database(pg, "onetx_ledger"))
    rc, out, err = run("run", job, "--run-id", "onetx-other", env=ENV)
    assert rc == EXIT_OK, err
    check_table(case, pg, table)
    assert commit_rows(pg, table, "onetx-other") == [[str(N // SHARD)]]


def wait_for(pg, q, what, proc, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pg.query(q) != [["0"]]:
            return
        if proc.poll() is not None:
            raise AssertionError(f"exited ({proc.returncode}) before {what}: {proc.communicate()}")
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def slow_case(tmp_path_factory):
    c = Case(tmp_path_factory.mktemp("onetx-slow"), n=100000, seed=32)
    c.input_path = c.make_input("parquet")
    return c


def test_stale_epoch_rolls_the_whole_transaction_back(slow_case, ledger_ready, tmp_path):
    """Another claim of shard 0 (epoch + 1, its lease already lapsed, as if
    its claimer died) is committed by psql while the run's transaction waits
    on the shard's ledger row: the run's transaction is refused as stale."""
    pg = ledger_ready
    table = "analytics.onetx_stale"
    run_id = "onetx-stale"
    # One shard of the whole input, scored in small batches: slow enough to
    # catch it while its claim is held. A long lease keeps the heartbeat away.
    case = slow_case
    job = job_file(case, pg, tmp_path, table, shard=case.n, batch=1, lease="60s")
    p = start("run", job, "--run-id", run_id, "--wait", env=ENV)
    other = None
    try:
        wait_for(pg, f"SELECT count(*) FROM nightshift.shards WHERE run_id = '{run_id}' AND shard_id = 0 "
                 "AND state = 'running'", "the run to claim shard 0", p)
        # Held still while the other claim is made (its transaction stays open).
        os.kill(p.pid, signal.SIGSTOP)
        other = subprocess.Popen(["psql", "-h", str(pg.sock), "-p", str(pg.port), "-U", "postgres", "-d", "crm",
                                  "-v", "ON_ERROR_STOP=1", "-X", "-q", "-t", "-A"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        other.stdin.write(f"BEGIN;\nUPDATE nightshift.shards SET epoch = epoch + 1, lease_until_ms = 0 WHERE "
                          f"run_id = '{run_id}' AND shard_id = 0 AND state = 'running';\n"
                          f"SELECT epoch FROM nightshift.shards WHERE run_id = '{run_id}' AND shard_id = 0;\n")
        other.stdin.flush()
        assert other.stdout.readline().strip() == "2", "the run committed shard 0 before it could be stopped"
        os.kill(p.pid, signal.SIGCONT)
        wait_for(pg, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'scorer' AND wait_event_type = 'Lock' "
                 "AND query LIKE '%FOR UPDATE%'", "the run's transaction to wait on shard 0's ledger row", p)
        assert int(pg.query(f"SELECT count(*) FROM {table}")[0][0]) == 0
        other.stdin.write("COMMIT;\n")
        other.stdin.close()
        assert other.wait(timeout=60) == 0, other.stderr.read()
        out, err = p.communicate(timeout=300)
    finally:
        if p.poll() is None:
            os.kill(p.pid, signal.SIGCONT)
            p.kill()
        if other is not None and other.poll() is None:
            other.kill()
    assert p.returncode == EXIT_OK, err
    assert "claim lost (epoch 1 is stale" in err, err
    # The refused transaction left nothing; the reclaim (epoch 3) wrote the shard once.
    check_table(case, pg, table)
    assert pg.query(f"SELECT state, epoch FROM nightshift.shards WHERE run_id = '{run_id}'") == \
        [["committed", "3"]]
