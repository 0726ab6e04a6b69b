"""Public operands of SecretTensor arithmetic: conversion to NumPy and encoding into Z_2^64.

Public values (Python scalars and lists, NumPy arrays, torch tensors) are the same at every
party. A float is encoded at the fixed-point scale it is combined with (round(c * 2^s)); an
integer-valued operand is kept an integer so that multiplying by it needs no truncation.
Out-of-range values are a ValueError naming the range, raised before any communication.
"""

from __future__ import annotations

import numpy as np

from mpc.dtypes import DType, Int64
from mpc.errors import InputError, ShareTypeError

_TWO63 = float(2**63)


def to_numpy(value: object, what: str = "value") -> np.ndarray:
    """A NumPy view of a public value; torch is imported only when given a torch tensor."""
    if isinstance(value, np.ndarray):
        arr = value
    elif type(value).__module__.startswith("torch"):
        arr = value.detach().cpu().numpy()  # type: ignore[attr-defined]
    elif isinstance(value, (bool, int, float, np.generic, list, tuple)):
        arr = np.asarray(value)
    else:
        raise ShareTypeError(f"{what}: expected a number, a list, a numpy array or a torch tensor, got {type(value).__name__}")
    if arr.dtype.kind not in "biuf" and not (arr.dtype == object and _all_ints(arr)):
        raise ShareTypeError(f"{what}: expected numeric values, got an array of dtype {arr.dtype}")
    return arr


def _all_ints(arr: np.ndarray) -> bool:
    return all(isinstance(v, int) for v in arr.flat)


def is_integral(arr: np.ndarray) -> bool:
    """True when every value is an integer (so it can be applied exactly, without a scale)."""
    if arr.dtype.kind in "biu" or arr.dtype == object:
        return True
    return bool(np.all(np.isfinite(arr)) and np.all(arr == np.rint(arr)) and np.all(np.abs(arr) < _TWO63))


def encode_int(arr: np.ndarray) -> np.ndarray:
    """Integers as ring elements (two's complement); ValueError outside [-2^63, 2^64)."""
    if arr.dtype == np.uint64:
        return np.array(arr, dtype=np.uint64)
    if arr.dtype == object:
        flat = [int(v) for v in arr.flat]
        if any(not -(2**63) <= v < 2**64 for v in flat):
            raise InputError("public integer outside [-2^63, 2^64)")
        return np.array([v % (1 << 64) for v in flat], dtype=np.uint64).reshape(arr.shape)
    return Int64().encode(arr)


def encode_fixed(arr: np.ndarray, bits: int) -> np.ndarray:
    """round(arr * 2^bits) as ring elements; ValueError when it does not fit in [-2^63, 2^63)."""
    if arr.dtype.kind in "biu" or arr.dtype == object:
        ints = [int(v) for v in arr.flat]
        scaled = [v << bits for v in ints]
        if any(not -(2**63) <= v < 2**63 for v in scaled):
            raise InputError(f"public value too large for {bits} fractional bits (|value| * 2^{bits} >= 2^63)")
        return np.array(scaled, dtype=np.int64).reshape(arr.shape).view(np.uint64)
    a = np.asarray(arr, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise InputError("public value is NaN or infinite")
    scaled = np.rint(a * float(2**bits))
    if scaled.size and (scaled.max() >= _TWO63 or scaled.min() < -_TWO63):
        raise InputError(f"public value too large for {bits} fractional bits (|value| * 2^{bits} >= 2^63)")
    return scaled.astype(np.int64).view(np.uint64)


def encode_public(arr: np.ndarray, dtype: DType, scale: int) -> np.ndarray:
    """A public operand for addition with a tensor of ``dtype`` at ``scale`` fractional bits."""
    if isinstance(dtype, Int64):
        if not is_integral(arr):
            raise ShareTypeError("an Int64 tensor cannot be combined with non-integral public values; "
                                 "convert it with .astype(Fixed())")
        return encode_int(arr if arr.dtype.kind != "f" else arr.astype(np.int64))
    return encode_fixed(arr, scale)


def decode(values: np.ndarray, dtype: DType, scale: int) -> np.ndarray:
    """Opened ring elements to plaintext: int64 for Int64, float64 for Fixed (exact at any scale
    up to float64 precision)."""
    signed = np.asarray(values, dtype=np.uint64).view(np.int64)
    if isinstance(dtype, Int64):
        return signed.copy()
    return signed / float(2**scale)
