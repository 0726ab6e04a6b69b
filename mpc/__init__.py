"""Tessera: secure multi-party computation for Python.

Importing this package has no side effects: no argv parsing, no sockets, no threads.
``mpc.run`` imports the launcher only when called.

The user types are :class:`SecretTensor` (arithmetic: ``+ - * @``, reductions, and the
comparisons ``< <= > >=``, ``abs``, ``.relu()``, ``.max()``, ``.argmax()``, ``.sort()``...) and
:class:`SecretBits` (boolean, from ``party.input_bits``). Module functions: ``mpc.stack``,
``mpc.concatenate``, ``mpc.dot``, ``mpc.outer``, ``mpc.conv2d``, ``mpc.avg_pool2d``,
``mpc.where``, ``mpc.minimum``, ``mpc.maximum``; ``mpc.check_range`` (a secure range check that
reveals one bit) and ``mpc.debug_value`` (values under the cleartext debug engine only). The
non-linear functions live in the ``mpc.functions`` module (``import mpc.functions as F``; ``F.sigmoid(x)``, ``F.exp``, ``F.log``,
``F.reciprocal``, ``F.divide``, ``F.sqrt``, ``F.rsqrt``, ``F.tanh``, ``F.softmax``,
``F.log_softmax``; also reachable as ``mpc.functions``). Bristol Fashion circuits (AES-128
shipped) on SecretBits of any width: ``mpc.bristol.load``, ``mpc.bristol.evaluate``.
"""

from mpc import bristol, functions
from mpc.dtypes import Fixed, Int64
from mpc.errors import (
    CheatingDetected,
    ConfigError,
    KernelError,
    MPCError,
    PeerTimeout,
    PreprocessingExhausted,
    ProtocolError,
    RangeError,
    RangeWarning,
    ShareTypeError,
)
from mpc.runtime.party import Party
from mpc.tensor.compare import maximum, minimum, where
from mpc.tensor.debug import debug_value
from mpc.tensor.functions import avg_pool2d, concatenate, conv2d, dot, outer, stack
from mpc.tensor.range_check import check_range
from mpc.tensor.secret_bits import SecretBits
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
    "RangeError",
    "RangeWarning",
    "SecretBits",
    "SecretTensor",
    "ShareTypeError",
    "avg_pool2d",
    "bristol",
    "check_range",
    "concatenate",
    "conv2d",
    "debug_value",
    "dot",
    "functions",
    "maximum",
    "minimum",
    "outer",
    "run",
    "stack",
    "where",
]
