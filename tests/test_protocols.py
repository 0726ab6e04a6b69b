"""The protocol scripts' main(party), run in-process (threads) against the plaintext answers."""

import importlib.util
import pathlib

import numpy as np
import pytest

from mpc.testing import run_local

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT / "protocols" / "data"


def script(name):
    spec = importlib.util.spec_from_file_location(f"protocol_{name}", ROOT / "protocols" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("preprocessing", ["local", "dealer"])
def test_salaries(preprocessing):
    out = run_local(script("salaries").main, 3, argv=[str(DATA / "salary_{pid}.txt")], preprocessing=preprocessing)
    salaries = [float((DATA / f"salary_{i}.txt").read_text()) for i in range(3)]
    for total, mean, top in out:
        assert total == pytest.approx(sum(salaries), abs=1e-4)
        assert mean == pytest.approx(np.mean(salaries), abs=2 * 2.0**-16)
        assert top == max(salaries)  # exact: a comparison selects one of the inputs


def test_fedavg():
    out = run_local(script("fedavg").main, 3, argv=[str(DATA / "update_{pid}.txt")], preprocessing="dealer")
    want = np.mean([np.loadtxt(DATA / f"update_{i}.txt") for i in range(3)], axis=0)
    for avg in out:
        np.testing.assert_allclose(avg, want, atol=1e-4)


def test_histogram():
    out = run_local(script("histogram").main, 3, argv=[str(DATA / "votes_{pid}.txt"), "5"])
    votes = np.concatenate([np.loadtxt(DATA / f"votes_{i}.txt", dtype=np.int64) for i in range(3)])
    for h in out:
        np.testing.assert_array_equal(h, np.bincount(votes, minlength=5))


def test_linreg_matches_plaintext_gradient_descent():
    mod = script("linreg")
    out = run_local(mod.main, 3, argv=[str(DATA / "regression_{pid}.csv")], preprocessing="dealer")
    rows = np.concatenate([np.loadtxt(DATA / f"regression_{i}.csv", delimiter=",", skiprows=1) for i in range(3)])
    x = np.column_stack([rows[:, :-1], np.ones(len(rows))])
    want = mod.gradient_descent(x, rows[:, -1])
    for w in out:
        np.testing.assert_allclose(w, want, atol=1e-3)


@pytest.mark.processes
@pytest.mark.parametrize("name, args, expect", [
    ("salaries", ["salary_{pid}.txt"], "total=162150.75 mean=54050.25 max=61250.00"),
    ("histogram", ["votes_{pid}.txt", "5"], "histogram = [11, 10, 10, 18, 11]"),
])
def test_scripts_through_mpcrun(tmp_path, name, args, expect):
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "mpc", "run", "-n", "3", str(ROOT / "protocols" / f"{name}.py"),
           *[str(DATA / a) if "{pid}" in a else a for a in args]]
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count(expect) == 3, out.stdout


@pytest.mark.processes
@pytest.mark.parametrize("cheat", [False, True])
def test_spdz2k_through_mpcrun_and_a_cheater_is_exit_code_4(tmp_path, cheat):
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "mpc", "run", "-n", "3", str(ROOT / "tests" / "scripts" / "spdz2k_cheat.py")]
    out = subprocess.run(cmd + (["--cheat"] if cheat else []), cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=120)
    if not cheat:
        assert out.returncode == 0, out.stdout + out.stderr
        assert out.stdout.count("x*y = [ 2.5  5.   7.5 10. ]") == 3, out.stdout
    else:
        assert out.returncode == 4, out.stdout + out.stderr
        assert "x*y" not in out.stdout  # nothing was revealed
        assert "MAC check" in out.stdout + out.stderr


@pytest.mark.processes
def test_a_shape_mismatch_in_a_script_is_one_line_naming_the_shapes(tmp_path):
    """Bad user input is an expected error (InputError, a ValueError): one console line per party
    naming the shapes, the traceback in the logs only, not an 'unexpected error'."""
    import os
    import subprocess
    import sys

    from mpc.errors import InputError, MPCError

    assert issubclass(InputError, MPCError) and issubclass(InputError, ValueError)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "mpc", "run", "-n", "2", str(ROOT / "tests" / "scripts" / "bad_shapes.py")]
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert "InputError: +: shapes (3,) and (4,) do not broadcast" in text, text
    assert "unexpected error" not in text and "Traceback" not in text, text


SPDZ2K_SCRIPTS = [
    ("salaries", ["salary_{pid}.txt"]), ("histogram", ["votes_{pid}.txt", "5"]), ("fedavg", ["update_{pid}.txt"]),
    ("linreg", ["regression_{pid}.csv"]), ("dp_histogram", ["dp_visits_{pid}.txt", "1.0"]),
    ("dp_mean", ["dp_ages_{pid}.txt", "0.5"]), ("fedavg_dp", ["update_{pid}.txt", "1.0", "1", "10"]),
]


@pytest.mark.parametrize("engine", ["spdz2k", "masked2k"])
@pytest.mark.parametrize("name, args", SPDZ2K_SCRIPTS, ids=[s for s, _ in SPDZ2K_SCRIPTS])
def test_every_protocol_script_runs_under_every_engine(name, args, engine):
    """Every script in protocols/ runs unchanged with active security (SecretBits and the DP noise
    on spdz2k's authenticated bits) and with masked sharing (masked2k), with the results of semi2k
    (exactly, or for the DP scripts, whose noise is fresh each run, the same shapes)."""
    argv = [str(DATA / a) if "{pid}" in a else a for a in args]
    semi = run_local(script(name).main, 3, argv=argv, preprocessing="dealer", timeout=120)
    spdz = run_local(script(name).main, 3, argv=argv, preprocessing="dealer", engine=engine, timeout=120)
    for a, b in zip(semi, spdz, strict=True):
        if name.startswith("dp_") or name.endswith("_dp"):
            assert np.shape(a) == np.shape(b)
        else:
            np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), atol=1e-2)
