"""Tessera: secure multi-party computation for Python.

Importing this package has no side effects: no argv parsing, no sockets, no threads.
``mpc.run`` imports the launcher only when called.
"""

from mpc.dtypes import Fixed, Int64
from mpc.errors import (
    CheatingDetected,
    ConfigError,
    KernelError,
    MPCError,
    PeerTimeout,
    PreprocessingExhausted,
    ProtocolError,
    ShareTypeError,
)
from mpc.runtime.party import Party
from mpc.tensor.functions import avg_pool2d, concatenate, conv2d, dot, outer, stack
from mpc.tensor.secret_tensor import SecretTensor

__version__ = "0.1.0"


def run(main, **defaults):
    """Run ``main(party)`` as this process's party (see :func:`mpc.launch.run`); the launcher is
    imported here, at call time, so ``import mpc`` never depends on it."""
    from mpc.launch import run as _run

    return _run(main, **defaults)


__all__ = [
    "CheatingDetected",
    "ConfigError",
    "Fixed",
    "Int64",
    "KernelError",
    "MPCError",
    "Party",
    "PeerTimeout",
    "PreprocessingExhausted",
    "ProtocolError",
    "SecretTensor",
    "ShareTypeError",
    "avg_pool2d",
    "concatenate",
    "conv2d",
    "dot",
    "outer",
    "run",
    "stack",
]
