"""Chaos: SIGKILL a big run at seeded random moments, restart it each time, then prove exactly-once.

A job over CHAOS_ROWS rows (default 200,000) of Parquet (a glob of 4 files,
row groups of 5000 rows, shard_rows 5000: dozens of shards) with ~0.5% poison
rows (a null feature value) and `max_failed_items: -1` is started again and
again; each attempt is SIGKILLed at a moment drawn from random.Random(seed):

  plan    uniform 0.05-0.6 s after start: startup, ledger open, planning;
  mid     uniform 0-0.4 s after the attempt publishes its first part file:
          anywhere in the pipeline (reading, scoring, writing a shard);
  commit  0-10 ms after the attempt publishes a part file: between the
          rename and the ledger commit, or right after it;
  crash   NIGHTSHIFT_CRASH_AT=after_publish:N / after_commit:N (N in 1..3):
          the process SIGKILLs itself exactly at the commit boundary.

(Plain uniform 0.05-0.6 s delays would never get past planning: a run here
commits its first shard ~0.7 s after start, so the schedule mixes in kills
keyed to the attempt's own progress.) An attempt that finishes before its
kill lands just counts as a completed run. The loop goes on until CHAOS_KILLS kills (default 30) have landed on a
live process; when a run completes before that, its output is checked and a
fresh run (a new output folder and ledger, same input and model) takes over,
so every kill hits a run with work left. At the end a last uninterrupted run
must exit 0, and every round's output is checked: committed part files plus
dead letters hold every input key exactly once, predictions equal the numpy
reference within 1e-5, the dead letters name the null column, `_SUCCESS` and
`status --failed` agree with the files, and no `.part-*.tmp-*` file is left.

Overrides: CHAOS_ROWS, CHAOS_KILLS, CHAOS_SEED (tests/slow/chaos_long.sh runs
2M rows and 200 kills). The seed is printed, and named in every failure.
"""
import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import numpy as np

import conftest
from conftest import (EXIT_OK, Case, assert_no_tmp_files, check_output, part_files, read_dead_letters,
                      read_success, run, single_key, status_json, write_job)

ROWS = int(os.environ.get("CHAOS_ROWS", "200000"))
KILLS = int(os.environ.get("CHAOS_KILLS", "30"))
SEED = int(os.environ.get("CHAOS_SEED", "20251128"))
SHARD_ROWS = 5000
POISON_FRACTION = 0.005
MODES = [("plan", 0.25), ("mid", 0.40), ("commit", 0.20), ("crash", 0.15)]


def _start_logged(args, log, env=None):
    """Starts nightshift with stdout+stderr going to a file (a pipe nobody reads
    could fill up and stall a long run)."""
    f = open(log, "wb")
    try:
        return conftest._retry_exec(lambda: subprocess.Popen([str(conftest.BIN), *map(str, args)],
                                                             env=conftest._env(env), stdout=f,
                                                             stderr=subprocess.STDOUT))
    finally:
        f.close()


def _part_mtimes(outdir):
    try:
        return {p.name: p.stat().st_mtime_ns for p in part_files(outdir)}
    except FileNotFoundError:  # a file renamed away between listing and stat
        return None


def _wait_for_publish(p, outdir, before, timeout=60):
    """Waits until a part file appears or changes in outdir (or p ends)."""
    deadline = time.time() + timeout
    while p.poll() is None and time.time() < deadline:
        now = _part_mtimes(outdir)
        if now is not None and now != before:
            return True
        time.sleep(0.002)
    return False


class Chaos:
    def __init__(self, root, rows, seed):
        self.root = Path(root)
        self.rng = random.Random(seed)
        prng = np.random.default_rng(seed)
        n_bad = max(1, int(rows * POISON_FRACTION))
        bad = prng.choice(rows, size=n_bad, replace=False)
        cols = prng.integers(0, 5, size=n_bad)
        # Null feature values: empty CSV fields, NULL after the conversion to Parquet.
        null_at = [(int(r), f"f{int(c)}") for r, c in zip(bad, cols)]
        self.case = Case(self.root / "data-case", n=rows, seed=seed % 10_000, null_at=null_at)
        self.null_col = dict(null_at)
        self.bad = set(self.null_col)
        self.good = [i for i in range(rows) if i not in self.bad]
        self.input_glob = self.case.root / self.case.make_input("parquet", layout="glob", n_files=4)
        # First input row of each file, as Case.make_input splits them (dead letters' `row` is the
        # row number within its file).
        bounds = np.linspace(0, rows, 5).astype(int)
        bounds[1] += rows // 10
        self.file_starts = bounds[:-1]
        self.log = []  # one line per attempt, for failure messages

    def new_round(self, k):
        d = self.root / f"round-{k}"
        d.mkdir()
        job = self.case.job(str(self.input_glob), out_format="parquet", shard_rows=SHARD_ROWS)
        job["name"] = "chaos"
        job["model"]["path"] = str(self.case.model.path)
        job["batch"] = {"size": 512}
        job["errors"] = {"max_failed_items": -1}
        return write_job(d / "job.yaml", job)

    def check_round(self, job):
        """The full exactly-once check of a completed round."""
        case = self.case
        outdir = job.parent / "out"
        check_output(case, outdir, "parquet", self.good, job=job, expect_failed=len(self.bad))
        assert_no_tmp_files(job.parent)
        # Dead letters: every poison row exactly once, no good row, a readable reason.
        letters = read_dead_letters(outdir / "_failed")
        seen = {}
        for fname, d in letters:
            for field in ("key", "shard", "error", "attempts"):
                assert field in d, f"dead letter without {field!r}: {d}"
            k = single_key(d["key"], "id")
            assert k in case.pos, f"dead letter for a key that is not an input key: {d}"
            assert k not in seen, f"key {k} dead-lettered twice: in {seen[k]} and {fname}"
            seen[k] = fname
            i = case.pos[k]
            assert i in self.bad, f"dead letter for good input row {i}: {d}"
            assert fname == f"part-{d['shard']:06d}.jsonl", (fname, d)
            if "row" in d:
                file_row = i - int(self.file_starts[np.searchsorted(self.file_starts, i, side="right") - 1])
                assert d["row"] == file_row, f"dead letter row {d['row']} for file row {file_row}: {d}"
            assert self.null_col[i] in d["error"], f"reason should name column {self.null_col[i]}: {d}"
        bad_keys = {int(case.ids[i]) for i in self.bad}
        missing = bad_keys - seen.keys()
        assert not missing, f"{len(missing)} poison rows neither written nor dead-lettered, e.g. {sorted(missing)[:5]}"
        # Output (checked above: exactly the good keys) + dead letters == every input key, once.
        assert len(seen) + len(self.good) == case.n
        succ = read_success(outdir)
        if "dead_letter_files" in succ:
            on_disk = {}
            for fname, _ in letters:
                on_disk[fname] = on_disk.get(fname, 0) + 1
            listed = {Path(f["path"]).name: f["rows"] for f in succ["dead_letter_files"]}
            assert listed == on_disk, f"_SUCCESS dead_letter_files {listed} vs disk {on_disk}"
        # The ledger's failure list agrees: each poison key once.
        rc, out, err = run("status", job, "--failed", "--json", "--limit", "0")
        assert rc == EXIT_OK, (rc, err)
        items = json.loads(out)["failed_items"]
        ledger_keys = [single_key(it["key"], "id") for it in items]
        assert len(ledger_keys) == len(set(ledger_keys)), "status --failed lists a key twice"
        assert set(ledger_keys) == bad_keys, (f"status --failed: {len(set(ledger_keys) - bad_keys)} extra, "
                                              f"{len(bad_keys - set(ledger_keys))} missing keys")

    def attempt(self, job, n):
        """One attempt: start, kill per the drawn mode. Returns (landed, rc, mode)."""
        outdir = job.parent / "out"
        r = self.rng.random()
        mode = next(m for m, w in _cumulative(MODES) if r < w)
        env = None
        note = ""
        if mode == "crash":
            point = self.rng.choice(["after_publish", "after_commit"])
            at = self.rng.randint(1, 3)
            env = {"NIGHTSHIFT_CRASH_AT": f"{point}:{at}"}
            note = env["NIGHTSHIFT_CRASH_AT"]
        elif mode == "plan":
            delay = self.rng.uniform(0.05, 0.6)
            note = f"{delay:.3f}s after start"
        elif mode == "mid":
            delay = self.rng.uniform(0.0, 0.4)
            note = f"{delay:.3f}s after first publish"
        else:
            delay = self.rng.uniform(0.0, 0.01)
            note = f"{delay * 1000:.1f}ms after a publish"
        log = job.parent / f"attempt-{n}.log"
        before = _part_mtimes(outdir) or {}
        p = _start_logged(["run", job], log, env=env)
        landed = False
        try:
            if mode == "plan":
                time.sleep(delay)
            elif mode in ("mid", "commit"):
                _wait_for_publish(p, outdir, before)
                time.sleep(delay)
            if mode != "crash" and p.poll() is None:
                p.send_signal(signal.SIGKILL)
                landed = True
            rc = p.wait(timeout=300)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        if mode == "crash":
            landed = rc == -signal.SIGKILL
        self.log.append(f"attempt {n}: {mode} ({note}) -> exit {rc}")
        _assert_no_sanitizer_report(log.read_text(errors="replace"), f"attempt {n}")
        if rc not in (EXIT_OK, -signal.SIGKILL):
            raise AssertionError(f"attempt {n} ({mode}, {note}) exited {rc}:\n{log.read_text(errors='replace')[-3000:]}")
        return landed, rc, mode

    def invariants(self, job, committed_before):
        """Cheap checks after a kill: the ledger never goes backwards nor ahead of the disk."""
        outdir = job.parent / "out"
        st = status_json(job)
        if st["state"] == "completed":
            assert (outdir / "_SUCCESS").exists(), ("the ledger says completed but there is no _SUCCESS", st)
            return st["shards"]["committed"], True
        assert not (outdir / "_SUCCESS").exists(), ("_SUCCESS written by an unfinished run", st)
        committed = st["shards"]["committed"]
        assert committed >= committed_before, ("committed shards went backwards", committed_before, st)
        assert committed <= len(part_files(outdir)), ("the ledger counts more shards than there are files", st)
        return committed, False


def _assert_no_sanitizer_report(text, what):
    """Under the ASan+UBSan build (NIGHTSHIFT_BIN=build-asan/...), a report fails the test."""
    for marker in ("ERROR: AddressSanitizer", "runtime error:"):
        assert marker not in text, f"sanitizer report in {what}:\n{text[-4000:]}"


def _cumulative(modes):
    acc = 0.0
    out = []
    for m, w in modes:
        acc += w
        out.append((m, acc))
    out[-1] = (out[-1][0], 1.0 + 1e-9)
    return out


def test_chaos_sigkill_loop(tmp_path):
    print(f"chaos: CHAOS_SEED={SEED} CHAOS_ROWS={ROWS} CHAOS_KILLS={KILLS}")
    chaos = None
    try:
        chaos = Chaos(tmp_path, ROWS, SEED)
        _chaos_loop(chaos)
    except BaseException as e:
        tail = "\n".join(chaos.log[-15:]) if chaos else ""
        raise AssertionError(f"chaos failed with CHAOS_SEED={SEED} CHAOS_ROWS={ROWS} CHAOS_KILLS={KILLS} "
                             f"(rerun with these env vars to reproduce the schedule)\n"
                             f"last attempts:\n{tail}\n{type(e).__name__}: {e}") from e


def _chaos_loop(chaos):
    rounds = 0
    job = chaos.new_round(rounds)
    kills = 0
    by_mode = {m: 0 for m, _ in MODES}
    completed_runs = 0
    committed = 0
    n = 0
    max_attempts = KILLS * 6 + 20
    while kills < KILLS:
        n += 1
        assert n <= max_attempts, f"{n} attempts but only {kills} kills landed"
        landed, rc, mode = chaos.attempt(job, n)
        if landed:
            kills += 1
            by_mode[mode] += 1
        done = rc == EXIT_OK
        if not done:
            committed, done = chaos.invariants(job, committed)
        if done:
            # This round's run finished before a kill landed: check it, go on with a fresh run.
            rc, out, err = run("run", job, timeout=300)
            assert rc == EXIT_OK and "already completed" in out + err, (rc, out, err)
            chaos.check_round(job)
            completed_runs += 1
            rounds += 1
            job = chaos.new_round(rounds)
            committed = 0
    # The last, uninterrupted run finishes the current round.
    rc, out, err = run("run", job, timeout=600)
    _assert_no_sanitizer_report(err, "the final run")
    assert rc == EXIT_OK, f"the final run exited {rc}\nstdout:\n{out}\nstderr:\n{err[-4000:]}"
    chaos.check_round(job)
    print(f"chaos: {n} attempts, {kills} kills landed {by_mode}, {rounds + 1} runs checked "
          f"({completed_runs} completed between kills)")
    assert by_mode["plan"] > 0 and by_mode["mid"] + by_mode["commit"] + by_mode["crash"] > 0, by_mode
