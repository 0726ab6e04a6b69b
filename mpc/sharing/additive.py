"""Additive secret sharing over the ring Z_2^64, and sharings made without communication.

A value x in Z_2^64 is shared among n parties as x_0 + ... + x_{n-1} = x (mod 2^64), the x_i
``uint64`` arrays. Any n-1 shares are uniformly distributed and independent of x, so this is
secure against a dishonest majority of semi-honest parties.

Sharings without communication (pseudo-random secret sharing, Cramer, Damgard and Ishai,
"Share conversion, pseudorandom secret-sharing and applications to secure computation",
TCC 2005), from the pairwise PRGs that parties i and j hold in common (seed k_ij):

- :func:`zero_sharing`: party i's share is sum_{j != i} sign(i, j) * PRG_ij, with sign +1 when
  i < j and -1 when i > j. Each pairwise stream is added once and subtracted once, so the
  shares sum to zero; any coalition missing some party i sees shares that are masked by the
  streams of the pairs (i, j) with j outside the coalition.
It draws from the generators it is given, so every party must call it at the same point of the
program with the same shapes (the streams then stay aligned). :func:`reconstruct` sums shares
(the tests' oracle).
This module does no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from mpc.prg import PRG


def reconstruct(shares: Sequence[np.ndarray]) -> np.ndarray:
    """Sum the shares mod 2^64."""
    if not shares:
        raise ValueError("shares: need at least one share")
    shapes = {np.shape(s) for s in shares}
    if len(shapes) != 1:
        raise ValueError(f"shares: all shares must have the same shape, got {sorted(shapes)}")
    out = np.array(shares[0], dtype=np.uint64, copy=True)
    for s in shares[1:]:
        out += np.asarray(s, dtype=np.uint64)
    return out


def zero_sharing(pid: int, pair_prgs: Mapping[int, PRG], shape: tuple[int, ...]) -> np.ndarray:
    """Party ``pid``'s share of zero from its pairwise generators (PRSS, CDI 2005)."""
    out = np.zeros(shape, dtype=np.uint64)
    for j in sorted(pair_prgs):
        stream = pair_prgs[j].uint64(shape)
        if pid < j:
            out += stream
        else:
            out -= stream
    return out
