"""Authenticated shares (SPDZ2k): a value share and a MAC share in Z_2^128, one record per element.

SPDZ2k (Cramer, Damgard, Escudero, Scholl, Xing, "SPDZ2k: Efficient MPC mod 2^k for Dishonest
Majority", CRYPTO 2018) with k = 64 and s = 64: a value x in Z_2^64 is shared in Z_2^(k+s) =
Z_2^128 as x_0 + ... + x_{n-1} = x' with x' = x mod 2^64 (the upper 64 bits of x' carry no
meaning), and each party also holds a MAC share m_i with sum m_i = alpha * x' mod 2^128, where
alpha = sum alpha_i is the global MAC key and party i holds alpha_i in Z_2^64.

Layout: one NumPy structured element of 32 bytes per share, :data:`AUTH` (``"v"``: the value
share, ``"m"``: the MAC share, each a Z_2^128 element as two uint64 words (lo, hi), the
``(..., 2)`` layout of the Z_2^128 kernels). NumPy's structural operations (reshape, indexing,
stack, concatenate, padding with zeros) work on records as on any dtype, so the tensor layer
handles these shares as it handles semi2k's uint64 shares; all-zero records share zero with a
zero MAC. :func:`pairs` views an array of records as ``(..., 2, 2)`` words, value and MAC as two
Z_2^128 elements, so the elementwise Z_2^128 kernels apply to both at once.
This module does no I/O.
"""

from __future__ import annotations

import numpy as np

__all__ = ["AUTH", "MASK64", "cumsum128", "from_pairs", "lift64", "low64", "pack", "pairs", "ring128", "sum128"]

AUTH = np.dtype([("v", "<u8", (2,)), ("m", "<u8", (2,))])
MASK64 = (1 << 64) - 1
_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)


def pairs(a: np.ndarray) -> np.ndarray:
    """An AUTH array as ``(..., 2, 2)`` uint64 words: ``[..., 0, :]`` value, ``[..., 1, :]`` MAC
    (a view when ``a`` is contiguous)."""
    a = np.ascontiguousarray(a) if a.ndim else np.asarray(a, order="C")
    return a.reshape(-1).view(np.uint64).reshape(*a.shape, 2, 2)


def from_pairs(w: np.ndarray) -> np.ndarray:
    """The inverse of :func:`pairs`: ``(..., 2, 2)`` uint64 words as an AUTH array (a view)."""
    w = np.ascontiguousarray(w, dtype=np.uint64)
    return w.reshape(-1).view(AUTH).reshape(w.shape[:-2])


def pack(values: np.ndarray, macs: np.ndarray) -> np.ndarray:
    """An AUTH array from Z_2^128 value and MAC shares (each ``(..., 2)`` uint64)."""
    out = np.empty(values.shape[:-1], dtype=AUTH)
    out["v"] = values
    out["m"] = macs
    return out


def lift64(x: np.ndarray) -> np.ndarray:
    """uint64 ring values as Z_2^128 elements (zero-extended): ``(..., 2)``."""
    x = np.asarray(x, dtype=np.uint64)
    out = np.zeros((*x.shape, 2), dtype=np.uint64)
    out[..., 0] = x
    return out


def low64(x: np.ndarray) -> np.ndarray:
    """Z_2^128 elements reduced mod 2^64 (the SPDZ2k value of an opened element)."""
    return np.ascontiguousarray(x[..., 0])


def ring128(value: int, shape: tuple[int, ...] = ()) -> np.ndarray:
    """A Python integer (any sign) as a Z_2^128 array of ``shape`` filled with it."""
    v = int(value) % (1 << 128)
    out = np.empty((*shape, 2), dtype=np.uint64)
    out[..., 0] = v & MASK64
    out[..., 1] = v >> 64
    return out


def sum128(w: np.ndarray, axis: int | tuple[int, ...], keepdims: bool = False) -> np.ndarray:
    """Sum of Z_2^128 elements (``(..., 2)`` words; ``axis`` counts the element axes) mod 2^128.

    The low words are summed as two 32-bit halves, each sum exact in 64 bits for fewer than 2^32
    terms, and recombined with the carry; the high words wrap mod 2^64 as they should."""
    axis = (axis,) if isinstance(axis, int) else tuple(axis)
    lo, hi = w[..., 0], w[..., 1]
    parts = [np.sum(p, axis=axis, dtype=np.uint64, keepdims=keepdims) for p in (lo & _M32, lo >> _S32, hi)]
    return _recombine(*parts)


def cumsum128(w: np.ndarray, axis: int) -> np.ndarray:
    """Cumulative sum of Z_2^128 elements along the element axis ``axis`` (as :func:`sum128`)."""
    lo, hi = w[..., 0], w[..., 1]
    return _recombine(*(np.cumsum(p, axis=axis, dtype=np.uint64) for p in (lo & _M32, lo >> _S32, hi)))


def _recombine(s0: np.ndarray, s1: np.ndarray, sh: np.ndarray) -> np.ndarray:
    """(sum of low halves) + 2^32 (sum of high halves of the low words) + 2^64 (sum of high words)."""
    with np.errstate(over="ignore"):
        low = s0 + ((s1 & _M32) << _S32)
        carry = (low < s0).astype(np.uint64)
        out = np.empty((*np.shape(low), 2), dtype=np.uint64)
        out[..., 0] = low
        out[..., 1] = sh + (s1 >> _S32) + carry
    return out
