"""Fixed-point bookkeeping for training: zeros, exact scale lifts, precise public scalings.

Everything here is built from SecretTensor's public operations (products by public integers and
floats, additions, ``/`` by a public integer), so it follows any engine underneath.

Scales. A Fixed(f) tensor is at scale f (base) or 2f (an untruncated product, its truncation
deferred to the next product). Training keeps three things at scale 2f on purpose:
- parameters after the first optimiser step (an update below 2^-f, e.g. lr/N * g = 1e-6, is kept
  exactly instead of being truncated away; the next forward product truncates the weight in the
  round it truncates its other operand anyway, so this costs no extra round);
- optimiser state (momentum buffers, Adam moments), for the same reason;
- the result of :func:`mul_const`, which scales by a public constant c with 12 significant bits
  of c (relative error <= 2^-12), where a plain ``x * c`` would encode c with f fractional bits
  (c = lr / N = 1.6e-4 at f = 16 would be 10/65536: 5% off).
"""

from __future__ import annotations

import math

import numpy as np

from mpc.errors import ShareTypeError
from mpc.tensor.secret_tensor import SecretTensor

__all__ = ["zeros", "lift", "mul_const", "C_BITS"]

C_BITS = 12  # significant bits of a public constant in mul_const


def zeros(ref: SecretTensor, shape: tuple[int, ...]) -> SecretTensor:
    """A secret-shared zero of ``shape`` with ref's dtype and scale: local (every share is 0)."""
    if ref.size == 0:
        raise ValueError("zeros: the reference tensor is empty")
    z = ref.reshape(-1)[:1] * 0  # a public integer product: local, keeps the scale
    return z.reshape(()) + np.zeros(shape)


def lift(x: SecretTensor) -> SecretTensor:
    """x at scale 2f (local: x at scale f is multiplied by 2^f exactly; at 2f it is returned)."""
    f = x.dtype.frac_bits
    if x.scale >= 2 * f:
        return x
    z = (x.reshape(-1)[:1] * 0) * 0.5  # a zero at scale 2f: x is at base scale, so no truncation
    return x + z.reshape(())


def mul_const(x: SecretTensor, c: float) -> SecretTensor:
    """c * x for a public real c, at scale 2f with c to 12 significant bits (relative <= 2^-12).

    With m = round(c 2^k) in [2^11, 2^12): (x m) / 2^k, the division by a public power of two
    being the engine's exact truncation (one round, error below one unit at scale 2f). Range:
    |x| < 2^(62 - 2f - 12) (2^18 at f = 16). c = 0 and integers |c| >= 2^11 are local products.
    """
    if not isinstance(x, SecretTensor):
        raise ShareTypeError(f"mul_const: expected a SecretTensor, got {type(x).__name__}")
    c = float(c)
    if not math.isfinite(c):
        raise ValueError(f"mul_const: the constant must be finite, got {c}")
    if c == 0.0:
        return lift(x) * 0
    e = math.floor(math.log2(abs(c)))
    k = C_BITS - 1 - e
    if k <= 0:
        return lift(x) * int(round(c))
    m = int(round(c * (1 << k)))
    return (lift(x) * m) / (1 << k)
