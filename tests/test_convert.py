"""A2B / B2A / MSB / zero test / bit injection against NumPy, 2 and 3 parties: semi2k's Converter
(mpc.engines.convert, over GMW, with and without daBits) and spdz2k's (mpc.engines.spdz2k_convert,
authenticated bits, edaBits and daBits)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpc.engines.convert import Converter
from mpc.engines.gmw import GMWEngine
from mpc.engines.spdz2k_convert import Spdz2kConverter
from mpc.errors import PreprocessingExhausted, ShareTypeError
from mpc.preprocessing.bit_triples import LocalBitTriples
from mpc.preprocessing.dabits import (
    LocalDaBits,
    dealer_bitmul,
    dealer_dabits,
    expand_bitmul_share,
    expand_dabit_share,
    unpack_bits,
)
from mpc.prg import PRG
from mpc.testing import run_local

U64 = np.uint64
EDGES = [0, 1, 2**64 - 1, 2**63, 2**63 - 1, 2**62, 2**62 - 1, 2**47, 2**64 - 2**47, 2**16, 2**64 - 2**16,
         2**16 + 1, 2**64 - 2**16 - 1, 12345, 2**64 - 12345]


def converter(party):
    seed = party.common_prg.derive("test/convert-bit-triples").random_bytes(16)
    gmw = GMWEngine(party.channel, LocalBitTriples(seed, party.pid, party.n), party.kernels,
                    prg=party.prg, pair_prgs=party.pair_prgs)
    return Converter(party.engine, gmw)


def values(draw_list):
    return np.array([v % 2**64 for v in draw_list], dtype=U64)


def spread(size):
    """size distinct ring values spread over the whole ring (multiples of an odd 64-bit constant)."""
    return np.arange(size, dtype=U64) * U64(0x9E3779B97F4A7C15)


def shared(p, x, owner=0):
    """Party p's arithmetic share of the array x that ``owner`` inputs."""
    return p.engine.input(x if p.pid == owner else None, owner, x.shape)


word = st.one_of(st.sampled_from(EDGES), st.integers(0, 2**64 - 1))


def converter_for(p, setup):
    """The converter of a setup: semi2k's over GMW with or without daBits, or spdz2k's own."""
    if setup == "spdz2k":
        return p.engine.converter
    return converter_with_dabits(p) if setup == "gmw+dabits" else converter(p)


SETUPS = ["gmw", "gmw+dabits", "spdz2k"]


def engine_of(setup):
    return "spdz2k" if setup == "spdz2k" else "semi2k"


@pytest.mark.parametrize("setup", SETUPS)
@settings(max_examples=6)
@given(n=st.sampled_from([2, 3]), xs=st.lists(word, min_size=1, max_size=90))
def test_a2b_b2a_msb_eqz_bitmul_match_numpy(setup, n, xs):
    """With daBits the converter has daBits and bit-injection triples (one-round B2A and bit
    times value for any n); without, the Beaver-only paths; spdz2k: the authenticated protocols."""
    x = values(xs)
    y = x.copy()
    y[::2] = 0  # zero test on a mix of zeros and values
    m = x.size

    def main(p):
        c = converter_for(p, setup)
        e = p.engine
        sx, sy = shared(p, x), shared(p, y, owner=n - 1)
        planes, shapes = c.a2b([sx])
        bits = c.unpack_planes(planes, m)  # (64, m) XOR shares
        arith_bits = c.b2a([bits])[0]  # (64, m) arithmetic 0/1
        back = e.zeros((m,))
        for i in range(64):
            back = e.add(back, e.mul_public(arith_bits[i], 1 << i))  # A2B then B2A: the identity
        (msb,) = c.msb([sx])
        (z,) = c.eqz([sy])
        (prod,), (z_a,) = c.bit_mul([(msb, sy)], [z])
        (msb_a,) = c.b2a([msb])
        opened = e.open([back, msb_a, z_a, prod])
        return c.boolean.reveal(planes), opened, shapes

    want_msb = x >> U64(63)
    for planes, (back, msb_a, z_a, prod), shapes in run_local(main, n, engine=engine_of(setup)):
        assert shapes == [(m,)]
        np.testing.assert_array_equal(planes.shape, (64, -(-m // 64)))
        np.testing.assert_array_equal(back, x)
        np.testing.assert_array_equal(msb_a, want_msb)
        np.testing.assert_array_equal(z_a, (y == 0).astype(U64))
        np.testing.assert_array_equal(prod, want_msb * y)


@pytest.mark.parametrize("setup", ["gmw", "spdz2k"])
def test_bit_decomposition_planes_are_the_bits(setup):
    x = values(EDGES)

    def main(p):
        c = converter_for(p, setup)
        sx = shared(p, x)
        planes, _ = c.a2b([sx])
        return p.kernels.unbitslice(c.boolean.reveal(planes), x.size)

    for got in run_local(main, 2, engine=engine_of(setup)):
        np.testing.assert_array_equal(got, x)


@pytest.mark.parametrize("n", [2, 3])
def test_spdz2k_a2b_keeps_the_adders_p_terms_light(n):
    """Under spdz2k with a dealer the adder's prefix P terms, which only ever meet ANDs, are light
    words and their ANDs take light triples (c's bits and fold only); the carries, which reach the
    sum, full ones: the same 310 ANDs an element, the same bits."""
    from mpc.engines import circuits

    x = values(EDGES * 3)
    w = -(-x.size // 64)
    p_terms = sum(int(pn.sum()) for _, _, pn in circuits._sklansky_plan(63))

    def main(p):
        c = p.engine.converter
        sx = shared(p, x)
        with p.recording() as plan:
            planes, _ = c.a2b([sx])
        return list(plan), p.kernels.unbitslice(c.boolean.reveal(planes), x.size)

    for plan, got in run_local(main, n, engine="spdz2k"):
        np.testing.assert_array_equal(got, x)
        words = {k: sum(r.params[0] for r in plan if r.kind == k) for k in ("bit_triple", "light_triple")}
        assert words == {"bit_triple": (310 - p_terms) * w, "light_triple": p_terms * w}


@pytest.mark.parametrize("setup", ["gmw", "spdz2k"])
def test_last_bit_differences_and_extremes_of_the_fixed_range(setup):
    f = 16
    top = 2**(63 - f) * 2**f  # Fixed(16) range is [-2^47, 2^47) -> ring values +-2^63 at the edges
    vals = [top - 1, (2**64 - top) % 2**64, 1, 2**64 - 1, 0]
    x = values(vals)
    y = values([v + 1 for v in vals])  # differ in the last bit

    def main(p):
        c = converter_for(p, setup)
        sx, sy = shared(p, x), shared(p, y, owner=1)
        d = p.engine.sub(sx, sy)  # x - y = -1 everywhere
        (m,), (z,) = c.msb([d]), c.eqz([d])
        return p.engine.open(c.b2a([m, z]))

    for m, z in run_local(main, 2, engine=engine_of(setup)):
        np.testing.assert_array_equal(m, np.ones(len(vals), dtype=U64))
        np.testing.assert_array_equal(z, np.zeros(len(vals), dtype=U64))


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("setup", ["gmw", "spdz2k"])
def test_rounds_and_bytes(n, setup):
    size = 1000
    x = spread(size)

    def main(p):
        c = converter_for(p, setup)
        sx = shared(p, x)
        with p.section("w3"):
            (m,) = c.msb([sx])
            c.b2a([m])
        with p.section("relu"):
            (m,) = c.msb([sx])
            c.bit_mul([(m, sx)])
        with p.section("eqz"):
            c.eqz([sx])
        with p.section("a2b"):
            c.a2b([sx])
        return p.stats()["sections"]

    for s in run_local(main, n, engine=engine_of(setup)):
        if setup == "spdz2k":  # the masked opening, then 6 AND layers (5 for the MSB, whose first level is
            # linear in the edaBits' pair products), and B2A or bit times value; any n
            assert s["w3"]["rounds"] == 7 and s["relu"]["rounds"] == 7
            assert s["eqz"]["rounds"] == 7 and s["a2b"]["rounds"] == 7
            # to each peer: c (16 bytes per element), two words per packed word of every AND plane (57, 63,
            # 310 ANDs per element), one word per word of bits for the B2A (and 16 bytes of d for the ReLU)
            w = -(-size // 64)
            per_peer = {"w3": 16 * size + (57 * 16 + 8) * w, "relu": 32 * size + (57 * 16 + 8) * w,
                        "eqz": 16 * size + 63 * 16 * w, "a2b": 16 * size + 310 * 16 * w}
            for name, b in per_peer.items():  # plus a frame header (40 to 56 bytes) per round
                assert b + 40 * s[name]["rounds"] <= s[name]["bytes_sent"] / (n - 1) <= b + 56 * s[name]["rounds"]
        elif n == 2:
            assert s["w3"]["rounds"] == 8 and s["relu"]["rounds"] == 8
            assert s["eqz"]["rounds"] == 6 and s["a2b"]["rounds"] == 7
            assert s["w3"]["bytes_sent"] < 64 * size  # ~45 bytes of ANDs + 16 of B2A per element
            assert s["relu"]["bytes_sent"] < 80 * size
        else:
            assert s["w3"]["rounds"] == 10 and s["relu"]["rounds"] == 11
            assert s["eqz"]["rounds"] == 7 and s["a2b"]["rounds"] == 8


def test_converter_checks_its_engines():
    def main(p):
        c = converter(p)
        with pytest.raises(ShareTypeError):
            Converter(p.engine, object())
        with pytest.raises(ShareTypeError):
            c.msb([np.zeros(3, dtype=np.int64)])
        return repr(c)

    assert run_local(main, 2)[0].startswith("Converter(")


def test_spdz2k_converter_checks_its_engines_and_shares():
    def main(p):
        c = p.engine.converter
        with pytest.raises(ShareTypeError, match="boolean"):
            Spdz2kConverter(p.engine, object(), p.preprocessing)
        with pytest.raises(ShareTypeError, match="AUTH"):
            c.msb([np.zeros(3, dtype=np.uint64)])  # a semi2k share is not an authenticated one
        with pytest.raises(ShareTypeError, match="ABIT"):
            c.b2a([np.zeros(3, dtype=np.uint64)])  # nor a GMW bit an authenticated bit
        with pytest.raises(ShareTypeError, match="BAUTH"):
            c.boolean.xor(np.zeros(2, dtype=np.uint64), np.zeros(2, dtype=np.uint64))
        return repr(c)

    assert run_local(main, 2, engine="spdz2k")[0].startswith("Spdz2kConverter(")


# ----------------------------------------------------------------------------- daBits


def converter_with_dabits(party):
    c = converter(party)
    seed = party.common_prg.derive("test/convert-dabits").random_bytes(16)
    return Converter(c.arith, c.boolean, dabits=LocalDaBits(seed, party.pid, party.n))


@pytest.mark.parametrize("n", [2, 3, 4])
def test_dabits_are_consistent_and_dealer_matches(n):
    seeds = [PRG.fresh().random_bytes(16) for _ in range(n)]
    dealer, parties = [PRG(s) for s in seeds], [PRG(s) for s in seeds]
    for count in (1, 64, 130):
        corr = dealer_dabits(dealer, count)
        shares = [expand_dabit_share(p, count, last=i == n - 1) for i, p in enumerate(parties)]
        bits = np.bitwise_xor.reduce(np.stack([w for w, _ in shares]), axis=0)
        arith = sum((s for _, s in shares[:-1]), np.zeros(count, dtype=U64)) + corr
        np.testing.assert_array_equal(arith, unpack_bits(bits, count))
        assert set(np.unique(arith)) <= {U64(0), U64(1)}
    local = [LocalDaBits(bytes(16), p, n, budget=10) for p in range(n)]
    got = [s.dabits(10) for s in local]
    bits = np.bitwise_xor.reduce(np.stack([w for w, _ in got]), axis=0)
    np.testing.assert_array_equal(sum((a for _, a in got), np.zeros(10, dtype=U64)), unpack_bits(bits, 10))
    with pytest.raises(PreprocessingExhausted):
        local[0].dabits(1)
    assert "insecure" in repr(local[0])


@pytest.mark.parametrize("n", [2, 3, 4])
def test_bit_injection_triples_are_consistent_and_dealer_matches(n):
    seeds = [PRG.fresh().random_bytes(16) for _ in range(n)]
    dealer, parties = [PRG(s) for s in seeds], [PRG(s) for s in seeds]
    for count in (1, 64, 130):
        r_corr, ra_corr = dealer_bitmul(dealer, count)
        shares = [expand_bitmul_share(p, count, last=i == n - 1) for i, p in enumerate(parties)]
        assert [len(s) for s in shares] == [4] * (n - 1) + [2]
        bits = unpack_bits(np.bitwise_xor.reduce(np.stack([s[0] for s in shares]), axis=0), count)
        a = sum((s[1] for s in shares), np.zeros(count, dtype=U64))
        r = sum((s[2] for s in shares[:-1]), np.zeros(count, dtype=U64)) + r_corr
        ra = sum((s[3] for s in shares[:-1]), np.zeros(count, dtype=U64)) + ra_corr
        np.testing.assert_array_equal(r, bits)
        np.testing.assert_array_equal(ra, bits * a)
        assert 0 < bits.sum() < count or count == 1  # random bits, not constant
    local = [LocalDaBits(bytes(16), p, n, budget=10) for p in range(n)]
    got = [s.bit_mul_triples(10) for s in local]
    bits = unpack_bits(np.bitwise_xor.reduce(np.stack([t.words for t in got]), axis=0), 10)
    total = [sum((getattr(t, f) for t in got), np.zeros(10, dtype=U64)) for f in ("a", "r", "ra")]
    np.testing.assert_array_equal(total[1], bits)
    np.testing.assert_array_equal(total[2], bits * total[0])
    with pytest.raises(PreprocessingExhausted):
        local[0].bit_mul_triples(1)


@pytest.mark.parametrize("n", [2, 3])
def test_b2a_with_dabits_is_one_round(n):
    size = 300
    x = spread(size)

    def main(p):
        c = converter_with_dabits(p)
        sx = shared(p, x)
        (m,) = c.msb([sx])
        with p.section("b2a"):
            (ma,) = c.b2a([m])
        with p.section("bit_mul"):
            (prod,), (mb,) = c.bit_mul([(m, sx)], [m])
        sections = p.stats()["sections"]
        return p.engine.open([ma, prod, mb]), sections["b2a"], sections["bit_mul"]

    want = x >> U64(63)
    for (ma, prod, mb), s, sm in run_local(main, n):
        np.testing.assert_array_equal(ma, want)
        np.testing.assert_array_equal(mb, want)
        np.testing.assert_array_equal(prod, want * x)
        assert s["rounds"] == 1 and s["bytes_sent"] < (n - 1) * (64 + size // 8 + 8)
        # bit times value and the extra B2A: one message of 2 bits + 1 ring element per element
        assert sm["rounds"] == 1 and sm["bytes_sent"] < (n - 1) * (64 + 2 * (size // 8 + 8) + 8 * size)
