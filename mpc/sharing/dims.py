"""The shape arguments of share arrays: validated once, before any message or allocation.

This module does no I/O.
"""

from __future__ import annotations

import numpy as np

__all__ = ["dims"]


def dims(shape: object, what: str, error: type[Exception] = ValueError) -> tuple[int, ...]:
    """``shape`` (an integer, or a sequence of integers) as a tuple of ints, each >= 0; else
    ``error`` naming ``what``. Booleans and fractional values are refused, not converted: a
    fractional dimension truncated by int() would be another shape than the one meant."""
    parts = (shape,) if isinstance(shape, (int, np.integer)) else shape
    try:
        parts = tuple(parts)  # type: ignore[arg-type]
    except TypeError:
        parts = None
    if parts is None or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 0 for d in parts):
        raise error(f"{what}: expected an integer or a sequence of integers >= 0, got {shape!r}")
    return tuple(int(d) for d in parts)
