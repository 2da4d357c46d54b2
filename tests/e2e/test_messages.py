"""One rule per situation, the same for every input format, with exit codes and
messages that say what is wrong: repeated feature columns, output names that
differ only in case, empty input files, values out of a dtype's range, keys
given without a value, mistyped commands, and DuckDB kept offline and out of
$HOME."""
import re

import numpy as np
import pytest

from conftest import (EXIT_CANNOT_START, EXIT_OK, Mlp, part_files, read_dead_letters, read_parts,
                      run, single_key, sql)

FORMATS = ["parquet", "csv", "jsonl"]


def predictions(outdir, fmt, out_cols):
    """{key: [outputs]} of every part file of outdir."""
    got = {}
    for rows in read_parts(outdir, fmt).values():
        for r in rows:
            got[int(r["id"])] = [float(r[c]) for c in out_cols]
    return got


# -- 1. a column listed twice in model.inputs[].columns ----------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_feature_column_listed_twice_works_for_every_format(case_factory, fmt):
    """f0 fed twice (positions 0 and 4): every format runs it, with the
    predictions of the model on exactly those columns."""
    case = case_factory(n=120, seed=61)
    job = case.job(case.make_input(fmt), shard_rows=50)
    cols = ["f0", "f1", "f2", "f3", "f0"]
    job["model"]["inputs"][0]["columns"] = cols
    path = case.write_job(job)
    rc, out, err = run("validate", path)
    assert rc == EXIT_OK, err
    rc, _, err = run("run", path)
    assert rc == EXIT_OK, err
    want = case.model.predict(case.x[:, [0, 1, 2, 3, 0]])
    got = predictions(case.root / "out", "parquet", case.out_cols)
    assert sorted(got) == sorted(int(k) for k in case.ids)
    for i, k in enumerate(case.ids):
        np.testing.assert_allclose(got[int(k)], want[i], atol=1e-5)


# -- 2. output names that differ only in case ------------------------------

@pytest.mark.parametrize("mutate, names", [
    (lambda j: j["model"]["outputs"][0].update(columns=["p0", "ID", "p2"]),
     ["'id' (output.keep)", "'ID' (model.outputs[0].columns)"]),
    (lambda j: j["model"]["outputs"][0].update(columns=["p0", "P0", "p2"]),
     ["'p0' (model.outputs[0].columns)", "'P0' (model.outputs[0].columns)"]),
], ids=["keep_vs_output", "output_vs_output"])
def test_output_names_differing_only_in_case_are_refused(case_factory, mutate, names):
    case = case_factory(n=40, seed=62)
    job = case.job(case.make_input("parquet"))
    mutate(job)
    path = case.write_job(job)
    for cmd in ("validate", "run"):
        rc, _, err = run(cmd, path)
        assert rc == EXIT_CANNOT_START, (cmd, rc, err)
        assert "differ only in case" in err, err
        for n in names:
            assert n in err, (n, err)
    assert not part_files(case.root / "out")


# -- 3. empty input files ----------------------------------------------------

@pytest.mark.parametrize("ext", ["csv", "jsonl"])
def test_zero_byte_text_file_says_it_is_empty(case_factory, ext):
    case = case_factory(n=10, seed=63)
    (case.data_dir / f"empty.{ext}").write_bytes(b"")
    path = case.write_job(case.job(f"data/empty.{ext}"))
    for cmd in ("validate", "run"):
        rc, _, err = run(cmd, path)
        assert rc == EXIT_CANNOT_START, (cmd, err)
        assert f"empty.{ext}' is empty (0 bytes)" in err, err
        assert "column0" not in err, err


@pytest.mark.parametrize("layout", ["file", "dir"])
def test_zero_byte_parquet_is_refused_as_not_parquet(case_factory, layout):
    case = case_factory(n=30, seed=64)
    input_path = case.make_input("parquet", layout=layout)
    target = case.root / input_path / "zz-empty.parquet" if layout == "dir" else case.data_dir / "input.parquet"
    target.write_bytes(b"")
    path = case.write_job(case.job(input_path))
    rc, _, err = run("run", path)
    assert rc == EXIT_CANNOT_START, err
    assert re.search(r"'[^']*(zz-empty|input)\.parquet' is empty \(0 bytes\): not a Parquet file", err), err


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_zero_byte_file_in_a_folder_is_skipped_with_a_note(case_factory, fmt):
    case = case_factory(n=90, seed=65)
    input_path = case.make_input(fmt, layout="dir")
    (case.root / input_path / f"chunk-00a.{fmt}").write_bytes(b"")
    path = case.write_job(case.job(input_path, shard_rows=40))
    rc, _, err = run("run", path)
    assert rc == EXIT_OK, err
    assert f"skipping empty input file" in err and f"chunk-00a.{fmt}" in err, err
    got = predictions(case.root / "out", "parquet", case.out_cols)
    assert sorted(got) == sorted(int(k) for k in case.ids)


def test_header_only_csv_is_still_an_empty_run(case_factory):
    case = case_factory(n=5, seed=66)
    case.write_csv(case.data_dir / "header.csv", [])
    path = case.write_job(case.job("data/header.csv"))
    rc, _, err = run("run", path)
    assert rc == EXIT_OK, err


# -- 4. values out of the input dtype's range -------------------------------

def write_with_values(case, fmt, cells):
    """The case's input as `fmt`, with cells {(row, column): text} replaced; numbers
    are DOUBLE in Parquet and JSONL."""
    src = case.write_csv(case.data_dir / "src.csv", range(case.n))
    lines = src.read_text().splitlines()
    header = lines[0].split(",")
    import csv as _csv
    rows = list(_csv.reader(lines))
    for (r, col), text in cells.items():
        rows[r + 1][header.index(col)] = text
    with open(src, "w", newline="") as f:
        _csv.writer(f, lineterminator="\n").writerows(rows)
    if fmt == "csv":
        return "data/src.csv"
    dst = case.data_dir / f"input.{fmt}"
    options = "FORMAT parquet" if fmt == "parquet" else "FORMAT json"
    sql(f"COPY (SELECT * FROM read_csv('{src}', header=true, types={case._csv_types()})) TO '{dst}' ({options})")
    src.unlink()
    return f"data/input.{fmt}"


@pytest.mark.parametrize("allow_nan", [True, False])
@pytest.mark.parametrize("fmt", FORMATS)
def test_value_beyond_float32_is_a_dead_letter_from_every_format(case_factory, fmt, allow_nan):
    """1e39 does not fit float32: a dead letter naming the column and the value,
    whatever the format and allow_nan. An explicit inf is Inf: allow_nan decides."""
    case = case_factory(n=60, seed=67)
    input_path = write_with_values(case, fmt, {(5, "f2"): "1e39", (9, "f1"): "-1e39", (12, "f3"): "inf"})
    job = case.job(input_path, shard_rows=30, errors={"max_failed_items": -1})
    job["model"]["inputs"][0]["allow_nan"] = allow_nan
    rc, _, err = run("run", case.write_job(job))
    assert rc == EXIT_OK, err
    letters = {single_key(d["key"], "id"): d["error"] for _, d in read_dead_letters(case.root / "out" / "_failed")}
    k5, k9, k12 = (int(case.ids[i]) for i in (5, 9, 12))
    assert letters.get(k5) == "value 1e+39 in column 'f2' is out of range for float32", letters
    assert letters.get(k9) == "value -1e+39 in column 'f1' is out of range for float32", letters
    if allow_nan:
        assert k12 not in letters, letters
        assert len(letters) == 2, letters
    else:
        assert letters.get(k12) == "NaN or Inf in column 'f3' (allow_nan is false)", letters
        assert len(letters) == 3, letters
    got = predictions(case.root / "out", "parquet", case.out_cols)
    assert k5 not in got and k9 not in got and (k12 in got) == allow_nan


# -- 5. keys given without a value ------------------------------------------

@pytest.mark.parametrize("section, key", [("batch", "size"), ("run", "shard_rows"),
                                          ("errors", "max_failed_items"), ("output", "format")])
def test_key_without_value_is_refused_naming_key_and_line(case_factory, section, key):
    case = case_factory(n=10, seed=68)
    job = case.job(case.make_input("parquet"))
    job.setdefault(section, {})[key] = None
    path = case.write_job(job)
    line = next(i + 1 for i, text in enumerate(path.read_text().splitlines()) if text.strip() == f"{key}: null")
    for cmd in ("validate", "run"):
        rc, _, err = run(cmd, path)
        assert rc == EXIT_CANNOT_START, (cmd, err)
        assert f"job.yaml:{line}:3: {section}.{key}: no value given" in err, err
    assert not part_files(case.root / "out")


def test_null_sha256_means_no_pin(case_factory):
    case = case_factory(n=10, seed=69)
    job = case.job(case.make_input("parquet"))
    job["model"]["sha256"] = None
    rc, _, err = run("run", case.write_job(job))
    assert rc == EXIT_OK, err


# -- 6. mistyped commands ----------------------------------------------------

def test_mistyped_command_suggests_the_closest(tmp_path):
    rc, out, err = run("runn", "job.yaml", cwd=tmp_path)
    assert rc == EXIT_CANNOT_START, err
    assert "unknown command 'runn'; did you mean 'run'?" in err, err
    rc, _, err = run("valdate", "job.yaml", cwd=tmp_path)
    assert rc == EXIT_CANNOT_START and "did you mean 'validate'?" in err, err
    rc, _, err = run("frobnicate", cwd=tmp_path)
    assert rc == EXIT_CANNOT_START, err
    assert "unknown command 'frobnicate' (commands: run, retry, status, validate, sql, schedule, report)" in err, err


# -- 7. DuckDB offline and out of $HOME --------------------------------------

def test_duckdb_writes_nothing_under_home_and_stays_offline(case_factory, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"), "XDG_CONFIG_HOME": str(home / ".config")}
    for stmt in ("INSTALL httpfs", "LOAD httpfs", "INSTALL postgres_scanner",
                 "CREATE PERSISTENT SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')"):
        rc, _, err = run("sql", stmt, env=env, timeout=60)
        assert rc != EXIT_OK, (stmt, err)
        assert "not available" in err and "offline" in err, (stmt, err)
    # Built-in extensions still work.
    case = case_factory(n=20, seed=70)
    p = case.data_dir / "x.parquet"
    rc, out, err = run("sql", f"COPY (SELECT 42 AS a) TO '{p}' (FORMAT parquet)", env=env)
    assert rc == EXIT_OK, err
    rc, out, err = run("sql", f"SELECT a FROM read_parquet('{p}')", env=env)
    assert rc == EXIT_OK and out == "a\n42\n", (out, err)
    job = case.write_job(case.job(case.make_input("jsonl")))
    rc, _, err = run("run", job, env=env)
    assert rc == EXIT_OK, err
    assert not any(home.rglob("*")), f"nightshift wrote under $HOME: {sorted(home.rglob('*'))}"
