#!/usr/bin/env bash
# The demo: make 1,000,000 rows of Parquet and an ONNX model, score them,
# and show where the output went. Starts from a clean ledger each time.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
nightshift="$here/../../build/tools/nightshift/nightshift"
bash "$here/make_data.sh"
rm -rf "$here/out" "$here/.nightshift"
"$nightshift" run "$here/job.yaml"
echo
echo "first rows of the output:"
"$nightshift" sql "SELECT * FROM '$here/out/*/part-000000.parquet' ORDER BY customer_id LIMIT 5"
echo "status: $("$nightshift" status "$here/job.yaml" --json)"
