"""Shared helpers of the mpc.nn tests: torch references and scikit-learn data subsets."""

from __future__ import annotations

import numpy as np
import torch


def torch_forward_backward(model, x: np.ndarray, g: np.ndarray, train: bool):
    """(output, input gradient, {name: parameter gradient}) of torch for upstream gradient g."""
    model.train(train)
    for p in model.parameters():
        p.grad = None
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out = model(xt)
    (out * torch.tensor(g, dtype=torch.float64)).sum().backward()
    grads = {n: p.grad.detach().numpy().copy() for n, p in model.named_parameters() if p.grad is not None}
    return out.detach().numpy(), xt.grad.detach().numpy(), grads


def assert_close(name: str, got, want, tol: float) -> None:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{name}: shape {got.shape} != {want.shape}"
    err = float(np.abs(got - want).max()) if got.size else 0.0
    bound = tol * max(1.0, float(np.abs(want).max()) if want.size else 0.0)
    assert err <= bound, f"{name}: max error {err:.3g} > {bound:.3g}"


def digits(n_train: int | None = None):
    """scikit-learn's bundled 8x8 digits (no download): pixels / 16, a stratified split of
    1,437 training and 360 test samples; the first ``n_train`` training samples if given."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    xtr, xte, ytr, yte = train_test_split(d.data / 16.0, d.target, test_size=360, random_state=0, stratify=d.target)
    if n_train is not None:
        xtr, ytr = xtr[:n_train], ytr[:n_train]
    return xtr, xte, ytr.astype(np.int64), yte.astype(np.int64)


def breast_cancer():
    """scikit-learn's bundled breast-cancer set: 426 training and 143 test samples, features
    standardised with the training set's mean and deviation."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    d = load_breast_cancer()
    xtr, xte, ytr, yte = train_test_split(d.data, d.target, test_size=143, random_state=0, stratify=d.target)
    mu, sd = xtr.mean(axis=0), xtr.std(axis=0)
    return (xtr - mu) / sd, (xte - mu) / sd, ytr.astype(np.int64), yte.astype(np.int64)


def torch_train(model, x: np.ndarray, y, loss_fn, opt_fn, epochs: int, batch_size: int, orders):
    """Plain torch training (float64) on the given per-epoch permutations; returns the model."""
    opt = opt_fn(model.parameters())
    model.train()
    xt = torch.tensor(x)
    yt = torch.tensor(y)
    for e in range(epochs):
        order = orders[e]
        for lo in range(0, len(x), batch_size):
            idx = torch.tensor(order[lo : lo + batch_size])
            opt.zero_grad()
            loss_fn(model(xt[idx]), yt[idx]).backward()
            opt.step()
    return model.eval()


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    pred = (logits[:, 0] > 0).astype(np.int64) if logits.shape[1] == 1 else logits.argmax(axis=1)
    return float((pred == labels).mean())
