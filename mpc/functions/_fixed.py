"""Raw fixed-point building blocks shared by the functions: polynomials, secret powers of two.

Internal values are raw shares of the tensor's arithmetic engine with an explicit scale
(fractional bits), independent of the tensor's dtype, so that normalised quantities can use more
precision than the user's f. Everything arithmetic goes through the engine protocols of
:mod:`mpc.engines.base` (``conv.arith``, ``conv.boolean``, the converter ``conv`` itself), so the
functions run on every engine that offers them.

- :func:`cheb_coeffs`: the degree-d Chebyshev interpolant of a function on [lo, hi] (near
  minimax; Trefethen, "Approximation Theory and Approximation Practice", SIAM 2013), in the
  power basis of the raw variable. Computed once per (function, interval, degree) and cached.
- :func:`poly_eval`: p(v) for a secret v (|v| <= 1) at scale P. Powers by doubling: level L
  multiplies v^(2^L) by v^1..v^(2^L) in one batched product whose operands' truncations are
  folded into its round (the powers stay at scale 2P until the end), then all powers are
  truncated in one batch, so degree d costs ceil(log2 d) + 1 rounds and d-1 products; the public
  combination sum c_i v^i is local at scale 2P and truncated once (1 round) to the requested
  scale. Error: about (2 degree + sum |c_i|) units of 2^-P plus the interpolation error. A v
  given with its truncation pending (``pending`` bits) costs no round more: the first level's
  product and the powers' batch fold it in. :func:`poly_steps` is the same as a step generator,
  to run in lockstep (:func:`together`) with an independent protocol (sigmoid's comparisons).
- :func:`pow2_weights` / :func:`apply_pow2`: multiply Y (scale P) by 2^(e_j) where j is a secret
  one-hot index (arithmetic 0/1 shares H_j) and e_j public integers: weights D1_j = 2^e_j for
  e_j >= 0 (exact product) and D2_j = 2^(e_j + P) for e_j < 0 (product then one truncation by
  P); the two products share one round, the truncation one more. :func:`apply_pow2_pending` takes
  Y at scale 2P with its truncation pending and folds it into the products.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Sequence

import numpy as np
from numpy.polynomial import Chebyshev, Polynomial

from mpc.dtypes import Fixed
from mpc.engines import steps
from mpc.engines.base import MixedProtocols
from mpc.errors import ShareTypeError
from mpc.tensor.secret_tensor import DEFAULT_FIXED, SecretTensor

P = 28  # internal scale of normalised values and polynomial variables
MAXV = (1 << 62) - 1  # largest ring value whose truncation is exact: the saturation value


def fixed_input(x: SecretTensor, what: str) -> SecretTensor:
    """x as a Fixed tensor (Int64 is converted locally to Fixed(16))."""
    if not isinstance(x, SecretTensor):
        raise ShareTypeError(f"{what}: expected a SecretTensor, got {type(x).__name__}")
    if not isinstance(x.dtype, Fixed):
        x = x.astype(DEFAULT_FIXED)
    if x.dtype.f > P - 4:
        raise ShareTypeError(f"{what}: Fixed(f={x.dtype.f}) has more fractional bits than supported ({P - 4})")
    return x


def unchecked(eng) -> contextlib.AbstractContextManager[None]:
    """The cleartext engine's block for intended wraps (meaningless values that an exact 0
    multiplies away); a no-op on the other engines."""
    block = getattr(eng, "unchecked", None)
    return block() if block is not None else contextlib.nullcontext()


def context(x: SecretTensor) -> MixedProtocols:
    """The engine's bit protocols (ConfigError when the engine has no boolean side)."""
    return x._converter()


def flat_share(x: SecretTensor) -> np.ndarray:
    return np.ascontiguousarray(x.share).reshape(-1)


def prepare(x: SecretTensor, what: str) -> tuple[SecretTensor, MixedProtocols, np.ndarray]:
    """x as a Fixed tensor (:func:`fixed_input`), its converter and its flat share."""
    x = fixed_input(x, what)
    return x, context(x), flat_share(x)


def result(x: SecretTensor, share: np.ndarray, scale: int) -> SecretTensor:
    """A tensor of x's dtype and shape from a flat share at ``scale``."""
    return SecretTensor(x.engine, share.reshape(x.shape), x.dtype, scale)


def const(value: float, scale: int) -> int:
    """round(value * 2^scale) as a Python int (public constant)."""
    return int(round(value * (1 << scale))) if scale >= 0 else int(round(value / (1 << -scale)))


def ring(v: int | Sequence[int] | np.ndarray) -> np.ndarray:
    """Python ints (any sign) as ring elements."""
    arr = np.atleast_1d(np.asarray(v, dtype=object))
    return np.array([int(a) % (1 << 64) for a in arr], dtype=np.uint64).reshape(arr.shape)


def add_const(conv: MixedProtocols, share: np.ndarray, value: int) -> np.ndarray:
    """share + value (a public ring integer)."""
    return conv.arith.add_public(share, np.full(share.shape, int(value) % (1 << 64), dtype=np.uint64))


@functools.cache
def cheb_coeffs(fn: Callable[[np.ndarray], np.ndarray], lo: float, hi: float, degree: int) -> tuple[float, ...]:
    """Power-basis coefficients (constant first) of fn's Chebyshev interpolant on [lo, hi].

    ``fn`` must be a module-level function or a hashable callable equal for equal parameters (the
    cache is keyed by it): a pure memo of public constants, computed on first use, never at
    import."""
    series = Chebyshev.interpolate(fn, int(degree), domain=[float(lo), float(hi)])
    return tuple(float(c) for c in series.convert(kind=Polynomial).coef)


def poly_eval(conv: MixedProtocols, v: np.ndarray, coeffs: Sequence[float], out_scale: int, scale: int = P,
              pending: int = 0) -> np.ndarray:
    """Shares of sum_i coeffs[i] v^i at ``out_scale`` (<= 2 scale) for v at ``scale`` (<= 29), |v| <= 1
    and sum_i |coeffs[i] v^i| < 2^(62 - 2 scale).

    Every power above v is kept at scale 2 scale with its truncation pending, so the next level's
    products fold it into their own round (:meth:`~mpc.engines.semi2k.Semi2k.mul_truncating`): one
    round per level, then one batched truncation of all powers and, unless ``out_scale`` is
    2 scale, the final one. ``pending``: v is given at scale + pending (a truncation of that many
    bits still to do, 0 <= pending <= scale): it is folded into the first level's product and
    into the batched truncation of the powers, so it costs no round of its own."""
    return run(conv, poly_steps(conv, v, coeffs, out_scale, scale, pending))


def poly_steps(conv: MixedProtocols, v: np.ndarray, coeffs: Sequence[float], out_scale: int, scale: int = P,
               pending: int = 0) -> steps.Steps[np.ndarray]:
    """:func:`poly_eval` as a step generator (:mod:`mpc.engines.steps`), to run in lockstep with an
    independent protocol (sigmoid's comparisons); the engine's plain methods where it has no steps."""
    eng = conv.arith
    d = len(coeffs) - 1
    m = v.shape[0]
    powers = {1: (v, pending)}  # power -> (share, pending truncation in bits)
    have = 1
    while have < d:
        top = min(2 * have, d)
        targets = list(range(have + 1, top + 1))
        left = _operand(eng, [powers[have]] * len(targets))
        right = _operand(eng, [powers[t - have] for t in targets])
        prod = yield from steps.steps(eng, "mul_truncating", left[0], left[1], right[0], right[1])
        for i, t in enumerate(targets):
            powers[t] = (prod[i * m : (i + 1) * m], scale)
        have = top
    at_scale = {1: v}
    if d >= 2:
        # v itself joins the batch lifted to a pending truncation of ``scale`` bits, as the powers
        parts = [eng.mul_public(v, 1 << (scale - pending))] if pending else []
        (flat,) = yield from steps.steps(
            eng, "truncate_many", [np.concatenate(parts + [powers[i][0] for i in range(2, d + 1)])], scale)
        if pending:
            at_scale[1], flat = flat[:m], flat[m:]
        at_scale.update({i: flat[(i - 2) * m : (i - 1) * m] for i in range(2, d + 1)})
    elif pending:
        (at_scale[1],) = yield from steps.steps(eng, "truncate_many", [v], pending)
    acc = eng.zeros(v.shape)
    for i in range(1, d + 1):
        acc = eng.add(acc, eng.mul_public(at_scale[i], const(coeffs[i], scale) % (1 << 64)))
    acc = add_const(conv, acc, const(coeffs[0], 2 * scale))
    if out_scale == 2 * scale:
        return acc
    (out,) = yield from steps.steps(eng, "truncate_many", [acc], 2 * scale - out_scale)
    return out


def run(conv: MixedProtocols, gen: steps.Steps):
    """Drive one step generator on the converter's engines (their plain rounds)."""
    return steps.run(getattr(conv.arith, "round_exchange", None) or conv.arith.channel.exchange, gen)


def together(conv: MixedProtocols, *gens: steps.Steps) -> list:
    """Run independent step generators in lockstep (:func:`mpc.engines.steps.lockstep`): one
    merged exchange per round where the engine offers steps (semi2k with GMW, spdz2k), one
    after the other otherwise; their results in order."""
    return steps.lockstep(gens, getattr(conv.arith, "round_exchange", None))


def _operand(eng, parts: Sequence[tuple[np.ndarray, int]]) -> tuple[np.ndarray, int]:
    """One product operand from (share, pending bits) parts: concatenated, with one pending shift
    for all, the largest K; a part pending k < K bits joins lifted exactly (times 2^(K - k))."""
    top = max(k for _, k in parts)
    return np.concatenate([sh if k == top else eng.mul_public(sh, 1 << (top - k)) for sh, k in parts]), top


def pow2_weights(exps: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(D1, D2) ring weight vectors for multipliers 2^e_j (see the module docstring)."""
    d1 = [1 << e if e >= 0 else 0 for e in exps]
    d2 = [1 << (e + P) if -P <= e < 0 else 0 for e in exps]
    return ring(d1), ring(d2)


def weighted(conv: MixedProtocols, weights: np.ndarray, onehot: np.ndarray) -> np.ndarray:
    """sum_j weights[j] * H_j for public ring weights (k,) and shares H (k, N): local."""
    return np.ascontiguousarray(conv.arith.public_matmul(weights.reshape(1, -1), np.ascontiguousarray(onehot))[0])


def apply_pow2(conv: MixedProtocols, y: np.ndarray, d1: np.ndarray, d2: np.ndarray) -> np.ndarray:
    """y * D1 + trunc(y * D2, P) for secret weights D1, D2 (already weighted sums): 2 rounds."""
    eng = conv.arith
    m = y.shape[0]
    prod = eng.mul(np.concatenate([y, y]), np.concatenate([d1, d2]))
    (low,) = eng.truncate_many([prod[m:]], P)
    return eng.add(prod[:m], low)


def apply_pow2_pending(conv: MixedProtocols, y: np.ndarray, d1: np.ndarray, d2: np.ndarray) -> np.ndarray:
    """:func:`apply_pow2` for y at scale 2P with its truncation to P pending (a polynomial's
    untruncated result): that truncation is folded into the products' round, so it costs no round
    of its own: 2 rounds."""
    eng = conv.arith
    m = y.shape[0]
    prod = eng.mul_truncating(np.concatenate([y, y]), P, np.concatenate([d1, d2]), 0)
    (low,) = eng.truncate_many([prod[m:]], P)
    return eng.add(prod[:m], low)


def lift(conv: MixedProtocols, share: np.ndarray, frm: int, to: int) -> np.ndarray:
    """A share at scale ``frm`` brought to scale ``to``: exact upwards, one truncation down."""
    if to >= frm:
        return conv.arith.mul_public(share, 1 << (to - frm)) if to > frm else share
    return conv.arith.truncate_many([share], frm - to)[0]
