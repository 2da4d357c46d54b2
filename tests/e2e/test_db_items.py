"""Database output of jobs whose input rows make several rows: pdf_pages (one row
per page, `page_number`) and crop's list of boxes (one row per box, `box_index`).
The table is keyed by input.key and the item column: created so when missing,
checked when it exists (a key on input.key alone is exit 2 naming the item
column). Upsert reruns double nothing; insert writes each page exactly once
across a SIGKILL at the steps of a shard's commit, the rendered page kept beside it as
bytes (BLOB, bytea); a key repeated within a shard sets aside its input row whole.
SQLite and DuckDB files, and a real PostgreSQL."""
import io
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from conftest import EXIT_OK, run, sql, status_json, write_job
from pg_fixture import PASSWORD, pg_server  # noqa: F401  (the session fixture)
from test_db_sinks import execute, primary_key, query
from test_pdf_pages import gray_pdf, identity_model, path_table, pdf_job

FORMATS = ["sqlite", "duckdb"]
H, W = 4, 3  # the image step's size: 12 floats per page
# Gray levels of each input row's pages: 6 PDFs, 17 pages; shards of 2 input rows.
LEVELS = [[0, 60, 120], [200], [10, 250, 90, 30], [140, 70], [20, 40, 160, 180, 220], [100, 5]]
PAGES = sum(len(lv) for lv in LEVELS)


def pdf_db_job(root, fmt, url, table="pages", mode="upsert", levels=LEVELS, ids=None, keep=("id",)):
    """A pdf_pages job over `levels` (one PDF per input row) writing `table` of `url`."""
    folder = root / "data"
    folder.mkdir(parents=True, exist_ok=True)
    for i, lv in enumerate(levels):
        gray_pdf(folder / f"doc{i}.pdf", lv)
    data = path_table(root, [f"doc{i}.pdf" for i in range(len(levels))])
    if ids is not None:  # other keys than 0..n-1
        sql(f"COPY (SELECT CAST(v.id AS BIGINT) AS id, t.path FROM '{data}' t JOIN (VALUES "
            + ", ".join(f"({i}, {k})" for i, k in enumerate(ids))
            + f") v(i, id) ON t.id = v.i ORDER BY t.id) TO '{data}.tmp' (FORMAT parquet)")
        Path(f"{data}.tmp").rename(data)
    identity_model(root / "identity.onnx", h=H, w=W)
    return pdf_job(root, data, size=(H, W),
                   output={"format": fmt, "url": url, "table": table, "mode": mode, "keep": list(keep)},
                   run={"ledger": "ledger.db", "shard_rows": 2})


def check_pages(rows, levels=LEVELS, times=1):
    """rows: (id, page_number, out as JSON text or a list): every page `times` times, its
    pixels the page's gray level."""
    want = {(i, p + 1): v for i, lv in enumerate(levels) for p, v in enumerate(lv)}
    seen = {}
    for i, p, out in rows:
        key = (int(i), int(p))
        assert key in want, f"row {key} is no page of the input"
        seen[key] = seen.get(key, 0) + 1
        vals = np.array(json.loads(out) if isinstance(out, str) else out, np.float32)
        assert vals.shape == (H * W,) and np.abs(vals - want[key] / 255.0).max() < 1.5 / 255, (key, vals)
    assert seen == {k: times for k in want}, sorted(seen.items())


def check_kept_pages(rows, levels=LEVELS):
    """rows: (id, page_number, the kept page's PNG bytes): every page once, a gray PNG of the
    page as rendered (72 dpi: 144 x 192 pixels) filled with its gray level."""
    from PIL import Image
    want = {(i, p + 1): v for i, lv in enumerate(levels) for p, v in enumerate(lv)}
    seen = []
    for i, p, png in rows:
        key = (int(i), int(p))
        assert png[:8] == b"\x89PNG\r\n\x1a\n", (key, png[:8])
        px = np.asarray(Image.open(io.BytesIO(png)))
        assert px.shape == (192, 144) and np.abs(px.astype(int) - want[key]).max() <= 1, (key, px.shape)
        seen.append(key)
    assert sorted(seen) == sorted(want), seen


def kept_pngs(fmt, db, table="pages"):
    """(id, page_number, page as bytes) of the table's rows: sqlite3 reads a BLOB as bytes,
    `nightshift sql` as hex()."""
    if fmt == "sqlite":
        return query(fmt, db, f"SELECT id, page_number, page FROM {table}")
    return [(i, p, bytes.fromhex(h)) for i, p, h in
            query(fmt, db, f"SELECT id, page_number, hex(page) FROM {table}")]


def table_pages(fmt, db, table="pages"):
    return query(fmt, db, f"SELECT id, page_number, {'out' if fmt == 'sqlite' else 'to_json(out)'} "
                          f"FROM {table} ORDER BY id, page_number")


@pytest.mark.parametrize("fmt", FORMATS)
def test_pdf_pages_table_is_keyed_by_page_number_and_upsert_doubles_nothing(tmp_path, fmt):
    job = pdf_db_job(tmp_path, fmt, f"out.{fmt}")
    rc, out, err = run("run", job, cwd=tmp_path)
    assert rc == EXIT_OK, err
    db = tmp_path / f"out.{fmt}"
    check_pages(table_pages(fmt, db))
    assert sorted(primary_key(fmt, db, "pages")[0].split(",") if fmt == "duckdb"
                  else primary_key(fmt, db, "pages")) == ["id", "page_number"]
    st = status_json(job, cwd=tmp_path)
    # counts in input rows (PDFs), items and the table's rows in pages.
    assert st["counts"] == {"total": len(LEVELS), "succeeded": len(LEVELS), "failed": 0, "items": PAGES}, st
    assert st["rows"]["written"] == PAGES and st["table"] == "pages", st
    rc, out, err = run("run", job, "--run-id", "again", cwd=tmp_path)
    assert rc == EXIT_OK, err
    check_pages(table_pages(fmt, db))
    commits = query(fmt, db, "SELECT run_id, sum(rows) FROM pages__nightshift_commits GROUP BY run_id")
    assert sorted(int(c[1]) for c in commits) == [PAGES, PAGES], commits


@pytest.mark.parametrize("fmt", FORMATS)
def test_swap_builds_a_table_keyed_by_page_number(tmp_path, fmt):
    job = pdf_db_job(tmp_path, fmt, f"out.{fmt}", mode="swap")
    db = tmp_path / f"out.{fmt}"
    for run_id in ("first", "second"):  # the second swaps in a table built from the first's
        rc, out, err = run("run", job, "--run-id", run_id, cwd=tmp_path)
        assert rc == EXIT_OK, err
        check_pages(table_pages(fmt, db))
        key = primary_key(fmt, db, "pages")
        assert sorted(key[0].split(",") if fmt == "duckdb" else key) == ["id", "page_number"], key


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("point", ["db_before_commit:2", "db_after_commit:2", "after_commit:2"])
def test_insert_writes_each_page_once_across_a_kill(tmp_path, fmt, point):
    """insert creates a table without a key: a page written twice would show. The rendered
    page is kept too, a BLOB column written in the same transaction as the rest of its row."""
    job = pdf_db_job(tmp_path, fmt, f"out.{fmt}", mode="insert", keep=["id", "page"])
    rc, out, err = run("run", job, cwd=tmp_path, env={"NIGHTSHIFT_CRASH_AT": point})
    assert rc in (-9, 137), f"expected a kill at {point}, got {rc}: {err}"
    rc, out, err = run("run", job, cwd=tmp_path)
    assert rc == EXIT_OK, err
    check_pages(table_pages(fmt, tmp_path / f"out.{fmt}"))
    check_kept_pages(kept_pngs(fmt, tmp_path / f"out.{fmt}"))
    if point.startswith("db_after_commit"):
        assert "already in the table" in err, err


@pytest.mark.parametrize("fmt", FORMATS)
def test_retry_writes_the_pages_of_a_pdf_fixed_since_once(tmp_path, fmt):
    """insert (no key: a page written twice would show): a corrupt PDF is a dead letter; once
    fixed, `retry` writes its pages, each once, and the counts follow in input rows."""
    levels = [[10, 20], [30, 40, 50]]
    job = pdf_db_job(tmp_path, fmt, f"out.{fmt}", mode="insert", levels=levels)
    (tmp_path / "data" / "doc1.pdf").write_bytes(b"%PDF-1.4\n" + b"0" * 500)  # corrupt
    rc, out, err = run("run", job, cwd=tmp_path)
    assert rc == EXIT_OK, err
    db = tmp_path / f"out.{fmt}"
    assert [(int(i), int(p)) for i, p, _ in table_pages(fmt, db)] == [(0, 1), (0, 2)]
    st = status_json(job, cwd=tmp_path)
    assert st["counts"] == {"total": 2, "succeeded": 1, "failed": 1, "items": 2}, st
    gray_pdf(tmp_path / "data" / "doc1.pdf", levels[1])  # fixed
    rc, out, err = run("retry", job, cwd=tmp_path)
    assert rc == EXIT_OK, err
    check_pages(table_pages(fmt, db), levels)
    st = status_json(job, cwd=tmp_path)
    assert st["counts"] == {"total": 2, "succeeded": 2, "failed": 0, "items": 5}, st
    assert st["rows"]["written"] == 5, st


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("mode", ["upsert", "insert"])
def test_existing_table_keyed_by_input_key_alone_is_refused(tmp_path, fmt, mode):
    db = tmp_path / f"out.{fmt}"
    out_type = "TEXT" if fmt == "sqlite" else "FLOAT[]"
    execute(fmt, db, [f"CREATE TABLE bykey (id BIGINT PRIMARY KEY, page_number INTEGER, out {out_type})",
                      f"CREATE TABLE bypage (id BIGINT, page_number INTEGER, out {out_type}, "
                      "PRIMARY KEY (id, page_number))"])
    rc, out, err = run("run", pdf_db_job(tmp_path, fmt, f"out.{fmt}", table="bykey", mode=mode), cwd=tmp_path)
    assert rc == 2 and "unique key on (id) without 'page_number'" in err, (rc, err)
    assert query(fmt, db, "SELECT count(*) FROM bykey") == [[0] if fmt == "sqlite" else ["0"]]
    rc, out, err = run("run", pdf_db_job(tmp_path, fmt, f"out.{fmt}", table="bypage", mode=mode),
                       cwd=tmp_path)
    assert rc == EXIT_OK, err
    check_pages(table_pages(fmt, db, "bypage"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_upsert_without_the_item_in_the_key_names_it(tmp_path, fmt):
    db = tmp_path / f"out.{fmt}"
    out_type = "TEXT" if fmt == "sqlite" else "FLOAT[]"
    execute(fmt, db, [f"CREATE TABLE nokey (id BIGINT, page_number INTEGER, out {out_type})"])
    rc, out, err = run("run", pdf_db_job(tmp_path, fmt, f"out.{fmt}", table="nokey"), cwd=tmp_path)
    assert rc == 2 and "no primary key or unique index on (id,page_number)" in err, (rc, err)


def test_a_key_repeated_within_a_shard_sets_its_input_row_aside_whole(tmp_path):
    """Input rows 0 and 1 both have id 7: row 1's pages 1-2 repeat row 0's keys, and its
    page 3 (a key of its own) is withheld with them, so the input row stands or falls whole."""
    levels = [[10, 20], [30, 40, 50], [60]]
    job = pdf_db_job(tmp_path, "sqlite", "out.sqlite", levels=levels, ids=[7, 7, 8])
    rc, out, err = run("run", job, cwd=tmp_path)
    assert rc == EXIT_OK, err
    rows = query("sqlite", tmp_path / "out.sqlite", "SELECT id, page_number FROM pages ORDER BY 1, 2")
    assert rows == [[7, 1], [7, 2], [8, 1]], rows
    rc, out, err = run("status", job, "--json", "--failed", cwd=tmp_path)
    failed = json.loads(out)["failed_items"]
    assert len(failed) == 1 and failed[0]["row"] == 1, failed
    assert "repeats an earlier row" in failed[0]["error"] and "withheld" in failed[0]["error"], failed


def box_model(path):
    """x [N, 3, 48, W] -> the mean of each channel [N, 3]."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 48, "W"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])
    node = helper.make_node("ReduceMean", ["x"], ["y"], axes=[2, 3], keepdims=0)
    model = helper.make_model(helper.make_graph([node], "means", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


@pytest.mark.parametrize("fmt", FORMATS)
def test_crop_boxes_table_is_keyed_by_box_index(tmp_path, fmt):
    from PIL import Image
    img = np.zeros((100, 400, 3), np.uint8)
    img[:, :, 0] = (np.arange(400) // 2).astype(np.uint8)[None, :]  # red grows to the right
    Image.fromarray(img).save(tmp_path / "p.png")
    box = lambda x: [x, 10, x + 60, 10, x + 60, 40, x, 40]
    pages = {0: [box(10), box(100)], 1: [box(200), box(300), box(20)], 2: [box(150)], 3: []}
    values = ", ".join(f"({i}, 'p.png', {[v for b in bs for v in b]}::DOUBLE[])" for i, bs in pages.items())
    box_model(tmp_path / "means.onnx")
    job = {"name": "crops", "input": {"query": f"SELECT * FROM (VALUES {values}) t(id, path, boxes)", "key": "id"},
           "preprocess": [{"crop": {"image": "path", "boxes": "boxes", "into": "line"}}],
           "model": {"path": "means.onnx", "threads": 1, "inputs": [{"name": "x", "columns": ["line"]}],
                     "outputs": [{"name": "y", "columns": ["b", "g", "r"]}]},
           "batch": {"size": 2},
           "output": {"format": fmt, "url": f"out.{fmt}", "table": "lines", "keep": ["id"]},
           "run": {"ledger": "ledger.db"}}
    job = write_job(tmp_path / "crop.yaml", job)
    for run_id in ("first", "second"):  # upsert: the second run rewrites the same rows
        rc, out, err = run("run", job, "--run-id", run_id, cwd=tmp_path)
        assert rc == EXIT_OK, err
        rows = query(fmt, tmp_path / f"out.{fmt}", "SELECT id, box_index, r FROM lines ORDER BY 1, 2")
        assert [(int(r[0]), int(r[1])) for r in rows] == [(i, k) for i, bs in pages.items()
                                                          for k in range(len(bs))], rows
        # Each row is its own box: the crop's red (BGR's channel 2) grows with the box's x.
        by_x = sorted(rows, key=lambda r: pages[int(r[0])][int(r[1])][0])
        assert [float(r[2]) for r in by_x] == sorted(float(r[2]) for r in rows), by_x
    # Input row 3 has no boxes: no rows, and not a failure.
    st = status_json(job, "second", cwd=tmp_path)
    assert st["counts"] == {"total": 4, "succeeded": 4, "failed": 0, "items": 6}, st
    db = tmp_path / f"out.{fmt}"
    assert sorted(primary_key(fmt, db, "lines")[0].split(",") if fmt == "duckdb"
                  else primary_key(fmt, db, "lines")) == ["box_index", "id"]


ENV = {"PGPASSWORD": PASSWORD}


def test_postgres_pages_keyed_by_page_number_once_across_a_kill(tmp_path, pg_server):
    """With the rendered page kept: a bytea column, in the binary COPY of each shard."""
    job = pdf_db_job(tmp_path, "postgres", pg_server.url(with_password=False), table="items_pages",
                     keep=["id", "page"])
    rc, out, err = run("run", job, cwd=tmp_path, env={"NIGHTSHIFT_CRASH_AT": "db_after_commit:2", **ENV})
    assert rc in (-9, 137), f"expected a kill, got {rc}: {err}"
    rc, out, err = run("run", job, cwd=tmp_path, env=ENV)
    assert rc == EXIT_OK, err
    rows = pg_server.query("SELECT id, page_number, array_to_json(out)::text FROM items_pages ORDER BY 1, 2")
    check_pages(rows)
    pngs = pg_server.query("SELECT id, page_number, encode(page, 'hex') FROM items_pages")
    check_kept_pages([(i, p, bytes.fromhex(h)) for i, p, h in pngs])
    assert pg_server.query("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
                           "attrelid = 'items_pages'::regclass AND attname = 'page'") == [["bytea"]]
    key = pg_server.query("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                          "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'items_pages'::regclass AND "
                          "i.indisprimary ORDER BY 1")
    assert key == [["id"], ["page_number"]], key
    rc, out, err = run("run", job, "--run-id", "again", cwd=tmp_path, env=ENV)
    assert rc == EXIT_OK, err
    check_pages(pg_server.query("SELECT id, page_number, array_to_json(out)::text FROM items_pages"))
    pg_server.admin("CREATE TABLE items_bykey (id bigint PRIMARY KEY, page_number integer, out real[])", db="crm")
    pg_server.admin("ALTER TABLE items_bykey OWNER TO scorer", db="crm")
    rc, out, err = run("run", pdf_db_job(tmp_path, "postgres", pg_server.url(with_password=False),
                                         table="items_bykey", mode="insert"), cwd=tmp_path, env=ENV)
    assert rc == 2 and "unique key on (id) without 'page_number'" in err, (rc, err)


def test_postgres_ledger_in_the_output_database_commits_pages_in_one_transaction(tmp_path, pg_server):
    """run.ledger in the output's database: a shard's pages and the ledger's commit are one
    transaction, so a kill after it leaves nothing to adopt and a resume writes no page twice."""
    url = pg_server.url(with_password=False)
    job = pdf_db_job(tmp_path, "postgres", url, table="items_onetx", mode="insert")
    spec = __import__("yaml").safe_load(job.read_text())
    spec["run"]["ledger"] = url
    spec["run"]["lease"] = "3s"  # a shared ledger: the killed run's claim lapses in 3 s
    write_job(job, spec)
    rc, out, err = run("run", job, "--run-id", "items-onetx", cwd=tmp_path,
                       env={"NIGHTSHIFT_CRASH_AT": "db_after_commit:2", **ENV})
    assert rc in (-9, 137), f"expected a kill, got {rc}: {err}"
    rc, out, err = run("run", job, "--run-id", "items-onetx", "--wait", cwd=tmp_path, env=ENV)
    assert rc == EXIT_OK, err
    assert "already in the table" not in err, err  # the ledger had the shard: nothing to adopt
    check_pages(pg_server.query("SELECT id, page_number, array_to_json(out)::text FROM items_onetx"))
    rc, out, err = run("status", job, "--run-id", "items-onetx", "--json", cwd=tmp_path, env=ENV)
    assert rc == EXIT_OK, err
    st = json.loads(out)
    assert st["counts"] == {"total": len(LEVELS), "succeeded": len(LEVELS), "failed": 0, "items": PAGES}, st
