"""Base OT and OT extension (mpc.crypto.base_ot, mpc.crypto.ot_ext) against their definitions."""

import os

import gmpy2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpc.crypto import base_ot, ot_ext
from mpc.errors import CheatingDetected, ProtocolError


def _bits(m: int) -> np.ndarray:
    return np.frombuffer(os.urandom(m), dtype=np.uint8) & 1


@pytest.fixture(scope="module")
def base():
    """One run of 128 base OTs: (choices, the receiver's keys, the sender's key pairs)."""
    sender = base_ot.BaseOTSender(b"test")
    choices = _bits(ot_ext.KAPPA)
    msg, keys = base_ot.receive(b"test", sender.first_message(), choices)
    return choices, keys, sender.keys(msg)


def test_base_ot_definition(base):
    choices, keys, pairs = base
    assert all(keys[i] == pairs[i][choices[i]] for i in range(len(keys)))
    assert all(keys[i] != pairs[i][1 - choices[i]] for i in range(len(keys)))
    assert len({k for pair in pairs for k in pair}) == 2 * len(pairs)


def _elem(x: int) -> np.ndarray:
    return np.frombuffer(int(x).to_bytes(base_ot.ELEMENT_BYTES, "big"), dtype=np.uint8)


def _non_residue() -> int:
    return next(x for x in range(3, 100) if gmpy2.legendre(x, base_ot.P) == -1)


@pytest.mark.parametrize("bad", ["zero", "one", "p-1", "p", "2^2048-1", "non-residue", "short"])
def test_base_ot_rejects_invalid_elements(bad):
    """Out of range, the trivial elements, and a non-residue (order 2q: it would leak the
    exponent's parity) are rejected by both parties with ProtocolError, before any key."""
    p = int(base_ot.P)
    value = {"zero": 0, "one": 1, "p-1": p - 1, "p": p, "2^2048-1": (1 << 2048) - 1,
             "non-residue": _non_residue(), "short": 4}[bad]
    elem = _elem(value)
    if bad == "short":
        elem = elem[1:]
    with pytest.raises(ProtocolError):
        base_ot.decode(elem)
    with pytest.raises(ProtocolError):  # the receiver validates A
        base_ot.receive(b"s", elem, np.zeros(2, dtype=np.uint8))
    if bad != "short":
        sender = base_ot.BaseOTSender(b"s")
        good, _ = base_ot.receive(b"s", sender.first_message(), np.zeros(2, dtype=np.uint8))
        good[1] = elem
        with pytest.raises(ProtocolError):  # the sender validates every B_i
            sender.keys(good)


def test_base_ot_accepts_group_elements():
    assert base_ot.decode(_elem(4)) == 4
    assert base_ot.decode(_elem(pow(4, 12345, int(base_ot.P)))) > 1


def _pair(base, label=b"pair"):
    choices, keys, pairs = base
    return ot_ext.ExtSender(choices, keys, label), ot_ext.ExtReceiver(pairs, label)


@settings(max_examples=15, deadline=None)
@given(m=st.integers(0, 700), w=st.integers(1, 5), seed=st.binary(min_size=16, max_size=16))
def test_extension_variants(base, m, w, seed):
    from mpc.prg import PRG
    prg = PRG(seed)
    snd, rcv = _pair(base)
    r = (prg.uint64(m) & np.uint64(1)).astype(np.uint8)
    # correlated base: q_j = t_j XOR r_j Delta
    u, t, start_r = rcv.extend(r)
    seed = snd.extend(u, m)
    q, start_s = snd.verify(rcv.answer(seed))
    assert start_r == start_s
    assert np.array_equal(q ^ t, r[:, None].astype(np.uint64) * snd.delta)
    # random OT: R gets the r_j-th message, and the two messages differ
    m0, m1 = ot_ext.rot_send(q, snd.delta, start_s)
    got = ot_ext.rot_receive(t, start_r)
    assert np.array_equal(got, np.where(r[:, None, None].astype(bool), m1, m0))
    assert not np.any(np.all(m0 == m1, axis=(1, 2)))
    w0, w1 = ot_ext.rot_send_words(q, snd.delta, start_s)  # the fused AES-NI path: the same words
    assert np.array_equal(w0, m0[:, 0, 0]) and np.array_equal(w1, m1[:, 0, 0])
    assert np.array_equal(ot_ext.rot_receive_words(t, start_r), got[:, 0, 0])
    # correlated OT over Z_2^64: s + r x
    x = prg.uint64((m, w))
    s, d = ot_ext.cot_send(q, snd.delta, start_s, x)
    v = ot_ext.cot_receive(t, start_r, r, d)
    assert np.array_equal(v - s, r[:, None].astype(np.uint64) * x)
    # chosen-message OT
    x0, x1 = prg.uint64((m, w)), prg.uint64((m, w))
    y0, y1 = ot_ext.chosen_send(q, snd.delta, start_s, x0, x1)
    out = ot_ext.chosen_receive(t, start_r, r, y0, y1)
    assert np.array_equal(out, np.where(r[:, None].astype(bool), x1, x0))


def test_kos_check_catches_a_cheating_receiver_every_time():
    """1,000 trials, each with fresh Delta, choices, rows and challenge: a receiver that used a
    different choice bit in one row u_i (the attack that probes bit i of Delta; the row is one
    with Delta_i = 1, where the tampering changes the sender's q -- with Delta_i = 0 it changes
    nothing the sender computes) and answers the check honestly for its claimed choices is
    caught every time. Cheap: the check function on synthetic matrices (no PRG expansion)."""
    from mpc.prg import PRG
    prg = PRG.fresh()
    m_pad = ot_ext._padded(200)
    caught = 0
    for _ in range(1000):
        delta_bits = (prg.uint64(ot_ext.KAPPA) & np.uint64(1)).astype(np.uint8)
        delta_bits[int(prg.below(ot_ext.KAPPA, 1)[0])] = 1
        delta = ot_ext.pack_choices(delta_bits, 2)
        r = (prg.uint64(m_pad) & np.uint64(1)).astype(bool)
        t = prg.uint64((m_pad, 2))
        q = t ^ (r[:, None].astype(np.uint64) * delta)  # honest: q_j = t_j + r_j Delta
        row = int(prg.below(ot_ext.KAPPA, 1)[0])
        while not delta_bits[row]:
            row = int(prg.below(ot_ext.KAPPA, 1)[0])
        col = int(prg.below(m_pad, 1)[0])
        q[col, row // 64] ^= np.uint64(1 << (row % 64))  # the inconsistent row, as S computes it
        chi = prg.uint64(m_pad)
        x = np.bitwise_xor.reduce(chi[r]) if r.any() else np.uint64(0)
        check = np.array([x, _dot(chi, t[:, 0]), _dot(chi, t[:, 1])], dtype=np.uint64)
        caught += not ot_ext.kos_check(q, chi, check, delta)
    assert caught == 1000
    # the honest transcript passes (the check is not vacuous)
    q = t ^ (r[:, None].astype(np.uint64) * delta)
    assert ot_ext.kos_check(q, chi, check, delta)


def _dot(a, b):
    from mpc._core import get_kernels
    return get_kernels().gf64_dot(a, np.ascontiguousarray(b))[0]


def test_sender_raises_on_a_tampered_batch(base):
    snd, rcv = _pair(base, b"tamper")
    u, _, _ = rcv.extend(_bits(300))
    check = rcv.answer(snd.extend(u, 300))
    bad = check.copy()
    bad[0] ^= np.uint64(1)  # a wrong x: caught whatever Delta is
    with pytest.raises(CheatingDetected):
        snd.verify(bad)
    # a flipped bit of u in a row where Delta_i = 1, with the honest answer: caught too
    row = int(np.flatnonzero(snd._bits)[0])
    u, _, _ = rcv.extend(_bits(300))
    u = u.copy()
    u[row, 2] ^= np.uint64(1 << 7)
    seed = snd.extend(u, 300)
    with pytest.raises(CheatingDetected):
        snd.verify(rcv.answer(seed))


# ---------------------------------------------------------------- the C kernels == the NumPy reference

def _kernels():
    from mpc._core import _ref, get_kernels
    return get_kernels("c"), _ref


@settings(max_examples=20, deadline=None)
@given(w=st.integers(0, 20), m=st.integers(0, 300), blocks=st.integers(1, 3), nbits=st.integers(1, 64),
       n=st.integers(0, 12), start=st.integers(0, 2**64 - 1), seed=st.binary(min_size=16, max_size=16))
def test_ot_kernels_match_the_reference(w, m, blocks, nbits, n, start, seed):
    from mpc.prg import PRG
    c, ref = _kernels()
    prg = PRG(seed)
    rows = prg.uint64((128, w))
    assert np.array_equal(c.ot_transpose128(rows), ref.ot_transpose128(rows))
    cols = c.ot_transpose128(rows)  # the definition: bit i of column j, half h = bit j of row 64h + i
    if w:
        j, i, h = int(prg.below(64 * w, 1)[0]), int(prg.below(64, 1)[0]), int(prg.below(2, 1)[0])
        assert (int(cols[j, h]) >> i) & 1 == (int(rows[64 * h + i, j // 64]) >> (j % 64)) & 1
    px = prg.uint64((m, 2))
    assert np.array_equal(c.ot_tweak(px, start, blocks), ref.ot_tweak(px, start, blocks))
    y = prg.uint64((m, blocks, 2))
    assert np.array_equal(c.ot_hash_finish(y, px), ref.ot_hash_finish(y, px))
    yc = y.copy()
    assert c.ot_hash_finish(yc, px, out=yc) is yc and np.array_equal(yc, ref.ot_hash_finish(y, px))
    h0, h1, ht = (prg.uint64((n * nbits, blocks, 2)) for _ in range(3))
    x, yv = prg.uint64(n), prg.uint64(n)
    d_c, s_c = c.ot_gilboa_send(h0, h1, x, nbits)
    d_r, s_r = ref.ot_gilboa_send(h0, h1, x, nbits)
    assert np.array_equal(d_c, d_r) and np.array_equal(s_c, s_r)
    assert len(d_c) == sum((64 - k + 7) // 8 for k in range(nbits)) * n
    assert np.array_equal(c.ot_gilboa_recv(ht, d_c, yv, nbits), ref.ot_gilboa_recv(ht, d_c, yv, nbits))
    # Gilboa's identity: with ht = h0 + c_k (h1 - h0) the two shares sum to x * (y mod 2^nbits)
    bits = (yv[:, None] >> np.arange(nbits, dtype=np.uint64)) & np.uint64(1)
    ht = h0.copy()
    sel = bits.reshape(-1).astype(bool)
    ht[sel] = h1[sel]
    low = yv & np.uint64((1 << nbits) - 1) if nbits < 64 else yv
    assert np.array_equal(s_c + c.ot_gilboa_recv(ht, d_c, yv, nbits), x * low)
    hb = prg.uint64((64 * (m // 64), blocks, 2))
    assert np.array_equal(c.ot_lsb_pack(hb), ref.ot_lsb_pack(hb))
    assert np.array_equal(c.ot_lsb_pack(hb[:, 0, 0].copy()), ref.ot_lsb_pack(hb))  # first words alone
    key = prg.uint64(2).view(np.uint8)
    delta = prg.uint64(2)
    for dl in (None, delta):
        assert np.array_equal(c.ot_hash_words(px, dl, start, key), ref.ot_hash_words(px, dl, start, key))
    hx = prg.uint64((64 * (m // 64), 2))
    for dl in (None, delta):
        want = c.ot_lsb_pack(c.ot_hash_words(hx, dl, start, key))  # the definition: hash, then pack
        assert np.array_equal(c.ot_hash_lsb(hx, dl, start, key), want)
        assert np.array_equal(ref.ot_hash_lsb(hx, dl, start, key), want)
    # the fused hash + Gilboa kernels: the same as hashing first (their definition), both backends
    q = prg.uint64((n * nbits, 2))
    want = c.ot_gilboa_send(c.ot_hash_words(q, None, start, key), c.ot_hash_words(q, delta, start, key), x, nbits)
    for kern in (c, ref):
        got = kern.ot_gilboa_send_hash(q, delta, start, key, x, nbits)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
        assert np.array_equal(kern.ot_gilboa_recv_hash(q, start, key, want[0], yv, nbits),
                              c.ot_gilboa_recv(c.ot_hash_words(q, None, start, key), want[0], yv, nbits))


def test_ot_kernels_reject_bad_shapes():
    from mpc.errors import KernelError
    c, ref = _kernels()
    for k in (c, ref):
        with pytest.raises(KernelError):
            k.ot_transpose128(np.zeros((64, 2), dtype=np.uint64))
        with pytest.raises(KernelError):
            k.ot_gilboa_recv(np.zeros((4, 1, 2), dtype=np.uint64), np.zeros(3, dtype=np.uint8),
                             np.zeros(2, dtype=np.uint64), 2)
        with pytest.raises(KernelError):
            k.ot_lsb_pack(np.zeros((10, 1, 2), dtype=np.uint64))


@pytest.mark.parametrize("nbits", [1, 7, 64])
def test_fused_hash_kernels_across_chunks(nbits):
    """The fused kernels hash in chunks of 512 OTs: batches of several chunks, not a multiple of
    one, give what hashing first gives."""
    from mpc.prg import PRG
    c, ref = _kernels()
    prg = PRG.fresh()
    key, delta, start = prg.uint64(2).view(np.uint8), prg.uint64(2), int(prg.uint64(1)[0])
    x = prg.uint64((64 * 25, 2))
    for dl in (None, delta):
        assert np.array_equal(c.ot_hash_lsb(x, dl, start, key), c.ot_lsb_pack(c.ot_hash_words(x, dl, start, key)))
    n = 1700 // nbits + 3
    q, a, y = prg.uint64((n * nbits, 2)), prg.uint64(n), prg.uint64(n)
    h0, h1 = c.ot_hash_words(q, None, start, key), c.ot_hash_words(q, delta, start, key)
    d, share = c.ot_gilboa_send_hash(q, delta, start, key, a, nbits)
    d_want, share_want = ref.ot_gilboa_send(h0, h1, a, nbits)
    assert np.array_equal(d, d_want) and np.array_equal(share, share_want)
    assert np.array_equal(c.ot_gilboa_recv_hash(q, start, key, d, y, nbits), ref.ot_gilboa_recv(h0, d, y, nbits))
