"""The TorchScript backend end to end: the real binary runs `model.backend:
torchscript` jobs on Parquet input; outputs are read back with `nightshift sql`
and checked against numpy references computed from the models' weights.

Needs Debian's python with torch, numpy, yaml and pytest, and a nightshift
built with the torchscript backend (NIGHTSHIFT_BIN)."""
import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn
from typing import Dict

from conftest import EXIT_CANNOT_START, EXIT_OK, assert_not_crashed, run, sql, write_job

TOL = 1e-5


# --------------------------------------------------------------------------
# Models (scripted here; references computed with numpy from their weights)
# --------------------------------------------------------------------------

class Mlp(nn.Module):
    def __init__(self, n_in, hidden, n_out):
        super().__init__()
        self.fc1 = nn.Linear(n_in, hidden)
        self.fc2 = nn.Linear(hidden, n_out)

    def forward(self, features: Tensor) -> Tensor:
        return torch.softmax(self.fc2(torch.relu(self.fc1(features))), dim=1)


def mlp_reference(model, x):
    w1, b1 = model.fc1.weight.detach().numpy(), model.fc1.bias.detach().numpy()
    w2, b2 = model.fc2.weight.detach().numpy(), model.fc2.bias.detach().numpy()
    h = np.maximum(x.astype(np.float64) @ w1.T + b1, 0)
    logits = h @ w2.T + b2
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class Scorer(nn.Module):
    """Two inputs (float features, int64 ids) and a dict output."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(8, 2)
        self.w = nn.Parameter(torch.tensor([0.5, -1.0, 2.0]))

    def forward(self, x: Tensor, ids: Tensor) -> Dict[str, Tensor]:
        e = self.emb(ids).sum(1)
        return {"score": (x * self.w).sum(1, keepdim=True), "emb": e, "best": x.argmax(1)}


class RejectsNegative(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        if bool((x < 0).any()):
            raise ValueError("negative input")
        return x * 10


def save(module, path, meta=None):
    extra = {"nightshift.json": json.dumps(meta)} if meta is not None else {}
    torch.jit.save(torch.jit.script(module.eval()), str(path), _extra_files=extra)


# --------------------------------------------------------------------------
# Data and jobs
# --------------------------------------------------------------------------

def write_parquet(root, columns, types):
    """Writes {name: values} to root/data/input.parquet through `nightshift sql`."""
    data = Path(root) / "data"
    data.mkdir(parents=True, exist_ok=True)
    src = data / "input.csv"
    names = list(columns)
    n = len(columns[names[0]])
    with open(src, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(names)
        for i in range(n):
            w.writerow([repr(float(columns[c][i])) if types[c] in ("FLOAT", "DOUBLE") else int(columns[c][i])
                        for c in names])
    t = "{" + ", ".join(f"'{k}': '{v}'" for k, v in types.items()) + "}"
    out = data / "input.parquet"
    sql(f"COPY (SELECT * FROM read_csv('{src}', header=true, types={t})) TO '{out}' (FORMAT parquet)")
    src.unlink()
    return "data/input.parquet"


def job(model_path, inputs, outputs, *, input_path="data/input.parquet", **extra):
    j = {
        "name": "torch-e2e",
        "input": {"path": input_path, "key": "id"},
        "model": {"backend": "torchscript", "path": model_path, "device": "cpu", "threads": 1,
                  "inputs": inputs, "outputs": outputs},
        "batch": {"size": 64},
        "output": {"path": "out", "format": "parquet", "keep": ["id"]},
        "run": {"shard_rows": 150},
    }
    j.update(extra)
    return j


def read_out(root, columns):
    """The output rows ordered by id, as {id: [values...]} (via `nightshift sql`, CSV)."""
    text = sql(f"SELECT id, {', '.join(columns)} FROM '{Path(root) / 'out'}/*.parquet' ORDER BY id")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["id", *columns], rows[0]
    return {int(r[0]): [float(v) for v in r[1:]] for r in rows[1:]}


def run_ok(job_path):
    rc, out, err = run("run", job_path)
    assert_not_crashed(rc, err)
    assert rc == EXIT_OK, f"run exited {rc}\nstdout:\n{out}\nstderr:\n{err}"
    return out, err


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------

@pytest.mark.parametrize("declared", [False, True], ids=["dynamic", "declared"])
def test_mlp_matches_reference(tmp_path, declared):
    torch.manual_seed(3)
    model = Mlp(4, 32, 3)
    meta = {"inputs": [{"name": "features", "dtype": "float32", "shape": [-1, 4]}]} if declared else None
    save(model, tmp_path / "model.pt", meta)
    rng = np.random.default_rng(11)
    n = 500
    x = (rng.standard_normal((n, 4)) * [0.1, 1, 5, 20]).astype(np.float32)
    ids = rng.permutation(10**6)[:n].astype(np.int64)
    cols = {"id": ids, **{f"f{j}": x[:, j] for j in range(4)}}
    write_parquet(tmp_path, cols, {"id": "BIGINT", **{f"f{j}": "FLOAT" for j in range(4)}})
    job_path = write_job(tmp_path / "job.yaml", job(
        "model.pt",
        [{"name": "features", "columns": [f"f{j}" for j in range(4)], "dtype": "float32"}],
        [{"name": "output", "columns": ["p0", "p1", "p2"]}]))
    run_ok(job_path)

    got = read_out(tmp_path, ["p0", "p1", "p2"])
    assert sorted(got) == sorted(int(i) for i in ids), "every input key exactly once"
    want = mlp_reference(model, x)
    for i, k in enumerate(ids):
        np.testing.assert_allclose(got[int(k)], want[i], atol=TOL, err_msg=f"key {k}")
    success = json.loads((tmp_path / "out" / "_SUCCESS").read_text())
    assert success["counts"] == {"total": n, "succeeded": n, "failed": 0}, success["counts"]


def test_two_inputs_int64_and_dict_outputs(tmp_path):
    torch.manual_seed(4)
    model = Scorer()
    # ids is int64: declared in the archive (the job's dtype must agree).
    save(model, tmp_path / "scorer.pt", {"inputs": [{"name": "ids", "dtype": "int64", "shape": [-1, 2]},
                                                     {"name": "x", "shape": [-1, 3]}]})
    rng = np.random.default_rng(12)
    n = 300
    x = rng.standard_normal((n, 3)).astype(np.float32)
    idv = rng.integers(0, 8, (n, 2)).astype(np.int64)
    keys = np.arange(n, dtype=np.int64) * 7 - 1000
    cols = {"id": keys, "a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "i0": idv[:, 0], "i1": idv[:, 1]}
    write_parquet(tmp_path, cols, {"id": "BIGINT", "a": "FLOAT", "b": "FLOAT", "c": "FLOAT",
                                   "i0": "BIGINT", "i1": "BIGINT"})
    job_path = write_job(tmp_path / "job.yaml", job(
        "scorer.pt",
        [{"name": "x", "columns": ["a", "b", "c"], "dtype": "float32"},
         {"name": "ids", "columns": ["i0", "i1"], "dtype": "int64"}],
        [{"name": "emb", "columns": ["e0", "e1"]},
         {"name": "score", "columns": ["score"]},
         {"name": "best", "columns": ["best"]}]))
    run_ok(job_path)

    table = model.emb.weight.detach().numpy().astype(np.float64)
    w = model.w.detach().numpy().astype(np.float64)
    got = read_out(tmp_path, ["e0", "e1", "score", "best"])
    assert len(got) == n
    for i in range(n):
        want = [*(table[idv[i, 0]] + table[idv[i, 1]]), float(x[i].astype(np.float64) @ w), float(np.argmax(x[i]))]
        np.testing.assert_allclose(got[int(keys[i])], want, atol=TOL, err_msg=f"row {i}")
    # The probe declared `best` as int64: it is written as an integer column.
    types = sql(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM '{tmp_path / 'out'}/*.parquet')")
    assert "best,BIGINT" in types, types


def test_rows_the_model_rejects_become_dead_letters(tmp_path):
    save(RejectsNegative(), tmp_path / "model.pt")
    n = 200
    v = np.arange(n, dtype=np.float32)
    bad = {17, 18, 150}
    for i in bad:
        v[i] = -1
    write_parquet(tmp_path, {"id": np.arange(n), "v": v}, {"id": "BIGINT", "v": "FLOAT"})
    j = job("model.pt", [{"name": "x", "columns": ["v"], "dtype": "float32"}],
            [{"name": "output", "columns": ["y"]}], errors={"max_failed_items": -1})
    run_ok(write_job(tmp_path / "job.yaml", j))
    got = read_out(tmp_path, ["y"])
    assert sorted(got) == [i for i in range(n) if i not in bad]
    for i, (y,) in got.items():
        assert y == pytest.approx(10.0 * i)
    letters = []
    for p in sorted((tmp_path / "out" / "_failed").glob("part-*.jsonl")):
        letters += [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
    assert len(letters) == len(bad), letters
    for d in letters:
        assert "negative input" in d["error"], d
        assert "Traceback" not in d["error"], d


def test_unknown_output_name_stops_the_job(tmp_path):
    torch.manual_seed(5)
    save(Mlp(2, 4, 2), tmp_path / "model.pt", {"inputs": [{"name": "features", "shape": [-1, 2]}]})
    write_parquet(tmp_path, {"id": np.arange(10), "a": np.ones(10), "b": np.zeros(10)},
                  {"id": "BIGINT", "a": "FLOAT", "b": "FLOAT"})
    j = job("model.pt", [{"name": "features", "columns": ["a", "b"], "dtype": "float32"}],
            [{"name": "probabilities", "columns": ["p0", "p1"]}])
    rc, out, err = run("run", write_job(tmp_path / "job.yaml", j))
    assert_not_crashed(rc, err)
    assert rc == EXIT_CANNOT_START, f"exit {rc}\n{err}"
    assert "no output 'probabilities'" in err, err


@pytest.mark.parametrize("problem", ["missing", "garbage", "cuda"])
def test_bad_model_or_device_cannot_start(tmp_path, problem):
    if problem == "cuda" and torch.cuda.is_available():
        pytest.skip("a CUDA device is visible")
    torch.manual_seed(6)
    save(Mlp(2, 4, 2), tmp_path / "model.pt")
    if problem == "garbage":
        (tmp_path / "model.pt").write_bytes(b"not a zip archive" * 50)
    write_parquet(tmp_path, {"id": np.arange(10), "a": np.ones(10), "b": np.zeros(10)},
                  {"id": "BIGINT", "a": "FLOAT", "b": "FLOAT"})
    j = job("gone.pt" if problem == "missing" else "model.pt",
            [{"name": "features", "columns": ["a", "b"], "dtype": "float32"}],
            [{"name": "output", "columns": ["p0", "p1"]}])
    if problem == "cuda":
        j["model"]["device"] = "cuda"
    rc, out, err = run("run", write_job(tmp_path / "job.yaml", j))
    assert_not_crashed(rc, err)
    assert rc == EXIT_CANNOT_START, f"exit {rc}\n{err}"
    expect = {"missing": "gone.pt", "garbage": "model.pt", "cuda": "CUDA"}[problem]
    assert expect in err, err
