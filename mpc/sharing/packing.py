"""Packed bits: 64 bits per uint64 word, bit j of word w is element 64 w + j (little-endian)."""

from __future__ import annotations

__all__ = ["nwords"]


def nwords(n: int) -> int:
    """Words needed for n packed bits (ceil(n / 64))."""
    return -(-int(n) // 64)
