#!/usr/bin/env python3
"""Writes seeded, deterministic token sequences for the bucketing benchmark.

    make_tokens.py OUT.parquet --rows 50000 [--seed 5] [--vocab 8192]
                   [--row-group 10240] [--nightshift build/tools/nightshift/nightshift]

Columns: `id` BIGINT (0..rows-1, file order) and `tokens` BIGINT[] (ids in
[1, vocab); 0 is left for padding). Lengths are a clipped log-normal:
round(exp(N(ln 32, 1.0))) clipped to [8, 512] (median 32, mean ~53, p99 ~330,
~0.3% of rows at the 512 cap), so most rows are short and a few are long, the
shape of real text. numpy's default_rng(seed) draws everything; the rows go
through a JSONL file into DuckDB (`nightshift sql`), which writes the Parquet
file with `row-group` rows per row group (nightshift cuts shards there).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

MEDIAN, SIGMA, MIN_LEN, MAX_LEN = 32, 1.0, 8, 512


def lengths(rows, seed):
    rng = np.random.default_rng(seed)
    raw = np.exp(rng.normal(np.log(MEDIAN), SIGMA, rows))
    return np.clip(np.rint(raw), MIN_LEN, MAX_LEN).astype(np.int64), rng


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--rows", type=int, default=50_000)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--vocab", type=int, default=8192)
    p.add_argument("--row-group", type=int, default=10_240)
    p.add_argument("--nightshift", default=os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "build/tools/nightshift/nightshift"))
    a = p.parse_args()
    lens, rng = lengths(a.rows, a.seed)
    tokens = rng.integers(1, a.vocab, size=int(lens.sum()), dtype=np.int64)
    fd, tmp = tempfile.mkstemp(suffix=".jsonl", dir=os.path.dirname(os.path.abspath(a.out)))
    try:
        with os.fdopen(fd, "w") as f:
            at = 0
            for i, n in enumerate(lens):
                f.write(json.dumps({"id": i, "tokens": tokens[at:at + n].tolist()}) + "\n")
                at += n
        q = (f"COPY (SELECT id::BIGINT AS id, tokens::BIGINT[] AS tokens FROM read_json('{tmp}', "
             f"format = 'newline_delimited', columns = {{id: 'BIGINT', tokens: 'BIGINT[]'}}) ORDER BY id) "
             f"TO '{a.out}' (FORMAT parquet, ROW_GROUP_SIZE {a.row_group})")
        r = subprocess.run([a.nightshift, "sql", q], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"nightshift sql failed: {r.stderr}")
    finally:
        os.unlink(tmp)
    print(f"{a.rows} rows, lengths: mean {lens.mean():.1f}, median {np.median(lens):.0f}, "
          f"p99 {np.percentile(lens, 99):.0f}, max {lens.max()}, at cap {np.mean(lens == MAX_LEN):.2%}")


if __name__ == "__main__":
    main()
