"""Workloads W7 and W8 of the ``nn`` suite, shared by Tessera's runner and CrypTen's.

Pure NumPy (it runs in the peers' virtual environments too), like :mod:`workloads`:

=====  ==============================================================  =====================
 id     what                                                           n (the size column)
=====  ==============================================================  =====================
 W7     LeNet-5 inference on 1x28x28 images: conv 6@5x5 (padding 2),    batch (1 and 64)
        ReLU, 2x2 max pool, conv 16@5x5, ReLU, 2x2 max pool, fully
        connected 400-120-84-10 with ReLU; weights P0's, images P1's
 W8     one training epoch of an MLP 64-128-10 (ReLU) on the 1,437      samples (1,437)
        training digits of scikit-learn (pixels / 16), batch 64 in
        order, cross entropy, SGD lr = 0.1 without momentum; initial
        weights P0's, images P0's, one-hot labels P1's
=====  ==============================================================  =====================

W5 (MLP 784-128-128-10 inference) is :mod:`workloads`' own; the ``nn`` suite runs it through
``mpc.nn.from_torch`` beside the hand-written one. Weights are drawn with He initialisation from
a fixed seed; the references are float64 NumPy. The digits come from scikit-learn (the
``nn-test`` extra) when it is importable, otherwise from ``bench/.peers/digits.npz``, which the
project's own ``.venv`` writes once (the peers' venvs have no scikit-learn).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

SEED = 20261204
WORKLOADS = ("W7", "W8")
SIZES = {"full": {"W7": [1, 64], "W8": [1437]}, "quick": {"W7": [1, 64], "W8": [256]}}
BATCH, LR = 64, 0.1
DESCRIPTIONS = {
    "W7": "LeNet-5 inference on 1x28x28 (ReLU, max pool; weights P0, images P1)",
    "W8": "MLP 64-128-10 training, one epoch on the digits, batch 64, cross entropy, SGD lr 0.1",
}
BENCH = Path(__file__).resolve().parent.parent
DIGITS_CACHE = BENCH / ".peers" / "digits.npz"
_DIGITS_CODE = (
    "import sys, numpy as np\n"
    "from sklearn.datasets import load_digits\n"
    "from sklearn.model_selection import train_test_split\n"
    "d = load_digits()\n"
    "x, _, y, _ = train_test_split(d.data / 16.0, d.target, test_size=360, random_state=0, stratify=d.target)\n"
    "np.savez(sys.argv[1], x=x, y=y)\n"
)


def sizes(workload: str, quick: bool) -> list[int]:
    return list(SIZES["quick" if quick else "full"][workload])


def digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1,437 training digits (x (1437, 64) in [0, 1], labels (1437,)), as in tests/."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        if not DIGITS_CACHE.exists():
            py = BENCH.parent / ".venv" / "bin" / "python"
            DIGITS_CACHE.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run([str(py), "-c", _DIGITS_CODE, str(DIGITS_CACHE)], check=True, timeout=300)
        with np.load(DIGITS_CACHE) as f:
            return f["x"], f["y"].astype(np.int64)
    d = load_digits()
    x, _, y, _ = train_test_split(d.data / 16.0, d.target, test_size=360, random_state=0, stratify=d.target)
    return x, y.astype(np.int64)


def _he(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
    return rng.normal(0.0, (2.0 / fan_in) ** 0.5, shape)


def lenet_params(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """torch layouts: conv weight (O, C, kh, kw), linear weight (out, in)."""
    return {
        "conv1.weight": _he(rng, (6, 1, 5, 5), 25), "conv1.bias": rng.normal(0, 0.01, 6),
        "conv2.weight": _he(rng, (16, 6, 5, 5), 150), "conv2.bias": rng.normal(0, 0.01, 16),
        "fc1.weight": _he(rng, (120, 400), 400), "fc1.bias": rng.normal(0, 0.01, 120),
        "fc2.weight": _he(rng, (84, 120), 120), "fc2.bias": rng.normal(0, 0.01, 84),
        "fc3.weight": _he(rng, (10, 84), 84), "fc3.bias": rng.normal(0, 0.01, 10),
    }


def mlp_params(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"fc1.weight": _he(rng, (128, 64), 64), "fc1.bias": rng.normal(0, 0.01, 128),
            "fc2.weight": _he(rng, (10, 128), 128), "fc2.bias": rng.normal(0, 0.01, 10)}


def make_inputs(workload: str, n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([SEED, int(workload[1:]), int(n)])
    if workload == "W7":
        return {**lenet_params(rng), "x": rng.uniform(0, 1, (n, 1, 28, 28))}
    if workload == "W8":
        x, y = digits()
        return {**mlp_params(rng), "x": x[:n], "y": y[:n], "onehot": np.eye(10)[y[:n]]}
    raise ValueError(f"unknown workload {workload!r}")


# ------------------------------------------------------------------------------ float64 references


def _conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, pad: int) -> np.ndarray:
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))  # n c oh ow kh kw
    return np.einsum("ncijkl,ockl->noij", win, w) + b.reshape(1, -1, 1, 1)


def _maxpool2(x: np.ndarray) -> np.ndarray:
    n, c, h, w = x.shape
    return x[:, :, : h // 2 * 2, : w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def _relu(a: np.ndarray) -> np.ndarray:
    return np.maximum(a, 0.0)


def lenet(inp: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    h = _maxpool2(_relu(_conv(x, inp["conv1.weight"], inp["conv1.bias"], 2)))
    h = _maxpool2(_relu(_conv(h, inp["conv2.weight"], inp["conv2.bias"], 0)))
    h = h.reshape(len(x), -1)
    h = _relu(h @ inp["fc1.weight"].T + inp["fc1.bias"])
    h = _relu(h @ inp["fc2.weight"].T + inp["fc2.bias"])
    return h @ inp["fc3.weight"].T + inp["fc3.bias"]


def sgd_epoch(inp: dict[str, np.ndarray]) -> np.ndarray:
    """W8 in float64: returns the trained parameters flattened (fc1.weight, fc1.bias, fc2...)."""
    w1, b1, w2, b2 = (inp[k].copy() for k in ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"))
    x, t = inp["x"], inp["onehot"]
    for lo in range(0, len(x), BATCH):
        xb, tb = x[lo : lo + BATCH], t[lo : lo + BATCH]
        m = len(xb)
        z1 = xb @ w1.T + b1
        h = _relu(z1)
        z2 = h @ w2.T + b2
        e = np.exp(z2 - z2.max(axis=1, keepdims=True))
        g2 = (e / e.sum(axis=1, keepdims=True) - tb) / m
        g1 = (g2 @ w2) * (z1 > 0)
        w2, b2 = w2 - LR * g2.T @ h, b2 - LR * g2.sum(axis=0)
        w1, b1 = w1 - LR * g1.T @ xb, b1 - LR * g1.sum(axis=0)
    return np.concatenate([w1.ravel(), b1, w2.ravel(), b2])


def reference(workload: str, inp: dict[str, np.ndarray]) -> np.ndarray:
    if workload == "W7":
        return lenet(inp, inp["x"])
    if workload == "W8":
        return sgd_epoch(inp)
    raise ValueError(f"unknown workload {workload!r}")
