"""Dagster: an asset materialised by nightshift through Dagster Pipes
(docs/orchestrators.md).

PipesSubprocessClient starts `nightshift run` with DAGSTER_PIPES_CONTEXT and
DAGSTER_PIPES_MESSAGES set; nightshift reads them and reports back: its log
lines, one asset materialization (metadata nightshift_run_id, rows,
succeeded, failed, rows_processed, output, duration_s; data version = the
run id) and, when the run did not complete, the exception.

Exit 2 (bad job, model or input) fails without retrying; other failures
follow the retry policy, and a retry of the same partition resumes the same
run.

Written against Dagster 1.x; it was only compiled here, never run under a
real Dagster (see docs/orchestrators.md).
"""
from __future__ import annotations

import re
import shutil

from dagster import (AssetExecutionContext, DagsterPipesExecutionError, DailyPartitionsDefinition,
                     Definitions, Failure, PipesSubprocessClient, RetryPolicy, asset)

JOB = "/opt/nightshift/jobs/churn.yaml"
NIGHTSHIFT_ARGV = ["nightshift", "run", "{job}", "--run-id", "{run_id}"]
OUTCOME_BY_EXIT_CODE = {0: "success", 1: "failed", 2: "failed_no_retry", 75: "retry"}


@asset(partitions_def=DailyPartitionsDefinition(start_date="2026-01-01"),
       retry_policy=RetryPolicy(max_retries=3, delay=300))
def churn_scores(context: AssetExecutionContext, pipes_subprocess_client: PipesSubprocessClient):
    run_id = f"churn-{context.partition_key.replace('-', '')}"
    argv = [a.format(job=JOB, run_id=run_id) for a in NIGHTSHIFT_ARGV]
    argv[0] = shutil.which(argv[0]) or argv[0]
    try:
        return pipes_subprocess_client.run(command=argv, context=context).get_materialize_result()
    except DagsterPipesExecutionError as e:
        # The client says "External execution process failed with code N".
        m = re.search(r"code (-?\d+)", str(e))
        code = int(m.group(1)) if m else 1
        outcome = OUTCOME_BY_EXIT_CODE.get(code, "failed")
        raise Failure(description=f"nightshift run {run_id} exited {code} ({outcome})",
                      allow_retries=outcome != "failed_no_retry") from e


defs = Definitions(assets=[churn_scores],
                   resources={"pipes_subprocess_client": PipesSubprocessClient()})
