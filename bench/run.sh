#!/usr/bin/env bash
# Runs the benchmark suite (see bench/run.py); results in bench/results/latest.md.
set -euo pipefail
exec /usr/bin/python3 "$(dirname "$0")/run.py" "$@"
