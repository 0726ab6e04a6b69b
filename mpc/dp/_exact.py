"""Exact integer brackets of exp(-x) and of the discrete Gaussian's tail masses: the thresholds
of the inversion sampler in :mod:`mpc.dp.samplers`.

Fixed point: a bracket ``(lo, hi)`` at ``w`` bits of a real v says lo <= v 2^w <= hi (Python
integers). Every operation rounds its lower end down and its upper end up, so a bracket is
rigorous however many operations produced it; widening the precision narrows it. No floating
point anywhere (the samplers' no-float test covers this module too).

1. exp(-f / d) for 0 <= f <= d: the alternating series sum_j (-f/d)^j / j!, whose terms do not
   increase, so the remainder after the first term below one unit is at most one unit.
2. exp(-x) for rational x >= 0: exp(-frac(x)) times exp(-1)^floor(x) (binary powering).
3. The discrete Gaussian N_Z(0, sigma^2), sigma^2 = a / b: w_j = exp(-j^2 c) with c = b / (2a)
   by the recurrence w_(j+1) = w_j r_j, r_j = exp(-c) exp(-2c)^j; the mass beyond J is below
   w_(J+1) / (1 - exp(-2 (J+1) c)) <= w_(J+1) (1 + a / (b (J+1))) (since j^2 >= (J+1)^2 +
   2 (J+1)(j - J - 1) beyond J, and 1 / (1 - e^-y) <= 1 + 1 / y). The normaliser is
   Z = w_0 + 2 sum_(j>=1) w_j, and S_k = P(|X| >= k) = 2 sum_(j>=k) w_j / Z for k >= 1.
   :meth:`GaussianTail.floors` returns floor(S_k 2^p) exactly: it widens the precision until
   the floors of both ends of every bracket agree (S_k is irrational, so this ends).
"""

from __future__ import annotations

import functools
from fractions import Fraction

__all__ = ["exp_neg", "GaussianTail", "gaussian_tail"]

MAX_TERMS = 1 << 18  # table entries: sigma up to ~2^13; larger sigmas use the rejection sampler


def _mul(x: tuple[int, int], y: tuple[int, int], w: int) -> tuple[int, int]:
    """Bracket of a product of two non-negative brackets at ``w`` bits."""
    return (x[0] * y[0]) >> w, -((-(x[1] * y[1])) >> w)


def _series(f: int, d: int, w: int) -> tuple[int, int]:
    """Bracket of exp(-f / d) 2^w for 0 <= f <= d (step 1)."""
    lo = hi = 0
    num, den, j = 1, 1, 0  # term j = f^j / (d^j j!)
    while True:
        q, r = divmod(num << w, den)
        if j % 2 == 0:
            lo, hi = lo + q, hi + q + (1 if r else 0)
        else:
            lo, hi = lo - q - (1 if r else 0), hi - q
        if q == 0 or f == 0:  # this term is below one unit: so is the remainder
            break
        j += 1
        num, den = num * f, den * d * j
    return max(lo - 1, 0), hi + 1


def exp_neg(num: int, den: int, w: int) -> tuple[int, int]:
    """Bracket of exp(-num / den) 2^w for integers num >= 0, den >= 1 (steps 1-2)."""
    whole, frac = divmod(num, den)
    out = _series(frac, den, w)
    base = _series(1, 1, w)
    while whole:
        if whole & 1:
            out = _mul(out, base, w)
        whole >>= 1
        if whole:
            base = _mul(base, base, w)
    return out


class GaussianTail:
    """S_k = P(|X| >= k) of X ~ N_Z(0, a / b), as exact floors at any precision (step 3)."""

    def __init__(self, a: int, b: int) -> None:
        self.a, self.b = a, b
        self._cache: dict[tuple[int, int], tuple[list[int], list[int], int, int, int]] = {}

    def _suffix(self, w: int, slack: int) -> tuple[list[int], list[int], int, int, int]:
        """Brackets of sum_(j>=k) w_j 2^w for k = 1..J (lists indexed k - 1), of Z 2^w, and an
        upper bound (at most 2^slack units) of the mass beyond J. The upper ends stop shrinking
        at a few units (rounding up), hence the slack."""
        if (w, slack) in self._cache:
            return self._cache[w, slack]
        a, b = self.a, self.b
        q = exp_neg(b, 2 * a, w)  # exp(-c)
        q2 = exp_neg(b, a, w)  # exp(-2c)
        one = 1 << w
        wj = (one, one)
        r = q
        lows, highs = [], []
        j = 0
        while True:
            wj = _mul(wj, r, w)  # w_(j+1)
            r = _mul(r, q2, w)
            j += 1
            tail = -((-(wj[1] * (b * j + a))) // (b * j))  # >= sum_(i>=j) w_i (see step 3)
            if tail <= 1 << slack or j > MAX_TERMS:
                break
            lows.append(wj[0])
            highs.append(wj[1])
        # here lows/highs hold w_1..w_(j-1); ``tail`` bounds sum_(i>=j) w_i from above
        s_lo, s_hi = [0] * len(lows), [0] * len(highs)
        acc_lo, acc_hi = 0, tail
        for i in range(len(lows) - 1, -1, -1):
            acc_lo += lows[i]
            acc_hi += highs[i]
            s_lo[i], s_hi[i] = acc_lo, acc_hi
        z_lo = one + 2 * (s_lo[0] if s_lo else 0)
        z_hi = one + 2 * (s_hi[0] if s_hi else tail)
        self._cache[w, slack] = (s_lo, s_hi, z_lo, z_hi, tail)
        return self._cache[w, slack]

    def floors(self, ks: list[int], p: int) -> list[int]:
        """floor(S_k 2^p) for each k >= 1 of ``ks`` (0 where S_k 2^p < 1 is certain)."""
        out: dict[int, int] = {}
        todo = sorted(set(ks))
        extra = 64
        while todo:
            w = p + extra
            s_lo, s_hi, z_lo, z_hi, tail = self._suffix(w, extra // 2)
            last = len(s_lo)
            if last >= MAX_TERMS:
                raise ValueError("sigma too large for an exact table")
            left = []
            for k in todo:
                if k > last:  # S_k 2^w <= twice the mass beyond the terms: 2^(1 + extra/2 - extra) 2^-p
                    lo_f, hi_f = 0, (2 * tail << p) // z_lo
                else:
                    lo_f = (2 * s_lo[k - 1] << p) // z_hi
                    hi_f = (2 * s_hi[k - 1] << p) // z_lo
                if lo_f == hi_f:
                    out[k] = lo_f
                else:
                    left.append(k)
            todo = left
            extra *= 2
            if extra > 1 << 16:
                raise ValueError("exact threshold did not resolve")
        return [out[k] for k in ks]


@functools.lru_cache(maxsize=32)
def gaussian_tail(sigma2: Fraction) -> GaussianTail:
    return GaussianTail(sigma2.numerator, sigma2.denominator)
