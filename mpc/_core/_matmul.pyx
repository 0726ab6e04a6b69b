# cython: language_level=3, boundscheck=False, wraparound=True, initializedcheck=False
"""Compiled uint64 matrix products and fused Beaver steps (C in csrc/matmul.c and csrc/beaver.c).

Same names, signatures and results as :mod:`mpc._core._ref`, which is the contract; arguments
are validated by :mod:`mpc._core._checks` with the GIL held (non-contiguous inputs are copied),
so both backends reject the same inputs with the same message. The C kernels run without the
GIL and are single-threaded, so parties simulated in threads run their products in parallel.

The products pick their instruction set per call from what the CPU has (:func:`matmul_isa`:
AVX-512, else AVX2, else portable C); :func:`matmul_with` runs them on a named one, which is how
the tests check every path this machine has against the reference and the benchmark compares
them. Beyond the reference's contract, this module has :data:`ISAS`, :func:`matmul_isas`,
:func:`matmul_isa` and :func:`matmul_with`.

Arrays are flattened with ``reshape(-1)`` (a view, since the checks make inputs C-contiguous)
before a typed memoryview is taken; empty operands become NULL pointers, which the C kernels
never read.
"""

import numpy as np

from libc.stdint cimport uint64_t

from mpc._core import _checks as ck
from mpc.errors import KernelError

from mpc._core._wrap cimport in_ptr, out_ptr


cdef extern from "mpc/matmul.h" nogil:
    enum: MPC_MATMUL_AUTO
    int mpc_matmul_isa_supported(int isa)
    int mpc_matmul_isa_best()
    int mpc_matmul_isa_u64(uint64_t *c, const uint64_t *a, const uint64_t *b, const uint64_t *b2,
                           size_t batch, size_t m, size_t k, size_t n, int acc, int isa)

cdef extern from "mpc/beaver.h" nogil:
    void mpc_beaver_mask_u64(uint64_t *d, uint64_t *e, const uint64_t *x, const uint64_t *a,
                             const uint64_t *y, const uint64_t *b, size_t nd, size_t ne)
    void mpc_beaver_combine_u64(uint64_t *z, const uint64_t *c, const uint64_t *d,
                                const uint64_t *e, const uint64_t *a, const uint64_t *b,
                                const uint64_t *d2, const uint64_t *e2, size_t n, int first)
    void mpc_beaver_matmul_combine_u64(uint64_t *z, const uint64_t *c, const uint64_t *d,
                                       const uint64_t *e, const uint64_t *a, const uint64_t *b,
                                       size_t m, size_t k, size_t n, int first)
    void mpc_beaver_tmul_finish_u64(uint64_t *z, const uint64_t *c1, const uint64_t *c2,
                                    const uint64_t *c1r, const uint64_t *c2r, const uint64_t *a1,
                                    const uint64_t *m1, const uint64_t *a2, const uint64_t *m2,
                                    const uint64_t *a1a2, const uint64_t *m1a2, const uint64_t *a1m2,
                                    const uint64_t *m1m2, unsigned k1, unsigned k2, int first,
                                    size_t n)
    void mpc_beaver_tsquare_finish_u64(uint64_t *z, const uint64_t *c, const uint64_t *cr,
                                       const uint64_t *a, const uint64_t *m, const uint64_t *aa,
                                       const uint64_t *am, unsigned k, int first, size_t n)


# ----------------------------------------------------------------------------- matrix products

ISAS = ("portable", "avx2", "avx512")
"""Instruction sets of the product kernels, narrowest first (C codes 1, 2, 3 in mpc/matmul.h)."""


def matmul_isas():
    """The instruction sets the product kernels can run on with this CPU and build, widest first;
    ``"portable"`` is always there."""
    return tuple(name for code, name in reversed(list(enumerate(ISAS, 1))) if mpc_matmul_isa_supported(code))


def matmul_isa():
    """The instruction set :func:`matmul`, :func:`matmul_batched` and the Beaver matrix combine use
    on this CPU: the widest of :func:`matmul_isas`."""
    return ISAS[mpc_matmul_isa_best() - 1]


cdef int _isa_code(object isa) except -1:
    if isa not in ISAS:
        raise KernelError(f"isa: expected one of {', '.join(ISAS)}, got {isa!r}")
    cdef int code = ISAS.index(isa) + 1
    if not mpc_matmul_isa_supported(code):
        raise KernelError(f"isa: this CPU cannot run {isa!r}; it has {', '.join(matmul_isas())}")
    return code


cdef object _product(object a, object b, bint batched, int isa, object c=None, object b2=None):
    """Validate like the reference, then a @ (b + b2) (+ c when given), one product per batch
    entry when ``batched``, on instruction set ``isa`` (a C code; MPC_MATMUL_AUTO picks)."""
    a = ck.as_u64("a", a)
    b = ck.as_u64("b", b)
    shape = ck.matmul_shapes(a, b, batched=batched)
    if b2 is not None:
        b2 = ck.as_u64("b2", b2)
        ck.same_shape("b, b2", b, b2)
    if c is not None:
        c = ck.as_u64("c", c)
        if c.shape != shape:
            raise KernelError(f"c: expected shape {shape} for a @ b, got {c.shape}")
    cdef size_t batch = shape[0] if batched else 1
    cdef size_t m = shape[-2], k = a.shape[-1], n = shape[-1]
    if batch == 0 or m == 0 or n == 0 or k == 0:
        return np.zeros(shape, dtype=np.uint64) if c is None else c.copy()
    out = np.empty(shape, dtype=np.uint64) if c is None else c.copy()
    cdef uint64_t *pc = out_ptr(out)
    cdef const uint64_t *pa = in_ptr(a)
    cdef const uint64_t *pb = in_ptr(b)
    cdef const uint64_t *pb2 = in_ptr(b2) if b2 is not None else NULL
    cdef int acc = c is not None, status
    with nogil:
        status = mpc_matmul_isa_u64(pc, pa, pb, pb2, batch, m, k, n, acc, isa)
    if status:  # unreachable: every code is validated before the call
        raise KernelError(f"isa: instruction set {isa} is not available")
    return out


def matmul(a, b):
    """(m, k) @ (k, n) mod 2^64, returned as a new C-contiguous (m, n) uint64 array.

    Cost: m*k*n multiply-adds, single-threaded, on :func:`matmul_isa`. With AVX-512 and m >= 24
    Winograd's inner-product algorithm does them with half the multiplies, ~22 GMAC/s on this
    project's Zen 4 runner (bench/kernels.py); with AVX2 ~2.5-3 per cycle; NumPy's integer ``@``
    has no BLAS and does ~0.1 per cycle. k == 0 gives zeros.
    """
    return _product(a, b, False, MPC_MATMUL_AUTO)


def matmul_batched(a, b):
    """(B, m, k) @ (B, k, n) mod 2^64, one product per batch entry; a new (B, m, n) array.

    Cost: B*m*k*n multiply-adds, the same kernel as :func:`matmul` once per entry.
    """
    return _product(a, b, True, MPC_MATMUL_AUTO)


def matmul_with(isa, a, b, c=None, b2=None):
    """c + a @ (b + b2) mod 2^64 on the named instruction set (one of :func:`matmul_isas`).

    a, b are (m, k), (k, n), or (B, m, k), (B, k, n) for one product per batch entry; b2 (b's
    shape) and c (the product's shape) are optional. Returns a new array. This is the C entry
    that :func:`matmul`, :func:`matmul_batched` and the Beaver matrix combine (c += d @ (b + e))
    reach through the automatic choice, forced to one path: raises KernelError for an unknown
    name or one this CPU cannot run.
    """
    a = ck.as_u64("a", a)
    return _product(a, b, a.ndim == 3, _isa_code(isa), c, b2)


# ----------------------------------------------------------------------------- Beaver, fused


cdef object _combine(object c, object d, object e, object a, object b, object first, bint matrix,
                     object d2=None, object e2=None):
    """A new array c + d*b + e*a, plus d*e when ``first``: elementwise (d, e the sums d + d2 and
    e + e2 when those are given), or with matrix products (d@b + a@e + d@e) when ``matrix``. The
    operands are validated by the caller."""
    cdef int f = 1 if first else 0
    cdef size_t m = 1, k = 0, n = c.size
    if matrix:
        m, k, n = c.shape[0], d.shape[1], c.shape[1]
    z = np.empty(c.shape, dtype=np.uint64)
    cdef uint64_t *pz = out_ptr(z)
    cdef const uint64_t *pc = in_ptr(c)
    cdef const uint64_t *pd = in_ptr(d)
    cdef const uint64_t *pe = in_ptr(e)
    cdef const uint64_t *pa = in_ptr(a)
    cdef const uint64_t *pb = in_ptr(b)
    cdef const uint64_t *pd2 = in_ptr(d2) if d2 is not None else NULL
    cdef const uint64_t *pe2 = in_ptr(e2) if e2 is not None else NULL
    if m and n:
        with nogil:
            if matrix:
                mpc_beaver_matmul_combine_u64(pz, pc, pd, pe, pa, pb, m, k, n, f)
            else:
                mpc_beaver_combine_u64(pz, pc, pd, pe, pa, pb, pd2, pe2, n, f)
    return z


def beaver_mask(x, a, y, b):
    """The values a party opens in Beaver multiplication: (d, e) = (x - a, y - b) mod 2^64.

    Shapes pair up: x with a, y with b (the matrix variant masks (m, k) and (k, n) operands).
    Cost: one pass over the four inputs, writing two new arrays.
    """
    x, a, y, b = ck.as_u64s("x, a, y, b", x, a, y, b)
    ck.same_shape("x, a", x, a)
    ck.same_shape("y, b", y, b)
    d = np.empty(x.shape, dtype=np.uint64)
    e = np.empty(y.shape, dtype=np.uint64)
    cdef size_t nd = x.size, ne = y.size
    cdef uint64_t *pd = out_ptr(d)
    cdef uint64_t *pe = out_ptr(e)
    cdef const uint64_t *px = in_ptr(x)
    cdef const uint64_t *pa = in_ptr(a)
    cdef const uint64_t *py = in_ptr(y)
    cdef const uint64_t *pb = in_ptr(b)
    if nd or ne:
        with nogil:
            mpc_beaver_mask_u64(pd, pe, px, pa, py, pb, nd, ne)
    return d, e


def beaver_combine(c, d, e, a, b, first, d2=None, e2=None):
    """One party's share of x*y: c + D*b + E*a, plus D*E on the ``first`` party only (mod 2^64).

    D = x - a and E = y - b are the opened (public) masks: d and e themselves, or, when the rest
    parts d2 and e2 are given (both or neither), D = d + d2 and E = e + e2. That is the opening
    fused in: d, e this party's masked values as sent and d2, e2 the peers' sum (for two parties
    the received arrays as they are), which saves a pass of 32 bytes read and 16 written per
    element, and a fresh array, compared with summing first. a, b, c are this party's triple
    shares. Cost: one pass over the five (seven) inputs, two 64-bit multiplies per element (the
    first party computes D*(b + E) + E*a), writing one new array.
    """
    c, d, e, a, b, d2, e2 = ck.beaver_combine_args(c, d, e, a, b, d2, e2)
    return _combine(c, d, e, a, b, first, False, d2, e2)


def beaver_matmul_combine(c, d, e, a, b, first):
    """One party's share of X @ Y: c + d@b + a@e, plus d@e on the ``first`` party only (mod 2^64).

    Shapes: c (m, n), d and a (m, k), e and b (k, n); d = X - A and e = Y - B are public.
    Cost: two (m, k) @ (k, n) products for every party (the first computes d@(b + e) + a@e,
    the sum formed while packing), plus one pass over c.
    """
    c, d, e, a, b = ck.matmul_combine_args(c, d, e, a, b)
    return _combine(c, d, e, a, b, first, True)


cdef const uint64_t *_opt(object a):
    return in_ptr(a) if a is not None else NULL


def tmul_finish(c1, c2, a1, m1, a2, m2, a1a2, m1a2, a1m2, m1m2, k1, k2, first, c1r=None, c2r=None):
    """One party's share of floor(x / 2^k1) * floor(y / 2^k2) (k2 = 0: y as is) after the one
    opening of the truncating product (mpc.engines.semi2k.Semi2k.mul_truncating); the formula
    is the reference's (:func:`mpc._core._ref.tmul_finish`). c1, c2 are this party's masked
    values as sent and c1r, c2r the peers' sum (both or neither), so the opening's sum is never
    stored. Cost: one pass reading 8 to 12 arrays, writing one new array; every product by the
    public T is a mask and a shift.
    """
    (c1, c2, a1, m1, a2, m2, a1a2, m1a2, a1m2, m1m2, c1r, c2r), k1, k2 = ck.tmul_finish_args(
        c1, c2, a1, m1, a2, m2, a1a2, m1a2, a1m2, m1m2, k1, k2, c1r, c2r)
    z = np.empty(c1.shape, dtype=np.uint64)
    cdef uint64_t *pz = out_ptr(z)
    cdef const uint64_t *p1 = in_ptr(c1)
    cdef const uint64_t *p2 = in_ptr(c2)
    cdef const uint64_t *p1r = _opt(c1r)
    cdef const uint64_t *p2r = _opt(c2r)
    cdef const uint64_t *pa1 = in_ptr(a1)
    cdef const uint64_t *pm1 = in_ptr(m1)
    cdef const uint64_t *pa2 = in_ptr(a2)
    cdef const uint64_t *pm2 = _opt(m2)
    cdef const uint64_t *paa = in_ptr(a1a2)
    cdef const uint64_t *pma = in_ptr(m1a2)
    cdef const uint64_t *pam = _opt(a1m2)
    cdef const uint64_t *pmm = _opt(m1m2)
    cdef unsigned kk1 = k1, kk2 = k2
    cdef int f = 1 if first else 0
    cdef size_t n = c1.size
    if n:
        with nogil:
            mpc_beaver_tmul_finish_u64(pz, p1, p2, p1r, p2r, pa1, pm1, pa2, pm2, paa, pma, pam, pmm,
                                       kk1, kk2, f, n)
    return z


def tsquare_finish(c, a, m, aa, am, k, first, cr=None):
    """One party's share of floor(x / 2^k)^2 after the opening of the truncating square
    (:func:`mpc._core._ref.tsquare_finish` is the formula). Cost: one pass reading 5 or 6 arrays,
    writing one new array."""
    (c, a, m, aa, am, cr), k = ck.tsquare_finish_args(c, a, m, aa, am, k, cr)
    z = np.empty(c.shape, dtype=np.uint64)
    cdef uint64_t *pz = out_ptr(z)
    cdef const uint64_t *pc = in_ptr(c)
    cdef const uint64_t *pcr = _opt(cr)
    cdef const uint64_t *pa = in_ptr(a)
    cdef const uint64_t *pm = in_ptr(m)
    cdef const uint64_t *paa = in_ptr(aa)
    cdef const uint64_t *pam = in_ptr(am)
    cdef unsigned kk = k
    cdef int f = 1 if first else 0
    cdef size_t n = c.size
    if n:
        with nogil:
            mpc_beaver_tsquare_finish_u64(pz, pc, pcr, pa, pm, paa, pam, kk, f, n)
    return z
