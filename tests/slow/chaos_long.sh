#!/usr/bin/env bash
# The long chaos run (not in CI): 2,000,000 rows, 200 SIGKILLs at seeded random
# moments, then the exactly-once check (tests/e2e/test_chaos.py).
#
#   tests/slow/chaos_long.sh                 # seed 20251128
#   CHAOS_SEED=7 tests/slow/chaos_long.sh    # another schedule
#   NIGHTSHIFT_BIN=build-asan/tools/nightshift/nightshift tests/slow/chaos_long.sh
#
# Takes several minutes (data generation, ~200 restarts, checking 2M rows) and a
# few hundred MB of disk under $CHAOS_TMP (default: a fresh folder in /tmp).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export CHAOS_ROWS="${CHAOS_ROWS:-2000000}"
export CHAOS_KILLS="${CHAOS_KILLS:-200}"
export CHAOS_SEED="${CHAOS_SEED:-20251128}"
export NIGHTSHIFT_BIN="${NIGHTSHIFT_BIN:-$repo/build/tools/nightshift/nightshift}"
tmp="${CHAOS_TMP:-$(mktemp -d /tmp/nightshift-chaos-long.XXXXXX)}"
echo "chaos_long: CHAOS_ROWS=$CHAOS_ROWS CHAOS_KILLS=$CHAOS_KILLS CHAOS_SEED=$CHAOS_SEED in $tmp" >&2
status=0
/usr/bin/python3 -m pytest -q -s -p no:cacheprovider --basetemp="$tmp" \
  "$repo/tests/e2e/test_chaos.py" "$@" || status=$?
if [ "$status" -eq 0 ] && [ -z "${CHAOS_TMP:-}" ]; then rm -rf "$tmp"; fi
[ "$status" -eq 0 ] || echo "chaos_long FAILED with CHAOS_SEED=$CHAOS_SEED (files kept in $tmp)" >&2
exit "$status"
