"""Paillier matrix triples (mpc.preprocessing.paillier_matrix): C = A B mod 2^64 on random inputs.

Both (or all three) parties run as threads over in-process queue links. Keys are 768 bits: a
2048-bit key changes only the number of slots per ciphertext (11 instead of 3-4 at k <= 64); the
packing bound at 2048 bits is tested in test_paillier.py, and bench/paillier.py runs 2048.
"""

from __future__ import annotations

import queue
import re
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpc.crypto.paillier import SlotLayout, generate_keypair
from mpc.errors import InputError, PeerTimeout, ProtocolError
from mpc.preprocessing import paillier_matrix as pm
from mpc.prg import PRG

BITS = 768
H = pm._HEADER.size
M64 = (1 << 64) - 1


@pytest.fixture(scope="module")
def keys():
    return [generate_keypair(BITS) for _ in range(3)]


def exact_product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A @ B mod 2^64 with Python integers (no uint64 kernel involved)."""
    return (a.astype(object).dot(b.astype(object)) % (1 << 64)).astype(np.uint64)


def run_parties(fns):
    """Run one callable per party in threads; return their results or raise the first error."""
    out, errs = [None] * len(fns), []

    def wrap(i):
        try:
            out[i] = fns[i]()
        except Exception as exc:  # noqa: BLE001 - re-raised in the main thread
            errs.append(exc)

    ts = [threading.Thread(target=wrap, args=(i,)) for i in range(len(fns))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    if errs:
        raise errs[0]
    return out


def links_for(nparties: int):
    """links[i][j]: party i's link to party j."""
    links = [dict() for _ in range(nparties)]
    for i in range(nparties):
        for j in range(i + 1, nparties):
            a, b = pm.queue_link_pair()
            links[i][j], links[j][i] = a, b
    return links


def shares(prg: PRG, shape, edge: str):
    if edge == "zero":
        return np.zeros(shape, dtype=np.uint64)
    if edge == "max":
        return np.full(shape, M64, dtype=np.uint64)
    return prg.uint64(shape)


@settings(max_examples=6)
@given(st.integers(1, 6), st.integers(1, 9), st.integers(1, 13), st.sampled_from(["random", "max", "zero"]))
def test_two_party_matrix_triple_reconstructs(keys, m, k, n, edge):
    prg = PRG.fresh()
    a = [shares(prg, (m, k), edge) for _ in range(2)]
    b = [shares(prg, (k, n), edge) for _ in range(2)]
    l0, l1 = pm.queue_link_pair()
    stats = [{}, {}]
    c = run_parties([
        lambda: pm.matrix_triple_shares(l0, a[0], b[0], keys[0], timeout=60, stats=stats[0]),
        lambda: pm.matrix_triple_shares(l1, a[1], b[1], keys[1], timeout=60, stats=stats[1]),
    ])
    assert np.array_equal(c[0] + c[1], exact_product(a[0] + a[1], b[0] + b[1]))
    cost = pm.paillier_matrix_cost(m, k, n, bits=BITS, calibration=pm.Calibration(BITS, 1e-6, 1e-3, 1e-3, 1e-3))
    for s, link in zip(stats, (l0, l1), strict=True):
        assert s["bytes_sent"] == link.sent == cost["bytes_sent"]
        assert s["bytes_received"] == link.received == cost["bytes_received"]
        assert s["rounds"] == 2


def test_matrix_triple_with_columns_spanning_several_groups(keys):
    """n = 2 s + 1 columns: three packed groups per row, the last one partly filled."""
    s = SlotLayout.for_inner_products(BITS, 16).slots
    m, k, n = 3, 16, 2 * s + 1
    links = links_for(2)
    res = run_parties([
        lambda i=i: pm.matrix_triple(links[i], m, k, n, key=keys[i], timeout=60) for i in range(2)
    ])
    a = res[0][0] + res[1][0]
    b = res[0][1] + res[1][1]
    assert a.shape == (m, k) and b.shape == (k, n)
    assert np.array_equal(res[0][2] + res[1][2], exact_product(a, b))
    assert not np.array_equal(res[0][0], res[1][0])  # each party drew its own shares


@settings(max_examples=12, deadline=None)
@given(st.sampled_from(pm.SPLITS), st.integers(1, 5), st.integers(1, 9), st.integers(1, 12),
       st.sampled_from(["random", "max", "zero"]), st.sampled_from(["auto", "portable", "ref"]))
def test_every_exponent_split_reconstructs(keys, split, m, k, n, edge, kernel):
    """Each split of the evaluator's exponents (forced at both parties) gives C = A B mod 2^64,
    with the wire bytes of the cost model for that split; by the compiled IFMA kernel where the
    CPU has it, with the kernel forced to its portable multiplication (then mpc.crypto.paillier
    takes gmpy2, as on a CPU without IFMA; the portable C path itself is tested against gmpy2 in
    test_paillier_mont.py) and under MPC_KERNELS=ref."""
    from mpc._core import _mont

    prg = PRG.fresh()
    a = [shares(prg, (m, k), edge) for _ in range(2)]
    b = [shares(prg, (k, n), edge) for _ in range(2)]
    l0, l1 = pm.queue_link_pair()
    stats = [{}, {}]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pm, "exponent_split", lambda *args, **kw: split)
        if kernel == "ref":
            mp.setenv("MPC_KERNELS", "ref")
        _mont.set_isa("portable" if kernel == "portable" else "auto")
        try:
            c = run_parties([
                lambda: pm.matrix_triple_shares(l0, a[0], b[0], keys[0], timeout=60, stats=stats[0]),
                lambda: pm.matrix_triple_shares(l1, a[1], b[1], keys[1], timeout=60, stats=stats[1]),
            ])
        finally:
            _mont.set_isa("auto")
    assert np.array_equal(c[0] + c[1], exact_product(a[0] + a[1], b[0] + b[1]))
    cost = pm.paillier_matrix_cost(m, k, n, bits=BITS, calibration=pm.Calibration(BITS, 1e-6, 1e-3, 1e-3, 1e-3),
                                   split=split)
    assert stats[0]["bytes_sent"] == l0.sent == cost["bytes_sent"]


@settings(max_examples=30)
@given(st.sampled_from(pm.SPLITS), st.integers(1, 6), st.integers(1, 6),
       st.sampled_from(["random", "max", "zero", "top"]))
def test_exponent_pieces_recombine_mod_2_64(split, m, k, edge):
    """sum_t A_t B_t = A B mod 2^64 with A_t < 2^(64 / split) (Python integers), and at the
    largest values every slot sum stays below 2^value_bits of the split's layout."""
    prg = PRG.fresh()
    if edge == "top":
        a = np.full((m, k), 1 << 63, dtype=np.uint64)
        b = np.full((k, 3), M64, dtype=np.uint64)
    else:
        a, b = shares(prg, (m, k), edge), shares(prg, (k, 3), edge)
    e = 64 // split
    pieces = pm._exponent_pieces(a, split)
    plains = pm._plaintext_pieces(b, split)
    assert pieces.shape == (m, split * k) and len(plains) == split
    assert int(pieces.max()) < 1 << e
    got = sum(pieces[:, t * k:(t + 1) * k].astype(object).dot(plains[t].astype(object)) for t in range(split))
    assert np.array_equal((got % (1 << 64)).astype(np.uint64), exact_product(a, b))
    lay = pm.split_layout(2048, k, 40, split)
    assert split * k * ((1 << e) - 1) * M64 < 1 << lay.value_bits
    assert int(got.max()) < 1 << lay.value_bits


def test_split_layouts_at_2048_bits():
    assert [(pm.split_layout(2048, 256, 40, h).slots, pm.split_layout(2048, 256, 40, h).slot_bits)
            for h in pm.SPLITS] == [(11, 177), (14, 146), (15, 131)]
    with pytest.raises(InputError):
        pm.split_layout(2048, 256, 40, 3)
    assert pm.exponent_split(2, 8, 8) == 1  # few rows: the tables of more bases do not pay


def test_three_party_matrix_triple_pairwise(keys):
    m, k, n = 4, 5, 6
    links = links_for(3)
    res = run_parties([  # party 2 also splits its work over 2 threads
        lambda i=i: pm.matrix_triple(links[i], m, k, n, key=keys[i], timeout=60, workers=1 + (i == 2))
        for i in range(3)
    ])
    a = sum(r[0] for r in res)
    b = sum(r[1] for r in res)
    assert np.array_equal(sum(r[2] for r in res), exact_product(a, b))


def test_bad_shapes_are_rejected_before_sending(keys):
    l0, _ = pm.queue_link_pair()
    a = np.zeros((2, 3), dtype=np.uint64)
    with pytest.raises(InputError):
        pm.matrix_triple_shares(l0, a, np.zeros((4, 2), dtype=np.uint64), keys[0])
    with pytest.raises(InputError):
        pm.matrix_triple_shares(l0, a.astype(np.int64), np.zeros((3, 2), dtype=np.uint64), keys[0])
    with pytest.raises(InputError):
        pm.matrix_triple({1: l0}, 0, 3, 2, key=keys[0])
    assert l0.sent == 0


class TamperLink:
    """Forwards to a link, passing every received message through ``fn`` first."""

    def __init__(self, inner, fn):
        self.inner, self.fn = inner, fn

    def send(self, data: bytes) -> None:
        self.inner.send(data)

    def recv(self, timeout: float) -> bytes:
        return self.fn(self.inner.recv(timeout))


def _tamper_first(pos: int, value: bytes):
    seen = []

    def fn(data: bytes) -> bytes:
        seen.append(1)
        if len(seen) == 1:
            return data[:pos] + value + data[pos + len(value):]
        return data

    return fn


@pytest.mark.parametrize("where,value,words", [
    (0, b"XXXX", "magic"),  # header magic
    (7, b"\x09", "rows"),  # rows (k) differ from this party's shape
    (H, bytes(32), "key"),  # inside the public key: no longer a valid modulus of BITS bits
    (H + BITS // 8, bytes(BITS // 4), "Z\\*"),  # the first ciphertext replaced by 0
])
def test_malformed_peer_messages_raise_protocol_error(keys, where, value, words):
    m, k, n = 2, 3, 2
    prg = PRG.fresh()
    l0, l1 = pm.queue_link_pair()
    bad = TamperLink(l0, _tamper_first(where, value))
    errors: queue.Queue = queue.Queue()

    def party(link, key):
        try:
            pm.matrix_triple_shares(link, prg.uint64((m, k)), prg.uint64((k, n)), key, timeout=1.5)
        except Exception as exc:  # noqa: BLE001 - checked below
            errors.put(exc)

    ts = [threading.Thread(target=party, args=(bad, keys[0])), threading.Thread(target=party, args=(l1, keys[1]))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    got = [errors.get_nowait() for _ in range(errors.qsize())]
    assert any(isinstance(e, ProtocolError) and re.search(words, str(e)) for e in got), got
    assert all(isinstance(e, (ProtocolError, PeerTimeout)) for e in got)


def test_own_key_reflected_is_rejected(keys):
    """A peer echoing this party's own key and ciphertexts back is caught before any evaluation."""

    class Mirror:
        def __init__(self):
            self.box = []

        def send(self, data):
            self.box.append(data)

        def recv(self, timeout):
            return self.box.pop(0)

    prg = PRG.fresh()
    with pytest.raises(ProtocolError, match="own public key"):
        pm.matrix_triple_shares(Mirror(), prg.uint64((2, 2)), prg.uint64((2, 2)), keys[0])


def test_silent_peer_times_out(keys):
    l0, _ = pm.queue_link_pair()
    prg = PRG.fresh()
    with pytest.raises(PeerTimeout):
        pm.matrix_triple_shares(l0, prg.uint64((1, 1)), prg.uint64((1, 1)), keys[0], timeout=0.2)


def test_cost_model_counts_and_calibration():
    cal = pm.calibrate(512, samples=2)
    assert cal.bits == 512 and min(cal.mulmod, cal.encrypt_own, cal.noise_public, cal.decrypt) > 0
    unit = pm.Calibration(2048, 1.0, 0, 0, 0)
    # 256^3 splits the exponents in two 32-bit halves (the model's choice): 512 bases, 14 slots
    assert pm.exponent_split(256, 256, 256) == 2
    c = pm.paillier_matrix_cost(256, 256, 256, bits=2048, calibration=unit)
    assert (c["split"], c["slots"], c["groups"], c["window"]) == (2, 14, 19, 8)
    assert c["bytes_sent"] == 2 * H + 256 + (512 + 256) * 19 * 512
    # unit time 1 per multiplication modulo n^2, 0 for the rest
    assert c["seconds"] == c["mulmods"] + c["extra_mulmods"]
    # tables 512 (2^8 - 1), per row 512 x 4 lookups and 8 x 3 squarings, one conversion
    assert c["mulmods"] == 19 * (512 * 255 + 256 * (512 * 4 + 24 + 1))
    # the 4,864 randomisers r^n come from a pool of P = 276 (powers_of_random): P powers, then
    # P (2^8 - 2) + 4864 (P + 1) products; plus 2 products per ciphertext each side
    assert (c["noise_powers"], c["extra_mulmods"]) == (276, 276 * 254 + 4864 * 277 + 2 * 768 * 19)
    assert c["bytes_sent"] < 100e6
    # unsplit: 11 slots of 177 bits, 24 groups, 64-bit exponents in 8 windows
    c1 = pm.paillier_matrix_cost(256, 256, 256, bits=2048, calibration=unit, split=1)
    assert (c1["slots"], c1["groups"], c1["window"]) == (11, 24, 8)
    assert c1["bytes_sent"] == 2 * H + 256 + (256 + 256) * 24 * 512
    assert c1["mulmods"] == 24 * (256 * 255 + 256 * (256 * 8 + 56 + 1))
    assert c1["seconds"] > c["seconds"]
    with pytest.raises(InputError):
        pm.paillier_matrix_cost(4, 4, 4, bits=2048, calibration=unit, split=3)
    with pytest.raises(InputError):
        pm.paillier_matrix_cost(4, 4, 4, bits=2048, calibration=cal)


def test_hook_over_party_channels_counts_offline_traffic(keys):
    """PaillierMatrixHook over in-process party channels: two consecutive triples (tags go on),
    the cross shares reconstruct, and every byte is in the channel's "offline" section."""
    from mpc.net.local import LocalHub

    chans = LocalHub(2, timeout=60).channels()
    hooks = [pm.PaillierMatrixHook(bits=BITS, key=keys[i]) for i in range(2)]
    prg = PRG.fresh()
    for m, k, n in ((2, 3, 4), (5, 1, 2)):
        a = [prg.uint64((m, k)) for _ in range(2)]
        b = [prg.uint64((k, n)) for _ in range(2)]
        cross = run_parties([lambda i=i, a=a, b=b: hooks[i](chans[i], 1 - i, a[i], b[i]) for i in range(2)])
        want = exact_product(a[0], b[1]) + exact_product(a[1], b[0])
        assert np.array_equal(cross[0] + cross[1], want)
    for ch, hook in zip(chans, hooks, strict=True):
        off = ch.stats()["sections"]["offline"]
        assert off["bytes_sent"] == ch.stats()["total"]["bytes_sent"] > hook.stats["bytes_sent"] > 0
        assert off["messages_sent"] == off["messages_received"] == 4


# ----------------------------------------------------------------------------- ot_matrix="auto"


def test_auto_choice_follows_the_cost_models():
    """paillier_cheaper compares the two predictions (reference unit times, so every party
    decides alike): OT for small shapes, Paillier for large ones, and OT again when Paillier's
    multiplications are made 100x dearer."""
    shapes = [(8, 8, 8), (32, 32, 32), (64, 64, 64), (128, 128, 128), (256, 256, 256), (1, 256, 256), (256, 256, 1)]
    ref = pm.REFERENCE_CALIBRATION
    for shape in shapes:
        want = pm.paillier_matrix_cost(*shape, calibration=ref)["seconds"] < pm.ot_matrix_cost(*shape)["seconds"]
        assert pm.paillier_cheaper(*shape) == want
    assert not pm.paillier_cheaper(8, 8, 8) and pm.paillier_cheaper(256, 256, 256)
    slow = pm.Calibration(ref.bits, ref.mulmod * 100, ref.encrypt_own, ref.noise_public, ref.decrypt, ref.mulmod_half)
    assert not pm.paillier_cheaper(256, 256, 256, calibration=slow)
    assert pm.ot_matrix_cost(256, 256, 256)["bytes_sent"] == 16 * 256 * 256 + 288 * 256 ** 3  # about 4.8 GB
    with pytest.raises(InputError):
        pm.ot_matrix_cost(0, 1, 1)


@pytest.mark.parametrize("n", [2, 3])
def test_auto_makes_correct_triples_by_the_chosen_path(n, monkeypatch):
    """``ot_matrix="auto"`` (the default): a shape the choice gives to Paillier runs the hook,
    another runs Gilboa (the hook's byte count does not move); both triples reconstruct to
    C = A B mod 2^64 exactly (Python integers), 2 and 3 parties. Small keys (512 bits) and a
    choice by shape keep it fast; the real choice is paillier_cheaper (test above)."""
    import functools

    from mpc.runtime import inout
    from mpc.testing import run_local

    monkeypatch.setattr(inout, "PaillierMatrixHook", functools.partial(pm.PaillierMatrixHook, bits=512))
    monkeypatch.setattr(inout, "paillier_cheaper", lambda m, k, n_: (m, k, n_) == (3, 5, 2))

    def main(p):
        hook = p.preprocessing.matrix_triple_2pc
        out = []
        for shape in ((3, 5, 2), (2, 5, 3)):
            t = p.preprocessing.matmul_triples(*shape)
            out.append((t.a, t.b, t.c, hook.stats.get("bytes_sent", 0)))
        return out

    res = run_local(main, n, preprocessing="ot", timeout=120)
    for j in range(2):
        a = sum(r[j][0] for r in res)
        b = sum(r[j][1] for r in res)
        c = sum(r[j][2] for r in res)
        np.testing.assert_array_equal(c, exact_product(a, b))
    for r in res:
        assert r[0][3] > 0  # (3, 5, 2): Paillier ran
        assert r[1][3] == r[0][3]  # (2, 5, 3): Gilboa, no Paillier bytes
