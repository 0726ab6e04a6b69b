"""semi2k engine protocols on raw ring shares: truncation and division bounds, inputs, openings."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mpc.testing import run_local

LIMIT = 2**62


def ring(values):
    return np.array([v % 2**64 for v in values], dtype=np.uint64)


def signed(u):
    return [int(v) for v in np.asarray(u, dtype=np.uint64).view(np.int64)]


@given(st.sampled_from([2, 3]), st.lists(st.integers(-LIMIT + 1, LIMIT - 1), min_size=1, max_size=30),
       st.integers(1, 62), st.integers(2, 2**40))
def test_truncation_and_division_error_bounds(n, xs, k, d):
    xs = [*xs, LIMIT - 1, -LIMIT + 1, 0, -1]

    def main(p):
        e = p.engine
        x = e.input(ring(xs) if p.pid == 0 else None, 0, (len(xs),))
        t, q = e.truncate_many([x], k)[0], e.divide_many([x], d)[0]
        return e.open([t, q])

    t, q = run_local(main, n)[0]
    for x, tv, qv in zip(xs, signed(t), signed(q), strict=True):
        assert tv - (x >> k) in (0, 1)  # floor(x / 2^k) or one more: never a wrap
        assert abs(qv * d - x) < 2 * d  # |q - x/d| < 2


@pytest.mark.parametrize("n", [2, 3, 4])
def test_input_costs_no_share_traffic_and_open_to_one(n):
    def main(p):
        e = p.engine
        before = p.stats()["total"]["bytes_sent"]
        shares = [e.input(ring([o, -o]) if p.pid == o else None, o, (2,)) for o in range(n)]
        sent_input = p.stats()["total"]["bytes_sent"] - before
        total = shares[0]
        for s in shares[1:]:
            total = e.add(total, s)
        return sent_input, e.open([total], to=n - 1), e.open([e.mul(shares[0], shares[-1])])

    out = run_local(main, n)
    for pid, (sent, to_last, prod) in enumerate(out):
        assert sent == 0
        want = sum(range(n))
        if pid == n - 1:
            assert signed(to_last[0]) == [want, -want]
        else:
            assert to_last is None
        assert signed(prod[0]) == [0, 0]  # party 0's input is (0, 0)


def test_input_without_agreement_check_is_zero_rounds():
    def main(p):
        x = p.input(np.arange(3.0) if p.pid == 0 else None, owner=0, shape=(3,), check=False)
        ys = p.input(np.ones(3), check=False)
        val = p.reveal(x + ys[1])
        return p.stats()["total"]["messages_sent"], val

    for sent, val in run_local(main, 3):
        assert sent == 3 - 1  # only the reveal
        np.testing.assert_array_equal(val, np.arange(3.0) + 1)


SHAPES = [(), (0,), (1,), (7,), (3, 5), (2, 0, 3)]


@pytest.mark.parametrize("n", [2, 3, 4])
def test_products_on_ring_values_any_shape(n):
    # Semi2k.mul passes the combine its own masked values and the peers' sum (the received array
    # itself for two parties, n - 2 adds beyond): every party count and shape, wrap-around included
    rng = np.random.default_rng(n)
    vals = [(rng.integers(0, 2**64, size=s, dtype=np.uint64, endpoint=False),
             rng.integers(0, 2**64, size=s, dtype=np.uint64, endpoint=False)) for s in SHAPES]

    def main(p):
        e = p.engine
        out = []
        for (x, y), s in zip(vals, SHAPES, strict=True):
            sx = e.input(x if p.pid == 0 else None, 0, s)
            sy = e.input(y if p.pid == n - 1 else None, n - 1, s)
            out.append(e.open([e.mul(sx, sy)])[0])
        return out

    for got in run_local(main, n):
        for (x, y), z in zip(vals, got, strict=True):
            assert z.shape == x.shape
            assert np.array_equal(z, x * y)


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("d", [2**16, 1000])
def test_divide_many_mixed_shapes_one_round_same_bytes(n, d):
    # several arrays of different shapes (0-d, empty, 2-d) share one exchange of exactly the
    # masked values: n - 1 messages of 8 bytes per element plus the channel's header
    rng = np.random.default_rng(d + n)
    xs = [rng.integers(-LIMIT + 1, LIMIT, size=s, dtype=np.int64) for s in SHAPES]
    count = sum(x.size for x in xs)

    def main(p):
        e = p.engine
        shares = [e.input(x.view(np.uint64) if p.pid == 0 else None, 0, x.shape) for x in xs]
        with p.section("probe"):
            e.open([shares[2]])  # one element: learns the per-message header
        with p.section("div"):
            qs = e.divide_many(shares, d)
        stats = p.stats()["sections"]
        return stats["probe"], stats["div"], e.open(qs), e.divide_many([], d)

    for probe, div, qs, none in run_local(main, n):
        header = probe["bytes_sent"] // (n - 1) - 8
        assert div["rounds"] == 1 and div["messages_sent"] == n - 1
        assert div["bytes_sent"] == (n - 1) * (8 * count + header)
        assert none == []
        for x, q in zip(xs, qs, strict=True):
            assert q.shape == x.shape
            for xv, qv in zip(x.reshape(-1).tolist(), signed(q.reshape(-1)), strict=True):
                if d & (d - 1) == 0:
                    assert qv - (xv // d) in (0, 1)
                else:
                    assert abs(qv * d - xv) < 2 * d


def _candidates(x, kx, y, ky):
    """The values floor(x/2^kx) * floor(y/2^ky) may take mod 2^64: each floor may be one more
    (a shift of 0 is exact)."""
    xs = {x >> kx, (x >> kx) + 1} if kx else {x}
    ys = {y >> ky, (y >> ky) + 1} if ky else {y}
    return {(a * b) % 2**64 for a in xs for b in ys}


@given(st.sampled_from([2, 3]), st.lists(st.tuples(st.integers(-LIMIT + 1, LIMIT - 1), st.integers(-LIMIT + 1, LIMIT - 1)),
                                         min_size=1, max_size=20),
       st.integers(1, 62), st.integers(0, 62))
def test_truncating_product_and_square_match_truncate_then_multiply(n, pairs, kx, ky):
    """mul_truncating / square_truncating against plaintext, edge values included (0, -1, the
    largest magnitudes below 2^62), shifts from 1 to 62 (and 0 for the second operand, both
    orders), with the one-ulp freedom of each truncation and nothing more."""
    pairs = [*pairs, (LIMIT - 1, -LIMIT + 1), (-LIMIT + 1, LIMIT - 1), (0, 0), (-1, -1), (1 << 40, -(1 << 40))]
    xs, ys = [a for a, _ in pairs], [b for _, b in pairs]

    def main(p):
        e = p.engine
        x = e.input(ring(xs) if p.pid == 0 else None, 0, (len(xs),))
        y = e.input(ring(ys) if p.pid == p.n - 1 else None, p.n - 1, (len(ys),))
        return e.open([e.mul_truncating(x, kx, y, ky), e.mul_truncating(y, ky, x, kx), e.square_truncating(x, kx)])

    z, z_swapped, sq = run_local(main, n)[0]
    for i, (x, y) in enumerate(pairs):
        assert int(z[i]) in _candidates(x, kx, y, ky)
        assert int(z_swapped[i]) in _candidates(x, kx, y, ky)
        fx = x >> kx
        assert int(sq[i]) in {fx * fx % 2**64, (fx + 1) * (fx + 1) % 2**64}
