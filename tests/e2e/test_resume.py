"""Crash and resume: kill -9 at chosen and random points, SIGTERM/SIGINT, re-runs.

After any sequence of crashes, running the same command again must finish
the run with every input key exactly once across the part files, predictions
equal to the reference, no temporary files left and a correct _SUCCESS."""
import json
import random
import signal
import time
from pathlib import Path

import pytest

from conftest import (EXIT_INTERRUPTED, EXIT_OK, Case, assert_no_tmp_files, check_output, part_files, run,
                      sql, start, status_json, write_job)

N_ROWS = 300_000
SHARD_ROWS = 20_000


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """300k rows in one Parquet file (small row groups) and a model, shared by the module."""
    case = Case(tmp_path_factory.mktemp("big"), n=N_ROWS, seed=21)
    case.input_file = case.root / case.make_input("parquet")
    return case


def big_job(case, d, **kw):
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    job = case.job(str(case.input_file), out_format="parquet", shard_rows=SHARD_ROWS, **kw)
    job["model"]["path"] = str(case.model.path)
    job["batch"] = {"size": 512}
    return write_job(d / "job.yaml", job)


def io_threads(writers, readers):
    """big_job's keyword for run.writers and run.readers (none: the defaults)."""
    if writers is None and readers is None:
        return {}
    run_keys = {"shard_rows": SHARD_ROWS}
    run_keys.update({k: v for k, v in (("writers", writers), ("readers", readers)) if v is not None})
    return {"run": run_keys}


def visible_rows(outdir, files=None):
    """Rows in the visible part files; every one must be a complete, readable file."""
    files = part_files(outdir) if files is None else files
    if not files:
        return 0
    names = ", ".join(f"'{p}'" for p in files)
    out = sql(f"SELECT count(*) AS n FROM read_parquet([{names}])")
    return int(out.strip().splitlines()[1])


def mtimes(paths):
    return {Path(p).name: Path(p).stat().st_mtime_ns for p in paths}


def finish(case, job, outdir):
    """Runs the job again; it must complete, with exactly-once output."""
    rc, out, err = run("run", job, timeout=300)
    assert rc == EXIT_OK, f"resume exited {rc}\nstdout:\n{out}\nstderr:\n{err}"
    assert "already completed" not in out + err, "resume claimed the unfinished run was already completed"
    check_output(case, outdir, "parquet", range(case.n), job=job)
    assert_no_tmp_files(job.parent)


def test_crash_between_publish_and_commit(big, tmp_path):
    """SIGKILL right after the 3rd shard's file is renamed into place, before its ledger commit."""
    job = big_job(big, tmp_path / "j")
    outdir = job.parent / "out"
    rc, out, err = run("run", job, env={"NIGHTSHIFT_CRASH_AT": "after_publish:3"}, timeout=300)
    assert rc == -signal.SIGKILL, f"expected the crash point to SIGKILL the run, got exit {rc}\n{err}"
    files = part_files(outdir)
    assert len(files) == 3, f"3 shards published before the crash, found {[p.name for p in files]}"
    visible_rows(outdir)  # the published files are complete
    assert not (outdir / "_SUCCESS").exists()
    st = status_json(job)
    assert st["state"] != "completed", st
    assert st["shards"]["committed"] == 2, st
    # The ledger counts only the two committed shards, not the published-but-uncommitted third.
    assert st["counts"]["succeeded"] == visible_rows(outdir, files[:2]), st
    before = mtimes(files[:2])
    finish(big, job, outdir)
    # Committed shards are not written again by the resumed run.
    assert mtimes(files[:2]) == before, "a committed shard's part file was rewritten on resume"


def test_crash_after_commit(big, tmp_path):
    job = big_job(big, tmp_path / "j")
    outdir = job.parent / "out"
    rc, out, err = run("run", job, env={"NIGHTSHIFT_CRASH_AT": "after_commit:2"}, timeout=300)
    assert rc == -signal.SIGKILL, f"expected the crash point to SIGKILL the run, got exit {rc}\n{err}"
    files = part_files(outdir)
    assert len(files) == 2, [p.name for p in files]
    st = status_json(job)
    assert st["state"] != "completed", st
    assert st["shards"]["committed"] == 2, st
    assert st["counts"]["succeeded"] == visible_rows(outdir), st
    before = mtimes(files)
    finish(big, job, outdir)
    assert mtimes(files) == before, "a committed shard's part file was rewritten on resume"


def test_crash_again_during_resume(big, tmp_path):
    """Crash, then crash the resumed run too (between publish and commit of its first shard)."""
    job = big_job(big, tmp_path / "j")
    outdir = job.parent / "out"
    rc, _, err = run("run", job, env={"NIGHTSHIFT_CRASH_AT": "after_commit:4"}, timeout=300)
    assert rc == -signal.SIGKILL, err
    rc, _, err = run("run", job, env={"NIGHTSHIFT_CRASH_AT": "after_publish:1"}, timeout=300)
    assert rc == -signal.SIGKILL, err
    assert len(part_files(outdir)) == 5
    assert status_json(job)["shards"]["committed"] == 4
    finish(big, job, outdir)


@pytest.mark.parametrize("writers, readers", [(None, None), (3, 2)], ids=["one-thread", "three-writers-two-readers"])
def test_random_sigkill_loop(big, tmp_path, writers, readers):
    """kill -9 at seeded random moments, several times, then resume to the end.

    Even attempts die a random 0-200 ms after start (startup, planning, first
    shard); odd ones a random 0-40 ms after the attempt publishes its first
    part file (while writing, renaming or committing a later shard). With
    run.writers: 3 and run.readers: 2, three shards are being written and
    published, and two read, at once."""
    job = big_job(big, tmp_path / "j", **io_threads(writers, readers))
    outdir = job.parent / "out"
    rng = random.Random(20240611)
    killed_mid_run = 0
    committed_before = 0
    completed_early = False
    attempts = 8
    for attempt in range(attempts):
        before = mtimes(part_files(outdir)) if outdir.exists() else {}
        p = start("run", job)
        if attempt % 2 == 0:
            time.sleep(rng.uniform(0.0, 0.2))
        else:
            delay = rng.uniform(0.0, 0.04)
            deadline = time.time() + 60
            while p.poll() is None and time.time() < deadline:
                if outdir.exists() and mtimes(part_files(outdir)) != before:
                    break
                time.sleep(0.002)
            time.sleep(delay)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            killed_mid_run += 1
        rc = p.wait(timeout=120)
        _, err = p.communicate()
        if rc == EXIT_OK:
            completed_early = True
            break
        assert rc == -signal.SIGKILL, f"attempt {attempt}: exit {rc}\n{err}"
        # Every visible part file is complete; the ledger never claims more than is on disk.
        rows_on_disk = visible_rows(outdir) if outdir.exists() else 0
        st = status_json(job)
        if st["state"] == "completed":
            # Killed after the run had finished (during teardown): _SUCCESS must already be there.
            assert (outdir / "_SUCCESS").exists(), ("ledger says completed but there is no _SUCCESS", st)
            completed_early = True
            break
        assert st["shards"]["committed"] >= committed_before, ("committed shards went backwards", st)
        committed_before = st["shards"]["committed"]
        assert st["shards"]["committed"] <= len(part_files(outdir)), st
        assert st["counts"]["succeeded"] <= rows_on_disk, (st, rows_on_disk)
        assert not (outdir / "_SUCCESS").exists(), "_SUCCESS written by an unfinished run"
    print(f"kills mid-run: {killed_mid_run}, committed shards before the last run: {committed_before}")
    assert killed_mid_run >= 4, f"only {killed_mid_run} kills landed mid-run: the test did not exercise crashes"
    if completed_early:
        rc, out, err = run("run", job)
        assert rc == EXIT_OK and "already completed" in out + err, (rc, out, err)
        check_output(big, outdir, "parquet", range(big.n), job=job)
        assert_no_tmp_files(job.parent)
    else:
        finish(big, job, outdir)


@pytest.mark.parametrize("sig, writers, readers",
                         [(signal.SIGTERM, None, None), (signal.SIGINT, None, None), (signal.SIGTERM, 3, 2)],
                         ids=["SIGTERM", "SIGINT", "SIGTERM-three-writers-two-readers"])
def test_signal_interrupts_then_resume(big, tmp_path, sig, writers, readers):
    job = big_job(big, tmp_path / "j", **io_threads(writers, readers))
    outdir = job.parent / "out"
    p = start("run", job, "--json")
    try:
        deadline = time.time() + 60
        while not (outdir / "part-000000.parquet").exists():
            assert p.poll() is None, f"run ended (exit {p.returncode}) before its first shard was seen"
            assert time.time() < deadline, "no shard committed within 60 s"
            time.sleep(0.005)
        p.send_signal(sig)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == EXIT_INTERRUPTED, f"exit {p.returncode} after {sig.name}\nstderr:\n{err}"
    assert "interrupted" in err, err
    assert json.loads(out)["state"] == "interrupted", out  # --json: the final status object
    st = status_json(job)
    assert st["state"] == "interrupted", st
    assert 1 <= st["shards"]["committed"] < st["shards"]["total"], st
    files = part_files(outdir)
    assert len(files) == st["shards"]["committed"], (st, [f.name for f in files])
    assert st["counts"]["succeeded"] == visible_rows(outdir), st
    assert st["counts"]["failed"] == 0
    assert not (outdir / "_SUCCESS").exists()
    assert_no_tmp_files(job.parent)  # a graceful stop cleans up its unfinished shard
    before = mtimes(files)
    finish(big, job, outdir)
    assert mtimes(files) == before, "a committed shard's part file was rewritten on resume"


def test_rerun_of_completed_run_changes_nothing(case_factory):
    case = case_factory(n=3000, seed=22)
    job = case.write_job(case.job(case.make_input("parquet"), shard_rows=500, out_format="jsonl"))
    rc, out, err = run("run", job)
    assert rc == EXIT_OK, err
    outdir = case.root / "out"
    check_output(case, outdir, "jsonl", range(case.n), job=job)

    def snapshot():
        # Every file of the job: output, _SUCCESS, the ledger, inputs, model.
        return {str(p.relative_to(case.root)): (p.stat().st_mtime_ns, p.stat().st_size, p.read_bytes())
                for p in case.root.rglob("*") if p.is_file()}

    before = snapshot()
    st_before = status_json(job)
    time.sleep(0.05)
    rc, out, err = run("run", job)
    assert rc == EXIT_OK, err
    assert "already completed" in out + err, (out, err)
    after = snapshot()
    assert after.keys() == before.keys(), (sorted(before), sorted(after))
    changed = [k for k in before if before[k] != after[k]]
    assert not changed, f"re-running a completed run changed {changed}"
    st_after = status_json(job)
    assert st_after == st_before, (st_before, st_after)
    # --json on the no-op run still prints the status object.
    rc, out, err = run("run", job, "--json")
    assert rc == EXIT_OK
    assert json.loads(out)["state"] == "completed"
