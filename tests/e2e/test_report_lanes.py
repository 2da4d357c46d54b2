"""The HTML report's shard timeline draws one lane per worker, checked in
Debian's headless chromium on a run that two workers shared through a real
PostgreSQL ledger (pg_fixture): two lanes, each named by its worker's host
and pid, each holding the shards that worker committed, together every shard
once."""
import os
import re
import signal
import time

import pytest

from conftest import EXIT_OK, Case, run, status_json, write_job
from pg_fixture import PASSWORD, pg_server  # noqa: F401  (the session fixture)
from test_metrics import CHROMIUM, chromium
from test_workers_pg import holding, logs, start_worker, stopped, wait_all

SHARDS = 8


@pytest.fixture(autouse=True)
def _password(monkeypatch):
    monkeypatch.setenv("PGPASSWORD", PASSWORD)


def lanes_in(dom):
    """[(data-worker, number of shard bars)] of the timeline, in order."""
    timeline = re.search(r'<svg id="timeline".*?</svg>', dom, re.S).group(0)
    out = []
    for m in re.finditer(r'<g class="lane" data-worker="([^"]*)">(.*?)</g>', timeline, re.S):
        out.append((m.group(1), m.group(2).count('class="shard"')))
    return out


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (scripts/bootstrap.sh installs it)")
def test_two_worker_run_has_one_timeline_lane_per_worker_in_the_browser(pg_server, tmp_path):
    case = Case(tmp_path / "data", n=8000, seed=14)
    case.input_path = case.make_input("parquet")
    spec = case.job(str(case.root / case.input_path), shard_rows=case.n // SHARDS,
                    out_path=str(tmp_path / "out"))
    spec["model"]["path"] = str(case.model.path)
    spec["batch"] = {"size": 256}
    spec["run"]["ledger"] = pg_server.url(with_password=False)
    job = write_job(tmp_path / "job.yaml", spec)
    # Worker 0 freezes right after its first claim check, so worker 1 (which
    # may start late on a loaded machine) surely finds shards to commit; then
    # worker 0 continues and commits the shard it holds.
    w0 = start_worker(job, "lanes", 0, 2, tmp_path / "w0.log", wait=True,
                      env={"NIGHTSHIFT_STOP_AT": "after_claim_check:1"})
    deadline = time.time() + 60
    while not stopped(w0.pid):
        assert time.time() < deadline and w0.poll() is None, logs(tmp_path)
        time.sleep(0.05)
    w1 = start_worker(job, "lanes", 1, 2, tmp_path / "w1.log", wait=True)
    try:
        deadline = time.time() + 120
        # Until worker 1 committed every shard worker 0 does not hold.
        while (status_json(job, run_id="lanes")["shards"]["committed"]
               < SHARDS - holding(job, "lanes").get(w0.pid, 0)):
            assert time.time() < deadline and w1.poll() is None, logs(tmp_path)
            time.sleep(0.1)
    finally:
        os.kill(w0.pid, signal.SIGCONT)
    procs = [w0, w1]
    assert wait_all(procs, 300) == [EXIT_OK] * 2, logs(tmp_path)
    page = tmp_path / "report.html"
    rc, out, err = run("report", job, "--run-id", "lanes", "--html", page)
    assert rc == EXIT_OK, err
    url = page.resolve().as_uri()
    dom = chromium(tmp_path, "--dump-dom", url=url)
    assert dom.returncode == 0, dom.stderr
    lanes = lanes_in(dom.stdout)
    committed_by = {p.pid: 0 for p in procs}
    for worker, bars in lanes:
        host, pid, start = worker.split("/")
        assert int(pid) in committed_by and int(start) > 0, lanes
        committed_by[int(pid)] += bars
    # Each worker has its lane (worker 0 the shard(s) it froze holding,
    # worker 1 the rest), and every shard is drawn once.
    assert len(lanes) == 2 and all(n > 0 for n in committed_by.values()), (lanes, logs(tmp_path))
    assert sum(committed_by.values()) == SHARDS, lanes
    for p in procs:
        assert re.search(rf'class="lane-label"[^>]*>[^<]* pid {p.pid} \(\d+ shard\(s\)\)', dom.stdout)
    assert "in one lane per worker (2 worker(s))" in dom.stdout
    noise = [line for line in dom.stderr.splitlines()
             if "CONSOLE" in line or "net::ERR" in line or "Failed to load" in line]
    assert not noise, noise
    shot = tmp_path / "lanes.png"
    r = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1000,1800", url=url)
    assert r.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", r.stderr
    print(f"report screenshot: {shot}")
