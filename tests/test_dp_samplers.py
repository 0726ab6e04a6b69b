"""mpc.dp.samplers: empirical distributions against the exact pmfs, Bernoulli(exp(-gamma)),
and no floating point on the sampling path.

Significance: every distribution test (chi-square on the bins with expected count >= 5, the
tails merged into one bin per side; Kolmogorov-Smirnov on the CDF at every integer) rejects at
alpha = 1e-4; the KS critical value is the continuous one, conservative for a discrete law.
Seeds are fixed (AES-CTR streams from fixed keys), so a run is reproducible; a biased sampler
fails, a correct one passes for all but a 1e-4 fraction of seeds.
"""

from __future__ import annotations

import ast
import math
import pathlib
import sys
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpc.dp import _exact, samplers
from mpc.errors import ConfigError
from mpc.prg import PRG

scipy_stats = pytest.importorskip("scipy.stats", reason="scipy comes with the dp-test extra (dp-accounting)")

ALPHA = 1e-4


def _prg(tag: str) -> PRG:
    return PRG(tag.encode().ljust(16, b"\0")[:16])


def gaussian_pmf(sigma: float, support: np.ndarray) -> np.ndarray:
    lim = int(40 * sigma) + 10
    xs = np.arange(-lim, lim + 1)
    norm = np.exp(-(xs.astype(float) ** 2) / (2 * sigma * sigma)).sum()
    return np.exp(-(support.astype(float) ** 2) / (2 * sigma * sigma)) / norm


def laplace_pmf(scale: float, support: np.ndarray) -> np.ndarray:
    q = math.exp(-1 / scale)
    return (1 - q) / (1 + q) * np.exp(-np.abs(support).astype(float) / scale)


def assert_law(draw, pmf, samples: np.ndarray | None = None) -> None:
    """:func:`assert_matches` on ``samples`` (else ``draw()``); on a failure, once more on a fresh
    ``draw()``. For samplers fed by fresh secret randomness (the MPC runs), whose samples cannot
    be replayed: a correct sampler then fails with probability about ALPHA^2 per check, instead
    of ALPHA (17 such checks of two tests each: about one suite run in 300 failed by chance,
    as a fresh clone's did once); a biased one fails both draws."""
    try:
        assert_matches(draw() if samples is None else samples, pmf)
    except AssertionError:
        assert_matches(draw(), pmf)


def assert_matches(samples: np.ndarray, pmf) -> None:
    """Chi-square and KS at ALPHA against ``pmf`` (a function of an integer array)."""
    n = samples.size
    lo, hi = int(samples.min()), int(samples.max())
    lim = max(abs(lo), abs(hi)) + 5
    support = np.arange(-lim, lim + 1)
    p = pmf(support)
    counts = np.bincount(samples - support[0], minlength=support.size)
    # KS on the CDF at every integer (mass outside the support range is < 1e-12 here)
    d = np.max(np.abs(np.cumsum(counts) / n - np.cumsum(p)))
    crit = math.sqrt(-math.log(ALPHA / 2) / 2) / math.sqrt(n)
    assert d < crit, f"KS statistic {d:.3g} >= {crit:.3g}"
    # chi-square on bins with expected >= 5, tails merged
    ok = np.flatnonzero(p * n >= 5)
    first, last = ok[0], ok[-1]
    obs = np.concatenate([[counts[:first].sum()], counts[first : last + 1], [counts[last + 1 :].sum()]])
    exp = np.concatenate([[p[:first].sum()], p[first : last + 1], [1 - p[: last + 1].sum()]]) * n
    keep = exp > 0
    obs, exp = obs[keep], exp[keep] * (obs[keep].sum() / exp[keep].sum())
    pval = scipy_stats.chisquare(obs, exp).pvalue
    assert pval > ALPHA, f"chi-square p-value {pval:.3g} <= {ALPHA}"


@pytest.mark.parametrize("sigma, n", [(0.5, 10**6), (Fraction(5, 4), 10**6), (20, 10**6), (3.7, 2 * 10**5)])
def test_discrete_gaussian_matches_pmf(sigma, n):
    """3.7 is the float 3.70000000000000017763...: numerator and denominator beyond 2^31 take the
    exact big-integer path (slower: 2 * 10^5 samples)."""
    x = samplers.discrete_gaussian(sigma, n, prg=_prg(f"dg{sigma}"))
    assert x.dtype == np.int64 and x.shape == (n,)
    assert_matches(x, lambda s: gaussian_pmf(float(sigma), s))


@pytest.mark.parametrize("scale, n", [(0.5, 10**6), (3, 10**6), (Fraction(7, 2), 10**6), (0.7, 2 * 10**5)])
def test_discrete_laplace_matches_pmf(scale, n):
    x = samplers.discrete_laplace(scale, n, prg=_prg(f"dl{scale}"))
    assert x.dtype == np.int64 and x.shape == (n,)
    assert_matches(x, lambda s: laplace_pmf(float(scale), s))


@pytest.mark.parametrize("sigma, n", [(0.5, 2 * 10**5), (20, 2 * 10**5)])
def test_rejection_sampler_matches_pmf(sigma, n):
    """The rejection sampler (algorithm 4), used above TABLE_MAX_VARIANCE, on small sigmas."""
    sg = Fraction(sigma)
    x = samplers._gaussian_rejection(samplers._Coins(_prg(f"rej{sigma}")), sg * sg, int(sg) + 1, n)
    assert_matches(x, lambda s: gaussian_pmf(float(sigma), s))


def _counting(monkeypatch, name: str) -> list[int]:
    calls = [0]
    real = getattr(samplers, name)

    def counted(*args, **kwargs):
        calls[0] += 1
        return real(*args, **kwargs)
    monkeypatch.setattr(samplers, name, counted)
    return calls


@pytest.mark.parametrize("sigma, bits, length", [(3, 10, None), (Fraction(5, 4), 8, 2), (0.5, 64, 1)])
def test_inversion_tied_and_tail_paths_match_pmf(monkeypatch, sigma, bits, length):
    """The inversion sampler with a coarse first comparison (``bits``: draws tie with a
    threshold often and are resolved with 64 more bits at a time) and a short table
    (``length``: the tail beyond it is sampled by rejection from a geometric): the law is
    still exact, and both paths really ran."""
    tied, beyond = _counting(monkeypatch, "_resolve"), _counting(monkeypatch, "_gaussian_beyond")
    sg = Fraction(sigma)
    n = 2 * 10**5
    x = samplers._gaussian_inversion(samplers._Coins(_prg(f"inv{sigma}{bits}")), sg * sg, n, bits, length)
    assert x.dtype == np.int64 and x.shape == (n,)
    assert_matches(x, lambda s: gaussian_pmf(float(sigma), s))
    if bits < 64:
        assert tied[0] > 100
    assert beyond[0] >= 1


@pytest.mark.parametrize("scale, bits, length", [(3, 10, None), (Fraction(5, 4), 8, 3), (0.7, 64, 1)])
def test_laplace_inversion_tied_and_tail_paths_match_pmf(monkeypatch, scale, bits, length):
    """The same for the discrete Laplace (its tail beyond the table: a geometric, memoryless)."""
    tied, beyond = _counting(monkeypatch, "_resolve"), _counting(monkeypatch, "_geom_scaled")
    n = 2 * 10**5
    x = samplers._laplace_inversion(samplers._Coins(_prg(f"linv{scale}{bits}")), Fraction(scale), n, bits, length)
    assert x.dtype == np.int64 and x.shape == (n,)
    assert_matches(x, lambda s: laplace_pmf(float(scale), s))
    if bits < 64:
        assert tied[0] > 100
    assert beyond[0] >= 1


@pytest.mark.parametrize("scale, n", [(3, 2 * 10**5), (0.7, 10**5)])
def test_laplace_rejection_sampler_matches_pmf(scale, n):
    """The rejection sampler (algorithm 3), used above TABLE_MAX_SCALE, on small scales."""
    sc = Fraction(scale)
    x = samplers._laplace(samplers._Coins(_prg(f"lrej{scale}")), sc.numerator, sc.denominator, n)
    assert_matches(x, lambda s: laplace_pmf(float(scale), s))


def test_exact_thresholds_against_mpmath():
    """The thresholds floor(S_k 2^p) (integer brackets, mpc/dp/_exact.py) equal those of a
    60-digit mpmath evaluation, and the exp brackets contain exp(-x)."""
    import mpmath  # the dp-test extra (make test installs it)

    from mpc.dp import _exact
    mpmath.mp.dps = 60
    for num, den in [(1, 3), (7, 2), (45, 1), (3, 7), (10**12 + 1, 10**6)]:
        lo, hi = _exact.exp_neg(num, den, 128)
        assert lo <= mpmath.exp(-mpmath.mpf(num) / den) * mpmath.mpf(2) ** 128 <= hi
        assert hi - lo < 64
    for s2 in (Fraction(1, 4), Fraction(400), Fraction(10**6), Fraction(3.7) ** 2):
        a = mpmath.mpf(s2.numerator) / s2.denominator
        ws = [mpmath.exp(-mpmath.mpf(j) ** 2 / (2 * a)) for j in range(int(15 * mpmath.sqrt(a)) + 20)]
        z = 1 + 2 * sum(ws[1:])
        ks = [1, 2, 3, 7, 30]
        for p in (64, 130):
            got = _exact.gaussian_tail(s2).floors(ks, p)
            want = [int(mpmath.floor(2 * sum(ws[k:]) / z * mpmath.mpf(2) ** p)) for k in ks]
            assert got == want, (s2, p)
    for sc in (Fraction(1, 2), Fraction(20), Fraction(0.7), Fraction(1000)):
        q = mpmath.exp(-mpmath.mpf(sc.denominator) / sc.numerator)
        for p in (64, 130):
            want = [int(mpmath.floor(2 * q**k / (1 + q) * mpmath.mpf(2) ** p)) for k in (1, 2, 5, 40)]
            assert _exact.laplace_tail(sc).floors([1, 2, 5, 40], p) == want, (sc, p)


def test_samplers_detect_a_wrong_parameter():
    """The test itself has power: sigma = 20 samples do not pass as sigma = 20.5."""
    x = samplers.discrete_gaussian(20, 10**6, prg=_prg("power"))
    with pytest.raises(AssertionError):
        assert_matches(x, lambda s: gaussian_pmf(20.5, s))


@settings(max_examples=25, deadline=None)
@given(num=st.integers(0, 60), den=st.integers(1, 20))
def test_bernoulli_exp_rate(num, den):
    """Bernoulli(exp(-gamma)) for rational gamma in [0, 60]: the empirical rate within 5.3
    standard errors (two-sided alpha ~ 1e-7 per example)."""
    gamma = Fraction(num, den)
    n = 40_000
    b = samplers.bernoulli_exp(gamma, n, prg=_prg(f"be{num}/{den}"))
    p = math.exp(-num / den)
    se = math.sqrt(max(p * (1 - p), 1e-12) / n)
    assert abs(b.mean() - p) <= 5.3 * se + 1e-12


@settings(max_examples=10, deadline=None)
@given(gamma=st.fractions(min_value=0, max_value=5, max_denominator=10**30))
def test_bernoulli_exp_big_fractions(gamma):
    """Denominators beyond 2^64 use Python integers; the rate is the same."""
    n = 20_000
    b = samplers.bernoulli_exp(gamma, n, prg=_prg(f"bb{gamma}"))
    p = math.exp(-float(gamma))
    assert abs(b.mean() - p) <= 5.3 * math.sqrt(max(p * (1 - p), 1e-12) / n) + 1e-12


def test_bernoulli_exp_per_element_gammas():
    """The vectorised kernel with a different gamma per element (the Gaussian's acceptance)."""
    coins = samplers._Coins(_prg("per-element"))
    num = np.repeat(np.array([0, 3, 7, 10, 25], dtype=np.uint64), 40_000)
    ok = samplers._bern_exp(coins, num, 10).reshape(5, -1).mean(axis=1)
    want = np.exp(-np.array([0, 0.3, 0.7, 1.0, 2.5]))
    assert np.all(np.abs(ok - want) <= 5.3 * np.sqrt(want * (1 - want) / 40_000) + 1e-12)


def test_same_seed_same_samples_and_fresh_default():
    a = samplers.discrete_gaussian(3, 1000, prg=_prg("seed"))
    b = samplers.discrete_gaussian(3, 1000, prg=_prg("seed"))
    np.testing.assert_array_equal(a, b)
    c, d = samplers.discrete_gaussian(3, 1000), samplers.discrete_gaussian(3, 1000)
    assert not np.array_equal(c, d)  # fresh os.urandom seeds
    assert samplers.discrete_laplace(2, (3, 4)).shape == (3, 4)
    assert samplers.discrete_gaussian(2).shape == ()


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "x", True, None, 2.0**41])
def test_bad_parameters_are_rejected(bad):
    with pytest.raises(ConfigError, match="sigma"):
        samplers.discrete_gaussian(bad, 3)
    with pytest.raises(ConfigError, match="scale"):
        samplers.discrete_laplace(bad, 3)


def test_bad_size_and_prg_rejected():
    with pytest.raises(ConfigError, match="size"):
        samplers.discrete_gaussian(1, -3)
    with pytest.raises(ConfigError, match="prg"):
        samplers.discrete_gaussian(1, 3, prg=np.random.default_rng(0))


# ----------------------------------------------------------------------------- no floating point

SAMPLERS_SRC = pathlib.Path(samplers.__file__)
EXACT_SRC = SAMPLERS_SRC.with_name("_exact.py")  # the inversion thresholds: on the sampling path too


@pytest.mark.parametrize("src", [SAMPLERS_SRC, EXACT_SRC], ids=lambda p: p.name)
def test_sampler_module_has_no_float_operation(src):
    """Static check of mpc/dp/samplers.py and mpc/dp/_exact.py: no true division, no float
    literal, no float(), no math module, no numpy float dtype or transcendental function (the
    parameter conversion lives in mpc/dp/_rational.py; error messages may format a float,
    nothing else)."""
    tree = ast.parse(src.read_text())
    banned_attrs = {"float16", "float32", "float64", "float_", "double", "exp", "log", "sqrt", "random",
                    "true_divide", "divide", "power", "longdouble", "expm1", "log1p"}
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Div, ast.Pow)):
            problems.append(f"line {node.lineno}: '/' or '**'")
        if isinstance(node, ast.AugAssign) and isinstance(node.op, (ast.Div, ast.Pow)):
            problems.append(f"line {node.lineno}: '/=' or '**='")
        if isinstance(node, ast.Constant) and isinstance(node.value, float):
            problems.append(f"line {node.lineno}: float literal")
        if isinstance(node, ast.Attribute) and node.attr in banned_attrs:
            problems.append(f"line {node.lineno}: .{node.attr}")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
            if names == ["isqrt", "math"]:
                continue  # the integer square root
            if any(n in ("math", "random", "cmath", "statistics", "decimal") for n in names):
                problems.append(f"line {node.lineno}: imports {names}")
    calls_float = [n.lineno for n in ast.walk(tree)
                   if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "float"
                   and not _inside_raise(tree, n)]
    problems += [f"line {ln}: float()" for ln in calls_float]
    assert not problems, "floating point in the sampling path: " + "; ".join(problems)


def _inside_raise(tree: ast.AST, target: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and any(n is target for n in ast.walk(node)):
            return True
    return False


def _float_locals(run) -> list[str]:
    """Run ``run()`` tracing every line of mpc/dp/samplers.py; report locals holding a float
    (Python float, NumPy floating scalar, or an array of a float/complex dtype), except the
    public functions' own parameter, which may be a float the user passed."""
    seen: list[str] = []
    srcs = {str(SAMPLERS_SRC), str(EXACT_SRC)}
    entry = {"bernoulli_exp": "gamma", "discrete_laplace": "scale", "discrete_gaussian": "sigma"}

    def check(frame):
        for name, v in frame.f_locals.items():
            if entry.get(frame.f_code.co_name) == name:
                continue  # the user's parameter itself, converted exactly by to_fraction
            if isinstance(v, (float, complex, np.floating, np.complexfloating)) or (
                    isinstance(v, np.ndarray) and v.dtype.kind in "fc"):
                seen.append(f"{frame.f_code.co_name}:{frame.f_lineno} {name}")
            elif isinstance(v, np.ndarray) and v.dtype == object and v.size:
                if any(isinstance(e, float) for e in v.flat[:64]):
                    seen.append(f"{frame.f_code.co_name}:{frame.f_lineno} {name} (object floats)")

    def tracer(frame, event, arg):
        if frame.f_code.co_filename not in srcs:
            return None

        def local(frame, event, arg):
            check(frame)
            return local
        return local

    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        run()
    finally:
        sys.settrace(old)
    return seen


def test_no_float_intermediate_at_run_time():
    """Every local of every line executed in the samplers is an integer or bool (fast and
    big-integer paths both); a float parameter is converted before the sampling path."""
    def run():
        samplers._inversion_table.cache_clear()  # trace the thresholds' computation too
        _exact.gaussian_tail.cache_clear()
        _exact.laplace_tail.cache_clear()
        samplers.discrete_gaussian(1.5, 3000, prg=_prg("trace1"))
        coins = samplers._Coins(_prg("trace5"))
        samplers._gaussian_inversion(coins, Fraction(9, 4), 3000, 8, 2)  # the tied and the tail paths
        samplers._laplace_inversion(coins, Fraction(3, 2), 3000, 8, 2)
        samplers._laplace(coins, 3, 2, 300)
        samplers._gaussian_rejection(coins, Fraction(9, 4), 2, 300)
        samplers.discrete_gaussian(3.7, 300, prg=_prg("trace2"))
        samplers.discrete_laplace(0.7, 300, prg=_prg("trace3"))
        samplers.bernoulli_exp(2.25, 300, prg=_prg("trace4"))
    assert _float_locals(run) == []


def test_float_tracer_catches_a_float():
    """The run-time check has teeth: a float slipped into the sampling path is reported."""
    def bad():
        coins = samplers._Coins(_prg("bad"))
        samplers._bern_exp_frac(coins, np.array([1, 2], dtype=np.uint64) / 2, 3)
    real = samplers._bern_exp_frac

    def wrapped(coins, r, den):
        r_float = r * 0.5  # noqa: F841 - the tracer must see it
        return real(coins, r, den)
    samplers._bern_exp_frac = wrapped
    try:
        wrapped.__code__ = wrapped.__code__.replace(co_filename=str(SAMPLERS_SRC))
        assert _float_locals(bad)
    finally:
        samplers._bern_exp_frac = real
