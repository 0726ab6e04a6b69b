"""Floor division, remainder and shifts by public values (``//``, ``%``, ``divmod``, ``>>``,
``<<``) against NumPy: exact, for Int64 and Fixed(16), every arithmetic engine, 2 and 3 parties.

The protocol (:func:`mpc.engines.compare.floor_divide`) corrects the engine's one-round division,
which may be off by up to two, with comparisons of the remainder: these tests use the values
where a probabilistic quotient is most often wrong (multiples of d and their neighbours, 0, -1,
the ends of the range |x| < 2^62) and divisors of every kind (1, powers of two up to 2^62, odd,
negative, the largest allowed, fractional divisors of Fixed tensors).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mpc
from mpc.engines.compare import FLOOR_DIV_MAX
from mpc.errors import InputError, ShareTypeError
from mpc.testing import run_local

ENGINES = ["semi2k", "spdz2k", "masked2k", "cleartext"]
TOP = 2**62 - 1  # |x| < 2^62: the division range
F = 16

divisors = st.one_of(
    st.sampled_from([1, -1, 2, 3, -3, 7, 10, 2**20, 2**61, 2**62, -(2**62), FLOOR_DIV_MAX - 1, -FLOOR_DIV_MAX, 1000003]),
    st.integers(-(2**40), 2**40).filter(bool),
)


def int_values(d: int) -> st.SearchStrategy[int]:
    """Values near multiples of d (where a quotient off by one shows) and anywhere in range."""
    near = st.builds(lambda k, e: max(-TOP, min(TOP, k * d + e)), st.integers(-(2**20), 2**20), st.integers(-2, 2))
    return st.one_of(near, st.integers(-TOP, TOP), st.sampled_from([0, -1, 1, TOP, -TOP]))


def reveal_int(n, engine, x, ops):
    """Reveal each op(secret x) (Int64), as run under ``engine`` with n parties; party 0's results."""
    def main(p):
        sx = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape, dtype=mpc.Int64())
        return p.reveal(*[op(sx) for op in ops])

    results = run_local(main, n, engine=engine)
    for other in results[1:]:  # every party revealed the same
        for a, b in zip(results[0], other, strict=True):
            np.testing.assert_array_equal(a, b)
    return results[0]


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.filterwarnings("ignore::mpc.errors.RangeWarning")  # cleartext reports x << k's wrap (NumPy's too)
@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_int64_floor_division_matches_numpy(n, engine, data):
    d = data.draw(divisors, label="d")
    x = np.array(data.draw(st.lists(int_values(d), min_size=1, max_size=12), label="x"), dtype=np.int64)
    k = data.draw(st.integers(0, 62), label="k")
    q, r, q2, r2, sr, sl = reveal_int(n, engine, x, [lambda s: s // d, lambda s: s % d,
                                                     lambda s: divmod(s, d)[0], lambda s: divmod(s, d)[1],
                                                     lambda s: s >> k, lambda s: s << k])
    np.testing.assert_array_equal(q, x // d)
    np.testing.assert_array_equal(r, x % d)
    np.testing.assert_array_equal(q2, x // d)
    np.testing.assert_array_equal(r2, x % d)
    np.testing.assert_array_equal(sr, x >> k)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(sl, x << k)  # wraps as int64
    assert q.dtype == np.int64 and r.dtype == np.int64


@pytest.mark.parametrize("engine", ENGINES)
def test_int64_floor_division_edge_values(engine):
    """Every divisor kind on the values where a wrong quotient is likeliest, 2 parties."""
    cases = [3, -3, 7, 2, 2**62, -(2**62), FLOOR_DIV_MAX, 2**61 - 1, 1, -1]
    base = [0, 1, -1, TOP, -TOP, 2**61, -(2**61), 2**62 - 2]
    x = np.array(base + [m * d + e for d in (3, 7, 1000) for m in (-5, 0, 5) for e in (-1, 0, 1)], dtype=np.int64)
    got = reveal_int(2, engine, x, [lambda s, d=d: s // d for d in cases] + [lambda s, d=d: s % d for d in cases])
    for i, d in enumerate(cases):
        np.testing.assert_array_equal(got[i], x // d, err_msg=f"x // {d}")
        np.testing.assert_array_equal(got[len(cases) + i], x % d, err_msg=f"x % {d}")


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("engine", ENGINES)
@settings(max_examples=4, deadline=None)
@given(data=st.data())
def test_fixed_floor_division_matches_numpy(n, engine, data):
    """Fixed(16) tensors (at base scale and with a pending product's scale 32) by integers and by
    fractions with c * 2^s an integer; quotients are integer values, remainders exact."""
    grid = st.integers(-(2**40), 2**40).map(lambda v: v / 2.0**F)
    x = np.array(data.draw(st.lists(st.one_of(grid, st.sampled_from([0.0, -2.0**-F, 2.0**-F, 6.0, -6.0])),
                                    min_size=1, max_size=8), label="x"))
    c = data.draw(st.sampled_from([2, 3, -3, 0.5, -0.25, 1.5, 2.0**-F, 1000]), label="c")
    y = np.array(data.draw(st.lists(st.integers(-(2**20), 2**20).map(lambda v: v / 2.0**F),
                                    min_size=x.size, max_size=x.size), label="y"))

    def main(p):
        sx = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape, dtype=mpc.Fixed(F))
        sy = p.input(y if p.pid == n - 1 else None, owner=n - 1, shape=y.shape, dtype=mpc.Fixed(F))
        prod = sy * sy  # scale 2f, its truncation pending: divided at that scale, exactly
        return p.reveal(sx // c, sx % c, prod // 3, prod % 3)

    q, r, pq, pr = run_local(main, n, engine=engine)[0]
    yy = y * y  # exact in float64: |y| < 2^4 on the 2^-16 grid
    np.testing.assert_array_equal(q, x // c)
    np.testing.assert_array_equal(r, x % c)
    np.testing.assert_array_equal(pq, yy // 3)
    np.testing.assert_array_equal(pr, yy % 3)


def test_floor_division_rounds():
    """9 rounds for 2 parties (the division, the comparison circuit, its B2A); shifts left local."""
    def main(p):
        x = p.input(np.arange(5) if p.pid == 0 else None, owner=0, shape=(5,), dtype=mpc.Int64())
        stats = {}
        for name, fn in [("div3", lambda: x // 3), ("shr", lambda: x >> 4), ("shl", lambda: x << 4),
                         ("div1", lambda: x // 1)]:
            with p.section(name):
                fn()
            stats[name] = p.stats()["sections"][name]["rounds"]
        return stats

    for s in run_local(main, 2):
        assert s == {"div3": 9, "shr": 9, "shl": 0, "div1": 0}


def test_bad_divisors_and_shifts_rejected_before_sending():
    def main(p):
        xi = p.input(np.arange(3) if p.pid == 0 else None, owner=0, shape=(3,), dtype=mpc.Int64())
        xf = p.input(np.ones(3) if p.pid == 0 else None, owner=0, shape=(3,))
        before = p.stats()["total"]["bytes_sent"]
        errors = {}
        for name, fn in [("zero", lambda: xi // 0), ("zero mod", lambda: xf % 0.0), ("array", lambda: xi // [1, 2, 3]),
                         ("secret", lambda: xi // xi), ("reflected", lambda: 7 // xi), ("rmod", lambda: 7 % xf),
                         ("nan", lambda: xf // float("nan")), ("not dyadic", lambda: xf // 0.3),
                         ("too large", lambda: xi // (2**61 + 1)), ("too large pow2", lambda: xi // 2**63),
                         ("shift float", lambda: xf >> 1), ("shift neg", lambda: xi >> -1), ("shift 63", lambda: xi >> 63),
                         ("shift 64", lambda: xi << 64), ("shift str", lambda: xi << "1"), ("rdivmod", lambda: divmod(3, xi))]:
            try:
                fn()
                errors[name] = None
            except Exception as e:  # noqa: BLE001 - the type is what is tested
                errors[name] = type(e)
        return errors, p.stats()["total"]["bytes_sent"] - before

    errors, sent = run_local(main, 2)[0]
    assert sent == 0
    assert errors["zero"] is ZeroDivisionError and errors["zero mod"] is ZeroDivisionError
    for name in ("array", "nan", "not dyadic", "too large", "too large pow2", "shift neg", "shift 63", "shift 64",
                 "shift str"):
        assert errors[name] is InputError, name
    for name in ("secret", "reflected", "rmod", "shift float", "rdivmod"):
        assert errors[name] is ShareTypeError, name
