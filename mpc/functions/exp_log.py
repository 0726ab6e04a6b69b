"""exp and log by range reduction to [0, 1) / [0.75, 1.5] and Chebyshev polynomials.

exp(x) (output at scale 2f), for x at scale f (or 2f with its truncation pending, f <= 17):
1. In lockstep (:mod:`mpc.engines.steps`, 7 rounds for 2 parties): the A2B of t = x log2(e) at
   scale q = sc + min(26, 56 - sc) (sc = x's scale; a local product by a public integer) and one
   MSB circuit on x - lo and x - hi, lo = -(2f + 2) ln 2 (below it exp(x) 2^(2f) < 1/4: the
   result is 0) and hi = (60 - 2f) ln 2 (19.4 at f = 16, 13.9 at f = 20: exp saturates at
   exp(hi) = 2^(60 - 2f)). u = [x < lo], a = [x < hi]; keep = u XOR a = [lo <= x < hi] (the
   cases are exclusive), o = NOT a = [x >= hi]. The 7 bits q..q+6 of t are k = floor(t) in two's
   complement where x is in range; elsewhere t may wrap and k, r below are meaningless: keep = 0
   multiplies them by an exact 0.
2. In lockstep (4 rounds): (a) the one-hot of k over its 7 bits and keep (3 AND rounds, 8
   groups), then the B2A of the 65 rows k in [-(2f+3), 61-2f] and of o (1 round,
   :func:`decode_steps`); (b) the B2A of k's 7 bits (1 round), r = t - k 2^q in [0, 1) (local)
   and 2^r by a degree-4 Chebyshev polynomial of r - 1/2 (relative error 3.5e-6; 2 product
   levels with r's truncation to scale 28 folded into the first, 1 batched truncation, the
   result left at scale 56 with its truncation pending: :func:`pow2_fraction_steps`).
3. 2^r * 2^k by the exact secret power of two (2 rounds): weights D1 = 2^(k + 2f - 28) (k + 2f
   >= 28) and D2 = 2^(k + 2f) (below), one truncating product of 2^r (its truncation to scale 28
   folded in) by both, one truncation of the D2 part by 28; plus o 2^60 (the saturated value).
Cost (2 parties): 13 rounds (formerly 27: a clamp of 8 rounds, then the A2B, the decoder, two
B2A, the truncation of r, a degree-8 polynomial and the power of two one after the other); a
pending input at f > 17 is truncated first (1 round more); 3 parties 14 (formerly 29). Bytes sent
per element per party, dealer with daBits: 354 (formerly 473), 3 parties 803 (1041).
Accuracy: absolute error <= 4e-6 exp(x) + 2^-(2f+1) (the polynomial's relative error and about
half a unit at scale 2f; tests/test_softmax.py asserts 5e-6 exp(x) + 2 units): at f = 16 the relative error stays below 1e-3 for
x >= -15.2 but reaches 1.7e-3 at x = -16 (exp(-16) = 1.1e-7 is only 484 units at scale 32); at
f = 20 it is below 1e-5 on all of [-16, 10] (hi = 13.9 at f = 20).

log(x) (output at scale 2f):
1. Normalise (:mod:`mpc.functions._normalize`, 15 rounds): |x| = m 2^(j - sigma), m in [1, 2];
   with q = [m >= 1.5] use m' = m (1 - q/2) in [0.75, 1.5] and j' = j + q (m' = 2 for the
   negative powers of two -1 and -2 ulp, whose leading one is found one position low).
2. X 2^(60 - j) and (1 - 2s) q by one product round, then |m| = trunc(X 2^(60 - j)) (1 - 2s) and
   q |m| by one truncating product round (the truncation folded in); m' = m (1 - q/2) is linear
   in them (formerly 4 rounds: two products, the truncation, q m).
3. ln(m') = u g(u) with u = m' - 1 in [-0.25, 1] at scale 29 and g(u) = ln(1+u)/u by a
   degree-12 polynomial (error 2e-9; its final truncation folded into the product by u),
   so the relative error stays small near x = 1; plus (j' - sigma) ln 2, linear in the one-hot.
Cost (2 parties): 24 rounds (formerly 27; 3 parties 25), 544 bytes sent per element per party
(dealer with daBits; 1120 for 3 parties), as before.
Accuracy: absolute error <= 1e-8 + 2^-(2f) and relative error <= 1e-5 on [1e-3, 1e4] at f = 16
(near x = 1 the relative error is that of the mantissa: 2^-28 / |ln x| <= 3e-4 for the closest
representable x = 1 +- 2^-16).
Domain: log(x) = log(|x|) for x < 0; log(0) = -(2^62 - 1) / 2^(2f) (the most negative value
whose truncation is exact).

Security: that of the engines (semi-honest for semi2k; malicious with abort for spdz2k, whose
openings in a lockstep all go to its MAC check); the lockstep only merges the messages of protocols
each masked with its own material. Paper for the approach of exp by bits of the integer part
and a polynomial of the fraction: Aly and Smart, "Benchmarking privacy preserving scientific
operations", ACNS 2019; normalisation by the leading bit: Catrina and Saxena, "Secure
computation with fixed-point numbers", FC 2010.
"""

from __future__ import annotations

import math

import numpy as np

from mpc.engines import steps
from mpc.functions import _fixed as fx
from mpc.functions._normalize import normalise
from mpc.tensor.secret_tensor import SecretTensor

__all__ = ["exp", "log", "exp_bounds"]

LOG2E = 1.0 / math.log(2.0)
LN2 = math.log(2.0)
EXP_DEGREE = 4  # 2^r on [0, 1): relative error 3.5e-6 (degree 5: 1e-7, one product level more)


def exp_bounds(f: int) -> tuple[float, float]:
    """The clamp interval [lo, hi] of :func:`exp` at f fractional bits."""
    return -(2 * f + 2) * LN2, (60 - 2 * f) * LN2


def _exp2_fn(v: np.ndarray) -> np.ndarray:
    return np.exp2(v + 0.5)


def _log_fn(u: np.ndarray) -> np.ndarray:
    safe = np.where(u == 0, 1.0, u)
    return np.where(u == 0, 1.0, np.log1p(safe) / safe)


def decode_steps(conv, kbits: np.ndarray, keep: np.ndarray, n: int, ks: list[int],
                 extra: np.ndarray | None = None) -> steps.Steps[list[np.ndarray]]:
    """[arithmetic one-hot rows (len(ks), n): [k == kk] AND keep for kk in ``ks``, then one (n,)
    array per row of the ``extra`` bit planes, converted in the same round]: k is the 7-bit
    two's-complement value in the planes ``kbits`` (7, W), ``keep`` a (1, W) plane; 3 AND rounds
    over 8 groups, then one B2A round (exp's step 2a)."""
    eng = conv.boolean
    groups = [np.concatenate([eng.invert(kbits[i : i + 1]), kbits[i : i + 1]]) for i in range(kbits.shape[0])]
    groups.append(keep)  # one row: the index of a row stays the value of k
    while len(groups) > 1:
        pairs = []
        for a, b in zip(groups[0::2], groups[1::2], strict=False):
            pairs.append((np.tile(a, (b.shape[0], 1)), np.repeat(b, a.shape[0], axis=0)))
        res = yield from steps.steps(eng, "and_many", pairs)
        groups = list(res) + ([groups[-1]] if len(groups) % 2 else [])
    rows = groups[0][[kk % 128 for kk in ks]]
    if extra is not None:
        rows = np.concatenate([rows, extra])
    (arith,) = yield from steps.steps(conv, "b2a", [conv.unpack_planes(rows, n)])
    return [arith[: len(ks)]] + [arith[len(ks) + i] for i in range(rows.shape[0] - len(ks))]


def pow2_fraction_steps(conv, t: np.ndarray, kbits: np.ndarray, q: int, n: int) -> steps.Steps[np.ndarray]:
    """2^r at scale 2P (its truncation pending) for r = t - floor(t), t at scale q (28 <= q <= 56)
    and its bits q..q+6 in ``kbits`` (exp's step 2b): the B2A of k's 7 bits, then the degree-4
    polynomial of r - 1/2 with r's truncation to scale P folded in (3 + 1 rounds)."""
    ar = conv.arith
    (kb,) = yield from steps.steps(conv, "b2a", [conv.unpack_planes(kbits, n)])
    weights = fx.ring([(1 << (q + i)) if i < 6 else -(1 << (q + 6)) for i in range(7)])
    r = ar.sub(t, fx.weighted(conv, weights, kb))  # t - k 2^q: in [0, 2^q) where t is in range
    v = fx.add_const(conv, r, -(1 << (q - 1)))  # r - 1/2 at scale q = P + (q - P) pending
    coeffs = fx.cheb_coeffs(_exp2_fn, -0.5, 0.5, EXP_DEGREE)
    return (yield from fx.poly_steps(conv, v, coeffs, 2 * fx.P, pending=q - fx.P))


def exp(x: SecretTensor) -> SecretTensor:
    """e^x elementwise (see the module docstring): 13 rounds for 2 parties, output scale 2f."""
    x = fx.fixed_input(x, "exp")
    if x.scale > x.dtype.f and 56 - x.scale < 22:  # the constant log2(e) would get too few bits
        x = x.truncate()
    f, sc = x.dtype.f, x.scale
    lo, hi = exp_bounds(f)
    conv = fx.context(x)
    ar = conv.arith
    flat = fx.flat_share(x)
    n = flat.shape[0]
    if n == 0:
        return fx.result(x, flat, 2 * f)
    extra = min(26, 56 - sc)
    q = sc + extra
    pad = (-n) % 64
    with fx.unchecked(ar):
        t = ar.mul_public(flat, fx.const(LOG2E, extra))  # x log2(e) at scale q (wraps far out of range)
        bounds = [fx.add_const(conv, flat, -fx.const(b, sc)) for b in (lo, hi)]
    if pad:
        bounds = [np.concatenate([b, ar.zeros((pad,))]) for b in bounds]
    (planes, _), (plane, _) = fx.together(conv, steps.steps(conv, "a2b", [t], True),
                                          steps.steps(conv, "msb_planes", bounds))
    eng = conv.boolean
    u, a = plane.reshape(2, -1)[0:1], plane.reshape(2, -1)[1:2]  # [x < lo], [x < hi]
    keep = eng.xor(u, a)
    kmin, kmax = math.floor(lo * LOG2E) - 1, math.floor(hi * LOG2E) + 1
    ks = list(range(kmin, kmax + 1))
    kbits = planes[q : q + 7]
    with fx.unchecked(ar):  # r and 2^r are meaningless where keep = 0: multiplied by an exact 0
        (h, over), y = fx.together(conv, decode_steps(conv, kbits, keep, n, ks, eng.invert(a)),
                                   pow2_fraction_steps(conv, t, kbits, q, n))
        d1, d2 = (fx.weighted(conv, wt, h) for wt in fx.pow2_weights([k + 2 * f - fx.P for k in ks]))
        r = fx.apply_pow2_pending(conv, y, d1, d2)
    r = ar.add(r, ar.mul_public(over, 1 << 60))  # + o exp(hi) 2^(2f) = o 2^60
    return fx.result(x, r, 2 * f)


def log(x: SecretTensor) -> SecretTensor:
    """Natural logarithm of |x| (see the module docstring): 24 rounds for 2 parties, scale 2f."""
    x, conv, flat = fx.prepare(x, "log")
    sigma, f = x.scale, x.dtype.f
    if flat.size == 0:
        return fx.result(x, flat, 2 * f)
    ar = conv.arith
    nz, js, w, sgn = normalise(conv, flat)
    n = flat.shape[0]
    prod = ar.mul(np.concatenate([flat, sgn]), np.concatenate([w, nz.second]))  # X 2^(60-j), (1-2s) q
    both = ar.mul_truncating(np.concatenate([prod[:n], prod[:n]]), 60 - fx.P, np.concatenate([sgn, prod[n:]]), 0)
    m, qm = both[:n], both[n:]  # |m| in [1, 2] at scale P and q |m|
    m = ar.add(m, ar.mul_public(nz.zero, 1 << fx.P))
    u = fx.add_const(conv, ar.sub(ar.mul_public(m, 2), qm), -(1 << (fx.P + 1)))  # m' - 1 at scale P + 1
    g = fx.poly_eval(conv, u, fx.cheb_coeffs(_log_fn, -0.25, 1.0, 12), 2 * fx.P + 2, scale=fx.P + 1)
    ln_m = ar.mul_truncating(g, fx.P + 1, u, 0)  # u g = ln(m') at scale 2P + 2 (g's truncation folded)
    (ln_m,) = ar.truncate_many([ln_m], 2 * fx.P + 2 - 2 * f)
    expo = fx.weighted(conv, fx.ring([fx.const((j - sigma) * LN2, 2 * f) for j in js]), nz.onehot)
    expo = ar.add(expo, ar.mul_public(nz.second, fx.const(LN2, 2 * f)))
    r = ar.add(ln_m, expo)
    r = ar.sub(r, ar.mul_public(nz.zero, fx.MAXV))
    return fx.result(x, r, 2 * f)
