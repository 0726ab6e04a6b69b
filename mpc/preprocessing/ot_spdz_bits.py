"""Authenticated random bits and truncation tuples for spdz2k without a dealer.

Used by :class:`~mpc.preprocessing.ot_spdz.SpdzOTPreprocessing` for the ``trunc`` kind (every
fixed-point product and every division by a power of two under spdz2k): (r, r64 >> f, msb(r64))
with r uniform in Z_2^128 and r64 its low 64 bits (the dealer's item,
:mod:`mpc.preprocessing.authenticated`).

Bits (after the batch's triples, MACs and origin sharings passed their checks):

1. Every party i drew 64 random bits b_i per element (0/1 in Z_2^128) and authenticated them as
   its own vector: [b_i] is the sharing whose value share is b_i at party i and 0 elsewhere,
   with the MAC shares of i's COPE instances (the input check covers them).
2. XOR them in: acc = [b_0]; for i = 1 .. n-1, acc <- acc + [b_i] - 2 [acc b_i], each product by
   Beaver with a sacrificed authenticated triple (open eps = acc - a, delta = b_i - b: one round
   each, n - 1 in all).
3. Bit check: [acc^2] by one more Beaver product (one round), then open acc - acc^2, which must
   be 0 mod 2^128 (one round): acc (1 - acc) = 0 in Z_2^128 forces acc in {0, 1} (one of acc,
   1 - acc is odd, hence a unit). A cheater whose b_i is not a bit makes acc a non-bit whatever
   the honest bits are (each step is a bijective affine map of the honest party's bit), so the
   check fails; honest bits are uniform whatever a cheater's are, so acc is uniform.
4. The MAC check of every opening of steps 2-3 (a fresh coin, commit, open: 4 rounds). Failure:
   :class:`~mpc.errors.CheatingDetected` on every honest party, after the last message.

Truncation tuple from 64 bits b_0..b_63 and an authenticated 2^64 u (u = sum of the parties'
uniform u_i, as the ``rand`` kind): r = sum_t 2^t b_t + 2^64 u, r >> f = sum_{t >= f} 2^(t-f) b_t,
msb = b_63: linear in authenticated values, so local (values and MACs alike).

Cost per truncation tuple, n parties: 64 n authenticated triples and 64 (2n + 1) openings (two
parties: 128 triples, about 1.38 MB per party): expensive -- the price of active security from OT
without edaBits; what it buys is that fixed-point programs run under spdz2k with no dealer at
all. Rounds per batch: n + 5. References: Cramer et al., SPDZ2k, CRYPTO 2018 (the ring, MACs and
checks); the bits are the XOR of one authenticated bit per party, computed with Beaver products,
and checked with one more product and a zero opening (b (1 - b) = 0 has only the roots 0 and 1
in Z_2^128, since one of b, 1 - b is odd).
"""

from __future__ import annotations

import math

import numpy as np

from mpc.sharing.authenticated import pack, sum128
from mpc.sharing.packing import POW2

__all__ = ["beaver", "bit_count", "open_recorded", "share_sum", "truncation_parts", "truncation_tuple", "xor_bits"]



def bit_count(params: tuple[int, ...]) -> int:
    """Authenticated bits one ``trunc`` request uses (64 per element)."""
    return 64 * math.prod(params[1:])


def share_sum(src, own: np.ndarray, got: dict) -> np.ndarray:
    """own + every peer's ``got[p]`` mod 2^128, in a new array: the first addition writes it
    (no copy pass), the others add in place."""
    first, *rest = src.peers
    total = src.kernels.add128(own, got[first])
    for p in rest:
        src.kernels.add128(total, got[p], out=total)
    return total


def open_recorded(src, shares: np.ndarray, macs: np.ndarray, opened: list, open_macs: list) -> np.ndarray:
    """The sum of every party's ``shares`` (Z_2^128 words, one round), appended to ``opened`` with
    this party's ``macs`` to ``open_macs`` for the MAC check that covers it."""
    total = share_sum(src, shares, src._exchange(shares))
    opened.append(total)
    open_macs.append(macs)
    return total


def beaver(src, x: tuple[np.ndarray, np.ndarray], y: tuple[np.ndarray, np.ndarray], t0: int,
            opened: list, open_macs: list) -> tuple[np.ndarray, np.ndarray]:
    """[x y] for authenticated (values, MACs) x, y (M elements) with triples t0 .. t0 + M - 1 of
    the batch: one round; the openings are appended for the MAC check."""
    k = src.kernels
    m = len(x[0])
    (av, am), (bv, bm), (cv, cm) = (src.triple_part(name, t0, m) for name in ("a", "b", "c"))
    total = open_recorded(src, np.concatenate([k.sub128(x[0], av), k.sub128(y[0], bv)]),
                          np.concatenate([k.sub128(x[1], am), k.sub128(y[1], bm)]), opened, open_macs)
    eps, dlt = total[:m], total[m:]
    ed = k.mul128(eps, dlt)
    zv = k.add128(cv, k.add128(k.mul128(eps, bv), k.mul128(dlt, av)))
    if src.pid == 0:
        k.add128(zv, ed, out=zv)
    zm = k.add128(cm, k.add128(k.mul128(eps, bm), k.mul128(dlt, am)))
    k.add128(zm, k.mul128_64(ed, np.full(m, src.mac_key_share(), dtype=np.uint64)), out=zm)
    return zv, zm


def xor_bits(src, origins: list[tuple[np.ndarray, np.ndarray]], t0: int) -> tuple[np.ndarray, np.ndarray]:
    """Steps 2-4 of the module docstring: ``origins[i]`` this party's (values, MACs) of [b_i]
    (M bits each); triples t0 .. t0 + n M - 1 of the batch. Returns (values, MACs) of the bits."""
    k = src.kernels
    m = len(origins[0][0])
    opened: list[np.ndarray] = []
    open_macs: list[np.ndarray] = []
    acc_v, acc_m = origins[0]
    for i in range(1, src.n):
        bv, bm = origins[i]
        zv, zm = beaver(src, (acc_v, acc_m), (bv, bm), t0 + (i - 1) * m, opened, open_macs)
        acc_v = k.sub128(k.add128(acc_v, bv), k.add128(zv, zv))
        acc_m = k.sub128(k.add128(acc_m, bm), k.add128(zm, zm))
    sv, sm = beaver(src, (acc_v, acc_m), (acc_v, acc_m), t0 + (src.n - 1) * m, opened, open_macs)
    w = open_recorded(src, k.sub128(acc_v, sv), k.sub128(acc_m, sm), opened, open_macs)
    bad = ["a random bit failed the bit check"] if w.any() else []
    src._mac_check(np.concatenate(opened), np.concatenate(open_macs), src._coin(), bad)
    return acc_v, acc_m


def truncation_parts(kernels, bits: tuple[np.ndarray, np.ndarray], high: tuple[np.ndarray, np.ndarray],
                     f: int) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """The (values, MACs) of r, r64 >> f, msb(r64), each ``(size, 2)``, from the (values, MACs) of
    64 bits per element (``(size * 64, 2)``, bit t of element e at e * 64 + t) and of u
    (``(size, 2)``: 2^64 u): ((rv, hv, mv), (rm, hm, mm))."""
    size = len(high[0])
    out = []
    for b, u in zip(bits, high, strict=True):
        b = b.reshape(size, 64, 2)
        w = np.broadcast_to(POW2, (size, 64))
        r = sum128(kernels.mul128_64(b, np.ascontiguousarray(w)), 1)
        r[:, 1] += u[:, 0]  # + 2^64 u
        wf = np.zeros(64, dtype=np.uint64)
        wf[f:] = POW2[: 64 - f]
        high_part = sum128(kernels.mul128_64(b, np.ascontiguousarray(np.broadcast_to(wf, (size, 64)))), 1)
        out.append((r, high_part, np.ascontiguousarray(b[:, 63])))
    return out[0], out[1]


def truncation_tuple(kernels, bits: tuple[np.ndarray, np.ndarray], high: tuple[np.ndarray, np.ndarray],
                     f: int, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(r, r64 >> f, msb(r64)) as AUTH arrays of ``shape`` (see :func:`truncation_parts`)."""
    (rv, hv, mv), (rm, hm, mm) = truncation_parts(kernels, bits, high, f)
    return pack(rv, rm).reshape(shape), pack(hv, hm).reshape(shape), pack(mv, mm).reshape(shape)
