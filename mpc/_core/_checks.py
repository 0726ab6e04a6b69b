"""Argument checks shared by the NumPy reference and the Cython wrappers.

One place decides what a kernel accepts, so the compiled and the reference backends reject the
same inputs with the same message. Inputs must be ``uint64`` (``uint8`` for unpacked bits);
non-contiguous inputs are copied to C order, never rejected.
"""

from __future__ import annotations

import numpy as np

from mpc.errors import KernelError


def _array(name: str, a: object, dtype: type) -> np.ndarray:
    if not isinstance(a, np.ndarray):
        raise KernelError(f"{name}: expected a numpy {np.dtype(dtype)} array, got {type(a).__name__}")
    if a.dtype != dtype:
        raise KernelError(f"{name}: expected dtype {np.dtype(dtype)}, got {a.dtype}")
    return np.asarray(a, order="C")  # ascontiguousarray would promote 0-d arrays to shape (1,)


def as_u64(name: str, a: object) -> np.ndarray:
    """Return ``a`` as a C-contiguous uint64 array, or raise naming the argument."""
    return _array(name, a, np.uint64)


def as_u8(name: str, a: object) -> np.ndarray:
    return _array(name, a, np.uint8)


def as_u64s(names: str, *arrays: object) -> list[np.ndarray]:
    """:func:`as_u64` of each array in turn, named by the comma-separated ``names``."""
    return list(map(as_u64, names.split(", "), arrays))


def same_shape(names: str, *arrays: np.ndarray) -> None:
    first = arrays[0].shape
    for a in arrays[1:]:  # a plain loop: every elementwise kernel call runs this
        if a.shape != first:
            raise KernelError(f"{names}: shapes must be equal, got {', '.join(str(x.shape) for x in arrays)}")


def same_u64s(names: str, *arrays: object) -> list[np.ndarray]:
    """:func:`as_u64s`, then :func:`same_shape`: uint64 arrays of one shape."""
    checked = as_u64s(names, *arrays)
    same_shape(names, *checked)
    return checked


def out_array(out: object, shape: tuple[int, ...], dtype: type = np.uint64) -> np.ndarray:
    """Validate a caller-supplied ``out=`` (C-contiguous, exact shape and dtype) or allocate one."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    if not isinstance(out, np.ndarray) or out.dtype != dtype:
        raise KernelError(f"out: expected a numpy {np.dtype(dtype)} array")
    if out.shape != tuple(shape):
        raise KernelError(f"out: expected shape {tuple(shape)}, got {out.shape}")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise KernelError("out: must be a writeable C-contiguous array")
    return out


def ring128(name: str, a: object) -> np.ndarray:
    """A Z_2^128 array: uint64 with a trailing axis of 2 holding (lo, hi)."""
    a = as_u64(name, a)
    if a.ndim == 0 or a.shape[-1] != 2:
        raise KernelError(f"{name}: a Z_2^128 array needs a trailing axis of length 2 (lo, hi), got shape {a.shape}")
    return a


def elementwise_args(a: object, b: object, out: object, width: int = 1) -> tuple[np.ndarray, ...]:
    """(a, b, out) of an elementwise binary kernel: a and b uint64 (width 1) or Z_2^128 (width 2)
    arrays of one shape, and ``out=`` validated or allocated for that shape."""
    check = as_u64 if width == 1 else ring128
    a = check("a", a)
    b = check("b", b)
    same_shape("a, b", a, b)
    return a, b, out_array(out, a.shape)


def mul128_64_args(a: object, b: object, out: object) -> tuple[np.ndarray, ...]:
    """(a, b, out) of ``mul128_64``: a Z_2^128 array, b uint64 of shape a.shape[:-1], out for a."""
    a = ring128("a", a)
    b = as_u64("b", b)
    if b.shape != a.shape[:-1]:
        raise KernelError(f"b: expected shape {a.shape[:-1]} to match a {a.shape}, got {b.shape}")
    return a, b, out_array(out, a.shape)


def shift(k: object) -> int:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 0 <= int(k) <= 63:
        raise KernelError(f"k: shift must be an integer in [0, 63], got {k!r}")
    return int(k)


def public_u64(c: object) -> int:
    """A public ring constant: any Python/NumPy integer, reduced mod 2^64."""
    if isinstance(c, bool) or not isinstance(c, (int, np.integer)):
        raise KernelError(f"c: expected an integer constant, got {type(c).__name__}")
    return int(c) % (1 << 64)


def axis(a: np.ndarray, ax: object) -> int:
    if isinstance(ax, bool) or not isinstance(ax, (int, np.integer)):
        raise KernelError(f"axis: expected an integer, got {ax!r}")
    ax = int(ax)
    if not -a.ndim <= ax < a.ndim:
        raise KernelError(f"axis: {ax} is out of range for an array of {a.ndim} dimensions")
    return ax % a.ndim


def matmul_shapes(a: np.ndarray, b: np.ndarray, batched: bool) -> tuple[int, ...]:
    nd = 3 if batched else 2
    if a.ndim != nd or b.ndim != nd:
        raise KernelError(f"a, b: expected {nd}-d arrays, got shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[-2] or (batched and a.shape[0] != b.shape[0]):
        raise KernelError(f"a, b: shapes {a.shape} and {b.shape} do not align for a matrix product")
    return (*a.shape[:-1], b.shape[-1])


def matmul_combine_args(c: object, d: object, e: object, a: object, b: object) -> list[np.ndarray]:
    """(c, d, e, a, b) of ``beaver_matmul_combine``: d and a (m, k), e and b (k, n), c (m, n)."""
    c, d, e, a, b = as_u64s("c, d, e, a, b", c, d, e, a, b)
    same_shape("d, a", d, a)
    same_shape("e, b", e, b)
    shape = matmul_shapes(d, e, batched=False)
    if c.shape != shape:
        raise KernelError(f"c: expected shape {shape}, got {c.shape}")
    return [c, d, e, a, b]


def beaver_combine_args(c: object, d: object, e: object, a: object, b: object, d2: object,
                        e2: object) -> list[np.ndarray | None]:
    """(c, d, e, a, b, d2, e2) of ``beaver_combine``: uint64 arrays of one shape, where the rest
    parts d2 and e2 are both None or both given."""
    if (d2 is None) != (e2 is None):
        raise KernelError("d2, e2: give both rest parts of the opened masks or neither")
    if d2 is None:
        return [*same_u64s("c, d, e, a, b", c, d, e, a, b), None, None]
    return same_u64s("c, d, e, a, b, d2, e2", c, d, e, a, b, d2, e2)


def trunc_finish_args(c: object, r_high: object, r_msb: object, c2: object) -> list[np.ndarray | None]:
    """(c, r_high, r_msb, c2) of ``trunc_finish``: uint64 arrays of one shape, c2 optional."""
    if c2 is None:
        return [*same_u64s("c, r_high, r_msb", c, r_high, r_msb), None]
    return same_u64s("c, r_high, r_msb, c2", c, r_high, r_msb, c2)


def masked(name: str, a: object) -> np.ndarray:
    """masked2k records as uint64 words: a trailing axis of 3 (delta, lam, tag)."""
    a = as_u64(name, a)
    if a.ndim == 0 or a.shape[-1] != 3:
        raise KernelError(f"{name}: masked records need a trailing axis of 3 words, got shape {a.shape}")
    return a


def masked_args(names: str, recs: tuple, flat: tuple) -> tuple[list[np.ndarray], list[np.ndarray | None], tuple]:
    """Record arrays (trailing 3) and uint64 arrays (None kept) of one element shape."""
    parts = names.split(", ")
    rs = [masked(nm, a) for nm, a in zip(parts, recs, strict=False)]
    fs = [None if a is None else as_u64(nm, a) for nm, a in zip(parts[len(recs):], flat, strict=True)]
    shapes = [(nm, a.shape[:-1]) for nm, a in zip(parts, rs, strict=False)]
    shapes += [(nm, a.shape) for nm, a in zip(parts[len(recs):], fs, strict=True) if a is not None]
    shape = shapes[0][1]
    for nm, got in shapes:
        if got != shape:
            raise KernelError(f"{nm}: element shape {got} differs from {shape}")
    return rs, fs, shape


def tag(t0: object) -> int:
    """A first mask tag: an integer in [0, 2^64)."""
    if isinstance(t0, bool) or not isinstance(t0, (int, np.integer)) or not 0 <= int(t0) < 1 << 64:
        raise KernelError(f"t0: expected a tag in [0, 2^64), got {t0!r}")
    return int(t0)


def trunc_shift(k: object, name: str, low: int) -> int:
    """A truncation shift of the truncating product/square finish: an integer in [low, 62]."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not low <= int(k) <= 62:
        raise KernelError(f"{name}: expected a shift in [{low}, 62], got {k!r}")
    return int(k)


def tmul_shifts(k1, k2, m2, a1m2, m1m2) -> tuple[int, int]:
    """(k1, k2) of a truncating product's finish (semi2k's ``tmul_finish``, spdz2k's
    ``auth_tmul_finish``): k1 in [1, 62], k2 in [0, 62], m2 and a1m2 given exactly when k2 > 0,
    m1m2 exactly when k2 > 0 and k1 + k2 > 64 (the tuple's components, :func:`tmul_components`)."""
    k1, k2 = trunc_shift(k1, "k1", 1), trunc_shift(k2, "k2", 0)
    if (m2 is None or a1m2 is None) != (k2 == 0):
        raise KernelError("m2, a1m2: give them exactly when k2 > 0 (y truncated too)")
    if (m1m2 is None) != (k2 == 0 or k1 + k2 <= 64):
        raise KernelError("m1m2: give it exactly when k2 > 0 and k1 + k2 > 64")
    return k1, k2


def tmul_finish_args(c1, c2, a1, m1, a2, m2, a1a2, m1a2, a1m2, m1m2, k1, k2, c1r, c2r) -> tuple:
    """The arguments of ``tmul_finish``: uint64 arrays of one shape; m2 and a1m2 given exactly
    when k2 > 0, m1m2 exactly when k2 > 0 and k1 + k2 > 64; c1r, c2r both or neither. Returns
    (arrays in signature order with None kept, k1, k2)."""
    k1, k2 = tmul_shifts(k1, k2, m2, a1m2, m1m2)
    if (c1r is None) != (c2r is None):
        raise KernelError("c1r, c2r: give both rest parts of the opened values or neither")
    names = ("c1", "c2", "a1", "m1", "a2", "m2", "a1a2", "m1a2", "a1m2", "m1m2", "c1r", "c2r")
    values = (c1, c2, a1, m1, a2, m2, a1a2, m1a2, a1m2, m1m2, c1r, c2r)
    given = [(nm, v) for nm, v in zip(names, values, strict=True) if v is not None]
    checked = dict(zip([nm for nm, _ in given], same_u64s(", ".join(nm for nm, _ in given), *[v for _, v in given]),
                       strict=True))
    return tuple(checked.get(nm) for nm in names), k1, k2


def tsquare_finish_args(c, a, m, aa, am, k, cr) -> tuple:
    """The arguments of ``tsquare_finish``: uint64 arrays of one shape (cr optional), k in [1, 62]."""
    k = trunc_shift(k, "k", 1)
    if cr is None:
        return (*same_u64s("c, a, m, aa, am", c, a, m, aa, am), None), k
    return tuple(same_u64s("c, a, m, aa, am, cr", c, a, m, aa, am, cr)), k


def divisor(d: object) -> int:
    """A public divisor of the truncation / division finish: an integer in [2, 2^62]."""
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or not 2 <= int(d) <= 1 << 62:
        raise KernelError(f"d: expected an integer divisor in [2, 2^62], got {d!r}")
    return int(d)


def bits_count(n: object, words: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= int(n) <= 64 * words:
        raise KernelError(f"n: expected an integer in [0, {64 * words}] for {words} words, got {n!r}")
    return int(n)


def matmul128_args(a: object, b: object) -> tuple[np.ndarray, np.ndarray, bool, bool, int, int, int]:
    """(a, b, a_wide, b_wide, m, k, n) of ``matmul128``: each operand a 2-d uint64 matrix of
    64-bit values, or a (rows, cols, 2) Z_2^128 matrix; inner dimensions equal."""
    a, b = as_u64("a", a), as_u64("b", b)
    wide = []
    for name, x in (("a", a), ("b", b)):
        if x.ndim == 3 and x.shape[-1] == 2:
            wide.append(True)
        elif x.ndim == 2:
            wide.append(False)
        else:
            raise KernelError(f"{name}: expected a (rows, cols) uint64 or (rows, cols, 2) Z_2^128 matrix, got {x.shape}")
    if a.shape[1] != b.shape[0]:
        raise KernelError(f"matmul128: inner dimensions differ: {a.shape} and {b.shape}")
    return a, b, wide[0], wide[1], a.shape[0], a.shape[1], b.shape[1]


BAUTH_WORDS = 66  # an authenticated bit word: bits, folded MAC, 64 MAC shares (mpc.sharing.auth_bits)


def gf64_macs(name: str, m: object) -> np.ndarray:
    """A (..., 64) uint64 array: the MAC shares of the 64 bits of each word."""
    m = as_u64(name, m)
    if m.ndim == 0 or m.shape[-1] != 64:
        raise KernelError(f"{name}: expected a trailing axis of 64 MAC words, got shape {m.shape}")
    return m


def bit_macs_args(w, delta, m) -> tuple:
    """(w, delta, m) of ``bit_macs_xor``: bit words (...), a GF(2^64) key, MAC words (..., 64)."""
    w, m = as_u64("w", w), gf64_macs("m", m)
    if m.shape[:-1] != w.shape:
        raise KernelError(f"m: expected shape {(*w.shape, 64)} (64 MAC words per bit word), got {m.shape}")
    return w, public_u64(delta), m


def bauth(name: str, x: object) -> np.ndarray:
    """Authenticated bit words as (..., 66) uint64 records."""
    x = as_u64(name, x)
    if x.ndim == 0 or x.shape[-1] != BAUTH_WORDS:
        raise KernelError(f"{name}: expected authenticated bit words with a trailing axis of {BAUTH_WORDS}, "
                          f"got shape {x.shape}")
    return x


def _words_of(name: str, w: object, records: np.ndarray) -> np.ndarray:
    w = as_u64(name, w)
    if w.shape != records.shape[:-1]:
        raise KernelError(f"{name}: expected shape {records.shape[:-1]} (one word per record), got {w.shape}")
    return w


def _bauth_or_light(name: str, x: object) -> np.ndarray:
    """Records (..., 66) or light words (..., 2) (bits and fold: a triple's heads)."""
    return as_u64(name, x) if np.ndim(x) and np.shape(x)[-1] == 2 else bauth(name, x)


def bauth_and_args(c, a, b, d, e, delta, light_c: bool = False) -> tuple:
    """(c, a, b, d, e, delta) of ``bauth_and``: records of one shape (c may be light words when
    ``light_c``: ``bauth_and_light`` reads only its bits and fold), d and e one word per record."""
    c = _bauth_or_light("c", c) if light_c else bauth("c", c)
    a, b = bauth("a", a), bauth("b", b)
    same_shape("a, b", a, b)
    if c.shape[:-1] != a.shape[:-1]:
        raise KernelError(f"c, a, b: shapes must be equal, got {c.shape[:-1]}, {a.shape[:-1]}, {b.shape[:-1]} records")
    return c, a, b, _words_of("d", d, a), _words_of("e", e, a), public_u64(delta)


def bauth_mask_args(x, a) -> tuple:
    """(x, a) of ``bauth_mask``: (..., 2) word pairs, and (..., 66) records or (..., 2) light
    words, of one element shape."""
    x, a = as_u64("x", x), _bauth_or_light("a", a)
    if x.shape != (*a.shape[:-1], 2):
        raise KernelError(f"x: expected shape {(*a.shape[:-1], 2)} (bits and fold per record), got {x.shape}")
    return x, a


def bauth_public_args(x, c, delta) -> tuple:
    """(x, c, delta) of ``bauth_xor_public`` / ``bauth_and_public``: records, one public word per record."""
    x = bauth("x", x)
    return x, _words_of("c", c, x), public_u64(delta)


def bauth_lt_pairs_args(r, q, c, delta) -> tuple:
    """(r, q, c, delta) of ``bauth_lt_pairs_light``: records r (2 p, w, 66) and their pair products
    q (p, w, 66), one public word per record of r."""
    r, q = bauth("r", r), bauth("q", q)
    if r.ndim != 3 or r.shape[0] % 2 or q.shape != (r.shape[0] // 2, *r.shape[1:]):
        raise KernelError(f"r, q: expected records (2 p, w, {BAUTH_WORDS}) and (p, w, {BAUTH_WORDS}), "
                          f"got {r.shape} and {q.shape}")
    return r, q, _words_of("c", c, r), public_u64(delta)


def records(name: str, a: object) -> np.ndarray:
    """SPDZ2k authenticated shares as uint64 words: a trailing axis of 4 (value lo, hi, MAC lo, hi)."""
    a = as_u64(name, a)
    if a.ndim == 0 or a.shape[-1] != 4:
        raise KernelError(f"{name}: authenticated shares need a trailing axis of 4 words, got shape {a.shape}")
    return a


def auth_args(names: str, rec: tuple, wide: tuple) -> tuple[list[np.ndarray], list[np.ndarray], tuple[int, ...]]:
    """Record arrays (trailing 4) and Z_2^128 arrays (trailing 2) of one element shape."""
    parts = names.split(", ")
    recs = [records(nm, a) for nm, a in zip(parts, rec, strict=False)]
    wides = [ring128(nm, a) for nm, a in zip(parts[len(rec):], wide, strict=True)]
    shape = recs[0].shape[:-1]
    for nm, a in zip(parts, recs + wides, strict=True):
        if a.shape[:-1] != shape:
            raise KernelError(f"{nm}: element shape {a.shape[:-1]} differs from {shape}")
    return recs, wides, shape


def auth_matmul_combine_args(c, a, b, d, e) -> tuple:
    """(c, a, b, d, e, m, k, n) of ``auth_matmul_combine``: records c (m, n, 4), a (m, k, 4),
    b (k, n, 4) and uint64 matrices d (m, k), e (k, n)."""
    c, a, b = records("c", c), records("a", a), records("b", b)
    d, e = as_u64("d", d), as_u64("e", e)
    if d.ndim != 2 or e.ndim != 2:
        raise KernelError(f"auth_matmul_combine: d and e must be 2-d uint64 matrices, got {d.shape} and {e.shape}")
    (m, k), n = d.shape, e.shape[1]
    if e.shape[0] != k or c.shape != (m, n, 4) or a.shape != (m, k, 4) or b.shape != (k, n, 4):
        raise KernelError(f"auth_matmul_combine: shapes c {c.shape}, a {a.shape}, b {b.shape}, d {d.shape}, "
                          f"e {e.shape} do not fit c (m, n, 4), a (m, k, 4), b (k, n, 4), d (m, k), e (k, n)")
    return c, a, b, d, e, m, k, n


def auth_opened(names: str, opened: tuple, shape: tuple[int, ...], required: int) -> tuple[tuple, int]:
    """An opening's arrays for a combine that reads their low words only (d, e and the optional
    rest of their sums d2, e2): the first ``required`` given, the rest all None or all given, every
    one a Z_2^128 array of ``shape`` or, all alike, a uint64 array of ``shape`` (the low words of a
    planar opening). Returns the arrays and their stride in words (2 or 1)."""
    parts = names.split(", ")
    rest = opened[required:]
    if any(x is None for x in opened[:required]) or len({x is None for x in rest}) > 1:
        raise KernelError(f"{names}: give the first {required}, and all or none of the rest")
    arrs = [as_u64(nm, x) if x is not None else None for nm, x in zip(parts, opened, strict=True)]
    low = arrs[0].shape == shape
    for nm, x in zip(parts, arrs, strict=True):
        if x is not None and x.shape != (shape if low else (*shape, 2)):
            want = f"{shape} (low words)" if low else f"{(*shape, 2)} (Z_2^128)"
            raise KernelError(f"{nm}: expected shape {want}, got {x.shape}")
    return tuple(arrs), 1 if low else 2


AUTH_LINCOMB_TERMS = 16  # terms of one auth_lincomb call


def auth_div_finish_args(own, rest, r_msb, r_high, d) -> tuple:
    """(own, rest, r_msb, r_high, d, element shape) of ``auth_div_finish``: the opening's two
    summands as Z_2^128 words and the records r_msb, r_high, all of one element shape, and a
    public divisor 2 <= d < 2^64."""
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or not 2 <= int(d) < 1 << 64:
        raise KernelError(f"d: expected an integer divisor 2 <= d < 2^64, got {d!r}")
    recs, wides, shape = auth_args("r_msb, r_high, own, rest", (r_msb, r_high), (own, rest))
    return wides[0], wides[1], recs[0], recs[1], int(d), shape


def auth_tmul_finish_args(own, rest, a1, m1, a2, m2, a1a2, m1a2, a1m2, m1m2, k1, k2) -> tuple:
    """(own, rest, the records in signature order with None kept, k1, k2, element shape) of
    ``auth_tmul_finish``: the opening's two summands as (2, *shape, 2) Z_2^128 words (x's
    elements, then y's) and records of that element shape, the optional ones as
    :func:`tmul_shifts` says."""
    k1, k2 = tmul_shifts(k1, k2, m2, a1m2, m1m2)
    names = ("a1", "m1", "a2", "m2", "a1a2", "m1a2", "a1m2", "m1m2")
    values = (a1, m1, a2, m2, a1a2, m1a2, a1m2, m1m2)
    given = [(nm, v) for nm, v in zip(names, values, strict=True) if v is not None]
    recs, _, shape = auth_args(", ".join(nm for nm, _ in given), tuple(v for _, v in given), ())
    halves = []
    for nm, x in (("own", own), ("rest", rest)):
        x = ring128(nm, x)
        if x.shape != (2, *shape, 2):
            raise KernelError(f"{nm}: expected {(2, *shape, 2)} words (x's opening, then y's), got shape {x.shape}")
        halves.append(x)
    checked = dict(zip([nm for nm, _ in given], recs, strict=True))
    return (*halves, *(checked.get(nm) for nm in names)), k1, k2, shape


def auth_tsquare_finish_args(own, rest, a, m, aa, am, k) -> tuple:
    """(own, rest, a, m, aa, am, k, element shape) of ``auth_tsquare_finish``: the opening's
    summands as Z_2^128 words and records of one element shape, k in [1, 62]."""
    k = trunc_shift(k, "k", 1)
    recs, wides, shape = auth_args("a, m, aa, am, own, rest", (a, m, aa, am), (own, rest))
    return (*wides, *recs), k, shape


def auth_lincomb_args(xs, coefs, p) -> tuple:
    """(records, coefficients (arrays or ints mod 2^64), p or None, element shape) of
    ``auth_lincomb``: records of one shape, each coefficient an integer or uint64 words of that
    element shape, p None or such words."""
    xs, coefs = list(xs), list(coefs)
    if not 1 <= len(xs) <= AUTH_LINCOMB_TERMS or len(coefs) != len(xs):
        raise KernelError(f"auth_lincomb: expected 1 to {AUTH_LINCOMB_TERMS} records with one coefficient "
                          f"each, got {len(xs)} and {len(coefs)}")
    recs = [records(f"x{t}", x) for t, x in enumerate(xs)]
    shape = recs[0].shape[:-1]
    out = []
    for t, (r, c) in enumerate(zip(recs, coefs, strict=True)):
        if r.shape[:-1] != shape:
            raise KernelError(f"x{t}: element shape {r.shape[:-1]} differs from {shape}")
        if isinstance(c, np.ndarray):
            c = as_u64(f"coef{t}", c)
            if c.shape != shape:
                raise KernelError(f"coef{t}: shape {c.shape} differs from the element shape {shape}")
        else:
            c = public_u64(c)
        out.append(c)
    if p is not None:
        p = as_u64("p", p)
        if p.shape != shape:
            raise KernelError(f"p: shape {p.shape} differs from the element shape {shape}")
    return recs, out, p, shape


# ---------------------------------------------------------------- OT extension (_ot)

def ot_rows(rows: object) -> np.ndarray:
    rows = as_u64("rows", rows)
    if rows.ndim != 2 or rows.shape[0] != 128:
        raise KernelError(f"rows: expected (128, w) words, got shape {rows.shape}")
    return rows


def ot_blocks(name: str, a: object) -> np.ndarray:
    a = as_u64(name, a)
    if a.ndim != 2 or a.shape[1] != 2:
        raise KernelError(f"{name}: expected (m, 2) words (128-bit blocks), got shape {a.shape}")
    return a


def ot_hashes(name: str, a: object) -> np.ndarray:
    a = as_u64(name, a)
    if a.ndim != 1 and (a.ndim != 3 or a.shape[2] != 2 or a.shape[1] < 1):
        raise KernelError(f"{name}: expected (m, blocks, 2) hash outputs or (m,) first words, got shape {a.shape}")
    return a


def ot_stride(h: np.ndarray) -> int:
    """Words between the first words of two consecutive hash outputs."""
    return 1 if h.ndim == 1 else 2 * h.shape[1]


def ot_first_words(h: np.ndarray) -> np.ndarray:
    return h if h.ndim == 1 else h[:, 0, 0]


def ot_hash_words_args(x: object, delta: object, key: object) -> tuple:
    x = ot_blocks("x", x)
    d = None if delta is None else as_u64("delta", delta)
    if d is not None and d.shape != (2,):
        raise KernelError(f"delta: expected (2,) words, got shape {d.shape}")
    k = as_u8("key", key)
    if k.shape != (16,):
        raise KernelError(f"key: expected 16 bytes, got shape {k.shape}")
    return x, d, k


def ot_hash_lsb_args(x: object, delta: object, key: object) -> tuple:
    """ot_hash_words_args, and x's rows a multiple of 64 (one packed word per 64 hashes)."""
    x, d, k = ot_hash_words_args(x, delta, key)
    if x.shape[0] % 64:
        raise KernelError(f"x: expected a multiple of 64 rows, got {x.shape[0]}")
    return x, d, k


def ot_count(name: str, v: object) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or int(v) < 1:
        raise KernelError(f"{name}: expected a positive integer, got {v!r}")
    return int(v)


def ot_hash_args(y: object, px: object) -> tuple[np.ndarray, np.ndarray]:
    y, px = as_u64("y", y), ot_blocks("px", px)
    if y.ndim != 3 or y.shape[2] != 2 or y.shape[1] < 1:
        raise KernelError(f"y: expected (m, blocks, 2) hash outputs, got shape {y.shape}")
    if px.shape[0] != y.shape[0]:
        raise KernelError(f"y, px: {y.shape[0]} rows vs {px.shape[0]}")
    return y, px


def _nbits(nbits: object) -> int:
    k = ot_count("nbits", nbits)
    if k > 64:
        raise KernelError(f"nbits: expected at most 64, got {k}")
    return k


def ot_gilboa_args(h0: object, h1: object, x: object, nbits: object) -> tuple:
    h0, h1, k = ot_hashes("h0", h0), ot_hashes("h1", h1), _nbits(nbits)
    x = as_u64("x", x)
    if x.ndim != 1 or h0.shape != h1.shape or h0.shape[0] != x.shape[0] * k:
        raise KernelError(f"h0, h1, x: expected {x.shape[0] * k} hashes for {x.shape} x of {k} bits")
    return h0, h1, x, k


def ot_soft_args(leaves: object, offs: object, corr: object, k: object, nrows: object) -> tuple:
    """SoftSpoken VOLE sums: (leaves, offs, corr, k, nrows, nb), validated (see ot_soft_sums)."""
    kk, nr = ot_count("k", k), ot_count("nrows", nrows)
    if kk > 8:
        raise KernelError(f"k: expected at most 8, got {kk}")
    nb = -(-nr // kk)
    leaves, corr, offs = as_u64("leaves", leaves), as_u64("corr", corr), as_u8("offs", offs)
    if leaves.ndim != 2 or leaves.shape[0] != nb << kk:
        raise KernelError(f"leaves: expected ({nb << kk}, w) words for {nr} rows of k = {kk}, got {leaves.shape}")
    w = leaves.shape[1]
    if corr.ndim != 2 or corr.shape[0] not in (1, nb) or corr.shape[1] != w:
        raise KernelError(f"corr: expected (1, {w}) or ({nb}, {w}) words, got {corr.shape}")
    return leaves, _soft_offs(offs, nb, kk, nr), corr, kk, nr, nb


def _soft_offs(offs: np.ndarray, nb: int, kk: int, nr: int) -> np.ndarray:
    last = nr - (nb - 1) * kk
    if offs.shape != (nb,) or (nb and (int(offs[:-1].max(initial=0)) >> kk or int(offs[-1]) >> last)):
        raise KernelError(f"offs: expected ({nb},) block indices below 2^k, got shape {offs.shape}")
    return offs


def ot_soft_extend_args(keys: object, present: object, offs: object, corr: object, k: object) -> tuple:
    """SoftSpoken's fused extension over 128 rows: (keys, present, offs, corr, k, nb, w)."""
    kk = ot_count("k", k)
    if kk > 8:
        raise KernelError(f"k: expected at most 8, got {kk}")
    nb = -(-128 // kk)
    keys, present = as_u8("keys", keys), as_u8("present", present)
    if keys.shape != (nb << kk, 16) or present.shape != (nb << kk,):
        raise KernelError(f"keys, present: expected ({nb << kk}, 16) and ({nb << kk},), got {keys.shape}, {present.shape}")
    corr = as_u64("corr", corr)
    if corr.ndim != 2 or corr.shape[0] not in (1, nb):
        raise KernelError(f"corr: expected (1, w) or ({nb}, w) words, got {corr.shape}")
    return keys, present, _soft_offs(as_u8("offs", offs), nb, kk, 128), corr, kk, nb, corr.shape[1]


def ot_kos_args(x: object, r: object, seed: object) -> tuple:
    """The KOS sums: x (m, 2) words, r (ceil(m / 64),) packed words or None, seed 16 bytes."""
    x = ot_blocks("x", x)
    r = None if r is None else as_u64("r", r)
    if r is not None and r.shape != (-(-x.shape[0] // 64),):
        raise KernelError(f"r: expected ({-(-x.shape[0] // 64)},) packed words for {x.shape[0]} rows, got {r.shape}")
    sd = as_u8("seed", seed)
    if sd.shape != (16,):
        raise KernelError(f"seed: expected 16 bytes, got shape {sd.shape}")
    return x, r, sd


def ot_gilboa_hash_args(q: object, delta: object, key: object, x: object, nbits: object) -> tuple:
    """Fused Gilboa sender: q (n * nbits, 2), delta (2,), key (16,), x (n,)."""
    q, d, k = ot_hash_words_args(q, delta, key)
    if d is None:
        raise KernelError("delta: expected (2,) words, got None")
    nb, x = _nbits(nbits), as_u64("x", x)
    if x.ndim != 1 or q.shape[0] != x.shape[0] * nb:
        raise KernelError(f"q, x: expected {x.shape[0] * nb} rows of q for {x.shape} x of {nb} bits, got {q.shape}")
    return q, d, k, x, nb


def ot_gilboa_recv_hash_args(t: object, key: object, d: object, y: object, nbits: object) -> tuple:
    """Fused Gilboa receiver: t (n * nbits, 2), key (16,), d trimmed bytes, y (n,)."""
    t, _, k = ot_hash_words_args(t, None, key)
    nb, y, d = _nbits(nbits), as_u64("y", y), as_u8("d", d)
    if y.ndim != 1 or d.ndim != 1 or t.shape[0] != y.shape[0] * nb:
        raise KernelError(f"t, d, y: expected {y.shape[0] * nb} rows of t and 1-d d, y")
    return t, k, d, y, nb


def ot_gilboa_recv_args(ht: object, d: object, y: object, nbits: object) -> tuple:
    ht, k = ot_hashes("ht", ht), _nbits(nbits)
    y, d = as_u64("y", y), as_u8("d", d)
    if y.ndim != 1 or d.ndim != 1 or ht.shape[0] != y.shape[0] * k:
        raise KernelError(f"ht, d, y: expected {y.shape[0] * k} hashes and 1-d d, y")
    return ht, d, y, k


def spdz_trimmed128_bytes(a: int, nbits: int, w: int) -> int:
    """Bytes of the trimmed Z_2^128 corrections of (a, nbits, w) OTs (see ``spdz_untrim128``)."""
    total = 0
    for nb in range(16, 0, -1):
        k0, k1 = max(0, 128 - 8 * nb), min(nbits, 128 - 8 * (nb - 1))
        if k0 < k1:
            total += (k1 - k0) * nb
    return total * a * w


def spdz_weighted_args(v: object) -> np.ndarray:
    v = as_u64("v", v)
    if v.ndim != 4 or v.shape[-1] != 2 or v.shape[1] > 128:
        raise KernelError(f"v: expected Z_2^128 words of shape (a, nbits <= 128, w, 2), got {v.shape}")
    return v


def spdz_untrim_args(raw: object, a: object, nbits: object, w: object) -> tuple[np.ndarray, int, int, int]:
    raw = as_u8("raw", raw)
    dims = []
    for name, x in (("a", a), ("nbits", nbits), ("w", w)):
        if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or int(x) < 0:
            raise KernelError(f"{name}: expected a non-negative integer, got {x!r}")
        dims.append(int(x))
    a, nbits, w = dims
    if nbits > 128:
        raise KernelError(f"nbits: expected at most 128, got {nbits}")
    size = spdz_trimmed128_bytes(a, nbits, w)
    if raw.ndim != 1 or raw.size != size:
        raise KernelError(f"raw: expected {size} bytes of trimmed corrections for ({a}, {nbits}, {w}), got {raw.shape}")
    return raw, a, nbits, w
