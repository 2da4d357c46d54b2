"""OCR pages per second end to end: examples/ocr's two chained jobs (detect.yaml, then
recognise.yaml over its output) on rendered pages, with where the time goes.

    python3 bench/ocr_pages.py [--pages 20] [--lines 12] [--repeat 3]

Stages, from each run's own figures (`run --json`: reader, model and writer busy seconds):
  read/decode  job 1's reader: read each page, decode, letterbox, normalise
  det          job 1's model calls less `post` (below)
  post         text_boxes: job 1's model seconds less those of the same job with threshold 1.0
               (no text pixel, so no region to trace)
  crop         job 2's reader: the query, each page decoded once per batch, boxes cut out
  rec          job 2's model calls and ctc_decode
  write        both jobs' writers
Fractions are of the sum of the stages; pages/s is pages over both processes' wall time.
Medians of --repeat runs. The PaddleOCR models come from scripts/bootstrap.sh.
NIGHTSHIFT_BIN points at the binary (default: build/)."""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parents[1]
BIN = os.environ.get("NIGHTSHIFT_BIN", str(REPO / "build/tools/nightshift/nightshift"))
EXAMPLE = REPO / "examples" / "ocr"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
WORDS = ("invoice total due amount order number account balance delivered reference ship to "
         "berlin please reply by friday meeting room keep this receipt net weight flight gate "
         "seats boards at the quick brown fox jumps over lazy dog").split()


def make_pages(root, n, lines):
    rng = np.random.default_rng(0)
    font = ImageFont.truetype(FONT, 28)
    (root / "pages").mkdir()
    rows = ["id,path"]
    for i in range(n):
        img = Image.new("RGB", (1000, 80 + 90 * lines), "white")
        draw = ImageDraw.Draw(img)
        for k in range(lines):
            words = [str(rng.integers(10, 99999)) if rng.random() < 0.25 else str(rng.choice(WORDS))
                     for _ in range(int(rng.integers(3, 7)))]
            draw.text((40, 40 + 90 * k), " ".join(words), fill="black", font=font)
        path = f"pages/page-{i:04d}.jpg"
        img.save(root / path, quality=85)
        rows.append(f"{i},{path}")
    (root / "pages.csv").write_text("\n".join(rows) + "\n")


def run_job(root, job):
    t0 = time.perf_counter()
    p = subprocess.run([BIN, "run", "--json", job], cwd=root, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"{job}: exit {p.returncode}: {p.stderr}")
    stages = json.loads(p.stdout)["invocation"]["stages"]
    return wall, stages


def one_round(root):
    for d in ("out", ".nightshift"):
        shutil.rmtree(root / d, ignore_errors=True)
    w1, s1 = run_job(root, "detect.yaml")
    w2, s2 = run_job(root, "recognise.yaml")
    shutil.rmtree(root / "out", ignore_errors=True)
    shutil.rmtree(root / ".nightshift", ignore_errors=True)
    _, s0 = run_job(root, "detect_nopost.yaml")
    post = max(0.0, s1["model_s"] - s0["model_s"])
    return w1 + w2, {"read/decode": s1["read_s"], "det": s1["model_s"] - post, "post": post,
                     "crop": s2["read_s"], "rec": s2["model_s"], "write": s1["write_s"] + s2["write_s"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--lines", type=int, default=12)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in ("detect.yaml", "recognise.yaml"):
            shutil.copy(EXAMPLE / name, root / name)
        text = (root / "detect.yaml").read_text()
        (root / "detect_nopost.yaml").write_text(text.replace("threshold: 0.3,", "threshold: 1.0,"))
        (root / "models").symlink_to(REPO / "third_party" / "ocr-models")
        make_pages(root, args.pages, args.lines)
        rounds = [one_round(root) for _ in range(args.repeat)]
    wall = statistics.median(w for w, _ in rounds)
    stages = {k: statistics.median(s[k] for _, s in rounds) for k in rounds[0][1]}
    total = sum(stages.values())
    print(f"{args.pages} pages x {args.lines} lines: {args.pages / wall:.2f} pages/s "
          f"({wall:.2f} s for both jobs, median of {args.repeat})")
    for k, v in stages.items():
        print(f"  {k:12s} {v:7.2f} s  {100 * v / total:5.1f}%")


if __name__ == "__main__":
    main()
