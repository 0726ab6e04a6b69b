"""Dealer-free material of spdz2k's bit protocols (``engine="spdz2k", preprocessing="ot"``):
daBits, edaBits, bit-injection triples, authenticated AND triples and binary input masks
(mpc.preprocessing.ot_spdz_mixed, mpc.preprocessing.ot_bit_vole).

- Material, 2 and 3 parties: reconstructed bits are bits, every arithmetic MAC satisfies
  sum m_i = alpha v and every binary MAC XOR m_i = b Delta (per bit and folded), a daBit's two
  halves are equal, an edaBit's planes are the bits of r mod 2^64, r a = ra for bit-injection
  triples, c = a AND b for AND triples, the owner of a binary input mask knows it.
- Cheating (randomised positions and offsets): a wrong binary COPE correction, a daBit whose
  binary half differs from its arithmetic half, a changed share in an AND triple's or a
  bit-injection triple's openings: every honest party raises CheatingDetected.
- AND triples for live lanes only (params (nwords, period, tail)): valid triples there, zero
  triples (every party's bits and MAC shares 0) in the other lanes.
- Comparison and ReLU under spdz2k with no dealer, against NumPy (two parties, 8 elements: an
  MSB's 57 words of AND triples with 8 live lanes each); comparisons, zero tests and a
  normalisation (A2B) on m elements, m below, at and above a word's 64 lanes, with the AND gates
  made counted (m per word when m < 64); SecretBits inputs, AND, XOR and reveals (to all, to one
  party), 2 and 3 parties.
"""

import secrets

import numpy as np
import pytest
from _tamper import M128, all_caught, cheat_offline, one_shot, opened, tamper_exchange

import mpc
from mpc._core import get_kernels
from mpc.preprocessing.base import Request
from mpc.testing import run_local

K = get_kernels()


def bopened(results, get, delta):
    """The reconstructed words of a BAUTH component, after checking every bit's MAC and the folds."""
    w = f = m = 0
    for r in results:
        x = get(r)
        w, f, m = w ^ x["w"], f ^ x["f"], m ^ x["m"]
    bits = (w[..., None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)
    assert np.array_equal(m, bits * np.uint64(delta)), "a binary MAC does not match its bit"
    assert np.array_equal(f, K.gf64_mul(w, np.full(w.shape, delta, dtype=np.uint64))), "a folded MAC is wrong"
    return w


@pytest.mark.parametrize("n", [2, 3])
def test_mixed_material_is_correct_and_authenticated(n):
    def main(p):
        pre = p.preprocessing
        # one batch for all of them (the offsets of several mixed items, a truncation tuple and a
        # triple among them), taken from the store in the order asked
        pre.prefetch([Request("dabit", (70,), 128, True), Request("trunc", (13, 2), 128, True),
                      Request("edabit", (5,), 128, True), Request("bitmul", (9,), 128, True),
                      Request("edabit", (70, 1), 128, True),
                      Request("triple", (3,), 128, True), Request("bit_triple", (2,), 1, True),
                      Request("input", (n - 1, 3), 1, True), Request("input", (0, 2, 1), 1, True),
                      Request("bit_triple", (6, 3, 5), 1, True)])
        batches = pre.made["auth_batches"]
        trunc, triple = pre.trunc_triples((2,), 13, auth=True), pre.triples((3,), auth=True)
        return (pre.mac_key_share(), pre.bit_mac_key_share(), pre.dabits(70, auth=True), pre.edabits(5),
                pre.bit_mul_triples(9, auth=True), pre.bit_triples(2, auth=True), pre.bit_input_masks(n - 1, (3,)),
                pre.bit_input_masks(0, (2, 1)), batches, pre.made["auth_batches"], trunc, triple,
                pre.edabits(70, pairs=True), pre.bit_triples(6, auth=True, live=(3, 5)))

    res = run_local(main, n, engine="spdz2k", preprocessing="ot", timeout=120)
    alpha = sum(r[0] for r in res) % M128
    delta = 0
    for r in res:
        delta ^= r[1]
    w = bopened(res, lambda r: r[2][0], delta)
    a = opened(res, lambda r: r[2][1], alpha)
    assert set(a.tolist()) <= {0, 1} and np.array_equal(K.unpack_bits(w, 70).astype(object), a)
    assert 15 < sum(a.tolist()) < 55 and int(w[-1]) >> 6 == 0  # random bits; zero padding past 70
    r = opened(res, lambda r: r[3][0], alpha)
    planes = bopened(res, lambda r: r[3][1], delta)
    assert np.array_equal(K.bitslice(np.array([int(x) % (1 << 64) for x in r], dtype=np.uint64)), planes)
    assert len({int(x) >> 64 for x in r}) == r.size  # the upper half is uniform too
    w = bopened(res, lambda r: r[4][0], delta)
    big_a, big_r, ra = (opened(res, lambda r, i=i: r[4][i], alpha) for i in (1, 2, 3))
    assert np.array_equal(K.unpack_bits(w, 9).astype(object), big_r) and ((big_r * big_a - ra) % M128 == 0).all()
    x, y, z = (bopened(res, lambda r, i=i: r[5][i], delta) for i in range(3))
    assert np.array_equal(x & y, z) and x.shape == (2,) and len(set(x.tolist() + y.tolist())) == 4
    mask = bopened(res, lambda r: r[6][0], delta)
    assert np.array_equal(mask, res[n - 1][6][1]) and all(r[6][1] is None for r in res[: n - 1])
    mask = bopened(res, lambda r: r[7][0], delta)
    assert mask.shape == (2, 1) and np.array_equal(mask, res[0][7][1])
    assert all(r[8] == r[9] == 1 for r in res)  # the plan in one batch; nothing made on demand
    r, high, msb = (opened(res, lambda r, i=i: r[10][i], alpha) for i in range(3))
    r64 = r % (1 << 64)
    assert (high == r64 >> 13).all() and (msb == r64 >> 63).all()
    a, b, c = (opened(res, lambda r, i=i: r[11][i], alpha) for i in range(3))
    assert ((a * b - c) % M128 == 0).all()
    r = opened(res, lambda r: r[12][0], alpha)  # an edaBit with its pair products (the MSB's)
    planes, pairs = (bopened(res, lambda r, i=i: r[12][i], delta) for i in (1, 2))
    assert np.array_equal(K.bitslice(np.array([int(x) % (1 << 64) for x in r], dtype=np.uint64)), planes)
    assert pairs.shape == (31, 2) and np.array_equal(pairs, planes[0:62:2] & planes[1:62:2])
    assert int(pairs[0, 1]) >> 6 == 0 and 0 < int(np.bitwise_count(pairs).sum()) < 31 * 70  # zero padding past 70
    # AND triples for live lanes only: 6 words in runs of 3, the last of each with 5 live lanes
    x, y, z = (bopened(res, lambda r, i=i: r[13][i], delta) for i in range(3))
    dead = np.array([0, 0, ~np.uint64(0b11111)] * 2, dtype=np.uint64)
    assert np.array_equal(x & y, z) and not (x & dead).any() and not (y & dead).any()
    assert int(np.bitwise_count(x[[0, 1, 3, 4]]).sum()) > 64  # the live lanes' bits are random
    lanes = np.arange(64, dtype=np.uint64)
    for r in res:  # every party's share of a dead lane is 0, its MAC shares too (a zero triple)
        for part in r[13][:3]:
            assert not (part["w"] & dead).any()
            assert not part["m"][(dead[:, None] >> lanes) & np.uint64(1) == 1].any()
        for head, part in zip(r[13][3:], r[13][:3], strict=True):
            assert np.array_equal(head["w"], part["w"]) and np.array_equal(head["f"], part["f"])


@pytest.mark.parametrize("params", [(5,), (6, 3, 5), (62, 2, 10), (31, 1, 5), (4, 4, 63), (1, 1, 1)])
def test_live_count_counts_the_live_lanes(params):
    """live_count (the sizes of the source's items) is the number of lanes live_lanes lists."""
    from mpc.preprocessing.base import live_count, live_lanes

    req = Request("bit_triple", params, 1, True)
    assert live_count(req) == len(live_lanes(req)) == len(set(live_lanes(req).tolist()))


@pytest.mark.parametrize("n", [2, 3])
def test_live_lane_triples_asked_one_by_one_come_from_the_gate_pool(n):
    """AND triples for live lanes asked on demand, as a circuit's layers ask: the first request's
    batch makes twice the gates it lacks, so the next ones are served with no batch until the
    pool runs short; every item is AND triples in its live lanes and zero triples elsewhere, with
    valid MACs, and no gate is handed out twice (every live lane's MAC shares are distinct)."""
    asks = [(31, 1, 5), (16, 1, 5), (8, 1, 5), (4, 1, 5), (2, 1, 5), (1, 1, 5), (62, 2, 10)]

    def main(p):
        pre = p.preprocessing
        _setup(pre)
        out = []
        for nw, period, tail in asks:
            b0 = pre.made["auth_batches"]
            item = pre.bit_triples(nw, auth=True, live=(period, tail))
            out.append((item, pre.made["auth_batches"] - b0, pre.gates.count))
        return pre.bit_mac_key_share(), out, dict(pre.made)

    res = run_local(main, n, engine="spdz2k", preprocessing="ot", timeout=120)
    delta = 0
    for r in res:
        delta ^= r[0]
    # 155 gates lacking: 310 made (5 words, 320); the halving layers after it need 155 (165 left
    # then); the last request's 31 * (64 + 10) = 2294 live gates lack 2284: 4568 made (72 words)
    assert [b for _, b, _ in res[0][1]] == [1, 0, 0, 0, 0, 0, 1]
    assert [c for _, _, c in res[0][1]] == [165, 85, 45, 25, 15, 10, 10 + 64 * 72 - 2294]
    made = res[0][2]
    assert made["auth_and_gates"] == 5 * 62 + 2294 and made["auth_pool_gates"] == 64 * (5 + 72)
    macs = []
    for k, (nw, period, tail) in enumerate(asks):
        x, y, z = (bopened(res, lambda r, k=k, i=i: r[1][k][0][i], delta) for i in range(3))
        word = np.arange(nw)
        dead = np.where(word % period == period - 1, ~np.uint64((1 << tail) - 1), np.uint64(0)).astype(np.uint64)
        assert np.array_equal(x & y, z) and not ((x | y | z) & dead).any()
        live = (np.unpackbits(np.ascontiguousarray(~dead).view(np.uint8), bitorder="little") == 1).reshape(nw, 64)
        macs.append(res[0][1][k][0][0]["m"][live])
    macs = np.concatenate(macs)
    assert len(set(macs.tolist())) == len(macs) == 5 * 62 + 2294


# ---------------------------------------------------------------------- cheating

def _setup(pre):
    pre.triples((4,), auth=True)  # set-up and one clean batch
    pre.dabits(3, auth=True)  # and the binary COPE's set-up


def _cheat(n: int, cheater: int, tamper, take) -> list:
    return cheat_offline(n, cheater, tamper, take, setup=_setup, timeout=60)


def _dabits(pre):
    pre.dabits(100, auth=True)


def _random_case() -> tuple[int, int]:
    n = 2 + secrets.randbelow(2)
    return n, secrets.randbelow(n)


@pytest.mark.parametrize("trial", range(2))
def test_wrong_binary_cope_correction_is_caught(trial):
    """The cheater authenticates x ^ 1 instead of x for one bit in every OT towards one peer
    (its MAC there is off by Delta_peer): the binary input check fails."""
    n, cheater = _random_case()
    element = secrets.randbelow(100)

    def tamper(pre):
        def change(d):  # (64, W): flip the element's bit in every weight
            d[:, element // 64] ^= np.uint64(1) << np.uint64(element % 64)
        one_shot(pre.bitvole, "send_corrections", change)

    all_caught(_cheat(n, cheater, tamper, _dabits), cheater)


@pytest.mark.parametrize("trial", range(2))
def test_inconsistent_dabit_is_caught(trial):
    """The cheater inputs a different bit on the binary side than on the arithmetic side for one
    (random) daBit: the consistency check fails (probability 1 - 2^-40)."""
    n, cheater = _random_case()
    element = secrets.randbelow(100)
    res = _cheat(n, cheater, lambda pre: one_shot(pre, "binary_bits", lambda v: v.__setitem__(element, v[element] ^ 1)),
                 _dabits)
    all_caught(res, cheater)
    assert all("halves differ" in str(r) for i, r in enumerate(res) if i != cheater)


def _tamper_opening(shape: tuple[int, ...], occurrence: int = 0, offset: int | None = None):
    """Add ``offset`` (default: random, nonzero) to one random element of the (occurrence+1)-th
    exchange of ``shape``."""
    index = secrets.randbelow(shape[0])
    offset = 1 + secrets.randbelow(M128 - 1) if offset is None else offset

    def tamper(pre):
        seen = [0]

        def pick(arr):  # the (occurrence+1)-th of that shape
            if arr.shape != shape:
                return False
            seen[0] += 1
            return seen[0] == occurrence + 1

        tamper_exchange(pre, pick, index, offset)

    return tamper


@pytest.mark.parametrize("offset", [None, 1])
def test_wrong_and_triple_opening_is_caught(offset):
    """The cheater changes its share of one opened value of the AND triples' Beaver openings (one
    word: a - x, b - y, 128 values; offset 1 flips the parity of the product, hence c): the MAC
    check fails."""
    n, cheater = _random_case()
    all_caught(_cheat(n, cheater, _tamper_opening((128, 2), offset=offset), lambda pre: pre.bit_triples(1, auth=True)),
               cheater)


@pytest.mark.parametrize("trial", range(2))
def test_wrong_and_gate_parity_input_is_caught(trial):
    """The cheater inputs the wrong parity bit of its share of one (random) AND gate's product
    [ab] on the binary side (so c would be ab ^ 1): the consistency check with the daBits fails
    (probability 1 - 2^-40)."""
    n, cheater = _random_case()
    gate = secrets.randbelow(64)
    res = _cheat(n, cheater, lambda pre: one_shot(pre, "parity_bits", lambda v: v.__setitem__(gate, v[gate] ^ 1)),
                 lambda pre: pre.bit_triples(1, auth=True))
    all_caught(res, cheater)
    assert all("halves differ" in str(r) for i, r in enumerate(res) if i != cheater)


def test_wrong_bit_injection_opening_is_caught():
    n, cheater = _random_case()
    all_caught(_cheat(n, cheater, _tamper_opening((9, 2)), lambda pre: pre.bit_mul_triples(9, auth=True)), cheater)


# ---------------------------------------------------------------------- functions, dealer-free

def test_comparison_and_relu_without_a_dealer():
    x = np.array([1.5, -2.0, 0.0, 3.25, -0.5, -(2.0**20), 2.0**20, 2.0**-16])
    y = np.array([1.0, -3.0, 0.0, 4.0, 2.0, 2.0**20, -(2.0**20), 0.0])

    def main(p):
        a = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape)
        b = p.input(y if p.pid == 1 else None, owner=1, shape=y.shape)
        return p.reveal(a < b, (a - b).relu())

    for lt, relu in run_local(main, 2, engine="spdz2k", preprocessing="ot", timeout=300):
        assert np.array_equal(np.asarray(lt), (x < y).astype(np.asarray(lt).dtype))
        assert np.allclose(np.asarray(relu), np.maximum(x - y, 0), rtol=0, atol=2.0**-15)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("n, m, a2b", [(2, 1, True), (3, 5, False), (2, 64, False), (3, 70, False)])
def test_bit_protocols_on_few_elements_make_the_live_lanes_gates_only(n, m, a2b):
    """x < y (MSB) and x == y (zero test) on m elements without a dealer, against NumPy, edge
    values among them: their AND layers ask for the live lanes only, so the source makes m gates
    per word of AND triples when m < 64 (all 64 from a whole word on: for 70 elements, 64 + 6 a
    row of 2 words). With ``a2b``, then a reciprocal, whose normalisation starts with an A2B and
    goes on with AND layers of its own on the A2B's planes: all of them live lanes only too."""
    rng = np.random.default_rng(m)
    edge = np.array([0.0, -1.0, 2.0**-16, -(2.0**20), 2.0**20, 3.5])
    x = np.concatenate([edge, rng.uniform(-50, 50, max(0, m - edge.size))])[:m]
    y = np.concatenate([edge[::-1], rng.uniform(-50, 50, max(0, m - edge.size))])[:m]
    y[: m // 2] = x[: m // 2]  # some equal pairs
    r = np.concatenate([np.array([3.0, -0.25]), rng.uniform(0.5, 40, max(0, m - 2))])[:m]

    def main(p):
        a = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape)
        b = p.input(y if p.pid == n - 1 else None, owner=n - 1, shape=y.shape)
        out = p.reveal(a < b, a == b)
        made = p.preprocessing.made
        counts = made["auth_and_gates"], made["auth_bit_triple"]
        if not a2b:
            return out, counts, None
        c = p.input(r if p.pid == 0 else None, owner=0, shape=r.shape)
        rec = p.reveal(mpc.functions.reciprocal(c))
        return out, (made["auth_and_gates"], made["auth_bit_triple"]), rec

    for (lt, eq), (gates, words), rec in run_local(main, n, engine="spdz2k", preprocessing="ot", timeout=280):
        np.testing.assert_array_equal(np.asarray(lt), (x < y).astype(np.asarray(lt).dtype))
        np.testing.assert_array_equal(np.asarray(eq), (x == y).astype(np.asarray(eq).dtype))
        assert words > 0 and gates == {1: 1, 5: 5, 64: 64, 70: 35}[m] * words
        if a2b:
            np.testing.assert_allclose(rec, 1 / r, rtol=2e-3, atol=2e-4)


def test_dry_run_plans_the_live_lane_requests_of_the_real_run():
    """A dry run's plan under the dealer-free source asks for the AND triples the real run takes
    (live lanes and all), so a prefetched plan is consumed as made; under the dealer, which
    makes every lane, the plain requests, and light triples for the light ANDs (which the
    dealer-free source does not serve: its plan has none)."""
    x = np.array([1.0, -2.0, 3.0, 0.0, 5.5])

    def main(p):
        a = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape)
        plan = p.dry_run(lambda t: t < 1.0, a)
        with p.recording() as log:
            p.reveal(a < 1.0)
        return plan, list(log)

    for pre in ("ot", "local"):
        for plan, log in run_local(main, 2, engine="spdz2k", preprocessing=pre, timeout=120):
            live = [r.params for r in plan if r.kind in ("bit_triple", "light_triple")]
            assert plan == log[: len(plan)] and live
            assert all(q[1:] == ((1, 5) if pre == "ot" else ()) for q in live), live
            # light ANDs' triples: c's heads only, from the dealer's sources; full ones without
            light = {r.kind for r in plan} & {"light_triple"}
            assert light == ({"light_triple"} if pre == "local" else set())


@pytest.mark.parametrize("n", [2, 3])
def test_secret_bits_without_a_dealer(n):
    """SecretBits under spdz2k with ``ot``: binary inputs (bit input masks), AND (AND triples),
    XOR, a reveal to everyone and one to a single party (bit input masks again)."""
    a = np.array([0, 1, 15, 0x5, 0xC, 7, 8], dtype=np.uint64)
    b = np.array([0, 15, 1, 0xA, 0xC, 9, 9], dtype=np.uint64)

    def main(p):
        sa = p.input_bits(a if p.pid == 0 else None, owner=0, n=a.size, width=4)
        sb = p.input_bits(b if p.pid == n - 1 else None, owner=n - 1, n=b.size, width=4)
        return p.reveal(sa & sb, sa ^ sb), p.reveal(sa & sb, to=n - 1)

    for pid, ((band, bxor), one) in enumerate(run_local(main, n, engine="spdz2k", preprocessing="ot", timeout=120)):
        np.testing.assert_array_equal(band, a & b)
        np.testing.assert_array_equal(bxor, a ^ b)
        if pid == n - 1:
            np.testing.assert_array_equal(one, a & b)
        else:
            assert one is None
