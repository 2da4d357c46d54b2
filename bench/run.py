#!/usr/bin/env python3
"""nightshift's benchmark suite. One command: bench/run.sh [--quick].

Every figure is a ratio of two things measured in the same invocation, runs
interleaved (A, B, A, B, ...) so that a noisy neighbour hits both sides alike,
each side the median of --repeat runs (default 5). Data and models are made
here, seeded and deterministic, and cached in bench/results/ (git-ignored).
Nothing asserts a time: the suite reports, in bench/results/latest.md.

  1. pipeline efficiency: nightshift end to end (Parquet -> ONNX Runtime ->
     Parquet) ÷ the same model in a bare loop over pre-built tensors
     (build/bench/raw_onnx), same batch size and threads; heavy and light MLP.
  2. I/O ceiling: the light job ÷ DuckDB's own Parquet -> Parquet COPY of the
     same columns (`nightshift sql "COPY ..."`).
  3. peers: the same job on CSV -> CSV by pandas + PyTorch and by Dask +
     PyTorch (the MLP's weights from make_mlp.py --weights).
  4. scaling: rows/s and peak RSS at 1M, 10M, 50M rows.
  5. batch.size auto (probing, and cached in the ledger) ÷ the best fixed size.
  6. failure paths: 1% poison rows (null features) ÷ the clean job; resume
     after a SIGKILL at half the shards (rows reprocessed, time ÷ full run).
  7. profile: where the CPU time of a light run goes (perf, when available).
  8. bucketing: token sequences of long-tailed lengths (8-512) through a small
     encoder; batch.sort_by_length + batch.max_tokens ÷ plain fixed-size
     batches padded to their longest row (issue 4's figure 6).
 10. PostgreSQL sink: the light job into PostgreSQL ÷ `psql \copy` of the
     same rows from CSV, and ÷ pandas DataFrame.to_sql (bench/db_sink.py).

    bench/run.sh [--quick] [--repeat 5] [--only 1,2,...] [--threads 1] [--batch 4096] [--bucket-rows 20480]
"""
import argparse
import glob
import json
import os
import platform
import re
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
MAKE_TOKENS = os.path.join(ROOT, "bench/make_tokens.py")
MAKE_ENCODER = os.path.join(ROOT, "bench/make_encoder.py")
PEERS = os.path.join(ROOT, "bench/peers")
PY = "/usr/bin/python3"
OPENBLAS = "/usr/lib/x86_64-linux-gnu/openblas-pthread"
FEATURES = ["tenure", "monthly_charges", "total_charges", "support_calls",
            "contract_months", "late_payments", "data_gb", "age"]
SHARD_ROWS = 131072
BUCKET_SHARD_ROWS = 10240  # figure 8: shards (= Parquet row groups) of the token data


# ---------------------------------------------------------------- helpers

def sh(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout}\n{p.stderr}")
    return p


def sql(query):
    return sh([NS, "sql", query]).stdout


def sql_row(query):
    """The first data row of a query's CSV output, as ints where possible."""
    lines = sql(query).strip().splitlines()
    vals = lines[1].split(",")
    return [int(v) if re.fullmatch(r"-?\d+", v) else v for v in vals]


class Run:
    def __init__(self, wall, rss_mib, cpu_s, rc, stdout, stderr):
        self.wall, self.rss_mib, self.cpu_s, self.rc, self.stdout, self.stderr = wall, rss_mib, cpu_s, rc, stdout, stderr


def timed(cmd, env=None, ok=(0,)):
    """Runs cmd under /usr/bin/time: wall seconds (ours), peak RSS, CPU time."""
    fd, tf = tempfile.mkstemp(prefix="ns_time_")
    os.close(fd)
    try:
        t0 = time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", tf] + cmd, capture_output=True, text=True,
                           env=env)
        wall = time.monotonic() - t0
        with open(tf) as f:
            last = f.read().strip().splitlines()[-1].split()
    finally:
        os.unlink(tf)
    if ok is not None and p.returncode not in ok:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}")
    return Run(wall, int(last[0]) / 1024, float(last[1]) + float(last[2]), p.returncode, p.stdout, p.stderr)


def med(xs):
    return statistics.median(xs)


def spread(ratios):
    return f"{min(ratios):.2f}–{max(ratios):.2f}" if len(ratios) > 1 else "–"


def fmt_rate(x):
    return f"{x:,.0f}"


def job_yaml(work, data, model, batch, threads, out_format="parquet", max_failed=None, shard_rows=SHARD_ROWS,
             instances=1):
    errors = f"errors:\n  max_failed_items: {max_failed}\n" if max_failed is not None else ""
    return f"""name: bench
input:
  path: {data}
  key: customer_id
model:
  path: {model}
  threads: {threads}
  instances: {instances}
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
  format: {out_format}
  keep: [customer_id]
{errors}run:
  shard_rows: {shard_rows}
  ledger: {work}/ledger.db
"""


class Job:
    """A job file in a fresh work dir; reset() clears its output and ledger."""

    def __init__(self, data, model, batch, threads, **kw):
        self.work = tempfile.mkdtemp(prefix="ns_bench_")
        self.path = os.path.join(self.work, "job.yaml")
        self.out = os.path.join(self.work, "out")
        with open(self.path, "w") as f:
            f.write(job_yaml(self.work, data, model, batch, threads, **kw))

    def reset(self, ledger=True):
        shutil.rmtree(self.out, ignore_errors=True)
        if ledger:
            for p in glob.glob(os.path.join(self.work, "ledger.db*")):
                os.unlink(p)

    def run(self, *args, env=None, ok=(0,), fresh=True):
        if fresh:
            self.reset()
        return timed([NS, "run", self.path, *args], env=env, ok=ok)

    def status(self, *args):
        return json.loads(sh([NS, "status", self.path, "--json", *args]).stdout)

    def close(self):
        shutil.rmtree(self.work, ignore_errors=True)


def rows_in_rerun(stderr):
    """Rows a run processed, from its per-shard 'committed shard' lines."""
    return sum(int(m.replace(",", "")) for m in re.findall(r"committed shard \d+ \(([\d,]+) rows", stderr))


# ---------------------------------------------------------------- data

def make_parquet(path, rows):
    if os.path.exists(path):
        return path
    env = dict(os.environ, ROWS=str(rows), OUT=path, NIGHTSHIFT=NS)
    print(f"  making {rows:,} rows of Parquet -> {path}", flush=True)
    sh(["bash", os.path.join(ROOT, "examples/churn/make_data.sh")], env=env)
    return path


def make_csv(parquet, path):
    if not os.path.exists(path):
        sql(f"COPY (SELECT * FROM '{parquet}') TO '{path}' (HEADER)")
    return path


def make_poison(clean, path):
    """1% poison rows spread evenly: customer_id % 100 == 37 gets a NULL in one
    feature (which one rotates). Same row groups as the clean file."""
    if os.path.exists(path):
        return path
    cols = []
    for i, f in enumerate(FEATURES):
        cols.append(f"CASE WHEN customer_id % 100 = 37 AND (customer_id // 100) % 8 = {i} THEN NULL ELSE {f} END AS {f}")
    sql(f"COPY (SELECT customer_id, {', '.join(cols)} FROM '{clean}') TO '{path}' "
        f"(FORMAT parquet, ROW_GROUP_SIZE {SHARD_ROWS})")
    return path


def make_models(cache):
    light, heavy = os.path.join(cache, "light.onnx"), os.path.join(cache, "heavy.onnx")
    weights = os.path.join(cache, "light.npz")
    if not (os.path.exists(light) and os.path.exists(weights)):
        sh([PY, MAKE_MLP, light, "--inputs", "8", "--hidden", "64", "--outputs", "2", "--softmax",
            "--weights", weights])
    if not os.path.exists(heavy):
        sh([PY, MAKE_MLP, heavy, "--inputs", "8", "--hidden", "1024", "--layers", "3", "--outputs", "2",
            "--softmax"])
    return light, heavy, weights


def ensure_peer_deps():
    """Dask and OpenBLAS from Debian. Installing libopenblas0-pthread switches
    the system's libblas.so.3 alternative; we switch it back and point only the
    peer processes at OpenBLAS (LD_LIBRARY_PATH)."""
    need = []
    if subprocess.run([PY, "-c", "import dask.dataframe, distributed"], capture_output=True).returncode != 0:
        need += ["python3-dask", "python3-distributed"]
    if not os.path.exists(os.path.join(OPENBLAS, "libblas.so.3")):
        need += ["libopenblas0-pthread"]
    if not need:
        return True
    before = {}
    for alt in ("libblas.so.3-x86_64-linux-gnu", "liblapack.so.3-x86_64-linux-gnu"):
        q = subprocess.run(["update-alternatives", "--query", alt], capture_output=True, text=True).stdout
        m = re.search(r"^Value: (.+)$", q, re.M)
        if m:
            before[alt] = m.group(1)
    print(f"  installing {' '.join(need)} (apt)", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    p = subprocess.run(sudo + ["apt-get", "install", "-y", "-q", *need], capture_output=True, text=True,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    if p.returncode != 0:
        print(f"  apt-get failed; skipping the peers:\n{p.stderr[-1000:]}", flush=True)
        return False
    for alt, value in before.items():
        subprocess.run(sudo + ["update-alternatives", "--set", alt, value], capture_output=True)
    return True


# ---------------------------------------------------------------- figures

class Report:
    def __init__(self, path, header):
        self.path, self.lines = path, header

    def add(self, *lines):
        self.lines += list(lines)
        for ln in lines:
            print(ln, flush=True)
        with open(self.path, "w") as f:
            f.write("\n".join(self.lines) + "\n")


def reported_seconds(stdout):
    """The run's own time ("... in S s"): from the start of RunJob to its end,
    so without process start-up (loading ONNX Runtime, DuckDB) and exit."""
    m = re.search(r" in ([\d.]+) s,", stdout)
    return float(m.group(1)) if m else float("nan")


def fig1_efficiency(a, R, light, heavy, data, heavy_data, tiny_data):
    R.add("", "## 1. Pipeline efficiency: end to end ÷ raw model loop",
          f"nightshift Parquet → Parquet vs `raw_onnx` (same model on pre-built tensors), batch {a.batch}, "
          f"threads {a.threads}. 'ratio' uses nightshift's whole-process wall time (start-up, model load and "
          "hashing, planning, ledger, fsyncs, exit); raw_onnx times only its loop. 'in-process' uses the time "
          "nightshift reports itself (RunJob start to end). 'fixed cost' is the wall time of the same job on "
          "1,000 rows less the raw loop's time for 1,000 rows: what a run costs regardless of its size; "
          "'steady' is the ratio with that fixed cost taken out of nightshift's wall time.", "",
          "| model | rows | nightshift rows/s | raw loop rows/s | ratio | range (paired) | in-process ratio | "
          "fixed cost s | steady ratio | peak RSS MiB |",
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    out = {}
    for name, model, src, rows in (("heavy MLP 8-1024x3-2", heavy, heavy_data, a.heavy_rows),
                                   ("light MLP 8-64-64-2", light, data, a.rows)):
        job = Job(src, model, a.batch, a.threads)
        tiny = Job(tiny_data, model, a.batch, a.threads)
        e2e, inproc, raw, rss, fixed, walls = [], [], [], [], [], []
        for _ in range(a.repeat):
            r = job.run()
            e2e.append(rows / r.wall)
            walls.append(r.wall)
            inproc.append(rows / reported_seconds(r.stdout))
            rss.append(r.rss_mib)
            raw.append(float(sh([RAW, model, "--rows", str(rows), "--batch", str(a.batch),
                                 "--threads", str(a.threads)]).stdout))
            fixed.append(tiny.run().wall)
        job.close()
        tiny.close()
        ratio = med(e2e) / med(raw)
        out[name] = ratio
        fixed_s = med(fixed) - 1000 / med(raw)
        steady = rows / (med(walls) - fixed_s) / med(raw)
        R.add(f"| {name} | {rows:,} | {fmt_rate(med(e2e))} | {fmt_rate(med(raw))} | **{ratio:.2f}** | "
              f"{spread([x / y for x, y in zip(e2e, raw)])} | {med(inproc) / med(raw):.2f} | {fixed_s:.2f} | "
              f"{steady:.2f} | {med(rss):.0f} |")
    return out


def fig2_io(a, R, light, cache):
    R.add("", "## 2. I/O ceiling: light job ÷ DuckDB Parquet → Parquet COPY",
          "Both are whole processes on the same file; DuckDB copies `customer_id` + the 8 features "
          "(`nightshift sql \"COPY (SELECT ...) TO ... (FORMAT parquet)\"`, DuckDB's own threads); "
          f"nightshift reads the same columns, scores them (batch {a.batch}, threads {a.threads}) and writes "
          "`customer_id, p_stay, p_churn` in shards. CPU s = user + sys of the process.", "",
          "| rows | nightshift rows/s | DuckDB COPY rows/s | ratio | range (paired) | nightshift CPU s (wall s) | "
          "DuckDB CPU s (wall s) |", "| --- | --- | --- | --- | --- | --- | --- |")
    out = {}
    for rows in a.io_rows:
        data = make_parquet(os.path.join(cache, f"customers_{rows}.parquet"), rows)
        job = Job(data, light, a.batch, a.threads)
        tmp = tempfile.mkdtemp(prefix="ns_copy_")
        q = (f"COPY (SELECT customer_id, {', '.join(FEATURES)} FROM '{data}') TO '{tmp}/out.parquet' "
             "(FORMAT parquet)")
        ns, dk, ns_cpu, dk_cpu = [], [], [], []
        writers = ["--set", f"run.writers={a.writers}"] if a.writers is not None else []
        for _ in range(a.repeat):
            r = job.run(*writers)
            job.reset()
            ns.append(rows / r.wall)
            ns_cpu.append(r.cpu_s)
            r = timed([NS, "sql", q])
            os.unlink(f"{tmp}/out.parquet")
            dk.append(rows / r.wall)
            dk_cpu.append(r.cpu_s)
        job.close()
        shutil.rmtree(tmp, ignore_errors=True)
        out[rows] = med(ns) / med(dk)
        R.add(f"| {rows:,} | {fmt_rate(med(ns))} | {fmt_rate(med(dk))} | **{out[rows]:.2f}** | "
              f"{spread([x / y for x, y in zip(ns, dk)])} | {med(ns_cpu):.2f} ({rows / med(ns):.2f}) | "
              f"{med(dk_cpu):.2f} ({rows / med(dk):.2f}) |")
    return out


def fig3_peers(a, R, light, weights, data, cache):
    R.add("", "## 3. Peers: the same job in Python (CSV in → CSV out)",
          "Debian has no pyarrow, so pandas cannot read Parquet here: every contender reads the same CSV "
          f"({a.peer_rows:,} rows) and writes CSV. The model is the light MLP; in torch its weights come from "
          "`make_mlp.py --weights` (same math, outputs checked against nightshift's). Times are whole processes "
          "(interpreter start and `import torch` included; the column 'excl. imports' removes them from the "
          f"Python side). torch and nightshift use {a.threads} intra-op thread(s); Dask runs its threaded "
          f"scheduler with {os.cpu_count()} workers × 1 torch thread. Debian's torch calls the reference BLAS "
          "(`libblas3`) unless pointed at OpenBLAS: both are shown.", "")
    if not ensure_peer_deps():
        R.add("(skipped: could not install python3-dask / libopenblas0-pthread)")
        return {}
    src = data if a.peer_rows == a.rows else make_parquet(os.path.join(cache, f"customers_{a.peer_rows}.parquet"),
                                                           a.peer_rows)
    csv = make_csv(src, os.path.join(cache, f"customers_{a.peer_rows}.csv"))
    tmp = tempfile.mkdtemp(prefix="ns_peers_")
    job = Job(csv, light, a.batch, a.threads, out_format="csv")
    env_ob = dict(os.environ, LD_LIBRARY_PATH=OPENBLAS, OPENBLAS_NUM_THREADS=str(a.threads))
    env_ref = dict(os.environ, OPENBLAS_NUM_THREADS=str(a.threads))
    env_dask = dict(os.environ, LD_LIBRARY_PATH=OPENBLAS, OPENBLAS_NUM_THREADS="1")
    def pandas_cmd(out):
        return [PY, os.path.join(PEERS, "pandas_torch.py"), csv, weights, f"{tmp}/{out}", "--batch", str(a.batch),
                "--threads", str(a.threads)]

    dask_cmd = [PY, os.path.join(PEERS, "dask_torch.py"), csv, weights, f"{tmp}/dask", "--batch", str(a.batch)]
    contenders = [("pandas + torch (OpenBLAS)", pandas_cmd("pandas_openblas.csv"), env_ob),
                  ("pandas + torch (Debian reference BLAS)", pandas_cmd("pandas_ref.csv"), env_ref),
                  ("Dask + torch (OpenBLAS)", dask_cmd, env_dask)]
    ns, times = [], {c[0]: [] for c in contenders}
    phases = {c[0]: [] for c in contenders}
    splits = {}
    checked = None
    for i in range(a.repeat):
        ns.append(job.run().wall)
        for name, cmd, env in contenders:
            shutil.rmtree(f"{tmp}/dask", ignore_errors=True)
            r = timed(cmd, env=env)
            times[name].append(r.wall)
            ph = json.loads(r.stdout.strip().splitlines()[-1])
            phases[name].append(r.wall - ph["imports"])
            splits.setdefault(name, []).append(ph)
        if checked is None:
            checked = compare_outputs(job.out, [f"{tmp}/pandas_openblas.csv", f"{tmp}/pandas_ref.csv", f"{tmp}/dask"])
    job.close()
    shutil.rmtree(tmp, ignore_errors=True)
    n = a.peer_rows
    R.add(f"outputs agree: max |Δp| between nightshift's output and pandas+OpenBLAS {checked[0]:.1e}, "
          f"pandas+reference BLAS {checked[1]:.1e}, Dask {checked[2]:.1e} (all {checked[3]:,} rows, matched by key)",
          "",
          "| contender | rows/s | nightshift speed-up | range (paired) | speed-up excl. Python imports |",
          "| --- | --- | --- | --- | --- |",
          f"| nightshift CSV → CSV | {fmt_rate(n / med(ns))} | 1 | | |")
    out = {}
    for name, _, _ in contenders:
        sp = med(times[name]) / med(ns)
        out[name] = sp
        R.add(f"| {name} | {fmt_rate(n / med(times[name]))} | **{sp:.1f}×** | "
              f"{spread([t / s for t, s in zip(times[name], ns)])} | {med(phases[name]) / med(ns):.1f}× |")
    R.add("", "Python side, median seconds per phase (after interpreter start):", "",
          "| contender | imports | read | score | write | compute (Dask) |", "| --- | --- | --- | --- | --- | --- |")
    for name, _, _ in contenders:
        ph = splits[name]

        def m(key):
            return f"{med([p[key] for p in ph]):.2f}" if key in ph[0] else ""
        R.add(f"| {name} | {m('imports')} | {m('read')} | {m('score')} | {m('write')} | {m('compute')} |")
    return out


def compare_outputs(ns_out, others):
    import numpy as np
    import pandas as pd

    def load(path):
        files = sorted(glob.glob(os.path.join(path, "part-*.csv"))) if os.path.isdir(path) else [path]
        return pd.concat([pd.read_csv(p) for p in files]).set_index("customer_id").sort_index()

    ref = load(ns_out)
    res = []
    for path in others:
        o = load(path)
        if len(o) != len(ref) or not (o.index == ref.index).all():
            sys.exit(f"{path}: rows differ from nightshift's ({len(o)} vs {len(ref)})")
        res.append(float(np.max(np.abs(o[["p_stay", "p_churn"]].to_numpy() - ref[["p_stay", "p_churn"]].to_numpy()))))
    return (*res, len(ref))


def fig4_scaling(a, R, light, cache):
    R.add("", "## 4. Scaling: the light job at growing input sizes",
          f"batch {a.batch}, threads {a.threads}; peak RSS from `/usr/bin/time -f %M`; median of "
          f"{a.scale_repeat} runs per size, sizes interleaved.", "",
          "| rows | Parquet MiB | nightshift rows/s | wall s | peak RSS MiB | RSS ÷ smallest |",
          "| --- | --- | --- | --- | --- | --- |")
    files = {n: make_parquet(os.path.join(cache, f"customers_{n}.parquet"), n) for n in a.scale_rows}
    jobs = {n: Job(files[n], light, a.batch, a.threads) for n in a.scale_rows}
    rate, rss, wall = {n: [] for n in a.scale_rows}, {n: [] for n in a.scale_rows}, {n: [] for n in a.scale_rows}
    for _ in range(a.scale_repeat):
        for n in a.scale_rows:
            r = jobs[n].run()
            jobs[n].reset()
            rate[n].append(n / r.wall)
            rss[n].append(r.rss_mib)
            wall[n].append(r.wall)
    for j in jobs.values():
        j.close()
    base = med(rss[a.scale_rows[0]])
    for n in a.scale_rows:
        R.add(f"| {n:,} | {os.path.getsize(files[n]) / 2**20:.0f} | {fmt_rate(med(rate[n]))} | {med(wall[n]):.1f} | "
              f"{med(rss[n]):.0f} | **{med(rss[n]) / base:.2f}** |")
    return {n: med(rss[n]) / base for n in a.scale_rows}


def fig5_auto(a, R, heavy, heavy_data):
    sizes = [64, 256, 1024, 4096, 16384]
    R.add("", "## 5. `batch.size: auto` ÷ the best fixed size (heavy model)",
          f"{a.auto_rows:,} rows, threads {a.threads}. 'auto, probing' uses a fresh ledger every run, so the "
          "probe runs each time and its cost is in the time; 'auto, cached' reuses a ledger where an earlier "
          "run stored the choice (new `--run-id` each run).", "",
          "| batch.size | rows/s | ÷ best fixed | chosen size (status --json) |", "| --- | --- | --- | --- |")
    fixed = {s: Job(heavy_data, heavy, s, a.threads) for s in sizes}
    auto_fresh = Job(heavy_data, heavy, "auto", a.threads)
    auto_cached = Job(heavy_data, heavy, "auto", a.threads)
    auto_cached.run()  # stores the choice in its ledger
    rates = {k: [] for k in sizes + ["fresh", "cached"]}
    chosen = {"fresh": [], "cached": []}
    probes = ""
    for i in range(a.repeat):
        for s in sizes:
            rates[s].append(a.auto_rows / fixed[s].run().wall)
        r = auto_fresh.run()
        rates["fresh"].append(a.auto_rows / r.wall)
        chosen["fresh"].append(auto_fresh.status()["batch_size"])
        m = re.search(r"batch\.size auto -> .*", r.stderr)
        probes = m.group(0) if m else probes
        auto_cached.reset(ledger=False)
        r = auto_cached.run("--run-id", f"cached{i}", fresh=False)
        if "cached in the ledger" not in r.stderr:
            sys.exit(f"expected a cached batch size:\n{r.stderr[-2000:]}")
        rates["cached"].append(a.auto_rows / r.wall)
        chosen["cached"].append(auto_cached.status("--run-id", f"cached{i}")["batch_size"])
    for j in list(fixed.values()) + [auto_fresh, auto_cached]:
        j.close()
    best = max(sizes, key=lambda s: med(rates[s]))
    for s in sizes:
        R.add(f"| {s} | {fmt_rate(med(rates[s]))} | {med(rates[s]) / med(rates[best]):.2f} | |")
    out = {}
    for k, label in (("fresh", "auto, probing"), ("cached", "auto, cached")):
        out[k] = med(rates[k]) / med(rates[best])
        R.add(f"| {label} | {fmt_rate(med(rates[k]))} | **{out[k]:.2f}** | "
              f"{', '.join(str(c) for c in chosen[k])} |")
    R.add("", f"best fixed: {best}. Last probe: `{probes}`")
    return out


def fig9_instances(a, R, light, heavy, data, heavy_data):
    """model.instances × model.threads on both models: what to recommend."""
    combos = [(1, 1), (1, 2), (2, 1)]
    R.add("", "## 9. `model.instances` × `model.threads` (recommended settings per workload)",
          "Each workload with the three ways to spend 2 cores on the model: one instance with one thread "
          "(the reader and writer get the other core), one instance with two intra-op threads, two "
          "instances with one thread each. Whole-process wall time; CPU s = user + sys.", "",
          "| workload | instances × threads | rows/s | ÷ 1 × 1 | range (paired) | CPU s | model busy |",
          "| --- | --- | --- | --- | --- | --- | --- |")
    out = {}
    for name, model, src, rows in (("heavy MLP 8-1024x3-2", heavy, heavy_data, a.heavy_rows),
                                   ("light MLP 8-64-64-2", light, data, a.rows)):
        jobs = {c: Job(src, model, a.batch if model == light else 256, c[1], instances=c[0]) for c in combos}
        walls = {c: [] for c in combos}
        cpus = {c: [] for c in combos}
        busy = {c: [] for c in combos}
        for _ in range(a.repeat):
            for c in combos:
                r = jobs[c].run("--json")
                walls[c].append(r.wall)
                cpus[c].append(r.cpu_s)
                busy[c].append(json.loads(r.stdout)["invocation"]["stages"]["model_busy"])
        base = med(walls[(1, 1)])
        for c in combos:
            ratio = base / med(walls[c])
            pairs = [b / w for b, w in zip(walls[(1, 1)], walls[c])]
            out[f"{name} {c[0]}x{c[1]}"] = ratio
            R.add(f"| {name}, {rows:,} rows | {c[0]} × {c[1]} | {fmt_rate(rows / med(walls[c]))} | "
                  f"**{ratio:.2f}** | {spread(pairs)} | {med(cpus[c]):.2f} | {100 * med(busy[c]):.0f}% |")
        for j in jobs.values():
            j.close()
    return out


def fig6_failures(a, R, light, data, cache):
    R.add("", "## 6. Failure paths (light job)")
    poison = make_poison(data, os.path.join(cache, f"customers_{a.rows}_poison.parquet"))
    n_poison = a.rows // 100 + (1 if a.rows % 100 > 37 else 0)
    clean_job = Job(data, light, a.batch, a.threads, max_failed=-1)
    poison_job = Job(poison, light, a.batch, a.threads, max_failed=-1)
    clean, bad = [], []
    check = None
    for _ in range(a.repeat):
        clean.append(clean_job.run().wall)
        bad.append(poison_job.run().wall)
        if check is None:
            check = check_poison(poison_job, a.rows, n_poison)
    poison_job.close()
    ratio = med(bad) / med(clean)
    R.add("", f"### (a) 1% poison rows: {n_poison:,} of {a.rows:,} rows have a NULL feature "
          "(every row with `customer_id % 100 = 37`), `max_failed_items: -1`", "",
          "| job | wall s | ÷ clean | range (paired) |", "| --- | --- | --- | --- |",
          f"| clean | {med(clean):.2f} | 1 | |",
          f"| 1% poison | {med(bad):.2f} | **{ratio:.2f}** | {spread([b / c for b, c in zip(bad, clean)])} |", "",
          f"check: {check}")

    # (b) resume after SIGKILL at half the shards.
    shards = -(-a.rows // SHARD_ROWS)
    k = max(1, shards // 2)
    reproc, rerun, full, committed_rows, counted = [], [], [], [], []
    for _ in range(a.repeat):
        full.append(clean_job.run().wall)
        clean_job.reset()
        kill = clean_job.run(env=dict(os.environ, NIGHTSHIFT_CRASH_AT=f"after_commit:{k}"), ok=None, fresh=False)
        if kill.rc == 0:
            sys.exit("the crash point did not fire")
        st = clean_job.status()
        done = st["counts"]["succeeded"] + st["counts"]["failed"]
        committed_rows.append(done)
        r = clean_job.run(fresh=False)
        rerun.append(r.wall)
        counted.append(rows_in_rerun(r.stderr))
        reproc.append((a.rows - done) / a.rows)
        st = clean_job.status()
        if st["state"] != "completed" or st["counts"]["succeeded"] != a.rows:
            sys.exit(f"resume did not complete: {st}")
        del kill
    n_out = sql_row(f"SELECT count(*), count(DISTINCT customer_id) FROM '{clean_job.out}/part-*.parquet'")
    clean_job.close()
    R.add("", f"### (b) resume after SIGKILL right after shard commit {k} of {shards} "
          f"(`NIGHTSHIFT_CRASH_AT=after_commit:{k}`)", "",
          "| rows committed before the kill | rows the re-run processed | reprocessed ÷ total | re-run wall s | "
          "full run wall s | re-run ÷ full run |", "| --- | --- | --- | --- | --- | --- |",
          f"| {med(committed_rows):,.0f} | {med(counted):,.0f} | **{med(reproc):.3f}** | {med(rerun):.2f} | "
          f"{med(full):.2f} | **{med(rerun) / med(full):.2f}** |", "",
          f"after the resume: {n_out[0]:,} output rows, {n_out[1]:,} distinct keys (expected {a.rows:,} each)")
    return {"poison": ratio, "reprocessed": med(reproc), "rerun": med(rerun) / med(full)}


def check_poison(job, rows, n_poison):
    good, distinct, leaked = sql_row(f"SELECT count(*), count(DISTINCT customer_id), "
                                     f"count(*) FILTER (WHERE customer_id % 100 = 37) "
                                     f"FROM '{job.out}/part-*.parquet'")
    keys = []
    for p in glob.glob(os.path.join(job.out, "_failed", "*.jsonl")):
        with open(p) as f:
            for line in f:
                if line.strip():
                    k = json.loads(line)["key"]
                    while isinstance(k, (dict, list)):
                        k = next(iter(k.values())) if isinstance(k, dict) else k[0]
                    keys.append(int(k))
    with open(os.path.join(job.out, "_SUCCESS")) as f:
        manifest = json.load(f)
    ok = (good == distinct == rows - n_poison and leaked == 0 and len(keys) == len(set(keys)) == n_poison
          and all(k % 100 == 37 for k in keys))
    return (f"{'OK' if ok else 'MISMATCH'}: {good:,} good rows written ({distinct:,} distinct keys, {leaked} poison "
            f"among them), {len(keys):,} dead letters ({len(set(keys)):,} distinct keys, all poison: "
            f"{all(k % 100 == 37 for k in keys)}); _SUCCESS counts {manifest.get('counts')}")


def fig7_profile(a, R, light, cache):
    R.add("", "## 7. Where the CPU time goes (light job, perf)")
    if shutil.which("perf") is None:
        R.add("perf not installed: skipped")
        return
    rows = min(a.rows, 200_000)
    data = make_parquet(os.path.join(cache, f"customers_{rows}.parquet"), rows)
    csv = make_csv(data, os.path.join(cache, f"customers_{rows}.csv"))
    for label, src, fmt in (("Parquet → Parquet", data, "parquet"), ("CSV → CSV", csv, "csv")):
        job = Job(src, light, a.batch, a.threads, out_format=fmt)
        pdata = os.path.join(job.work, "perf.data")
        job.reset()
        p = subprocess.run(["perf", "record", "-e", "cpu-clock", "-F", "4000", "-o", pdata, "--", NS, "run",
                            job.path], capture_output=True, text=True)
        if p.returncode != 0:
            R.add(f"perf record failed: {p.stderr[-300:]}")
            job.close()
            return

        def top(sort, n):
            rep = subprocess.run(["perf", "report", "-i", pdata, "--no-children", "--sort", sort, "--stdio"],
                                 capture_output=True, text=True).stdout
            rows_ = []
            for ln in rep.splitlines():
                m = re.match(r"\s*([\d.]+)%\s+(.*\S)", ln)
                if m and not ln.lstrip().startswith("#"):
                    what = re.sub(r"\s+", " ", m.group(2).replace("[.]", "").replace("[k]", "(kernel)"))
                    rows_.append((float(m.group(1)), re.sub(r"( -)+$", "", what).strip()))
            return rows_[:n]

        R.add("", f"### {label}: {rows:,} rows, batch {a.batch}, threads {a.threads}, "
              "`perf record -e cpu-clock` (all threads)", "",
              "| share of CPU samples | library |", "| --- | --- |")
        for pct, what in top("dso", 8):
            R.add(f"| {pct:.1f}% | {what} |")
        R.add("", "| share | library, function |", "| --- | --- |")
        for pct, what in top("dso,symbol", 12):
            what = re.sub(r"\(.*\)::\{lambda", "(...)::{lambda", what)  # long template signatures
            R.add(f"| {pct:.1f}% | `{what.replace('|', '/')}` |")
        job.close()


def fig8_bucketing(a, R, cache):
    import bucketing
    data = os.path.join(cache, f"tokens_{a.bucket_rows}.parquet")
    if not os.path.exists(data):
        print(f"  making {a.bucket_rows:,} token rows -> {data}", flush=True)
        sh([PY, MAKE_TOKENS, data, "--rows", str(a.bucket_rows), "--row-group", str(BUCKET_SHARD_ROWS),
            "--nightshift", NS])
    model, weights = os.path.join(cache, "encoder.onnx"), os.path.join(cache, "encoder.npz")
    if not (os.path.exists(model) and os.path.exists(weights)):
        sh([PY, MAKE_ENCODER, model, "--weights", weights])
    probe = os.path.join(cache, "encoder_probe.onnx")
    if not os.path.exists(probe):
        sh([PY, MAKE_ENCODER, probe, "--probe"])
    lengths = [int(x) for x in sql(f"SELECT len(tokens) FROM read_parquet('{data}', file_row_number = true) "
                                   "ORDER BY file_row_number").split()[1:]]
    shards = [int(x) for x in sql(f"SELECT row_group_num_rows FROM (SELECT DISTINCT row_group_id, "
                                  f"row_group_num_rows FROM parquet_metadata('{data}')) ORDER BY row_group_id")
              .split()[1:]]
    srt = sorted(lengths)
    q = lambda f: srt[min(len(srt) - 1, int(f * len(srt)))]  # noqa: E731
    plain_rows, budget = 256, 256 * 512
    # name, batch.size, sort_by_length, max_tokens
    variants = [("fixed batches (no bucketing)", plain_rows, False, 0),
                ("sort_by_length + max_tokens", budget // 8, True, budget),
                ("sort_by_length only", plain_rows, True, 0)]
    R.add("", "## 8. Bucketing: sort_by_length + max_tokens ÷ fixed batches (token sequences)",
          f"{a.bucket_rows:,} rows of `id, tokens BIGINT[]` (bench/make_tokens.py: lengths round(exp(N(ln 32, 1))) "
          f"clipped to [8, 512]: mean {sum(lengths) / len(lengths):.1f}, median {q(0.5)}, p90 {q(0.9)}, "
          f"p99 {q(0.99)}, {sum(1 for x in lengths if x == 512)} rows at 512), shards of {BUCKET_SHARD_ROWS:,} rows "
          f"({len(shards)} shard{'s' if len(shards) > 1 else ''}). Model (bench/make_encoder.py): "
          "embedding 8192×128, feed-forward 128→256→128 with ReLU and a residual per token, masked mean "
          "pooling (`mask_of: tokens`), dense head, softmax: "
          f"its work is proportional to rows × padded length. threads {a.threads}. Both bucketing variants have the "
          f"fixed job's worst-case batch, {plain_rows} rows × 512 = {budget:,} padded tokens: `max_tokens: {budget}` "
          f"with `batch.size: {budget // 8}` (= max_tokens ÷ the shortest row, so the row cap never binds first). "
          "Padded tokens and batches are measured: each job is run once more with a probe model "
          "(make_encoder.py --probe) whose output is every row's batch shape, and they are checked against "
          "the lengths cut the way the engine cuts (bench/bucketing.py); efficiency = real ÷ padded tokens. "
          "Speed-up = the fixed job's median wall time ÷ this job's; "
          "the CPU-time speed-up divides median user + sys times, which a busy machine moves less.", "",
          "| job | batch.size | rows/s | wall s | CPU s | peak RSS MiB | batches | padded tokens | efficiency | "
          "speed-up | range (paired) | CPU-time speed-up |",
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    jobs = []
    for _, batch, by_len, mt in variants:
        j = Job(data, model, batch, a.threads)
        with open(j.path, "w") as f:
            f.write(bucketing.job_yaml(j.work, data, model, batch, a.threads, BUCKET_SHARD_ROWS, by_len, mt))
        jobs.append(j)
    walls = [[] for _ in variants]
    cpus = [[] for _ in variants]
    rss = [[] for _ in variants]
    for _ in range(a.repeat):
        for k, j in enumerate(jobs):
            r = j.run()
            walls[k].append(r.wall)
            cpus[k].append(r.cpu_s)
            rss[k].append(r.rss_mib)
    out, measured = {}, []
    for _, batch, by_len, mt in variants:
        j = Job(data, probe, batch, a.threads)
        with open(j.path, "w") as f:
            f.write(bucketing.job_yaml(j.work, data, probe, batch, a.threads, BUCKET_SHARD_ROWS, by_len, mt,
                                       probe=True))
        j.run()
        measured.append(sql_row(f"SELECT sum(seq)::BIGINT, round(sum(1 / rows))::BIGINT, count(*) "
                                f"FROM '{j.out}/part-*.parquet'"))
        j.close()
    for k, (name, batch, by_len, mt) in enumerate(variants):
        real, padded, nb = bucketing.padding(lengths, shards, batch, by_len, mt)
        if measured[k] != [padded, nb, a.bucket_rows]:
            sys.exit(f"{name}: the probe measured (padded tokens, batches, rows) {measured[k]}, the cut "
                     f"in bench/bucketing.py gives {[padded, nb, a.bucket_rows]}: update bucketing.padding")
        speed = med(walls[0]) / med(walls[k])
        out[name] = speed
        R.add(f"| {name} | {batch} | {fmt_rate(a.bucket_rows / med(walls[k]))} | {med(walls[k]):.2f} | "
              f"{med(cpus[k]):.2f} | {med(rss[k]):.0f} | {nb} | {padded:,} | {real / padded:.3f} | "
              f"{'**' if k == 1 else ''}{speed:.2f}×{'**' if k == 1 else ''} | "
              f"{spread([w0 / w for w0, w in zip(walls[0], walls[k])]) if k else ''} | "
              f"{med(cpus[0]) / med(cpus[k]):.2f}× |")
    R.add("", "runs (wall s): " + "; ".join(f"{v[0]}: {', '.join(f'{w:.2f}' for w in walls[k])}"
                                           for k, v in enumerate(variants)))
    # The outputs of the last runs: same rows, same predictions, and a numpy reference on a sample.
    base = f"'{jobs[0].out}/part-*.parquet'"
    checks = []
    for k in (1, 2):
        n, both, dp = sql_row(f"SELECT count(*), count(a.id) FILTER (WHERE b.id IS NOT NULL), "
                              f"max(greatest(abs(a.p0 - b.p0), abs(a.p1 - b.p1))) FROM {base} a "
                              f"FULL JOIN '{jobs[k].out}/part-*.parquet' b USING (id)")
        dp = float(dp)
        ok = n == both == a.bucket_rows and dp <= 1e-5
        checks.append(f"{variants[k][0]} vs fixed: {'OK' if ok else 'MISMATCH'}, {both:,} of {n:,} rows in both, "
                      f"max |Δp| {dp:.1e}")
        out[f"check{k}"] = ok
    sample = os.path.join(jobs[1].work, "sample.jsonl")
    sql(f"COPY (SELECT t.id, t.tokens, o.p0, o.p1 FROM '{data}' t JOIN '{jobs[1].out}/part-*.parquet' o "
        f"USING (id) WHERE t.id % 97 = 0 OR len(t.tokens) >= {q(0.999)}) TO '{sample}' (FORMAT json)")
    err, n = bucketing.reference_error(sample, weights)
    checks.append(f"bucketed vs numpy (float64) on {n} rows (every 97th id and the longest): max |Δp| {err:.1e}")
    for j in jobs:
        j.close()
    R.add("", "check: " + "; ".join(checks))
    return out


# ---------------------------------------------------------------- main

def snapshot_binaries():
    """Runs a private copy of the binaries (their RUNPATH is absolute), so that
    a rebuild of build/ during a long run cannot swap or break them mid-way."""
    global NS, RAW
    snap = tempfile.mkdtemp(prefix="ns_bench_bin_")
    for name, exe in (("nightshift", NS), ("raw_onnx", RAW)):
        for attempt in range(30):  # a concurrent link may be writing it right now
            if os.access(exe, os.X_OK) and subprocess.run([exe, "--version"] if name == "nightshift" else
                                                          ["true"], capture_output=True).returncode == 0:
                break
            time.sleep(2)
        else:
            sys.exit(f"missing or broken {exe}: build first (make build)")
        shutil.copy2(exe, os.path.join(snap, name))
    NS, RAW = os.path.join(snap, "nightshift"), os.path.join(snap, "raw_onnx")
    import atexit
    atexit.register(shutil.rmtree, snap, True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a few-minute smoke run: small inputs, 3 repeats, no 50M")
    ap.add_argument("--repeat", type=int, help="runs per measurement (median); default 5, 3 with --quick")
    ap.add_argument("--scale-repeat", type=int, help="runs per size in figure 4; default --repeat")
    ap.add_argument("--rows", type=int, help="rows of the light job (default 1M; 200k with --quick)")
    ap.add_argument("--heavy-rows", type=int, help="rows of the heavy job (default 50k; 10k with --quick)")
    ap.add_argument("--auto-rows", type=int,
                    help="rows of figure 5's heavy job (default 250k, a ~13 s job here, so the probe's fixed "
                         "~0.3 s is amortised as in a real batch job; 10k with --quick)")
    ap.add_argument("--io-rows", help="comma-separated sizes for figure 2 (default --rows,10M; quick --rows)")
    ap.add_argument("--peer-rows", type=int, help="rows for the peers (default --rows)")
    ap.add_argument("--scale-rows", help="comma-separated sizes for figure 4 (default 1M,10M,50M; quick 200k,1M)")
    ap.add_argument("--bucket-rows", type=int, help="token rows of figure 8 (default 20480; 10240 with --quick)")
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--writers", type=int, help="run.writers of figure 2's job (default: the job's own, 0 = choose)")
    ap.add_argument("--only", help="comma-separated figure numbers (1-10)")
    ap.add_argument("--pg-rows", type=int, help="rows of figure 10 (default 200k; 50k with --quick)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench/results/latest.md"))
    a = ap.parse_args()
    q = a.quick
    a.repeat = a.repeat or (3 if q else 5)
    a.scale_repeat = a.scale_repeat or a.repeat
    a.rows = a.rows or (200_000 if q else 1_000_000)
    a.heavy_rows = a.heavy_rows or (10_000 if q else 50_000)
    a.auto_rows = a.auto_rows or (10_000 if q else 250_000)
    a.peer_rows = a.peer_rows or a.rows
    a.bucket_rows = a.bucket_rows or (10_240 if q else 20_480)
    a.io_rows = [int(x) for x in a.io_rows.split(",")] if a.io_rows else ([a.rows] if q else [a.rows, 10_000_000])
    a.scale_rows = [int(x) for x in (a.scale_rows or ("200000,1000000" if q else "1000000,10000000,50000000"))
                    .split(",")]
    a.pg_rows = a.pg_rows or (50_000 if q else 200_000)
    only = set(int(x) for x in a.only.split(",")) if a.only else set(range(1, 11))
    snapshot_binaries()

    cache = os.path.join(ROOT, "bench/results")
    os.makedirs(cache, exist_ok=True)
    light = heavy = weights = data = heavy_data = None
    if only & {1, 2, 3, 4, 5, 6, 7, 9, 10}:  # figure 8 makes its own data and model
        light, heavy, weights = make_models(cache)
        data = make_parquet(os.path.join(cache, f"customers_{a.rows}.parquet"), a.rows)
        heavy_data = make_parquet(os.path.join(cache, f"customers_{a.heavy_rows}.parquet"), a.heavy_rows)

    cpu = "?"
    try:
        cpu = re.search(r"Model name:\s*(.*)", sh(["lscpu"]).stdout).group(1).strip()
    except Exception:
        pass
    load = os.getloadavg()[0]
    version = sh([NS, "--version"]).stdout.strip()
    built = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(os.path.getmtime(NS)))
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    R = Report(a.out, [
        "# nightshift benchmark results", "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {version} (HEAD {commit}, binary built "
        f"{built}; the working tree may hold uncommitted changes)",
        f"- machine: {os.cpu_count()} cores (nproc), {cpu}, {platform.machine()}, "
        f"load average at start {load:.1f}",
        f"- {'QUICK smoke run; ' if q else ''}medians of {a.repeat} interleaved runs; batch {a.batch}, "
        f"threads {a.threads} unless a figure says otherwise"])
    t0 = time.monotonic()
    summary = []
    if 1 in only:
        r = fig1_efficiency(a, R, light, heavy, data, heavy_data,
                            make_parquet(os.path.join(cache, "customers_1000.parquet"), 1000))
        summary += [f"pipeline efficiency, {k}: {v:.2f}" for k, v in r.items()]
    if 2 in only:
        r = fig2_io(a, R, light, cache)
        summary += [f"I/O ceiling (÷ DuckDB COPY) at {k:,} rows: {v:.2f}" for k, v in r.items()]
    if 3 in only:
        r = fig3_peers(a, R, light, weights, data, cache)
        summary += [f"speed-up over {k}: {v:.1f}×" for k, v in r.items()]
    if 6 in only:
        r = fig6_failures(a, R, light, data, cache)
        summary += [f"1% poison ÷ clean: {r['poison']:.2f}", f"resume: reprocessed {r['reprocessed']:.3f} of rows, "
                    f"re-run ÷ full run {r['rerun']:.2f}"]
    if 9 in only:
        r = fig9_instances(a, R, light, heavy, data, heavy_data)
        summary += [f"instances x threads ÷ 1x1, {k}: {v:.2f}" for k, v in r.items()]
    if 5 in only:
        r = fig5_auto(a, R, heavy, make_parquet(os.path.join(cache, f"customers_{a.auto_rows}.parquet"),
                                                a.auto_rows))
        summary += [f"auto ÷ best fixed: probing {r['fresh']:.2f}, cached {r['cached']:.2f}"]
    if 4 in only:
        r = fig4_scaling(a, R, light, cache)
        n0, n1 = a.scale_rows[0], a.scale_rows[-1]
        summary.append(f"peak RSS {n1:,} ÷ {n0:,} rows: {r[n1]:.2f}")
    if 8 in only:
        r = fig8_bucketing(a, R, cache)
        summary.append(f"bucketing (sort_by_length + max_tokens ÷ fixed batches): "
                       f"{r['sort_by_length + max_tokens']:.2f}×; sort_by_length only: "
                       f"{r['sort_by_length only']:.2f}×; outputs equal: {r['check1'] and r['check2']}")
    if 10 in only:
        from db_sink import fig10_postgres
        r = fig10_postgres(a, R, light, make_parquet(os.path.join(cache, f"customers_{a.pg_rows}.parquet"),
                                                     a.pg_rows), a.pg_rows, NS, PY, timed, sh, med, spread, fmt_rate)
        summary.append(f"PostgreSQL sink ÷ psql \\copy: {r['copy']:.2f}; ÷ pandas to_sql: {r['pandas']:.1f}×")
    if 7 in only:
        fig7_profile(a, R, light, cache)
    R.add("", "## Summary", *[f"- {s}" for s in summary], "",
          f"suite wall time {time.monotonic() - t0:.0f} s; load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
