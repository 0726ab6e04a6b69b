"""Inversion tables for sampling discrete Gaussian and discrete Laplace noise inside MPC.

A table describes the law as 2^L - 1 sorted integer boundaries B_1 <= ... <= B_(2^L - 1) in
[0, 2^63]: for R uniform in [0, 2^63), the index #{i : B_i <= R} falls on i with probability
(B_(i+1) - B_i) / 2^63 (B_0 = 0, B_(2^L) = 2^63), and the noise is index - offset. The support
is truncated to [-T, T] (the tails beyond are folded into the two end points) with T the
smallest integer whose tail mass is below 2^-64, and every boundary is the exact CDF rounded
to a multiple of 2^-63, so the sampled law is within total variation

    tv <= (2T + 1) 2^-64 + P(|X| > T)  (2^-55 at sigma = 20; < 2^-48 for every table allowed here)

of the exact one; ``tv`` records the bound of each table. The CDF is computed with 60-digit
decimal arithmetic (public parameters only: no secret ever meets a float).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction

from mpc.errors import ConfigError

MAX_LEVELS = 16  # at most 65535 support points: the one-hot of the last level is 2^16 ANDs per sample
_ONE63 = 1 << 63


@dataclass(frozen=True)
class InversionTable:
    offset: int  # noise = index - offset
    levels: int  # L: index bits
    bounds: tuple[int, ...]  # B_1 .. B_(2^L - 1)
    tv: float  # total-variation bound to the exact law

    def boundary(self, i: int) -> int:
        """B_i for 1 <= i < 2^L."""
        return self.bounds[i - 1]


def _build(weights: list[Decimal], tail: Decimal, offset: int, lower_tail: bool = True) -> InversionTable:
    """``weights[i]``: unnormalised mass of x = i - offset over the kept support; ``tail``: the
    unnormalised mass beyond it on each side (the upper side only without ``lower_tail``)."""
    sides = 2 if lower_tail else 1
    total = sum(weights) + sides * tail
    levels = max((len(weights) - 1).bit_length(), 1)
    if levels > MAX_LEVELS:
        raise ConfigError(f"noise parameter: {len(weights)} support points need {levels} index bits, at most "
                          f"{MAX_LEVELS}; use a coarser granularity (smaller noise in integer units)")
    bounds = []
    acc = tail if lower_tail else Decimal(0)  # the lower tail folds into the first point
    for w in weights[:-1]:
        acc += w
        bounds.append(int((acc / total * _ONE63).to_integral_value()))
    bounds += [_ONE63] * ((1 << levels) - 1 - len(bounds))
    tv = float(len(weights) * Decimal(2) ** -64 + sides * tail / total)
    return InversionTable(offset, levels, tuple(bounds), tv)


@functools.lru_cache(maxsize=64)
def gaussian(sigma2: Fraction) -> InversionTable:
    """The discrete Gaussian N_Z(0, sigma2)."""
    with localcontext() as ctx:
        ctx.prec = 60
        s2 = Decimal(sigma2.numerator) / Decimal(sigma2.denominator)
        eps = Decimal(2) ** -66
        wide = int((s2.sqrt() * 15).to_integral_value()) + 10  # e^-112 beyond: past every tail bound
        w = [(-Decimal(x * x) / (2 * s2)).exp() for x in range(wide + 1)]
        norm = w[0] + 2 * sum(w[1:])
        t, tail = wide, Decimal(0)
        while t > 0 and tail + w[t] < eps * norm:  # shrink T while the folded tail stays < 2^-66
            tail += w[t]
            t -= 1
        return _build([w[abs(x)] for x in range(-t, t + 1)], tail, t)


def _powers(scale: Fraction, two_sided: bool) -> tuple[list[Decimal], Decimal]:
    """q^0 .. q^T for q = exp(-1/scale), T the least with the tail mass beyond it (both sides of
    the discrete Laplace, or the one side of the geometric law) below 2^-66, and the
    unnormalised mass beyond T on one side, q^(T+1) / (1 - q). Call inside a 60-digit context."""
    q = (-Decimal(scale.denominator) / Decimal(scale.numerator)).exp()
    relative = 2 / (1 + q) if two_sided else Decimal(1)  # tail mass / q^(T+1), normalised
    w = [Decimal(1)]
    while w[-1] * q * relative >= Decimal(2) ** -66:
        w.append(w[-1] * q)
        if len(w) > 1 << MAX_LEVELS:
            raise ConfigError("scale: too large for an inversion table; use a coarser granularity")
    return w, w[-1] * q / (1 - q)


@functools.lru_cache(maxsize=64)
def laplace(scale: Fraction) -> InversionTable:
    """The discrete Laplace with P(x) proportional to exp(-|x| / scale)."""
    with localcontext() as ctx:
        ctx.prec = 60
        w, tail = _powers(scale, two_sided=True)
        t = len(w) - 1
        return _build([w[abs(x)] for x in range(-t, t + 1)], tail, t)


@functools.lru_cache(maxsize=64)
def geometric(scale: Fraction) -> InversionTable:
    """The one-sided geometric law P(k) proportional to exp(-k / scale), k >= 0 (the discrete
    exponential noise of report-noisy-max in its permute-and-flip form)."""
    with localcontext() as ctx:
        ctx.prec = 60
        w, tail = _powers(scale, two_sided=False)
        return _build(w, tail, 0, lower_tail=False)
