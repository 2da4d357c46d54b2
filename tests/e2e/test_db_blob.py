"""Bytes in database outputs: the rendered page of `pdf_pages` kept (`output.keep: [..., page]`)
is a SQLite BLOB, a DuckDB BLOB and a PostgreSQL bytea column, holding the same PNG a Parquet
output of the same job holds (decoded pixels compared, PIL). PostgreSQL input reads a bytea
column as bytes (BLOB), so OCR job 2 crops its lines straight from job 1's PostgreSQL table.
CSV and JSONL outputs refuse a kept column of bytes (exit 2), and an existing table whose column
has another type is refused naming it. Job 1 and 2 are examples/ocr/detect_pdf.yaml and
recognise_pdf.yaml with the real PP-OCRv4 models (skipped without them); the refusals use the
small identity model of test_pdf_pages.py."""
import io

import numpy as np
import pytest
import yaml

from conftest import EXIT_CANNOT_START, EXIT_OK, assert_not_crashed, part_files, read_part, run, sql
from pg_fixture import PASSWORD, pg_server  # noqa: F401  (the session fixture)
from test_db_items import pdf_db_job
from test_db_sinks import execute, query
from test_ocr_jobs import MODELS, accuracy
from test_ocr_pdf import make_pdf, match_known_lines, setup_chain
from test_pdf_pages import gray_pdf, identity_model, path_table, pdf_job

ENV = {"PGPASSWORD": PASSWORD}
PNG = b"\x89PNG\r\n\x1a\n"
needs_ocr = pytest.mark.skipif(not (MODELS / "ch_PP-OCRv4_det_infer.onnx").is_file(),
                               reason="run scripts/bootstrap.sh (third_party/ocr-models)")


def pixels(png):
    from PIL import Image
    assert bytes(png[:8]) == PNG, bytes(png[:8])
    return np.asarray(Image.open(io.BytesIO(bytes(png))))


def detect_job(root, fmt, output):
    """Job 1 (detect_pdf.yaml) writing `output`, keeping the rendered page."""
    spec = yaml.safe_load((root / "detect_pdf.yaml").read_text())
    spec["name"] = f"detect-{fmt}"
    spec["output"] = {**output, "keep": ["id", "page_number", "page"]}
    path = root / f"detect_{fmt}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def run_ok(root, job, env=None):
    rc, out, err = run("run", job, cwd=root, env=env, timeout=600)
    assert_not_crashed(rc, err)
    assert rc == EXIT_OK, err
    return err


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """A two-page reportlab PDF through job 1 into Parquet: the folder and the kept pages
    {(id, page_number): PNG bytes}, the reference the databases are compared with."""
    if not (MODELS / "ch_PP-OCRv4_det_infer.onnx").is_file():
        pytest.skip("run scripts/bootstrap.sh (third_party/ocr-models)")
    root = tmp_path_factory.mktemp("blob")
    make_pdf(root / "made.pdf")
    setup_chain(root, {7: "made.pdf"})
    run_ok(root, detect_job(root, "parquet", {"path": "out/pdf_boxes"}))
    out = sql("SELECT id, page_number, typeof(page), hex(page) FROM "
              f"read_parquet('{root}/out/pdf_boxes/part-*.parquet')")
    pages = {}
    for line in out.strip().splitlines()[1:]:
        i, n, t, png = line.split(",")
        assert t == "BLOB", t
        pages[(int(i), int(n))] = bytes.fromhex(png)
    assert sorted(pages) == [(7, 1), (7, 2)], sorted(pages)
    return root, pages


@pytest.fixture(scope="module")
def pg_pages(chain, pg_server):
    """Job 1 into PostgreSQL table ocr_pages (once for the module)."""
    root, _ = chain
    url = pg_server.url(with_password=False)
    run_ok(root, detect_job(root, "postgres", {"format": "postgres", "url": url, "table": "ocr_pages"}),
           env=ENV)
    return pg_server


def pg_rows(pg, q):
    """Rows of `q` through psycopg2, which reads a bytea as bytes (memoryview)."""
    import psycopg2
    con = psycopg2.connect(host=str(pg.sock), port=pg.port, user="scorer", password=PASSWORD, dbname="crm")
    try:
        with con.cursor() as cur:
            cur.execute(q)
            return cur.fetchall()
    finally:
        con.close()


def database_pages(request, root, fmt):
    """Job 1 into a `fmt` database: {(id, page_number): PNG bytes} read back from the table,
    after checking the column's type there."""
    if fmt == "postgres":
        pg = request.getfixturevalue("pg_pages")
        rows = pg_rows(pg, "SELECT id, page_number, page, pg_typeof(page)::text FROM ocr_pages")
        assert {r[3] for r in rows} == {"bytea"}, rows
        return {(r[0], r[1]): bytes(r[2]) for r in rows}
    db = root / f"out.{fmt}"
    run_ok(root, detect_job(root, fmt, {"format": fmt, "url": db.name, "table": "pages"}))
    if fmt == "sqlite":
        rows = query(fmt, db, "SELECT id, page_number, page, typeof(page) FROM pages")
        assert {r[3] for r in rows} == {"blob"}, rows
        return {(r[0], r[1]): r[2] for r in rows}
    rows = query(fmt, db, "SELECT id, page_number, hex(page), typeof(page) FROM pages")
    assert {r[3] for r in rows} == {"BLOB"}, rows
    return {(int(r[0]), int(r[1])): bytes.fromhex(r[2]) for r in rows}


@needs_ocr
@pytest.mark.parametrize("fmt", ["sqlite", "duckdb", "postgres"])
def test_kept_pages_in_a_database_are_the_pages_parquet_gets(request, chain, fmt):
    root, want = chain
    got = database_pages(request, root, fmt)
    assert sorted(got) == sorted(want)
    for key, png in got.items():
        a, b = pixels(png), pixels(want[key])
        assert a.shape == b.shape == (1650, 1275, 3), (key, a.shape, b.shape)  # US letter, 150 dpi
        assert np.array_equal(a, b), key


@needs_ocr
def test_job_2_crops_the_lines_from_pages_read_from_postgres(chain, pg_pages):
    """input.format postgres reads the bytea page as a BLOB, which crop takes as an image."""
    root, _ = chain
    spec = yaml.safe_load((root / "recognise_pdf.yaml").read_text())
    spec["name"] = "recognise-pg"
    spec["input"] = {"format": "postgres", "url": pg_pages.url(with_password=False), "key": "pid",
                     "query": "SELECT id * 1000 + page_number AS pid, id AS doc, page_number, page, boxes "
                              "FROM ocr_pages"}
    spec["output"]["path"] = "out/pg_text"
    job = root / "recognise_pg.yaml"
    job.write_text(yaml.safe_dump(spec))
    rc, out, err = run("validate", job, cwd=root, env=ENV)
    assert rc == EXIT_OK and "column page BLOB" in out, (rc, out, err)
    run_ok(root, job, env=ENV)
    lines = [r for p in part_files(root / "out" / "pg_text") for r in read_part(p)]
    pairs = match_known_lines(lines)
    assert accuracy(pairs) >= 0.95, pairs


def small_pdf_job(root, output, keep, input_query=None, column="path"):
    """The identity-model pdf_pages job of test_pdf_pages.py over data/a.pdf (two gray pages,
    levels 10 and 200, 144 x 192 pixels at 72 dpi); `input_query` replaces its input."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    gray_pdf(root / "data" / "a.pdf", [10, 200])
    identity_model(root / "identity.onnx")
    job = pdf_job(root, path_table(root, ["a.pdf"]), column=column, output={**output, "keep": keep})
    if input_query is not None:
        spec = yaml.safe_load(job.read_text())
        spec["input"] = {"query": input_query, "key": "id"}
        job.write_text(yaml.safe_dump(spec))
    return job


BLOB_INPUT = "SELECT 7 AS id, content AS pdf FROM read_blob('data/a.pdf')"


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_kept_page_is_refused_for_csv_and_jsonl(tmp_path, fmt):
    job = small_pdf_job(tmp_path, {"path": "out", "format": fmt}, ["id", "page_number", "page"])
    for cmd in ("validate", "run"):
        rc, out, err = run(cmd, job, cwd=tmp_path)
        assert rc == EXIT_CANNOT_START, (cmd, rc, err)
        assert (f"output.keep entry 'page' is a column of bytes (BLOB), and a {fmt} output cannot hold "
                "bytes") in err and "write Parquet or a database" in err, err
    assert not part_files(tmp_path / "out")
    job = small_pdf_job(tmp_path, {"path": "out", "format": fmt}, ["id", "page_number"])
    rc, out, err = run("validate", job, cwd=tmp_path)
    assert rc == EXIT_OK, err


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_kept_blob_input_column_is_refused_for_csv_and_jsonl(tmp_path, fmt):
    """The same rule for bytes read from the input: a PDF held as a BLOB, kept."""
    job = small_pdf_job(tmp_path, {"path": "out", "format": fmt}, ["id", "pdf"], BLOB_INPUT, "pdf")
    rc, out, err = run("validate", job, cwd=tmp_path)
    assert rc == EXIT_CANNOT_START, err
    assert f"output.keep entry 'pdf' is a column of bytes (BLOB), and a {fmt} output" in err, err


def test_a_kept_blob_input_column_is_a_blob_in_sqlite(tmp_path):
    """A BLOB input column kept into a database is bytes there too (it was its text before)."""
    job = small_pdf_job(tmp_path, {"format": "sqlite", "url": "out.sqlite", "table": "pages"},
                        ["id", "pdf", "page"], BLOB_INPUT, "pdf")
    run_ok(tmp_path, job)
    rows = query("sqlite", tmp_path / "out.sqlite",
                 "SELECT page_number, typeof(pdf), pdf, typeof(page), page FROM pages ORDER BY 1")
    assert [r[0] for r in rows] == [1, 2] and {(r[1], r[3]) for r in rows} == {("blob", "blob")}, rows
    assert all(r[2] == (tmp_path / "data" / "a.pdf").read_bytes() for r in rows)
    assert [int(np.median(pixels(r[4]))) for r in rows] == [10, 200]


WRONG = {  # the table's page column of another type, and how each database spells it
    "sqlite": ("CREATE TABLE pages (id BIGINT, page_number INTEGER, page TEXT, out TEXT, "
               "PRIMARY KEY (id, page_number))", "'page' is TEXT but the output is BLOB"),
    "duckdb": ("CREATE TABLE pages (id BIGINT, page_number INTEGER, page VARCHAR, out FLOAT[], "
               "PRIMARY KEY (id, page_number))", "'page' is VARCHAR but the output is BLOB"),
    "postgres": ("CREATE TABLE blob_wrong (id bigint, page_number integer, page text, out real[], "
                 "PRIMARY KEY (id, page_number))", "'page' is text but the output is bytea"),
}


@pytest.mark.parametrize("fmt", ["sqlite", "duckdb", "postgres"])
def test_an_existing_page_column_of_another_type_is_refused(request, tmp_path, fmt):
    create, says = WRONG[fmt]
    if fmt == "postgres":
        pg = request.getfixturevalue("pg_server")
        pg.admin(create, db="crm")
        pg.admin("ALTER TABLE blob_wrong OWNER TO scorer", db="crm")
        url, table, env = pg.url(with_password=False), "blob_wrong", ENV
    else:
        execute(fmt, tmp_path / f"out.{fmt}", [create])
        url, table, env = f"out.{fmt}", "pages", None
    job = pdf_db_job(tmp_path, fmt, url, table=table, levels=[[10, 20]], keep=["id", "page"])
    rc, out, err = run("run", job, cwd=tmp_path, env=env)
    assert rc == EXIT_CANNOT_START, err
    assert f"output.table '{table}'" in err and "does not fit the output" in err and says in err, err
