"""Training data held by several parties, and mini-batches.

- :func:`horizontal`: every party holds some rows (samples) with the same columns; the result is
  their concatenation in party order. :func:`vertical`: every party holds some columns
  (features) of the same rows, in an order the parties agreed on beforehand (e.g. sorted by a
  common record id); the result joins the columns in party order. Both first reveal each
  party's array shape (public by nature: the others must know it to take part; 2 rounds), then
  share each party's values (``party.input``: no message).
- :func:`one_hot`: secret one-hot labels from one party's class indices (the owner encodes them
  locally; the others learn only the shape).
- :class:`Batches` / :func:`batches`: mini-batches of secret (or public) arrays, in order or in
  a shuffled order. The permutation is *public*: every party draws the same one from a PRG with
  a seed they agreed on (``seed=party`` tosses a coin, :func:`mpc.nn.agree.agree_seed`;
  ``seed=<int>`` is a public seed, reproducible, e.g. to follow a torch run). Which secret rows
  go into which batch reveals nothing about their values; the order is not secret. A new
  permutation is drawn for every pass over the data (as torch's DataLoader does).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from mpc.dtypes import Int64
from mpc.errors import ConfigError, ShareTypeError
from mpc.net.wire import MAX_NDIM
from mpc.nn.agree import agree_seed
from mpc.nn.tape import Variable
from mpc.prg import PRG
from mpc.tensor.functions import concatenate
from mpc.tensor.secret_tensor import SecretTensor

__all__ = ["Batches", "batches", "horizontal", "vertical", "one_hot", "public_prg", "permutation"]


def public_prg(seed: Any) -> PRG:
    """A PRG for public randomness: ``seed`` an int or bytes every party passes, or a Party (a
    fresh seed agreed by coin tossing: 2 rounds)."""
    if isinstance(seed, PRG):
        return seed
    if hasattr(seed, "reveal") and hasattr(seed, "input"):
        return PRG(agree_seed(seed))
    if isinstance(seed, (bytes, bytearray)):
        return PRG(hashlib.sha256(b"tessera-nn-seed\0" + bytes(seed)).digest()[:16])
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return PRG(hashlib.sha256(b"tessera-nn-seed\0" + int(seed).to_bytes(32, "little", signed=True)).digest()[:16])
    raise ConfigError(f"seed: expected an int, bytes, a Party or a PRG, got {type(seed).__name__}")


def permutation(prg: PRG, n: int) -> np.ndarray:
    """A uniform permutation of range(n) (sorting 64-bit random keys; ties have probability
    below n^2 / 2^65)."""
    return np.argsort(prg.uint64(n), kind="stable").astype(np.int64)


def _rows(a: Any) -> int:
    if isinstance(a, Variable):
        a = a.data
    if not isinstance(a, SecretTensor):
        a = np.asarray(a)
    if a.ndim == 0:
        raise ValueError("batches: arrays must have a first (sample) axis")
    return a.shape[0]


def _take(a: Any, idx: np.ndarray | slice) -> Any:
    if isinstance(a, SecretTensor):
        return a[idx]
    return np.asarray(a)[idx]


class Batches:
    """Iterable of (X_batch, Y_batch) (or X_batch alone when Y is None); see the module."""

    def __init__(self, X: Any, Y: Any = None, batch_size: int = 64, shuffle: bool = False, seed: Any = None,
                 drop_last: bool = False) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ConfigError(f"batch_size: expected a positive integer, got {batch_size!r}")
        if not isinstance(X, SecretTensor) and not isinstance(Y, SecretTensor):
            raise ShareTypeError("batches: X (or Y) must be a SecretTensor")
        self.n = _rows(X)
        if Y is not None and _rows(Y) != self.n:
            raise ValueError(f"batches: X has {self.n} rows but Y has {_rows(Y)}")
        if shuffle and seed is None:
            raise ConfigError("batches: shuffle=True needs seed= (a Party to agree on a fresh seed, or a public "
                              "int); the permutation is public (see mpc.nn.data)")
        self.X, self.Y, self.batch_size, self.drop_last = X, Y, int(batch_size), bool(drop_last)
        self.prg = public_prg(seed) if shuffle else None

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def order(self) -> np.ndarray | None:
        """The next pass's permutation (None without shuffling): draws from the PRG."""
        return permutation(self.prg, self.n) if self.prg is not None else None

    def __iter__(self) -> Iterator[Any]:
        order = self.order()
        for b in range(len(self)):
            lo, hi = b * self.batch_size, min((b + 1) * self.batch_size, self.n)
            idx = slice(lo, hi) if order is None else order[lo:hi]
            xb = _take(self.X, idx)
            yield xb if self.Y is None else (xb, _take(self.Y, idx))


def batches(X: Any, Y: Any = None, batch_size: int = 64, shuffle: bool = False, seed: Any = None,
            drop_last: bool = False) -> Batches:
    """Mini-batches of X (and Y); see :class:`Batches` and the module docstring."""
    return Batches(X, Y, batch_size, shuffle, seed, drop_last)


def _shapes(party, local: Any) -> list[tuple[int, ...] | None]:
    """Every party's array shape (None: it contributes nothing), revealed: 2 rounds."""
    words = np.zeros(MAX_NDIM + 1, dtype=np.int64)
    if local is not None:
        shape = np.shape(local)
        if len(shape) == 0 or len(shape) > MAX_NDIM:
            raise ValueError(f"data: expected an array of 1 to {MAX_NDIM} dimensions, got shape {shape}")
        words[0] = len(shape)
        words[1 : 1 + len(shape)] = shape
    opened = party.reveal(*party.input(words, dtype=Int64()))
    out: list[tuple[int, ...] | None] = []
    for w in opened:
        w = np.asarray(w, dtype=np.int64)
        out.append(None if w[0] == 0 else tuple(int(d) for d in w[1 : 1 + int(w[0])]))
    return out


def _join(party, local: Any, axis: int, dtype: Any, what: str) -> SecretTensor:
    shapes = _shapes(party, local)
    present = [(p, s) for p, s in enumerate(shapes) if s is not None]
    if not present:
        raise ValueError(f"{what}: no party passed any data")
    ndims = {len(s) for _, s in present}
    if len(ndims) != 1 or (axis == 1 and min(ndims) < 2):
        raise ValueError(f"{what}: the parties' arrays have shapes {[s for _, s in present]}")
    for p, s in present:
        other = present[0][1]
        if s[:axis] + s[axis + 1 :] != other[:axis] + other[axis + 1 :]:
            raise ValueError(f"{what}: party {p}'s shape {s} does not match party {present[0][0]}'s {other} "
                             f"outside axis {axis}")
    parts = [party.input(local if p == party.pid else None, owner=p, shape=s, dtype=dtype, check=False)
             for p, s in present]
    return parts[0] if len(parts) == 1 else concatenate(parts, axis=axis)


def horizontal(party, rows: Any, *, dtype: Any = None) -> SecretTensor:
    """This party's rows (None if it has none) joined with the others' in party order."""
    return _join(party, rows, 0, dtype, "horizontal")


def vertical(party, columns: Any, *, dtype: Any = None) -> SecretTensor:
    """This party's columns (None if it has none) joined with the others' in party order; every
    party's array has the same rows, in the same (agreed) order."""
    return _join(party, columns, 1, dtype, "vertical")


def one_hot(party, labels: Any, num_classes: int, owner: int, *, n: int | None = None,
            dtype: Any = None) -> SecretTensor:
    """Secret one-hot rows (n, num_classes) of party ``owner``'s integer labels; the others
    pass ``n``, the number of labels."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ConfigError(f"num_classes: expected a positive integer, got {num_classes!r}")
    if party.pid == owner:
        y = np.asarray(labels)
        if y.ndim != 1 or y.dtype.kind not in "iu" or y.min(initial=0) < 0 or y.max(initial=0) >= num_classes:
            raise ValueError(f"one_hot: labels must be a 1-d integer array in [0, {num_classes})")
        return party.input(np.eye(num_classes)[y], owner=owner, dtype=dtype)
    if n is None:
        raise ValueError(f"one_hot: party {party.pid} is not the owner and must pass n=")
    return party.input(owner=owner, shape=(int(n), int(num_classes)), dtype=dtype)
