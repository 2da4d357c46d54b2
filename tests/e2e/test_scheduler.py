"""`nightshift schedule JOB.yaml...`: the long-running scheduler with the real
binary.

- file triggers: each settled file's rows land in exactly one completed run;
  a file still being written is not taken before it settles (inotify and the
  polling fallback); a scheduler SIGKILLed mid-run and restarted resumes the
  same run and processes no file twice;
- a `* * * * *` schedule on the test-only faster clock
  (NIGHTSHIFT_TEST_TIME_SCALE): each interval's run id once, {date} from the
  interval, catch-up after a restart runs the newest max_catchup missed
  intervals oldest first, and no completed interval runs again;
- SIGTERM: 0 when nothing was interrupted, 75 when a run was.
"""
import csv
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import (BIN, EXIT_INTERRUPTED, EXIT_OK, REPO, _env, _retry_exec, read_part, run, status_json,
                      write_job)

sys.path.insert(0, str(REPO / "tests" / "models"))
import make_test_models  # noqa: E402


class Scheduler:
    """A running `nightshift schedule`, its stderr collected line by line."""

    def __init__(self, *jobs, env=None):
        self.lines = []
        self.proc = _retry_exec(lambda: subprocess.Popen(
            [str(BIN), "schedule", *map(str, jobs)], env=_env(env), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True))
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def log(self):
        return "\n".join(self.lines)

    def wait_for(self, pattern, count=1, timeout=60):
        """Waits until `count` log lines match `pattern`; returns their matches."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = [m for m in (re.search(pattern, line) for line in list(self.lines)) if m]
            if len(found) >= count:
                return found
            if self.proc.poll() is not None:
                time.sleep(0.2)  # let the reader catch up
                found = [m for m in (re.search(pattern, line) for line in list(self.lines)) if m]
                if len(found) >= count:
                    return found
                raise AssertionError(f"scheduler exited {self.proc.returncode} before "
                                     f"{count} x /{pattern}/:\n{self.log()}")
            time.sleep(0.05)
        raise AssertionError(f"no {count} x /{pattern}/ within {timeout} s:\n{self.log()}")

    def stop(self, sig=signal.SIGTERM, timeout=60):
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        self._reader.join(timeout=10)


@pytest.fixture
def schedulers():
    started = []

    def make(*jobs, env=None):
        s = Scheduler(*jobs, env=env)
        started.append(s)
        return s

    yield make
    for s in started:
        s.kill()


def trigger_job(case, settle="500ms", **extra):
    job = case.job("unused", out_format="jsonl", out_path="out/{run_id}", shard_rows=50, **extra)
    del job["input"]["path"]
    job["trigger"] = {"watch": "incoming/*.csv", "settle": settle}
    (case.root / "incoming").mkdir(exist_ok=True)
    return case.write_job(job)


def drop(case, name, rows):
    """Writes a CSV of `rows` atomically: a hidden temp name, then rename."""
    tmp = case.root / "incoming" / f".{name}.tmp"
    case.write_csv(tmp, rows)
    os.replace(tmp, case.root / "incoming" / name)


def completed_runs(case):
    """{run id: [ids of its output rows]} for every run with a _SUCCESS."""
    runs = {}
    for success in sorted((case.root / "out").glob("*/_SUCCESS")):
        ids = []
        for part in sorted(success.parent.glob("part-*.jsonl")):
            ids += [int(r["id"]) for r in read_part(part)]
        runs[success.parent.name] = ids
    return runs


def assert_each_row_in_exactly_one_run(case, positions):
    runs = completed_runs(case)
    seen = [k for ids in runs.values() for k in ids]
    assert len(seen) == len(set(seen)), f"rows processed twice: {runs.keys()}"
    assert sorted(seen) == sorted(int(case.ids[i]) for i in positions)
    return runs


def test_trigger_takes_each_settled_file_into_exactly_one_completed_run(case_factory, schedulers):
    case = case_factory(n=300)
    job = trigger_job(case)
    drop(case, "a.csv", range(0, 100))
    drop(case, "b.csv", range(100, 200))
    s = schedulers(job)
    s.wait_for(r"run (\S+) completed")
    assert len(s.wait_for(r"file taken: '.*incoming/(a|b)\.csv'", count=2)) == 2
    drop(case, "c.csv", range(200, 300))
    s.wait_for(r"run (\S+) completed", count=2)
    time.sleep(1.0)  # settled files stay taken: nothing else starts
    assert s.stop() == EXIT_OK, s.log()
    runs = assert_each_row_in_exactly_one_run(case, range(300))
    assert len(runs) == 2
    assert all(re.fullmatch(r"e2e-job-files-[0-9a-f]{16}", r) for r in runs)
    c_run = [r for r, ids in runs.items() if int(case.ids[250]) in ids][0]
    assert sorted(runs[c_run]) == sorted(int(case.ids[i]) for i in range(200, 300))
    assert "(inotify)" in s.log()
    # A restart takes nothing again: the ledger remembers the files.
    s2 = schedulers(job)
    s2.wait_for(r"3 file\(s\) matching .* ignored: already taken by an earlier run")
    time.sleep(1.0)
    assert s2.stop() == EXIT_OK
    assert "starting run" not in s2.log()


@pytest.mark.parametrize("mode", ["inotify", "poll"])
def test_a_file_still_being_written_is_not_taken_before_it_settles(case_factory, schedulers, mode):
    case = case_factory(n=400)
    job = trigger_job(case, settle="1500ms")
    env = {"NIGHTSHIFT_TRIGGER_POLL": "1"} if mode == "poll" else None
    s = schedulers(job, env=env)
    s.wait_for("inotify" if mode == "inotify" else "polling")
    path = case.root / "incoming" / "grow.csv"
    case.write_csv(path, range(0, 50))  # header + first rows
    for k in range(1, 8):  # keeps growing for about 3 s
        time.sleep(0.4)
        with open(path, "a", encoding="utf-8") as f:
            f.write(case.write_csv(case.root / "chunk.tmp", range(50 * k, 50 * k + 50))
                    .read_text(encoding="utf-8").split("\n", 1)[1])
        assert "file taken" not in s.log(), f"taken while still growing (step {k}):\n{s.log()}"
    final_size = path.stat().st_size
    taken = s.wait_for(r"file taken: '.*grow\.csv' \((\d+) bytes\)")
    assert int(taken[0].group(1)) == final_size
    s.wait_for(r"run \S+ completed")
    assert s.stop() == EXIT_OK
    assert_each_row_in_exactly_one_run(case, range(400))


def test_sigkill_mid_run_then_restart_resumes_it_and_processes_no_file_twice(case_factory,
                                                                          schedulers):
    case = case_factory(n=700)
    job = trigger_job(case)
    for k in range(3):
        drop(case, f"f{k}.csv", range(200 * k, 200 * k + 200))
    # SIGKILL (a crash point, as a power cut) after the third shard commit.
    s = schedulers(job, env={"NIGHTSHIFT_CRASH_AT": "after_commit:3"})
    started = s.wait_for(r"starting run (\S+) on 3 file")[0].group(1)
    assert s.proc.wait(timeout=60) == -signal.SIGKILL, s.log()
    assert completed_runs(case) == {}
    s2 = schedulers(job)
    assert s2.wait_for(r"resumed: starting run (\S+)")[0].group(1) == started
    s2.wait_for(rf"run {started} completed")
    drop(case, "late.csv", range(600, 700))  # a new file: a run of its own
    late = s2.wait_for(r"file taken: '.*late\.csv' .* for run (\S+)")[0].group(1)
    s2.wait_for(rf"run {late} completed")
    assert s2.stop() == EXIT_OK
    runs = assert_each_row_in_exactly_one_run(case, range(700))
    assert set(runs) == {started, late}
    assert sorted(runs[late]) == sorted(int(case.ids[i]) for i in range(600, 700))
    assert not [l for l in s2.lines if "file taken" in l and re.search(r"f\d\.csv", l)]


def test_sigterm_while_a_run_hangs_exits_75(case_factory, schedulers):
    case = case_factory(n=50)
    graph = make_test_models.slow_graph(width=len(case.feature_cols), outputs=len(case.out_cols))
    make_test_models.save(graph, str(case.root / "slow.onnx"))
    job = case.job("unused", out_format="jsonl", out_path="out/{run_id}")
    del job["input"]["path"]
    job["model"]["path"] = "slow.onnx"
    job["trigger"] = {"watch": "incoming/*.csv", "settle": "1s"}
    job["run"]["drain_timeout"] = "1s"
    (case.root / "incoming").mkdir()
    job = case.write_job(job)
    drop(case, "a.csv", range(50))
    s = schedulers(job)
    s.wait_for(r"starting run")
    time.sleep(1.5)  # the batch is in the model
    assert s.stop() == EXIT_INTERRUPTED, s.log()
    assert re.search(r"run \S+ interrupted", s.log())


def minutely_job(case, **schedule):
    job = case.job(case.make_input("csv"), out_format="jsonl", out_path="out/{date}/{run_id}")
    job["name"] = "minutely"
    job["schedule"] = {"cron": "* * * * *", **schedule}
    return case.write_job(job)


def started_ids(s):
    return [m.group(1) for m in (re.search(r"starting run (\S+)", l) for l in s.lines) if m]


def test_a_minutely_schedule_on_a_fast_clock_fires_each_interval_once_and_catches_up(
        case_factory, schedulers):
    case = case_factory(n=100)
    job = minutely_job(case, catchup=True, max_catchup=2)
    # Test-only: one real second is one scheduler minute, for every process
    # given the same anchor (a continuous clock across restarts).
    env = {"NIGHTSHIFT_TEST_TIME_SCALE": f"{int(time.time())}:60"}
    s = schedulers(job, env=env)
    s.wait_for(r"run minutely-\d{8}T\d{4} completed", count=2, timeout=30)
    assert s.stop() == EXIT_OK, s.log()
    first = started_ids(s)
    assert all(re.fullmatch(r"minutely-\d{8}T\d{4}", r) for r in first)
    assert "fired (due " in s.log()
    time.sleep(5)  # about five scheduler minutes with no scheduler
    s2 = schedulers(job, env=env)
    missed = s2.wait_for(r"(\d+) interval\(s\) missed while no scheduler ran; catching up the "
                         r"newest 2")[0]
    assert int(missed.group(1)) >= 3
    caught = s2.wait_for(r"caught up: starting run (\S+)", count=2)
    s2.wait_for(rf"run {caught[1].group(1)} completed")
    assert s2.stop() == EXIT_OK, s2.log()
    caught_ids = [m.group(1) for m in caught]
    assert caught_ids == sorted(caught_ids)  # oldest first
    assert max(first) < caught_ids[0]
    # No interval ran twice; {date} is each interval's date.
    everything = first + started_ids(s2)
    assert len(everything) == len(set(everything)), everything
    for success in (case.root / "out").glob("*/*/_SUCCESS"):
        run_id = success.parent.name
        day = run_id.split("-")[1][:8]
        assert success.parent.parent.name == f"{day[:4]}-{day[4:6]}-{day[6:]}"
        assert run_id in everything


def test_a_job_with_neither_schedule_nor_trigger_is_exit_2(case_factory):
    case = case_factory(n=10, model=False)
    job = case.write_job({"name": "x", "input": {"path": "in.csv", "key": "id"},
                          "model": {"path": "m.onnx", "inputs": [{"name": "x", "columns": ["a"]}],
                                    "outputs": [{"name": "y", "column": "y"}]},
                          "output": {"path": "out"}})
    p = subprocess.run([str(BIN), "schedule", str(job)], capture_output=True, text=True,
                       env=_env(None), timeout=60)
    assert p.returncode == 2
    assert "neither a schedule: nor a trigger:" in p.stderr


def test_a_trigger_watching_its_own_output_is_exit_2_before_any_run(case_factory):
    # Each run would take the last one's parts as new files, for ever.
    case = case_factory(n=10)
    job = case.job("unused", out_format="csv", out_path="out/{run_id}")
    del job["input"]["path"]
    job["trigger"] = {"watch": "out/*/part-*.csv", "settle": "1s"}
    job = case.write_job(job)
    p = subprocess.run([str(BIN), "schedule", str(job)], capture_output=True, text=True,
                       env=_env(None), timeout=60)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "is inside the input: trigger.watch" in p.stderr, p.stderr
    assert not (case.root / "out").exists()


def test_a_failed_trigger_run_is_resumed_and_retried_by_its_run_id(case_factory, schedulers):
    # The scheduler never takes a file twice, so a trigger run that failed is
    # finished by hand: `run --run-id ID` and `retry --run-id ID` read the
    # files the ledger recorded for it (the job file has no input.path).
    case = case_factory(n=100)
    job = trigger_job(case)
    drop(case, "a.csv", range(0, 100))
    path = case.root / "incoming" / "a.csv"
    rows = list(csv.reader(path.read_text().splitlines()))
    good = rows[5][2]
    rows[5][2] = "abc"  # a feature that is not a number: a dead letter

    def rewrite():
        tmp = case.root / "incoming" / ".a.tmp"
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            csv.writer(f, lineterminator="\n").writerows(rows)
        os.replace(tmp, path)

    rewrite()
    s = schedulers(job)
    run_id = s.wait_for(r"run (\S+) failed")[0].group(1)
    assert s.stop() == EXIT_OK, s.log()
    rc, out, err = run("run", job, "--run-id", run_id, "--set", "errors.max_failed_items=-1")
    assert rc == EXIT_OK, (out, err)
    assert status_json(job, run_id=run_id)["state"] == "completed"
    rows[5][2] = good  # corrected in place
    rewrite()
    rc, out, err = run("retry", job, "--run-id", run_id, "--set", "run.allow_input_change=true")
    assert rc == EXIT_OK and "1 now succeed" in out + err, (rc, out, err)
    assert_each_row_in_exactly_one_run(case, range(100))


def test_validate_checks_a_trigger_job_against_the_files_it_would_take(case_factory):
    case = case_factory(n=100)
    job = trigger_job(case)
    rc, out, err = run("validate", job)
    assert rc == 2 and "trigger.watch" in err and "matches no file yet" in err, (rc, out, err)
    drop(case, "a.csv", range(0, 100))
    rc, out, err = run("validate", job)
    assert rc == EXIT_OK and "is valid" in out, (rc, out, err)
