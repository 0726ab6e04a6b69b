"""Encrypted inference against plaintext torch on scikit-learn's digits (bundled, no download).

A model trained in the clear (torch, a few epochs) is shared by its owner (party 0) with
``mpc.nn.from_torch``; the 360 test images are party 1's. Asserted: the argmax of the secret
logits agrees with torch's on at least 99.5% of the test samples (in practice all), for
- an MLP 64-128-10, logits revealed to party 1 only (2 parties; the others get None);
- the small CNN of the issue (two conv + pool layers, BatchNorm, then Linear), with the labels
  only (``predict(labels=True)``) revealed to a third party, 2 (3 parties: model, data and
  result at three different parties).
The largest logit error is printed (``pytest -s``; both are ~1e-3).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

import mpc.nn
from mpc.testing import run_local
from tests._nn_helpers import digits


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


def cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64, 10),
    )


def trained(model: nn.Module, shape: tuple[int, ...]) -> tuple[nn.Module, np.ndarray, np.ndarray, np.ndarray]:
    """The model trained in the clear on digits; returns (model, test inputs, labels, torch logits)."""
    torch.manual_seed(11)
    xtr, xte, ytr, yte = digits()
    xtr, xte = xtr.reshape((-1, *shape)), xte.reshape((-1, *shape))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    xt, yt = torch.tensor(xtr, dtype=torch.float32), torch.tensor(ytr)
    model.train()
    for _ in range(4):
        for lo in range(0, len(xtr), 64):
            opt.zero_grad()
            nn.functional.cross_entropy(model(xt[lo : lo + 64]), yt[lo : lo + 64]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        ref = model(torch.tensor(xte, dtype=torch.float32)).double().numpy()
    return model, xte, yte, ref


@pytest.mark.parametrize("engine", ["semi2k", "spdz2k"])
def test_mlp_inference_logits_to_party_1(engine):
    model, xte, yte, ref = trained(mlp(), (64,))

    def main(p):
        enc = mpc.nn.from_torch(p, model, owner=0)
        x = p.input(xte if p.pid == 1 else None, owner=1, shape=xte.shape)
        return enc.predict(x, to=1)

    out = run_local(main, 2, timeout=300, engine=engine)
    assert out[0] is None
    logits = out[1]
    agree = float((logits.argmax(axis=1) == ref.argmax(axis=1)).mean())
    err = float(np.abs(logits - ref).max())
    print(f"\nMLP inference: argmax agreement {agree:.4f}, largest logit error {err:.2e}, "
          f"accuracy {float((logits.argmax(axis=1) == yte).mean()):.4f}")
    assert agree >= 0.995
    assert err < 0.05


@pytest.mark.parametrize("engine", ["semi2k", "spdz2k"])
def test_cnn_inference_labels_to_third_party(engine):
    model, xte, yte, ref = trained(cnn(), (1, 8, 8))

    def main(p):
        enc = mpc.nn.from_torch(p, model, owner=0)
        x = p.input(xte if p.pid == 1 else None, owner=1, shape=xte.shape)
        labels = enc.predict(x, to=2, labels=True)
        logits = p.reveal(enc(x))  # for the error report only
        return labels, logits

    out = run_local(main, 3, timeout=300, engine=engine)
    assert out[0][0] is None and out[1][0] is None
    labels, logits = out[2]
    agree = float((labels == ref.argmax(axis=1)).mean())
    err = float(np.abs(logits - ref).max())
    print(f"\nCNN inference: argmax agreement {agree:.4f}, largest logit error {err:.2e}, "
          f"accuracy {float((labels == yte).mean()):.4f}")
    assert labels.dtype == np.int64
    assert np.array_equal(labels, logits.argmax(axis=1))
    assert agree >= 0.995
    assert err < 0.05
