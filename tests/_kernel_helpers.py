"""Helpers shared by the kernel tests: the compiled backend against the NumPy reference."""

import pytest

from mpc.errors import KernelError


def rejection(call, *args) -> str:
    """The message of the KernelError that ``call(*args)`` raises (the test fails if none is)."""
    with pytest.raises(KernelError) as info:
        call(*args)
    return str(info.value)


def assert_rejected_alike(call, backends) -> None:
    """``call(k)`` raises KernelError for every backend k, all with one non-empty message."""
    messages = [rejection(call, k) for k in backends]
    assert messages == [messages[0]] * len(messages)
    assert messages[0]
