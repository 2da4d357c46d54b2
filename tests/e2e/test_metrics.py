"""Seeing what happened (job-spec.md): Prometheus metrics scraped during a
real run, JSON log lines, the Dagster Pipes message stream, and the HTML run
report.
"""
import base64
import json
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import (EXIT_CANNOT_START, EXIT_FAILED, EXIT_OK, Case, run, start, status_json,
                      write_job)

METRICS_AT = re.compile(r"metrics at http://127\.0\.0\.1:(\d+)/metrics")
SAMPLE = re.compile(r'^(\w+)(?:\{([^}]*)\})? (\S+)$')


def parse_metrics(text):
    """Prometheus text format -> {(name, frozenset(labels)): value}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def metric(samples, name, **labels):
    want = set(labels.items())
    vals = [v for (n, ls), v in samples.items() if n == name and want <= set(ls)]
    return sum(vals) if vals else None


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return parse_metrics(r.read().decode())


class StderrReader:
    """Reads a child's stderr on a thread (so the pipe never fills) and finds
    the metrics port in it."""

    def __init__(self, proc):
        self.lines = []
        self.port = None
        self.t = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.t.start()

    def _read(self, proc):
        for line in proc.stderr:
            self.lines.append(line)
            m = METRICS_AT.search(line)
            if m and self.port is None:
                self.port = int(m.group(1))

    def wait_port(self, proc, timeout=60):
        deadline = time.time() + timeout
        while self.port is None and time.time() < deadline:
            assert proc.poll() is None or self.port, "run exited before serving metrics:\n" + "".join(self.lines)
            time.sleep(0.05)
        assert self.port, "no 'metrics at' line:\n" + "".join(self.lines)
        return self.port


@pytest.fixture(scope="module")
def slow(tmp_path_factory):
    """15000 rows through a wide model one row per batch: a run of many seconds."""
    case = Case(tmp_path_factory.mktemp("slow"), n=15000, seed=6, hidden=768)
    case.input_file = case.root / case.make_input("csv")
    return case


def slow_job(case, d, shard_rows=500):
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    job = case.job(str(case.input_file), out_format="jsonl", shard_rows=shard_rows, out_path=str(d / "out"))
    job["model"]["path"] = str(case.model.path)
    job["batch"] = {"size": 1}
    job["run"]["ledger"] = str(d / "ledger.db")
    return write_job(d / "job.yaml", job)


def test_metrics_move_during_a_run_and_agree_with_status(slow, tmp_path):
    job = slow_job(slow, tmp_path)
    p = start("run", job, "--metrics-port", "0", "--json")
    reader = StderrReader(p)
    port = reader.wait_port(p)
    seen = []  # (rows succeeded, shards committed) from the endpoint
    agreed = 0
    while p.poll() is None:
        try:
            s = scrape(port)
        except OSError:
            break  # the run ended between poll() and the scrape
        ok = metric(s, "nightshift_rows_total", outcome="succeeded", job="e2e-job") or 0
        shards = metric(s, "nightshift_shards_committed_total", job="e2e-job") or 0
        seen.append((ok, shards))
        st = status_json(job)
        # The endpoint counts a shard after the ledger committed it: never ahead.
        assert ok <= st["counts"]["succeeded"], (ok, st)
        assert shards <= st["shards"]["committed"], (shards, st)
        if shards == st["shards"]["committed"]:
            assert ok == st["counts"]["succeeded"], (ok, st)
            agreed += 1
        if shards >= 3 and len(set(seen)) >= 3:
            # Histogram, gauges: present and sensible once batches ran.
            assert metric(s, "nightshift_batch_seconds_count", job="e2e-job") > 0
            assert metric(s, "nightshift_batch_seconds_bucket", job="e2e-job", le="+Inf") > 0
            assert metric(s, "nightshift_batch_size", job="e2e-job") == 1
            busy = metric(s, "nightshift_model_busy_ratio", job="e2e-job")
            assert 0 < busy <= 1, busy
        time.sleep(0.1)
    out, _ = p.communicate(timeout=300)
    reader.t.join(timeout=10)
    assert p.returncode == EXIT_OK, "".join(reader.lines)
    final = json.loads(out)
    distinct = sorted(set(seen))
    assert len(distinct) >= 3, f"the counters never moved: {seen}"
    assert distinct == sorted(distinct, key=lambda x: x[1]), "counters went backwards"
    assert agreed >= 1, f"no scrape agreed with status: {seen}"
    assert distinct[-1][0] <= final["counts"]["succeeded"] == slow.n
    assert final["shards"]["committed"] == 30


def test_a_metrics_port_in_use_is_exit_2_naming_the_port(slow, tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        rc, out, err = run("run", slow_job(slow, tmp_path), "--metrics-port", str(port))
    finally:
        s.close()
    assert rc == EXIT_CANNOT_START, err
    assert f"--metrics-port {port}" in err and "in use" in err, err
    assert not (tmp_path / "out").exists(), "nothing may run"


# --------------------------------------------------------------------------
# JSON logs
# --------------------------------------------------------------------------

SAME_COLUMN_NULLS = [(7, "f2"), (123, "f2"), (124, "f2"), (250, "f2")]
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def json_lines(err):
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    for j in lines:
        assert TS.match(j["ts"]), j
        assert j["level"] in ("debug", "info", "warn", "error"), j
        assert isinstance(j["event"], str) and j["event"], j
    return lines


def test_json_logs_one_line_per_shard_and_per_failure_class(case_factory):
    case = case_factory(n=300, seed=32, null_at=SAME_COLUMN_NULLS)
    job = case.job(case.make_input("csv"), shard_rows=100, out_format="jsonl")
    job["errors"] = {"max_failed_items": -1}
    path = case.write_job(job)
    rc, out, err = run("run", path, "--log-format", "json")
    assert rc == EXIT_OK, err
    lines = json_lines(err)  # every stderr line is JSON
    st = status_json(path)
    commits = [j for j in lines if j["event"] == "shard_committed"]
    assert sorted(j["shard"] for j in commits) == [0, 1, 2], commits
    assert all(j["job"] == "e2e-job" and j["run_id"] == st["run_id"] for j in commits), commits
    assert sum(j["rows_failed"] for j in commits) == 4
    failed = [j for j in lines if j["event"] == "items_failed"]
    assert len(failed) == 1, failed  # one class (a null in f2), not one line per row
    assert failed[0]["count"] == 4 and failed[0]["level"] == "warn"
    assert len(failed[0]["example_keys"]) == 3
    planned = [j for j in lines if j["event"] == "run_planned"]
    assert len(planned) == 1 and planned[0]["run_id"] == st["run_id"]
    assert planned[0]["job"] == "e2e-job" and planned[0]["batch_size"] == job["batch"]["size"], planned
    assert planned[0]["batch_auto"] is False and planned[0]["shards"] == 3, planned


def test_json_logs_of_an_auto_batch_name_the_job_and_run(case_factory):
    case = case_factory(n=300, seed=31)
    job = case.job(case.make_input("csv"), shard_rows=100)
    job["batch"] = {"size": "auto"}
    path = case.write_job(job)
    rc, out, err = run("run", path, "--log-format", "json")
    assert rc == EXIT_OK, err
    lines = json_lines(err)
    run_id = status_json(path)["run_id"]
    (planned,) = [j for j in lines if j["event"] == "run_planned"]
    assert planned["batch_size"] is None and planned["batch_auto"] is True, planned
    (chosen,) = [j for j in lines if j["event"] == "batch_size_chosen"]
    assert chosen["job"] == "e2e-job" and chosen["run_id"] == run_id, chosen
    assert isinstance(chosen["batch_size"], int) and chosen["batch_size"] > 0, chosen
    for j in lines:
        if j["event"] in ("run_planned", "shard_committed", "batch_size_chosen"):
            assert j["job"] == "e2e-job" and j["run_id"] == run_id, j


def test_json_logs_on_other_commands_and_errors(case_factory):
    case = case_factory(n=50, seed=3)
    path = case.write_job(case.job(case.make_input("csv")))
    rc, out, err = run("status", path, "--log-format", "json", "--run-id", "nope")
    assert rc == EXIT_CANNOT_START
    (line,) = json_lines(err)
    assert line["level"] == "error" and line["event"] == "cannot_start" and "nope" in line["msg"]
    rc, out, err = run("run", path, "--log-format", "xml")
    assert rc == EXIT_CANNOT_START and "--log-format" in err, err
    # A command line that does not parse: still one JSON line.
    for args in (["run", path, "--log-format", "json", "--bogus"], ["runn", path, "--log-format=json"]):
        rc, out, err = run(*args)
        assert rc == EXIT_CANNOT_START, (args, err)
        (line,) = json_lines(err)
        assert line["event"] == "cannot_start" and line["level"] == "error", line
        assert ("--bogus" if args[0] == "run" else "runn") in line["msg"], line


def test_text_logs_are_unchanged(case_factory):
    case = case_factory(n=300, seed=33)
    path = case.write_job(case.job(case.make_input("csv"), shard_rows=100))
    rc, out, err = run("run", path)
    assert rc == EXIT_OK, err
    lines = err.splitlines()
    assert re.match(r"^nightshift: run \S+: 1 input file\(s\), 300 rows, 3 shard\(s\) \(3 to do\), batch size 64$",
                    lines[0]), lines
    assert sum(1 for x in lines if re.match(r"^nightshift: committed shard \d \(100 rows, 0 failed\) \[", x)) == 3
    assert not any(x.startswith("{") for x in lines)


# --------------------------------------------------------------------------
# Dagster Pipes
# --------------------------------------------------------------------------

def encode(value):
    """As dagster_pipes.encode_env_var: base64(zlib(json))."""
    return base64.b64encode(zlib.compress(json.dumps(value).encode())).decode()


def pipes_env(tmp_path, context, inline=True):
    messages = tmp_path / "messages.jsonl"
    if inline:
        ctx_param = {"data": context}
    else:
        (tmp_path / "context.json").write_text(json.dumps(context))
        ctx_param = {"path": str(tmp_path / "context.json")}
    env = {"DAGSTER_PIPES_CONTEXT": encode(ctx_param), "DAGSTER_PIPES_MESSAGES": encode({"path": str(messages)})}
    return env, messages


def dagster_context(asset="scores"):
    return {"asset_keys": [asset], "code_version_by_asset_key": None, "provenance_by_asset_key": None,
            "partition_key": None, "partition_key_range": None, "partition_time_window": None,
            "run_id": "dagster-run-1", "job_name": "score_job", "retry_number": 0, "extras": {}}


def read_messages(path):
    msgs = [json.loads(line) for line in path.read_text().splitlines()]
    for m in msgs:
        assert set(m) == {"__dagster_pipes_version", "method", "params"}, m
        assert m["__dagster_pipes_version"] == "0.1"
    return msgs


@pytest.mark.parametrize("inline", [True, False])
def test_pipes_messages_of_a_completed_run(case_factory, tmp_path, inline):
    case = case_factory(n=300, seed=40)
    path = case.write_job(case.job(case.make_input("csv"), shard_rows=100))
    env, messages = pipes_env(tmp_path, dagster_context(), inline)
    rc, out, err = run("run", path, env=env)
    assert rc == EXIT_OK, err
    msgs = read_messages(messages)
    methods = [m["method"] for m in msgs]
    assert methods[0] == "opened" and msgs[0]["params"] == {"extras": {}}
    assert methods[-1] == "closed" and msgs[-1]["params"] == {}
    assert methods.count("report_asset_materialization") == 1
    assert set(methods) == {"opened", "log", "report_asset_materialization", "closed"}
    logs = [m["params"] for m in msgs if m["method"] == "log"]
    assert all(set(p) == {"message", "level"} and p["level"] in ("INFO", "WARNING", "ERROR", "DEBUG") for p in logs)
    assert sum("committed shard" in p["message"] for p in logs) == 3
    (mat,) = [m["params"] for m in msgs if m["method"] == "report_asset_materialization"]
    assert set(mat) == {"asset_key", "metadata", "data_version"}
    assert mat["asset_key"] == "scores"
    st = status_json(path)
    md = mat["metadata"]
    for v in md.values():
        assert set(v) == {"raw_value", "type"}, v
        assert v["type"] in ("text", "int", "float", "path", "json", "bool", "url", "md", "null", "__infer__")
    assert md["nightshift_run_id"] == {"raw_value": st["run_id"], "type": "text"}
    assert md["rows"] == {"raw_value": 300, "type": "int"}
    assert md["succeeded"]["raw_value"] == 300 and md["failed"]["raw_value"] == 0
    assert md["output"]["type"] == "path" and md["output"]["raw_value"].endswith("out")
    assert md["duration_s"]["type"] == "float"
    assert mat["data_version"] == st["run_id"]


def test_pipes_closed_with_the_exception_when_the_run_fails(case_factory, tmp_path):
    case = case_factory(n=300, seed=34, null_at=SAME_COLUMN_NULLS[:1])
    path = case.write_job(case.job(case.make_input("csv"), shard_rows=100))  # max_failed_items 0
    env, messages = pipes_env(tmp_path, dagster_context())
    rc, out, err = run("run", path, env=env)
    assert rc == EXIT_FAILED, err
    msgs = read_messages(messages)
    assert msgs[0]["method"] == "opened" and msgs[-1]["method"] == "closed"
    assert "report_asset_materialization" not in [m["method"] for m in msgs]
    exc = msgs[-1]["params"]["exception"]
    assert {"name", "message", "stack", "cause", "context"} <= set(exc)
    assert exc["name"] == "NightshiftRunFailed" and "max_failed_items" in exc["message"]


def test_pipes_closed_with_the_exception_when_the_run_cannot_start(case_factory, tmp_path):
    case = case_factory(n=30, seed=1)
    job = case.job(case.make_input("csv"))
    job["model"]["path"] = "missing.onnx"
    env, messages = pipes_env(tmp_path, dagster_context())
    rc, out, err = run("run", case.write_job(job), env=env)
    assert rc == EXIT_CANNOT_START
    msgs = read_messages(messages)
    assert [m["method"] for m in msgs][0] == "opened" and msgs[-1]["method"] == "closed"
    assert msgs[-1]["params"]["exception"]["name"] == "NightshiftCannotStart"


def test_bad_pipes_parameters_are_exit_2(case_factory):
    case = case_factory(n=30, seed=1)
    path = case.write_job(case.job(case.make_input("csv")))
    rc, out, err = run("run", path, env={"DAGSTER_PIPES_CONTEXT": "not base64 zlib!"})
    assert rc == EXIT_CANNOT_START and "DAGSTER_PIPES_CONTEXT" in err, err


# --------------------------------------------------------------------------
# HTML report
# --------------------------------------------------------------------------

class Structure(HTMLParser):
    """Collects tags, ids and every attribute that could load something."""

    def __init__(self):
        super().__init__()
        self.tags, self.ids, self.loads, self.stack = [], set(), [], []
        self.text = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            if k == "id":
                self.ids.add(v)
            if k in ("src", "href", "xlink:href", "srcset", "data") or (v and "url(" in v):
                self.loads.append((tag, k, v))

    def handle_data(self, data):
        self.text.append(data)


def test_report_is_self_contained_and_holds_the_runs_numbers(case_factory, tmp_path):
    case = case_factory(n=300, seed=32, null_at=SAME_COLUMN_NULLS)
    job = case.job(case.make_input("csv"), shard_rows=100)
    job["errors"] = {"max_failed_items": -1}
    path = case.write_job(job)
    rc, out, err = run("run", path)
    assert rc == EXIT_OK, err
    st = status_json(path)
    html_path = tmp_path / "report.html"
    rc, out, err = run("report", path, "--run-id", st["run_id"], "--html", html_path)
    assert rc == EXIT_OK, err
    html = html_path.read_text()
    assert "http" not in html and "src=" not in html and "<script" not in html and "<link" not in html
    assert "@import" not in html and "url(" not in html
    p = Structure()
    p.feed(html)
    assert not p.loads, p.loads
    assert {"counts", "throughput", "latency", "timeline", "failures", "job"} <= p.ids
    text = "".join(p.text)
    assert st["run_id"] in text
    assert "296" in text and "300" in text  # succeeded, total
    assert "3 of 3" in text  # shards
    assert html.count('class="shard"') == 3
    # The null in f2: one reason, four rows, three example keys.
    assert html.count("<tr><td>") == 1
    keys = [str(int(case.ids[r])) for r, _ in SAME_COLUMN_NULLS]
    assert sum(k in text for k in keys) == 3
    # Batch latencies were recorded as the run went: 5 batches of 64 per 100-row shard... at least one bar.
    assert html.count('class="bar"') >= 1 and "batch(es)" in text


def test_report_of_a_run_that_does_not_exist_is_exit_2(case_factory, tmp_path):
    case = case_factory(n=30, seed=1)
    path = case.write_job(case.job(case.make_input("csv")))
    rc, out, err = run("report", path, "--run-id", "nope", "--html", tmp_path / "r.html")
    assert rc == EXIT_CANNOT_START and "nope" in err, err
    rc, out, err = run("report", path, "--html", tmp_path / "r.html")
    assert rc == EXIT_CANNOT_START and "does not exist" in err, err
    assert not (tmp_path / "r.html").exists()


def test_report_into_a_folder_or_nowhere_is_exit_2_naming_it_and_leaves_nothing(case_factory, tmp_path):
    case = case_factory(n=30, seed=1)
    path = case.write_job(case.job(case.make_input("csv")))
    rc, out, err = run("run", path)
    assert rc == EXIT_OK, err
    (tmp_path / "reports").mkdir()
    rc, out, err = run("report", path, "--html", tmp_path / "reports")
    assert rc == EXIT_CANNOT_START and f"--html '{tmp_path / 'reports'}' is a folder" in err, err
    rc, out, err = run("report", path, "--html", tmp_path / "missing" / "r.html")
    assert rc == EXIT_CANNOT_START and f"--html '{tmp_path / 'missing' / 'r.html'}'" in err, err
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert list((tmp_path / "reports").iterdir()) == []


def test_retries_are_counted_by_reason(case_factory):
    """A model that never answers: every batch times out and is retried until
    the breaker stops the run; the endpoint counts the retries as `timeout`."""
    import sys
    from conftest import REPO
    sys.path.insert(0, str(REPO / "tests" / "models"))
    import make_test_models
    case = case_factory(n=300)
    make_test_models.save(make_test_models.slow_graph(width=len(case.feature_cols), outputs=len(case.out_cols)),
                          str(case.root / "slow.onnx"))
    job = case.job(case.make_input("parquet"), shard_rows=300)
    job["model"]["path"] = "slow.onnx"
    job["errors"] = {"batch_timeout": "200ms", "max_retries": 3, "max_failed_items": -1}
    p = start("run", case.write_job(job), "--metrics-port", "0")
    reader = StderrReader(p)
    port = reader.wait_port(p)
    retries = 0
    while p.poll() is None and retries == 0:
        try:
            retries = metric(scrape(port), "nightshift_retries_total", job="e2e-job", reason="timeout") or 0
        except OSError:
            break
        time.sleep(0.05)
    p.communicate(timeout=120)
    assert p.returncode == EXIT_FAILED, "".join(reader.lines)
    assert retries >= 1, "no retry was counted while the run went"


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(tmp_path, *args, url):
    """Headless Debian chromium, offline (every host unresolvable), its log on stderr."""
    cmd = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
           f"--user-data-dir={tmp_path / 'profile'}", "--host-resolver-rules=MAP * ~NOTFOUND",
           "--enable-logging=stderr", "--v=0", *args, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (scripts/bootstrap.sh installs it)")
def test_report_in_a_real_headless_browser(case_factory, tmp_path):
    case = case_factory(n=300, seed=32, null_at=SAME_COLUMN_NULLS)
    job = case.job(case.make_input("csv"), shard_rows=100)
    job["errors"] = {"max_failed_items": -1}
    path = case.write_job(job)
    assert run("run", path)[0] == EXIT_OK
    page = tmp_path / "report.html"
    rc, out, err = run("report", path, "--html", page)
    assert rc == EXIT_OK, err
    url = page.resolve().as_uri()
    dom = chromium(tmp_path, "--dump-dom", url=url)
    assert dom.returncode == 0, dom.stderr
    # The charts are in the DOM the browser built, with their marks.
    for chart in ("throughput", "latency", "timeline"):
        assert re.search(rf'<svg id="{chart}"', dom.stdout), chart
    assert dom.stdout.count('class="shard"') == 3 and "<polyline" in dom.stdout
    # One process ran it: one timeline lane, named by its host and pid.
    assert dom.stdout.count('<g class="lane"') == 1 and re.search(r'class="lane-label"[^>]*>\S+ pid \d+ \(3 shard', dom.stdout)
    assert status_json(path)["run_id"] in dom.stdout
    # No console error and no network request that failed (there is none to make).
    noise = [line for line in dom.stderr.splitlines()
             if "CONSOLE" in line or "net::ERR" in line or "Failed to load" in line]
    assert not noise, noise
    shot = tmp_path / "report.png"
    r = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1000,1800", url=url)
    assert r.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", r.stderr
    assert shot.stat().st_size > 10_000, "a blank screenshot"
    print(f"report screenshot: {shot}")


def test_bad_flags_are_exit_2_before_anything_runs(tmp_path):
    # An address that is no IPv4 address once bound somewhere else (999 wrapped
    # to 231: a multicast address nobody can scrape); --count without --dry-run
    # was ignored while the real scheduler started.
    job = tmp_path / "job.yaml"  # never read: the flags are refused first
    for args, needle in ((("run", job, "--metrics-port", "0", "--metrics-addr", "999.1.1.1"), "--metrics-addr"),
                         (("run", job, "--metrics-port", "0", "--metrics-addr", "metrics.local"), "--metrics-addr"),
                         (("run", job, "--metrics-addr", "0.0.0.0"), "--metrics-addr requires --metrics-port"),
                         (("schedule", job, "--metrics-addr", "0.0.0.0"), "--metrics-addr requires --metrics-port"),
                         (("schedule", job, "--count", "3"), "--dry-run"),
                         (("schedule", job, "--from", "2026-01-01T00:00:00Z"), "--dry-run")):
        rc, out, err = run(*args)
        assert rc == 2 and needle in err, (args, rc, err)
