#!/usr/bin/env python3
"""The cost of `postprocess: - top_k` (issue 13's recommendations bench).

    bench/top_k.py [--users 20000] [--items 50000] [--k 20] [--repeat 5] [--threads 1] [--bin PATH]

The two-tower model of examples/recommendations (user tower, a 32 × items
item matrix inside the graph, scores = dot products), with one more output,
each user's best score (`max_score`), so that every score is computed in
all three runs:
  A. nightshift, top_k k=20 with text item ids (examples/recommendations'
     job), plus max_score;
  B. the same nightshift job without top_k: max_score only (the model's work,
     reading and writing, without the post-processing);
  C. a numpy/pandas peer: pandas reads the CSV, numpy runs the same model
     (same weights, float32, same batch size), np.argpartition + a stable
     sort keep the k best, pandas writes CSV (Debian has no pyarrow, so no
     Parquet from pandas) with the ids as text.
Runs are interleaved (A, B, C, A, B, C, ...), each figure the median of
--repeat wall times of the whole process; ratios A ÷ B (what top_k costs)
and A ÷ C (against the peer). Prints one Markdown table.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "examples" / "recommendations"))
import make_example as recs  # noqa: E402

PEER = r"""
import sys, time, numpy as np, pandas as pd
sys.path.insert(0, sys.argv[5])
import make_example as recs
users, items_n, k, batch, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[6]
w = recs.make_weights(items_n)
labels = np.array(open(sys.argv[7]).read().split())
df = pd.read_csv(users)
x = df[[f"f{c}" for c in range(recs.FEATURES)]].to_numpy(np.float32)
ids, vals, best = [], [], []
for at in range(0, len(x), batch):
    s = (np.maximum(x[at:at + batch] @ w["w1"], 0) @ w["w2"]) @ w["items"]
    part = np.argpartition(-s, k - 1, axis=1)[:, :k]
    for row, cand in zip(s, part):
        # the k best by score descending, ties by the lower index (as nightshift)
        kth = row[cand].min()
        pool = np.flatnonzero(row >= kth)
        order = pool[np.lexsort((pool, -row[pool]))][:k]
        ids.append(" ".join(labels[order])); vals.append(" ".join(map(str, row[order])))
    best.extend(s.max(axis=1))
pd.DataFrame({"user_id": df["user_id"], "max_score": best, "item_ids": ids, "item_scores": vals}).to_csv(out, index=False)
"""


def job(model, data, labels, threads, top_k, k):
    post = (f"postprocess:\n  - top_k: {{output: scores, k: {k}, into: [item_ids, item_scores], "
            f"labels: {labels}}}\n" if top_k else "")
    return f"""name: bench-top-k
input:
  path: {data}
  key: user_id
model:
  path: {model}
  threads: {threads}
  inputs:
    - {{name: features, columns: [{", ".join(f"f{c}" for c in range(recs.FEATURES))}]}}
  outputs:
    - {{name: max_score, columns: [max_score]}}
{post}batch:
  size: 64
output:
  path: out
  keep: [user_id]
run:
  shard_rows: 5000
"""


def timed(argv, cwd, env=None):
    t0 = time.monotonic()
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=20000)
    ap.add_argument("--items", type=int, default=50000)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--bin", default=str(REPO / "build" / "tools" / "nightshift" / "nightshift"))
    a = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ns-topk-bench-"))
    try:
        subprocess.run([sys.executable, str(REPO / "examples" / "recommendations" / "make_example.py"),
                        str(root), "--users", str(a.users), "--items", str(a.items)], check=True)
        recs.save_model(recs.make_weights(a.items), root / "bench.onnx", max_score=True)
        for name, top_k in (("with", True), ("without", False)):
            (root / name).mkdir()
            (root / name / "job.yaml").write_text(job(root / "bench.onnx", root / "users.csv",
                                                      root / "items.txt", a.threads, top_k, a.k))
        (root / "peer.py").write_text(PEER)
        peer_env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), OPENBLAS_NUM_THREADS=str(a.threads))
        times = {"with": [], "without": [], "peer": []}
        for _ in range(a.repeat):
            for name in ("with", "without"):
                shutil.rmtree(root / name / "out", ignore_errors=True)
                shutil.rmtree(root / name / ".nightshift", ignore_errors=True)
                times[name].append(timed([a.bin, "run", "job.yaml"], root / name))
            times["peer"].append(timed([sys.executable, str(root / "peer.py"), str(root / "users.csv"),
                                        str(a.items), str(a.k), "64", str(REPO / "examples" / "recommendations"),
                                        str(root / "peer.csv"), str(root / "items.txt")], root, peer_env))
        med = {n: statistics.median(t) for n, t in times.items()}
        print(f"top_k bench: {a.users} users x {a.items} items, k={a.k}, batch 64, {a.threads} thread(s), "
              f"median of {a.repeat} interleaved runs\n")
        print("| run | median s | users/s |\n| --- | --- | --- |")
        for n, label in (("with", "nightshift, top_k (A)"), ("without", "nightshift, no top_k (B)"),
                         ("peer", "numpy/pandas peer (C)")):
            print(f"| {label} | {med[n]:.2f} | {a.users / med[n]:,.0f} |")
        print(f"\nA ÷ B (what top_k costs): {med['with'] / med['without']:.2f}×; "
              f"A ÷ C (nightshift with top_k vs the peer): {med['with'] / med['peer']:.2f}× the time")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
