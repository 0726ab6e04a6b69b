"""The compiled Montgomery kernels (mpc._core._mont, csrc/montgomery.c) against gmpy2, bit for bit.

Both multiplications (portable CIOS, and AVX-512 IFMA where the CPU has it) on random odd moduli
of many sizes (1 word up to 4096 bits and a 6144-bit one: the Paillier n^2 of 2048- and 3072-bit
keys) and on edge inputs: bases 0, 1, N - 1 and >= N (reduced first), exponents 0, 1, 2^64 - 1,
windows 1..12, exp_bits below 64, tables split into chunks. Also: the Paillier functions give the
same results with the kernel as with gmpy2 alone (MPC_KERNELS=ref).
"""

from __future__ import annotations

import functools

import gmpy2
import numpy as np
import pytest
from gmpy2 import mpz
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mpc._core import _mont  # built by make build/make test: a missing build is an error, not a skip
from mpc.errors import InputError

ISAS = [isa for isa in ("portable", "ifma") if _mont.isa_supported(isa)]
M64 = (1 << 64) - 1


@pytest.fixture(params=ISAS)
def isa(request):
    _mont.set_isa(request.param)
    yield request.param
    _mont.set_isa("auto")


def _odd_modulus(data, min_bits=2, max_bits=4096):
    bits = data.draw(st.integers(min_bits, max_bits), label="bits")
    return mpz(data.draw(st.integers(1 << (bits - 1), (1 << bits) - 1), label="n")) | 1


def _prod_pow(bases, row, n):
    return functools.reduce(lambda u, v: u * v % n, [gmpy2.powmod(b, int(e), n) for b, e in zip(bases, row, strict=True)], mpz(1) % n)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mulmod_matches_gmpy2(isa, data):
    n = _odd_modulus(data)
    edge = st.sampled_from([0, 1, int(n) - 1, int(n), 2 * int(n) + 3])
    a = data.draw(st.one_of(st.integers(0, int(n) - 1), edge), label="a")
    b = data.draw(st.one_of(st.integers(0, int(n) - 1), edge), label="b")
    assert _mont.mulmod(a, b, n) == mpz(a) * b % n


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_powmod_matches_gmpy2(isa, data):
    n = _odd_modulus(data, max_bits=2048)
    e = data.draw(st.one_of(st.sampled_from([0, 1, 2, M64, int(n), int(n) - 1]), st.integers(0, 1 << 2100)), label="e")
    xs = data.draw(st.lists(st.integers(0, int(n) - 1), min_size=1, max_size=4), label="xs") + [0, 1, int(n) - 1]
    assert _mont.powmod(xs, e, n) == [gmpy2.powmod(x, e, n) for x in xs]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_multiexp_matches_gmpy2(isa, data):
    n = _odd_modulus(data, max_bits=1024)
    k = data.draw(st.integers(0, 6), label="k")
    m = data.draw(st.integers(1, 5), label="m")
    w = data.draw(st.integers(1, 12), label="w")
    exp_bits = data.draw(st.sampled_from([64, 64, 1, 17, 63]), label="exp_bits")
    top = (1 << exp_bits) - 1
    bases = data.draw(st.lists(st.one_of(st.integers(0, int(n) - 1), st.sampled_from([0, 1, int(n) - 1])),
                               min_size=k, max_size=k), label="bases")
    cell = st.one_of(st.integers(0, top), st.sampled_from([0, 1, top]))
    exps = np.array(data.draw(st.lists(st.lists(cell, min_size=k, max_size=k), min_size=m, max_size=m)),
                    dtype=np.uint64).reshape(m, k)
    budget = data.draw(st.sampled_from([1, 1 << 26]), label="table_budget")  # 1: one base per table chunk
    got = _mont.multiexp(bases, exps, n, w, exp_bits, budget)
    assert got == [_prod_pow([mpz(b) for b in bases], row, n) for row in exps.tolist()]


@pytest.mark.parametrize("bits", [2048, 4096, 6144])
def test_multiexp_and_powmod_at_paillier_sizes(isa, bits):
    """The sizes the matrix triples use (p^2, and n^2 of a 2048- and a 3072-bit key), random and extreme
    exponents: rows of 0, of 1 and of 2^64 - 1."""
    rng = np.random.default_rng(7)  # public test data, not secrets
    n = mpz(int.from_bytes(rng.bytes(bits // 8), "big")) | 1 | (mpz(1) << (bits - 1))
    bases = [mpz(int.from_bytes(rng.bytes(bits // 8), "big")) % n for _ in range(5)] + [mpz(1), n - 1]
    exps = rng.integers(0, 1 << 63, size=(4, 7), dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    exps[0], exps[1], exps[2] = 0, 1, M64
    assert _mont.multiexp(bases, exps, n, 8) == [_prod_pow(bases, row, n) for row in exps.tolist()]
    e = n >> (bits // 2)
    for count in (1, 2, 3, 7):  # pairs of bases run interleaved, an odd one alone
        assert _mont.powmod(bases[:count], e, n) == [gmpy2.powmod(b, e, n) for b in bases[:count]]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_multiexp_over_many_table_chunks_at_paillier_sizes(isa, data):
    """Straus over several table chunks (partial products per row and window kept across them),
    rows run in pairs: p^2- and n^2-sized moduli, bases 0, 1, n - 1 among random ones, exponent
    rows that are zero in some windows or in all, against gmpy2."""
    bits = data.draw(st.sampled_from([2048, 4096]), label="bits")
    n = mpz(data.draw(st.integers(1 << (bits - 1), (1 << bits) - 1), label="n")) | 1
    k = data.draw(st.integers(1, 9), label="k")
    m = data.draw(st.integers(1, 5), label="m")
    exp_bits = data.draw(st.sampled_from([8, 32, 64]), label="exp_bits")
    w = data.draw(st.sampled_from([3, 8]), label="w")
    top = (1 << exp_bits) - 1
    bases = data.draw(st.lists(st.one_of(st.integers(0, int(n) - 1), st.sampled_from([0, 1, int(n) - 1])),
                               min_size=k, max_size=k), label="bases")
    cell = st.one_of(st.integers(0, top), st.sampled_from([0, 1, top, 1 << (exp_bits - 1)]))
    exps = np.array(data.draw(st.lists(st.lists(cell, min_size=k, max_size=k), min_size=m, max_size=m)),
                    dtype=np.uint64).reshape(m, k)
    per_base = 8 * (bits // 52 + 8) << w  # about one base's table: chunks of 1 or 2 bases
    budget = data.draw(st.sampled_from([1, per_base, 2 * per_base]), label="table_budget")
    got = _mont.multiexp(bases, exps, n, w, exp_bits, budget)
    assert got == [_prod_pow([mpz(b) for b in bases], row, n) for row in exps.tolist()]


def test_bad_arguments_are_rejected():
    with pytest.raises(InputError, match="odd"):
        _mont.powmod([1], 3, 10)
    with pytest.raises(InputError, match="odd"):
        _mont.mulmod(1, 1, 1)
    with pytest.raises(InputError, match="uint64"):
        _mont.multiexp([3, 5], np.zeros((2, 3), dtype=np.uint64), 101, 4)
    with pytest.raises(InputError, match="window"):
        _mont.multiexp([3], np.zeros((1, 1), dtype=np.uint64), 101, 13)
    with pytest.raises(InputError, match="exponent outside"):
        _mont.multiexp([3], np.full((1, 1), 8, dtype=np.uint64), 101, 2, exp_bits=3)
    with pytest.raises(InputError, match="isa"):
        _mont.set_isa("sse9")


def test_paillier_functions_agree_with_and_without_the_kernel(monkeypatch):
    """multi_scalar_products, powmod_many and decryption through the kernel (when it is used on
    this CPU) equal the gmpy2 path (MPC_KERNELS=ref), workers 1 and 3."""
    from mpc.crypto.paillier import generate_keypair, montgomery_kernel, multi_scalar_products, powmod_many

    key = generate_keypair(512)
    pub = key.public
    cts = key.encrypt_many(range(9))
    exps = np.random.default_rng(3).integers(0, M64, size=(7, 9), dtype=np.uint64, endpoint=True)
    exps[0] = M64
    fast = [multi_scalar_products(pub, cts, exps, workers=w) for w in (1, 3)]
    pows = [powmod_many(cts, pub.n, pub.n2, workers=w) for w in (1, 3)]
    plain = [int(x) for x in key.decrypt_many(cts, workers=2)]
    monkeypatch.setenv("MPC_KERNELS", "ref")
    assert montgomery_kernel() is None
    assert fast[0] == fast[1] == multi_scalar_products(pub, cts, exps)
    assert pows[0] == pows[1] == powmod_many(cts, pub.n, pub.n2)
    assert plain == list(range(9))


def test_multiexp_takes_byte_exponents(isa):
    """uint8 exponents (exp_bits <= 8: the randomiser pools' digits) give the same products as
    the same values in uint64; uint8 with exp_bits > 8 is rejected."""
    n = mpz((1 << 521) - 1)  # odd (a Mersenne prime)
    bases = [mpz(3) ** i % n for i in range(1, 12)]
    e8 = np.array([[(i * 37 + j * 101) % 256 for j in range(11)] for i in range(5)], dtype=np.uint8)
    e8[0] = 255
    for w in (3, 8):
        got = _mont.multiexp(bases, e8, n, w, 8)
        assert got == _mont.multiexp(bases, e8.astype(np.uint64), n, w, 8)
        assert got == [_prod_pow(bases, row, n) for row in e8.tolist()]
    with pytest.raises(InputError, match="uint8"):
        _mont.multiexp(bases, e8, n, 4, 9)
