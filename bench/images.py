"""Images per second of a `preprocess: image` job (decode + shorter_side resize
to 224 + centre crop + ImageNet normalisation, fed to a tiny model that
averages each channel), against (a) a bare TurboJPEG decode loop over the same
files on the same cores (bench/raw_turbojpeg) and (b) a PIL + numpy peer doing
the same steps in one Python process.

    python3 bench/images.py [--n 1000] [--size 640x480] [--threads N] [--repeat 3]
                            [--reducing-gap G]

NIGHTSHIFT_BIN and RAW_TURBOJPEG point at the binaries (default: build/).
Each repeat runs the three contenders back to back, so that load from other
work on the machine hits them alike; prints each repeat's images/s and
ratios, then the medians."""
import argparse
import math
import resource
import os
import statistics
import shutil
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


def make_images(folder, n, w, h):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w]
    paths = []
    for i in range(n):
        base = np.stack([(xx + i * 7) % 256, (yy + i * 3) % 256, (xx + yy) // 4 % 256], -1)
        img = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        p = folder / f"img{i:05d}.jpg"
        Image.fromarray(img).save(p, "JPEG", quality=90)
        paths.append(p)
    return paths


def channel_mean_model(path):
    x = helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["N", 3, 224, 224])
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
    return work


def write_job(work, reducing_gap):
    gap = "" if reducing_gap is None else f", reducing_gap: {reducing_gap}"
    (work / "job.yaml").write_text(f"""name: images-bench
input: {{path: in.parquet, key: id}}
preprocess:
  - image: {{column: path, into: pixels, size: [224, 224], resize: shorter_side,
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


def run_nightshift(work, n):
    shutil.rmtree(work / "out", ignore_errors=True)
    for f in work.glob("ledger.db*"):
        f.unlink()
    start, cpu = time.perf_counter(), children_cpu()
    subprocess.run([BIN, "run", "job.yaml"], check=True, cwd=work, capture_output=True)
    return n / (time.perf_counter() - start), n / (children_cpu() - cpu)


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def pil_numpy(paths):
    start, cpu = time.perf_counter(), time.process_time()
    for p in paths:
        img = Image.open(p).convert("RGB")
        s = max(224 / img.width, 224 / img.height)
        rw, rh = max(224, math.floor(img.width * s + 0.5)), max(224, math.floor(img.height * s + 0.5))
        arr = np.asarray(img.resize((rw, rh), Image.BILINEAR))
        cx, cy = (rw - 224) // 2, (rh - 224) // 2
        arr = arr[cy:cy + 224, cx:cx + 224]
        x = ((arr.astype(np.float32) / np.float32(255) - MEAN) / STD).transpose(2, 0, 1)
        x.mean(axis=(1, 2))
    return len(paths) / (time.perf_counter() - start), len(paths) / (time.process_time() - cpu)


def raw_turbojpeg(paths, threads):
    # Its own figures: the CPU time of its decode loop alone, as its wall time
    # (the files are read before either clock starts).
    out = subprocess.run([RAW, str(threads)] + [str(p) for p in paths], check=True,
                         capture_output=True, text=True).stdout
    wall, cpu = map(float, out.split())
    return wall, cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--reducing-gap", type=int, help="the image step's reducing_gap (default: its own)")
    a = ap.parse_args()
    w, h = map(int, a.size.split("x"))
    gap = "" if a.reducing_gap is None else f", reducing_gap {a.reducing_gap}"
    print(f"{a.n} JPEGs {w}x{h} -> 224x224{gap}, {a.threads} cores. Per repeat, images/s "
          "(and images per CPU second, which load from other work disturbs less):")
    print("  nightshift        raw TurboJPEG     PIL+numpy         ns/raw       ns/PIL")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        paths = make_images(work, a.n, w, h)
        write_input(work, paths)
        write_job(work, a.reducing_gap)
        for _ in range(a.repeat):
            (ns, ns_c), (raw, raw_c) = run_nightshift(work, len(paths)), raw_turbojpeg(paths, a.threads)
            pil, pil_c = pil_numpy(paths)
            rows.append((ns, raw, pil, ns / raw, ns / pil, ns_c, raw_c, pil_c, ns_c / raw_c, ns_c / pil_c))
            print(f"  {ns:6.1f} ({ns_c:5.1f})    {raw:6.1f} ({raw_c:5.1f})    {pil:6.1f} ({pil_c:5.1f})"
                  f"    {ns / raw:4.2f} ({ns_c / raw_c:4.2f})  {ns / pil:4.2f} ({ns_c / pil_c:4.2f})")
    m = [statistics.median(r[i] for r in rows) for i in range(10)]
    print(f"median images/s: nightshift job (decode+resize+normalise+model+write) {m[0]:.1f}, "
          f"raw TurboJPEG decode loop ({a.threads} threads) {m[1]:.1f}, PIL + numpy (1 process) {m[2]:.1f}")
    print(f"median ratios: nightshift / raw TurboJPEG = {m[3]:.2f}; nightshift / PIL+numpy = {m[4]:.2f}")
    print(f"median images per CPU second: {m[5]:.1f}, {m[6]:.1f}, {m[7]:.1f}; "
          f"ratios {m[8]:.2f} and {m[9]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
