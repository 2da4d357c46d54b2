#!/usr/bin/env python3
"""A file trigger on a folder of many small files: how soon the scheduler
takes them and starts the run, how long the run takes, and the scheduler's
peak memory (issue 12: "a file trigger on a folder with 10,000 files starts
promptly and uses bounded memory").

    bench/trigger_files.py [--files 1000,10000] [--rows-per-file 2] [--settle 1]

For each count N: N CSV files of --rows-per-file rows land in incoming/
before `nightshift schedule` starts (the worst case: one listing finds them
all); the trigger (settle --settle s, inotify) takes them into one run. Times
are from the scheduler's start to its log lines: every file seen, the run
started (`starting run ... on N file(s)`), the run completed. Peak RSS is the
scheduler process's VmHWM (/proc/PID/status) once the run completed; the
runs are threads of that process, so it includes the run. Prints one line
per N and a Markdown table.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
import yaml  # noqa: E402
from conftest import Case  # noqa: E402  (seeded data and an ONNX MLP)

BIN = Path(os.environ.get("NIGHTSHIFT_BIN", ROOT / "build/tools/nightshift/nightshift"))


def vm_hwm_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(files, rows_per_file, settle, work):
    case = Case(work, n=files * rows_per_file, seed=5)
    incoming = case.root / "incoming"
    incoming.mkdir()
    for k in range(files):
        case.write_csv(incoming / f"f{k:05d}.csv", range(k * rows_per_file, (k + 1) * rows_per_file))
    job = case.job("unused", out_format="jsonl", out_path="out/{run_id}")
    del job["input"]["path"]
    job["trigger"] = {"watch": "incoming/*.csv", "settle": f"{settle}s"}
    path = case.root / "job.yaml"
    path.write_text(yaml.safe_dump(job, sort_keys=False))
    marks = {}
    t0 = time.monotonic()
    proc = subprocess.Popen([str(BIN), "schedule", str(path)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, cwd=case.root)
    seen = 0

    def read():
        nonlocal seen
        for line in proc.stderr:
            now = time.monotonic() - t0
            if "file seen:" in line:
                seen += 1
                if seen == files:
                    marks["all_seen"] = now
            elif re.search(rf"starting run \S+ on {files} file", line):
                marks["started"] = now
            elif re.search(r"run \S+ completed", line):
                marks["completed"] = now
            elif re.search(r"run \S+ (failed|could not start)", line):
                marks["failed"] = line.strip()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    while "completed" not in marks and "failed" not in marks and proc.poll() is None:
        if "started" in marks and "rss_at_start" not in marks:
            marks["rss_at_start"] = vm_hwm_mib(proc.pid)  # the trigger's share, before the run plans
        time.sleep(0.05)
    peak = vm_hwm_mib(proc.pid) if proc.poll() is None else float("nan")
    proc.terminate()
    proc.wait(timeout=60)
    if "failed" in marks:
        raise SystemExit(f"{files} files: {marks['failed']}")
    marks["restart"], marks["rss_restart"] = restart(path, files, case.root)
    return marks, peak


def restart(path, files, cwd):
    """A second scheduler on the same folder, every file already held by the
    completed run: seconds until it says so, and its peak RSS then."""
    t0 = time.monotonic()
    proc = subprocess.Popen([str(BIN), "schedule", str(path)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, cwd=cwd)
    for line in proc.stderr:
        if f"{files} file(s) matching" in line and "already taken" in line:
            break
    took = time.monotonic() - t0
    rss = vm_hwm_mib(proc.pid)
    proc.terminate()
    proc.communicate(timeout=60)
    return took, rss


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", default="1000,10000")
    ap.add_argument("--rows-per-file", type=int, default=2)
    ap.add_argument("--settle", type=float, default=1.0)
    args = ap.parse_args()
    rows = []
    for n in (int(x) for x in args.files.split(",")):
        # Said before the folder is removed (removing 10,000 files can take a while).
        with tempfile.TemporaryDirectory(prefix="ns-trigger-bench-") as work:
            marks, peak = measure(n, args.rows_per_file, args.settle, work)
            print(f"{n} files: all seen {marks['all_seen']:.2f} s, run started {marks['started']:.2f} s "
                  f"(settle {args.settle} s), completed {marks['completed']:.2f} s, "
                  f"peak RSS {peak:.0f} MiB ({marks['rss_at_start']:.0f} MiB when the run "
                  f"started); a restart sees all {n} held in {marks['restart']:.2f} s, "
                  f"{marks['rss_restart']:.0f} MiB", flush=True)
        rows.append((n, marks, peak))
    print("\n| files | all seen (s) | run started (s) | RSS then (MiB) | run completed (s) | "
          "peak RSS (MiB) | restart: all held (s) | restart RSS (MiB) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, m, peak in rows:
        print(f"| {n:,} | {m['all_seen']:.2f} | {m['started']:.2f} | {m['rss_at_start']:.0f} | "
              f"{m['completed']:.2f} | {peak:.0f} | {m['restart']:.2f} | {m['rss_restart']:.0f} |")


if __name__ == "__main__":
    main()
