"""OCR of PDFs as two chained nightshift jobs (examples/ocr/detect_pdf.yaml, recognise_pdf.yaml):
the real PaddleOCR PP-OCRv4 detector and recogniser.

Job 1: a CSV of PDFs -> `pdf_pages` (one row per page, rendered at 150 dpi) -> `image` step ->
detector -> `text_boxes`, with `output.keep: [id, path, page_number, page]`: the rendered page
is written beside its boxes as a PNG (BLOB). Job 2: `input.query` over job 1's Parquet -> `crop`
(its image: that BLOB column) -> recogniser -> `ctc_decode`.

Checked on a PDF made here (python3-reportlab: known sentences in Helvetica), where the text
is known exactly, and on a few pages of two real PDFs from Debian documentation packages
(libtasn1-doc, shared-mime-info; installed by scripts/bootstrap.sh), where the words are read
by a second, independent reader (python3-pypdf's text extraction) to compare against.
"""
import re
import shutil
import struct
import time
from pathlib import Path

import pytest
import yaml

from conftest import (REPO, assert_not_crashed, edit_distance, part_files, read_dead_letters,
                      read_part, run, sql, write_job)
from test_ocr_jobs import EXAMPLE, MODELS, accuracy

pytestmark = pytest.mark.skipif(not (MODELS / "ch_PP-OCRv4_det_infer.onnx").is_file(),
                                reason="run scripts/bootstrap.sh (third_party/ocr-models)")

DEBIAN_PDFS = {  # id: (file, 0-based pages copied into the test's PDF)
    1: (Path("/usr/share/doc/libtasn1-doc/libtasn1.pdf"), (0, 1, 3)),  # page 3: dot leaders (ToC)
    2: (Path("/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf"), (0, 1)),
}

# Known text, one list of lines per page (reportlab, Helvetica 16 pt on US letter).
SENTENCES = [
    ["Invoice number 20261202 for the night shift",
     "Total due: 4,218.50 EUR by Friday",
     "The quick brown fox jumps over the lazy dog",
     "Ship to Berlin 10115, Germany"],
    ["Batch 42 finished at 03:15 without errors",
     "Please keep this receipt for your records",
     "Room temperature 21.5 C and falling",
     "Order 889102 was delivered on 2026-11-30"],
]


def setup_chain(root, docs):
    """The example's PDF jobs and models in `root`, reading docs.csv of `docs` {id: path}."""
    for name in ("detect_pdf.yaml", "recognise_pdf.yaml"):
        shutil.copy(EXAMPLE / name, root / name)
    (root / "models").symlink_to(MODELS)
    rows = ["id,path"] + [f"{i},{p}" for i, p in sorted(docs.items())]
    (root / "docs.csv").write_text("\n".join(rows) + "\n")


def run_ok(root, job):
    rc, out, err = run("run", job, cwd=root, timeout=600)
    assert_not_crashed(rc, err)
    assert rc == 0, err
    return err


def run_chain(root):
    """Both jobs; returns job 2's rows ({doc, page_number, box_index, text, ...}) and the
    chain's wall seconds."""
    t0 = time.monotonic()
    run_ok(root, "detect_pdf.yaml")
    run_ok(root, "recognise_pdf.yaml")
    seconds = time.monotonic() - t0
    for out in ("pdf_boxes", "pdf_text"):
        assert not [d for _, d in read_dead_letters(root / "out" / out / "_failed")], out
    lines = [r for p in part_files(root / "out" / "pdf_text") for r in read_part(p)]
    return lines, seconds


def kept_pages(root):
    """Job 1's rows: (id, page_number) -> (column type of page, the PNG's bytes), boxes."""
    out = sql("SELECT id, page_number, typeof(page) AS t, hex(page) AS png, len(boxes) AS n "
              f"FROM read_parquet('{root}/out/pdf_boxes/part-*.parquet') ORDER BY id, page_number")
    pages = {}
    for line in out.strip().splitlines()[1:]:
        i, n, t, png, boxes = line.split(",")
        pages[(int(i), int(n))] = (t, bytes.fromhex(png), int(boxes))
    return pages


def box_columns(root):
    out = sql(f"DESCRIBE SELECT * FROM read_parquet('{root}/out/pdf_boxes/part-*.parquet')")
    return [l.split(",")[0] for l in out.strip().splitlines()[1:]]


def png_size(png):
    assert png[:8] == b"\x89PNG\r\n\x1a\n", png[:8]
    return struct.unpack(">II", png[16:24])  # IHDR: width, height


def match_known_lines(lines, doc=7):
    """(read, known) for every line of SENTENCES, matched with the closest text read on its page
    of document `doc`; asserts that every line was found."""
    pairs = []
    for page, known in enumerate(SENTENCES, start=1):
        found = [l["text"] for l in lines if l["doc"] == doc and l["page_number"] == page]
        for text in known:
            best = min(found, key=lambda f: edit_distance(f, text))
            # Every line is found: its best match is close to it.
            assert edit_distance(best, text) <= len(text) // 5, (page, text, found)
            pairs.append((best, text))
    return pairs


def make_pdf(path):
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas
    c = canvas.Canvas(str(path), pagesize=letter)
    for lines in SENTENCES:
        c.setFont("Helvetica", 16)
        y = 700
        for text in lines:
            c.drawString(72, y, text)
            y -= 60
        c.showPage()
    c.save()


def test_a_rendered_pdf_reads_back_through_both_jobs(tmp_path):
    make_pdf(tmp_path / "made.pdf")
    setup_chain(tmp_path, {7: "made.pdf"})
    lines, seconds = run_chain(tmp_path)

    # Job 1 kept each rendered page as a PNG of the page at 150 dpi (US letter: 1275 x 1650),
    # the pixels its boxes are in.
    # The kept columns in output.keep's order, then the model's.
    assert box_columns(tmp_path) == ["id", "path", "page_number", "page", "boxes", "boxes_score"]
    pages = kept_pages(tmp_path)
    assert sorted(pages) == [(7, 1), (7, 2)]
    for t, png, boxes in pages.values():
        assert t == "BLOB"
        assert png_size(png) == (1275, 1650)
        assert boxes >= 8 * len(SENTENCES[0])

    assert list(lines[0])[:3] == ["doc", "page_number", "box_index"], lines[0]
    pairs = match_known_lines(lines)
    for best, text in pairs:
        print(f"  {text!r} -> {best!r}")
    with_spaces = accuracy(pairs)
    without_spaces = accuracy([(a.replace(" ", ""), b.replace(" ", "")) for a, b in pairs])
    print(f"PDF OCR character accuracy: {without_spaces:.4f} without spaces, {with_spaces:.4f} "
          f"with; {len(pages)} pages in {seconds:.1f} s (both jobs)")
    assert with_spaces >= 0.95, pairs
    assert without_spaces >= 0.95, pairs


def words(text):
    return re.findall(r"[a-z]{3,}", text.lower())


def test_real_pdfs_from_debian_documentation_read_cleanly(tmp_path):
    from pypdf import PdfReader, PdfWriter
    docs, truth = {}, {}
    for i, (src, keep) in DEBIAN_PDFS.items():
        if not src.is_file():
            pytest.skip(f"{src} is missing: run scripts/bootstrap.sh")
        reader, writer = PdfReader(src), PdfWriter()
        for n in keep:
            writer.add_page(reader.pages[n])
        writer.write(tmp_path / f"doc-{i}.pdf")
        docs[i] = f"doc-{i}.pdf"
        # The second reader: the words of the PDF's own text layer.
        truth[i] = set(words(" ".join(reader.pages[n].extract_text() for n in keep)))
    setup_chain(tmp_path, docs)
    lines, seconds = run_chain(tmp_path)

    pages = kept_pages(tmp_path)
    assert sorted(pages) == [(i, n + 1) for i, (_, keep) in DEBIAN_PDFS.items()
                             for n in range(len(keep))]
    assert all(t == "BLOB" and boxes > 0 for t, _, boxes in pages.values())
    total = sum(len(keep) for _, keep in DEBIAN_PDFS.values())
    print(f"{total} pages in {seconds:.1f} s (both jobs): {total / seconds:.2f} pages/s")
    for i in DEBIAN_PDFS:
        read = [w for l in lines if l["doc"] == i for w in words(l["text"])]
        assert len(read) >= 150, (i, len(read))
        # Nearly every word read is on those pages (garbage is not)...
        precision = sum(w in truth[i] for w in read) / len(read)
        # ...and most of the pages' words were read.
        recall = len(truth[i] & set(read)) / len(truth[i])
        print(f"  doc {i}: {len(read)} words read, {precision:.3f} of them in the text layer; "
              f"{recall:.3f} of its {len(truth[i])} distinct words read")
        assert precision >= 0.9, (i, precision)
        assert recall >= 0.85, (i, recall)


def test_the_page_is_written_only_when_kept(tmp_path):
    """Without `page` in output.keep, job 1's output has no page column (and no page is
    encoded: pdf_pages_filler_test.cc, EncodesNoPageUnlessAskedTo)."""
    make_pdf(tmp_path / "made.pdf")
    setup_chain(tmp_path, {7: "made.pdf"})
    job = tmp_path / "detect_pdf.yaml"
    job.write_text(job.read_text().replace("keep: [id, path, page_number, page]",
                                           "keep: [id, page_number]"))
    run_ok(tmp_path, "detect_pdf.yaml")
    assert box_columns(tmp_path) == ["id", "page_number", "boxes", "boxes_score"]



def test_pages_of_pdfs_held_as_blobs_are_kept_too(tmp_path):
    """A PDF column of bytes (not paths): the kept pages are PNGs of the pages as rendered."""
    make_pdf(tmp_path / "made.pdf")
    setup_chain(tmp_path, {})
    spec = yaml.safe_load((tmp_path / "detect_pdf.yaml").read_text())
    spec["input"] = {"query": "SELECT 7 AS id, content AS pdf FROM read_blob('made.pdf')",
                     "key": "id"}
    spec["preprocess"][0]["pdf_pages"].update(column="pdf", dpi=72)
    spec["output"]["keep"] = ["id", "page_number", "page"]
    rc, out, err = run("run", write_job(tmp_path / "blob.yaml", spec), cwd=tmp_path, timeout=300)
    assert_not_crashed(rc, err)
    assert rc == 0, err
    pages = kept_pages(tmp_path)
    assert sorted(pages) == [(7, 1), (7, 2)]
    for t, png, boxes in pages.values():
        assert t == "BLOB" and boxes > 0
        assert png_size(png) == (612, 792)  # US letter at 72 dpi
