"""The party process's C heap settings (mpc.launch.allocator): large buffers are reused.

The page-fault counts come from a fresh interpreter per case, so the test process's own heap
history does not matter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_launch import mpcrun  # python -m mpc run without the caller's MPC_* settings (MPC_MALLOC)

from mpc.errors import ConfigError
from mpc.launch.allocator import has_glibc_mallopt, tune_allocator

REPO = Path(__file__).resolve().parents[1]

# One protocol step's allocation pattern: the 16 MB send buffer, the 8 MB result, a 24 MB
# temporary, freed in another order than allocated. Prints the minor page faults of each step.
PROBE = """
import json, resource, sys
import numpy as np
from mpc.launch.allocator import tune_allocator
applied = tune_allocator(sys.argv[1])
faults = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_minflt
steps = []
for _ in range(6):
    f0 = faults()
    a = np.empty(2 * 10**6, dtype=np.uint64); a.fill(1)
    b = np.empty(10**6, dtype=np.uint64); b.fill(2)
    del a
    c = np.empty(3 * 10**6, dtype=np.uint64); c.fill(3)
    del b, c
    steps.append(faults() - f0)
print(json.dumps({"applied": applied, "faults": steps}))
"""


def probe(mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, cwd=REPO,
                          timeout=120, check=True)
    return json.loads(done.stdout)


def test_bad_mode_is_a_config_error():
    with pytest.raises(ConfigError, match="malloc: expected one of tuned, system"):
        tune_allocator("jemalloc")


def test_system_mode_changes_nothing():
    assert tune_allocator("system") is False


@pytest.mark.skipif(not has_glibc_mallopt(), reason="the settings are glibc's (mallopt); this C library has none")
def test_tuned_heap_reuses_large_buffers():
    """Tuned: after the first step (which grows the heap) no step takes a page fault for its
    arrays (a 4 KiB page each: 12,000 for 48 MB fresh). glibc's defaults, the control: every step
    maps fresh pages again, because the dynamic mmap threshold and the trim threshold hand the
    freed blocks back to the kernel."""
    tuned, system = probe("tuned"), probe("system")
    assert tuned["applied"] is True and system["applied"] is False
    assert max(tuned["faults"][1:]) < 64, tuned["faults"]
    assert min(system["faults"][1:]) > 1000, system["faults"]  # the cost the tuning removes


HEAP_STEPS = REPO / "tests" / "scripts" / "heap_steps.py"


@pytest.mark.skipif(not has_glibc_mallopt(), reason="the settings are glibc's (mallopt); this C library has none")
def test_a_party_keeps_its_heap_across_repeated_large_steps(tmp_path):
    """Sixteen identical steps of spdz2k's ``x < y`` on 10^5 elements through ``mpcrun`` (750-1,000
    MB per party): once the heap has grown to what a step needs, no step hands memory back to the
    kernel, so no later step faults it in again. With the trim threshold at 512 MiB party 0 gave
    400 MB back at the 13th step (997 -> 581 MB resident, in each of three runs) and climbed
    again (what that cost: mpc/launch/allocator.py)."""
    done, _ = mpcrun(tmp_path, "-n", 2, "--insecure-plaintext", "--engine", "spdz2k", "--log-dir", "logs",
                     HEAP_STEPS, 100000, 16, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [ln for ln in done.stdout.splitlines() if ": ok=" in ln]
    assert len(lines) == 2, done.stdout
    for line in lines:
        assert "ok=True" in line, line
        rss = [int(v) for v in line.split("rss_mb=")[1].split(",")]
        assert len(rss) == 16
        # from the sixth step on the heap has its size: no step ends with 32 MB less resident than
        # the one before (less than one block of the mmap threshold, which is mapped per use and
        # unmapped on free whatever the trim setting)
        drops = [rss[i - 1] - rss[i] for i in range(5, 16)]
        assert max(drops) < 32, (line, drops)
