"""NumPy reference of every compiled kernel: the test oracle and the ``MPC_KERNELS=ref`` fallback.

This module *is* the kernel contract. Every function here has a compiled twin of the same name
and signature (``mpc._core._ring``, ``_matmul``, ``_bits``) that must agree bit for bit, and
both validate through :mod:`mpc._core._checks`, so they reject the same inputs.

Conventions
- Ring Z_2^64 elements are ``uint64``; arithmetic wraps mod 2^64.
- Ring Z_2^128 elements are ``uint64`` arrays with a trailing axis of 2: ``[..., 0]`` is the low
  word, ``[..., 1]`` the high word.
- Packed bits: bit ``j`` of word ``w`` is element ``64*w + j`` (little-endian), unused high
  bits of the last word are zero on output.
- Inputs that are not C-contiguous are copied. ``out=``, where offered, may alias an input of
  the same shape (elementwise kernels only).
"""

from __future__ import annotations

import numpy as np

from mpc._core import _checks as ck

# Wrap-around is the ring's arithmetic, not an error: 0-d inputs become NumPy scalars, whose
# arithmetic would otherwise warn on overflow.
_wrap = np.errstate(over="ignore")

_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)

# ----------------------------------------------------------------------------- ring Z_2^64


def _binary(a, b, out, op):
    a, b, out = ck.elementwise_args(a, b, out)
    op(a, b, out=out)
    return out


def add(a, b, out=None, *, c=0):
    """a + b (+ c, a public integer constant reduced mod 2^64) mod 2^64."""
    a, b, out = ck.elementwise_args(a, b, out)
    c = ck.public_u64(c)
    np.add(a, b, out=out)
    if c:
        np.add(out, np.uint64(c), out=out)
    return out


def sub(a, b, out=None):
    """a - b mod 2^64."""
    return _binary(a, b, out, np.subtract)


def mul(a, b, out=None):
    """a * b mod 2^64."""
    return _binary(a, b, out, np.multiply)


def neg(a, out=None):
    """-a mod 2^64."""
    a = ck.as_u64("a", a)
    out = ck.out_array(out, a.shape)
    np.subtract(np.uint64(0), a, out=out)
    return out


def mul_public(a, c, out=None):
    """a * c mod 2^64 for a public integer constant c (any sign; reduced mod 2^64)."""
    a = ck.as_u64("a", a)
    c = ck.public_u64(c)
    out = ck.out_array(out, a.shape)
    np.multiply(a, np.uint64(c), out=out)
    return out


def sum(a, axis):  # noqa: A001 - the kernel's name is part of the contract
    """Sum mod 2^64 along one axis (the axis is removed)."""
    a = ck.as_u64("a", a)
    ax = ck.axis(a, axis)
    return np.asarray(np.sum(a, axis=ax, dtype=np.uint64), order="C")


def sar(a, k, out=None):
    """Arithmetic shift right by k in [0, 63] of the two's-complement (int64) reading of a."""
    a = ck.as_u64("a", a)
    k = ck.shift(k)
    out = ck.out_array(out, a.shape)
    np.right_shift(a.view(np.int64), k, out=out.view(np.int64))
    return out


@_wrap
def trunc_finish(c, r_high, r_msb, d, first, c2=None):
    """One party's share of x / d from the opened C = c + c2 (or c) and a truncation or division
    triple: (1 - msb(C)) * floor(2^64 / d) * r_msb - r_high, plus floor(C / d) - floor(2^62 / d)
    on the ``first`` party; d an integer in [2, 2^62] (mpc.engines.semi2k.Semi2k.divide_many)."""
    c, r_high, r_msb, c2 = ck.trunc_finish_args(c, r_high, r_msb, c2)
    d = ck.divisor(d)
    opened = c if c2 is None else c + c2
    not_msb = (~opened) >> np.uint64(63)
    y = not_msb * np.uint64((1 << 64) // d) * r_msb - r_high
    if first:
        y = y + (opened // np.uint64(d) - np.uint64((1 << 62) // d))
    return np.array(y, dtype=np.uint64)


# ----------------------------------------------------------------------------- masked2k records


def masked_tags(x):
    """t when the tags (word 2) of the (..., 3) records x are t, t+1, ... in row-major order with
    t >= 1, else 0 (mpc.engines.masked2k)."""
    (x,), _, _ = ck.masked_args("x", (x,), ())
    tags = x[..., 2].reshape(-1)
    if tags.size == 0 or tags[0] == 0:
        return 0
    t0 = int(tags[0])
    return t0 if t0 + tags.size <= 1 << 64 and np.array_equal(tags, np.arange(t0, t0 + tags.size, dtype=np.uint64)) \
        else 0


def masked_mul_share(x, y, lz, g, first):
    """(s, run): s = lz + g - dx ly - dy lx (+ dx dy when first) for records x = (dx, lx, .),
    y = (dy, ly, .), this party's summand of a masked product's opened delta; run: whether both
    operands' tags are runs (:func:`masked_tags` nonzero for both)."""
    (x, y), (lz, g), _ = ck.masked_args("x, y, lz, g", (x, y), (lz, g))
    dx, lx, dy, ly = x[..., 0], x[..., 1], y[..., 0], y[..., 1]
    with np.errstate(over="ignore"):  # 0-d operands compute on NumPy scalars, which warn on the ring's wrap
        s = lz + g - dx * ly - dy * lx
        s = np.array(s + dx * dy if first else s, dtype=np.uint64)
    return s, bool(masked_tags(x) and masked_tags(y))


def masked_finish(s, lz, t0, s2=None):
    """Records (s + s2 (or s), lz, t0 + i) of a masked product after its opening."""
    _, (s, lz, s2), shape = ck.masked_args("s, lz, s2", (), (s, lz, s2))
    t0 = ck.tag(t0)
    out = np.empty((*shape, 3), dtype=np.uint64)
    out[..., 0] = s if s2 is None else s + s2
    out[..., 1] = lz
    out[..., 2] = (np.arange(out[..., 2].size, dtype=np.uint64) + np.uint64(t0)).reshape(shape)
    return out


def masked_trunc(x, a, m, k):
    """(records, run): floor(x / 2^k) (+ one ulp at most) of records x with mask shares
    a = [lambda >> k] and m = [msb lambda], ((c >> k) - 2^(62-k), a - (1 - msb c) 2^(64-k) m, 0)
    with c = delta + 2^62; run: whether x's tags are a run (:func:`masked_tags` nonzero)."""
    (x,), (a, m), shape = ck.masked_args("x, a, m", (x,), (a, m))
    k = ck.trunc_shift(k, "k", 1)
    out = np.zeros((*shape, 3), dtype=np.uint64)
    with np.errstate(over="ignore"):  # 0-d operands compute on NumPy scalars, which warn on the ring's wrap
        c = x[..., 0] + np.uint64(1 << 62)
        coef = ((c >> np.uint64(63)) ^ np.uint64(1)) << np.uint64(64 - k)
        out[..., 0] = (c >> np.uint64(k)) - np.uint64(1 << (62 - k))
        out[..., 1] = a - coef * m
    t0 = int(x.reshape(-1)[2]) if x.size else 0
    out[..., 2] = ((np.arange(out[..., 2].size, dtype=np.uint64) + np.uint64(t0)) | np.uint64(k << 58)).reshape(shape)
    run = bool(masked_tags(x)) and t0 + out[..., 2].size <= 1 << 58
    return out, run


def masked_finish_trunc(s, a, m, t0, k, s2=None):
    """(records, fresh): masked_trunc of the records masked_finish(s, ., t0, s2) would make, with
    mask shares a, m, in one pass; fresh: whether t0 .. t0 + n - 1 are fresh tags (1 <= t0,
    t0 + n <= 2^58)."""
    _, (s, a, m, s2), shape = ck.masked_args("s, a, m, s2", (), (s, a, m, s2))
    t0, k = ck.tag(t0), ck.trunc_shift(k, "k", 1)
    out, _ = masked_trunc(masked_finish(s, np.zeros_like(s), t0, s2), a, m, k)
    n = s.size
    return out, bool(n) and t0 >= 1 and t0 + n <= 1 << 58


# ----------------------------------------------------------------------------- ring Z_2^128


@_wrap
def _mulhi64(x, y):
    """High 64 bits of the 128-bit product of two uint64 arrays (schoolbook on 32-bit halves)."""
    x0, x1 = x & _M32, x >> _S32
    y0, y1 = y & _M32, y >> _S32
    p00, p01, p10, p11 = x0 * y0, x0 * y1, x1 * y0, x1 * y1
    mid = (p00 >> _S32) + (p01 & _M32) + (p10 & _M32)
    return p11 + (p01 >> _S32) + (p10 >> _S32) + (mid >> _S32)


@_wrap
def add128(a, b, out=None):
    """a + b mod 2^128."""
    a, b, out = ck.elementwise_args(a, b, out, width=2)
    lo = a[..., 0] + b[..., 0]
    carry = (lo < a[..., 0]).astype(np.uint64)
    out[..., 1] = a[..., 1] + b[..., 1] + carry
    out[..., 0] = lo
    return out


@_wrap
def sub128(a, b, out=None):
    """a - b mod 2^128."""
    a, b, out = ck.elementwise_args(a, b, out, width=2)
    borrow = (a[..., 0] < b[..., 0]).astype(np.uint64)
    lo = a[..., 0] - b[..., 0]
    out[..., 1] = a[..., 1] - b[..., 1] - borrow
    out[..., 0] = lo
    return out


def neg128(a, out=None):
    """-a mod 2^128."""
    a = ck.ring128("a", a)
    return sub128(np.zeros_like(a), a, out=out)


@_wrap
def mul128(a, b, out=None):
    """a * b mod 2^128 (the low 128 bits of the full product)."""
    a, b, out = ck.elementwise_args(a, b, out, width=2)
    alo, ahi, blo, bhi = a[..., 0], a[..., 1], b[..., 0], b[..., 1]
    hi = _mulhi64(alo, blo) + alo * bhi + ahi * blo
    out[..., 0] = alo * blo
    out[..., 1] = hi
    return out


@_wrap
def mul128_64(a, b, out=None):
    """a * b mod 2^128 where b is a uint64 array of shape a.shape[:-1] (a SPDZ2k MAC key times a share)."""
    a, b, out = ck.mul128_64_args(a, b, out)
    alo, ahi = a[..., 0], a[..., 1]
    hi = _mulhi64(alo, b) + ahi * b
    out[..., 0] = alo * b
    out[..., 1] = hi
    return out


def _ints128(x, wide):
    """A uint64 or (..., 2) Z_2^128 array as an object array of Python ints."""
    if not wide:
        return x.astype(object)
    return x[..., 0].astype(object) + (x[..., 1].astype(object) << 64)


def matmul128(a, b):
    """a @ b mod 2^128 for 2-d operands, each 64-bit (uint64 (r, c)) or Z_2^128 ((r, c, 2)); the
    result is (m, n, 2). Exact with Python integers (slow: the oracle)."""
    a, b, aw, bw, m, _, n = ck.matmul128_args(a, b)
    prod = (_ints128(a, aw) @ _ints128(b, bw)) if m and n else np.zeros((m, n), dtype=object)
    flat = [int(v) % (1 << 128) for v in np.asarray(prod, dtype=object).reshape(-1)]
    out = np.empty((m, n, 2), dtype=np.uint64)
    out[..., 0].reshape(-1)[:] = [v & 0xFFFFFFFFFFFFFFFF for v in flat]
    out[..., 1].reshape(-1)[:] = [v >> 64 for v in flat]
    return out


# ----------------------------------------------------------------------------- SPDZ2k records


def _vm(r):
    """Value and MAC halves of (..., 4) records, as (..., 2) Z_2^128 arrays (copies)."""
    return np.ascontiguousarray(r[..., 0:2]), np.ascontiguousarray(r[..., 2:4])


def _record(v, m):
    return np.concatenate([v, m], axis=-1)


def _alpha(alpha, shape):
    return np.full(shape, ck.public_u64(alpha), dtype=np.uint64)


def auth_sub_split(x, a, vals=None, macs=None):
    """(x.v - a.v, x.m - a.m) of record arrays: the masked values to open and their MAC shares
    (into ``vals``/``macs`` when given: C-contiguous (..., 2) arrays)."""
    (x, a), _, shape = ck.auth_args("x, a", (x, a), ())
    vals, macs = ck.out_array(vals, (*shape, 2)), ck.out_array(macs, (*shape, 2))
    (xv, xm), (av, am) = _vm(x), _vm(a)
    sub128(xv, av, out=vals)
    sub128(xm, am, out=macs)
    return vals, macs


def auth_sub_split_planar(x, a, lo=None, hi=None, macs=None):
    """:func:`auth_sub_split` with the values' low words into ``lo`` and high words into ``hi``
    (uint64 arrays of the element shape), the MAC shares into ``macs``; each made when not given.
    Returns (lo, hi, macs)."""
    (x, a), _, shape = ck.auth_args("x, a", (x, a), ())
    lo, hi = ck.out_array(lo, shape), ck.out_array(hi, shape)
    vals, macs = auth_sub_split(x, a, macs=macs)
    lo[...], hi[...] = vals[..., 0], vals[..., 1]
    return lo, hi, macs


def _widen(w):
    """64-bit words as Z_2^128 values (a zero high word)."""
    return np.stack([w, np.zeros_like(w)], axis=-1)


def _low_words(d, d2, ds):
    """D = d (+ d2) mod 2^64 (uint64, an array even 0-d) from an opening's Z_2^128 summands
    (ds = 2) or their low words (ds = 1): the sum's low word is the low words' sum."""
    low = d[..., 0] if ds == 2 else d
    if d2 is not None:
        low = low + (d2[..., 0] if ds == 2 else d2)
    return np.asarray(low, dtype=np.uint64)


def _opened_low(d, d2, ds):
    """:func:`_low_words` as Z_2^128 values."""
    return _widen(_low_words(d, d2, ds))


def auth_beaver_combine(c, a, b, d, e, alpha, first, d2=None, e2=None):
    """z = c + D b + E a + D E (D E in party 0's value, alpha D E in every MAC) for the opened
    D = d (+ d2), E = e (+ e2) taken mod 2^64 (public coefficients: z is authenticated and right
    mod 2^64; see ring128.h): d2, e2 (both or neither) the rest of the opening's sum."""
    (c, a, b), _, shape = ck.auth_args("c, a, b", (c, a, b), ())
    (d, e, d2, e2), ds = ck.auth_opened("d, e, d2, e2", (d, e, d2, e2), shape, 2)
    d, e = _opened_low(d, d2, ds), _opened_low(e, e2, ds)
    (cv, cm), (av, am), (bv, bm) = _vm(c), _vm(a), _vm(b)
    de = mul128(d, e)
    v = add128(cv, add128(mul128(d, bv), mul128(e, av)))
    m = add128(add128(cm, add128(mul128(d, bm), mul128(e, am))), mul128_64(de, _alpha(alpha, shape)))
    return _record(add128(v, de) if first else v, m)


def auth_square_combine(c, a, d, alpha, first, d2=None):
    """z = c + 2 D a + D^2 (D^2 in party 0's value, alpha D^2 in every MAC) for the opened
    D = d (+ d2, the rest of the opening's sum) taken mod 2^64."""
    (c, a), _, shape = ck.auth_args("c, a", (c, a), ())
    (d, d2), ds = ck.auth_opened("d, d2", (d, d2), shape, 1)
    (cv, cm), (av, am) = _vm(c), _vm(a)
    d = _opened_low(d, d2, ds)
    twice, d2 = _widen(d[..., 0] + d[..., 0]), mul128(d, d)
    v = add128(cv, mul128(twice, av))
    m = add128(add128(cm, mul128(twice, am)), mul128_64(d2, _alpha(alpha, shape)))
    return _record(add128(v, d2) if first else v, m)


def auth_add_public(x, p, alpha, first):
    """x + p for a public Z_2^128 p: party 0's value, and alpha p in every MAC."""
    (x,), (p,), shape = ck.auth_args("x, p", (x,), (p,))
    xv, xm = _vm(x)
    return _record(add128(xv, p) if first else xv, add128(xm, mul128_64(p, _alpha(alpha, shape))))


def auth_add_split(x, a, c, alpha, first, vals=None, macs=None):
    """(x.v + a.v (+ c at party 0), x.m + a.m + alpha c) of record arrays, for a public 64-bit c:
    a masked x + r + c to open and its MAC shares (into ``vals``/``macs`` when given)."""
    (x, a), _, shape = ck.auth_args("x, a", (x, a), ())
    vals, macs = ck.out_array(vals, (*shape, 2)), ck.out_array(macs, (*shape, 2))
    cw = np.zeros((*shape, 2), dtype=np.uint64)
    cw[..., 0] = ck.public_u64(c)
    (xv, xm), (av, am) = _vm(x), _vm(a)
    vals[...] = add128(add128(xv, av), cw) if first else add128(xv, av)
    add128(add128(xm, am), mul128_64(cw, _alpha(alpha, shape)), out=macs)
    return vals, macs


def auth_matmul_combine(c, a, b, d, e, alpha, first):
    """The spdz2k matrix Beaver combine: records c + d @ (b + e) + a @ e for records c (m, n),
    a (m, k), b (k, n) and 64-bit public d (m, k), e (k, n): e enters party 0's value share of b
    and alpha e every MAC share; every product mod 2^128."""
    c, a, b, d, e, _, _, _ = ck.auth_matmul_combine_args(c, a, b, d, e)
    (cv, cm), (av, am), (bv, bm) = _vm(c), _vm(a), _vm(b)
    e128 = _widen(e)
    bv = add128(bv, e128) if first else bv
    bm = add128(bm, mul128_64(e128, _alpha(alpha, e.shape)))
    v = add128(cv, add128(matmul128(d, bv), matmul128(av, e)))
    return _record(v, add128(cm, add128(matmul128(d, bm), matmul128(am, e))))


def auth_lincomb(xs, coefs, p, alpha, first):
    """sum_t coefs[t] xs[t] (+ p: party 0's value, alpha p every MAC) for record arrays xs[t] and
    64-bit public coefficients (uint64 arrays of the element shape, or integers mod 2^64)."""
    xs, coefs, p, shape = ck.auth_lincomb_args(xs, coefs, p)
    v = np.zeros((*shape, 2), dtype=np.uint64)
    m = np.zeros((*shape, 2), dtype=np.uint64)
    for x, c in zip(xs, coefs, strict=True):
        cw = c if isinstance(c, np.ndarray) else np.full(shape, c, dtype=np.uint64)
        xv, xm = _vm(x)
        v, m = add128(v, mul128_64(xv, cw)), add128(m, mul128_64(xm, cw))
    if p is not None:
        pw = np.zeros((*shape, 2), dtype=np.uint64)
        pw[..., 0] = p
        if first:
            v = add128(v, pw)
        m = add128(m, mul128_64(pw, _alpha(alpha, shape)))
    return _record(v, m)


def auth_div_finish(own, rest, r_msb, r_high, d, alpha, first):
    """spdz2k's x / d from the opening's summands (see the compiled kernel): auth_lincomb of
    [(r_msb, (1 - msb(c)) floor(2^64 / d)), (r_high, 2^64 - 1)] and p = c // d - floor(2^62 / d),
    c the sum of the summands' low words."""
    own, rest, r_msb, r_high, d, _ = ck.auth_div_finish_args(own, rest, r_msb, r_high, d)
    c = _low_words(own, rest, 2)
    coef = np.asarray(((~c) >> np.uint64(63)) * np.uint64((1 << 64) // d), dtype=np.uint64)
    with np.errstate(over="ignore"):
        p = np.asarray(c // np.uint64(d) - np.uint64((1 << 62) // d), dtype=np.uint64)
    return auth_lincomb([r_msb, r_high], [coef, (1 << 64) - 1], p, alpha, first)


@_wrap
def auth_tmul_finish(own, rest, a1, m1, a2, m2, a1a2, m1a2, a1m2, m1m2, k1, k2, alpha, first):
    """spdz2k's truncating product from the opening's summands (see the compiled kernel):
    auth_lincomb of the ``tmul`` terms a1a2 - P2 a1 + P2 T1 m1 - P1 a2 - T1 m1a2 (+ P1 T2 m2 - T2
    a1m2 + T1 T2 m1m2 when k2 > 0) and P1 P2, with P2 = c2 and no T2 terms when k2 = 0."""
    (own, rest, a1, m1, a2, m2, a1a2, m1a2, a1m2, m1m2), k1, k2, _ = ck.auth_tmul_finish_args(
        own, rest, a1, m1, a2, m2, a1a2, m1a2, a1m2, m1m2, k1, k2)
    c1, c2 = _low_words(own[0], rest[0], 2), _low_words(own[1], rest[1], 2)
    p1, t1 = _trunc_public(c1, k1)
    p2, t2 = _trunc_public(c2, k2) if k2 else (c2, None)
    terms = [(a1a2, 1), (a1, 0 - p2), (m1, p2 * t1), (a2, 0 - p1), (m1a2, 0 - t1)]
    if k2:
        terms += [(m2, p1 * t2), (a1m2, 0 - t2)] + ([(m1m2, t1 * t2)] if m1m2 is not None else [])
    # a coefficient may be a NumPy scalar (0-d operands): auth_lincomb takes it as a scalar
    return auth_lincomb([x for x, _ in terms], [c for _, c in terms], np.asarray(p1 * p2, dtype=np.uint64), alpha,
                        first)


@_wrap
def auth_tsquare_finish(own, rest, a, m, aa, am, k, alpha, first):
    """spdz2k's truncating square from the opening's summands (see the compiled kernel):
    auth_lincomb of aa - 2P a - 2T am + (2PT + T^2) m and P^2."""
    (own, rest, a, m, aa, am), k, _ = ck.auth_tsquare_finish_args(own, rest, a, m, aa, am, k)
    p, t = _trunc_public(_low_words(own, rest, 2), k)
    two = np.uint64(2)
    return auth_lincomb([aa, a, am, m], [1, 0 - two * p, 0 - two * t, two * p * t + t * t],
                        np.asarray(p * p, dtype=np.uint64), alpha, first)


def dot128_64(v, chi):
    """sum_i chi[i] v[i] mod 2^128 for Z_2^128 v (n, 2) and uint64 chi (n,): a (2,) array."""
    v, chi, _ = ck.mul128_64_args(v, chi, None)
    total = 0  # (this module's ``sum`` is the ring kernel)
    for (lo, hi), c in zip(v.reshape(-1, 2), chi.reshape(-1), strict=True):
        total += int(c) * (int(lo) | int(hi) << 64)
    total %= 1 << 128
    return np.array([total & 0xFFFFFFFFFFFFFFFF, total >> 64], dtype=np.uint64)


def dot128_64_planar(lo, hi, chi):
    """:func:`dot128_64` of the Z_2^128 values lo + 2^64 hi, given as their words' planes."""
    lo, hi, chi = ck.same_u64s("lo, hi, chi", lo, hi, chi)
    return dot128_64(np.stack([lo, hi], axis=-1), chi)


# ----------------------------------------------------------------------------- matrix products


def matmul(a, b):
    """(m, k) @ (k, n) mod 2^64."""
    a = ck.as_u64("a", a)
    b = ck.as_u64("b", b)
    shape = ck.matmul_shapes(a, b, batched=False)
    if a.shape[1] == 0:
        return np.zeros(shape, dtype=np.uint64)
    return np.ascontiguousarray(a @ b)


def matmul_batched(a, b):
    """(B, m, k) @ (B, k, n) mod 2^64, one product per batch entry."""
    a = ck.as_u64("a", a)
    b = ck.as_u64("b", b)
    shape = ck.matmul_shapes(a, b, batched=True)
    if a.shape[2] == 0:
        return np.zeros(shape, dtype=np.uint64)
    return np.ascontiguousarray(np.matmul(a, b))


# ----------------------------------------------------------------------------- Beaver, fused


@_wrap
def beaver_mask(x, a, y, b):
    """The values a party opens in Beaver multiplication: (d, e) = (x - a, y - b).

    Shapes pair up: x with a, y with b (the matrix variant masks (m, k) and (k, n) operands).
    """
    x, a, y, b = ck.as_u64s("x, a, y, b", x, a, y, b)
    ck.same_shape("x, a", x, a)
    ck.same_shape("y, b", y, b)
    return np.asarray(x - a), np.asarray(y - b)


@_wrap
def beaver_combine(c, d, e, a, b, first, d2=None, e2=None):
    """One party's share of x*y: c + d*b + e*a, plus d*e on the ``first`` party only.

    d = x - a and e = y - b are the opened (public) masks; a, b, c are this party's triple shares.
    When the rest parts d2 and e2 are given (both or neither) the opened masks are d + d2 and
    e + e2 (own masked values plus the peers' sum), everywhere, including the first party's d*e.
    """
    c, d, e, a, b, d2, e2 = ck.beaver_combine_args(c, d, e, a, b, d2, e2)
    if d2 is not None:
        d, e = d + d2, e + e2
    z = np.asarray(c + d * b + e * a)
    if first:
        z = np.asarray(z + d * e)
    return z


@_wrap
def _trunc_public(c, k):
    """P = (C >> k) - 2^(62-k) and T = (1 - msb(C)) * 2^(64-k) of an opened C = x + 2^62 + r
    (uint64 arrays, even 0-d): floor(x / 2^k) = P - ([r >> k] - T [msb(r)]) up to one ulp."""
    c = np.asarray(c, dtype=np.uint64)
    return (np.asarray((c >> np.uint64(k)) - np.uint64(1 << (62 - k)), dtype=np.uint64),
            np.asarray(((~c) >> np.uint64(63)) << np.uint64(64 - k), dtype=np.uint64))


@_wrap
def tmul_finish(c1, c2, a1, m1, a2, m2, a1a2, m1a2, a1m2, m1m2, k1, k2, first, c1r=None, c2r=None):
    """One party's share of floor(x / 2^k1) * floor(y / 2^k2) (k2 = 0: y as is) from the opened
    C1 = c1 (+ c1r) = x + 2^62 + r1 and C2 = c2 (+ c2r) = y + r2 (+ 2^62 when k2 > 0) and a
    ``tmul`` tuple: z = a1a2 - T1*m1a2 - T2*a1m2 + T1*T2*m1m2 - P1*L2 - P2*L1 (+ P1*P2 on the
    ``first`` party) with P_j = (C_j >> k_j) - 2^(62-k_j), T_j = (1 - msb(C_j)) * 2^(64-k_j),
    L1 = a1 - T1*m1, L2 = a2 - T2*m2, or P2 = C2 and L2 = a2 when k2 = 0
    (mpc.engines.semi2k.Semi2k.mul_truncating)."""
    (c1, c2, a1, m1, a2, m2, a1a2, m1a2, a1m2, m1m2, c1r, c2r), k1, k2 = ck.tmul_finish_args(
        c1, c2, a1, m1, a2, m2, a1a2, m1a2, a1m2, m1m2, k1, k2, c1r, c2r)
    if c1r is not None:
        c1, c2 = c1 + c1r, c2 + c2r
    p1, t1 = _trunc_public(c1, k1)
    z = a1a2 - t1 * m1a2
    if k2:
        p2, t2 = _trunc_public(c2, k2)
        l2 = a2 - t2 * m2
        z = z - t2 * a1m2
        if m1m2 is not None:
            z = z + t1 * t2 * m1m2
    else:
        p2, l2 = c2, a2
    z = z - p1 * l2 - p2 * (a1 - t1 * m1)
    if first:
        z = z + p1 * p2
    return np.array(z, dtype=np.uint64)


@_wrap
def tsquare_finish(c, a, m, aa, am, k, first, cr=None):
    """One party's share of floor(x / 2^k)^2 from the opened C = c (+ cr) = x + 2^62 + r and a
    ``tsquare`` tuple: z = aa - 2T*am - 2P*(a - T*m) + T^2*m (+ P^2 on the ``first`` party)."""
    (c, a, m, aa, am, cr), k = ck.tsquare_finish_args(c, a, m, aa, am, k, cr)
    if cr is not None:
        c = c + cr
    p, t = _trunc_public(c, k)
    two = np.uint64(2)
    z = aa - two * t * am - two * p * (a - t * m) + t * t * m
    if first:
        z = z + p * p
    return np.array(z, dtype=np.uint64)


@_wrap
def beaver_matmul_combine(c, d, e, a, b, first):
    """One party's share of X @ Y: c + d@b + a@e, plus d@e on the ``first`` party only.

    Shapes: c (m, n), d and a (m, k), e and b (k, n); d = X - A and e = Y - B are public.
    """
    c, d, e, a, b = ck.matmul_combine_args(c, d, e, a, b)
    z = c + matmul(d, b) + matmul(a, e)
    if first:
        z += matmul(d, e)
    return z


# ----------------------------------------------------------------------------- packed bits


def pack_bits(bits):
    """(..., n) uint8 -> (..., ceil(n/64)) uint64; element j's bit is ``bits[..., j] & 1``."""
    bits = ck.as_u8("bits", bits)
    if bits.ndim == 0:
        raise ck.KernelError("bits: expected at least one dimension")
    n = bits.shape[-1]
    words = -(-n // 64)
    padded = np.zeros((*bits.shape[:-1], words * 64), dtype=np.uint8)
    padded[..., :n] = bits & 1
    packed = np.packbits(padded, axis=-1, bitorder="little")
    return np.ascontiguousarray(packed).view("<u8").astype(np.uint64, copy=False)


def unpack_bits(words, n):
    """(..., w) uint64 -> (..., n) uint8 of 0/1, with n <= 64*w."""
    words = ck.as_u64("words", words)
    if words.ndim == 0:
        raise ck.KernelError("words: expected at least one dimension")
    n = ck.bits_count(n, words.shape[-1])
    as_bytes = words.astype("<u8", copy=False).view(np.uint8)
    return np.ascontiguousarray(np.unpackbits(as_bytes, axis=-1, count=n, bitorder="little"))


def band(a, b, out=None):
    """Bitwise AND of packed words."""
    return _binary(a, b, out, np.bitwise_and)


def bxor(a, b, out=None):
    """Bitwise XOR of packed words."""
    return _binary(a, b, out, np.bitwise_xor)


def bnot(a, out=None):
    """Bitwise NOT of packed words (all 64 bits; callers mask a partial last word)."""
    a = ck.as_u64("a", a)
    out = ck.out_array(out, a.shape)
    np.invert(a, out=out)
    return out


def transpose64(a):
    """Transpose each 64x64 bit block: out[..., i] bit j == a[..., j] bit i. Shape (..., 64)."""
    a = ck.as_u64("a", a)
    if a.ndim == 0 or a.shape[-1] != 64:
        raise ck.KernelError(f"a: expected a trailing axis of 64 words, got shape {a.shape}")
    m = unpack_bits(a[..., None], 64)  # m[..., j, i] = bit i of a[..., j]
    return pack_bits(np.ascontiguousarray(np.swapaxes(m, -1, -2)))[..., 0]


def bitslice(values):
    """(n,) uint64 -> (64, ceil(n/64)) bit planes: planes[i] packs bit i of every value."""
    values = ck.as_u64("values", values)
    if values.ndim != 1:
        raise ck.KernelError(f"values: expected a 1-d array, got shape {values.shape}")
    n = values.shape[0]
    w = -(-n // 64)
    blocks = np.zeros(w * 64, dtype=np.uint64)
    blocks[:n] = values
    t = transpose64(blocks.reshape(w, 64))  # t[b, i] = bit i of values in block b
    return np.ascontiguousarray(t.T)


def unbitslice(planes, n):
    """(k, w) bit planes with k <= 64 -> (n,) uint64 values; missing high planes read as 0."""
    planes = ck.as_u64("planes", planes)
    if planes.ndim != 2 or planes.shape[0] > 64:
        raise ck.KernelError(f"planes: expected shape (k <= 64, w), got {planes.shape}")
    k, w = planes.shape
    n = ck.bits_count(n, w)
    full = np.zeros((w, 64), dtype=np.uint64)
    full[:, :k] = planes.T
    return np.ascontiguousarray(transpose64(full).reshape(w * 64)[:n])


@_wrap
def gmw_and_combine(c, d, e, a, b, first):
    """One party's share of x AND y from a bit triple: c ^ (d&b) ^ (e&a), ^ (d&e) on ``first``."""
    c, d, e, a, b = ck.same_u64s("c, d, e, a, b", c, d, e, a, b)
    z = np.asarray(c ^ (d & b) ^ (e & a))
    if first:
        z = np.asarray(z ^ (d & e))
    return z


# ----------------------------------------------------------------------------- GF(2^64), authenticated bits
# GF(2^64) = GF(2)[X] / (X^64 + X^4 + X^3 + X + 1); an element is a uint64, bit i the coefficient
# of X^i. Authenticated bit words (mpc.sharing.auth_bits) are records of 66 words:
# [0] the bits, [1] the folded MAC (sum_j X^j m_j), [2 + j] the MAC share of bit j.

_ONES = np.uint64(0xFFFFFFFFFFFFFFFF)
_ZERO = np.uint64(0)


@_wrap
def _gf64_reduce(lo, hi):
    """(lo + X^64 hi) mod X^64 + X^4 + X^3 + X + 1: X^64 = X^4 + X^3 + X + 1, applied twice (the
    first pass overflows by at most 4 bits, the second by none)."""
    t = hi ^ (hi >> np.uint64(60)) ^ (hi >> np.uint64(61)) ^ (hi >> np.uint64(63))
    return lo ^ t ^ (t << np.uint64(1)) ^ (t << np.uint64(3)) ^ (t << np.uint64(4))


@_wrap
def _clmul(a, b):
    """Carry-less 64 x 64 -> 128-bit products of two uint64 arrays: (lo, hi)."""
    lo = np.zeros(np.broadcast_shapes(a.shape, b.shape), dtype=np.uint64)
    hi = np.zeros_like(lo)
    for i in range(64):
        sel = _ZERO - ((b >> np.uint64(i)) & np.uint64(1))  # all ones where bit i of b is set
        lo ^= (a << np.uint64(i)) & sel
        if i:
            hi ^= (a >> np.uint64(64 - i)) & sel
    return lo, hi


def gf64_mul(a, b, out=None):
    """a * b in GF(2^64), elementwise."""
    a, b, out = ck.elementwise_args(a, b, out)
    out[...] = _gf64_reduce(*_clmul(a, b))
    return out


@_wrap
def _fold(m):
    lo = np.zeros(m.shape[:-1], dtype=np.uint64)
    hi = np.zeros_like(lo)
    for j in range(64):
        lo ^= m[..., j] << np.uint64(j)
        if j:
            hi ^= m[..., j] >> np.uint64(64 - j)
    return np.asarray(_gf64_reduce(lo, hi), dtype=np.uint64)


def gf64_fold(m):
    """sum_j X^j m[..., j] in GF(2^64) for (..., 64) words m (the folded MAC of a bit word)."""
    return _fold(ck.gf64_macs("m", m))


def bit_macs_xor(w, delta, m, out=None):
    """m ^ Delta b for bit words w (...) and MAC words m (..., 64): word j of each row of m XORed
    with delta where bit j of its word is set (the dealer's MAC shares of party n-1, with the
    others' XORed away). ``out`` may be m itself."""
    w, delta, m = ck.bit_macs_args(w, delta, m)
    out = ck.out_array(out, m.shape)
    np.bitwise_xor(m, _bit_masks(w) & np.uint64(delta), out=out)
    return out


def gf64_dot(a, b):
    """sum_i a_i b_i in GF(2^64) over all elements of two arrays of one shape: a (1,) array."""
    a, b = ck.same_u64s("a, b", a, b)
    lo, hi = _clmul(a.reshape(-1), b.reshape(-1))
    acc = np.array([np.bitwise_xor.reduce(lo), np.bitwise_xor.reduce(hi)], dtype=np.uint64) if lo.size else \
        np.zeros(2, dtype=np.uint64)
    return np.asarray(_gf64_reduce(acc[:1], acc[1:]), dtype=np.uint64)


def _bit_masks(words):
    """(..., 64) all-ones/zero words: [..., j] is all ones where bit j of ``words`` is set."""
    return _ZERO - ((words[..., None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1))


@_wrap
def bauth_and(c, a, b, d, e, delta, first):
    """One party's authenticated share of x AND y from an authenticated bit triple (a, b, c)
    (records (..., 66)) and the opened d = x ^ a, e = y ^ b (words (...)): bits c ^ d&b ^ e&a
    (^ d&e on ``first``), MACs m_c ^ d.m_b ^ e.m_a ^ (d&e).delta bit by bit, and their fold."""
    c, a, b, d, e, delta = ck.bauth_and_args(c, a, b, d, e, delta)
    out = np.empty(c.shape, dtype=np.uint64)
    out[..., 0] = c[..., 0] ^ (d & b[..., 0]) ^ (e & a[..., 0]) ^ ((d & e) if first else _ZERO)
    m = c[..., 2:] ^ (_bit_masks(d) & b[..., 2:]) ^ (_bit_masks(e) & a[..., 2:]) ^ (_bit_masks(d & e) & np.uint64(delta))
    out[..., 2:] = m
    out[..., 1] = _fold(m)
    return out


def bauth_mask(x, a, w=None, f=None):
    """(x bits ^ a bits, x fold ^ a fold) for (..., 2) word pairs x and records a (..., 66) or
    light words a (..., 2): an AND's masked operand and the fold of its MAC (into ``w`` and ``f``
    when given)."""
    x, a = ck.bauth_mask_args(x, a)
    w, f = ck.out_array(w, a.shape[:-1]), ck.out_array(f, a.shape[:-1])
    np.bitwise_xor(x[..., 0], a[..., 0], out=w)
    np.bitwise_xor(x[..., 1], a[..., 1], out=f)
    return w, f


@_wrap
def bauth_xor_public(x, c, delta, first):
    """Share of x ^ c for authenticated words x (records (..., 66)) and public words c (...): the
    bits ^ c on ``first``, every MAC of a bit set in c ^ delta (the fold ^ c * delta)."""
    x, c, delta = ck.bauth_public_args(x, c, delta)
    out = x.copy()
    if first:
        out[..., 0] ^= c
    out[..., 2:] ^= _bit_masks(c) & np.uint64(delta)
    out[..., 1] ^= _gf64_reduce(*_clmul(c, np.uint64(delta)))
    return out


@_wrap
def bauth_and_light(c, a, b, d, e, delta, first):
    """:func:`bauth_and` without the MACs of the bits: ``(..., 2)`` words (bits, fold), reading of
    c only its bits and fold (the fold is linear: f_c ^ fold(d.m_b) ^ fold(e.m_a) ^ (d&e) delta):
    c records ``(..., 66)`` or light words ``(..., 2)``."""
    c, a, b, d, e, delta = ck.bauth_and_args(c, a, b, d, e, delta, light_c=True)
    out = np.empty((*c.shape[:-1], 2), dtype=np.uint64)
    out[..., 0] = c[..., 0] ^ (d & b[..., 0]) ^ (e & a[..., 0]) ^ ((d & e) if first else _ZERO)
    out[..., 1] = c[..., 1] ^ _fold((_bit_masks(d) & b[..., 2:]) ^ (_bit_masks(e) & a[..., 2:])) \
        ^ _gf64_reduce(*_clmul(d & e, np.uint64(delta)))
    return out


def bauth_and_public_light(x, c):
    """:func:`bauth_and_public` without the MACs of the bits: ``(..., 2)`` words (bits, fold)."""
    return np.ascontiguousarray(bauth_and_public(x, c)[..., :2])


def bauth_and_xor_public_light(x, c, delta, first):
    """(:func:`bauth_and_public_light` of (x, c), the light x ^ c) for records x (..., 66) and
    public words c (...): each (..., 2) words (bits, fold); the XOR's bits take c on ``first``
    only, its fold c * delta."""
    return bauth_and_public_light(x, c), np.ascontiguousarray(bauth_xor_public(x, c, delta, first)[..., :2])


def bauth_lt_pairs_light(r, q, c, delta, first):
    """The first level of a comparison tree with public words c on records r (2 p, w, 66) (rows
    2t and 2t + 1: pair t's low and high bit), from their products q = r_2t & r_2t+1 (p, w, 66):
    the tree's L = l_h ^ e_h & l_l and E = e_h & e_l on the leaves l = r & c, e = r ^ c, which
    are linear in r and q: L = r_h & c_h ^ q & c_l ^ r_l & c_l & c_h and
    E = q ^ r_h & c_l ^ r_l & c_h ^ c_l & c_h (the constant's bits on ``first`` only, its fold
    times delta). Returns (L, E), each (p, w, 2) light words (bits, fold)."""
    r, q, c, delta = ck.bauth_lt_pairs_args(r, q, c, delta)
    cl, ch = c[0::2], c[1::2]
    rl, rh = r[0::2], r[1::2]
    kc = cl & ch

    def light_and(x, k):
        return bauth_and_public_light(np.ascontiguousarray(x), np.ascontiguousarray(k))

    big_l = light_and(rh, ch) ^ light_and(q, cl) ^ light_and(rl, kc)  # folds are linear
    big_e = light_and(rh, cl) ^ light_and(rl, ch)
    big_e[..., 0] ^= q[..., 0] ^ (kc if first else _ZERO)
    big_e[..., 1] ^= q[..., 1] ^ _gf64_reduce(*_clmul(kc, np.uint64(delta)))
    return big_l, big_e


def bauth_and_public(x, c):
    """Share of x & c for authenticated words x (records (..., 66)) and public words c (...):
    bits and MACs of the bits clear in c set to zero, the fold recomputed."""
    x, c, _ = ck.bauth_public_args(x, c, 0)
    out = np.empty(x.shape, dtype=np.uint64)
    out[..., 0] = x[..., 0] & c
    out[..., 2:] = x[..., 2:] & _bit_masks(c)
    out[..., 1] = _fold(out[..., 2:])
    return out


# ---------------------------------------------------------------- OT extension (csrc/ot.c)

def ot_transpose128(rows):
    """(128, w) rows -> (64 w, 2) columns: out[j, h] bit i = bit j % 64 of rows[64 h + i, j // 64]."""
    rows = ck.ot_rows(rows)
    w = rows.shape[1]
    blocks = np.ascontiguousarray(rows.reshape(2, 64, w).transpose(0, 2, 1))
    t = transpose64(blocks)
    return np.ascontiguousarray(t.transpose(1, 2, 0)).reshape(64 * w, 2)


def ot_tweak(px, start, blocks):
    """(m, blocks, 2): px[j] ^ (start + j, l)."""
    px = ck.ot_blocks("px", px)
    nb, st = ck.ot_count("blocks", blocks), ck.public_u64(start)
    m = px.shape[0]
    out = np.empty((m, nb, 2), dtype=np.uint64)
    with np.errstate(over="ignore"):
        out[:, :, 0] = (px[:, 0] ^ (np.uint64(st) + np.arange(m, dtype=np.uint64)))[:, None]
    out[:, :, 1] = px[:, 1:2] ^ np.arange(nb, dtype=np.uint64)[None, :]
    return out


def ot_hash_finish(y, px, out=None):
    """y (m, blocks, 2) ^ px[j] (``out=y`` for in place)."""
    y, px = ck.ot_hash_args(y, px)
    out = ck.out_array(out, y.shape)
    np.bitwise_xor(y, px[:, None, :], out=out)
    return out


def ot_trim_groups(nbits, ring_bits=64):
    """(k0, k1, nbytes): OTs k0..k1-1 of a Gilboa product over Z_2^ring_bits keep nbytes bytes of
    their correction (OT k's correction matters mod 2^(ring_bits-k)); shared with
    mpc.preprocessing.ot_link (64 and 128 bits)."""
    out = []
    for nb in range(ring_bits // 8, 0, -1):
        k0, k1 = max(0, ring_bits - 8 * nb), min(nbits, ring_bits - 8 * (nb - 1))
        if k0 < k1:
            out.append((k0, k1, nb))
    return out


def ot_gilboa_send(h0, h1, x, nbits):
    """(trimmed corrections, sender shares): d_k = h1 - h0 - x (low ceil((64-k)/8) bytes of OT k,
    grouped by width 8..1, element-major), share = -sum_k 2^k h0."""
    h0, h1, x, k = ck.ot_gilboa_args(h0, h1, x, nbits)
    n = len(x)
    s = ck.ot_first_words(h0).reshape(n, k)
    d = (ck.ot_first_words(h1).reshape(n, k) - s - x[:, None]).astype("<u8")
    b = d.view(np.uint8).reshape(n, k, 8)
    parts = [b[:, k0:k1, :nb].reshape(-1) for k0, k1, nb in ot_trim_groups(k)]
    weights = np.uint64(1) << np.arange(k, dtype=np.uint64)
    share = np.uint64(0) - (s * weights).sum(axis=1, dtype=np.uint64)
    return (np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint8)), share


def ot_gilboa_recv(ht, d, y, nbits):
    """Receiver shares: sum_k 2^k (ht - c_k d_k), c_k = bit k of y."""
    ht, d, y, k = ck.ot_gilboa_recv_args(ht, d, y, nbits)
    n = len(y)
    full = np.zeros((n, k, 8), dtype=np.uint8)
    pos = 0
    for k0, k1, nb in ot_trim_groups(k):
        size = n * (k1 - k0) * nb
        if pos + size > len(d):
            raise ck.KernelError(f"d: expected more than {len(d)} bytes")
        full[:, k0:k1, :nb] = d[pos : pos + size].reshape(n, k1 - k0, nb)
        pos += size
    if pos != len(d):
        raise ck.KernelError(f"d: expected {pos} bytes, got {len(d)}")
    dk = full.view("<u8").reshape(n, k).astype(np.uint64)
    c = (y[:, None] >> np.arange(k, dtype=np.uint64)) & np.uint64(1)
    v = ck.ot_first_words(ht).reshape(n, k) - c * dk
    return (v * (np.uint64(1) << np.arange(k, dtype=np.uint64))).sum(axis=1, dtype=np.uint64)


def ot_lsb_pack(h):
    """Bit 0 of each h[j, 0, 0], packed 64 per word (m a multiple of 64)."""
    h = ck.ot_hashes("h", h)
    if h.shape[0] % 64:
        raise ck.KernelError(f"h: expected a multiple of 64 rows, got {h.shape[0]}")
    bits = (ck.ot_first_words(h) & np.uint64(1)).astype(np.uint8)
    return np.packbits(bits, bitorder="little").view("<u8").astype(np.uint64)


def _aes_ecb(x, key):
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    x = np.ascontiguousarray(x, dtype=np.uint64)
    out = np.empty(x.nbytes + 15, dtype=np.uint8)
    if x.nbytes:
        Cipher(algorithms.AES(key), modes.ECB()).encryptor().update_into(x.view(np.uint8).reshape(-1), out)
    return out[: x.nbytes].view(np.uint64).reshape(x.shape)


def ot_hash_words(x, delta, start, key):
    """First words of H(start + j, x[j] ^ delta) (delta None: x[j]), H(j, x) = AES(AES(x) ^ (j, 0))
    ^ AES(x) under the 16-byte ``key`` (OpenSSL's AES-128 in ECB)."""
    x, d, k = ck.ot_hash_words_args(x, delta, key)
    st = ck.public_u64(start)
    px = _aes_ecb(x if d is None else x ^ d, k.tobytes())
    tw = px.copy()
    with np.errstate(over="ignore"):
        tw[:, 0] ^= np.uint64(st) + np.arange(len(x), dtype=np.uint64)
    return (_aes_ecb(tw, k.tobytes()) ^ px)[:, 0].copy()


# ---------------------------------------------------------------- spdz2k offline (csrc/spdz_offline.c)


@_wrap
def spdz_weighted128(v):
    """sum_k 2^k v[:, k] mod 2^128 for Z_2^128 words v ``(a, nbits, w, 2)``: ``(a, w, 2)`` (the
    weighting of the Gilboa and COPE outputs of the dealer-free spdz2k material)."""
    v = ck.spdz_weighted_args(v)
    a, nbits, w, _ = v.shape
    if not nbits:
        return np.zeros((a, w, 2), dtype=np.uint64)
    acc = np.array(v[:, 0], dtype=np.uint64, order="C")
    tmp = np.empty_like(acc)
    for k in range(1, min(nbits, 64)):
        lo, hi = v[:, k, :, 0], v[:, k, :, 1]
        tmp[..., 0] = lo << np.uint64(k)
        tmp[..., 1] = (hi << np.uint64(k)) | (lo >> np.uint64(64 - k))
        acc = add128(acc, tmp)
    for k in range(64, nbits):  # only the low word counts, in the high word
        acc[..., 1] += v[:, k, :, 0] << np.uint64(k - 64)
    return acc


def spdz_untrim128(raw, a, nbits, w):
    """Trimmed Z_2^128 corrections (per group of OTs k keeping nb = ceil((128 - k) / 8) bytes, nb
    from 16 down, each group as (a, k1 - k0, w, nb) bytes) -> ``(a, nbits, w, 2)`` words, the
    bytes not sent zero."""
    raw, a, nbits, w = ck.spdz_untrim_args(raw, a, nbits, w)
    out = np.zeros((a, nbits, w, 16), dtype=np.uint8)
    pos = 0
    for nb in range(16, 0, -1):
        k0, k1 = max(0, 128 - 8 * nb), min(nbits, 128 - 8 * (nb - 1))
        if k0 < k1:
            size = a * (k1 - k0) * w * nb
            out[:, k0:k1, :, :nb] = raw[pos : pos + size].reshape(a, k1 - k0, w, nb)
            pos += size
    return out.view(np.uint64).reshape(a, nbits, w, 2)


def ot_soft_sums(leaves, offs, corr, k, nrows):
    """SoftSpoken's VOLE sums: rows[b k + i] = XOR_x (bit i of x ^ offs[b]) leaves[b 2^k + x] ^
    (bit i of offs[b]) corr[b], sums[b] = XOR_x leaves[b 2^k + x] ^ corr[b] (x < 2^kb, kb the
    block's row count: k, the last block nrows - (nb - 1) k); corr (1, w) serves every block."""
    leaves, offs, corr, k, nrows, nb = ck.ot_soft_args(leaves, offs, corr, k, nrows)
    w = leaves.shape[1]
    rows = np.zeros((nrows, w), dtype=np.uint64)
    sums = np.zeros((nb, w), dtype=np.uint64)
    for b in range(nb):
        kb = min(k, nrows - b * k)
        c = corr[0 if len(corr) == 1 else b]
        sums[b] = np.bitwise_xor.reduce(leaves[b << k : (b << k) + (1 << kb)], axis=0) ^ c
        for i in range(kb):
            sel = ((np.arange(1 << kb) ^ int(offs[b])) >> i) & 1 == 1
            acc = np.bitwise_xor.reduce(leaves[(b << k) + np.flatnonzero(sel)], axis=0)
            rows[b * k + i] = acc ^ (c if (int(offs[b]) >> i) & 1 else np.uint64(0))
    return rows, sums


def ot_ctr_words(key, pos, n):
    """Words pos .. pos + n - 1 of the AES-128-CTR keystream under ``key`` (16 bytes; counter
    from IV 0, 128-bit big-endian: OpenSSL's CTR mode), ``(n,)`` uint64."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    skip = pos & 1
    nbytes = 8 * (n + skip)
    out = np.empty(nbytes + 15, dtype=np.uint8)
    if n:
        enc = Cipher(algorithms.AES(bytes(key)), modes.CTR((pos >> 1).to_bytes(16, "big"))).encryptor()
        enc.update_into(np.zeros(nbytes, dtype=np.uint8), out)
    return out[8 * skip : nbytes].view(np.uint64).copy()


def ot_soft_extend(keys, present, pos, offs, corr, k):
    """SoftSpoken's step 1/2 over 128 rows: leaf row s = words pos .. pos + w - 1 of the CTR stream
    under keys[s] (zero where present[s] == 0), then ot_soft_sums, then ot_transpose128 of the
    rows: (cols (64 w, 2), sums (nb, w))."""
    keys, present, offs, corr, k, nb, w = ck.ot_soft_extend_args(keys, present, offs, corr, k)
    pos = ck.public_u64(pos)
    leaves = np.zeros((nb << k, w), dtype=np.uint64)
    for s in range(nb << k):
        if present[s]:
            leaves[s] = ot_ctr_words(keys[s].tobytes(), pos, w)
    rows, sums = ot_soft_sums(leaves, offs, corr, k, 128)
    return ot_transpose128(rows), sums


def ot_kos_sums(x, r, seed):
    """The KOS15 check's sums: chi_j = word j of the CTR stream under ``seed``
    (:func:`ot_ctr_words`); (XOR of chi_j over the set bits r_j, sum chi_j x_j[0], sum chi_j
    x_j[1]) over GF(2^64), ``(3,)`` uint64."""
    x, r, sd = ck.ot_kos_args(x, r, seed)
    m = x.shape[0]
    chi = ot_ctr_words(sd.tobytes(), 0, m)
    out = np.zeros(3, dtype=np.uint64)
    if r is not None and m:
        bits = np.unpackbits(r.view(np.uint8), bitorder="little")[:m].astype(bool)
        out[0] = np.bitwise_xor.reduce(chi[bits]) if bits.any() else np.uint64(0)
    out[1] = gf64_dot(chi, np.ascontiguousarray(x[:, 0]))[0]
    out[2] = gf64_dot(chi, np.ascontiguousarray(x[:, 1]))[0]
    return out


def ot_gilboa_send_hash(q, delta, start, key, x, nbits):
    """ot_gilboa_send of h0 = ot_hash_words(q, None, start, key), h1 = ot_hash_words(q, delta, ...)."""
    q, d, k, x, nb = ck.ot_gilboa_hash_args(q, delta, key, x, nbits)
    return ot_gilboa_send(ot_hash_words(q, None, start, k), ot_hash_words(q, d, start, k), x, nb)


def ot_gilboa_recv_hash(t, start, key, d, y, nbits):
    """ot_gilboa_recv of ht = ot_hash_words(t, None, start, key)."""
    t, k, d, y, nb = ck.ot_gilboa_recv_hash_args(t, key, d, y, nbits)
    return ot_gilboa_recv(ot_hash_words(t, None, start, k), d, y, nb)


def ot_hash_lsb(x, delta, start, key):
    """ot_lsb_pack of ot_hash_words(x, delta, start, key): bit 0 of each hash, 64 per word."""
    x, d, k = ck.ot_hash_lsb_args(x, delta, key)
    return ot_lsb_pack(ot_hash_words(x, d, start, k))


KERNELS = (
    "add", "sub", "mul", "neg", "mul_public", "sum", "sar", "trunc_finish",
    "masked_tags", "masked_mul_share", "masked_finish", "masked_trunc", "masked_finish_trunc",
    "add128", "sub128", "neg128", "mul128", "mul128_64", "matmul128",
    "auth_sub_split", "auth_sub_split_planar", "auth_beaver_combine", "auth_square_combine", "auth_add_public",
    "dot128_64", "dot128_64_planar",
    "auth_add_split", "auth_lincomb", "auth_div_finish", "auth_tmul_finish", "auth_tsquare_finish",
    "auth_matmul_combine",
    "matmul", "matmul_batched",
    "beaver_mask", "beaver_combine", "beaver_matmul_combine", "tmul_finish", "tsquare_finish",
    "pack_bits", "unpack_bits", "band", "bxor", "bnot", "transpose64", "bitslice", "unbitslice",
    "gmw_and_combine",
    "gf64_mul", "gf64_fold", "bit_macs_xor", "gf64_dot", "bauth_and", "bauth_xor_public", "bauth_and_public",
    "bauth_and_light", "bauth_and_public_light", "bauth_and_xor_public_light", "bauth_lt_pairs_light", "bauth_mask",
    "ot_transpose128", "ot_tweak", "ot_hash_finish", "ot_gilboa_send", "ot_gilboa_recv", "ot_lsb_pack",
    "ot_hash_words",
    "spdz_weighted128", "spdz_untrim128",


    "ot_hash_words", "ot_soft_sums", "ot_soft_extend", "ot_kos_sums", "ot_gilboa_send_hash", "ot_gilboa_recv_hash",
    "ot_hash_lsb",
)
