"""One flat buffer for several share arrays (one message for many openings), and back.

Any dtype (shares of every engine); the order is arrays[0] flattened, then arrays[1], ...
A single contiguous array is returned as a view, never copied.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["concat_flat", "split_flat"]


def concat_flat(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """The arrays flattened and concatenated (a view of a single contiguous one)."""
    if len(arrays) == 1:
        return np.ascontiguousarray(arrays[0]).reshape(-1)
    return np.concatenate([np.asarray(a).reshape(-1) for a in arrays])


def split_flat(flat: np.ndarray, shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
    """Views of ``flat`` cut into arrays of ``shapes`` (the inverse of :func:`concat_flat`)."""
    out, pos = [], 0
    for s in shapes:
        size = math.prod(s)
        out.append(flat[pos : pos + size].reshape(s))
        pos += size
    return out
