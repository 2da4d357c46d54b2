"""The bench's MLP in PyTorch: the weights examples/models/make_mlp.py saves
with --weights (arr_0..arr_{L-1} are the (in, out) matrices, then the biases),
the same math as the ONNX graph: (MatMul + Add + ReLU) x L-1, MatMul + Add,
softmax over the last axis."""
import numpy as np
import torch

FEATURES = ["tenure", "monthly_charges", "total_charges", "support_calls",
            "contract_months", "late_payments", "data_gb", "age"]


def load(npz_path):
    z = np.load(npz_path)
    n = len(z.files) // 2
    layers = []
    for i in range(n):
        w, b = z[f"arr_{i}"], z[f"arr_{n + i}"]
        lin = torch.nn.Linear(w.shape[0], w.shape[1])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w.T.copy()))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if i < n - 1:
            layers.append(torch.nn.ReLU())
    layers.append(torch.nn.Softmax(dim=1))
    return torch.nn.Sequential(*layers).eval()


def score(model, x, batch):
    """x: float32 [rows, features] numpy array -> float32 [rows, outputs]."""
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out.append(model(torch.from_numpy(x[i:i + batch])).numpy())
    return np.concatenate(out) if out else np.zeros((0, 2), np.float32)
