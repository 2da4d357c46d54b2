"""preprocess: pdf_pages, end to end: PDFs (written by python3-reportlab, or by hand
where reportlab cannot make them) listed by path in a Parquet file or carried as
BLOBs become one output row per page, with page_number and the input's key, each
page rendered by poppler at the step's dpi and fed to an image step and an
identity ONNX model whose output is the page's tensor. Encrypted, corrupt,
truncated and 0-page PDFs are dead letters with their reason; a 2,000-page PDF
streams within bounded memory; real PDFs shipped by Debian documentation
packages render every page, and the real PaddleOCR detector finds text on them.
"""
import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from conftest import (BIN, REPO, assert_not_crashed, not_under_sanitizers, part_files, read_dead_letters,
                      read_part, read_success, run, run_peak_rss, single_key, sql, status_json, write_job)

canvas = pytest.importorskip("reportlab.pdfgen.canvas")

H, W = 40, 30  # the image step's size: small, so the outputs stay small


def identity_model(path, h=H, w=W, c=1):
    shape = ["N", c, h, w]
    x = helper.make_tensor_value_info("pixels", TensorProto.FLOAT, shape)
    y = helper.make_tensor_value_info("out", TensorProto.FLOAT, shape)
    graph = helper.make_graph([helper.make_node("Identity", ["pixels"], ["out"])], "identity", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


def gray_pdf(path, levels, encrypt=None, size=(144, 192)):
    """A PDF whose page k is filled with gray level levels[k] (0..255)."""
    c = canvas.Canvas(str(path), pagesize=size, encrypt=encrypt)
    for v in levels:
        c.setFillGray(v / 255.0)
        c.rect(0, 0, size[0], size[1], stroke=0, fill=1)
        c.showPage()
    c.save()
    return path


def hand_pdf(pages, w=612, h=792):
    """A minimal PDF of `pages` pages written by hand (each with a black square): fast
    for thousands of pages, and able to have none."""
    objs = ["<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [%s] /Count %d >>" % (" ".join(f"{3 + 2 * i} 0 R" for i in range(pages)), pages)]
    draw = b"0 0 0 rg 72 72 144 144 re f"
    for i in range(pages):
        objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w} {h}] /Contents {4 + 2 * i} 0 R >>")
        objs.append(f"<< /Length {len(draw)} >>\nstream\n{draw.decode()}\nendstream")
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, o in enumerate(objs):
        offsets.append(len(out))
        out += f"{i + 1} 0 obj\n{o}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def pdf_job(root, data, dpi=72, column="path", batch=4, size=(H, W), color="gray", extra=None, **more):
    job = {
        "name": "pdfs",
        "input": {"path": str(data), "key": "id"},
        "preprocess": [{"pdf_pages": {"column": column, "dpi": dpi, "into": "page"}},
                       {"image": {"column": "page", "into": "pixels", "size": list(size),
                                  "resize": "stretch", "color": color, **(extra or {})}}],
        "model": {"path": "identity.onnx", "threads": 1,
                  "inputs": [{"name": "pixels", "columns": ["pixels"]}],
                  "outputs": [{"name": "out", "column": "out"}]},
        "batch": {"size": batch},
        "output": {"path": "out", "keep": ["id"]},
        "run": {"ledger": "ledger.db"},
        "errors": {"max_failed_items": -1},
    }
    job.update(more)
    return write_job(root / "job.yaml", job)


def path_table(root, rels):
    data = root / "data" / "in.parquet"
    data.parent.mkdir(parents=True, exist_ok=True)
    values = ", ".join(f"({i}, {'NULL' if p is None else repr(str(p))})" for i, p in enumerate(rels))
    sql(f"COPY (SELECT * FROM (VALUES {values}) t(id, path)) TO '{data}' (FORMAT parquet)")
    return data


def rows_of(root):
    return [r for p in part_files(root / "out") for r in read_part(p)]


def run_ok(job, root):
    rc, out, err = run("run", job, cwd=root)
    assert_not_crashed(rc, err)
    assert rc == 0, err
    return err


def test_one_row_per_page_with_page_number_and_key(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    levels = {0: [0, 60, 120, 180, 240, 30, 90], 1: [200], 2: [10, 250]}
    for i, lv in levels.items():
        gray_pdf(folder / f"doc{i}.pdf", lv)
    data = path_table(tmp_path, [f"doc{i}.pdf" for i in levels])
    identity_model(tmp_path / "identity.onnx")
    # batch 4: doc0's 7 pages span two batches, and batches mix pages of different PDFs
    run_ok(pdf_job(tmp_path, data), tmp_path)
    rows = rows_of(tmp_path)
    assert list(rows[0]) == ["id", "page_number", "out"]  # page_number beside the key
    got = [(r["id"], r["page_number"]) for r in rows]
    assert got == [(i, p + 1) for i, lv in levels.items() for p in range(len(lv))]
    for r in rows:
        want = levels[r["id"]][r["page_number"] - 1] / 255.0
        out = np.array(r["out"], np.float32)
        assert out.shape == (H * W,)
        assert np.abs(out - want).max() < 1.5 / 255, (r["id"], r["page_number"], out.min(), out.max())


def test_rgb_page_at_dpi_and_blob_column(tmp_path):
    """A BLOB column of PDF bytes; RGB; the page is rendered at the dpi (144 x 192 pt at
    150 dpi is 300 x 400 pixels) then resized: a black square in the lower left quarter
    lands there in the tensor."""
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "sq.pdf").write_bytes(hand_pdf(2, w=144, h=192))
    gray_pdf(folder / "g.pdf", [128])
    data = folder / "in.parquet"
    sql(f"COPY (SELECT 7 + (filename LIKE '%g.pdf')::INT AS id, content AS doc "
        f"FROM read_blob('{folder}/*.pdf') ORDER BY id) TO '{data}' (FORMAT parquet)")
    identity_model(tmp_path / "identity.onnx", 32, 24, 3)
    job = pdf_job(tmp_path, data, dpi=150, column="doc", size=(32, 24), color="rgb")
    spec = __import__("yaml").safe_load(job.read_text())
    spec["output"]["keep"] = ["page_number", "id"]  # output.keep may name page_number
    run_ok(write_job(job, spec), tmp_path)
    rows = rows_of(tmp_path)
    assert list(rows[0]) == ["id", "page_number", "out"]
    assert [(r["id"], r["page_number"]) for r in rows] == [(7, 1), (7, 2), (8, 1)]
    sq = np.array(rows[0]["out"], np.float32).reshape(3, 32, 24)
    # the square covers x 72..216 pt of 144 (clipped) and y 72..216 from the bottom: in the
    # tensor, columns 12..24 and rows 0..20 are black, the rest white
    assert sq[:, 2:18, 14:22].max() < 0.05 and sq[:, 22:30, 2:10].min() > 0.95, sq[0]
    assert np.abs(np.array(rows[2]["out"]) - 128 / 255).max() < 2 / 255


def test_hostile_pdfs_are_dead_letters(tmp_path):
    folder = tmp_path / "data"
    (folder / "sub").mkdir(parents=True)
    gray_pdf(folder / "good.pdf", [50, 100])
    gray_pdf(folder / "locked.pdf", [50], encrypt="secret")
    good = (folder / "good.pdf").read_bytes()
    (folder / "truncated.pdf").write_bytes(good[:200])
    (folder / "garbage.pdf").write_bytes(b"%PDF-1.7\n" + os.urandom(3000))
    (folder / "empty.pdf").write_bytes(b"")
    (folder / "text.pdf").write_text("this is not a PDF\n")
    (folder / "nopages.pdf").write_bytes(hand_pdf(0))
    gray_pdf(tmp_path / "outside.pdf", [1])
    rels = ["good.pdf", "locked.pdf", "truncated.pdf", "garbage.pdf", "empty.pdf", "text.pdf",
            "nopages.pdf", "../outside.pdf", "missing.pdf", None, "good.pdf"]
    data = path_table(tmp_path, rels)
    identity_model(tmp_path / "identity.onnx")
    run_ok(pdf_job(tmp_path, data), tmp_path)
    got = [(r["id"], r["page_number"]) for r in rows_of(tmp_path)]
    assert got == [(0, 1), (0, 2), (10, 1), (10, 2)]
    dead = {single_key(d["key"]): d["error"] for _, d in read_dead_letters(tmp_path / "out" / "_failed")}
    assert sorted(dead) == list(range(1, 10)), dead
    expect = {1: "encrypted PDF", 2: "corrupt PDF", 3: "corrupt PDF", 4: "not a PDF", 5: "not a PDF",
              6: "PDF with no pages", 7: "leaves the input folder", 8: "missing.pdf", 9: "null"}
    for i, why in expect.items():
        assert why in dead[i], (i, dead[i])
    for i in (1, 2, 3, 4, 5, 6):
        assert f"'{rels[i]}'" in dead[i], dead[i]  # names the file


def test_pages_over_the_pixel_limit_are_dead_letters_naming_file_and_page(tmp_path):
    """Pages 2 and 4 are 20 times larger than pages 1 and 3: over the image step's
    max_pixels at this dpi, they are dead letters naming file and page. A PDF's pages
    stand or fall together (the ledger's unit is the input row, and retry re-reads it
    whole): pages 1 and 3 are withheld as dead letters too, the other PDF is written,
    and after the PDF is fixed a retry writes each of its pages exactly once."""
    folder = tmp_path / "data"
    folder.mkdir()
    c = canvas.Canvas(str(folder / "mixed.pdf"))
    for k, size in enumerate([(144, 192), (2880, 3840), (144, 192), (2880, 3840)]):
        c.setPageSize(size)
        c.setFillGray(k * 60 / 255.0)
        c.rect(0, 0, size[0], size[1], stroke=0, fill=1)
        c.showPage()
    c.save()
    gray_pdf(folder / "ok.pdf", [70])
    data = path_table(tmp_path, ["mixed.pdf", "ok.pdf"])
    identity_model(tmp_path / "identity.onnx")
    job = pdf_job(tmp_path, data, dpi=72, extra={"max_pixels": 100000})
    run_ok(job, tmp_path)
    assert [(r["id"], r["page_number"]) for r in rows_of(tmp_path)] == [(1, 1)]
    dead = [d for _, d in read_dead_letters(tmp_path / "out" / "_failed")]
    assert [single_key(d["key"]) for d in dead] == [0, 0, 0, 0]
    failed = [d["error"] for d in dead if "pixels" in d["error"]]
    withheld = [d["error"] for d in dead if "withheld" in d["error"]]
    assert sorted(e.split(":")[0] for e in failed) == ["PDF 'mixed.pdf' page 2", "PDF 'mixed.pdf' page 4"]
    assert all("2880x3840 pixels at 72 dpi" in e for e in failed), failed
    assert sorted(e.split(" withheld")[0] for e in withheld) == ["item 1", "item 3"], withheld
    rc, out, err = run("status", str(job), "--failed", cwd=tmp_path)
    assert rc == 0 and "page 2" in out and "page 4" in out, (out, err)
    c = canvas.Canvas(str(folder / "mixed.pdf"), pagesize=(144, 192))  # fixed: four small pages
    for k in range(4):
        c.setFillGray(k * 60 / 255.0)
        c.rect(0, 0, 144, 192, stroke=0, fill=1)
        c.showPage()
    c.save()
    rc, out, err = run("retry", str(job), cwd=tmp_path)
    assert_not_crashed(rc, err)
    assert rc == 0, err
    got = sorted((r["id"], r["page_number"]) for r in rows_of(tmp_path))
    assert got == [(0, 1), (0, 2), (0, 3), (0, 4), (1, 1)]  # each page once


def test_retry_renders_every_page_of_a_pdf_fixed_since(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    gray_pdf(folder / "a.pdf", [10, 20])
    (folder / "b.pdf").write_bytes(b"%PDF-1.4\n" + b"0" * 500)  # corrupt
    data = path_table(tmp_path, ["a.pdf", "b.pdf"])
    identity_model(tmp_path / "identity.onnx")
    job = pdf_job(tmp_path, data)
    run_ok(job, tmp_path)
    assert [(r["id"], r["page_number"]) for r in rows_of(tmp_path)] == [(0, 1), (0, 2)]
    gray_pdf(folder / "b.pdf", [30, 40, 50])  # fixed
    rc, out, err = run("retry", str(job), cwd=tmp_path)
    assert_not_crashed(rc, err)
    assert rc == 0, err
    got = sorted((r["id"], r["page_number"], round(r["out"][0] * 255)) for r in rows_of(tmp_path))
    assert got == [(0, 1, 10), (0, 2, 20), (1, 1, 30), (1, 2, 40), (1, 3, 50)]
    rc, out, err = run("status", str(job), cwd=tmp_path)
    assert rc == 0 and "0 failed" in out, out


def test_counts_are_input_rows_and_items_the_pages_written(tmp_path):
    """status and _SUCCESS count total, succeeded and failed in input rows (a PDF), so that
    succeeded + failed = total, and items in pages written."""
    folder = tmp_path / "data"
    folder.mkdir()
    gray_pdf(folder / "three.pdf", [10, 20, 30])
    gray_pdf(folder / "one.pdf", [40])
    (folder / "text.pdf").write_text("this is not a PDF\n")
    job = pdf_job(tmp_path, path_table(tmp_path, ["three.pdf", "text.pdf", "one.pdf"]))
    identity_model(tmp_path / "identity.onnx")
    rc, _, err = run("run", job, "--log-format", "json", cwd=tmp_path)
    assert rc == 0, err
    # Progress counts input rows too (it counted pages: "4/3 rows").
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    done = [(e["rows_done"], e["rows_total"]) for e in events if "rows_done" in e]
    assert done and done[-1] == (3, 3) and all(d <= t for d, t in done), done
    want = {"total": 3, "succeeded": 2, "failed": 1, "items": 4}
    assert status_json(job, cwd=tmp_path)["counts"] == want
    manifest = read_success(tmp_path / "out")
    assert manifest["counts"] == want, manifest
    assert sum(f["rows"] for f in manifest["files"]) == 4, manifest
    rc, out, err = run("status", job, cwd=tmp_path)
    assert rc == 0 and "rows: 3 total, 2 succeeded, 1 failed" in out and "items: 4 written" in out, out


def test_bad_steps_are_refused_before_reading(tmp_path):
    data = path_table(tmp_path, ["a.pdf"])
    identity_model(tmp_path / "identity.onnx")
    job = pdf_job(tmp_path, data)
    doc = job.read_text()
    write_job(job, {**__import__("yaml").safe_load(doc),
                    "preprocess": [{"pdf_pages": {"column": "path", "dpi": 5, "into": "page"}},
                                   {"image": {"column": "page", "into": "pixels", "size": [H, W], "color": "gray"}}]})
    rc, _, err = run("run", job, cwd=tmp_path)
    assert rc == 2 and "preprocess[0].pdf_pages.dpi" in err, err
    spec = __import__("yaml").safe_load(doc)
    spec["preprocess"][1]["image"]["column"] = "path"
    write_job(job, spec)
    rc, _, err = run("run", job, cwd=tmp_path)
    assert rc == 2 and "pdf_pages into 'page' is read by no image step" in err, err
    spec = __import__("yaml").safe_load(doc)
    spec["preprocess"][0]["pdf_pages"]["column"] = "nope"
    write_job(job, spec)
    rc, _, err = run("run", job, cwd=tmp_path)
    assert rc == 2 and "pdf_pages step column 'nope' is not in" in err, err
    # The rendered page may replace neither the input key nor the page number,
    # which together name an output row; validate says so as run does.
    for into, why in (("id", "a column of input.key"), ("page_number", "each page's number")):
        spec = __import__("yaml").safe_load(doc)
        spec["preprocess"][0]["pdf_pages"]["into"] = into
        spec["preprocess"][1]["image"]["column"] = into
        write_job(job, spec)
        for command in ("validate", "run"):
            rc, _, err = run(command, job, cwd=tmp_path)
            assert rc == 2 and f"pdf_pages into '{into}'" in err and why in err, (command, err)
    assert not (tmp_path / "out").exists()
    # (A database output is taken, keyed by input.key and page_number: test_db_items.py.)


def run_measured(args, cwd):
    """Runs the binary; returns (rc, stderr, peak RSS in bytes, seconds)."""
    t0 = time.monotonic()
    rc, err, peak = run_peak_rss(args, cwd)
    return rc, err, peak, time.monotonic() - t0


@not_under_sanitizers
def test_2000_page_pdf_streams_in_bounded_memory(tmp_path):
    pages, dpi = 2000, 72
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "big.pdf").write_bytes(hand_pdf(pages))
    data = path_table(tmp_path, ["big.pdf"])
    identity_model(tmp_path / "identity.onnx")
    job = pdf_job(tmp_path, data, dpi=dpi, batch=16)
    rc, err, peak, secs = run_measured(["run", str(job)], tmp_path)
    assert rc == 0, err
    rows = rows_of(tmp_path)
    assert [r["page_number"] for r in rows] == list(range(1, pages + 1))
    # the square (72..216 pt of 612 x 792) is black in every page's tensor
    assert all(min(r["out"][(H - 8) * W + 5: (H - 8) * W + 8]) < 0.1 for r in rows)
    all_pages = pages * 612 * 792 * 3  # every page rendered at once, 8-bit RGB
    print(f"\n{pages} pages at {dpi} dpi: {secs:.1f} s, {pages / secs:.0f} pages/s, peak RSS "
          f"{peak / 2**20:.0f} MiB ({peak / all_pages:.3f} of all pages rendered at once, "
          f"{all_pages / 2**20:.0f} MiB)")
    assert peak < 0.15 * all_pages


DEBIAN_PDFS = [Path("/usr/share/doc/libtasn1-doc/libtasn1.pdf"),
               Path("/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf")]


def page_count(path):
    pypdf = pytest.importorskip("pypdf")  # an independent reader (Debian: python3-pypdf)
    return len(pypdf.PdfReader(str(path)).pages)


@pytest.mark.skipif(not all(p.is_file() for p in DEBIAN_PDFS),
                    reason="run scripts/bootstrap.sh (libtasn1-doc, shared-mime-info)")
def test_debian_documentation_pdfs_render_every_page(tmp_path):
    data = path_table(tmp_path, [str(p) for p in DEBIAN_PDFS])  # absolute paths
    identity_model(tmp_path / "identity.onnx", 220, 170)
    run_ok(pdf_job(tmp_path, data, dpi=100, batch=8, size=(220, 170)), tmp_path)
    rows = rows_of(tmp_path)
    assert not list((tmp_path / "out" / "_failed").glob("part-*"))
    for i, p in enumerate(DEBIAN_PDFS):
        numbers = [r["page_number"] for r in rows if r["id"] == i]
        assert numbers == list(range(1, page_count(p) + 1)), p
    # every page has ink on it: a page rendered blank is all 1.0 (white)
    ink = [float(np.mean(np.array(r["out"]) < 0.95)) for r in rows]
    print(f"\n{len(rows)} pages; share of inked pixels per page: min {min(ink):.4f}, "
          f"median {sorted(ink)[len(ink) // 2]:.4f}")
    assert min(ink) > 0.005, ink


MODELS = REPO / "third_party" / "ocr-models"
DET_H, DET_W = 960, 736  # a US letter / A4 page, letterboxed; multiples of 32


@pytest.mark.skipif(not (MODELS / "ch_PP-OCRv4_det_infer.onnx").is_file()
                    or not DEBIAN_PDFS[1].is_file(),
                    reason="run scripts/bootstrap.sh (third_party/ocr-models, shared-mime-info)")
def test_real_detector_finds_text_on_every_page_of_a_debian_pdf(tmp_path):
    m = onnx.load(str(MODELS / "ch_PP-OCRv4_det_infer.onnx"))
    for d, v in zip(m.graph.input[0].type.tensor_type.shape.dim[1:], [3, DET_H, DET_W]):
        d.ClearField("dim_param")
        d.dim_value = v
    onnx.save(m, str(tmp_path / "det.onnx"))
    data = path_table(tmp_path, [str(DEBIAN_PDFS[1])])
    job = pdf_job(tmp_path, data, dpi=100, batch=2, size=(DET_H, DET_W), color="bgr",
                  extra={"resize": "letterbox", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]})
    spec = __import__("yaml").safe_load(job.read_text())
    spec["model"] = {"path": "det.onnx", "threads": 2, "inputs": [{"name": "x", "columns": ["pixels"]}]}
    spec["postprocess"] = [{"text_boxes": {"output": "sigmoid_0.tmp_0", "threshold": 0.3, "box_threshold": 0.6,
                                           "unclip": 1.5, "into": "boxes"}}]
    write_job(job, spec)
    t0 = time.monotonic()
    run_ok(job, tmp_path)
    rows = rows_of(tmp_path)
    boxes = [len(r["boxes"]) // 8 for r in rows]
    print(f"\ndetector on {len(rows)} pages in {time.monotonic() - t0:.1f} s: boxes per page {boxes}")
    assert [r["page_number"] for r in rows] == list(range(1, page_count(DEBIAN_PDFS[1]) + 1))
    assert all(b >= 3 for b in boxes), boxes
    # boxes are in the rendered page's pixels (US letter at 100 dpi: 850 x 1100), not the
    # model's letterboxed 736 x 960
    xs = [v for r in rows for v in r["boxes"][0::2]]
    ys = [v for r in rows for v in r["boxes"][1::2]]
    print(f"box corners: x {min(xs):.0f}..{max(xs):.0f}, y {min(ys):.0f}..{max(ys):.0f}")
    assert min(xs) >= 0 and max(xs) <= 850 and min(ys) >= 0 and max(ys) <= 1100
    assert max(xs) > 736 or max(ys) > 960, (max(xs), max(ys))
