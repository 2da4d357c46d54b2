"""Many small input files are packed, whole and in order, into shards of up
to run.shard_rows rows: few part files instead of one per input file. A dead
letter of a packed shard names its file and its row within that file, and
`nightshift retry` re-reads exactly those rows."""
import json

import numpy as np

from conftest import (EXIT_CANNOT_START, EXIT_OK, Mlp, assert_not_crashed, part_files, read_dead_letters, read_parts,
                      run, single_key, status_json, write_job)

N_FILES, ROWS = 12, 3
BAD = {(1, 1), (2, 1)}  # (file, row): the same row number in two files of one shard


def make(root, bad=BAD):
    """12 CSV files of 3 rows; returns (ids, features) in input order."""
    data = root / "data"
    data.mkdir(exist_ok=True)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((N_FILES * ROWS, 2)).astype(np.float32)
    ids = [1000 + i for i in range(N_FILES * ROWS)]
    for f in range(N_FILES):
        with open(data / f"f{f:02d}.csv", "w", encoding="utf-8") as out:
            out.write("id,f0,f1\n")
            for r in range(ROWS):
                i = f * ROWS + r
                f0 = "abc" if (f, r) in bad else repr(float(x[i, 0]))
                out.write(f"{ids[i]},{f0},{float(x[i, 1])!r}\n")
    return ids, x


def write(root):
    return write_job(root / "job.yaml", {
        "name": "small",
        "input": {"path": "data", "key": "id"},
        "model": {"backend": "onnx", "path": "model.onnx", "threads": 1,
                  "inputs": [{"name": "features", "columns": ["f0", "f1"], "dtype": "float32"}],
                  "outputs": [{"name": "probabilities", "columns": ["p0", "p1"]}]},
        "batch": {"size": 4},
        "output": {"path": "out", "format": "parquet", "keep": ["id"]},
        "errors": {"max_failed_items": -1},
        "run": {"shard_rows": 10, "ledger": "ledger.db"},
    })


def test_small_files_are_packed_and_dead_letters_name_their_file(tmp_path):
    model = Mlp(tmp_path / "model.onnx", n_in=2, n_out=2)
    ids, x = make(tmp_path)
    write(tmp_path)
    rc, out, err = run("run", "job.yaml", cwd=tmp_path)
    assert_not_crashed(rc, err)
    assert rc == EXIT_OK, err
    # 3 files (9 rows) per shard: a fourth would pass 10 rows.
    parts = read_parts(tmp_path / "out", "parquet")
    assert sorted(parts) == [f"part-{k:06d}.parquet" for k in range(4)], sorted(parts)
    assert [len(parts[p]) for p in sorted(parts)] == [7, 9, 9, 9]
    expected = model.predict(x)
    bad_rows = {f * ROWS + r for f, r in BAD}
    got = [r for p in sorted(parts) for r in parts[p]]
    assert [r["id"] for r in got] == [k for i, k in enumerate(ids) if i not in bad_rows]
    for r in got:
        i = ids.index(r["id"])
        np.testing.assert_allclose([r["p0"], r["p1"]], expected[i], rtol=1e-5, atol=1e-6)
    st = status_json("job.yaml", cwd=tmp_path)
    assert st["shards"]["total"] == 4 and st["counts"]["failed"] == 2, st

    letters = read_dead_letters(tmp_path / "out" / "_failed")
    assert [(name, single_key(d["key"]), d["file"], d["row"], d["shard"]) for name, d in letters] == [
        ("part-000000.jsonl", ids[1 * ROWS + 1], str(tmp_path / "data" / "f01.csv"), 1, 0),
        ("part-000000.jsonl", ids[2 * ROWS + 1], str(tmp_path / "data" / "f02.csv"), 1, 0),
    ]
    rc, out, err = run("status", "job.yaml", "--failed", "--json", cwd=tmp_path)
    assert rc == EXIT_OK, err
    items = json.loads(out)["failed_items"]
    assert [(single_key(i["key"]), i["file"], i["row"]) for i in items] == [
        (ids[4], str(tmp_path / "data" / "f01.csv"), 1),
        (ids[7], str(tmp_path / "data" / "f02.csv"), 1),
    ]
    rc, out, err = run("status", "job.yaml", "--failed", cwd=tmp_path)
    assert f"file={tmp_path / 'data' / 'f01.csv'} row=1" in out, out

    # Fix the bad values in place (same rows, same positions) and retry: the
    # two dead-lettered rows, and only they, are read again from their files.
    make(tmp_path, bad=set())
    rc, out, err = run("retry", "job.yaml", cwd=tmp_path)
    assert rc == EXIT_CANNOT_START and "cannot retry run" in err, err  # the files changed
    rc, out, err = run("retry", "job.yaml", "--set", "run.allow_input_change=true", cwd=tmp_path)
    assert_not_crashed(rc, err)
    assert rc == EXIT_OK, err
    retried = read_parts(tmp_path / "out", "parquet")["part-000000-r1.parquet"]
    assert [r["id"] for r in retried] == [ids[4], ids[7]]
    for r in retried:
        i = ids.index(r["id"])
        np.testing.assert_allclose([r["p0"], r["p1"]], expected[i], rtol=1e-5, atol=1e-6)
    rc, out, err = run("status", "job.yaml", "--failed", "--json", cwd=tmp_path)
    assert json.loads(out)["counts"]["failed"] == 0, out


def test_files_larger_than_a_shard_are_not_packed(tmp_path):
    """A file with shard_rows rows or more is cut on its own; small files
    around it are packed up to it and after it."""
    Mlp(tmp_path / "model.onnx", n_in=2, n_out=2)
    data = tmp_path / "data"
    data.mkdir()
    sizes = [3, 3, 25, 3, 3]
    k = 0
    for f, n in enumerate(sizes):
        with open(data / f"f{f:02d}.csv", "w") as out:
            out.write("id,f0,f1\n")
            for _ in range(n):
                out.write(f"{k},{k * 0.1},{k * 0.2}\n")
                k += 1
    write(tmp_path)
    rc, out, err = run("run", "job.yaml", cwd=tmp_path)
    assert rc == EXIT_OK, err
    parts = read_parts(tmp_path / "out", "parquet")
    # [f00+f01] 6 rows; f02 cut 10, 10, 5 (5 is not under a quarter of 10); [f03+f04] 6
    assert [len(parts[p]) for p in sorted(parts)] == [6, 10, 10, 5, 6], {p: len(v) for p, v in parts.items()}
    assert [r["id"] for p in sorted(parts) for r in parts[p]] == list(range(sum(sizes)))


def test_files_sharing_a_header_read_each_files_quoting(tmp_path):
    """CSV files that share a header line share the dialect sniffed from the
    first (one sniff per header, not per file); a later file's quoted values
    (a comma inside, doubled quotes) still read exactly, and a file with a
    stray opening quote, which does not read under that dialect, is read as
    DuckDB sniffs it alone, as before."""
    Mlp(tmp_path / "model.onnx", n_in=2, n_out=2)
    data = tmp_path / "data"
    data.mkdir()
    files = [
        ["plain-0", "plain-1"],
        ['"comma, inside"', '"say ""hi"""'],
        ["before", '"open'],  # the quote opens and never closes
    ]
    expected = ["plain-0", "plain-1", "comma, inside", 'say "hi"', "before", '"open']
    k = 0
    for f, names in enumerate(files):
        with open(data / f"f{f:02d}.csv", "w", encoding="utf-8") as out:
            out.write("id,name,f0,f1\n")
            for name in names:
                out.write(f"{k},{name},{k * 0.5},{k * 0.25}\n")
                k += 1
    write_job(tmp_path / "job.yaml", {
        "name": "shared_header",
        "input": {"path": "data", "key": "id"},
        "model": {"backend": "onnx", "path": "model.onnx", "threads": 1,
                  "inputs": [{"name": "features", "columns": ["f0", "f1"], "dtype": "float32"}],
                  "outputs": [{"name": "probabilities", "columns": ["p0", "p1"]}]},
        "output": {"path": "out", "format": "parquet", "keep": ["id", "name"]},
        "run": {"ledger": "ledger.db"},
    })
    rc, out, err = run("run", "job.yaml", cwd=tmp_path)
    assert_not_crashed(rc, err)
    assert rc == EXIT_OK, err
    parts = read_parts(tmp_path / "out", "parquet")
    rows = [r for p in sorted(parts) for r in parts[p]]
    assert [(r["id"], r["name"]) for r in rows] == list(enumerate(expected)), rows
