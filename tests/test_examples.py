"""The walkthroughs in examples/: each script's main(party) in-process (threads) against the plaintext
answers, for 2 and 3 parties (and under spdz2k too), and through real mpcrun processes over ZeroMQ."""

import os
import subprocess
import sys

import numpy as np
import pytest

from mpc.engines.circuits_data.generate import aes_ecb
from mpc.testing import run_local
from tests._examples import EXAMPLES, ROOT, example, run_line

DATA = EXAMPLES / "data"
AES_ARGS = [str(DATA / "aes_key.txt"), str(DATA / "aes_plaintext.txt")]


def test_every_example_has_a_run_line_and_is_listed_in_the_readme():
    readme = (EXAMPLES / "README.md").read_text()
    names = sorted(p.stem for p in EXAMPLES.glob("*.py"))
    assert names == ["bristol_aes", "dp_training", "encrypted_inference", "encrypted_transformer", "first_protocol",
                     "private_training", "secure_aggregation"]
    for name in names:
        argv = run_line(name)
        assert argv[:3] == ["mpcrun", "-n", argv[2]] and argv[3] == f"examples/{name}.py"
        assert " ".join(argv) in readme or (name == "secure_aggregation" and " ".join(argv[:-1]) in readme)


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("engine", ["semi2k", "spdz2k"])
def test_first_protocol(n, engine):
    out = run_local(example("first_protocol").main, n, argv=[str(DATA / "bid_{pid}.txt")], preprocessing="dealer",
                    engine=engine)
    bids = np.array([float((DATA / f"bid_{i}.txt").read_text()) for i in range(n)])
    for pid, (winner, top, mean, var, above) in enumerate(out):
        assert winner == int(np.argmax(bids)) and top == bids.max()
        assert mean == pytest.approx(bids.mean(), abs=1e-3)
        assert var == pytest.approx(bids.var(), rel=1e-4)
        assert above == bool(bids[pid] > bids.mean())  # each party learns only its own comparison


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("clip", [None, 0.5])
@pytest.mark.parametrize("engine", ["semi2k", "spdz2k"])
def test_secure_aggregation(n, clip, engine):
    argv = [str(DATA / "update_{pid}.txt")] + ([] if clip is None else [str(clip)])
    out = run_local(example("secure_aggregation").main, n, argv=argv, preprocessing="dealer", engine=engine)
    updates = np.array([np.loadtxt(DATA / f"update_{i}.txt") for i in range(n)])
    want = (updates if clip is None else np.clip(updates, -clip, clip)).mean(axis=0)
    if n == 3 and clip is not None:
        assert np.abs(updates.mean(axis=0) - want).max() > 1  # the data has outliers that clipping removes
    for avg in out:
        np.testing.assert_allclose(avg, want, atol=1e-4)


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("engine", ["gmw", "spdz2k"])
def test_bristol_aes(n, engine):
    key = bytes.fromhex((DATA / "aes_key.txt").read_text())
    block = bytes.fromhex((DATA / "aes_plaintext.txt").read_text())
    out = run_local(example("bristol_aes").main, n, argv=AES_ARGS, engine=engine, preprocessing="dealer")
    want = aes_ecb(key, block)
    assert want.hex() == "69c4e0d86a7b0430d8cdb78070b4c55a"  # FIPS-197 C.1
    assert out == [want if pid == 1 else None for pid in range(n)]  # only the plaintext owner learns it


@pytest.mark.processes
@pytest.mark.parametrize(("name", "args", "expect", "count"), [
    ("first_protocol", [str(DATA / "bid_{pid}.txt")], "winner = party 1 with 310.00; mean bid 235.25", 3),
    ("bristol_aes", AES_ARGS, "party 1: ciphertext = 69c4e0d86a7b0430d8cdb78070b4c55a", 1),
])
def test_examples_through_mpcrun(tmp_path, name, args, expect, count):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPC_")}
    env["PYTHONPATH"] = str(ROOT)
    n = run_line(name)[2]
    cmd = [sys.executable, "-m", "mpc", "run", "-n", n, str(EXAMPLES / f"{name}.py"), *args]
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count(expect) == count, out.stdout


@pytest.mark.processes
def test_a_missing_argument_is_one_line_per_party_not_a_traceback(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPC_")}
    env["PYTHONPATH"] = str(ROOT)
    cmd = [sys.executable, "-m", "mpc", "run", "-n", "2", str(EXAMPLES / "first_protocol.py")]
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stdout + out.stderr  # a ConfigError's exit status
    assert "Traceback" not in out.stderr
    for pid in (0, 1):
        assert (f"[P{pid}] party {pid}: ConfigError: this script takes at least 1 argument after its path, got 0 "
                "arguments; usage: mpcrun -n 3 examples/first_protocol.py examples/data/bid_{pid}.txt") in out.stderr
