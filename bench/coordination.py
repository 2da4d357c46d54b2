#!/usr/bin/env python3
"""Figure 11: what many workers on one shared PostgreSQL ledger cost.

    bench/coordination.py [--rows 1000000] [--repeat 3] [--sleep-ms 20]

A PostgreSQL 15 is started here (the test suite's server: Unix socket only,
fsync off). Three measurements, each side a median of --repeat runs,
interleaved (1 worker, 4 workers, 1, 4, ...):

  a. speed-up: rows/s of 4 worker processes of one run (`run --worker-index I
     --workers 4`, one PostgreSQL ledger) ÷ rows/s of 1 worker process on the
     same ledger. The model is the light MLP behind the test seam
     NIGHTSHIFT_TEST_BATCH_SLEEP_MS (tools/nightshift/test_batch_sleep.h):
     every batch also sleeps --sleep-ms, a stand-in for a model whose time
     goes to a remote GPU, so that the figure shows coordination (claims,
     leases, commits, run creation, start-up) and not this host's two cores.
     The ideal is 4.0. Wall time runs from the first worker's start to the
     last worker's exit.
  b. ledger throughput: claim+commit pairs per second that one PostgreSQL
     sustains, from the ledger's own test (ns_pg_ledger_test,
     ConcurrentClaimersNeverShareAShard: 400 shards, 8 connections).
  c. peak RSS of one worker (the largest of the 4) ÷ the same job as one
     process with its default SQLite ledger (today's single process).

Until the `workers` branch's fix of the run-creation race is merged, workers
1..3 start once worker 0 has recorded the run's input files (a few tens of
ms, counted in the 4-worker wall time).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
sys.path.insert(0, os.path.join(os.path.dirname(BENCH), "tests/e2e"))
import run as bench  # noqa: E402  (bench/run.py: data, models, helpers)
from pg_fixture import PASSWORD, PgServer  # noqa: E402

PG_TEST = os.path.join(bench.ROOT, "build/src/ledger/ns_pg_ledger_test")
CLEAN_ENV = {k: "" for k in ("JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN",
                             "SLURM_ARRAY_TASK_COUNT", "AWS_BATCH_JOB_ARRAY_INDEX",
                             "AWS_BATCH_JOB_ARRAY_SIZE")}


def write_job(work, data, model, ledger, batch, shard_rows):
    """A job in the fresh folder `work` (output work/out); its ledger is
    `ledger` (a PostgreSQL URL), or work/ledger.db (SQLite) when None."""
    os.makedirs(work)
    text = bench.job_yaml(work, data, model, batch, 1, shard_rows=shard_rows)
    if ledger:
        text = text.replace(f"ledger: {work}/ledger.db", f'ledger: "{ledger}"')
    path = os.path.join(work, "job.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def start(argv, env):
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(p):
    """Waits for p: (exit code, peak RSS MiB, stdout, stderr)."""
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    out, err = p.stdout.read(), p.stderr.read()
    if p.returncode != 0:
        sys.exit(f"worker failed ({p.returncode}): {' '.join(p.args)}\n{out[-2000:]}\n{err[-3000:]}")
    return p.returncode, usage.ru_maxrss / 1024, out, err


def inputs_recorded(pg, db, run_id):
    try:
        rows = pg.query(f"SELECT count(*) FROM nightshift.run_input_files WHERE run_id = '{run_id}'", db=db)
    except AssertionError:  # the ledger's tables are not created yet
        return False
    return int(rows[0][0]) > 0


def run_workers(n, job, run_id, env, pg, db):
    """n workers of run_id: (wall s, [peak RSS MiB])."""
    argv = [bench.NS, "run", job, "--run-id", run_id, "--workers", str(n)]
    t0 = time.monotonic()
    procs = [start(argv + ["--worker-index", "0"], env)]
    while n > 1 and not inputs_recorded(pg, db, run_id):
        if procs[0].poll() is not None:
            break
        time.sleep(0.01)
    procs += [start(argv + ["--worker-index", str(i)], env) for i in range(1, n)]
    results = [finish(p) for p in procs]
    return time.monotonic() - t0, [r[1] for r in results]


def ledger_pairs_per_s(pg, k):
    db = f"ledger_{k}"
    pg.admin(f"CREATE DATABASE {db} OWNER scorer")
    empty = f"ledger_empty_{k}"
    pg.admin(f"CREATE DATABASE {empty} OWNER scorer")
    env = dict(os.environ, NIGHTSHIFT_TEST_PG_URL=pg.url(db=db), NIGHTSHIFT_TEST_PG_EMPTY_URL=pg.url(db=empty),
               NIGHTSHIFT_TEST_PG_PASSWORD=PASSWORD)
    p = subprocess.run([PG_TEST, "--gtest_filter=*ConcurrentClaimersNeverShareAShard*"], env=env,
                       capture_output=True, text=True, timeout=600)
    line = next((ln for ln in p.stdout.splitlines() if "[ measure  ]" in ln), None)
    if p.returncode != 0 or line is None:
        sys.exit(f"{PG_TEST} failed:\n{p.stdout[-3000:]}\n{p.stderr[-2000:]}")
    return float(line.split()[-2])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sleep-ms", type=int, default=20)
    ap.add_argument("--batch", type=int, default=1024)
    # ~61 shards of 16 batches: the last shards leave at most a few batches'
    # time of imbalance between the 4 workers.
    ap.add_argument("--shard-rows", type=int, default=16384)
    a = ap.parse_args()
    cache = os.path.join(BENCH, "results", "cache")
    os.makedirs(cache, exist_ok=True)
    data = bench.make_parquet(os.path.join(cache, f"churn_{a.rows}.parquet"), a.rows)
    light, _, _ = bench.make_models(cache)
    with_pg_and_work("ns_coord_", lambda pg, work: measure(a, pg, work, data, light))


def with_pg_and_work(prefix, fn):
    """fn(pg, work) with a fresh PostgreSQL server and a work folder (in /dev/shm where there is
    one); both are removed afterwards."""
    work = tempfile.mkdtemp(prefix=prefix, dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    pg = PgServer(tempfile.mkdtemp(prefix="ns-pg-"))
    pg.start()
    try:
        fn(pg, work)
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(pg.root, ignore_errors=True)


def measure(a, pg, work, data, light):
    env = dict(os.environ, **CLEAN_ENV, PGPASSWORD=PASSWORD, NIGHTSHIFT_TEST_BATCH_SLEEP_MS=str(a.sleep_ms))
    rates = {1: [], 4: []}
    rss_worker, rss_single, pairs = [], [], []
    for k in range(a.repeat):
        for n in (1, 4):
            db = f"coord_{k}_{n}"
            pg.admin(f"CREATE DATABASE {db} OWNER scorer")
            job = write_job(os.path.join(work, f"pg_{k}_{n}"), data, light, pg.url(with_password=False, db=db),
                            a.batch, a.shard_rows)
            wall, rss = run_workers(n, job, f"coord-{k}-{n}", env, pg, db)
            rates[n].append(a.rows / wall)
            if n == 4:
                rss_worker.append(max(rss))
            print(f"  repeat {k}: {n} worker(s) {wall:.2f} s, {a.rows / wall:,.0f} rows/s, "
                  f"peak RSS {max(rss):.0f} MiB", flush=True)
        single = write_job(os.path.join(work, f"sqlite_{k}"), data, light, None, a.batch, a.shard_rows)
        r = bench.timed([bench.NS, "run", single], env=dict(os.environ, **CLEAN_ENV))
        rss_single.append(r.rss_mib)
        pairs.append(ledger_pairs_per_s(pg, k))
    ratios = [f / o for f, o in zip(rates[4], rates[1])]
    print(f"\n| figure | result |\n| --- | --- |")
    speedup = bench.med(rates[4]) / bench.med(rates[1])
    print(f"| 11a 4 workers ÷ 1 worker, one PostgreSQL ledger, {a.rows:,} rows, {a.sleep_ms} ms sleep per batch "
          f"of {a.batch}, shards of {a.shard_rows:,} rows | **{speedup:.2f}×** (paired {bench.spread(ratios)}; "
          f"{bench.fmt_rate(bench.med(rates[4]))} ÷ {bench.fmt_rate(bench.med(rates[1]))} rows/s) |")
    print(f"| 11b claim+commit pairs/s on one PostgreSQL (8 connections, 400 shards) | "
          f"**{bench.fmt_rate(bench.med(pairs))}** pairs/s ({bench.fmt_rate(2 * bench.med(pairs))} operations/s; "
          f"runs: {', '.join(bench.fmt_rate(p) for p in pairs)}) |")
    print(f"| 11c peak RSS of one worker (largest of 4, PostgreSQL ledger) ÷ one process (SQLite ledger) | "
          f"**{bench.med(rss_worker) / bench.med(rss_single):.2f}** "
          f"({bench.med(rss_worker):.0f} ÷ {bench.med(rss_single):.0f} MiB) |")


if __name__ == "__main__":
    main()
