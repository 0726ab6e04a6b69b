"""The dealer-free division triples' comparison circuit (mpc.preprocessing.div_circuit) on
plaintext bits, against Python integers: the comparison trees with public constants, the accept
and msb bits, and the gate and layer counts the sources reserve material by."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpc.preprocessing import div_circuit as dc


class _Plain:
    """The gate set on plaintext 0/1 vectors (uint8), counting AND gates and layers."""

    def __init__(self) -> None:
        self.gates = self.layers = 0

    def and_(self, x, y):
        assert x.shape == y.shape
        self.gates += len(x)
        self.layers += 1
        return x & y

    def not_(self, x):
        return 1 - x

    def const(self, bit, nw):
        return np.full(nw, bit, dtype=np.uint8)

    def xor_disjoint(self, x, y):
        assert not (x & y).any(), "xor_disjoint of overlapping bits"
        return x + y


def _planes(values: list[int], width: int) -> list[np.ndarray]:
    return [np.array([(v >> t) & 1 for v in values], dtype=np.uint8) for t in range(width)]


@settings(max_examples=60, deadline=None)
@given(width=st.integers(1, 64), data=st.data())
def test_comparisons_with_public_constants_match_integers(width, data):
    """[x < c] and [x == c] for random x of ``width`` bits (edge values among them) and constants
    of any width (0, 2^width - 1, wider than the planes, equal to some x), in ceil(log2 width)
    layers at most, every tree's level in one layer."""
    top = (1 << width) - 1
    xs = data.draw(st.lists(st.integers(0, top), min_size=1, max_size=20)) + [0, top, top >> 1]
    consts = data.draw(st.lists(st.sampled_from([0, 1, top, top >> 1, xs[0], top + 1, 1 << 64]) | st.integers(0, top),
                                min_size=1, max_size=4))
    jobs = [(_planes(xs, width), [(c, kind) for c in consts for kind in ("lt", "eq")]),
            (_planes(xs[::-1], width), [(consts[0], "lt")])]
    g = _Plain()
    out = dc.compare_public(g, jobs, len(xs))
    for (planes, cs), res in zip(jobs, out, strict=True):
        vals = xs if planes is jobs[0][0] else xs[::-1]
        for (c, kind), bits in zip(cs, res, strict=True):
            want = [int(v < c) if kind == "lt" else int(v == c) for v in vals]
            assert bits.tolist() == want, (c, kind)
    assert g.layers <= max(1, (width - 1).bit_length())


@pytest.mark.parametrize("d", [3, 5, 6, 7, 10, 1000, 12345, 2**32 + 1, 2**63 - 1, 3 * 2**61])
def test_accept_and_msb_match_integers_with_counted_gates(d):
    """accept = [s < d and q d + s < 2^64] and msb(q d + s) for random candidates and the edge
    ones (q = Q, Q', s = R, R', d - 1), against integers; the gates and layers of a run are those
    and_gates / and_layers report (the sources reserve triples by them), the layers ceil(log2 max(L, l))
    + 2 at most."""
    c = dc.constants(d)
    rng = np.random.default_rng(d % 2**32)  # test data only
    qs = [int(v) for v in rng.integers(0, 1 << c.big_l, 200, dtype=np.uint64)]
    ss = [int(v) for v in rng.integers(0, 1 << c.small_l, 200, dtype=np.uint64)]
    for q, s in [(c.q_big, c.r_big), (c.q_big, c.r_big - 1), (c.q_big, 0), (c.q_half, c.r_half), (c.q_half, c.r_half - 1),
                 (c.q_half - 1, d - 1), (0, 0), (0, d - 1), ((1 << c.big_l) - 1, (1 << c.small_l) - 1)]:
        qs.append(q)
        ss.append(s % (1 << c.small_l))
    g = _Plain()
    accept, msb = dc.accept_and_msb(g, _planes(qs, c.big_l), _planes(ss, c.small_l), c, d, len(qs))
    for q, s, a, m in zip(qs, ss, accept.tolist(), msb.tolist(), strict=True):
        r = q * d + s
        assert a == int(s < d and r < 2**64), (q, s)
        if a:
            assert m == r >> 63, (q, s)
    assert accept.any() and not accept.all()
    assert g.gates == len(qs) * dc.and_gates(c) and g.layers == dc.and_layers(c)
    assert dc.and_layers(c) <= (max(c.big_l, c.small_l) - 1).bit_length() + 2 < c.big_l + c.small_l + 2
