"""The party process's C heap settings (mpc.launch.allocator): large buffers are reused.

The page-fault counts come from a fresh interpreter per case, so the test process's own heap
history does not matter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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
