"""Paillier (mpc.crypto.paillier): known answers, homomorphic properties, packing bound, validation.

Key sizes: the known-answer tests use p = 17, q = 19 (values checkable by hand); the property
tests use 512-bit keys. The algebra (CRT decryption, g = n + 1, homomorphisms, slot packing against
a modulus of a given size) is the same at every size; only the hardness of factoring differs, which
no functional test can observe. Packing is also checked at 2048 bits where the bound is tight.
"""

from __future__ import annotations

import math
import os

import gmpy2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mpc.crypto.paillier import (
    PrivateKey,
    PublicKey,
    SlotLayout,
    ciphertexts_from_bytes,
    ciphertexts_to_bytes,
    generate_keypair,
    multi_scalar_products,
    pool_pays,
    pool_size,
    powmod_many,
)
from mpc.errors import ConfigError, InputError, ProtocolError

M64 = (1 << 64) - 1


@pytest.fixture(scope="module")
def key512() -> PrivateKey:
    return generate_keypair(512)


# ----------------------------------------------------------------------------- known answers


def test_known_answer_small_primes():
    p, q = 17, 19
    key = PrivateKey(p, q)
    pub = key.public
    n, n2 = 323, 104329
    assert (pub.n, pub.n2) == (n, n2)
    # Enc(42; r = 23) = (1 + 42 n) 23^n mod n^2 = 35763 (definition with g = n + 1)
    c = pub.encrypt(42, r=23)
    assert c == (1 + 42 * n) * pow(23, n, n2) % n2 == 35763
    assert pow(n + 1, 42, n2) == (1 + 42 * n) % n2  # the g = n + 1 fast path is g^m
    # decryption by the textbook formula: lambda = lcm(16, 18) = 144, mu = L(g^lambda)^-1 mod n = 83
    lam = math.lcm(p - 1, q - 1)
    mu = pow((pow(n + 1, lam, n2) - 1) // n, -1, n)
    assert (lam, mu) == (144, 83)
    assert (pow(35763, lam, n2) - 1) // n * mu % n == 42
    assert key.decrypt(35763) == 42  # the CRT path agrees
    # Enc(100; 5) = 97892; the product of the two ciphertexts is 47672 = Enc(142; 23 * 5)
    c2 = pub.encrypt(100, r=5)
    assert c2 == 97892
    assert pub.add(c, c2) == 47672 == pub.encrypt(142, r=23 * 5 % n)
    assert key.decrypt(47672) == 142
    assert key.decrypt(pub.mul(c, 3)) == 126
    assert key.decrypt(pub.mul(c, -1)) == n - 42


def test_every_plaintext_of_a_tiny_key_round_trips():
    key = PrivateKey(17, 19)
    pub = key.public
    ms = list(range(pub.n))
    assert [int(x) for x in key.decrypt_many(pub.encrypt_many(ms))] == ms
    assert [int(x) for x in key.decrypt_many(key.encrypt_many(ms))] == ms


def test_key_holder_noise_is_an_nth_residue():
    """r^n by CRT: raising to the power lambda(n) gives 1 mod n^2 exactly for n-th residues."""
    key = PrivateKey(17, 19)
    lam = math.lcm(16, 18)
    for z in key.noise(50):
        assert pow(int(z), lam, 323 * 323) == 1
        assert gmpy2.gcd(z, 323) == 1


def test_keygen_sizes_and_errors():
    key = generate_keypair(256)
    assert key.public.bits == 256
    assert "p=" not in repr(key) and str(int(key._p)) not in repr(key)
    for bad in (255, 32, 0, "2048"):
        with pytest.raises(ConfigError):
            generate_keypair(bad)


# ----------------------------------------------------------------------------- homomorphic properties


@given(st.integers(min_value=0), st.integers(min_value=0), st.integers())
def test_homomorphic_add_and_scalar(key512, a, b, k):
    pub = key512.public
    a, b = a % pub.n, b % pub.n
    ca, cb = pub.encrypt(a), pub.encrypt(b)
    assert key512.decrypt(pub.add(ca, cb)) == (a + b) % pub.n
    assert key512.decrypt(pub.mul(ca, k)) == k * a % pub.n
    assert key512.decrypt(pub.add_plain(ca, b)) == (a + b) % pub.n
    r = pub.rerandomize(ca)
    assert r != ca and key512.decrypt(r) == a


def test_encryption_is_randomised(key512):
    pub = key512.public
    cs = pub.encrypt_many([7] * 4) + key512.encrypt_many([7] * 4)
    assert len(set(cs)) == 8
    assert [int(x) for x in key512.decrypt_many(cs)] == [7] * 8


def test_plaintext_range_is_checked(key512):
    pub = key512.public
    for bad in (-1, pub.n, pub.n + 5):
        with pytest.raises(InputError):
            pub.encrypt(bad)
        with pytest.raises(InputError):
            key512.encrypt_many([bad])


@given(st.data())
def test_multi_scalar_products_match_the_definition(key512, data):
    pub = key512.public
    m = data.draw(st.integers(1, 4))
    k = data.draw(st.integers(1, 5))
    exp_bits = data.draw(st.sampled_from([1, 8, 13, 64]))
    window = data.draw(st.sampled_from([None, 1, 3, 8]))
    xs = data.draw(st.lists(st.integers(0, M64), min_size=k, max_size=k))
    es = data.draw(st.lists(st.lists(st.integers(0, (1 << exp_bits) - 1), min_size=k, max_size=k),
                            min_size=m, max_size=m))
    cts = pub.encrypt_many(xs)
    as_numpy = data.draw(st.booleans())
    exps = np.array(es, dtype=np.uint64) if as_numpy else es
    out = multi_scalar_products(pub, cts, exps, exp_bits, window, table_budget=3 * pub.ct_bytes * 256)
    for i in range(m):
        naive = 1
        for c, e in zip(cts, es[i], strict=True):
            naive = naive * pow(int(c), e, int(pub.n2)) % int(pub.n2)
        assert out[i] == naive
        assert key512.decrypt(out[i]) == sum(e * x for e, x in zip(es[i], xs, strict=True)) % pub.n


def test_multi_scalar_products_rejects_bad_exponents(key512):
    pub = key512.public
    cts = pub.encrypt_many([1, 2])
    with pytest.raises(InputError):
        multi_scalar_products(pub, cts, [[1, 2, 3]])
    with pytest.raises(InputError):
        multi_scalar_products(pub, cts, [[1, 1 << 64]])
    with pytest.raises(InputError):
        multi_scalar_products(pub, cts, np.array([[1, 256]], dtype=np.uint64), exp_bits=8)
    with pytest.raises(InputError):
        multi_scalar_products(pub, cts, [[-1, 0]])


# ----------------------------------------------------------------------------- packing


@given(st.sampled_from([512, 1024, 2048, 3072]), st.integers(1, 1 << 40), st.sampled_from([0, 40, 80]))
def test_slot_bound_holds_for_any_k(bits, k, sigma):
    """The proved bound, evaluated exactly with Python integers at the largest inputs."""
    try:
        lay = SlotLayout.for_inner_products(bits, k, 64, sigma)
    except ConfigError:
        assert 129 + (k - 1).bit_length() + sigma > bits - 1
        return
    worst = k * M64 * M64 + (1 << lay.mask_bits) - 1
    assert worst < 1 << lay.slot_bits  # no slot carries into the next
    assert lay.slots * lay.slot_bits <= bits - 1  # the packed plaintext is below 2^(bits-1) <= n
    assert k * M64 * M64 < 1 << lay.value_bits  # the mask has sigma bits of headroom over the value
    assert lay.mask_bits - lay.value_bits == sigma


def test_layout_for_2048_bit_keys():
    assert SlotLayout.for_inner_products(2048, 256).slots == 11
    assert SlotLayout.for_inner_products(2048, 256).slot_bits == 177
    # 11 slots hold up to k = 2^17 (slot_bits 186 = floor(2047 / 11)); k = 2^17 + 1 needs 187 bits
    assert SlotLayout.for_inner_products(2048, 1 << 17).slots == 11
    assert SlotLayout.for_inner_products(2048, (1 << 17) + 1).slots == 10


def _max_case(key: PrivateKey, k: int, sigma: int, b_val: int, a_val: int, r_val: int | None):
    """Decrypted slots of prod_l Enc(pack(b))^a * Enc(pack(r)) with every value at its edge."""
    pub = key.public
    lay = SlotLayout.for_inner_products(pub.bits, k, 64, sigma)
    s = lay.slots
    cts = key.encrypt_many([lay.pack([b_val] * s)] * k)
    (prod,) = multi_scalar_products(pub, cts, [[a_val] * k])
    r = (1 << lay.mask_bits) - 1 if r_val is None else r_val
    packed_r = lay.pack([r] * s)
    assert packed_r < pub.n
    total = pub.add(prod, pub.encrypt(packed_r))
    return lay, lay.unpack(key.decrypt(total)), k * a_val * b_val + r


@pytest.mark.parametrize("b_val,a_val,r_val", [(M64, M64, None), (0, M64, None), (M64, 0, 0), (0, 0, 0), (M64, M64, 0)])
def test_packing_never_overflows_at_the_tight_edge(key512, b_val, a_val, r_val):
    """512 bits, k = 2, sigma = 40: 3 slots of 170 bits fill 510 of n's 511 usable bits."""
    lay, slots, want = _max_case(key512, 2, 40, b_val, a_val, r_val)
    assert (lay.slots, lay.slot_bits) == (3, 170)
    assert [int(x) for x in slots] == [want] * 3
    assert all(int(x) & M64 == want & M64 for x in slots)


def test_packing_at_2048_bits_with_the_largest_k_for_11_slots():
    """k = 2^17 terms simulated by scalar multiplication: Enc(pack(b))^(k a) has the slot
    content of k products a * b; with the largest mask every slot is still exact."""
    key = generate_keypair(2048)
    pub = key.public
    k = 1 << 17
    lay = SlotLayout.for_inner_products(2048, k)
    assert (lay.slots, lay.slot_bits) == (11, 186)
    ct = key.encrypt_many([lay.pack([M64] * 11)])[0]
    prod = pub.mul(ct, k * M64)  # = sum over k terms of M64 * M64 in every slot
    r = (1 << lay.mask_bits) - 1
    got = lay.unpack(key.decrypt(pub.add(prod, pub.encrypt(lay.pack([r] * 11)))))
    assert [int(x) for x in got] == [k * M64 * M64 + r] * 11


def test_one_bit_less_per_slot_would_overflow(key512):
    """The bound is not loose by a bit: the same content in 169-bit slots carries over."""
    lay, slots, want = _max_case(key512, 2, 40, M64, M64, None)
    narrow = SlotLayout(lay.value_bits, lay.sigma, lay.slot_bits - 1, lay.slots)
    packed = sum(want << (j * narrow.slot_bits) for j in range(3))
    assert [int(x) for x in narrow.unpack(packed)] != [want] * 3


def test_pack_rejects_what_does_not_fit():
    lay = SlotLayout.for_inner_products(512, 2)
    with pytest.raises(InputError):
        lay.pack([0] * 4)
    with pytest.raises(InputError):
        lay.pack([1 << lay.slot_bits])
    with pytest.raises(InputError):
        lay.pack([-1])
    with pytest.raises(ConfigError):
        SlotLayout.for_inner_products(160, 2)


# ----------------------------------------------------------------------------- validation and bytes


def test_ciphertext_bytes_round_trip_and_validation(key512):
    pub = key512.public
    cts = pub.encrypt_many([0, 1, 12345])
    data = ciphertexts_to_bytes(pub, cts)
    assert len(data) == 3 * pub.ct_bytes == 3 * 128
    assert ciphertexts_from_bytes(pub, data, 3) == cts
    with pytest.raises(ProtocolError):
        ciphertexts_from_bytes(pub, data[:-1], 3)
    with pytest.raises(ProtocolError):
        ciphertexts_from_bytes(pub, data, 2)
    w = pub.ct_bytes
    p = int(key512._p)
    for bad in (0, int(pub.n), p, p * 7, int(pub.n2) - int(pub.n)):  # not units of Z_(n^2)
        blob = data[:w] + bad.to_bytes(w, "big") + data[2 * w:]
        with pytest.raises(ProtocolError, match="Z\\*"):
            ciphertexts_from_bytes(pub, blob, 3)
        with pytest.raises(ProtocolError):
            key512.decrypt(bad)
    too_big = b"\xff" * w  # >= n^2
    with pytest.raises(ProtocolError):
        ciphertexts_from_bytes(pub, too_big, 1)
    assert pub.validate(1) == 1  # Enc(0; 1) is a valid ciphertext


@given(st.lists(st.sampled_from(["unit", "one", "top", "zero", "p", "q", "n", "n2", "neg"]), max_size=6))
def test_batch_validation_agrees_with_one_gcd_each(key512, kinds):
    """validate_many (one gcd for the product) accepts exactly when every value is in Z*_(n^2),
    as the per-value definition says (0 < c < n^2 and gcd(c, n) = 1), whatever the position of a
    bad value."""
    pub = key512.public
    n, n2, p, q = int(pub.n), int(pub.n2), int(key512._p), int(key512._q)
    value = {"unit": int(pub.encrypt(5)), "one": 1, "top": n2 - 1, "zero": 0, "p": p * 12345, "q": q,
             "n": n * 3, "n2": n2, "neg": -1}
    cs = [value[kind] for kind in kinds]
    ok = all(0 < c < n2 and math.gcd(c, n) == 1 for c in cs)
    if ok:
        assert pub.validate_many(cs) == cs
    else:
        with pytest.raises(ProtocolError, match="Z\\*"):
            pub.validate_many(cs)


@given(st.binary(max_size=40), st.lists(st.sampled_from(["one", "top", "random"]), max_size=4))
def test_ciphertext_bytes_after_a_prefix(key512, prefix, kinds):
    """One buffer: the prefix, then fixed-width big-endian ciphertexts (1 and n^2 - 1 at the edges),
    read back from a memoryview of the body."""
    pub = key512.public
    cts = [{"one": gmpy2.mpz(1), "top": pub.n2 - 1}.get(kind) or pub.encrypt(7) for kind in kinds]
    data = ciphertexts_to_bytes(pub, cts, prefix)
    assert bytes(data[:len(prefix)]) == prefix
    assert bytes(data[len(prefix):]) == b"".join(int(c).to_bytes(pub.ct_bytes, "big") for c in cts)
    assert ciphertexts_from_bytes(pub, memoryview(data)[len(prefix):], len(cts)) == cts


def test_public_key_bytes_and_validation(key512):
    pub = key512.public
    data = pub.to_bytes()
    assert len(data) == 64
    assert PublicKey.from_bytes(data, 512) == pub
    with pytest.raises(ProtocolError):
        PublicKey.from_bytes(data, 1024)
    with pytest.raises(ProtocolError):
        PublicKey.from_bytes(data[:-1] + bytes([data[-1] & 0xFE]), 512)  # even
    with pytest.raises(ProtocolError):
        PublicKey.from_bytes(int(gmpy2.next_prime(gmpy2.isqrt(1 << 511) + 1) ** 2).to_bytes(64, "big"), 512)  # square
    with pytest.raises(ProtocolError):
        PublicKey.from_bytes(b"\x00" + os.urandom(63), 512)  # too short a modulus


def test_worker_threads_give_the_same_results(key512):
    """workers > 1 only splits the work: same products, same plaintexts."""
    pub = key512.public
    xs = list(range(11))
    cts = key512.encrypt_many(xs, workers=3) + pub.encrypt_many(xs, workers=2)
    assert [int(x) for x in key512.decrypt_many(cts, workers=4)] == xs + xs
    assert powmod_many(cts, 65537, pub.n2, workers=3) == [pow(int(c), 65537, int(pub.n2)) for c in cts]
    exps = np.frombuffer(os.urandom(8 * 5 * 22), dtype=np.uint64).reshape(5, 22)
    one = multi_scalar_products(pub, cts, exps)
    assert multi_scalar_products(pub, cts, exps, workers=2) == one
    assert multi_scalar_products(pub, cts, exps, workers=8, table_budget=1) == one


def test_many_randomisers_come_from_a_pool_and_are_fresh_nth_residues(key512):
    """Past the break-even count the randomisers are pool products (powers_of_random): every one
    is still an n-th residue (an encryption of 0), all differ, and encryptions still decrypt;
    below it they are separate powers. Both for r^n (public key) and for the CRT path (key holder)."""
    pub = key512.public
    count = 300
    assert pool_pays(count, pub.bits, pool_size(pub.bits, count))
    assert not pool_pays(8, pub.bits, pool_size(pub.bits, 8))
    assert 8 * pool_size(pub.bits, count) >= pub.bits + 3 * 40 + 2 * 9 + 8
    for zs in (pub.noise(count), key512.noise(count)):
        assert len(set(zs)) == count
        assert all(int(x) == 0 for x in key512.decrypt_many(zs))
    ms = [(i * 0x9E3779B97F4A7C15) % int(pub.n) for i in range(count)]
    assert [int(x) for x in key512.decrypt_many(key512.encrypt_many(ms))] == ms
    assert [int(x) for x in key512.decrypt_many(pub.encrypt_many(ms))] == ms
