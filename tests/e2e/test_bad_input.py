"""Bad jobs, inputs and models: exit 2 with a message naming the problem, never a crash.
Bad rows: dead letters within errors.max_failed_items, exit 1 beyond it."""
import json
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import (EXIT_CANNOT_START, EXIT_FAILED, EXIT_OK, assert_not_crashed, check_output,
                      part_files, read_dead_letters, run, single_key, sql, status_json)


def setp(*path_and_value):
    """A mutation setting job[path...] = value."""
    *path, value = path_and_value

    def mutate(job, case):
        d = job
        for k in path[:-1]:
            d = d[k]
        d[path[-1]] = value
    return mutate


def set_input_columns(cols):
    def mutate(job, case):
        job["model"]["inputs"][0]["columns"] = cols
    return mutate


def garbage_model(job, case):
    rng = np.random.default_rng(5)
    (case.root / "garbage.onnx").write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    job["model"]["path"] = "garbage.onnx"


def truncated_model(job, case):
    data = case.model.path.read_bytes()
    (case.root / "trunc.onnx").write_bytes(data[: len(data) // 2])
    job["model"]["path"] = "trunc.onnx"


def empty_model(job, case):
    (case.root / "empty.onnx").write_bytes(b"")
    job["model"]["path"] = "empty.onnx"


def unknown_extension(job, case):
    (case.data_dir / "input.xyz").write_text("id,name\n1,a\n")
    job["input"]["path"] = "data/input.xyz"


def output_under_file(job, case):
    (case.root / "afile").write_text("a regular file\n")
    job["output"]["path"] = "afile/out"


def garbage_parquet(job, case):
    (case.data_dir / "broken.parquet").write_bytes(b"PAR1" + bytes(range(256)) * 4)
    job["input"]["path"] = "data/broken.parquet"


def schema_drift(job, case):
    src = case.data_dir / "input.parquet"
    sql(f"COPY (SELECT * FROM read_parquet('{src}')) TO '{case.data_dir / 'g-0.parquet'}' (FORMAT parquet)")
    sql(f"COPY (SELECT id, name, f0, f1, f3, f4 FROM read_parquet('{src}')) "
        f"TO '{case.data_dir / 'g-1.parquet'}' (FORMAT parquet)")
    job["input"]["path"] = "data/g-*.parquet"


def typo_key(job, case):
    job["input"]["formt"] = "parquet"


def typo_key_nested(job, case):
    job["run"]["shard_row"] = 100


def dup_output_columns(job, case):
    job["model"]["outputs"][0]["columns"] = ["p0", "p0", "p2"]


def keep_and_output_clash(job, case):
    job["output"]["keep"] = ["id", "name", "f3"]
    job["model"]["outputs"][0]["columns"] = ["p0", "f3", "p2"]


def width_too_many_outputs(job, case):
    job["model"]["outputs"][0]["columns"] = ["p0", "p1", "p2", "p3"]


# (id, mutation, extra args, substrings expected in stderr, `validate` must reject it too)
CASES = [
    ("missing_input_file", setp("input", "path", "data/no_such_input.parquet"), (), ["no_such_input.parquet"], True),
    ("glob_matches_nothing", setp("input", "path", "data/zzz-*.parquet"), (), ["zzz-*.parquet"], True),
    ("unknown_format_extension", unknown_extension, (), ["input.xyz", "format"], True),
    ("input_not_parquet", garbage_parquet, (), ["broken.parquet"], True),
    ("schema_drift_between_files", schema_drift, (), ["g-1.parquet", "f2"], True),
    ("typo_key", typo_key, (), ["formt", "format"], True),
    ("typo_key_suggests", typo_key_nested, (), ["shard_row", "shard_rows"], True),
    ("missing_feature_column", set_input_columns(["f0", "f1", "f2", "f3", "no_such_col"]), (),
     ["no_such_col"], True),
    ("string_column_as_feature", set_input_columns(["f0", "f1", "name", "f3", "f4"]), (), ["name", "features"], True),
    ("model_file_missing", setp("model", "path", "models/no_such_model.onnx"), (), ["no_such_model.onnx"], True),
    ("model_not_onnx", garbage_model, (), ["garbage.onnx"], True),
    ("model_truncated", truncated_model, (), ["trunc.onnx"], True),
    ("model_empty_file", empty_model, (), ["empty.onnx"], True),
    ("model_input_name_unknown", setp("model", "inputs", 0, "name", "featurez"), (), ["featurez"], True),
    ("columns_do_not_fit_width", set_input_columns(["f0", "f1", "f2", "f3"]), (), ["features", r"\b5\b", r"\b4\b"],
     True),
    ("output_columns_do_not_fit_width", width_too_many_outputs, (), ["probabilities", r"\b3\b", r"\b4\b"], True),
    ("output_path_under_regular_file", output_under_file, (), ["afile"], False),
    ("set_bad_value", None, ("--set", "batch.size=abc"), ["batch.size", "abc"], True),
    ("set_unknown_key", None, ("--set", "batch.sise=8"), ["batch.sise", "batch.size"], True),
    ("set_without_equals", None, ("--set", "batch.size"), ["batch.size"], False),
    ("unknown_output_name", setp("model", "outputs", 0, "name", "probz"), (), ["probz"], True),
    ("duplicate_output_columns", dup_output_columns, (), ["p0"], True),
    ("keep_column_clashes_with_output", keep_and_output_clash, (), ["f3"], True),
    ("keep_column_missing", setp("output", "keep", ["id", "no_such_keep"]), (), ["no_such_keep"], True),
    ("key_column_missing", setp("input", "key", "no_such_key"), (), ["no_such_key"], True),
    ("bad_dtype", setp("model", "inputs", 0, "dtype", "float33"), (), ["float33"], True),
    ("bad_output_format", setp("output", "format", "xlsx"), (), ["xlsx", "output.format"], True),
    ("bad_job_name", setp("name", "has space"), (), ["has space"], True),
    ("unset_env_variable", setp("output", "path", "out/${NIGHTSHIFT_E2E_SURELY_UNSET}"), (),
     ["NIGHTSHIFT_E2E_SURELY_UNSET"], True),
    ("sha256_pin_mismatch", setp("model", "sha256", "0" * 64), (), ["model.onnx", "sha256"], True),
]


@pytest.fixture
def small_case(case_factory):
    case = case_factory(n=60, seed=31)
    case.input_path = case.make_input("parquet")
    return case


def assert_message(err, needles):
    for n in needles:
        if n.startswith("\\b"):
            assert re.search(n, err), f"message does not name {n!r}:\n{err}"
        else:
            assert n in err, f"message does not name {n!r}:\n{err}"


@pytest.mark.parametrize("name,mutate,args,needles,validate", CASES, ids=[c[0] for c in CASES])
def test_cannot_start(small_case, name, mutate, args, needles, validate):
    case = small_case
    job = case.job(case.input_path, shard_rows=20)
    if mutate is not None:
        mutate(job, case)
    job_path = case.write_job(job, name=f"{name}.yaml")
    rc, out, err = run("run", job_path, *args)
    assert_not_crashed(rc, err)
    assert rc == EXIT_CANNOT_START, f"run exited {rc}, want 2\nstdout:\n{out}\nstderr:\n{err}"
    assert_message(err, needles)
    assert len(err.strip().splitlines()) <= 10, f"an error, not a dump:\n{err}"
    out_dir = case.root / "out"
    assert not (out_dir.exists() and part_files(out_dir)), "a job that could not start wrote output"
    if validate:
        rc, out, err = run("validate", job_path, *args)
        assert_not_crashed(rc, err)
        assert rc == EXIT_CANNOT_START, f"validate exited {rc}, want 2\nstdout:\n{out}\nstderr:\n{err}"
        assert_message(err, needles)


def test_job_file_not_yaml(small_case):
    p = small_case.root / "broken_job.yaml"
    p.write_text("name: [unclosed\ninput: {path: data\n  ::: - x\n")
    for cmd in ("run", "validate", "status"):
        rc, out, err = run(cmd, p)
        assert_not_crashed(rc, err)
        assert rc == EXIT_CANNOT_START, (cmd, rc, err)
        assert "broken_job.yaml" in err, err


def test_job_file_is_yaml_but_not_a_mapping(small_case):
    p = small_case.root / "list_job.yaml"
    p.write_text("- just\n- a list\n")
    rc, out, err = run("run", p)
    assert_not_crashed(rc, err)
    assert rc == EXIT_CANNOT_START, (rc, err)
    assert "list_job.yaml" in err, err


def test_job_file_missing(tmp_path):
    rc, out, err = run("run", tmp_path / "no_such_job.yaml")
    assert_not_crashed(rc, err)
    assert rc == EXIT_CANNOT_START, (rc, err)
    assert "no_such_job.yaml" in err, err


def test_unknown_flag_and_subcommand(small_case):
    job = small_case.write_job(small_case.job(small_case.input_path))
    rc, out, err = run("run", job, "--no-such-flag")
    assert_not_crashed(rc, err)
    assert rc == EXIT_CANNOT_START and "no-such-flag" in err, (rc, err)
    rc, out, err = run("frobnicate", job)
    assert_not_crashed(rc, err)
    assert rc == EXIT_CANNOT_START, (rc, err)


def test_validate_accepts_good_job(small_case):
    job = small_case.write_job(small_case.job(small_case.input_path))
    rc, out, err = run("validate", job)
    assert rc == EXIT_OK, err
    assert not (small_case.root / "out").exists(), "validate must not run the job"


# --------------------------------------------------------------------------
# Bad rows
# --------------------------------------------------------------------------

NULLS = [(7, "f2"), (123, "f0"), (124, "f4"), (250, "f1")]


@pytest.mark.parametrize("in_fmt", ["parquet", "csv"])
def test_null_feature_becomes_dead_letter(case_factory, in_fmt):
    case = case_factory(n=300, seed=32, null_at=NULLS)
    job = case.job(case.make_input(in_fmt), shard_rows=100, out_format="jsonl")
    job["errors"] = {"max_failed_items": -1}
    job_path = case.write_job(job)
    rc, out, err = run("run", job_path)
    assert_not_crashed(rc, err)
    assert rc == EXIT_OK, f"exit {rc}\n{err}"
    bad = sorted({r for r, _ in NULLS})
    good = [i for i in range(case.n) if i not in bad]
    outdir = case.root / "out"
    check_output(case, outdir, "jsonl", good, job=job_path, expect_failed=len(bad))
    letters = read_dead_letters(outdir / "_failed")
    assert len(letters) == len(bad), letters
    cols = dict(NULLS)
    for fname, d in letters:
        for field in ("key", "shard", "error", "attempts"):
            assert field in d, f"dead letter without {field!r}: {d}"
        k = single_key(d["key"], "id")
        assert k in case.pos, d
        i = case.pos[k]
        assert i in bad, f"dead letter for a good row {i}: {d}"
        assert fname == f"part-{d['shard']:06d}.jsonl" or fname == f"part-{d['shard']}.jsonl", (fname, d)
        if "row" in d:
            assert d["row"] == i, f"row {d['row']} for input row {i}"
        assert isinstance(d["error"], str) and cols[i] in d["error"], f"error should name column {cols[i]}: {d}"
        assert isinstance(d["attempts"], int) and d["attempts"] >= 1, d
    st = status_json(job_path)
    assert st["counts"] == {"total": 300, "succeeded": 296, "failed": 4}, st


@pytest.mark.parametrize("in_fmt", ["jsonl", "csv"])
def test_a_bad_value_beyond_the_type_sample_is_a_dead_letter(case_factory, in_fmt):
    # DuckDB infers a JSONL or CSV column's type from the first 20,480 rows: a
    # value that is not a number after them must be that row's dead letter,
    # not a failed run (and the rows around it must come out right).
    case = case_factory(n=30000, seed=34)
    rel = case.make_input(in_fmt)
    path = case.root / rel
    lines = path.read_text().splitlines()
    bad = {25000: "f1", 29990: "f3"}
    head = 1 if in_fmt == "csv" else 0
    for i, col in bad.items():
        if in_fmt == "jsonl":
            row = json.loads(lines[i])
            row[col] = "abc" if col == "f1" else {"x": 1}
            lines[i] = json.dumps(row)
        else:
            cells = lines[i + head].split(",")
            cells[case.feature_cols.index(col) + (len(cells) - len(case.feature_cols))] = "abc"
            lines[i + head] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    job = case.job(rel, shard_rows=5000, out_format="parquet")
    job["errors"] = {"max_failed_items": 10}
    job_path = case.write_job(job)
    rc, out, err = run("run", job_path)
    assert_not_crashed(rc, err)
    assert rc == EXIT_OK, f"exit {rc}\n{err}"
    good = [i for i in range(case.n) if i not in bad]
    check_output(case, case.root / "out", "parquet", good, job=job_path, expect_failed=2)
    letters = sorted((d["row"], d["error"]) for _, d in read_dead_letters(case.root / "out" / "_failed"))
    assert [r for r, _ in letters] == sorted(bad), letters
    for (r, e) in letters:
        assert f"'{bad[r]}'" in e, letters


def test_nan_feature_becomes_dead_letter(case_factory):
    """With allow_nan: false, NaN/Inf feature values are dead-lettered."""
    case = case_factory(n=120, seed=33)
    case.x[5, 1] = np.nan
    case.x[77, 3] = np.inf
    job = case.job(case.make_input("csv"), shard_rows=50, out_format="parquet")
    job["model"]["inputs"][0]["allow_nan"] = False  # (default true: NaN goes to the model)
    job["errors"] = {"max_failed_items": 10}
    job_path = case.write_job(job)
    rc, out, err = run("run", job_path)
    assert_not_crashed(rc, err)
    assert rc == EXIT_OK, f"exit {rc}\n{err}"
    good = [i for i in range(case.n) if i not in (5, 77)]
    check_output(case, case.root / "out", "parquet", good, job=job_path, expect_failed=2)
    letters = read_dead_letters(case.root / "out" / "_failed")
    assert sorted(case.pos[single_key(d["key"], "id")] for _, d in letters) == [5, 77], letters


def test_null_feature_fails_run_with_default_limit(case_factory):
    case = case_factory(n=300, seed=34, null_at=NULLS[:1])
    job_path = case.write_job(case.job(case.make_input("parquet"), shard_rows=100))
    rc, out, err = run("run", job_path, "--json")
    assert_not_crashed(rc, err)
    assert rc == EXIT_FAILED, f"exit {rc}, want 1\n{err}"
    assert "max_failed_items" in err, err
    st = status_json(job_path)
    assert st["state"] == "failed", st
    assert not (case.root / "out" / "_SUCCESS").exists()
    assert json.loads(out)["state"] == "failed"


@pytest.mark.parametrize("limit,expect_rc", [("2%", EXIT_OK), ("1%", EXIT_FAILED)])
def test_percentage_failure_limit(case_factory, limit, expect_rc):
    """4 bad rows of 300: within 2% (6 rows), beyond 1% (3 rows)."""
    case = case_factory(n=300, seed=35, null_at=NULLS)
    job = case.job(case.make_input("parquet"), shard_rows=100)
    job["errors"] = {"max_failed_items": limit}
    job_path = case.write_job(job)
    rc, out, err = run("run", job_path)
    assert_not_crashed(rc, err)
    assert rc == expect_rc, f"exit {rc}, want {expect_rc}\n{err}"
    st = status_json(job_path)
    assert st["state"] == ("completed" if expect_rc == EXIT_OK else "failed"), st
