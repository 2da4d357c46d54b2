"""Fencing of database output: a shard committed to the table by another
worker (another epoch) makes this worker's transaction for the same shard
fail and roll back, reported as a conflict, with no doubled rows. The other
worker is played by a psql session that commits shard 0 (its commit row, its
rows) while the nightshift run waits on that row's lock in the real server."""
import subprocess
import time

import numpy as np
import pytest

from conftest import EXIT_OK, Case, run, start
from pg_fixture import pg_server  # noqa: F401  (the session fixture)
from test_db_output import ENV, SHARD, check_table, pg_job

N = 1200


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    c = Case(tmp_path_factory.mktemp("fence"), n=N, seed=21)
    c.input_path = c.make_input("parquet")
    return c


def wait_for(pg, q, what, proc, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pg.query(q) != [["0"]]:
            return
        if proc.poll() is not None:
            raise AssertionError(f"exited ({proc.returncode}) before {what}: {proc.communicate()}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_second_commit_of_a_shard_is_a_conflict_and_rolls_back(case, pg_server, tmp_path):
    pg = pg_server
    table = "analytics.fenced"
    commits = "analytics.fenced__nightshift_commits"
    pg.admin(f"CREATE TABLE {table} (id bigint, name text, p0 real, p1 real, p2 real)", db="crm")
    pg.admin(f"CREATE TABLE {commits} (run_id text NOT NULL, shard_id bigint NOT NULL, part integer NOT NULL, "
             "epoch bigint NOT NULL, rows bigint NOT NULL, committed_at timestamptz NOT NULL DEFAULT now(), "
             "PRIMARY KEY (run_id, shard_id, part))", db="crm")
    for t in (table, commits):
        pg.admin(f"ALTER TABLE {t} OWNER TO scorer", db="crm")
    # The other worker: shard 0 (the input's first SHARD rows) with epoch 99,
    # in a transaction left open until the run waits on it.
    values = ", ".join(
        "({}, '{}', {})".format(int(case.ids[i]), case.names[i].replace("'", "''"),
                                ", ".join(repr(float(np.float32(v))) for v in case.expected[i]))
        for i in range(SHARD))
    other = subprocess.Popen(["psql", "-h", str(pg.sock), "-p", str(pg.port), "-U", "postgres", "-d", "crm",
                              "-v", "ON_ERROR_STOP=1", "-X", "-q"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    other.stdin.write(f"BEGIN;\nINSERT INTO {commits} (run_id, shard_id, part, epoch, rows) VALUES "
                      f"('fence', 0, 0, 99, {SHARD});\nINSERT INTO {table} VALUES {values};\n")
    other.stdin.flush()
    wait_for(pg, "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'",
             "the other worker's open transaction", other)
    job = pg_job(case, pg, tmp_path, table, mode="insert")
    p = start("run", job, "--run-id", "fence", env=ENV)
    try:
        wait_for(pg, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'scorer' AND wait_event_type = 'Lock'",
                 "the run to wait on shard 0's commit row", p)
        other.stdin.write("COMMIT;\n")
        other.stdin.close()
        assert other.wait(timeout=60) == 0, other.stderr.read()
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 1, (p.returncode, err)
    assert "shard 0 of run fence was already committed to table 'analytics.fenced' by another worker" in err, err
    # This worker's transaction rolled back: shard 0 once, with the other worker's epoch.
    assert pg.query(f"SELECT epoch, rows FROM {commits} WHERE run_id = 'fence' AND shard_id = 0") == \
        [["99", str(SHARD)]]
    dup = pg.query(f"SELECT count(*) FROM (SELECT id FROM {table} GROUP BY id HAVING count(*) > 1) d")
    assert dup == [["0"]], dup
    # Resuming records shard 0 as done (it is in the table) and writes the rest once.
    rc, out, err = run("run", job, "--run-id", "fence", env=ENV)
    assert rc == EXIT_OK, err
    assert "NOTICE" not in err, err  # the server's notices stay out of the user's terminal
    check_table(case, pg, table)
