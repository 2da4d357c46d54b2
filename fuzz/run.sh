#!/usr/bin/env bash
# Builds and runs one fuzz target.
#
#   fuzz/run.sh TARGET SECONDS        TARGET: job_parser | row_packer | image_decode | pdf_render
#
# Build: build-fuzz/ with clang (CXX, default clang++-19; clang 14-18 cannot
# compile libstdc++ 12's std::expected, see fuzz/README.md). Corpus: the seeds
# in fuzz/corpus/TARGET are read but never written; new inputs go to a scratch
# folder ($FUZZ_SCRATCH, default /tmp/nightshift-fuzz/TARGET/corpus), crashes
# to $FUZZ_SCRATCH/../artifacts. Extra libFuzzer flags: FUZZ_FLAGS.
set -euo pipefail

target=${1:?usage: fuzz/run.sh job_parser|row_packer|image_decode|pdf_render SECONDS}
seconds=${2:?usage: fuzz/run.sh job_parser|row_packer|image_decode|pdf_render SECONDS}
case "$target" in
  job_parser | row_packer | image_decode | pdf_render) ;;
  *) echo "unknown target '$target' (job_parser | row_packer)" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
cxx=${CXX:-clang++-19}
cc=${CC:-clang-19}

if [[ ! -f "$build/build.ninja" ]]; then
  CC=$cc CXX=$cxx cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DNIGHTSHIFT_FUZZ=ON -DNIGHTSHIFT_WITH_TESTS=OFF -DNIGHTSHIFT_WITH_TORCH=OFF \
    -DNIGHTSHIFT_WITH_XGBOOST=OFF
fi
ninja -C "$build" "${target}_fuzzer"

scratch=${FUZZ_SCRATCH:-/tmp/nightshift-fuzz/$target/corpus}
artifacts=$(dirname "$scratch")/artifacts
findings=$(dirname "$scratch")/findings
mkdir -p "$scratch" "$artifacts" "$findings"

if [[ -z "${ASAN_SYMBOLIZER_PATH:-}" ]]; then
  for s in llvm-symbolizer-19 llvm-symbolizer; do
    if command -v "$s" >/dev/null; then export ASAN_SYMBOLIZER_PATH=$(command -v "$s"); break; fi
  done
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export NS_FUZZ_FINDINGS=$findings  # row_packer: non-fatal findings land here

# The scratch corpus comes first: libFuzzer writes new inputs into the first
# folder only, so the repo's seeds stay untouched.
exec "$build/fuzz/${target}_fuzzer" \
  -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=10 \
  -artifact_prefix="$artifacts/" -print_final_stats=1 ${FUZZ_FLAGS:-} \
  "$scratch" "$root/fuzz/corpus/$target"
