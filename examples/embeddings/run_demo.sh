#!/usr/bin/env bash
# Makes the data (ROWS package descriptions, default 20,000), runs the job, and
# asks DuckDB for the packages nearest to the first one by cosine similarity
# (nearest.sql). `run_demo.sh minilm` runs minilm.yaml, the MiniLM-shaped
# encoder (made with python3-torch), instead of job.yaml's small embedder.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
nightshift="${NIGHTSHIFT:-$here/../../build/tools/nightshift/nightshift}"
cd "$here"
/usr/bin/python3 make_example.py data --rows "${ROWS:-20000}"
job=job.yaml out=out
if [[ "${1:-}" == minilm ]]; then
  /usr/bin/python3 make_minilm.py data/minilm.onnx
  job=minilm.yaml out=out_minilm
fi
"$nightshift" sql "COPY (SELECT id::BIGINT AS id, package, description FROM
  read_json('data/packages.jsonl', format = 'newline_delimited')) TO 'data/packages.parquet' (FORMAT parquet)" >/dev/null
"$nightshift" run "$job"
"$nightshift" sql "$(sed -e 's/\$QUERY_ID/0/' -e "s|'out/|'$out/|" nearest.sql)"
