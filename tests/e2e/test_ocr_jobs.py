"""OCR as two chained nightshift jobs (examples/ocr): the real PaddleOCR PP-OCRv4 detector and
recogniser, fed by nightshift's own preprocessing.

Job 1 (examples/ocr/detect.yaml): page images -> `image` step (letterbox into the detector's
640 x 960 input) -> detector -> `text_boxes` (boxes scaled back to each page's own pixels).
Job 2 (examples/ocr/recognise.yaml): job 1's Parquet as it is, one row per page -> `crop`
(fanned out into one row per box with box_index; each cut out, straightened, 48 high, each batch padded to its widest line: the
recogniser's width is dynamic) -> recogniser -> `ctc_decode`.

The pages are rendered here (python3-pil, DejaVu Sans) at sizes other than the detector's
input, with known English lines and numbers; some are rotated by up to 5 degrees, some
JPEG-compressed. Checked: every known line has a box over it (in page pixels), and the
character accuracy of the recognised text against the truth.
"""
import shutil

import pytest

from conftest import (REPO, assert_not_crashed, edit_distance, iou, part_files, read_dead_letters, read_part,
                      run, single_key, write_job)
from ocr_pages import draw_page

MODELS = REPO / "third_party" / "ocr-models"
EXAMPLE = REPO / "examples" / "ocr"

# (lines, page size (w, h), rotation in degrees, JPEG quality or None)
PAGES = [
    (["Invoice 2026-12-02", "Total due: 4,218.50 EUR", "Ship to Berlin 10115",
      "Thank you for your order"], (800, 600), 0.0, None),
    (["The quick brown fox jumps", "over the lazy dog 1234567890", "Nightshift reads documents",
      "Batch 42 finished at 03:15"], (800, 600), 4.0, None),
    (["Meeting room 7 at 14:30", "Order number 889102", "Please reply by Friday",
      "Net weight 12.5 kg"], (1000, 640), 0.0, 60),
    (["Account balance 17,004.09", "Delivered on 2026-11-30", "Reference AB-4471",
      "Keep this receipt"], (760, 620), -3.0, 75),
    (["Room temperature 21.5 C", "Flight LH 2043 boards at gate 12", "Seats 14A and 14B",
      "Have a pleasant trip"], (900, 700), 5.0, 85),
]


def render(lines, size, angle, quality, seed, path):
    """Writes the page; returns each line's drawn extent (x0, y0, x1, y1) in page pixels."""
    img, boxes = draw_page(lines, size, seed, angle, font_size=28, top=50, indent=(30, 90),
                           gap=(110, 130))
    if quality:
        img.save(path, format="JPEG", quality=quality)
    else:
        img.save(path, format="PNG")
    return boxes


def accuracy(pairs):
    """1 - (edit distance / truth length), over all (read, truth) pairs."""
    return 1 - sum(edit_distance(a, b) for a, b in pairs) / sum(len(b) for _, b in pairs)


def extent(box):
    return (min(box[0::2]), min(box[1::2]), max(box[0::2]), max(box[1::2]))


def setup_example(root):
    """The example's two jobs, its models and rendered pages in `root`; returns the truth:
    per page, (line, extent) pairs."""
    for name in ("detect.yaml", "recognise.yaml"):
        shutil.copy(EXAMPLE / name, root / name)
    (root / "models").symlink_to(MODELS)
    (root / "pages").mkdir()
    truth, rows = [], ["id,path"]
    for i, (lines, size, angle, quality) in enumerate(PAGES):
        path = f"pages/page-{i}.{'jpg' if quality else 'png'}"
        truth.append(list(zip(lines, render(lines, size, angle, quality, i, root / path))))
        rows.append(f"{i},{path}")
    (root / "pages.csv").write_text("\n".join(rows) + "\n")
    return truth


def run_ok(root, job):
    rc, out, err = run("run", job, cwd=root, timeout=600)
    assert_not_crashed(rc, err)
    assert rc == 0, err
    return err


def rows_of(outdir):
    return [r for p in part_files(outdir) for r in read_part(p)]


@pytest.mark.skipif(not (MODELS / "ch_PP-OCRv4_det_infer.onnx").is_file(),
                    reason="run scripts/bootstrap.sh (third_party/ocr-models)")
def test_two_chained_jobs_read_rendered_pages(tmp_path):
    truth = setup_example(tmp_path)
    run_ok(tmp_path, "detect.yaml")
    pages = {r["id"]: r for r in rows_of(tmp_path / "out" / "boxes")}
    assert sorted(pages) == list(range(len(PAGES)))
    run_ok(tmp_path, "recognise.yaml")
    lines = rows_of(tmp_path / "out" / "text")
    # One row per box job 1 found, keyed (page, box_index), box_index from 0 on each page.
    assert list(lines[0])[:2] == ["page", "box_index"]
    assert sorted((l["page"], l["box_index"]) for l in lines) == sorted(
        (i, b) for i, p in pages.items() for b in range(len(p["boxes"]) // 8))
    for line in lines:
        b = line["box_index"]
        line["box"] = pages[line["page"]]["boxes"][8 * b:8 * b + 8]
    pairs = []
    for page, known in enumerate(truth):
        found = [l for l in lines if l["page"] == page]
        for text, drawn in known:
            best = max(found, key=lambda l: iou(drawn, extent(l["box"])))
            # Found by the detector, in the page's own pixels (the letterbox undone).
            assert iou(drawn, extent(best["box"])) >= 0.5, (page, text, drawn, best["box"])
            pairs.append((best["text"], text))
            print(f"  {text!r} -> {best['text']!r} ({best['text_score']:.3f})")
    without_spaces = accuracy([(a.replace(" ", ""), b.replace(" ", "")) for a, b in pairs])
    with_spaces = accuracy(pairs)
    print(f"OCR character accuracy: {without_spaces:.4f} without spaces, {with_spaces:.4f} with")
    assert without_spaces >= 0.95, pairs
    assert with_spaces >= 0.95, pairs


def test_crop_dead_letters_bad_boxes_and_pages(tmp_path):
    """A degenerate box, a box outside its page, a missing page and a page that is not an
    image are dead letters with their reasons; the good box beside them is read."""
    if not (MODELS / "ch_PP-OCRv4_rec_infer.onnx").is_file():
        pytest.skip("run scripts/bootstrap.sh (third_party/ocr-models)")
    (tmp_path / "models").symlink_to(MODELS)
    (tmp_path / "pages").mkdir()
    render(["Hello 123"], (400, 120), 0.0, None, 0, tmp_path / "pages" / "p.png")
    (tmp_path / "pages" / "text.png").write_text("not an image")
    good = "[30, 40, 220, 40, 220, 90, 30, 90]"
    boxes = [(0, "pages/p.png", good),
             (1, "pages/p.png", "[10, 10, 10, 10, 10, 10, 10, 10]"),
             (2, "pages/p.png", "[300, 40, 900, 40, 900, 90, 300, 90]"),
             (3, "pages/missing.png", good),
             (4, "pages/text.png", good),
             (5, "pages/p.png", "[1, 2, 3]")]
    values = ", ".join(f"({i}, '{p}', {b}::DOUBLE[])" for i, p, b in boxes)
    job = {"name": "crop", "input": {"query": f"SELECT * FROM (VALUES {values}) t(id, path, box)",
                                     "key": "id"},
           "preprocess": [{"crop": {"image": "path", "boxes": "box", "into": "line"}}],
           "model": {"path": "models/ch_PP-OCRv4_rec_infer.onnx", "threads": 2,
                     "inputs": [{"name": "x", "columns": ["line"]}]},
           "postprocess": [{"ctc_decode": {"output": "softmax_11.tmp_0",
                                           "alphabet": "models/ppocr_keys_v1.txt", "into": "text"}}],
           "batch": {"size": 8}, "output": {"path": "out", "keep": ["id"]},
           "errors": {"max_failed_items": -1},
           "run": {"ledger": "ledger.db"}}
    rc, out, err = run("run", write_job(tmp_path / "crop.yaml", job), cwd=tmp_path, timeout=300)
    assert_not_crashed(rc, err)
    rows = rows_of(tmp_path / "out")
    assert [r["id"] for r in rows] == [0], (rc, err)
    assert rows[0]["text"].replace(" ", "") == "Hello123"
    dead = {single_key(d["key"], "id"): d["error"]
            for _, d in read_dead_letters(tmp_path / "out" / "_failed")}
    assert sorted(dead) == [1, 2, 3, 4, 5], dead
    assert "degenerate" in dead[1]
    assert "outside the 400 x 120 image" in dead[2]
    assert "missing.png" in dead[3]
    assert "text.png" in dead[4]
    assert "8 numbers" in dead[5]


def crop_job(query, boxes="boxes", keep=("id", "box_index")):
    return {"name": "crop", "input": {"query": query, "key": "id"},
            "preprocess": [{"crop": {"image": "path", "boxes": boxes, "into": "line"}}],
            "model": {"path": "models/ch_PP-OCRv4_rec_infer.onnx", "threads": 2,
                      "inputs": [{"name": "x", "columns": ["line"]}]},
            "postprocess": [{"ctc_decode": {"output": "softmax_11.tmp_0",
                                            "alphabet": "models/ppocr_keys_v1.txt", "into": "text"}}],
            "batch": {"size": 2}, "output": {"path": "out", "keep": list(keep)},
            "errors": {"max_failed_items": -1}, "run": {"ledger": "ledger.db"}}


def test_crop_fans_a_list_of_boxes_out_into_one_row_per_box(tmp_path):
    """A page's list of boxes becomes one row per box, keyed (id, box_index) with box_index from
    0; a bad box in a list is one dead letter naming its box_index while the page's other boxes
    are read; an empty list makes no rows; null boxes are the page's dead letter. Flat lists (8
    numbers per box, as text_boxes writes them) and lists of 4 [x, y] points both work."""
    if not (MODELS / "ch_PP-OCRv4_rec_infer.onnx").is_file():
        pytest.skip("run scripts/bootstrap.sh (third_party/ocr-models)")
    (tmp_path / "models").symlink_to(MODELS)
    (tmp_path / "pages").mkdir()
    lines = ["Hello 123", "Order 889102", "Net weight 12.5 kg"]
    drawn = render(lines, (600, 420), 0.0, None, 0, tmp_path / "pages" / "p.png")

    def box(x0, y0, x1, y1, m=6):
        return [x0 - m, y0 - m, x1 + m, y0 - m, x1 + m, y1 + m, x0 - m, y1 + m]
    good = [box(*d) for d in drawn]
    flat = lambda bs: "[" + ", ".join(str(v) for b in bs for v in b) + "]::DOUBLE[]"
    pages = [(0, flat([good[0], [10] * 8, good[2]])),  # box 1 degenerate
             (1, "[]::DOUBLE[]"),                        # no boxes: no rows
             (2, flat([good[1]])),                       # one box of 8 numbers
             (3, "NULL::DOUBLE[]"),                      # null boxes: the page's dead letter
             (4, flat([good[2], good[0], good[1][:5]]))]  # a last box of 5 numbers
    values = ", ".join(f"({i}, 'pages/p.png', {b})" for i, b in pages)
    values += f", (5, NULL, {flat([good[0]])})"  # no page image: its box's dead letter, said so
    job = crop_job(f"SELECT * FROM (VALUES {values}) t(id, path, boxes)")
    rc, out, err = run("run", write_job(tmp_path / "fan.yaml", job), cwd=tmp_path, timeout=300)
    assert_not_crashed(rc, err)
    rows = rows_of(tmp_path / "out")
    assert list(rows[0])[:2] == ["id", "box_index"], rows[0]
    got = [(r["id"], r["box_index"], r["text"].replace(" ", "")) for r in rows]
    # A page's boxes stand or fall together (retry re-reads the page whole): pages 0
    # and 4 each have a bad box, so their good boxes are withheld as dead letters too.
    assert got == [(2, 0, "Order889102")], (got, err)
    dead = [(single_key(d["key"], "id"), d["error"])
            for _, d in read_dead_letters(tmp_path / "out" / "_failed")]
    assert sorted(k for k, _ in dead) == [0, 0, 0, 3, 4, 4, 4, 5], dead
    why = lambda page: [e for k, e in dead if k == page]
    assert any("box_index 1" in e and "degenerate" in e for e in why(0)), why(0)
    assert sorted(e.split(" withheld")[0] for e in why(0) if "withheld" in e) == ["item 0", "item 2"]
    assert "null" in why(3)[0], why(3)
    assert why(5) == ["crop: the image in column 'path' is null or empty (box_index 0)"], why(5)
    assert any("box_index 2" in e and "8 numbers" in e for e in why(4)), why(4)
    assert sorted(e.split(" withheld")[0] for e in why(4) if "withheld" in e) == ["item 0", "item 1"]

    # A list of boxes, each 4 [x, y] points.
    points = lambda b: "[" + ", ".join(f"[{b[k]}, {b[k + 1]}]" for k in range(0, 8, 2)) + "]"
    nested = "[" + ", ".join(points(b) for b in good) + "]::DOUBLE[][][]"
    shutil.rmtree(tmp_path / "out")
    job = crop_job(f"SELECT 7 AS id, 'pages/p.png' AS path, {nested} AS boxes")
    rc, out, err = run("run", write_job(tmp_path / "nested.yaml", job), cwd=tmp_path, timeout=300)
    assert rc == 0, err
    got = [(r["id"], r["box_index"], r["text"].replace(" ", "")) for r in rows_of(tmp_path / "out")]
    assert got == [(7, 0, "Hello123"), (7, 1, "Order889102"), (7, 2, "Netweight12.5kg")], got


def test_crop_steps_that_do_not_fit_are_refused_before_any_row(tmp_path):
    if not (MODELS / "ch_PP-OCRv4_rec_infer.onnx").is_file():
        pytest.skip("run scripts/bootstrap.sh (third_party/ocr-models)")
    (tmp_path / "models").symlink_to(MODELS)

    def job(box_sql, crop):
        return {"name": "crop", "input": {"query": f"SELECT 0 AS id, 'p.png' AS path, {box_sql} AS box",
                                          "key": "id"},
                "preprocess": [{"crop": crop}],
                "model": {"path": "models/ch_PP-OCRv4_rec_infer.onnx",
                          "inputs": [{"name": "x", "columns": ["line"]}],
                          "outputs": [{"name": "softmax_11.tmp_0", "column": "probs"}]},
                "output": {"path": "out"}, "run": {"ledger": "ledger.db"}}

    good = {"image": "path", "boxes": "box", "into": "line"}
    cases = [
        (job("'1 2 3 4 5 6 7 8'", good), "crop step boxes column 'box' in"),
        (job("[1.0, 2, 3, 4, 5, 6, 7, 8]", {**good, "image": "nope"}), "crop step image column 'nope' is not in"),
        (job("[1.0, 2, 3, 4, 5, 6, 7, 8]", {**good, "height": 32}),
         "makes float32 rows of [3, 32, width]"),
        (job("[1.0, 2, 3, 4, 5, 6, 7, 8]", {**good, "height": 2}), "preprocess[0].crop.height"),
        (job("[1.0, 2, 3, 4, 5, 6, 7, 8]", {**good, "size": 3}), "preprocess[0].crop"),
        # (A database output is taken, keyed by input.key and box_index: test_db_items.py.)
    ]
    for spec, message in cases:
        rc, out, err = run("validate", write_job(tmp_path / "bad.yaml", spec), cwd=tmp_path)
        assert rc == 2 and message in err, (message, rc, err)
