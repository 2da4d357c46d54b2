"""Database output into SQLite and DuckDB files: upsert, insert and swap;
exactly once across SIGKILL at every step of a shard's commit; a table that
does not fit is refused before the run starts. The SQLite file is read back
with python's sqlite3, the DuckDB file with `nightshift sql`."""
import csv
import io
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from conftest import EXIT_OK, TOL, Case, check_scored_rows, run, sql, status_json, write_job

N = 1200
SHARD = 150  # 8 shards
FORMATS = ["sqlite", "duckdb"]


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    c = Case(tmp_path_factory.mktemp("dbsinks"), n=N, seed=9)
    c.input_path = c.make_input("parquet")
    return c


def db_job(case, d, fmt, table, mode="upsert", outputs=None):
    """A job in folder `d` writing `table` of the file out.<fmt> beside it (a relative url)."""
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    job = case.job(str(case.root / case.input_path), shard_rows=SHARD)
    job["model"]["path"] = str(case.model.path)
    if outputs:
        job["model"]["outputs"] = outputs
    job["output"] = {"format": fmt, "url": f"out.{fmt}", "table": table, "mode": mode, "keep": ["id", "name"]}
    return write_job(d / "job.yaml", job)


def query(fmt, path, q):
    """Rows of `q` on the database file: sqlite3 for SQLite, `nightshift sql` for DuckDB."""
    if fmt == "sqlite":
        con = sqlite3.connect(path)
        try:
            return [list(r) for r in con.execute(q)]
        finally:
            con.close()
    out = sql(f"ATTACH '{path}' AS o (READ_ONLY); USE o; {q}")
    return list(csv.reader(io.StringIO(out)))[1:]


def execute(fmt, path, statements):
    if fmt == "sqlite":
        con = sqlite3.connect(path)
        con.executescript(";".join(statements))
        con.close()
    else:
        sql(f"ATTACH '{path}' AS o; USE o; " + "; ".join(statements))


def check_table(case, fmt, path, table, times=1):
    """Every input key exactly `times` times; names and predictions equal to the reference."""
    rows = query(fmt, path, f"SELECT id, name, p0, p1, p2 FROM {table}")
    check_scored_rows(case, rows, times=times, where=f"{fmt} {table}")


def primary_key(fmt, path, table):
    if fmt == "sqlite":
        return [r[0] for r in query(fmt, path, f"SELECT name FROM pragma_table_info('{table}') WHERE pk > 0")]
    rows = query(fmt, path, "SELECT array_to_string(constraint_column_names, ',') FROM duckdb_constraints() "
                            f"WHERE table_name = '{table}' AND constraint_type = 'PRIMARY KEY'")
    return [r[0] for r in rows]


@pytest.mark.parametrize("fmt", FORMATS)
def test_upsert_creates_keyed_table_and_rerun_rewrites(case, tmp_path, fmt):
    job = db_job(case, tmp_path, fmt, "scores")
    rc, out, err = run("run", job, "--json")
    assert rc == EXIT_OK, err
    db = tmp_path / f"out.{fmt}"
    check_table(case, fmt, db, "scores")
    assert primary_key(fmt, db, "scores") == ["id"]
    st = status_json(job)
    assert st["table"] == "scores" and st["rows"]["written"] == N, st
    assert not list(tmp_path.rglob("_SUCCESS"))
    rc, out, err = run("run", job, "--run-id", "again")
    assert rc == EXIT_OK, err
    check_table(case, fmt, db, "scores")
    commits = query(fmt, db, "SELECT run_id, count(*), sum(rows) FROM scores__nightshift_commits "
                             "GROUP BY run_id ORDER BY run_id")
    assert len(commits) == 2 and all(int(c[1]) == 8 and int(c[2]) == N for c in commits), commits


@pytest.mark.parametrize("fmt", FORMATS)
def test_insert_appends_each_run_once(case, tmp_path, fmt):
    job = db_job(case, tmp_path, fmt, "appended", mode="insert")
    assert run("run", job)[0] == EXIT_OK
    rc, out, err = run("run", job, "--run-id", "second")
    assert rc == EXIT_OK, err
    db = tmp_path / f"out.{fmt}"
    check_table(case, fmt, db, "appended", times=2)
    assert primary_key(fmt, db, "appended") == []


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("point", ["db_before_commit:3", "db_after_commit:3", "after_publish:3",
                                   "after_commit:3", "db_after_commit:8"])
def test_insert_exactly_once_across_kill(case, tmp_path, fmt, point):
    """insert creates a table without a key: a shard written twice would show."""
    job = db_job(case, tmp_path, fmt, "ins", mode="insert")
    rc, out, err = run("run", job, env={"NIGHTSHIFT_CRASH_AT": point})
    assert rc in (-9, 137), f"expected a kill at {point}, got {rc}: {err}"
    rc, out, err = run("run", job)
    assert rc == EXIT_OK, err
    check_table(case, fmt, tmp_path / f"out.{fmt}", "ins")
    if point.startswith(("db_after_commit", "after_publish")):
        assert "already in the table" in err, err
    st = status_json(job)
    assert st["state"] == "completed" and st["counts"]["succeeded"] == N, st


@pytest.mark.parametrize("fmt", FORMATS)
def test_resuming_into_another_table_or_mode_is_refused(case, tmp_path, fmt):
    """A run's table, database and mode are part of it: a resume that names
    others would split its rows across two tables (or swap away the shards
    committed before)."""
    job = db_job(case, tmp_path, fmt, "ins", mode="insert")
    rc, out, err = run("run", job, "--run-id", "nightly", env={"NIGHTSHIFT_CRASH_AT": "after_commit:3"})
    assert rc in (-9, 137), err
    for key, value in [("output.table", "other"), ("output.mode", "swap"), ("output.url", "elsewhere.db")]:
        rc, out, err = run("run", job, "--run-id", "nightly", "--set", f"{key}={value}")
        assert rc == 2, (key, rc, out, err)
        assert f"job key '{key}' changed" in err, (key, err)
    db = tmp_path / f"out.{fmt}"
    assert query(fmt, db, "SELECT count(*) FROM sqlite_master WHERE name = 'other'" if fmt == "sqlite"
                 else "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'other'") == [[0 if fmt == "sqlite" else "0"]]
    rc, out, err = run("run", job, "--run-id", "nightly")
    assert rc == EXIT_OK, err
    check_table(case, fmt, db, "ins")


@pytest.mark.parametrize("fmt", FORMATS)
def test_swap_replaces_table_only_when_run_completes(case, tmp_path, fmt):
    db = tmp_path / f"out.{fmt}"
    real = "REAL" if fmt == "sqlite" else "FLOAT"
    text = "TEXT" if fmt == "sqlite" else "VARCHAR"
    execute(fmt, db, [f"CREATE TABLE swapped (id BIGINT PRIMARY KEY, name {text}, p0 {real}, p1 {real}, "
                      f"p2 {real})", "INSERT INTO swapped VALUES (1, 'old', 0, 0, 0)"])
    job = db_job(case, tmp_path, fmt, "swapped", mode="swap")
    for point in ("db_before_commit:4", "db_before_swap:1"):
        rc, out, err = run("run", job, env={"NIGHTSHIFT_CRASH_AT": point})
        assert rc in (-9, 137), err
        assert query(fmt, db, "SELECT id, name FROM swapped") == [[1, "old"] if fmt == "sqlite" else ["1", "old"]]
    rc, out, err = run("run", job)
    assert rc == EXIT_OK, err
    check_table(case, fmt, db, "swapped")
    assert primary_key(fmt, db, "swapped") == ["id"]
    tables = [r[0] for r in query(fmt, db, "SELECT name FROM sqlite_master WHERE type = 'table'" if fmt == "sqlite"
                                  else "SELECT table_name FROM duckdb_tables() WHERE database_name = 'o'")]
    assert not [t for t in tables if "__ns_swap_" in t], tables


@pytest.mark.parametrize("fmt", FORMATS)
def test_swap_creates_missing_table(case, tmp_path, fmt):
    job = db_job(case, tmp_path, fmt, "fresh", mode="swap")
    rc, out, err = run("run", job)
    assert rc == EXIT_OK, err
    check_table(case, fmt, tmp_path / f"out.{fmt}", "fresh")


@pytest.mark.parametrize("fmt", FORMATS)
def test_refusals_before_any_row_is_read(case, tmp_path, fmt):
    db = tmp_path / f"out.{fmt}"
    bad = "TEXT" if fmt == "sqlite" else "BOOLEAN"
    real = "REAL" if fmt == "sqlite" else "FLOAT"
    execute(fmt, db, [f"CREATE TABLE badcols (id BIGINT PRIMARY KEY, name TEXT, p0 {bad}, p1 {real}, p2 {real})",
                      f"CREATE TABLE nokey (id BIGINT, name TEXT, p0 {real}, p1 {real}, p2 {real})"])
    rc, out, err = run("run", db_job(case, tmp_path, fmt, "badcols"))
    assert rc == 2 and f"'p0' is {bad}" in err, err
    rc, out, err = run("run", db_job(case, tmp_path, fmt, "nokey"))
    assert rc == 2 and "no primary key or unique" in err and "(id)" in err, err
    rc, out, err = run("run", db_job(case, tmp_path, fmt, "nowhere.t"))
    assert rc == 2 and "schema 'nowhere' does not exist" in err, err
    # Nothing was written: no row reached either table, no commit table rows.
    assert query(fmt, db, "SELECT count(*) FROM badcols") == [[0] if fmt == "sqlite" else ["0"]]
    # A file that is not a database of that kind.
    (tmp_path / "not").mkdir()
    (tmp_path / "not" / f"out.{fmt}").write_text("this is not a database\n" * 100)
    rc, out, err = run("run", db_job(case, tmp_path / "not", fmt, "t"))
    assert rc == 2 and "out." + fmt in err, err


@pytest.mark.parametrize("fmt", FORMATS)
def test_list_output(case, tmp_path, fmt):
    """A list output is JSON text in SQLite and FLOAT[] in DuckDB."""
    job = db_job(case, tmp_path, fmt, "emb", outputs=[{"name": "probabilities", "column": "probs"}])
    rc, out, err = run("run", job)
    assert rc == EXIT_OK, err
    db = tmp_path / f"out.{fmt}"
    if fmt == "sqlite":
        rows = query(fmt, db, "SELECT id, probs, typeof(probs) FROM emb")
        got = {int(r[0]): json.loads(r[1]) for r in rows}
        assert {r[2] for r in rows} == {"text"}
    else:
        types = query(fmt, db, "SELECT data_type FROM duckdb_columns() WHERE table_name = 'emb' AND "
                               "column_name = 'probs'")
        assert types == [["FLOAT[]"]], types
        rows = query(fmt, db, "SELECT id, CAST(to_json(probs) AS VARCHAR) FROM emb")
        got = {int(r[0]): json.loads(r[1]) for r in rows}
    assert len(got) == N
    for k, v in got.items():
        assert np.abs(np.array(v) - case.expected[case.pos[k]]).max() <= TOL, (k, v)


@pytest.mark.parametrize("fmt", FORMATS)
def test_existing_table_with_wider_types_is_cast_into(case, tmp_path, fmt):
    """A present table whose types hold the values without being the output's own types."""
    db = tmp_path / f"out.{fmt}"
    types = ("NUMERIC", "DOUBLE", "REAL") if fmt == "sqlite" else ("DOUBLE", "DECIMAL(12,8)", "FLOAT")
    execute(fmt, db, [f"CREATE TABLE wide (id BIGINT PRIMARY KEY, name TEXT, extra TEXT DEFAULT 'x', "
                      f"p0 {types[0]}, p1 {types[1]}, p2 {types[2]})"])
    rc, out, err = run("run", db_job(case, tmp_path, fmt, "wide"))
    assert rc == EXIT_OK, err
    check_table(case, fmt, db, "wide")
    assert query(fmt, db, "SELECT DISTINCT extra FROM wide") == [["x"]]


@pytest.mark.parametrize("fmt", FORMATS)
def test_upsert_into_table_with_unique_index_on_the_key(case, tmp_path, fmt):
    db = tmp_path / f"out.{fmt}"
    real = "REAL" if fmt == "sqlite" else "FLOAT"
    if fmt == "sqlite":
        ddl = [f"CREATE TABLE uq (id INTEGER, name TEXT, p0 {real}, p1 {real}, p2 {real})",
               "CREATE UNIQUE INDEX uq_id ON uq (id)"]
    else:
        ddl = [f"CREATE TABLE uq (id BIGINT UNIQUE, name TEXT, p0 {real}, p1 {real}, p2 {real})"]
    execute(fmt, db, ddl)
    job = db_job(case, tmp_path, fmt, "uq")
    for run_id in ("one", "two"):
        rc, out, err = run("run", job, "--run-id", run_id)
        assert rc == EXIT_OK, err
    check_table(case, fmt, db, "uq")


def test_nan_and_infinity_in_a_sqlite_list_output_are_json_null(tmp_path):
    # JSON has no NaN or Infinity: SQLite's json functions refused the text.
    from conftest import identity_onnx
    identity_onnx(tmp_path / "id.onnx", 2)
    (tmp_path / "in.csv").write_text("id,a,b\n1,nan,0.5\n2,-inf,3\n3,1.5,inf\n")
    job = write_job(tmp_path / "job.yaml", {
        "name": "nan-lists", "input": {"path": "in.csv", "key": "id"},
        "model": {"path": "id.onnx", "inputs": [{"name": "features", "columns": ["a", "b"], "dtype": "float32"}],
                  "outputs": [{"name": "out", "column": "vec"}]},
        "output": {"format": "sqlite", "url": "out.sqlite", "table": "lv", "keep": ["id"]},
        "run": {"ledger": "ledger.db"}})
    rc, out, err = run("run", job, cwd=tmp_path)
    assert rc == EXIT_OK, err
    rows = query("sqlite", tmp_path / "out.sqlite", "SELECT id, vec, json_valid(vec) FROM lv ORDER BY id")
    assert rows == [[1, "[null,0.5]", 1], [2, "[null,3.0]", 1], [3, "[1.5,null]", 1]], rows


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_table_whose_names_differ_only_in_case_fits(case, tmp_path, fmt):
    # SQLite and DuckDB match column names without regard to case.
    job = db_job(case, tmp_path, fmt, "cased")
    execute(fmt, tmp_path / f"out.{fmt}",
            ["CREATE TABLE cased (ID BIGINT PRIMARY KEY, NAME VARCHAR, P0 REAL, P1 REAL, P2 REAL)"])
    rc, out, err = run("run", job)
    assert rc == EXIT_OK, err
    check_table(case, fmt, tmp_path / f"out.{fmt}", "cased")
