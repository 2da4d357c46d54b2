"""run.readers and run.writers: several reader threads, each reading its own
shards of a Parquet input (shard_index % readers), and several writer threads,
each encoding and publishing its own shards (every `writers`-th in read
order). The part files must be the same, byte for byte, as one reader's and
one writer's; a crash point leaves every row exactly once (the random kill
loop and SIGTERM with several threads are in test_resume.py); the failure
limit counts the failures of every writer; an input that cannot be forked
(CSV) is read by one reader; a database output with several writers, or a
count out of range, is exit 2 naming the key."""
import json
import signal

import pytest
import yaml

from conftest import (EXIT_CANNOT_START, EXIT_FAILED, EXIT_OK, Mlp, assert_not_crashed, check_output,
                      part_files, read_dead_letters, run, status_json, write_job)
from test_resume import SHARD_ROWS, big, big_job, finish, visible_rows  # noqa: F401 (big: a fixture)
from test_small_files import make as make_small_files
from test_small_files import write as write_small_job

WRITERS = 3


def writers_job(case, d, writers, readers=None):
    run_keys = {"shard_rows": SHARD_ROWS, "writers": writers}
    if readers is not None:
        run_keys["readers"] = readers
    return big_job(case, d, run=run_keys)


@pytest.mark.parametrize("readers", [1, 3], ids=["one-reader", "three-readers"])
def test_several_writers_write_the_same_files_as_one(big, tmp_path, readers):
    one = writers_job(big, tmp_path / "one", 1, readers=1)
    many = writers_job(big, tmp_path / "many", WRITERS, readers=readers)
    rc, out, err = run("run", one, timeout=300)
    assert rc == EXIT_OK, err
    assert "writers)" not in out and "readers)" not in out, out
    rc, out, err = run("run", many, timeout=300)
    assert rc == EXIT_OK, err
    assert f"({WRITERS} writers)" in out, out
    assert (f"({readers} readers)" in out) == (readers > 1), out
    check_output(big, many.parent / "out", "parquet", range(big.n), job=many)
    a, b = part_files(one.parent / "out"), part_files(many.parent / "out")
    assert [p.name for p in a] == [p.name for p in b] and len(a) >= 2 * WRITERS, ([p.name for p in a], [p.name for p in b])
    for x, y in zip(a, b):
        assert x.read_bytes() == y.read_bytes(), f"{y.name} differs from one writer's"
    manifest = json.loads((many.parent / "out" / "_SUCCESS").read_text())
    assert manifest["counts"] == {"total": big.n, "succeeded": big.n, "failed": 0}, manifest
    rc, out, err = run("run", many, "--json", timeout=300)
    assert rc == EXIT_OK and "already completed" in out + err, (rc, out, err)


def test_crash_between_publish_and_commit_with_several_writers(big, tmp_path):
    """SIGKILL at the 3rd publish: the writers publish concurrently, so 3 or more
    files may be visible, never more committed than visible, and the resumed run
    (read by three readers) rewrites none of the committed ones."""
    job = writers_job(big, tmp_path / "j", WRITERS, readers=3)
    outdir = job.parent / "out"
    rc, _, err = run("run", job, env={"NIGHTSHIFT_CRASH_AT": "after_publish:3"}, timeout=300)
    assert rc == -signal.SIGKILL, f"expected the crash point to SIGKILL the run, got exit {rc}\n{err}"
    files = part_files(outdir)
    st = status_json(job)
    assert len(files) >= 3, [p.name for p in files]
    assert st["shards"]["committed"] < len(files), (st, [p.name for p in files])
    assert st["counts"]["succeeded"] <= visible_rows(outdir), st
    finish(big, job, outdir)


def test_failure_limit_counts_every_writer(tmp_path):
    """Two bad rows in two shards written by different writers: a limit of 1 fails
    the run whichever writer commits second, and the dead letters of both are kept."""
    Mlp(tmp_path / "model.onnx", n_in=2, n_out=2)
    make_small_files(tmp_path, bad={(1, 1), (4, 1)})  # shards 0 and 1 (3 files per shard)
    job = write_small_job(tmp_path)
    spec = yaml.safe_load(job.read_text())
    spec["run"]["writers"] = 2
    spec["errors"]["max_failed_items"] = 1
    write_job(job, spec)
    rc, out, err = run("run", "job.yaml", cwd=tmp_path)
    assert_not_crashed(rc, err)
    assert rc == EXIT_FAILED, (rc, out, err)
    assert "2 items failed, more than errors.max_failed_items allows (1)" in err, err
    letters = read_dead_letters(tmp_path / "out" / "_failed")
    assert sorted(name for name, _ in letters) == ["part-000000.jsonl", "part-000001.jsonl"], letters

    spec["errors"]["max_failed_items"] = 2
    spec["output"]["path"] = "out2"
    write_job(job, spec)
    rc, out, err = run("run", "job.yaml", "--run-id", "again", cwd=tmp_path)
    assert rc == EXIT_OK, err
    st = status_json("job.yaml", run_id="again", cwd=tmp_path)
    assert st["state"] == "completed" and st["counts"]["failed"] == 2, st


def test_a_csv_input_is_read_by_one_reader(case_factory):
    case = case_factory(n=5000, seed=31)
    spec = case.job(case.make_input("csv"), shard_rows=500)
    spec["run"]["readers"] = 3
    job = case.write_job(spec)
    rc, out, err = run("run", job, cwd=case.root)
    assert rc == EXIT_OK, err
    assert "readers)" not in out, out
    check_output(case, case.root / "out", "parquet", range(case.n), job=job)


@pytest.mark.parametrize("key, value", [
    ("writers", -1), ("writers", 65), ("writers", "two"), ("readers", -1), ("readers", 65),
])
def test_threads_out_of_range_is_exit_2(big, tmp_path, key, value):
    job = big_job(big, tmp_path / "j", run={"shard_rows": SHARD_ROWS, key: value})
    message = f"run.{key}"
    rc, out, err = run("validate", job)
    assert rc == EXIT_CANNOT_START, (rc, out, err)
    assert message in err and "job.yaml:" in err, err


def test_several_writers_into_a_database_is_exit_2(big, tmp_path):
    job = writers_job(big, tmp_path / "j", 2)
    spec = yaml.safe_load(job.read_text())
    spec["output"] = {"format": "sqlite", "url": str(tmp_path / "out.db"), "table": "scores",
                      "keep": ["id", "name"]}
    write_job(job, spec)
    rc, out, err = run("run", job)
    assert rc == EXIT_CANNOT_START, (rc, out, err)
    assert "run.writers" in err and "2 writers need a file output; output.format sqlite is written by one" in err, err
    assert not (tmp_path / "out.db").exists()
