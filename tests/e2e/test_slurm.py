"""examples/slurm/score.sbatch on a real Slurm (slurm_fixture: munged,
slurmctld and slurmd on this host) with a real PostgreSQL ledger
(pg_fixture): `sbatch --array=0-3` starts four workers of one run; each takes
its --worker-index and --workers from SLURM_ARRAY_TASK_ID and
SLURM_ARRAY_TASK_COUNT. The run must write every key exactly once with the
reference predictions, one _SUCCESS, and `status --json` must list the four
workers with indexes 0..3 of 4."""
import json
import os
import time
from pathlib import Path

from conftest import BIN, Case, check_output, run, write_job
from pg_fixture import PASSWORD, pg_server  # noqa: F401  (session fixture)
from slurm_fixture import slurm_cluster  # noqa: F401  (session fixture)

SBATCH = Path(__file__).resolve().parents[2] / "examples" / "slurm" / "score.sbatch"
ROWS = 200_000
SHARD_ROWS = 10_000
# Every batch of 1024 rows waits this long (the test seam of
# tools/nightshift/test_batch_sleep.h): ~4 s of model time in all, so that
# the four tasks overlap however Slurm staggers their starts.
BATCH_SLEEP_MS = "20"

def test_job_array_of_four_workers_on_one_pg_ledger(slurm_cluster, pg_server, tmp_path):
    pg = pg_server
    db = f"slurm_{os.getpid()}"
    pg.admin(f"CREATE DATABASE {db} OWNER scorer")
    case = Case(tmp_path / "case", n=ROWS, seed=11)
    job = case.job(str(case.root / case.make_input("parquet")), shard_rows=SHARD_ROWS,
                   out_path=str(tmp_path / "out"))
    job["model"]["path"] = str(case.model.path)
    job["run"]["ledger"] = pg.url(with_password=False, db=db)
    job["batch"]["size"] = 1024
    job_path = write_job(tmp_path / "job.yaml", job)

    t0 = time.monotonic()
    p = slurm_cluster.sbatch(["--array=0-3", f"--output={tmp_path}/slurm-%A_%a.out", f"--chdir={tmp_path}",
                              str(SBATCH), str(job_path), "slurm-night-1"],
                             env={"NIGHTSHIFT": str(BIN),
                                  "PGPASSWORD": PASSWORD, "NIGHTSHIFT_TEST_BATCH_SLEEP_MS": BATCH_SLEEP_MS},
                             timeout=300)
    took = time.monotonic() - t0
    logs = "\n".join(f"--- {f.name}\n{f.read_text(errors='replace')[-3000:]}"
                     for f in sorted(tmp_path.glob("slurm-*.out")))
    assert p.returncode == 0, f"sbatch: {p.stdout}{p.stderr}\n{logs}"
    assert len(list(tmp_path.glob("slurm-*.out"))) == 4, logs
    assert PASSWORD not in logs
    print(f"4-task array of {ROWS} rows: {took:.1f} s from sbatch to the last task's exit")

    outdir = tmp_path / "out"
    check_output(case, outdir, "parquet", range(ROWS))
    assert [p.name for p in outdir.glob("_SUCCESS*")] == ["_SUCCESS"]

    rc, out, err = run("status", job_path, "--run-id", "slurm-night-1", "--json", env={"PGPASSWORD": PASSWORD})
    assert rc == 0, err
    st = json.loads(out)
    assert st["state"] == "completed", st
    shards = st["shards"]["total"]
    assert shards >= 8 and st["shards"]["committed"] == shards, st  # (planned on Parquet row groups)
    workers = st["workers"]
    print("workers:", [(w["worker_index"], w["shards_committed"]) for w in workers])
    assert sorted((w["worker_index"], w["workers"]) for w in workers) == [(i, 4) for i in range(4)], workers
    assert sum(w["shards_committed"] for w in workers) == shards, workers
