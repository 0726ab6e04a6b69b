"""Shared test settings: hypothesis profiles sized for a 2-core CI machine."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.register_profile("thorough", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (``-n``), the tests that build network namespaces (named tsr0, tsr1,
    ..., host-wide) run in one worker, one after another: two workers would tear down each
    other's namespaces. Without xdist the marker does nothing."""
    import pytest

    for item in items:
        if item.path.name in ("test_netns.py", "test_bench_profiles.py"):
            item.add_marker(pytest.mark.xdist_group("netns"))
