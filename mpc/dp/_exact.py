"""Exact integer brackets of exp(-x) and of the discrete Gaussian's and discrete Laplace's tail
masses: the thresholds of the inversion sampler in :mod:`mpc.dp.samplers`.

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
   :meth:`SymmetricTail.floors` returns floor(S_k 2^p) exactly: it widens the precision until
   the floors of both ends of every bracket agree (S_k is irrational, so this ends).
4. The discrete Laplace of scale t / s: w_j = p^j with p = exp(-s / t), the mass beyond J is
   p^(J+1) / (1 - p) <= w_(J+1) (1 + t / s) (since 1 / (1 - e^-y) <= 1 + 1 / y);
   Z = w_0 + 2 sum_(j>=1) w_j and S_k as in step 3.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from fractions import Fraction

__all__ = ["exp_neg", "GaussianTail", "LaplaceTail", "SymmetricTail", "gaussian_tail", "laplace_tail"]

MAX_TERMS = 1 << 18  # terms of a bracket computation: the samplers keep tables well below it


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


class SymmetricTail:
    """S_k = P(|X| >= k) of an integer law symmetric about 0 with P(X = x) proportional to
    w_|x| (w_0 = 1, w_(j+1) = w_j r_j), as exact floors at any precision. A subclass gives the
    brackets of the ratios r_j and an upper bound of sum_(i>=j) w_i from an upper bound of w_j."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, int], tuple[list[int], list[int], int, int, int]] = {}

    def _ratios(self, w: int) -> Iterator[tuple[int, int]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _beyond(self, high: int, j: int) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def _suffix(self, w: int, slack: int) -> tuple[list[int], list[int], int, int, int]:
        """Brackets of sum_(j>=k) w_j 2^w for k = 1..J (lists indexed k - 1), of Z 2^w, and an
        upper bound (at most 2^slack units) of the mass beyond J. The upper ends stop shrinking
        at a few units (rounding up), hence the slack."""
        if (w, slack) in self._cache:
            return self._cache[w, slack]
        one = 1 << w
        wj = (one, one)
        lows, highs = [], []
        j = 0
        for r in self._ratios(w):
            wj = _mul(wj, r, w)  # w_(j+1)
            j += 1
            tail = self._beyond(wj[1], j)  # >= sum_(i>=j) w_i
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


class GaussianTail(SymmetricTail):
    """N_Z(0, a / b): w_j = exp(-j^2 c), c = b / (2a) (step 3)."""

    def __init__(self, a: int, b: int) -> None:
        super().__init__()
        self.a, self.b = a, b

    def _ratios(self, w: int) -> Iterator[tuple[int, int]]:
        r = exp_neg(self.b, 2 * self.a, w)  # r_0 = exp(-c)
        q2 = exp_neg(self.b, self.a, w)  # exp(-2c)
        while True:
            yield r
            r = _mul(r, q2, w)  # r_j = exp(-(2j + 1) c)

    def _beyond(self, high: int, j: int) -> int:
        a, b = self.a, self.b
        return -((-(high * (b * j + a))) // (b * j))  # w_j (1 + a / (b j))


class LaplaceTail(SymmetricTail):
    """The discrete Laplace of scale t / s: w_j = p^j, p = exp(-s / t); the mass beyond j is
    p^j / (1 - p) <= w_j (1 + t / s) (step 4)."""

    def __init__(self, t: int, s: int) -> None:
        super().__init__()
        self.t, self.s = t, s

    def _ratios(self, w: int) -> Iterator[tuple[int, int]]:
        p = exp_neg(self.s, self.t, w)
        while True:
            yield p

    def _beyond(self, high: int, j: int) -> int:
        return -((-(high * (self.s + self.t))) // self.s)


@functools.lru_cache(maxsize=32)
def gaussian_tail(sigma2: Fraction) -> GaussianTail:
    return GaussianTail(sigma2.numerator, sigma2.denominator)


@functools.lru_cache(maxsize=32)
def laplace_tail(scale: Fraction) -> LaplaceTail:
    return LaplaceTail(scale.numerator, scale.denominator)
