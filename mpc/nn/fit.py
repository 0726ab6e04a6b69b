"""``mpc.nn.fit``: the training loop, with a progress bar.

Per epoch and batch: forward in training mode, loss, ``zero_grad``, ``backward``, ``step``. The
batch order is a public permutation (:mod:`mpc.nn.data`); with ``seed=None`` the parties toss a
coin for it once per call (2 rounds).

Revealing the loss is a leak: the loss is a function of the secret data and weights, and a
curve of losses tells every party how well the model fits the others' data (and, for small
batches, something about individual samples). ``fit`` reveals nothing unless asked:
``reveal_loss=True`` opens one number per epoch (the mean of the batch losses) to ``loss_to``
(a party id, or every party when None), at the cost of computing each batch's loss
(:meth:`mpc.nn.losses.Loss.value`: a log_softmax for the cross entropy).
"""

from __future__ import annotations

from typing import Any

from mpc.errors import ConfigError
from mpc.nn.data import Batches
from mpc.nn.module import EncryptedModule
from mpc.nn.optim import Optimizer
from mpc.runtime.progress import ProgressBar

__all__ = ["fit"]


class _Progress:
    """One line per epoch, redrawn per batch on a terminal (party 0 only by default)."""

    def __init__(self, bar: ProgressBar, epochs: int, batches: int) -> None:
        self.epochs, self.batches, self.bar = epochs, batches, bar

    def batch(self, epoch: int, b: int) -> None:
        self.bar.update(b, f"epoch {epoch + 1}/{self.epochs}")

    def epoch(self, epoch: int, loss: float | None) -> None:
        shown = "" if loss is None else f", loss {loss:.4f} (revealed)"
        self.bar.finish(f"epoch {epoch + 1}/{self.epochs}: {self.batches} batches, {self.bar.elapsed():.1f} s{shown}")


def fit(enc: EncryptedModule, X: Any, Y: Any, *, epochs: int = 1, batch_size: int = 64, loss: Any,
        optimizer: Optimizer, shuffle: bool = True, seed: Any = None, reveal_loss: bool = False,
        loss_to: int | None = None, progress: bool | str = True, stream=None) -> list[float | None]:
    """Train ``enc`` on (X, Y) (see the module docstring); returns the revealed mean loss per
    epoch (None where not revealed, or at the parties ``loss_to`` excludes).

    ``progress``: True prints at party 0, "all" at every party, False nowhere (to ``stream``,
    default stderr)."""
    if not isinstance(enc, EncryptedModule):
        raise ConfigError(f"fit: expected the EncryptedModule from mpc.nn.from_torch, got {type(enc).__name__}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ConfigError(f"epochs: expected a positive integer, got {epochs!r}")
    if not isinstance(optimizer, Optimizer):
        raise ConfigError(f"optimizer: expected mpc.nn.SGD or mpc.nn.Adam, got {type(optimizer).__name__}")
    party = enc.party
    data = Batches(X, Y, batch_size, shuffle, (party if seed is None else seed) if shuffle else None)
    shown = ProgressBar.at(progress, party.pid, len(data), stream)
    bar = _Progress(shown, epochs, len(data)) if shown else None
    history: list[float | None] = []
    was_training = enc.training
    enc.train()
    try:
        for epoch in range(epochs):
            total = None
            for b, (xb, yb) in enumerate(data):
                out = loss(enc(xb), yb)
                optimizer.zero_grad()
                out.backward()
                optimizer.step()
                if reveal_loss:
                    total = out.value() if total is None else total + out.value()
                if bar:
                    bar.batch(epoch, b + 1)
            shown = None
            if reveal_loss and total is not None:
                value = party.reveal(total / len(data), to=loss_to)
                shown = None if value is None else float(value)
            history.append(shown)
            if bar:
                bar.epoch(epoch, shown)
    finally:
        enc.train(was_training)
    return history
