"""NIGHTSHIFT_TEST_BATCH_SLEEP_MS, the test/benchmark seam that stands in for
a remote model (tools/nightshift/test_batch_sleep.h): every batch waits that
long, the output is unchanged, and a bad value is refused (exit 2)."""
import time

import pytest

from conftest import EXIT_CANNOT_START, EXIT_OK, check_output, run


@pytest.fixture
def job(case_factory):
    case = case_factory(n=400, seed=5)
    spec = case.job(case.make_input("csv"), shard_rows=200)
    spec["batch"]["size"] = 50  # 8 batches
    return case, case.write_job(spec)


def test_every_batch_sleeps_and_output_is_unchanged(job):
    case, job_path = job
    t0 = time.monotonic()
    rc, out, err = run("run", job_path, env={"NIGHTSHIFT_TEST_BATCH_SLEEP_MS": "250"})
    took = time.monotonic() - t0
    assert rc == EXIT_OK, err
    assert took >= 8 * 0.25, f"8 batches of 250 ms took {took:.2f} s"
    check_output(case, case.root / "out", "parquet", range(case.n))


@pytest.mark.parametrize("value", ["soon", "-1", "60001", "5ms"])
def test_bad_value_is_exit_2(job, value):
    case, job_path = job
    rc, out, err = run("run", job_path, env={"NIGHTSHIFT_TEST_BATCH_SLEEP_MS": value})
    assert rc == EXIT_CANNOT_START, err
    assert f"NIGHTSHIFT_TEST_BATCH_SLEEP_MS='{value}' must be a whole number of milliseconds" in err, err
    assert not (case.root / "out").exists()
