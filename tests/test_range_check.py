"""mpc.check_range: RangeError on every party exactly when some |x| >= bound, one opened bit,
under semi2k, spdz2k and cleartext, 2 and 3 parties; in-range, boundary and out-of-range values, wrapped
ring values, several tensors at different scales, bad arguments rejected before any message."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mpc
from mpc.errors import RangeError, ShareTypeError
from mpc.testing import run_local

# the check's own differences wrap on purpose for huge values: the cleartext engine must stay quiet
pytestmark = pytest.mark.filterwarnings("error::mpc.errors.RangeWarning")

ULP = 2.0**-16
ENGINES = ["semi2k", "spdz2k", "cleartext"]


def ring_share(p, units, dtype=None):
    """party 0's values given exactly in ring units, at every party."""
    units = np.asarray(units, dtype=object)
    ring = np.array([int(u) % (1 << 64) for u in units.ravel()], dtype=np.uint64).reshape(units.shape)
    return mpc.SecretTensor(p.engine, p.engine.input(ring if p.pid == 0 else None, 0, units.shape),
                            dtype or mpc.Fixed(16))


def outcome(t, bound):
    try:
        mpc.check_range(*t, bound=bound)
    except RangeError as exc:
        assert "only this bit was revealed" in str(exc)
        return "out"
    return "in"


def checks_main(p, cases):
    """cases: (list of ring-unit arrays, bound); every party returns its outcome of each."""
    return [outcome([ring_share(p, u) for u in units], bound) for units, bound in cases]


def expected(units_list, bound, scale=16):
    limit = bound * 2.0**scale
    return "in" if all(abs(int(u)) < limit for units in units_list for u in np.ravel(units)) else "out"


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("n", [2, 3])
def test_in_range_boundary_and_out_of_range(engine, n):
    b = 1000.0
    lim = int(b * 2**16)
    cases = [
        ([[0, 1, -1, lim // 3]], b),  # in range
        ([[lim - 1]], b),  # bound - ulp
        ([[-(lim - 1)]], b),  # -(bound - ulp)
        ([[lim]], b),  # bound
        ([[-lim]], b),  # -bound
        ([[5, lim * 10, 7]], b),  # far out
        ([[2**63 - 1]], b), ([[-(2**63)]], b), ([[2**62]], b), ([[-(2**62) - 5]], b),  # wrapped ring values
        ([[1, 2], [lim - 1, -3]], b),  # two tensors, all in
        ([[1, 2], [3, lim + 1]], b),  # two tensors, one element out
        ([[0]], ULP),  # the smallest bound: only 0 is in range
        ([[1]], ULP),
    ]
    results = run_local(checks_main, n, cases, engine=engine)
    want = [expected(units, bound) for units, bound in cases]
    assert want[:3] == ["in"] * 3 and want[3:10] == ["out"] * 7
    for got in results:  # the same answer on every party
        assert got == want


@pytest.mark.parametrize("n", [2, 3])
@settings(max_examples=6, deadline=None)
@given(data=st.data())
def test_random_values_and_bounds(n, data):
    bound = data.draw(st.sampled_from([1.0, 3.5, 1e3, 2.0**20, 2.0**46 - 1]))
    lim = int(bound * 2**16)
    near = st.integers(-lim - 3, lim + 3)
    anywhere = st.integers(-(2**63), 2**63 - 1)
    cases = []
    for _ in range(4):
        k = data.draw(st.integers(1, 6))
        vals = data.draw(st.lists(st.one_of(near, st.integers(-lim // 2, lim // 2), anywhere), min_size=k, max_size=k))
        cases.append(([vals], bound))
    engine = data.draw(st.sampled_from(ENGINES))
    results = run_local(checks_main, n, cases, engine=engine)
    assert all(got == [expected(u, b) for u, b in cases] for got in results)


def test_tensors_at_different_scales_and_dtypes():
    """The bound is in the user's units at each tensor's own scale: a scale-32 product, an Int64."""

    def main(p):
        x = p.input(np.array([3.0, -4.0]) if p.pid == 0 else None, owner=0, shape=(2,))
        prod = x * x  # 9, 16 at scale 32
        ints = p.input(np.array([5, -19]) if p.pid == 1 else None, owner=1, shape=(2,), dtype=mpc.Int64())
        return [outcome([prod, ints], 20), outcome([prod, ints], 19), outcome([prod], 16), outcome([prod], 16.5),
                outcome([ints], 19.5)]

    for engine in ENGINES:
        assert run_local(main, 2, engine=engine) == [["in", "out", "out", "in", "in"]] * 2


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("engine", ["semi2k", "spdz2k"])
def test_cost_is_one_opened_bit_and_constant_rounds(n, engine):
    """semi2k: 16 rounds for 2 parties, 18 for 3; spdz2k: 22 (module docstring), whatever the size;
    the cleartext engine counts the same as semi2k."""

    def main(p, size):
        x = ring_share(p, list(range(size)))
        with p.section("check"):
            mpc.check_range(x, bound=1e6)
        return p.stats()["sections"]["check"]

    small = run_local(main, n, 3, engine=engine)[0]
    large = run_local(main, n, 300, engine=engine)[0]
    assert small["rounds"] == large["rounds"] == {"semi2k": 16 if n == 2 else 18, "spdz2k": 22}[engine]
    if engine == "semi2k":
        assert run_local(main, n, 3, engine="cleartext")[0] == small


def test_bad_arguments_are_rejected_before_any_message():
    def main(p):
        x = ring_share(p, [1, 2])
        before = p.stats()
        errors = []
        for bound in (0, -1.0, float("nan"), float("inf"), "3", True, 2.0**46 + 1):
            with pytest.raises(ValueError, match="bound"):
                mpc.check_range(x, bound=bound)
            errors.append(bound)
        with pytest.raises(ValueError, match="at least one"):
            mpc.check_range(bound=1.0)
        with pytest.raises(ShareTypeError, match="argument 1"):
            mpc.check_range(x, np.array([1.0]), bound=1.0)
        mpc.check_range(x[:0], bound=1.0)  # nothing to check: no message
        return before == p.stats(), len(errors)

    assert run_local(main, 2) == [(True, 7)] * 2


def test_a_dry_run_of_a_checking_function_does_not_raise():
    def main(p):
        x = ring_share(p, [1, 2**40])  # out of range for the bound below
        plan = p.dry_run(lambda t: mpc.check_range(t * t, bound=1.0), x)
        return len(plan) > 0

    assert run_local(main, 2) == [True, True]
