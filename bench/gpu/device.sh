#!/usr/bin/env bash
# Runs the GPU proof on the lent GPU machine (no package access): unpacks the
# carried third_party/ (DuckDB, ONNX Runtime; xz-compressed to fit the 64 MiB
# carry limit), falls back to Makefiles when ninja is missing, then runs
# bench/gpu/run.sh. Results go to $OUT/gpu_results.md.
#   made here with: tar -cf - third_party/duckdb third_party/onnxruntime | xz -6 > build-gpucarry/third_party.tar.xz
set -uo pipefail
cd "$(dirname "$0")/../.."
echo "== machine"; nproc; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
for t in cmake ninja make g++ c++ python3; do printf '%s: %s\n' "$t" "$(command -v $t || echo missing)"; done
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.version.cuda)'
if [ ! -f third_party/duckdb/lib/libduckdb.so ]; then
  tar -xJf build-gpucarry/third_party.tar.xz || { echo "cannot unpack third_party"; exit 1; }
fi
# The GPU machine has no -dev packages: headers, libraries and CMake configs of
# SQLite, yaml-cpp, CLI11, fmt, nlohmann-json and OpenSSL come from a
# Debian 12 machine in build-gpucarry/sysdeps.tar.gz.
if [ -f build-gpucarry/sysdeps.tar.gz ]; then
  mkdir -p /tmp/ns-sys && tar -C /tmp/ns-sys -xzf build-gpucarry/sysdeps.tar.gz
  export CMAKE_PREFIX_PATH=/tmp/ns-sys/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}
  export OPENSSL_ROOT_DIR=/tmp/ns-sys/usr
  export CPATH=/tmp/ns-sys/usr/include${CPATH:+:$CPATH}
fi
if ! command -v ninja >/dev/null; then
  if python3 -c 'import ninja' 2>/dev/null; then
    mkdir -p /tmp/ninja-bin && ln -sf "$(python3 -c 'import ninja,os;print(os.path.join(ninja.BIN_DIR,"ninja"))')" /tmp/ninja-bin/ninja
    export PATH=/tmp/ninja-bin:$PATH
  else
    echo "no ninja: switching run.sh to Makefiles"
    sed -i 's/-G Ninja/-G "Unix Makefiles"/g; s/ninja -C "\([^"]*\)" -j "\$JOBS"/make -C "\1" -j "$JOBS"/g' bench/gpu/run.sh
  fi
fi
bash bench/gpu/run.sh "$@"
rc=$?
echo "run.sh exit $rc"
exit $rc
