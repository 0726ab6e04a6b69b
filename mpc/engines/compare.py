"""Comparison protocols on raw arithmetic shares: indicators, sign, negative parts, min/max
trees with their argument, and Batcher's sorting network.

Every function takes the engine's :class:`~mpc.engines.base.MixedProtocols` (``engine.converter``)
and share arrays of the engine's share dtype, and returns share arrays; the tensor layer
(:class:`~mpc.tensor.secret_tensor.SecretTensor`) does broadcasting, scales and dtypes and calls
these. Nothing here depends on the fixed-point scale: an indicator is the ring element 0 or 1,
and ``[d < 0] * d`` keeps d's scale (a product with a bit needs no truncation).

Protocols and cost (2 parties, per element; n parties add the carry-save and B2A rounds of
:mod:`mpc.engines.convert`: 3 parties with daBits, an indicator 9 rounds and a negative part
10):
- :func:`indicator` [d < 0] = msb(d): MSB circuit (7 rounds, 181 ANDs) + B2A (1 round): 8
  rounds, ~61 bytes per element per party. [d >= 0] is NOT msb (free on the XOR share before
  the B2A). [d == 0] and [d != 0]: zero test (6 rounds, 63 ANDs) + B2A: 7 rounds, ~32 bytes.
- :func:`negative_parts` min(d, 0) = [d < 0] d for several d at once: one MSB circuit over all
  + one fused bit-times-value round (:meth:`~mpc.engines.convert.Converter.bit_mul`): 8 rounds.
  The tensor layer builds relu (x - min(x, 0)), abs (x - 2 min(x, 0)), minimum, maximum and clip
  from it. :func:`truncated_negative_parts` does the same for the truncations of d (a product's
  pending truncation) with the truncation in lockstep with the MSB circuit: still 8 rounds, so
  relu of a matrix product leaves a scale-f result at no extra round. :func:`clip_parts` also
  returns the bits [d <= 0] as ring 0/1 (a clip's mask, the derivative of hardtanh), in the
  same 8 rounds.
- :func:`sign` = msb(-x) - msb(x), both in one circuit, one B2A: 8 rounds.
- :func:`reduce` (max/min and argmax/argmin along axis 0 of m rows): a tree of pairwise
  comparisons of ADJACENT groups (so ties resolve to the first index), ceil(log2 m) levels of
  8 rounds; the index rides in the same bit products (same round).
- :func:`floor_divide` (``//``, ``%``, ``divmod`` and ``>>`` by public integers): the engine's
  one-round division (``divide_many``) gives q0 within two of x / d; the remainder r0 = x - d q0
  then lies in [-2d, 2d) (in [-d, d) for a power of two), and floor(r0 / d) is three indicators
  of r0's place (one for a power of two) in one MSB circuit and one B2A: 9 rounds, exact.
- :func:`sort`: Batcher's odd-even merge sort network (Batcher, "Sorting networks and their
  applications", AFIPS 1968) on the next power of two 2^k >= m, comparators touching the
  padding dropped (padding would hold +infinity, which never moves): k(k+1)/2 layers of
  compare-exchange, each layer 8 rounds.

Range: order comparisons read d as a 64-bit two's-complement value: exact when the difference
of the compared values does not wrap, |x - y| < 2^63 in the ring (always for Fixed values in
their range |v| < 2^(62-f); for Int64, when x - y does not overflow int64). Equality is exact
for every value. Security: that of the engines (semi-honest for semi2k with GMW).
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Sequence

import numpy as np

from mpc.engines import steps
from mpc.engines.base import MixedProtocols

__all__ = ["FLOOR_DIV_MAX", "INDICATORS", "batcher_layers", "clip_parts", "floor_divide", "floor_divisor_ok",
           "indicator", "negative_parts", "reduce", "sign", "sort", "truncated_negative_parts"]

INDICATORS = ("lt0", "ge0", "eq0", "ne0")
FLOOR_DIV_MAX = 1 << 61  # floor_divide's largest divisor that is not a power of two (2^62 for one)


def indicator(conv: MixedProtocols, d: np.ndarray, kind: str) -> np.ndarray:
    """Arithmetic 0/1 share of [d < 0] ("lt0"), [d >= 0] ("ge0"), [d == 0] ("eq0") or
    [d != 0] ("ne0")."""
    if kind not in INDICATORS:
        raise ValueError(f"indicator: kind must be one of {INDICATORS}, got {kind!r}")
    (bit,) = conv.eqz([d]) if kind in ("eq0", "ne0") else conv.msb([d])
    if kind in ("ge0", "ne0"):
        bit = conv.bit_not(bit)
    (arith,) = conv.b2a([bit])
    return arith


def negative_parts(conv: MixedProtocols, ds: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Shares of min(d, 0) = [d < 0] d for each d: one MSB circuit, one product round."""
    bits = conv.msb(list(ds))
    prods, _ = conv.bit_mul(list(zip(bits, ds, strict=True)))
    return prods


def clip_parts(conv: MixedProtocols, ds: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(min(d, 0) for each d, [d <= 0] for each d as ring 0/1): the MSBs of d - 1 in one circuit
    ([d <= 0], so a clipped value counts as clipped at the bound itself: its derivative is 0
    there, as torch's hardtanh's), then one round of bit-times-value products that carries the
    bits' B2A (:meth:`~mpc.engines.base.MixedProtocols.bit_mul`'s ``b2a``): 8 rounds for 2
    parties, as :func:`negative_parts` (the same min(d, 0): it is 0 at d = 0 either way)."""
    ar = conv.arith
    bits = conv.msb([ar.sub_public(d, np.ones(d.shape, dtype=np.uint64)) for d in ds])
    return conv.bit_mul(list(zip(bits, ds, strict=True)), b2a=bits)


def truncated_negative_parts(conv: MixedProtocols, ds: Sequence[np.ndarray],
                             k: int) -> tuple[list[np.ndarray], list[np.ndarray]] | None:
    """(min(t, 0) for each t, the t) with t = floor(d / 2^k) (+ at most one ulp, as
    ``truncate_many``): the MSB circuit on the d themselves and the truncation of the d in lockstep
    (:mod:`mpc.engines.steps`), so the truncation takes no round of its own, then one product
    round: 8 rounds for 2 parties, as :func:`negative_parts`. Exact: msb(d) = [t < 0] except for
    d in [-2^k, 0), where t is -1 or 0 and [d < 0] t = t either way (semi2k, spdz2k, cleartext).
    None when the engine has no lockstep: the caller keeps the truncation pending instead."""
    exchange = getattr(conv.arith, "round_exchange", None)
    if exchange is None:
        return None
    bits, ts = steps.lockstep([steps.steps(conv, "msb", list(ds)), steps.steps(conv.arith, "truncate_many", list(ds), k)],
                              exchange)
    prods, _ = conv.bit_mul(list(zip(bits, ts, strict=True)))
    return prods, ts


def floor_divisor_ok(d: int) -> bool:
    """Whether :func:`floor_divide` takes the divisor d: 1 <= d <= FLOOR_DIV_MAX, or a power of
    two up to 2^62."""
    return 1 <= d <= (1 << 62 if d & (d - 1) == 0 else FLOOR_DIV_MAX)


def floor_divide(conv: MixedProtocols, x: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Shares of (floor(x / d), x - d floor(x / d)), exactly, for a public integer d with
    1 <= d <= :data:`FLOOR_DIV_MAX` (or d a power of two up to 2^62) and every |x| < 2^62 (x read
    as a 64-bit two's-complement value; outside that range the results are wrong values).

    Steps (a probabilistic quotient made exact by comparing its remainder; Catrina and Saxena,
    "Secure computation with fixed-point numbers", FC 2010, on probabilistic and exact
    truncation):
      1. q0 = the engine's division (``divide_many``: 1 round), within two of x / d: the
         engines' contract is floor(x / d) + {0, 1} for a power of two and |q0 - x / d| < 2
         otherwise (semi2k's analysis, which spdz2k, masked2k and cleartext share).
      2. r0 = x - d q0 (local), so floor(x / d) = q0 + floor(r0 / d) with r0 in [-2d, 2d)
         ([-d, d) for a power of two); |r0 +- d| < 3 * 2^61 cannot wrap.
      3. floor(r0 / d) = 1 - [r0 < 0] - [r0 < d] - [r0 < -d] (for a power of two -[r0 < 0]):
         the MSBs of r0, r0 - d, r0 + d in one circuit (7 rounds for 2 parties), one B2A
         (1 round); then q = q0 + floor(r0 / d) and r = r0 - d floor(r0 / d) (local).
    Cost: 9 rounds for 2 parties (the MSB's and B2A's own for n), and one MSB of 3 elements per
    element (1 for a power of two). d = 1 is local. Security: the engine's (each step is one of
    its protocols: actively secure under spdz2k, every opening MAC-checked)."""
    ar = conv.arith
    d = int(d)
    pow2 = d & (d - 1) == 0
    if not floor_divisor_ok(d):
        raise ValueError(f"floor_divide: the divisor must be in [1, 2^61] (a power of two up to 2^62), got {d}")
    if d == 1:
        return x, ar.zeros(x.shape)
    (q0,) = ar.divide_many([x], d)
    r0 = ar.sub(x, ar.mul_public(q0, d))
    if pow2:
        diffs = [r0]
    else:
        dd = np.full(x.shape, d, dtype=np.uint64)
        diffs = [r0, ar.sub_public(r0, dd), ar.add_public(r0, dd)]
    ints = conv.b2a(conv.msb(diffs))
    below = functools.reduce(ar.add, ints)  # how many of the thresholds r0 is below
    # floor(r0 / d) = (0 if pow2 else 1) - below
    if pow2:
        return ar.sub(q0, below), ar.add(r0, ar.mul_public(below, d))
    one = np.ones(x.shape, dtype=np.uint64)
    return ar.add_public(ar.sub(q0, below), one), ar.sub_public(ar.add(r0, ar.mul_public(below, d)), dd)


def sign(conv: MixedProtocols, x: np.ndarray) -> np.ndarray:
    """Share of -1, 0 or 1 (NumPy's sign) as msb(-x) - msb(x): one MSB circuit, one B2A."""
    ar = conv.arith
    m_neg, m_pos = conv.msb([ar.neg(x), x])
    a_neg, a_pos = conv.b2a([m_neg, m_pos])
    return ar.sub(a_neg, a_pos)


def reduce(conv: MixedProtocols, v: np.ndarray, take_max: bool,
           index: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """The max (or min) over axis 0 of the share array ``v`` (m, ...), and with ``index`` (shares
    of each row's index, v's shape) the index of the first extreme row. See the module docstring."""
    ar = conv.arith
    while v.shape[0] > 1:
        m = v.shape[0]
        a, b = v[0 : m - 1 : 2], v[1:m:2]
        d = ar.sub(b, a)
        # take b iff it is strictly better (ties keep a, the lower indices): max -> msb(a - b); min -> msb(b - a)
        (bit,) = conv.msb([ar.neg(d) if take_max else d])
        vals = [d]
        if index is not None:
            ia, ib = index[0 : m - 1 : 2], index[1:m:2]
            vals.append(ar.sub(ib, ia))
        prods, _ = conv.bit_mul([(bit, p) for p in vals])
        nv = ar.add(a, prods[0])
        if index is not None:
            ni = ar.add(ia, prods[1])
        if m % 2:
            nv = np.concatenate([nv, v[m - 1 : m]], axis=0)
            if index is not None:
                ni = np.concatenate([ni, index[m - 1 : m]], axis=0)
        v = nv
        if index is not None:
            index = ni
    return v[0], (None if index is None else index[0])


@functools.cache
def batcher_layers(m: int) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
    """Comparator layers (lows, highs) of Batcher's odd-even merge sort for m wires (padded to a
    power of two; comparators touching wires >= m dropped). Each layer's comparators are disjoint."""
    size = 1
    while size < m:
        size *= 2
    comps: list[list[tuple[int, int]]] = []
    p = 1
    while p < size:
        k = p
        while k >= 1:
            layer = []
            for j in range(k % p, size - k, 2 * k):
                for i in range(builtins.min(k, size - j - k)):
                    a, b = i + j, i + j + k
                    if a // (2 * p) == b // (2 * p) and b < m:
                        layer.append((a, b))
            if layer:
                comps.append(layer)
            k //= 2
        p *= 2
    return tuple((tuple(a for a, _ in lay), tuple(b for _, b in lay)) for lay in comps)


def sort(conv: MixedProtocols, v: np.ndarray) -> np.ndarray:
    """Shares of the rows of ``v`` (m, ...) sorted ascending along axis 0 (elementwise for the
    trailing axes), by :func:`batcher_layers`: each layer one MSB circuit and one product round."""
    ar = conv.arith
    rows = v.copy()
    for lows, highs in batcher_layers(v.shape[0]):
        lo_idx, hi_idx = list(lows), list(highs)
        a, b = rows[lo_idx], rows[hi_idx]
        (pd,) = negative_parts(conv, [ar.sub(b, a)])  # b < a: swap, by moving min(b - a, 0)
        rows[lo_idx], rows[hi_idx] = ar.add(a, pd), ar.sub(b, pd)
    return rows
