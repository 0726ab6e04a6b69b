"""Encodings of plaintext values into the ring Z_2^64.

- :class:`Int64`: two's complement integers in [-2^63, 2^63).
- :class:`Fixed`: fixed point with ``f`` fractional bits (default 16): x -> round(x * 2^f) in
  two's complement, so the representable range is [-2^(63-f), 2^(63-f)) with resolution 2^-f.
  A product of two Fixed values carries 2f fractional bits (scale s = 2f) until it is truncated.

Encoding never wraps silently: a value outside the range, or a NaN/inf, is a ``ValueError``
naming the range. Computing can leave it: every operation is exact in the ring, and a result
whose true value leaves the range *wraps* mod 2^64 with no error (semi2k cannot see its
values). Where each operation is exact, for a value v at scale s (ring integer v 2^s; s = 0 for
Int64, f for Fixed, 2f for an untruncated product), with f = 16 in parentheses:

- input, public operands: |v| < 2^(63-s) (2^47): ValueError outside;
- ``+ - neg``, ``sum``, ``mean``'s sum, ``cumsum``, a scale-f operand lifted to 2f to meet a
  product: result |v| < 2^(63-s) (2^47 at f, 2^31 at 2f);
- ``*``, ``square``, ``@``, ``dot``, ``outer``, ``conv2d`` of Fixed values (scale 2f): the exact
  product or dot product |v| < 2^(63-2f) (2^31); Int64: the integer result in [-2^63, 2^63);
- truncation and division, exact for ring values in [-2^62, 2^62): a product fed to the next
  product or to ``.truncate()``, |v| < 2^(62-2f) (2^30); ``x / d`` and ``mean`` at scale s,
  |v| < 2^(62-s) (2^46 at f); ``x // c``, ``x % c``, ``divmod`` and Int64's ``x >> k`` (exact):
  |v| < 2^(62-s) and |c| 2^s <= 2^61 (2^62 for a power of two);
- comparisons and everything built on them (``< <= > >= == !=``, ``max``, ``min``, ``argmax``,
  ``sort``, ``relu``, ``abs``, ``clip``, ``maximum``, ``where``): |x - y| < 2^(63-s) (2^47 at f);
- ``reciprocal``, ``divide``, ``sqrt``, ``rsqrt``, ``log`` (:mod:`mpc.functions`): |x| < 2^(60-s)
  (2^44 at f; 2^28 for an untruncated product); ``exp``, ``sigmoid``, ``tanh``, ``softmax``:
  any value (they clamp or saturate).

Finding a wrap: run the protocol on the cleartext debug engine (``engine="cleartext"``,
``mpcrun --emulate``), which reports each of these cases at the user's line, or assert a bound
under any engine with ``mpc.check_range(x, bound=...)`` (one opened bit). See docs/debugging.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mpc.errors import InputError

_TWO63 = float(2**63)


class DType:
    """Base of the ring encodings; subclasses are immutable and compare by value."""

    frac_bits = 0

    def encode(self, x) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def decode(self, u: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class Int64(DType):
    """Integers in [-2^63, 2^63) as ring elements (two's complement). Sums, differences and
    products past that range wrap mod 2^64, like NumPy's int64 (see the module docstring)."""

    frac_bits = 0

    @property
    def min_value(self) -> int:
        return -(2**63)

    @property
    def max_value(self) -> int:
        return 2**63 - 1

    def encode(self, x) -> np.ndarray:
        a = np.asarray(x)
        if a.dtype == np.uint64:
            return np.array(a, dtype=np.uint64)
        if a.dtype == object or a.dtype.kind == "f":
            a = _integers(a)
        elif a.dtype.kind not in "iub":
            raise InputError(f"Int64 cannot encode values of dtype {a.dtype}")
        return a.astype(np.int64).view(np.uint64) if a.dtype != np.int64 else a.view(np.uint64).copy()

    def decode(self, u: np.ndarray) -> np.ndarray:
        return np.asarray(u, dtype=np.uint64).view(np.int64)

    def __str__(self) -> str:
        return "Int64"


@dataclass(frozen=True)
class Fixed(DType):
    """Fixed point with ``f`` fractional bits over Z_2^64: |v| < 2^(63-f) (:attr:`max_abs`);
    a product |v| < 2^(62-2f) to be truncated exactly (2^30 at f = 16; module docstring)."""

    f: int = 16

    def __post_init__(self) -> None:
        if not isinstance(self.f, int) or isinstance(self.f, bool) or not 0 <= self.f <= 40:
            raise InputError(f"Fixed: fractional bits f must be an integer in [0, 40], got {self.f!r}")

    @property
    def frac_bits(self) -> int:  # type: ignore[override]
        return self.f

    @property
    def scale(self) -> float:
        return float(2**self.f)

    @property
    def max_abs(self) -> float:
        """Values must lie in [-max_abs, max_abs)."""
        return float(2 ** (63 - self.f))

    def encode(self, x) -> np.ndarray:
        a = np.asarray(x, dtype=np.float64) if not _is_int_array(x) else None
        if a is None:  # exact path for integers: no float rounding of large values
            ints = _integers(np.asarray(x))
            lim = 2 ** (63 - self.f)
            if ints.size and (int(ints.max()) >= lim or int(ints.min()) < -lim):
                raise InputError(f"Fixed(f={self.f}) encodes values in [-2^{63 - self.f}, 2^{63 - self.f}); got a value outside it")
            return (ints.astype(np.int64) << np.int64(self.f)).view(np.uint64)
        if not np.all(np.isfinite(a)):
            raise InputError("Fixed cannot encode NaN or infinity")
        scaled = np.rint(a * self.scale)
        if scaled.size and (scaled.max() >= _TWO63 or scaled.min() < -_TWO63):
            raise InputError(
                f"Fixed(f={self.f}) encodes values in [-2^{63 - self.f}, 2^{63 - self.f}) "
                f"(about +-{self.max_abs:.3g}); got a value outside it"
            )
        return scaled.astype(np.int64).view(np.uint64)

    def decode(self, u: np.ndarray) -> np.ndarray:
        return np.asarray(u, dtype=np.uint64).view(np.int64) / self.scale

    def __str__(self) -> str:
        return f"Fixed(f={self.f})"


def _is_int_array(x) -> bool:
    a = np.asarray(x)
    return a.dtype.kind in "iub" or (a.dtype == object and all(isinstance(v, int) for v in a.flat))


def _integers(a: np.ndarray) -> np.ndarray:
    """Exact integer conversion with a range check (object arrays of Python ints, integral floats)."""
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or np.any(a != np.rint(a)):
            raise InputError("Int64 encodes integers only; got a non-integral or non-finite value")
        if a.size and (a.max() >= _TWO63 or a.min() < -_TWO63):
            raise InputError("Int64 encodes values in [-2^63, 2^63); got a value outside it")
        return a.astype(np.int64)
    if a.dtype == object:
        flat = [int(v) for v in a.flat]
        if any(not -(2**63) <= v < 2**63 for v in flat):
            raise InputError("Int64 encodes values in [-2^63, 2^63); got a value outside it")
        return np.array(flat, dtype=np.int64).reshape(a.shape)
    if a.dtype == np.uint64 and a.size and a.max() >= np.uint64(2**63):
        raise InputError("Int64 encodes values in [-2^63, 2^63); got a uint64 value >= 2^63")
    return a.astype(np.int64)
