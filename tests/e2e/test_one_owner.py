"""One process per run, and a status that never lies.

Two `run`s of one job started 0-1 s apart: exactly one runs it, the other is
refused at once (exit 2, naming the holder's pid and host) or, if it started
after the first finished, says the run is already completed; the output holds
every key exactly once. A SIGKILLed owner's run is reported as interrupted
(with when it was last seen) and the next run resumes it; a SIGSTOPped owner
is still alive, so a second run is refused until it finishes. `status` only
reads the ledger. The log of a run with stderr piped starts with the plan and
never stays silent for more than ~10 s."""
import json
import os
import random
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from conftest import (EXIT_CANNOT_START, EXIT_OK, Case, Mlp, read_parts, run, start, status_json,
                      write_job)

REFUSED = re.compile(r"run \S+ is being run by pid (\d+) on host (\S+) since \S+")


@pytest.fixture(scope="module")
def slow(tmp_path_factory):
    """3000 rows through a wide model one row per batch: a run of a few seconds."""
    case = Case(tmp_path_factory.mktemp("slow"), n=3000, seed=5, hidden=768)
    case.input_file = case.root / case.make_input("csv")
    return case


@pytest.fixture(scope="module")
def slower(tmp_path_factory):
    """15000 such rows: a run long enough to kill or stop midway."""
    case = Case(tmp_path_factory.mktemp("slower"), n=15000, seed=6, hidden=768)
    case.input_file = case.root / case.make_input("csv")
    return case


def slow_job(case, d, n_rows=None, shard_rows=250, batch=1):
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    job = case.job(str(case.input_file), out_format="jsonl", shard_rows=shard_rows, out_path=str(d / "out"))
    job["model"]["path"] = str(case.model.path)
    job["batch"] = {"size": batch}
    job["run"]["ledger"] = str(d / "ledger.db")
    return write_job(d / "job.yaml", job)


def assert_each_key_once(case, outdir):
    keys = [int(r["id"]) for rows in read_parts(outdir, "jsonl").values() for r in rows]
    dup = len(keys) - len(set(keys))
    assert dup == 0, f"{dup} key(s) written more than once"
    assert sorted(keys) == sorted(int(k) for k in case.ids), "keys missing from the output"


def wait_running(job, proc, timeout=60):
    """Waits until the run is running with proc as its owner; returns the status."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, f"run exited early ({proc.returncode}): {proc.stderr.read()}"
        st = status_json(job)
        if st["state"] == "running" and st.get("owner", {}).get("pid") == proc.pid:
            return st
        time.sleep(0.1)
    raise AssertionError("the run never showed as running")


def assert_refused_by(job, owner):
    """A second `run` of job is refused at once (exit 2), naming owner's pid."""
    t0 = time.time()
    rc, out, err = run("run", job)
    assert rc == EXIT_CANNOT_START, err
    assert time.time() - t0 < 30, "the refusal was not immediate"
    m = REFUSED.search(err)
    assert m and int(m.group(1)) == owner.pid, err


def test_two_runs_started_together_one_runs_the_other_is_refused(slow, tmp_path):
    rng = random.Random(7)
    outcomes = []
    for trial in range(6):
        job = slow_job(slow, tmp_path / f"t{trial}", shard_rows=500)
        first = start("run", job)
        time.sleep(rng.uniform(0.0, 1.0))
        second = start("run", job)
        (_, err1), (out2, err2) = first.communicate(timeout=180), second.communicate(timeout=180)
        codes = (first.returncode, second.returncode)
        outcomes.append(codes)
        if codes == (EXIT_OK, EXIT_OK):
            # The second started after the first had finished.
            assert "already completed" in out2, out2 + err2
        else:
            ran, refused = (err1, err2) if codes == (EXIT_OK, EXIT_CANNOT_START) else (err2, err1)
            assert sorted(codes) == [EXIT_OK, EXIT_CANNOT_START], f"exit codes {codes}\n{err1}\n{err2}"
            m = REFUSED.search(refused)
            assert m, f"refusal does not name the holder: {refused}"
            holder = first if codes[0] == EXIT_OK else second
            assert int(m.group(1)) == holder.pid and m.group(2) == socket.gethostname()
            assert "locked" not in ran + refused
        assert_each_key_once(slow, tmp_path / f"t{trial}" / "out")
        assert status_json(job)["state"] == "completed"
    assert (EXIT_OK, EXIT_CANNOT_START) in outcomes or (EXIT_CANNOT_START, EXIT_OK) in outcomes, outcomes


def test_killed_owner_is_interrupted_in_status_and_next_run_resumes(slower, tmp_path):
    job = slow_job(slower, tmp_path)
    # SIGKILLed by itself right after its 3rd shard commit: midway whatever the machine's speed.
    p = start("run", job, env={"NIGHTSHIFT_CRASH_AT": "after_commit:3"})
    p.wait(timeout=180)
    assert p.returncode == -signal.SIGKILL, (p.returncode, p.stderr.read())
    st = status_json(job)
    assert st["state"] == "interrupted", st
    assert st["owner"]["pid"] == p.pid and st["owner"]["host"] == socket.gethostname(), st
    assert st["last_seen"] is not None, st
    done_before = st["counts"]["succeeded"]
    assert 0 < st["counts"]["total"]

    rc, out, err = run("run", job, timeout=180)
    assert rc == EXIT_OK, err
    # The summary's rows are this invocation's: the rows not committed before the kill.
    m = re.search(r"this invocation: (\d+) rows", out)
    assert m and int(m.group(1)) == slower.n - done_before, out
    assert_each_key_once(slower, tmp_path / "out")
    st = status_json(job)
    assert st["state"] == "completed" and "owner" not in st and "last_seen" not in st, st


def test_stopped_owner_still_holds_the_run(slower, tmp_path):
    job = slow_job(slower, tmp_path)
    p = start("run", job)
    wait_running(job, p)
    p.send_signal(signal.SIGSTOP)
    try:
        assert_refused_by(job, p)
        rc, _, err = run("retry", job)
        assert rc == EXIT_CANNOT_START and REFUSED.search(err), err
        assert status_json(job)["state"] == "running"
    finally:
        p.send_signal(signal.SIGCONT)
    out, err = p.communicate(timeout=180)
    assert p.returncode == EXIT_OK, err
    assert_each_key_once(slower, tmp_path / "out")


def test_overwrite_never_empties_the_folder_of_a_live_run(slower, tmp_path):
    # Another run of the job (a new --run-id) with output.overwrite must not
    # empty the folder the live run writes: the live run's later parts would
    # land in the new run's folder. Refused at start, naming the live run.
    job = slow_job(slower, tmp_path)
    p = start("run", job)
    wait_running(job, p)
    p.send_signal(signal.SIGSTOP)
    try:
        live = status_json(job)["run_id"]
        before = sorted((q.name, q.stat().st_mtime_ns) for q in (tmp_path / "out").iterdir())
        rc, out, err = run("run", job, "--run-id", "other", "--set", "output.overwrite=true")
        assert rc == EXIT_CANNOT_START, (rc, out, err)
        assert f"belongs to run {live}" in err and "running now" in err and f"pid {p.pid}" in err, err
        assert sorted((q.name, q.stat().st_mtime_ns) for q in (tmp_path / "out").iterdir()) == before
    finally:
        p.send_signal(signal.SIGCONT)
    out, err = p.communicate(timeout=180)
    assert p.returncode == EXIT_OK, err
    assert_each_key_once(slower, tmp_path / "out")
    # Once it has ended, overwrite empties the folder for the new run.
    rc, out, err = run("run", job, "--run-id", "other", "--set", "output.overwrite=true", timeout=180)
    assert rc == EXIT_OK, err
    assert json.loads((tmp_path / "out" / "_nightshift_owner.json").read_text())["run_id"] == "other"
    assert_each_key_once(slower, tmp_path / "out")


def test_a_busy_ledger_still_names_the_live_owner(slower, tmp_path):
    # The owner stopped inside a commit holds the ledger's write lock; here
    # another process holds it (deterministically) while the owner is stopped.
    # A second run cannot take the run, and says who has it, not "busy".
    job = slow_job(slower, tmp_path)
    p = start("run", job)
    wait_running(job, p)
    p.send_signal(signal.SIGSTOP)
    lock = subprocess.Popen(["sqlite3", str(tmp_path / "ledger.db")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        lock.stdin.write("BEGIN IMMEDIATE;\nSELECT 'locked';\n")
        lock.stdin.flush()
        assert lock.stdout.readline().strip() == "locked"
        assert_refused_by(job, p)
    finally:
        lock.stdin.write("ROLLBACK;\n")
        lock.stdin.close()
        lock.wait(timeout=30)
        p.send_signal(signal.SIGCONT)
    out, err = p.communicate(timeout=180)
    assert p.returncode == EXIT_OK, err
    assert_each_key_once(slower, tmp_path / "out")


def test_status_without_a_ledger_creates_nothing(slow, tmp_path):
    job = slow_job(slow, tmp_path)
    before = sorted(os.listdir(tmp_path))
    rc, out, err = run("status", job, "--json")
    assert rc == EXIT_OK, err
    st = json.loads(out)
    assert st["state"] == "pending" and st["run_id"], st
    assert sorted(os.listdir(tmp_path)) == before, "status created files"


def test_status_only_reads_the_ledger(slow, tmp_path):
    job = slow_job(slow, tmp_path, batch=64)
    rc, _, err = run("run", job)
    assert rc == EXIT_OK, err
    ledger = tmp_path / "ledger.db"
    files = sorted(os.listdir(tmp_path))
    data, mtime = ledger.read_bytes(), ledger.stat().st_mtime_ns
    for args in (["--json"], [], ["--failed", "--json"]):
        rc, out, err = run("status", job, *args)
        assert rc == EXIT_OK, err
    assert ledger.read_bytes() == data and ledger.stat().st_mtime_ns == mtime
    assert sorted(os.listdir(tmp_path)) == files, "status left -wal/-shm/journal files"
    assert json.loads(out)["failed_items"] == []


def test_status_flags_and_unplannable_input(slow, tmp_path):
    job = slow_job(slow, tmp_path)
    for args in (["--failed", "--limit", "-1"], ["--limit", "5"]):
        rc, _, err = run("status", job, *args)
        assert rc == EXIT_CANNOT_START and "--limit" in err, (args, err)
    rc, out, err = run("status", job, "--failed", "--limit", "0", "--json")
    assert rc == EXIT_OK and json.loads(out)["failed_items"] == [], err
    # Input that cannot be listed: status gives run's error, not "pending".
    d = tmp_path / "missing"
    d.mkdir()
    j = yaml.safe_load(job.read_text())
    j["input"]["path"] = str(d / "nope-*.csv")
    j["run"]["ledger"] = str(d / "ledger.db")
    bad = write_job(d / "job.yaml", j)
    rc_run, _, err_run = run("run", bad)
    rc, out, err = run("status", bad)
    assert rc_run == EXIT_CANNOT_START and rc == EXIT_CANNOT_START, (out, err)
    assert err.strip() == err_run.strip(), (err, err_run)


def test_piped_log_starts_with_the_plan_and_is_never_silent_long(slow, tmp_path):
    # One shard of rows that each read a 64 MB model (one row per batch, so
    # ~10 ms a row): no commit for longer than the test watches.
    big = Case(tmp_path / "big", n=4000, seed=9, model=False)
    big.model = Mlp(big.root / "model.onnx", n_in=5, hidden=4096, n_out=3, layers=2, seed=9)
    big.out_cols = ["p0", "p1", "p2"]
    big.input_file = big.root / big.make_input("csv")
    job = slow_job(big, tmp_path, shard_rows=4000)
    p = start("run", job)
    lines = []
    t0 = time.time()

    def read():
        for line in p.stderr:
            lines.append((time.time() - t0, line.rstrip("\n")))

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(14)
    p.kill()  # what was logged until now is what is checked
    p.wait(timeout=60)
    reader.join()
    text = "\n".join(l for _, l in lines)
    plan = [t for t, l in lines if re.search(r"run \S+: 1 input file\(s\), 4,000 rows, 1 shard\(s\)", l)]
    assert plan, text
    commits = [t for t, l in lines if "committed shard" in l]
    assert not commits or plan[0] < commits[0], text
    progress = [t for t, l in lines if "nightshift: progress" in l]
    assert progress, f"no progress line in 14 s:\n{text}"
    stamps = [plan[0]] + progress
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert max(gaps) < 12.5, (gaps, text)
    assert progress[0] - plan[0] < 12.5, text


def test_two_overwrite_runs_started_together_never_share_the_folder(tmp_path):
    """Both found the folder of a finished run and both emptied and wrote it:
    a run exited 0 with _SUCCESS over the other job's rows. Now one takes the
    folder (its marker put in before anything is removed) and the other is
    refused, whichever order they interleave in."""
    from conftest import identity_onnx, sql, write_job
    identity_onnx(tmp_path / "id.onnx", 1)
    jobs = {}
    for name, first in (("a", 0), ("b", 100000)):
        sql(f"COPY (SELECT i::BIGINT AS id, i::FLOAT AS v FROM range({first}, {first + 5000}) t(i)) "
            f"TO '{tmp_path / (name + '.parquet')}' (FORMAT parquet)")
        jobs[name] = write_job(tmp_path / f"{name}.yaml", {
            "name": f"job_{name}", "input": {"path": f"{name}.parquet", "key": "id"},
            "model": {"path": "id.onnx", "inputs": [{"name": "features", "columns": ["v"]}],
                      "outputs": [{"name": "out", "columns": ["p"]}]},
            "batch": {"size": 100}, "output": {"path": "out", "keep": ["id"], "overwrite": True},
            "run": {"shard_rows": 500}})
    assert run("run", jobs["a"], "--run-id", "first", cwd=tmp_path)[0] == 0
    slow = {"NIGHTSHIFT_TEST_BATCH_SLEEP_MS": "10"}
    for i in range(6):
        procs = {n: start("run", jobs[n], "--run-id", f"{n}{i}", cwd=tmp_path, env=slow) for n in jobs}
        codes = {n: (p.wait(timeout=120), p.communicate()[1])[0] for n, p in procs.items()}
        assert sorted(codes.values()) == [0, 2], codes
        winner = next(n for n, c in codes.items() if c == 0)
        counts = sql(f"SELECT count(*) FILTER (WHERE id < 100000), count(*) FILTER (WHERE id >= 100000) "
                     f"FROM '{tmp_path / 'out'}/part-*.parquet'").splitlines()[1]
        assert counts == ("5000,0" if winner == "a" else "0,5000"), (i, codes, counts)
