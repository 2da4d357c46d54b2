#!/usr/bin/env bash
# GPU proof for the torchscript backend: builds nightshift against the
# libtorch of this machine's python3 (a CUDA PyTorch wheel), runs a
# compute-heavy TorchScript MLP end to end on Parquet input with
# `model.device: cuda`, runs a bare libtorch loop (bench/gpu/raw_torch.cc) on
# the same model, batch size and precision, and reports rows/s for both, their
# ratio and how busy the GPU was (nvidia-smi utilization, sampled every
# 100 ms). The report is a markdown table on stdout, and $OUT/gpu_results.md
# (with logs in $OUT/gpu_logs/) when $OUT is set. Progress goes to stderr.
#
# Needs: python3 with torch (+ its libtorch headers, as wheels ship them),
# cmake, a C++23 compiler (g++ >= 12), ninja (else make), the Debian -dev
# packages nightshift builds with (yaml-cpp, CLI11, spdlog, fmt, nlohmann-json,
# sqlite3, openssl), third_party/ (DuckDB, ONNX Runtime) in the repo. No
# network. Designed to finish in ~5 minutes on a 16-core H200 host.
#
# Usage: bench/gpu/run.sh [options]
#   --device cuda|cuda:N|cpu   (default cuda)
#   --rows N                   rows of input (default 4000000 on cuda, 20000 on cpu)
#   --batch N                  rows per batch (default 4096)
#   --precision fp32|fp16|bf16 (default fp16 on cuda, fp32 on cpu)
#   --in N --hidden N --layers N --out N
#                              the MLP: IN -> HIDDEN x LAYERS -> OUT
#                              (default 64, 8192, 6, 16 on cuda; 64, 256, 2, 16 on cpu)
#   --instances N              model.instances (default 2 on cuda, 1 on cpu)
#   --build-dir DIR            (default <repo>/build-gpu; reused when it exists)
#   --torch-config auto|official|shim
#                              official: the wheel's TorchConfig.cmake (a CUDA
#                              wheel's needs a CUDA toolkit); shim:
#                              bench/gpu/torch_shim (wheel layout only); auto
#                              (default): official, then shim if it fails
#   --python PY                (default: $PYTHON or python3)
#   --jobs N                   build parallelism (default: nproc)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DEVICE=cuda ROWS="" BATCH=4096 PRECISION="" N_IN=64 HIDDEN="" LAYERS="" N_OUT=16 INSTANCES=""
BUILD_DIR="$REPO/build-gpu" TORCH_CONFIG=auto PY=${PYTHON:-python3} JOBS=$(nproc)

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --device) DEVICE=$2 ;;
    --rows) ROWS=$2 ;;
    --batch) BATCH=$2 ;;
    --precision) PRECISION=$2 ;;
    --in) N_IN=$2 ;;
    --hidden) HIDDEN=$2 ;;
    --layers) LAYERS=$2 ;;
    --out) N_OUT=$2 ;;
    --instances) INSTANCES=$2 ;;
    --build-dir) BUILD_DIR=$2 ;;
    --torch-config) TORCH_CONFIG=$2 ;;
    --python) PY=$2 ;;
    --jobs) JOBS=$2 ;;
    -h|--help) usage ;;
    *) echo "unknown option $1" >&2; usage ;;
  esac
  shift 2
done
if [[ $DEVICE == cpu ]]; then
  : "${ROWS:=20000}" "${PRECISION:=fp32}" "${HIDDEN:=256}" "${LAYERS:=2}" "${INSTANCES:=1}"
  GPU_INDEX=""
elif [[ $DEVICE =~ ^cuda(:([0-9]+))?$ ]]; then
  : "${ROWS:=4000000}" "${PRECISION:=fp16}" "${HIDDEN:=8192}" "${LAYERS:=6}" "${INSTANCES:=2}"
  GPU_INDEX=${BASH_REMATCH[2]:-0}
  DEVICE=cuda:$GPU_INDEX
else
  echo "bad --device $DEVICE (cpu, cuda or cuda:N)" >&2; exit 2
fi

BUILD_DIR=$(mkdir -p "$BUILD_DIR" && cd "$BUILD_DIR" && pwd)
WORK=$BUILD_DIR/bench-work
LOGS=$BUILD_DIR/bench-logs
rm -rf "$WORK" "$LOGS"
mkdir -p "$WORK" "$LOGS"
START=$(date +%s)
STEP=""
step() { STEP=$*; printf '\n==> [%s, +%ss] %s\n' "$(date +%H:%M:%S)" "$(( $(date +%s) - START ))" "$*" >&2; }

save_logs() {
  if [[ -n ${OUT:-} ]]; then
    mkdir -p "$OUT/gpu_logs"
    cp -r "$LOGS"/. "$OUT/gpu_logs/" 2>/dev/null || true
  fi
}
on_error() {
  echo "FAILED at line $1 during: $STEP" >&2
  for f in "$LOGS"/*.log; do
    [[ -s $f ]] || continue
    echo "--- tail of $f" >&2
    tail -n 25 "$f" >&2
  done
  if [[ -n ${OUT:-} ]]; then
    mkdir -p "$OUT"
    printf '# torchscript GPU proof: FAILED\n\nfailed during: %s (line %s); see gpu_logs/\n' \
      "$STEP" "$1" > "$OUT/gpu_results.md"
  fi
  save_logs
}
trap 'on_error $LINENO' ERR

# ---------------------------------------------------------------------------
step "1/6 libtorch from $PY"
TORCH_INFO=$("$PY" - <<'EOF'
import os, torch
print(torch.__version__)
print(os.path.dirname(torch.__file__))
print(torch.utils.cmake_prefix_path)
print(int(torch._C._GLIBCXX_USE_CXX11_ABI))
print(int(torch.cuda.is_available()))
print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")
EOF
) || { echo "$PY cannot import torch: pass --python (or PYTHON=...) naming one that can" >&2; false; }
mapfile -t T <<< "$TORCH_INFO"
TORCH_VERSION=${T[0]} TORCH_ROOT=${T[1]} TORCH_CMAKE=${T[2]} TORCH_ABI=${T[3]} TORCH_CUDA=${T[4]} GPU_NAME=${T[5]}
echo "torch $TORCH_VERSION at $TORCH_ROOT (C++11 ABI $TORCH_ABI, CUDA available: $TORCH_CUDA, GPU: $GPU_NAME)" >&2
if [[ $TORCH_ABI != 1 ]]; then
  echo "this libtorch uses the pre-C++11 ABI (_GLIBCXX_USE_CXX11_ABI=0): nightshift's other libraries use the new one" >&2
  false
fi
if [[ $DEVICE != cpu && $TORCH_CUDA != 1 ]]; then
  echo "torch.cuda.is_available() is false: no GPU to prove anything on (try --device cpu)" >&2
  false
fi

# What the rest of nightshift's build needs from the system (Debian -dev
# packages): reported up front, since a machine without package access cannot
# fetch them.
for tool in cmake c++; do
  command -v "$tool" > /dev/null || { echo "$tool not found" >&2; false; }
done
if command -v ninja > /dev/null; then GENERATOR=Ninja; else GENERATOR="Unix Makefiles"; fi
echo "$(cmake --version | head -n 1); $(c++ --version | head -n 1); generator: $GENERATOR" >&2
INCLUDE_DIRS=(/usr/include /usr/local/include)
IFS=: read -r -a CPATH_DIRS <<< "${CPATH:-}"
IFS=: read -r -a PREFIXES <<< "${CMAKE_PREFIX_PATH:-}"
INCLUDE_DIRS+=("${CPATH_DIRS[@]}")
for p in "${PREFIXES[@]}"; do INCLUDE_DIRS+=("$p/include"); done
MISSING=""
for h in yaml-cpp/yaml.h CLI/CLI.hpp spdlog/spdlog.h fmt/format.h nlohmann/json.hpp sqlite3.h \
  openssl/evp.h; do
  found=0
  for d in "${INCLUDE_DIRS[@]}"; do [[ -n $d && -e $d/$h ]] && found=1 && break; done
  [[ $found == 1 ]] || MISSING="$MISSING $h"
done
[[ -z $MISSING ]] || echo "warning: headers not found (system, CPATH, CMAKE_PREFIX_PATH):$MISSING (configure may fail)" >&2
for d in third_party/duckdb third_party/onnxruntime; do
  [[ -d $REPO/$d ]] || echo "warning: $REPO/$d is missing (configure will fail)" >&2
done

# ---------------------------------------------------------------------------
torch_args() {  # the CMake arguments that find libtorch in mode $1
  if [[ $1 == shim ]]; then
    echo "-DTorch_DIR=$REPO/bench/gpu/torch_shim -DNS_TORCH_ROOT=$TORCH_ROOT -DNS_TORCH_CXX11_ABI=$TORCH_ABI"
  elif [[ -f $TORCH_CMAKE/Torch/TorchConfig.cmake ]]; then
    echo "-DTorch_DIR=$TORCH_CMAKE/Torch"
  fi  # else: CMake's default search (a system libtorch, e.g. Debian's)
}

# Configures and builds nightshift and raw_torch with libtorch found in mode $1.
build() {
  local mode=$1 ns=$BUILD_DIR/ns-$1 raw=$BUILD_DIR/raw-$1
  # shellcheck disable=SC2046
  cmake -S "$REPO" -B "$ns" -G "$GENERATOR" -DCMAKE_BUILD_TYPE=Release -DNIGHTSHIFT_WITH_TESTS=OFF \
    -DNIGHTSHIFT_WITH_XGBOOST=OFF \
    $(torch_args "$mode") > "$LOGS/configure-$mode.log" 2>&1 || return 1
  if ! grep -q '^NIGHTSHIFT_WITH_TORCH:BOOL=ON' "$ns/CMakeCache.txt"; then
    echo "configure ($mode) did not find libtorch" >> "$LOGS/configure-$mode.log"
    return 1
  fi
  # shellcheck disable=SC2046
  ( cmake -S "$REPO/bench/gpu" -B "$raw" -G "$GENERATOR" $(torch_args "$mode") \
      && cmake --build "$raw" --target raw_torch -j "$JOBS" ) > "$LOGS/build-raw-$mode.log" 2>&1 &
  local raw_pid=$!
  local rc=0
  cmake --build "$ns" --target nightshift -j "$JOBS" > "$LOGS/build-nightshift-$mode.log" 2>&1 || rc=1
  wait "$raw_pid" || rc=1
  [[ $rc == 0 ]] || return 1
  NS=$ns/tools/nightshift/nightshift
  RAW=$raw/raw_torch
  USED_CONFIG=$mode
}

step "2/6 build nightshift + raw_torch (torch config: $TORCH_CONFIG, $JOBS jobs)"
BUILD_START=$(date +%s)
case $TORCH_CONFIG in
  official|shim) build "$TORCH_CONFIG" ;;
  auto)
    if ! build official; then
      echo "the official TorchConfig failed (see $LOGS/*official*.log); retrying with bench/gpu/torch_shim" >&2
      build shim
    fi ;;
  *) echo "bad --torch-config $TORCH_CONFIG" >&2; false ;;
esac
BUILD_S=$(( $(date +%s) - BUILD_START ))
echo "built with the $USED_CONFIG torch config in ${BUILD_S}s" >&2

# ---------------------------------------------------------------------------
step "3/6 model (MLP $N_IN -> ${HIDDEN}x$LAYERS -> $N_OUT) and $ROWS rows of Parquet input"
FLOPS=$("$PY" "$REPO/bench/gpu/make_model.py" "$WORK/model.pt" --in "$N_IN" --hidden "$HIDDEN" \
  --layers "$LAYERS" --out "$N_OUT")
COLS=$(for ((j = 0; j < N_IN; j++)); do printf 'random()::FLOAT AS f%d, ' "$j"; done)
"$NS" sql "COPY (SELECT range AS id, ${COLS%, } FROM range($ROWS)) TO '$WORK/input.parquet' (FORMAT parquet, ROW_GROUP_SIZE 122880)" \
  > "$LOGS/make-input.log" 2>&1
ls -l "$WORK/input.parquet" >&2

FEATURES=$(for ((j = 0; j < N_IN; j++)); do printf 'f%d, ' "$j"; done)
OUTCOLS=$(for ((j = 0; j < N_OUT; j++)); do printf 'y%d, ' "$j"; done)
PRECISION_LINE=""
# model.precision is only written when not the default, so fp32 runs need no
# job key beyond the ones every backend has.
if [[ $PRECISION != fp32 ]]; then PRECISION_LINE="  precision: $PRECISION"; fi
cat > "$WORK/job.yaml" <<EOF
name: gpu-proof
input:
  path: input.parquet
  key: id
model:
  backend: torchscript
  path: model.pt
  device: $DEVICE
$PRECISION_LINE
  instances: $INSTANCES
  inputs:
    - name: features
      columns: [${FEATURES%, }]
      dtype: float32
  outputs:
    - name: output
      columns: [${OUTCOLS%, }]
batch:
  size: $BATCH
output:
  path: out
  format: parquet
  keep: [id]
run:
  shard_rows: 262144
EOF
cp "$WORK/job.yaml" "$LOGS/job.yaml"

# ---------------------------------------------------------------------------
SAMPLER=""
start_sampler() {  # samples GPU utilization (%) every 100 ms into $1
  SAMPLER=""
  if [[ -n $GPU_INDEX ]] && command -v nvidia-smi > /dev/null; then
    nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits -i "$GPU_INDEX" -lms 100 \
      > "$1" 2> /dev/null &
    SAMPLER=$!
  fi
}
stop_sampler() {
  if [[ -n $SAMPLER ]]; then
    kill "$SAMPLER" 2> /dev/null || true
    wait "$SAMPLER" 2> /dev/null || true
  fi
  SAMPLER=""
}
now() { date +%s.%N; }

step "4/6 nightshift run on $DEVICE ($PRECISION, batch $BATCH, $INSTANCES instance(s))"
start_sampler "$WORK/util-nightshift.txt"
T0=$(now)
NS_RC=0
"$NS" run "$WORK/job.yaml" --json > "$WORK/status.json" 2> "$LOGS/nightshift-run.log" || NS_RC=$?
T1=$(now)
stop_sampler
cp "$WORK/status.json" "$LOGS/status.json" 2> /dev/null || true
if [[ $NS_RC != 0 ]]; then
  echo "nightshift run exited $NS_RC" >&2
  false
fi
"$PY" - "$WORK/status.json" "$ROWS" <<'EOF'
import json, sys
st = json.load(open(sys.argv[1]))
want = int(sys.argv[2])
assert st["state"] == "completed", st
assert st["counts"] == {"total": want, "succeeded": want, "failed": 0}, st["counts"]
EOF
OUT_ROWS=$("$NS" sql "SELECT count(*) AS n FROM '$WORK/out/*.parquet'" | tail -n 1)
[[ $OUT_ROWS == "$ROWS" ]] || { echo "output holds $OUT_ROWS rows, want $ROWS" >&2; false; }

step "5/6 raw libtorch loop on $DEVICE"
start_sampler "$WORK/util-raw.txt"
RAW_RC=0
"$RAW" "$WORK/model.pt" --rows "$ROWS" --batch "$BATCH" --in "$N_IN" --device "$DEVICE" \
  --precision "$PRECISION" --max-seconds 60 > "$WORK/raw.json" 2> "$LOGS/raw-run.log" || RAW_RC=$?
stop_sampler
cp "$WORK/raw.json" "$LOGS/raw.json" 2> /dev/null || true
[[ $RAW_RC == 0 ]] || { echo "raw_torch exited $RAW_RC" >&2; false; }

# ---------------------------------------------------------------------------
step "6/6 report"
REPORT=$("$PY" - <<EOF
import json

def busy(path):
    """(mean over every sample, mean over the active window, samples) of a utilization log."""
    try:
        vals = [float(x) for x in open(path).read().split() if x.strip().replace('.', '', 1).isdigit()]
    except OSError:
        return None
    if not vals:
        return None
    nz = [i for i, v in enumerate(vals) if v > 0]
    active = vals[nz[0]:nz[-1] + 1] if nz else vals
    return sum(vals) / len(vals) / 100, sum(active) / len(active) / 100, len(vals)

def pct(b, i):
    return "n/a (no nvidia-smi)" if b is None else f"{100 * b[i]:.0f}%"

rows = $ROWS
ns_s = $T1 - $T0
raw = json.load(open("$WORK/raw.json"))
ns_rps = rows / ns_s
raw_rps = raw["rows_per_s"]
b_ns, b_raw = busy("$WORK/util-nightshift.txt"), busy("$WORK/util-raw.txt")
flops = int("$FLOPS")
lines = [
    "# torchscript backend: GPU proof",
    "",
    "| | |",
    "| --- | --- |",
    "| device | $DEVICE ($GPU_NAME) |",
    "| libtorch | $TORCH_VERSION ($USED_CONFIG TorchConfig), built in ${BUILD_S} s |",
    f"| model | MLP $N_IN -> ${HIDDEN}x$LAYERS -> $N_OUT, {flops / 1e6:,.2f} MFLOP/row |",
    "| precision / batch / instances | $PRECISION / $BATCH / $INSTANCES |",
    f"| rows | {rows:,} (Parquet, $N_IN float columns) |",
    f"| nightshift end to end | {ns_rps:,.0f} rows/s ({ns_s:.2f} s, incl. start-up, model load, Parquet read and write) |",
    f"| raw libtorch loop | {raw_rps:,.0f} rows/s ({raw['rows']:,} rows in {raw['seconds']:.2f} s, data already in pinned memory) |",
    f"| ratio nightshift / raw | {ns_rps / raw_rps:.2f} |",
    f"| model throughput (nightshift / raw) | {ns_rps * flops / 1e12:,.2f} / {raw_rps * flops / 1e12:,.2f} TFLOP/s |",
    f"| GPU busy, nightshift run (all samples / active window) | {pct(b_ns, 0)} / {pct(b_ns, 1)} |",
    f"| GPU busy, raw loop (all samples / active window) | {pct(b_raw, 0)} / {pct(b_raw, 1)} |",
]
print("\n".join(lines))
EOF
)
echo "$REPORT"
if [[ -n ${OUT:-} ]]; then
  mkdir -p "$OUT"
  echo "$REPORT" > "$OUT/gpu_results.md"
  cp "$WORK"/util-*.txt "$LOGS"/ 2> /dev/null || true
  save_logs
fi
echo "done in $(( $(date +%s) - START ))s" >&2
