#!/usr/bin/env python3
"""How fast a run gets through many tiny CSV (or JSONL) files (issue 11: each
CSV was sniffed by DuckDB several times, one query each, and each JSONL file
had its column types inferred on every query, so a 10,000-file run spent most
of its time sniffing).

    bench/small_csv_files.py [--files 5000] [--rows 3] [--repeat 1] [--format csv|jsonl] [--bin PATH]

Makes --files CSV (or JSONL) files of --rows rows (id,f0,f1) and a 2-input MLP in a
temporary folder, runs `nightshift run` on the folder (--repeat times, each
from a fresh ledger) and prints files/s by wall clock and by CPU time (user +
sys of the run: steadier than wall time on a shared machine). Reports;
asserts nothing.
"""
import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAKE_MLP = os.path.join(ROOT, "examples/models/make_mlp.py")
PY = "/usr/bin/python3"  # the one with numpy and onnx (scripts/bootstrap.sh)


def make_data(root, files, rows, fmt):
    data = os.path.join(root, "data")
    os.makedirs(data)
    for f in range(files):
        with open(os.path.join(data, f"f{f:06d}.{fmt}"), "w", encoding="utf-8") as out:
            if fmt == "csv":
                out.write("id,f0,f1\n")
            for r in range(rows):
                i = f * rows + r
                f0, f1 = (i % 97) / 97.0, (i % 13) / -13.0
                out.write(f"{i},{f0!r},{f1!r}\n" if fmt == "csv" else
                          f'{{"id": {i}, "f0": {f0!r}, "f1": {f1!r}}}\n')
    subprocess.run([PY, MAKE_MLP, os.path.join(root, "model.onnx"), "--inputs", "2",
                    "--hidden", "8", "--outputs", "2"], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(root, "job.yaml"), "w", encoding="utf-8") as job:
        job.write("""name: small_csv
input: {path: data, key: id}
model:
  backend: onnx
  path: model.onnx
  threads: 1
  inputs: [{name: features, columns: [f0, f1], dtype: float32}]
  outputs: [{name: probabilities, columns: [p0, p1]}]
batch: {size: 1024}
output: {path: out, format: parquet, keep: [id]}
run: {shard_rows: 4096, ledger: ledger.db}
""")


def run_once(root, binary):
    for p in ("out", "ledger.db"):
        path = os.path.join(root, p)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.run([binary, "run", "job.yaml"], cwd=root, capture_output=True, text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"nightshift run failed ({proc.returncode}): {proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--files", type=int, default=5000)
    p.add_argument("--rows", type=int, default=3)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    p.add_argument("--bin", default=os.path.join(ROOT, "build/tools/nightshift/nightshift"))
    args = p.parse_args()
    root = tempfile.mkdtemp(prefix="ns_small_csv_")
    try:
        make_data(root, args.files, args.rows, args.format)
        for _ in range(args.repeat):
            wall, cpu = run_once(root, os.path.abspath(args.bin))
            print(f"{args.files} {args.format} files x {args.rows} rows: wall {wall:.2f} s ({args.files / wall:.0f} "
                  f"files/s), cpu {cpu:.2f} s ({args.files / cpu:.0f} files/cpu-s)", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
