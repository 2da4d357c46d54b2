#!/usr/bin/env bash
# GPU proof for the torchscript backend: builds nightshift against the
# libtorch of this machine's python3 (a CUDA PyTorch wheel), scripts a
# compute-heavy TorchScript model (a BERT-like transformer encoder over token
# ids by default, or an MLP), and measures on `model.device: cuda`:
#   1. a bare libtorch loop (bench/gpu/raw_torch.cc) at the main batch size
#      and precision: the ceiling;
#   2. nightshift end to end on Parquet input at that batch size: rows/s with
#      and without start-up, ÷ the raw loop, GPU busy (nvidia-smi
#      utilization sampled every 100 ms) and nightshift's own model-busy
#      fraction;
#   3. a sweep of fixed batch sizes and `batch.size: auto` (fresh ledger) on a
#      smaller input: the size auto chose and its rows/s ÷ the best fixed one.
# Every figure is appended to $OUT/gpu_results.md as soon as it is measured
# (with logs in $OUT/gpu_logs/), so a run cut short still reports what it got;
# steps that would pass --deadline are skipped and say so. Progress goes to
# stderr.
#
# Needs: python3 with torch (+ its libtorch headers, as wheels ship them),
# cmake, a C++23 compiler (g++ >= 12), ninja (else make), the Debian -dev
# packages nightshift builds with (yaml-cpp, CLI11, fmt, nlohmann-json,
# sqlite3, openssl), third_party/ (DuckDB, ONNX Runtime) in the repo. No
# network. bench/gpu/device.sh provides the last two on a machine without
# packages. Designed to finish in ~6 minutes on a 16-core H200 host.
#
# Usage: bench/gpu/run.sh [options]
#   --device cuda|cuda:N|cpu   (default cuda)
#   --model encoder|mlp        (default encoder)
#   --rows N                   rows of the main run (cuda: 600000; cpu: 4000)
#   --sweep-rows N             rows of each sweep/auto run (cuda: 150000; cpu: 2000)
#   --batch N                  main batch size (default 1024; cpu 64)
#   --sweep "N N ..."          fixed sizes to sweep (cuda: "64 256 1024 4096"; cpu: "16 64")
#   --precision fp32|fp16|bf16 (default fp16 on cuda, fp32 on cpu)
#   --seq N --vocab N --heads N
#                              encoder: tokens per row, vocabulary, heads
#                              (cuda: 128, 30000, 12; cpu: 16, 1000, 4)
#   --in N --hidden N --layers N --out N
#                              mlp: IN -> HIDDEN x LAYERS -> OUT; encoder:
#                              width HIDDEN, LAYERS layers, OUT outputs
#                              (cuda: encoder 768 x 6, mlp 64 -> 8192 x 6;
#                              out 16; cpu: tiny)
#   --instances N              model.instances (default 2 on cuda, 1 on cpu)
#   --deadline S               skip optional steps that would start after S
#                              seconds (default 480)
#   --build-dir DIR            (default <repo>/build-gpu; reused when it exists)
#   --torch-config auto|official|shim
#                              official: the wheel's TorchConfig.cmake (a CUDA
#                              wheel's needs a CUDA toolkit); shim:
#                              bench/gpu/torch_shim (wheel layout only); auto
#                              (default): official, then shim if it fails
#   --python PY                (default: $PYTHON or python3)
#   --jobs N                   build parallelism (default: nproc)
# Environment: NS_BIN and RAW_BIN (both) skip the build and use those binaries.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DEVICE=cuda MODEL=encoder ROWS="" SWEEP_ROWS="" BATCH="" SWEEP="" PRECISION="" INSTANCES=""
SEQ="" VOCAB="" HEADS="" N_IN=64 HIDDEN="" LAYERS="" N_OUT=16 DEADLINE=480
BUILD_DIR="$REPO/build-gpu" TORCH_CONFIG=auto PY=${PYTHON:-python3} JOBS=$(nproc)

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --device) DEVICE=$2 ;;
    --model) MODEL=$2 ;;
    --rows) ROWS=$2 ;;
    --sweep-rows) SWEEP_ROWS=$2 ;;
    --batch) BATCH=$2 ;;
    --sweep) SWEEP=$2 ;;
    --precision) PRECISION=$2 ;;
    --seq) SEQ=$2 ;;
    --vocab) VOCAB=$2 ;;
    --heads) HEADS=$2 ;;
    --in) N_IN=$2 ;;
    --hidden) HIDDEN=$2 ;;
    --layers) LAYERS=$2 ;;
    --out) N_OUT=$2 ;;
    --instances) INSTANCES=$2 ;;
    --deadline) DEADLINE=$2 ;;
    --build-dir) BUILD_DIR=$2 ;;
    --torch-config) TORCH_CONFIG=$2 ;;
    --python) PY=$2 ;;
    --jobs) JOBS=$2 ;;
    -h|--help) usage ;;
    *) echo "unknown option $1" >&2; usage ;;
  esac
  shift 2
done
[[ $MODEL == encoder || $MODEL == mlp ]] || { echo "bad --model $MODEL (encoder or mlp)" >&2; exit 2; }
if [[ $DEVICE == cpu ]]; then
  : "${ROWS:=4000}" "${SWEEP_ROWS:=2000}" "${BATCH:=64}" "${SWEEP:=16 64}" "${PRECISION:=fp32}"
  : "${INSTANCES:=1}" "${SEQ:=16}" "${VOCAB:=1000}" "${HEADS:=4}" "${LAYERS:=2}"
  if [[ $MODEL == encoder ]]; then : "${HIDDEN:=64}"; else : "${HIDDEN:=256}"; fi
  GPU_INDEX=""
elif [[ $DEVICE =~ ^cuda(:([0-9]+))?$ ]]; then
  : "${ROWS:=600000}" "${SWEEP_ROWS:=150000}" "${BATCH:=1024}" "${SWEEP:=64 256 1024 4096}"
  : "${PRECISION:=fp16}" "${INSTANCES:=2}" "${SEQ:=128}" "${VOCAB:=30000}" "${HEADS:=12}" "${LAYERS:=6}"
  if [[ $MODEL == encoder ]]; then : "${HIDDEN:=768}"; else : "${HIDDEN:=8192}"; fi
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
elapsed() { echo $(( $(date +%s) - START )); }

RESULTS=$WORK/gpu_results.md
# Appends lines to the results, and to $OUT's copy at once.
report() {
  printf '%s\n' "$@" | tee -a "$RESULTS" >&2
  if [[ -n ${OUT:-} ]]; then mkdir -p "$OUT" && cp "$RESULTS" "$OUT/gpu_results.md"; fi
}
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
  report "" "**FAILED** during: $STEP (line $1); see gpu_logs/"
  save_logs
}
trap 'on_error $LINENO' ERR
report "# torchscript backend: GPU proof ($(date -u +%Y-%m-%dT%H:%MZ))" ""

# ---------------------------------------------------------------------------
step "1/7 libtorch from $PY"
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
for h in yaml-cpp/yaml.h CLI/CLI.hpp fmt/format.h nlohmann/json.hpp sqlite3.h \
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

step "2/7 build nightshift + raw_torch (torch config: $TORCH_CONFIG, $JOBS jobs)"
BUILD_START=$(date +%s)
if [[ -n ${NS_BIN:-} && -n ${RAW_BIN:-} ]]; then  # binaries built elsewhere (testing this script)
  NS=$NS_BIN RAW=$RAW_BIN USED_CONFIG=prebuilt
else
case $TORCH_CONFIG in
  official|shim) build "$TORCH_CONFIG" ;;
  auto)
    if ! build official; then
      echo "the official TorchConfig failed (see $LOGS/*official*.log); retrying with bench/gpu/torch_shim" >&2
      build shim
    fi ;;
  *) echo "bad --torch-config $TORCH_CONFIG" >&2; false ;;
esac
fi
BUILD_S=$(( $(date +%s) - BUILD_START ))
echo "built with the $USED_CONFIG torch config in ${BUILD_S}s" >&2

# ---------------------------------------------------------------------------
if [[ $MODEL == encoder ]]; then
  DESC="transformer encoder: $SEQ tokens/row, width $HIDDEN, $HEADS heads, $LAYERS layers, FFN $((4 * HIDDEN)), vocab $VOCAB -> $N_OUT"
  step "3/7 model ($DESC) and $ROWS rows of Parquet input"
  FLOPS=$("$PY" "$REPO/bench/gpu/make_model.py" "$WORK/model.pt" --kind encoder --seq "$SEQ" \
    --vocab "$VOCAB" --hidden "$HIDDEN" --heads "$HEADS" --layers "$LAYERS" --out "$N_OUT" 2> "$LOGS/make-model.log")
  SELECT="range AS id, list_transform(range($SEQ), lambda x: (hash(range * 1000003 + x) % $VOCAB)::BIGINT) AS tokens"
  INPUT_YAML="    - name: tokens
      columns: [tokens]
      dtype: int64
      pad_value: 0"
  RAW_ARGS=(--in "$SEQ" --dtype int64 --vocab "$VOCAB")
else
  DESC="MLP $N_IN -> ${HIDDEN}x$LAYERS -> $N_OUT"
  step "3/7 model ($DESC) and $ROWS rows of Parquet input"
  FLOPS=$("$PY" "$REPO/bench/gpu/make_model.py" "$WORK/model.pt" --kind mlp --in "$N_IN" \
    --hidden "$HIDDEN" --layers "$LAYERS" --out "$N_OUT" 2> "$LOGS/make-model.log")
  COLS=$(for ((j = 0; j < N_IN; j++)); do printf 'random()::FLOAT AS f%d, ' "$j"; done)
  SELECT="range AS id, ${COLS%, }"
  FEATURES=$(for ((j = 0; j < N_IN; j++)); do printf 'f%d, ' "$j"; done)
  INPUT_YAML="    - name: features
      columns: [${FEATURES%, }]
      dtype: float32"
  RAW_ARGS=(--in "$N_IN")
fi
for n in "$ROWS" "$SWEEP_ROWS"; do
  [[ -f $WORK/input-$n.parquet ]] && continue
  "$NS" sql "COPY (SELECT $SELECT FROM range($n)) TO '$WORK/input-$n.parquet' (FORMAT parquet, ROW_GROUP_SIZE 61440)" \
    >> "$LOGS/make-input.log" 2>&1
done
ls -l "$WORK"/input-*.parquet >&2

OUTCOLS=$(for ((j = 0; j < N_OUT; j++)); do printf 'y%d, ' "$j"; done)
PRECISION_LINE=""
# model.precision is only written when not the default, so fp32 runs need no
# job key beyond the ones every backend has.
if [[ $PRECISION != fp32 ]]; then PRECISION_LINE="  precision: $PRECISION"; fi
cat > "$WORK/job.yaml" <<EOF
name: gpu-proof
input:
  path: input-$ROWS.parquet
  key: id
model:
  backend: torchscript
  path: model.pt
  device: $DEVICE
$PRECISION_LINE
  instances: $INSTANCES
  inputs:
$INPUT_YAML
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
  shard_rows: 61440
EOF
cp "$WORK/job.yaml" "$LOGS/job.yaml"

report "| | |" "| --- | --- |" \
  "| device | $DEVICE ($GPU_NAME), $(nproc) CPU cores |" \
  "| libtorch | $TORCH_VERSION ($USED_CONFIG TorchConfig), nightshift built in ${BUILD_S} s |" \
  "| model | $DESC, $(awk -v f="$FLOPS" 'BEGIN { printf "%.2f GFLOP/row", f / 1e9 }') |" \
  "| precision / instances | $PRECISION / $INSTANCES |"

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
# busy FILE: "mean over all samples / over the active window" of a utilization log.
busy() {
  "$PY" - "$1" <<'EOF'
import sys
try:
    vals = [float(x) for x in open(sys.argv[1]).read().split() if x.replace('.', '', 1).isdigit()]
except OSError:
    vals = []
if not vals:
    print("n/a")
else:
    nz = [i for i, v in enumerate(vals) if v > 0]
    act = vals[nz[0]:nz[-1] + 1] if nz else vals
    print(f"{sum(vals) / len(vals):.0f}% / {sum(act) / len(act):.0f}%")
EOF
}
now() { date +%s.%N; }
fmt_int() { printf "%'d" "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# raw NAME BATCH ROWS: the bare libtorch loop; sets RAW_RPS.
raw() {
  local name=$1 batch=$2 rows=$3
  start_sampler "$WORK/util-$name.txt"
  "$RAW" "$WORK/model.pt" --rows "$rows" --batch "$batch" "${RAW_ARGS[@]}" --device "$DEVICE" \
    --precision "$PRECISION" --max-seconds 15 > "$WORK/$name.json" 2> "$LOGS/$name.log"
  stop_sampler
  cp "$WORK/$name.json" "$LOGS/"
  RAW_RPS=$("$PY" -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["rows_per_s"]))' "$WORK/$name.json")
}

# ns NAME BATCH ROWS: nightshift end to end (fresh ledger and output); sets
# NS_RPS (wall, incl. start-up), NS_PIPE_RPS (the pipeline alone), NS_BUSY
# (model busy fraction), NS_CHOSEN (batch size used, from the ledger).
ns() {
  local name=$1 batch=$2 rows=$3
  local sets=(--set "batch.size=$batch" --set "input.path=input-$rows.parquet"
    --set "run.ledger=$WORK/ledger-$name.db" --set "output.path=$WORK/out-$name")
  start_sampler "$WORK/util-$name.txt"
  local t0 t1 rc=0
  t0=$(now)
  "$NS" run "$WORK/job.yaml" --json "${sets[@]}" > "$WORK/$name.json" 2> "$LOGS/$name.log" || rc=$?
  t1=$(now)
  stop_sampler
  cp "$WORK/$name.json" "$LOGS/" 2> /dev/null || true
  [[ $rc == 0 ]] || { echo "nightshift run ($name) exited $rc" >&2; false; }
  local got
  got=$("$NS" sql "SELECT count(*) AS n FROM '$WORK/out-$name/*.parquet'" | tail -n 1)
  [[ $got == "$rows" ]] || { echo "$name: output holds $got rows, want $rows" >&2; false; }
  read -r NS_RPS NS_PIPE_RPS NS_BUSY < <("$PY" - "$WORK/$name.json" "$rows" "$t0" "$t1" <<'EOF'
import json, sys
st = json.load(open(sys.argv[1]))
rows = int(sys.argv[2])
assert st["state"] == "completed" and st["counts"] == {"total": rows, "succeeded": rows, "failed": 0}, st
stages = st["invocation"]["stages"]
print(round(rows / (float(sys.argv[4]) - float(sys.argv[3]))), round(rows / stages["wall_s"]),
      f'{100 * stages["model_busy"]:.0f}%')
EOF
)
  NS_CHOSEN=$("$NS" status "$WORK/job.yaml" --json "${sets[@]}" |
    "$PY" -c 'import json,sys; print(json.load(sys.stdin).get("batch_size", "?"))')
}

# ---------------------------------------------------------------------------
step "4/7 raw libtorch loop on $DEVICE, batch $BATCH"
raw raw-main "$BATCH" "$ROWS"
RAW_MAIN=$RAW_RPS
report "| raw libtorch loop, batch $BATCH | $(fmt_int "$RAW_MAIN") rows/s (data already in pinned memory; GPU busy, all / active: $(busy "$WORK/util-raw-main.txt")) |"

step "5/7 nightshift on $DEVICE, batch $BATCH, $ROWS rows"
ns main "$BATCH" "$ROWS"
report "| nightshift end to end, batch $BATCH, $(fmt_int "$ROWS") rows | $(fmt_int "$NS_RPS") rows/s with start-up (CUDA, model load); $(fmt_int "$NS_PIPE_RPS") rows/s in the pipeline |" \
  "| **ratio nightshift ÷ raw** | **$(ratio "$NS_RPS" "$RAW_MAIN")** with start-up, **$(ratio "$NS_PIPE_RPS" "$RAW_MAIN")** pipeline |" \
  "| GPU busy, nightshift run (nvidia-smi, all samples / active window) | $(busy "$WORK/util-main.txt") |" \
  "| model busy (nightshift: time in forward per instance ÷ pipeline wall) | $NS_BUSY |" ""

# ---------------------------------------------------------------------------
step "6/7 fixed batch sizes ($SWEEP) and auto, $SWEEP_ROWS rows each"
report "| batch.size ($(fmt_int "$SWEEP_ROWS") rows) | rows/s with start-up | rows/s pipeline | model busy | GPU busy (all / active) |" \
  "| --- | --- | --- | --- | --- |"
BEST_SIZE="" BEST_RPS=0 BEST_WALL=0
for size in $SWEEP; do
  if (( $(elapsed) > DEADLINE )); then report "| $size | skipped: past --deadline $DEADLINE s | | | |"; continue; fi
  ns "fixed-$size" "$size" "$SWEEP_ROWS"
  report "| $size | $(fmt_int "$NS_RPS") | $(fmt_int "$NS_PIPE_RPS") | $NS_BUSY | $(busy "$WORK/util-fixed-$size.txt") |"
  if (( NS_PIPE_RPS > BEST_RPS )); then BEST_RPS=$NS_PIPE_RPS BEST_SIZE=$size BEST_WALL=$NS_RPS; fi
done
if (( $(elapsed) > DEADLINE )); then
  report "| auto | skipped: past --deadline $DEADLINE s | | | |"
else
  ns auto auto "$SWEEP_ROWS"
  AUTO_LINE=$(grep -m1 'batch.size auto' "$LOGS/auto.log" || true)
  report "| auto (fresh ledger: probe included) -> **$NS_CHOSEN** | $(fmt_int "$NS_RPS") | $(fmt_int "$NS_PIPE_RPS") | $NS_BUSY | $(busy "$WORK/util-auto.txt") |" ""
  if [[ -n $BEST_SIZE ]]; then
    report "auto chose **$NS_CHOSEN**; the best fixed size was **$BEST_SIZE**. auto ÷ best fixed: **$(ratio "$NS_PIPE_RPS" "$BEST_RPS")** in the pipeline, **$(ratio "$NS_RPS" "$BEST_WALL")** with start-up (the probe included)." ""
  fi
  report "probe: \`${AUTO_LINE#nightshift: }\`" ""
fi

step "7/7 raw loop at the best fixed size"
if [[ -n $BEST_SIZE && $BEST_SIZE != "$BATCH" ]] && (( $(elapsed) <= DEADLINE )); then
  raw "raw-$BEST_SIZE" "$BEST_SIZE" "$ROWS"
  report "raw libtorch loop at batch $BEST_SIZE: $(fmt_int "$RAW_RPS") rows/s; nightshift's best fixed ($BEST_SIZE, pipeline) ÷ it: **$(ratio "$BEST_RPS" "$RAW_RPS")**." ""
fi
if [[ -n ${OUT:-} ]]; then
  cp "$WORK"/util-*.txt "$LOGS"/ 2> /dev/null || true
  save_logs
fi
report "done in $(elapsed) s"
