#!/usr/bin/env python3
"""Builds the small TorchScript models the torchscript backend tests run, into OUTDIR.

Usage: make_torch_models.py OUTDIR

Needs torch and numpy (Debian: python3-torch, python3-numpy). Expected outputs
are computed with numpy from the models' weights, independently of libtorch.
Everything is seeded, so the outputs are deterministic.

Writes:
  mlp.pt              forward(features) : float32[N,4] -> softmax(relu(x W1 + b1) W2 + b2)
                      -> float32[N,3] (a single tensor: output "output" or "0")
  mlp_input.bin       float32[257,4] raw little-endian
  mlp_expected.bin    float32[257,3]: the MLP's outputs for mlp_input.bin
  tuple_out.pt        forward(x) -> (rowsum float32[N,1], argmax int64[N], 2x float32[N,K])
  dict_out.pt         forward(x) -> {"score": rowsum float32[N,1], "double": 2x float32[N,K]}
  two_inputs.pt       forward(a, b) -> cat([a * 2, b + 1], 1)   (a [N,Ka], b [N,Kb])
  int64_input.pt      forward(ids) : int64[N,2] -> Embedding(10, 3)(ids).sum(1) float32[N,3];
                      carries nightshift.json (ids: int64 [-1, 2]) in its archive
  int64_ids.bin       int64[6,2] raw little-endian
  int64_expected.bin  float32[6,3]: the model's outputs for int64_ids.bin
  tuple_input.pt      forward(pair: Tuple[Tensor, Tensor]) -> pair[0] - pair[1]
  defaults.pt         forward(x, scale: float = 3.0, bias: Optional[Tensor] = None) -> x * scale
  float64_meta.pt     forward(x) -> x + 0.5, with nightshift.json declaring x float64 [-1, 2]
  rejects_negative.pt forward(x) -> x * 10, raises for a batch holding a negative value
  int_arg.pt          forward(x, k: int) -> x * k (an argument nightshift cannot feed)
  bad_meta.pt         forward(x) -> x + 0.5, whose nightshift.json names an input it lacks
  needs_nonzero.pt    forward(x) -> 1 / x, raises for a zero; nightshift.json: x [-1, 1],
                      "probe": false
  garbage.pt          bytes that are not a TorchScript archive
"""

import json
import os
import sys
from typing import Dict, Optional, Tuple

import numpy as np
import torch
from torch import Tensor, nn


def save(module, path, meta=None):
    scripted = torch.jit.script(module.eval())
    extra = {"nightshift.json": json.dumps(meta)} if meta is not None else {}
    torch.jit.save(scripted, path, _extra_files=extra)


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 16)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, features: Tensor) -> Tensor:
        return torch.softmax(self.fc2(torch.relu(self.fc1(features))), dim=1)


def mlp(outdir):
    torch.manual_seed(20240601)
    model = Mlp()
    save(model, os.path.join(outdir, "mlp.pt"))
    rng = np.random.default_rng(7)
    x = rng.normal(0, 2, (257, 4)).astype(np.float32)
    w1, b1 = model.fc1.weight.detach().numpy(), model.fc1.bias.detach().numpy()
    w2, b2 = model.fc2.weight.detach().numpy(), model.fc2.bias.detach().numpy()
    h = np.maximum(x.astype(np.float64) @ w1.T + b1, 0)
    logits = h @ w2.T + b2
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    x.tofile(os.path.join(outdir, "mlp_input.bin"))
    probs.tofile(os.path.join(outdir, "mlp_expected.bin"))


class TupleOut(nn.Module):
    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        return x.sum(1, keepdim=True), x.argmax(1), x * 2


class DictOut(nn.Module):
    def forward(self, x: Tensor) -> Dict[str, Tensor]:
        return {"score": x.sum(1, keepdim=True), "double": x * 2}


class TwoInputs(nn.Module):
    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return torch.cat([a * 2, b + 1], dim=1)


class Int64Input(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 3)

    def forward(self, ids: Tensor) -> Tensor:
        return self.emb(ids).sum(1)


def int64_input(outdir):
    torch.manual_seed(5)
    model = Int64Input()
    save(model, os.path.join(outdir, "int64_input.pt"),
         {"inputs": [{"name": "ids", "dtype": "int64", "shape": [-1, 2]}]})
    ids = np.array([[0, 1], [2, 3], [9, 9], [4, 0], [7, 5], [8, 6]], dtype=np.int64)
    table = model.emb.weight.detach().numpy().astype(np.float64)
    expected = (table[ids[:, 0]] + table[ids[:, 1]]).astype(np.float32)
    ids.tofile(os.path.join(outdir, "int64_ids.bin"))
    expected.tofile(os.path.join(outdir, "int64_expected.bin"))


class TupleInput(nn.Module):
    def forward(self, pair: Tuple[Tensor, Tensor]) -> Tensor:
        return pair[0] - pair[1]


class Defaults(nn.Module):
    def forward(self, x: Tensor, scale: float = 3.0, bias: Optional[Tensor] = None) -> Tensor:
        if bias is not None:
            x = x + bias
        return x * scale


class AddHalf(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x + 0.5


class RejectsNegative(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        if bool((x < 0).any()):
            raise ValueError("negative input")
        return x * 10


class NeedsNonzero(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        if bool((x == 0).any()):
            raise ValueError("zero input")
        return 1 / x


class IntArg(nn.Module):
    def forward(self, x: Tensor, k: int) -> Tensor:
        return x * k


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    mlp(outdir)
    save(TupleOut(), os.path.join(outdir, "tuple_out.pt"))
    save(DictOut(), os.path.join(outdir, "dict_out.pt"))
    save(TwoInputs(), os.path.join(outdir, "two_inputs.pt"))
    int64_input(outdir)
    save(TupleInput(), os.path.join(outdir, "tuple_input.pt"))
    save(Defaults(), os.path.join(outdir, "defaults.pt"))
    save(AddHalf(), os.path.join(outdir, "float64_meta.pt"),
         {"inputs": [{"name": "x", "dtype": "float64", "shape": [-1, 2]}]})
    save(RejectsNegative(), os.path.join(outdir, "rejects_negative.pt"))
    save(IntArg(), os.path.join(outdir, "int_arg.pt"))
    save(AddHalf(), os.path.join(outdir, "bad_meta.pt"), {"inputs": [{"name": "features"}]})
    save(NeedsNonzero(), os.path.join(outdir, "needs_nonzero.pt"),
         {"inputs": [{"name": "x", "shape": [-1, 1]}], "probe": False})
    with open(os.path.join(outdir, "garbage.pt"), "wb") as f:
        f.write(b"this is not a TorchScript archive\n" * 10)


if __name__ == "__main__":
    main()
