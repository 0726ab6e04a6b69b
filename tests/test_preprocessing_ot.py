"""preprocessing="ot": material correctness, SecretTensor/compare/functions/SecretBits dealer-free,
stats, errors, and mpcrun --preprocessing ot.

Each run pays the base OTs (about 0.3 s of exponentiations per ordered pair), so every test
below computes many things in one session rather than one session per example.
"""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mpc
import mpc.functions as F
from mpc.errors import ConfigError
from mpc.preprocessing.dabits import unpack_bits
from mpc.testing import run_local

ROOT = Path(__file__).resolve().parents[1]
U = np.uint64


def _sum(res, key, i):
    return sum(r[key][i] for r in res[1:]) + res[0][key][i] if len(res) > 1 else res[0][key][i]


def _xor(res, key, i):
    return np.bitwise_xor.reduce([r[key][i] for r in res])


@pytest.mark.parametrize("n", [2, 3])
def test_material_of_every_kind_is_correct(n):
    """Reconstructed material satisfies its definition on every element: c = a*b for a batch
    of 3,000 triples made in chunks of 1,024 (ot_batch), and every other kind."""
    def main(p):
        pre = p.preprocessing
        with p.recording() as plan:
            out = {
                "triple": pre.triples((3000,)), "square": pre.square_pairs((5, 7)), "bt": pre.bit_triples(40),
                "dabit": pre.dabits(130), "bitmul": pre.bit_mul_triples(70), "trunc": pre.trunc_triples((9,), 16),
                "tmul": pre.trunc_products((9,), 20, 30), "tmul_big": pre.trunc_products((4,), 40, 30),
                "tmul0": pre.trunc_products((9,), 16, 0), "tsq": pre.trunc_squares((2, 3), 13),
                "mm": pre.matmul_triples(3, 4, 5), "mmb": pre.matmul_triples(2, 3, 2, batch=2),
                "div3": pre.div_triples((300,), 3), "divbig": pre.div_triples((40,), (1 << 62) - 7),
                "empty": pre.triples((0,)),
            }
        out["kinds"] = {r.kind for r in plan}
        return out

    res = run_local(main, n, preprocessing="ot", ot_batch=1024)
    a, b, c = (_sum(res, "triple", i) for i in range(3))
    assert np.array_equal(a * b, c) and len(np.unique(a)) > 2900
    a, c = _sum(res, "square", 0), _sum(res, "square", 1)
    assert np.array_equal(a * a, c)
    a, b, c = (_xor(res, "bt", i) for i in range(3))
    assert np.array_equal(a & b, c)
    r = _sum(res, "dabit", 1)
    assert np.array_equal(unpack_bits(_xor(res, "dabit", 0), 130), r) and 20 < r.sum() < 110
    words = _xor(res, "bitmul", 0)
    a, r, ra = (_sum(res, "bitmul", i) for i in (1, 2, 3))
    assert np.array_equal(unpack_bits(words, 70), r) and np.array_equal(r * a, ra)
    r, high, msb = (_sum(res, "trunc", i) for i in range(3))
    assert np.array_equal(r >> U(16), high) and np.array_equal(r >> U(63), msb)
    for key, k1, k2 in (("tmul", 20, 30), ("tmul_big", 40, 30), ("tmul0", 16, 0)):
        t = {f: None if res[0][key][i] is None else _sum(res, key, i)
             for i, f in enumerate(res[0][key]._fields)}
        assert np.array_equal(t["a1"], t["r1"] >> U(k1)) and np.array_equal(t["m1"], t["r1"] >> U(63))
        assert np.array_equal(t["a1a2"], t["a1"] * t["a2"]) and np.array_equal(t["m1a2"], t["m1"] * t["a2"])
        if k2:
            assert np.array_equal(t["a2"], t["r2"] >> U(k2)) and np.array_equal(t["a1m2"], t["a1"] * t["m2"])
        else:
            assert np.array_equal(t["a2"], t["r2"])
        if k1 + k2 > 64:
            assert np.array_equal(t["m1m2"], t["m1"] * t["m2"])
    for key, d in (("div3", 3), ("divbig", (1 << 62) - 7)):
        r, q, msb = (_sum(res, key, i) for i in range(3))
        assert np.array_equal(r // U(d), q) and np.array_equal(r >> U(63), msb)
    r = _sum(res, "div3", 0)
    assert 100 < int((r >> U(63)).sum()) < 200 and len(np.unique(r)) == 300  # r spread over Z_2^64
    r, a, m, aa, am = (_sum(res, "tsq", i) for i in range(5))
    assert np.array_equal(a, r >> U(13)) and np.array_equal(aa, a * a) and np.array_equal(am, a * m)
    for key in ("mm", "mmb"):
        a, b, c = (_sum(res, key, i) for i in range(3))
        assert np.array_equal(a @ b, c)
    assert res[0]["kinds"] == {"triple", "square", "bit_triple", "dabit", "bitmul", "trunc", "tmul", "tsquare",
                               "matmul", "div"}


def _q(a, f=16):
    return np.rint(np.asarray(a, dtype=np.float64) * 2.0**f) / 2.0**f


@pytest.mark.parametrize("n", [2, 3])
@settings(max_examples=1, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_secret_tensor_compare_functions_run_dealer_free(n, seed):
    """One session per example computing products, squares, matmul, deferred truncation,
    power-of-two division, comparisons, selections, argmax/sort and the functions, all from
    OT material (every kind of the semi2k engine appears in the recorded plan)."""
    rng = np.random.default_rng(seed)  # test inputs only (not secrets)
    x = _q(rng.uniform(-30, 30, (3, 4)))
    y = _q(rng.uniform(-30, 30, (3, 4)))
    y[0, 0] = x[0, 0]  # a tie
    pos = _q(rng.uniform(0.5, 20, 6))

    def main(p):
        sx = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape)
        sy = p.input(y if p.pid == n - 1 else None, owner=n - 1, shape=y.shape)
        sp = p.input(pos if p.pid == 0 else None, owner=0, shape=pos.shape)
        with p.recording() as plan:
            out = {
                "mul": sx * sy, "sq": sx.square(), "chain": (sx * sy) * sx, "sq2": ((sx / 8) * sy).square(), "mm": sx @ sy.T,
                "div": sx / 4, "div3": sx / 3, "mean": sx.mean(), "lt": sx < sy, "eq": sx.eq(sy), "relu": sx.relu(), "max": sx.max(),
                "argmax": sx.argmax(), "sort": sx.sort(axis=1), "where": sx.where(sx < sy, sy),
                "exp": F.exp(sp / 8), "rec": F.reciprocal(sp), "sqrt": F.sqrt(sp), "sig": F.sigmoid(sx / 8),
                "soft": F.softmax(sx / 8, axis=1), "log": F.log(sp),
            }
            got = dict(zip(out, p.reveal(*out.values()), strict=True))
        got["kinds"] = {r.kind for r in plan}
        got["stats"] = p.stats()
        return got

    res = run_local(main, n, preprocessing="ot")
    want = {"mul": x * y, "sq": x * x, "chain": x * y * x, "sq2": (x / 8 * y) ** 2, "mm": x @ y.T, "div": x / 4, "div3": x / 3,
            "mean": x.mean(), "lt": x < y,
            "eq": x == y, "relu": np.maximum(x, 0), "max": x.max(), "argmax": x.argmax(), "sort": np.sort(x, axis=1),
            "where": np.where(x < y, x, y), "exp": np.exp(pos / 8), "rec": 1 / pos, "sqrt": np.sqrt(pos),
            "sig": 1 / (1 + np.exp(-x / 8)), "log": np.log(pos)}
    e = np.exp(x / 8 - (x / 8).max(axis=1, keepdims=True))
    want["soft"] = e / e.sum(axis=1, keepdims=True)
    tol = {"mul": 1e-3, "sq": 1e-3, "chain": 0.05, "sq2": 0.5, "mm": 1e-2, "div": 1e-4, "div3": 1e-4, "mean": 1e-4, "exp": 1e-2, "rec": 1e-2,
           "sqrt": 1e-2, "sig": 1e-2, "soft": 1e-2, "log": 1e-2}
    for got in res:
        for k, w in want.items():
            np.testing.assert_allclose(got[k], w, atol=tol.get(k, 0), rtol=tol.get(k, 0) and 1e-3, err_msg=k)
    assert res[0]["kinds"] >= {"triple", "square", "matmul", "trunc", "div", "tmul", "tsquare", "bit_triple", "dabit",
                               "bitmul"}  # every kind of the semi2k engine
    stats = res[0]["stats"]
    assert stats["offline"]["bytes_sent"] > 0 and stats["online"]["bytes_sent"] > 0
    assert stats["offline"]["bytes_sent"] + stats["online"]["bytes_sent"] == stats["total"]["bytes_sent"]


@pytest.mark.parametrize("n", [2, 3])
def test_gmw_engine_and_prefetch(n):
    """engine="gmw" on OT AND triples; a prefetched plan leaves the online phase with no
    offline traffic at all."""
    vals = np.array([3, 250, 0, 2**63 + 5, 2**64 - 1], dtype=np.uint64)
    other = np.array([7, 5, 0, 2**40, 2**64 - 1], dtype=np.uint64)

    def main(p):
        a = p.input_bits(vals if p.pid == 0 else None, owner=0, n=len(vals), width=64)
        b = p.input_bits(other if p.pid == n - 1 else None, owner=n - 1, n=len(vals), width=64)
        plan = p.dry_run(lambda u, v: (u & v, u + v), a, b)
        p.preprocess(plan)
        before = p.stats()["offline"]["bytes_sent"]
        out = p.reveal(a & b, a + b)
        return out, before, p.stats()["offline"]["bytes_sent"]

    for (band, badd), before, after in run_local(main, n, engine="gmw", preprocessing="ot"):
        assert np.array_equal(band, vals & other) and np.array_equal(badd, vals + other)
        assert after == before  # everything came from the store


def test_errors_are_config_errors():
    with pytest.raises(ConfigError, match="batch"):
        run_local(lambda p: None, 2, preprocessing="ot", ot_batch=3)


@pytest.mark.parametrize("options", [{"ot_extension": "iknp"}, {"ot_k": 1}, {"ot_k": 4}])
def test_ot_extension_and_k_options(options):
    """``ot_extension`` / ``ot_k`` reach the OT links and change what is sent: per extended OT
    IKNP and SoftSpoken k = 1 send 128 bits of matrix, k = 2 (the default) 64, k = 4 32; the
    triples stay correct either way."""
    def main(p, **_):
        links = p.preprocessing.links
        a, b, c = p.preprocessing.triples((2000,))
        return {"t": (a, b, c), "ext": links.extension, "k": links.k, "sent": p.stats()["offline"]["bytes_sent"]}

    res = run_local(main, 2, preprocessing="ot", **options)
    base = run_local(main, 2, preprocessing="ot")
    a, b, c = (_sum(res, "t", i) for i in range(3))
    assert np.array_equal(a * b, c)
    assert res[0]["ext"] == options.get("ot_extension", "softspoken") and res[0]["k"] == options.get("ot_k", 2)
    assert base[0]["k"] == 2 and base[0]["ext"] == "softspoken"
    ratio = res[0]["sent"] / base[0]["sent"]
    if options.get("ot_k") == 4:
        assert ratio < 0.95, ratio  # half the extension matrix of k = 2
    else:
        assert ratio > 1.05, ratio  # twice the extension matrix of k = 2


@pytest.mark.parametrize("bad, fragment", [({"ot_extension": "kos"}, "ot_extension: expected one of softspoken, iknp"),
                                           ({"ot_k": 0}, r"ot_k: .* \[1, 8\]"), ({"ot_k": 9}, "ot_k"),
                                           ({"ot_k": True}, "ot_k")])
def test_ot_options_are_checked_before_anything_is_sent(bad, fragment):
    with pytest.raises(ConfigError, match=fragment):
        run_local(lambda p: None, 2, preprocessing="ot", **bad)


def _mpcrun_ot(tmp_path, name: str, *args: str, flags: tuple[str, ...] = ()) -> str:
    """``mpcrun -n 3 --preprocessing ot [flags] protocols/<name>.py args``: its output, after
    checking it succeeded and started no dealer process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    data = ROOT / "protocols" / "data"
    cmd = [sys.executable, "-m", "mpc", "run", "-n", "3", "--preprocessing", "ot", *flags,
           str(ROOT / "protocols" / f"{name}.py"), *[str(data / a) if "{pid}" in a else a for a in args]]
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "+ dealer" not in out.stdout + out.stderr  # mpcrun started no dealer process
    return out.stdout


def _numbers(line: str) -> np.ndarray:
    return np.array([float(x) for x in re.findall(r"-?\d+\.\d+", line)])


@pytest.mark.processes
def test_mpcrun_preprocessing_ot_histogram(tmp_path):
    out = _mpcrun_ot(tmp_path, "histogram", "votes_{pid}.txt", "5", flags=("--ot-extension", "iknp"))
    assert out.count("histogram = [11, 10, 10, 18, 11]") == 3, out  # as under the dealer


@pytest.mark.processes
@pytest.mark.parametrize("name", ["fedavg", "linreg"])
def test_mpcrun_preprocessing_ot_fedavg_and_linreg_match_plaintext(tmp_path, name):
    data = ROOT / "protocols" / "data"
    if name == "fedavg":
        out = _mpcrun_ot(tmp_path, name, "update_{pid}.txt")
        want = np.mean([np.loadtxt(data / f"update_{i}.txt") for i in range(3)], axis=0)
    else:
        out = _mpcrun_ot(tmp_path, name, "regression_{pid}.csv")
        rows = np.concatenate([np.loadtxt(data / f"regression_{i}.csv", delimiter=",", skiprows=1) for i in range(3)])
        spec = importlib.util.spec_from_file_location("protocol_linreg", ROOT / "protocols" / "linreg.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        want = mod.gradient_descent(np.column_stack([rows[:, :-1], np.ones(len(rows))]), rows[:, -1])
    lines = [ln.split(":", 1)[1] for ln in out.splitlines() if re.search(r"party \d: (average update|w =)", ln)]
    assert len(lines) == 3, out
    for ln in lines:
        np.testing.assert_allclose(_numbers(ln), want, atol=2e-3)


@pytest.mark.processes
@pytest.mark.parametrize("name, args, pattern", [
    ("dp_histogram", ("dp_visits_{pid}.txt", "1.0"), r"dp histogram = \[(-?\d+, ){6}-?\d+\] \(epsilon = 1\)"),
    ("dp_mean", ("dp_ages_{pid}.txt", "0.5"), r"dp mean age = -?\d+\.\d\d over 120 records \(epsilon = 0.5\)"),
    ("fedavg_dp", ("update_{pid}.txt", "1.0", "1", "10"), r"dp average update = \[.*\] \(rho = 1, epsilon = "),
])
def test_mpcrun_preprocessing_ot_dp_scripts(tmp_path, name, args, pattern):
    """The DP scripts' noise is drawn jointly inside MPC from OT material: each party prints the
    same released value (fresh noise per run, so the value itself is not fixed)."""
    out = _mpcrun_ot(tmp_path, name, *args)
    found = [m.group(0) for m in re.finditer(pattern, out)]
    assert len(found) == 3 and len(set(found)) == 1, out


@pytest.mark.processes
def test_mpcrun_preprocessing_ot_salaries(tmp_path):
    data = ROOT / "protocols" / "data"
    out = _mpcrun_ot(tmp_path, "salaries", "salary_{pid}.txt", flags=("--ot-batch", "4096", "--ot-k", "3", "--stats"))
    salaries = [float((data / f"salary_{i}.txt").read_text()) for i in range(3)]
    expect = f"total={sum(salaries):.2f} mean={sum(salaries) / 3:.2f} max={max(salaries):.2f}"
    assert out.count(expect) == 3, out  # the mean divides by 3: OT division triples


def test_matrix_triple_hook_is_used_for_two_parties():
    """The Paillier plug-in point: ``matrix_triple_2pc(channel, peer, A, B)`` returns this
    party's share of A_me B_peer + A_peer B_me. Here an INSECURE stand-in (it swaps A and B in
    the clear, for the test only) shows the contract: the triple is correct and made by the hook."""
    def insecure_cross(channel, peer, a, b):
        tag = channel.next_tag()
        channel.send(peer, np.concatenate([a.reshape(-1), b.reshape(-1)]), tag)
        got = channel.recv(peer, tag, dtype=np.uint64, shape=(a.size + b.size,))
        a_p, b_p = got[: a.size].reshape(a.shape), got[a.size :].reshape(b.shape)
        cross = a @ b_p if channel.pid == 0 else a_p @ b  # party 0 holds the whole cross term
        return cross + a_p @ b if channel.pid == 0 else np.zeros((a.shape[0], b.shape[1]), dtype=np.uint64)

    def main(p):
        p.preprocessing.matrix_triple_2pc = insecure_cross
        before = p.stats()["offline"]["bytes_sent"] if "offline" in p.stats() else 0
        item = p.preprocessing.matmul_triples(4, 3, 5)
        return item, before, p.stats()["offline"]["bytes_sent"] if "offline" in p.stats() else 0

    res = run_local(main, 2, preprocessing="ot", ot_matrix="paillier")  # the hook for every shape
    a, b, c = (res[0][0][i] + res[1][0][i] for i in range(3))
    assert np.array_equal(a @ b, c)
    assert all(after == before for _, before, after in res)  # no OT traffic: the hook made it


@pytest.mark.parametrize("n", [2, 3])
def test_ot_matrix_paillier_makes_the_matrix_triples(n):
    """``ot_matrix="paillier"``: every pair's cross terms come from Paillier (one 2048-bit key per
    party), a secret matmul is exact against NumPy, and no Gilboa OT carried a matrix."""
    rng = np.random.default_rng(n)
    xs = [rng.integers(-2**20, 2**20, size=(3, 4)) for _ in range(n)]
    ys = [rng.integers(-2**20, 2**20, size=(4, 2)) for _ in range(n)]
    xs[0][0, 0], ys[-1][-1, -1] = -2**31, 2**31 - 1  # large magnitudes: products near 2^62

    def main(p):
        x = sum(p.input(xs[p.pid] if i == p.pid else None, owner=i, shape=(3, 4), dtype=mpc.Int64())
                for i in range(n))
        y = sum(p.input(ys[p.pid] if i == p.pid else None, owner=i, shape=(4, 2), dtype=mpc.Int64())
                for i in range(n))
        hook = p.preprocessing.matrix_triple_2pc
        return p.reveal(x @ y), hook.stats.get("bytes_sent", 0)

    res = run_local(main, n, preprocessing="ot", ot_matrix="paillier", timeout=120)
    want = sum(xs) @ sum(ys)
    for out, sent in res:
        np.testing.assert_array_equal(out, want)
        assert sent > 0  # the Paillier hook ran (its own byte count)


def test_ot_matrix_is_checked_before_anything_is_sent():
    with pytest.raises(ConfigError, match="ot_matrix"):
        run_local(lambda p: None, 2, preprocessing="ot", ot_matrix="rsa")


OT_SCRIPTS = [  # histogram and salaries run through mpcrun --preprocessing ot above
    ("fedavg", ["update_{pid}.txt"]), ("linreg", ["regression_{pid}.csv"]),
    ("dp_histogram", ["dp_visits_{pid}.txt", "1.0"]), ("dp_mean", ["dp_ages_{pid}.txt", "0.5"]),
    ("fedavg_dp", ["update_{pid}.txt", "1.0", "1", "10"]),
]


@pytest.mark.processes
@pytest.mark.parametrize("name, args", OT_SCRIPTS, ids=[s for s, _ in OT_SCRIPTS])
def test_every_protocol_script_runs_through_mpcrun_preprocessing_ot(tmp_path, name, args):
    """Every script in protocols/ runs dealer-free under mpcrun (3 parties, no dealer process):
    the parties print the same result, and the deterministic scripts print the dealer's result
    (to the last digit printed, up to semi2k truncation's 2^-16 per step)."""

    data = ROOT / "protocols" / "data"
    argv = [str(data / a) if "{pid}" in a else a for a in args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "mpc", "run", "-n", "3", "--preprocessing", "ot",
           str(ROOT / "protocols" / f"{name}.py"), *argv]
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "+ dealer" not in out.stdout + out.stderr
    lines = sorted(ln.split(": ", 1)[1] for ln in out.stdout.splitlines() if re.match(r"\[P\d\] party \d: ", ln))
    assert len(lines) == 3 and lines[0] == lines[1] == lines[2], out.stdout
    if not name.startswith("dp_") and not name.endswith("_dp"):
        spec = importlib.util.spec_from_file_location(f"ot_{name}", ROOT / "protocols" / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        want = np.ravel(run_local(mod.main, 3, argv=argv, preprocessing="dealer")[0])
        got = np.array([float(v) for v in re.findall(r"-?\d+\.\d*", lines[0])])
        np.testing.assert_allclose(got, want, atol=2e-3)
