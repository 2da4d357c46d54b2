"""libpq key=value connection strings (`host=... dbname=... user=...
password=...`) are taken wherever a postgresql:// URL is: run.ledger,
output.url and input.url; the password in them is never shown."""
from pathlib import Path

import pytest

from conftest import EXIT_CANNOT_START, EXIT_OK, Case, run, status_json, write_job
from pg_fixture import DATABASE, PASSWORD, ROLE, pg_server  # noqa: F401  (the session fixture)
from test_db_output import check_table
from test_pg_ledger import fresh_database

N = 1000


def conninfo(pg, db=DATABASE, password=PASSWORD):
    """A key=value string for the server's socket, with a quoted password."""
    return f"host={pg.sock} port={pg.port} dbname={db} user={ROLE} password='{password}' application_name=ns"


@pytest.fixture(scope="module")
def case(tmp_path_factory, pg_server):
    """N rows in table kv_items of the server's database."""
    c = Case(tmp_path_factory.mktemp("kv"), n=N, seed=23)
    csv_path = c.write_csv(c.root / "items.csv", range(N))
    cols = ", ".join(f"{f} real" for f in c.feature_cols)
    pg = pg_server
    pg.admin(f"CREATE TABLE kv_items (id bigint PRIMARY KEY, name text, {cols})", db=DATABASE)
    pg.admin(f"\\copy kv_items FROM '{csv_path}' CSV HEADER", db=DATABASE)
    pg.admin(f"ALTER TABLE kv_items OWNER TO {ROLE}", db=DATABASE)
    return c


def kv_job(case, pg, d, ledger_db, password=PASSWORD):
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    job = case.job("unused", shard_rows=250)
    job["input"] = {"format": "postgres", "url": conninfo(pg, password=password),
                    "query": "SELECT * FROM kv_items", "key": "id"}
    job["model"]["path"] = str(case.model.path)
    job["output"] = {"format": "postgres", "url": conninfo(pg, password=password), "table": "analytics.kv_scores",
                     "mode": "upsert", "keep": ["id", "name"]}
    job["run"]["ledger"] = conninfo(pg, db=ledger_db, password=password)
    return write_job(d / "job.yaml", job)


def test_key_value_strings_for_input_output_and_ledger(case, pg_server, tmp_path):
    pg = pg_server
    db = fresh_database(pg, "kv_ledger")
    job = kv_job(case, pg, tmp_path, db)
    rc, out, err = run("run", job, "--json")
    assert rc == EXIT_OK, err
    check_table(case, pg, "analytics.kv_scores")
    # The ledger is the PostgreSQL one (not a SQLite file named after the string).
    runs = pg.query("SELECT state FROM nightshift.runs", db=db)
    assert runs == [["completed"]], runs
    assert not list(Path(tmp_path).rglob("*.db")), list(Path(tmp_path).rglob("*.db"))
    st = status_json(job)
    assert st["state"] == "completed" and st["counts"]["succeeded"] == N, st
    rc2, out2, err2 = run("status", job)
    assert rc2 == EXIT_OK, err2
    rc3, out3, err3 = run("status", job, "--run-id", "no-such-run")
    assert rc3 != EXIT_OK and "no-such-run" in err3, err3
    texts = [out, err, str(st), out2, err2, out3, err3]
    for p in tmp_path.rglob("*"):
        if p.is_file() and p.name != "job.yaml":
            texts.append(p.read_bytes().decode("utf-8", errors="replace"))
    texts += [str(r) for r in pg.query("SELECT t::text FROM nightshift.runs t", db=db)]
    leaked = [i for i, t in enumerate(texts) if PASSWORD in t]
    assert not leaked, f"the password appears in output #{leaked}"


def test_wrong_password_in_a_key_value_string_is_refused_without_showing_it(case, pg_server, tmp_path):
    pg = pg_server
    db = fresh_database(pg, "kv_bad")
    job = kv_job(case, pg, tmp_path, db, password="not-the-Pa55")
    rc, out, err = run("run", job)
    assert rc == EXIT_CANNOT_START, err
    assert "password authentication failed" in err, err
    assert "not-the-Pa55" not in out + err
    assert f"postgresql://{ROLE}@" in err, err  # the server and role, described
