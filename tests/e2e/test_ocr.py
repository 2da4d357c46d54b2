"""postprocess: text_boxes and ctc_decode, end to end.

Synthetic part: tiny ONNX models that only reshape their input, so the test
controls the probability map and the per-step class probabilities exactly
and knows the boxes and texts nightshift must write.

Reference part: text_boxes against OpenCV (contours, minAreaRect, fillPoly), pyclipper and
shapely, the libraries PaddleOCR's DBPostProcess is built on (python3-opencv, python3-pyclipper,
python3-shapely), on synthetic maps and on the real detector's maps.

Real part: the PaddleOCR PP-OCRv4 detector and recogniser (fetched by
scripts/bootstrap.sh into third_party/ocr-models). The test renders pages
with known English lines (python3-pil, DejaVu Sans), runs the detector
through nightshift with text_boxes, checks every line has a box over it,
cuts the boxes out in Python, runs the recogniser through nightshift with
ctc_decode and checks the character accuracy against the known text.
Here the normalised image tensors are made in numpy (as PaddleOCR's
DetResizeForTest/NormalizeImage and RecResizeImg do) and fed as list columns
to models given fixed input sizes, so the two postprocess steps are checked
apart from nightshift's preprocessing; test_ocr_jobs.py runs the whole chain
(`image`, `crop`, the models' dynamic dimensions) as examples/ocr does.
The jobs leave model.outputs out: the postprocess steps write the columns.
"""
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import (REPO, assert_not_crashed, edit_distance, iou, part_files, read_part, run, sql,
                      write_job)
from ocr_pages import draw_page

MODELS = REPO / "third_party" / "ocr-models"


def reshape_model(path, in_width, out_shape, out_name):
    """x: float [batch, in_width] -> out_name: x reshaped to [batch, *out_shape], and peak: its
    largest value [batch, 1]."""
    shape = numpy_helper.from_array(np.array([-1, *out_shape], dtype=np.int64), "shape")
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["x", "shape"], [out_name]),
         helper.make_node("ReduceMax", ["x"], ["peak"], axes=[1], keepdims=1)], "reshape",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", in_width])],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, ["batch", *out_shape]),
         helper.make_tensor_value_info("peak", TensorProto.FLOAT, ["batch", 1])], [shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


def write_rows(path, rows):
    """rows: list of dicts {id: int, x: list of floats} -> a Parquet file with x FLOAT[]."""
    tmp = Path(path).with_suffix(".jsonl")
    with open(tmp, "w") as f:
        for r in rows:
            f.write(json.dumps({"id": r["id"], "x": [round(float(v), 5) for v in r["x"]]}) + "\n")
    sql(f"COPY (SELECT id::BIGINT AS id, x::FLOAT[] AS x FROM read_json('{tmp}', "
        f"maximum_object_size=200000000, columns={{id: 'BIGINT', x: 'DOUBLE[]'}})) TO '{path}' (FORMAT parquet)")
    tmp.unlink()


def run_job(root, name, job):
    rc, out, err = run("run", write_job(root / f"{name}.yaml", job), cwd=root, timeout=600)
    assert_not_crashed(rc, err)
    assert rc == 0, err
    rows = [r for p in part_files(root / job["output"]["path"]) for r in read_part(p)]
    return sorted(rows, key=lambda r: r["id"])


def job_of(name, data, model, post, keep=("id",), outputs=()):
    """model.outputs may be left out: the postprocess steps write the columns."""
    model_spec = {"path": str(model), "threads": 2, "inputs": [{"name": "x", "columns": ["x"]}]}
    if outputs:
        model_spec["outputs"] = [{"name": o, "columns": [o]} for o in outputs]
    return {"name": name, "input": {"path": str(data), "key": "id"}, "model": model_spec,
            "postprocess": post, "batch": {"size": 2},
            "output": {"path": f"out_{name}", "keep": list(keep)},
            "run": {"ledger": "ledger.db"}}


# --------------------------------------------------------------------------
# Synthetic maps and probabilities
# --------------------------------------------------------------------------

H, W = 32, 48


def test_text_boxes_writes_each_rows_boxes_and_scores(tmp_path):
    reshape_model(tmp_path / "det.onnx", H * W, [1, H, W], "maps")
    maps = np.zeros((3, H, W), dtype=np.float32)
    maps[0, 4:12, 5:30] = 0.9     # one box
    maps[1, 2:8, 2:20] = 0.8      # two boxes
    maps[1, 20:28, 10:40] = 0.7
    maps[2] = 0.2                 # below threshold everywhere: no box
    write_rows(tmp_path / "maps.parquet", [{"id": i, "x": maps[i].ravel()} for i in range(3)])
    job = job_of("boxes", tmp_path / "maps.parquet", tmp_path / "det.onnx",
                 [{"text_boxes": {"output": "maps", "threshold": 0.3, "box_threshold": 0.6,
                                  "unclip": 1.5, "into": "boxes"}}], outputs=["peak"])
    rows = run_job(tmp_path, "boxes", job)
    assert [r["id"] for r in rows] == [0, 1, 2]

    def expected(x0, y0, x1, y1):  # pixel-centre extents, grown by area*1.5/perimeter
        w, h = x1 - x0, y1 - y0
        d = w * h * 1.5 / (2 * (w + h))
        l, r = max(0, round(x0 - d)), min(W, round(x1 + d))
        t, b = max(0, round(y0 - d)), min(H, round(y1 + d))
        return [l, t, r, t, r, b, l, b]

    assert rows[0]["boxes"] == expected(5, 4, 29, 11)
    assert rows[0]["boxes_score"] == pytest.approx([0.9])
    assert rows[1]["boxes"] == expected(2, 2, 19, 7) + expected(10, 20, 39, 27)
    assert rows[1]["boxes_score"] == pytest.approx([0.8, 0.7])
    assert rows[2]["boxes"] == [] and rows[2]["boxes_score"] == []
    assert [r["peak"] for r in rows] == pytest.approx([0.9, 0.8, 0.2])


T, ALPHABET = 6, ["a", "b", "c", "\u00e9"]


def steps(classes_per_step, p=0.9):
    C = len(ALPHABET) + 2  # blank + alphabet + space
    probs = np.full((T, C), (1 - p) / (C - 1), dtype=np.float32)
    for t, c in enumerate(classes_per_step):
        probs[t, c] = p
    return probs


def test_ctc_decode_writes_text_and_score(tmp_path):
    C = len(ALPHABET) + 2
    reshape_model(tmp_path / "rec.onnx", T * C, [T, C], "probs")
    (tmp_path / "keys.txt").write_text("\n".join(ALPHABET) + "\n", encoding="utf-8")
    probs = [steps([1, 1, 0, 1, 5, 4]),   # a a (blank) a space é -> "aa é"
             steps([0, 0, 0, 0, 0, 0]),   # all blank -> ""
             steps([3, 3, 3, 2, 2, 0], p=0.6)]
    write_rows(tmp_path / "probs.parquet", [{"id": i, "x": p.ravel()} for i, p in enumerate(probs)])
    job = job_of("text", tmp_path / "probs.parquet", tmp_path / "rec.onnx",
                 [{"ctc_decode": {"output": "probs", "alphabet": "keys.txt", "into": "text"}}])
    job["output"]["format"] = "jsonl"
    rows = run_job(tmp_path, "text", job)
    assert [r["text"] for r in rows] == ["aa \u00e9", "", "cb"]
    assert [r["text_score"] for r in rows] == pytest.approx([0.9, 0.0, 0.6])


@pytest.mark.parametrize("fmt", ["csv", "sqlite", "duckdb"])
def test_text_and_box_lists_reach_every_output_format(tmp_path, fmt):
    C = len(ALPHABET) + 2
    reshape_model(tmp_path / "rec.onnx", T * C, [T, C], "probs")
    (tmp_path / "keys.txt").write_text("\n".join(ALPHABET) + "\n", encoding="utf-8")
    probs = [steps([1, 5, 4, 0, 2, 3]), steps([0] * T)]
    write_rows(tmp_path / "probs.parquet", [{"id": i, "x": p.ravel()} for i, p in enumerate(probs)])
    job = job_of("fmt", tmp_path / "probs.parquet", tmp_path / "rec.onnx",
                 [{"ctc_decode": {"output": "probs", "alphabet": "keys.txt", "into": "text"}}])
    if fmt == "csv":
        job["output"]["format"] = "csv"
        rows = run_job(tmp_path, "fmt", job)
        assert rows[0]["text"] == "a \u00e9bc" and rows[1]["text"] in ("", None)  # CSV: empty reads as null
        return
    job["output"] = {"format": fmt, "url": f"out.{fmt}", "table": "lines", "mode": "upsert", "keep": ["id"]}
    rc, out, err = run("run", write_job(tmp_path / "fmt.yaml", job), cwd=tmp_path)
    assert rc == 0, err
    q = "SELECT id, text, text_score FROM lines ORDER BY id"
    if fmt == "sqlite":
        import sqlite3
        con = sqlite3.connect(tmp_path / f"out.{fmt}")
        rows = [list(r) for r in con.execute(q)]
        con.close()
    else:
        import csv
        import io
        rows = list(csv.reader(io.StringIO(sql(f"ATTACH '{tmp_path / 'out.duckdb'}' AS o (READ_ONLY); USE o; {q}"))))[1:]
    assert [r[1] for r in rows] == ["a \u00e9bc", ""]
    assert float(rows[0][2]) == pytest.approx(0.9)


def test_alphabet_that_does_not_fit_the_model_is_refused_before_any_row(tmp_path):
    C = len(ALPHABET) + 2
    reshape_model(tmp_path / "rec.onnx", T * C, [T, C], "probs")
    (tmp_path / "keys.txt").write_text("a\nb\n", encoding="utf-8")
    write_rows(tmp_path / "probs.parquet", [{"id": 0, "x": steps([1] * T).ravel()}])
    job = job_of("bad", tmp_path / "probs.parquet", tmp_path / "rec.onnx",
                 [{"ctc_decode": {"output": "probs", "alphabet": "keys.txt", "into": "text"}}])
    for command in ("validate", "run"):
        rc, out, err = run(command, write_job(tmp_path / "bad.yaml", job), cwd=tmp_path)
        assert rc == 2, err
        assert "postprocess[0].ctc_decode: the model has 6 classes but the alphabet has 2 symbols" in err
    job["postprocess"] = [{"text_boxes": {"output": "peak", "into": "boxes"}}]  # [batch, 1]: no map
    rc, out, err = run("run", write_job(tmp_path / "bad.yaml", job), cwd=tmp_path)
    assert rc == 2, err
    assert "postprocess[0].text_boxes.output 'peak'" in err and "probability map" in err


# --------------------------------------------------------------------------
# The real PaddleOCR models on rendered pages
# --------------------------------------------------------------------------

PAGE_H, PAGE_W = 480, 640
PAGES = [
    ["Invoice 2026-12-02", "Total due: 4,218.50 EUR", "Ship to Berlin 10115", "Thank you for your order"],
    ["The quick brown fox jumps", "over the lazy dog 1234567890", "Nightshift reads documents",
     "Batch 42 finished at 03:15"],
]
REC_H, REC_W = 48, 640


def fixed_input(src, dst, dims):
    """The model with its input's non-batch dimensions fixed to dims."""
    m = onnx.load(str(src))
    for d, v in zip(m.graph.input[0].type.tensor_type.shape.dim[1:], dims):
        d.ClearField("dim_param")
        d.dim_value = v
    onnx.save(m, str(dst))


def render_page(lines, seed, angle=0.0, jpeg_quality=None):
    """The page as RGB and each line's drawn extent (x0, y0, x1, y1); the page is rotated by
    `angle` degrees (counter-clockwise, about its centre) and JPEG-compressed when asked."""
    import io
    from PIL import Image
    img, boxes = draw_page(lines, (PAGE_W, PAGE_H), seed, angle)
    if jpeg_quality:
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=jpeg_quality)
        img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    return np.asarray(img), boxes


def det_tensor(rgb):
    # PaddleOCR: BGR, x/255, minus ImageNet mean over std per channel, CHW.
    bgr = rgb[:, :, ::-1].astype(np.float32) / 255.0
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    return ((bgr - mean) / std).astype(np.float32).transpose(2, 0, 1)


def rec_tensor(rgb, box):
    """The box (tl, tr, br, bl) cut out and straightened (as PaddleOCR's get_rotate_crop_image),
    48 pixels high keeping its aspect ratio, BGR, (x/255 - 0.5)/0.5, padded with 0 on the right."""
    from PIL import Image
    p = np.array(box, dtype=np.float64).reshape(4, 2)
    bw = max(np.linalg.norm(p[1] - p[0]), np.linalg.norm(p[2] - p[3]))
    bh = max(np.linalg.norm(p[3] - p[0]), np.linalg.norm(p[2] - p[1]))
    w = min(REC_W, int(np.ceil(REC_H * bw / bh)))
    quad = (*p[0], *p[3], *p[2], *p[1])  # PIL's QUAD: upper-left, lower-left, lower-right, upper-right
    # Warped at its own size, then resized (PaddleOCR: warpPerspective, then resize to 48 high).
    line = Image.fromarray(rgb).transform((int(round(bw)), int(round(bh))), Image.QUAD, quad,
                                          Image.BICUBIC).resize((w, REC_H), Image.BILINEAR)
    img = np.asarray(line)[:, :, ::-1].astype(np.float32)
    out = np.zeros((3, REC_H, REC_W), dtype=np.float32)
    out[:, :, :w] = ((img / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)
    return out


@pytest.mark.skipif(not (MODELS / "ch_PP-OCRv4_det_infer.onnx").is_file(),
                    reason="run scripts/bootstrap.sh (third_party/ocr-models)")
def test_real_paddleocr_detector_and_recogniser(tmp_path):
    fixed_input(MODELS / "ch_PP-OCRv4_det_infer.onnx", tmp_path / "det.onnx", [3, PAGE_H, PAGE_W])
    fixed_input(MODELS / "ch_PP-OCRv4_rec_infer.onnx", tmp_path / "rec.onnx", [3, REC_H, REC_W])
    pages = [render_page(PAGES[0], 0, jpeg_quality=60), render_page(PAGES[1], 1, angle=4.0)]
    write_rows(tmp_path / "pages.parquet",
               [{"id": i, "x": det_tensor(rgb).ravel()} for i, (rgb, _) in enumerate(pages)])
    det = job_of("det", tmp_path / "pages.parquet", tmp_path / "det.onnx",
                 [{"text_boxes": {"output": "sigmoid_0.tmp_0", "threshold": 0.3, "box_threshold": 0.6,
                                  "unclip": 1.5, "into": "boxes"}}])
    det["batch"]["size"] = 1
    det["model"]["outputs"] = [{"name": "sigmoid_0.tmp_0", "column": "map"}]  # for the reference
    found = run_job(tmp_path, "det", det)
    for row in found:
        prob = np.array(row["map"], dtype=np.float32).reshape(PAGE_H, PAGE_W)
        diffs = match_reference(reference_boxes(prob), row["boxes"], row["boxes_score"])
        print(f"real map: {len(diffs)} boxes as the reference, score differences max {max(diffs):.4f}")
        assert len(diffs) >= 4 and max(diffs) <= 0.03, diffs
    crops, truth = [], []
    for (rgb, line_boxes), row, lines in zip(pages, found, PAGES):
        boxes = [row["boxes"][i:i + 8] for i in range(0, len(row["boxes"]), 8)]
        assert len(boxes) == len(lines), (row["boxes"], line_boxes)
        for text, lb in zip(lines, line_boxes):
            best = max(boxes, key=lambda b: iou(lb, (min(b[0::2]), min(b[1::2]), max(b[0::2]), max(b[1::2]))))
            bb = (min(best[0::2]), min(best[1::2]), max(best[0::2]), max(best[1::2]))
            assert iou(lb, bb) >= 0.4, (text, lb, bb)
            crops.append(rec_tensor(rgb, best))
            truth.append(text)
    write_rows(tmp_path / "crops.parquet", [{"id": i, "x": c.ravel()} for i, c in enumerate(crops)])
    (tmp_path / "keys.txt").write_bytes((MODELS / "ppocr_keys_v1.txt").read_bytes())
    rec = job_of("rec", tmp_path / "crops.parquet", tmp_path / "rec.onnx",
                 [{"ctc_decode": {"output": "softmax_11.tmp_0", "alphabet": "keys.txt", "into": "text"}}])
    rows = run_job(tmp_path, "rec", rec)
    def accuracy(strip):
        pairs = [(r["text"].replace(strip, ""), t.replace(strip, "")) for r, t in zip(rows, truth)]
        return 1 - sum(edit_distance(a, b) for a, b in pairs) / sum(len(b) for _, b in pairs)
    for r, t in zip(rows, truth):
        print(f"  {t!r} -> {r['text']!r} ({r['text_score']:.3f})")
    without_spaces, with_spaces = accuracy(" "), accuracy("\0")
    print(f"OCR character accuracy {without_spaces:.4f} without spaces, {with_spaces:.4f} with")
    # The Chinese PP-OCRv4 recogniser often runs Latin words together (it drops spaces, which
    # it has as a class and sometimes emits); every other character is held to 95%.
    assert without_spaces >= 0.95, [(r["text"], t) for r, t in zip(rows, truth)]
    assert with_spaces >= 0.8, [(r["text"], t) for r, t in zip(rows, truth)]
    assert all(0.5 < r["text_score"] <= 1 for r in rows)


# --------------------------------------------------------------------------
# text_boxes against the reference libraries PaddleOCR's DBPostProcess uses
# --------------------------------------------------------------------------

def reference_boxes(prob, threshold=0.3, box_threshold=0.6, unclip=1.5):
    """DB post-processing with OpenCV contours and rectangles, shapely and pyclipper (the
    libraries PaddleOCR's DBPostProcess builds on), written here from its documented steps."""
    import cv2
    import pyclipper
    from shapely.geometry import Polygon

    def mini_box(points):
        rect = cv2.minAreaRect(points)
        p = sorted(cv2.boxPoints(rect).tolist(), key=lambda q: q[0])
        left = (p[0], p[1]) if p[1][1] > p[0][1] else (p[1], p[0])   # (top, bottom)
        right = (p[2], p[3]) if p[3][1] > p[2][1] else (p[3], p[2])
        return np.array([left[0], right[0], right[1], left[1]]), min(rect[1])

    def mean_inside(box):
        h, w = prob.shape
        x0, x1 = (int(np.clip(f(box[:, 0]), 0, w - 1)) for f in (lambda v: np.floor(v.min()),
                                                                  lambda v: np.ceil(v.max())))
        y0, y1 = (int(np.clip(f(box[:, 1]), 0, h - 1)) for f in (lambda v: np.floor(v.min()),
                                                                  lambda v: np.ceil(v.max())))
        mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), dtype=np.uint8)
        cv2.fillPoly(mask, (box - [x0, y0]).reshape(1, -1, 2).astype(np.int32), 1)
        return cv2.mean(prob[y0:y1 + 1, x0:x1 + 1], mask)[0]

    bitmap = ((prob > threshold) * 255).astype(np.uint8)
    contours, _ = cv2.findContours(bitmap, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = []
    for contour in contours[:1000]:
        box, short = mini_box(contour)
        if short < 3:
            continue
        score = mean_inside(box)
        if score < box_threshold:
            continue
        poly = Polygon(box)
        offset = pyclipper.PyclipperOffset()
        offset.AddPath(box.tolist(), pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
        grown = np.array(offset.Execute(poly.area * unclip / poly.length)).reshape(-1, 1, 2)
        box, short = mini_box(grown.astype(np.float32))
        if short < 5:
            continue
        h, w = prob.shape
        box[:, 0] = np.clip(np.round(box[:, 0]), 0, w)
        box[:, 1] = np.clip(np.round(box[:, 1]), 0, h)
        out.append((box.ravel().tolist(), score))
    return out


def synthetic_maps(n, h, w, seed):
    """Maps with rotated bars of several sizes and strengths, blobs and noise."""
    import cv2
    rng = np.random.default_rng(seed)
    maps = []
    for _ in range(n):
        m = rng.uniform(0, 0.25, size=(h, w)).astype(np.float32)
        for _ in range(int(rng.integers(3, 9))):
            centre = (float(rng.uniform(10, w - 10)), float(rng.uniform(10, h - 10)))
            size = (float(rng.uniform(8, 80)), float(rng.uniform(4, 20)))
            pts = cv2.boxPoints((centre, size, float(rng.uniform(-30, 30)))).astype(np.int32)
            cv2.fillPoly(m, [pts], float(rng.uniform(0.4, 1.0)))
        maps.append(m)
    return maps


def match_reference(found, boxes, scores, tol_px=2.0, box_threshold=0.6, margin=0.03):
    """Every box on either side has one on the other whose corners are within tol_px, except
    boxes scored within `margin` of box_threshold (the scores differ by a few thousandths, so
    either side may keep a borderline box the other drops); returns the score differences."""
    ours = [(boxes[i:i + 8], scores[i // 8]) for i in range(0, len(boxes), 8)]
    diffs = []

    def nearest(box, others):
        return min(others, key=lambda o: np.abs(np.array(o[0]) - box).max(), default=None)

    for ref_box, ref_score in found:
        best = nearest(ref_box, ours)
        if ref_score < box_threshold + margin and (
                best is None or np.abs(np.array(best[0]) - ref_box).max() > tol_px):
            continue
        assert best is not None and np.abs(np.array(best[0]) - ref_box).max() <= tol_px, (ref_box, best)
        diffs.append(abs(best[1] - ref_score))
    for box, score in ours:
        if score >= box_threshold + margin:
            best = nearest(box, found)
            assert best is not None and np.abs(np.array(best[0]) - box).max() <= tol_px, (box, best)
    return diffs


def test_text_boxes_matches_the_reference_libraries_on_synthetic_maps(tmp_path):
    h, w = 96, 128
    maps = synthetic_maps(30, h, w, seed=5)
    reshape_model(tmp_path / "det.onnx", h * w, [1, h, w], "maps")
    write_rows(tmp_path / "maps.parquet", [{"id": i, "x": m.ravel()} for i, m in enumerate(maps)])
    job = job_of("ref", tmp_path / "maps.parquet", tmp_path / "det.onnx",
                 [{"text_boxes": {"output": "maps", "into": "boxes"}}])
    rows = run_job(tmp_path, "ref", job)
    diffs = []
    for m, row in zip(maps, rows):
        ref = reference_boxes(np.round(m, 5))  # the Parquet holds the map rounded to 5 places
        diffs += match_reference(ref, row["boxes"], row["boxes_score"])
    print(f"{len(diffs)} boxes; score differences: median {np.median(diffs):.4f}, max {max(diffs):.4f}")
    assert len(diffs) >= 30
    assert np.median(diffs) <= 0.005 and max(diffs) <= 0.03
