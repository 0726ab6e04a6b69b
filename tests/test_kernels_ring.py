"""Compiled Z_2^64 / Z_2^128 kernels (mpc._core._ring) against the NumPy reference, bit for bit.

The reference (mpc._core._ref) is the contract, so it is itself checked against Python integers
first; then every compiled kernel must equal it on random and edge inputs, any memory layout,
in-place ``out=``, and reject the same bad arguments with the same KernelError.
"""

from __future__ import annotations

import numpy as np
import pytest
from _kernel_helpers import assert_rejected_alike
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mpc._core import get_kernels

# Not a skip: a missing extension must fail the suite (get_kernels("c") raises KernelError).
C = get_kernels("c")
REF = get_kernels("ref")
BACKENDS = [pytest.param(REF, id="ref"), pytest.param(C, id="c")]
# The reference computes single elements with NumPy scalars, which warn on the wrap-around
# that is the ring's arithmetic; the compiled kernels never warn.

M64 = (1 << 64) - 1
M128 = (1 << 128) - 1
EDGES64 = [0, 1, 2, 3, (1 << 32) - 1, 1 << 32, (1 << 63) - 1, 1 << 63, (1 << 63) + 1, M64 - 1, M64]
WORD = st.one_of(st.sampled_from(EDGES64), st.integers(0, M64))
CONST = st.one_of(st.sampled_from([0, 1, -1, M64, 1 << 63, 1 << 64]), st.integers(-(1 << 80), 1 << 80))
SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=7)
GAP = np.uint64(0xA5A5_5A5A_DEAD_BEEF)  # fills the holes of strided views; must never be read


def test_compiled_backend_is_compiled():
    assert C.backend == "c"
    assert C.add.__module__ == "mpc._core._ring"


# ----------------------------------------------------------------------------- helpers


@st.composite
def laid_out(draw, shape, elements=WORD):
    """A uint64 array of ``shape`` in a drawn memory layout: C order, strided, F order or reversed."""
    values = draw(hnp.arrays(np.uint64, shape, elements=elements))
    kind = draw(st.sampled_from(["c", "step", "fortran", "reversed"]))
    if values.ndim == 0 or kind == "c":
        return values
    if kind == "step":
        big = np.full((*shape[:-1], 2 * shape[-1]), GAP, dtype=np.uint64)
        big[..., ::2] = values
        return big[..., ::2]
    if kind == "fortran":
        return np.asfortranarray(values)
    rev = np.ascontiguousarray(values[::-1])
    return rev[::-1]


# Z_2^128 arrays: any leading shape (incl. none) and the trailing (lo, hi) axis.
SHAPES128 = hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=6).map(lambda s: (*s, 2))
WORD128 = st.one_of(st.sampled_from([0, 1, M64, 1 << 64, (1 << 127), M128, M128 - 1, (M64 << 64) | 1]),
                    st.integers(0, M128))


def to128(values, shape) -> np.ndarray:
    """Python ints mod 2^128 -> a (..., 2) uint64 (lo, hi) array."""
    flat = [[v & M64, (v >> 64) & M64] for v in values]
    return np.array(flat, dtype=np.uint64).reshape((*shape, 2))


def from128(arr: np.ndarray) -> list[int]:
    flat = np.asarray(arr).reshape(-1, 2)
    return [int(lo) | (int(hi) << 64) for lo, hi in flat]


def same(got, want):
    """Bit-for-bit equality including dtype and shape; the compiled side must return an ndarray."""
    want = want if isinstance(want, np.ndarray | np.generic) else np.array(want, dtype=np.uint64)
    assert isinstance(got, np.ndarray)
    assert got.dtype == want.dtype == np.uint64
    assert got.shape == want.shape
    assert np.array_equal(got, want)


def signed(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


# ----------------------------------------------------------------------------- the oracle itself


@pytest.mark.parametrize("k", BACKENDS)
@given(data=st.data())
def test_z64_ops_match_python_ints(k, data):
    xs = data.draw(st.lists(WORD, min_size=1, max_size=20))
    ys = data.draw(st.lists(WORD, min_size=len(xs), max_size=len(xs)))
    c = data.draw(st.integers(-(1 << 70), 1 << 70))
    a, b = np.array(xs, dtype=np.uint64), np.array(ys, dtype=np.uint64)
    assert k.add(a, b).tolist() == [(x + y) & M64 for x, y in zip(xs, ys, strict=True)]
    assert k.sub(a, b).tolist() == [(x - y) & M64 for x, y in zip(xs, ys, strict=True)]
    assert k.mul(a, b).tolist() == [(x * y) & M64 for x, y in zip(xs, ys, strict=True)]
    assert k.neg(a).tolist() == [-x & M64 for x in xs]
    assert k.mul_public(a, c).tolist() == [(x * c) & M64 for x in xs]
    assert int(k.sum(a, 0)) == sum(xs) & M64
    for s in (0, 1, 31, 62, 63):
        assert k.sar(a, s).tolist() == [(signed(x) >> s) & M64 for x in xs]


@pytest.mark.parametrize("k", BACKENDS)
@given(data=st.data())
def test_z128_ops_match_python_ints(k, data):
    xs = data.draw(st.lists(WORD128, min_size=1, max_size=12))
    ys = data.draw(st.lists(WORD128, min_size=len(xs), max_size=len(xs)))
    ms = data.draw(st.lists(WORD, min_size=len(xs), max_size=len(xs)))
    n = (len(xs),)
    a, b, m = to128(xs, n), to128(ys, n), np.array(ms, dtype=np.uint64)
    pairs = list(zip(xs, ys, strict=True))
    assert from128(k.add128(a, b)) == [(x + y) & M128 for x, y in pairs]
    assert from128(k.sub128(a, b)) == [(x - y) & M128 for x, y in pairs]
    assert from128(k.neg128(a)) == [-x & M128 for x in xs]
    assert from128(k.mul128(a, b)) == [(x * y) & M128 for x, y in pairs]
    assert from128(k.mul128_64(a, m)) == [(x * y) & M128 for x, y in zip(xs, ms, strict=True)]


# Known answers, written out (and re-derived from Python ints below, so a typo cannot hide).
MUL128_KAT = [
    # (a, b, a*b mod 2^128)
    (M128, M128, 1),
    (M64, M64, 0xFFFFFFFFFFFFFFFE_0000000000000001),
    (1 << 64, 1 << 64, 0),
    (0x0123456789ABCDEF_FEDCBA9876543210, 0x0F1E2D3C4B5A6978_8796A5B4C3D2E1F0,
     0x3B18E5A14BE56DE5_5EF9A562300EFF00),
    (0x8000000000000001_0000000000000003, 0xFFFFFFFF00000001_7FFFFFFFFFFFFFFF,
     0xFFFFFFFD00000003_7FFFFFFFFFFFFFFD),
]
MUL128_64_KAT = [
    (M128, M64, 0xFFFFFFFFFFFFFFFF_0000000000000001),
    (0x0123456789ABCDEF_FEDCBA9876543210, 0xDEADBEEFCAFEBABE, 0x5C66ED05C6909801_A29BB71B4ABCC7E0),
]
ADD128_KAT = [(M64, 1, 1 << 64), (M128, 1, 0), (1 << 127, 1 << 127, 0)]
SUB128_KAT = [(0, 1, M128), (1 << 64, 1, M64), (5, 5, 0)]


def test_known_answers_are_right():
    for x, y, z in MUL128_KAT + MUL128_64_KAT:
        assert (x * y) % (1 << 128) == z
    for x, y, z in ADD128_KAT:
        assert (x + y) % (1 << 128) == z
    for x, y, z in SUB128_KAT:
        assert (x - y) % (1 << 128) == z


@pytest.mark.parametrize("k", BACKENDS)
def test_known_answers(k):
    def run(fn, kat, b128=True):
        xs, ys, zs = zip(*kat, strict=True)
        b = to128(ys, (len(ys),)) if b128 else np.array(ys, dtype=np.uint64)
        assert from128(fn(to128(xs, (len(xs),)), b)) == list(zs)

    run(k.mul128, MUL128_KAT)
    run(k.mul128_64, MUL128_64_KAT, b128=False)
    run(k.add128, ADD128_KAT)
    run(k.sub128, SUB128_KAT)
    a = np.array([1 << 63, 1 << 63, M64, 5, (1 << 63) - 1], dtype=np.uint64)
    assert k.sar(a[:1], 63).tolist() == [M64]
    assert k.sar(a[:1], 1).tolist() == [0xC000000000000000]
    assert k.sar(a, 0).tolist() == a.tolist()
    assert k.sar(a, 2).tolist() == [0xE000000000000000, 0xE000000000000000, M64, 1, (1 << 61) - 1]
    assert k.mul_public(a, -1).tolist() == k.neg(a).tolist()
    assert k.mul_public(a, (1 << 64) + 3).tolist() == [(int(v) * 3) & M64 for v in a]
    assert k.sum(np.full((3, 4), M64, dtype=np.uint64), 1).tolist() == [M64 - 3] * 3


# ----------------------------------------------------------------------------- compiled == reference

BINARY64 = ["add", "sub", "mul"]
BINARY128 = ["add128", "sub128", "mul128"]


@pytest.mark.parametrize("name", BINARY64)
@given(data=st.data())
def test_binary64_matches_reference(name, data):
    shape = data.draw(SHAPES)
    a, b = data.draw(laid_out(shape)), data.draw(laid_out(shape))
    same(getattr(C, name)(a, b), getattr(REF, name)(a, b))


@given(data=st.data())
def test_unary64_matches_reference(data):
    shape = data.draw(SHAPES)
    a = data.draw(laid_out(shape))
    c = data.draw(CONST)
    k = data.draw(st.integers(0, 63))
    same(C.neg(a), REF.neg(a))
    same(C.mul_public(a, c), REF.mul_public(a, c))
    same(C.mul_public(a, np.int64(-7)), REF.mul_public(a, np.int64(-7)))
    same(C.sar(a, k), REF.sar(a, k))
    same(C.sar(a, np.uint8(k)), REF.sar(a, k))


# ----------------------------------------------------------------------------- add with a constant, trunc_finish


@pytest.mark.parametrize("k", BACKENDS)
@given(data=st.data())
def test_add_public_constant_matches_python_ints(k, data):
    xs = data.draw(st.lists(WORD, min_size=1, max_size=20))
    ys = data.draw(st.lists(WORD, min_size=len(xs), max_size=len(xs)))
    c = data.draw(CONST)
    a, b = np.array(xs, dtype=np.uint64), np.array(ys, dtype=np.uint64)
    assert k.add(a, b, c=c).tolist() == [(x + y + c) & M64 for x, y in zip(xs, ys, strict=True)]


@given(data=st.data())
def test_add_public_constant_matches_reference(data):
    shape = data.draw(SHAPES)
    a, b = data.draw(laid_out(shape)), data.draw(laid_out(shape))
    c = data.draw(CONST)
    same(C.add(a, b, c=c), REF.add(a, b, c=c))
    same(C.add(a, b, c=np.uint64(1 << 62)), REF.add(a, b, c=1 << 62))
    for k in (REF, C):  # in place, as Semi2k.divide_many masks into its send buffer
        x = np.array(a, copy=True, order="C")
        assert k.add(x, b, out=x, c=c) is x
        same(x, REF.add(a, b, c=c))


def trunc_finish_ints(cs, c2s, highs, msbs, d, first):
    """The contract of trunc_finish in Python integers."""
    out = []
    for i, (c, h, m) in enumerate(zip(cs, highs, msbs, strict=True)):
        opened = (c + (c2s[i] if c2s is not None else 0)) & M64
        y = (1 - (opened >> 63)) * ((1 << 64) // d) * m - h
        if first:
            y += opened // d - (1 << 62) // d
        out.append(y & M64)
    return out


DIVISORS = st.one_of(st.integers(1, 62).map(lambda k: 1 << k), st.sampled_from([3, 10, (1 << 62) - 1]),
                     st.integers(2, 1 << 62))


@pytest.mark.parametrize("k", BACKENDS)
@given(data=st.data())
def test_trunc_finish_matches_python_ints(k, data):
    cs = data.draw(st.lists(WORD, min_size=1, max_size=20))
    n = len(cs)
    c2s = data.draw(st.none() | st.lists(WORD, min_size=n, max_size=n))
    highs = data.draw(st.lists(WORD, min_size=n, max_size=n))
    msbs = data.draw(st.lists(WORD, min_size=n, max_size=n))
    d, first = data.draw(DIVISORS), data.draw(st.booleans())
    arr = lambda v: None if v is None else np.array(v, dtype=np.uint64)  # noqa: E731
    got = k.trunc_finish(arr(cs), arr(highs), arr(msbs), d, first, arr(c2s))
    assert got.tolist() == trunc_finish_ints(cs, c2s, highs, msbs, d, first)


@given(data=st.data())
def test_trunc_finish_matches_reference(data):
    shape = data.draw(st.one_of(SHAPES, st.integers(0, 40).map(lambda n: (n,))))  # every SIMD tail
    c, high, msb = (data.draw(laid_out(shape)) for _ in range(3))
    c2 = data.draw(st.none() | laid_out(shape))
    d, first = data.draw(DIVISORS), data.draw(st.booleans())
    same(C.trunc_finish(c, high, msb, d, first, c2), REF.trunc_finish(c, high, msb, d, first, c2))
    same(C.trunc_finish(c, high, msb, np.int64(d), first), REF.trunc_finish(c, high, msb, d, first, None))
    if c2 is not None:  # the two-part form is the one-part form of the sum
        same(C.trunc_finish(c, high, msb, d, first, c2), REF.trunc_finish(REF.add(c, c2), high, msb, d, first))


@pytest.mark.parametrize("d", [2, 1 << 16, 1 << 62, 12345, (1 << 62) - 1])
@pytest.mark.parametrize("n", [(1 << 19) - 1, (1 << 19) + 5])
def test_trunc_finish_large_and_misaligned(n, d):
    rng = np.random.default_rng(n + d)
    c, c2, high, msb = (rng.integers(0, M64, size=n + 1, dtype=np.uint64, endpoint=True) for _ in range(4))
    msb &= np.uint64(1)  # as in a real triple (a share of the bit need not be 0/1, but here it is)
    for first in (False, True):
        args = (c[1:], high[:-1], msb[1:], d, first, c2[1:])
        same(C.trunc_finish(*args), REF.trunc_finish(*args))


@pytest.mark.parametrize("parties", [2, 3])
@pytest.mark.parametrize("d", [2, 1 << 16, 1 << 40, 3, 1000, (1 << 40) + 1])
def test_trunc_finish_reconstructs_quotient(parties, d):
    # the protocol of Semi2k.divide_many on simulated shares: within 2 of x/d, floor(x/d) + {0, 1} for 2^k
    rng = np.random.default_rng(d * parties)
    x = rng.integers(-(1 << 62) + 1, 1 << 62, size=500, dtype=np.int64)
    x[:4] = [(1 << 62) - 1, -(1 << 62) + 1, 0, -1]
    r = rng.integers(0, M64, size=x.size, dtype=np.uint64, endpoint=True)

    def split(v):
        shares = [rng.integers(0, M64, size=v.size, dtype=np.uint64, endpoint=True) for _ in range(parties - 1)]
        return [*shares, v - np.sum(shares, axis=0, dtype=np.uint64)]

    xs, rs, hs, ms = (split(v) for v in (x.view(np.uint64), r, r // np.uint64(d), r >> np.uint64(63)))
    masked = [C.add(xs[i], rs[i], c=(1 << 62) if i == 0 else 0) for i in range(parties)]
    ys = []
    for i in range(parties):
        rest = REF.sum(np.stack([m for j, m in enumerate(masked) if j != i]), 0)
        ys.append(C.trunc_finish(masked[i], hs[i], ms[i], d, i == 0, rest))
    y = np.sum(ys, axis=0, dtype=np.uint64).view(np.int64)
    for xv, yv in zip(x.tolist(), y.tolist(), strict=True):
        if d & (d - 1) == 0:
            assert yv - xv // d in (0, 1)
        else:
            assert abs(yv * d - xv) < 2 * d


@pytest.mark.parametrize("k", BACKENDS)
def test_trunc_finish_zero_d_and_empty(k):
    z = np.array(5 << 20, dtype=np.uint64)
    y = k.trunc_finish(z, np.array(1, np.uint64), np.array(0, np.uint64), 1 << 20, True, z)
    assert y.shape == () and int(y) == ((10 << 20 >> 20) - 1 - (1 << 42)) & M64
    for shape in [(0,), (3, 0)]:
        e = np.empty(shape, dtype=np.uint64)
        same(k.trunc_finish(e, e, e, 3, True), e)
        same(k.trunc_finish(e, e, e, 4, False, e), e)


def test_sar_every_shift():
    values = np.array(EDGES64 + [0x8000_0000_0000_1234, 0xFFFF_0000_FFFF_0000, 0x7FFF_FFFF_0000_0001],
                      dtype=np.uint64)
    for k in range(64):
        want = [(signed(int(v)) >> k) & M64 for v in values]
        assert REF.sar(values, k).tolist() == want
        same(C.sar(values, k), want)


@given(data=st.data())
def test_sum_matches_reference(data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=7))
    a = data.draw(laid_out(shape))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    same(C.sum(a, axis), REF.sum(a, axis))


@pytest.mark.parametrize(
    "shape",
    [
        (1,), (1000,), (2, 1000), (1000, 3), (5, 130, 7), (3, 4, 1030), (600, 2, 3), (67, 64), (300, 256),
        (9, 257), (5, 2100), (0, 5), (5, 0), (4, 0, 3), (2, 3, 0),
    ],
)
def test_sum_every_axis_larger_shapes(shape):
    # Exercises every C path: last-axis reduction, the lane accumulator for inner <= 256 (with
    # row counts that do not fill a lane group), and strip-mined rows (strips of 2048, 4 rows
    # per pass plus leftovers).
    rng = np.random.default_rng(sum(shape))
    a = rng.integers(0, M64, size=shape, dtype=np.uint64, endpoint=True)
    for axis in range(-len(shape), len(shape)):
        same(C.sum(a, axis), REF.sum(a, axis))


def test_sum_removes_the_axis():
    a = np.array([M64, 2], dtype=np.uint64)
    for k in (REF, C):
        r = k.sum(a, 0)
        assert r.shape == () and int(r) == 1
        assert k.sum(np.zeros((2, 3, 4), np.uint64), -2).shape == (2, 4)


@pytest.mark.parametrize("name", BINARY128)
@given(data=st.data())
def test_binary128_matches_reference(name, data):
    shape = data.draw(SHAPES128)
    a, b = data.draw(laid_out(shape, WORD)), data.draw(laid_out(shape, WORD))
    same(getattr(C, name)(a, b), getattr(REF, name)(a, b))


@given(data=st.data())
def test_neg128_mul128_64_match_reference(data):
    shape = data.draw(SHAPES128)
    a = data.draw(laid_out(shape))
    b = data.draw(laid_out(shape[:-1]))
    same(C.neg128(a), REF.neg128(a))
    same(C.mul128_64(a, b), REF.mul128_64(a, b))


def test_128bit_columns_as_noncontiguous_views():
    # (2, n).T is the natural non-contiguous (n, 2) view: strides (8, 8n).
    rng = np.random.default_rng(7)
    for n in (1, 2, 5, 33):
        a = rng.integers(0, M64, size=(2, n), dtype=np.uint64, endpoint=True).T
        b = rng.integers(0, M64, size=(2, n), dtype=np.uint64, endpoint=True).T
        for name in BINARY128:
            same(getattr(C, name)(a, b), getattr(REF, name)(a, b))
        same(C.mul128_64(a, b[:, 0]), REF.mul128_64(a, b[:, 0]))


# ----------------------------------------------------------------------------- out=, aliasing


def _inputs(data, name):
    shape = data.draw(SHAPES128 if name.endswith(("128", "128_64")) else SHAPES)
    a = data.draw(hnp.arrays(np.uint64, shape, elements=WORD))
    b = data.draw(hnp.arrays(np.uint64, shape, elements=WORD))
    return a, b


@pytest.mark.parametrize("k", BACKENDS)
@pytest.mark.parametrize("name", BINARY64 + BINARY128)
@given(data=st.data())
def test_binary_out_aliasing(k, name, data):
    a, b = _inputs(data, name)
    want = getattr(REF, name)(a.copy(), b.copy())
    fn = getattr(k, name)
    x, y = a.copy(), b.copy()
    assert fn(x, y, out=x) is x
    same(x, want)
    assert np.array_equal(y, b)
    x, y = a.copy(), b.copy()
    assert fn(x, y, out=y) is y
    same(y, want)
    x = a.copy()
    assert fn(x, x, out=x) is x
    same(x, getattr(REF, name)(a, a))
    out = np.full(a.shape, GAP, dtype=np.uint64)
    assert fn(a, b, out=out) is out
    same(out, want)


@pytest.mark.parametrize("k", BACKENDS)
@given(data=st.data())
def test_unary_out_aliasing(k, data):
    a, _ = _inputs(data, "neg")
    a128, b128 = _inputs(data, "neg128")
    m = b128[..., 0].copy()
    s = data.draw(st.integers(0, 63))
    cases = [
        ("neg", a, ()),
        ("mul_public", a, (-12345,)),
        ("sar", a, (s,)),
        ("neg128", a128, ()),
        ("mul128_64", a128, (m,)),
    ]
    for name, x0, extra in cases:
        want = getattr(REF, name)(x0.copy(), *extra)
        x = x0.copy()
        assert getattr(k, name)(x, *extra, out=x) is x
        same(x, want)


OVERLAP_CALLS = {
    # name: (words per element of out, call(k, x, y, out)) with x overlapping out, y separate
    "add": (1, lambda k, x, y, out: k.add(x, y, out=out)),
    "sub b": (1, lambda k, x, y, out: k.sub(y, x, out=out)),
    "mul": (1, lambda k, x, y, out: k.mul(x, y, out=out)),
    "neg": (1, lambda k, x, y, out: k.neg(x, out=out)),
    "mul_public": (1, lambda k, x, y, out: k.mul_public(x, 0x1234_5678_9ABC, out=out)),
    "sar": (1, lambda k, x, y, out: k.sar(x, 7, out=out)),
    "add128": (2, lambda k, x, y, out: k.add128(x, y, out=out)),
    "sub128 b": (2, lambda k, x, y, out: k.sub128(y, x, out=out)),
    "mul128": (2, lambda k, x, y, out: k.mul128(x, y, out=out)),
    "neg128": (2, lambda k, x, y, out: k.neg128(x, out=out)),
    "mul128_64 a": (2, lambda k, x, y, out: k.mul128_64(x, y[..., 0].copy(), out=out)),
}


@pytest.mark.parametrize("name", list(OVERLAP_CALLS))
@pytest.mark.parametrize("shift", [-3, -1, 1, 2, 5])
def test_partial_overlap_with_out_reads_inputs_first(name, shift):
    # out and an input share one buffer at an offset: NumPy (the reference) reads as if the
    # input were copied first; the compiled wrapper must copy it rather than run a C loop
    # whose stores feed its own later loads.
    width, call = OVERLAP_CALLS[name]
    n = 37
    rng = np.random.default_rng(abs(shift))
    start = rng.integers(0, M64, size=width * n + abs(shift), dtype=np.uint64, endpoint=True)
    y = rng.integers(0, M64, size=width * n, dtype=np.uint64, endpoint=True).reshape(n, width).squeeze()
    finals = []
    for k in (REF, C):
        buf = start.copy()
        lo, hi = (0, shift) if shift > 0 else (-shift, 0)
        x = buf[lo : lo + width * n].reshape(n, width).squeeze()
        out = buf[hi : hi + width * n].reshape(n, width).squeeze()
        assert call(k, x, y, out) is out
        finals.append(buf)
    same(finals[1], finals[0])


@pytest.mark.parametrize("shift", [0, 1, 2, 7])
def test_mul128_64_multiplier_overlapping_out(shift):
    n = 9
    rng = np.random.default_rng(shift)
    start = rng.integers(0, M64, size=2 * n + 8, dtype=np.uint64, endpoint=True)
    a = rng.integers(0, M64, size=(n, 2), dtype=np.uint64, endpoint=True)
    finals = []
    for k in (REF, C):
        buf = start.copy()
        out = buf[: 2 * n].reshape(n, 2)
        assert k.mul128_64(a, buf[shift : shift + n], out=out) is out
        finals.append(buf)
    same(finals[1], finals[0])


@pytest.mark.parametrize("k", BACKENDS)
def test_zero_d_and_empty(k):
    z = np.array(M64, dtype=np.uint64)
    one = np.array(1, dtype=np.uint64)
    r = k.add(z, one)
    assert r.shape == () and int(r) == 0
    out = np.empty((), dtype=np.uint64)
    assert k.mul(z, z, out=out) is out and int(out) == 1
    assert k.sar(z, 5).shape == () and int(k.sar(z, 5)) == M64
    assert k.mul128_64(np.array([M64, 0], dtype=np.uint64), z).tolist() == [1, M64 - 1]
    for shape in [(0,), (3, 0), (0, 4, 2)]:
        e = np.empty(shape, dtype=np.uint64)
        same(k.add(e, e), e)
        same(k.neg(e), e)
        same(k.mul_public(e, 3), e)
        same(k.sar(e, 3), e)
    e128 = np.empty((0, 2), dtype=np.uint64)
    same(k.mul128(e128, e128), e128)
    same(k.mul128_64(e128, np.empty(0, dtype=np.uint64)), e128)


def test_readonly_inputs_are_accepted():
    a = np.arange(10, dtype=np.uint64)
    a.flags.writeable = False
    same(C.add(a, a), REF.add(a, a))
    same(C.sum(a, 0), REF.sum(a, 0))
    a2 = np.arange(10, dtype=np.uint64).reshape(5, 2)
    a2.flags.writeable = False
    same(C.mul128(a2, a2), REF.mul128(a2, a2))


def _unaligned(values: np.ndarray) -> np.ndarray:
    """values as a uint64 array one byte off alignment (a frame's payload can be): NumPy's
    buffer format for it is "=Q", not "L"."""
    buf = np.zeros(values.nbytes + 1, dtype=np.uint8)
    out = np.frombuffer(buf.data, dtype=np.uint64, count=values.size, offset=1).reshape(values.shape)
    out[...] = values
    return out


def test_unaligned_inputs_are_accepted():
    # the wrappers take data pointers through the buffer protocol: a native uint64 array whose
    # format carries a byte-order mark ("=Q", unaligned) must pass like any other
    a = _unaligned(np.arange(1, 11, dtype=np.uint64) * np.uint64(2**61 + 3))
    b = np.arange(10, dtype=np.uint64)
    assert memoryview(a).format == "=Q"
    for name in ("add", "sub", "mul"):
        same(getattr(C, name)(a, b), getattr(REF, name)(a, b))
        same(getattr(C, name)(b, a), getattr(REF, name)(b, a))
    same(C.mul_public(a, -7), REF.mul_public(a, -7))
    same(C.neg(a), REF.neg(a))
    w = np.arange(6, dtype=np.uint64)
    same(C.gmw_and_combine(_unaligned(w), w, w, _unaligned(~w), w, True),
         REF.gmw_and_combine(w, w, w, ~w, w, True))


# ----------------------------------------------------------------------------- rejections



def _readonly(a):
    a.flags.writeable = False
    return a


U = np.arange(6, dtype=np.uint64)
U128 = np.arange(6, dtype=np.uint64).reshape(3, 2)
REC = np.zeros((3, 4), dtype=np.uint64)  # three spdz2k records (value and MAC in Z_2^128)
BAD_CALLS = {
    "add int64": lambda k: k.add(U.astype(np.int64), U),
    "add float": lambda k: k.sub(U, U.astype(np.float64)),
    "add uint32": lambda k: k.mul(U.astype(np.uint32), U),
    "add list": lambda k: k.add([1, 2, 3], U[:3]),
    "add big-endian": lambda k: k.add(U.astype(">u8"), U),
    "add shapes": lambda k: k.add(U, U[:5]),
    "add shapes 2d": lambda k: k.add(U.reshape(2, 3), U.reshape(3, 2)),
    "add out shape": lambda k: k.add(U, U, out=np.empty(5, np.uint64)),
    "add out dtype": lambda k: k.add(U, U, out=np.empty(6, np.int64)),
    "add out strided": lambda k: k.add(U, U, out=np.empty(12, np.uint64)[::2]),
    "add out broadcast": lambda k: k.add(U, U, out=np.broadcast_to(np.uint64(0), (6,))),
    "add out readonly": lambda k: k.add(U, U, out=_readonly(np.zeros(6, np.uint64))),
    "add out list": lambda k: k.add(U, U, out=[0] * 6),
    "neg dtype": lambda k: k.neg(U.astype(np.int32)),
    "mul_public float": lambda k: k.mul_public(U, 2.0),
    "mul_public bool": lambda k: k.mul_public(U, True),
    "mul_public array": lambda k: k.mul_public(U, U),
    "sum axis too big": lambda k: k.sum(U, 1),
    "sum axis too small": lambda k: k.sum(U.reshape(2, 3), -3),
    "sum axis bool": lambda k: k.sum(U, False),
    "sum axis float": lambda k: k.sum(U, 0.0),
    "sum axis none": lambda k: k.sum(U, None),
    "sum 0-d": lambda k: k.sum(np.array(1, np.uint64), 0),
    "sum dtype": lambda k: k.sum(U.astype(np.int64), 0),
    "sar k 64": lambda k: k.sar(U, 64),
    "sar k -1": lambda k: k.sar(U, -1),
    "sar k float": lambda k: k.sar(U, 1.0),
    "sar k bool": lambda k: k.sar(U, True),
    "sar dtype": lambda k: k.sar(U.astype(np.int64), 1),
    "add c float": lambda k: k.add(U, U, c=1.0),
    "add c bool": lambda k: k.add(U, U, c=True),
    "add c array": lambda k: k.add(U, U, c=U),
    "trunc_finish d 1": lambda k: k.trunc_finish(U, U, U, 1, True),
    "trunc_finish d 0": lambda k: k.trunc_finish(U, U, U, 0, False),
    "trunc_finish d big": lambda k: k.trunc_finish(U, U, U, (1 << 62) + 1, True),
    "trunc_finish d float": lambda k: k.trunc_finish(U, U, U, 4.0, True),
    "trunc_finish d bool": lambda k: k.trunc_finish(U, U, U, True, True),
    "trunc_finish dtype": lambda k: k.trunc_finish(U, U.astype(np.int64), U, 4, True),
    "trunc_finish shapes": lambda k: k.trunc_finish(U, U[:5], U, 4, True),
    "trunc_finish c2 shape": lambda k: k.trunc_finish(U, U, U, 4, True, U[:5]),
    "trunc_finish c2 dtype": lambda k: k.trunc_finish(U, U, U, 4, True, U.astype(np.uint32)),
    "trunc_finish c2 list": lambda k: k.trunc_finish(U, U, U, 4, True, [0] * 6),
    "add128 trailing 3": lambda k: k.add128(U.reshape(2, 3), U.reshape(2, 3)),
    "add128 1-d odd": lambda k: k.sub128(U[:3], U[:3]),
    "mul128 0-d": lambda k: k.mul128(np.array(1, np.uint64), np.array(1, np.uint64)),
    "mul128 shapes": lambda k: k.mul128(U128, U128[:2]),
    "mul128 dtype": lambda k: k.mul128(U128.astype(np.int64), U128),
    "neg128 trailing 1": lambda k: k.neg128(U.reshape(6, 1)),
    "neg128 out shape": lambda k: k.neg128(U128, out=np.empty(6, np.uint64)),
    "mul128_64 b shape": lambda k: k.mul128_64(U128, U[:2]),
    "mul128_64 b 2-d": lambda k: k.mul128_64(U128, U[:3].reshape(3, 1)),
    "mul128_64 b dtype": lambda k: k.mul128_64(U128, U[:3].astype(np.int64)),
    "mul128_64 out": lambda k: k.mul128_64(U128, U[:3], out=np.empty((3,), np.uint64)),
    "auth_beaver_combine d2 alone": lambda k: k.auth_beaver_combine(REC, REC, REC, U128, U128, 1, True, U128),
    "auth_beaver_combine e2 shape": lambda k: k.auth_beaver_combine(REC, REC, REC, U128, U128, 1, True, U128,
                                                                    U128[:2]),
    "auth_square_combine d2 shape": lambda k: k.auth_square_combine(REC, REC, U128, 1, True, U128[:2]),
    "auth_square_combine d2 dtype": lambda k: k.auth_square_combine(REC, REC, U128, 1, True, U128.astype(np.int64)),
}


@pytest.mark.parametrize("case", list(BAD_CALLS))
def test_both_backends_reject_alike(case):
    assert_rejected_alike(BAD_CALLS[case], (REF, C))


@pytest.mark.parametrize("k", BACKENDS)
@given(data=st.data())
def test_matmul128_matches_python_ints(k, data):
    """a @ b mod 2^128 (the spdz2k matrix products), each operand 64-bit or 128-bit, edge words."""
    m, kk, n = (data.draw(st.integers(0, 5)) for _ in range(3))
    a_wide, b_wide = data.draw(st.booleans()), data.draw(st.booleans())
    xs = [[data.draw(WORD128 if a_wide else WORD) for _ in range(kk)] for _ in range(m)]
    ys = [[data.draw(WORD128 if b_wide else WORD) for _ in range(n)] for _ in range(kk)]

    def as_array(rows, wide, shape):
        flat = [v for r in rows for v in r]
        return to128(flat, shape) if wide else np.array(flat, dtype=np.uint64).reshape(shape)

    a, b = as_array(xs, a_wide, (m, kk)), as_array(ys, b_wide, (kk, n))
    got = k.matmul128(a, b)
    assert got.shape == (m, n, 2)
    want = [sum(xs[i][p] * ys[p][j] for p in range(kk)) & M128 for i in range(m) for j in range(n)]
    assert from128(got.reshape(-1, 2)) == want
    np.testing.assert_array_equal(got, REF.matmul128(a, b))


def _records(vals, macs, shape):
    out = np.empty((*shape, 4), dtype=np.uint64)
    out[..., 0:2] = to128(vals, shape)
    out[..., 2:4] = to128(macs, shape)
    return out


@pytest.mark.parametrize("k", BACKENDS)
@given(data=st.data())
def test_spdz2k_record_kernels_match_python_ints(k, data):
    """The fused spdz2k steps on (value, MAC) records against their formulas on Python ints."""
    size = data.draw(st.integers(0, 9))
    draw = lambda: data.draw(st.lists(WORD128, min_size=size, max_size=size))  # noqa: E731
    (cv, cm, av, am, bv, bm, xv, xm, d, e) = (draw() for _ in range(10))
    alpha, first = data.draw(WORD), data.draw(st.booleans())
    shape = (size,)
    c, a, b, x = _records(cv, cm, shape), _records(av, am, shape), _records(bv, bm, shape), _records(xv, xm, shape)
    D, E = to128(d, shape), to128(e, shape)
    val, mac = k.auth_sub_split(x, a)
    assert from128(val) == [(p - q) & M128 for p, q in zip(xv, av, strict=True)]
    assert from128(mac) == [(p - q) & M128 for p, q in zip(xm, am, strict=True)]
    z = k.auth_beaver_combine(c, a, b, D, E, alpha, first)
    dl, el = [di & M64 for di in d], [ei & M64 for ei in e]  # the openings enter mod 2^64
    de = [di * ei for di, ei in zip(dl, el, strict=True)]
    assert from128(z[..., 0:2]) == [(cv[i] + dl[i] * bv[i] + el[i] * av[i] + (de[i] if first else 0)) & M128
                                    for i in range(size)]
    assert from128(z[..., 2:4]) == [(cm[i] + dl[i] * bm[i] + el[i] * am[i] + alpha * de[i]) & M128
                                    for i in range(size)]
    d1, e1 = draw(), draw()  # the same opening as two summands: this party's and the peers'
    d2 = [(di - pi) & M128 for di, pi in zip(d, d1, strict=True)]
    e2 = [(ei - pi) & M128 for ei, pi in zip(e, e1, strict=True)]
    np.testing.assert_array_equal(k.auth_beaver_combine(c, a, b, to128(d1, shape), to128(e1, shape), alpha, first,
                                                        to128(d2, shape), to128(e2, shape)), z)
    s = k.auth_square_combine(c, a, D, alpha, first)
    np.testing.assert_array_equal(k.auth_square_combine(c, a, to128(d1, shape), alpha, first, to128(d2, shape)), s)
    assert from128(s[..., 0:2]) == [(cv[i] + (2 * dl[i] & M64) * av[i] + (dl[i] ** 2 if first else 0)) & M128
                                    for i in range(size)]
    assert from128(s[..., 2:4]) == [(cm[i] + (2 * dl[i] & M64) * am[i] + alpha * dl[i] ** 2) & M128
                                    for i in range(size)]
    p = k.auth_add_public(x, D, alpha, first)
    assert from128(p[..., 0:2]) == [(xv[i] + (d[i] if first else 0)) & M128 for i in range(size)]
    assert from128(p[..., 2:4]) == [(xm[i] + alpha * d[i]) & M128 for i in range(size)]
    chi = np.array([data.draw(WORD) for _ in range(size)], dtype=np.uint64)
    assert from128(k.dot128_64(D, chi)) == [sum(int(ci) * di for ci, di in zip(chi, d, strict=True)) & M128]
    for got, want in [(z, REF.auth_beaver_combine(c, a, b, D, E, alpha, first)), (p, REF.auth_add_public(x, D, alpha, first))]:
        np.testing.assert_array_equal(got, want)


# ----------------------------------------------------------------------------- masked2k records


def _tags(draw, n):
    """Tags of n records: a run (from an edge or random start, possibly passing 2^64), a run
    broken once, or anything."""
    kind = draw(st.sampled_from(["run", "broken", "any"]))
    if kind == "any" or n == 0:
        return draw(st.lists(WORD, min_size=n, max_size=n))
    start = draw(st.one_of(st.sampled_from([0, 1, (1 << 64) - n, (1 << 64) - n + 1]), WORD))
    tags = [(start + i) & M64 for i in range(n)]
    if kind == "broken":
        tags[draw(st.integers(0, n - 1))] ^= 1 << draw(st.integers(0, 63))
    return tags


@st.composite
def masked_records(draw, n):
    words = draw(st.lists(WORD, min_size=2 * n, max_size=2 * n))
    tags = _tags(draw, n)
    return np.array([[words[2 * i], words[2 * i + 1], tags[i]] for i in range(n)], dtype=np.uint64).reshape(n, 3)


def run_start(rec):
    """The contract of masked_tags in Python integers."""
    tags = [int(t) for t in rec[:, 2]]
    if not tags or tags[0] == 0 or tags[0] + len(tags) > 1 << 64:
        return 0
    return tags[0] if tags == list(range(tags[0], tags[0] + len(tags))) else 0


@pytest.mark.parametrize("k", BACKENDS)
@given(data=st.data())
def test_masked_kernels_match_python_ints(k, data):
    n = data.draw(st.integers(0, 12))
    x, y = data.draw(masked_records(n)), data.draw(masked_records(n))
    lz, g = (np.array(data.draw(st.lists(WORD, min_size=n, max_size=n)), dtype=np.uint64) for _ in range(2))
    first, f = data.draw(st.booleans()), data.draw(st.integers(1, 62))
    t0 = data.draw(WORD)
    assert k.masked_tags(x) == run_start(x)
    s, run = k.masked_mul_share(x, y, lz, g, first)
    want = [(int(lz[i]) + int(g[i]) - int(x[i, 0]) * int(y[i, 1]) - int(y[i, 0]) * int(x[i, 1])
             + (int(x[i, 0]) * int(y[i, 0]) if first else 0)) & M64 for i in range(n)]
    assert s.tolist() == want and run == bool(run_start(x) and run_start(y))
    out = k.masked_finish(s, lz, t0, g)
    assert out.tolist() == [[(want[i] + int(g[i])) & M64, int(lz[i]), (t0 + i) & M64] for i in range(n)]
    tr, run = k.masked_trunc(x, lz, g, f)
    rows, t0 = [], int(x[0, 2]) if n else 0
    for i in range(n):
        c = (int(x[i, 0]) + (1 << 62)) & M64
        rows.append([((c >> f) - (1 << (62 - f))) & M64, (int(lz[i]) - (1 - (c >> 63)) * (1 << (64 - f)) * int(g[i])) & M64,
                     ((t0 + i) & M64) | (f << 58)])
    assert tr.tolist() == rows  # the output's tags: the fresh tags with the shift in bits 58..
    assert run == bool(run_start(x) and t0 + n <= 1 << 58)
    # the fused finish and truncation: the records the two passes make, from the summands alone
    for s2 in (None, g):
        fused, fresh = k.masked_finish_trunc(s, lz, g, t0, f, s2)
        want_tr, _ = k.masked_trunc(k.masked_finish(s, lz, t0, s2), lz, g, f)
        assert fused.tolist() == want_tr.tolist()
        assert fresh == (n > 0 and 1 <= t0 and t0 + n <= 1 << 58)


@given(data=st.data())
def test_masked_kernels_match_reference(data):
    shape = data.draw(st.one_of(SHAPES, st.integers(0, 40).map(lambda n: (n,))))
    size = int(np.prod(shape, dtype=np.int64))
    x, y = (data.draw(masked_records(size)).reshape(*shape, 3) for _ in range(2))
    lz, g = data.draw(laid_out(shape)), data.draw(laid_out(shape))
    first, f = data.draw(st.booleans()), data.draw(st.integers(1, 62))
    assert C.masked_tags(x) == REF.masked_tags(x)
    (sc, rc), (sr, rr) = C.masked_mul_share(x, y, lz, g, first), REF.masked_mul_share(x, y, lz, g, first)
    same(sc, sr)
    assert rc == rr
    same(C.masked_finish(lz, g, 5, None), REF.masked_finish(lz, g, 5))
    (tc, rc), (tr, rr) = C.masked_trunc(x, lz, g, f), REF.masked_trunc(x, lz, g, f)
    same(tc, tr)
    assert rc == rr
    t0 = data.draw(st.sampled_from([0, 1, (1 << 58) - size, (1 << 58) - size + 1, (1 << 64) - 1]))
    s2 = data.draw(st.sampled_from([None, g]))
    (tc, rc), (tr, rr) = C.masked_finish_trunc(lz, x[..., 0], g, t0, f, s2), REF.masked_finish_trunc(lz, x[..., 0], g, t0, f, s2)
    same(tc, tr)
    assert rc == rr


@pytest.mark.parametrize("n", [(1 << 19) - 1, (1 << 19) + 5])
def test_masked_kernels_on_both_sides_of_the_streaming_threshold(n):
    """From 2^19 elements (MPC_STREAM_MIN) masked2k's record kernels write with non-temporal
    stores: the same records as the reference on both sides, from misaligned inputs."""
    rng = np.random.default_rng(n)
    s, s2, a, m = (rng.integers(0, M64, size=n + 1, dtype=np.uint64, endpoint=True)[1:] for _ in range(4))
    t0 = 12345
    x = REF.masked_finish(s, a, t0)
    same(C.masked_finish(s, a, t0, s2), REF.masked_finish(s, a, t0, s2))
    for k in (1, 16, 62):
        same(C.masked_trunc(x, a, m, k)[0], REF.masked_trunc(x, a, m, k)[0])
        same(C.masked_finish_trunc(s, a, m, t0, k, s2)[0], REF.masked_finish_trunc(s, a, m, t0, k, s2)[0])


def test_masked_kernels_reject_bad_arguments_alike():
    rec, flat = np.zeros((4, 3), dtype=np.uint64), np.zeros(4, dtype=np.uint64)
    assert_rejected_alike(lambda k: k.masked_tags(flat), [REF, C])
    assert_rejected_alike(lambda k: k.masked_mul_share(rec, rec[:3], flat, flat, True), [REF, C])
    assert_rejected_alike(lambda k: k.masked_mul_share(rec, rec, flat[:3], flat, True), [REF, C])
    assert_rejected_alike(lambda k: k.masked_finish(flat, flat, -1), [REF, C])
    assert_rejected_alike(lambda k: k.masked_trunc(rec, flat, flat, 63), [REF, C])
    assert_rejected_alike(lambda k: k.masked_trunc(rec.astype(np.int64), flat, flat, 5), [REF, C])
    assert_rejected_alike(lambda k: k.masked_finish_trunc(flat, flat, flat[:3], 1, 5), [REF, C])
    assert_rejected_alike(lambda k: k.masked_finish_trunc(flat, flat, flat, 1, 0), [REF, C])
    assert_rejected_alike(lambda k: k.masked_finish_trunc(flat, flat, flat, -1, 5), [REF, C])
