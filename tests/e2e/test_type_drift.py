"""Key and kept columns whose type differs between input files (type drift).

The run takes the columns' common supertype across all files (BIGINT and
VARCHAR → VARCHAR, INTEGER and DECIMAL → DECIMAL) and writes every row's value
cast to it; where no common type exists, `validate` and `run` refuse the job
with exit 2, naming both files and both types. Never an abort."""
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import (EXIT_CANNOT_START, EXIT_OK, Mlp, assert_not_crashed, read_parts, run, sql,
                      status_json, write_job)

X = np.array([[0.5, -1.0], [1.5, 2.0], [-0.25, 0.75], [3.0, -2.5]], dtype=np.float32)


def job_for(root, input_path, keep=("id", "amount"), out_format="jsonl"):
    return write_job(root / "job.yaml", {
        "name": "drift",
        "input": {"path": input_path, "key": "id"},
        "model": {"backend": "onnx", "path": "model.onnx", "threads": 1,
                  "inputs": [{"name": "features", "columns": ["f0", "f1"], "dtype": "float32"}],
                  "outputs": [{"name": "probabilities", "columns": ["p0", "p1"]}]},
        "batch": {"size": 8},
        "output": {"path": "out", "format": out_format, "keep": list(keep)},
        "run": {"shard_rows": 100, "ledger": "ledger.db"},
    })


def write_csv(path, rows):
    """rows: (id text, amount text, row of X)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("id,amount,f0,f1\n")
        for ident, amount, i in rows:
            f.write(f"{ident},{amount},{float(X[i, 0])!r},{float(X[i, 1])!r}\n")


def write_parquet(path, select):
    sql(f"COPY ({select}) TO '{path}' (FORMAT parquet)")


def run_and_read(root):
    """Validates and runs the job in root; returns the output rows in input order."""
    rc, out, err = run("validate", "job.yaml", cwd=root)
    assert_not_crashed(rc, err)
    assert rc == EXIT_OK, err
    rc, out, err = run("run", "job.yaml", cwd=root)
    assert_not_crashed(rc, err)
    assert rc == EXIT_OK, err
    assert status_json("job.yaml", cwd=root)["state"] == "completed"
    outdirs = [p for p in (root / "out").iterdir()
               if p.is_dir() and not p.name.startswith("_")] if (root / "out").is_dir() else []
    outdir = root / "out" if not outdirs else outdirs[0]
    parts = read_parts(outdir, "jsonl")
    return [r for name in sorted(parts) for r in parts[name]]


def assert_predictions(rows, model):
    expected = model.predict(X)
    for i, r in enumerate(rows):
        np.testing.assert_allclose([r["p0"], r["p1"]], expected[i], rtol=1e-5, atol=1e-6)


@pytest.fixture
def root(tmp_path):
    (tmp_path / "data").mkdir()
    return tmp_path


def test_csv_key_bigint_then_varchar_becomes_varchar(root):
    model = Mlp(root / "model.onnx", n_in=2, n_out=2)
    write_csv(root / "data" / "a.csv", [(1, 10, 0), (2, 20, 1)])
    write_csv(root / "data" / "b.csv", [("k2", 30, 2), ("k3", 40, 3)])
    job_for(root, "data/*.csv")
    rows = run_and_read(root)
    assert [r["id"] for r in rows] == ["1", "2", "k2", "k3"]
    assert [r["amount"] for r in rows] == [10, 20, 30, 40]
    assert_predictions(rows, model)


def test_csv_keep_integer_then_decimal_becomes_double(root):
    model = Mlp(root / "model.onnx", n_in=2, n_out=2)
    write_csv(root / "data" / "a.csv", [(1, 10, 0), (2, 20, 1)])
    write_csv(root / "data" / "b.csv", [(3, 1.25, 2), (4, 2.5, 3)])
    job_for(root, "data/*.csv")
    rows = run_and_read(root)
    assert [r["id"] for r in rows] == [1, 2, 3, 4]
    assert [r["amount"] for r in rows] == [10.0, 20.0, 1.25, 2.5]
    assert all(isinstance(r["amount"], float) for r in rows), rows
    assert_predictions(rows, model)


def parquet_select(rows, id_type, amount_type):
    values = ", ".join(f"({i!r}::{id_type}, {a!r}::{amount_type}, {float(X[k, 0])!r}::FLOAT, "
                       f"{float(X[k, 1])!r}::FLOAT)" for i, a, k in rows)
    return f"SELECT * FROM (VALUES {values}) t(id, amount, f0, f1)"


def test_parquet_key_bigint_vs_varchar_and_keep_int_vs_decimal(root):
    model = Mlp(root / "model.onnx", n_in=2, n_out=2)
    write_parquet(root / "data" / "a.parquet",
                  parquet_select([(1, 10, 0), (2, 20, 1)], "BIGINT", "INTEGER"))
    write_parquet(root / "data" / "b.parquet",
                  parquet_select([("k2", "1.25", 2), ("k3", "2.50", 3)], "VARCHAR", "DECIMAL(10,2)"))
    job_for(root, "data/*.parquet", out_format="parquet")
    rc, out, err = run("run", "job.yaml", cwd=root)
    assert_not_crashed(rc, err)
    assert rc == EXIT_OK, err
    types = sql("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "
                f"read_parquet('{root}/out/**/part-*.parquet'))")
    assert "id,VARCHAR" in types and "amount,\"DECIMAL(12,2)\"" in types, types
    csv_out = sql(f"SELECT id, amount FROM read_parquet('{root}/out/**/part-*.parquet') ORDER BY id")
    assert csv_out.splitlines()[1:] == ["1,10.00", "2,20.00", "k2,1.25", "k3,2.50"]


def test_parquet_no_common_type_is_refused_naming_both_files(root):
    Mlp(root / "model.onnx", n_in=2, n_out=2)
    write_parquet(root / "data" / "a.parquet",
                  parquet_select([(1, 10, 0), (2, 20, 1)], "BIGINT", "INTEGER"))
    write_parquet(root / "data" / "b.parquet",
                  parquet_select([(3, "[1, 2]", 2), (4, "[3]", 3)], "BIGINT", "INTEGER[]"))
    job_for(root, "data/*.parquet")
    for cmd in ("validate", "run"):
        rc, out, err = run(cmd, "job.yaml", cwd=root)
        assert_not_crashed(rc, err)
        assert rc == EXIT_CANNOT_START, (cmd, rc, out, err)
        for needle in ("amount", "a.parquet", "b.parquet", "INTEGER", "INTEGER[]"):
            assert needle in err, (cmd, needle, err)
