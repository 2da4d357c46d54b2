#!/usr/bin/env bash
# Makes the data (ROWS package descriptions, default 20,000), runs the job, and
# asks DuckDB for the packages nearest to the first one by cosine similarity (the
# embeddings are L2-normalised, so the dot product is the cosine).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
nightshift="${NIGHTSHIFT:-$here/../../build/tools/nightshift/nightshift}"
cd "$here"
/usr/bin/python3 make_example.py data --rows "${ROWS:-20000}"
"$nightshift" sql "COPY (SELECT id::BIGINT AS id, package, description FROM
  read_json('data/packages.jsonl', format = 'newline_delimited')) TO 'data/packages.parquet' (FORMAT parquet)" >/dev/null
"$nightshift" run job.yaml
"$nightshift" sql "
  WITH e AS (SELECT id, package, embedding::FLOAT[384] AS v FROM read_parquet('out/*/part-*.parquet')),
       q AS (SELECT v FROM e WHERE id = 0)
  SELECT e.package, round(array_inner_product(e.v, q.v), 3) AS cosine
  FROM e, q ORDER BY cosine DESC LIMIT 5"
