"""Packed bits: 64 bits per uint64 word, bit j of word w is element 64 w + j (little-endian)."""

from __future__ import annotations

import numpy as np

__all__ = ["POW2", "lane_masks", "nwords"]

# The weight 2^t of bit t = 0..63 in a word; read as GF(2^64) elements, the monomials X^t.
POW2 = np.uint64(1) << np.arange(64, dtype=np.uint64)


def nwords(n: int) -> int:
    """Words needed for n packed bits (ceil(n / 64))."""
    return -(-int(n) // 64)


def lane_masks(n: int) -> np.ndarray:
    """The live lanes of each of the nwords(n) words holding n packed elements: all ones but in
    the last word, whose lanes from n % 64 on are padding (uint64 (nwords(n),))."""
    masks = np.full(nwords(n), np.uint64(0xFFFFFFFFFFFFFFFF), dtype=np.uint64)
    if int(n) % 64:
        masks[-1] = np.uint64((1 << (int(n) % 64)) - 1)
    return masks
