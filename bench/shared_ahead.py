#!/usr/bin/env python3
"""Batches ahead with a shared ledger: figure 2's light job (10M rows, batch
4096, shards of 131,072 rows, `threads: 1`) on one PostgreSQL ledger, with 1
and with 2 worker processes, for two binaries (before and after), runs
interleaved (before 1, after 1, before 2, after 2, ...).

    bench/shared_ahead.py --before /work/main/build/tools/nightshift/nightshift \
        [--after build/tools/nightshift/nightshift] [--rows 10000000] [--repeat 3]

A PostgreSQL 15 is started here (the test suite's server: Unix socket only).
Each run gets a fresh ledger database. Wall time runs from the first worker's
start to the last worker's exit; CPU s is user + sys summed over the workers.
Prints one line per run and a table of medians.
"""
import argparse
import os
import shutil
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
sys.path.insert(0, os.path.join(os.path.dirname(BENCH), "tests/e2e"))
import coordination  # noqa: E402  (bench/coordination.py: jobs and worker helpers)
import run as bench  # noqa: E402  (bench/run.py: data, models, helpers)
from pg_fixture import PASSWORD  # noqa: E402


def finish(p):
    """Waits for worker p: (CPU seconds (user + sys), its stage line)."""
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    out, err = p.stdout.read(), p.stderr.read()
    if p.returncode != 0:
        sys.exit(f"worker failed ({p.returncode}): {' '.join(p.args)}\n{out[-2000:]}\n{err[-3000:]}")
    stages = next((ln.strip() for ln in (out + err).splitlines() if "busy" in ln), "")
    return usage.ru_utime + usage.ru_stime, stages


def run_workers(binary, n, job, run_id, env, pg, db):
    """n workers of run_id: (wall s, CPU s of all of them, worker 0's stage line)."""
    argv = [binary, "run", job, "--run-id", run_id, "--workers", str(n)]
    t0 = time.monotonic()
    procs = [coordination.start(argv + ["--worker-index", "0"], env)]
    while n > 1 and not coordination.inputs_recorded(pg, db, run_id):
        if procs[0].poll() is not None:
            break
        time.sleep(0.01)
    procs += [coordination.start(argv + ["--worker-index", str(i)], env) for i in range(1, n)]
    done = [finish(p) for p in procs]
    return time.monotonic() - t0, sum(c for c, _ in done), done[0][1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", default=bench.NS)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", default="1,2")
    a = ap.parse_args()
    cache = os.path.join(BENCH, "results", "cache")
    os.makedirs(cache, exist_ok=True)
    data = bench.make_parquet(os.path.join(cache, f"customers_{a.rows}.parquet"), a.rows)
    light, _, _ = bench.make_models(cache)
    coordination.with_pg_and_work("ns_ahead_", lambda pg, work: measure(a, pg, work, data, light))


def measure(a, pg, work, data, light):
    env = dict(os.environ, **coordination.CLEAN_ENV, PGPASSWORD=PASSWORD)
    sides = {"before": a.before, "after": a.after}
    counts = [int(n) for n in a.workers.split(",")]
    got = {(s, n): [] for s in sides for n in counts}
    for k in range(a.repeat):
        for n in counts:
            for side, binary in sides.items():
                db = f"ahead_{k}_{n}_{side}"
                pg.admin(f"CREATE DATABASE {db} OWNER scorer")
                job = coordination.write_job(os.path.join(work, db), data, light,
                                             pg.url(with_password=False, db=db), 4096, bench.SHARD_ROWS)
                wall, cpu, stages = run_workers(binary, n, job, db, env, pg, db)
                got[(side, n)].append((wall, cpu))
                print(f"  {time.strftime('%H:%M:%S')} repeat {k}: {side}, {n} worker(s): {wall:.2f} s wall, "
                      f"{cpu:.2f} CPU s; worker 0: {stages}", flush=True)
                shutil.rmtree(os.path.join(work, db), ignore_errors=True)
    print(f"\n| {a.rows:,} rows, one PostgreSQL ledger | wall s, median (range) | CPU s, median (range) |")
    print("| --- | --- | --- |")
    for n in counts:
        for side in sides:
            walls = [w for w, _ in got[(side, n)]]
            cpus = [c for _, c in got[(side, n)]]
            print(f"| {side}, {n} worker(s) | **{bench.med(walls):.2f}** ({min(walls):.2f}–{max(walls):.2f}) | "
                  f"**{bench.med(cpus):.2f}** ({min(cpus):.2f}–{max(cpus):.2f}) |")


if __name__ == "__main__":
    main()
