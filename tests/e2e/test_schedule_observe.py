"""`nightshift schedule` seen from outside: --metrics-port serves the counters
of the runs the scheduler starts, and --log-format json writes each decision
as one JSON line with the spec's fields (ts, level, event, job, run_id)."""
import json
import re
import socket
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from conftest import EXIT_CANNOT_START, EXIT_OK, run, status_json
from test_metrics import metric, scrape
from test_scheduler import drop, schedulers, trigger_job  # noqa: F401 (fixture)


def json_lines(s):
    """Every stderr line of the scheduler parsed; a line that is not JSON fails."""
    out = []
    for line in list(s.lines):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"not a JSON line: {line!r}\n{s.log()}")
    return out


def test_schedule_serves_the_metrics_of_its_runs_and_logs_decisions_as_json(case_factory,
                                                                             schedulers):
    case = case_factory(n=200)
    job = trigger_job(case)
    drop(case, "a.csv", range(0, 120))
    s = schedulers(job, "--metrics-port", "0", "--log-format", "json")
    port = int(s.wait_for(r'"event":"metrics_listening".*"port":(\d+)')[0].group(1))
    run_id = s.wait_for(r'"event":"run_ended".*"run_id":"([^"]+)"')[0].group(1)

    # The endpoint outlives the run: its counters are the run's, by run id.
    samples = scrape(port)
    labels = {"job": "e2e-job", "run_id": run_id}
    assert metric(samples, "nightshift_rows_total", outcome="succeeded", **labels) == 120
    assert metric(samples, "nightshift_shards_committed_total", **labels) == 3  # 50+50+20
    st = status_json(job, run_id)
    assert st["state"] == "completed" and st["counts"]["succeeded"] == 120, st
    assert s.stop() == EXIT_OK, s.log()

    lines = json_lines(s)
    for j in lines:
        assert {"ts", "level", "event", "msg"} <= j.keys(), j
        assert j["level"] in ("debug", "info", "warn", "error"), j
        datetime.fromisoformat(j["ts"].replace("Z", "+00:00"))  # RFC 3339
    by_event = {}
    for j in lines:
        by_event.setdefault(j["event"], []).append(j)
    taken = by_event["file_taken"]
    assert len(taken) == 1 and taken[0]["path"].endswith("incoming/a.csv"), taken
    assert taken[0]["job"] == "e2e-job" and taken[0]["run_id"] == run_id
    assert taken[0]["size"] == (case.root / "incoming" / "a.csv").stat().st_size
    started = by_event["files_settled"]
    assert [j["run_id"] for j in started] == [run_id] and started[0]["files"] == 1
    ended = by_event["run_ended"]
    assert ended[0]["outcome"] == "completed" and ended[0]["exit_code"] == 0, ended
    assert "file_seen" in by_event and "trigger_watching" in by_event, by_event.keys()
    assert [j["job"] for j in by_event["lock_taken"]] == ["e2e-job"], by_event.keys()
    # One line per shard commit from the run itself, never one per row.
    assert len(by_event.get("shard_committed", [])) == 3, by_event.keys()


def test_schedule_text_lines_keep_their_time_and_wording(case_factory, schedulers):
    case = case_factory(n=50)
    job = trigger_job(case)
    drop(case, "a.csv", range(0, 50))
    s = schedulers(job)
    m = s.wait_for(r"^nightshift: (\S+) schedule e2e-job: file taken: '.*a\.csv'")[0]
    datetime.fromisoformat(m.group(1).replace("Z", "+00:00"))
    s.wait_for(r"run \S+ completed")
    assert s.stop() == EXIT_OK, s.log()
    assert not any(line.startswith("{") for line in s.lines), s.log()


def test_schedule_metrics_port_in_use_is_exit_2_naming_the_port(case_factory):
    case = case_factory(n=10)
    job = trigger_job(case)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    port = sock.getsockname()[1]
    try:
        rc, out, err = run("schedule", job, "--metrics-port", str(port), timeout=60)
    finally:
        sock.close()
    assert rc == EXIT_CANNOT_START, err
    assert re.search(rf"--metrics-port {port}\b.*in use", err), err


def test_a_scheduled_fire_logs_its_due_time_and_no_file_count(case_factory, schedulers):
    # A scheduled run reads its job's input: its `fired` line says which fire
    # it is for (due), not "files: 0" as if it had no input.
    from test_scheduler import minutely_job
    case = case_factory(n=50)
    job = minutely_job(case)
    env = {"NIGHTSHIFT_TEST_TIME_SCALE": f"{int(time.time())}:60"}
    s = schedulers(job, "--log-format", "json", env=env)
    run_id = s.wait_for(r'"event":"run_ended".*"run_id":"([^"]+)"', timeout=30)[0].group(1)
    assert s.stop() == EXIT_OK, s.log()
    fired = [j for j in json_lines(s) if j["event"] == "fired" and j["run_id"] == run_id]
    assert len(fired) == 1, s.log()
    f = fired[0]
    assert "files" not in f and f["why"].startswith("fired (due "), f
    due = datetime.fromisoformat(f["due"])
    assert run_id == "minutely-" + due.astimezone(ZoneInfo("UTC")).strftime("%Y%m%dT%H%M"), (run_id, f)


def test_a_failed_scheduled_run_ends_at_error_level(case_factory, schedulers):
    """An alert on level >= error must see a scheduled run that failed, as it
    sees `run`'s run_failed line: its run_ended line was at info."""
    case = case_factory(n=50, null_at=[(3, "f0")])  # one bad value; max_failed_items 0
    job = trigger_job(case)
    drop(case, "a.csv", range(0, 50))
    s = schedulers(job, "--log-format", "json")
    s.wait_for(r'"event":"run_ended"', timeout=30)
    s.stop()
    ended = [j for j in json_lines(s) if j["event"] == "run_ended"]
    assert ended[0]["outcome"] == "failed" and ended[0]["level"] == "error", ended
