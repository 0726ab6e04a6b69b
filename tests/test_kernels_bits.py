"""Compiled packed-bit kernels (mpc._core._bits) against the NumPy reference, bit for bit.

The reference (mpc._core._ref) is the contract, so it is first checked against the definitions
written with Python integers; then every compiled kernel must equal it on random inputs of
awkward sizes and layouts, in-place ``out=``, and reject the same bad arguments alike.
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

M64 = (1 << 64) - 1
WORD = st.one_of(st.sampled_from([0, 1, 1 << 63, M64, 0x5555555555555555, 0xAAAAAAAAAAAAAAAA]),
                 st.integers(0, M64))
BYTE = st.one_of(st.sampled_from([0, 1]), st.integers(0, 255))
GAP = 0xA5


def test_compiled_backend_is_compiled():
    assert C.backend == "c"
    assert C.pack_bits.__module__ == "mpc._core._bits"


@st.composite
def laid_out(draw, dtype, shape, elements):
    """An array of ``shape`` in a drawn memory layout: C order, strided, F order or reversed."""
    values = draw(hnp.arrays(dtype, shape, elements=elements))
    kind = draw(st.sampled_from(["c", "step", "fortran", "reversed"]))
    if values.ndim == 0 or kind == "c":
        return values
    if kind == "step":
        big = np.full((*shape[:-1], 2 * shape[-1]), GAP, dtype=dtype)
        big[..., ::2] = values
        return big[..., ::2]
    if kind == "fortran":
        return np.asfortranarray(values)
    return np.ascontiguousarray(values[::-1])[::-1]


def same(got, want, dtype=np.uint64):
    want = want if isinstance(want, np.ndarray | np.generic) else np.array(want, dtype=dtype)
    assert isinstance(got, np.ndarray)
    assert got.dtype == want.dtype == dtype
    assert got.shape == want.shape
    assert np.array_equal(got, want)


def bit(x, i) -> int:
    return (int(x) >> i) & 1


# ----------------------------------------------------------------------------- the oracle itself


@pytest.mark.parametrize("k", BACKENDS)
@given(data=st.data())
def test_pack_unpack_match_definition(k, data):
    bits = data.draw(st.lists(BYTE, max_size=150))
    words = k.pack_bits(np.array(bits, dtype=np.uint8))
    packed = sum((b & 1) << j for j, b in enumerate(bits))  # one big little-endian integer
    want = [(packed >> (64 * w)) & M64 for w in range(-(-len(bits) // 64))]
    assert words.tolist() == want
    n = data.draw(st.integers(0, 64 * len(want)))
    assert k.unpack_bits(words, n).tolist() == [bit(words[j // 64], j % 64) for j in range(n)]


@pytest.mark.parametrize("k", BACKENDS)
@given(data=st.data())
def test_transpose_and_bitslice_match_definition(k, data):
    rows = data.draw(st.lists(WORD, min_size=64, max_size=64))
    t = k.transpose64(np.array(rows, dtype=np.uint64))
    assert all(bit(t[i], j) == bit(rows[j], i) for i in range(64) for j in range(64))
    values = data.draw(st.lists(WORD, max_size=140))
    planes = k.bitslice(np.array(values, dtype=np.uint64))
    assert planes.shape == (64, -(-len(values) // 64))
    for i in (0, 1, 31, 63):
        for v, x in enumerate(values):
            assert bit(planes[i, v // 64], v % 64) == bit(x, i)
        pad = range(len(values), 64 * planes.shape[1])
        assert all(bit(planes[i, v // 64], v % 64) == 0 for v in pad)


@pytest.mark.parametrize("k", BACKENDS)
@given(data=st.data())
def test_gmw_and_reconstructs_the_and(k, data):
    # Two parties, XOR sharing: z0 ^ z1 must be x & y when (a, b, c = a & b) is a valid triple.
    n = data.draw(st.integers(0, 9))
    draw = lambda: np.array(data.draw(st.lists(WORD, min_size=n, max_size=n)), dtype=np.uint64)  # noqa: E731
    x, y, a, b, x0, y0, a0, b0, c0 = (draw() for _ in range(9))
    c = a & b
    d, e = x ^ a, y ^ b  # opened: (x0 ^ a0) ^ (x1 ^ a1)
    z0 = k.gmw_and_combine(c0, d, e, a0, b0, True)
    z1 = k.gmw_and_combine(c ^ c0, d, e, a ^ a0, b ^ b0, False)
    assert np.array_equal(z0 ^ z1, x & y)


# Known answers, written out.
def test_known_answers():
    for k in (REF, C):
        # bit j of word w is element 64w + j; only the low bit of each byte counts.
        bits = np.array([1, 0, 1, 1, 0, 0, 0, 0, 1, 2, 3, 255, 254], dtype=np.uint8)
        assert k.pack_bits(bits).tolist() == [0b1101_0000_1101]
        assert k.pack_bits(np.ones(65, dtype=np.uint8)).tolist() == [M64, 1]
        assert k.pack_bits(np.zeros((2, 0), dtype=np.uint8)).shape == (2, 0)
        assert k.unpack_bits(np.array([0b1101, 1 << 63], dtype=np.uint64), 128).tolist() == (
            [1, 0, 1, 1] + [0] * 60 + [0] * 63 + [1]
        )
        ident = np.array([1 << i for i in range(64)], dtype=np.uint64)
        same(k.transpose64(ident), ident)
        upper = np.array([(M64 << j) & M64 for j in range(64)], dtype=np.uint64)  # row j: bits j..63
        same(k.transpose64(upper), [(1 << (i + 1)) - 1 for i in range(64)])
        first_row = np.zeros(64, dtype=np.uint64)
        first_row[0] = M64
        same(k.transpose64(first_row), [1] * 64)
        same(k.bitslice(np.array([1, 2, 3], dtype=np.uint64))[:3], [[0b101], [0b110], [0]])
        same(k.unbitslice(np.array([[0b101], [0b110]], dtype=np.uint64), 4), [1, 2, 3, 0])
        # (c, d, e, a, b): c ^ (d & b) ^ (e & a), ^ (d & e) on the first party
        one = [np.array([v], np.uint64) for v in (1, 2, 4, 8, 16)]
        two = [np.array([v], np.uint64) for v in (1, 6, 12, 12, 6)]
        same(k.gmw_and_combine(*one, True), [1])
        same(k.gmw_and_combine(*two, True), [1 ^ 6 ^ 12 ^ 4])
        same(k.gmw_and_combine(*two, False), [1 ^ 6 ^ 12])


# ----------------------------------------------------------------------------- compiled == reference

ROW_SHAPES = hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=3)


@given(data=st.data())
def test_pack_unpack_match_reference(data):
    lead = data.draw(ROW_SHAPES)
    n = data.draw(st.one_of(st.sampled_from([0, 1, 63, 64, 65, 128, 129]), st.integers(0, 300)))
    bits = data.draw(laid_out(np.uint8, (*lead, n), BYTE))
    same(C.pack_bits(bits), REF.pack_bits(bits))
    w = data.draw(st.integers(0, 5))
    words = data.draw(laid_out(np.uint64, (*lead, w), WORD))
    m = data.draw(st.integers(0, 64 * w))
    same(C.unpack_bits(words, m), REF.unpack_bits(words, m), np.uint8)
    same(C.unpack_bits(C.pack_bits(bits), n), bits & 1, np.uint8)


@pytest.mark.parametrize("name", ["band", "bxor"])
@given(data=st.data())
def test_word_logic_matches_reference(name, data):
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6))
    a = data.draw(laid_out(np.uint64, shape, WORD))
    b = data.draw(laid_out(np.uint64, shape, WORD))
    same(getattr(C, name)(a, b), getattr(REF, name)(a, b))
    same(C.bnot(a), REF.bnot(a))


@given(data=st.data())
def test_transpose64_matches_reference(data):
    lead = data.draw(ROW_SHAPES)
    a = data.draw(laid_out(np.uint64, (*lead, 64), WORD))
    t = C.transpose64(a)
    same(t, REF.transpose64(a))
    same(C.transpose64(t), a)


@given(data=st.data())
def test_bitslice_unbitslice_match_reference(data):
    n = data.draw(st.one_of(st.sampled_from([0, 1, 63, 64, 65, 128]), st.integers(0, 300)))
    values = data.draw(laid_out(np.uint64, (n,), WORD))
    planes = C.bitslice(values)
    same(planes, REF.bitslice(values))
    same(C.unbitslice(planes, n), values)
    k = data.draw(st.integers(0, 64))
    w = data.draw(st.integers(0, 4))
    some = data.draw(laid_out(np.uint64, (k, w), WORD))
    m = data.draw(st.integers(0, 64 * w))
    same(C.unbitslice(some, m), REF.unbitslice(some, m))


@given(data=st.data())
def test_gmw_and_combine_matches_reference(data):
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=6))
    args = [data.draw(laid_out(np.uint64, shape, WORD)) for _ in range(5)]
    first = data.draw(st.sampled_from([True, False, 0, 1]))
    same(C.gmw_and_combine(*args, first), REF.gmw_and_combine(*args, first))


@pytest.mark.parametrize("k", BACKENDS)
@given(data=st.data())
def test_out_aliasing(k, data):
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=6))
    a = data.draw(hnp.arrays(np.uint64, shape, elements=WORD))
    b = data.draw(hnp.arrays(np.uint64, shape, elements=WORD))
    for name in ("band", "bxor"):
        want = getattr(REF, name)(a.copy(), b.copy())
        x, y = a.copy(), b.copy()
        assert getattr(k, name)(x, y, out=x) is x
        same(x, want)
        x, y = a.copy(), b.copy()
        assert getattr(k, name)(x, y, out=y) is y
        same(y, want)
    x = a.copy()
    assert k.bnot(x, out=x) is x
    same(x, ~a)


@pytest.mark.parametrize("name", ["band", "bxor b", "bnot"])
@pytest.mark.parametrize("shift", [-2, 1, 3])
def test_partial_overlap_with_out_reads_inputs_first(name, shift):
    # NumPy (the reference) reads a partly overlapping input as if copied first; so must C.
    n = 29
    rng = np.random.default_rng(abs(shift))
    start = rng.integers(0, M64, size=n + abs(shift), dtype=np.uint64, endpoint=True)
    y = rng.integers(0, M64, size=n, dtype=np.uint64, endpoint=True)
    finals = []
    for k in (REF, C):
        buf = start.copy()
        lo, hi = (0, shift) if shift > 0 else (-shift, 0)
        x, out = buf[lo : lo + n], buf[hi : hi + n]
        if name == "band":
            r = k.band(x, y, out=out)
        elif name == "bxor b":
            r = k.bxor(y, x, out=out)
        else:
            r = k.bnot(x, out=out)
        assert r is out
        finals.append(buf)
    same(finals[1], finals[0])


def test_larger_sizes():
    rng = np.random.default_rng(3)
    values = rng.integers(0, M64, size=5000, dtype=np.uint64, endpoint=True)
    same(C.bitslice(values), REF.bitslice(values))
    same(C.unbitslice(C.bitslice(values), 5000), values)
    bits = rng.integers(0, 256, size=(3, 1000), dtype=np.uint8)
    same(C.pack_bits(bits), REF.pack_bits(bits))
    blocks = rng.integers(0, M64, size=(4, 5, 64), dtype=np.uint64, endpoint=True)
    same(C.transpose64(blocks), REF.transpose64(blocks))


def test_zero_d_and_empty():
    z = np.array(0b1100, dtype=np.uint64)
    for k in (REF, C):
        r = k.bxor(z, np.array(0b1010, dtype=np.uint64))
        assert r.shape == () and int(r) == 0b0110
        r = k.gmw_and_combine(z, z, z, z, z, False)
        assert np.shape(r) == () and int(r) == 0b1100
        e = np.empty((0,), dtype=np.uint64)
        same(k.bitslice(e), np.empty((64, 0), dtype=np.uint64))
        same(k.unbitslice(np.empty((0, 3), np.uint64), 100), np.zeros(100, np.uint64))
        same(k.unbitslice(np.empty((5, 0), np.uint64), 0), e)
        same(k.transpose64(np.empty((0, 64), np.uint64)), np.empty((0, 64), np.uint64))
        same(k.unpack_bits(np.empty((2, 0), np.uint64), 0), np.empty((2, 0), np.uint8), np.uint8)
        same(k.pack_bits(np.empty((0, 70), np.uint8)), np.empty((0, 2), np.uint64))


# ----------------------------------------------------------------------------- rejections

U = np.arange(64, dtype=np.uint64)
B8 = np.ones(10, dtype=np.uint8)
BAD_CALLS = {
    "pack dtype uint64": lambda k: k.pack_bits(U),
    "pack dtype bool": lambda k: k.pack_bits(B8.astype(bool)),
    "pack list": lambda k: k.pack_bits([1, 0, 1]),
    "pack 0-d": lambda k: k.pack_bits(np.array(1, np.uint8)),
    "unpack dtype": lambda k: k.unpack_bits(B8, 3),
    "unpack 0-d": lambda k: k.unpack_bits(np.array(1, np.uint64), 1),
    "unpack n too big": lambda k: k.unpack_bits(U[:2], 129),
    "unpack n negative": lambda k: k.unpack_bits(U[:2], -1),
    "unpack n float": lambda k: k.unpack_bits(U[:2], 3.0),
    "unpack n bool": lambda k: k.unpack_bits(U[:2], True),
    "band shapes": lambda k: k.band(U, U[:63]),
    "bxor dtype": lambda k: k.bxor(U, U.astype(np.int64)),
    "bxor out shape": lambda k: k.bxor(U, U, out=np.empty(63, np.uint64)),
    "bnot out dtype": lambda k: k.bnot(U, out=np.empty(64, np.uint8)),
    "transpose 63": lambda k: k.transpose64(U[:63]),
    "transpose 0-d": lambda k: k.transpose64(np.array(1, np.uint64)),
    "transpose 64x1": lambda k: k.transpose64(U.reshape(64, 1)),
    "transpose dtype": lambda k: k.transpose64(U.astype(np.int64)),
    "bitslice 2-d": lambda k: k.bitslice(U.reshape(8, 8)),
    "bitslice 0-d": lambda k: k.bitslice(np.array(1, np.uint64)),
    "bitslice dtype": lambda k: k.bitslice(B8),
    "unbitslice 65 planes": lambda k: k.unbitslice(np.zeros((65, 1), np.uint64), 1),
    "unbitslice 1-d": lambda k: k.unbitslice(U, 1),
    "unbitslice n too big": lambda k: k.unbitslice(U.reshape(2, 32), 64 * 32 + 1),
    "unbitslice n negative": lambda k: k.unbitslice(U.reshape(2, 32), -1),
    "gmw shapes": lambda k: k.gmw_and_combine(U, U, U, U, U[:3], True),
    "gmw dtype": lambda k: k.gmw_and_combine(U, U, U.astype(np.int64), U, U, False),
}


@pytest.mark.parametrize("case", list(BAD_CALLS))
def test_both_backends_reject_alike(case):
    assert_rejected_alike(BAD_CALLS[case], (REF, C))
