"""The DP protocol scripts (protocols/dp_histogram.py, dp_mean.py, fedavg_dp.py) in-process
against the plaintext answers, and one of them through mpcrun."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest
from test_protocols import DATA, ROOT, script

from mpc.testing import run_local


def _load(pattern, dtype):
    return np.concatenate([np.loadtxt(DATA / pattern.format(pid=i), dtype=dtype, ndmin=1) for i in range(3)])


def test_dp_histogram_is_the_true_histogram_plus_small_noise():
    truth = np.bincount(_load("dp_visits_{pid}.txt", np.int64), minlength=7)
    loose = run_local(script("dp_histogram").main, 3, argv=[str(DATA / "dp_visits_{pid}.txt"), "1.0"],
                      preprocessing="dealer")
    for h in loose[1:]:
        np.testing.assert_array_equal(h, loose[0])
    # DLap(2) per bin: |noise| > 40 has probability 2e-9 per bin; all 7 bins noiseless: 5e-5
    assert np.abs(loose[0] - truth).max() <= 40 and np.any(loose[0] != truth)
    tight = run_local(script("dp_histogram").main, 3, argv=[str(DATA / "dp_visits_{pid}.txt"), "1e6"])
    np.testing.assert_array_equal(tight[0], truth)


def test_dp_mean_is_the_clipped_mean_plus_small_noise():
    ages = np.clip(_load("dp_ages_{pid}.txt", np.float64), 18, 100)
    runs = [run_local(script("dp_mean").main, 3, argv=[str(DATA / "dp_ages_{pid}.txt"), "0.5"]) for _ in range(2)]
    for out in runs:
        assert out[0] == out[1] == out[2]
        # noise of the sum: DLap of scale ~ 84 / 0.5 = 168 on the integer grid (integer ages: g = 0),
        # divided by 120 records: |error| > 25 needs |noise| > 3000, probability ~ 1e-8
        assert abs(out[0] - ages.mean()) < 25
        assert out[0] * 120 == pytest.approx(round(out[0] * 120), abs=1e-6)  # a whole-unit noisy sum
    # one run is noiseless with probability tanh(1/336) ~ 0.3% (a CI run hit it); both: ~1e-5
    assert any(out[0] != ages.mean() for out in runs)
    tight = run_local(script("dp_mean").main, 2, argv=[str(DATA / "dp_ages_{pid}.txt"), "1e5"])
    two = np.clip(np.concatenate([np.loadtxt(DATA / f"dp_ages_{i}.txt") for i in range(2)]), 18, 100)
    assert tight[0] == pytest.approx(two.mean(), abs=0.05)


def test_fedavg_dp_is_the_clipped_average_plus_distributed_noise():
    mod = script("fedavg_dp")
    updates = [mod.clip_l2(np.loadtxt(DATA / f"update_{i}.txt"), mod.CLIP) for i in range(3)]
    want = np.mean(updates, axis=0)
    out = run_local(mod.main, 3, argv=[str(DATA / "update_{pid}.txt"), "1e6", "1", "1e9"], preprocessing="dealer")
    for avg in out:
        np.testing.assert_array_equal(avg, out[0])
    # rho = 1e6: sigma of the sum ~ 2 / sqrt(2e6) ~ 1.4e-3 plus the 2^-g grid: within 0.01
    np.testing.assert_allclose(out[0], want, atol=0.01)
    # rho = 1 with all 3 clients honest: each adds N_Z(0, sigma^2 / 3), sigma = 2C / sqrt(2 rho) ~ 1.41
    # (value units): the sum's noise has sd ~ 1.41 over 8 coordinates
    noisy = run_local(mod.main, 3, argv=[str(DATA / "update_{pid}.txt"), "1.0", "3"])
    err = (noisy[0] - want) * 3
    assert 0.3 < np.std(err) < 5 and math.isfinite(float(np.sum(err)))


@pytest.mark.processes
def test_dp_mean_through_mpcrun(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "mpc", "run", "-n", "2", str(ROOT / "protocols" / "dp_mean.py"),
           str(DATA / "dp_ages_{pid}.txt"), "0.5"]
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = [ln for ln in out.stdout.splitlines() if "dp mean age" in ln]
    assert len(lines) == 2 and "over 70 records (epsilon = 0.5)" in lines[0]
    assert lines[0].split("=")[1] == lines[1].split("=")[1]  # both parties released the same value
