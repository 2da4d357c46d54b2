"""A run id stands for one job and one input.

Resuming a run id whose job or input changed is refused (exit 2, naming the
change) unless run.allow_input_change re-plans it; a file replaced while a
run reads it fails the run (exit 1) with the committed shards kept; a query's
run id follows the files the query reads, and its relative paths resolve
against the job file's folder."""
import os
import time
from pathlib import Path

from conftest import (EXIT_CANNOT_START, EXIT_FAILED, EXIT_OK, Case, check_output, part_files, read_parts,
                      read_success, run, start, status_json)


def csv_job(case, input_path, **kw):
    job = case.job(input_path, out_format="jsonl", shard_rows=1000, **kw)
    return case.write_job(job)


def test_run_id_with_rewritten_input_is_refused_naming_the_file(case_factory):
    case = case_factory(n=10_000, seed=31)
    data = case.data_dir / "input.csv"
    case.write_csv(data, range(2000))
    job = csv_job(case, "data/input.csv")
    rc, _, err = run("run", job, "--run-id", "nightly")
    assert rc == EXIT_OK, err
    success_before = (case.root / "out" / "_SUCCESS").read_bytes()

    case.write_csv(data, range(10_000))  # the orchestrator rewrote the input
    rc, out, err = run("run", job, "--run-id", "nightly")
    assert rc == EXIT_CANNOT_START, (rc, out, err)
    assert f"input file '{data}' size" in err, err
    assert "run.allow_input_change" in err, err
    assert (case.root / "out" / "_SUCCESS").read_bytes() == success_before
    assert status_json(job, run_id="nightly")["counts"]["total"] == 2000


def test_run_id_given_to_another_job_is_refused_naming_the_keys(case_factory):
    case = case_factory(n=2000, seed=32)
    case.write_csv(case.data_dir / "a.csv", range(1000))
    case.write_csv(case.data_dir / "b.csv", range(1000, 2000))
    rc, _, err = run("run", csv_job(case, "data/a.csv"), "--run-id", "shared")
    assert rc == EXIT_OK, err
    other = case.write_job(case.job("data/b.csv", out_format="jsonl", shard_rows=1000), name="other.yaml")
    rc, out, err = run("run", other, "--run-id", "shared")
    assert rc == EXIT_CANNOT_START, (rc, out, err)
    assert "job key 'input.path' changed" in err, err
    assert f"input file '{case.data_dir / 'b.csv'}' was added" in err, err
    assert f"input file '{case.data_dir / 'a.csv'}' was removed" in err, err
    # Tuning keys are not part of the run: changing them resumes quietly.
    rc, out, err = run("run", csv_job(case, "data/a.csv"), "--run-id", "shared", "--set", "batch.size=7")
    assert rc == EXIT_OK, err
    assert "already completed" in out + err


def test_allow_input_change_keeps_committed_shards_of_unchanged_files(case_factory):
    case = case_factory(n=3000, seed=33)
    case.write_csv(case.data_dir / "part-0.csv", range(1000))
    job = csv_job(case, "data/part-*.csv")
    rc, _, err = run("run", job, "--run-id", "nightly")
    assert rc == EXIT_OK, err
    first_part = part_files(case.root / "out")
    assert len(first_part) == 1
    kept = (first_part[0].name, first_part[0].stat().st_mtime_ns, first_part[0].read_bytes())

    case.write_csv(case.data_dir / "part-1.csv", range(1000, 3000))
    rc, _, err = run("run", job, "--run-id", "nightly")
    assert rc == EXIT_CANNOT_START and "part-1.csv' was added" in err, err
    rc, out, err = run("run", job, "--run-id", "nightly", "--set", "run.allow_input_change=true")
    assert rc == EXIT_OK, (out, err)
    assert "resuming on changed input" in err and "1 committed shard(s) kept, 2 new shard(s)" in err, err
    p = case.root / "out" / kept[0]
    assert (p.name, p.stat().st_mtime_ns, p.read_bytes()) == kept, "a kept shard was rewritten"
    check_output(case, case.root / "out", "jsonl", range(3000))


def test_input_replaced_during_a_run_fails_it_and_a_resume_is_refused(case_factory):
    case = case_factory(n=150_000, seed=34)
    data = case.root / case.make_input("parquet")
    other = Case(case.root / "other", n=20_000, seed=35, model=False)
    replacement = other.write_file(case.root / "replacement.parquet", "parquet", range(other.n))
    job = case.job(str(data), out_format="parquet", shard_rows=2000)
    job["batch"] = {"size": 32}
    job = case.write_job(job)
    outdir = case.root / "out"
    p = start("run", job, "--run-id", "r1")
    try:
        deadline = time.time() + 60
        while not (outdir / "part-000000.parquet").exists():
            assert p.poll() is None, f"run ended (exit {p.returncode}) before its first shard was seen"
            assert time.time() < deadline, "no shard committed within 60 s"
            time.sleep(0.005)
        os.replace(replacement, data)
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == EXIT_FAILED, (p.returncode, err)
    assert f"input file '{data}' changed during the run" in err, err
    st = status_json(job, run_id="r1")
    assert st["state"] == "failed", st
    files = part_files(outdir)
    assert 1 <= len(files) == st["shards"]["committed"] < st["shards"]["total"], st
    assert not (outdir / "_SUCCESS").exists()
    # The committed parts are intact and hold rows of the original file only.
    rows = [r for part in read_parts(outdir, "parquet").values() for r in part]
    assert len(rows) == st["counts"]["succeeded"]
    assert all(r["id"] in case.pos for r in rows), "rows of the replacement file were committed"
    assert len({r["id"] for r in rows}) == len(rows)

    rc, _, err = run("run", job, "--run-id", "r1")
    assert rc == EXIT_CANNOT_START, err
    assert f"input file '{data}' size" in err, err


def query_job(case, query, out_path="out/{run_id}"):
    job = case.job("unused", out_format="jsonl", shard_rows=1000, out_path=out_path)
    job["input"] = {"query": query, "key": "id"}
    return case.write_job(job)


def test_query_run_id_follows_the_files_it_reads(case_factory):
    case = case_factory(n=1500, seed=36)
    data = case.data_dir / "input.csv"
    case.write_csv(data, range(1499))
    job = query_job(case, "SELECT * FROM read_csv('data/input.csv')")
    rc, _, err = run("run", job)
    assert rc == EXIT_OK, err
    first = status_json(job)["run_id"]
    case.write_csv(data, range(1500))  # one row appended
    rc, out, err = run("run", job)
    assert rc == EXIT_OK, err
    assert "already completed" not in out + err
    second = status_json(job)["run_id"]
    assert second != first
    check_output(case, case.root / "out" / second, "jsonl", range(1500))


def test_query_relative_paths_resolve_against_the_job_folder(case_factory, tmp_path):
    case = case_factory(n=1200, seed=37)
    case.write_csv(case.data_dir / "input.csv", range(1200))
    job = query_job(case, "SELECT * FROM read_csv('data/input.csv')", out_path="out")
    # Another folder with a decoy file under the same relative path.
    elsewhere = tmp_path / "elsewhere"
    decoy = Case(elsewhere, n=50, seed=38, model=False)
    decoy.write_csv(decoy.data_dir / "input.csv", range(50))
    rc, _, err = run("run", job, cwd=elsewhere)
    assert rc == EXIT_OK, err
    check_output(case, case.root / "out", "jsonl", range(1200), job=job, cwd=elsewhere)
    assert read_success(case.root / "out")["counts"]["total"] == 1200


def test_allow_input_change_never_replans_a_changed_job_key(case_factory):
    # Parts of two formats (or two column sets) in one folder are no output.
    case = case_factory(n=2000, seed=37)
    case.write_csv(case.data_dir / "part-0.csv", range(2000))
    job = csv_job(case, "data/part-*.csv")
    rc, _, err = run("run", job, "--run-id", "nightly")
    assert rc == EXIT_OK, err
    before = sorted(p.name for p in (case.root / "out").iterdir())
    rc, out, err = run("run", job, "--run-id", "nightly", "--set", "output.format=csv",
                       "--set", "run.allow_input_change=true")
    assert rc == EXIT_CANNOT_START, (rc, out, err)
    assert "job key 'output.format' changed" in err and "never on changed job keys" in err, err
    assert sorted(p.name for p in (case.root / "out").iterdir()) == before


def test_an_empty_run_id_is_refused(case_factory):
    # `--run-id "$RUN"` with RUN unset must not quietly run the default run.
    case = case_factory(n=100, seed=38)
    case.write_csv(case.data_dir / "input.csv", range(100))
    job = csv_job(case, "data/input.csv")
    for command in ("run", "retry", "status"):
        rc, out, err = run(command, job, "--run-id", "")
        assert rc == EXIT_CANNOT_START, (command, rc, out, err)
        assert "--run-id" in err and "must not be empty" in err, (command, err)
    assert not (case.root / "out").exists()


def test_a_completed_run_reopened_on_new_input_loses_its_success_until_it_completes(case_factory):
    # _SUCCESS says the run completed: while a re-planned run runs it must not
    # be there (listing the old parts only), even when that run is killed.
    case = case_factory(n=3000, seed=39)
    case.write_csv(case.data_dir / "part-0.csv", range(1000))
    job = csv_job(case, "data/part-*.csv")
    rc, _, err = run("run", job, "--run-id", "nightly")
    assert rc == EXIT_OK, err
    assert (case.root / "out" / "_SUCCESS").exists()
    case.write_csv(case.data_dir / "part-1.csv", range(1000, 3000))
    rc, _, err = run("run", job, "--run-id", "nightly", "--set", "run.allow_input_change=true",
                     env={"NIGHTSHIFT_CRASH_AT": "after_commit:1"})
    assert rc != EXIT_OK, err
    assert not (case.root / "out" / "_SUCCESS").exists()
    rc, _, err = run("run", job, "--run-id", "nightly")
    assert rc == EXIT_OK, err
    assert read_success(case.root / "out")["counts"]["total"] == 3000
    check_output(case, case.root / "out", "jsonl", range(3000))


def packed_run_killed_after_three_packs(case):
    """12 small CSV files of 100 rows, packed two by two (shard_rows 250);
    killed after three packs (files 0-5) committed."""
    for k in range(12):
        case.write_csv(case.data_dir / f"f{k:02d}.csv", range(k * 100, (k + 1) * 100))
    job = case.job("data", out_format="jsonl", shard_rows=250)
    job = case.write_job(job)
    rc, _, err = run("run", job, "--run-id", "inc", env={"NIGHTSHIFT_CRASH_AT": "after_commit:3"})
    assert rc != EXIT_OK, err
    return job


def test_allow_input_change_on_packed_files_redoes_no_unchanged_file(case_factory):
    # A file of a committed pack is removed: its rows stay (from the old
    # version); no other file, committed before or not, is written twice.
    case = case_factory(n=1200, seed=40)
    job = packed_run_killed_after_three_packs(case)
    (case.data_dir / "f02.csv").unlink()
    rc, out, err = run("run", job, "--run-id", "inc", "--set", "run.allow_input_change=true")
    assert rc == EXIT_OK, (out, err)
    check_output(case, case.root / "out", "jsonl", range(1200))


def test_allow_input_change_reads_a_rewritten_packed_file_again_in_full(case_factory):
    # A file of a committed pack is rewritten with other rows: the new rows
    # are read, the old ones stay beside them, nothing else twice.
    case = case_factory(n=1300, seed=41)
    job = packed_run_killed_after_three_packs(case)
    case.write_csv(case.data_dir / "f02.csv", range(1200, 1300))
    rc, out, err = run("run", job, "--run-id", "inc", "--set", "run.allow_input_change=true")
    assert rc == EXIT_OK, (out, err)
    check_output(case, case.root / "out", "jsonl", range(1300))
