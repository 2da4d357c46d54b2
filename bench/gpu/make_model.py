#!/usr/bin/env python3
"""Scripts the GPU benchmark's model, saved with torch.jit.save() and a
nightshift.json that declares its input. Two kinds:

  mlp      IN -> HIDDEN x LAYERS -> OUT (ReLU between layers); input
           features float32[-1, IN].
  encoder  a BERT-like transformer encoder over token ids: embedding +
           learned positions, LAYERS pre-norm encoder layers (width HIDDEN,
           HEADS heads, feed-forward 4 x HIDDEN), mean pooling, a linear
           head to OUT; input tokens int64[-1, SEQ] (ids < VOCAB).

Usage: make_model.py PATH --kind mlp --in 64 --hidden 8192 --layers 6 --out 16
       make_model.py PATH --kind encoder --seq 128 --vocab 30000 --hidden 768 --heads 12 --layers 6 --out 16
Prints the model's forward cost in FLOPs per row on stdout (matrix
multiplications only).
"""
import argparse
import json
import sys

import torch
from torch import Tensor, nn


class Mlp(nn.Module):
    def __init__(self, n_in: int, hidden: int, layers: int, n_out: int):
        super().__init__()
        dims = [n_in] + [hidden] * layers
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.head = nn.Linear(dims[-1], n_out)

    def forward(self, features: Tensor) -> Tensor:
        x = features
        for layer in self.hidden:
            x = torch.relu(layer(x))
        return self.head(x)


class Encoder(nn.Module):
    def __init__(self, vocab: int, seq: int, hidden: int, heads: int, layers: int, n_out: int):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.pos = nn.Parameter(torch.randn(seq, hidden) * 0.02)
        layer = nn.TransformerEncoderLayer(hidden, heads, 4 * hidden, dropout=0.0, batch_first=True,
                                           norm_first=True, activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(hidden, n_out)

    def forward(self, tokens: Tensor) -> Tensor:
        x = self.embed(tokens) + self.pos[: tokens.shape[1]]
        x = self.encoder(x)
        return self.head(x.mean(dim=1))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path")
    p.add_argument("--kind", choices=["mlp", "encoder"], default="mlp")
    p.add_argument("--in", dest="n_in", type=int, default=64)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--vocab", type=int, default=30000)
    p.add_argument("--hidden", type=int, default=8192)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--out", dest="n_out", type=int, default=16)
    a = p.parse_args()
    torch.manual_seed(0)
    if a.kind == "mlp":
        model = Mlp(a.n_in, a.hidden, a.layers, a.n_out).eval()
        meta = {"inputs": [{"name": "features", "dtype": "float32", "shape": [-1, a.n_in]}]}
        dims = [a.n_in] + [a.hidden] * a.layers + [a.n_out]
        flops = sum(2 * x * y for x, y in zip(dims[:-1], dims[1:]))
    else:
        model = Encoder(a.vocab, a.seq, a.hidden, a.heads, a.layers, a.n_out).eval()
        meta = {"inputs": [{"name": "tokens", "dtype": "int64", "shape": [-1, a.seq]}]}
        d, s = a.hidden, a.seq
        per_layer = s * (2 * 4 * d * d + 2 * 2 * d * 4 * d) + 2 * 2 * s * s * d  # projections, FFN, attention
        flops = a.layers * per_layer + 2 * d * a.n_out
    try:
        scripted = torch.jit.script(model)
    except Exception as e:  # a torch whose scripting rejects the model: trace it
        print(f"torch.jit.script failed ({e}); tracing instead", file=sys.stderr)
        example = (torch.randint(0, a.vocab, (2, a.seq)) if a.kind == "encoder"
                   else torch.rand(2, a.n_in))
        with torch.no_grad():
            scripted = torch.jit.trace(model, example, check_trace=False)
    torch.jit.save(scripted, a.path, _extra_files={"nightshift.json": json.dumps(meta)})
    print(flops)


if __name__ == "__main__":
    main()
