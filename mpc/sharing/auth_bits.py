"""Authenticated bits: XOR-shared bits with SPDZ-style MACs over GF(2^64) (spdz2k's boolean side).

The binary MAC scheme of the SPDZ family over GF(2^k) (Frederiksen, Keller, Orsini, Scholl, "A
unified approach to MPC with preprocessing using OT", ASIACRYPT 2015 -- the "TinyOT"/"Tinier"
line; Keller, Orsini, Scholl, "MASCOT", CCS 2016, for the binary field case): a bit b is shared as
b = b_0 ^ ... ^ b_{n-1}, and party i also holds a MAC share m_i in GF(2^64) with
m_0 ^ ... ^ m_{n-1} = b * Delta, where Delta = Delta_0 ^ ... ^ Delta_{n-1} is the global binary MAC
key and party i holds Delta_i. GF(2^64) = GF(2)[X] / (X^64 + X^4 + X^3 + X + 1); an element is a
uint64 whose bit i is the coefficient of X^i (the kernels' ``gf64_*`` in :mod:`mpc._core`).

Layouts (NumPy structured records, so the layers above move them with structural NumPy
operations -- slicing, concatenate, repeat, tile, fancy indexing -- as they move GMW's words):

- :data:`BAUTH`, one packed *word* of 64 bits (the ``(rows, W)`` bit-plane layout of
  :class:`~mpc.tensor.secret_bits.SecretBits` keeps working): ``"w"`` this party's share of the
  64 bits, ``"m"`` its 64 MAC shares (``m[j]`` for bit j), and ``"f"`` the *folded* MAC
  f = sum_j X^j m[j] (a GF(2^64)-linear function of the MACs, kept with them so that an opening
  records one word of MAC per word opened; see :mod:`mpc.engines.mac_check`). 528 bytes, viewed
  by the kernels as 66 uint64 words ``[w, f, m_0 .. m_63]``.
- :data:`LAUTH`, a *light* word: the bits and the folded MAC only (16 bytes). It is all an AND
  gate reads of its inputs and all an opening records, so circuits keep their intermediate
  values light where no single bit of them is used again (no XOR into an output, no public AND,
  no unpacking): a light value can be ANDed, XORed with light values and opened, nothing else.
- :data:`ABIT`, one *unpacked* bit (the single bits of :class:`~mpc.engines.base.MixedProtocols`):
  ``"b"`` this party's share of the bit (0/1), ``"m"`` its MAC share. 16 bytes.

All-zero records share zero with zero MACs (zero padding is a valid sharing of zeros).
This module does no I/O.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ABIT", "BAUTH", "LAUTH", "WORDS", "from_words", "lighten", "pack", "pack_light", "words"]

BAUTH = np.dtype([("w", "<u8"), ("f", "<u8"), ("m", "<u8", (64,))])
LAUTH = np.dtype([("w", "<u8"), ("f", "<u8")])
ABIT = np.dtype([("b", "<u8"), ("m", "<u8")])
WORDS = 66  # uint64 words per BAUTH record


_AS_WORDS = np.dtype((np.uint64, (WORDS,)))


_AS_LIGHT = np.dtype((np.uint64, (2,)))


def words(a: np.ndarray) -> np.ndarray:
    """A BAUTH (or LAUTH) array as ``(..., 66)`` (``(..., 2)``) uint64 words: always a view, with
    ``a``'s strides (a slice of planes stays a slice; NumPy ufuncs read it in place, the kernels
    copy it to C order)."""
    a = np.asarray(a)
    return a.view(_AS_WORDS if a.dtype == BAUTH else _AS_LIGHT)


def lighten(a: np.ndarray) -> np.ndarray:
    """The LAUTH words (bits, folded MAC) of a BAUTH array (a copy)."""
    return pack_light(a["w"], a["f"])


def from_words(w: np.ndarray) -> np.ndarray:
    """The inverse of :func:`words`: ``(..., 66)`` (or ``(..., 2)``) uint64 words as a BAUTH (LAUTH)
    array (a view)."""
    w = np.ascontiguousarray(w, dtype=np.uint64)
    return w.reshape(-1).view(BAUTH if w.shape[-1] == WORDS else LAUTH).reshape(w.shape[:-1])


def pack_light(values: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """A LAUTH array from bit words ``(...)`` and their folded MACs ``(...)``."""
    out = np.empty(np.shape(values), dtype=LAUTH)
    out["w"] = values
    out["f"] = folds
    return out


def pack(values: np.ndarray, folds: np.ndarray, macs: np.ndarray) -> np.ndarray:
    """A BAUTH array from bit words ``(...)``, folded MACs ``(...)`` and MAC shares ``(..., 64)``."""
    out = np.empty(np.shape(values), dtype=BAUTH)
    out["w"] = values
    out["f"] = folds
    out["m"] = macs
    return out
