"""GF(2^64) and authenticated bit-word kernels (mpc._core._gf2k, on every instruction set this CPU
has: AVX-512 and portable), the Z_2^128 matrix product (mpc._core._ring.matmul128) and the spdz2k
matrix Beaver combine (auth_matmul_combine), against the NumPy reference.

The reference (mpc._core._ref) is the contract, so it is first checked against the definitions
written with Python integers (carry-less products reduced by X^64 + X^4 + X^3 + X + 1, the MAC
relations bit by bit); then every compiled kernel must equal it bit for bit on random inputs
(hypothesis) of awkward sizes, and both must reject the same bad arguments alike.
"""

from __future__ import annotations

import numpy as np
import pytest
from _kernel_helpers import assert_rejected_alike
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mpc._core import _gf2k, get_kernels
from mpc.errors import KernelError

C = get_kernels("c")  # not a skip: a missing extension fails the suite
REF = get_kernels("ref")
BACKENDS = [REF, C]
M64 = (1 << 64) - 1
POLY = (1 << 64) | 0b11011
WORD = st.one_of(st.sampled_from([0, 1, 2, 1 << 63, M64, 0x5555555555555555]), st.integers(0, M64))
SHAPES = st.sampled_from([(), (0,), (1,), (5,), (2, 3), (65,)])


def gf_mul(a: int, b: int) -> int:
    """The definition: carry-less product, then reduction by the field polynomial."""
    r = 0
    for i in range(64):
        if b >> i & 1:
            r ^= a << i
    for i in range(127, 63, -1):
        if r >> i & 1:
            r ^= POLY << (i - 64)
    return r


def words(draw, shape):
    return draw(hnp.arrays(np.uint64, shape, elements=WORD))


@pytest.fixture(scope="module", params=_gf2k.gf2k_isas())
def bits_isa(request):
    """Runs a test once per instruction set of the bit-word kernels (module scope: hypothesis
    allows no function-scoped fixture), restoring the automatic choice afterwards."""
    previous = _gf2k.set_gf2k_isa(request.param)
    assert _gf2k.gf2k_isa() == request.param
    yield request.param
    _gf2k.set_gf2k_isa(previous)


def test_isa_selection():
    assert "portable" in _gf2k.gf2k_isas()
    with pytest.raises(KernelError):
        _gf2k.set_gf2k_isa("sse9")


def test_compiled_backend_is_compiled():
    assert C.gf64_mul.__module__ == "mpc._core._gf2k"


@pytest.mark.usefixtures("bits_isa")
@settings(max_examples=40)
@given(data=st.data())
def test_mul_fold_dot_match_the_definitions_and_each_other(data):
    shape = data.draw(SHAPES)
    a, b = words(data.draw, shape), words(data.draw, shape)
    m = words(data.draw, (*shape, 64))
    want_mul = np.array([gf_mul(int(x), int(y)) for x, y in zip(a.reshape(-1), b.reshape(-1), strict=True)],
                        dtype=np.uint64).reshape(shape)
    want_fold = np.zeros(int(np.prod(shape)), dtype=np.uint64)
    for i, row in enumerate(m.reshape(-1, 64)):
        acc = 0
        for j in range(64):
            acc ^= gf_mul(int(row[j]), 1 << j)
        want_fold[i] = acc
    want_dot = 0
    for x, y in zip(a.reshape(-1), b.reshape(-1), strict=True):
        want_dot ^= gf_mul(int(x), int(y))
    for k in BACKENDS:
        np.testing.assert_array_equal(k.gf64_mul(a, b), want_mul)
        np.testing.assert_array_equal(k.gf64_fold(m), want_fold.reshape(shape))
        assert k.gf64_dot(a, b).tolist() == [want_dot]
    out = a.copy()
    assert C.gf64_mul(out, b, out=out) is out and np.array_equal(out, want_mul)  # in place


def bits_of(w: int) -> list[int]:
    return [w >> j & 1 for j in range(64)]


@pytest.mark.usefixtures("bits_isa")
@settings(max_examples=30)
@given(data=st.data(), delta=WORD, first=st.booleans())
def test_bauth_kernels_match_the_mac_relations(data, delta, first):
    shape = data.draw(st.sampled_from([(0,), (1,), (3,), (2, 2)]))
    c, a, b = (words(data.draw, (*shape, 66)) for _ in range(3))
    d, e = words(data.draw, shape), words(data.draw, shape)
    results = [(k.bauth_and(c, a, b, d, e, delta, first), k.bauth_xor_public(c, d, delta, first),
                k.bauth_and_public(c, d)) for k in BACKENDS]
    for got in results[1:]:
        for x, y in zip(results[0], got, strict=True):
            np.testing.assert_array_equal(x, y)
    z, xp, ap = results[0]
    for k in BACKENDS:  # the light kernels: the bits and the fold of the full ones, nothing else read of c
        c_light = c.copy()
        c_light[..., 1] = REF.gf64_fold(np.ascontiguousarray(c[..., 2:]))  # a triple's fold is its MACs' fold
        c_light[..., 2:] = 0
        np.testing.assert_array_equal(k.bauth_and_light(c_light, a, b, d, e, delta, first), z[..., :2])
        heads = np.ascontiguousarray(c_light[..., :2])  # c as light words (a triple's heads)
        np.testing.assert_array_equal(k.bauth_and_light(heads, a, b, d, e, delta, first), z[..., :2])
        np.testing.assert_array_equal(k.bauth_and_public_light(c, d), ap[..., :2])
        both = k.bauth_and_xor_public_light(c, d, delta, first)  # the two light leaves in one pass
        np.testing.assert_array_equal(both[0], ap[..., :2])
        np.testing.assert_array_equal(both[1], xp[..., :2])
    for idx in np.ndindex(*shape):
        cc, aa, bb, dd, ee = (int(v) for v in (c[idx][0], a[idx][0], b[idx][0], d[idx], e[idx]))
        assert int(z[idx][0]) == cc ^ (dd & bb) ^ (ee & aa) ^ ((dd & ee) if first else 0)
        macs = []
        for j, (dj, ej) in enumerate(zip(bits_of(dd), bits_of(ee), strict=True)):
            mj = int(c[idx][2 + j]) ^ (int(b[idx][2 + j]) if dj else 0) ^ (int(a[idx][2 + j]) if ej else 0)
            macs.append(mj ^ (delta if dj and ej else 0))
        assert [int(v) for v in z[idx][2:]] == macs
        for out in (z, ap):
            assert int(out[idx][1]) == int(REF.gf64_fold(out[idx][2:].copy())[()])  # the fold of its MACs
        assert int(xp[idx][0]) == cc ^ (dd if first else 0)
        assert [int(v) for v in xp[idx][2:]] == [int(c[idx][2 + j]) ^ (delta if dj else 0)
                                                 for j, dj in enumerate(bits_of(dd))]
        assert int(xp[idx][1]) == int(c[idx][1]) ^ gf_mul(dd, delta)
        assert int(ap[idx][0]) == cc & dd
        assert [int(v) for v in ap[idx][2:]] == [int(c[idx][2 + j]) if dj else 0 for j, dj in enumerate(bits_of(dd))]


def operand(gen, shape, wide, fill):
    """A 64-bit (uint64) or Z_2^128 ((..., 2)) matrix: random, all ones (every partial product and
    float64 term at its largest: the exactness edge), or alternating 0 and 2^64 - 1 words."""
    full = (*shape, 2) if wide else shape
    if fill == "max":
        return np.full(full, M64, dtype=np.uint64)
    if fill == "stripes":
        return (np.arange(int(np.prod(full)), dtype=np.uint64).reshape(full) % np.uint64(2)) * np.uint64(M64)
    return gen.integers(0, 1 << 64, full, dtype=np.uint64, endpoint=False)


@pytest.mark.parametrize("m, k, n", [(4, 300, 70), (40, 64, 16), (1, 520, 300), (33, 256, 9), (2, 3, 3),
                                     (2, 600, 3)])
@pytest.mark.parametrize("a_wide, b_wide", [(True, True), (True, False), (False, True), (False, False)])
@pytest.mark.parametrize("fill", ["random", "max", "stripes"])
def test_matmul128_matches_the_reference(m, k, n, a_wide, b_wide, fill):
    """Both paths of the compiled matmul128 (the uint64 and float64 products, with k-slices of 128
    and a partial last slice; the direct kernel for small products) equal the Python-integer
    reference bit for bit, on 64-bit and 128-bit operands and at the largest values."""
    from mpc._core import _ring

    products = m * n >= _ring.FLOAT_MIN_OUT and m * k * n >= _ring.FLOAT_MIN_MACS
    assert products == ((m, k, n) not in ((2, 3, 3), (2, 600, 3)))  # both paths are exercised
    gen = np.random.default_rng([m, k, n, a_wide, b_wide])
    a, b = operand(gen, (m, k), a_wide, fill), operand(gen, (k, n), b_wide, fill)
    want = REF.matmul128(a, b)
    got = C.matmul128(a, b)
    assert got.shape == (m, n, 2) and got.dtype == np.uint64
    np.testing.assert_array_equal(got, want)


@settings(max_examples=20, deadline=None)
@given(data=st.data(), n=st.integers(0, 200), delta=WORD, first=st.booleans())
def test_bauth_and_xor_public_light_is_the_two_light_kernels(data, n, delta, first):
    """The fused leaves kernel over any number of records (its blocks of 64 and a partial one):
    the light AND with public words and the light XOR with them, as the separate kernels give."""
    x, c = words(data.draw, (n, 66)), words(data.draw, (n,))
    for k in BACKENDS:
        got_and, got_xor = k.bauth_and_xor_public_light(x, c, delta, first)
        np.testing.assert_array_equal(got_and, REF.bauth_and_public_light(x, c))
        np.testing.assert_array_equal(got_xor, REF.bauth_xor_public(x, c, delta, first)[..., :2])


def consistent_records(bits: np.ndarray, delta: int) -> np.ndarray:
    """Records (..., 66) of words held by one party alone: every bit's MAC is bit * delta, the
    fold that of the MACs (the single-party sharing, where the MAC relation can be read off)."""
    out = np.zeros((*bits.shape, 66), dtype=np.uint64)
    out[..., 0] = bits
    out[..., 2:] = ((bits[..., None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)) * np.uint64(delta)
    out[..., 1] = REF.gf64_fold(np.ascontiguousarray(out[..., 2:]))
    return out


@pytest.mark.usefixtures("bits_isa")
@settings(max_examples=25, deadline=None)
@given(data=st.data(), pairs=st.integers(0, 3), w=st.integers(0, 70), delta=WORD)
def test_bauth_lt_pairs_light_is_the_tree_level_on_the_leaves(data, pairs, w, delta):
    """The comparison tree's first level from pair products: on records held by one party (MACs
    bit * delta, q = r_2t & r_2t+1), the bits are L = l_h ^ e_h & l_l and E = e_h & e_l of the
    leaves l = r & c, e = r ^ c, and each fold is delta times them; on arbitrary records (MACs
    and q unrelated to the bits) the compiled kernel equals the reference bit for bit."""
    bits = words(data.draw, (2 * pairs, w))
    c = words(data.draw, (2 * pairs, w))
    r = consistent_records(bits, delta)
    q = consistent_records(bits[0::2] & bits[1::2], delta)
    leaf_l, leaf_e = bits & c, bits ^ c
    want_l = leaf_l[1::2] ^ (leaf_e[1::2] & leaf_l[0::2])
    want_e = leaf_e[1::2] & leaf_e[0::2]
    for k in BACKENDS:
        big_l, big_e = k.bauth_lt_pairs_light(r, q, c, delta, True)
        assert big_l.shape == big_e.shape == (pairs, w, 2)
        np.testing.assert_array_equal(big_l[..., 0], want_l)
        np.testing.assert_array_equal(big_e[..., 0], want_e)
        for got, plain in ((big_l, want_l), (big_e, want_e)):
            np.testing.assert_array_equal(got[..., 1], REF.gf64_mul(plain, np.full(plain.shape, delta, np.uint64)))
        np.testing.assert_array_equal(k.bauth_lt_pairs_light(r, q, c, delta, False)[1][..., 0],
                                      want_e ^ (c[0::2] & c[1::2]))  # the constant's bits on party 0 only
    r_any, q_any = words(data.draw, (2 * pairs, w, 66)), words(data.draw, (pairs, w, 66))
    for got, want in zip(C.bauth_lt_pairs_light(r_any, q_any, c, delta, True),
                         REF.bauth_lt_pairs_light(r_any, q_any, c, delta, True), strict=True):
        np.testing.assert_array_equal(got, want)


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_bauth_mask_matches_the_definition(data):
    """bauth_mask: (x bits ^ a bits, x fold ^ a fold) per record, reading only the records' first
    two words, of BAUTH records or light words (a triple's heads): compiled == reference == the
    definition, into given outputs or fresh ones."""
    shape = data.draw(SHAPES)
    x, a = words(data.draw, (*shape, 2)), words(data.draw, (*shape, data.draw(st.sampled_from([66, 2]))))
    w_ref, f_ref = REF.bauth_mask(x, a)
    w, f = np.empty(shape, dtype=np.uint64), np.empty(shape, dtype=np.uint64)
    C.bauth_mask(x, a, w, f)
    for got, want in [(w, w_ref), (f, f_ref), *zip(C.bauth_mask(x, a), (w_ref, f_ref), strict=True)]:
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(w_ref, x[..., 0] ^ a[..., 0])
    np.testing.assert_array_equal(f_ref, x[..., 1] ^ a[..., 1])


@pytest.mark.usefixtures("bits_isa")
@settings(max_examples=30, deadline=None)
@given(data=st.data(), delta=WORD)
def test_bit_macs_xor_matches_the_definition(data, delta):
    """bit_macs_xor (the dealer's MAC shares of party n-1 for bit words): word j of a row is the
    given MAC word XOR Delta when bit j of the row's bit word is set, else the MAC word itself;
    compiled == reference == that, into a fresh output, a given one, and m itself."""
    shape = data.draw(SHAPES)
    w, m = words(data.draw, shape), words(data.draw, (*shape, 64))
    want = np.array([[int(mj) ^ (delta if int(wi) >> j & 1 else 0) for j, mj in enumerate(row)]
                     for wi, row in zip(w.reshape(-1), m.reshape(-1, 64), strict=True)],
                    dtype=np.uint64).reshape(m.shape)
    for k in BACKENDS:
        np.testing.assert_array_equal(k.bit_macs_xor(w, delta, m), want)
        out = np.empty_like(m)
        assert k.bit_macs_xor(w, delta, m, out=out) is out
        np.testing.assert_array_equal(out, want)
        same = m.copy()
        assert k.bit_macs_xor(w, delta, same, out=same) is same  # in place: out is m
        np.testing.assert_array_equal(same, want)


def _ints128(a: np.ndarray) -> list[int]:
    flat = a.reshape(-1, 2)
    return [int(lo) | int(hi) << 64 for lo, hi in flat]


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_auth_div_finish_is_the_lincomb_of_its_terms(data):
    """auth_div_finish: compiled == reference == the definition with Python integers: c the sum of
    the summands' low words, coef (1 - msb(c)) floor(2^64 / d), p c // d - floor(2^62 / d) mod
    2^64, z = coef r_msb + (2^64 - 1) r_high + p (p in party 0's value, alpha p in every MAC) mod
    2^128; divisors powers of two (a shift) and others, the largest words."""
    shape = data.draw(st.sampled_from([(0,), (1,), (5,), (2, 3), (17,)]))
    own, rest = words(data.draw, (*shape, 2)), words(data.draw, (*shape, 2))
    r_msb, r_high = words(data.draw, (*shape, 4)), words(data.draw, (*shape, 4))
    d = data.draw(st.one_of(st.integers(1, 63).map(lambda k: 1 << k), st.integers(2, 2**64 - 1)))
    alpha, first = data.draw(WORD), data.draw(st.booleans())
    want = REF.auth_div_finish(own, rest, r_msb, r_high, d, alpha, first)
    np.testing.assert_array_equal(C.auth_div_finish(own, rest, r_msb, r_high, d, alpha, first), want)
    m64, m128 = 1 << 64, 1 << 128
    for i in range(int(np.prod(shape))):
        c = (int(own.reshape(-1, 2)[i, 0]) + int(rest.reshape(-1, 2)[i, 0])) % m64
        coef = (0 if c >> 63 else 1) * (m64 // d)
        p = (c // d - (1 << 62) // d) % m64
        rm, rh = _ints128(r_msb.reshape(-1, 4)[i]), _ints128(r_high.reshape(-1, 4)[i])
        v = coef * rm[0] + (m64 - 1) * rh[0] + (p if first else 0)
        m = coef * rm[1] + (m64 - 1) * rh[1] + alpha * p
        assert _ints128(want.reshape(-1, 4)[i]) == [v % m128, m % m128]


def _trunc_pt(c: int, k: int) -> tuple[int, int]:
    """spdz2k's truncation's public part of an opened low word c of x + 2^62 + r, by its
    definition: P = (c >> k) - 2^(62-k) and T = (1 - msb(c)) 2^(64-k), both mod 2^64."""
    return ((c >> k) - (1 << (62 - k))) % (1 << 64), (0 if c >> 63 else 1) << (64 - k)


def _lincomb_ints(recs: list[np.ndarray], coefs: list[int], p: int, i: int, alpha: int, first: bool) -> list[int]:
    """[value, MAC] of element i of sum_t coefs[t] recs[t] + p (p in party 0's value, alpha p in
    every MAC) with Python integers mod 2^128, each coefficient taken mod 2^64."""
    v, m = (p if first else 0), alpha * p
    for r, c in zip(recs, coefs, strict=True):
        x = _ints128(r.reshape(-1, 4)[i])
        v, m = v + c % (1 << 64) * x[0], m + c % (1 << 64) * x[1]
    return [v % (1 << 128), m % (1 << 128)]


# the shifts a truncating product meets: 1, the fixed-point scales, k1 + k2 on both sides of 64
SHIFTS = st.one_of(st.sampled_from([1, 16, 31, 32, 33, 62]), st.integers(1, 62))


@settings(max_examples=60, deadline=None)
@given(data=st.data(), k1=SHIFTS, k2=st.one_of(st.just(0), SHIFTS), first=st.booleans(), alpha=WORD)
def test_auth_tmul_finish_is_the_lincomb_of_the_tmul_terms(data, k1, k2, first, alpha):
    """auth_tmul_finish: compiled == reference == the definition with Python integers: c1, c2 the
    sums of the summands' low words (x's half, then y's), P_j, T_j of each (P2 = c2 and no T2
    terms when k2 = 0), z = a1a2 - P2 a1 + P2 T1 m1 - P1 a2 - T1 m1a2 (+ P1 T2 m2 - T2 a1m2 +
    T1 T2 m1m2, m1m2 present exactly when k1 + k2 > 64) + P1 P2, on the largest words."""
    shape = data.draw(st.sampled_from([(), (0,), (1,), (5,), (2, 3), (17,)]))
    own, rest = words(data.draw, (2, *shape, 2)), words(data.draw, (2, *shape, 2))
    rec = lambda cond=True: words(data.draw, (*shape, 4)) if cond else None  # noqa: E731
    a1, m1, a2, m2, a1a2, m1a2, a1m2, m1m2 = (rec(), rec(), rec(), rec(k2 > 0), rec(), rec(), rec(k2 > 0),
                                              rec(k2 > 0 and k1 + k2 > 64))
    args = (own, rest, a1, m1, a2, m2, a1a2, m1a2, a1m2, m1m2, k1, k2, alpha, first)
    want = REF.auth_tmul_finish(*args)
    np.testing.assert_array_equal(C.auth_tmul_finish(*args), want)
    assert want.shape == (*shape, 4)
    for i in range(int(np.prod(shape))):
        c1, c2 = ((int(own[h].reshape(-1, 2)[i, 0]) + int(rest[h].reshape(-1, 2)[i, 0])) % (1 << 64) for h in (0, 1))
        p1, t1 = _trunc_pt(c1, k1)
        p2, t2 = _trunc_pt(c2, k2) if k2 else (c2, 0)
        recs, coefs = [a1a2, a1, m1, a2, m1a2], [1, -p2, p2 * t1, -p1, -t1]
        if k2:
            recs, coefs = recs + [m2, a1m2], coefs + [p1 * t2, -t2]
            if m1m2 is not None:
                recs, coefs = recs + [m1m2], coefs + [t1 * t2]
        assert _ints128(want.reshape(-1, 4)[i]) == _lincomb_ints(recs, coefs, p1 * p2 % (1 << 64), i, alpha, first)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), k=SHIFTS, first=st.booleans(), alpha=WORD)
def test_auth_tsquare_finish_is_the_lincomb_of_the_tsquare_terms(data, k, first, alpha):
    """auth_tsquare_finish: compiled == reference == the definition with Python integers:
    z = aa - 2P a - 2T am + (2PT + T^2) m + P^2 for P, T of the summands' low words' sum."""
    shape = data.draw(st.sampled_from([(), (0,), (1,), (5,), (2, 3), (17,)]))
    own, rest = words(data.draw, (*shape, 2)), words(data.draw, (*shape, 2))
    a, m, aa, am = (words(data.draw, (*shape, 4)) for _ in range(4))
    want = REF.auth_tsquare_finish(own, rest, a, m, aa, am, k, alpha, first)
    np.testing.assert_array_equal(C.auth_tsquare_finish(own, rest, a, m, aa, am, k, alpha, first), want)
    for i in range(int(np.prod(shape))):
        p, t = _trunc_pt((int(own.reshape(-1, 2)[i, 0]) + int(rest.reshape(-1, 2)[i, 0])) % (1 << 64), k)
        coefs = [1, -2 * p, -2 * t, 2 * p * t + t * t]
        assert _ints128(want.reshape(-1, 4)[i]) == _lincomb_ints([aa, a, am, m], coefs, p * p % (1 << 64), i, alpha,
                                                                 first)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_auth_lincomb_and_add_split_match_the_definition(data):
    """auth_lincomb (sum_t c_t x_t + p, p in party 0's value and alpha p in every MAC) and
    auth_add_split (x + a (+ c at party 0); MAC x_m + a_m + alpha c): compiled == reference ==
    the definition with Python integers mod 2^128, on array and integer coefficients, up to 16
    terms and the largest words."""
    shape = data.draw(st.sampled_from([(0,), (1,), (5,), (2, 3), (17,)]))
    terms = data.draw(st.integers(1, 16))
    xs = [words(data.draw, (*shape, 4)) for _ in range(terms)]
    coefs = [words(data.draw, shape) if data.draw(st.booleans()) else data.draw(WORD) for _ in range(terms)]
    p = words(data.draw, shape) if data.draw(st.booleans()) else None
    alpha, c, first = data.draw(WORD), data.draw(WORD), data.draw(st.booleans())
    want = REF.auth_lincomb(xs, coefs, p, alpha, first)
    np.testing.assert_array_equal(C.auth_lincomb(xs, coefs, p, alpha, first), want)
    size = int(np.prod(shape))
    m128 = 1 << 128
    for i in range(size):
        v = m = 0
        for x, cf in zip(xs, coefs, strict=True):
            rec = _ints128(x.reshape(-1, 4)[i])
            k = int(cf.reshape(-1)[i]) if isinstance(cf, np.ndarray) else cf
            v, m = v + k * rec[0], m + k * rec[1]
        if p is not None:
            pi = int(p.reshape(-1)[i])
            v, m = v + (pi if first else 0), m + alpha * pi
        assert _ints128(want.reshape(-1, 4)[i]) == [v % m128, m % m128]
    x, a = words(data.draw, (*shape, 4)), words(data.draw, (*shape, 4))
    ref_v, ref_m = REF.auth_add_split(x, a, c, alpha, first)
    got_v, got_m = np.empty((*shape, 2), dtype=np.uint64), np.empty((*shape, 2), dtype=np.uint64)
    C.auth_add_split(x, a, c, alpha, first, got_v, got_m)
    np.testing.assert_array_equal(got_v, ref_v)
    np.testing.assert_array_equal(got_m, ref_m)
    for i in range(size):
        xi, ai = _ints128(x.reshape(-1, 4)[i]), _ints128(a.reshape(-1, 4)[i])
        assert _ints128(ref_v.reshape(-1, 2)[i])[0] == (xi[0] + ai[0] + (c if first else 0)) % m128
        assert _ints128(ref_m.reshape(-1, 2)[i])[0] == (xi[1] + ai[1] + alpha * c) % m128


EDGE_WORDS = [0, 1, 1 << 63, M64, 0xFFFFFFFF, 1 << 32, 0xFFFFFF]  # lo/hi words: 2^127 = (0, 2^63)


def _auth_matmul_definition(c, a, b, d, e, alpha, first):
    """c + d (b + e) + a e with Python integers mod 2^128: value d (b.v + [first] e) + a.v e, MAC
    d (b.m + alpha e) + a.m e."""
    m, k = d.shape
    n = e.shape[1]
    m128 = 1 << 128

    def rec(x, i, j):
        return _ints128(x[i, j])

    out = np.empty((m, n, 4), dtype=np.uint64)
    for i in range(m):
        for j in range(n):
            cv, cm = rec(c, i, j)
            v, mac = cv, cm
            for p in range(k):
                dd, ee = int(d[i, p]), int(e[p, j])
                bv, bm = rec(b, p, j)
                av, am = rec(a, i, p)
                v += dd * (bv + (int(e[p, j]) if first else 0)) + av * ee
                mac += dd * (bm + alpha * int(e[p, j])) + am * ee
            v, mac = v % m128, mac % m128
            out[i, j] = [v & M64, v >> 64, mac & M64, mac >> 64]
    return out


@pytest.mark.parametrize("m, k, n", [(1, 1, 1), (3, 7, 2), (2, 300, 3), (0, 4, 2), (2, 0, 3), (3, 4, 0)])
@pytest.mark.parametrize("fill", ["random", "max", "stripes", "top"])
def test_auth_matmul_combine_matches_python_ints(m, k, n, fill):
    """auth_matmul_combine (the spdz2k matrix Beaver combine): compiled == reference == the
    definition with Python integers mod 2^128, with a partial k-slice past 256, empty dimensions
    and the largest words (every partial product and carry at its largest; 2^127 and 2^128 - 1 as
    records' halves), at party 0 and at another party."""
    gen = np.random.default_rng([m, k, n, len(fill)])

    def mat(*shape):
        if fill == "top":  # value halves 2^127, MAC halves 2^128 - 1, 64-bit words 2^63
            x = np.zeros(shape, dtype=np.uint64)
            if shape[-1] == 4:
                x[..., 1], x[..., 2], x[..., 3] = 1 << 63, M64, M64
            else:
                x[...] = 1 << 63
            return x
        return operand(gen, shape, False, fill)

    c, a, b, d, e = mat(m, n, 4), mat(m, k, 4), mat(k, n, 4), mat(m, k), mat(k, n)
    for alpha, first in [(M64, True), (int(gen.integers(0, 1 << 63)), False), (0, True)]:
        want = REF.auth_matmul_combine(c, a, b, d, e, alpha, first)
        np.testing.assert_array_equal(C.auth_matmul_combine(c, a, b, d, e, alpha, first), want)
        if m * n * k <= 64:
            np.testing.assert_array_equal(want, _auth_matmul_definition(c, a, b, d, e, alpha, first))


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_auth_matmul_combine_on_random_inputs(data):
    """auth_matmul_combine on random shapes and words (edge words mixed in): compiled ==
    the Python-integer definition."""
    m, k, n = (data.draw(st.integers(0, 4)) for _ in range(3))
    word = st.one_of(st.sampled_from(EDGE_WORDS), st.integers(0, M64))

    def mat(*shape):
        return np.array(data.draw(st.lists(word, min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))),
                        dtype=np.uint64).reshape(shape)

    c, a, b, d, e = mat(m, n, 4), mat(m, k, 4), mat(k, n, 4), mat(m, k), mat(k, n)
    alpha, first = data.draw(word), data.draw(st.booleans())
    np.testing.assert_array_equal(C.auth_matmul_combine(c, a, b, d, e, alpha, first),
                                  _auth_matmul_definition(c, a, b, d, e, alpha, first))


BIG_WORDS = [M64, M64 - 1, 1 << 63, (1 << 63) - 1, 0xFFFFFFFF << 32, (1 << 32) - 1, 1 << 32, 0]
SLICE_KS = st.sampled_from([127, 128, 129, 256, 300])  # the float64 products' k-slices are 128


def edge_matrix(data, gen, shape):
    """Words from the largest magnitudes (2^64 - 1, 2^63, halves of 2^32 - 1 and 2^32, whose
    products put Q's low word next to a carry), random ones, both mixed, or all 2^64 - 1."""
    fill = data.draw(st.sampled_from(["edges", "mixed", "max", "random"]))
    if fill == "max":
        return np.full(shape, M64, dtype=np.uint64)
    rand = gen.integers(0, 1 << 64, shape, dtype=np.uint64, endpoint=False)
    if fill == "random":
        return rand
    edges = np.array(BIG_WORDS, dtype=np.uint64)[gen.integers(0, len(BIG_WORDS), shape)]
    return edges if fill == "edges" else np.where(gen.integers(0, 2, shape).astype(bool), edges, rand)


@settings(max_examples=40, deadline=None)
@given(k=SLICE_KS, data=st.data())
def test_auth_matmul_combine_recovers_every_high_word_across_slices(k, data):
    """The float64 recovery of each k-slice's high words (at most 128 terms per slice, csrc/ring128.c)
    at the slice edges and past them, on edge and random words (:func:`edge_matrix`): compiled ==
    the Python-integer reference bit for bit."""
    m, n = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    gen = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    c, a, b = (edge_matrix(data, gen, shape) for shape in ((m, n, 4), (m, k, 4), (k, n, 4)))
    d, e = edge_matrix(data, gen, (m, k)), edge_matrix(data, gen, (k, n))
    alpha = data.draw(st.one_of(st.sampled_from(BIG_WORDS), st.integers(0, M64)))
    first = data.draw(st.booleans())
    np.testing.assert_array_equal(C.auth_matmul_combine(c, a, b, d, e, alpha, first),
                                  REF.auth_matmul_combine(c, a, b, d, e, alpha, first))


@settings(max_examples=40, deadline=None)
@given(k=SLICE_KS, a_wide=st.booleans(), b_wide=st.booleans(), data=st.data())
def test_matmul128_float_path_recovers_every_high_word_across_slices(k, a_wide, b_wide, data):
    """matmul128's uint64 + float64 path (17 x k x 16: past its thresholds) at and past the k-slice
    edges, 64-bit and 128-bit operands, edge and random words: compiled == the reference."""
    from mpc._core import _ring

    m, n = 17, 16
    assert m * n >= _ring.FLOAT_MIN_OUT and m * k * n >= _ring.FLOAT_MIN_MACS
    gen = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    a = edge_matrix(data, gen, (m, k, 2) if a_wide else (m, k))
    b = edge_matrix(data, gen, (k, n, 2) if b_wide else (k, n))
    np.testing.assert_array_equal(C.matmul128(a, b), REF.matmul128(a, b))


@pytest.mark.parametrize("call", [
    lambda k: k.matmul128(np.zeros((2, 3, 2), dtype=np.uint64), np.zeros((4, 2, 2), dtype=np.uint64)),
    lambda k: k.matmul128(np.zeros((2, 3, 3), dtype=np.uint64), np.zeros((3, 2), dtype=np.uint64)),
    lambda k: k.gf64_mul(np.zeros(3, dtype=np.uint64), np.zeros(4, dtype=np.uint64)),
    lambda k: k.gf64_fold(np.zeros((3, 63), dtype=np.uint64)),
    lambda k: k.gf64_dot(np.zeros(3, dtype=np.uint64), np.zeros(3, dtype=np.int64)),
    lambda k: k.bauth_and(*(np.zeros((2, 66), dtype=np.uint64),) * 3, np.zeros(3, dtype=np.uint64),
                          np.zeros(2, dtype=np.uint64), 1, True),
    lambda k: k.bauth_xor_public(np.zeros((2, 65), dtype=np.uint64), np.zeros(2, dtype=np.uint64), 1, True),
    lambda k: k.bauth_and_public(np.zeros((2, 66), dtype=np.uint64), np.zeros((2, 1), dtype=np.uint64)),
    lambda k: k.bauth_and_light(*(np.zeros((2, 66), dtype=np.uint64),) * 3, np.zeros(2, dtype=np.uint64),
                                np.zeros(2, dtype=np.int64), 1, True),
    lambda k: k.bauth_and_public_light(np.zeros((2, 66), dtype=np.uint8), np.zeros(2, dtype=np.uint64)),
    lambda k: k.bauth_and_light(np.zeros((3, 2), dtype=np.uint64), *(np.zeros((2, 66), dtype=np.uint64),) * 2,
                                np.zeros(2, dtype=np.uint64), np.zeros(2, dtype=np.uint64), 1, True),
    lambda k: k.bauth_and(np.zeros((2, 2), dtype=np.uint64), *(np.zeros((2, 66), dtype=np.uint64),) * 2,
                          np.zeros(2, dtype=np.uint64), np.zeros(2, dtype=np.uint64), 1, True),
    lambda k: k.bauth_and_xor_public_light(np.zeros((2, 66), dtype=np.uint64), np.zeros(3, dtype=np.uint64), 1, True),
    lambda k: k.bauth_lt_pairs_light(np.zeros((3, 2, 66), dtype=np.uint64), np.zeros((1, 2, 66), dtype=np.uint64),
                                     np.zeros((3, 2), dtype=np.uint64), 1, True),
    lambda k: k.bauth_lt_pairs_light(np.zeros((2, 2, 66), dtype=np.uint64), np.zeros((1, 3, 66), dtype=np.uint64),
                                     np.zeros((2, 2), dtype=np.uint64), 1, True),
    lambda k: k.bauth_lt_pairs_light(np.zeros((2, 2, 66), dtype=np.uint64), np.zeros((1, 2, 66), dtype=np.uint64),
                                     np.zeros((2, 3), dtype=np.uint64), 1, True),
    lambda k: k.auth_beaver_combine(*(np.zeros((3, 4), dtype=np.uint64),) * 3, np.zeros(3, dtype=np.uint64),
                                    np.zeros((3, 2), dtype=np.uint64), 1, True),
    lambda k: k.auth_square_combine(*(np.zeros((3, 4), dtype=np.uint64),) * 2, np.zeros(4, dtype=np.uint64), 1, True),
    lambda k: k.auth_sub_split_planar(*(np.zeros((3, 4), dtype=np.uint64),) * 2, np.zeros(3, dtype=np.uint64),
                                      np.zeros(4, dtype=np.uint64)),
    lambda k: k.dot128_64_planar(np.zeros(3, dtype=np.uint64), np.zeros(2, dtype=np.uint64), np.zeros(3, dtype=np.uint64)),
    lambda k: k.bauth_mask(np.zeros((3, 2), dtype=np.uint64), np.zeros((3, 65), dtype=np.uint64)),
    lambda k: k.bauth_mask(np.zeros((3, 3), dtype=np.uint64), np.zeros((3, 66), dtype=np.uint64)),
    lambda k: k.bauth_mask(np.zeros((3, 2), dtype=np.uint64), np.zeros((4, 2), dtype=np.uint64)),
    lambda k: k.bit_macs_xor(np.zeros(3, dtype=np.uint64), 1, np.zeros((3, 63), dtype=np.uint64)),
    lambda k: k.bit_macs_xor(np.zeros(3, dtype=np.uint64), 1, np.zeros((2, 64), dtype=np.uint64)),
    lambda k: k.bit_macs_xor(np.zeros(3, dtype=np.uint64), 1.5, np.zeros((3, 64), dtype=np.uint64)),
    lambda k: k.bit_macs_xor(np.zeros(3, dtype=np.uint64), 1, np.zeros((3, 64), dtype=np.uint64),
                             np.zeros((3, 65), dtype=np.uint64)),
    lambda k: k.auth_lincomb([], [], None, 1, True),
    lambda k: k.auth_lincomb([np.zeros((3, 4), dtype=np.uint64)] * 17, [1] * 17, None, 1, True),
    lambda k: k.auth_lincomb([np.zeros((3, 4), dtype=np.uint64)], [np.zeros(2, dtype=np.uint64)], None, 1, True),
    lambda k: k.auth_lincomb([np.zeros((3, 4), dtype=np.uint64), np.zeros((2, 4), dtype=np.uint64)], [1, 1], None,
                             1, True),
    lambda k: k.auth_lincomb([np.zeros((3, 3), dtype=np.uint64)], [1], None, 1, True),
    lambda k: k.auth_lincomb([np.zeros((3, 4), dtype=np.uint64)], [1.5], None, 1, True),
    lambda k: k.auth_lincomb([np.zeros((3, 4), dtype=np.uint64)], [1], np.zeros(4, dtype=np.uint64), 1, True),
    lambda k: k.auth_add_split(np.zeros((3, 4), dtype=np.uint64), np.zeros((2, 4), dtype=np.uint64), 1, 1, True),
    lambda k: k.auth_div_finish(*(np.zeros((3, 2), dtype=np.uint64),) * 2, *(np.zeros((3, 4), dtype=np.uint64),) * 2,
                                1, 1, True),
    lambda k: k.auth_div_finish(*(np.zeros((3, 2), dtype=np.uint64),) * 2, *(np.zeros((3, 4), dtype=np.uint64),) * 2,
                                1 << 64, 1, True),
    lambda k: k.auth_div_finish(*(np.zeros((3, 2), dtype=np.uint64),) * 2, *(np.zeros((3, 4), dtype=np.uint64),) * 2,
                                2.0, 1, True),
    lambda k: k.auth_div_finish(np.zeros((3, 2), dtype=np.uint64), np.zeros((2, 2), dtype=np.uint64),
                                *(np.zeros((3, 4), dtype=np.uint64),) * 2, 4, 1, True),
    lambda k: k.auth_div_finish(*(np.zeros((3, 2), dtype=np.uint64),) * 2, np.zeros((3, 4), dtype=np.uint64),
                                np.zeros((3, 2), dtype=np.uint64), 4, 1, True),
    # auth_tmul_finish: m2/a1m2 without k2, none with k2, m1m2 where k1 + k2 <= 64, own not (2, *shape, 2),
    # a record of another shape, a shift out of range; auth_tsquare_finish: k = 0, own of another shape
    lambda k: k.auth_tmul_finish(*(np.zeros((2, 3, 2), dtype=np.uint64),) * 2, *(np.zeros((3, 4), dtype=np.uint64),) * 8,
                                 8, 0, 1, True),
    lambda k: k.auth_tmul_finish(*(np.zeros((2, 3, 2), dtype=np.uint64),) * 2, *(np.zeros((3, 4), dtype=np.uint64),) * 3,
                                 None, *(np.zeros((3, 4), dtype=np.uint64),) * 2, None, None, 8, 8, 1, True),
    lambda k: k.auth_tmul_finish(*(np.zeros((2, 3, 2), dtype=np.uint64),) * 2, *(np.zeros((3, 4), dtype=np.uint64),) * 8,
                                 8, 8, 1, True),
    lambda k: k.auth_tmul_finish(*(np.zeros((3, 2), dtype=np.uint64),) * 2, *(np.zeros((3, 4), dtype=np.uint64),) * 3,
                                 None, *(np.zeros((3, 4), dtype=np.uint64),) * 2, None, None, 8, 0, 1, True),
    lambda k: k.auth_tmul_finish(*(np.zeros((2, 3, 2), dtype=np.uint64),) * 2, *(np.zeros((3, 4), dtype=np.uint64),) * 2,
                                 np.zeros((2, 4), dtype=np.uint64), None, *(np.zeros((3, 4), dtype=np.uint64),) * 2,
                                 None, None, 8, 0, 1, True),
    lambda k: k.auth_tmul_finish(*(np.zeros((2, 3, 2), dtype=np.uint64),) * 2, *(np.zeros((3, 4), dtype=np.uint64),) * 3,
                                 None, *(np.zeros((3, 4), dtype=np.uint64),) * 2, None, None, 63, 0, 1, True),
    lambda k: k.auth_tsquare_finish(*(np.zeros((3, 2), dtype=np.uint64),) * 2, *(np.zeros((3, 4), dtype=np.uint64),) * 4,
                                    0, 1, True),
    lambda k: k.auth_tsquare_finish(np.zeros((3, 2), dtype=np.uint64), np.zeros((2, 2), dtype=np.uint64),
                                    *(np.zeros((3, 4), dtype=np.uint64),) * 4, 8, 1, True),
    lambda k: k.auth_beaver_combine(*(np.zeros((3, 4), dtype=np.uint64),) * 3, *(np.zeros((3, 2), dtype=np.uint64),) * 2,
                                    1, True, np.zeros((3, 2), dtype=np.uint64), None),
    lambda k: k.auth_beaver_combine(*(np.zeros((3, 4), dtype=np.uint64),) * 3, *(np.zeros((3, 2), dtype=np.uint64),) * 2,
                                    1, True, np.zeros((3, 2), dtype=np.uint64), np.zeros((2, 2), dtype=np.uint64)),
    lambda k: k.auth_matmul_combine(*(np.zeros(s, dtype=np.uint64) for s in [(2, 3, 4), (2, 5, 4), (5, 3, 4), (2, 5),
                                                                            (4, 3)]), 1, True),
    lambda k: k.auth_matmul_combine(*(np.zeros(s, dtype=np.uint64) for s in [(2, 3, 4), (2, 5, 4), (5, 3, 2), (2, 5),
                                                                            (5, 3)]), 1, True),
    lambda k: k.auth_matmul_combine(*(np.zeros(s, dtype=np.uint64) for s in [(2, 3, 4), (2, 5, 4), (5, 3, 4), (2, 5, 1),
                                                                            (5, 3)]), 1, True),
    lambda k: k.auth_matmul_combine(*(np.zeros(s, dtype=np.uint64) for s in [(3, 3, 4), (2, 5, 4), (5, 3, 4), (2, 5),
                                                                            (5, 3)]), 1, True),
])
def test_bad_arguments_are_rejected_alike(call):
    assert_rejected_alike(call, BACKENDS)


def low(v: np.ndarray) -> np.ndarray:
    """The low words of Z_2^128 values: what a planar opening sends first."""
    return np.ascontiguousarray(v[..., 0])


@settings(max_examples=30, deadline=None)
@given(data=st.data(), n=st.integers(0, 70), first=st.booleans(), alpha=WORD)
def test_planar_openings_are_the_interleaved_ones(data, n, first, alpha):
    """A Beaver opening sent planar (low words, then high words): the masking writes the words of
    auth_sub_split, apart; the combines given the low words alone (and the rest's low words) equal
    them given the Z_2^128 values, since they read D mod 2^64; dot128_64_planar is dot128_64;
    every backend alike."""
    x, a, b, c = (words(data.draw, (n, 4)) for _ in range(4))
    d, e, d2, e2 = (words(data.draw, (n, 2)) for _ in range(4))
    chi = words(data.draw, (n,))
    vals, macs = REF.auth_sub_split(x, a)
    for k in BACKENDS:
        lo, hi, mac = k.auth_sub_split_planar(x, a)
        for got, want in [(lo, vals[:, 0]), (hi, vals[:, 1]), (mac, macs)]:
            np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(k.auth_beaver_combine(c, a, b, low(d), low(e), alpha, first, low(d2), low(e2)),
                                      REF.auth_beaver_combine(c, a, b, d, e, alpha, first, d2, e2))
        np.testing.assert_array_equal(k.auth_beaver_combine(c, a, b, low(d), low(e), alpha, first),
                                      REF.auth_beaver_combine(c, a, b, d, e, alpha, first))
        np.testing.assert_array_equal(k.auth_square_combine(c, a, low(d), alpha, first, low(d2)),
                                      REF.auth_square_combine(c, a, d, alpha, first, d2))
        np.testing.assert_array_equal(k.dot128_64_planar(low(d), np.ascontiguousarray(d[:, 1]), chi),
                                      REF.dot128_64(d, chi))


@pytest.mark.parametrize("n", [(1 << 19) - 1, (1 << 19) + 5])
def test_auth_kernels_on_both_sides_of_the_streaming_threshold(n):
    """From 2^19 elements (MPC_STREAM_MIN) the masking and the combines write with non-temporal
    stores: the same words as the reference on both sides, from misaligned inputs (odd offsets)."""
    rng = np.random.default_rng(n)

    def rec():
        return rng.integers(0, 2**64, size=(n + 1, 4), dtype=np.uint64, endpoint=False)[1:]

    def opened():
        return rng.integers(0, 2**64, size=(n + 1, 2), dtype=np.uint64, endpoint=False)[1:]

    x, a, b, c = rec(), rec(), rec(), rec()
    d, e, d2, e2 = opened(), opened(), opened(), opened()
    alpha = int(rng.integers(0, 2**63))
    for got, want in zip(C.auth_sub_split(x, a), REF.auth_sub_split(x, a), strict=True):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(C.auth_sub_split_planar(x, a), REF.auth_sub_split_planar(x, a), strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(C.auth_beaver_combine(c, a, b, low(d), low(e), alpha, True, low(d2), low(e2)),
                                  REF.auth_beaver_combine(c, a, b, d, e, alpha, True, d2, e2))
    for first in (False, True):
        np.testing.assert_array_equal(C.auth_beaver_combine(c, a, b, d, e, alpha, first, d2, e2),
                                      REF.auth_beaver_combine(c, a, b, d, e, alpha, first, d2, e2))
        np.testing.assert_array_equal(C.auth_beaver_combine(c, a, b, d, e, alpha, first),
                                      REF.auth_beaver_combine(c, a, b, d, e, alpha, first))
        np.testing.assert_array_equal(C.auth_square_combine(c, a, d, alpha, first, d2),
                                      REF.auth_square_combine(c, a, d, alpha, first, d2))
