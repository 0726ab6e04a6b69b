"""sigmoid and tanh: saturating polynomials, selected by sign.

sigmoid(x) and tanh(x): x at scale f, or 2f with its truncation pending (a product or a matrix
product); the result at scale f when f >= 16 (resolution 2^-16, below the accuracy), else 2f.
Two independent parts run in lockstep (:func:`mpc.engines.steps.lockstep`: one merged message
per round), then one product round:
1. One MSB circuit on x, x - T and x + T at x's own scale (7 rounds for 2 parties):
   s = [x < 0], g1 = [x >= T], g2 = [x < -T].
2. At the same time, a Chebyshev polynomial p of sigmoid (degree 12) or tanh (degree 16) on
   [0, T], at both x and -x (one :func:`poly_eval` over 2N values, 6 rounds: 4 product levels,
   one batched truncation of the powers, the final truncation): v = (+-x - T/2) / 2^h at scale P = 28, its
   truncation left pending and folded into the first level and the batch when x's scale is
   above P - h. sigmoid with T = 10 (interpolation error 1e-5; 1 - sigmoid(10) = 4.5e-5), tanh
   with T = 6 (6e-6; 1 - tanh(6) = 1.2e-5). Outside [0, T] the values are meaningless (they may
   wrap mod 2^64): step 3 multiplies them by 0 exactly.
3. The cases are exclusive: x >= T, 0 <= x < T, -T <= x < 0, x < -T; with q = p(x) and
   q' = 1 - p(-x) (sigmoid) or -p(-x) (tanh), the result g1 (- g2) + (1 - s - g1) q + (s - g2) q'
   = g1 (- g2) + q + s (q' - q) - g1 q - g2 q': three bit-times-value products and the B2A of g1
   (g2) in one round (:meth:`mpc.engines.convert.Converter.bit_mul`).
Cost (2 parties): 8 rounds (3 parties: 9), for an input at scale f or 2f (formerly 15, plus 1 to
truncate a 2f input); per element per party about 700 bytes for sigmoid, 900 for tanh (formerly
545 for both): mostly the polynomial's products over 2N values; the three MSB circuits ~140.
spdz2k runs the same lockstep: 8 rounds for 2 and 3 parties (formerly 18). An engine without
lockstep takes the polynomial of a = min(|x|, T) after the comparisons instead (one
bit-times-value round for a, p(a) over N values in 5 rounds, (1 - 2s) by a truncating product
that also drops p's scale: MSB + 7 rounds, about half the bytes of doing both sides one after
the other). Accuracy: absolute error <= 1e-4 everywhere (any x
in the Fixed range, |x| 2^scale < 2^62 for a pending input; beyond +-T the result is the
saturated value, within 5e-5 of the true one).

softmax and log_softmax: :mod:`mpc.functions.softmax`.

Security: that of the engines (semi-honest for semi2k; the lockstep only merges the messages of
protocols each masked with its own material). Method: the clamp-and-polynomial approach of
Mohassel and Zhang, SecureML (S&P 2017) with a high-degree Chebyshev fit instead of a
piecewise-linear one, evaluated on both sides while the comparisons run (the polynomial and the
comparisons are independent until the selection).
"""

from __future__ import annotations

import contextlib

import numpy as np

from mpc.engines import steps
from mpc.functions import _fixed as fx
from mpc.tensor.secret_tensor import SecretTensor

__all__ = ["sigmoid", "tanh"]

SIGMOID_T, TANH_T = 10.0, 6.0


def _sigmoid_fn(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(5.0 + 8.0 * v)))  # a = 5 + 8v, a in [0, 10]


def _tanh_fn(v: np.ndarray) -> np.ndarray:
    return np.tanh(3.0 + 4.0 * v)  # a = 3 + 4v, a in [0, 6]


# Chebyshev degrees: sigmoid 12 (interpolation error 1e-5, below its saturation error 4.5e-5 at
# T = 10; 11 products instead of 15 for degree 16, same 4 levels), tanh 16 (degree 12: 1e-4)
_DEGREE = {_sigmoid_fn: 12, _tanh_fn: 16}


def _saturated(x: SecretTensor, odd: bool) -> SecretTensor:
    x = fx.fixed_input(x, "tanh" if odd else "sigmoid")  # a pending truncation is folded in (step 2)
    f, sc = x.dtype.f, x.scale
    conv = fx.context(x)
    ar = conv.arith
    flat = fx.flat_share(x)
    out = f if f >= 16 else 2 * f  # a resolution of 2^-16 or finer, below the 1e-4 accuracy
    if flat.size == 0:
        return fx.result(x, flat, out)
    big = SIGMOID_T if not odd else TANH_T
    center, half_log2, fn = (5.0, 3, _sigmoid_fn) if not odd else (3.0, 2, _tanh_fn)
    tb = fx.const(big, sc)
    if getattr(ar, "round_exchange", None) is None:  # no lockstep: clamp first, half the bytes
        return _clamped(x, flat, odd, out)
    cmp = steps.steps(conv, "msb", [flat, fx.add_const(conv, flat, -tb), fx.add_const(conv, flat, tb)])
    (s, m1, g2), (pos, neg) = fx.together(conv, cmp, _both_sides(conv, flat, sc, center, half_log2, fn, big, out))
    g1 = conv.bit_not(m1)
    # Exclusive cases: x >= T (g1), 0 <= x < T (1 - s - g1), -T <= x < 0 (s - g2), x < -T (g2). With
    # q = p(x) there and q' = 1 - p(-x) (sigmoid) or -p(-x) (tanh) on [-T, 0): the result is
    # g1 (- g2 for tanh) + (1 - s - g1) q + (s - g2) q' = ... + q + s (q' - q) - g1 q - g2 q', three
    # bit products in one round; q and q' are meaningless outside their cases and cancel exactly.
    one = fx.const(1.0, out)
    if not odd:
        neg = ar.public_sub(np.full(neg.shape, one, dtype=np.uint64), neg)
    else:
        neg = ar.neg(neg)
    extra = [g1, g2] if odd else [g1]
    (sd, g1q, g2q), conv_bits = conv.bit_mul([(s, ar.sub(neg, pos)), (g1, pos), (g2, neg)], extra)
    r = ar.sub(ar.sub(ar.add(pos, sd), g1q), g2q)
    sat = ar.sub(conv_bits[0], conv_bits[1]) if odd else conv_bits[0]
    r = ar.add(r, ar.mul_public(sat, one))
    return fx.result(x, r, out)


def _clamped(x: SecretTensor, flat: np.ndarray, odd: bool, out: int) -> SecretTensor:
    """Steps 1-3 one after the other, for an engine without lockstep (see the module docstring):
    MSB circuit, a = min(|x|, T) by one bit-times-value round, p(a) (5 rounds, over N values
    only), and (1 - 2s) applied by a truncating product that also brings p to ``out``."""
    conv = fx.context(x)
    ar, sc = conv.arith, x.scale
    big = SIGMOID_T if not odd else TANH_T
    center, half_log2, fn = (5.0, 3, _sigmoid_fn) if not odd else (3.0, 2, _tanh_fn)
    tb = fx.const(big, sc)
    s, m1, g2 = conv.msb([flat, fx.add_const(conv, flat, -tb), fx.add_const(conv, flat, tb)])
    g1 = conv.bit_not(m1)
    (sx, g1x, g2x), (s_a, g1_a, g2_a) = conv.bit_mul([(s, flat), (g1, flat), (g2, flat)], [s, g1, g2])
    a = ar.add(ar.sub(ar.sub(flat, ar.mul_public(sx, 2)), g1x), g2x)
    a = ar.add(a, ar.mul_public(ar.add(g1_a, g2_a), tb))  # min(|x|, T) at x's scale
    u = fx.add_const(conv, a, -fx.const(center, sc))
    shift = sc + half_log2 - fx.P
    v, pending = (u, shift) if shift > 0 else (ar.mul_public(u, 1 << -shift), 0)
    lim = big / 2 / (1 << half_log2)
    y = fx.poly_eval(conv, v, fx.cheb_coeffs(fn, -lim, lim, _DEGREE[fn]), 2 * fx.P, pending=pending)
    sgn = ar.sub(ar.public_share(np.ones(flat.shape[0], dtype=np.uint64)), ar.mul_public(s_a, 2))
    drop = 2 * fx.P - out
    if odd:
        r = ar.mul_truncating(y, drop, sgn, 0)
    else:
        r = fx.add_const(conv, ar.mul_truncating(fx.add_const(conv, y, -fx.const(0.5, 2 * fx.P)), drop, sgn, 0),
                         fx.const(0.5, out))
    return fx.result(x, r, out)


def _both_sides(conv, flat: np.ndarray, sc: int, center: float, half_log2: int, fn, big: float,
                out_scale: int) -> steps.Steps[tuple[np.ndarray, np.ndarray]]:
    """p(x) and p(-x) at ``out_scale`` for x at scale ``sc`` (step 2): v = (+-x - center) / 2^h at
    scale P (its truncation left pending when sc > P - h) and one :func:`fx.poly_steps` over both.
    Outside [0, T] the values are meaningless (they may wrap): step 3 multiplies them by 0."""
    ar = conv.arith
    unchecked = getattr(ar, "unchecked", None)  # the cleartext engine: these wraps are on purpose
    with unchecked() if unchecked is not None else contextlib.nullcontext():
        both = np.concatenate([flat, ar.neg(flat)])
        u = fx.add_const(conv, both, -fx.const(center, sc))
        shift = sc + half_log2 - fx.P
        v, pending = (u, shift) if shift > 0 else (ar.mul_public(u, 1 << -shift), 0)
        lim = big / 2 / (1 << half_log2)
        y = yield from fx.poly_steps(conv, v, fx.cheb_coeffs(fn, -lim, lim, _DEGREE[fn]), out_scale, pending=pending)
    m = flat.shape[0]
    return y[:m], y[m:]


def sigmoid(x: SecretTensor) -> SecretTensor:
    """1 / (1 + e^-x) elementwise (see the module docstring): 8 rounds for 2 parties."""
    return _saturated(x, odd=False)


def tanh(x: SecretTensor) -> SecretTensor:
    """tanh(x) elementwise (see the module docstring): 8 rounds for 2 parties."""
    return _saturated(x, odd=True)
