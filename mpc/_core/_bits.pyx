# cython: language_level=3, boundscheck=False, wraparound=True, initializedcheck=False
"""Compiled packed-bit kernels for boolean (GMW) sharing (C in csrc/bits.c).

Same names, signatures, ``out=`` semantics and results as :mod:`mpc._core._ref`, which is the
contract; arguments are validated by :mod:`mpc._core._checks` with the GIL held, so both backends
reject the same inputs with the same message. The C loops run without the GIL.

Packing is little-endian: bit ``j`` of word ``w`` is element ``64*w + j``, and packed outputs
have the unused high bits of each row's last word cleared. ``out=`` (band, bxor, bnot) may be an
input itself; an input that overlaps ``out`` only partly is copied first, as NumPy does.
"""

import numpy as np

from libc.stdint cimport uint8_t, uint64_t

from mpc._core import _checks as ck

from mpc._core._wrap cimport binary_fn, in_ptr, out_ptr, run_binary, run_unary


cdef extern from "mpc/bits.h" nogil:
    void mpc_bits_pack(uint64_t *out, const uint8_t *bits, size_t rows, size_t n)
    void mpc_bits_unpack(uint8_t *out, const uint64_t *words, size_t rows, size_t nwords, size_t n)
    void mpc_bits_and(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n)
    void mpc_bits_xor(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n)
    void mpc_bits_not(uint64_t *out, const uint64_t *a, size_t n)
    void mpc_bits_transpose64(uint64_t *out, const uint64_t *a, size_t blocks)
    void mpc_bits_bitslice(uint64_t *planes, const uint64_t *values, size_t n)
    void mpc_bits_unbitslice(uint64_t *values, const uint64_t *planes, size_t k, size_t w, size_t n)
    void mpc_bits_gmw_and_combine(uint64_t *out, const uint64_t *c, const uint64_t *d, const uint64_t *e,
                                  const uint64_t *a, const uint64_t *b, int first, size_t n)


cdef object _binary(object a, object b, object out, binary_fn fn):
    a, b, out = ck.elementwise_args(a, b, out)
    return run_binary(a, b, out, fn, 1)


def pack_bits(bits):
    """(..., n) uint8 -> (..., ceil(n/64)) uint64; element j's bit is ``bits[..., j] & 1``."""
    bits = ck.as_u8("bits", bits)
    if bits.ndim == 0:
        raise ck.KernelError("bits: expected at least one dimension")
    cdef size_t n = bits.shape[-1]
    cdef size_t words = (n + 63) // 64
    out = np.empty((*bits.shape[:-1], words), dtype=np.uint64)
    cdef size_t rows = out.size // words if words else 0
    cdef const uint8_t[::1] vb = bits.reshape(-1)
    cdef uint64_t[::1] vo = out.reshape(-1)
    if rows:
        with nogil:
            mpc_bits_pack(&vo[0], &vb[0], rows, n)
    return out


def unpack_bits(words, n):
    """(..., w) uint64 -> (..., n) uint8 of 0/1 (bit j of word w is element 64*w + j), with n <= 64*w."""
    words = ck.as_u64("words", words)
    if words.ndim == 0:
        raise ck.KernelError("words: expected at least one dimension")
    cdef size_t nbits = ck.bits_count(n, words.shape[-1])
    cdef size_t nwords = words.shape[-1]
    out = np.empty((*words.shape[:-1], nbits), dtype=np.uint8)
    cdef size_t rows = out.size // nbits if nbits else 0
    cdef const uint64_t[::1] vw = words.reshape(-1)
    cdef uint8_t[::1] vo = out.reshape(-1)
    if rows:
        with nogil:
            mpc_bits_unpack(&vo[0], &vw[0], rows, nwords, nbits)
    return out


def band(a, b, out=None):
    """Bitwise AND of packed words."""
    return _binary(a, b, out, mpc_bits_and)


def bxor(a, b, out=None):
    """Bitwise XOR of packed words."""
    return _binary(a, b, out, mpc_bits_xor)


def bnot(a, out=None):
    """Bitwise NOT of packed words (all 64 bits; callers mask a partial last word)."""
    a = ck.as_u64("a", a)
    return run_unary(a, ck.out_array(out, a.shape), mpc_bits_not, 1)


def transpose64(a):
    """Transpose each 64x64 bit block: out[..., i] bit j == a[..., j] bit i. Shape (..., 64)."""
    a = ck.as_u64("a", a)
    if a.ndim == 0 or a.shape[-1] != 64:
        raise ck.KernelError(f"a: expected a trailing axis of 64 words, got shape {a.shape}")
    out = np.empty(a.shape, dtype=np.uint64)
    cdef const uint64_t[::1] va = a.reshape(-1)
    cdef uint64_t[::1] vo = out.reshape(-1)
    cdef size_t blocks = va.shape[0] // 64
    if blocks:
        with nogil:
            mpc_bits_transpose64(&vo[0], &va[0], blocks)
    return out


def bitslice(values):
    """(n,) uint64 -> (64, ceil(n/64)) bit planes: planes[i] packs bit i of every value."""
    values = ck.as_u64("values", values)
    if values.ndim != 1:
        raise ck.KernelError(f"values: expected a 1-d array, got shape {values.shape}")
    cdef size_t n = values.shape[0]
    out = np.empty((64, (n + 63) // 64), dtype=np.uint64)
    cdef const uint64_t[::1] vv = values
    cdef uint64_t[::1] vo = out.reshape(-1)
    if n:
        with nogil:
            mpc_bits_bitslice(&vo[0], &vv[0], n)
    return out


def unbitslice(planes, n):
    """(k, w) bit planes with k <= 64 -> (n,) uint64 values; missing high planes read as 0."""
    planes = ck.as_u64("planes", planes)
    if planes.ndim != 2 or planes.shape[0] > 64:
        raise ck.KernelError(f"planes: expected shape (k <= 64, w), got {planes.shape}")
    cdef size_t k = planes.shape[0], w = planes.shape[1]
    cdef size_t nvals = ck.bits_count(n, w)
    out = np.empty(nvals, dtype=np.uint64)
    cdef const uint64_t[::1] vp = planes.reshape(-1)
    cdef uint64_t[::1] vo = out
    if nvals == 0:
        return out
    if k == 0:
        # No planes at all: every value reads as 0 (and there is no plane data to point at).
        out.fill(0)
        return out
    with nogil:
        mpc_bits_unbitslice(&vo[0], &vp[0], k, w, nvals)
    return out


def gmw_and_combine(c, d, e, a, b, first):
    """One party's share of x AND y from a bit triple: c ^ (d&b) ^ (e&a), ^ (d&e) on ``first``."""
    c, d, e, a, b = ck.same_u64s("c, d, e, a, b", c, d, e, a, b)
    cdef int is_first = 1 if first else 0
    out = np.empty(c.shape, dtype=np.uint64)
    cdef size_t n = c.size
    cdef uint64_t *po = out_ptr(out)
    cdef const uint64_t *pc = in_ptr(c)
    cdef const uint64_t *pd = in_ptr(d)
    cdef const uint64_t *pe = in_ptr(e)
    cdef const uint64_t *pa = in_ptr(a)
    cdef const uint64_t *pb = in_ptr(b)
    if n:
        with nogil:
            mpc_bits_gmw_and_combine(po, pc, pd, pe, pa, pb, is_first, n)
    return out
