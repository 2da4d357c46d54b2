"""Two `nightshift schedule` processes on the same job: the ledger lock
"schedule:JOB" lets one of them decide the job's runs; the other waits on
standby and takes over when the first is SIGKILLed, so that

- on a file trigger, every settled file's rows land in exactly one completed
  run (50 files dropped in bursts while both watch, then more after the kill);
- on a `* * * * *` schedule (NIGHTSHIFT_TEST_TIME_SCALE), each interval is
  started by one scheduler only, and the standby goes on after the kill;
- the same on a shared PostgreSQL ledger (pg_fixture), where the lock is a
  row taken under an advisory lock.
"""
import re
import time

import pytest
import yaml

from conftest import EXIT_OK, read_part
from pg_fixture import PASSWORD, pg_server  # noqa: F401  (the session fixture)
from test_pg_ledger import fresh_database
from test_scheduler import (assert_each_row_in_exactly_one_run, completed_runs, drop,  # noqa: F401
                            minutely_job, schedulers, trigger_job)

ROWS_PER_FILE = 10


def wait_until(check, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s: {what}")


def rows_done(case):
    return sum(len(ids) for ids in completed_runs(case).values())


def lines_before(s, pattern):
    """The scheduler's log lines before the first that matches `pattern`."""
    out = []
    for line in list(s.lines):
        if re.search(pattern, line):
            break
        out.append(line)
    return out


@pytest.mark.parametrize("ledger", ["sqlite", "postgres"])
def test_two_schedulers_on_one_trigger_job_take_each_file_once(case_factory, schedulers, ledger,
                                                                request, monkeypatch):
    files = 50
    case = case_factory(n=files * ROWS_PER_FILE)
    job = trigger_job(case, settle="300ms")
    if ledger == "postgres":
        pg = request.getfixturevalue("pg_server")
        monkeypatch.setenv("PGPASSWORD", PASSWORD)
        spec = yaml.safe_load(job.read_text())
        # A database of its own: the server outlives this test.
        db = fresh_database(pg, "sched_lock")
        spec["run"]["ledger"] = pg.url(db=db, with_password=False)
        spec["run"]["lease"] = "3s"  # shards of the killed scheduler's run come back soon
        job.write_text(yaml.safe_dump(spec, sort_keys=False))
    a = schedulers(job)
    a.wait_for(r"scheduling this job \(ledger lock 'schedule:e2e-job'\)")
    b = schedulers(job)
    b.wait_for(rf"standby: pid {a.proc.pid} on host \S+ schedules this job")

    def drop_file(k):
        drop(case, f"f{k:02d}.csv", range(ROWS_PER_FILE * k, ROWS_PER_FILE * (k + 1)))

    # Bursts while both watch: without the lock each scheduler would take the
    # files it had seen settle, two different sets, into two runs.
    for k in range(30):
        drop_file(k)
        if k % 6 == 5:
            time.sleep(0.4)
    wait_until(lambda: rows_done(case) == 30 * ROWS_PER_FILE, 90, "the first 30 files' rows")
    for k in range(30, 40):
        drop_file(k)
    a.wait_for(r"file taken: '.*f3\d\.csv'")
    a.kill()  # SIGKILL, perhaps mid-run: the standby resumes that run
    for k in range(40, files):
        drop_file(k)
    b.wait_for(rf"taking over: the scheduler that held 'schedule:e2e-job' \(pid {a.proc.pid} ",
               timeout=30)
    wait_until(lambda: rows_done(case) >= files * ROWS_PER_FILE, 90, "every file's rows")
    if ledger == "postgres":  # the lock is the ledger's row, now b's
        held = pg.query("SELECT pid FROM nightshift.locks WHERE name = 'schedule:e2e-job'", db=db)
        assert held == [[str(b.proc.pid)]], held
    assert b.stop() == EXIT_OK, b.log()

    assert_each_row_in_exactly_one_run(case, range(files * ROWS_PER_FILE))
    standby = lines_before(b, "taking over")
    assert not [l for l in standby if "file taken" in l or "starting run" in l], b.log()
    # Every file was taken. One that the killed scheduler had taken but not
    # yet put in a run of the ledger is taken again by the new one (its rows
    # are still in one completed run only, as checked above).
    taken = [re.search(r"file taken: '.*/(f\d\d\.csv)'", l) for l in a.lines + b.lines]
    assert {m.group(1) for m in taken if m} == {f"f{k:02d}.csv" for k in range(files)}


def started(s, pattern=r"(?<!resumed): starting run (\S+)"):
    return [m.group(1) for m in (re.search(pattern, l) for l in list(s.lines)) if m]


def test_two_schedulers_on_a_minutely_schedule_run_each_interval_once(case_factory, schedulers):
    case = case_factory(n=60)
    job = minutely_job(case)
    # One real second is one scheduler minute, the same clock for both.
    env = {"NIGHTSHIFT_TEST_TIME_SCALE": f"{int(time.time())}:60"}
    a = schedulers(job, env=env)
    a.wait_for(r"scheduling this job")
    b = schedulers(job, env=env)
    b.wait_for(rf"standby: pid {a.proc.pid} ")
    a.wait_for(r"run minutely-\d{8}T\d{4} completed", count=3, timeout=40)
    a.kill()
    b.wait_for(r"taking over: the scheduler that held 'schedule:minutely'", timeout=30)
    b.wait_for(r"run minutely-\d{8}T\d{4} completed", count=2, timeout=40)
    assert b.stop() == EXIT_OK, b.log()

    assert not [l for l in lines_before(b, "taking over") if "starting run" in l], b.log()
    fired = started(a) + started(b)
    assert len(fired) >= 5 and len(fired) == len(set(fired)), fired
    # Each completed interval's output holds each row once.
    for success in (case.root / "out").glob("*/*/_SUCCESS"):
        ids = [r["id"] for p in success.parent.glob("part-*.jsonl") for r in read_part(p)]
        assert sorted(ids) == sorted(case.ids), success.parent.name
