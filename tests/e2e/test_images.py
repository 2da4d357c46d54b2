"""preprocess: image, end to end: images written by PIL (JPEG, PNG, WebP; RGB,
RGBA, gray and CMYK; still and animated; small and large), listed by relative path in a Parquet file or
carried as BLOBs, decoded, resized and normalised by nightshift and fed to an
identity ONNX model whose output is the input tensor. The reference is the
same pipeline in PIL + numpy (Image.resize with BILINEAR, which is
antialiased when shrinking). Hostile files (truncated, empty, a PNG bomb, a
corrupt JPEG marker, a text file named .jpg, paths that leave the input
folder) must each be a dead letter with its reason.

The measured differences are printed (pytest -s) and recorded in docs/images.md.
"""
import io
import math
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from conftest import (assert_not_crashed, part_files, read_dead_letters, read_part, run, single_key, sql,
                      write_job)

Image = pytest.importorskip("PIL.Image")

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
# Largest allowed |nightshift - reference| in the tensor (normalised units),
# for images decoded at full size. PNG and WebP decode bit-identically, and so
# does JPEG (the same libjpeg-turbo with the same IDCT and upsampling), and the
# resampler reproduces PIL's fixed-point arithmetic: only float rounding in the
# normalisation is left.
TOL_EXACT = 1e-5
# A JPEG much larger than the target is decoded at 1/2, 1/4 or 1/8 in the DCT
# domain (never below 2x the resized size), then resampled: a different, not a
# worse, image than PIL's full decode + resample. Bound on the mean and max
# pixel difference in 0..255 units.
TOL_DCT_MEAN_255, TOL_DCT_MAX_255 = 1.0, 8


def identity_model(path, h, w, c=3, nhwc=False):
    shape = ["N", h, w, c] if nhwc else ["N", c, h, w]
    x = helper.make_tensor_value_info("pixels", TensorProto.FLOAT, shape)
    y = helper.make_tensor_value_info("out", TensorProto.FLOAT, shape)
    graph = helper.make_graph([helper.make_node("Identity", ["pixels"], ["out"])], "identity", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


def gradient(w, h, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 // max(1, w - 1), yy * 255 // max(1, h - 1), (xx * 7 + yy * 13) % 256], -1)
    img = img.astype(np.int32) + rng.integers(-20, 20, size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


# name, format, size (w, h), PIL mode, save options
IMAGES = [
    ("a.jpg", "JPEG", (97, 61), "RGB", {"quality": 90}),
    ("b.png", "PNG", (300, 200), "RGB", {}),
    ("c.png", "PNG", (64, 80), "RGBA", {}),
    ("d.png", "PNG", (50, 50), "L", {}),
    ("e.webp", "WEBP", (120, 90), "RGB", {"lossless": True}),
    ("f.webp", "WEBP", (81, 133), "RGB", {"quality": 80}),
    ("g.jpg", "JPEG", (40, 30), "L", {"quality": 85}),
    ("h.jpg", "JPEG", (200, 150), "RGB", {"quality": 92}),  # under 4x the target: no DCT scaling
]
BIG = ("big.jpg", "JPEG", (1600, 1000), "RGB", {"quality": 92})  # 1/4 scale in the DCT domain


def save(folder, spec, seed):
    name, fmt, (w, h), mode, opts = spec
    arr = gradient(w, h, seed)
    img = Image.fromarray(arr, "RGB")
    if mode == "L":
        img = img.convert("L")
    elif mode == "RGBA":
        alpha = Image.fromarray(((np.arange(w * h).reshape(h, w) * 3) % 256).astype(np.uint8), "L")
        img.putalpha(alpha)
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, fmt, **opts)
    return path


def place(sw, sh, w, h, mode):
    """The C++ Place(): resize size, crop offset (shorter_side), pad offset (letterbox)."""
    rnd = lambda v: int(math.floor(v + 0.5))  # noqa: E731
    if mode == "stretch":
        return (w, h), (0, 0), (0, 0)
    if mode == "shorter_side":
        s = max(w / sw, h / sh)
        rw, rh = max(w, rnd(sw * s)), max(h, rnd(sh * s))
        return (rw, rh), ((rw - w) // 2, (rh - h) // 2), (0, 0)
    s = min(w / sw, h / sh)
    rw, rh = min(w, max(1, rnd(sw * s))), min(h, max(1, rnd(sh * s)))
    return (rw, rh), (0, 0), ((w - rw) // 2, (h - rh) // 2)


def reference(data, w, h, mode, color="rgb", layout="nchw", mean=MEAN, std=STD, draft_gap=None):
    """PIL + numpy; draft_gap: a JPEG decoded at Pillow's draft() scale for
    that reducing gap (as Image.thumbnail does) instead of at full size."""
    img = Image.open(io.BytesIO(data))
    (rw, rh), (cx, cy), (px, py) = place(img.width, img.height, w, h, mode)
    if draft_gap:
        img.draft(img.mode, (rw * draft_gap, rh * draft_gap))
    img = img.convert("L" if color == "gray" else "RGB")
    arr = np.asarray(img.resize((rw, rh), Image.BILINEAR))
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if color == "bgr":
        arr = arr[:, :, ::-1]
    arr = arr[cy:cy + min(h, rh), cx:cx + min(w, rw)]
    mean32, std32 = np.array(mean, np.float32), np.array(std, np.float32)
    norm = (arr.astype(np.float32) / np.float32(255) - mean32) / std32
    out = np.zeros((h, w, arr.shape[2]), np.float32)
    out[py:py + norm.shape[0], px:px + norm.shape[1]] = norm
    return out.transpose(2, 0, 1) if layout == "nchw" else out


def image_job(root, data, size, mode, color="rgb", layout="nchw", column="path", extra_input=None,
              normalise=True, step_extra=None, **extra):
    h, w = size
    step = {"column": column, "into": "pixels", "size": [h, w], "resize": mode, "layout": layout,
            "color": color}
    if color != "gray" and normalise:
        step.update(mean=MEAN, std=STD)
    step.update(step_extra or {})
    job = {
        "name": "images",
        "input": {"path": str(data), "key": "id", **(extra_input or {})},
        "preprocess": [{"image": step}],
        "model": {"path": "identity.onnx", "threads": 1,
                  "inputs": [{"name": "pixels", "columns": ["pixels"]}],
                  "outputs": [{"name": "out", "column": "out"}]},
        "batch": {"size": 4},
        "output": {"path": "out", "keep": ["id", column] if column == "path" else ["id"]},
        "run": {"ledger": "ledger.db"},
        "errors": {"max_failed_items": -1},
    }
    job.update(extra)
    return write_job(root / "job.yaml", job)


def path_table(root, rels):
    data = root / "data" / "in.parquet"
    values = ", ".join(f"({i}, {'NULL' if p is None else repr(str(p))})" for i, p in enumerate(rels))
    sql(f"COPY (SELECT * FROM (VALUES {values}) t(id, path)) TO '{data}' (FORMAT parquet)")
    return data


def outputs(root):
    return {r["id"]: r for p in part_files(root / "out") for r in read_part(p)}


def run_ok(job, root):
    rc, out, err = run("run", job, cwd=root)
    assert_not_crashed(rc, err)
    assert rc == 0, err
    return err


@pytest.mark.parametrize("mode", ["stretch", "shorter_side", "letterbox"])
def test_equals_pil_numpy_reference(tmp_path, mode):
    folder = tmp_path / "data"
    rels = [str(save(folder / "img", spec, i).relative_to(folder)) for i, spec in enumerate(IMAGES)]
    data = path_table(tmp_path, rels)
    h, w = 56, 72
    identity_model(tmp_path / "identity.onnx", h, w)
    run_ok(image_job(tmp_path, data, (h, w), mode), tmp_path)
    got = outputs(tmp_path)
    assert sorted(got) == list(range(len(rels)))
    diffs = []
    for i, rel in enumerate(rels):
        want = reference((folder / rel).read_bytes(), w, h, mode)
        have = np.array(got[i]["out"], np.float32).reshape(want.shape)
        d = np.abs(have - want)
        diffs.append(d)
        assert d.max() <= TOL_EXACT, f"{rel} ({mode}): max diff {d.max()}"
    all_d = np.concatenate([d.ravel() for d in diffs])
    print(f"\n{mode}: {len(rels)} images, max |diff| {all_d.max():.3g}, mean {all_d.mean():.3g} (normalised units)")


@pytest.mark.parametrize("mode", ["stretch", "shorter_side", "letterbox"])
def test_large_jpeg_decoded_in_dct_domain_stays_close(tmp_path, mode):
    folder = tmp_path / "data"
    rel = str(save(folder, BIG, 3).relative_to(folder))
    data = path_table(tmp_path, [rel])
    h, w = 96, 128
    identity_model(tmp_path / "identity.onnx", h, w)
    run_ok(image_job(tmp_path, data, (h, w), mode, normalise=False), tmp_path)
    want = reference((folder / rel).read_bytes(), w, h, mode, mean=[0, 0, 0], std=[1, 1, 1])
    have = np.array(outputs(tmp_path)[0]["out"], np.float32).reshape(want.shape)
    d255 = np.abs(have - want) * 255  # not normalised: x / 255
    print(f"\n{mode} DCT-scaled 1600x1000 JPEG: mean |diff| {d255.mean():.3f}, max {d255.max():.1f} (0..255)")
    assert d255.mean() <= TOL_DCT_MEAN_255 and d255.max() <= TOL_DCT_MAX_255


# `reducing_gap: 1` lets the DCT-domain decode go down to the resized size
# itself (the speed setting of bench/images.py's second job): the resample
# from there is nearly 1:1, so less of the difference is smoothed away.
# Bounds as above, measured in docs/images.md.
TOL_GAP1_MEAN_255, TOL_GAP1_MAX_255 = 3.5, 64
PHOTO = ("photo.jpg", "JPEG", (640, 480), "RGB", {"quality": 90})  # 1/2 scale with gap 1


@pytest.mark.parametrize("gap", [0, 1])
@pytest.mark.parametrize("spec", [BIG, PHOTO], ids=["1600x1000", "640x480"])
def test_reducing_gap_zero_is_exact_and_one_stays_close(tmp_path, gap, spec):
    folder = tmp_path / "data"
    rel = str(save(folder, spec, 5).relative_to(folder))
    data = path_table(tmp_path, [rel])
    h, w = 224, 224
    identity_model(tmp_path / "identity.onnx", h, w)
    job = image_job(tmp_path, data, (h, w), "shorter_side", normalise=False,
                    step_extra={"reducing_gap": gap})
    run_ok(job, tmp_path)
    want = reference((folder / rel).read_bytes(), w, h, "shorter_side", mean=[0, 0, 0], std=[1, 1, 1])
    have = np.array(outputs(tmp_path)[0]["out"], np.float32).reshape(want.shape)
    d255 = np.abs(have - want) * 255
    print(f"\n{spec[0]} -> 224 shorter_side, reducing_gap {gap}: mean |diff| {d255.mean():.3f}, "
          f"max {d255.max():.1f} (0..255)")
    if gap == 0:
        assert d255.max() <= TOL_EXACT * 255
    else:
        assert 0 < d255.mean() <= TOL_GAP1_MEAN_255 and d255.max() <= TOL_GAP1_MAX_255


# The DCT-domain decode is libjpeg's scaled IDCT, which Pillow's draft() also
# asks for: a PIL pipeline that calls draft() with the same reducing gap (as
# Image.thumbnail does, and bench/images.py's draft() peer) gets the same
# bytes. (Pillow picks the scale from floor(width / target), the job from
# ceil(width / scale): they can differ within a few pixels of a boundary.)
@pytest.mark.parametrize("spec,gap,mode", [(BIG, 2, "shorter_side"), (BIG, 1, "shorter_side"),
                                           (BIG, 2, "letterbox"), (PHOTO, 1, "stretch")])
def test_dct_scaled_decode_equals_pillow_draft(tmp_path, spec, gap, mode):
    folder = tmp_path / "data"
    rel = str(save(folder, spec, 7).relative_to(folder))
    data = path_table(tmp_path, [rel])
    h, w = 224, 224
    identity_model(tmp_path / "identity.onnx", h, w)
    run_ok(image_job(tmp_path, data, (h, w), mode, step_extra={"reducing_gap": gap}), tmp_path)
    raw = (folder / rel).read_bytes()
    want = reference(raw, w, h, mode, draft_gap=gap)
    have = np.array(outputs(tmp_path)[0]["out"], np.float32).reshape(want.shape)
    assert np.abs(have - want).max() <= TOL_EXACT
    # and the full-size decode is not what it equals (so the test can fail)
    assert np.abs(have - reference(raw, w, h, mode)).max() > TOL_EXACT


def test_nhwc_bgr_and_blob_column(tmp_path):
    folder = tmp_path / "data"
    paths = [save(folder, spec, i) for i, spec in enumerate(IMAGES[:3])]
    data = folder / "in.parquet"
    hexes = folder / "hex.jsonl"
    hexes.write_text("".join(f'{{"id": {i}, "hex": "{p.read_bytes().hex()}"}}\n' for i, p in enumerate(paths)))
    sql(f"COPY (SELECT id::BIGINT AS id, from_hex(hex) AS img FROM read_json('{hexes}', "
        f"format='newline_delimited')) TO '{data}' (FORMAT parquet)")
    h, w = 32, 40
    identity_model(tmp_path / "identity.onnx", h, w, nhwc=True)
    run_ok(image_job(tmp_path, data, (h, w), "letterbox", color="bgr", layout="nhwc", column="img"), tmp_path)
    got = outputs(tmp_path)
    for i, p in enumerate(paths):
        want = reference(p.read_bytes(), w, h, "letterbox", color="bgr", layout="nhwc")
        have = np.array(got[i]["out"], np.float32).reshape(want.shape)
        assert np.abs(have - want).max() <= TOL_EXACT, p.name


def hostile_files(root):
    """The files of the hostile-input test and the reason each must give."""
    folder = root / "data"
    (folder / "up").mkdir(parents=True)
    good = save(folder / "up", IMAGES[0], 0)
    raw = good.read_bytes()
    (folder / "up" / "truncated.jpg").write_bytes(raw[: len(raw) // 2])
    (folder / "up" / "empty.jpg").write_bytes(b"")
    (folder / "up" / "notes.jpg").write_text("this is a text file, not a photo\n")
    sos = raw.index(b"\xff\xda")
    (folder / "up" / "marker.jpg").write_bytes(raw[:sos + 1] + b"\x01" + raw[sos + 2:])
    # A PNG bomb: a 6 GB image (60000 x 100000) in a few hundred bytes.
    import zlib
    def chunk(kind, body):
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")
    ihdr = (60000).to_bytes(4, "big") + (100000).to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")
    (folder / "up" / "bomb.png").write_bytes(bomb)
    (root / "outside.jpg").write_bytes(raw)
    os.symlink(root / "outside.jpg", folder / "up" / "link.jpg")
    return [
        ("up/a.jpg", None),
        ("up/truncated.jpg", "corrupt or truncated JPEG"),
        ("up/empty.jpg", "empty file (0 bytes)"),
        ("up/notes.jpg", "not a JPEG, PNG or WebP image"),
        ("up/marker.jpg", "corrupt or truncated JPEG"),
        ("up/bomb.png", "60000x100000 = 6000000000 pixels, over the limit of 50000000 (max_pixels)"),
        ("../outside.jpg", "leaves the input folder"),
        ("up/link.jpg", "through a symlink"),
        ("up/missing.jpg", "cannot"),
        (None, "null value in column 'path' (preprocess image into 'pixels')"),
    ]


def print_and_animated_files(folder):
    """A CMYK JPEG (as print work flows write them, Adobe-inverted), a
    larger one (decoded at 1/4 in the DCT domain), and two animated WebPs
    (the second with alpha, its first frame transparent outside one quarter)."""
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(gradient(97, 61, 1), "RGB").convert("CMYK").save(folder / "print.jpg", quality=90)
    Image.fromarray(gradient(1600, 1000, 2), "RGB").convert("CMYK").save(folder / "poster.jpg", quality=90)
    frames = [Image.fromarray(gradient(120, 90, s), "RGB") for s in (3, 4)]
    frames[0].save(folder / "anim.webp", save_all=True, append_images=frames[1:], duration=100, lossless=True)
    rgba = [f.convert("RGBA") for f in frames]
    rgba[0].putalpha(Image.fromarray(((np.arange(90 * 120).reshape(90, 120) * 5) % 256).astype(np.uint8), "L"))
    small = Image.new("RGBA", (120, 90), (0, 0, 0, 0))
    small.paste(rgba[0].crop((0, 0, 60, 45)), (0, 0))
    small.save(folder / "anim_alpha.webp", save_all=True, append_images=rgba[1:], duration=100, lossless=True)
    return ["print.jpg", "poster.jpg", "anim.webp", "anim_alpha.webp"]


# Pillow opens a CMYK JPEG (and converts it to RGB) and an animated WebP
# (its first frame): so does the job, with Pillow's bytes; the large CMYK
# JPEG as Pillow's draft() at the default gap.
@pytest.mark.parametrize("color", ["rgb", "gray"])
def test_cmyk_jpeg_and_animated_webp_equal_pil(tmp_path, color):
    folder = tmp_path / "data"
    names = print_and_animated_files(folder)
    data = path_table(tmp_path, names)
    h, w = 48, 64
    identity_model(tmp_path / "identity.onnx", h, w, c=1 if color == "gray" else 3)
    run_ok(image_job(tmp_path, data, (h, w), "shorter_side", color=color), tmp_path)
    got = outputs(tmp_path)
    assert sorted(got) == list(range(len(names)))
    for i, name in enumerate(names):
        raw = (folder / name).read_bytes()
        mean, std = (MEAN, STD) if color != "gray" else ([0], [1])
        want = reference(raw, w, h, "shorter_side", color=color, mean=mean, std=std,
                         draft_gap=2 if name == "poster.jpg" else None)
        have = np.array(got[i]["out"], np.float32).reshape(want.shape)
        assert np.abs(have - want).max() <= TOL_EXACT, name


def test_hostile_files_are_dead_letters_with_reasons(tmp_path):
    cases = hostile_files(tmp_path)
    data = path_table(tmp_path, [p for p, _ in cases])
    identity_model(tmp_path / "identity.onnx", 24, 24)
    run_ok(image_job(tmp_path, data, (24, 24), "stretch"), tmp_path)
    assert sorted(outputs(tmp_path)) == [0]
    letters = {single_key(d["key"], "id"): d["error"]
               for _, d in read_dead_letters(tmp_path / "out" / "_failed")}
    assert sorted(letters) == list(range(1, len(cases))), letters
    for i, (path, reason) in enumerate(cases):
        if reason is not None:
            assert reason in letters[i], (path, letters[i])
            assert path is None or f"image path '{path}'" in letters[i], (path, letters[i])


def test_allow_outside_lets_relative_paths_leave_the_folder(tmp_path):
    hostile_files(tmp_path)
    data = path_table(tmp_path, ["up/a.jpg", "../outside.jpg", "up/link.jpg"])
    identity_model(tmp_path / "identity.onnx", 24, 24)
    run_ok(image_job(tmp_path, data, (24, 24), "stretch", extra_input={"allow_outside": True}), tmp_path)
    got = outputs(tmp_path)
    assert sorted(got) == [0, 1, 2]
    assert got[0]["out"] == got[1]["out"] == got[2]["out"]  # the same picture three ways


def test_model_shape_mismatch_is_refused_before_reading(tmp_path):
    folder = tmp_path / "data"
    rel = str(save(folder, IMAGES[0], 0).relative_to(folder))
    data = path_table(tmp_path, [rel])
    identity_model(tmp_path / "identity.onnx", 32, 32)
    rc, out, err = run("validate", image_job(tmp_path, data, (24, 24), "stretch"), cwd=tmp_path)
    assert rc == 2, err
    assert "image step 'pixels' makes rows of [3, 24, 24]" in err and "[?, 3, 32, 32]" in err, err


def test_csv_paths_resolve_against_the_csv_folder_and_query_paths_against_the_job(tmp_path):
    folder = tmp_path / "data"
    save(folder / "img", IMAGES[0], 0)
    (folder / "list.csv").write_text("id,path\n0,img/a.jpg\n1,img/missing.jpg\n")
    identity_model(tmp_path / "identity.onnx", 24, 24)
    run_ok(image_job(tmp_path, folder / "list.csv", (24, 24), "stretch"), tmp_path)
    assert sorted(outputs(tmp_path)) == [0]
    want = reference((folder / "img" / "a.jpg").read_bytes(), 24, 24, "stretch")
    np.testing.assert_allclose(np.array(outputs(tmp_path)[0]["out"], np.float32), want.ravel(), atol=TOL_EXACT)
    # A query's paths are relative to the job file's folder.
    job = image_job(tmp_path, folder / "list.csv", (24, 24), "stretch", output={"path": "out2", "keep": ["id"]})
    text = job.read_text().replace(f"path: {folder / 'list.csv'}",
                                   "query: SELECT id, 'data/' || path AS path FROM read_csv('data/list.csv')")
    job.write_text(text)
    run_ok(job, tmp_path)
    rows = {r["id"]: r for p in part_files(tmp_path / "out2") for r in read_part(p)}
    assert sorted(rows) == [0]
    assert rows[0]["out"] == outputs(tmp_path)[0]["out"]
