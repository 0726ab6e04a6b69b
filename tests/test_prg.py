"""The AES-CTR PRG: determinism, independence, uniformity, shared-seed agreement."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mpc.prg import PRG, SEED_BYTES, new_seed
from mpc.testing import run_local

seeds = st.binary(min_size=SEED_BYTES, max_size=SEED_BYTES)


@given(seeds, st.lists(st.integers(0, 300), min_size=1, max_size=5))
def test_same_seed_same_stream_regardless_of_chunking(seed, sizes):
    whole = PRG(seed).uint64(sum(sizes))
    g = PRG(seed)
    parts = np.concatenate([g.uint64(s) for s in sizes])
    assert np.array_equal(whole, parts)


@given(seeds, st.lists(st.sampled_from([0, 1, 7, 8, 15, 16, 17, (1 << 18) - 1, 1 << 18, (1 << 18) + 9, 3 << 18]),
                      min_size=1, max_size=3))
def test_draws_across_the_internal_block_are_the_aes_ctr_keystream(seed, sizes):
    """Draws are cut internally into blocks of 256 KiB of zeros (mpc.prg._ZEROS): draws of any
    size, across and on those boundaries and at odd byte offsets, are exactly AES-CTR's keystream
    as one encryption of zeros makes it."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    enc = Cipher(algorithms.AES(seed), modes.CTR(bytes(16))).encryptor()
    g = PRG(seed)
    assert b"".join(g.random_bytes(s) for s in sizes) == enc.update(bytes(sum(sizes)))


def test_known_answer_aes_ctr_zero_key():
    # AES-128 of the all-zero block under the all-zero key is 66e94bd4ef8a2c3b884cfa59ca342b2e (FIPS-197);
    # CTR with a zero counter block encrypts zeros to exactly that keystream block.
    assert PRG(bytes(16)).random_bytes(16).hex() == "66e94bd4ef8a2c3b884cfa59ca342b2e"


def test_different_seeds_and_labels_differ():
    s = new_seed()
    assert len(s) == SEED_BYTES and s != new_seed()
    g = PRG(s)
    a, b = g.derive("triples").uint64(8), g.derive("bits").uint64(8)
    assert not np.array_equal(a, b)
    assert np.array_equal(PRG(s).derive("triples").uint64(8), a)


def test_uniformity_of_bits_and_bytes():
    x = PRG(new_seed()).uint64(1 << 16)
    bits = np.unpackbits(x.view(np.uint8))
    # 2^22 fair bits: mean within 6 standard deviations (sd = 0.5 / 2^11)
    assert abs(bits.mean() - 0.5) < 6 * 0.5 / 2**11
    counts = np.bincount(x.view(np.uint8), minlength=256)
    expected = x.nbytes / 256
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 400  # 255 degrees of freedom; p < 1e-8 beyond this


@given(st.integers(1, 2**64), st.integers(0, 200))
def test_below_is_in_range(bound, size):
    v = PRG(new_seed()).below(bound, size)
    assert v.shape == (size,) and v.dtype == np.uint64
    assert all(int(t) < bound for t in v)


def test_below_has_no_modulo_bias():
    bound = 3 * 2**62  # a plain modulo would make [0, 2^62) twice as likely
    v = PRG(new_seed()).below(bound, 60000)
    share_low = np.mean(v < np.uint64(2**62))
    assert abs(share_low - 1 / 3) < 0.02


def test_bad_seed_and_shape_rejected():
    with pytest.raises(ValueError, match="16 bytes"):
        PRG(b"short")
    with pytest.raises(ValueError, match="negative"):
        PRG(new_seed()).uint64((2, -1))
    assert "seed" in repr(PRG(new_seed())) and "hidden" in repr(PRG(new_seed()))


@pytest.mark.parametrize("n", [2, 3, 5])
def test_parties_agree_on_pairwise_and_common_masks(n):
    def main(party):
        return party.common_prg.uint64(4), {j: g.uint64(4) for j, g in party.pair_prgs.items()}

    out = run_local(main, n)
    for i in range(n):
        assert np.array_equal(out[i][0], out[0][0])
        assert set(out[i][1]) == set(range(n)) - {i}
        for j in out[i][1]:
            assert np.array_equal(out[i][1][j], out[j][1][i])
    distinct = {out[i][1][j].tobytes() for i in range(n) for j in out[i][1]}
    assert len(distinct) == n * (n - 1) // 2


@given(st.integers(0, 300), st.integers(0, 40))
def test_window_reads_the_stream_by_position_without_advancing_it(start, count):
    """PRG.window(start, count) is words start.. of the seed's stream (either word of a block,
    any length); drawing from another generator of the same seed afterwards is unaffected."""
    seed = b"w" * 16
    stream = PRG(seed).uint64(start + count + 3)
    p = PRG(seed)
    assert p.window(start, count).tolist() == stream[start : start + count].tolist()
    assert p.uint64(3).tolist() == stream[:3].tolist()  # the draws still begin at word 0


def test_window_rejects_positions_outside_the_stream():
    with pytest.raises(ValueError):
        PRG(b"w" * 16).window(-1, 2)
    with pytest.raises(ValueError):
        PRG(b"w" * 16).window(2**64 - 1, 2)
