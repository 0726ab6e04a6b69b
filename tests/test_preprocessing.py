"""Preprocessing: seed-compressed dealer material (arithmetic, AND triples, daBits) is correct, single
use, prefetchable; dealer failures are reported as PeerTimeout naming the dealer."""

import threading
import time

import numpy as np
import pytest

from mpc._core import get_kernels
from mpc.errors import ConfigError, PeerTimeout, ProtocolError
from mpc.net.local import LocalHub
from mpc.preprocessing import DealerClient, InsecureLocalDealer, TrustedDealer, protocol
from mpc.preprocessing.base import Request
from mpc.preprocessing.dabits import unpack_bits
from mpc.prg import PRG
from mpc.sharing import reconstruct

K = get_kernels("ref")


def local_sources(n):
    seed = PRG.fresh().random_bytes(16)
    return [InsecureLocalDealer(i, n, PRG(seed), K) for i in range(n)]


def with_dealer(n, fn, timeout=10.0):
    """Run fn(client, pid) for n DealerClients served by a TrustedDealer thread; returns results."""
    hubs = [LocalHub(2, session=7, timeout=timeout) for _ in range(n)]
    dealer = TrustedDealer([h.channels()[0] for h in hubs], kernels=K, idle_timeout=timeout)
    errors = []
    dthread = threading.Thread(target=lambda: _guard(dealer.serve, errors), daemon=True)
    dthread.start()
    out = [None] * n

    def body(i):
        c = DealerClient(hubs[i].channels()[1], i, n)
        try:
            out[i] = fn(c, i)
        finally:
            c.close()

    threads = [threading.Thread(target=lambda i=i: _guard(lambda: body(i), errors), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in [*threads, dthread]:
        t.join(30)
    if errors:
        raise errors[0]
    return out, dealer


def _guard(fn, errors):
    try:
        fn()
    except BaseException as exc:  # noqa: BLE001
        errors.append(exc)


def _all_kinds(src):
    return [
        src.triples((3, 2)),
        src.square_pairs((4,)),
        src.matmul_triples(2, 3, 4),
        src.matmul_triples(2, 3, 1, batch=2),
        src.trunc_triples((5,), 16),
        src.div_triples((5,), 7),
        src.bit_triples(3),
        src.dabits(70),
        src.trunc_products((5,), 16, 0),
        src.trunc_products((5,), 16, 20),
        src.trunc_products((5,), 40, 30),
        src.trunc_squares((5,), 16),
    ]


def xor(arrays):
    return np.bitwise_xor.reduce(np.stack(arrays), axis=0)


def _check_material(per_party):
    # reconstruct every component of every kind
    comps = [[reconstruct([p[j][c] for p in per_party]) for c in range(len(per_party[0][j]))] for j in range(6)]
    a, b, c = comps[0]
    np.testing.assert_array_equal(c, a * b)
    a, c = comps[1]
    np.testing.assert_array_equal(c, a * a)
    a, b, c = comps[2]
    np.testing.assert_array_equal(c, K.matmul(a, b))
    a, b, c = comps[3]
    np.testing.assert_array_equal(c, K.matmul_batched(a, b))
    r, hi, msb = comps[4]
    np.testing.assert_array_equal(hi, r >> np.uint64(16))
    np.testing.assert_array_equal(msb, r >> np.uint64(63))
    r, q, msb = comps[5]
    np.testing.assert_array_equal(q, r // np.uint64(7))
    np.testing.assert_array_equal(msb, r >> np.uint64(63))
    a, b, c = (xor([p[6][i] for p in per_party]) for i in range(3))  # AND triples: XOR shares
    assert a.shape == (3,) and a.dtype == np.uint64
    np.testing.assert_array_equal(c, a & b)
    bits = xor([p[7][0] for p in per_party])  # daBits: XOR words, additive ring shares of the same bits
    arith = reconstruct([p[7][1] for p in per_party])
    assert bits.shape == (2,) and arith.shape == (70,)
    np.testing.assert_array_equal(arith, unpack_bits(bits, 70))
    assert 0 < arith.sum() < 70
    # truncating products: every component as named, for k2 = 0, both truncated, k1 + k2 > 64
    for j, (k1, k2) in zip((8, 9, 10), ((16, 0), (16, 20), (40, 30)), strict=True):
        t = {f: None if per_party[0][j][i] is None else reconstruct([p[j][i] for p in per_party])
             for i, f in enumerate(per_party[0][j]._fields)}
        hi = lambda r, k: r >> np.uint64(k)  # noqa: E731
        np.testing.assert_array_equal(t["a1"], hi(t["r1"], k1))
        np.testing.assert_array_equal(t["m1"], t["r1"] >> np.uint64(63))
        np.testing.assert_array_equal(t["a2"], hi(t["r2"], k2) if k2 else t["r2"])
        np.testing.assert_array_equal(t["a1a2"], t["a1"] * t["a2"])
        np.testing.assert_array_equal(t["m1a2"], t["m1"] * t["a2"])
        if k2:
            np.testing.assert_array_equal(t["m2"], t["r2"] >> np.uint64(63))
            np.testing.assert_array_equal(t["a1m2"], t["a1"] * t["m2"])
        else:
            assert t["m2"] is None and t["a1m2"] is None
        assert (t["m1m2"] is None) == (k1 + k2 <= 64)
        if t["m1m2"] is not None:
            np.testing.assert_array_equal(t["m1m2"], t["m1"] * t["m2"])
    r, a, m, aa, am = (reconstruct([p[11][i] for p in per_party]) for i in range(5))
    np.testing.assert_array_equal(a, r >> np.uint64(16))
    np.testing.assert_array_equal(m, r >> np.uint64(63))
    np.testing.assert_array_equal(aa, a * a)
    np.testing.assert_array_equal(am, a * m)


@pytest.mark.parametrize("n", [2, 3])
def test_insecure_local_dealer_material(n):
    srcs = local_sources(n)
    _check_material([_all_kinds(s) for s in srcs])
    assert all(s.consumed == 12 for s in srcs)


@pytest.mark.parametrize("n", [2, 3])
def test_trusted_dealer_material_and_traffic(n):
    out, dealer = with_dealer(n, lambda c, i: (_all_kinds(c), c.link.stats()["total"]))
    _check_material([o[0] for o in out])
    assert dealer.batches == 12 and dealer.items == 12
    for i, (_, stats) in enumerate(out):
        if i < n - 1:  # only the seed: parties 0..n-2 never talk to the dealer online
            assert stats["messages_received"] == 1 and stats["messages_sent"] == 0
        else:
            assert stats["messages_sent"] == 12  # one request per on-demand batch (BYE comes at close)


def test_items_are_single_use():
    srcs = local_sources(2)
    first = [s.triples((16,)) for s in srcs]
    second = [s.triples((16,)) for s in srcs]
    a1 = reconstruct([t.a for t in first])
    a2 = reconstruct([t.a for t in second])
    assert not np.array_equal(a1, a2)
    assert srcs[0].consumed == 2
    # prefetched items are removed when consumed: the store never hands one out twice
    for s in srcs:
        s.prefetch([("triple", (4,))])
    assert srcs[1].pending == 1
    t = [s.triples((4,)) for s in srcs]
    assert srcs[1].pending == 0 and srcs[0].pending == 0
    u = [s.triples((4,)) for s in srcs]  # on demand now: fresh material, still correct
    assert not np.array_equal(reconstruct([x.a for x in t]), reconstruct([x.a for x in u]))
    np.testing.assert_array_equal(reconstruct([x.c for x in u]), reconstruct([x.a for x in u]) * reconstruct([x.b for x in u]))


def test_prefetch_then_online_has_no_dealer_traffic():
    def fn(c, i):
        plan = [Request("triple", (8,)), Request("matmul", (0, 2, 2, 2)), Request("triple", (8,))]
        c.prefetch(plan)
        before = c.link.stats()["total"]["messages_sent"]
        got = [c.triples(8), c.matmul_triples(2, 2, 2), c.triples(8)]
        after = c.link.stats()["total"]["messages_sent"]
        return got, before, after

    out, dealer = with_dealer(3, fn)
    assert out[2][1] == out[2][2] == 1  # one request for the whole plan, none online
    assert dealer.batches == 1 and dealer.items == 3
    tri = [reconstruct([o[0][j][c] for o in out]) for j in (0, 2) for c in range(3)]
    np.testing.assert_array_equal(tri[2], tri[0] * tri[1])
    np.testing.assert_array_equal(tri[5], tri[3] * tri[4])


@pytest.mark.parametrize("dealer", [False, True])
def test_bit_triples_and_dabits_are_single_use_and_prefetchable(dealer):
    n = 3
    plan = [Request("bit_triple", (5,)), Request("dabit", (100,)), Request("bit_triple", (5,))]

    def fn(c, i):
        first = [c.bit_triples(5), c.dabits(100)]  # on demand
        c.prefetch(plan)
        sent = c.link.stats()["total"]["messages_sent"] if dealer else 0
        pending = c.pending
        got = [c.bit_triples(5), c.dabits(100), c.bit_triples(5)]
        online = (c.link.stats()["total"]["messages_sent"] if dealer else 0) - sent
        return first, got, pending, c.pending, online

    if dealer:
        out, served = with_dealer(n, fn)
        assert served.batches == 3 and served.items == 5  # two on demand, one batch for the plan
    else:
        out = [fn(s, i) for i, s in enumerate(local_sources(n))]
    assert all(o[2] == 3 and o[3] == 0 and o[4] == 0 for o in out)  # no dealer traffic online
    triples = [[xor([o[k][j][t] for o in out]) for t in range(3)] for k, j in ((0, 0), (1, 0), (1, 2))]
    for a, b, c in triples:
        np.testing.assert_array_equal(c, a & b)
    assert not np.array_equal(triples[0][0], triples[1][0]) and not np.array_equal(triples[1][0], triples[2][0])
    for k in (0, 1):
        bits = xor([o[k][1][0] for o in out])
        np.testing.assert_array_equal(reconstruct([o[k][1][1] for o in out]), unpack_bits(bits, 100))
    assert not np.array_equal(xor([o[0][1][0] for o in out]), xor([o[1][1][0] for o in out]))


@pytest.mark.parametrize("dealer", [False, True])
def test_bit_injection_triples_are_single_use_and_prefetchable(dealer):
    n = 3
    plan = [Request("bitmul", (70,)), Request("dabit", (9,)), Request("bitmul", (70,))]

    def fn(c, i):
        first = c.bit_mul_triples(70)  # on demand
        c.prefetch(plan)
        sent = c.link.stats()["total"]["messages_sent"] if dealer else 0
        got = [c.bit_mul_triples(70), c.dabits(9), c.bit_mul_triples(70)]
        online = (c.link.stats()["total"]["messages_sent"] if dealer else 0) - sent
        return [first, got[0], got[2]], online, c.pending

    out = with_dealer(n, fn)[0] if dealer else [fn(s, i) for i, s in enumerate(local_sources(n))]
    assert all(o[1] == 0 and o[2] == 0 for o in out)  # prefetched: no dealer traffic online
    seen = []
    for k in range(3):
        t = [o[0][k] for o in out]
        bits = unpack_bits(xor([x.words for x in t]), 70)
        a, r, ra = (reconstruct([getattr(x, f) for x in t]) for f in ("a", "r", "ra"))
        np.testing.assert_array_equal(r, bits)
        np.testing.assert_array_equal(ra, bits * a)
        seen.append(a)
    assert not np.array_equal(seen[0], seen[1]) and not np.array_equal(seen[1], seen[2])  # single use


def test_recording_gives_a_plan():
    s = local_sources(2)[0]
    with s.recording() as plan:
        s.triples((2, 2))
        s.trunc_triples(3, 16)
        s.bit_triples(4)
        s.dabits(9)
    assert plan == [Request("triple", (2, 2)), Request("trunc", (16, 3)), Request("bit_triple", (4,)),
                    Request("dabit", (9,))]


def test_bad_requests_rejected():
    s = local_sources(2)[0]
    with pytest.raises(ConfigError):
        s.trunc_triples(3, 0)
    with pytest.raises(ConfigError):
        s.prefetch([("nope", (1,))])
    with pytest.raises(ConfigError):
        s.triples((2, -1))
    with pytest.raises(ProtocolError):
        protocol.decode(np.array([1, 1, 99, 1, 3], dtype=np.uint64))
    with pytest.raises(ProtocolError):
        protocol.decode(np.array([1, 2, 1, 1, 3], dtype=np.uint64))
    with pytest.raises(ConfigError):
        s.prefetch([("bit_triple", (2, 3))])  # one count, not a shape
    with pytest.raises(ConfigError):
        s.dabits(-1)
    with pytest.raises(ConfigError, match="k1"):
        s.trunc_products((2,), 0, 16)  # the first operand is the truncated one
    with pytest.raises(ConfigError, match="k2"):
        s.trunc_products((2,), 16, 63)
    with pytest.raises(ConfigError, match="trunc_squares"):
        s.trunc_squares((2,), 0)
    with pytest.raises(ConfigError, match="tmul params"):
        s.prefetch([("tmul", (16,))])
    with pytest.raises(ProtocolError):
        protocol.decode(np.array([1, 1, 7, 2, 3, 4], dtype=np.uint64))  # a dabit with two params
    for bad in [("light_triple", (3,)), ("light_triple", (3,), 128, True), ("light_triple", (2, 3), 1, True),
                ("light_triple", (6, 4, 5), 1, True)]:  # authenticated GF(2) only; a count or live lanes
        with pytest.raises(ConfigError, match="light_triple"):
            s.prefetch([bad])
    reqs = [Request("triple", (2, 3)), Request("div", (7, 4)), Request("bit_triple", (3,)), Request("dabit", (65,)),
            Request("bitmul", (65,)), Request("tmul", (16, 0, 4)), Request("tsquare", (16, 2, 3))]
    assert protocol.decode(protocol.encode_batch(reqs)) == reqs
    assert protocol.decode(protocol.encode_bye()) is None


def test_absent_dealer_gives_peer_timeout_naming_the_dealer():
    hub = LocalHub(2, timeout=0.3)
    t = time.monotonic()
    with pytest.raises(PeerTimeout, match="dealer") as info:
        DealerClient(hub.channels()[1], 0, 2)
    assert info.value.peer == "dealer" and time.monotonic() - t < 3


def test_dealer_dying_mid_session_gives_peer_timeout():
    hubs = [LocalHub(2, timeout=5) for _ in range(2)]
    ends = [h.channels()[0] for h in hubs]
    for e in ends:  # deliver seeds by hand, then die
        e.send(1, np.zeros(16, np.uint8), e.next_tag())
    client = DealerClient(hubs[1].channels()[1], 1, 2)
    hubs[1].fail(0, "killed")
    t = time.monotonic()
    with pytest.raises(PeerTimeout, match="dealer") as info:
        client.triples(3)
    assert info.value.peer == "dealer" and time.monotonic() - t < 2


def test_requests_name_their_ring_and_authentication():
    from mpc.preprocessing.base import normalize

    plain = normalize(("triple", (3,)))
    assert plain == Request("triple", (3,), 64, False) and plain.ring == 64 and not plain.auth
    assert normalize(Request("trunc", (16, 2, 2))) == Request("trunc", (16, 2, 2), 64, False)
    with pytest.raises(ConfigError, match="ring"):
        normalize(("triple", (3,), 32, False))
    with pytest.raises(ConfigError, match="authenticated"):
        normalize(("triple", (3,), 64, True))
    assert normalize(("edabit", (5, 1), 128, True)).params == (5, 1)  # with the pair products
    for bad in [(5, 0), (5, 2), (5, 1, 1), ()]:
        with pytest.raises(ConfigError, match="edabit params"):
            normalize(("edabit", bad, 128, True))
    reqs = [plain, Request("matmul", (0, 2, 3, 4)), Request("dabit", (70,)), Request("edabit", (70, 1), 128, True)]
    assert protocol.decode(protocol.encode_batch(reqs)) == reqs
    msg = protocol.encode_batch([plain])
    msg[2] |= np.uint64(1 << 20)  # an undefined flag bit in the kind word
    with pytest.raises(ProtocolError, match="malformed"):
        protocol.decode(msg)


REQUESTS = [Request("triple", (3, 5)), Request("bit_triple", (7,)), Request("dabit", (70,)), Request("square", (4,)),
            Request("matmul", (0, 2, 3, 4)), Request("trunc", (16, 6)), Request("triple", (3, 5), 128, True),
            Request("bit_triple", (7,), 1, True), Request("light_triple", (7,), 1, True),
            Request("light_triple", (6, 3, 5), 1, True), Request("dabit", (70,), 128, True), Request("edabit", (70,), 128, True),
            Request("edabit", (70, 1), 128, True), Request("bitmul", (9,), 128, True), Request("rand", (4,), 128, True), Request("input", (0, 3), 128, True)]


@pytest.mark.parametrize("n", [2, 3])
def test_item_bytes_counts_what_a_party_holds(n):
    """The store's memory bound counts an item's bytes from its request alone (so every party
    counts alike): the same as the arrays a party holds (an input mask's owner holds its mask's
    value too, which is not counted)."""
    from mpc.preprocessing.seeded import _item_bytes

    srcs = local_sources(n)
    for req in REQUESTS:
        items = [src.take(req) for src in srcs]
        for pid, item in enumerate(items):
            held = item[:-1] if req.kind == "input" and pid == req.params[0] else item
            assert _item_bytes(req) == sum(a.nbytes for a in held), (req, pid)
    assert _item_bytes(Request("bit_triple", (7,), 1, True)) == 3 * 7 * 528 + 3 * 7 * 16  # 64 MACs a word; heads
    # a light triple's c is its word and fold (16 bytes), and its head lc is c itself
    assert _item_bytes(Request("light_triple", (7,), 1, True)) == 2 * 7 * 528 + 7 * 16 + 3 * 7 * 16


@pytest.mark.parametrize("n", [2, 3])
def test_dealer_batch_is_every_items_corrections_in_order(n):
    """The dealer's reply to a batch, written straight into one buffer allocated up front, is
    every item's corrections made one by one from the same streams, flattened in request order
    (plain and authenticated kinds, ring and bit words alike)."""
    from mpc.preprocessing.material import DealerCore

    seeds, k = [PRG.fresh().random_bytes(16) for _ in range(n)], get_kernels()
    one_by_one = DealerCore(seeds, k, private=PRG(bytes(16)))
    want = np.concatenate([c.ravel() for r in REQUESTS for c in one_by_one.corrections(r)])
    got = DealerCore(seeds, k, private=PRG(bytes(16))).batch(REQUESTS)
    assert got.dtype == np.uint64 and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_predicted_material_in_store_stays_under_its_byte_bound(monkeypatch):
    """A request the plan does not hold between planned runs (a reveal's mask) predicts the plan's
    items again, on top of those the next preprocess() stores: the store then grows by a run's
    material per run until PREDICT_BYTES stops the prediction (it counts bytes, not elements: a
    bit word of authenticated material holds 528 bytes)."""
    import mpc.preprocessing.seeded as seeded

    plan = [Request("bit_triple", (50,), 1, True), Request("triple", (20,), 128, True)]
    run = sum(seeded._item_bytes(r) for r in plan)
    monkeypatch.setattr(seeded, "PREDICT_BYTES", 3 * run)
    srcs = local_sources(2)
    stored = []
    for _ in range(8):
        triples = []
        for src in srcs:
            src.prefetch(plan)
            src.take(Request("rand", (1,), 128, True))  # unplanned: predicts the plan's items
            triples.append(src.take(plan[0]))
            src.take(plan[1])
        stored.append(srcs[0]._stored)
        assert srcs[0]._stored == srcs[1]._stored  # both parties predicted alike
        # still valid material: the parties' shares XOR-combine to words a, b, c = a AND b
        a, b, c = (np.bitwise_xor.reduce([t[j]["w"] for t in triples]) for j in range(3))
        np.testing.assert_array_equal(c, a & b)
    assert stored[1] > stored[0] and max(stored) <= 3 * run, stored  # it grew, and stopped at the bound
