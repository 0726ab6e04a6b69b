# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Compiled OT-extension kernels (C in csrc/ot.c): the 128 x m bit transpose, the hash's tweak
and final XOR, and the fused Gilboa sender/receiver steps with trimmed corrections.

Same names, signatures and results as :mod:`mpc._core._ref`, which is the contract; arguments
are validated with the GIL held, the C loops run without it.
"""

import numpy as np

from libc.stdint cimport uint8_t, uint64_t

from mpc._core import _checks as ck


cdef extern from "mpc/ot.h" nogil:
    void mpc_ot_transpose128(uint64_t *out, const uint64_t *rows, size_t w)
    void mpc_ot_tweak(uint64_t *out, const uint64_t *px, uint64_t start, size_t m, size_t blocks)
    void mpc_ot_hash_finish(uint64_t *out, const uint64_t *y, const uint64_t *px, size_t m, size_t blocks)
    size_t mpc_ot_trimmed_bytes(size_t n, size_t nbits)
    void mpc_ot_gilboa_send(uint8_t *d, uint64_t *share, const uint64_t *h0, const uint64_t *h1,
                            const uint64_t *x, size_t n, size_t nbits, size_t stride)
    void mpc_ot_gilboa_recv(uint64_t *share, const uint64_t *ht, const uint8_t *d, const uint64_t *y, size_t n,
                            size_t nbits, size_t stride)
    void mpc_ot_lsb_pack(uint64_t *out, const uint64_t *h, size_t m, size_t stride)
    int mpc_ot_hash_words(uint64_t *out, const uint64_t *x, const uint64_t *delta, uint64_t start, size_t m,
                          const uint8_t *key)


cdef uint64_t *_p(object a):
    cdef uint64_t[::1] v = a.reshape(-1)
    return &v[0] if v.shape[0] else NULL


cdef uint8_t *_p8(object a):
    cdef uint8_t[::1] v = a.reshape(-1)
    return &v[0] if v.shape[0] else NULL


cdef const uint64_t *_c(object a):
    """Pointer to a (possibly read-only) input array's data."""
    cdef const uint64_t[::1] v = a.reshape(-1)
    return &v[0] if v.shape[0] else NULL


cdef const uint8_t *_c8(object a):
    cdef const uint8_t[::1] v = a.reshape(-1)
    return &v[0] if v.shape[0] else NULL


def ot_transpose128(rows):
    """(128, w) rows -> (64 w, 2) columns (see csrc/include/mpc/ot.h)."""
    rows = ck.ot_rows(rows)
    cdef size_t w = rows.shape[1]
    out = np.empty((64 * w, 2), dtype=np.uint64)
    cdef uint64_t *po = _p(out)
    cdef const uint64_t *pr = _c(rows)
    if w:
        with nogil:
            mpc_ot_transpose128(po, pr, w)
    return out


def ot_tweak(px, start, blocks):
    """(m, blocks, 2): px[j] ^ (start + j, l)."""
    px = ck.ot_blocks("px", px)
    cdef size_t m = px.shape[0], nb = ck.ot_count("blocks", blocks)
    cdef uint64_t st = ck.public_u64(start)
    out = np.empty((m, nb, 2), dtype=np.uint64)
    cdef uint64_t *po = _p(out)
    cdef const uint64_t *pp = _c(px)
    if m * nb:
        with nogil:
            mpc_ot_tweak(po, pp, st, m, nb)
    return out


def ot_hash_finish(y, px, out=None):
    """y (m, blocks, 2) ^ px[j] (``out=y`` for in place)."""
    y, px = ck.ot_hash_args(y, px)
    if out is None:
        out = np.empty(y.shape, dtype=np.uint64)
    elif out is not y:
        out = ck.out_array(out, y.shape)
        if np.shares_memory(out, y) or np.shares_memory(out, px):
            y, px = y.copy(), px.copy()
    cdef size_t m = y.shape[0], nb = y.shape[1]
    cdef uint64_t *po = _p(out)
    cdef const uint64_t *py = _c(y)
    cdef const uint64_t *pp = _c(px)
    if m * nb:
        with nogil:
            mpc_ot_hash_finish(po, py, pp, m, nb)
    return out


def ot_gilboa_send(h0, h1, x, nbits):
    """(trimmed corrections uint8, sender shares (n,)) from the hash outputs (n * nbits, blocks, 2)."""
    h0, h1, x, k = ck.ot_gilboa_args(h0, h1, x, nbits)
    cdef size_t n = x.shape[0], nb = k, blocks = ck.ot_stride(h0)
    d = np.empty(mpc_ot_trimmed_bytes(n, nb), dtype=np.uint8)
    share = np.empty(n, dtype=np.uint64)
    cdef uint8_t *pd = _p8(d)
    cdef uint64_t *ps = _p(share)
    cdef const uint64_t *p0 = _c(h0)
    cdef const uint64_t *p1 = _c(h1)
    cdef const uint64_t *px = _c(x)
    if n:
        with nogil:
            mpc_ot_gilboa_send(pd, ps, p0, p1, px, n, nb, blocks)
    return d, share


def ot_gilboa_recv(ht, d, y, nbits):
    """Receiver shares (n,) from its hash outputs, the trimmed corrections and its y."""
    ht, d, y, k = ck.ot_gilboa_recv_args(ht, d, y, nbits)
    cdef size_t n = y.shape[0], nb = k, blocks = ck.ot_stride(ht)
    if d.shape[0] != mpc_ot_trimmed_bytes(n, nb):
        raise ck.KernelError(f"d: expected {mpc_ot_trimmed_bytes(n, nb)} bytes, got {d.shape[0]}")
    share = np.empty(n, dtype=np.uint64)
    cdef uint64_t *ps = _p(share)
    cdef const uint64_t *ph = _c(ht)
    cdef const uint8_t *pd = _c8(d)
    cdef const uint64_t *py = _c(y)
    if n:
        with nogil:
            mpc_ot_gilboa_recv(ps, ph, pd, py, n, nb, blocks)
    return share


def ot_lsb_pack(h):
    """Bit 0 of each h[j, 0, 0] (or h[j] for first words alone), packed: (m / 64,) words."""
    h = ck.ot_hashes("h", h)
    if h.shape[0] % 64:
        raise ck.KernelError(f"h: expected a multiple of 64 rows, got {h.shape[0]}")
    cdef size_t m = h.shape[0], nb = ck.ot_stride(h)
    out = np.empty(m // 64, dtype=np.uint64)
    cdef uint64_t *po = _p(out)
    cdef const uint64_t *ph = _c(h)
    if m:
        with nogil:
            mpc_ot_lsb_pack(po, ph, m, nb)
    return out


def ot_hash_words(x, delta, start, key):
    """First words of H(start + j, x[j] ^ delta) (delta None: x[j]): (m,) uint64, one fused pass
    with AES-NI; the reference's OpenSSL computation when the CPU has no AES-NI."""
    x, d, k = ck.ot_hash_words_args(x, delta, key)
    cdef uint64_t st = ck.public_u64(start)
    cdef size_t m = x.shape[0]
    out = np.empty(m, dtype=np.uint64)
    cdef uint64_t *po = _p(out)
    cdef const uint64_t *px = _c(x)
    cdef const uint64_t *pd = _c(d) if d is not None else NULL
    cdef const uint8_t *pk = _c8(k)
    cdef int status = 0
    if m:
        with nogil:
            status = mpc_ot_hash_words(po, px, pd, st, m, pk)
    if status != 0:
        from mpc._core import _ref
        return _ref.ot_hash_words(x, delta, start, key)
    return out


cdef extern from "mpc/ot.h" nogil:
    void mpc_ot_soft_sums(uint64_t *rows, uint64_t *sums, const uint64_t *leaves, const uint8_t *offs,
                          const uint64_t *corr, size_t ncorr, size_t nb, size_t k, size_t nrows, size_t w)


def ot_soft_sums(leaves, offs, corr, k, nrows):
    """SoftSpoken's VOLE sums: (rows (nrows, w), sums (nb, w)) from leaves (nb * 2^k, w), the
    index offsets offs (nb,) uint8 and corr (1 or nb, w) (see csrc/include/mpc/ot.h)."""
    leaves, offs, corr, kk, nr, nb = ck.ot_soft_args(leaves, offs, corr, k, nrows)
    cdef size_t w = leaves.shape[1], c_nb = nb, c_k = kk, c_nr = nr, nc = corr.shape[0]
    rows = np.empty((nr, w), dtype=np.uint64)
    sums = np.empty((nb, w), dtype=np.uint64)
    cdef uint64_t *pr = _p(rows)
    cdef uint64_t *ps = _p(sums)
    cdef const uint64_t *pl = _c(leaves)
    cdef const uint8_t *po = _c8(offs)
    cdef const uint64_t *pc = _c(corr)
    if w:
        with nogil:
            mpc_ot_soft_sums(pr, ps, pl, po, pc, nc, c_nb, c_k, c_nr, w)
    return rows, sums


cdef extern from "mpc/ot.h" nogil:
    int mpc_ot_soft_extend(uint64_t *cols, uint64_t *sums, uint64_t *scratch, const uint8_t *keys,
                           const uint8_t *present, uint64_t pos, const uint8_t *offs, const uint64_t *corr,
                           size_t ncorr, size_t nb, size_t k, size_t w)
    size_t mpc_ot_soft_scratch(size_t nb, size_t k)


def ot_soft_extend(keys, present, pos, offs, corr, k):
    """SoftSpoken's leaf expansion, VOLE sums and transpose fused (AES-NI): (cols (64 w, 2), sums
    (nb, w)); the reference's computation (OpenSSL CTR) when the CPU has no AES-NI."""
    keys, present, offs, corr, kk, nb, w = ck.ot_soft_extend_args(keys, present, offs, corr, k)
    cdef uint64_t p0 = ck.public_u64(pos)
    cols = np.empty((64 * w, 2), dtype=np.uint64)
    sums = np.empty((nb, w), dtype=np.uint64)
    scratch = np.empty(mpc_ot_soft_scratch(nb, kk) + 2, dtype=np.uint64)
    off = (-scratch.ctypes.data % 16) // 8  # 16-byte alignment for the round keys
    scratch = scratch[off : off + mpc_ot_soft_scratch(nb, kk)]
    cdef uint64_t *pc = _p(cols)
    cdef uint64_t *ps = _p(sums)
    cdef uint64_t *pw = _p(scratch)
    cdef const uint8_t *pk = _c8(keys)
    cdef const uint8_t *pp = _c8(present)
    cdef const uint8_t *po = _c8(offs)
    cdef const uint64_t *pr = _c(corr)
    cdef size_t nc = corr.shape[0], c_nb = nb, c_k = kk, c_w = w
    cdef int status = 0
    if w:
        with nogil:
            status = mpc_ot_soft_extend(pc, ps, pw, pk, pp, p0, po, pr, nc, c_nb, c_k, c_w)
    if status != 0:
        from mpc._core import _ref
        return _ref.ot_soft_extend(keys, present, pos, offs, corr, k)
    return cols, sums


cdef extern from "mpc/ot.h" nogil:
    int mpc_ot_kos_sums(uint64_t *out, const uint64_t *x, const uint64_t *r, const uint8_t *seed, size_t m)


def ot_kos_sums(x, r, seed):
    """The KOS15 check's three GF(2^64) sums for x (m, 2), packed choices r (or None) and the
    challenge seed (16 bytes), in one AES-NI + PCLMULQDQ pass; the reference's computation
    without them."""
    x, r, sd = ck.ot_kos_args(x, r, seed)
    out = np.zeros(3, dtype=np.uint64)
    cdef size_t m = x.shape[0]
    cdef uint64_t *po = _p(out)
    cdef const uint64_t *px = _c(x)
    cdef const uint64_t *pr = _c(r) if r is not None else NULL
    cdef const uint8_t *ps = _c8(sd)
    cdef int status = 0
    with nogil:
        status = mpc_ot_kos_sums(po, px, pr, ps, m)
    if status != 0:
        from mpc._core import _ref
        return _ref.ot_kos_sums(x, r, seed)
    return out


cdef extern from "mpc/ot.h" nogil:
    int mpc_ot_gilboa_send_hash(uint8_t *d, uint64_t *share, const uint64_t *q, const uint64_t *delta,
                                uint64_t start, const uint8_t *key, const uint64_t *x, size_t n, size_t nbits)
    int mpc_ot_gilboa_recv_hash(uint64_t *share, const uint64_t *t, uint64_t start, const uint8_t *key,
                                const uint8_t *d, const uint64_t *y, size_t n, size_t nbits)


def ot_gilboa_send_hash(q, delta, start, key, x, nbits):
    """ot_gilboa_send of the hashes ot_hash_words(q, None / delta, start, key), fused (AES-NI)."""
    q, dl, k, x, nb = ck.ot_gilboa_hash_args(q, delta, key, x, nbits)
    cdef uint64_t st = ck.public_u64(start)
    cdef size_t n = x.shape[0], c_nb = nb
    d = np.empty(mpc_ot_trimmed_bytes(n, c_nb), dtype=np.uint8)
    share = np.empty(n, dtype=np.uint64)
    cdef uint8_t *pd = _p8(d)
    cdef uint64_t *ps = _p(share)
    cdef const uint64_t *pq = _c(q)
    cdef const uint64_t *pl = _c(dl)
    cdef const uint8_t *pk = _c8(k)
    cdef const uint64_t *px = _c(x)
    cdef int status = 0
    if n:
        with nogil:
            status = mpc_ot_gilboa_send_hash(pd, ps, pq, pl, st, pk, px, n, c_nb)
    if status != 0:
        from mpc._core import _ref
        return _ref.ot_gilboa_send_hash(q, delta, start, key, x, nbits)
    return d, share


def ot_gilboa_recv_hash(t, start, key, d, y, nbits):
    """ot_gilboa_recv of the hashes ot_hash_words(t, None, start, key), fused (AES-NI)."""
    t, k, d, y, nb = ck.ot_gilboa_recv_hash_args(t, key, d, y, nbits)
    cdef uint64_t st = ck.public_u64(start)
    cdef size_t n = y.shape[0], c_nb = nb
    if d.shape[0] != mpc_ot_trimmed_bytes(n, c_nb):
        raise ck.KernelError(f"d: expected {mpc_ot_trimmed_bytes(n, c_nb)} bytes, got {d.shape[0]}")
    share = np.empty(n, dtype=np.uint64)
    cdef uint64_t *ps = _p(share)
    cdef const uint64_t *pt = _c(t)
    cdef const uint8_t *pk = _c8(k)
    cdef const uint8_t *pd = _c8(d)
    cdef const uint64_t *py = _c(y)
    cdef int status = 0
    if n:
        with nogil:
            status = mpc_ot_gilboa_recv_hash(ps, pt, st, pk, pd, py, n, c_nb)
    if status != 0:
        from mpc._core import _ref
        return _ref.ot_gilboa_recv_hash(t, start, key, d, y, nbits)
    return share


cdef extern from "mpc/ot.h" nogil:
    int mpc_ot_hash_lsb(uint64_t *out, const uint64_t *x, const uint64_t *delta, uint64_t start, size_t m,
                        const uint8_t *key)


def ot_hash_lsb(x, delta, start, key):
    """ot_lsb_pack(ot_hash_words(x, delta, start, key)) in one pass (AES-NI): (m / 64,) words."""
    x, d, k = ck.ot_hash_lsb_args(x, delta, key)
    cdef uint64_t st = ck.public_u64(start)
    cdef size_t m = x.shape[0]
    out = np.empty(m // 64, dtype=np.uint64)
    cdef uint64_t *po = _p(out)
    cdef const uint64_t *px = _c(x)
    cdef const uint64_t *pd = _c(d) if d is not None else NULL
    cdef const uint8_t *pk = _c8(k)
    cdef int status = 0
    if m:
        with nogil:
            status = mpc_ot_hash_lsb(po, px, pd, st, m, pk)
    if status != 0:
        from mpc._core import _ref
        return _ref.ot_hash_lsb(x, delta, start, key)
    return out
