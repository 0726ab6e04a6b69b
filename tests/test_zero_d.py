"""Every SecretTensor operation and mpc.functions function on 0-d tensors (shape ``()``).

Products of 0-d tensors used to crash the dealer (NumPy turns a shift of a 0-d array into a
scalar, which the kernels refuse), and the other party then waited for its deadline. Here each
operation runs on scalars for 2 and 3 parties, with the in-process dealer ("local") and the
TrustedDealer thread ("dealer"), under semi2k and spdz2k (the engines share these settings:
each runs 2 and 3 parties and both sources), against NumPy on the quantised inputs; results
keep shape (). The same operations on empty tensors (shape (0,) and (2, 0)) give empty results:
an empty opening used to fail in the in-process channel (a (2, 0) payload's len() is 2).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mpc
import mpc.functions as F
from mpc.testing import run_local

F16 = 2.0**-16


def q(v):
    return np.rint(np.float64(v) * 2**16) / 2**16


# (name, secure op on x, y; plaintext reference on x, y; absolute tolerance; relative tolerance)
OPS = [
    # a truncated product feeding another product: error up to |other factor| ulps
    ("x*x*x", lambda x, y: x * x * x, lambda x, y: x**3, 4 * F16, 1e-5),
    ("x*y", lambda x, y: x * y, lambda x, y: x * y, F16, 0),
    ("(x*y)*y", lambda x, y: (x * y) * y, lambda x, y: x * y * y, 16 * F16, 1e-5),
    ("square", lambda x, y: x.square(), lambda x, y: x * x, F16, 0),
    ("x+y-1", lambda x, y: x + y - 1, lambda x, y: x + y - 1, 0, 0),
    ("x*2.5", lambda x, y: x * 2.5, lambda x, y: x * 2.5, F16, 0),
    ("x/3", lambda x, y: x / 3, lambda x, y: x / 3, 2 * F16, 0),
    ("x<y", lambda x, y: x < y, lambda x, y: float(x < y), 0, 0),
    ("x>=y", lambda x, y: x >= y, lambda x, y: float(x >= y), 0, 0),
    ("eq", lambda x, y: x.eq(y), lambda x, y: float(x == y), 0, 0),
    ("abs", lambda x, y: abs(y), lambda x, y: abs(y), 0, 0),
    ("relu", lambda x, y: y.relu(), lambda x, y: max(y, 0.0), 0, 0),
    ("sign", lambda x, y: y.sign(), lambda x, y: float(np.sign(y)), 0, 0),
    ("maximum", lambda x, y: x.maximum(y), lambda x, y: max(x, y), 0, 0),
    ("clip", lambda x, y: x.clip(-1, 1), lambda x, y: min(max(x, -1.0), 1.0), 0, 0),
    ("where", lambda x, y: mpc.where(x < y, x, y), lambda x, y: min(x, y), F16, 0),
    ("divide", lambda x, y: F.divide(x, y), lambda x, y: x / y, 1e-3, 1e-3),
    ("reciprocal", lambda x, y: F.reciprocal(y), lambda x, y: 1 / y, 1e-4, 1e-3),
    ("exp", lambda x, y: F.exp(x), lambda x, y: np.exp(x), 1e-4, 1e-3),
    ("log", lambda x, y: F.log(x), lambda x, y: np.log(abs(x)), 1e-3, 1e-3),
    ("sqrt", lambda x, y: F.sqrt(x), lambda x, y: np.sqrt(abs(x)), 1e-4, 1e-3),
    ("rsqrt", lambda x, y: F.rsqrt(y), lambda x, y: 1 / np.sqrt(abs(y)), 1e-4, 1e-3),
    ("sigmoid", lambda x, y: F.sigmoid(y), lambda x, y: 1 / (1 + np.exp(-y)), 1e-3, 0),
    ("tanh", lambda x, y: F.tanh(y), lambda x, y: np.tanh(y), 1e-3, 0),
]

values = st.one_of(st.sampled_from([0.5, -0.5, 1.0, -3.0, 7.25]), st.floats(0.05, 8.0), st.floats(-8.0, -0.05))


@pytest.mark.parametrize("n, pre, engine", [(2, "local", "semi2k"), (3, "dealer", "semi2k"),
                                            (3, "local", "spdz2k"), (2, "dealer", "spdz2k"),
                                            (2, "dealer", "masked2k"), (3, "local", "masked2k")])
@settings(max_examples=3, deadline=None)
@given(x=values, y=values)
def test_every_op_on_0d(n, pre, engine, x, y):
    x, y = q(x), q(y)

    def main(p):
        a = p.input(x if p.pid == 0 else None, owner=0, shape=())
        b = p.input(y if p.pid == n - 1 else None, owner=n - 1, shape=())
        outs = [op(a, b) for _, op, _, _, _ in OPS]
        if any(o.shape != () for o in outs):
            raise AssertionError(f"shapes: {[o.shape for o in outs]}")
        return p.reveal(*outs)

    got = run_local(main, n, timeout=20, preprocessing=pre, engine=engine)[0]
    for (name, _, ref, atol, rtol), v in zip(OPS, got, strict=True):
        want = ref(x, y)
        assert np.ndim(v) == 0, name
        assert abs(float(v) - want) <= atol + rtol * abs(want), (name, x, y, float(v), want)


@pytest.mark.parametrize("n, pre, engine", [(2, "local", "semi2k"), (3, "dealer", "semi2k"),
                                            (2, "dealer", "spdz2k"), (3, "local", "spdz2k"),
                                            (2, "local", "masked2k")])
@pytest.mark.parametrize("shape", [(0,), (2, 0)])
def test_every_op_on_empty_tensors(n, pre, engine, shape):
    def main(p):
        a = p.input(np.zeros(shape) if p.pid == 0 else None, owner=0, shape=shape)
        b = p.input(np.zeros(shape) if p.pid == n - 1 else None, owner=n - 1, shape=shape)
        outs = [op(a, b) for _, op, _, _, _ in OPS]
        return [o.shape for o in outs], p.reveal(*outs)

    for shapes, got in run_local(main, n, timeout=20, preprocessing=pre, engine=engine):
        assert shapes == [shape] * len(OPS)
        for (name, *_), v in zip(OPS, got, strict=True):
            assert np.shape(v) == shape and np.size(v) == 0, name
