"""Shared test settings: hypothesis profiles sized for a 2-core CI machine."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.register_profile("thorough", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# pytest-xdist workers (gw0, gw1, ...) launch parties at the same time: each draws its port
# blocks from its own range (mpc.launch.local.free_port_block), inherited by the mpcrun
# processes it starts, so two workers never pick the same ports
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker.startswith("gw") and _worker[2:].isdigit():
    from mpc.launch.local import LOWEST_PORT

    _lo = LOWEST_PORT + 4000 * (int(_worker[2:]) % 4)
    os.environ["MPC_PORT_RANGE"] = f"{_lo}-{_lo + 3999}"


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (``-n``), the tests that build network namespaces (named tsr0, tsr1,
    ..., host-wide) run in one worker, one after another: two workers would tear down each
    other's namespaces. Without xdist the marker does nothing."""
    import pytest

    for item in items:
        if item.path.name in ("test_netns.py", "test_bench_profiles.py"):
            item.add_marker(pytest.mark.xdist_group("netns"))
