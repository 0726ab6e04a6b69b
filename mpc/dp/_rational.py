"""Exact conversion of DP parameters (scales, sigmas, budgets) to fractions.

A float parameter is converted to the rational it denotes exactly (``Fraction(0.1)`` is
3602879701896397/36028797018963968, not 1/10): the samplers then realise exactly the
distribution of that parameter, never a rounded neighbour. Strings go through ``Fraction``
(``"0.1"`` is 1/10), integers and Fractions pass unchanged. Non-finite or non-positive values are
rejected with a message naming the argument.
"""

from __future__ import annotations

import decimal
import numbers
from fractions import Fraction

from mpc.errors import ConfigError


def to_fraction(value: object, name: str, *, positive: bool = True, allow_zero: bool = False) -> Fraction:
    """``value`` as an exact Fraction; ConfigError naming ``name`` if it is not a finite number
    (or not > 0 with ``positive``; ``allow_zero`` admits 0)."""
    if isinstance(value, bool):
        raise ConfigError(f"{name}: expected a number, got {value!r}")
    try:
        if isinstance(value, Fraction):
            out = value
        elif isinstance(value, numbers.Integral):
            out = Fraction(int(value))
        elif isinstance(value, (numbers.Real, decimal.Decimal, str)):
            out = Fraction(value)  # exact for floats and Decimals
        else:
            raise TypeError
    except (TypeError, ValueError, OverflowError, ZeroDivisionError):
        raise ConfigError(f"{name}: expected a finite number, got {value!r}") from None
    if positive and (out < 0 or (out == 0 and not allow_zero)):
        raise ConfigError(f"{name}: expected a number > 0{' or 0' if allow_zero else ''}, got {value!r}")
    return out


def to_size(size: object, name: str = "size") -> tuple[int, ...]:
    """A NumPy-style size (int or tuple of ints >= 0) as a shape tuple."""
    dims = (size,) if isinstance(size, numbers.Integral) else size
    try:
        shape = tuple(dims)  # type: ignore[arg-type]
    except TypeError:
        raise ConfigError(f"{name}: expected an int or a tuple of ints, got {size!r}") from None
    if any(isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 0 for d in shape):
        raise ConfigError(f"{name}: expected non-negative integer dimensions, got {size!r}")
    return tuple(int(d) for d in shape)
