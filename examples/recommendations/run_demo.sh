#!/usr/bin/env bash
# Makes the model and data (USERS users, default 20,000; 50,000 items), runs
# the job and shows one user's recommendations. With RECS_PG_URL set it also
# writes them into PostgreSQL (job_postgres.yaml, upsert).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
nightshift="${NIGHTSHIFT:-$here/../../build/tools/nightshift/nightshift}"
cd "$here"
/usr/bin/python3 make_example.py data --users "${USERS:-20000}"
"$nightshift" run job.yaml
"$nightshift" sql "SELECT user_id, array_to_string(item_ids[1:5], ' ') AS top5,
  array_to_string(item_scores[1:5], ' ') AS scores
  FROM read_parquet('out/*/part-*.parquet') ORDER BY user_id LIMIT 3"
if [[ -n "${RECS_PG_URL:-}" ]]; then "$nightshift" run job_postgres.yaml; fi
