#!/usr/bin/env python3
"""Scripts the GPU benchmark's model: a seeded MLP IN -> HIDDEN x LAYERS -> OUT
(ReLU between layers), saved with torch.jit.save() and a nightshift.json that
declares its input (features float32[-1, IN]).

Usage: make_model.py PATH --in 64 --hidden 8192 --layers 6 --out 16
Prints the model's forward cost in FLOPs per row on stdout.
"""
import argparse
import json

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


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path")
    p.add_argument("--in", dest="n_in", type=int, default=64)
    p.add_argument("--hidden", type=int, default=8192)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--out", dest="n_out", type=int, default=16)
    a = p.parse_args()
    torch.manual_seed(0)
    model = Mlp(a.n_in, a.hidden, a.layers, a.n_out).eval()
    meta = {"inputs": [{"name": "features", "dtype": "float32", "shape": [-1, a.n_in]}]}
    torch.jit.save(torch.jit.script(model), a.path, _extra_files={"nightshift.json": json.dumps(meta)})
    dims = [a.n_in] + [a.hidden] * a.layers + [a.n_out]
    print(sum(2 * x * y for x, y in zip(dims[:-1], dims[1:])))


if __name__ == "__main__":
    main()
