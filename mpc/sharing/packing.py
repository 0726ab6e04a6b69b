"""Packed bits: 64 bits per uint64 word, bit j of word w is element 64 w + j (little-endian)."""

from __future__ import annotations

import numpy as np

__all__ = ["POW2", "nwords"]

# The weight 2^t of bit t = 0..63 in a word; read as GF(2^64) elements, the monomials X^t.
POW2 = np.uint64(1) << np.arange(64, dtype=np.uint64)


def nwords(n: int) -> int:
    """Words needed for n packed bits (ceil(n / 64))."""
    return -(-int(n) // 64)
