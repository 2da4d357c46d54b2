#!/usr/bin/env bash
# Packs what the GPU machine lacks into build-gpucarry/ (git-ignored), to be
# carried with `run` (carry: ["build-gpucarry"], 64 MiB limit):
#   third_party.tar.xz  DuckDB + ONNX Runtime from scripts/bootstrap.sh (~29 MB)
#   sysdeps.tar.gz      headers, libraries and CMake configs of the Debian -dev
#                       packages nightshift builds against (~4 MB)
# Then, on the GPU machine: OUT=$OUT bash bench/gpu/device.sh [run.sh options]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=$repo/build-gpucarry
mkdir -p "$out"
if [ ! -f "$out/third_party.tar.xz" ]; then
  tar -C "$repo" -cf - third_party/duckdb third_party/onnxruntime | xz -T0 -6 > "$out/third_party.tar.xz"
fi
tmp=$(mktemp -d)
L=/usr/lib/x86_64-linux-gnu
mkdir -p "$tmp/usr/include/openssl" "$tmp/usr/lib/x86_64-linux-gnu/cmake" "$tmp/usr/share/cmake"
cp -a /usr/include/sqlite3.h /usr/include/sqlite3ext.h /usr/include/yaml-cpp /usr/include/CLI /usr/include/fmt \
  /usr/include/nlohmann "$tmp/usr/include/"
cp -a /usr/include/openssl/. /usr/include/x86_64-linux-gnu/openssl/. "$tmp/usr/include/openssl/"
cp -a $L/libsqlite3.so* $L/libyaml-cpp.so* $L/libfmt.so* $L/libcrypto.so* $L/libssl.so* \
  "$tmp/usr/lib/x86_64-linux-gnu/"
cp -a $L/cmake/yaml-cpp $L/cmake/fmt "$tmp/usr/lib/x86_64-linux-gnu/cmake/"
cp -a /usr/share/cmake/CLI11 /usr/share/cmake/nlohmann_json "$tmp/usr/share/cmake/"
tar -C "$tmp" -czf "$out/sysdeps.tar.gz" usr
rm -rf "$tmp"
ls -la "$out"
