"""Output folders belong to one run, and never lie inside the input.

Two runs writing into one folder (two jobs, or one job whose input changed)
would mix or lose each other's parts; an output or dead-letter folder that the
input's listing reaches would be read back as input by the next run or resume.
Both are refused at start (exit 2) unless `output.overwrite: true` empties a
folder of another run before the first commit."""
import json
import signal
from pathlib import Path

import pytest
import yaml

from conftest import (EXIT_CANNOT_START, EXIT_FAILED, EXIT_OK, Case, check_output, part_files, read_success, run,
                      status_json, write_job)

N = 10_000
SHARD_ROWS = 1000
MARKER = "_nightshift_owner.json"


@pytest.fixture
def case(tmp_path):
    """10k rows and a model of 3 float features; inputs are written per test."""
    return Case(tmp_path / "c", n=N, seed=5, n_features=3, hidden=8)


def make_job(case, name, input_path, out_path="shared", **output):
    job = case.job(input_path, shard_rows=SHARD_ROWS, out_path=out_path)
    job["name"] = name
    job["output"].update(output)
    return case.write_job(job, f"{name}.yaml")


def set_errors(job, errors):
    spec = yaml.safe_load(job.read_text())
    spec["errors"] = errors
    write_job(job, spec)


def input_file(case, name, rows):
    return str(case.write_file(case.data_dir / name, "parquet", rows).relative_to(case.root))


def mtimes(folder):
    return {p.name: p.stat().st_mtime_ns for p in part_files(folder)}


def ok(*args):
    rc, out, err = run(*args)
    assert rc == EXIT_OK, f"{args} exited {rc}\nstdout:\n{out}\nstderr:\n{err}"
    return out + err


def refused(*args, needles=()):
    rc, out, err = run(*args)
    assert rc == EXIT_CANNOT_START, f"{args} exited {rc}, want {EXIT_CANNOT_START}\nstdout:\n{out}\nstderr:\n{err}"
    for n in needles:
        assert str(n) in err, f"{n!r} not in the message:\n{err}"
    return err


def test_a_second_job_is_refused_an_occupied_folder_unless_it_overwrites(case):
    job_a = make_job(case, "job-a", input_file(case, "a.parquet", range(N)))
    job_b = make_job(case, "job-b", input_file(case, "b.parquet", range(3000)))
    shared = case.root / "shared"
    ok("run", job_a)
    run_a = status_json(job_a)["run_id"]
    marker = json.loads((shared / MARKER).read_text())
    assert marker["run_id"] == run_a and marker["job"] == "job-a", marker
    assert marker["ledger"] and marker["created_at"], marker
    before, success = mtimes(shared), (shared / "_SUCCESS").read_text()
    assert len(before) == status_json(job_a)["shards"]["total"] > 1

    refused("run", job_b, needles=[run_a, "job-a", shared, "output.overwrite"])
    # A's output, _SUCCESS and status are as A left them.
    assert mtimes(shared) == before
    assert (shared / "_SUCCESS").read_text() == success
    check_output(case, shared, "parquet", range(N), job=job_a)
    assert "already completed" in ok("run", job_a)

    ok("run", job_b, "--set", "output.overwrite=true")
    check_output(case, shared, "parquet", range(3000), job=job_b)
    assert json.loads((shared / MARKER).read_text())["job"] == "job-b"
    assert read_success(shared)["run_id"] == status_json(job_b)["run_id"]


def test_a_job_whose_input_shrank_is_refused_its_old_folder_unless_it_overwrites(case):
    src = input_file(case, "in.parquet", range(N))
    job = make_job(case, "job-a", src)
    shared = case.root / "shared"
    ok("run", job)
    old_run, old_shards = status_json(job)["run_id"], status_json(job)["shards"]["total"]
    input_file(case, "in.parquet", range(5000))  # the input shrank: a new run
    refused("run", job, needles=[old_run, shared])
    assert len(part_files(shared)) == old_shards  # the old run's parts are all still there
    ok("run", job, "--set", "output.overwrite=true")
    st = status_json(job)
    assert st["run_id"] != old_run
    check_output(case, shared, "parquet", range(5000), job=job)  # exactly the new rows


def test_the_owning_run_resumes_after_a_kill_and_overwrite_removes_nothing(case):
    job = make_job(case, "job-a", input_file(case, "in.parquet", range(N)), overwrite=True)
    shared = case.root / "shared"
    rc, _, err = run("run", job, env={"NIGHTSHIFT_CRASH_AT": "after_publish:3"})
    assert rc == -signal.SIGKILL, f"expected the crash point to SIGKILL the run, got {rc}\n{err}"
    assert json.loads((shared / MARKER).read_text())["run_id"] == status_json(job)["run_id"]
    committed = {k: v for k, v in mtimes(shared).items() if k in ("part-000000.parquet", "part-000001.parquet")}
    assert len(committed) == 2, mtimes(shared)
    ok("run", job)
    check_output(case, shared, "parquet", range(N), job=job)
    # The resumed run kept its committed parts: overwrite applies to other runs' folders only.
    assert {k: v for k, v in mtimes(shared).items() if k in committed} == committed


def test_stray_part_files_are_refused(case):
    job = make_job(case, "job-a", input_file(case, "in.parquet", range(2000)))
    shared = case.root / "shared"
    shared.mkdir()
    (shared / "part-000042.parquet").write_bytes(b"not ours")
    refused("run", job, needles=[shared, "part-000042.parquet"])
    assert sorted(p.name for p in shared.iterdir()) == ["part-000042.parquet"]  # nothing touched


# --------------------------------------------------------------------------
# Outputs inside the input
# --------------------------------------------------------------------------

def test_an_output_inside_a_folder_input_is_refused_by_validate_and_run(case):
    input_file(case, "in.parquet", range(2000))
    job = make_job(case, "job-a", "data", out_path="data/out/{run_id}")
    for cmd in ("validate", "run"):
        refused(cmd, job, needles=["output.path", case.data_dir / "out", "input.path", f"'{case.data_dir}'"])
    assert not (case.data_dir / "out").exists()


def test_a_dead_letter_folder_inside_a_folder_input_is_refused(case):
    input_file(case, "in.parquet", range(2000))
    job = make_job(case, "job-a", "data", out_path="out")
    set_errors(job, {"dead_letter": "data/failed"})
    refused("validate", job, needles=["errors.dead_letter", case.data_dir / "failed"])


@pytest.mark.parametrize("layout", ["output_link", "input_link", "dead_letter_link"])
def test_a_symlink_does_not_hide_an_output_inside_the_input(case, layout):
    """An output (or dead-letter) folder that is a symlink into the input, or an
    input that is a symlink to the folder holding the output: the next run
    would read the parts back as input (every row twice)."""
    input_file(case, "in.parquet", range(2000))
    (case.data_dir / "sub").mkdir()
    if layout == "output_link":
        (case.root / "out").symlink_to(case.data_dir / "sub")
        job, key = make_job(case, "job-a", "data", out_path="out"), "output.path"
    elif layout == "input_link":
        (case.root / "in_link").symlink_to(case.data_dir)
        job, key = make_job(case, "job-a", "in_link", out_path="data/sub/out"), "output.path"
    else:
        (case.root / "dlink").symlink_to(case.data_dir / "sub")
        job, key = make_job(case, "job-a", "data", out_path="out"), "errors.dead_letter"
        set_errors(job, {"dead_letter": "dlink"})
    for cmd in ("validate", "run"):
        refused(cmd, job, needles=[key, "is inside the input"])
    assert not list((case.data_dir / "sub").iterdir())


@pytest.mark.parametrize("pattern,out,accepted", [
    ("data/**/*.parquet", "data/out", False),  # '**' crosses folders
    ("data/*/*.parquet", "data/out", False),
    ("data/in/*.parquet", "data/in", False),
    ("data/in/*.parquet", "data/in/out", True),  # '*' does not cross '/'
])
def test_a_glob_refuses_the_outputs_it_matches(case, pattern, out, accepted):
    (case.data_dir / "in").mkdir()
    input_file(case, "in/x.parquet", range(2000))
    job = make_job(case, "job-a", pattern, out_path=out)
    if accepted:
        ok("validate", job)
        ok("run", job)
        check_output(case, case.root / out, "parquet", range(2000), job=job)
    else:
        for cmd in ("validate", "run"):
            refused(cmd, job, needles=[case.root / out, pattern.split("/")[0]])


def test_a_sibling_output_folder_is_accepted(case):
    (case.data_dir / "in").mkdir()
    input_file(case, "in/x.parquet", range(2000))
    job = make_job(case, "job-a", "data/in", out_path="data/out/{run_id}")
    ok("validate", job)
    ok("run", job)
    check_output(case, Path(status_json(job)["output_path"]), "parquet", range(2000), job=job)
    ok("run", job)  # a second run lists the same input: the output was not read back


# --------------------------------------------------------------------------
# The dead-letter folder is checked at start
# --------------------------------------------------------------------------

def test_an_unwritable_dead_letter_folder_stops_the_run_at_start(case):
    job = make_job(case, "job-a", input_file(case, "in.parquet", range(2000)))
    (case.root / "afile").write_text("a regular file: nothing can be created under it\n")
    set_errors(job, {"dead_letter": "{output}/../afile/dl"})
    refused("run", job, needles=["errors.dead_letter", "afile/dl"])
    assert status_json(job)["counts"]["succeeded"] == 0  # no row was scored


# --------------------------------------------------------------------------
# What _SUCCESS says is in the folder
# --------------------------------------------------------------------------

def test_a_run_whose_committed_parts_another_run_removed_never_completes(case):
    # Run A committed three shards and was killed; run B took the folder with
    # output.overwrite (removing A's parts). A resumed there must not write a
    # _SUCCESS listing parts that are gone.
    job_a = make_job(case, "job-a", input_file(case, "a.parquet", range(N)))
    job_b = make_job(case, "job-b", input_file(case, "b.parquet", range(3000)))
    shared = case.root / "shared"
    rc, _, err = run("run", job_a, env={"NIGHTSHIFT_CRASH_AT": "after_commit:3"})
    assert rc == -signal.SIGKILL, err
    ok("run", job_b, "--set", "output.overwrite=true")
    rc, out, err = run("run", job_a, "--set", "output.overwrite=true")
    assert rc == EXIT_FAILED, (rc, out, err)
    assert "part 'part-000000.parquet'" in err and "is gone" in err, err
    assert not (shared / "_SUCCESS").exists()
    assert status_json(job_a)["state"] == "failed"


def test_parts_no_committed_shard_wrote_are_removed_before_success(case):
    job = make_job(case, "job-a", input_file(case, "in.parquet", range(N)))
    shared = case.root / "shared"
    rc, _, err = run("run", job, env={"NIGHTSHIFT_CRASH_AT": "after_commit:2"})
    assert rc == -signal.SIGKILL, err
    (shared / "part-000099.parquet").write_bytes(b"left by nobody this run knows")
    ok("run", job)
    success = read_success(shared)
    assert sorted(p.name for p in part_files(shared)) == sorted(f["path"] for f in success["files"])
    check_output(case, shared, "parquet", range(N), job=job)


def test_a_stale_success_is_refused_and_removed_by_overwrite(case):
    job = make_job(case, "job-a", input_file(case, "in.parquet", range(2000)))
    shared = case.root / "shared"
    shared.mkdir()
    (shared / "_SUCCESS").write_text('{"run_id": "old"}\n')
    refused("run", job, needles=[shared, "_SUCCESS"])
    assert (shared / "_SUCCESS").read_text() == '{"run_id": "old"}\n'
    ok("run", job, "--set", "output.overwrite=true")
    assert read_success(shared)["run_id"] == status_json(job)["run_id"]


def test_a_killed_processs_marker_temp_files_are_removed_on_resume(case):
    """A kill while the owner marker was written (or moved aside by an
    overwrite) left `._nightshift_owner.json.tmp-PID` in the folder for ever."""
    input_file(case, "in.parquet", range(2000))
    job = make_job(case, "job-a", "data/in.parquet", out_path="out")
    rc, out, err = run("run", job, env={"NIGHTSHIFT_CRASH_AT": "after_commit:1"})
    assert rc in (-9, 137), err
    for stale in (f".{MARKER}.tmp-99999", f".{MARKER}.retired-99998"):
        (case.root / "out" / stale).write_text("{}")
    ok("run", job)
    assert not [p.name for p in (case.root / "out").iterdir() if p.name.startswith(f".{MARKER}.")]
    check_output(case, case.root / "out", "parquet", range(2000), job=job)
