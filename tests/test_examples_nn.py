"""The mpc.nn walkthroughs in examples/: each main(party) in-process (threads) against plaintext
torch, and the inference walkthrough through real mpcrun processes (its docstring's run line)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from mpc.testing import run_local
from tests._examples import ROOT, example, run_line


@pytest.mark.parametrize("name", ["encrypted_inference", "encrypted_transformer", "private_training", "dp_training"])
def test_run_line(name):
    assert run_line(name) == ["mpcrun", "-n", "2", f"examples/{name}.py"]


def test_dp_training_spends_the_budget_once_and_learns():
    mod = example("dp_training")
    (model_a, acc_a, spent_a), (model_b, acc_b, spent_b) = run_local(mod.main, 2, timeout=300)
    for key, value in model_a.state_dict().items():
        assert torch.equal(value, model_b.state_dict()[key])  # one model, opened to both
    assert spent_a == spent_b and 0.99 * mod.EPSILON <= spent_a <= mod.EPSILON
    assert min(acc_a, acc_b) >= 0.9  # the majority class is 63%


def test_encrypted_inference_labels_match_plaintext_and_reach_party_1_only():
    mod = example("encrypted_inference")
    (none, model), (labels, _) = run_local(mod.main, 2, timeout=300)
    assert none is None
    _, (xte, yte) = mod.digits()
    with torch.no_grad():
        want = model(torch.tensor(xte, dtype=torch.float32)).argmax(dim=1).numpy()
    assert (labels == want).mean() >= 0.995  # party 0's own model, run in the clear
    assert (labels == yte).mean() > 0.85


@pytest.mark.parametrize("engine", ["semi2k", "spdz2k"])
def test_encrypted_transformer_labels_match_plaintext(engine):
    """The traced attention block (products of activations, softmax, GELU, LayerNorm) gives the
    plaintext model's labels, under semi2k and actively secure spdz2k."""
    mod = example("encrypted_transformer")
    (none, model), (labels, _) = run_local(mod.main, 2, timeout=600, engine=engine)
    assert none is None
    _, (xte, yte) = mod.digits()
    with torch.no_grad():
        want = model(torch.tensor(xte, dtype=torch.float32)).argmax(dim=1).numpy()
    assert (labels == want).mean() >= 0.995
    assert (labels == yte).mean() > 0.95


def test_private_training_both_hospitals_get_one_model_close_to_plaintext_training():
    mod = example("private_training")
    (model_a, acc_a, start), (model_b, acc_b, _) = run_local(mod.main, 2, timeout=300)
    for key, value in model_a.state_dict().items():
        assert torch.equal(value, model_b.state_dict()[key])  # one model, opened to both
    parts = [mod.my_records(pid) for pid in (0, 1)]
    xtr = np.concatenate([p[0] for p in parts])
    ytr = np.concatenate([p[1] for p in parts])
    mean, std = xtr.mean(axis=0), xtr.std(axis=0)
    xte = np.concatenate([(p[2] - mean) / std for p in parts])
    yte = np.concatenate([p[3] for p in parts])
    with torch.no_grad():
        got = model_a(torch.tensor(xte, dtype=torch.float32)).argmax(dim=1).numpy()
    n_a = len(parts[0][3])
    assert (got[:n_a] == yte[:n_a]).mean() == pytest.approx(acc_a)  # what each hospital reported
    assert (got[n_a:] == yte[n_a:]).mean() == pytest.approx(acc_b)
    # plaintext torch from the same initial weights on the same joint data (its own batch order)
    ref = mod.model()
    ref.load_state_dict(start.state_dict())
    opt = torch.optim.SGD(ref.parameters(), lr=mod.LR, momentum=mod.MOMENTUM)
    xt, yt = torch.tensor((xtr - mean) / std, dtype=torch.float32), torch.tensor(ytr)
    for _ in range(mod.EPOCHS):
        for lo in range(0, len(xt), mod.BATCH):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(ref(xt[lo : lo + mod.BATCH]), yt[lo : lo + mod.BATCH]).backward()
            opt.step()
    with torch.no_grad():
        ref_acc = (ref(torch.tensor(xte, dtype=torch.float32)).argmax(dim=1).numpy() == yte).mean()
    acc = (got == yte).mean()
    print(f"\nprivate training: held-out accuracy {acc:.4f} (plaintext torch {ref_acc:.4f})")
    assert acc > 0.9 and abs(acc - ref_acc) <= 0.05


@pytest.mark.processes
def test_encrypted_inference_through_mpcrun(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = run_line("encrypted_inference")
    cmd = [sys.executable, "-m", "mpc", "run", *argv[1:3], str(ROOT / argv[3])]
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "[P1] party 1: labels of my 360 images" in out.stdout
    assert "[P0] party 0: classified 360 images I never saw" in out.stdout
