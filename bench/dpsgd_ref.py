"""Plaintext DP-SGD references for mpc.dp.DPSGD: our own (torch, float64) and Opacus (if installed).

Both follow the same public schedule as the MPC run: fixed-size batches from the permutations of
``mpc.nn.permutation`` (drop_last), SGD with learning rate lr on (sum of clipped per-example
gradients + Gaussian noise) / B. The noise is N(0, std^2) per coordinate from a NumPy generator:
these are references for accuracy, never used for secrets.

- :func:`plain_dpsgd`: per-example gradients by ``torch.func.vmap(grad)``, clipped to
  min(1, C / ||g_i||), summed, noise of standard deviation ``noise_std`` (z C for textbook
  DP-SGD; the MPC run's ``DPSGD.noise_std`` for the same noise as the MPC run).
- :func:`opacus_dpsgd`: Opacus's PrivacyEngine (``poisson_sampling=False``, so it trains on the
  same batches) with noise_multiplier z and max_grad_norm C: an oracle from another code base.

Data: scikit-learn's bundled breast-cancer (426 / 143, standardised) and digits (1,437 / 360,
pixels / 16) sets, split as tests/_nn_helpers.py splits them.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def breast_cancer():
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    d = load_breast_cancer()
    xtr, xte, ytr, yte = train_test_split(d.data, d.target, test_size=143, random_state=0, stratify=d.target)
    mu, sd = xtr.mean(axis=0), xtr.std(axis=0)
    return (xtr - mu) / sd, (xte - mu) / sd, ytr.astype(np.int64), yte.astype(np.int64)


def digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    xtr, xte, ytr, yte = train_test_split(d.data / 16.0, d.target, test_size=360, random_state=0, stratify=d.target)
    return xtr, xte, ytr.astype(np.int64), yte.astype(np.int64)


DATASETS = {"bc": breast_cancer, "digits": digits}


def model_for(name: str, seed: int = 0) -> torch.nn.Module:
    """Logistic regression (one Linear layer) for each data set, initialised from ``seed`` (a
    public start) by a generator of its own, as torch's default init would from
    ``torch.manual_seed(seed)`` (the same values). Not from torch's global generator: the tests
    run parties as threads, and one thread seeding or drawing from it while another built its
    model gave party 0 another start now and then."""
    n_in, n_out = (30, 2) if name == "bc" else (64, 10)
    layer = torch.nn.utils.skip_init(torch.nn.Linear, n_in, n_out)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # torch.nn.Linear.reset_parameters: weight, then bias, U(+-1/sqrt(fan_in))
        torch.nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=gen)
        layer.bias.uniform_(-1 / math.sqrt(n_in), 1 / math.sqrt(n_in), generator=gen)
    return torch.nn.Sequential(layer)


def accuracy(model: torch.nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    with torch.no_grad():
        pred = model.double()(torch.tensor(x)).argmax(dim=1).numpy()
    return float((pred == y).mean())


def step_noise(rng, noise_std: float, params: dict, flat=None) -> dict:
    """One step's noise per parameter (name -> tensor of its shape): fresh N(0, noise_std^2)
    draws from ``rng``, one parameter after another (the references' stream), or the slices of
    ``flat``, a step's noise an MPC run opened, in the same order."""
    if flat is None:
        return {k: torch.tensor(rng.normal(0, noise_std, tuple(v.shape))) for k, v in params.items()}
    flat, out, at = np.asarray(flat, dtype=np.float64), {}, 0
    for k, v in params.items():
        out[k], at = torch.tensor(flat[at : at + v.numel()].reshape(tuple(v.shape))), at + v.numel()
    if at != flat.size:
        raise ValueError(f"a replayed step has {flat.size} noise values for {at} parameters")
    return out


def plain_dpsgd(model, x, y, orders, batch: int, lr: float, C: float, noise_std: float, seed: int,
                noises=None):
    """Train ``model`` (float64) with DP-SGD on the given per-epoch permutations. ``noises``
    (tests): one flat array per step, in ``named_parameters`` order, added instead of fresh
    draws, to replay the noise an MPC run opened for the purpose."""
    from torch.func import functional_call, grad, vmap

    model = model.double()
    params = {k: v.detach() for k, v in model.named_parameters()}
    rng = np.random.default_rng(seed)

    def loss_one(p, xi, yi):
        out = functional_call(model, p, (xi[None],))
        return torch.nn.functional.cross_entropy(out, yi[None], reduction="sum")

    per_grad = vmap(grad(loss_one), in_dims=(None, 0, 0))
    xt, yt = torch.tensor(x), torch.tensor(y)
    replay = iter(noises) if noises is not None else None
    for order in orders:
        for lo in range(0, len(order) - batch + 1, batch):
            idx = torch.tensor(order[lo : lo + batch])
            g = per_grad(params, xt[idx], yt[idx])
            norms = torch.sqrt(sum((v.reshape(batch, -1) ** 2).sum(1) for v in g.values()))
            c = torch.clamp(C / norms, max=1.0)
            noise = step_noise(rng, noise_std, params, None if replay is None else next(replay))
            for k in params:
                s = (g[k] * c.reshape((-1,) + (1,) * (g[k].ndim - 1))).sum(0) + noise[k]
                params[k] = params[k] - lr * s / batch
    with torch.no_grad():
        for k, v in model.named_parameters():
            v.copy_(params[k])
    return model


def opacus_available() -> bool:
    try:
        import opacus  # noqa: F401
    except ImportError:
        return False
    return True


def opacus_dpsgd(model, x, y, orders, batch: int, lr: float, C: float, z: float, seed: int):
    """Opacus 1.x on the same batches (a batch sampler over the permutations); None if absent."""
    if not opacus_available():
        return None
    import warnings

    from opacus import PrivacyEngine
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(seed)
    model = model.double()
    batches = [list(o[lo : lo + batch]) for o in orders for lo in range(0, len(o) - batch + 1, batch)]
    per_epoch = len(batches) // len(orders)
    data = TensorDataset(torch.tensor(x), torch.tensor(y))
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        engine = PrivacyEngine(accountant="rdp")
        model, opt, _ = engine.make_private(module=model, optimizer=opt, noise_multiplier=z, max_grad_norm=C,
                                            data_loader=DataLoader(data, batch_size=batch),
                                            poisson_sampling=False)
        xt, yt = torch.tensor(x), torch.tensor(y)
        for e in range(len(orders)):
            for b in batches[e * per_epoch : (e + 1) * per_epoch]:
                idx = torch.tensor(b)
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx]).backward()
                opt.step()
    return model._module if hasattr(model, "_module") else model
