"""GMW engine and bit triples: correctness against NumPy, traffic, errors (2 and 3 parties)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mpc.engines.gmw import GMWEngine
from mpc.errors import PreprocessingExhausted, ProtocolError, ShareTypeError
from mpc.net.wire import HEADER_BYTES
from mpc.preprocessing.bit_triples import (
    BitTripleSource,
    LocalBitTriples,
    dealer_bit_triples,
    expand_bit_triple_share,
)
from mpc.prg import PRG
from mpc.testing import run_local

FRAME = HEADER_BYTES + 8  # header plus one dimension


def engine(party, *, pairwise=True, **kw):
    seed = party.common_prg.derive("test/bit-triples").random_bytes(16)
    source = LocalBitTriples(seed, party.pid, party.n, **kw)
    return GMWEngine(
        party.channel, source, party.kernels, prg=party.prg, pair_prgs=party.pair_prgs if pairwise else None
    )


def words(seed, count):
    return np.random.default_rng(seed).integers(0, 2**64, size=count, dtype=np.uint64)


# ----------------------------------------------------------------------------- bit triples


@pytest.mark.parametrize("n", [2, 3, 4])
def test_local_bit_triples_are_valid_and_fresh(n):
    seed = PRG.fresh().random_bytes(16)
    sources = [LocalBitTriples(seed, p, n) for p in range(n)]
    draws = []
    for nwords in (5, 0, 70):
        shares = [s.bit_triples(nwords) for s in sources]
        a, b, c = (np.bitwise_xor.reduce(np.stack([t[i] for t in shares]), axis=0) for i in range(3))
        assert all(t[i].shape == (nwords,) and t[i].dtype == np.uint64 for t in shares for i in range(3))
        np.testing.assert_array_equal(c, a & b)
        draws.append(a)
    assert not np.array_equal(draws[0], draws[2][:5])  # single use: the stream moves on
    assert "insecure" in repr(sources[0]) and isinstance(sources[0], BitTripleSource)


def test_dealer_correction_matches_party_expansion():
    seeds = [PRG.fresh().random_bytes(16) for _ in range(3)]
    dealer = [PRG(s) for s in seeds]
    parties = [PRG(s) for s in seeds]
    for nwords in (3, 130):
        correction = dealer_bit_triples(dealer, nwords)
        shares = [expand_bit_triple_share(p, nwords, last=i == 2) for i, p in enumerate(parties)]
        a = shares[0][0] ^ shares[1][0] ^ shares[2][0]
        b = shares[0][1] ^ shares[1][1] ^ shares[2][1]
        assert shares[2][2] is None
        np.testing.assert_array_equal(shares[0][2] ^ shares[1][2] ^ correction, a & b)


def test_bit_triple_budget_and_arguments():
    src = LocalBitTriples(bytes(16), 0, 2, budget_words=10)
    src.bit_triples(8)
    with pytest.raises(PreprocessingExhausted, match="2 left"):
        src.bit_triples(3)
    with pytest.raises(ValueError, match="nwords"):
        src.bit_triples(-1)
    with pytest.raises(ValueError, match="pid"):
        LocalBitTriples(bytes(16), 2, 2)
    with pytest.raises(ValueError, match="seed"):
        LocalBitTriples(b"short", 0, 2)


# ----------------------------------------------------------------------------- engine correctness


@given(n=st.sampled_from([2, 3]), count=st.integers(0, 200), seed=st.integers(0, 2**32), pairwise=st.booleans())
def test_xor_and_not_input_reveal_match_numpy(n, count, seed, pairwise):
    x, y, c = words(seed, count), words(seed + 1, count), words(seed + 2, count)

    def main(party):
        eng = engine(party, pairwise=pairwise)
        sx = eng.input(x if party.pid == 0 else None, 0, count)
        sy = eng.input(y if party.pid == n - 1 else None, n - 1, (count,))
        out = [
            eng.xor(sx, sy), eng.and_(sx, sy), eng.invert(sx), eng.xor_public(sx, c), eng.and_public(sy, c),
            eng.public(c),
        ]
        return eng.reveal_many(out)

    want = [x ^ y, x & y, ~x, x ^ c, y & c, c]
    for got in run_local(main, n):
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_and_many_is_one_round_for_mixed_shapes(n):
    shapes = [(3, 5), (7,), (0,), (2, 1, 4)]
    xs = [words(i, int(np.prod(s))).reshape(s) for i, s in enumerate(shapes)]
    ys = [words(10 + i, int(np.prod(s))).reshape(s) for i, s in enumerate(shapes)]

    def main(party):
        eng = engine(party)
        sx = [eng.input(x if party.pid == 0 else None, 0, x.shape) for x in xs]
        sy = [eng.input(y if party.pid == 1 else None, 1, y.shape) for y in ys]
        with party.section("and"):
            z = eng.and_many(list(zip(sx, sy, strict=True)))
        return eng.reveal_many(z), party.stats()["sections"]["and"]

    total = sum(x.size for x in xs)
    for got, stats in run_local(main, n):
        for g, x, y in zip(got, xs, ys, strict=True):
            np.testing.assert_array_equal(g, x & y)
        assert stats["rounds"] == 1
        assert stats["messages_sent"] == n - 1
        assert stats["bytes_sent"] == (n - 1) * (FRAME + 16 * total)


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("count", [1, 64, 77])
def test_traffic_and_sends_two_words_per_word_linear_ops_send_nothing(n, count):
    x, y = words(1, count), words(2, count)

    def main(party):
        eng = engine(party, pairwise=False)
        stats = {}
        with party.section("input"):
            sx = eng.input(x if party.pid == 0 else None, 0, count)
        sy = eng.input(y if party.pid == 1 else None, 1, count)
        with party.section("linear"):
            eng.xor(sx, sy), eng.invert(sx), eng.xor_public(sx, y), eng.and_public(sx, y), eng.public(y)
        with party.section("and"):
            eng.and_(sx, sy)
        with party.section("reveal"):
            eng.reveal(sx)
        with party.section("reveal0"):
            eng.reveal(sx, to=0)
        stats = party.stats()["sections"]
        return {k: stats.get(k, {}) for k in ("input", "linear", "and", "reveal", "reveal0")}

    for pid, s in enumerate(run_local(main, n)):
        assert s["linear"]["bytes_sent"] == 0 and s["linear"]["rounds"] == 0
        assert s["and"] == {
            "bytes_sent": (n - 1) * (FRAME + 16 * count), "bytes_received": (n - 1) * (FRAME + 16 * count),
            "messages_sent": n - 1, "messages_received": n - 1, "rounds": 1,
        }
        assert s["input"]["bytes_sent"] == ((n - 1) * (FRAME + 8 * count) if pid == 0 else 0)
        assert s["input"]["rounds"] == 1
        assert s["reveal"]["bytes_sent"] == (n - 1) * (FRAME + 8 * count) and s["reveal"]["rounds"] == 1
        assert s["reveal0"]["bytes_sent"] == (0 if pid == 0 else FRAME + 8 * count)
        assert s["reveal0"]["bytes_received"] == ((n - 1) * (FRAME + 8 * count) if pid == 0 else 0)


@pytest.mark.parametrize("n", [2, 3])
def test_pairwise_input_is_free_and_reveal_to_one(n):
    x = words(5, 9)

    def main(party):
        eng = engine(party)
        with party.section("input"):
            sx = eng.input(x if party.pid == 1 else None, 1, 9)
        got = eng.reveal(sx, to=n - 1)
        return got, party.stats()["sections"]["input"]["bytes_sent"]

    for pid, (got, sent) in enumerate(run_local(main, n)):
        assert sent == 0
        if pid == n - 1:
            np.testing.assert_array_equal(got, x)
        else:
            assert got is None


def test_two_engines_never_reuse_input_masks():
    def main(party):
        first, second = engine(party), engine(party)
        x = np.zeros(4, dtype=np.uint64)
        return [e.input(x if party.pid == 0 else None, 0, 4) for e in (first, second)]

    for a, b in run_local(main, 2):
        assert not np.array_equal(a, b)


def test_shares_look_random_to_each_party():
    x = np.zeros(50, dtype=np.uint64)

    def main(party):
        eng = engine(party)
        return eng.input(x if party.pid == 0 else None, 0, 50)

    shares = run_local(main, 2)
    assert all(s.any() for s in shares)  # a zero input is not visible in either share
    np.testing.assert_array_equal(shares[0] ^ shares[1], x)


# ----------------------------------------------------------------------------- errors


def test_bad_arguments_fail_before_any_message():
    def main(party):
        eng = engine(party)
        a = np.zeros(3, dtype=np.uint64)
        with pytest.raises(ShareTypeError, match=r"shapes differ: \(3,\) and \(4,\)"):
            eng.and_(a, np.zeros(4, dtype=np.uint64))
        with pytest.raises(ShareTypeError, match="uint64"):
            eng.xor(a, a.astype(np.int64))
        with pytest.raises(ValueError, match="owner"):
            eng.input(None, 5, 3)
        with pytest.raises(ShareTypeError, match="must pass None"):
            eng.input(a, 1 - party.pid, 3)
        if party.pid == 0:  # only the owner can notice
            with pytest.raises(ShareTypeError, match="declared shape"):
                eng.input(a, 0, 4)
        with pytest.raises(ValueError, match="to:"):
            eng.reveal(a, to=7)
        with pytest.raises(ShareTypeError, match="BitTripleSource"):
            GMWEngine(party.channel, object(), party.kernels)
        return party.stats()["total"]["bytes_sent"]

    assert run_local(main, 2) == [0, 0]


def test_desynchronised_and_is_protocol_error():
    def main(party):
        eng = engine(party)
        a = np.zeros(2 + party.pid, dtype=np.uint64)
        eng.and_(a, a)

    with pytest.raises(ProtocolError, match="shape"):
        run_local(main, 2)


def test_exhausted_triples_raise():
    def main(party):
        eng = engine(party, budget_words=4)
        a = np.zeros(5, dtype=np.uint64)
        eng.and_(a, a)

    with pytest.raises(PreprocessingExhausted):
        run_local(main, 2)
