"""The comparison circuit of the dealer-free division triples, written once for two gate sets.

Used by :mod:`mpc.preprocessing.ot_div` (semi-honest: XOR-shared bits packed 64 to a word, GMW
AND gates) and :mod:`mpc.preprocessing.ot_spdz_div` (spdz2k: authenticated bits as Z_2^128 ring
elements 0/1, AND = one Beaver product). A division triple (r, floor(r / d), msb(r)) is drawn as
r = q d + s from random bits q_0..q_{L-1}, s_0..s_{l-1} and accepted when s < d and
q d + s < 2^64 (rejection sampling): with 2^64 = Q d + R and 2^63 = Q' d + R' (0 <= R, R' < d),
L = bitlen(Q), l = bitlen(d - 1):

- compare with public constants by the carry chain lt <- c_t ? NOT(x_t AND NOT lt) :
  (NOT x_t AND lt), bits LSB first, and test equality by an AND chain: [s < d], [q < Q],
  [q = Q], [s < R], [q < Q'], [q = Q'], [s < R'] (one AND layer per bit of q, then of s, every
  comparison of a layer in one gate call);
- accept = [s < d] AND ([q < Q] XOR [q = Q] AND [s < R]) (the two cases of the XOR exclude each
  other: a gate set may add them), and msb(r) = NOT([q < Q'] XOR [q = Q'] AND [s < R']).

Gates: 4L + 3l + 3 ANDs per candidate in L + l + 2 layers; everything else is linear. An accepted
(q, s) is uniform over {(q, s): s < d, q d + s < 2^64}, so r is uniform over Z_2^64 and the
accept bit, independent of the accepted value, may be opened.

A gate set (:class:`Gates`) works on shared bit vectors that concatenate and slice along the
first axis (``nw`` entries per vector: packed words, or ring elements).
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import numpy as np

__all__ = ["DivConstants", "Gates", "accept_and_msb", "and_gates", "chains", "constants"]


class Gates(Protocol):
    """The gates the circuit needs, on this party's shares of bit vectors."""

    def and_(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Shares of x AND y (one round, all elements at once)."""

    def not_(self, x: np.ndarray) -> np.ndarray:
        """Shares of NOT x (local)."""

    def const(self, bit: int, nw: int) -> np.ndarray:
        """Shares of the public bit ``bit``, ``nw`` entries (local)."""

    def xor_disjoint(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Shares of x XOR y where x AND y = 0 (local: x + y on ring elements)."""


class DivConstants(NamedTuple):
    q_big: int  # Q = floor(2^64 / d)
    r_big: int  # R = 2^64 mod d
    q_half: int  # Q' = floor(2^63 / d)
    r_half: int  # R' = 2^63 mod d
    big_l: int  # L = bitlen(Q): bits of a candidate q
    small_l: int  # l = bitlen(d - 1): bits of a candidate s


def constants(d: int) -> DivConstants:
    q_big, r_big = divmod(1 << 64, d)
    q_half, r_half = divmod(1 << 63, d)
    return DivConstants(q_big, r_big, q_half, r_half, q_big.bit_length(), (d - 1).bit_length())


def and_gates(c: DivConstants) -> int:
    """AND gates per candidate: 4 chains over q's L bits, 3 over s's l bits, 3 more."""
    return 4 * c.big_l + 3 * c.small_l + 3


def acceptance(c: DivConstants) -> float:
    """The probability that a candidate is accepted: 2^64 / 2^(L + l), at least 1/4."""
    return 2.0 ** (64 - c.big_l - c.small_l)


def chains(g: Gates, planes: list[np.ndarray], consts: list[tuple[int, str]], nw: int) -> list[np.ndarray]:
    """Comparisons of the value whose bit planes (LSB first) are ``planes`` with public constants:
    ``(c, "lt")`` -> [x < c], ``(c, "eq")`` -> [x == c]; all advanced together, one AND layer per
    bit (a constant of more bits than the planes: the public answer)."""
    state = [g.const(0, nw) if kind == "lt" else g.const(1, nw) for _, kind in consts]
    for t, x in enumerate(planes):
        lefts, rights = [], []
        for (c, kind), cur in zip(consts, state, strict=True):
            bit = (c >> t) & 1
            if kind == "eq":  # eq <- eq AND (x_t XNOR c_t)
                lefts.append(cur)
                rights.append(x if bit else g.not_(x))
            elif bit:  # lt <- NOT(x_t AND NOT lt)
                lefts.append(x)
                rights.append(g.not_(cur))
            else:  # lt <- NOT x_t AND lt
                lefts.append(g.not_(x))
                rights.append(cur)
        z = g.and_(np.concatenate(lefts), np.concatenate(rights))
        for i, (c, kind) in enumerate(consts):
            part = z[i * nw : (i + 1) * nw]
            state[i] = g.not_(part) if kind == "lt" and (c >> t) & 1 else part
    # a constant wider than the planes: x < c always, x == c never (d a power of two: s < d)
    return [g.const(1 if kind == "lt" else 0, nw) if c >> len(planes) else cur
            for (c, kind), cur in zip(consts, state, strict=True)]


def accept_and_msb(g: Gates, q_planes: list[np.ndarray], s_planes: list[np.ndarray], c: DivConstants,
                   d: int, nw: int) -> tuple[np.ndarray, np.ndarray]:
    """Shares of the accept bits and of msb(q d + s) of ``nw`` entries of candidates (see above)."""
    lt_q, eq_q, lt_qh, eq_qh = chains(g, q_planes, [(c.q_big, "lt"), (c.q_big, "eq"), (c.q_half, "lt"),
                                                    (c.q_half, "eq")], nw)
    lt_d, lt_r, lt_rh = chains(g, s_planes, [(d, "lt"), (c.r_big, "lt"), (c.r_half, "lt")], nw)
    both = g.and_(np.concatenate([eq_q, eq_qh]), np.concatenate([lt_r, lt_rh]))
    fits = g.xor_disjoint(lt_q, both[:nw])  # q < Q, or q = Q and s < R (exclusive cases)
    below_half = g.xor_disjoint(lt_qh, both[nw:])  # r < 2^63
    return g.and_(lt_d, fits), g.not_(below_half)
