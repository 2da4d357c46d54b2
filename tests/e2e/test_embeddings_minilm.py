"""An embedding job of a real model's shape, checked against python3-torch:
a BERT encoder shaped as all-MiniLM-L6-v2 (6 layers, hidden 384, 12 heads,
intermediate 1536; seeded random weights, examples/embeddings/make_minilm.py)
exported to ONNX with mean pooling over the attention mask and L2
normalisation inside the graph; the real bert-base-uncased vocabulary;
Debian's package descriptions as the texts, tokenized inside nightshift.

The reference: Hugging Face tokenizers' ids (npm `tokenizers` under node) for
the same texts, pushed through the same torch module (same weights) in
python3-torch. Output: one FLOAT[] column, to Parquet, to a DuckDB table and
to a PostgreSQL table (real[]); the tables must equal the Parquet file
exactly. The example's DuckDB cosine-similarity query runs on the output.

The model is generated into a temp folder (about 90 MB, never committed)."""
import json
import sys

import numpy as np
import pytest

from conftest import (BERT_VOCAB, REPO, assert_not_crashed, hf_token_ids, needs_hf_tokenizers, run, sql,
                      write_job)
from pg_fixture import pg_server  # noqa: F401  (the session fixture)

sys.path.insert(0, str(REPO / "examples" / "embeddings"))
import make_example  # noqa: E402  (tokenizer.json, Debian's descriptions)

torch = pytest.importorskip("torch", reason="python3-torch (Debian) is the reference")
import make_minilm  # noqa: E402

TEXTS, MAX_LENGTH = 1500, 64
MAX_ABS_DIFF = 1e-4  # float32 ONNX Runtime vs float32 torch, per element of a unit vector

pytestmark = needs_hf_tokenizers


@pytest.fixture(scope="module")
def minilm(tmp_path_factory):
    """(folder, texts, torch reference embeddings [n, 384]); the folder holds
    packages.parquet, tokenizer.json and minilm.onnx."""
    root = tmp_path_factory.mktemp("minilm")
    docs = make_example.debian_descriptions(TEXTS)
    (root / "packages.jsonl").write_text(
        "\n".join(json.dumps({"id": i, "package": p, "description": t}) for i, (p, t) in enumerate(docs)),
        encoding="utf-8")
    sql(f"COPY (SELECT id::BIGINT AS id, package, description FROM read_json('{root / 'packages.jsonl'}', "
        f"format='newline_delimited')) TO '{root / 'packages.parquet'}' (FORMAT parquet)")
    vocab_size = make_example.bert_tokenizer_json(BERT_VOCAB, root / "tokenizer.json")
    torch.set_num_threads(2)
    model = make_minilm.build(seed=13, vocab=vocab_size)
    make_minilm.export(model, root / "minilm.onnx")
    texts = [t for _, t in docs]
    ids = hf_token_ids(root / "tokenizer.json", texts, root, MAX_LENGTH)
    want = np.stack(make_minilm.reference(model, ids))
    return root, texts, want


def minilm_job(root, out_dir, **output):
    job = {
        "name": "minilm",
        "input": {"path": str(root / "packages.parquet"), "key": "id"},
        "preprocess": [{"tokenize": {"column": "description", "tokenizer": str(root / "tokenizer.json"),
                                     "max_length": MAX_LENGTH, "into": "tok"}}],
        "model": {"path": str(root / "minilm.onnx"), "threads": 2, "inputs": [
            {"name": "input_ids", "columns": ["tok.input_ids"], "dtype": "int64"},
            {"name": "attention_mask", "columns": ["tok.attention_mask"], "dtype": "int64"},
            {"name": "token_type_ids", "columns": ["tok.token_type_ids"], "dtype": "int64"},
        ], "outputs": [{"name": "embedding", "column": "embedding"}]},
        "batch": {"size": 64, "sort_by_length": "tok.input_ids", "max_tokens": 4096},
        "output": {"keep": ["id", "package"], **(output or {"path": "out"})},
        "run": {"shard_rows": 500, "ledger": "ledger.db"},
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    return write_job(out_dir / "job.yaml", job)


def parquet_embeddings(pattern):
    """{id: float32 vector} of the Parquet parts (through DOUBLE, which prints exactly)."""
    out = sql(f"SELECT id, CAST(to_json(embedding::DOUBLE[]) AS VARCHAR) AS e FROM read_parquet('{pattern}')")
    lines = out.splitlines()[1:]
    rows = {}
    for line in lines:
        key, _, vec = line.partition(",")
        rows[int(key)] = np.array(json.loads(vec.strip('"').replace('""', '"')), dtype=np.float32)
    return rows


@pytest.fixture(scope="module")
def parquet_run(minilm, tmp_path_factory):
    """The Parquet run: (its folder, `run --json`'s object)."""
    root, _, _ = minilm
    d = tmp_path_factory.mktemp("minilm_parquet")
    rc, out, err = run("run", minilm_job(root, d), "--json", cwd=d, timeout=900)
    assert_not_crashed(rc, err)
    assert rc == 0, err
    return d, json.loads(out)


def test_minilm_embeddings_equal_torch(minilm, parquet_run):
    root, texts, want = minilm
    d, status = parquet_run
    types = sql(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('{d}/out/part-*.parquet'))")
    assert "embedding,FLOAT[]" in types, types
    got = parquet_embeddings(f"{d}/out/part-*.parquet")
    assert sorted(got) == list(range(len(texts)))
    diff = np.abs(np.stack([got[i] for i in range(len(texts))]) - want)
    worst = int(diff.max(axis=1).argmax())
    assert diff.max() <= MAX_ABS_DIFF, f"text {worst} ({texts[worst][:80]!r}): max abs diff {diff.max():.3g}"
    np.testing.assert_allclose(np.linalg.norm(want, axis=1), 1, atol=1e-5)
    # The stage fractions of the run (read includes tokenization, which runs in the reader's query).
    s = status["invocation"]["stages"]
    print(f"\nminilm: {len(texts)} texts in {s['wall_s']:.2f}s; max abs diff vs torch {diff.max():.2e}; "
          f"read+tokenize {s['read_s'] / s['wall_s']:.1%}, model {s['model_s'] / s['wall_s']:.1%}, "
          f"write {s['write_s'] / s['wall_s']:.1%} of wall (model_busy {s['model_busy']:.2f})")
    assert s["model_s"] > s["read_s"], s  # tokenization is not the bottleneck of a MiniLM-sized model


def test_duckdb_table_equals_parquet(minilm, parquet_run, tmp_path):
    root, texts, _ = minilm
    d, _ = parquet_run
    rc, out, err = run("run", minilm_job(root, tmp_path, format="duckdb", url="emb.duckdb", table="embeddings",
                                         mode="upsert"), cwd=tmp_path, timeout=900)
    assert rc == 0, err
    db = tmp_path / "emb.duckdb"
    types = sql(f"ATTACH '{db}' AS e (READ_ONLY); SELECT data_type FROM duckdb_columns() "
                "WHERE table_name = 'embeddings' AND column_name = 'embedding'")
    assert types.splitlines()[1:] == ["FLOAT[]"], types
    # Every row equal, element for element, to the Parquet run's.
    counts = sql(f"ATTACH '{db}' AS e (READ_ONLY); SELECT count(*) AS n, "
                 f"count(*) FILTER (WHERE t.embedding = p.embedding AND t.package = p.package) AS same "
                 f"FROM e.embeddings t JOIN read_parquet('{d}/out/part-*.parquet') p USING (id)")
    assert counts.splitlines()[1] == f"{len(texts)},{len(texts)}", counts


def test_postgres_table_equals_parquet(minilm, parquet_run, pg_server, tmp_path):
    root, texts, _ = minilm
    d, _ = parquet_run
    rc, out, err = run("run", minilm_job(root, tmp_path, format="postgres", url=pg_server.url(),
                                         table="analytics.embeddings", mode="upsert"), cwd=tmp_path, timeout=900)
    assert rc == 0, err
    types = pg_server.query("SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                            "WHERE attrelid = 'analytics.embeddings'::regclass AND attname = 'embedding'")
    assert types == [["real[]"]], types
    want = parquet_embeddings(f"{d}/out/part-*.parquet")
    rows = pg_server.query("SELECT id, embedding FROM analytics.embeddings")
    assert len(rows) == len(texts)
    for key, vec in rows:  # PostgreSQL prints a real as the shortest text that reads back exactly
        got = np.array([float(x) for x in vec.strip("{}").split(",")], dtype=np.float32)
        assert np.array_equal(got, want[int(key)]), key


def test_cosine_similarity_example_query(minilm, parquet_run):
    """examples/embeddings/nearest.sql (the query docs/embeddings.md shows) over the run's output:
    the nearest texts by cosine similarity, checked against numpy."""
    root, texts, want = minilm
    d, _ = parquet_run
    query = (REPO / "examples" / "embeddings" / "nearest.sql").read_text()
    out = sql(query.replace("out/*/part-*.parquet", f"{d}/out/part-*.parquet").replace("$QUERY_ID", "7"))
    got = [line.split(",") for line in out.splitlines()[1:]]
    cos = want @ want[7]
    order = np.argsort(-cos, kind="stable")[:5]
    assert [int(g[0]) for g in got] == order.tolist(), (got, order)
    np.testing.assert_allclose([float(g[2]) for g in got], cos[order], atol=1e-4)
