"""sigmoid, tanh (saturating polynomials of |x|) and softmax, log_softmax (max-shifted exp).

sigmoid(x) and tanh(x) (output at scale 2f; x at scale f, or 2f with its truncation pending as a
product or a matrix product leaves it):
1. One MSB circuit on x, x - T and x + T (7 rounds for 2 parties), at x's own scale (no
   truncation first): s = [x < 0], g1 = [x >= T], g2 = [x < -T].
2. One fused round (:meth:`mpc.engines.convert.Converter.bit_mul`): s x, g1 x, g2 x and the B2A
   of s, g1, g2; then a = x - 2 s x - g1 x + g2 x + T (g1 + g2) = min(|x|, T), locally.
3. A degree-16 Chebyshev polynomial of v = (a - T/2) / 2^h on [0, T] (5 rounds, :func:`poly_eval`
   at scale P = 28 with its result kept at scale 2P): 4 product levels, then one batched
   truncation of all powers. When x's scale is above P - h, v's truncation is left pending and
   folded into the first level's product and that batch (no round of its own). sigmoid with T = 10
   (error 4e-7; the saturation error 1 - sigmoid(10) = 4.5e-5), tanh with T = 6 (error 6e-6;
   1 - tanh(6) = 1.2e-5).
4. By symmetry: sigmoid(x) = 1/2 + (1 - 2s)(p(a) - 1/2), tanh(x) = (1 - 2s) p(a): 1 round, a
   truncating product (:meth:`mpc.engines.semi2k.Semi2k.mul_truncating`) that also brings p from
   scale 2P to 2f.
Cost (2 parties): 14 rounds, for an input at scale f or 2f (formerly 15, plus 1 to truncate a 2f
input); ~545 bytes per element per party (the three MSB circuits ~140, the rest mostly the
polynomial's products and truncations). Accuracy: absolute error <= 1e-4 everywhere (any x in the
Fixed range, |x| 2^scale < 2^62 for a pending input; beyond +-T the result is the saturated value,
within 5e-5 of the true one).

softmax(x, axis=-1) = e / sum(e) with e = exp(x - max(x)) (so that e in (0, 1] and the sum in
[1, m]): the max by the comparison tree (ceil(log2 m) x 8 rounds), :func:`exp` (27),
:func:`reciprocal` of the sum (25) and one product (1: e's pending truncation is folded into
it, see :meth:`mpc.engines.semi2k.Semi2k.mul_truncating`). m = 10: 85 rounds. Absolute error
<= 1e-4 (exp and reciprocal are accurate to 1e-5 relative, the product to 2^-f).
log_softmax(x) = (x - max) - log(sum(exp(x - max))): 4 x 8 + 27 + 27 rounds for m = 10.

Security: semi-honest (the engines'). Method: the clamp-and-polynomial approach of
Mohassel and Zhang, SecureML (S&P 2017) with a high-degree Chebyshev fit instead of a
piecewise-linear one; softmax shifted by the maximum as in plaintext practice.
"""

from __future__ import annotations

import numpy as np

from mpc.errors import InputError
from mpc.functions import _fixed as fx
from mpc.functions.exp_log import exp, log
from mpc.functions.roots import reciprocal
from mpc.tensor.secret_tensor import SecretTensor

__all__ = ["sigmoid", "tanh", "softmax", "log_softmax"]

SIGMOID_T, TANH_T = 10.0, 6.0


def _sigmoid_fn(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(5.0 + 8.0 * v)))  # a = 5 + 8v, a in [0, 10]


def _tanh_fn(v: np.ndarray) -> np.ndarray:
    return np.tanh(3.0 + 4.0 * v)  # a = 3 + 4v, a in [0, 6]


def _saturated(x: SecretTensor, odd: bool) -> SecretTensor:
    x = fx.fixed_input(x, "tanh" if odd else "sigmoid")  # a pending truncation is folded in (step 3)
    f, sc = x.dtype.f, x.scale
    conv = fx.context(x)
    ar = conv.arith
    flat = fx.flat_share(x)
    if flat.size == 0:
        return fx.result(x, flat, 2 * f)
    big = SIGMOID_T if not odd else TANH_T
    center, half_log2, fn = (5.0, 3, _sigmoid_fn) if not odd else (3.0, 2, _tanh_fn)
    tb = fx.const(big, sc)
    s, m1, g2 = conv.msb([flat, fx.add_const(conv, flat, -tb), fx.add_const(conv, flat, tb)])
    g1 = conv.bit_not(m1)
    (sx, g1x, g2x), (s_a, g1_a, g2_a) = conv.bit_mul([(s, flat), (g1, flat), (g2, flat)], [s, g1, g2])
    a = ar.add(ar.sub(ar.sub(flat, ar.mul_public(sx, 2)), g1x), g2x)
    a = ar.add(a, ar.mul_public(ar.add(g1_a, g2_a), tb))  # min(|x|, T) at x's scale
    # v = (a - center) / 2^half_log2 at scale P: exact when x's scale is low enough, else the
    # truncation stays pending and poly_eval folds it into its first product (no round of its own)
    u = fx.add_const(conv, a, -fx.const(center, sc))
    shift = sc + half_log2 - fx.P
    v, pending = (u, shift) if shift > 0 else (ar.mul_public(u, 1 << -shift), 0)
    lim = big / 2 / (1 << half_log2)
    y = fx.poly_eval(conv, v, fx.cheb_coeffs(fn, -lim, lim, 16), 2 * fx.P, pending=pending)
    n = flat.shape[0]
    sgn = ar.sub(ar.public_share(np.ones(n, dtype=np.uint64)), ar.mul_public(s_a, 2))
    # the product with the sign folds the polynomial's truncation from 2P to 2f into its round
    drop = 2 * fx.P - 2 * f
    if odd:
        r = ar.mul_truncating(y, drop, sgn, 0)
    else:
        r = fx.add_const(conv, ar.mul_truncating(fx.add_const(conv, y, -fx.const(0.5, 2 * fx.P)), drop, sgn, 0),
                         fx.const(0.5, 2 * f))
    return fx.result(x, r, 2 * f)


def sigmoid(x: SecretTensor) -> SecretTensor:
    """1 / (1 + e^-x) elementwise (see the module docstring): 14 rounds for 2 parties."""
    return _saturated(x, odd=False)


def tanh(x: SecretTensor) -> SecretTensor:
    """tanh(x) elementwise (see the module docstring): 14 rounds for 2 parties."""
    return _saturated(x, odd=True)


def _shifted(x: SecretTensor, axis: int) -> tuple[SecretTensor, int]:
    x = fx.fixed_input(x, "softmax").truncate()
    if x.ndim == 0:
        raise InputError("softmax: expected at least a 1-d SecretTensor")
    ax = axis % x.ndim if -x.ndim <= axis < x.ndim else None
    if ax is None:
        raise InputError(f"softmax: axis {axis} is out of range for shape {x.shape}")
    m = x.max(axis=ax)
    keep = list(x.shape)
    keep[ax] = 1
    return x - m.reshape(tuple(keep)), ax


def softmax(x: SecretTensor, axis: int = -1) -> SecretTensor:
    """exp(x - max) / sum(exp(x - max)) along ``axis`` (see the module docstring); scale 2f."""
    d, ax = _shifted(x, axis)
    e = exp(d)
    return e * reciprocal(e.sum(axis=ax, keepdims=True))


def log_softmax(x: SecretTensor, axis: int = -1) -> SecretTensor:
    """(x - max) - log(sum(exp(x - max))) along ``axis``; scale 2f."""
    d, ax = _shifted(x, axis)
    return d - log(exp(d).sum(axis=ax, keepdims=True))
