"""preprocess: tokenize with a SentencePiece `.model`, end to end: a Unigram
model trained here by spm_train (Debian's `sentencepiece`; none ships
offline) on Debian's package descriptions, read by nightshift with XLM-R's
ids, fed to a small embedding model (token embeddings, mean pooling over the
attention mask, L2 normalisation inside the ONNX graph). The reference:
Hugging Face tokenizers (npm `tokenizers` under node) on the tokenizer.json
that transformers' XLMRobertaConverter makes of the same model
(src/transform/sentencepiece_diff_test.cjs builds it), pushed through the
same model in numpy.
"""
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import (HF_TOKENIZERS, REPO, assert_not_crashed, hf_token_ids, part_files, read_dead_letters,
                      read_part, run, sql, write_job)

sys.path.insert(0, str(REPO / "examples" / "embeddings"))
import make_example  # noqa: E402  (the embedding model and the texts)

DIFF_TEST = REPO / "src" / "transform" / "sentencepiece_diff_test.cjs"
DIM, MAX_LENGTH = 32, 64

pytestmark = pytest.mark.skipif(
    not (HF_TOKENIZERS / "index.js").exists() or shutil.which("node") is None
    or shutil.which("spm_train") is None,
    reason="run scripts/bootstrap.sh: needs node, spm_train and third_party/tokenizers")

ODD_TEXTS = ["", " ", "trailing space ", "a <mask> b<mask>", "<s>x</s> <pad>", "Ünïcödé café 中文 😀",
             "x" * 300, "tabs\tand\nnewlines\n\n"]


def train_model(texts, root):
    (root / "train.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    subprocess.run(["spm_train", f"--input={root / 'train.txt'}", f"--model_prefix={root / 'xlmr'}",
                    "--vocab_size=2000", "--hard_vocab_limit=false", "--model_type=unigram", "--character_coverage=0.9995",
                    "--num_threads=1", "--minloglevel=2"], check=True, timeout=300)
    return root / "xlmr.model"


def reference_ids(model, texts, tmp):
    """Hugging Face tokenizers' ids for `texts` on the converted model."""
    script = f"""
      const {{ xlmrTokenizerJson }} = require({json.dumps(str(DIFF_TEST))});
      require('fs').writeFileSync({json.dumps(str(tmp / 'xlmr.json'))},
                                  JSON.stringify(xlmrTokenizerJson({json.dumps(str(model))})));"""
    subprocess.run(["node", "-e", script], check=True, timeout=300)
    return hf_token_ids(tmp / "xlmr.json", texts, tmp, MAX_LENGTH)


@pytest.fixture(scope="module")
def spm_case(tmp_path_factory):
    root = tmp_path_factory.mktemp("spm")
    texts = [text for _, text in make_example.debian_descriptions(1500)]
    model = train_model(texts, root)
    texts += ODD_TEXTS
    (root / "in.json").write_text(
        "\n".join(json.dumps({"id": i, "body": t}) for i, t in enumerate(texts)), encoding="utf-8")
    data = root / "in.parquet"
    sql(f"COPY (SELECT id::BIGINT AS id, body::VARCHAR AS body FROM read_json('{root / 'in.json'}', "
        f"format='newline_delimited')) TO '{data}' (FORMAT parquet, ROW_GROUP_SIZE 500)")
    ref = reference_ids(model, texts, root)
    vocab_size = max(max(ids) for ids in ref) + 1
    table = make_example.make_embedder(root / "embedder.onnx", max(vocab_size, 2002), DIM, 7)
    return root, data, texts, ref, table


def job_file(root, data, tokenizer="xlmr.model", **extra):
    return write_job(root / "job.yaml", {**extra,
        "name": "embed-spm",
        "input": {"path": str(data), "key": "id"},
        "preprocess": [{"tokenize": {"column": "body", "tokenizer": tokenizer,
                                     "max_length": MAX_LENGTH, "into": "tok"}}],
        "model": {"path": "embedder.onnx", "threads": 1, "inputs": [
            {"name": "input_ids", "columns": ["tok.input_ids"], "dtype": "int64", "pad_value": 1},
            {"name": "attention_mask", "columns": ["tok.attention_mask"], "dtype": "int64"},
        ], "outputs": [{"name": "embedding", "column": "embedding"}]},
        "batch": {"size": 64, "sort_by_length": "tok.input_ids", "max_tokens": 2048},
        "output": {"path": "out", "keep": ["id"]},
        "run": {"shard_rows": 500, "ledger": "ledger.db"},
    })


def test_sentencepiece_ids_are_hugging_face_xlmr_ids(spm_case):
    root, data, texts, ref, table = spm_case
    assert ref[0][0] == 0 and ref[0][-1] == 2  # <s> ... </s>
    rc, out, err = run("run", job_file(root, data), cwd=root)
    assert_not_crashed(rc, err)
    assert rc == 0, err
    rows = [r for p in part_files(root / "out") for r in read_part(p)]
    assert sorted(r["id"] for r in rows) == list(range(len(texts)))
    for r in rows:
        mean = table[np.array(ref[r["id"]])].mean(axis=0)
        want = mean / np.linalg.norm(mean)
        np.testing.assert_allclose(np.array(r["embedding"]), want, atol=2e-5,
                                   err_msg=f"text {r['id']}: {texts[r['id']][:80]!r}")


def test_a_model_file_that_is_not_sentencepiece_is_refused(spm_case):
    root, data, _, _, _ = spm_case
    (root / "bad.model").write_text("not a model")
    rc, out, err = run("validate", job_file(root, data, "bad.model"), cwd=root)
    assert rc == 2, err
    assert "preprocess[0].tokenize.tokenizer" in err, err
    assert "bad.model': not a SentencePiece model" in err, err


def test_text_that_is_not_utf8_is_a_dead_letter(spm_case):
    root, _, _, ref, table = spm_case
    data = root / "blob.parquet"
    sql(f"COPY (SELECT * FROM (VALUES (1, 'fine text'::BLOB), (2, 'bad \\xFF\\xFE'::BLOB), "
        f"(3, NULL::BLOB)) t(id, body)) TO '{data}' (FORMAT parquet)")
    shutil.rmtree(root / "out", ignore_errors=True)
    (root / "ledger.db").unlink(missing_ok=True)
    rc, out, err = run("run", job_file(root, data, errors={"max_failed_items": -1}), cwd=root)
    assert_not_crashed(rc, err)
    assert rc == 0, err
    rows = [r for p in part_files(root / "out") for r in read_part(p)]
    assert [r["id"] for r in rows] == [1]
    letters = [d["error"] for _, d in read_dead_letters(root / "out" / "_failed")]
    assert len(letters) == 2, letters
    for error in letters:
        assert "text column 'body' is null or not valid UTF-8" in error, letters
