"""A key that repeats within one shard in mode upsert: PostgreSQL, SQLite and
DuckDB agree. The first row of the key (in input order) is written; each
later one is a dead letter naming the key and saying that it repeats an
earlier row of the same shard (PostgreSQL used to fail the whole shard with
SQLSTATE 21000, SQLite kept the last row)."""
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import EXIT_OK, TOL, Case, run, status_json, write_job
from pg_fixture import PASSWORD, pg_server  # noqa: F401  (the session fixture)
from test_db_sinks import query as db_query

N = 600
SHARD = 100
# input row -> the earlier input row of the same shard whose key it repeats
REPEATS = {15: 10, 20: 10, 250: 205, 599: 501}


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    c = Case(tmp_path_factory.mktemp("repeats"), n=N, seed=41)
    for row, first in REPEATS.items():
        c.ids[row] = c.ids[first]
    c.pos = {}
    for i, k in enumerate(c.ids):
        c.pos.setdefault(int(k), i)  # a key's first row
    c.input_path = c.make_input("parquet")
    return c


def make_job(case, d, output):
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    job = case.job(str(case.root / case.input_path), shard_rows=SHARD)
    job["model"]["path"] = str(case.model.path)
    job["output"] = {"keep": ["id", "name"], "mode": "upsert", **output}
    job["batch"] = {"size": 64}
    job["errors"] = {"max_failed_items": "5%"}
    return write_job(d / "job.yaml", job)


def check(case, rows, d, job):
    got = {int(r[0]): r for r in rows}
    assert len(got) == len(rows), "a key is in the table twice"
    assert set(got) == set(case.pos), "the table does not hold every key once"
    for k, r in got.items():
        i = case.pos[k]  # the first row of the key won
        assert r[1] == case.names[i], (k, r[1], case.names[i])
        p = np.array([float(v) for v in r[2:]])
        assert np.abs(p - case.expected[i]).max() <= TOL, (k, p, case.expected[i])
    lines = [json.loads(l) for f in sorted(Path(d).rglob("part-*.jsonl")) for l in f.read_text().splitlines()]
    assert sorted(l["row"] for l in lines) == sorted(REPEATS), lines
    for l in lines:
        key = int(case.ids[l["row"]])
        assert l["key"] == key, l
        assert f"key {key} repeats an earlier row of the same shard (input row {REPEATS[l['row']]})" \
            in l["error"], l
    st = status_json(job)
    assert st["counts"]["failed"] == len(REPEATS) and st["counts"]["succeeded"] == N - len(REPEATS), st


def test_postgres_upsert(case, pg_server, tmp_path, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    pg = pg_server
    table = "analytics.repeated_keys"
    job = make_job(case, tmp_path, {"format": "postgres", "url": pg.url(with_password=False), "table": table})
    rc, out, err = run("run", job)
    assert rc == EXIT_OK, err
    check(case, pg.query(f"SELECT id, name, p0, p1, p2 FROM {table}"), tmp_path / "failed", job)


@pytest.mark.parametrize("fmt", ["sqlite", "duckdb"])
def test_file_database_upsert(case, tmp_path, fmt):
    path = tmp_path / f"out.{fmt}"
    job = make_job(case, tmp_path, {"format": fmt, "url": str(path), "table": "scores"})
    rc, out, err = run("run", job)
    assert rc == EXIT_OK, err
    check(case, db_query(fmt, path, "SELECT id, name, p0, p1, p2 FROM scores"), tmp_path / "failed", job)
