"""Dealer-free authenticated material: ``engine="spdz2k", preprocessing="ot"`` (mpc.preprocessing.ot_spdz).

- Material: reconstructed triples, squares and matrix triples satisfy c = a*b mod 2^128 and every
  value (rand and input masks too) has sum of MAC shares = alpha * value with alpha = sum alpha_i,
  on every element, 2 and 3 parties.
- SecretTensor Int64 mul, square, matmul and add under spdz2k with ``ot`` against NumPy (hypothesis
  and edge values: 0, -1, the largest magnitudes, wrap-around), and fixed-point products (truncation
  tuples from authenticated random bits), 2 and 3 parties.
- A cheating party in the offline phase (a wrong triple share, a wrong COPE correction, a wrong
  sacrifice opening, a wrong check value, a non-bit among the truncation bits) makes every honest
  party raise CheatingDetected.
- Every authenticated kind is dealer-free (none is refused with a ConfigError).
- ``mpcrun --engine spdz2k --preprocessing ot`` runs an Int64 script with no dealer process.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _tamper import M128, add128, ints, one_shot, opened
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mpc
from mpc.errors import CheatingDetected
from mpc.preprocessing.base import AUTH_KINDS, Request
from mpc.preprocessing.ot_spdz import combine_coefficients, unsupported
from mpc.prg import PRG
from mpc.testing import run_local

I64 = np.iinfo(np.int64)


@pytest.mark.parametrize("n", [2, 3])
def test_material_is_correct_and_authenticated(n):
    def main(p):
        pre = p.preprocessing
        # 8 x 300 triples: more than 8 ot_batch, so two batches of checks
        pre.prefetch([Request("triple", (300,), 128, True)] * 8 + [Request("square", (5,), 128, True)])
        return (pre.mac_key_share(), pre.triples((300,), auth=True), pre.square_pairs((5,), auth=True),
                pre.triples((2, 3), auth=True), pre.matmul_triples(3, 4, 2, auth=True),
                pre.matmul_triples(2, 2, 3, batch=2, auth=True), pre.random_high((40,)),
                pre.input_masks(n - 1, (6,)), p.stats()["offline"]["bytes_sent"], pre.made["auth_batches"],
                pre.trunc_triples((1, 3), 13, auth=True))

    res = run_local(main, n, engine="spdz2k", preprocessing="ot", ot_batch=256)
    alpha = sum(r[0] for r in res) % M128
    assert alpha % 2 == 1  # party 0's share is odd, the others' even
    for idx in (1, 3):
        a, b, c = (opened(res, lambda r, i=i, j=idx: r[j][i], alpha) for i in range(3))
        assert ((a * b - c) % M128 == 0).all()
        assert len({int(x) for x in a.reshape(-1)}) == a.size  # uniform draws: no repeats
    a, c = (opened(res, lambda r, i=i: r[2][i], alpha) for i in range(2))
    assert ((a * a - c) % M128 == 0).all()
    A, B, C = (opened(res, lambda r, i=i: r[4][i], alpha) for i in range(3))
    assert A.shape == (3, 4) and ((A.dot(B) - C) % M128 == 0).all()
    A, B, C = (opened(res, lambda r, i=i: r[5][i], alpha) for i in range(3))
    assert C.shape == (2, 2, 3) and all(((A[t].dot(B[t]) - C[t]) % M128 == 0).all() for t in range(2))
    u = opened(res, lambda r: r[6], alpha)
    assert (u % (1 << 64) == 0).all() and len({int(x) for x in u}) == u.size  # 2^64 * uniform
    r, high, msb = (opened(res, lambda r, i=i: r[10][i], alpha) for i in range(3))
    r64 = r % (1 << 64)
    assert r.shape == (1, 3) and (high == r64 >> 13).all() and (msb == r64 >> 63).all()
    assert len({int(x) for x in r.reshape(-1)}) == r.size and len({int(x) >> 64 for x in r.reshape(-1)}) == r.size
    r = opened(res, lambda r: r[7][0], alpha)
    assert (r == ints(res[n - 1][7][1])).all()  # the owner knows its mask
    assert all(res[i][7][1] is None for i in range(n - 1))
    assert all(x[8] > 0 for x in res)  # counted in the offline section
    assert all(x[9] == 2 + 5 for x in res)  # the prefetch in two batches, then one per request not in store
    # (the trunc_triples batch is counted after the return values were taken: made["auth_batches"] is read first)


def test_combining_keeps_the_triples_uniform():
    """The combining vectors always have an odd 2x2 minor: (a, a^) is a bijective image of two
    of the honest a_l, hence uniform (mod 2 as everywhere else)."""
    r, rh = combine_coefficients(PRG.fresh(), 4096)
    lo = lambda v: v[..., 0].astype(object)  # noqa: E731
    det = lo(r[:, 0]) * lo(rh[:, 1]) - lo(r[:, 1]) * lo(rh[:, 0])
    assert all(int(d) % 2 == 1 for d in det)
    assert 0.4 < float(np.mean(r[:, 1, 0] & np.uint64(1))) < 0.6  # the rest stays random


EDGE = [0, 1, -1, I64.max, I64.min, I64.max - 1, I64.min + 1, 2**32, -(2**32)]


def _tensor_ops(n: int, x: np.ndarray, y: np.ndarray):
    def main(p):
        a = p.input(x if p.pid == 0 else None, owner=0, dtype=mpc.Int64(), shape=x.shape)
        b = p.input(y if p.pid == n - 1 else None, owner=n - 1, dtype=mpc.Int64(), shape=y.shape)
        return p.reveal(a * b, a.square(), a @ b.T, a + b, a - b)

    res = run_local(main, n, engine="spdz2k", preprocessing="ot", timeout=60)
    with np.errstate(over="ignore"):
        want = [x * y, x * x, x @ y.T, x + y, x - y]
    for out in res:
        for got, w in zip(out, want, strict=True):
            assert np.array_equal(np.asarray(got, dtype=np.int64), w)


@pytest.mark.parametrize("n", [2, 3])
def test_fixed_point_products_run_dealer_free(n):
    """Fixed(16) mul, square, a product of a product and matmul: truncation tuples from OT."""
    x = np.array([[1.5, -2.25, 0.0], [3.0, -100.5, 2.0**10]])  # products stay below 2^(62 - 32)
    y = np.array([[2.0, 4.0, -1.0], [-0.5, 0.25, -(2.0**-8)]])

    def main(p):
        a = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape)
        b = p.input(y if p.pid == n - 1 else None, owner=n - 1, shape=y.shape)
        return p.reveal(a * b, a * a, (a * b) * b, a @ b.T)

    want = [x * y, x * x, x * y * y, x @ y.T]
    for out in run_local(main, n, engine="spdz2k", preprocessing="ot", timeout=120):
        for got, w in zip(out, want, strict=True):
            assert np.allclose(np.asarray(got), w, rtol=0, atol=2.0**-14 * (1 + np.abs(w)))


@pytest.mark.parametrize("n", [2, 3])
def test_secret_tensor_ops_edge_values(n):
    x = np.array([EDGE, EDGE[::-1]], dtype=np.int64)
    y = np.array([EDGE[3:] + EDGE[:3], EDGE[::2] + EDGE[1::2]], dtype=np.int64)
    _tensor_ops(n, x, y)


int64s = st.integers(I64.min, I64.max) | st.sampled_from(EDGE)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.sampled_from([2, 3]), rows=st.integers(1, 3), cols=st.integers(1, 4), data=st.data())
def test_secret_tensor_ops_random(n, rows, cols, data):
    x = np.array(data.draw(st.lists(int64s, min_size=rows * cols, max_size=rows * cols)), dtype=np.int64)
    y = np.array(data.draw(st.lists(int64s, min_size=rows * cols, max_size=rows * cols)), dtype=np.int64)
    _tensor_ops(n, x.reshape(rows, cols), y.reshape(rows, cols))


# ---------------------------------------------------------------------- cheating in the offline phase

M64 = (1 << 64) - 1


N = 16  # triples in the tampered batch: the authenticated vector is a, b, c, a^, c^ (N each), then the mask


def _cheat(n: int, cheater: int, tamper) -> list:
    def main(p):
        p.preprocessing.triples((8,), auth=True)  # set-up and one clean batch
        if p.pid == cheater:
            tamper(p.preprocessing)
        p.preprocessing.triples((N,), auth=True)
        return "no error"

    return run_local(main, n, engine="spdz2k", preprocessing="ot", return_exceptions=True, timeout=60)


def _all_caught(res, cheater: int | None = None) -> None:
    """Every honest party raised CheatingDetected (the cheater is bound to nothing)."""
    honest = [r for i, r in enumerate(res) if i != cheater]
    assert all(isinstance(r, CheatingDetected) for r in honest), [type(r).__name__ for r in res]


CASES = [(2, 0), (2, 1), (3, 1)]


@pytest.mark.parametrize(("n", "cheater", "offset"), [(2, 0, 1), (2, 1, 1 << 63), (3, 1, (1 << 127) + 5),
                                                     (3, 2, M64)])
def test_wrong_triple_share_is_caught(n, cheater, offset):
    """The cheater authenticates c + offset instead of its product share: the sacrifice fails."""
    elem = 2 * N + 3  # the 4th c
    _all_caught(_cheat(n, cheater, lambda pre: one_shot(pre.vole, "authenticate",
                                                         lambda v: add128(v, elem, offset))), cheater)


@pytest.mark.parametrize(("n", "cheater"), CASES)
def test_wrong_cope_correction_is_caught(n, cheater):
    """The cheater uses x + 1 instead of x in every OT of one element towards one peer: that peer's
    MAC share is off by alpha_peer, and the input check fails."""
    def tamper(pre):
        def change(d):  # (1, 64, N', 2): every weight of element 5
            for k in range(64):
                add128(d[0, k], 5, 1)
        one_shot(pre.vole, "send_corrections", change)

    _all_caught(_cheat(n, cheater, tamper), cheater)


@pytest.mark.parametrize(("n", "cheater"), [(2, 1), (3, 2)])
def test_wrong_cope_correction_single_weight_towards_party_0(n, cheater):
    """One weight only (k = 0) towards party 0, whose alpha share is odd (bit 0 set): caught."""
    def tamper(pre):
        calls = [0]
        orig = pre.vole.send_corrections

        def send(d, p, tag):
            calls[0] += 1
            if p == 0 and calls[0] <= n - 1:
                d = np.array(d, copy=True)
                add128(d[0, 0], 7, 1 << 40)
            return orig(d, p, tag)

        pre.vole.send_corrections = send

    _all_caught(_cheat(n, cheater, tamper), cheater)


@pytest.mark.parametrize(("which", "n", "cheater"), [("rho", 2, 0), ("sigma", 3, 1), ("check", 3, 2),
                                                    ("check", 2, 1)])
def test_wrong_opening_is_caught(n, cheater, which):
    """The cheater changes its share of an opened rho or sigma, or its committed check value."""
    skip = {"rho": 4, "sigma": 5, "check": 8}[which]  # _exchange calls: combine coin (2), commits, coin, ...
    index = {"rho": 4, "sigma": 2, "check": 3}[which]  # check: nonce (2 words), then z (2 words)
    _all_caught(_cheat(n, cheater, lambda pre: one_shot(pre, "_exchange", lambda v: add128(v, index // 2, 1)
                                                         if which != "check" else v.__setitem__(index, v[index] ^ 1),
                                                         skip=skip)), cheater)


def test_honest_runs_never_raise_and_engine_catches_offline_cheating():
    def main(p, cheat):
        if cheat and p.pid == 1:
            one_shot(p.preprocessing.vole, "authenticate", lambda v: add128(v, 2 * 6 + 1, 1), skip=1)
        a = p.input(np.arange(6) - 3 if p.pid == 0 else None, owner=0, dtype=mpc.Int64(), shape=(6,))
        return p.reveal(a * a)

    for _ in range(2):
        for out in run_local(main, 2, False, engine="spdz2k", preprocessing="ot"):
            assert np.array_equal(out, (np.arange(6) - 3) ** 2)
    res = run_local(main, 2, True, engine="spdz2k", preprocessing="ot", return_exceptions=True)
    _all_caught(res, 1)


# ---------------------------------------------------------------------- every kind is dealer-free

@pytest.mark.parametrize("kind", sorted(AUTH_KINDS))
def test_every_authenticated_kind_is_dealer_free(kind):
    """No authenticated kind is refused any more (div, tmul and tsquare: mpc.preprocessing.ot_spdz_div;
    their material and runs are tested in tests/test_ot_spdz_div.py)."""
    assert unsupported(Request(kind, (3, 4), 128, True)) is None


@pytest.mark.parametrize(("n", "cheater"), [(2, 0), (3, 2)])
def test_a_non_bit_in_the_truncation_bits_is_caught(n, cheater):
    """The cheater authenticates 2 or 3 instead of one of its random bits: the bit check fails."""
    def main(p):
        p.preprocessing.triples((8,), auth=True)
        if p.pid == cheater:
            first_bit = 5 * n * 64 * 2  # after the triples' a, b, c, a^, c^ (n per bit, 64 bits x 2 elements)
            one_shot(p.preprocessing.vole, "authenticate", lambda v: add128(v, first_bit + 9, 2))
        p.preprocessing.trunc_triples((2,), 16, auth=True)
        return "no error"

    _all_caught(run_local(main, n, engine="spdz2k", preprocessing="ot", return_exceptions=True, timeout=60), cheater)


SCRIPT = '''"""Int64 products of two parties' vectors under spdz2k with dealer-free material."""
import numpy as np

import mpc


def main(party):
    mine = np.arange(4, dtype=np.int64) * (party.pid + 2) - 3
    x, y = party.input(mine, dtype=mpc.Int64())
    dot, prod = party.reveal((x * y).sum(), x.reshape(2, 2) @ y.reshape(2, 2))
    print(f"dot={int(dot)} prod={np.asarray(prod).tolist()}")


if __name__ == "__main__":
    mpc.run(main, engine="spdz2k", preprocessing="ot")
'''


@pytest.mark.processes
def test_mpcrun_spdz2k_preprocessing_ot(tmp_path):
    root = Path(__file__).resolve().parents[1]
    script = tmp_path / "int_products.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(root)}
    cmd = [sys.executable, "-m", "mpc", "run", "-n", "2", "--engine", "spdz2k", "--preprocessing", "ot", str(script)]
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    x, y = np.arange(4) * 2 - 3, np.arange(4) * 3 - 3
    expect = f"dot={int(x @ y)} prod={(x.reshape(2, 2) @ y.reshape(2, 2)).tolist()}"
    assert out.stdout.count(expect) == 2, out.stdout
    assert "+ dealer" not in out.stdout + out.stderr  # mpcrun started no dealer process
