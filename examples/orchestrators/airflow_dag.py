"""Airflow: score the churn job once a day with nightshift (docs/orchestrators.md).

Three ways to run the same command line, alternatives: RUNNER picks the one
this DAG uses (two of them in one DAG would start the same nightshift run at
once, and the second would be refused, exit 2):

- `score_churn`: a Python task that runs nightshift and maps its exit code to
  what Airflow should do (2 = a bad job: fail without retrying);
- `score_churn_bash` (BashOperator) and `score_churn_pod`
  (KubernetesPodOperator): the plain operators; every non-zero exit is a
  failure that Airflow retries, including 2 (the retry fails again at once).

The run id comes from the data interval, so a retry of a task instance
resumes the same nightshift run (committed shards are kept), and a backfill
of another interval is another run.

Written against Airflow 2.x; it was only compiled here, never run under a real
Airflow (see docs/orchestrators.md).
"""
from __future__ import annotations

import json
import shlex
import signal
import subprocess
from datetime import timedelta

import pendulum
from airflow import DAG
from airflow.decorators import task
from airflow.exceptions import AirflowException, AirflowFailException
from airflow.operators.bash import BashOperator
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

JOB = "/opt/nightshift/jobs/churn.yaml"

# The one command line, used by all three tasks (and by nightshift's own test
# of this file, which runs exactly this argv).
NIGHTSHIFT_ARGV = ["nightshift", "run", "{job}", "--run-id", "{run_id}", "--json",
                   "--log-format", "json"]

# What each exit code of `nightshift run` means to an orchestrator.
OUTCOME_BY_EXIT_CODE = {
    0: "success",          # done: every shard committed
    1: "failed",           # failed while running (too many bad rows, a broken model): retry may help after a fix
    2: "failed_no_retry",  # could not start (bad job file, missing model or input): no retry helps
    75: "retry",           # interrupted (SIGTERM, timeout): a retry resumes where it stopped
}

# Airflow renders this per task instance: churn-20261201T020000.
RUN_ID_TEMPLATE = "churn-{{ data_interval_start | ts_nodash }}"


def nightshift_argv(job: str, run_id: str) -> list[str]:
    return [a.format(job=job, run_id=run_id) for a in NIGHTSHIFT_ARGV]


def outcome(exit_code: int) -> str:
    # A signal (negative code) or any code nightshift does not document: a failure.
    return OUTCOME_BY_EXIT_CODE.get(exit_code, "failed")


RUNNER = "python"  # "python" (score_churn), "bash" (score_churn_bash) or "pod" (score_churn_pod)

with DAG(
    dag_id="churn_scores",
    schedule="0 2 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Berlin"),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": 3,
        "retry_delay": timedelta(minutes=5),
        # Longer than a normal run; on timeout Airflow stops the task, nightshift
        # drains (run.drain_timeout) and the retry resumes.
        "execution_timeout": timedelta(hours=2),
    },
) as dag:

    @task(task_id="score_churn")
    def score_churn(data_interval_start=None) -> dict:
        run_id = f"churn-{data_interval_start.strftime('%Y%m%dT%H%M%S')}"
        proc = subprocess.Popen(nightshift_argv(JOB, run_id), stdout=subprocess.PIPE, text=True)
        try:
            out, _ = proc.communicate()
        except BaseException:
            # Airflow's timeout or a kill of this task: let nightshift drain and
            # record the run as interrupted rather than leave it running.
            proc.send_signal(signal.SIGTERM)
            proc.wait()
            raise
        result = outcome(proc.returncode)
        if result == "success":
            return json.loads(out.strip().splitlines()[-1])  # the status object, as XCom
        if result == "failed_no_retry":
            raise AirflowFailException(f"nightshift could not start run {run_id} (exit 2); "
                                       "fix the job, model or input, then clear the task")
        raise AirflowException(f"nightshift run {run_id} exited {proc.returncode} ({result})")

    if RUNNER == "python":
        score_churn()

    # The same argv through a shell; the last stdout line (the status JSON)
    # becomes the task's XCom. On kill, Airflow sends SIGTERM: nightshift drains.
    if RUNNER == "bash":
        BashOperator(
            task_id="score_churn_bash",
            bash_command=shlex.join(nightshift_argv(JOB, RUN_ID_TEMPLATE)),
        )

    # In a pod: the image holds nightshift and its backends; the ledger must
    # outlive the pod (a volume, or run.ledger: postgresql://...) for a retry
    # to resume. Every non-zero exit is a failed pod, retried.
    if RUNNER == "pod":
        KubernetesPodOperator(
            task_id="score_churn_pod",
            name="churn-scores",
            namespace="batch",
            image="registry.example.com/nightshift:latest",
            cmds=[NIGHTSHIFT_ARGV[0]],
            arguments=nightshift_argv(JOB, RUN_ID_TEMPLATE)[1:],
            get_logs=True,
            termination_grace_period=120,  # > run.drain_timeout: the drain finishes
        )
