"""Non-linear functions on SecretTensors: reciprocal, divide, exp, log, sqrt, rsqrt, sigmoid,
tanh, softmax, log_softmax.

Each function documents its method, its cost in rounds and bytes, its accuracy (measured in
tests/test_functions.py) and its behaviour outside its domain. Results are Fixed tensors at
scale 2f, like an untruncated product (exact to reveal; the next product truncates them).
They need the boolean engine: ``x.engine.converter`` (see :func:`mpc.tensor.compare.converter_of`;
every Party with ``engine="semi2k"`` attaches it). Comparisons, max/argmax and sort live in
:mod:`mpc.tensor.compare` (and are SecretTensor methods).

Use: ``import mpc.functions as F`` then ``F.sigmoid(x)``, or ``mpc.functions.sigmoid(x)`` after
``import mpc`` (the package imports this module).
"""

from mpc.functions.activations import sigmoid, tanh
from mpc.functions.exp_log import exp, log
from mpc.functions.roots import divide, reciprocal, rsqrt, sqrt
from mpc.functions.softmax import log_softmax, softmax

__all__ = ["divide", "exp", "log", "log_softmax", "reciprocal", "rsqrt", "sigmoid", "softmax", "sqrt", "tanh"]
