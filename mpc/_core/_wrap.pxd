# cython: language_level=3, boundscheck=False, wraparound=True, initializedcheck=False
"""Plumbing shared by the compiled kernel wrappers (``_ring``, ``_bits``, ``_matmul``).

Everything here is ``cdef inline``: each module that cimports it compiles its own copy, so there
is no ``_wrap`` extension module and no call between modules. The callers validate their
arguments through :mod:`mpc._core._checks` (GIL held) before handing them over: arrays are then
C-contiguous, so ``reshape(-1)`` is a view and a typed memoryview of it sees the array's data.
"""

from libc.stdint cimport uint64_t

ctypedef void (*binary_fn)(uint64_t *, const uint64_t *, const uint64_t *, size_t) noexcept nogil
ctypedef void (*unary_fn)(uint64_t *, const uint64_t *, size_t) noexcept nogil


cdef inline bint clashes(const uint64_t[::1] x, uint64_t[::1] out, bint exact_ok):
    """True when x shares memory with out other than (if exact_ok) being exactly out's buffer.

    The C loops allow out == input but not a partial overlap; NumPy (the reference) gives
    partial overlaps copy-first semantics, so the wrapper copies such an input to match.
    """
    cdef size_t nx = x.shape[0], no = out.shape[0]
    if nx == 0 or no == 0:
        return False
    cdef size_t px = <size_t>&x[0], po = <size_t>&out[0]  # addresses as integers: ordered compare
    if exact_ok and px == po and nx == no:
        return False
    return px < po + 8 * no and po < px + 8 * nx


cdef inline const uint64_t[::1] input_view(object a, uint64_t[::1] out, bint exact_ok):
    """The flat view of a validated input, or of a copy of it when it :func:`clashes` with out."""
    cdef const uint64_t[::1] v = a.reshape(-1)
    if clashes(v, out, exact_ok):
        v = a.reshape(-1).copy()
    return v


cdef inline object run_binary(object a, object b, object out, binary_fn fn, size_t width):
    """out[i] = fn(a[i], b[i]) over n = a.size // width elements of validated operands; returns out."""
    cdef uint64_t[::1] vo = out.reshape(-1)
    cdef const uint64_t[::1] va = input_view(a, vo, True)
    cdef const uint64_t[::1] vb = input_view(b, vo, True)
    cdef size_t n = <size_t>va.shape[0] // width
    if n:
        with nogil:
            fn(&vo[0], &va[0], &vb[0], n)
    return out


cdef inline object run_unary(object a, object out, unary_fn fn, size_t width):
    """out[i] = fn(a[i]) over n = a.size // width elements of validated operands; returns out."""
    cdef uint64_t[::1] vo = out.reshape(-1)
    cdef const uint64_t[::1] va = input_view(a, vo, True)
    cdef size_t n = <size_t>va.shape[0] // width
    if n:
        with nogil:
            fn(&vo[0], &va[0], n)
    return out


cdef inline const uint64_t *in_ptr(object arr) except? NULL:
    """Data pointer of a validated C-contiguous uint64 input; NULL when it is empty."""
    cdef const uint64_t[::1] v = arr.reshape(-1)
    return &v[0] if v.shape[0] else NULL


cdef inline uint64_t *out_ptr(object arr) except? NULL:
    """Data pointer of an array the wrapper allocated; NULL when it is empty."""
    cdef uint64_t[::1] v = arr.reshape(-1)
    return &v[0] if v.shape[0] else NULL
