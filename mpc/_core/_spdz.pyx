# cython: language_level=3, boundscheck=False, wraparound=True, initializedcheck=False
"""Compiled offline-phase kernels of the dealer-free spdz2k material (C in csrc/spdz_offline.c).

Same names, signatures and results as :mod:`mpc._core._ref`, which is the contract; arguments are
validated by :mod:`mpc._core._checks` with the GIL held; the C loops run without the GIL.
Outputs are always freshly allocated.
"""

import numpy as np

from libc.stdint cimport uint8_t, uint64_t

from mpc._core import _checks as ck

from mpc._core._wrap cimport in_ptr, out_ptr


cdef extern from "mpc/spdz_offline.h" nogil:
    void mpc_spdz_weighted128(uint64_t *out, const uint64_t *v, size_t a, size_t nbits, size_t w)
    void mpc_spdz_untrim128(uint64_t *out, const uint8_t *raw, size_t a, size_t nbits, size_t w)


def spdz_weighted128(v):
    """sum_k 2^k v[:, k] mod 2^128 for Z_2^128 words v ``(a, nbits, w, 2)``: ``(a, w, 2)``."""
    v = ck.spdz_weighted_args(v)
    cdef size_t a = v.shape[0], nbits = v.shape[1], w = v.shape[2]
    out = np.empty((a, w, 2), dtype=np.uint64)
    cdef uint64_t *po = out_ptr(out)
    cdef const uint64_t *pv = in_ptr(v)
    if out.size:
        if nbits == 0:
            out[...] = 0
        else:
            with nogil:
                mpc_spdz_weighted128(po, pv, a, nbits, w)
    return out


def spdz_untrim128(raw, a, nbits, w):
    """Trimmed Z_2^128 corrections -> ``(a, nbits, w, 2)`` words, the bytes not sent zero."""
    raw, a_, nbits_, w_ = ck.spdz_untrim_args(raw, a, nbits, w)
    out = np.empty((a_, nbits_, w_, 2), dtype=np.uint64)
    cdef size_t ca = a_, cn = nbits_, cw = w_
    cdef uint64_t *po = out_ptr(out)
    cdef const uint8_t[::1] r = raw
    cdef const uint8_t *pr = &r[0] if r.shape[0] else NULL
    if out.size:
        with nogil:
            mpc_spdz_untrim128(po, pr, ca, cn, cw)
    return out
