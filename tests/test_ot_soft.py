"""SoftSpoken OT extension (mpc.crypto.ot_soft) against its definition, its KOS check against
cheating receivers, and its kernels against the NumPy reference."""


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpc.crypto import ot_ext, ot_soft
from mpc.errors import CheatingDetected, KernelError, ProtocolError
from mpc.prg import PRG


def _base(prg: PRG):
    """Synthetic base OTs (the extension only sees their outputs): the receiver's key pairs, the
    sender's choice bits Delta and its keys k_i^{Delta_i}."""
    pairs = [(prg.random_bytes(16), prg.random_bytes(16)) for _ in range(ot_ext.KAPPA)]
    delta = (prg.uint64(ot_ext.KAPPA) & np.uint64(1)).astype(np.uint8)
    return pairs, delta, [pairs[i][delta[i]] for i in range(ot_ext.KAPPA)]


def _pair(prg: PRG, k: int):
    pairs, delta, keys = _base(prg)
    rcv = ot_soft.SoftReceiver(pairs, b"t", k)
    return ot_soft.SoftSender(delta, keys, rcv.setup_message, b"t", k), rcv


@pytest.mark.parametrize("k", range(1, 9))
def test_ggm_punctured_leaves(k):
    """S's leaves are R's leaves except the punctured one, at x* = Delta_b, for every k."""
    prg = PRG.fresh()
    for point in {0, (1 << k) - 1, int(prg.below(1 << k, 1)[0])}:
        levels = ot_soft.ggm_tree(prg.random_bytes(16), k)
        sums = ot_soft.level_sums(levels)
        off_path = [sums[d][1 - ((point >> d) & 1)] for d in range(k)]
        got = ot_soft.punctured_leaves(off_path, point, k)
        assert got[point] is None
        assert all(got[x] == levels[-1][x] for x in range(1 << k) if x != point)
        assert len(set(levels[-1])) == 1 << k


@settings(max_examples=20, deadline=None)
@given(m=st.integers(0, 700), k=st.integers(1, 8), w=st.integers(1, 3), seed=st.binary(min_size=16, max_size=16))
def test_soft_extension_variants(m, k, w, seed):
    """q_j = t_j XOR r_j Delta over several batches (the streams continue), u of ceil(128/k)
    rows, and every OT variant of ot_ext on top equal to its definition."""
    prg = PRG(seed)
    snd, rcv = _pair(prg, k)
    assert np.array_equal(snd.delta, ot_ext.pack_choices(snd._bits, 2))
    for _ in range(2):
        r = (prg.uint64(m) & np.uint64(1)).astype(np.uint8)
        u, t, start_r = rcv.extend(r)
        assert u.shape == (-(-128 // k), ot_ext._padded(m) // 64)
        q, start_s = snd.verify(rcv.answer(snd.extend(u, m)))
        assert start_r == start_s
        assert np.array_equal(q ^ t, r[:, None].astype(np.uint64) * snd.delta)
    m0, m1 = ot_ext.rot_send(q, snd.delta, start_s)
    assert np.array_equal(ot_ext.rot_receive(t, start_r), np.where(r[:, None, None].astype(bool), m1, m0))
    x = prg.uint64((m, w))
    s, d = ot_ext.cot_send(q, snd.delta, start_s, x)
    assert np.array_equal(ot_ext.cot_receive(t, start_r, r, d) - s, r[:, None].astype(np.uint64) * x)
    x0, x1 = prg.uint64((m, w)), prg.uint64((m, w))
    y0, y1 = ot_ext.chosen_send(q, snd.delta, start_s, x0, x1)
    assert np.array_equal(ot_ext.chosen_receive(t, start_r, r, y0, y1), np.where(r[:, None].astype(bool), x1, x0))


@pytest.mark.parametrize("k", [2, 3])
def test_soft_check_catches_inconsistent_choices_every_time(k):
    """1,000 trials (10 fresh setups, so fresh Delta, x 100 batches with fresh choices and
    challenges): a receiver whose correction c_b of one block encodes a different choice bit (the
    attack that probes Delta_b; the block is one with Delta_b != 0, where the tampering changes
    the sender's q) and that answers the check honestly is caught every time."""
    prg = PRG.fresh()
    caught = 0
    for _ in range(10):
        snd, rcv = _pair(prg, k)
        blocks = [b for b in range(rcv.rows) if snd._offs[b]]
        for _ in range(100):
            r = (prg.uint64(200) & np.uint64(1)).astype(np.uint8)
            u, _, _ = rcv.extend(r)
            u = u.copy()
            b = blocks[int(prg.below(len(blocks), 1)[0])]
            col = int(prg.below(200, 1)[0])
            u[b, col // 64] ^= np.uint64(1 << (col % 64))
            seed = snd.extend(u, 200)
            try:
                snd.verify(rcv.answer(seed))
            except CheatingDetected:
                caught += 1
    assert caught == 1000
    r = (prg.uint64(200) & np.uint64(1)).astype(np.uint8)
    u, _, _ = rcv.extend(r)
    snd.verify(rcv.answer(snd.extend(u, 200)))  # the honest batch after them passes


def test_soft_check_catches_inconsistent_ggm_messages():
    """A receiver that corrupts the level sum the sender decrypts (e_d^{Delta_d}) gives it wrong
    leaves below that level: caught at the first batch, in every trial."""
    prg = PRG.fresh()
    for trial in range(40):
        k = 2 + trial % 3
        pairs, delta, keys = _base(prg)
        rcv = ot_soft.SoftReceiver(pairs, b"t", k)
        msg = rcv.setup_message.copy()
        i = int(prg.below(ot_ext.KAPPA, 1)[0])
        msg[i, delta[i], int(prg.below(16, 1)[0])] ^= np.uint8(1 << int(prg.below(8, 1)[0]))
        snd = ot_soft.SoftSender(delta, keys, msg, b"t", k)
        r = (prg.uint64(300) & np.uint64(1)).astype(np.uint8)
        u, _, _ = rcv.extend(r)
        seed = snd.extend(u, 300)
        with pytest.raises(CheatingDetected):
            snd.verify(rcv.answer(seed))


def test_soft_rejects_bad_input():
    prg = PRG.fresh()
    pairs, delta, keys = _base(prg)
    for bad in (0, 9, True, 2.0):
        with pytest.raises(ProtocolError):
            ot_soft.SoftReceiver(pairs, b"t", bad)
    rcv = ot_soft.SoftReceiver(pairs, b"t", 2)
    with pytest.raises(ProtocolError):
        ot_soft.SoftSender(delta, keys, rcv.setup_message[:64], b"t", 2)
    snd = ot_soft.SoftSender(delta, keys, rcv.setup_message, b"t", 2)
    u, _, _ = rcv.extend(np.zeros(10, dtype=np.uint8))
    with pytest.raises(ProtocolError):
        snd.extend(u[:-1], 10)


# ---------------------------------------------------------------- the C kernels == the NumPy reference

@settings(max_examples=25, deadline=None)
@given(k=st.integers(1, 8), w=st.integers(0, 140), pos=st.integers(0, 2**50), seed=st.binary(min_size=16, max_size=16))
def test_soft_kernels_match_the_reference(k, w, pos, seed):
    from mpc._core import _ref, get_kernels
    c = get_kernels("c")
    prg = PRG(seed)
    nb = -(-128 // k)
    keys = prg.uint64((nb << k, 2)).view(np.uint8)
    present = (prg.uint64(nb << k) & np.uint64(1)).astype(np.uint8)
    offs = np.array([int(prg.below(1 << min(k, 128 - b * k), 1)[0]) for b in range(nb)], dtype=np.uint8)
    for corr in (prg.uint64((nb, w)), prg.uint64((1, w))):
        got, want = c.ot_soft_extend(keys, present, pos, offs, corr, k), _ref.ot_soft_extend(keys, present, pos, offs, corr, k)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
        leaves = prg.uint64((nb << k, w))
        got, want = c.ot_soft_sums(leaves, offs, corr, k, 128), _ref.ot_soft_sums(leaves, offs, corr, k, 128)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    # the definition of one row and one sum, and the stream: OpenSSL's CTR from IV 0
    if w:
        leaves = prg.uint64((nb << k, w))
        corr = prg.uint64((nb, w))
        rows, sums = c.ot_soft_sums(leaves, offs, corr, k, 128)
        b = int(prg.below(nb, 1)[0])
        kb = min(k, 128 - b * k)
        i = int(prg.below(kb, 1)[0])
        want = corr[b] if (offs[b] >> i) & 1 else np.zeros(w, dtype=np.uint64)
        for x in range(1 << kb):
            if ((x ^ int(offs[b])) >> i) & 1:
                want = want ^ leaves[(b << k) + x]
        assert np.array_equal(rows[b * k + i], want)
        assert np.array_equal(sums[b], np.bitwise_xor.reduce(leaves[b << k : (b << k) + (1 << kb)], axis=0) ^ corr[b])
        stream = ot_ext._Stream(keys[0].tobytes()).uint64(pos % 1000 + w)
        assert np.array_equal(_ref.ot_ctr_words(keys[0].tobytes(), pos % 1000, w), stream[pos % 1000 :])
    x = prg.uint64((w, 2))
    r = prg.uint64(-(-w // 64))
    sd = prg.uint64(2).view(np.uint8)
    for rr in (r, None):
        assert np.array_equal(c.ot_kos_sums(x, rr, sd), _ref.ot_kos_sums(x, rr, sd))
    chi = ot_ext.challenge(sd, w)  # the definition: chi from the seed, then the dot products
    sums = c.ot_kos_sums(x, r, sd)
    bits = np.unpackbits(r.view(np.uint8), bitorder="little")[:w].astype(bool)
    assert sums[0] == (np.bitwise_xor.reduce(chi[bits]) if bits.any() else 0)
    assert sums[1] == c.gf64_dot(chi, np.ascontiguousarray(x[:, 0]))[0]


def test_soft_kernels_reject_bad_shapes():
    from mpc._core import _ref, get_kernels
    for kern in (get_kernels("c"), _ref):
        with pytest.raises(KernelError):
            kern.ot_soft_sums(np.zeros((255, 4), dtype=np.uint64), np.zeros(64, dtype=np.uint8),
                              np.zeros((1, 4), dtype=np.uint64), 2, 128)
        with pytest.raises(KernelError):  # an offset past the block
            kern.ot_soft_sums(np.zeros((256, 4), dtype=np.uint64), np.full(64, 4, dtype=np.uint8),
                              np.zeros((1, 4), dtype=np.uint64), 2, 128)
        with pytest.raises(KernelError):
            kern.ot_soft_extend(np.zeros((256, 16), dtype=np.uint8), np.ones(256, dtype=np.uint8), 0,
                                np.zeros(64, dtype=np.uint8), np.zeros((2, 4), dtype=np.uint64), 2)
        with pytest.raises(KernelError):
            kern.ot_kos_sums(np.zeros((65, 2), dtype=np.uint64), np.zeros(1, dtype=np.uint64), np.zeros(16, dtype=np.uint8))
        with pytest.raises(KernelError):
            kern.ot_soft_sums(np.zeros((1 << 9, 4), dtype=np.uint64), np.zeros(15, dtype=np.uint8),
                              np.zeros((1, 4), dtype=np.uint64), 9, 128)


@pytest.mark.parametrize("n, extension, k", [(2, "iknp", 1), (2, "softspoken", 1), (3, "softspoken", 2),
                                             (2, "softspoken", 3), (2, "softspoken", 8)])
def test_links_products_with_every_extension(n, extension, k):
    """OTLinks over real party channels, IKNP or SoftSpoken with k: the Gilboa products of every
    pair sum to x_i * y_j over Z_2^64 (edge values included), and the AND products to a_i & b_j;
    SoftSpoken sends ceil(128 / k) rows per OT, IKNP 128."""
    from mpc.preprocessing.ot_link import OTLinks
    from mpc.testing import run_local

    def main(p):
        links = OTLinks(p.channel, p.kernels, label=b"test-links", k=k, extension=extension)
        prg = PRG.fresh()
        x = prg.uint64(500)
        x[:4] = [0, 1, 2**63, 2**64 - 1]
        y = prg.uint64(500)
        y[:4] = [2**64 - 1, 2**63, 0, 1]
        links.setup()
        before = p.stats()["offline"]["bytes_sent"]
        sent, recv = links.ring_products(x[:, None], p.channel.peers, y, p.channel.peers)
        spent = p.stats()["offline"]["bytes_sent"] - before
        a, b = prg.uint64(9), prg.uint64(9)
        bs, br = links.bit_products(b, p.channel.peers, a, p.channel.peers)
        return x, y, sent, recv, a, b, bs, br, spent

    res = run_local(main, n, preprocessing="dealer")
    for i in range(n):
        for j in range(n):
            if i != j:
                xi, yj = res[i][0], res[j][1]
                assert np.array_equal(res[i][2][j][:, 0] + res[j][3][i][:, 0], xi * yj)
                assert np.array_equal(res[i][6][j] ^ res[j][7][i], res[i][5] & res[j][4])
    rows = 128 if extension == "iknp" else -(-128 // k)
    per_pair = rows * (ot_ext._padded(500 * 64) // 8) + 288 * 500
    assert res[0][8] >= (n - 1) * per_pair  # the u rows and trimmed corrections at least
    assert res[0][8] < (n - 1) * (per_pair + 10_000)
