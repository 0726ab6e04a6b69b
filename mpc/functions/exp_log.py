"""exp and log by range reduction to [0, 1) / [0.75, 1.5] and Chebyshev polynomials.

exp(x) (output at scale 2f):
1. Clamp x to [lo, hi] (one MSB circuit for both bounds and one product round, 8 rounds):
   lo = -(2f + 2) ln 2 (below it exp(x) 2^(2f) < 1/4: the result rounds to 0) and
   hi = (60 - 2f) ln 2 (19.4 at f = 16, 13.9 at f = 20): exp saturates at exp(hi).
2. t = x log2(e) at scale Q = f + min(26, 56 - f) (a local product by a public integer).
3. A2B of t (7 rounds); its 7 bits Q..Q+6 are k = floor(t) in two's complement (|t| < 64).
4. One-hot decoder of k (3 rounds, 164 ANDs), B2A of the 65 rows k in [-(2f+3), 61-2f] that
   can occur (1 round).
5. r = t - k (local, exact, in [0, 1)), truncated to scale 28 (1 round).
6. 2^r by a degree-8 Chebyshev polynomial (error 1e-12; 5 rounds, :func:`poly_eval`).
7. 2^r * 2^k by the exact secret power of two of :func:`mpc.functions._fixed.apply_pow2`
   (2 rounds).
Cost (2 parties): 27 rounds, about 1.3 KB per element per party (the B2A is 16 bytes per bit
without daBits, 1 bit with them).
Accuracy: relative error <= 2e-6 wherever exp(x) 2^(2f) >= 2^20, otherwise absolute error
<= 2^-(2f) (one unit at scale 2f): at f = 16 the relative error stays below 1e-3 for
x >= -15.2 but reaches 1.7e-3 at x = -16 (exp(-16) = 1.1e-7 is only 484 units at scale 32); at
f = 20 it is below 1e-5 on all of [-16, 10] (hi = 13.9 at f = 20).

log(x) (output at scale 2f):
1. Normalise (:mod:`mpc.functions._normalize`, 15 rounds): |x| = m 2^(j - sigma), m in [1, 2];
   with q = [m >= 1.5] use m' = m (1 - q/2) in [0.75, 1.5] and j' = j + q (m' = 2 for the
   negative powers of two -1 and -2 ulp, whose leading one is found one position low).
2. m by one product with the sign folded in and one truncation; m' with one more product.
3. ln(m') = u g(u) with u = m' - 1 in [-0.25, 1] at scale 29 and g(u) = ln(1+u)/u by a
   degree-12 polynomial (error 2e-9),
   so the relative error stays small near x = 1; plus (j' - sigma) ln 2, linear in the one-hot.
Cost (2 parties): 27 rounds, about 1.3 KB per element per party.
Accuracy: absolute error <= 1e-8 + 2^-(2f) and relative error <= 1e-5 on [1e-3, 1e4] at f = 16
(near x = 1 the relative error is that of the mantissa: 2^-28 / |ln x| <= 3e-4 for the closest
representable x = 1 +- 2^-16).
Domain: log(x) = log(|x|) for x < 0; log(0) = -(2^62 - 1) / 2^(2f) (the most negative value
whose truncation is exact).

Security: semi-honest (the engines'). Paper for the approach of exp by bits of the integer part
and a polynomial of the fraction: Aly and Smart, "Benchmarking privacy preserving scientific
operations", ACNS 2019; normalisation by the leading bit: Catrina and Saxena, "Secure
computation with fixed-point numbers", FC 2010.
"""

from __future__ import annotations

import math

import numpy as np

from mpc.functions import _fixed as fx
from mpc.functions._normalize import normalise
from mpc.tensor.secret_tensor import SecretTensor

__all__ = ["exp", "log", "exp_bounds"]

LOG2E = 1.0 / math.log(2.0)
LN2 = math.log(2.0)


def exp_bounds(f: int) -> tuple[float, float]:
    """The clamp interval [lo, hi] of :func:`exp` at f fractional bits."""
    return -(2 * f + 2) * LN2, (60 - 2 * f) * LN2


def _exp2_fn(v: np.ndarray) -> np.ndarray:
    return np.exp2(v + 0.5)


def _log_fn(u: np.ndarray) -> np.ndarray:
    safe = np.where(u == 0, 1.0, u)
    return np.where(u == 0, 1.0, np.log1p(safe) / safe)


def _decode(eng, bits: np.ndarray) -> np.ndarray:
    """One-hot planes (2^b, W) of the b-bit value in ``bits`` (b, W): row u is [value == u]."""
    groups = [np.concatenate([eng.invert(bits[i : i + 1]), bits[i : i + 1]]) for i in range(bits.shape[0])]
    while len(groups) > 1:
        pairs = []
        for a, b in zip(groups[0::2], groups[1::2], strict=False):
            left = np.tile(a, (b.shape[0], 1))  # row i + j len(a): a[i]
            right = np.repeat(b, a.shape[0], axis=0)  # b[j]
            pairs.append((left, right))
        res = eng.and_many(pairs)
        rest = [groups[-1]] if len(groups) % 2 else []
        groups = list(res) + rest
    return groups[0]


def exp(x: SecretTensor) -> SecretTensor:
    """e^x elementwise (see the module docstring): 27 rounds for 2 parties, output scale 2f."""
    x = fx.fixed_input(x, "exp").truncate()
    f = x.dtype.f
    lo, hi = exp_bounds(f)
    x = x.clip(lo, hi)
    conv = fx.context(x)
    ar = conv.arith
    flat = fx.flat_share(x)
    if flat.size == 0:
        return fx.result(x, flat, 2 * f)
    extra = min(26, 56 - f)
    q = f + extra
    t = ar.mul_public(flat, fx.const(LOG2E, extra))  # x log2(e) at scale q
    planes, _ = conv.a2b([t], masked_use=True)  # only decoded (ANDs) and converted
    onehot = _decode(conv.boolean, planes[q : q + 7])
    kmin, kmax = math.floor(lo * LOG2E) - 1, math.floor(hi * LOG2E) + 1
    ks = list(range(kmin, kmax + 1))
    rows = onehot[[k % 128 for k in ks]]
    h = conv.b2a([conv.unpack_planes(rows, flat.shape[0])])[0]
    k_scaled = fx.weighted(conv, fx.ring([k << q for k in ks]), h)
    r = ar.sub(t, k_scaled)  # t - floor(t) in [0, 1) at scale q
    (v,) = ar.truncate_many([fx.add_const(conv, r, -(1 << (q - 1)))], q - fx.P)  # r - 1/2 at scale P
    y = fx.poly_eval(conv, v, fx.cheb_coeffs(_exp2_fn, -0.5, 0.5, 8), fx.P)
    d1, d2 = (fx.weighted(conv, wt, h) for wt in fx.pow2_weights([k + 2 * f - fx.P for k in ks]))
    return fx.result(x, fx.apply_pow2(conv, y, d1, d2), 2 * f)


def log(x: SecretTensor) -> SecretTensor:
    """Natural logarithm of |x| (see the module docstring): 27 rounds for 2 parties, scale 2f."""
    x, conv, flat = fx.prepare(x, "log")
    sigma, f = x.scale, x.dtype.f
    if flat.size == 0:
        return fx.result(x, flat, 2 * f)
    ar = conv.arith
    nz, js, w, sgn = normalise(conv, flat)
    mant = ar.mul(flat, ar.mul(w, sgn))
    (m,) = ar.truncate_many([mant], 60 - fx.P)  # [1, 2] at scale P
    m = ar.add(m, ar.mul_public(nz.zero, 1 << fx.P))
    qm = ar.mul(nz.second, m)
    u = fx.add_const(conv, ar.sub(ar.mul_public(m, 2), qm), -(1 << (fx.P + 1)))  # m' - 1 at scale P + 1
    g = fx.poly_eval(conv, u, fx.cheb_coeffs(_log_fn, -0.25, 1.0, 12), fx.P + 1, scale=fx.P + 1)
    (ln_m,) = ar.truncate_many([ar.mul(u, g)], 2 * fx.P + 2 - 2 * f)  # u g = ln(m') at scale 2P + 2
    expo = fx.weighted(conv, fx.ring([fx.const((j - sigma) * LN2, 2 * f) for j in js]), nz.onehot)
    expo = ar.add(expo, ar.mul_public(nz.second, fx.const(LN2, 2 * f)))
    r = ar.add(ln_m, expo)
    r = ar.sub(r, ar.mul_public(nz.zero, fx.MAXV))
    return fx.result(x, r, 2 * f)
