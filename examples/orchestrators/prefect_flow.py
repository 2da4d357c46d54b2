"""Prefect: a flow whose task runs nightshift with retries (docs/orchestrators.md).

Exit 0 completes the task; 1 and 75 fail it and Prefect retries (75 resumes
the interrupted run: the run id is the same); 2 fails it without retrying,
since no retry fixes a bad job file, model or input.

Written against Prefect 2.x/3.x; it was only compiled here, never run under a
real Prefect (see docs/orchestrators.md).
"""
from __future__ import annotations

import json
import signal
import subprocess
from datetime import date

from prefect import flow, get_run_logger, task

NIGHTSHIFT_ARGV = ["nightshift", "run", "{job}", "--run-id", "{run_id}", "--json",
                   "--log-format", "json"]
OUTCOME_BY_EXIT_CODE = {0: "success", 1: "failed", 2: "failed_no_retry", 75: "retry"}


class NightshiftFailed(Exception):
    """Exit 1 or 75: a retry may help (75 resumes)."""


class NightshiftBadJob(Exception):
    """Exit 2: the run could not start; retrying does not help."""


def retry_unless_bad_job(task, task_run, state) -> bool:
    try:
        state.result()
    except NightshiftBadJob:
        return False
    except Exception:
        return True
    return False


@task(retries=3, retry_delay_seconds=300, retry_condition_fn=retry_unless_bad_job,
      timeout_seconds=2 * 3600)
def run_nightshift(job: str, run_id: str) -> dict:
    logger = get_run_logger()
    argv = [a.format(job=job, run_id=run_id) for a in NIGHTSHIFT_ARGV]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        out, _ = proc.communicate()
    except BaseException:
        proc.send_signal(signal.SIGTERM)  # a timeout or cancel: nightshift drains
        proc.wait()
        raise
    result = OUTCOME_BY_EXIT_CODE.get(proc.returncode, "failed")
    if result == "success":
        status = json.loads(out.strip().splitlines()[-1])
        logger.info("run %s: %s rows, %s failed, output %s", status["run_id"],
                    status["counts"]["total"], status["counts"]["failed"], status["output_path"])
        return status
    if result == "failed_no_retry":
        raise NightshiftBadJob(f"nightshift could not start run {run_id} (exit 2)")
    raise NightshiftFailed(f"nightshift run {run_id} exited {proc.returncode} ({result})")


@flow(name="churn-scores")
def churn_scores(day: date | None = None) -> dict:
    day = day or date.today()
    return run_nightshift("/opt/nightshift/jobs/churn.yaml", f"churn-{day:%Y%m%d}")


if __name__ == "__main__":
    churn_scores()
