"""Party.input / Party.reveal, input validation before any message, type and shape errors."""

import types

import numpy as np
import pytest
import torch  # installed by `make test` (the torch extra: the CPU build pinned in pyproject)

import mpc
from mpc.errors import ConfigError, MPCError, PeerTimeout, ShareTypeError
from mpc.runtime.inout import _NoDealer
from mpc.testing import run_local

# every arithmetic engine a user picks by name for the Party API: semi-honest and actively secure
ENGINES = pytest.mark.parametrize("engine", ["semi2k", "spdz2k"])


@pytest.mark.parametrize("n", [2, 3])
@ENGINES
def test_every_party_inputs_and_reveal_to_one(n, engine):
    def main(p):
        xs = p.input([p.pid + 0.5, -p.pid])  # list input, every party contributes
        ys = p.input(torch.full((2,), p.pid, dtype=torch.int64), dtype=mpc.Int64())
        total = mpc.stack(xs).sum(axis=0)
        only1 = p.reveal(total, ys[n - 1], to=1)
        everyone = p.reveal(total)
        return only1, everyone, [repr(x) for x in xs]

    got = run_local(main, n, engine=engine)
    want = np.array([sum(i + 0.5 for i in range(n)), -sum(range(n))])
    for pid, (only1, everyone, reprs) in enumerate(got):
        np.testing.assert_array_equal(everyone, want)
        if pid == 1:
            np.testing.assert_array_equal(only1[0], want)
            np.testing.assert_array_equal(only1[1], [n - 1, n - 1])
        else:
            assert only1 == (None, None)
        assert all("SecretTensor(shape=(2,)" in r and "Fixed" in r for r in reprs)


@ENGINES
def test_scalars_reveal_as_numpy_scalars(engine):
    def main(p):
        x = p.input(3.25 if p.pid == 0 else None, owner=0, shape=())
        return p.reveal(x), p.reveal(x, x * x)

    one, two = run_local(main, 2, engine=engine)[0]
    assert one == 3.25 and np.ndim(one) == 0 and two == (3.25, 3.25**2)


@ENGINES
def test_input_disagreement_is_detected(engine):
    def main(p):
        return p.input(np.zeros(3 if p.pid == 0 else 4))

    with pytest.raises(ValueError, match="disagree"):
        run_local(main, 2, engine=engine)


@ENGINES
def test_bad_inputs_are_rejected_before_sending(engine):
    def main(p):
        errors = []
        for fn in [
            lambda: p.input(2.0**60),  # out of the Fixed(16) range
            lambda: p.input(None, owner=0) if p.pid == 0 else p.input(owner=0),  # missing value / shape
            lambda: p.input(1.0, owner=5),
            lambda: p.input("text"),
            lambda: p.input(np.array(["1", "2"])),  # numbers as strings: not converted silently
            lambda: p.input(1.5, dtype=mpc.Int64()),  # non-integral Int64
            # a non-owner's shape: negative, fractional (not truncated to another shape), not a shape
            lambda: p.input(np.ones(2) if p.pid == 1 else None, owner=1, shape=(-1,)),
            lambda: p.input(np.ones(2) if p.pid == 1 else None, owner=1, shape=(2.5,)),
            lambda: p.input(np.ones(2) if p.pid == 1 else None, owner=1, shape="2"),
        ]:
            try:
                fn()
            except MPCError as exc:  # every one an expected error: one line from the launcher
                errors.append(type(exc).__name__)
        return errors, p.stats()["total"]["bytes_sent"]

    for errors, sent in run_local(main, 2, engine=engine):
        assert errors == ["InputError", "InputError", "ConfigError", "ShareTypeError", "ShareTypeError",
                          "InputError", "InputError", "InputError", "InputError"] and sent == 0


@ENGINES
def test_mixing_dtypes_parties_and_shapes_is_rejected_before_sending(engine):
    def main(p):
        a = p.input(np.ones((2, 3)) if p.pid == 0 else None, owner=0, shape=(2, 3))
        i = p.input(np.ones((2, 3)) if p.pid == 0 else None, owner=0, shape=(2, 3), dtype=mpc.Fixed(20))
        before = p.stats()["total"]["bytes_sent"]
        caught = []
        for fn, exc in [
            (lambda: a + i, ShareTypeError), (lambda: a * i, ShareTypeError), (lambda: a @ a, ValueError),
            (lambda: a * a[:, :2], ValueError), (lambda: a + np.ones(4), ValueError), (lambda: i @ a.T, ShareTypeError),
            (lambda: a / a, ShareTypeError), (lambda: 2 / a, ShareTypeError), (lambda: a / 0, ZeroDivisionError), (lambda: bool(a), ShareTypeError),
            (lambda: np.asarray(a) + 1, ShareTypeError), (lambda: a[a], ShareTypeError), (lambda: a.reshape(4), ValueError),
            (lambda: a.conv2d(np.ones((1, 1, 1, 1))), ValueError), (lambda: mpc.stack([a, i]), ShareTypeError),
            (lambda: a.sum(axis=3), ValueError), (lambda: a + "x", ShareTypeError), (lambda: p.reveal(np.ones(2)), ShareTypeError),
        ]:
            with pytest.raises(exc):
                fn()
            caught.append(exc)
        return len(caught), p.stats()["total"]["bytes_sent"] - before, a

    res = run_local(main, 2, engine=engine)
    assert all(c == 18 and sent == 0 for c, sent, _ in res)
    with pytest.raises(ShareTypeError, match=r"c \* mpc.functions.reciprocal\(x\)"):  # says what to use
        2 / res[0][2]
    with pytest.raises(ShareTypeError, match="different parties"):
        res[0][2] + res[1][2]


def test_engine_and_preprocessing_options():
    with pytest.raises(ConfigError, match="engine"):
        run_local(lambda p: None, 2, engine="nope")
    with pytest.raises(ConfigError, match="preprocessing"):
        run_local(lambda p: None, 2, preprocessing="nope")

    def needs_dealer(p):
        x = p.input(np.ones(2) if p.pid == 0 else None, owner=0, shape=(2,))
        y = x + 1  # linear: fine without a dealer
        return p.reveal(y * y)

    with pytest.raises(ConfigError, match="dealer link"):
        run_local(needs_dealer, 2, preprocessing=_NoDealer())


@pytest.mark.parametrize("n", [2, 3])
@ENGINES
def test_dealer_preprocessing_end_to_end_and_offline_phase(n, engine):
    x = np.arange(6.0).reshape(2, 3)

    def main(p):
        a = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape)

        def step(v):
            return (v * v) @ v.T

        with p.recording() as plan:
            first = step(a)
        p.preprocess(plan * 2)
        d0 = p.stats()["dealer"]["messages_sent"]
        second, third = step(a), step(a + 1)
        d1 = p.stats()["dealer"]["messages_sent"]
        return p.reveal(first, second, third), d1 - d0

    out = run_local(main, n, engine=engine, preprocessing="dealer")
    for vals, dealer_msgs in out:
        np.testing.assert_allclose(vals[0], (x * x) @ x.T, atol=1e-3)
        np.testing.assert_allclose(vals[2], ((x + 1) ** 2) @ (x + 1).T, atol=1e-3)
        assert dealer_msgs == 0  # the online phase after preprocess() does not talk to the dealer


@ENGINES
def test_dealer_thread_failure_is_peer_timeout_naming_dealer(engine):
    def hook(dealer, links):
        raise RuntimeError("dealer crashed")

    def main(p):
        return p.reveal(p.input(1.0 if p.pid == 0 else None, owner=0, shape=()) ** 2)

    out = run_local(main, 2, engine=engine, preprocessing="dealer", dealer_hook=hook, timeout=5, return_exceptions=True)
    assert all(isinstance(e, PeerTimeout) and e.peer == "dealer" and "dealer" in str(e) for e in out)


@pytest.mark.parametrize("n", [2, 3])
@ENGINES
def test_dry_run_plan_is_exact_and_silent(n, engine):
    def step(a, b):
        return ((a * b) @ b.T).truncate().mean(axis=0) + a.square().sum()

    def main(p):
        a = p.input(np.ones((3, 4)) if p.pid == 0 else None, owner=0, shape=(3, 4))
        b = p.input(np.ones((3, 4)) if p.pid == 1 else None, owner=1, shape=(3, 4))
        before = p.stats()["total"]["bytes_sent"], p.preprocessing.consumed
        plan = p.dry_run(step, a, b)
        after = p.stats()["total"]["bytes_sent"], p.preprocessing.consumed
        with p.recording() as real:
            p.preprocess(plan)
            out = p.reveal(step(a, b))
        return plan, real, before == after, out

    for plan, real, silent, out in run_local(main, n, engine=engine, preprocessing="dealer"):
        # the recording also holds the reveal's material: none under semi2k; under spdz2k the
        # random high words that hide the opened values' upper 64 bits
        assert silent and plan == real[: len(plan)] and len(plan) == 6  # triple, trunc, matmul, trunc, div, square
        assert [r.kind for r in real[len(plan) :]] == ([] if engine == "semi2k" else ["rand"])
        np.testing.assert_allclose(out, np.full(3, 4.0 + 12.0), atol=1e-3)


@pytest.mark.parametrize("n", [2, 3])
@ENGINES
def test_dry_run_plans_truncating_products(n, engine):
    """The folded truncations (tmul, tsquare tuples) are planned like any other material: the
    dry run's plan equals what the run consumes, and the prefetched run needs no dealer."""
    def step(a, b):
        ab = a * b
        return (ab * a).sum() + ab.square().sum() + (ab * (b * a)).sum()

    def main(p):
        a = p.input(np.full((3, 4), 1.5) if p.pid == 0 else None, owner=0, shape=(3, 4))
        b = p.input(np.full((3, 4), -2.0) if p.pid == 1 else None, owner=1, shape=(3, 4))
        plan = p.dry_run(step, a, b)
        p.preprocess(plan)
        dealer0 = p.stats().get("dealer", {}).get("messages_sent", 0)
        with p.recording() as real:
            out = p.reveal(step(a, b))
        return plan, real, p.stats().get("dealer", {}).get("messages_sent", 0) - dealer0, out

    for pid, (plan, real, dealer_msgs, out) in enumerate(run_local(main, n, engine=engine, preprocessing="dealer")):
        # the recording also holds the reveal's material (spdz2k: its random high words, fetched
        # online by party n-1, the only party that talks to the dealer)
        assert plan == real[: len(plan)] and dealer_msgs == (engine == "spdz2k" and pid == n - 1)
        assert [r.kind for r in real[len(plan) :]] == ([] if engine == "semi2k" else ["rand"])
        assert [r.kind for r in plan] == ["triple", "tmul", "tsquare", "triple", "tmul"]
        assert plan[1].params == (16, 0, 3, 4) and plan[4].params == (16, 16, 3, 4)
        ab = 1.5 * -2.0
        np.testing.assert_allclose(out, 12 * (ab * 1.5 + ab * ab + ab * ab), atol=1e-2)


@ENGINES
def test_metadata_and_repr_do_not_communicate(engine):
    def main(p):
        x = p.input(np.zeros((2, 3, 4)) if p.pid == 0 else None, owner=0, shape=(2, 3, 4))
        i = p.input(np.zeros(5, np.int64) if p.pid == 0 else None, owner=0, shape=(5,), dtype=mpc.Int64)
        before = p.stats()["total"]["messages_sent"]
        meta = (x.shape, x.ndim, x.size, x.dtype, len(x), i.dtype, len(list(x)), repr(x * 1), str(i))
        assert p.stats()["total"]["messages_sent"] == before
        with pytest.raises(TypeError):
            len(x.sum())
        return meta, repr(x)

    (meta, r), _ = run_local(main, 2, engine=engine)
    assert meta[:6] == ((2, 3, 4), 3, 24, mpc.Fixed(16), 2, mpc.Int64()) and meta[6] == 2
    assert r == f"SecretTensor(shape=(2, 3, 4), dtype=Fixed(f=16), engine={engine}, party=0)"


@pytest.mark.parametrize("n", [2, 3])
@ENGINES
def test_torch_tensors_as_inputs_and_operands(n, engine):
    """Float tensors (even ones that require grad) become Fixed shares; int tensors Int64."""
    w = torch.linspace(-3.0, 3.0, 6, dtype=torch.float64).reshape(2, 3).requires_grad_(True)
    x = torch.tensor([[1.5, -2.0], [0.25, 4.0], [-1.0, 0.0]], dtype=torch.float32)

    def main(p):
        sw = p.input(w if p.pid == 0 else None, owner=0, shape=(2, 3))
        sx = p.input(x if p.pid == n - 1 else None, owner=n - 1, shape=(3, 2))
        counts = mpc.stack(p.input(torch.arange(3) * (p.pid + 1), dtype=mpc.Int64()))
        return p.reveal(sw @ sx, counts.sum(axis=0))

    want = w.detach().numpy() @ x.numpy().astype(np.float64)
    for prod, counts in run_local(main, n, engine=engine):
        np.testing.assert_allclose(prod, want, atol=2.0**-14)
        np.testing.assert_array_equal(counts, np.arange(3) * sum(range(1, n + 1)))


@ENGINES
def test_reveal_as_torch_and_torch_inputs(engine):
    import torch  # installed by `make test` (the [torch] extra)

    x = torch.tensor([[1.5, -2.0], [0.25, 3.0]])

    def main(p):
        a = p.input(x if p.pid == 0 else None, owner=0, shape=(2, 2))
        return p.reveal(a * 2, a.argmax(), a < 1, as_torch=True), p.reveal(a.sum(), as_torch=True, to=1)

    for pid, ((y, am, lt), s) in enumerate(run_local(main, 2, engine=engine)):
        assert isinstance(y, torch.Tensor) and y.dtype == torch.float64 and torch.equal(y, x.double() * 2)
        assert am.dtype == torch.int64 and int(am) == 3 and lt.dtype == torch.int64
        assert torch.equal(lt, (x < 1).long())
        assert (s is None) if pid == 0 else (isinstance(s, torch.Tensor) and float(s) == 2.75)


@pytest.mark.parametrize("n", [2, 3])
@ENGINES
def test_on_demand_material_is_predicted_one_dealer_round_trip_per_repeated_step(n, engine):
    """A loop whose steps repeat their requests costs one dealer round trip per step after the
    first (the rest of the step is predicted and fetched with the step's first request); a step
    that breaks the pattern (other shapes) is still served correctly: every party predicts the
    same, so the streams stay aligned."""
    x = np.linspace(-2, 2, 24).reshape(6, 4)

    def step(a, w):
        return (a @ w).relu().sum() * 0.5 + (a * a).truncate().sum()

    def main(p):
        a = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape)
        w = p.input(np.ones(4) if p.pid == p.n - 1 else None, owner=p.n - 1, shape=(4,))
        counts, out = [], []
        for i in range(6):
            before = p.stats()["dealer"]["messages_sent"]
            out.append(step(a if i != 4 else a[:3], w))  # step 4 breaks the pattern
            counts.append(p.stats()["dealer"]["messages_sent"] - before)
        return counts, p.reveal(*out)

    for pid, (counts, out) in enumerate(run_local(main, n, engine=engine, preprocessing="dealer")):
        if pid == n - 1:  # the only party that talks to the dealer
            assert counts[0] > 3  # the first step: one round trip per item (nothing to predict from)
            assert counts[1] == counts[2] == counts[3] == 1 and counts[5] <= 2, counts
        want = [np.maximum(x @ np.ones(4), 0).sum() * 0.5 + (x * x).sum()] * 6
        want[4] = np.maximum(x[:3] @ np.ones(4), 0).sum() * 0.5 + (x[:3] * x[:3]).sum()
        np.testing.assert_allclose(out, want, atol=1e-3)


def test_preprocess_ends_with_one_full_collection(monkeypatch):
    """The offline phase ends with gc.collect() (in its own time), so the online phase does not
    pay for the offline phase's garbage with a full collection in the middle of its rounds."""
    import mpc.runtime.party as party_module

    calls, frozen = [], []
    monkeypatch.setattr(party_module, "gc", types.SimpleNamespace(
        collect=lambda: calls.append(1), freeze=lambda: frozen.append(1), unfreeze=lambda: frozen.append(-1)))

    def main(p):
        a = p.input(np.ones(4) if p.pid == 0 else None, owner=0, shape=(4,))
        with p.recording() as plan:
            p.reveal(a * a)
        before = len(calls)
        p.preprocess(plan)
        return len(calls) - before, p.reveal(a * a)

    for collections, value in run_local(main, 2, preprocessing="dealer"):
        assert collections >= 1  # each party's preprocess() collected (the threads share the list)
        np.testing.assert_allclose(value, np.ones(4), atol=1e-3)
    # the set-up heap is frozen once per party (so those collections skip it) and handed back at close
    assert frozen.count(1) == 2 and frozen.count(-1) == 2, frozen


def test_script_arguments_are_checked_before_any_message():
    """party.args(k, usage): the arguments after the script's path, at least k of them, else a
    ConfigError quoting the run line at every party, before any message."""

    def main(p):
        before = p.stats()["total"]["bytes_sent"]
        with pytest.raises(ConfigError, match=r"at least 2 arguments after its path, got 1 argument; "
                                              r"usage: mpcrun -n 2 x\.py A B"):
            p.args(2, "mpcrun -n 2 x.py A B")
        return p.args(1, "mpcrun -n 2 x.py A"), p.stats()["total"]["bytes_sent"] - before

    assert run_local(main, 2, argv=["a.txt"]) == [(["a.txt"], 0)] * 2
