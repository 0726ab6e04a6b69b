"""The AES-128 circuit Tessera generates (mpc/engines/circuits_data/aes.py, shipped as aes128.txt):
its S-box against the definition, FIPS-197 Appendix B and C.1, the ``cryptography`` package's AES-ECB
on random keys and blocks, in the clear evaluator and under MPC (2 and 3 parties)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mpc
from mpc._core import get_kernels
from mpc.engines import bitplanes
from mpc.engines.bristol import PlainBits
from mpc.engines.circuits_data import aes
from mpc.engines.circuits_data.generate import FIPS197, aes_ecb
from mpc.testing import run_local

K = get_kernels()
HEADER = 40  # wire frame header bytes


def test_sbox_program_is_the_aes_sbox():
    ref = aes.aes128_reference_sbox()
    # FIPS-197 Figure 7, a few entries: the reference itself is right
    assert (ref[0x00], ref[0x01], ref[0x10], ref[0x53], ref[0x9A], ref[0xFF]) == (0x63, 0x7C, 0xCA, 0xED, 0xB8, 0x16)
    assert sorted(ref) == list(range(256))  # a permutation
    prog = aes.sbox_program()
    planes, _ = bitplanes.encode(K, "x", list(range(256)), 8)
    out = aes.run_program(PlainBits(), prog, list(planes))
    assert [int(v) for v in bitplanes.decode(K, np.stack(out), 256)] == list(ref)
    assert prog.count("AND") == 36 and sum(s[0] == "AND" for s in prog.steps) == 4  # 36 ANDs, AND depth 4


def test_circuit_shape_and_cost():
    c = mpc.bristol.load("aes128")
    assert (c.input_sizes, c.output_sizes) == ((128, 128), (128,))
    assert c.and_count == 200 * 36 == 7200 and c.and_depth == 40


@pytest.mark.parametrize(("key", "plain", "cipher"), FIPS197)
def test_fips197_vectors_in_the_clear(key, plain, cipher):
    c = mpc.bristol.load("aes128")
    (got,) = mpc.bristol.evaluate_clear(c, bytes.fromhex(key), bytes.fromhex(plain), as_bytes=True)
    assert got == [bytes.fromhex(cipher)]
    (as_int,) = mpc.bristol.evaluate_clear(c, int(key, 16), int(plain, 16))  # the same values as integers
    assert list(as_int) == [int(cipher, 16)]


@given(st.lists(st.tuples(st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16)),
                min_size=1, max_size=70))
def test_random_keys_and_blocks_in_the_clear_match_cryptography(pairs):
    pairs += [(bytes(16), bytes(16)), (b"\xff" * 16, b"\xff" * 16)]
    keys, blocks = [k for k, _ in pairs], [p for _, p in pairs]
    (got,) = mpc.bristol.evaluate_clear(mpc.bristol.load("aes128"), keys, blocks, as_bytes=True)
    assert got == [aes_ecb(k, p) for k, p in pairs]


@pytest.mark.parametrize(("n", "pre"), [(2, "local"), (3, "dealer")])
@pytest.mark.parametrize("engine", ["gmw", "spdz2k"])
def test_aes_under_mpc_key_from_one_party_plaintext_from_another(n, pre, engine):
    """Party 0 holds the keys, party n-1 the blocks; only party n-1 learns the ciphertexts. The AND
    triples are planned by a dry run and fetched before the online phase."""
    rng = np.random.default_rng(n)
    keys = [bytes.fromhex(k) for k, _, _ in FIPS197] + [rng.bytes(16) for _ in range(64)] + [bytes(16), b"\xff" * 16]
    blocks = [bytes.fromhex(p) for _, p, _ in FIPS197] + [rng.bytes(16) for _ in range(64)] + [bytes(16), b"\xff" * 16]
    count = len(keys)  # 68 blocks: two words per bit plane

    def main(party):
        circuit = mpc.bristol.load("aes128")
        key = party.input_bits(keys if party.pid == 0 else None, owner=0, n=count, width=128)
        block = party.input_bits(blocks if party.pid == n - 1 else None, owner=n - 1, n=count, width=128)
        party.preprocess(party.dry_run(lambda k, b: mpc.bristol.evaluate(circuit, k, b), key, block))
        before = party.stats()["dealer"]["messages_sent"] if pre == "dealer" else 0
        with party.section("aes"):
            (ct,) = mpc.bristol.evaluate(circuit, key, block)
        online_dealer = (party.stats()["dealer"]["messages_sent"] if pre == "dealer" else 0) - before
        cost = party.stats()["sections"]["aes"]
        return ct.reveal(to=n - 1, as_bytes=True), cost["rounds"], cost["bytes_sent"], online_dealer

    want = [aes_ecb(k, p) for k, p in zip(keys, blocks, strict=True)]
    assert want[:2] == [bytes.fromhex(c) for _, _, c in FIPS197]
    for pid, (ct, rounds, sent, online_dealer) in enumerate(run_local(main, n, engine=engine, preprocessing=pre)):
        assert ct == (want if pid == n - 1 else None)
        # 40 rounds (the AND depth); per peer, 2 words per AND gate and word of 64 blocks (spdz2k's
        # authenticated bits open the same d and e; their MAC check comes with the reveal)
        assert rounds == 40 and sent == (n - 1) * (40 * HEADER + 7200 * 16 * 2)
        assert online_dealer == 0


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("engine", ["gmw", "spdz2k"])
def test_one_key_many_blocks(n, engine):
    """A key of one element is broadcast to every block (local); ciphertexts as ints and bytes."""
    key = bytes.fromhex(FIPS197[0][0])
    blocks = [bytes([i]) * 16 for i in range(70)] + [bytes.fromhex(FIPS197[0][1])]

    def main(party):
        k = party.input_bits(key if party.pid == n - 1 else None, owner=n - 1, n=1, width=128)
        b = party.input_bits(blocks if party.pid == 0 else None, owner=0, n=len(blocks), width=128)
        (ct,) = mpc.bristol.evaluate(mpc.bristol.load("aes128"), k, b)
        return party.reveal(ct), ct.reveal(as_bytes=True)

    want = [aes_ecb(key, p) for p in blocks]
    assert want[-1] == bytes.fromhex(FIPS197[0][2])
    for ints, as_bytes in run_local(main, n, engine=engine):
        assert as_bytes == want and list(ints) == [int.from_bytes(c, "big") for c in want]
