"""A row the database refuses is a dead letter, not a failed shard: the shard
commits its other rows, and the dead letter names the key and the database's
reason. Real PostgreSQL (a CHECK constraint, a varchar(n), NaN predictions),
SQLite and DuckDB files; resume and rerun double nothing."""
import json
import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from conftest import EXIT_FAILED, EXIT_OK, Case, check_scored_rows, run, status_json, write_job
from pg_fixture import PASSWORD, ROLE, pg_server  # noqa: F401  (the session fixture)
from test_db_sinks import query as db_query

N = 1000
SHARD = 125  # 8 shards
NAN_ROWS = [3, 140, 141, 650, 999]  # input rows whose features are NaN: the model says NaN
NAME_LEN = 12  # varchar(12): the longer names are refused
ENV = {"PGPASSWORD": PASSWORD}


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    c = Case(tmp_path_factory.mktemp("dbrejects"), n=N, seed=21)
    c.x[NAN_ROWS, 0] = np.nan
    c.expected = c.model.predict(c.x)
    assert np.isnan(c.expected[NAN_ROWS]).all()
    c.input_path = c.make_input("parquet")
    # A threshold between two float32 predictions (no rounding tie), above
    # which about 3% of the rows lie.
    p0 = np.sort(c.expected[~np.isnan(c.expected[:, 0]), 0])
    at = int(len(p0) * 0.97)
    c.threshold = float((float(p0[at - 1]) + float(p0[at])) / 2)
    return c


def refused_by_check(case):
    """Input rows the CHECK (p0 < threshold) refuses: a NaN, or at/above the threshold."""
    return {i for i in range(case.n) if math.isnan(case.expected[i, 0]) or case.expected[i, 0] >= case.threshold}


def refused_by_length(case):
    return {i for i in range(case.n) if len(case.names[i]) > NAME_LEN}


def make_job(case, d, output):
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    job = case.job(str(case.root / case.input_path), shard_rows=SHARD)
    job["model"]["path"] = str(case.model.path)
    job["output"] = {"keep": ["id", "name"], **output}
    job["batch"] = {"size": 64}
    job["errors"] = {"max_failed_items": "20%"}
    return write_job(d / "job.yaml", job)


def dead_letters(d):
    """Every dead-letter line under folder d, by key."""
    lines = [json.loads(l) for f in sorted(Path(d).rglob("part-*.jsonl")) for l in f.read_text().splitlines()]
    by_key = {}
    for l in lines:
        assert l["key"] not in by_key, f"key {l['key']} dead-lettered twice"
        by_key[l["key"]] = l
    return by_key


def check_rows(case, rows, good):
    """rows (id, name, p0, p1, p2) hold exactly the input rows `good`, with the reference predictions."""
    check_scored_rows(case, rows, positions=good)


def check_dead_letters(case, d, refused, reasons):
    """The dead letters are exactly `refused` (input rows), each with a reason in `reasons[row]`."""
    dl = dead_letters(d)
    want = {int(case.ids[i]): i for i in refused}
    assert set(dl) == set(want), (f"missing {sorted(set(want) - set(dl))[:5]}, "
                                  f"unexpected {sorted(set(dl) - set(want))[:5]}")
    for k, line in dl.items():
        i = want[k]
        assert "the database refused the row" in line["error"], line
        assert any(r in line["error"] for r in reasons(i)), (i, line["error"])
        assert PASSWORD not in line["error"]
        # Where the row came from, so that `nightshift retry` finds it.
        assert line["row"] == i and line["file"].endswith(Path(case.input_path).name), line


# -- PostgreSQL ----------------------------------------------------------------------------------


def pg_create(pg, table, columns):
    """Creates `table` as the superuser, owned by the role the runs log in as."""
    pg.admin(f"CREATE TABLE {table} ({columns})", db="crm")
    pg.admin(f"ALTER TABLE {table} OWNER TO {ROLE}", db="crm")


def pg_reasons(case):
    def reasons(i):
        r = []
        if i in refused_by_check(case):
            r.append("SQLSTATE 23514")  # check_violation
        if i in refused_by_length(case):
            r.append("SQLSTATE 22001")  # string_data_right_truncation
        return r
    return reasons


def test_pg_upsert_refused_rows_are_dead_letters(case, pg_server, tmp_path):
    """Upsert through the staging table (varchar(12) is not the staging type):
    the CHECK and the length refuse rows; the others commit."""
    pg = pg_server
    table = "analytics.rej_upsert"
    pg_create(pg, table, f"id bigint PRIMARY KEY, name varchar({NAME_LEN}), "
                         f"p0 real CHECK (p0 < {case.threshold!r}), p1 real, p2 real")
    job = make_job(case, tmp_path, {"format": "postgres", "url": pg.url(with_password=True), "table": table,
                                    "mode": "upsert"})
    rc, out, err = run("run", job, env=ENV)
    assert rc == EXIT_OK, err
    refused = refused_by_check(case) | refused_by_length(case)
    assert 40 < len(refused) < 200 and set(NAN_ROWS) <= refused
    good = set(range(case.n)) - refused
    check_rows(case, pg.query(f"SELECT id, name, p0, p1, p2 FROM {table}"), good)
    check_dead_letters(case, tmp_path / "failed", refused, pg_reasons(case))
    assert PASSWORD not in out + err
    st = status_json(job)
    assert st["state"] == "completed", st
    assert st["counts"]["succeeded"] == len(good) and st["counts"]["failed"] == len(refused), st
    commits = pg.query(f"SELECT sum(rows) FROM {table}__nightshift_commits")
    assert commits == [[str(len(good))]]
    # The same command again: the run is complete, nothing is written twice.
    rc, out, err = run("run", job, env=ENV)
    assert rc == EXIT_OK, err
    check_rows(case, pg.query(f"SELECT id, name, p0, p1, p2 FROM {table}"), good)
    # A new run upserts the same keys: still once each, same dead letters.
    rc, out, err = run("run", job, "--run-id", "again", env=ENV)
    assert rc == EXIT_OK, err
    check_rows(case, pg.query(f"SELECT id, name, p0, p1, p2 FROM {table}"), good)
    check_dead_letters(case, tmp_path / "failed" / "again", refused, pg_reasons(case))


@pytest.mark.parametrize("point", [None, "db_before_commit:2", "db_after_commit:2"])
def test_pg_insert_direct_copy_refused_rows(case, pg_server, tmp_path, point):
    """Insert into a table of the staging types: the rows are copied straight
    into it and the CHECK refuses some mid-COPY. Killed at a commit, the
    resumed run writes every good row exactly once."""
    pg = pg_server
    table = "analytics.rej_insert_" + (point or "plain").replace(":", "_")
    pg_create(pg, table, f"id bigint, name text, p0 real CHECK (p0 < {case.threshold!r}), p1 real, p2 real")
    job = make_job(case, tmp_path, {"format": "postgres", "url": pg.url(with_password=False), "table": table,
                                    "mode": "insert"})
    if point:
        rc, out, err = run("run", job, env={**ENV, "NIGHTSHIFT_CRASH_AT": point})
        assert rc in (-9, 137), f"expected a kill at {point}, got {rc}: {err}"
    rc, out, err = run("run", job, env=ENV)
    assert rc == EXIT_OK, err
    refused = refused_by_check(case)
    check_rows(case, pg.query(f"SELECT id, name, p0, p1, p2 FROM {table}"), set(range(case.n)) - refused)
    check_dead_letters(case, tmp_path / "failed", refused, pg_reasons(case))


def test_pg_refusals_beyond_the_limit_fail_the_run(case, pg_server, tmp_path):
    """Refused rows count against errors.max_failed_items like any dead letter."""
    pg = pg_server
    table = "analytics.rej_limit"
    pg_create(pg, table, f"id bigint PRIMARY KEY, name text, p0 real CHECK (p0 < {case.threshold!r}), "
                         f"p1 real, p2 real")
    job = make_job(case, tmp_path, {"format": "postgres", "url": pg.url(with_password=False), "table": table,
                                    "mode": "upsert"})
    rc, out, err = run("run", job, "--set", "errors.max_failed_items=5", env=ENV)
    assert rc == EXIT_FAILED, err
    assert "more than errors.max_failed_items" in err, err


# -- SQLite and DuckDB ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["sqlite", "duckdb"])
def test_file_database_refused_rows_are_dead_letters(case, tmp_path, fmt):
    path = tmp_path / f"out.{fmt}"
    table = "scores"
    check = f"CHECK (p0 < {case.threshold!r})"
    ddl = (f"CREATE TABLE {table} (id BIGINT PRIMARY KEY, name VARCHAR, p0 REAL NOT NULL {check}, "
           f"p1 REAL, p2 REAL)")
    if fmt == "sqlite":
        con = sqlite3.connect(path)
        con.execute(ddl)
        con.commit()
        con.close()
    else:
        from conftest import sql
        sql(f"ATTACH '{path}' AS o; USE o; {ddl}")
    job = make_job(case, tmp_path, {"format": fmt, "url": str(path), "table": table, "mode": "upsert"})
    rc, out, err = run("run", job)
    assert rc == EXIT_OK, err
    refused = refused_by_check(case)
    check_rows(case, db_query(fmt, path, f"SELECT id, name, p0, p1, p2 FROM {table}"), set(range(case.n)) - refused)
    # SQLite stores a NaN as NULL (NOT NULL refuses it); DuckDB's CHECK refuses NaN.
    words = {"sqlite": ["constraint failed"], "duckdb": ["Constraint Error"]}[fmt]
    check_dead_letters(case, tmp_path / "failed", refused, lambda i: words)
    st = status_json(job)
    assert st["counts"]["failed"] == len(refused), st
    rc, out, err = run("run", job, "--run-id", "again")
    assert rc == EXIT_OK, err
    check_rows(case, db_query(fmt, path, f"SELECT id, name, p0, p1, p2 FROM {table}"), set(range(case.n)) - refused)


def test_pg_retry_after_the_table_is_fixed_writes_the_refused_rows(case, pg_server, tmp_path):
    """The dead letters of refused rows name their file and row, so `nightshift
    retry` finds them: once the constraint is dropped they go in, once each."""
    pg = pg_server
    table = "analytics.rej_retry"
    pg_create(pg, table, f"id bigint PRIMARY KEY, name text, p0 real CONSTRAINT p0_low CHECK (p0 < {case.threshold!r}), "
                         f"p1 real, p2 real")
    job = make_job(case, tmp_path, {"format": "postgres", "url": pg.url(with_password=False), "table": table,
                                    "mode": "upsert"})
    rc, out, err = run("run", job, env=ENV)
    assert rc == EXIT_OK, err
    refused = refused_by_check(case)
    assert status_json(job)["counts"]["failed"] == len(refused)
    pg.admin(f"ALTER TABLE {table} DROP CONSTRAINT p0_low", db="crm")
    rc, out, err = run("retry", job, env=ENV)
    assert rc == EXIT_OK, err
    rows = pg.query(f"SELECT id, name, p0, p1, p2 FROM {table}")
    assert len(rows) == case.n
    non_nan = {int(r[0]): r for r in rows if r[2] != "NaN"}
    check_rows(case, list(non_nan.values()), set(range(case.n)) - set(NAN_ROWS))
    st = status_json(job)
    assert st["counts"]["failed"] == 0 and st["counts"]["succeeded"] == case.n, st
