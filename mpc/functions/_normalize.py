"""Secret normalisation: the position of the leading one of |X| as arithmetic one-hot shares.

For ring values X with |X| < 2^60 (two's complement), :func:`leading_one` returns arithmetic
shares of
- H_j for j = -1..60 (row j + 1): H_j = 1 iff 2^j <= |X| <= 2^(j+1) is the chosen position
  (exactly: j is the leading bit of |X| for X >= 0 and of |X| - 1 = ~X for X < 0, and j = -1
  stands for |X| = 1 with X < 0). In all cases 2^j <= |X| <= 2^(j+1), so |X| * 2^(60-j) lies
  in [2^60, 2^61]: the mantissa, normalised by one product;
- s = [X < 0] and z = [X == 0] (then every H_j is 0);
- optionally q, the bit below the leading one of the same word (for log: m >= 1.5).

:func:`normalise` adds what the functions need to form the mantissa M = X (1 - 2s) 2^(60 - k_j)
with one product: the public-weighted sum of the one-hot and the sign factor 1 - 2s.

Protocol (2 parties; n parties add the converter's carry-save and B2A rounds):
1. A2B of X (7 rounds, :meth:`mpc.engines.convert.Converter.a2b`); y = bits 0..60 XOR the sign bit (local: ~X for
   negative X).
2. Suffix OR t_j = OR_{i >= j} y_i by doubling (t_j |= t_{j+2^k}), 6 rounds, ~303 ANDs.
3. One round: e = NOT t_0 AND sign (X == -1) and q = XOR_j (t_j ^ t_{j+1}) & y_{j-1}.
4. One B2A round for t_0..t_60, sign, e, q (64 bits, 1 KB per element for 2 parties).
5. Locally H_j = t_j - t_{j+1}, H_{-1} = e, z = 1 - t_0 - e.
Cost: 15 rounds; about 200 bytes of ANDs plus 1 KB of B2A per element per party (2 parties).
Security: semi-honest, as the engines.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from mpc.engines.base import MixedProtocols
from mpc.functions import _fixed as fx

BITS = 61  # positions 0..60


class Normalised(NamedTuple):
    onehot: np.ndarray  # (62, N) arithmetic 0/1 shares, row j+1 for position j = -1..60
    sign: np.ndarray  # (N,) arithmetic [X < 0]
    zero: np.ndarray  # (N,) arithmetic [X == 0]
    second: np.ndarray  # (N,) arithmetic q (zeros when not requested)


class Normalisation(NamedTuple):
    nz: Normalised
    ks: list[int]  # the exponent k_j of each position j (row order of nz.onehot)
    w: np.ndarray  # (N,) arithmetic sum_j 2^(60 - k_j) H_j
    sgn: np.ndarray  # (N,) arithmetic 1 - 2s: +1 for X >= 0, -1 for X < 0


def positions() -> np.ndarray:
    """The positions j = -1..60 of the one-hot rows."""
    return np.arange(-1, BITS, dtype=np.int64)


def normalise(conv: MixedProtocols, x: np.ndarray, even: bool = False) -> Normalisation:
    """:func:`leading_one` of the flat share ``x`` and the local weights of the mantissa:
    k_j = j, or with ``even`` k_j = max(2 floor(j/2), 0) (an even exponent, for square roots).
    |X| 2^(60 - k_j) is then in [2^60, 2^61] (k_j = j) or [2^60, 2^62) (even)."""
    nz = leading_one(conv, x)
    js = positions()
    ks = [max(2 * (int(j) // 2), 0) for j in js] if even else [int(j) for j in js]
    w = fx.weighted(conv, fx.ring([1 << (60 - k) for k in ks]), nz.onehot)
    ar = conv.arith
    sgn = ar.sub(ar.public_share(np.ones(x.shape[0], dtype=np.uint64)), ar.mul_public(nz.sign, 2))
    return Normalisation(nz, ks, w, sgn)


def leading_one(conv: MixedProtocols, x: np.ndarray) -> Normalised:
    """See the module docstring; ``x`` is a flat share array."""
    eng = conv.boolean
    n_el = x.shape[0]
    planes, _ = conv.a2b([x], masked_use=True)  # only ANDed and converted
    # every plane below is (rows, W) over n_el elements and lane-wise from the A2B's, whose lanes
    # from n_el on are public padding: the AND layers say so (BooleanEngine.and_many's lanes)
    sign = planes[63:64]
    y = eng.xor(planes[:BITS], np.repeat(sign, BITS, axis=0))
    t = y.copy()
    step = 1
    while step < BITS:
        a, b = t[: BITS - step], t[step:]
        (r,) = eng.and_many([(a, b)], lanes=n_el)
        t = np.concatenate([eng.xor(eng.xor(a, b), r), t[BITS - step :]])
        step *= 2
    h = eng.xor(t, np.concatenate([t[1:], eng.zero_bits(1, t)]))  # one-hot of the leading bit
    e, hq = eng.and_many([(eng.invert(t[0:1]), sign), (h[1:], y[:-1])], lanes=n_el)
    q = functools.reduce(eng.xor, [hq[i : i + 1] for i in range(hq.shape[0])])  # XOR of the rows
    allbits = np.concatenate([t, sign, e, q])
    unpacked = conv.unpack_planes(allbits, n_el)
    arith = conv.b2a([unpacked])[0]
    ar = conv.arith
    tt = arith[:BITS]
    s_a, e_a, q_a = arith[BITS], arith[BITS + 1], arith[BITS + 2]
    onehot = np.empty((BITS + 1, n_el), dtype=ar.share_dtype)
    onehot[0] = e_a
    onehot[1:BITS] = ar.sub(tt[:-1], tt[1:])
    onehot[BITS] = tt[-1]
    zero = ar.sub(ar.public_share(np.ones(n_el, dtype=np.uint64)), ar.add(tt[0], e_a))
    return Normalised(onehot, s_a, zero, q_a)
