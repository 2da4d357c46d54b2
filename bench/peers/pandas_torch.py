#!/usr/bin/env python3
"""Peer (i): the churn job as a plain pandas + PyTorch script.

    pandas_torch.py IN.csv MODEL.npz OUT.csv [--batch 4096] [--threads 0]

Reads CSV with pandas (Debian has no pyarrow, so no pandas.read_parquet),
scores with the MLP in torch, writes customer_id, p_stay, p_churn as CSV.
Prints a JSON line of phase times (seconds, after imports) on stdout.
"""
import argparse
import json
import os
import sys
import time

t_start = time.monotonic()
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
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads; 0 = torch's default")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    t0 = time.monotonic()
    model = load(a.weights)
    df = pd.read_csv(a.input, usecols=["customer_id"] + FEATURES,
                     dtype={**{f: np.float32 for f in FEATURES}, "customer_id": np.int64})
    t1 = time.monotonic()
    p = score(model, df[FEATURES].to_numpy(np.float32), a.batch)
    t2 = time.monotonic()
    pd.DataFrame({"customer_id": df["customer_id"], "p_stay": p[:, 0], "p_churn": p[:, 1]}).to_csv(a.output, index=False)
    t3 = time.monotonic()
    print(json.dumps({"imports": t0 - t_start, "read": t1 - t0, "score": t2 - t1, "write": t3 - t2, "rows": len(df)}))


if __name__ == "__main__":
    main()
