"""Losses: CrossEntropyLoss, MSELoss, BCEWithLogitsLoss (mean reduction, as torch's defaults).

A loss call returns a :class:`Loss`: ``loss.backward()`` differentiates, ``loss.value()``
computes the loss itself as a secret scalar (only if asked: the gradient does not need it, and
computing it costs a log; revealing it tells every party how well the model fits the data, a leak
to weigh). The gradient handed to the tape is that of the *summed* loss (M times the mean's,
M the number of averaged elements; see :mod:`mpc.nn.tape`), which is what avoids underflow.

- CrossEntropyLoss(logits (N, C), target): target either public class indices (N,) (ints, as
  torch takes them), a public (N, C) array of class probabilities / one-hot rows, or a secret
  one-hot SecretTensor (N, C) (as CrypTen takes labels). Gradient softmax(z) - y
  (:func:`mpc.functions.softmax`: 31 rounds for C = 10 under semi2k, 2 parties); value
  -sum(y log_softmax(z)) / N (log_softmax: 31 rounds).
- MSELoss(pred, target): gradient 2 (pred - y) (local), value sum((pred - y)^2) / numel.
- BCEWithLogitsLoss(logits, target): gradient sigmoid(z) - y (8 rounds under semi2k), value
  mean(max(z, 0) - z y + log(1 + exp(-|z|))).
Target and prediction shapes must match (ValueError naming both, before any message);
torch's ``weight``, ``label_smoothing``, ``pos_weight`` and ``reduction`` other than "mean" are
not supported (ConfigError).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import mpc.functions as F
from mpc.errors import ConfigError, ShareTypeError
from mpc.nn.per_example import PerExampleGrads
from mpc.nn.tape import Variable
from mpc.tensor.secret_tensor import SecretTensor

__all__ = ["Loss", "CrossEntropyLoss", "MSELoss", "BCEWithLogitsLoss"]


class Loss:
    """The result of a loss call (see the module docstring)."""

    def __init__(self, pred: SecretTensor | Variable, count: int, grad_fn, value_fn) -> None:
        self._pred, self.count = pred, count
        self._grad_fn, self._value_fn = grad_fn, value_fn
        self._value: SecretTensor | None = None

    def __repr__(self) -> str:
        return f"Loss(mean over {self.count} elements)"

    @property
    def batch(self) -> int:
        """The number of examples (the prediction's first axis)."""
        shape = self._pred.shape
        return int(shape[0]) if shape else 1

    def check_per_example(self) -> None:
        """ConfigError (local, before any message) unless per-example gradients can be taken:
        a model output with a batch axis, every layer with parameters a Linear or Conv2d."""
        if not isinstance(self._pred, Variable):
            raise ConfigError("backward: the prediction is a plain SecretTensor; call the model in training "
                              "mode (enc.train()) to differentiate")
        if not self._pred.shape:
            raise ConfigError("backward: per-example gradients need a batch axis")
        self._pred.tape.check_per_example()

    def backward(self, per_example: bool = False) -> PerExampleGrads | None:
        """Accumulate the parameters' gradients (the prediction must come from a model in
        training mode). ``per_example=True`` (DP-SGD) accumulates nothing and returns the
        :class:`~mpc.nn.per_example.PerExampleGrads` of the batch instead."""
        if not isinstance(self._pred, Variable):
            raise ConfigError("backward: the prediction is a plain SecretTensor; call the model in training "
                              "mode (enc.train()) to differentiate")
        if per_example:
            self.check_per_example()
        self._pred.backward(self._grad_fn(), scale=self.count, per_example=per_example)
        if not per_example:
            return None
        return PerExampleGrads(self._pred.tape.per_example, self.batch)

    def value(self) -> SecretTensor:
        """The loss as a secret 0-d tensor (computed once, on first call)."""
        if self._value is None:
            self._value = self._value_fn()
        return self._value


def _data(pred: Any, what: str) -> SecretTensor:
    x = pred.data if isinstance(pred, Variable) else pred
    if not isinstance(x, SecretTensor):
        raise ShareTypeError(f"{what}: the prediction must be a SecretTensor or a model output, got {type(pred).__name__}")
    return x


def _target(t: Any, shape: tuple[int, ...], what: str) -> SecretTensor | np.ndarray:
    if isinstance(t, Variable):
        t = t.data
    if not isinstance(t, SecretTensor):
        t = np.asarray(t.detach().cpu().numpy() if hasattr(t, "detach") else t, dtype=np.float64)
    if tuple(t.shape) != tuple(shape):
        raise ValueError(f"{what}: target of shape {tuple(t.shape)} for a prediction of shape {tuple(shape)}")
    return t


def _mean_only(what: str, reduction: str, **given: bool) -> None:
    if reduction != "mean":
        raise ConfigError(f"{what}: reduction={reduction!r} is not supported (only 'mean')")
    for k, v in given.items():
        if v:
            raise ConfigError(f"{what}: the {k} argument is not supported")


class CrossEntropyLoss:
    """torch.nn.CrossEntropyLoss for logits (N, C); see the module docstring for targets."""

    def __init__(self, reduction: str = "mean", weight: Any = None, label_smoothing: float = 0.0) -> None:
        _mean_only("CrossEntropyLoss", reduction, weight=weight is not None, label_smoothing=label_smoothing != 0)

    def __call__(self, pred: SecretTensor | Variable, target: Any) -> Loss:
        z = _data(pred, "CrossEntropyLoss")
        if z.ndim != 2:
            raise ValueError(f"CrossEntropyLoss: logits of shape {z.shape}, expected (N, C)")
        n, c = z.shape
        y = target.data if isinstance(target, Variable) else target
        if not isinstance(y, SecretTensor):
            arr = np.asarray(y.detach().cpu().numpy() if hasattr(y, "detach") else y)
            if arr.shape == (n,):
                if arr.dtype.kind not in "iu" or arr.min(initial=0) < 0 or arr.max(initial=0) >= c:
                    raise ValueError(f"CrossEntropyLoss: class indices must be integers in [0, {c}), got dtype "
                                     f"{arr.dtype} and range [{arr.min()}, {arr.max()}]")
                y = np.eye(c)[arr]
            else:
                y = _target(arr, (n, c), "CrossEntropyLoss")
        else:
            y = _target(y, (n, c), "CrossEntropyLoss")

        def grad() -> SecretTensor:
            return F.softmax(z, axis=1) - y

        def value() -> SecretTensor:
            return -(F.log_softmax(z, axis=1) * y).sum() / n

        return Loss(pred, n, grad, value)


class MSELoss:
    """torch.nn.MSELoss (mean over all elements)."""

    def __init__(self, reduction: str = "mean") -> None:
        _mean_only("MSELoss", reduction)

    def __call__(self, pred: SecretTensor | Variable, target: Any) -> Loss:
        x = _data(pred, "MSELoss")
        y = _target(target, x.shape, "MSELoss")
        d = x - y
        return Loss(pred, x.size, lambda: d * 2, lambda: d.square().sum() / x.size)


class BCEWithLogitsLoss:
    """torch.nn.BCEWithLogitsLoss (mean over all elements), targets in [0, 1]."""

    def __init__(self, reduction: str = "mean", weight: Any = None, pos_weight: Any = None) -> None:
        _mean_only("BCEWithLogitsLoss", reduction, weight=weight is not None, pos_weight=pos_weight is not None)

    def __call__(self, pred: SecretTensor | Variable, target: Any) -> Loss:
        z = _data(pred, "BCEWithLogitsLoss")
        y = _target(target, z.shape, "BCEWithLogitsLoss")

        def value() -> SecretTensor:
            softplus = z.relu() + F.log(1.0 + F.exp(-abs(z)))
            return (softplus - z * y).sum() / z.size

        return Loss(pred, z.size, lambda: F.sigmoid(z) - y, value)
