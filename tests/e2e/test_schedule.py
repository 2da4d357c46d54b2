"""`nightshift schedule JOB.yaml... --dry-run`: the next fire times of each
job's schedule (cron in an IANA zone, the spec's DST rules) with their run ids,
as text or JSON lines; bad schedules are exit 2 naming the key and the reason.
The long-running scheduler itself: test_scheduler.py."""
import json
import re

from conftest import EXIT_CANNOT_START, EXIT_OK, run, write_job


def job(tmp_path, name="nightly", file="job.yaml", **schedule):
    spec = {
        "name": name,
        "input": {"path": "in.parquet", "key": "id"},
        "model": {"path": "m.onnx", "inputs": [{"name": "x", "columns": ["a"]}],
                  "outputs": [{"name": "y", "column": "y"}]},
        "output": {"path": "out/{run_id}"},
    }
    if schedule:
        spec["schedule"] = schedule
    path = tmp_path / file
    write_job(path, spec)
    return path


def test_text_lists_fire_times_and_run_ids_across_a_spring_gap(tmp_path):
    path = job(tmp_path, cron="30 2 * * *", timezone="Europe/Berlin")
    rc, out, err = run("schedule", path, "--dry-run", "--from", "2026-03-27T12:00:00Z", "--count", "3")
    assert rc == EXIT_OK, err
    assert out.splitlines() == [
        "nightly  2026-03-28T02:30:00+01:00  nightly-20260328T0230",
        # 02:30 does not exist on 2026-03-29: it fires when the gap ends.
        "nightly  2026-03-29T03:00:00+02:00  nightly-20260329T0230",
        "nightly  2026-03-30T02:30:00+02:00  nightly-20260330T0230",
    ]


def test_json_lines_for_each_job_strictly_after_from(tmp_path):
    a = job(tmp_path, name="hourly", file="a.yaml", cron="@hourly")
    b = job(tmp_path, name="ny", file="b.yaml", cron="30 1 * * *", timezone="America/New_York")
    rc, out, err = run("schedule", a, b, "--dry-run", "--json", "--count", "2",
                       "--from", "2026-11-01T05:00:00+00:00")
    assert rc == EXIT_OK, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(x["job"], x["fire_at"], x["run_id"]) for x in lines] == [
        ("hourly", "2026-11-01T06:00:00+00:00", "hourly-20261101T0600"),
        ("hourly", "2026-11-01T07:00:00+00:00", "hourly-20261101T0700"),
        # 01:30 happened at 05:30Z (EDT) and again at 06:30Z (EST): only the first fires.
        ("ny", "2026-11-01T01:30:00-04:00", "ny-20261101T0130"),
        ("ny", "2026-11-02T01:30:00-05:00", "ny-20261102T0130"),
    ]
    assert lines[2]["timezone"] == "America/New_York"


def test_default_count_is_five_from_now(tmp_path):
    path = job(tmp_path, cron="*/15 * * * *", timezone="Asia/Kathmandu")
    rc, out, err = run("schedule", path, "--dry-run")
    assert rc == EXIT_OK, err
    lines = out.splitlines()
    assert len(lines) == 5
    for line in lines:
        assert re.fullmatch(r"nightly  \d{4}-\d\d-\d\dT\d\d:(00|15|30|45):00\+05:45  nightly-\d{8}T\d{4}",
                            line), line


def test_bad_cron_is_exit_2_naming_the_key_and_field(tmp_path):
    path = job(tmp_path, cron="61 * * * *")
    rc, out, err = run("schedule", path, "--dry-run")
    assert rc == EXIT_CANNOT_START
    assert out == ""
    assert "schedule.cron: cron '61 * * * *': minute: 61 is out of range 0-59" in err
    path = job(tmp_path, cron="0 0 30 2 *")
    rc, _, err = run("schedule", path, "--dry-run")
    assert rc == EXIT_CANNOT_START
    assert "never fires" in err
    # validate refuses the same job file before it looks at the model.
    rc, _, err = run("validate", path)
    assert rc == EXIT_CANNOT_START and "schedule.cron" in err


def test_unknown_zone_is_exit_2(tmp_path):
    path = job(tmp_path, cron="@daily", timezone="Europe/Atlantis")
    rc, out, err = run("schedule", path, "--dry-run")
    assert rc == EXIT_CANNOT_START
    assert out == ""
    assert "schedule.timezone: unknown time zone 'Europe/Atlantis'" in err


def test_job_without_schedule_is_exit_2_naming_it(tmp_path):
    good = job(tmp_path, file="good.yaml", cron="@daily")
    bare = job(tmp_path, name="adhoc", file="bare.yaml")
    rc, out, err = run("schedule", good, bare, "--dry-run")
    assert rc == EXIT_CANNOT_START
    assert out == ""  # nothing is printed unless every job has a schedule
    assert "job 'adhoc' has neither a schedule: nor a trigger: section" in err and "bare.yaml" in err
    # A job given twice is refused as the scheduler refuses it, not listed twice.
    rc, out, err = run("schedule", good, good, "--dry-run")
    assert rc == EXIT_CANNOT_START and out == "", out
    assert "job name 'nightly' is given twice" in err, err


def test_bad_from_and_count(tmp_path):
    path = job(tmp_path, cron="@daily")
    rc, _, err = run("schedule", path, "--dry-run", "--from", "2026-03-29T01:30:00")
    assert rc == EXIT_CANNOT_START
    assert "--from" in err and "UTC offset" in err
    rc, _, _ = run("schedule", path, "--dry-run", "--count", "0")
    assert rc == EXIT_CANNOT_START


def test_an_unknown_log_format_or_bad_metrics_port_is_exit_2(tmp_path):
    # The scheduler with metrics and JSON logs is tested in test_schedule_observe.py.
    path = job(tmp_path, cron="@daily")
    rc, out, err = run("schedule", path, "--log-format", "yaml", timeout=20)
    assert rc == EXIT_CANNOT_START and out == ""
    assert "--log-format" in err, err
    rc, out, err = run("schedule", path, "--metrics-port", "70000", timeout=20)
    assert rc == EXIT_CANNOT_START and out == ""
    assert "--metrics-port" in err, err


def test_trigger_job_validates_and_run_says_why_it_cannot(tmp_path):
    spec = {
        "name": "arrivals",
        "input": {"format": "parquet", "key": "id"},
        "model": {"path": "m.onnx", "inputs": [{"name": "x", "columns": ["a"]}],
                  "outputs": [{"name": "y", "column": "y"}]},
        "output": {"path": "out/{run_id}"},
        "trigger": {"watch": "incoming/*.parquet", "settle": "10s"},
        "schedule": {"cron": "0 6 * * MON-FRI", "timezone": "Europe/Berlin"},
    }
    path = write_job(tmp_path / "job.yaml", spec)
    rc, out, err = run("schedule", path, "--dry-run", "--count", "1", "--from", "2026-12-04T06:00:00Z")
    assert rc == EXIT_OK, err
    # Friday -> Monday; its run's id comes from the files it takes then.
    assert out == "arrivals  2026-12-07T06:00:00+01:00  (a run of the trigger's files settled by then)\n"
    rc, out, err = run("schedule", path, "--dry-run", "--count", "1", "--from", "2026-12-04T06:00:00Z",
                       "--json")
    assert rc == EXIT_OK, err
    line = json.loads(out)
    assert line["run_id"] is None and line["fire_at"] == "2026-12-07T06:00:00+01:00", line
    rc, _, err = run("run", path)
    assert rc == EXIT_CANNOT_START
    assert "trigger" in err and "`nightshift schedule` hands to each run" in err
    # A trigger job that also names input.path is refused.
    spec["input"]["path"] = "in.parquet"
    write_job(path, spec)
    rc, _, err = run("schedule", path, "--dry-run")
    assert rc == EXIT_CANNOT_START
    assert "input.path: a job with a trigger takes its input from trigger.watch" in err
