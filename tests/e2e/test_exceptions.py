"""A C++ exception thrown on any thread of a run (reader, model worker,
writer, the main thread) ends the run with exit 1 and a message, the run
marked `failed` with the reason in `status`: never an abort (exit 134).

NIGHTSHIFT_THROW_AT=<point> makes the named throw point throw
std::runtime_error (see include/nightshift/crash_point.h)."""
import pytest

from conftest import EXIT_FAILED, EXIT_OK, assert_not_crashed, check_output, run, status_json


@pytest.mark.parametrize("point, thread", [
    ("reader", "reader"),
    ("model", "model worker"),
    ("writer", "writer"),
    ("main", "main"),
])
def test_exception_on_a_thread_fails_the_run(case_factory, point, thread):
    case = case_factory(n=300)
    job_path = case.write_job(case.job(case.make_input("parquet"), shard_rows=100))
    rc, out, err = run("run", job_path, cwd=case.root, env={"NIGHTSHIFT_THROW_AT": point})
    assert_not_crashed(rc, err)
    assert rc == EXIT_FAILED, (rc, err)
    reason = f"unexpected exception in the {thread} thread: injected exception at throw point '{point}'"
    assert reason in err, err
    st = status_json(job_path, cwd=case.root)
    assert st["state"] == "failed", st
    assert reason in st["message"], st
    # Without the fault the same command resumes and completes the run.
    rc, out, err = run("run", job_path, cwd=case.root)
    assert rc == EXIT_OK, err
    check_output(case, case.root / "out", "parquet", range(case.n))
