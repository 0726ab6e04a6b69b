# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Compiled modular multi-exponentiation (C in csrc/montgomery.c) for :mod:`mpc.crypto.paillier`.

Numbers go in and out as Python ints / gmpy2 ``mpz`` (converted to little-endian 64-bit words
once per call); the C loops run without the GIL, so threads calling these share the cores. The
reference is gmpy2 itself (``powmod``, ``a * b % n``): results are equal, bit for bit
(tests/test_paillier_mont.py). Arguments are validated here with the GIL held; bad ones raise
:class:`~mpc.errors.InputError`.
"""

import numpy as np
from gmpy2 import mpz

from libc.stdint cimport uint64_t

from mpc.errors import InputError, KernelError


cdef extern from "mpc/montgomery.h" nogil:
    int MPC_MONT_MAX_LIMBS
    int mpc_mont_set_isa(int isa)
    int mpc_mont_isa()
    int mpc_mont_isa_supported(int isa)
    size_t mpc_mont_multiexp_scratch(size_t limbs, size_t m, size_t chunk, unsigned w, unsigned exp_bits)
    size_t mpc_mont_powmod_scratch(size_t limbs)
    int mpc_mont_multiexp(uint64_t *out, uint64_t *scratch, size_t scratch_words, const uint64_t *x,
                          const void *e, int e_bytes, size_t e_stride, const uint64_t *n, size_t limbs, size_t k,
                          size_t m, unsigned w, unsigned exp_bits)
    int mpc_mont_powmod(uint64_t *out, uint64_t *scratch, size_t scratch_words, const uint64_t *x,
                        const uint64_t *exp, size_t exp_limbs, const uint64_t *n, size_t limbs, size_t count)
    int mpc_mont_mulmod(uint64_t *out, uint64_t *scratch, size_t scratch_words, const uint64_t *a,
                        const uint64_t *b, const uint64_t *n, size_t limbs)


ISAS = {"auto": 0, "portable": 1, "ifma": 2}
MAX_BITS = 64 * MPC_MONT_MAX_LIMBS


def set_isa(name):
    """Force ``"portable"`` or ``"ifma"`` (``"auto"``: the best this CPU runs); KernelError if this
    CPU cannot run it. Process-wide: for tests and benchmarks."""
    if name not in ISAS:
        raise InputError(f"montgomery isa: expected one of {', '.join(ISAS)}, got {name!r}")
    if mpc_mont_set_isa(ISAS[name]) != 0:
        raise KernelError(f"montgomery isa {name!r}: not supported by this CPU")


def isa():
    """The multiplication in use: ``"portable"`` or ``"ifma"``."""
    return {1: "portable", 2: "ifma"}[mpc_mont_isa()]


def isa_supported(name):
    return name in ISAS and name != "auto" and bool(mpc_mont_isa_supported(ISAS[name]))


def _modulus(n):
    n = mpz(n)
    if n <= 1 or not n & 1 or n.bit_length() > MAX_BITS:
        raise InputError(f"montgomery: the modulus must be odd, > 1 and at most {MAX_BITS} bits")
    limbs = (n.bit_length() + 63) // 64
    return n, limbs, np.frombuffer(n.to_bytes(8 * limbs, "little"), dtype="<u8").astype(np.uint64)


def _words(xs, n, limbs):
    """The numbers (reduced mod n) as ``limbs`` little-endian words each, written in place into
    one array (no list of per-number byte strings)."""
    width = 8 * limbs
    out = np.empty(len(xs) * limbs, dtype="<u8")
    raw = memoryview(out.view(np.uint8))
    for i, x in enumerate(xs):
        raw[i * width:(i + 1) * width] = (mpz(x) % n).to_bytes(width, "little")
    return out.astype(np.uint64, copy=False)


def _numbers(words, count, limbs):
    raw = memoryview(np.ascontiguousarray(words, dtype="<u8").view(np.uint8))
    width = 8 * limbs
    return [mpz.from_bytes(raw[i * width:(i + 1) * width], "little") for i in range(count)]


def multiexp(bases, exps, n, unsigned w, unsigned exp_bits=64, size_t table_budget=64 << 20):
    """``[prod_l bases[l]^exps[i, l] mod n for i]`` for an (m, k) uint64 array ``exps`` of
    exponents < 2^exp_bits (or uint8 with exp_bits <= 8: an eighth of the memory); Straus with
    w-bit windows, the tables of at most ``table_budget`` bytes at a time."""
    n, limbs, nw = _modulus(n)
    cdef size_t L = limbs
    bases = list(bases)
    cdef size_t k = len(bases)
    exps = np.ascontiguousarray(exps)
    if exps.ndim != 2 or exps.shape[1] != k or not (exps.dtype == np.uint64 or (exps.dtype == np.uint8 and exp_bits <= 8)):
        raise InputError(f"multiexp: exponents must be a uint64 (or, exp_bits <= 8, uint8) array of shape (m, {k})")
    if not 1 <= w <= 12 or not 1 <= exp_bits <= 64:
        raise InputError(f"multiexp: window {w} outside 1..12 or exp_bits {exp_bits} outside 1..64")
    if exp_bits < 64 and exps.size and int(exps.max()) >> exp_bits:
        raise InputError(f"multiexp: an exponent outside [0, 2^{exp_bits})")
    cdef size_t m = exps.shape[0]
    if m == 0:
        return []
    x = _words(bases, n, limbs) if k else np.zeros(limbs, dtype=np.uint64)
    # a base's table: 2^w numbers of at most ctx_words(limbs) words (the C side's internal size);
    # as many bases per chunk as the budget holds, spread evenly over the chunks
    words = max(limbs, 8 * (((64 * limbs + 51) // 52 + 7) // 8))
    per_chunk = max(1, min(max(k, 1), table_budget // (8 * words << w)))
    chunks = -(-max(k, 1) // per_chunk)
    cdef size_t chunk = -(-max(k, 1) // chunks)
    cdef size_t nscr = mpc_mont_multiexp_scratch(limbs, m, chunk, w, exp_bits)
    scratch = np.empty(nscr, dtype=np.uint64)
    out = np.empty(m * limbs, dtype=np.uint64)
    e2 = exps if exps.size else np.zeros((m, 1), dtype=exps.dtype)
    cdef int e_bytes = e2.dtype.itemsize
    cdef size_t e_stride = e2.shape[1]
    cdef const unsigned char[::1] ev = e2.reshape(-1).view(np.uint8)
    cdef uint64_t[::1] o = out, s = scratch, xv = x, nv = nw
    cdef int rc
    with nogil:
        rc = mpc_mont_multiexp(&o[0], &s[0], nscr, &xv[0], <const void *>&ev[0], e_bytes, e_stride, &nv[0], L, k, m,
                               w, exp_bits)
    if rc != 0:
        raise KernelError("mpc_mont_multiexp rejected its arguments")
    return _numbers(out, m, limbs)


def powmod(bases, exp, n):
    """``[b^exp mod n for b in bases]`` (one exponent >= 0 for all bases)."""
    n, limbs, nw = _modulus(n)
    cdef size_t L = limbs
    exp = mpz(exp)
    if exp < 0:
        raise InputError("powmod: the exponent must be >= 0")
    bases = list(bases)
    cdef size_t count = len(bases)
    if count == 0:
        return []
    cdef size_t el = max(1, (exp.bit_length() + 63) // 64)
    ew = np.frombuffer(exp.to_bytes(8 * el, "little"), dtype="<u8").astype(np.uint64)
    x = _words(bases, n, limbs)
    cdef size_t nscr = mpc_mont_powmod_scratch(limbs)
    scratch = np.empty(nscr, dtype=np.uint64)
    out = np.empty(count * limbs, dtype=np.uint64)
    cdef uint64_t[::1] o = out, s = scratch, xv = x, nv = nw, evv = ew
    cdef int rc
    with nogil:
        rc = mpc_mont_powmod(&o[0], &s[0], nscr, &xv[0], &evv[0], el, &nv[0], L, count)
    if rc != 0:
        raise KernelError("mpc_mont_powmod rejected its arguments")
    return _numbers(out, count, limbs)


def mulmod(a, b, n):
    """``a * b mod n`` through Montgomery form (for tests)."""
    n, limbs, nw = _modulus(n)
    cdef size_t L = limbs
    x = _words([a, b], n, limbs)
    cdef size_t nscr = mpc_mont_powmod_scratch(limbs)
    scratch = np.empty(nscr, dtype=np.uint64)
    out = np.empty(limbs, dtype=np.uint64)
    cdef uint64_t[::1] o = out, s = scratch, xv = x, nv = nw
    cdef int rc
    with nogil:
        rc = mpc_mont_mulmod(&o[0], &s[0], nscr, &xv[0], &xv[L], &nv[0], L)
    if rc != 0:
        raise KernelError("mpc_mont_mulmod rejected its arguments")
    return _numbers(out, 1, limbs)[0]
