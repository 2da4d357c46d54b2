#!/usr/bin/env python3
"""nightshift's benchmark: end-to-end rows/s against the ceiling.

For each model (the demo's light MLP, and a compute-heavy MLP with hidden
width 1024) it runs, on the same machine in one go:
  * nightshift end to end (Parquet in → ONNX Runtime → Parquet out), fresh
    ledger and output each time, timed with /usr/bin/time (wall + peak RSS);
  * the raw loop (bench/raw_onnx.cc): the same model on pre-built tensors,
    same batch size and threads;
and prints medians of --repeat runs and their ratio. Also the peak RSS of
nightshift at 1M and 10M rows. Nothing here asserts a time: it reports.

    bench/run.py [--repeat 5] [--rows 1000000] [--big-rows 10000000]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NS = os.path.join(ROOT, "build/tools/nightshift/nightshift")
RAW = os.path.join(ROOT, "build/bench/raw_onnx")
MAKE_MLP = os.path.join(ROOT, "examples/models/make_mlp.py")
FEATURES = ["tenure", "monthly_charges", "total_charges", "support_calls",
            "contract_months", "late_payments", "data_gb", "age"]


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def make_data(path, rows):
    if os.path.exists(path):
        return
    env = dict(os.environ, ROWS=str(rows), OUT=path, NIGHTSHIFT=NS)
    sh(["bash", os.path.join(ROOT, "examples/churn/make_data.sh")], env=env)


def job_yaml(work, data, model, batch, threads):
    return f"""name: bench
input:
  path: {data}
  key: customer_id
model:
  path: {model}
  threads: {threads}
  inputs:
    - name: features
      columns: [{", ".join(FEATURES)}]
  outputs:
    - name: probabilities
      columns: [p_stay, p_churn]
batch:
  size: {batch}
output:
  path: {work}/out
  keep: [customer_id]
run:
  ledger: {work}/ledger.db
"""


def run_nightshift(data, model, batch, threads, rows):
    work = tempfile.mkdtemp(prefix="ns_bench_")
    try:
        job = os.path.join(work, "job.yaml")
        with open(job, "w") as f:
            f.write(job_yaml(work, data, model, batch, threads))
        t0 = time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-f", "%M", NS, "run", job], capture_output=True, text=True)
        wall = time.monotonic() - t0
        if p.returncode != 0:
            sys.exit(f"nightshift failed: {p.stderr}")
        rss_kb = int(p.stderr.strip().splitlines()[-1])
        return rows / wall, rss_kb / 1024
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_raw(model, batch, threads, rows):
    return float(sh([RAW, model, "--rows", str(rows), "--batch", str(batch), "--threads", str(threads)]).stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--big-rows", type=int, default=10_000_000)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench/results/latest.md"))
    a = ap.parse_args()
    cache = os.path.join(ROOT, "bench/results")
    os.makedirs(cache, exist_ok=True)
    data = os.path.join(cache, f"customers_{a.rows}.parquet")
    big = os.path.join(cache, f"customers_{a.big_rows}.parquet")
    make_data(data, a.rows)
    light = os.path.join(cache, "light.onnx")
    heavy = os.path.join(cache, "heavy.onnx")
    if not os.path.exists(light):
        sh(["/usr/bin/python3", MAKE_MLP, light, "--inputs", "8", "--hidden", "64", "--outputs", "2", "--softmax"])
    if not os.path.exists(heavy):
        sh(["/usr/bin/python3", MAKE_MLP, heavy, "--inputs", "8", "--hidden", "1024", "--layers", "3",
            "--outputs", "2", "--softmax"])

    lines = [f"machine: {os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
             f"batch {a.batch}, threads {a.threads}, medians of {a.repeat} runs", "",
             "| model | rows | nightshift rows/s | raw loop rows/s | ratio | peak RSS MiB |",
             "| --- | --- | --- | --- | --- | --- |"]
    small = os.path.join(cache, f"customers_{a.rows // 20}.parquet")
    make_data(small, a.rows // 20)
    # The heavy model runs ~100x slower per row: it gets 1/20 of the rows.
    for name, model, src, rows in (("light MLP 8-64-64-2", light, data, a.rows),
                                   ("heavy MLP 8-1024x3-2", heavy, small, a.rows // 20)):
        e2e, rss = [], []
        for _ in range(a.repeat):
            r, m = run_nightshift(src, model, a.batch, a.threads, rows)
            e2e.append(r)
            rss.append(m)
        raw = [run_raw(model, a.batch, a.threads, rows) for _ in range(a.repeat)]
        me, mr = statistics.median(e2e), statistics.median(raw)
        lines.append(f"| {name} | {rows:,} | {me:,.0f} | {mr:,.0f} | {me / mr:.2f} | {statistics.median(rss):.0f} |")
        print(lines[-1], flush=True)
    # Memory stays flat with input size: peak RSS at 1M vs big rows.
    make_data(big, a.big_rows)
    r_big, rss_big = run_nightshift(big, light, a.batch, a.threads, a.big_rows)
    r_small, rss_small = run_nightshift(data, light, a.batch, a.threads, a.rows)
    lines += ["", "| rows | nightshift rows/s | peak RSS MiB |", "| --- | --- | --- |",
              f"| {a.rows:,} | {r_small:,.0f} | {rss_small:.0f} |",
              f"| {a.big_rows:,} | {r_big:,.0f} | {rss_big:.0f} |",
              "", f"peak RSS ratio {a.big_rows // a.rows}x rows: {rss_big / rss_small:.2f}"]
    text = "\n".join(lines) + "\n"
    with open(a.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
