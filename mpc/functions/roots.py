"""reciprocal, divide, sqrt, rsqrt: normalisation by the secret leading-one position, a
polynomial on the normalised mantissa, and an exact secret power of two.

Method (all three; x a Fixed tensor at scale sigma, X = x * 2^sigma its ring value):
1. :func:`mpc.functions._normalize.leading_one`: one-hot H_j of the leading-bit position j of
   |X|, the sign s and [X == 0] (15 rounds for 2 parties).
2. Mantissa: M = X * 2^(60 - k_j) by one product (the public-weighted sum of H; in the same
   round as the sign times the power-of-two weights of step 4), then |m| = trunc(M) * (1 - 2s)
   by one truncating product (the truncation folded into its round): m at scale 27 or 28 in
   [1, 2] (reciprocal, k_j = j) or [1, 4] (square roots, k_j = max(2 floor(j/2), 0), an even
   exponent). (Formerly the sign product, the mantissa product and the truncation: 3 rounds.)
3. A Chebyshev polynomial of the mantissa (1/m: degree 8, error 3e-7; 1/sqrt(m) and sqrt(m):
   degree 16, errors 3e-9 and 2e-10), evaluated at scale 28 (:func:`poly_eval`), its final
   truncation left pending.
4. The power of two: Y * 2^(e_j) with public exponents e_j per position (two products in one
   round, Y's pending truncation folded into them, and one truncation,
   :func:`apply_pow2_pending`); positions whose result would pass 2^61 get the saturation value
   instead (linear in H).
Outputs are at scale 2f (like an untruncated product: revealing is exact, the next product
truncates it), which is what makes the small results representable: 1/1e4 = 1e-4 is 4.3e5 units
at scale 32.

Cost (2 parties): reciprocal 23 rounds (formerly 25), sqrt/rsqrt 24 (formerly 26); 3 parties one
more each. Bytes sent per element per party (dealer with daBits): reciprocal 480 (formerly 496),
sqrt 624 (640); mostly the normalisation's circuits and B2A. Security: semi-honest (the engines').

Domain (documented behaviour, never garbage): |X| < 2^60 (|x| < 2^(60 - sigma)).
- reciprocal(0) = +(2^62 - 1) / 2^(2f) (the largest value whose truncation is exact; +0 has the
  sign +); results beyond that bound saturate to it with the sign of x.
- sqrt(x) = sqrt(|x|) and rsqrt(x) = rsqrt(|x|) for x < 0; rsqrt(0) = +(2^62 - 1) / 2^(2f);
  sqrt(0) = 0.

Accuracy (tests/test_functions.py, against NumPy on the decoded inputs): relative error
<= 1e-5 for reciprocal on |x| in [1e-2, 1e4] and for sqrt, rsqrt on [1e-2, 1e4], at f = 16
(scale-32 outputs) and f = 20.
"""

from __future__ import annotations

import numpy as np

from mpc.functions import _fixed as fx
from mpc.functions._normalize import normalise
from mpc.tensor.secret_tensor import SecretTensor

__all__ = ["reciprocal", "divide", "sqrt", "rsqrt"]

_LIMIT = 60  # a product at most 2^60 (times Y <= 2) stays below 2^62


def _saturating(exps: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights (D1, D2, Dsat): results with Y * 2^(e + P) >= 2^61 saturate to MAXV."""
    over = [e + fx.P > _LIMIT for e in exps]
    d1, d2 = fx.pow2_weights([-10 * fx.P if o else e for e, o in zip(exps, over, strict=True)])
    return d1, d2, fx.ring([fx.MAXV if o else 0 for o in over])


def reciprocal(x: SecretTensor) -> SecretTensor:
    """1/x elementwise (see the module docstring): 23 rounds for 2 parties, output scale 2f."""
    x, conv, flat = fx.prepare(x, "reciprocal")
    sigma, f = x.scale, x.dtype.f
    if flat.size == 0:
        return fx.result(x, flat, 2 * f)
    ar = conv.arith
    nz, js, w, sgn = normalise(conv, flat)
    # 1/|x| = (1/m) 2^(sigma - j); at scale 2f from Y at scale P: exponent sigma - j + 2f - P
    d1, d2, dsat = (fx.weighted(conv, wt, nz.onehot) for wt in _saturating([sigma - j + 2 * f - fx.P for j in js]))
    n = flat.shape[0]
    # X 2^(60 - j) (signed, |.| in [2^60, 2^61]) and the sign on the weights, in one round
    prod = ar.mul(np.concatenate([flat, sgn, sgn, sgn]), np.concatenate([w, d1, d2, dsat]))
    mant, d1, d2, dsat = (prod[i * n : (i + 1) * n] for i in range(4))
    m = ar.mul_truncating(mant, 60 - fx.P, sgn, 0)  # |m| in [1, 2] at scale P
    m = ar.add(m, ar.mul_public(nz.zero, 1 << fx.P))  # x = 0: m = 1, a harmless placeholder
    v = fx.add_const(conv, m, -fx.const(1.5, fx.P))  # m - 1.5 in [-0.5, 0.5]
    coeffs = fx.cheb_coeffs(_recip_fn, -0.5, 0.5, 8)
    y = fx.poly_eval(conv, v, coeffs, 2 * fx.P)  # its truncation folded into the power of two
    r = ar.add(fx.apply_pow2_pending(conv, y, d1, d2), dsat)
    r = ar.add(r, ar.mul_public(nz.zero, fx.MAXV))
    return fx.result(x, r, 2 * f)


def _recip_fn(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.5 + v)


def divide(a: object, b: SecretTensor) -> SecretTensor:
    """a / b = a * reciprocal(b) (one more product; the result is at scale 2f). ``a`` may be
    public. Accuracy: that of :func:`reciprocal` plus one truncation of each factor."""
    return reciprocal(b) * a if not isinstance(a, SecretTensor) else a * reciprocal(b)


def _sqrt_fn(v: np.ndarray) -> np.ndarray:
    return np.sqrt(2.5 + 2.0 * v)


def _rsqrt_fn(v: np.ndarray) -> np.ndarray:
    return 1.0 / np.sqrt(2.5 + 2.0 * v)


def _sqrt_odd_fn(v: np.ndarray) -> np.ndarray:
    return _sqrt_fn(v) / np.sqrt(2.0)


def _rsqrt_odd_fn(v: np.ndarray) -> np.ndarray:
    return _rsqrt_fn(v) * np.sqrt(2.0)


def _root(x: SecretTensor, inverse: bool) -> SecretTensor:
    x, conv, flat = fx.prepare(x, "rsqrt" if inverse else "sqrt")
    sigma, f = x.scale, x.dtype.f
    if flat.size == 0:
        return fx.result(x, flat, 2 * f)
    ar = conv.arith
    nz, ks, w, sgn = normalise(conv, flat, even=True)
    odd = sigma % 2
    if inverse:  # 1/sqrt|x| = (1/sqrt m) 2^((sigma - k)/2)
        exps = [(sigma - odd - k) // 2 + 2 * f - fx.P for k in ks]
        fn = _rsqrt_odd_fn if odd else _rsqrt_fn
    else:  # sqrt|x| = sqrt(m) 2^((k - sigma)/2)
        exps = [(k - sigma + odd) // 2 + 2 * f - fx.P for k in ks]
        fn = _sqrt_odd_fn if odd else _sqrt_fn
    d1, d2, dsat = (fx.weighted(conv, wt, nz.onehot) for wt in _saturating(exps))
    mant = ar.mul(flat, w)  # X 2^(60 - k), |.| in [2^60, 2^62)
    m = ar.mul_truncating(mant, 60 - fx.P + 1, sgn, 0)  # |m| in [1, 4] at scale P - 1
    m = ar.add(m, ar.mul_public(nz.zero, 1 << (fx.P - 1)))
    v = fx.add_const(conv, m, -fx.const(2.5, fx.P - 1))  # (m - 2.5)/2 at scale P
    y = fx.poly_eval(conv, v, fx.cheb_coeffs(fn, -0.75, 0.75, 16), 2 * fx.P)
    r = ar.add(fx.apply_pow2_pending(conv, y, d1, d2), dsat)
    if inverse:
        r = ar.add(r, ar.mul_public(nz.zero, fx.MAXV))
    return fx.result(x, r, 2 * f)


def sqrt(x: SecretTensor) -> SecretTensor:
    """sqrt(|x|) elementwise (see the module docstring): 24 rounds for 2 parties, scale 2f."""
    return _root(x, inverse=False)


def rsqrt(x: SecretTensor) -> SecretTensor:
    """1/sqrt(|x|) elementwise (see the module docstring): 24 rounds for 2 parties, scale 2f."""
    return _root(x, inverse=True)
