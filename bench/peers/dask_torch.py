#!/usr/bin/env python3
"""Peer (ii): the churn job with Dask: dd.read_csv(...).map_partitions(score).

    dask_torch.py IN.csv MODEL.npz OUT_DIR [--batch 4096] [--blocksize 16MB]

Dask's default (threaded) scheduler with one worker thread per core; torch
gets one intra-op thread per task so the two do not oversubscribe the cores.
Writes OUT_DIR/part-*.csv. Prints a JSON line of times on stdout.
"""
import argparse
import json
import os
import sys
import time

t_start = time.monotonic()
import dask  # noqa: E402
import dask.dataframe as dd  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mlp_torch import FEATURES, load, score  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("weights")
    ap.add_argument("output")
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--blocksize", default="16MB")
    a = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.monotonic()
    model = load(a.weights)

    def score_part(df):
        p = score(model, df[FEATURES].to_numpy(np.float32), a.batch)
        return pd.DataFrame({"customer_id": df["customer_id"].to_numpy(), "p_stay": p[:, 0], "p_churn": p[:, 1]},
                            index=df.index)

    ddf = dd.read_csv(a.input, usecols=["customer_id"] + FEATURES, blocksize=a.blocksize,
                      dtype={**{f: np.float32 for f in FEATURES}, "customer_id": np.int64})
    meta = pd.DataFrame({"customer_id": pd.Series(dtype=np.int64), "p_stay": pd.Series(dtype=np.float32),
                         "p_churn": pd.Series(dtype=np.float32)})
    out = ddf.map_partitions(score_part, meta=meta)
    os.makedirs(a.output, exist_ok=True)
    with dask.config.set(scheduler="threads", num_workers=os.cpu_count()):
        out.to_csv(os.path.join(a.output, "part-*.csv"), index=False)
    t1 = time.monotonic()
    print(json.dumps({"imports": t0 - t_start, "compute": t1 - t0, "partitions": ddf.npartitions}))


if __name__ == "__main__":
    main()
