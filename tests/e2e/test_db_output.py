"""Database output into a real PostgreSQL: upsert, insert, swap; exactly once
across SIGKILL at every step of a shard's commit; clear refusals before the
run starts; the password never leaves the URL."""
import random
from pathlib import Path

import pytest

from conftest import EXIT_OK, Case, check_scored_rows, run, start, status_json, write_job
from pg_fixture import PASSWORD, pg_server  # noqa: F401  (the session fixture)

N = 2000
SHARD = 250  # 8 shards


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    c = Case(tmp_path_factory.mktemp("dbcase"), n=N, seed=5)
    c.input_path = c.make_input("parquet")
    return c


def pg_job(case, pg, d, table, mode="upsert", with_password=False, **output):
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    job = case.job(str(case.root / case.input_path), shard_rows=SHARD)
    job["model"]["path"] = str(case.model.path)
    job["output"] = {"format": "postgres", "url": pg.url(with_password=with_password), "table": table,
                     "mode": mode, "keep": ["id", "name"], **output}
    job["batch"] = {"size": 64}
    return write_job(d / "job.yaml", job)


ENV = {"PGPASSWORD": PASSWORD}


def table_rows(pg, table):
    return pg.query(f"SELECT id, name, p0, p1, p2 FROM {table} ORDER BY id")


def check_table(case, pg, table, times=1):
    """Every input key exactly `times` times, names and predictions equal to the reference."""
    check_scored_rows(case, table_rows(pg, table), times=times, where=table)


def test_upsert_creates_table_with_key_and_rerun_rewrites(case, pg_server, tmp_path):
    pg = pg_server
    job = pg_job(case, pg, tmp_path / "a", "analytics.scores_upsert")
    rc, out, err = run("run", job, "--json", env=ENV)
    assert rc == EXIT_OK, err
    check_table(case, pg, "analytics.scores_upsert")
    pk = pg.query("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND "
                  "a.attnum = ANY(i.indkey) WHERE i.indrelid = 'analytics.scores_upsert'::regclass AND i.indisprimary")
    assert pk == [["id"]]
    types = dict(pg.query("SELECT column_name, data_type FROM information_schema.columns "
                          "WHERE table_schema = 'analytics' AND table_name = 'scores_upsert'"))
    assert types == {"id": "bigint", "name": "text", "p0": "real", "p1": "real", "p2": "real"}
    st = status_json(job)
    assert st["table"] == "analytics.scores_upsert" and st["rows"]["written"] == N, st
    assert not list((tmp_path / "a").rglob("_SUCCESS"))
    # Another run (another id) upserts the same keys: still one row per key.
    rc, out, err = run("run", job, "--run-id", "again", env=ENV)
    assert rc == EXIT_OK, err
    check_table(case, pg, "analytics.scores_upsert")
    commits = pg.query("SELECT run_id, count(*), sum(rows) FROM analytics.scores_upsert__nightshift_commits "
                       "GROUP BY run_id ORDER BY run_id")
    assert len(commits) == 2 and all(c[1] == "8" and c[2] == str(N) for c in commits), commits


@pytest.mark.parametrize("point", ["db_before_commit:3", "db_after_commit:3", "after_publish:3",
                                   "after_commit:3", "db_after_commit:8"])
def test_insert_exactly_once_across_kill(case, pg_server, tmp_path, point):
    """insert creates a table without a key: a shard written twice would show."""
    pg = pg_server
    table = "analytics.ins_" + point.replace(":", "_")
    job = pg_job(case, pg, tmp_path, table, mode="insert")
    rc, out, err = run("run", job, env={**ENV, "NIGHTSHIFT_CRASH_AT": point})
    assert rc in (-9, 137), f"expected a kill at {point}, got {rc}: {err}"
    rc, out, err = run("run", job, env=ENV)
    assert rc == EXIT_OK, err
    check_table(case, pg, table)
    if point.startswith("db_after_commit") or point.startswith("after_publish"):
        assert "already in the table" in err, err
    st = status_json(job)
    assert st["state"] == "completed" and st["counts"]["succeeded"] == N, st


def test_chaos_random_kills_then_exactly_once(case, pg_server, tmp_path):
    pg = pg_server
    table = "analytics.chaos"
    job = pg_job(case, pg, tmp_path, table, mode="insert")
    rng = random.Random(11)
    done = False
    for attempt in range(12):
        p = start("run", job, env=ENV)
        try:
            rc = p.wait(timeout=rng.uniform(0.2, 1.2))
        except Exception:
            p.kill()
            rc = p.wait()
        p.stdout.close()
        p.stderr.close()
        if rc == EXIT_OK:
            done = True
            break
    if not done:
        rc, out, err = run("run", job, env=ENV)
        assert rc == EXIT_OK, err
    check_table(case, pg, table)


def test_swap_replaces_table_only_when_run_completes(case, pg_server, tmp_path):
    pg = pg_server
    pg.admin("CREATE TABLE analytics.swapped (id bigint PRIMARY KEY, name text, p0 real, p1 real, p2 real)",
             db="crm")
    pg.admin("INSERT INTO analytics.swapped VALUES (1, 'old', 0, 0, 0)", db="crm")
    pg.admin("ALTER TABLE analytics.swapped OWNER TO scorer", db="crm")
    job = pg_job(case, pg, tmp_path, "analytics.swapped", mode="swap")
    rc, out, err = run("run", job, env={**ENV, "NIGHTSHIFT_CRASH_AT": "db_before_swap:1"})
    assert rc in (-9, 137), err
    assert table_rows(pg, "analytics.swapped") == [["1", "old", "0", "0", "0"]]
    rc, out, err = run("run", job, env=ENV)
    assert rc == EXIT_OK, err
    check_table(case, pg, "analytics.swapped")
    pk = pg.query("SELECT count(*) FROM pg_index WHERE indrelid = 'analytics.swapped'::regclass AND indisprimary")
    assert pk == [["1"]]
    left = pg.query("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'swapped__ns_swap_%'")
    assert left == [["0"]]


def test_refusals_before_the_run_starts(case, pg_server, tmp_path):
    pg = pg_server
    rc, out, err = run("run", pg_job(case, pg, tmp_path / "s", "nowhere.t"), env=ENV)
    assert rc == 2 and "schema 'nowhere' does not exist" in err, err
    pg.admin("CREATE TABLE analytics.badcols (id bigint PRIMARY KEY, name text, p0 boolean, p1 real, p2 real)",
             db="crm")
    pg.admin("ALTER TABLE analytics.badcols OWNER TO scorer", db="crm")
    rc, out, err = run("run", pg_job(case, pg, tmp_path / "c", "analytics.badcols"), env=ENV)
    assert rc == 2 and "'p0' is boolean" in err, err
    pg.admin("CREATE TABLE analytics.nokey (id bigint, name text, p0 real, p1 real, p2 real)", db="crm")
    pg.admin("ALTER TABLE analytics.nokey OWNER TO scorer", db="crm")
    rc, out, err = run("run", pg_job(case, pg, tmp_path / "k", "analytics.nokey"), env=ENV)
    assert rc == 2 and "no primary key or unique index on (id)" in err, err
    rc, out, err = run("run", pg_job(case, pg, tmp_path / "p", "analytics.t"), env={"PGPASSWORD": "wrong-one"})
    assert rc == 2 and "password authentication failed" in err, err
    assert "wrong-one" not in out + err


def test_password_never_leaves_the_url(case, pg_server, tmp_path):
    pg = pg_server
    job = pg_job(case, pg, tmp_path, "analytics.secret", with_password=True)
    rc, out, err = run("run", job, "--json")
    assert rc == EXIT_OK, err
    rc2, out2, err2 = run("status", job, "--json")
    # A failing run too: a table that does not fit.
    bad = pg_job(case, pg, tmp_path / "bad", "nowhere.secret", with_password=True)
    rc3, out3, err3 = run("run", bad)
    assert rc3 == 2
    texts = [out, err, out2, err2, out3, err3]
    for p in tmp_path.rglob("*"):
        if p.is_file() and p.name != "job.yaml":
            texts.append(p.read_bytes().decode("latin-1"))
    leaked = [i for i, t in enumerate(texts) if PASSWORD in t or PASSWORD.encode().decode("latin-1") in t]
    assert not leaked, f"the password appears in output #{leaked}"
    check_table(case, pg, "analytics.secret")
