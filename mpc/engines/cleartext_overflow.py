"""Overflow detection for the cleartext debug engine: exact range tests and the report policy.

Every encoding of :mod:`mpc.dtypes` lives in Z_2^64 read as two's complement, so a ring result
is *wrong* (differs from the integer the user meant) exactly when the true integer result leaves
[-2^63, 2^63). The real engines cannot notice: they compute on shares, and wrap silently. The
cleartext engine holds the values, so it tests each result against the true integer, exactly
(no false alarms at the boundary, none missed):

- sums and differences (:func:`add_wraps`, :func:`sub_wraps`, :func:`neg_wraps`): the sign rule
  of two's-complement overflow;
- elementwise products (:func:`product_wraps`): a float64 estimate decides all but the elements
  within 2^-40 (relative) of 2^63, which are decided with Python integers;
- sums along axes and prefix sums (:func:`sum_wraps`, :func:`cumsum_wraps`): the 64-bit words
  split into 32-bit halves, summed without overflow and recombined;
- matrix products (:func:`matmul_wraps`): float64 products of |x| and |y| bound every entry; the
  entries the bound cannot decide are summed with Python integers;
- truncation and division inputs (:func:`outside`): semi2k's truncation is exact on
  [-2^62, 2^62) only (:mod:`mpc.engines.semi2k`).

:class:`Monitor` turns a failed test into the configured report: ``"warn"`` (a
:class:`~mpc.errors.RangeWarning` pointing at the user's line, from party 0 only, so n threads
do not print n copies), ``"raise"`` (a :class:`~mpc.errors.RangeError` on every party, so all stop
at the same operation) or ``"ignore"``. A report names the operation, the shape, how many
elements failed, the first one's index and the magnitude of its true value (this is a debugging
engine: it must never see real secrets).
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from mpc.errors import ConfigError, RangeError, RangeWarning

__all__ = [
    "POLICIES", "Monitor", "add_wraps", "cumsum_wraps", "matmul_wraps", "neg_wraps", "outside",
    "product_wraps", "signed", "signed_int", "sub_wraps", "sum_wraps",
]

POLICIES = ("warn", "raise", "ignore")
_TWO63 = 2.0**63
_MIN = np.int64(-(2**63))
_LOW32 = np.int64(0xFFFFFFFF)
_PACKAGE = str(Path(__file__).resolve().parents[1]) + os.sep  # frames inside the mpc package are not the user's


def signed(x: np.ndarray) -> np.ndarray:
    """A ring array read as two's-complement int64 (a view)."""
    return np.asarray(x, dtype=np.uint64).view(np.int64)


def signed_int(c: int) -> int:
    """A public ring integer (any Python int, reduced mod 2^64) read as two's complement."""
    c %= 1 << 64
    return c - (1 << 64) if c >> 63 else c


# ----------------------------------------------------------------------------- exact tests


def add_wraps(x: np.ndarray, y: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Where r = x + y (ring) differs from the integer sum: both operands' signs differ from r's."""
    sx, sy, sr = signed(x), signed(y), signed(r)
    return np.asarray(((sx ^ sr) & (sy ^ sr)) < 0)


def sub_wraps(x: np.ndarray, y: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Where r = x - y (ring) differs from the integer difference: x, y of different signs and r's
    sign not x's."""
    sx, sy, sr = signed(x), signed(y), signed(r)
    return np.asarray(((sx ^ sy) & (sx ^ sr)) < 0)


def neg_wraps(x: np.ndarray) -> np.ndarray:
    """Where -x wraps: only x = -2^63."""
    return np.asarray(signed(x) == _MIN)


def outside(x: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Where the two's-complement value is outside [lo, hi)."""
    s = signed(x)
    return np.asarray((s < lo) | (s >= hi))


def _exact_fits(values) -> bool:
    return -(1 << 63) <= values < 1 << 63


def product_wraps(x: np.ndarray, y: np.ndarray | int) -> np.ndarray:
    """Where the integer product x * y (elementwise, broadcast; y may be a Python int read as two's
    complement) is outside [-2^63, 2^63)."""
    sy = np.int64(signed_int(y)) if isinstance(y, (int, np.integer)) else signed(y)
    sx, sy = np.broadcast_arrays(signed(x), sy)
    shape = sx.shape
    sx, sy = sx.reshape(-1), sy.reshape(-1)
    est = np.abs(sx.astype(np.float64) * sy.astype(np.float64))
    bad = est > _TWO63 * (1 + 2.0**-40)
    for i in np.flatnonzero((est >= _TWO63 * (1 - 2.0**-40)) & ~bad):  # near 2^63: Python integers decide
        bad[i] = not _exact_fits(int(sx[i]) * int(sy[i]))
    return bad.reshape(shape)


def _split_sum(x: np.ndarray, fn) -> np.ndarray:
    """``fn`` (a sum or prefix sum over int64) of x, computed exactly as hi * 2^32 + lo with each
    half summed in int64 (no overflow for fewer than 2^31 terms); returns hi + carry, which must
    lie in [-2^31, 2^31) for the total to fit in 64 bits."""
    s = signed(x)
    hi = fn(s >> np.int64(32))
    lo = fn(s & _LOW32)
    return np.asarray(hi + (lo >> np.int64(32)))


def sum_wraps(x: np.ndarray, axis: tuple[int, ...], keepdims: bool = False) -> np.ndarray:
    """Where the integer sum over ``axis`` is outside [-2^63, 2^63) (the result's shape)."""
    top = _split_sum(x, lambda a: np.sum(a, axis=axis, dtype=np.int64, keepdims=keepdims))
    return np.asarray((top < -(2**31)) | (top >= 2**31))


def cumsum_wraps(x: np.ndarray, axis: int) -> np.ndarray:
    """Where a prefix sum along ``axis`` is outside [-2^63, 2^63)."""
    top = _split_sum(x, lambda a: np.cumsum(a, axis=axis, dtype=np.int64))
    return np.asarray((top < -(2**31)) | (top >= 2**31))


def matmul_wraps(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Where an entry of the integer matrix product x @ y ((m,k)@(k,n), or batched) is outside
    [-2^63, 2^63).

    |x| @ |y| in float64 bounds every entry's magnitude; its rounding error, and that of the float
    product x @ y, is below (k + 4) 2^-52 times the bound, so entries whose estimate is that far
    from 2^63 are decided, and the others are summed with Python integers."""
    sx, sy = signed(x), signed(y)
    fx, fy = sx.astype(np.float64), sy.astype(np.float64)
    bound = np.abs(fx) @ np.abs(fy)
    err = bound * ((x.shape[-1] + 4) * 2.0**-52)
    if not (bound + err >= _TWO63).any():
        return np.zeros(bound.shape, dtype=bool)
    est = np.abs(fx @ fy)
    bad = est - err >= _TWO63
    unsure = (est + err >= _TWO63) & ~bad
    for idx in zip(*np.nonzero(unsure), strict=True):
        row, col = sx[idx[:-1]], sy[(*idx[:-2], slice(None), idx[-1])]
        bad[idx] = not _exact_fits(sum(int(a) * int(b) for a, b in zip(row.tolist(), col.tolist(), strict=True)))
    return bad


# ----------------------------------------------------------------------------- reporting


def _user_frame():
    """The innermost frame outside the mpc package (the user's line), or the outermost inside it."""
    frame = sys._getframe(1)
    last = frame
    while frame is not None:
        if not frame.f_code.co_filename.startswith(_PACKAGE):
            return frame
        last = frame
        frame = frame.f_back
    return last


class Monitor:
    """One party's overflow policy and reports (see the module docstring)."""

    def __init__(self, pid: int, policy: str = "warn") -> None:
        self.pid = pid
        self.policy = check_policy(policy)

    def check(self, op: str, bad: np.ndarray, problem: str,
              magnitude: Callable[[], np.ndarray] | None = None) -> None:
        """Report the elements where ``bad`` is set (nothing when none is): ``op`` names the
        operation, ``problem`` what is wrong with them (plural), ``magnitude`` gives (only when
        there is something to report) the absolute true values, ``bad``'s shape, for the message."""
        if self.policy == "ignore" or not bad.any():
            return
        count = int(np.count_nonzero(bad))
        first = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), bad.shape)) if bad.ndim else ()
        size = ""
        if magnitude is not None:
            value = float(np.asarray(magnitude())[first])
            size = f", |value| ~ 2^{math.log2(max(value, 1.0)):.1f} in ring units"
        text = (f"cleartext: {op} of shape {bad.shape}: {count} of {bad.size} {problem}; first at index "
                f"{first}{size}. The real engines compute a wrong value here without notice.")
        if self.policy == "raise":
            raise RangeError(text)
        if self.pid == 0:  # every party sees the same values: one report, not n
            frame = _user_frame()
            registry = frame.f_globals.setdefault("__warningregistry__", {})
            warnings.warn_explicit(text, RangeWarning, frame.f_code.co_filename, frame.f_lineno,
                                   module=frame.f_globals.get("__name__"), registry=registry)


    @contextlib.contextmanager
    def suspended(self) -> Iterator[None]:
        """No reports inside the block: for ring arithmetic that wraps on purpose."""
        saved, self.policy = self.policy, "ignore"
        try:
            yield
        finally:
            self.policy = saved


def check_policy(policy: object) -> str:
    if policy not in POLICIES:
        raise ConfigError(f"overflow: expected one of {', '.join(POLICIES)}, got {policy!r}")
    return str(policy)
