"""Helpers for figure 8 of bench/run.py (bucketing): the job file, the padded
tokens each batching scheme should feed the model (the figure also measures
them with a probe model), and a numpy reference check.
Data and model come from bench/make_tokens.py and bench/make_encoder.py."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_encoder  # noqa: E402


def job_yaml(work, data, model, batch, threads, shard_rows, sort=False, max_tokens=0, probe=False):
    """The job; with probe, for make_encoder.py's --probe model (columns rows, seq)."""
    output, columns = ("batch_shape", "rows, seq") if probe else ("probabilities", "p0, p1")
    bucketing = ""
    if sort:
        bucketing += "  sort_by_length: tokens\n"
    if max_tokens:
        bucketing += f"  max_tokens: {max_tokens}\n"
    return f"""name: bucketing
input:
  path: {data}
  key: id
model:
  path: {model}
  threads: {threads}
  inputs:
    - name: tokens
      columns: [tokens]
      dtype: int64
      pad_value: 0
    - name: mask
      mask_of: tokens
  outputs:
    - name: {output}
      columns: [{columns}]
batch:
  size: {batch}
{bucketing}output:
  path: {work}/out
  keep: [id]
run:
  shard_rows: {shard_rows}
  ledger: {work}/ledger.db
"""


def padding(lengths, shard_sizes, batch_rows, sort=False, max_tokens=0):
    """(real tokens, padded tokens, batches) the model is fed: the engine's cut,
    replicated. Without sort: consecutive batch_rows rows of each shard. With
    sort: each shard's rows stably sorted by length, then filled shortest
    first until batch_rows rows, until one more row would make rows × longest
    exceed max_tokens, or (with max_tokens, once the batch holds an eighth of
    it) until the next row is over 1.25× the batch's base row, its first or the
    last one taken past that spread while the batch was smaller (DuckSource's
    FlushBucketed). Each batch is padded to its longest row (at least 1)."""
    real, padded, batches, at = 0, 0, 0, 0
    for size in shard_sizes:
        shard = lengths[at:at + size]
        at += size
        real += sum(shard)
        if not sort:
            for b in range(0, len(shard), batch_rows):
                part = shard[b:b + batch_rows]
                padded += max(1, max(part)) * len(part)
                batches += 1
            continue
        shard = sorted(shard)
        i = 0
        while i < len(shard):
            n, longest = 0, 0
            base = max(1, shard[i])
            while i < len(shard) and n < batch_rows:
                ln = max(1, longest, shard[i])
                if max_tokens > 0 and n > 0 and (n + 1) * ln > max_tokens:
                    break
                if max_tokens > 0 and ln > 1.25 * base:
                    if 8 * n * longest >= max_tokens:
                        break
                    base = ln
                longest, n, i = ln, n + 1, i + 1
            padded += n * longest
            batches += 1
    return real, padded, batches


def reference_error(rows_jsonl, weights):
    """Largest |nightshift − numpy| over the rows of a JSONL file with id,
    tokens, p0, p1 (the model's float64 forward pass in make_encoder.py)."""
    import numpy as np

    w = dict(np.load(weights))
    worst, n = 0.0, 0
    with open(rows_jsonl) as f:
        for line in f:
            r = json.loads(line)
            ref = make_encoder.forward(r["tokens"], w)
            worst = max(worst, float(np.max(np.abs(ref - np.array([r["p0"], r["p1"]])))))
            n += 1
    return worst, n
