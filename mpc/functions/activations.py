"""sigmoid, tanh (saturating polynomials of |x|) and softmax, log_softmax (max-shifted exp).

sigmoid(x) and tanh(x) (output at scale 2f):
1. One MSB circuit on x, x - T and x + T (7 rounds for 2 parties): s = [x < 0],
   g1 = [x >= T], g2 = [x < -T].
2. One fused round (:meth:`mpc.engines.convert.Converter.bit_mul`): s x, g1 x, g2 x and the B2A
   of s, g1, g2; then a = x - 2 s x - g1 x + g2 x + T (g1 + g2) = min(|x|, T), locally.
3. A degree-16 Chebyshev polynomial of a on [0, T] (6 rounds, :func:`poly_eval`): sigmoid with T = 10 (error
   4e-7; the saturation error 1 - sigmoid(10) = 4.5e-5), tanh with T = 6 (error 6e-6;
   1 - tanh(6) = 1.2e-5).
4. By symmetry: sigmoid(x) = 1/2 + (1 - 2s)(p(a) - 1/2), tanh(x) = (1 - 2s) p(a): 1 round.
Cost (2 parties): 15 rounds; ~545 bytes per element per party (measured: the three MSB
circuits ~140, the rest mostly the polynomial's products and truncations). Accuracy: absolute error
<= 1e-4 everywhere (any x in the Fixed range; beyond +-T the result is the saturated value,
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
    x = fx.fixed_input(x, "tanh" if odd else "sigmoid").truncate()
    f = x.dtype.f
    conv = fx.context(x)
    ar = conv.arith
    flat = fx.flat_share(x)
    if flat.size == 0:
        return fx.result(x, flat, 2 * f)
    big = SIGMOID_T if not odd else TANH_T
    center, half_log2, fn = (5.0, 3, _sigmoid_fn) if not odd else (3.0, 2, _tanh_fn)
    tb = fx.const(big, f)
    s, m1, g2 = conv.msb([flat, fx.add_const(conv, flat, -tb), fx.add_const(conv, flat, tb)])
    g1 = conv.bit_not(m1)
    (sx, g1x, g2x), (s_a, g1_a, g2_a) = conv.bit_mul([(s, flat), (g1, flat), (g2, flat)], [s, g1, g2])
    a = ar.add(ar.sub(ar.sub(flat, ar.mul_public(sx, 2)), g1x), g2x)
    a = ar.add(a, ar.mul_public(ar.add(g1_a, g2_a), tb))  # min(|x|, T) at scale f
    v = ar.mul_public(fx.add_const(conv, a, -fx.const(center, f)), 1 << (fx.P - f - half_log2))
    y = fx.poly_eval(conv, v, fx.cheb_coeffs(fn, -big / 2 / (1 << half_log2), big / 2 / (1 << half_log2), 16), fx.P)
    n = flat.shape[0]
    sgn = ar.sub(ar.public_share(np.ones(n, dtype=np.uint64)), ar.mul_public(s_a, 2))
    half = fx.const(0.5, fx.P)
    if odd:
        r = ar.mul(sgn, y)
    else:
        r = fx.add_const(conv, ar.mul(sgn, fx.add_const(conv, y, -half)), half)
    return fx.result(x, fx.lift(conv, r, fx.P, 2 * f), 2 * f)


def sigmoid(x: SecretTensor) -> SecretTensor:
    """1 / (1 + e^-x) elementwise (see the module docstring): 15 rounds for 2 parties."""
    return _saturated(x, odd=False)


def tanh(x: SecretTensor) -> SecretTensor:
    """tanh(x) elementwise (see the module docstring): 15 rounds for 2 parties."""
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
