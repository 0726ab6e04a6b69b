# cython: language_level=3, boundscheck=False, wraparound=True, initializedcheck=False
"""Compiled Z_2^64 and Z_2^128 elementwise kernels (C in csrc/ring64.c and csrc/ring128.c).

Same names, signatures, ``out=`` semantics and results as :mod:`mpc._core._ref`, which is the
contract; arguments are validated by :mod:`mpc._core._checks` with the GIL held, so both backends
reject the same inputs with the same message. The C loops run without the GIL.

Arrays are flattened with ``reshape(-1)`` (a view: ``_checks`` makes inputs C-contiguous) before
a typed memoryview is taken, so 0-d and empty arrays need no special case beyond skipping the
call when there is nothing to compute. ``out=`` may be an input itself (in place); an input that
overlaps ``out`` only partly is copied first, as NumPy (the reference) does.
"""

import numpy as np

from libc.stdint cimport uint64_t

from mpc._core import _checks as ck
from mpc._core import _matmul as _mm  # the uint64 products (csrc/matmul.c) that matmul128 is built from

from mpc._core._wrap cimport binary_fn, in_ptr, input_words, operands, out_ptr, run_binary, run_unary, unary_fn, words


cdef extern from "mpc/ring64.h" nogil:
    void mpc_ring64_add(uint64_t *out, const uint64_t *a, const uint64_t *b, uint64_t c, size_t n)
    void mpc_ring64_sub(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n)
    void mpc_ring64_mul(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n)
    void mpc_ring64_neg(uint64_t *out, const uint64_t *a, size_t n)
    void mpc_ring64_mul_public(uint64_t *out, const uint64_t *a, uint64_t c, size_t n)
    void mpc_ring64_sum(uint64_t *out, const uint64_t *a, size_t outer, size_t len, size_t inner)
    void mpc_ring64_sar(uint64_t *out, const uint64_t *a, unsigned k, size_t n)
    void mpc_ring64_trunc_finish(uint64_t *out, const uint64_t *c, const uint64_t *c2,
                                 const uint64_t *r_high, const uint64_t *r_msb, uint64_t d,
                                 int first, size_t n)

    uint64_t mpc_masked_tags(const uint64_t *x, size_t n)
    int mpc_masked_mul_share(uint64_t *s, const uint64_t *x, const uint64_t *y, const uint64_t *lz,
                              const uint64_t *g, int first, size_t n)
    void mpc_masked_finish(uint64_t *out, const uint64_t *s, const uint64_t *s2, const uint64_t *lz, uint64_t t0,
                           size_t n)
    int mpc_masked_trunc(uint64_t *out, const uint64_t *x, const uint64_t *a, const uint64_t *m, unsigned k,
                          size_t n)
    int mpc_masked_finish_trunc(uint64_t *out, const uint64_t *s, const uint64_t *s2, const uint64_t *a,
                                const uint64_t *m, uint64_t t0, unsigned k, size_t n)

cdef extern from "mpc/matmul.h" nogil:
    void mpc_matmul_u64(uint64_t *c, const uint64_t *a, const uint64_t *b, size_t m, size_t k, size_t n)

cdef extern from "mpc/ring128.h" nogil:
    void mpc_ring128_add(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n)
    void mpc_ring128_sub(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n)
    void mpc_ring128_neg(uint64_t *out, const uint64_t *a, size_t n)
    void mpc_ring128_mul(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n)
    void mpc_ring128_mul64(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n)
    void mpc_ring128_matmul(uint64_t *c, const uint64_t *a, const uint64_t *b, size_t m, size_t k, size_t n,
                            int a_wide, int b_wide)
    void mpc_auth_sub_split(uint64_t *lo, uint64_t *hi, uint64_t *mac, const uint64_t *x, const uint64_t *a,
                            size_t vs, size_t n)
    void mpc_auth_beaver_combine(uint64_t *z, const uint64_t *c, const uint64_t *a, const uint64_t *b,
                                 const uint64_t *d, const uint64_t *e, const uint64_t *d2, const uint64_t *e2,
                                 uint64_t alpha, int first, size_t ds, size_t n)
    void mpc_auth_square_combine(uint64_t *z, const uint64_t *c, const uint64_t *a, const uint64_t *d,
                                 const uint64_t *d2, uint64_t alpha, int first, size_t ds, size_t n)
    void mpc_auth_add_public(uint64_t *z, const uint64_t *x, const uint64_t *p, uint64_t alpha, int first, size_t n)
    void mpc_auth_add_split(uint64_t *val, uint64_t *mac, const uint64_t *x, const uint64_t *a, uint64_t c,
                            uint64_t alpha, int first, size_t n)
    void mpc_auth_lincomb(uint64_t *z, const uint64_t *const *x, const uint64_t *const *coef,
                          const uint64_t *scalar, size_t terms, const uint64_t *p, uint64_t alpha, int first,
                          size_t n)
    void mpc_auth_div_finish(uint64_t *z, const uint64_t *own, const uint64_t *rest, const uint64_t *r_msb,
                             const uint64_t *r_high, uint64_t d, int shift, uint64_t q, uint64_t low,
                             uint64_t alpha, int first, size_t n)
    void mpc_auth_tmul_finish(uint64_t *z, const uint64_t *own, const uint64_t *rest, const uint64_t *a1,
                              const uint64_t *m1, const uint64_t *a2, const uint64_t *m2, const uint64_t *a1a2,
                              const uint64_t *m1a2, const uint64_t *a1m2, const uint64_t *m1m2, int k1, int k2,
                              uint64_t alpha, int first, size_t n)
    void mpc_auth_tsquare_finish(uint64_t *z, const uint64_t *own, const uint64_t *rest, const uint64_t *a,
                                 const uint64_t *mm, const uint64_t *aa, const uint64_t *am, int k, uint64_t alpha,
                                 int first, size_t n)
    void mpc_ring128_dot64(uint64_t *out, const uint64_t *lo, const uint64_t *hi, const uint64_t *chi, size_t vs,
                           size_t n)
    enum: MPC_MM128F_KC
    void mpc_mm128f_left(uint64_t *xw, uint64_t *x1, double *fl, const uint64_t *a, size_t rows, size_t rdiv,
                         size_t rs, size_t rm, size_t ps, int wide, size_t k0, size_t kc)
    void mpc_mm128f_right(uint64_t *ylo, uint64_t *yhi, uint64_t *y1, double *fr, const uint64_t *b, size_t n,
                          int wide, size_t k0, size_t kc)
    void mpc_mm128f_right_auth(uint64_t *yw, uint64_t *y1, double *fr, const uint64_t *b, const uint64_t *e,
                               uint64_t alpha, int first, size_t n, size_t k0, size_t kc)
    void mpc_mm128f_finish(uint64_t *acc, size_t rdiv, size_t rs, size_t rm, size_t cs, const uint64_t *lo,
                           size_t ld, const uint64_t *cross, size_t ldc, const uint64_t *cross2, size_t ldc2,
                           const uint64_t *p11, const double *fx, size_t rows, size_t cols)


cdef object _binary(object a, object b, object out, binary_fn fn, size_t width):
    """Validate like the reference, then out[i] = fn(a[i], b[i]) over n = a.size // width elements."""
    a, b, out = ck.elementwise_args(a, b, out, width)
    return run_binary(a, b, out, fn, width)


cdef object _unary(object a, object out, unary_fn fn, size_t width):
    """Validate like the reference, then out[i] = fn(a[i]) over n = a.size // width elements."""
    a = ck.as_u64("a", a) if width == 1 else ck.ring128("a", a)
    return run_unary(a, ck.out_array(out, a.shape), fn, width)


# ----------------------------------------------------------------------------- ring Z_2^64


def add(a, b, out=None, *, c=0):
    """a + b (+ c, a public integer constant, reduced mod 2^64) mod 2^64, elementwise over
    equal-shape uint64 arrays. The constant costs nothing: still one pass over a and b."""
    a, b, out = ck.elementwise_args(a, b, out)
    cdef uint64_t cc = ck.public_u64(c)
    cdef uint64_t *po
    cdef const uint64_t *pa
    cdef const uint64_t *pb
    cdef size_t n
    held = operands(a, b, out, &po, &pa, &pb, &n)
    if n:
        with nogil:
            mpc_ring64_add(po, pa, pb, cc, n)
    return out


def sub(a, b, out=None):
    """a - b mod 2^64, elementwise over equal-shape uint64 arrays."""
    return _binary(a, b, out, mpc_ring64_sub, 1)


def mul(a, b, out=None):
    """a * b mod 2^64, elementwise over equal-shape uint64 arrays."""
    return _binary(a, b, out, mpc_ring64_mul, 1)


def neg(a, out=None):
    """-a mod 2^64, elementwise."""
    return _unary(a, out, mpc_ring64_neg, 1)


def mul_public(a, c, out=None):
    """a * c mod 2^64 for a public integer constant c (any sign; reduced mod 2^64)."""
    a = ck.as_u64("a", a)
    cdef uint64_t cc = ck.public_u64(c)
    out = ck.out_array(out, a.shape)
    cdef uint64_t *po
    cdef const uint64_t *pa
    cdef size_t n
    held = operands(a, None, out, &po, &pa, NULL, &n)
    if n:
        with nogil:
            mpc_ring64_mul_public(po, pa, cc, n)
    return out


def sum(a, axis):  # noqa: A001 - the kernel's name is part of the contract
    """Sum mod 2^64 along one axis (negative axes count from the end); the axis is removed."""
    a = ck.as_u64("a", a)
    cdef Py_ssize_t ax = ck.axis(a, axis)
    shape = a.shape
    cdef size_t outer = 1, inner = 1, length = shape[ax]
    for d in shape[:ax]:
        outer *= <size_t>d
    for d in shape[ax + 1:]:
        inner *= <size_t>d
    out = np.empty(shape[:ax] + shape[ax + 1:], dtype=np.uint64)
    cdef const uint64_t[::1] va = a.reshape(-1)
    cdef uint64_t[::1] vo = out.reshape(-1)
    if outer and inner:
        if length:
            with nogil:
                mpc_ring64_sum(&vo[0], &va[0], outer, length, inner)
        else:
            out.fill(0)
    return out


def sar(a, k, out=None):
    """Arithmetic shift right by k in [0, 63] of the two's-complement (int64) reading of a."""
    a = ck.as_u64("a", a)
    cdef unsigned kk = ck.shift(k)
    out = ck.out_array(out, a.shape)
    cdef uint64_t *po
    cdef const uint64_t *pa
    cdef size_t n
    held = operands(a, None, out, &po, &pa, NULL, &n)
    if n:
        with nogil:
            mpc_ring64_sar(po, pa, kk, n)
    return out


def trunc_finish(c, r_high, r_msb, d, first, c2=None):
    """One party's share of x / d after the masked opening of truncation (d = 2^k) or division.

    With C = c + c2 (or c) the opened value x + 2^62 + r, Q = floor(2^64 / d), a new array
    (1 - msb(C)) * Q * r_msb - r_high, plus floor(C / d) - floor(2^62 / d) on the ``first``
    party (mod 2^64); d is an integer in [2, 2^62]. c is this party's masked share as sent and c2
    the sum of the peers' (for two parties the received array as is), so the opening's sum
    needs no pass of its own. Cost: one pass reading 3 or 4 arrays and writing one; for d = 2^k
    it vectorises (shifts and masks only), other d divide once per element on the first party.
    """
    c, r_high, r_msb, c2 = ck.trunc_finish_args(c, r_high, r_msb, c2)
    cdef uint64_t dd = ck.divisor(d)
    cdef int f = 1 if first else 0
    y = np.empty(c.shape, dtype=np.uint64)
    cdef uint64_t *py = out_ptr(y)
    cdef const uint64_t *pc = in_ptr(c)
    cdef const uint64_t *pc2 = in_ptr(c2) if c2 is not None else NULL
    cdef const uint64_t *ph = in_ptr(r_high)
    cdef const uint64_t *pm = in_ptr(r_msb)
    cdef size_t n = c.size
    if n:
        with nogil:
            mpc_ring64_trunc_finish(py, pc, pc2, ph, pm, dd, f, n)
    return y


# ----------------------------------------------------------------------------- masked2k records


def masked_tags(x):
    """t when the tags (word 2) of the (..., 3) records x are t, t+1, ... in row-major order with
    t >= 1, else 0 (one pass over the tags, stopping at the first mismatch)."""
    (x,), _, _ = ck.masked_args("x", (x,), ())
    cdef const uint64_t *px = in_ptr(x)
    cdef size_t n = x.size // 3
    cdef uint64_t t = 0
    if n:
        with nogil:
            t = mpc_masked_tags(px, n)
    return int(t)


def masked_mul_share(x, y, lz, g, first):
    """(s, run): s = lz + g - dx ly - dy lx (+ dx dy when first) for records x, y, and whether
    both operands' tags are runs from their first tags >= 1 (checked in the same pass; ring64.h)."""
    (x, y), (lz, g), shape = ck.masked_args("x, y, lz, g", (x, y), (lz, g))
    s = np.empty(shape, dtype=np.uint64)
    cdef int f = 1 if first else 0
    cdef uint64_t *ps = out_ptr(s)
    cdef const uint64_t *px = in_ptr(x)
    cdef const uint64_t *py = in_ptr(y)
    cdef const uint64_t *pl = in_ptr(lz)
    cdef const uint64_t *pg = in_ptr(g)
    cdef size_t n = s.size
    cdef int run = 0
    if n:
        with nogil:
            run = mpc_masked_mul_share(ps, px, py, pl, pg, f, n)
    return s, bool(run)


def masked_finish(s, lz, t0, s2=None):
    """Records (s + s2 (or s), lz, t0 + i) of a masked product after its opening: one pass."""
    _, (s, lz, s2), shape = ck.masked_args("s, lz, s2", (), (s, lz, s2))
    cdef uint64_t t = ck.tag(t0)
    out = np.empty((*shape, 3), dtype=np.uint64)
    cdef uint64_t *po = out_ptr(out)
    cdef const uint64_t *ps = in_ptr(s)
    cdef const uint64_t *ps2 = in_ptr(s2) if s2 is not None else NULL
    cdef const uint64_t *pl = in_ptr(lz)
    cdef size_t n = s.size
    if n:
        with nogil:
            mpc_masked_finish(po, ps, ps2, pl, t, n)
    return out


def masked_trunc(x, a, m, k):
    """(records, run): floor(x / 2^k) (+ one ulp at most) of records x with mask shares a, m, and
    whether x's tags are a run from its first tag >= 1: one pass (ring64.h)."""
    (x,), (a, m), shape = ck.masked_args("x, a, m", (x,), (a, m))
    cdef unsigned kk = ck.trunc_shift(k, "k", 1)
    out = np.empty((*shape, 3), dtype=np.uint64)
    cdef uint64_t *po = out_ptr(out)
    cdef const uint64_t *px = in_ptr(x)
    cdef const uint64_t *pa = in_ptr(a)
    cdef const uint64_t *pm = in_ptr(m)
    cdef size_t n = a.size
    cdef int run = 0
    if n:
        with nogil:
            run = mpc_masked_trunc(po, px, pa, pm, kk, n)
    return out, bool(run)


def masked_finish_trunc(s, a, m, t0, k, s2=None):
    """(records, fresh): masked_trunc(masked_finish(s, ., t0, s2), a, m, k) in one pass, and
    whether t0 .. t0 + n - 1 are fresh tags (ring64.h)."""
    _, (s, a, m, s2), shape = ck.masked_args("s, a, m, s2", (), (s, a, m, s2))
    cdef uint64_t t = ck.tag(t0)
    cdef unsigned kk = ck.trunc_shift(k, "k", 1)
    out = np.empty((*shape, 3), dtype=np.uint64)
    cdef uint64_t *po = out_ptr(out)
    cdef const uint64_t *ps = in_ptr(s)
    cdef const uint64_t *ps2 = in_ptr(s2) if s2 is not None else NULL
    cdef const uint64_t *pa = in_ptr(a)
    cdef const uint64_t *pm = in_ptr(m)
    cdef size_t n = s.size
    cdef int fresh = 0
    if n:
        with nogil:
            fresh = mpc_masked_finish_trunc(po, ps, ps2, pa, pm, t, kk, n)
    return out, bool(fresh)


# ----------------------------------------------------------------------------- ring Z_2^128


def add128(a, b, out=None):
    """a + b mod 2^128 on (..., 2) uint64 arrays holding (lo, hi)."""
    return _binary(a, b, out, mpc_ring128_add, 2)


def sub128(a, b, out=None):
    """a - b mod 2^128 on (..., 2) uint64 arrays holding (lo, hi)."""
    return _binary(a, b, out, mpc_ring128_sub, 2)


def neg128(a, out=None):
    """-a mod 2^128 on a (..., 2) uint64 array holding (lo, hi)."""
    return _unary(a, out, mpc_ring128_neg, 2)


def mul128(a, b, out=None):
    """a * b mod 2^128 (the low 128 bits of the full product) on (..., 2) (lo, hi) arrays."""
    return _binary(a, b, out, mpc_ring128_mul, 2)


def mul128_64(a, b, out=None):
    """a * b mod 2^128 where b is a uint64 array of shape a.shape[:-1] (a SPDZ2k MAC key times a share)."""
    a, b, out = ck.mul128_64_args(a, b, out)
    cdef uint64_t *po
    cdef const uint64_t *pa
    cdef const uint64_t *pb
    cdef size_t no = 0, na, n
    po = words(out, &no, True)
    held_a = input_words(a, po, no, &pa, &na)
    held_b = input_words(b, po, no, &pb, &n, False)  # b is half out's length: never out's buffer exactly
    if n:
        with nogil:
            mpc_ring128_mul64(po, pa, pb, n)
    return out


FLOAT_MIN_MACS = 1 << 15
FLOAT_MIN_OUT = 256
"""matmul128 uses the uint64 and float64 products from FLOAT_MIN_MACS multiply-adds (m*k*n) and
FLOAT_MIN_OUT outputs (m*n) on; below, the direct kernel (one pass, no temporaries) is faster: the
product path pays a few allocations and four or five kernel calls per k-slice of 128, which m*n
outputs must amortize."""


def matmul128(a, b):
    """a @ b mod 2^128 for 2-d operands, each 64-bit (uint64 (r, c)) or Z_2^128 ((r, c, 2));
    returns a new (m, n, 2) array.

    Method (from :data:`FLOAT_MIN_MACS` multiply-adds and :data:`FLOAT_MIN_OUT` outputs on): with
    a = ah 2^64 + al and b likewise, a b = al bl + 2^64 (al bh + ah bl) mod 2^128, per k-slice of at
    most 128. The cross words al bh and ah bl are needed mod 2^64 only: one uint64 product each
    (when that operand is 128-bit). The full 128-bit al bl is its low word (a uint64 product), plus
    2^64 times the uint64 product of the words' high 32-bit halves, plus 2^64 h, where h is
    recovered exactly from one float64 product of the 32-bit halves (csrc/ring128.c,
    ``mpc_mm128f_*``, states the bound: within 2^-4 of an integer before rounding, for any IEEE
    double order of summation). So a 128 x 128-bit product costs 4 uint64 products and one float64
    product of twice the inner size, a 64 x 128-bit one 3 and one: 6 and 5 uint64-product
    equivalents, against 8 and 7 for the former 32/24-bit limb products and ~3 scalar multiplies
    per multiply-add for the direct kernel. The uint64 products run on the fast kernel
    (:func:`mpc._core._matmul.matmul`: AVX-512 Winograd, AVX2 or portable, whichever the CPU has),
    the float64 one on NumPy's BLAS (which releases the GIL); every part is exact, so the result
    is the same bits on every path. Below the threshold, or for k = 0: the direct kernel."""
    a, b, aw, bw, m, k, n = ck.matmul128_args(a, b)
    if m == 0 or n == 0 or k == 0:
        return np.zeros((m, n, 2), dtype=np.uint64)
    if m * n >= FLOAT_MIN_OUT and m * k * n >= FLOAT_MIN_MACS:
        out = np.zeros((m, n, 2), dtype=np.uint64)  # the slices accumulate into it
        _float_product(out, a, b, aw, bw, m, k, n)
        return out
    out = np.empty((m, n, 2), dtype=np.uint64)
    if not aw or not bw:  # the direct kernel is fastest on two 128-bit operands: zero-extend (O(mk + kn))
        a = a if aw else np.stack([a, np.zeros_like(a)], axis=-1)
        b = b if bw else np.stack([b, np.zeros_like(b)], axis=-1)
        aw = bw = True
    cdef uint64_t[::1] vo = out.reshape(-1)
    cdef const uint64_t[::1] va = a.reshape(-1)
    cdef const uint64_t[::1] vb = b.reshape(-1)
    cdef size_t mm = m, kk = k, nn = n
    cdef int iaw = aw, ibw = bw
    with nogil:
        mpc_ring128_matmul(&vo[0], &va[0], &vb[0], mm, kk, nn, iaw, ibw)
    return out


cdef _float_product(out, a, b, bint aw, bint bw, size_t m, size_t k, size_t n):
    """out += a @ b mod 2^128 from uint64 and float64 products (see :func:`matmul128`)."""
    cdef size_t kmax = min(<size_t>MPC_MM128F_KC, k), k0, kc, wa = 2 if aw else 1
    xw, x1, fl = _u64(wa * m * kmax), _u64(m * kmax), _f64(m * 2 * kmax)
    ylo, yhi, y1, fr = _u64(kmax * n), _u64(kmax * n), _u64(kmax * n), _f64(2 * kmax * n)
    lo, c1, c2, p11, fx = _u64(m * n), _u64(m * n), _u64(m * n), _u64(m * n), _f64(m * n)
    cdef const uint64_t *pa = in_ptr(a)
    cdef const uint64_t *pb = in_ptr(b)
    cdef uint64_t *po = out_ptr(out)
    cdef uint64_t *pxw = out_ptr(xw)
    cdef uint64_t *px1 = out_ptr(x1)
    cdef double *pfl = _dptr(fl)
    cdef uint64_t *pylo = out_ptr(ylo)
    cdef uint64_t *pyhi = out_ptr(yhi)
    cdef uint64_t *py1 = out_ptr(y1)
    cdef double *pfr = _dptr(fr)
    cdef uint64_t *plo = out_ptr(lo)
    cdef uint64_t *pc1 = out_ptr(c1)
    cdef uint64_t *pc2 = out_ptr(c2)
    cdef uint64_t *pp = out_ptr(p11)
    cdef const uint64_t *right
    cdef int iaw = aw, ibw = bw
    for k0 in range(0, k, <size_t>MPC_MM128F_KC):
        kc = min(<size_t>MPC_MM128F_KC, k - k0)
        with nogil:
            mpc_mm128f_left(pxw, px1, pfl, pa, m, 1, wa * k, 0, wa, iaw, k0, kc)
            mpc_mm128f_right(pylo, pyhi, py1, pfr, pb, n, ibw, k0, kc)
            right = pylo if bw else pb + k0 * n  # a 64-bit b's rows are its low words as they are
            mpc_matmul_u64(plo, pxw, right, m, kc, n)
            if bw:
                mpc_matmul_u64(pc1, pxw, pyhi, m, kc, n)
            if aw:
                mpc_matmul_u64(pc2, pxw + m * kc, right, m, kc, n)
            mpc_matmul_u64(pp, px1, py1, m, kc, n)
        _float_finish(po, 1, 2 * n, 0, 2, plo, n, pc1 if bw else NULL, n, pc2 if aw else NULL, n, pp, m, n, kc,
                      fl, fr, fx)


cdef _float_finish(uint64_t *acc, size_t rdiv, size_t rs, size_t rm, size_t cs, const uint64_t *lo, size_t ld,
                   const uint64_t *cross, size_t ldc, const uint64_t *cross2, size_t ldc2, const uint64_t *p11,
                   size_t rows, size_t cols, size_t kc, fl, fr, fx):
    """The float64 product fx = fl @ fr of a slice's packed halves ((rows, 2 kc) @ (2 kc, cols),
    NumPy's BLAS; fl, fr, fx flat buffers viewed at those shapes), then ``mpc_mm128f_finish``:
    acc += the slice's 128-bit product."""
    prod = fx[: rows * cols].reshape(rows, cols)
    np.matmul(fl[: rows * 2 * kc].reshape(rows, 2 * kc), fr[: 2 * kc * cols].reshape(2 * kc, cols), out=prod)
    cdef double *pfx = _dptr(prod)
    with nogil:
        mpc_mm128f_finish(acc, rdiv, rs, rm, cs, lo, ld, cross, ldc, cross2, ldc2, p11, pfx, rows, cols)


cdef object _u64(size_t count):
    return np.empty(count, dtype=np.uint64)


cdef object _f64(size_t count):
    return np.empty(count, dtype=np.float64)


cdef double *_dptr(object arr):
    cdef double[::1] view = arr.reshape(-1)
    return &view[0]


# ----------------------------------------------------------------------------- SPDZ2k records


def auth_matmul_combine(c, a, b, d, e, alpha, first):
    """The spdz2k matrix Beaver combine: records z (m, n) = c + d @ (b + e) + a @ e for records c
    (m, n), a (m, k), b (k, n) and the opened masks' low words d (m, k), e (k, n) (uint64): value
    shares c.v + d @ (b.v + [first] e) + a.v @ e, MAC shares c.m + d @ (b.m + alpha e) + a.m @ e,
    every product mod 2^128 with d, e as 64-bit coefficients.

    Method: :func:`matmul128`'s, per k-slice of at most 128 and side, with the operands packed
    straight from the records: d @ B' with B' = (b.v + [first] e, b.m + alpha e) as columns 2j,
    2j + 1 (so the (m, 2n) product is z's records; its low and cross words in one uint64 product
    d @ [B'l | B'h]), and [a.v ; a.m] @ e (rows 2i + s going to record i's half s; low and cross
    words in one product [al ; ah] @ e). Cost per side: 3 uint64 products of the side's size
    (mkn multiply-adds for each of the value and the MAC) and one float64 product of twice that:
    10 mkn per side in uint64-product equivalents, against 14 for the former limb products.

    Why no AVX-512 IFMA path: one was built and measured on Zen 4 (52-bit limbs, 7 IFMAs per 8
    lanes of 64 x 128-bit products, value and MAC of both sides in one register tile). A zmm IFMA
    issues once a cycle there, so the 4 mkn products need 3.5 mkn instructions, near this path's
    own cost: 1.15x at 256^3, 1.0x at 512^3, and no faster at an MLP's 64 x 784 x 128 under
    mpcrun (issue #14, stop 37's note)."""
    c, a, b, d, e, m, k, n = ck.auth_matmul_combine_args(c, a, b, d, e)
    cdef uint64_t al = ck.public_u64(alpha)
    cdef int f = 1 if first else 0
    z = np.array(c, dtype=np.uint64, order="C", copy=True)
    if m == 0 or n == 0 or k == 0:
        return z
    cdef uint64_t *pz = out_ptr(z)
    cdef const uint64_t *pa = in_ptr(a)
    cdef const uint64_t *pb = in_ptr(b)
    cdef const uint64_t *pd = in_ptr(d)
    cdef const uint64_t *pe = in_ptr(e)
    cdef size_t mm = m, kk = k, nn = n, k0, kc, kmax = min(<size_t>MPC_MM128F_KC, kk)
    # per-slice operands and products (flat, viewed at each side's shapes), reused by every slice
    # and both sides, each sized for the larger use
    yw, y1, fr = _u64(kmax * 4 * nn), _u64(kmax * 2 * nn), _f64(2 * kmax * 2 * nn)
    xw, x1, fl = _u64(4 * mm * kmax), _u64(2 * mm * kmax), _f64(2 * mm * 2 * kmax)
    lc, p11, fx = _u64(4 * mm * 2 * nn), _u64(2 * mm * 2 * nn), _f64(2 * mm * nn)
    cdef uint64_t *pyw = out_ptr(yw)
    cdef uint64_t *py1 = out_ptr(y1)
    cdef double *pfr = _dptr(fr)
    cdef uint64_t *pxw = out_ptr(xw)
    cdef uint64_t *px1 = out_ptr(x1)
    cdef double *pfl = _dptr(fl)
    cdef uint64_t *plc = out_ptr(lc)
    cdef uint64_t *pp = out_ptr(p11)
    for k0 in range(0, kk, <size_t>MPC_MM128F_KC):
        kc = min(<size_t>MPC_MM128F_KC, kk - k0)
        # d @ B': d's slice, B''s rows (low and high words side by side, the float halves)
        with nogil:
            mpc_mm128f_left(pxw, px1, pfl, pd, mm, 1, kk, 0, 1, 0, k0, kc)
            mpc_mm128f_right_auth(pyw, py1, pfr, pb, pe, al, f, nn, k0, kc)
            mpc_matmul_u64(plc, pxw, pyw, mm, kc, 4 * nn)
            mpc_matmul_u64(pp, px1, py1, mm, kc, 2 * nn)
        _float_finish(pz, 1, 4 * nn, 0, 2, plc, 4 * nn, plc + 2 * nn, 4 * nn, NULL, 0, pp, mm, 2 * nn, kc,
                      fl, fr, fx)
        # [a.v ; a.m] @ e: a's rows r = 2i + s (low words, then high words), e's slice
        with nogil:
            mpc_mm128f_left(pxw, px1, pfl, pa, 2 * mm, 2, 4 * kk, 2, 4, 1, k0, kc)
            mpc_mm128f_right(NULL, NULL, py1, pfr, pe, nn, 0, k0, kc)
            mpc_matmul_u64(plc, pxw, pe + k0 * nn, 4 * mm, kc, nn)
            mpc_matmul_u64(pp, px1, py1, 2 * mm, kc, nn)
        _float_finish(pz, 2, 4 * nn, 2, 4, plc, nn, plc + 2 * mm * nn, nn, NULL, 0, pp, 2 * mm, nn, kc,
                      fl, fr, fx)
    return z


cdef object _sub_split(object x, object a, object lo, object hi, object mac, size_t vs):
    cdef uint64_t *pl = out_ptr(lo)
    cdef uint64_t *ph = pl + 1 if hi is None else out_ptr(hi)
    cdef uint64_t *pm = out_ptr(mac)
    cdef const uint64_t *px = in_ptr(x)
    cdef const uint64_t *pa = in_ptr(a)
    cdef size_t n = mac.size // 2
    if n:
        with nogil:
            mpc_auth_sub_split(pl, ph, pm, px, pa, vs, n)


def auth_sub_split(x, a, vals=None, macs=None):
    """(x.v - a.v, x.m - a.m) of (..., 4) record arrays, as (..., 2) Z_2^128 arrays (into ``vals``
    and ``macs`` when given; they must not overlap the inputs)."""
    (x, a), _, shape = ck.auth_args("x, a", (x, a), ())
    val = ck.out_array(vals, (*shape, 2))
    mac = ck.out_array(macs, (*shape, 2))
    _sub_split(x, a, val, None, mac, 2)
    return val, mac


def auth_sub_split_planar(x, a, lo=None, hi=None, macs=None):
    """:func:`auth_sub_split` with the values planar: the low words of x.v - a.v into ``lo``, the
    high words into ``hi`` (uint64 arrays of the element shape), the MAC shares into ``macs``
    ((..., 2)); each made when not given. Returns (lo, hi, macs)."""
    (x, a), _, shape = ck.auth_args("x, a", (x, a), ())
    lo, hi = ck.out_array(lo, shape), ck.out_array(hi, shape)
    mac = ck.out_array(macs, (*shape, 2))
    _sub_split(x, a, lo, hi, mac, 1)
    return lo, hi, mac


def auth_beaver_combine(c, a, b, d, e, alpha, first, d2=None, e2=None):
    """z = c + D b + E a + D E for records c, a, b and opened Z_2^128 D = d (+ d2), E = e (+ e2):
    d2 and e2 (both or neither) are the rest of the opening's sum, added in the pass (see ring128.h)."""
    (c, a, b), _, shape = ck.auth_args("c, a, b", (c, a, b), ())
    (d, e, d2, e2), stride = ck.auth_opened("d, e, d2, e2", (d, e, d2, e2), shape, 2)
    z = np.empty((*shape, 4), dtype=np.uint64)
    cdef size_t ds = stride
    cdef uint64_t al = ck.public_u64(alpha)
    cdef int f = 1 if first else 0
    cdef uint64_t *pz = out_ptr(z)
    cdef const uint64_t *pc = in_ptr(c)
    cdef const uint64_t *pa = in_ptr(a)
    cdef const uint64_t *pb = in_ptr(b)
    cdef const uint64_t *pd = in_ptr(d)
    cdef const uint64_t *pe = in_ptr(e)
    cdef const uint64_t *pd2 = in_ptr(d2) if d2 is not None else NULL
    cdef const uint64_t *pe2 = in_ptr(e2) if e2 is not None else NULL
    cdef size_t n = z.size // 4
    if n:
        with nogil:
            mpc_auth_beaver_combine(pz, pc, pa, pb, pd, pe, pd2, pe2, al, f, ds, n)
    return z


def auth_square_combine(c, a, d, alpha, first, d2=None):
    """z = c + 2 D a + D^2 for records c, a and an opened Z_2^128 D = d (+ d2, the rest of the
    opening's sum, added in the pass)."""
    (c, a), _, shape = ck.auth_args("c, a", (c, a), ())
    (d, d2), stride = ck.auth_opened("d, d2", (d, d2), shape, 1)
    z = np.empty((*shape, 4), dtype=np.uint64)
    cdef size_t ds = stride
    cdef uint64_t al = ck.public_u64(alpha)
    cdef int f = 1 if first else 0
    cdef uint64_t *pz = out_ptr(z)
    cdef const uint64_t *pc = in_ptr(c)
    cdef const uint64_t *pa = in_ptr(a)
    cdef const uint64_t *pd = in_ptr(d)
    cdef const uint64_t *pd2 = in_ptr(d2) if d2 is not None else NULL
    cdef size_t n = z.size // 4
    if n:
        with nogil:
            mpc_auth_square_combine(pz, pc, pa, pd, pd2, al, f, ds, n)
    return z


def auth_add_public(x, p, alpha, first):
    """x + p for records x and a public Z_2^128 p."""
    (x,), (p,), shape = ck.auth_args("x, p", (x,), (p,))
    z = np.empty((*shape, 4), dtype=np.uint64)
    cdef uint64_t al = ck.public_u64(alpha)
    cdef int f = 1 if first else 0
    cdef uint64_t *pz = out_ptr(z)
    cdef const uint64_t *px = in_ptr(x)
    cdef const uint64_t *pp = in_ptr(p)
    cdef size_t n = z.size // 4
    if n:
        with nogil:
            mpc_auth_add_public(pz, px, pp, al, f, n)
    return z


def auth_add_split(x, a, c, alpha, first, vals=None, macs=None):
    """(x.v + a.v (+ c at party 0), x.m + a.m + alpha c) of (..., 4) record arrays for a public
    64-bit c, as (..., 2) Z_2^128 arrays (into ``vals`` and ``macs`` when given; they must not
    overlap the inputs)."""
    (x, a), _, shape = ck.auth_args("x, a", (x, a), ())
    val = ck.out_array(vals, (*shape, 2))
    mac = ck.out_array(macs, (*shape, 2))
    cdef uint64_t cc = ck.public_u64(c)
    cdef uint64_t al = ck.public_u64(alpha)
    cdef int f = 1 if first else 0
    cdef uint64_t *pv = out_ptr(val)
    cdef uint64_t *pm = out_ptr(mac)
    cdef const uint64_t *px = in_ptr(x)
    cdef const uint64_t *pa = in_ptr(a)
    cdef size_t n = val.size // 2
    if n:
        with nogil:
            mpc_auth_add_split(pv, pm, px, pa, cc, al, f, n)
    return val, mac


def auth_lincomb(xs, coefs, p, alpha, first):
    """sum_t coefs[t] xs[t] (+ p: party 0's value, alpha p every MAC) for record arrays xs[t] and
    64-bit public coefficients (uint64 arrays of the element shape, or integers), in one pass."""
    recs, cs, p, shape = ck.auth_lincomb_args(xs, coefs, p)
    z = np.empty((*shape, 4), dtype=np.uint64)
    cdef const uint64_t *px[16]
    cdef const uint64_t *pc[16]
    cdef uint64_t sc[16]
    cdef size_t terms = len(recs)
    cdef size_t t
    for t in range(terms):
        px[t] = in_ptr(recs[t])
        if isinstance(cs[t], np.ndarray):
            pc[t] = in_ptr(cs[t])
            sc[t] = 0
        else:
            pc[t] = NULL
            sc[t] = cs[t]
    cdef const uint64_t *pp = NULL if p is None else in_ptr(p)
    cdef uint64_t al = ck.public_u64(alpha)
    cdef int f = 1 if first else 0
    cdef uint64_t *pz = out_ptr(z)
    cdef size_t n = z.size // 4
    if n:
        with nogil:
            mpc_auth_lincomb(pz, px, pc, sc, terms, pp, al, f, n)
    return z


def auth_div_finish(own, rest, r_msb, r_high, d, alpha, first):
    """spdz2k's x / d for a public 2 <= d < 2^64 from the opening of x + 2^62 + r kept as its two
    summands own, rest ((..., 2) words): records coef r_msb + (2^64 - 1) r_high + p, coef =
    (1 - msb(c)) floor(2^64 / d) and p = c // d - floor(2^62 / d) for c the low words' sum, p in
    party 0's value (``first``) and alpha p in every MAC: ``auth_lincomb`` of those terms in one
    pass (c // d a shift when d is a power of two)."""
    own, rest, r_msb, r_high, dd, shape = ck.auth_div_finish_args(own, rest, r_msb, r_high, d)
    cdef uint64_t cd = dd
    cdef int shift = dd.bit_length() - 1 if dd & (dd - 1) == 0 else -1
    cdef uint64_t q = (1 << 64) // dd
    cdef uint64_t low = (1 << 62) // dd
    cdef uint64_t al = ck.public_u64(alpha)
    cdef int f = 1 if first else 0
    z = np.empty((*shape, 4), dtype=np.uint64)
    cdef uint64_t *pz = out_ptr(z)
    cdef const uint64_t *po = in_ptr(own)
    cdef const uint64_t *pr = in_ptr(rest)
    cdef const uint64_t *pm = in_ptr(r_msb)
    cdef const uint64_t *ph = in_ptr(r_high)
    cdef size_t n = z.size // 4
    if n:
        with nogil:
            mpc_auth_div_finish(pz, po, pr, pm, ph, cd, shift, q, low, al, f, n)
    return z


def auth_tmul_finish(own, rest, a1, m1, a2, m2, a1a2, m1a2, a1m2, m1m2, k1, k2, alpha, first):
    """spdz2k's floor(x / 2^k1) * floor(y / 2^k2) (k2 = 0: y as is) from the opening of
    x + 2^62 + r1 and y + r2 (+ 2^62 when k2 > 0) kept as its two summands own, rest ((2, *shape,
    2) words: x's, then y's) and an authenticated ``tmul`` tuple's records (m2, a1m2 exactly when
    k2 > 0; m1m2 exactly when also k1 + k2 > 64): ``auth_lincomb`` of the tuple's terms with the
    coefficients P_j, T_j of the opened low words, in one pass (csrc/include/mpc/ring128.h)."""
    (own, rest, a1, m1, a2, m2, a1a2, m1a2, a1m2, m1m2), kk1, kk2, shape = ck.auth_tmul_finish_args(
        own, rest, a1, m1, a2, m2, a1a2, m1a2, a1m2, m1m2, k1, k2)
    z = np.empty((*shape, 4), dtype=np.uint64)
    cdef int ik1 = kk1, ik2 = kk2
    cdef uint64_t al = ck.public_u64(alpha)
    cdef int f = 1 if first else 0
    cdef uint64_t *pz = out_ptr(z)
    cdef const uint64_t *po = in_ptr(own)
    cdef const uint64_t *pr = in_ptr(rest)
    cdef const uint64_t *pa1 = in_ptr(a1)
    cdef const uint64_t *pm1 = in_ptr(m1)
    cdef const uint64_t *pa2 = in_ptr(a2)
    cdef const uint64_t *pm2 = in_ptr(m2) if m2 is not None else NULL
    cdef const uint64_t *paa = in_ptr(a1a2)
    cdef const uint64_t *pma = in_ptr(m1a2)
    cdef const uint64_t *pam = in_ptr(a1m2) if a1m2 is not None else NULL
    cdef const uint64_t *pmm = in_ptr(m1m2) if m1m2 is not None else NULL
    cdef size_t n = z.size // 4
    if n:
        with nogil:
            mpc_auth_tmul_finish(pz, po, pr, pa1, pm1, pa2, pm2, paa, pma, pam, pmm, ik1, ik2, al, f, n)
    return z


def auth_tsquare_finish(own, rest, a, m, aa, am, k, alpha, first):
    """spdz2k's floor(x / 2^k)^2 from the opening of x + 2^62 + r kept as its two summands own,
    rest ((*shape, 2) words) and an authenticated ``tsquare`` tuple's records a, m, aa, am:
    ``auth_lincomb`` of its terms, in one pass (csrc/include/mpc/ring128.h)."""
    (own, rest, a, m, aa, am), kk, shape = ck.auth_tsquare_finish_args(own, rest, a, m, aa, am, k)
    z = np.empty((*shape, 4), dtype=np.uint64)
    cdef int ik = kk
    cdef uint64_t al = ck.public_u64(alpha)
    cdef int f = 1 if first else 0
    cdef uint64_t *pz = out_ptr(z)
    cdef const uint64_t *po = in_ptr(own)
    cdef const uint64_t *pr = in_ptr(rest)
    cdef const uint64_t *pa = in_ptr(a)
    cdef const uint64_t *pm = in_ptr(m)
    cdef const uint64_t *paa = in_ptr(aa)
    cdef const uint64_t *pam = in_ptr(am)
    cdef size_t n = z.size // 4
    if n:
        with nogil:
            mpc_auth_tsquare_finish(pz, po, pr, pa, pm, paa, pam, ik, al, f, n)
    return z


cdef object _dot64(object lo, object hi, size_t vs, object chi):
    out = np.zeros(2, dtype=np.uint64)
    cdef uint64_t *po = out_ptr(out)
    cdef const uint64_t *pl = in_ptr(lo)
    cdef const uint64_t *ph = pl + 1 if hi is None else in_ptr(hi)
    cdef const uint64_t *pc = in_ptr(chi)
    cdef size_t n = chi.size
    if n:
        with nogil:
            mpc_ring128_dot64(po, pl, ph, pc, vs, n)
    return out


def dot128_64(v, chi):
    """sum_i chi[i] v[i] mod 2^128 for Z_2^128 v and uint64 chi of v's element shape: a (2,) array."""
    v, chi, _ = ck.mul128_64_args(v, chi, None)
    return _dot64(v, None, 2, chi)


def dot128_64_planar(lo, hi, chi):
    """:func:`dot128_64` of the Z_2^128 values lo + 2^64 hi, given as their words' planes (uint64
    arrays of chi's shape)."""
    lo, hi, chi = ck.same_u64s("lo, hi, chi", lo, hi, chi)
    return _dot64(lo, hi, 1, chi)
