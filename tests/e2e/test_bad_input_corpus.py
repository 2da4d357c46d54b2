"""The bad-input corpus: one case per class of broken input, job, model, flag or output.

Every case must end in one of two ways, never in a crash (negative exit code,
134/136/137/139), a hang (60 s per command) or silent row loss:
  - exit 2 (1 where the damage only shows while running) with a bounded
    message naming the file / column / key / flag at fault, or
  - exit 0 with dead letters carrying the bad rows' keys and a readable
    reason, every other row scored (checked against the numpy reference), and
    output rows + dead letters == input rows.

Every command also fails on a sanitizer report in its output
(`ERROR: AddressSanitizer`, `runtime error:`), so the corpus doubles as the
ASan+UBSan check:
    NIGHTSHIFT_BIN=build-asan/tools/nightshift/nightshift ASAN_OPTIONS=detect_leaks=0 \\
        /usr/bin/python3 -m pytest -q tests/e2e/test_bad_input_corpus.py
(ASAN_OPTIONS defaults to detect_leaks=0 here: ONNX Runtime leaks a little per Env by design.)

Classes (some re-cover test_bad_input.py on purpose, so this file is the full list):
  Parquet: truncated file; footer overwritten; footer metadata garbage (trailer intact);
           a data page header garbage (footer intact; key column, feature column)
  empty file: .parquet, .csv, .jsonl
  CSV: ragged rows (inside / beyond the type sniffer's sample); unterminated quote (same);
       invalid UTF-8 (same); text in a numeric feature column (-> dead letter; early / late);
       text in the key column beyond the sniffer's sample
  JSONL: a broken line; a single 100 MB line
  types: a text column fed as a feature (parquet, csv, jsonl); a struct column as a feature
  empty data: a Parquet file with no rows; a CSV with only a header
  layout: schema drift between files of one glob (parquet, csv); a glob matching nothing;
          a directory with no data files
  keys: duplicate keys (both rows scored and written); NULL keys (not lost); a missing key
        column (single, composite)
  model: input width mismatch; fixed batch dimension; truncated file; unknown input name
  job file: not YAML; unknown keys (with a suggestion)
  flags: --set batch.size=abc, errors.max_failed_items=lots / 120%, an unknown key;
         --run-id that escapes the output folder; status --run-id of a run that does not exist
  output: a path under a regular file; a path in /proc (new dir, under a /proc file)
  rows: NaN/Inf with allow_nan: false (-> dead letters); a value beyond float32's range
        (-> dead letter); a list column of the wrong length, a NULL list / element (-> dead letters)
"""
import json
import os
import re
import struct
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest

import conftest
from conftest import (EXIT_CANNOT_START, EXIT_FAILED, EXIT_OK, Case, Mlp, TOL, check_output, part_files,
                      read_dead_letters, read_parts, read_success, single_key, sql, write_job)

TIMEOUT = 60
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer",
                     "ERROR: UndefinedBehaviorSanitizer", "SUMMARY: UndefinedBehaviorSanitizer")
MAX_MESSAGE = 64 * 1024  # an error message, not a dump of the input
N = 300                  # rows of the shared base case


# --------------------------------------------------------------------------
# Running: no crash, no hang, no sanitizer report
# --------------------------------------------------------------------------

def ns(*args, timeout=TIMEOUT, cwd=None):
    """Runs nightshift; fails on a hang, a crash or a sanitizer finding. Returns (rc, out, err).

    Output is decoded leniently: a message may echo the bad input's bytes."""
    env = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "detect_leaks=0"),
           "UBSAN_OPTIONS": os.environ.get("UBSAN_OPTIONS", "print_stacktrace=1")}
    argv = [str(conftest.BIN), *map(str, args)]
    try:
        p = conftest._retry_exec(lambda: subprocess.run(argv, cwd=cwd, env=conftest._env(env), capture_output=True,
                                                        timeout=timeout))
    except subprocess.TimeoutExpired as e:
        tail = (e.stderr or b"")[-2000:]
        pytest.fail(f"hang: `nightshift {' '.join(map(str, args))}` did not finish within {timeout} s\n{tail!r}")
    rc = p.returncode
    out = p.stdout.decode("utf-8", errors="replace")
    err = p.stderr.decode("utf-8", errors="replace")
    for marker in SANITIZER_MARKERS:
        assert marker not in err and marker not in out, (
            f"sanitizer finding ({marker!r}) in `nightshift {' '.join(map(str, args))}`:\n{err[-6000:]}")
    assert rc >= 0, f"nightshift died from signal {-rc}; stderr:\n{err[-4000:]}"
    assert rc not in (134, 136, 137, 139), f"nightshift exited with crash-like code {rc}; stderr:\n{err[-4000:]}"
    return rc, out, err


def assert_names(err, needles):
    for n in needles:
        if isinstance(n, re.Pattern):
            assert n.search(err), f"message does not match {n.pattern!r}:\n{err[-3000:]}"
        else:
            assert str(n) in err, f"message does not name {n!r}:\n{err[-3000:]}"


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """300 rows as Parquet, CSV and JSONL, and a 5-in/3-out MLP, shared by the module."""
    case = Case(tmp_path_factory.mktemp("corpus-base"), n=N, seed=41)
    case.inputs = {fmt: case.root / case.make_input(fmt) for fmt in ("parquet", "csv", "jsonl")}
    return case


class W:
    """A test's folder: jobs over the base case's model with absolute paths."""

    def __init__(self, base, root):
        self.base = base
        self.root = Path(root)
        self.data = self.root / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.out = self.root / "out"

    def job(self, input_path, shard_rows=100, out_format="parquet", **kw):
        job = self.base.job(str(input_path), out_format=out_format, shard_rows=shard_rows, **kw)
        job["model"]["path"] = str(self.base.model.path)
        return job

    def write(self, job, name="job.yaml"):
        return write_job(self.root / name, job)


@pytest.fixture
def w(base, tmp_path):
    return W(base, tmp_path)


# --------------------------------------------------------------------------
# Outcomes
# --------------------------------------------------------------------------

def expect_cannot_start(job_path, needles, *args, validate=True, cmd="run"):
    """Exit 2 with a bounded message naming needles; nothing written; `validate` agrees."""
    rc, out, err = ns(cmd, job_path, *args)
    assert rc == EXIT_CANNOT_START, f"{cmd} exited {rc}, want 2\nstdout:\n{out[-2000:]}\nstderr:\n{err[-3000:]}"
    assert_names(err, needles)
    assert len(err) < MAX_MESSAGE, f"a {len(err)}-byte message: an error, not a dump"
    out_dir = Path(job_path).parent / "out"
    assert not part_files(out_dir), f"a job that could not start wrote output: {part_files(out_dir)}"
    if validate:
        rc, out, err = ns("validate", job_path, *args)
        assert rc == EXIT_CANNOT_START, f"validate exited {rc}, want 2\nstdout:\n{out[-2000:]}\nstderr:\n{err[-3000:]}"
        assert_names(err, needles)
    return err


def expect_start_or_run_failure(job_path, needles):
    """Exit 2, or exit 1 with the run marked failed and nothing claimed beyond what is on disk."""
    rc, out, err = ns("run", job_path)
    assert rc in (EXIT_CANNOT_START, EXIT_FAILED), f"exit {rc}, want 2 or 1\nstdout:\n{out}\nstderr:\n{err[-3000:]}"
    assert_names(err, needles)
    assert len(err) < MAX_MESSAGE, f"a {len(err)}-byte message: an error, not a dump"
    out_dir = Path(job_path).parent / "out"
    assert not (out_dir / "_SUCCESS").exists(), "a failed run wrote _SUCCESS"
    if rc == EXIT_FAILED:
        rc2, sout, serr = ns("status", job_path, "--json")
        assert rc2 == EXIT_OK, serr
        st = json.loads(sout)
        assert st["state"] == "failed", st
        assert st.get("message"), f"a failed run whose status does not say why: {st}"
        files = part_files(out_dir)
        rows = sum(len(r) for r in read_parts(out_dir, "parquet").values()) if files else 0
        assert st["counts"]["succeeded"] == rows, ("ledger vs disk", st, rows)
    return rc, err


def dead_letters(out_dir):
    """The run's dead letters, each checked to carry its key, shard, a readable error and attempts."""
    letters = []
    for name, d in read_dead_letters(Path(out_dir) / "_failed"):
        for field in ("key", "shard", "error", "attempts"):
            assert field in d, f"{name}: dead letter without {field!r}: {d}"
        assert isinstance(d["error"], str) and d["error"].strip(), d
        letters.append(d)
    return letters



def expect_dead_letters(job_path, n_input, bad, key_col="id"):
    """Exit 0; the dead letters are exactly `bad` ({key: reason substring}); no row lost.

    Returns (output rows in part-file order, dead letters)."""
    rc, out, err = ns("run", job_path)
    assert rc == EXIT_OK, f"exit {rc}\nstdout:\n{out}\nstderr:\n{err[-3000:]}"
    out_dir = Path(job_path).parent / "out"
    fmt = "parquet"
    by_file = read_parts(out_dir, fmt)
    rows = [r for name in sorted(by_file) for r in by_file[name]]
    letters = dead_letters(out_dir)
    assert len(rows) + len(letters) == n_input, (
        f"silent row loss: {len(rows)} output rows + {len(letters)} dead letters != {n_input} input rows")
    got = {}
    for d in letters:
        k = single_key(d["key"])
        assert k not in got, f"key {k} dead-lettered twice"
        got[k] = d
    assert set(got) == set(bad), f"dead-lettered keys {sorted(got)}, want {sorted(bad)}"
    for k, reason in bad.items():
        assert reason in got[k]["error"], f"key {k}: reason {got[k]['error']!r} should mention {reason!r}"
    out_keys = {r[key_col] for r in rows}
    assert not (out_keys & set(bad)), f"dead-lettered keys also in the output: {sorted(out_keys & set(bad))[:5]}"
    succ = read_success(out_dir)
    assert succ["counts"] == {"total": n_input, "succeeded": len(rows), "failed": len(letters)}, succ["counts"]
    rc, sout, serr = ns("status", job_path, "--failed", "--json", "--limit", "0")
    assert rc == EXIT_OK, serr
    listed = {single_key(it["key"]): it["error"] for it in json.loads(sout)["failed_items"]}
    assert listed.keys() == got.keys(), ("status --failed vs dead letter files", sorted(listed), sorted(got))
    return rows, letters


# --------------------------------------------------------------------------
# Parquet damage
# --------------------------------------------------------------------------

def test_parquet_truncated(w, base):
    """A valid Parquet file cut in half."""
    data = base.inputs["parquet"].read_bytes()
    p = w.data / "half.parquet"
    p.write_bytes(data[: len(data) // 2])
    expect_cannot_start(w.write(w.job(p)), ["half.parquet"])


def test_parquet_footer_overwritten(w, base):
    """The last 100 bytes (footer metadata, its length and the magic) overwritten."""
    data = bytearray(base.inputs["parquet"].read_bytes())
    data[-100:] = np.random.default_rng(1).integers(0, 256, 100, dtype=np.uint8).tobytes()
    p = w.data / "footer.parquet"
    p.write_bytes(bytes(data))
    expect_cannot_start(w.write(w.job(p)), ["footer.parquet"])


def test_parquet_footer_metadata_garbage(w, base):
    """The footer metadata is garbage but its length and the PAR1 magic are intact."""
    data = bytearray(base.inputs["parquet"].read_bytes())
    (flen,) = struct.unpack("<I", bytes(data[-8:-4]))
    data[-8 - flen:-8] = np.random.default_rng(2).integers(0, 256, flen, dtype=np.uint8).tobytes()
    p = w.data / "meta.parquet"
    p.write_bytes(bytes(data))
    expect_cannot_start(w.write(w.job(p)), ["meta.parquet"])


def _data_page_offset(path, column):
    out = sql(f"SELECT data_page_offset FROM parquet_metadata('{path}') WHERE path_in_schema = '{column}' "
              f"AND row_group_id = 0")
    return int(out.strip().splitlines()[1])


@pytest.mark.parametrize("column", ["id", "f2"])
def test_parquet_data_page_header_garbage(w, base, column):
    """A valid footer over a garbage data page header (of the key column, of a feature):
    found while reading, so exit 1 (or 2), naming the file.

    (Garbage inside a page's values is undetectable: DuckDB writes no page CRCs.)"""
    data = bytearray(base.inputs["parquet"].read_bytes())
    off = _data_page_offset(base.inputs["parquet"], column)
    data[off:off + 48] = np.random.default_rng(3).integers(0, 256, 48, dtype=np.uint8).tobytes()
    p = w.data / "pages.parquet"
    p.write_bytes(bytes(data))
    expect_start_or_run_failure(w.write(w.job(p)), ["pages.parquet"])


@pytest.mark.parametrize("ext", ["parquet", "csv", "jsonl"])
def test_empty_file(w, ext):
    p = w.data / f"empty.{ext}"
    p.write_bytes(b"")
    expect_cannot_start(w.write(w.job(p)), [f"empty.{ext}"])


# --------------------------------------------------------------------------
# CSV damage
# --------------------------------------------------------------------------

CSV_PARSE_PROBLEM = re.compile(r"(?i)(line:?\s*\d+|number of columns|ragged|quote|pars(e|ing)|sniff|dialect|utf-?8)")


def assert_parse_problem(err, path):
    """The message says what is wrong with the CSV (paths removed: a file named quote.csv
    does not count as mentioning a quote)."""
    msg = err.replace(str(path.parent), "<dir>").replace(path.name, "<file>")
    assert CSV_PARSE_PROBLEM.search(msg), f"the message should describe the parse problem:\n{err[-3000:]}"


def _csv_lines(base):
    return base.inputs["csv"].read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory):
    """30,000 rows as CSV: damage at line 25,000 lies beyond DuckDB's 20,480-row type sniffing sample."""
    case = Case(tmp_path_factory.mktemp("corpus-bigcsv"), n=30_000, seed=42)
    case.csv = case.write_csv(case.data_dir / "big.csv", range(case.n))
    return case


def _big_job(w, big, path, **kw):
    job = big.job(str(path), shard_rows=5000, **kw)
    job["model"]["path"] = str(big.model.path)
    return w.write(job)


def test_csv_ragged_rows(w, base):
    """A CSV whose 10th data row has an extra field and 20th a missing one.

    DuckDB's sniffer cannot settle the dialect and would read each line as one
    VARCHAR column named after the header; the source says the CSV cannot be
    parsed (naming the file) instead of reporting a missing column."""
    lines = _csv_lines(base)
    lines[10] += ",999"
    lines[20] = lines[20].rsplit(",", 1)[0]
    p = w.data / "ragged.csv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    err = expect_cannot_start(w.write(w.job(p)), ["ragged.csv"], validate=False)
    assert_parse_problem(err, p)


def test_csv_ragged_row_beyond_sniff_sample(w, big_csv):
    lines = big_csv.csv.read_text(encoding="utf-8").splitlines()
    lines[25_001] += ",999"
    p = w.data / "ragged_late.csv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _, err = expect_start_or_run_failure(_big_job(w, big_csv, p), ["ragged_late.csv"])
    assert_parse_problem(err, p)


def test_csv_unterminated_quote(w, base):
    """A quote opened in row 30's name and never closed: as test_csv_ragged_rows,
    a parse problem naming the file, not a missing column."""
    lines = _csv_lines(base)
    lines[31] = lines[31].replace(",row-30,", ',"row-30 never closed,')
    assert '"row-30' in lines[31]
    p = w.data / "quote.csv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    err = expect_cannot_start(w.write(w.job(p)), ["quote.csv"], validate=False)
    assert_parse_problem(err, p)


def test_csv_unterminated_quote_beyond_sniff_sample(w, big_csv):
    lines = big_csv.csv.read_text(encoding="utf-8").splitlines()
    i = next(j for j in range(25_001, 25_100) if ",row-" in lines[j])
    lines[i] = lines[i].replace(",row-", ',"row-', 1)
    p = w.data / "quote_late.csv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _, err = expect_start_or_run_failure(_big_job(w, big_csv, p), ["quote_late.csv"])
    assert_parse_problem(err, p)


def test_csv_invalid_utf8(w, base):
    """Bytes that are not UTF-8 in a keep column (name) of row 40."""
    raw = "\n".join(_csv_lines(base)).encode("utf-8") + b"\n"
    assert b",row-40," in raw
    p = w.data / "latin.csv"
    p.write_bytes(raw.replace(b",row-40,", b",row-\xff\xfe40,"))
    _, err = expect_start_or_run_failure(w.write(w.job(p)), ["latin.csv"])
    assert re.search(r"(?i)utf-?8|encod|unicode", err), err


def test_csv_invalid_utf8_beyond_sniff_sample(w, big_csv):
    """Found only while reading: the run fails (exit 1) naming the file, or refuses to start."""
    raw = big_csv.csv.read_bytes()
    assert b",row-25005," in raw
    p = w.data / "latin_late.csv"
    p.write_bytes(raw.replace(b",row-25005,", b",row-\xff25005,"))
    _, err = expect_start_or_run_failure(_big_job(w, big_csv, p), ["latin_late.csv"])
    assert re.search(r"(?i)utf-?8|encod|unicode", err), err


def test_csv_text_in_numeric_column(w, base):
    """"abc" in f3 of one row: that row is dead-lettered naming f3, the rest is scored."""
    lines = _csv_lines(base)
    bad_row = 61
    fields = lines[bad_row + 1].split(",")
    assert len(fields) == 7, fields
    fields[5] = "abc"
    lines[bad_row + 1] = ",".join(fields)
    p = w.data / "text.csv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    job = w.job(p, errors={"max_failed_items": 5})
    job_path = w.write(job)
    key = int(base.ids[bad_row])
    expect_dead_letters(job_path, N, {key: "f3"})
    good = [i for i in range(N) if i != bad_row]
    check_output(base, w.out, "parquet", good, job=job_path, expect_failed=1)


def test_csv_text_in_numeric_column_beyond_sniff_sample(w, big_csv):
    """The sniffer typed f2 DOUBLE from the first 20,480 rows; row 25,000 holds "abc"."""
    lines = big_csv.csv.read_text(encoding="utf-8").splitlines()
    bad_row = 25_000
    fields = lines[bad_row + 1].split(",")
    assert len(fields) == 7, fields
    fields[4] = "abc"
    lines[bad_row + 1] = ",".join(fields)
    p = w.data / "text_late.csv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    job_path = _big_job(w, big_csv, p, errors={"max_failed_items": 1})
    expect_dead_letters(job_path, big_csv.n, {int(big_csv.ids[bad_row]): "f2"})
    good = [i for i in range(big_csv.n) if i != bad_row]
    check_output(big_csv, w.out, "parquet", good, job=job_path, expect_failed=1)


def test_csv_text_in_key_column_beyond_sniff_sample(w, big_csv):
    """The key column typed BIGINT by the sniffer holds "notakey" at row 25,000: the run
    cannot go on (exit 1, or 2), naming the file; nothing claimed that is not on disk."""
    lines = big_csv.csv.read_text(encoding="utf-8").splitlines()
    fields = lines[25_001].split(",")
    fields[0] = "notakey"
    lines[25_001] = ",".join(fields)
    p = w.data / "key_late.csv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    expect_start_or_run_failure(_big_job(w, big_csv, p), ["key_late.csv", "notakey"])


# --------------------------------------------------------------------------
# JSONL damage
# --------------------------------------------------------------------------

def test_jsonl_broken_line(w, base):
    lines = base.inputs["jsonl"].read_text(encoding="utf-8").splitlines()
    lines[51] = lines[51][: len(lines[51]) // 2]  # line 52 cut mid-object
    p = w.data / "broken.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    expect_cannot_start(w.write(w.job(p)), ["broken.jsonl", re.compile(r"line\s*5[23]\b")])


def test_jsonl_single_100mb_line(w, base):
    """A record whose name is 100 MB long, between normal records (written streaming).

    Must not crash or hang: exit 1/2 with a short message naming the file, or a dead letter."""
    src = base.inputs["jsonl"].read_text(encoding="utf-8").splitlines()
    p = w.data / "huge.jsonl"
    chunk = "x" * (1 << 20)
    with open(p, "w", encoding="utf-8") as f:
        for line in src[:100]:
            f.write(line + "\n")
        f.write('{"id":4242,"name":"')
        for _ in range(100):
            f.write(chunk)
        f.write('","f0":1.0,"f1":2.0,"f2":3.0,"f3":4.0,"f4":5.0}\n')
        for line in src[100:]:
            f.write(line + "\n")
    assert p.stat().st_size > 100 << 20
    job_path = w.write(w.job(p, errors={"max_failed_items": 1}))
    rc, out, err = ns("run", job_path)
    assert len(err) < MAX_MESSAGE, f"a {len(err)}-byte message (the line dumped into stderr?)"
    if rc == EXIT_OK:
        rows = [r for rs in read_parts(w.out, "parquet").values() for r in rs]
        letters = dead_letters(w.out)
        assert len(rows) + len(letters) == N + 1, (len(rows), len(letters))
        assert [single_key(d["key"]) for d in letters] == [4242] or (not letters and len(rows) == N + 1), letters
    else:
        assert rc in (EXIT_CANNOT_START, EXIT_FAILED), (rc, err[-3000:])
        assert_names(err, ["huge.jsonl"])
    p.unlink()


# --------------------------------------------------------------------------
# Types, layout, keys
# --------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_text_column_as_feature(w, base, fmt):
    job = w.job(base.inputs[fmt])
    job["model"]["inputs"][0]["columns"] = ["f0", "f1", "name", "f3", "f4"]
    expect_cannot_start(w.write(job), ["'name'", "features", f"input.{fmt}"])


def test_struct_column_as_feature(w, base):
    src = base.inputs["parquet"]
    p = w.data / "struct.parquet"
    sql(f"COPY (SELECT *, {{'a': f0, 'b': f1}} AS s FROM read_parquet('{src}')) TO '{p}' (FORMAT parquet)")
    job = w.job(p)
    job["model"]["inputs"][0]["columns"] = ["s", "f1", "f2", "f3", "f4"]
    expect_cannot_start(w.write(job), ["'s'", "features", "struct.parquet"])


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_schema_drift_between_files(w, base, fmt):
    """Two files of one glob; the second lacks f2: exit 2 naming that file and the column."""
    src = base.inputs["parquet"]
    opts = "(FORMAT parquet)" if fmt == "parquet" else "(FORMAT csv, HEADER true)"
    sql(f"COPY (SELECT * FROM read_parquet('{src}') WHERE id % 2 = 0) TO '{w.data / f'g-0.{fmt}'}' {opts}")
    sql(f"COPY (SELECT id, name, f0, f1, f3, f4 FROM read_parquet('{src}') WHERE id % 2 <> 0) "
        f"TO '{w.data / f'g-1.{fmt}'}' {opts}")
    expect_cannot_start(w.write(w.job(w.data / f"g-*.{fmt}")), [f"g-1.{fmt}", "f2"])


def test_glob_matches_nothing(w):
    expect_cannot_start(w.write(w.job(w.data / "nothing-*.parquet")), ["nothing-*.parquet"])


def test_directory_without_data_files(w):
    d = w.data / "emptydir"
    (d / "sub").mkdir(parents=True)
    (d / "README.txt").write_text("not data\n")
    (d / "_hidden.parquet").write_bytes(b"skipped: starts with _")
    (d / ".also-hidden.csv").write_text("id\n1\n")
    expect_cannot_start(w.write(w.job(d)), ["emptydir"])


def test_duplicate_keys_are_all_scored_and_written(w, tmp_path):
    """What nightshift does with duplicate keys: nothing special. Keys are not checked
    for uniqueness; every input row is scored and written (in input order, each with
    its own features' predictions), and counted once in _SUCCESS."""
    case = Case(tmp_path / "dups", n=240, seed=43)
    dup_of = {i: i - 1 for i in range(5, 240, 9)}  # row i reuses row i-1's key, with its own features
    for i, j in dup_of.items():
        case.ids[i] = case.ids[j]
    path = case.root / case.make_input("parquet")
    job = case.job(str(path), shard_rows=50)
    job["model"]["path"] = str(case.model.path)
    job_path = w.write(job)
    rc, out, err = ns("run", job_path)
    assert rc == EXIT_OK, err
    by_file = read_parts(w.out, "parquet")
    rows = [r for name in sorted(by_file) for r in by_file[name]]
    assert len(rows) == case.n, f"{len(rows)} output rows for {case.n} input rows (duplicates dropped?)"
    assert [r["id"] for r in rows] == [int(k) for k in case.ids], "output keys differ from input keys, in order"
    assert [r["name"] for r in rows] == case.names
    got = np.array([[r[c] for c in case.out_cols] for r in rows], dtype=np.float64)
    err_max = np.abs(got - case.expected).max()
    assert err_max <= TOL, f"predictions off by {err_max}"
    assert read_success(w.out)["counts"] == {"total": case.n, "succeeded": case.n, "failed": 0}
    assert not dead_letters(w.out)


def test_null_keys_are_not_lost(w, base):
    """Rows whose key is NULL (every 10th): not silently dropped. (nightshift scores and
    writes them with a null key; a dead letter would do as well.) Predictions are right."""
    src = base.inputs["parquet"]
    p = w.data / "nullkey.parquet"
    null_ids = {int(base.ids[i]) for i in range(0, N, 10)}
    sql(f"COPY (SELECT CASE WHEN id IN ({', '.join(map(str, null_ids))}) THEN NULL ELSE id END AS id, "
        f"* EXCLUDE (id, file_row_number) FROM read_parquet('{src}', file_row_number=true) "
        f"ORDER BY file_row_number) TO '{p}' (FORMAT parquet)")
    job_path = w.write(w.job(p, errors={"max_failed_items": -1}))
    rc, out, err = ns("run", job_path)
    assert rc == EXIT_OK, err
    by_file = read_parts(w.out, "parquet")
    rows = [r for name in sorted(by_file) for r in by_file[name]]
    letters = dead_letters(w.out)
    assert len(rows) + len(letters) == N, (len(rows), len(letters))
    written = [i for i in range(N) if int(base.ids[i]) not in null_ids or len(letters) == 0]
    got_names = [r["name"] for r in rows]
    assert got_names == [base.names[i] for i in written], "rows missing or out of order"
    got = np.array([[r[c] for c in base.out_cols] for r in rows], dtype=np.float64)
    assert np.abs(got - base.expected[written]).max() <= TOL
    assert read_success(w.out)["counts"]["total"] == N


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_zero_data_rows(w, base, fmt):
    """A valid file with a header/schema and no rows: an empty completed run (total 0),
    the same for Parquet and for CSV (whose columns DuckDB can only sniff as text)."""
    p = w.data / f"zero.{fmt}"
    if fmt == "parquet":
        sql(f"COPY (SELECT * FROM read_parquet('{base.inputs['parquet']}') LIMIT 0) TO '{p}' (FORMAT parquet)")
    else:
        p.write_text("id,name,f0,f1,f2,f3,f4\n")
    job_path = w.write(w.job(p))
    rc, out, err = ns("run", job_path)
    assert rc == EXIT_OK, (rc, err)
    assert not part_files(w.out) or all(not r for r in read_parts(w.out, "parquet").values())
    assert read_success(w.out)["counts"] == {"total": 0, "succeeded": 0, "failed": 0}


@pytest.mark.parametrize("key", ["no_such_key", ["id", "no_such_key"]], ids=["single", "composite"])
def test_key_column_missing(w, base, key):
    job = w.job(base.inputs["parquet"])
    job["input"]["key"] = key
    expect_cannot_start(w.write(job), ["no_such_key"])


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------

def test_model_input_width_mismatch(w, base):
    """The model takes [batch, 7]; the job packs 5 columns."""
    m = Mlp(w.root / "seven.onnx", n_in=7)
    job = w.job(base.inputs["parquet"])
    job["model"]["path"] = str(m.path)
    expect_cannot_start(w.write(job), ["features", re.compile(r"\b7\b"), re.compile(r"\b5\b")])


def test_model_fixed_batch_dimension(w, base):
    """A model whose input is float32[1, 5] (a fixed batch dimension of 1): exit 2 at
    start (validate too) naming the input and its fixed shape, or a run that feeds
    batches of the model's fixed size."""
    m = onnx.load(str(base.model.path))
    dim0 = m.graph.input[0].type.tensor_type.shape.dim[0]
    dim0.ClearField("dim_param")
    dim0.dim_value = 1
    path = w.root / "fixed1.onnx"
    onnx.save(m, str(path))
    job = w.job(base.inputs["parquet"])
    job["model"]["path"] = str(path)
    job_path = w.write(job)
    rc, out, err = ns("run", job_path)
    if rc == EXIT_OK:  # adapted its batches to the model: fine, if the output is right
        check_output(base, w.out, "parquet", range(N), job=job_path)
        return
    assert rc == EXIT_CANNOT_START, f"exit {rc}, want 2 (a shape mismatch known before the run)\n{err}"
    assert_names(err, ["features", "1, 5"])
    rc, out, err = ns("validate", job_path)
    assert rc == EXIT_CANNOT_START, f"validate exited {rc} on a model with a fixed batch dimension\n{out}"


def test_model_truncated(w, base):
    data = base.model.path.read_bytes()
    p = w.root / "half.onnx"
    p.write_bytes(data[: len(data) // 2])
    job = w.job(base.inputs["parquet"])
    job["model"]["path"] = str(p)
    expect_cannot_start(w.write(job), ["half.onnx"])


def test_model_input_name_unknown(w, base):
    job = w.job(base.inputs["parquet"])
    job["model"]["inputs"][0]["name"] = "featurez"
    expect_cannot_start(w.write(job), ["featurez"])


# --------------------------------------------------------------------------
# Job file and flags
# --------------------------------------------------------------------------

def test_job_file_not_yaml(w):
    p = w.root / "broken.yaml"
    p.write_text("name: [unclosed\ninput: {path: data\n  ::: - x\n\t\x00bad\n")
    for cmd in ("run", "validate", "status"):
        rc, out, err = ns(cmd, p)
        assert rc == EXIT_CANNOT_START, (cmd, rc, err)
        assert "broken.yaml" in err, err


def test_job_file_binary_garbage(w):
    p = w.root / "garbage.yaml"
    p.write_bytes(np.random.default_rng(4).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    rc, out, err = ns("run", p)
    assert rc == EXIT_CANNOT_START, (rc, err)
    assert "garbage.yaml" in err, err


@pytest.mark.parametrize("where,typo,suggestion", [
    ((), "inptu", "input"),
    (("batch",), "szie", "size"),
    (("errors",), "max_failed_item", "max_failed_items"),
], ids=["top", "batch", "errors"])
def test_job_unknown_key_suggests(w, base, where, typo, suggestion):
    job = w.job(base.inputs["parquet"])
    d = job
    for k in where:
        d = d.setdefault(k, {})
    if typo == "inptu":
        job["inptu"] = job.pop("input")
    else:
        d[typo] = 5
    expect_cannot_start(w.write(job), [typo, suggestion])


@pytest.mark.parametrize("setting,needles", [
    ("batch.size=abc", ["batch.size", "abc"]),
    ("errors.max_failed_items=lots", ["errors.max_failed_items", "lots"]),
    ("errors.max_failed_items=120%", ["errors.max_failed_items", "120%"]),
    ("batch.sise=8", ["batch.sise", "batch.size"]),
    ("run.shard_rows=0", ["run.shard_rows", "0"]),
], ids=["batch_size_abc", "max_failed_lots", "max_failed_120pct", "unknown_key", "shard_rows_zero"])
def test_set_bad_value(w, base, setting, needles):
    expect_cannot_start(w.write(w.job(base.inputs["parquet"])), needles, "--set", setting)


def test_run_id_escaping_output_folder(w, base):
    """`--run-id ../../escaped` with output.path "a/b/runs/{run_id}" would write outside
    the output tree: run ids are checked like job names, so exit 2 naming the bad run id."""
    job_path = w.write(w.job(base.inputs["parquet"], out_path="a/b/runs/{run_id}"))
    rc, out, err = ns("run", job_path, "--run-id", "../../escaped")
    escaped = w.root / "a" / "escaped"
    assert not escaped.exists(), f"--run-id wrote outside the job's output tree: {escaped} (exit {rc})"
    assert rc == EXIT_CANNOT_START, (rc, err)
    assert "../../escaped" in err, err


def test_status_of_unknown_run_id(w, base):
    job_path = w.write(w.job(base.inputs["parquet"]))
    rc, out, err = ns("run", job_path)
    assert rc == EXIT_OK, err
    for extra in ((), ("--json",), ("--failed",)):
        rc, out, err = ns("status", job_path, "--run-id", "no-such-run-42", *extra)
        assert rc == EXIT_CANNOT_START, (extra, rc, out, err)
        assert "no-such-run-42" in err, err


def test_status_of_unknown_run_id_without_ledger(w, base):
    job_path = w.write(w.job(base.inputs["parquet"]))
    rc, out, err = ns("status", job_path, "--run-id", "no-such-run-42")
    assert rc == EXIT_CANNOT_START, (rc, out, err)
    assert "no-such-run-42" in err, err


# --------------------------------------------------------------------------
# Output folders that cannot be written (as root, chmod does not bite)
# --------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["under_regular_file", "proc_new_dir", "under_proc_file"])
def test_output_not_writable(w, base, where):
    if where == "under_regular_file":
        (w.root / "afile").write_text("a regular file\n")
        path, needle = str(w.root / "afile" / "out"), "afile"
    elif where == "proc_new_dir":
        path = needle = "/proc/nightshift-e2e-out"
    else:
        path, needle = "/proc/version/out", "/proc/version"
    job = w.job(base.inputs["parquet"], out_path=path)
    expect_cannot_start(w.write(job), [needle], validate=False)


# --------------------------------------------------------------------------
# Bad rows -> dead letters
# --------------------------------------------------------------------------

def test_nan_inf_with_allow_nan_false(w, base):
    """NaN, +Inf and -Inf in a Parquet input with allow_nan: false: dead letters naming the column."""
    src = base.inputs["parquet"]
    nan_rows, inf_rows, ninf_rows = [3, 150], [77], [201, 299]
    cases = ([(i, "f0", "'nan'") for i in nan_rows] + [(i, "f2", "'inf'") for i in inf_rows]
             + [(i, "f4", "'-inf'") for i in ninf_rows])

    def col(c):
        whens = " ".join(f"WHEN id = {int(base.ids[i])} THEN {v}::DOUBLE" for i, cc, v in cases if cc == c)
        return f"CASE {whens} ELSE {c} END AS {c}" if whens else c

    p = w.data / "nan.parquet"
    sql(f"COPY (SELECT id, name, {', '.join(col(c) for c in base.feature_cols)} "
        f"FROM read_parquet('{src}', file_row_number=true) ORDER BY file_row_number) TO '{p}' (FORMAT parquet)")
    job = w.job(p, errors={"max_failed_items": -1})
    job["model"]["inputs"][0]["allow_nan"] = False
    job_path = w.write(job)
    bad = {int(base.ids[i]): c for i, c, _ in cases}
    _, letters = expect_dead_letters(job_path, N, bad)
    assert all(re.search(r"(?i)nan|inf", d["error"]) for d in letters), letters
    good = [i for i in range(N) if int(base.ids[i]) not in bad]
    check_output(base, w.out, "parquet", good, job=job_path, expect_failed=len(bad))


@pytest.mark.parametrize("allow_nan", [True, False])
def test_value_beyond_float32_range(w, base, allow_nan):
    """1e300 in a DOUBLE column fed as float32 would become Inf: a dead letter naming the
    column (whatever allow_nan says), never an Inf silently fed to the model."""
    src = base.inputs["parquet"]
    bad_rows = [9, 190]
    ids = ", ".join(str(int(base.ids[i])) for i in bad_rows)
    p = w.data / "overflow.parquet"
    sql(f"COPY (SELECT id, name, f0, CASE WHEN id IN ({ids}) THEN 1e300 ELSE f1 END AS f1, f2, f3, f4 "
        f"FROM read_parquet('{src}', file_row_number=true) ORDER BY file_row_number) TO '{p}' (FORMAT parquet)")
    job = w.job(p, errors={"max_failed_items": -1})
    job["model"]["inputs"][0]["allow_nan"] = allow_nan
    job_path = w.write(job)
    expect_dead_letters(job_path, N, {int(base.ids[i]): "f1" for i in bad_rows})
    check_output(base, w.out, "parquet", [i for i in range(N) if i not in bad_rows], job=job_path,
                 expect_failed=len(bad_rows))


def test_list_column_wrong_length(w):
    """A FLOAT[] column feeding a [batch, 3] model: rows with 2 or 4 elements, a NULL list
    or a NULL element are dead letters naming the column; the others are scored."""
    p = w.data / "lists.parquet"
    sql(f"""COPY (SELECT range AS id,
                CASE WHEN range % 17 = 5 THEN [1.0, 2.0]::FLOAT[]
                     WHEN range % 23 = 7 THEN [1.0, 2.0, 3.0, 4.0]::FLOAT[]
                     WHEN range = 11 THEN NULL
                     WHEN range = 12 THEN [1.0, NULL, 3.0]::FLOAT[]
                     ELSE [range * 0.5, 2.0, -1.0]::FLOAT[] END AS v
              FROM range(200)) TO '{p}' (FORMAT parquet)""")
    m = Mlp(w.root / "three.onnx", n_in=3, n_out=2, seed=44)
    job = {
        "name": "lists",
        "input": {"path": str(p), "key": "id"},
        "model": {"backend": "onnx", "path": str(m.path), "threads": 1,
                  "inputs": [{"name": "features", "columns": ["v"], "dtype": "float32"}],
                  "outputs": [{"name": "probabilities", "columns": ["q0", "q1"]}]},
        "batch": {"size": 32},
        "output": {"path": "out", "format": "parquet", "keep": ["id"]},
        "errors": {"max_failed_items": -1},
        "run": {"shard_rows": 64},
    }
    job_path = w.write(job)
    bad = {}
    for i in range(200):
        if i % 17 == 5:
            bad[i] = "v"
        elif i % 23 == 7:
            bad[i] = "v"
        elif i in (11, 12):
            bad[i] = "v"
    rows, letters = expect_dead_letters(job_path, 200, bad)
    by_key = {single_key(d["key"]): d["error"] for d in letters}
    assert re.search(r"\b2\b", by_key[5]) and re.search(r"\b3\b", by_key[5]), by_key[5]
    assert re.search(r"\b4\b", by_key[7]), by_key[7]
    assert re.search(r"(?i)null", by_key[11]) and re.search(r"(?i)null", by_key[12]), (by_key[11], by_key[12])
    ids = np.array([r["id"] for r in rows])
    assert list(ids) == [i for i in range(200) if i not in bad], "output keys/order"
    x = np.stack([ids * 0.5, np.full(len(ids), 2.0), np.full(len(ids), -1.0)], axis=1)
    want = m.predict(x)
    got = np.array([[r["q0"], r["q1"]] for r in rows])
    assert np.abs(got - want).max() <= TOL
