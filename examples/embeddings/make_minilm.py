#!/usr/bin/env python3
"""A BERT encoder of all-MiniLM-L6-v2's shape (6 layers, hidden 384, 12 heads,
intermediate 1536, 512 positions, bert-base-uncased's 30,522-token
vocabulary), with seeded random weights (no pretrained model is available
offline), built in python3-torch and exported to ONNX with the sentence
embedding inside the graph: mean pooling of the last layer over the
attention mask, then L2 normalisation, as sentence-transformers does.

    make_minilm.py OUT.onnx [--seed 13] [--vocab 30522]

The ONNX model takes input_ids, attention_mask and token_type_ids (int64
[batch, seq]) and returns embedding (float32 [batch, 384]). `reference`
computes the same embeddings in torch from a list of token id lists: the
reference of tests/e2e/test_embeddings_minilm.py.
"""
import argparse
import copy
import math
import warnings

import torch
import torch.utils.mkldnn
from torch import nn

LAYERS, HIDDEN, HEADS, INTERMEDIATE, POSITIONS = 6, 384, 12, 1536, 512
BERT_VOCAB = 30522


class Layer(nn.Module):
    """One post-LayerNorm transformer layer, as in BERT."""

    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(HIDDEN, 3 * HIDDEN)
        self.attn_out = nn.Linear(HIDDEN, HIDDEN)
        self.ln1 = nn.LayerNorm(HIDDEN, eps=1e-12)
        self.ffn_in = nn.Linear(HIDDEN, INTERMEDIATE)
        self.ffn_out = nn.Linear(INTERMEDIATE, HIDDEN)
        self.ln2 = nn.LayerNorm(HIDDEN, eps=1e-12)

    def forward(self, h, bias):
        b, s, _ = h.shape
        heads = self.qkv(h).view(b, s, 3, HEADS, HIDDEN // HEADS).permute(2, 0, 3, 1, 4)
        q, k, v = heads[0], heads[1], heads[2]                      # [b, heads, s, d]
        scores = q @ k.transpose(-1, -2) / math.sqrt(HIDDEN // HEADS) + bias
        ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, s, HIDDEN)
        h = self.ln1(h + self.attn_out(ctx))
        return self.ln2(h + self.ffn_out(nn.functional.gelu(self.ffn_in(h))))


class MiniLM(nn.Module):
    def __init__(self, vocab=BERT_VOCAB):
        super().__init__()
        self.words = nn.Embedding(vocab, HIDDEN)
        self.positions = nn.Embedding(POSITIONS, HIDDEN)
        self.types = nn.Embedding(2, HIDDEN)
        self.ln = nn.LayerNorm(HIDDEN, eps=1e-12)
        self.layers = nn.ModuleList(Layer() for _ in range(LAYERS))

    def forward(self, input_ids, attention_mask, token_type_ids):
        pos = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        h = self.ln(self.words(input_ids) + self.positions(pos) + self.types(token_type_ids))
        mask = attention_mask.to(h.dtype)
        bias = ((1.0 - mask) * -10000.0)[:, None, None, :]  # padding gets no attention
        for layer in self.layers:
            h = layer(h, bias)
        m = mask.unsqueeze(-1)
        mean = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return mean / mean.norm(dim=1, keepdim=True).clamp(min=1e-12)


def build(seed=13, vocab=BERT_VOCAB):
    """The model with BERT's initialisation (normal, std 0.02; LayerNorm
    scales 1), from `seed`."""
    torch.manual_seed(seed)
    model = MiniLM(vocab)
    for p in model.parameters():  # weights and biases (random biases: every path matters)
        nn.init.normal_(p, std=0.02)
    for m in model.modules():
        if isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
    return model.eval()


def export(model, path):
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]])
    mask = (ids != 0).long()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on shape inference
        torch.onnx.export(model, (ids, mask, torch.zeros_like(ids)), str(path),
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["embedding"], opset_version=14,
                          dynamic_axes={n: {0: "batch", 1: "seq"}
                                        for n in ("input_ids", "attention_mask", "token_type_ids")}
                          | {"embedding": {0: "batch"}})


def reference(model, id_lists, batch=64):
    """Embeddings (float32 numpy [n, 384]) of each id list, in order; batches
    of similar lengths, padded with 0 under a 0 mask. The Linear layers run
    through oneDNN (torch.utils.mkldnn): Debian's torch does its other
    matrix products with the system BLAS, which may be the reference BLAS,
    15x slower."""
    model = torch.utils.mkldnn.to_mkldnn(copy.deepcopy(model))
    out = [None] * len(id_lists)
    order = sorted(range(len(id_lists)), key=lambda i: len(id_lists[i]))
    with torch.no_grad():
        for at in range(0, len(order), batch):
            rows = order[at:at + batch]
            width = max(len(id_lists[i]) for i in rows)
            ids = torch.zeros((len(rows), width), dtype=torch.long)
            for j, i in enumerate(rows):
                ids[j, :len(id_lists[i])] = torch.tensor(id_lists[i])
            mask = torch.zeros_like(ids)
            for j, i in enumerate(rows):
                mask[j, :len(id_lists[i])] = 1
            emb = model(ids, mask, torch.zeros_like(ids)).numpy()
            for j, i in enumerate(rows):
                out[i] = emb[j]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--vocab", type=int, default=BERT_VOCAB)
    args = ap.parse_args()
    torch.set_num_threads(1)
    export(build(args.seed, args.vocab), args.out)


if __name__ == "__main__":
    main()
