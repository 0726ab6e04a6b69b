# cython: language_level=3, boundscheck=False, wraparound=True, initializedcheck=False
"""Plumbing shared by the compiled kernel wrappers (``_ring``, ``_bits``, ``_matmul``).

Everything here is ``cdef inline``: each module that cimports it compiles its own copy, so there
is no ``_wrap`` extension module and no call between modules. The callers validate their
arguments through :mod:`mpc._core._checks` (GIL held) before handing them over: arrays are then
C-contiguous, so ``reshape(-1)`` is a view and a typed memoryview of it sees the array's data.

The shared helpers below take data pointers through the buffer protocol itself
(:func:`words`), not through typed memoryviews: a memoryview object costs about a microsecond
to make (its format string is parsed and checked), several per kernel call, which the many
small operations of a function's protocol (dozens per step on arrays of tens of elements) pay
over and over. The buffer is released at once, as a memoryview dropped at the end of the helper
was: the pointer stays valid while the caller holds the array (NumPy never moves an array's
data under a live reference).
"""

from cpython.buffer cimport PyBUF_C_CONTIGUOUS, PyBUF_FORMAT, PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer
from libc.stdint cimport uint16_t, uint64_t

ctypedef void (*binary_fn)(uint64_t *, const uint64_t *, const uint64_t *, size_t) noexcept nogil
ctypedef void (*unary_fn)(uint64_t *, const uint64_t *, size_t) noexcept nogil


cdef inline bint overlap(const uint64_t *x, size_t nx, const uint64_t *out, size_t no, bint exact_ok) noexcept:
    """True when the nx words at x share memory with the no words at out other than (if
    exact_ok) being exactly out's buffer.

    The C loops allow out == input but not a partial overlap; NumPy (the reference) gives
    partial overlaps copy-first semantics, so the wrapper copies such an input to match.
    """
    if nx == 0 or no == 0:
        return False
    cdef size_t px = <size_t>x, po = <size_t>out  # addresses as integers: ordered compare
    if exact_ok and px == po and nx == no:
        return False
    return px < po + 8 * no and po < px + 8 * nx


cdef inline bint u64_format(const char *f) noexcept:
    """Whether a buffer format string names a native unsigned 64-bit integer: "L" or "Q", with
    no byte-order mark or a native one ("@", "=", or the machine's own "<" / ">"; NumPy writes
    "=Q" for some arrays it builds from buffers). The caller checks the item size too."""
    cdef uint16_t probe = 1
    cdef char native = c'<' if (<const char *>&probe)[0] == 1 else c'>'
    if f == NULL:
        return False
    if f[0] == c'@' or f[0] == c'=' or f[0] == native:
        f += 1
    return (f[0] == c'L' or f[0] == c'Q') and f[1] == 0


cdef inline uint64_t *words(object arr, size_t *count, bint writable) except? NULL:
    """The data pointer (NULL when empty) and, in ``count``, the number of words of the
    C-contiguous uint64 array ``arr``; a writable buffer when ``writable``. Raises BufferError for
    a non-contiguous or read-only (when writable) array and ValueError for any item type but a
    native unsigned 64-bit integer, as a typed memoryview would."""
    cdef Py_buffer view
    cdef int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT
    if writable:
        flags |= PyBUF_WRITABLE
    PyObject_GetBuffer(arr, &view, flags)
    cdef void *p = view.buf
    cdef Py_ssize_t nbytes = view.len
    cdef bint u64 = view.itemsize == 8 and u64_format(view.format)
    PyBuffer_Release(&view)
    if not u64:
        raise ValueError("expected a uint64 array")
    count[0] = <size_t>(nbytes // 8)
    return <uint64_t *>p if nbytes else NULL


cdef inline object input_words(object x, const uint64_t *po, size_t no, const uint64_t **px, size_t *nx,
                               bint exact_ok=True):
    """x's data pointer and word count into ``px``, ``nx``, taken once; when x's memory
    :func:`overlap` s out's (``po``, ``no``; being exactly out's buffer is fine when
    ``exact_ok``), those of a flat copy of x instead. Returns the array the pointer points into,
    which the caller holds until the C call returns."""
    px[0] = words(x, nx, False)
    if overlap(px[0], nx[0], po, no, exact_ok):
        x = x.reshape(-1).copy()
        px[0] = words(x, nx, False)
    return x


cdef inline tuple operands(object a, object b, object out, uint64_t **po, const uint64_t **pa,
                           const uint64_t **pb, size_t *n):
    """The data pointers of out[i] = f(a[i], b[i]) (b None: f(a[i])) for validated operands:
    out's, a's and b's (:func:`input_words`), and a's word count in ``n``. Returns the (a, b) the
    pointers point into: the caller holds them until the C call returns."""
    cdef size_t no = 0, nb = 0
    po[0] = words(out, &no, True)
    a = input_words(a, po[0], no, pa, n)
    if b is not None:
        b = input_words(b, po[0], no, pb, &nb)
    return a, b


cdef inline object run_binary(object a, object b, object out, binary_fn fn, size_t width):
    """out[i] = fn(a[i], b[i]) over n = a.size // width elements of validated operands; returns out."""
    cdef uint64_t *po
    cdef const uint64_t *pa
    cdef const uint64_t *pb
    cdef size_t n
    held = operands(a, b, out, &po, &pa, &pb, &n)
    n //= width
    if n:
        with nogil:
            fn(po, pa, pb, n)
    return out


cdef inline object run_unary(object a, object out, unary_fn fn, size_t width):
    """out[i] = fn(a[i]) over n = a.size // width elements of validated operands; returns out."""
    cdef uint64_t *po
    cdef const uint64_t *pa
    cdef size_t n
    held = operands(a, None, out, &po, &pa, NULL, &n)
    n //= width
    if n:
        with nogil:
            fn(po, pa, n)
    return out


cdef inline const uint64_t *in_ptr(object arr) except? NULL:
    """Data pointer of a validated C-contiguous uint64 input; NULL when it is empty."""
    cdef size_t n
    return words(arr, &n, False)


cdef inline uint64_t *out_ptr(object arr) except? NULL:
    """Data pointer of an array the wrapper allocated; NULL when it is empty."""
    cdef size_t n
    return words(arr, &n, True)
