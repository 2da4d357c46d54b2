"""PostgreSQL input (input.format: postgres) from a real PostgreSQL 15: shards
are key ranges planned once; every key is scored exactly once, with an
integer and with a text key, across SIGKILLs; rows changed between the plan
and a shard's read follow the documented rule; bad keys, servers, passwords
and queries are refused (exit 2) before any shard runs, never showing the
password; `retry` reads dead-lettered rows again by key."""
import csv
import io
import json
from collections import Counter
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import (EXIT_CANNOT_START, EXIT_INTERRUPTED, EXIT_OK, TOL, Case, read_dead_letters, read_parts, read_success,
                      run, single_key, sql, start, status_json, write_job)
from pg_fixture import PASSWORD, pg_server  # noqa: F401  (the session fixture)

N = 50_000
SHARD = 5_000  # 10 key ranges
ENV = {"PGPASSWORD": PASSWORD}


@pytest.fixture(scope="module")
def case(tmp_path_factory, pg_server):
    """N rows in table `items` (bigint key) and `items_text` (text key, some
    non-ASCII) in the server's database, owned by the role the jobs use."""
    c = Case(tmp_path_factory.mktemp("pgin"), n=N, seed=11)
    csv_path = c.write_csv(c.root / "items.csv", range(N))
    cols = ", ".join(f"{f} real" for f in c.feature_cols)
    pg = pg_server
    pg.admin(f"CREATE TABLE items (id bigint PRIMARY KEY, name text, {cols})", db="crm")
    pg.admin(f"\\copy items FROM '{csv_path}' CSV HEADER", db="crm")
    feats = ", ".join(c.feature_cols)
    pg.admin("CREATE TABLE items_text AS SELECT (CASE WHEN abs(id) % 3 = 0 THEN 'ü-' ELSE 'a-' END) "
             f"|| id::text AS code, {feats} FROM items", db="crm")
    pg.admin("ALTER TABLE items_text ADD PRIMARY KEY (code)", db="crm")
    for t in ("items", "items_text"):
        pg.admin(f"ALTER TABLE {t} OWNER TO scorer", db="crm")
    return c


def text_key(k):
    return ("ü-" if abs(k) % 3 == 0 else "a-") + str(k)


def pg_job(case, pg, d, query="SELECT * FROM items", key="id", keep=("id", "name"), url=None,
           shard_rows=SHARD):
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    job = case.job("unused", shard_rows=shard_rows, out_path=str(d / "out"), keep=list(keep))
    job["input"] = {"format": "postgres", "url": url or pg.url(with_password=False), "query": query,
                    "key": key}
    job["model"]["path"] = str(case.model.path)
    job["batch"] = {"size": 256}
    return write_job(d / "job.yaml", job)


def scored(outdir, key="id"):
    """{key: [output row, ...]} over every part file of outdir."""
    out = {}
    for rows in read_parts(outdir, "parquet").values():
        for r in rows:
            out.setdefault(r[key], []).append(r)
    return out


def check_scores(case, got, want_keys, key_of=lambda k: k):
    """Each key of want_keys (input ids) exactly once, predictions equal to the reference."""
    twice = [k for k, rows in got.items() if len(rows) != 1]
    assert not twice, f"keys scored more than once: {twice[:5]}"
    want = {key_of(k): k for k in want_keys}
    missing = set(want) - set(got)
    extra = set(got) - set(want)
    assert not missing, f"{len(missing)} keys not scored, e.g. {sorted(missing)[:5]}"
    assert not extra, f"{len(extra)} unexpected keys scored, e.g. {sorted(extra)[:5]}"
    keys = list(want)
    pos = np.array([case.pos[want[k]] for k in keys])
    pred = np.array([[got[k][0][c] for c in case.out_cols] for k in keys], dtype=np.float64)
    err = np.abs(pred - case.expected[pos])
    assert err.max() <= TOL, f"predictions differ from the reference by {err.max()}"


def test_integer_key_every_row_once_and_no_password_anywhere(case, pg_server, tmp_path):
    job = pg_job(case, pg_server, tmp_path, url=pg_server.url(with_password=True))
    rc, out, err = run("run", job, "--json", timeout=600)
    assert rc == EXIT_OK, err
    got = scored(tmp_path / "out")
    check_scores(case, got, [int(k) for k in case.ids])
    for k, rows in list(got.items())[:2000]:
        assert rows[0]["name"] == case.names[case.pos[k]], k
    st = status_json(job)
    assert st["state"] == "completed" and st["shards"]["total"] == N // SHARD, st
    # The password is in the job's URL only: not in any output, log or ledger.
    for text in (out, err, str(st)):
        assert PASSWORD not in text
    for p in tmp_path.rglob("*"):
        if p.is_file() and p.name != "job.yaml":
            assert PASSWORD.encode() not in p.read_bytes(), p


def test_text_key_every_row_once_in_key_order(case, pg_server, tmp_path):
    job = pg_job(case, pg_server, tmp_path, query="SELECT * FROM items_text", key="code", keep=("code",))
    rc, out, err = run("run", job, env=ENV, timeout=600)
    assert rc == EXIT_OK, err
    got = scored(tmp_path / "out", key="code")
    check_scores(case, got, [int(k) for k in case.ids], key_of=lambda k: text_key(int(k)))
    # Each part is one key range, read in the server's key order.
    order = pg_server.query("SELECT code FROM items_text ORDER BY code")
    rank = {r[0]: i for i, r in enumerate(order)}
    parts = read_parts(tmp_path / "out", "parquet")
    assert len(parts) == N // SHARD
    last = -1
    for name in sorted(parts):
        ranks = [rank[r["code"]] for r in parts[name]]
        assert ranks == sorted(ranks) and ranks[0] > last, name
        last = ranks[-1]


def test_resume_after_sigkill_scores_each_key_once(case, pg_server, tmp_path):
    job = pg_job(case, pg_server, tmp_path)
    rc, _, err = run("run", job, env={**ENV, "NIGHTSHIFT_CRASH_AT": "after_commit:3"}, timeout=600)
    assert rc == -signal.SIGKILL, f"expected the crash point to SIGKILL the run, got {rc}\n{err}"
    before = status_json(job)
    assert before["shards"]["committed"] == 3, before
    rc, _, err = run("run", job, env=ENV, timeout=600)
    assert rc == EXIT_OK, err
    check_scores(case, scored(tmp_path / "out"), [int(k) for k in case.ids])


def test_sigterm_mid_read_exits_75_and_resume_scores_each_key_once(case, pg_server, tmp_path):
    """SIGTERM while shards are being read from a slow query: the read is
    cancelled on the server, the run exits 75, and resuming it completes
    with every key once."""
    # 100 rows sleep 20 ms each whenever the query is evaluated: each pass
    # over it (counting, numbering, reading) takes about 2 s.
    query = ("SELECT *, CASE WHEN id % 500 = 0 THEN pg_sleep(0.02)::text END AS slow FROM items")
    job = pg_job(case, pg_server, tmp_path, query=query)
    p = start("run", job, env=ENV)
    deadline = time.time() + 60
    while time.time() < deadline and p.poll() is None:
        try:
            if status_json(job)["shards"]["committed"] >= 1:
                break
        except AssertionError:
            pass  # not planned yet
        time.sleep(0.1)
    assert p.poll() is None, "the run ended before it could be interrupted"
    t0 = time.time()
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    assert p.returncode == EXIT_INTERRUPTED, err
    assert time.time() - t0 < 10, "the read was not cancelled promptly"
    st = status_json(job)
    assert st["state"] == "interrupted" and st["shards"]["committed"] < st["shards"]["total"], st
    rc, _, err = run("run", job, env=ENV, timeout=600)
    assert rc == EXIT_OK, err
    check_scores(case, scored(tmp_path / "out"), [int(k) for k in case.ids])


def test_rows_changed_between_plan_and_read(case, pg_server, tmp_path):
    """After the first range is committed: a key inserted below every key
    falls in that (done) range and is not scored; one above every key falls
    in the last (open) range and is; a deleted row is simply absent."""
    pg = pg_server
    pg.admin("CREATE TABLE items_changing AS SELECT * FROM items", db="crm")
    pg.admin("ALTER TABLE items_changing ADD PRIMARY KEY (id), OWNER TO scorer", db="crm")
    job = pg_job(case, pg, tmp_path, query="SELECT * FROM items_changing")
    rc, _, err = run("run", job, env={**ENV, "NIGHTSHIFT_CRASH_AT": "after_commit:1"}, timeout=600)
    assert rc == -signal.SIGKILL, err
    ids = sorted(int(k) for k in case.ids)
    low, high, gone = ids[0] - 1, ids[-1] + 1, ids[-5]
    feats = ", ".join(case.feature_cols)
    for k in (low, high, high + 1):
        pg.admin(f"INSERT INTO items_changing (id, name, {feats}) SELECT {k}, name, {feats} "
                 f"FROM items WHERE id = {ids[0]}", db="crm")
    pg.admin(f"DELETE FROM items_changing WHERE id = {gone}", db="crm")
    rc, _, err = run("run", job, env=ENV, timeout=600)
    assert rc == EXIT_OK, err
    got = scored(tmp_path / "out")
    assert low not in got, "a key inserted into a range already committed was scored"
    assert len(got.get(high, [])) == 1, "a key inserted into a pending range was not scored once"
    assert gone not in got
    np.testing.assert_allclose([got[high][0][c] for c in case.out_cols], case.expected[case.pos[ids[0]]],
                               atol=TOL)
    assert len(got.get(high + 1, [])) == 1
    del got[high], got[high + 1]
    check_scores(case, got, [k for k in ids if k != gone])
    # The plan's total was an estimate: once complete, _SUCCESS and status
    # count the rows read (one in, one out), consistently with the parts.
    written = len(ids) + 1  # every key, less the deleted one, plus the two late ones
    succ = read_success(tmp_path / "out")
    assert succ["counts"] == {"total": written, "succeeded": written, "failed": 0}, succ["counts"]
    assert sum(f["rows"] for f in succ["files"]) == written, succ["files"]
    assert status_json(job)["counts"] == succ["counts"]


def test_same_query_same_run_id_whatever_the_rows(case, pg_server, tmp_path):
    """The run id stands for the query, URL (without password) and key: a
    completed run is not re-run because rows changed."""
    pg = pg_server
    pg.admin("CREATE TABLE items_small AS SELECT * FROM items WHERE id % 50 = 0", db="crm")
    pg.admin("ALTER TABLE items_small ADD PRIMARY KEY (id), OWNER TO scorer", db="crm")
    job = pg_job(case, pg, tmp_path, query="SELECT * FROM items_small -- every 50th item")
    rc, _, err = run("run", job, env=ENV)
    assert rc == EXIT_OK, err
    first = status_json(job)["run_id"]
    pg.admin("DELETE FROM items_small WHERE id IN (SELECT id FROM items_small LIMIT 3)", db="crm")
    rc, out, err = run("run", job, env=ENV)
    assert rc == EXIT_OK, err
    assert status_json(job)["run_id"] == first
    assert "already completed" in out + err


def test_empty_query_completes_with_no_rows(case, pg_server, tmp_path):
    job = pg_job(case, pg_server, tmp_path, query="SELECT * FROM items WHERE id IS NULL")
    rc, _, err = run("run", job, env=ENV)
    assert rc == EXIT_OK, err
    st = status_json(job)
    assert st["state"] == "completed" and st["counts"]["succeeded"] == 0, st
    assert scored(tmp_path / "out") == {}


def refused(job, *words):
    rc, out, err = run("run", job, env=ENV)
    assert rc == EXIT_CANNOT_START, f"exit {rc}\n{out}\n{err}"
    for w in words:
        assert w in err, f"{w!r} not in: {err}"
    assert PASSWORD not in out + err
    assert not list(Path(job).parent.glob("out/part-*")), "a shard ran"
    return err


def test_missing_key_column_is_refused(case, pg_server, tmp_path):
    refused(pg_job(case, pg_server, tmp_path, key="customer_id", keep=("name",)), "input.key",
            "customer_id", "not a column")


def test_duplicate_and_null_keys_are_refused(case, pg_server, tmp_path):
    pg = pg_server
    pg.admin("CREATE TABLE dup_keys AS SELECT (id % 7) AS id, name, f0, f1, f2, f3, f4 FROM items "
             "WHERE id > 0 LIMIT 100", db="crm")
    pg.admin("CREATE TABLE null_keys AS SELECT NULLIF(id, (SELECT min(id) FROM items)) AS id, name, "
             "f0, f1, f2, f3, f4 FROM items", db="crm")
    for t in ("dup_keys", "null_keys"):
        pg.admin(f"ALTER TABLE {t} OWNER TO scorer", db="crm")
    refused(pg_job(case, pg, tmp_path / "d", query="SELECT * FROM dup_keys"), "input.key 'id'",
            "not unique")
    refused(pg_job(case, pg, tmp_path / "n", query="SELECT * FROM null_keys"), "input.key 'id'", "NULL")


def test_unreachable_server_wrong_password_and_bad_query(case, pg_server, tmp_path):
    pg = pg_server
    nowhere = f"postgresql://scorer:{PASSWORD}@/crm?host={tmp_path}/nosock&port=5432"
    refused(pg_job(case, pg, tmp_path / "u", url=nowhere), "input.url", "postgresql://scorer@")
    wrong = pg.url(with_password=True).replace(PASSWORD, "not-the-password")
    err = refused(pg_job(case, pg, tmp_path / "w", url=wrong), "input.url", "password")
    assert "not-the-password" not in err
    refused(pg_job(case, pg, tmp_path / "q", query="SELECT * FROM no_such_table"), "input.query",
            "no_such_table")


def test_column_types_list_features_and_dead_letters_naming_the_key(case, pg_server, tmp_path):
    """A real[] column feeds the model; bool, numeric(12,4), timestamptz and
    date keep columns keep their types; a text feature value that is not a
    number is a dead letter naming its key, the other rows are scored."""
    pg = pg_server
    feats = ", ".join(case.feature_cols)
    pg.admin(f"CREATE TABLE typed AS SELECT id, ARRAY[{feats}]::real[] AS feats, (id % 2 = 0) AS flag, "
             "round(f0::numeric, 4)::numeric(12,4) AS amount, "
             "round(f0::numeric, 6) AS plain, round(f0::numeric, 2)::numeric(40,2) AS wide, "
             "timestamptz '2024-03-01 12:00:00+02' + abs(id % 100000) * interval '1 second' AS seen, "
             f"date '2024-01-01' AS day, f0::text AS t0 FROM items ORDER BY id LIMIT 1000", db="crm")
    pg.admin("ALTER TABLE typed ADD PRIMARY KEY (id), OWNER TO scorer", db="crm")
    ids = [int(r[0]) for r in pg.query("SELECT id FROM typed ORDER BY id")]
    bad = ids[500]
    pg.admin(f"UPDATE typed SET t0 = 'oops' WHERE id = {bad}", db="crm")

    job = pg_job(case, pg, tmp_path / "list", query="SELECT * FROM typed", shard_rows=300,
                 keep=("id", "flag", "amount", "plain", "wide", "seen", "day"))
    spec = yaml.safe_load(Path(job).read_text())
    spec["model"]["inputs"][0]["columns"] = ["feats"]
    write_job(job, spec)
    rc, _, err = run("run", job, env=ENV)
    assert rc == EXIT_OK, err
    got = scored(tmp_path / "list" / "out")
    check_scores(case, got, ids)
    row = got[ids[3]][0]
    assert row["flag"] == (ids[3] % 2 == 0)
    want = pg.query(f"SELECT amount, to_char(seen AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), plain, wide "
                    f"FROM typed WHERE id = {ids[3]}")[0]
    assert abs(float(row["amount"]) - float(want[0])) < 1e-9, (row, want)
    # numeric without a precision, or wider than DECIMAL's 38 digits: DOUBLE,
    # read from its text (its binary form is not a double's).
    for k in ids[:50]:
        plain, wide = pg.query(f"SELECT plain, wide FROM typed WHERE id = {k}")[0]
        assert abs(got[k][0]["plain"] - float(plain)) < 1e-9, (got[k], plain)
        assert abs(got[k][0]["wide"] - float(wide)) < 1e-9, (got[k], wide)
    assert abs(row["plain"] - float(want[2])) < 1e-9 and abs(row["wide"] - float(want[3])) < 1e-9
    assert str(row["seen"]).replace("T", " ").startswith(want[1]), (row, want)
    assert str(row["day"]).startswith("2024-01-01")
    described = sql("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "
                    f"read_parquet('{tmp_path}/list/out/part-*.parquet'))")
    types = dict(list(csv.reader(io.StringIO(described)))[1:])
    assert types["flag"] == "BOOLEAN" and types["amount"] == "DECIMAL(12,4)", types
    assert types["plain"] == "DOUBLE" and types["wide"] == "DOUBLE", types
    assert types["seen"] == "TIMESTAMP WITH TIME ZONE" and types["day"] == "DATE", types

    job = pg_job(case, pg, tmp_path / "text",
                 query="SELECT id, t0, feats[2] AS f1, feats[3] AS f2, feats[4] AS f3, feats[5] AS f4 FROM typed",
                 shard_rows=300)
    spec = yaml.safe_load(Path(job).read_text())
    spec["model"]["inputs"][0]["columns"] = ["t0", "f1", "f2", "f3", "f4"]
    spec["output"]["keep"] = ["id"]
    spec["errors"] = {"max_failed_items": 5}
    write_job(job, spec)
    rc, _, err = run("run", job, env=ENV)
    assert rc == EXIT_OK, err
    got = scored(tmp_path / "text" / "out")
    check_scores(case, got, [k for k in ids if k != bad])
    letters = read_dead_letters(tmp_path / "text" / "out" / "_failed")
    assert [single_key(d["key"], "id") for _, d in letters] == [bad], letters
    # Fixed, the row is read again by its key and scored (test_pg_retry.py).
    pg.admin(f"UPDATE typed t SET t0 = i.f0::text FROM items i WHERE i.id = t.id AND t.id = {bad}", db="crm")
    rc, out, err = run("retry", job, env=ENV)
    assert rc == EXIT_OK and "1 now succeed" in out, (rc, out, err)
    check_scores(case, scored(tmp_path / "text" / "out"), ids)


def test_kept_values_duckdb_cannot_hold_are_dead_letters_naming_key_and_column(case, pg_server, tmp_path):
    """PostgreSQL holds values DuckDB's types cannot: numeric 'NaN' in a
    numeric(6,2), a timestamp BC, a 2-D array. A kept column with one makes
    that row a dead letter naming its key, the column and the value; the
    other rows are scored (the run used to fail on the first such value, and
    DuckDB read a 2-D array as [NULL, NULL]). A date BC is kept as a date BC,
    not as the same date AD."""
    pg = pg_server
    pg.admin("CREATE TABLE odd AS SELECT id, f0, f1, f2, f3, f4, name, "
             "round(f0::numeric, 2)::numeric(6,2) AS amount, timestamp '2024-01-01 10:00' AS seen, "
             "date '2024-01-01' AS day, ARRAY[1, 2] AS pair FROM items ORDER BY id LIMIT 600", db="crm")
    pg.admin("ALTER TABLE odd ADD PRIMARY KEY (id), OWNER TO scorer", db="crm")
    ids = [int(r[0]) for r in pg.query("SELECT id FROM odd ORDER BY id")]
    bad = {ids[10]: ("amount", "'NaN'"), ids[300]: ("seen", "BC'"), ids[599]: ("pair", "2-dimensional")}
    pg.admin(f"UPDATE odd SET amount = 'NaN' WHERE id = {ids[10]}", db="crm")
    pg.admin(f"UPDATE odd SET seen = '2000-01-01 10:00 BC' WHERE id = {ids[300]}", db="crm")
    pg.admin(f"UPDATE odd SET pair = ARRAY[[1, 2], [3, 4]] WHERE id = {ids[599]}", db="crm")
    pg.admin(f"UPDATE odd SET day = '2000-01-01 BC' WHERE id = {ids[20]}", db="crm")
    job = pg_job(case, pg, tmp_path, query="SELECT * FROM odd", shard_rows=200,
                 keep=("id", "amount", "seen", "pair"))
    spec = yaml.safe_load(Path(job).read_text())
    spec["errors"] = {"max_failed_items": 10}
    write_job(job, spec)
    rc, out, err = run("run", job, env=ENV, timeout=600)
    assert rc == EXIT_OK, err
    got = scored(tmp_path / "out")
    check_scores(case, got, [k for k in ids if k not in bad])
    assert got[ids[11]][0]["pair"] == [1, 2], got[ids[11]]
    letters = {single_key(d["key"], "id"): d["error"] for _, d in read_dead_letters(tmp_path / "out" / "_failed")}
    assert sorted(letters) == sorted(bad), letters
    for k, (column, value) in bad.items():
        assert letters[k].startswith(f"column '{column}': '") and value in letters[k], letters[k]
        assert "does not convert to" in letters[k], letters[k]
    assert status_json(job)["counts"] == {"total": 600, "succeeded": 597, "failed": 3}

    # The date BC, kept: read back by DuckDB as the date it is.
    job = pg_job(case, pg, tmp_path / "days", query="SELECT * FROM odd", shard_rows=200, keep=("id", "day"))
    rc, out, err = run("run", job, env=ENV, timeout=600)
    assert rc == EXIT_OK, err
    day = sql(f"SELECT day FROM read_parquet('{tmp_path / 'days' / 'out'}/*.parquet') WHERE id = {ids[20]}")
    assert day.strip().splitlines()[1] == "2000-01-01 (BC)", day


def test_retry_rereads_dead_lettered_keys(case, pg_server, tmp_path):
    """`nightshift retry` reads the dead-lettered rows again by key (key =
    ANY(...) within the shard's key range), not by row number, which a key
    range does not have. Fixed rows then succeed, exactly once; rows still
    bad stay dead letters with one more attempt; a second retry finishes
    them. A text key (some non-ASCII)."""
    pg = pg_server
    pg.admin("CREATE TABLE retry_items AS SELECT * FROM items_text", db="crm")
    pg.admin("ALTER TABLE retry_items ADD PRIMARY KEY (code), OWNER TO scorer", db="crm")
    ids = [int(k) for k in case.ids]
    # 30 keys spread over the key ranges lose a feature: dead letters.
    codes = sorted(text_key(k) for k in ids)
    bad = codes[::len(codes) // 30][:30]
    quoted = ", ".join("'" + c + "'" for c in bad)
    pg.admin(f"UPDATE retry_items SET f1 = NULL WHERE code IN ({quoted})", db="crm")
    job = pg_job(case, pg, tmp_path, query="SELECT * FROM retry_items", key="code", keep=("code",))
    spec = yaml.safe_load(Path(job).read_text())
    spec["errors"] = {"max_failed_items": 100}
    write_job(job, spec)
    rc, out, err = run("run", job, env=ENV, timeout=600)
    assert rc == EXIT_OK, err
    letters = read_dead_letters(tmp_path / "out" / "_failed")
    assert sorted(single_key(d["key"], "code") for _, d in letters) == bad
    shards_hit = {n for n, _ in letters}
    assert len(shards_hit) > 3, shards_hit  # spread over several key ranges

    # Fix 20 of them; 10 stay bad.
    fixed, still = bad[:20], bad[20:]
    fq = ", ".join("'" + c + "'" for c in fixed)
    pg.admin(f"UPDATE retry_items r SET f1 = i.f1 FROM items_text i WHERE i.code = r.code AND r.code IN ({fq})",
             db="crm")
    rc, out, err = run("retry", job, env=ENV, timeout=600)
    assert rc == EXIT_OK, (out, err)
    assert "30 dead-lettered row(s)" in out and "20 now succeed, 10 still fail" in out, out
    # The retry parts hold exactly the fixed keys: only the dead-lettered keys were read.
    parts = read_parts(tmp_path / "out", "parquet")
    retried = sorted(r["code"] for name, rows in parts.items() if "-r1." in name for r in rows)
    assert retried == fixed, retried
    st = status_json(job)
    assert st["counts"]["failed"] == 10, st["counts"]
    # The ledger counts the attempts across the run and its retry.
    rc, out, err = run("status", job, "--json", "--failed", env=ENV)
    assert rc == EXIT_OK, err
    items = json.loads(out)["failed_items"]
    assert sorted(single_key(i["key"], "code") for i in items) == still, items
    assert Counter(i["attempts"] for i in items) == {2: 10}, items
    # And so do the dead-letter files.
    letters = read_dead_letters(tmp_path / "out" / "_failed")
    assert sorted((single_key(d["key"], "code"), d["attempts"]) for _, d in letters) == \
        [(c, 2) for c in still], letters

    # Fix the rest: a second retry scores them; every key exactly once.
    sq = ", ".join("'" + c + "'" for c in still)
    pg.admin(f"UPDATE retry_items r SET f1 = i.f1 FROM items_text i WHERE i.code = r.code AND r.code IN ({sq})",
             db="crm")
    rc, out, err = run("retry", job, env=ENV, timeout=600)
    assert rc == EXIT_OK, (out, err)
    assert "10 now succeed, 0 still fail" in out, out
    assert status_json(job)["counts"]["failed"] == 0
    got = scored(tmp_path / "out", key="code")
    check_scores(case, got, ids, key_of=text_key)
