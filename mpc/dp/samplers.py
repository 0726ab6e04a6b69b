"""Exact samplers of Bernoulli(exp(-gamma)), discrete Laplace and discrete Gaussian noise.

Algorithms (Canonne, Kamath and Steinke, "The discrete Gaussian for differential privacy",
NeurIPS 2020, algorithms 1-3), vectorised over the whole batch with NumPy:

1. Bernoulli(p) for a rational p = r / d: draw u uniform in [0, d) and return [u < r].
2. Bernoulli(exp(-gamma)), gamma = r / d in [0, 1]: K = 1; repeat: draw A ~ Bernoulli(gamma / K);
   stop when A = 0, else K += 1; return [K odd] (the alternating series of exp(-gamma)).
   For gamma > 1: floor(gamma) draws of Bernoulli(exp(-1)) must all succeed, then one draw of
   Bernoulli(exp(-(gamma - floor(gamma)))).
3. Discrete Laplace with scale t / s (pmf proportional to exp(-|x| s / t)), by rejection (used
   above ``TABLE_MAX_SCALE``): draw U uniform in
   [0, t) and accept it with probability exp(-U / t); draw V ~ Geometric(1 - 1/e) by counting
   successes of Bernoulli(exp(-1)); X = U + t V; Y = floor(X / s); draw a sign bit B; reject
   (B = 1, Y = 0), else return (1 - 2B) Y.
4. Discrete Gaussian N_Z(0, sigma^2) (pmf proportional to exp(-x^2 / (2 sigma^2))) with
   sigma^2 = a / b, by rejection: t = floor(sigma) + 1; draw Y from the discrete Laplace of
   scale t and accept it with probability exp(-(|Y| - sigma^2 / t)^2 / (2 sigma^2))
   = exp(-(b t |Y| - a)^2 / (2 a b t^2)). Used above ``TABLE_MAX_VARIANCE`` (sigma > 4096).
5. Discrete Gaussian (sigma <= 4096) and discrete Laplace (scale <= 1024) by exact inversion,
   the default paths: |X| = #{k >= 1 : U < S_k} for U uniform in [0, 1) and
   S_k = P(|X| >= k), then a random sign for |X| >= 1.
   The S_k are irrational; :mod:`mpc.dp._exact` gives their exact floors floor(S_k 2^p) at any
   precision p from integer brackets. U is drawn lazily, 64 bits at a time: with its first 64
   bits R, R < floor(S_k 2^64) proves U < S_k and R > floor(S_k 2^64) proves U > S_k; only
   R = floor(S_k 2^64) (probability about T 2^-64 per sample) needs 64 more bits of U and the
   floor at 128 bits, and so on (:func:`_resolve`). The table holds k = 1..T, T the first k with
   S_k < 2^-32; when U < S_T (probability < 2^-32), |X| - T is drawn from its exact conditional
   law: for the Gaussian by rejection, a geometric proposal K of ratio exp(-T / sigma^2)
   (algorithm 3's geometric) accepted with probability exp(-K^2 / (2 sigma^2)) (algorithm 2),
   since (T + K)^2 = T^2 + 2 T K + K^2; for the Laplace a geometric (memoryless). Per sample: one 64-bit draw, one look-up of its top 16 bits in
   a guide table (how many thresholds lie below that bucket; a binary search only when one lies
   inside it), one sign bit. The thresholds are computed once per parameter (cached; sigma = 20:
   128 thresholds, under 1 ms; sigma = 1000: 6339, ~20 ms; Laplace scale 20: 445).

Every rejection loop runs on the pending elements only: each round draws one batch for all of
them at once, so a batch of 10^6 samples costs a few dozen vectorised passes.

No floating point: every quantity on the sampling path is an integer (uint64 / int64 arrays,
or Python ints in object arrays when a parameter's numerator or denominator does not fit in 64
bits), and randomness is uniform integers from an AES-CTR stream (:class:`mpc.prg.PRG`, seeded
from ``os.urandom``). So the output distribution is exactly the one stated, with no
floating-point artefacts (Mironov, "On significance of the least significant bits for
differential privacy", CCS 2012). ``tests/test_dp_samplers.py`` fails if a float enters this
module. Parameters may be floats: they are converted to the fraction they denote exactly
(:func:`mpc.dp._rational.to_fraction`).

Timing: the number of loop rounds depends on the random draws, so these samplers are meant for
noise a party adds on its own (distributed noise, tests, the plaintext reference); noise inside
MPC uses :mod:`mpc.dp.noise`.
"""

from __future__ import annotations

import functools
from fractions import Fraction
from math import isqrt

import numpy as np

from mpc.dp import _exact
from mpc.dp._rational import to_fraction, to_size
from mpc.errors import ConfigError
from mpc.prg import PRG

__all__ = ["bernoulli_exp", "discrete_gaussian", "discrete_gaussian_variance", "discrete_laplace", "MAX_SCALE"]

MAX_SCALE = 1 << 40  # scales and sigmas above this would overflow int64 outputs in the tails
_SMALL = 1 << 31  # below this, products of two quantities fit in uint64: the vectorised fast path
_U64 = 1 << 64
TABLE_MAX_VARIANCE = 1 << 24  # inversion (algorithm 5) up to sigma = 4096: a table of ~6.7 sigma thresholds
TABLE_MAX_SCALE = 1 << 10  # and the discrete Laplace up to scale 1024: ~22 scale thresholds
TABLE_TAIL = 32  # the table ends where P(|X| >= T) < 2^-32: the tail path's rate
GUIDE_BITS = 16  # the inversion's guide: 2^16 buckets of the draw's top bits


class _Coins:
    """Uniform integers from a PRG: uint64 arrays for bounds up to 2^64, Python ints above."""

    def __init__(self, prg: PRG) -> None:
        self.prg = prg

    def below(self, bound: int, count: int) -> np.ndarray:
        if bound <= _U64:
            return self.prg.below(bound, count)
        nbytes = (bound.bit_length() + 7) // 8
        out = np.empty(count, dtype=object)
        for i in range(count):  # rejection per element: accept draws below the largest multiple
            limit = ((1 << (8 * nbytes)) // bound) * bound
            while True:
                v = int.from_bytes(self.prg.random_bytes(nbytes), "little")
                if v < limit:
                    out[i] = v % bound
                    break
        return out

    def bits(self, count: int) -> np.ndarray:
        packed = np.frombuffer(self.prg.random_bytes((count + 7) // 8), dtype=np.uint8)
        return np.unpackbits(packed, count=count).astype(bool)


def _as_ints(values: np.ndarray, big: bool) -> np.ndarray:
    """Non-negative integers as uint64 (``big`` False) or as an object array of Python ints."""
    return values.astype(object) if big else values.astype(np.uint64)


def _bern_exp1(coins: _Coins, count: int) -> np.ndarray:
    """Bernoulli(exp(-1)) x ``count`` (algorithm 2 with gamma = 1: A ~ Bernoulli(1 / K))."""
    k_final = np.ones(count, dtype=np.int64)
    alive = np.arange(count)
    k = 2  # the first draw, Bernoulli(1 / 1), always succeeds
    while alive.size:
        hit = coins.below(k, alive.size) == 0  # Bernoulli(1 / k)
        k_final[alive[~hit]] = k
        alive = alive[hit]
        k += 1
    return (k_final & 1).astype(bool)


def _bern_exp_frac(coins: _Coins, r: np.ndarray, den: int) -> np.ndarray:
    """Bernoulli(exp(-r_i / den)) for 0 <= r_i < den (algorithm 2, gamma_i = r_i / den < 1)."""
    count = r.shape[0]
    k_final = np.ones(count, dtype=np.int64)
    alive = np.arange(count)
    k = 1
    while alive.size:
        u = coins.below(den * k, alive.size)
        hit = u < r[alive]  # Bernoulli(r_i / (den k)) = Bernoulli(gamma_i / k)
        k_final[alive[~hit]] = k
        alive = alive[hit]
        k += 1
    return (k_final & 1).astype(bool)


def _bern_exp(coins: _Coins, num: np.ndarray, den: int) -> np.ndarray:
    """Bernoulli(exp(-num_i / den)) for num_i >= 0: the integer part by Bernoulli(exp(-1)) draws
    (all must succeed), then the fractional part."""
    whole, frac = num // den, num % den
    ok = np.ones(num.shape[0], dtype=bool)
    j = 1
    while True:
        idx = np.flatnonzero(ok & (whole >= j))
        if not idx.size:
            break
        ok[idx] = _bern_exp1(coins, idx.size)
        j += 1
    idx = np.flatnonzero(ok)
    ok[idx] = _bern_exp_frac(coins, frac[idx], den)
    return ok


def _geometric(coins: _Coins, count: int) -> np.ndarray:
    """Successes of Bernoulli(exp(-1)) before the first failure: P(V = v) = (1 - 1/e) e^-v."""
    v = np.zeros(count, dtype=np.int64)
    alive = np.arange(count)
    while alive.size:
        alive = alive[_bern_exp1(coins, alive.size)]
        v[alive] += 1
    return v


def _geom_scaled(coins: _Coins, t: int, s: int, count: int) -> np.ndarray:
    """``count`` draws of Y >= 0 with P(Y = y) proportional to exp(-y s / t) (algorithm 3 before
    the sign: X = U + t V geometric of parameter exp(-1/t), Y = floor(X / s)), int64."""
    out = np.zeros(count, dtype=np.int64)
    pending = np.arange(count)
    big = t >= _SMALL or s >= _SMALL
    while pending.size:
        u = _as_ints(coins.below(t, pending.size), big)
        keep = _bern_exp_frac(coins, u, t)
        u = u[keep]
        v = _as_ints(_geometric(coins, u.size), big)
        out[pending[keep]] = ((u + v * t) // s).astype(np.int64)
        pending = pending[~keep]
    return out


def _laplace(coins: _Coins, t: int, s: int, count: int) -> np.ndarray:
    """``count`` draws of the discrete Laplace with scale t / s (algorithm 3), int64."""
    out = np.zeros(count, dtype=np.int64)
    pending = np.arange(count)
    while pending.size:
        y = _geom_scaled(coins, t, s, pending.size)
        neg = coins.bits(y.size)
        ok = ~(neg & (y == 0))
        out[pending[ok]] = np.where(neg, -y, y)[ok]
        pending = pending[~ok]
    return out


def _gaussian_rejection(coins: _Coins, sigma2: Fraction, t: int, count: int) -> np.ndarray:
    """``count`` draws of N_Z(0, sigma2) by rejection from the discrete Laplace (algorithm 4), int64."""
    a, b = sigma2.numerator, sigma2.denominator
    den = 2 * a * b * t * t
    out = np.zeros(count, dtype=np.int64)
    pending = np.arange(count)
    while pending.size:
        y = _laplace(coins, t, 1, pending.size)
        mag = np.abs(y)
        big = b * t * int(mag.max(initial=0)) + a >= _SMALL
        c = _as_ints(mag, big) * (b * t) if big else mag * (b * t) - a
        if big:
            c = c - a
        num = c * c if big else (c * c).astype(np.uint64)  # (b t |Y| - a)^2 < 2^62 on the fast path
        ok = _bern_exp(coins, num, den)
        out[pending[ok]] = y[ok]
        pending = pending[~ok]
    return out


def _tail(kind: str, param: Fraction) -> _exact.SymmetricTail:
    return _exact.gaussian_tail(param) if kind == "gaussian" else _exact.laplace_tail(param)


@functools.lru_cache(maxsize=32)
def _inversion_table(kind: str, param: Fraction, bits: int,
                     length: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The thresholds floor(S_k 2^bits) for k = 1..T, ascending (k = T first), S_k = P(|X| >= k)
    for the law ``kind`` ("gaussian" with sigma^2 or "laplace" with the scale ``param``),
    T = ``length`` or by default the first k with S_k < 2^-TABLE_TAIL; and the guide: for each
    value h of the top GUIDE_BITS bits of the draw, how many thresholds lie below its bucket
    and whether one lies inside it (then the draw needs a search)."""
    tail = _tail(kind, param)
    if length is not None:
        floors = tail.floors(list(range(1, length + 1)), bits)
    else:
        stop = (1 << (bits - TABLE_TAIL)) if bits > TABLE_TAIL else 1
        if kind == "gaussian":  # sqrt(2 * 32 ln 2) sigma ~ 6.7 sigma
            k = isqrt(45 * param.numerator // param.denominator) + 8
        else:  # 32 ln 2 scale ~ 22.2 scale
            k = 23 * param.numerator // param.denominator + 8
        while True:
            floors = tail.floors(list(range(1, k + 1)), bits)
            if floors[-1] < stop:
                floors = floors[: next(i for i, f in enumerate(floors) if f < stop) + 1]
                break
            k *= 2
    asc = np.array(floors[::-1], dtype=np.uint64)
    g = min(GUIDE_BITS, bits)
    starts = np.arange(1 << g, dtype=np.uint64) << np.uint64(bits - g)
    below = np.searchsorted(asc, starts, side="left")  # thresholds below the bucket
    upto = np.append(below[1:], asc.size)  # thresholds below the next bucket
    return asc, below.astype(np.int64), upto != below


def _resolve(coins: _Coins, tail: _exact.SymmetricTail, asc: np.ndarray, prefix: int, bits: int, m: int) -> int:
    """How many more thresholds U passes when its first ``bits`` bits ``prefix`` equal the
    floor of S_(m+1) (and maybe of the next ones): draw 64 more bits of U at a time and compare
    with the exact floors at that precision until no candidate is tied."""
    size = asc.size
    cands = []
    k = m + 1
    while k <= size and int(asc[size - k]) == prefix:
        cands.append(k)
        k += 1
    passed = 0
    while cands:
        prefix = (prefix << 64) | int(coins.prg.uint64(1)[0])
        bits += 64
        floors = tail.floors(cands, bits)
        sure = 0
        while sure < len(cands) and floors[sure] > prefix:
            sure += 1
        passed += sure
        tied = []
        for kk, fl in zip(cands[sure:], floors[sure:], strict=True):
            if fl != prefix:
                break
            tied.append(kk)
        cands = tied
    return passed


def _gaussian_beyond(coins: _Coins, sigma2: Fraction, start: int, count: int) -> np.ndarray:
    """``count`` draws of |X| - start given |X| >= start >= 1: P(K = k) proportional to
    exp(-(2 start k + k^2) / (2 sigma2)). Proposal: K geometric, P(K = k) proportional to
    exp(-k start / sigma2) (:func:`_geom_scaled` of scale sigma2 / start); accept it with
    probability exp(-k^2 / (2 sigma2))."""
    a, b = sigma2.numerator, sigma2.denominator
    scale = Fraction(a, b * start)  # sigma2 / start, exactly
    out = np.zeros(count, dtype=np.int64)
    pending = np.arange(count)
    while pending.size:
        k = _geom_scaled(coins, scale.numerator, scale.denominator, pending.size)
        kmax = int(k.max(initial=0))
        big = kmax * kmax * b >= _SMALL or 2 * a >= _SMALL
        kk = _as_ints(k, big)
        ok = _bern_exp(coins, kk * kk * b, 2 * a)
        out[pending[ok]] = k[ok]
        pending = pending[~ok]
    return out


def _inversion(coins: _Coins, kind: str, param: Fraction, count: int, bits: int, length: int | None) -> np.ndarray:
    """``count`` draws of the law ``kind`` by inversion of the law of |X| (module docstring,
    algorithm 5); ``bits`` and ``length`` (the first comparison's precision and the table's
    length) are parameters for the tests, which exercise the tied and the tail paths."""
    asc, below, mixed = _inversion_table(kind, param, bits, length)
    size = asc.size
    r = coins.prg.uint64(count)
    if bits < 64:
        r >>= np.uint64(64 - bits)
    h = r >> np.uint64(bits - min(GUIDE_BITS, bits))
    mag = size - below[h]  # #{k : floor(S_k 2^bits) > r}: U < S_k for each of them
    sub = np.flatnonzero(mixed[h])  # a threshold in the draw's bucket: search
    if sub.size:
        rs = r[sub]
        idx = np.searchsorted(asc, rs, side="right")
        mag[sub] = size - idx
        tied = sub[(idx > 0) & (asc[np.maximum(idx, 1) - 1] == rs)]
        if tied.size:
            tail = _tail(kind, param)
            for i in tied.tolist():
                mag[i] += _resolve(coins, tail, asc, int(r[i]), bits, int(mag[i]))
    far = np.flatnonzero(mag == size)  # U < S_T: |X| >= T
    if far.size:
        if kind == "gaussian":
            extra = _gaussian_beyond(coins, param, size, far.size)
        else:  # memoryless: |X| - T given |X| >= T is geometric, P(k) ~ exp(-k / scale)
            extra = _geom_scaled(coins, param.numerator, param.denominator, far.size)
        mag[far] = size + extra
    np.negative(mag, out=mag, where=coins.bits(count))
    return mag


def _gaussian_inversion(coins: _Coins, sigma2: Fraction, count: int, bits: int = 64,
                        length: int | None = None) -> np.ndarray:
    """N_Z(0, sigma2) by inversion (algorithm 5)."""
    return _inversion(coins, "gaussian", sigma2, count, bits, length)


def _laplace_inversion(coins: _Coins, scale: Fraction, count: int, bits: int = 64,
                       length: int | None = None) -> np.ndarray:
    """The discrete Laplace of ``scale`` by inversion (algorithm 5 with S_k = 2 p^k / (1 + p))."""
    return _inversion(coins, "laplace", scale, count, bits, length)


def _gaussian(coins: _Coins, sigma2: Fraction, t: int, count: int) -> np.ndarray:
    """``count`` draws of N_Z(0, sigma2), int64: inversion up to TABLE_MAX_VARIANCE, else rejection."""
    if sigma2 <= TABLE_MAX_VARIANCE:
        return _gaussian_inversion(coins, sigma2, count)
    return _gaussian_rejection(coins, sigma2, t, count)


def _coins(prg: PRG | None) -> _Coins:
    if prg is not None and not isinstance(prg, PRG):
        raise ConfigError(f"prg: expected an mpc.prg.PRG (AES-CTR) or None, got {type(prg).__name__}")
    return _Coins(prg if prg is not None else PRG.fresh())


def _check_scale(value: Fraction, name: str) -> None:
    if value > MAX_SCALE:
        raise ConfigError(f"{name}: at most 2^40 (int64 outputs), got {float(value):.3g}")


def bernoulli_exp(gamma: object, size: object = (), prg: PRG | None = None) -> np.ndarray:
    """Bernoulli(exp(-gamma)) draws (a bool array of shape ``size``) for a rational gamma >= 0.

    ``gamma``: int, Fraction, float (its exact value) or string. ``prg``: an AES-CTR
    :class:`~mpc.prg.PRG`; by default a fresh one seeded from ``os.urandom``.
    """
    g = to_fraction(gamma, "gamma", allow_zero=True)
    shape = to_size(size)
    count = int(np.prod(shape, dtype=np.int64))
    big = g.numerator >= _SMALL or g.denominator >= _SMALL
    num = np.full(count, g.numerator, dtype=object if big else np.uint64)
    return _bern_exp(_coins(prg), num, g.denominator).reshape(shape)


def discrete_laplace(scale: object, size: object = (), prg: PRG | None = None) -> np.ndarray:
    """Exact discrete Laplace noise: P(x) proportional to exp(-|x| / scale), x in Z (int64 array).

    ``scale`` > 0: int, Fraction, float (its exact value) or string, at most 2^40. Adding it to
    an integer query of sensitivity Delta gives (Delta / scale)-DP.
    """
    sc = to_fraction(scale, "scale")
    _check_scale(sc, "scale")
    shape = to_size(size)
    count = int(np.prod(shape, dtype=np.int64))
    if sc <= TABLE_MAX_SCALE:
        return _laplace_inversion(_coins(prg), sc, count).reshape(shape)
    return _laplace(_coins(prg), sc.numerator, sc.denominator, count).reshape(shape)


def discrete_gaussian(sigma: object, size: object = (), prg: PRG | None = None) -> np.ndarray:
    """Exact discrete Gaussian noise: P(x) proportional to exp(-x^2 / (2 sigma^2)), x in Z.

    ``sigma`` > 0: int, Fraction, float (its exact value) or string, at most 2^40. Adding it to
    an integer query of sensitivity Delta gives (Delta^2 / (2 sigma^2))-zCDP.
    """
    sg = to_fraction(sigma, "sigma")
    _check_scale(sg, "sigma")
    shape = to_size(size)
    count = int(np.prod(shape, dtype=np.int64))
    t = sg.numerator // sg.denominator + 1
    return _gaussian(_coins(prg), sg * sg, t, count).reshape(shape)


def discrete_gaussian_variance(variance: object, size: object = (), prg: PRG | None = None) -> np.ndarray:
    """N_Z(0, variance) for a rational variance (sigma^2) that need not be a square: the
    distributed noise splits sigma^2 among parties. Same algorithm, t = isqrt(floor(variance)) + 1
    (any t >= 1 is correct; this one keeps the expected rejections low)."""
    var = to_fraction(variance, "variance")
    _check_scale(var, "variance")
    shape = to_size(size)
    count = int(np.prod(shape, dtype=np.int64))
    t = isqrt(var.numerator // var.denominator) + 1
    return _gaussian(_coins(prg), var, t, count).reshape(shape)
