# cython: language_level=3, boundscheck=False, wraparound=True, initializedcheck=False
"""Compiled GF(2^64) and authenticated bit-word kernels (C in csrc/gf2k.c).

Same names, signatures and results as :mod:`mpc._core._ref`, which is the contract; arguments are
validated by :mod:`mpc._core._checks` with the GIL held, so both backends reject the same inputs
with the same message. The C loops run without the GIL. Outputs are always freshly allocated,
except ``gf64_mul``'s ``out=``, which may be an input itself (a partly overlapping input is copied
first, as NumPy does).
"""

import numpy as np

from libc.stdint cimport uint64_t

from mpc._core import _checks as ck
from mpc.errors import KernelError

from mpc._core._wrap cimport in_ptr, out_ptr, overlap, run_binary


cdef extern from "mpc/gf2k.h" nogil:
    int mpc_gf2k_set_isa(int isa)
    int mpc_gf2k_isa()
    int mpc_gf2k_isa_supported(int isa)
    void mpc_gf64_mul(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n)
    void mpc_gf64_fold(uint64_t *out, const uint64_t *m, size_t n)
    void mpc_bit_macs_xor(uint64_t *out, const uint64_t *w, uint64_t delta, const uint64_t *m, size_t n)
    uint64_t mpc_gf64_dot(const uint64_t *a, const uint64_t *b, size_t n)
    void mpc_bauth_and(uint64_t *out, const uint64_t *c, const uint64_t *a, const uint64_t *b, const uint64_t *d,
                       const uint64_t *e, uint64_t delta, int first, size_t n)
    void mpc_bauth_xor_public(uint64_t *out, const uint64_t *x, const uint64_t *c, uint64_t delta, int first,
                              size_t n)
    void mpc_bauth_and_public(uint64_t *out, const uint64_t *x, const uint64_t *c, size_t n)
    void mpc_bauth_and_light(uint64_t *out, const uint64_t *c, size_t cs, const uint64_t *a, const uint64_t *b,
                             const uint64_t *d, const uint64_t *e, uint64_t delta, int first, size_t n)
    void mpc_bauth_and_public_light(uint64_t *out, const uint64_t *x, const uint64_t *c, size_t n)
    void mpc_bauth_and_xor_public_light(uint64_t *and_out, uint64_t *xor_out, const uint64_t *x, const uint64_t *c,
                                        uint64_t delta, int first, size_t n)
    void mpc_bauth_lt_pairs_light(uint64_t *l_out, uint64_t *e_out, const uint64_t *r, const uint64_t *q,
                                  const uint64_t *c, uint64_t delta, int first, size_t pairs, size_t w)
    void mpc_bauth_mask(uint64_t *w, uint64_t *f, const uint64_t *x, const uint64_t *a, size_t stride, size_t n)


def gf64_mul(a, b, out=None):
    """a * b in GF(2^64), elementwise."""
    a, b, out = ck.elementwise_args(a, b, out)
    return run_binary(a, b, out, mpc_gf64_mul, 1)


def gf64_fold(m):
    """sum_j X^j m[..., j] in GF(2^64) for (..., 64) words m (the folded MAC of a bit word)."""
    m = ck.gf64_macs("m", m)
    out = np.empty(m.shape[:-1], dtype=np.uint64)
    cdef size_t n = out.size
    cdef uint64_t *po = out_ptr(out)
    cdef const uint64_t *pm = in_ptr(m)
    if n:
        with nogil:
            mpc_gf64_fold(po, pm, n)
    return out


def bit_macs_xor(w, delta, m, out=None):
    """m ^ Delta b for bit words w (...) and MAC words m (..., 64): word j of each row of m XORed
    with delta where bit j of its word is set (the dealer's MAC shares of party n-1, with the
    others' XORed away). ``out`` may be m itself."""
    w, delta, m = ck.bit_macs_args(w, delta, m)
    out = ck.out_array(out, m.shape)
    cdef size_t n = w.size
    cdef uint64_t d = delta
    cdef uint64_t *po = out_ptr(out)
    cdef const uint64_t *pw = in_ptr(w)
    cdef const uint64_t *pm = in_ptr(m)
    if overlap(pm, m.size, po, out.size, True):  # a partial overlap: copy first, as NumPy would
        m = m.copy()
        pm = in_ptr(m)
    if overlap(pw, n, po, out.size, False):
        w = w.copy()
        pw = in_ptr(w)
    if n:
        with nogil:
            mpc_bit_macs_xor(po, pw, d, pm, n)
    return out


def gf64_dot(a, b):
    """sum_i a_i b_i in GF(2^64) over all elements of two arrays of one shape: a (1,) array."""
    a, b = ck.same_u64s("a, b", a, b)
    cdef size_t n = a.size
    cdef const uint64_t *pa = in_ptr(a)
    cdef const uint64_t *pb = in_ptr(b)
    cdef uint64_t r = 0
    if n:
        with nogil:
            r = mpc_gf64_dot(pa, pb, n)
    return np.array([r], dtype=np.uint64)


cdef object _and(object c, object a, object b, object d, object e, object delta, object first, bint light):
    """The authenticated AND combine, with (light=False) or without the output's bit MACs."""
    c, a, b, d, e, delta = ck.bauth_and_args(c, a, b, d, e, delta, light)
    out = np.empty((*c.shape[:-1], 2 if light else ck.BAUTH_WORDS), dtype=np.uint64)
    cdef size_t n = d.size
    cdef size_t cs = c.shape[c.ndim - 1]
    cdef uint64_t dl = delta
    cdef int is_first = 1 if first else 0
    cdef uint64_t *po = out_ptr(out)
    cdef const uint64_t *pc = in_ptr(c)
    cdef const uint64_t *pa = in_ptr(a)
    cdef const uint64_t *pb = in_ptr(b)
    cdef const uint64_t *pd = in_ptr(d)
    cdef const uint64_t *pe = in_ptr(e)
    if n:
        with nogil:
            if light:
                mpc_bauth_and_light(po, pc, cs, pa, pb, pd, pe, dl, is_first, n)
            else:
                mpc_bauth_and(po, pc, pa, pb, pd, pe, dl, is_first, n)
    return out


cdef object _and_public(object x, object c, bint light):
    """Authenticated words AND public words, with (light=False) or without the output's bit MACs."""
    x, c, _ = ck.bauth_public_args(x, c, 0)
    out = np.empty((*x.shape[:-1], 2 if light else ck.BAUTH_WORDS), dtype=np.uint64)
    cdef size_t n = c.size
    cdef uint64_t *po = out_ptr(out)
    cdef const uint64_t *px = in_ptr(x)
    cdef const uint64_t *pc = in_ptr(c)
    if n:
        with nogil:
            if light:
                mpc_bauth_and_public_light(po, px, pc, n)
            else:
                mpc_bauth_and_public(po, px, pc, n)
    return out


cdef object _public_keyed(object x, object c, object delta, object first, bint fused):
    """Authenticated words XOR public words (records), or (fused) both light leaves of a
    comparison with them in one pass: (x AND c, x XOR c) as (..., 2) words each."""
    x, c, delta = ck.bauth_public_args(x, c, delta)
    out = np.empty((*x.shape[:-1], 2) if fused else x.shape, dtype=np.uint64)
    xor_out = np.empty((*x.shape[:-1], 2), dtype=np.uint64) if fused else out
    cdef size_t n = c.size
    cdef uint64_t dl = delta
    cdef int is_first = 1 if first else 0
    cdef uint64_t *po = out_ptr(out)
    cdef uint64_t *pxo = out_ptr(xor_out)
    cdef const uint64_t *px = in_ptr(x)
    cdef const uint64_t *pc = in_ptr(c)
    if n:
        with nogil:
            if fused:
                mpc_bauth_and_xor_public_light(po, pxo, px, pc, dl, is_first, n)
            else:
                mpc_bauth_xor_public(po, px, pc, dl, is_first, n)
    return (out, xor_out) if fused else out


def bauth_and(c, a, b, d, e, delta, first):
    """One party's authenticated share of x AND y from an authenticated bit triple and the
    opened d, e (see the reference)."""
    return _and(c, a, b, d, e, delta, first, False)


def bauth_and_light(c, a, b, d, e, delta, first):
    """:func:`bauth_and` without the MACs of the bits: (..., 2) words (bits, fold); c records
    (..., 66) or light words (..., 2), of which only the bits and fold are read."""
    return _and(c, a, b, d, e, delta, first, True)


def bauth_and_public_light(x, c):
    """:func:`bauth_and_public` without the MACs of the bits: (..., 2) words (bits, fold)."""
    return _and_public(x, c, True)


def bauth_and_xor_public_light(x, c, delta, first):
    """(:func:`bauth_and_public_light` of (x, c), the light x ^ c) for records x (..., 66) and
    public words c (...): each (..., 2) words (bits, fold), from one pass over x; the XOR's bits
    take c on ``first`` only, its fold c * delta."""
    return _public_keyed(x, c, delta, first, True)


def bauth_lt_pairs_light(r, q, c, delta, first):
    """The first level (L, E) of a comparison tree on the leaves r & c, r ^ c, from the pair
    products q of the records r (2 p, w, 66): each (p, w, 2) light words (see the reference)."""
    r, q, c, delta = ck.bauth_lt_pairs_args(r, q, c, delta)
    pairs, w = q.shape[0], q.shape[1]
    lo = np.empty((pairs, w, 2), dtype=np.uint64)
    eo = np.empty((pairs, w, 2), dtype=np.uint64)
    cdef size_t np_ = pairs, nw = w
    cdef uint64_t dl = delta
    cdef int is_first = 1 if first else 0
    cdef uint64_t *pl = out_ptr(lo)
    cdef uint64_t *pe = out_ptr(eo)
    cdef const uint64_t *pr = in_ptr(r)
    cdef const uint64_t *pq = in_ptr(q)
    cdef const uint64_t *pc = in_ptr(c)
    if np_ and nw:
        with nogil:
            mpc_bauth_lt_pairs_light(pl, pe, pr, pq, pc, dl, is_first, np_, nw)
    return lo, eo


def bauth_mask(x, a, w=None, f=None):
    """(x bits ^ a bits, x fold ^ a fold) for (..., 2) word pairs x (bits, fold) and records a
    (..., 66), or light words a (..., 2): an AND's masked operand and its folded MAC (into ``w``
    and ``f`` when given)."""
    x, a = ck.bauth_mask_args(x, a)
    w = ck.out_array(w, a.shape[:-1])
    f = ck.out_array(f, a.shape[:-1])
    cdef size_t n = w.size
    cdef size_t stride = a.shape[a.ndim - 1]
    cdef uint64_t *pw = out_ptr(w)
    cdef uint64_t *pf = out_ptr(f)
    cdef const uint64_t *px = in_ptr(x)
    cdef const uint64_t *pa = in_ptr(a)
    if n:
        with nogil:
            mpc_bauth_mask(pw, pf, px, pa, stride, n)
    return w, f


def bauth_xor_public(x, c, delta, first):
    """Share of x ^ c for authenticated words x and public words c (see the reference)."""
    return _public_keyed(x, c, delta, first, False)


def bauth_and_public(x, c):
    """Share of x & c for authenticated words x and public words c (see the reference)."""
    return _and_public(x, c, False)


# ----------------------------------------------------------------------------- instruction sets

GF2K_ISAS = ("auto", "portable", "avx512", "avx2")
"""Instruction sets of the bit-word kernels (C codes 0, 1, 2, 3 in mpc/gf2k.h); "auto" is the widest
this CPU has. Beyond the reference's contract, like :mod:`mpc._core._matmul`'s ``matmul_isas``:
the tests run every path this machine has against the reference."""

_WIDEST_FIRST = ("avx512", "avx2", "portable")


def gf2k_isas():
    """The instruction sets the bit-word kernels can run on here, widest first (always "portable")."""
    return tuple(name for name in _WIDEST_FIRST if mpc_gf2k_isa_supported(GF2K_ISAS.index(name)))


def gf2k_isa():
    """The instruction set the bit-word kernels run on now."""
    return GF2K_ISAS[mpc_gf2k_isa()]


def set_gf2k_isa(isa):
    """Run the bit-word kernels on ``isa`` (one of :data:`GF2K_ISAS`) from now on, process-wide;
    returns the previous setting. KernelError when this CPU cannot run it."""
    if isa not in GF2K_ISAS or mpc_gf2k_set_isa(GF2K_ISAS.index(isa)) != 0:
        raise KernelError(f"isa: expected one of {', '.join(('auto',) + gf2k_isas())}, got {isa!r}")
    global _chosen
    previous, _chosen = _chosen, isa
    return previous


_chosen = "auto"
