"""Training in MPC against the same training in plaintext torch (float64): same initial
weights, same batch order (the public permutations of ``mpc.nn.permutation`` from the same
seed), same hyperparameters. Asserted: test accuracy within 1 percentage point of torch's.

Workloads (scikit-learn's bundled sets, no download):
- logistic regression on breast cancer (BCEWithLogitsLoss, SGD), 3 parties: the training rows
  split between parties 0 and 1 (``mpc.nn.horizontal``), the labels party 2's;
- an MLP 30-16-2 on breast cancer (CrossEntropyLoss with secret one-hot labels, SGD with
  momentum), 2 parties: the features split by columns (``mpc.nn.vertical``);
- an MLP 64-128-10 on digits (cross entropy, SGD with momentum), 2 parties;
- the small CNN (two conv + pool layers with BatchNorm, then Linear) on digits, 2 parties.
The breast-cancer runs also run under spdz2k (actively secure: the same training, MAC-checked).
The breast-cancer runs are full size (all 426 training samples, 5 epochs). The digits runs are
reduced by default, to keep the suite fast: the MLP on the first 512 training samples for 8
epochs, the CNN on the first 320 for 5 epochs; the 1-point bound is asserted on what they train.
``MPC_NN_FULL=1`` runs them on all 1,437 training samples (MLP 10 epochs, CNN 5), a few minutes
each. Accuracies are printed (``pytest -s``).
"""

from __future__ import annotations

import copy
import os

import numpy as np
import pytest
import torch
import torch.nn as nn

import mpc.nn
from mpc.testing import run_local
from tests._nn_helpers import accuracy, breast_cancer, digits, torch_train

FULL = os.environ.get("MPC_NN_FULL") == "1"
SEED = 4242


def compare(name, model, xtr, ytr, xte, yte, *, bce: bool, epochs: int, batch: int, lr: float, momentum: float,
            parties: int = 2, split: str = "owner", timeout: float = 900, engine: str = "semi2k"):
    classes = 1 if bce else int(ytr.max()) + 1
    prg = mpc.nn.public_prg(SEED)
    orders = [mpc.nn.permutation(prg, len(xtr)) for _ in range(epochs)]
    ref = copy.deepcopy(model).double()
    if bce:
        torch_train(ref, xtr, ytr.reshape(-1, 1).astype(np.float64), nn.BCEWithLogitsLoss(),
                    lambda ps: torch.optim.SGD(ps, lr=lr, momentum=momentum), epochs, batch, orders)
    else:
        torch_train(ref, xtr, ytr, nn.CrossEntropyLoss(), lambda ps: torch.optim.SGD(ps, lr=lr, momentum=momentum),
                    epochs, batch, orders)
    with torch.no_grad():
        ref_logits = ref(torch.tensor(xte)).numpy()
    last = parties - 1

    def main(p):
        enc = mpc.nn.from_torch(p, model, owner=0)
        if split == "horizontal":  # rows: the first half party 0's, the rest party 1's
            half = len(xtr) // 2
            mine = xtr[:half] if p.pid == 0 else xtr[half:] if p.pid == 1 else None
            X = mpc.nn.horizontal(p, mine)
        elif split == "vertical":  # columns: the first half party 0's, the rest party 1's
            half = xtr.shape[1] // 2
            mine = xtr[:, :half] if p.pid == 0 else xtr[:, half:] if p.pid == 1 else None
            X = mpc.nn.vertical(p, mine)
        else:
            X = p.input(xtr if p.pid == 0 else None, owner=0, shape=xtr.shape)
        if bce:
            y = ytr.reshape(-1, 1).astype(np.float64)
            Y = p.input(y if p.pid == last else None, owner=last, shape=y.shape)
            loss = mpc.nn.BCEWithLogitsLoss()
        else:
            Y = mpc.nn.one_hot(p, ytr if p.pid == last else None, classes, owner=last, n=len(ytr))
            loss = mpc.nn.CrossEntropyLoss()
        opt = mpc.nn.SGD(enc.parameters(), lr=lr, momentum=momentum)
        mpc.nn.fit(enc, X, Y, epochs=epochs, batch_size=batch, loss=loss, optimizer=opt, seed=SEED, progress=False)
        xt = p.input(xte if p.pid == 1 else None, owner=1, shape=xte.shape)
        return enc.predict(xt)

    logits = run_local(main, parties, timeout=timeout, engine=engine)[0]
    acc, ref_acc = accuracy(logits, yte), accuracy(ref_logits, yte)
    print(f"\n{name}: MPC test accuracy {acc:.4f}, torch {ref_acc:.4f} ({len(xtr)} training samples, "
          f"{epochs} epochs); largest logit difference {np.abs(logits - ref_logits).max():.2e}")
    assert abs(acc - ref_acc) <= 0.01 + 1e-12, f"{name}: MPC {acc:.4f} vs torch {ref_acc:.4f}"
    return acc, ref_acc


@pytest.mark.parametrize("engine", ["semi2k", "spdz2k"])
def test_logistic_regression_breast_cancer_horizontal_3_parties(engine):
    torch.manual_seed(1)
    xtr, xte, ytr, yte = breast_cancer()
    acc, _ = compare("logistic regression, breast cancer", nn.Sequential(nn.Linear(30, 1)), xtr, ytr, xte, yte,
                     bce=True, epochs=5, batch=32, lr=0.1, momentum=0.0, parties=3, split="horizontal", engine=engine)
    assert acc > 0.9  # it learned something


@pytest.mark.parametrize("engine", ["semi2k", "spdz2k"])
def test_mlp_breast_cancer_vertical(engine):
    torch.manual_seed(2)
    xtr, xte, ytr, yte = breast_cancer()
    model = nn.Sequential(nn.Linear(30, 16), nn.ReLU(), nn.Linear(16, 2))
    acc, _ = compare("MLP 30-16-2, breast cancer", model, xtr, ytr, xte, yte, bce=False, epochs=5, batch=32,
                     lr=0.05, momentum=0.9, split="vertical", engine=engine)
    assert acc > 0.9


def test_mlp_digits():
    torch.manual_seed(3)
    xtr, xte, ytr, yte = digits(None if FULL else 512)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    acc, _ = compare("MLP 64-128-10, digits", model, xtr, ytr, xte, yte, bce=False, epochs=10 if FULL else 8,
                     batch=64, lr=0.05, momentum=0.9)
    assert acc > 0.85


def test_cnn_digits():
    torch.manual_seed(4)
    xtr, xte, ytr, yte = digits(None if FULL else 320)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64, 10),
    )
    acc, _ = compare("CNN, digits", model, xtr.reshape(-1, 1, 8, 8), ytr, xte.reshape(-1, 1, 8, 8), yte,
                     bce=False, epochs=5 if FULL else 8, batch=64, lr=0.1, momentum=0.5)
    assert acc > 0.85
