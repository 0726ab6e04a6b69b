"""The comparison circuit of the dealer-free division triples, written once for two gate sets.

Used by :mod:`mpc.preprocessing.ot_div` (semi-honest: XOR-shared bits packed 64 to a word, GMW
AND gates) and :mod:`mpc.preprocessing.ot_spdz_div` (spdz2k: authenticated bits as Z_2^128 ring
elements 0/1, AND = one Beaver product). A division triple (r, floor(r / d), msb(r)) is drawn as
r = q d + s from random bits q_0..q_{L-1}, s_0..s_{l-1} and accepted when s < d and
q d + s < 2^64 (rejection sampling): with 2^64 = Q d + R and 2^63 = Q' d + R' (0 <= R, R' < d),
L = bitlen(Q), l = bitlen(d - 1):

- compare with public constants by trees (:func:`compare_public`): [s < d], [q < Q], [q = Q],
  [s < R], [q < Q'], [q = Q'], [s < R'], one tree per variable and constant, all of them a level
  per AND layer (every comparison of a layer in one gate call);
- accept = [s < d] AND ([q < Q] XOR [q = Q] AND [s < R]) (the two cases of the XOR exclude each
  other: a gate set may add them), and msb(r) = NOT([q < Q'] XOR [q = Q'] AND [s < R']).

Gates: about 4L + 6l ANDs per candidate (:func:`and_gates`; 222 for d = 3, where the carry
chains of before took 4L + 3l + 3 = 261) in ceil(log2 max(L, l)) + 2 layers (:func:`and_layers`:
8 for any d, against L + l + 2 = 67 for d = 3); everything else is linear. An accepted
(q, s) is uniform over {(q, s): s < d, q d + s < 2^64}, so r is uniform over Z_2^64 and the
accept bit, independent of the accepted value, may be opened.

A gate set (:class:`Gates`) works on shared bit vectors that concatenate and slice along the
first axis (``nw`` entries per vector: packed words, or ring elements).
"""

from __future__ import annotations

import functools
from typing import NamedTuple, Protocol

import numpy as np

__all__ = ["DivConstants", "Gates", "accept_and_msb", "acceptance", "and_gates", "and_layers", "compare_public", "constants"]


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
    d: int  # the divisor


def constants(d: int) -> DivConstants:
    q_big, r_big = divmod(1 << 64, d)
    q_half, r_half = divmod(1 << 63, d)
    return DivConstants(q_big, r_big, q_half, r_half, q_big.bit_length(), (d - 1).bit_length(), d)


def and_gates(c: DivConstants) -> int:
    """AND gates per candidate (the trees' gates depend on the constants' bits: a leaf of a 0
    bit needs none)."""
    return _count(c)[0]


def and_layers(c: DivConstants) -> int:
    """AND layers (rounds) of the circuit: ceil(log2 max(L, l)) tree levels, then two combining
    layers."""
    return _count(c)[1]


@functools.lru_cache(maxsize=64)
def _count(c: DivConstants) -> tuple[int, int]:
    """(AND gates per candidate, AND layers): the circuit run once on a gate set that only counts."""
    g = _Counter()
    accept_and_msb(g, [g.const(0, 1)] * c.big_l, [g.const(0, 1)] * c.small_l, c, c.d, 1)
    return g.gates, g.layers


def acceptance(c: DivConstants) -> float:
    """The probability that a candidate is accepted: 2^64 / 2^(L + l), at least 1/4."""
    return 2.0 ** (64 - c.big_l - c.small_l)


class _Counter:
    """A gate set that counts AND gates (per entry) and layers, and computes nothing."""

    def __init__(self) -> None:
        self.gates = self.layers = 0

    def and_(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        self.gates += len(x)
        self.layers += 1
        return x

    def not_(self, x: np.ndarray) -> np.ndarray:
        return x

    def const(self, bit: int, nw: int) -> np.ndarray:
        return np.zeros(nw, dtype=np.uint64)

    def xor_disjoint(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return x


def compare_public(g: Gates, jobs: list[tuple[list[np.ndarray], list[tuple[int, str]]]], nw: int
                   ) -> list[list[np.ndarray]]:
    """Comparisons with public constants: for each job (planes, consts), the value whose bit
    planes (LSB first) are ``planes`` against every ``(c, "lt")`` -> [x < c] and ``(c, "eq")`` ->
    [x == c]; one tree per job and distinct constant, every tree's level in the same AND layer:
    ceil(log2 k) layers for k planes at most (a constant of more bits than the planes: the public
    answer, no gate).

    A group of bits G has (L, E) = ([x_G < c_G], [x_G == c_G]); a bit's are linear (c_t = 1:
    (NOT x_t, x_t); c_t = 0: (0, NOT x_t)), and a higher group H over the adjacent lower one G
    combines as L = L_H XOR (E_H AND L_G) (disjoint cases: L_H excludes E_H), E = E_H AND E_G.
    An L_G known to be 0 (every bit of c_G is 0) needs no gate, nor the E of the lowest group
    unless [x == c] is asked (it is never the higher one)."""
    trees: dict[tuple[int, int], list[list]] = {}  # (job, c) -> groups [L or None (0), E or None]
    want_eq: dict[tuple[int, int], bool] = {}
    for j, (planes, consts) in enumerate(jobs):
        for c, kind in consts:
            if c >> len(planes):
                continue
            want_eq[j, c] = want_eq.get((j, c), False) or kind == "eq"
            if (j, c) not in trees:
                trees[j, c] = [[g.not_(x), x] if (c >> t) & 1 else [None, g.not_(x)] for t, x in enumerate(planes)]
    while any(len(groups) > 1 for groups in trees.values()):
        lefts, rights, slots = [], [], []
        for key, groups in trees.items():
            for i in range(len(groups) // 2):
                lo, hi = groups[2 * i], groups[2 * i + 1]
                if lo[0] is not None:
                    slots.append((key, i, 0))
                    lefts.append(hi[1])
                    rights.append(lo[0])
                if i or want_eq[key]:
                    slots.append((key, i, 1))
                    lefts.append(hi[1])
                    rights.append(lo[1])
        z = g.and_(np.concatenate(lefts), np.concatenate(rights)) if lefts else None
        got = {slot: z[n * nw : (n + 1) * nw] for n, slot in enumerate(slots)}
        for key, groups in trees.items():
            merged = []
            for i in range(len(groups) // 2):
                hi, low_part = groups[2 * i + 1], got.get((key, i, 0))
                lt = hi[0] if low_part is None else low_part if hi[0] is None else g.xor_disjoint(hi[0], low_part)
                merged.append([lt, got.get((key, i, 1))])
            trees[key] = merged + groups[len(groups) // 2 * 2 :]
    out = []
    for j, (planes, consts) in enumerate(jobs):
        res = []
        for c, kind in consts:
            if c >> len(planes):  # wider than the planes: x < c always, x == c never (d a power of two: s < d)
                res.append(g.const(1 if kind == "lt" else 0, nw))
                continue
            lt, eq = trees[j, c][0] if planes else (None, g.const(1, nw))
            part = lt if kind == "lt" else eq
            res.append(g.const(0, nw) if part is None else part)
        out.append(res)
    return out


def accept_and_msb(g: Gates, q_planes: list[np.ndarray], s_planes: list[np.ndarray], c: DivConstants,
                   d: int, nw: int) -> tuple[np.ndarray, np.ndarray]:
    """Shares of the accept bits and of msb(q d + s) of ``nw`` entries of candidates (see above)."""
    (lt_q, eq_q, lt_qh, eq_qh), (lt_d, lt_r, lt_rh) = compare_public(g, [
        (q_planes, [(c.q_big, "lt"), (c.q_big, "eq"), (c.q_half, "lt"), (c.q_half, "eq")]),
        (s_planes, [(d, "lt"), (c.r_big, "lt"), (c.r_half, "lt")])], nw)
    both = g.and_(np.concatenate([eq_q, eq_qh]), np.concatenate([lt_r, lt_rh]))
    fits = g.xor_disjoint(lt_q, both[:nw])  # q < Q, or q = Q and s < R (exclusive cases)
    below_half = g.xor_disjoint(lt_qh, both[nw:])  # r < 2^63
    return g.and_(lt_d, fits), g.not_(below_half)
