"""Comparisons and selections on SecretTensors as module functions: lt..ne, sign, abs, relu,
where, minimum/maximum, max/min, argmax/argmin, sort, clip.

Each is the SecretTensor operator or method of the same name (``lt(x, y)`` is ``x < y``,
``relu(x)`` is ``x.relu()``); either operand of a binary function may be public where NumPy would
accept it, but one must be a SecretTensor. The protocols and their costs are in
:mod:`mpc.engines.compare` (2 parties: 8 rounds per comparison). Comparison results and
``argmax``/``argmin`` are Int64 tensors (0/1, indices); the rest keep the operand's dtype.
``where``, ``minimum`` and ``maximum`` are also ``mpc.where``, ``mpc.minimum``, ``mpc.maximum``.
"""

from __future__ import annotations

from mpc.errors import ShareTypeError
from mpc.tensor.secret_tensor import SecretTensor, where

__all__ = ["lt", "le", "gt", "ge", "eq", "ne", "sign", "abs", "relu", "where", "minimum", "maximum",
           "max", "min", "argmax", "argmin", "sort", "clip"]


def _secret(x: object, what: str) -> SecretTensor:
    if not isinstance(x, SecretTensor):
        raise ShareTypeError(f"{what}: expected a SecretTensor, got {type(x).__name__}")
    return x


def _binary(x: object, y: object, what: str, method: str, reflected: str) -> SecretTensor:
    """x <op> y with either side public: the method of the secret operand (reflected when y is)."""
    if isinstance(x, SecretTensor):
        return getattr(x, method)(y)
    return getattr(_secret(y, f"{what}: at least one operand"), reflected)(x)


def lt(x: object, y: object) -> SecretTensor:
    """[x < y] elementwise (broadcasting); 8 rounds for 2 parties."""
    return _binary(x, y, "lt", "__lt__", "__gt__")


def le(x: object, y: object) -> SecretTensor:
    """[x <= y] = NOT [y < x]."""
    return _binary(x, y, "le", "__le__", "__ge__")


def gt(x: object, y: object) -> SecretTensor:
    """[x > y] = [y < x]."""
    return _binary(x, y, "gt", "__gt__", "__lt__")


def ge(x: object, y: object) -> SecretTensor:
    """[x >= y] = NOT [x < y]."""
    return _binary(x, y, "ge", "__ge__", "__le__")


def eq(x: object, y: object) -> SecretTensor:
    """[x == y]: zero test of x - y (exact for all values); 7 rounds for 2 parties."""
    return _binary(x, y, "eq", "eq", "eq")


def ne(x: object, y: object) -> SecretTensor:
    """[x != y] = NOT [x == y]."""
    return _binary(x, y, "ne", "ne", "ne")


def minimum(x: object, y: object) -> SecretTensor:
    """Elementwise minimum (NumPy broadcasting): 8 rounds for 2 parties."""
    return _binary(x, y, "minimum", "minimum", "minimum")


def maximum(x: object, y: object) -> SecretTensor:
    """Elementwise maximum (NumPy broadcasting): 8 rounds for 2 parties."""
    return _binary(x, y, "maximum", "maximum", "maximum")


def sign(x: SecretTensor) -> SecretTensor:
    """-1, 0 or 1 (NumPy's sign), in x's dtype."""
    return _secret(x, "sign").sign()


def abs(x: SecretTensor) -> SecretTensor:  # noqa: A001 - NumPy's name
    """|x| = x - 2 min(x, 0): 8 rounds for 2 parties."""
    return _secret(x, "abs").__abs__()


def relu(x: SecretTensor) -> SecretTensor:
    """max(x, 0): 8 rounds for 2 parties, no truncation."""
    return _secret(x, "relu").relu()


def clip(x: SecretTensor, lo: object = None, hi: object = None, *,
         with_mask: bool = False) -> SecretTensor | tuple[SecretTensor, SecretTensor]:
    """min(max(x, lo), hi) (``None``: open on that side): 8 rounds for 2 parties; with
    ``with_mask``, also [lo < x < hi] (:meth:`SecretTensor.clip`)."""
    return _secret(x, "clip").clip(lo, hi, with_mask=with_mask)


def max(x: SecretTensor, axis: int | None = None) -> SecretTensor:  # noqa: A001 - NumPy's name
    """Maximum along ``axis`` (all elements when None)."""
    return _secret(x, "max").max(axis)


def min(x: SecretTensor, axis: int | None = None) -> SecretTensor:  # noqa: A001 - NumPy's name
    """Minimum along ``axis`` (all elements when None)."""
    return _secret(x, "min").min(axis)


def argmax(x: SecretTensor, axis: int | None = None) -> SecretTensor:
    """Index (Int64) of the maximum along ``axis``; ties give the first index."""
    return _secret(x, "argmax").argmax(axis)


def argmin(x: SecretTensor, axis: int | None = None) -> SecretTensor:
    """Index (Int64) of the minimum along ``axis``; ties give the first index."""
    return _secret(x, "argmin").argmin(axis)


def sort(x: SecretTensor, axis: int = -1) -> SecretTensor:
    """Ascending sort along ``axis`` (Batcher's network)."""
    return _secret(x, "sort").sort(axis)
