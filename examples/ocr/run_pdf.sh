#!/usr/bin/env bash
# OCR of PDFs as two chained nightshift jobs: detect_pdf.yaml (PDF pages ->
# boxes, keeping each rendered page as a PNG) then recognise_pdf.yaml (the
# kept pages' boxes -> text). Takes docs.csv (id,path of PDFs) when it
# exists, else a PDF from Debian's shared-mime-info package. The PaddleOCR
# models come from scripts/bootstrap.sh (third_party/ocr-models).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
nightshift="${NIGHTSHIFT:-$here/../../build/tools/nightshift/nightshift}"
cd "$here"
[[ -e models ]] || ln -s ../../third_party/ocr-models models
if [[ ! -f docs.csv ]]; then   # PDFs are read from this folder (input.allow_outside: false)
  mkdir -p pdfs
  cp /usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf pdfs/
  printf 'id,path\n1,pdfs/shared-mime-info-spec.pdf\n' > docs.csv
fi
rm -rf out/pdf_boxes out/pdf_text .nightshift   # a fresh pair of runs each time
"$nightshift" run detect_pdf.yaml
"$nightshift" run recognise_pdf.yaml
"$nightshift" sql "SELECT doc, page_number, box_index, text, round(text_score, 3) AS score
  FROM read_parquet('out/pdf_text/part-*.parquet') ORDER BY doc, page_number, box_index"
