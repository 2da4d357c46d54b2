#!/usr/bin/env bash
# Makes the demo's data (ROWS customers, default 1,000,000, as Parquet) and its
# model (a seeded 8→64→64→2 softmax MLP, ONNX). Deterministic: the same
# command gives the same bytes of data.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
nightshift="${NIGHTSHIFT:-$here/../../build/tools/nightshift/nightshift}"
rows="${ROWS:-1000000}"
out="${OUT:-$here/data/customers.parquet}"
mkdir -p "$(dirname "$out")" "$here/model"
if [ ! -f "$here/model/churn.onnx" ]; then
  /usr/bin/python3 "$here/../models/make_mlp.py" "$here/model/churn.onnx" \
    --inputs 8 --hidden 64 --outputs 2 --softmax --seed 7
fi
if [ ! -f "$out" ] || [ "${FORCE:-0}" = 1 ]; then
  # Values come from DuckDB's hash of the row number: seeded and reproducible.
  "$nightshift" sql "
    COPY (
      SELECT range AS customer_id,
             (hash(range, 1) % 72)::FLOAT AS tenure,
             (20 + (hash(range, 2) % 10000) / 100.0)::FLOAT AS monthly_charges,
             ((hash(range, 1) % 72) * (20 + (hash(range, 2) % 10000) / 100.0))::FLOAT AS total_charges,
             (hash(range, 3) % 6)::FLOAT AS support_calls,
             (CASE hash(range, 4) % 3 WHEN 0 THEN 1 WHEN 1 THEN 12 ELSE 24 END)::FLOAT AS contract_months,
             (hash(range, 5) % 4)::FLOAT AS late_payments,
             ((hash(range, 6) % 5000) / 100.0)::FLOAT AS data_gb,
             (18 + hash(range, 7) % 60)::FLOAT AS age
      FROM range($rows)
    ) TO '$out' (FORMAT parquet, ROW_GROUP_SIZE 131072)" >/dev/null
fi
echo "data: $out ($rows rows); model: $here/model/churn.onnx"
