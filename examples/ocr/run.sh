#!/usr/bin/env bash
# OCR as two chained nightshift jobs: detect.yaml (pages -> boxes) then
# recognise.yaml (boxes -> text). Renders a few sample pages first unless
# pages.csv exists (bring your own: a CSV of id,path). The PaddleOCR models
# come from scripts/bootstrap.sh (third_party/ocr-models).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
nightshift="${NIGHTSHIFT:-$here/../../build/tools/nightshift/nightshift}"
cd "$here"
[[ -e models ]] || ln -s ../../third_party/ocr-models models
[[ -f pages.csv ]] || /usr/bin/python3 make_pages.py
rm -rf out .nightshift   # a fresh pair of runs each time
"$nightshift" run detect.yaml
"$nightshift" run recognise.yaml
"$nightshift" sql "SELECT page, box_index, text, round(text_score, 3) AS score
  FROM read_parquet('out/text/part-*.parquet') ORDER BY page, box_index"
