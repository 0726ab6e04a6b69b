"""Module-level SecretTensor functions: stack, concatenate, dot, outer, conv2d, avg_pool2d.

All are local except the products (dot, outer, conv2d with both operands secret: one round).
Public operands may be mixed in where NumPy would accept them; at least one operand must be a
SecretTensor (it provides the engine).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mpc.errors import InputError, ShareTypeError
from mpc.tensor.encoding import encode_public, to_numpy
from mpc.tensor.secret_tensor import SecretTensor, conv_plan


def _join(tensors: Sequence[object], axis: int, op: str, fn) -> SecretTensor:
    items = list(tensors)
    if not items:
        raise InputError(f"{op}: need at least one array")
    secret = [t for t in items if isinstance(t, SecretTensor)]
    if not secret:
        raise ShareTypeError(f"{op}: at least one operand must be a SecretTensor")
    first = secret[0]
    dtype = first.dtype
    for t in secret[1:]:
        first._check(t)
        dtype = t._promote(first) if t.dtype != dtype else dtype
    scale = max(t.scale for t in secret)
    eng = first.engine
    shares = []
    for t in items:
        if isinstance(t, SecretTensor):
            shares.append(t._at_scale(scale))
        else:
            shares.append(eng.public_share(encode_public(to_numpy(t, f"{op} operand"), dtype, scale)))
    try:
        joined = fn(shares, axis=axis)
    except (ValueError, np.exceptions.AxisError) as exc:
        raise InputError(f"{op}: shapes {[s.shape for s in shares]} along axis {axis}: {exc}") from None
    return SecretTensor(eng, np.asarray(joined, order="C"), dtype, scale)


def stack(tensors: Sequence[object], axis: int = 0) -> SecretTensor:
    """Stack equally shaped tensors along a new axis (local)."""
    return _join(tensors, axis, "stack", np.stack)


def concatenate(tensors: Sequence[object], axis: int = 0) -> SecretTensor:
    """Join tensors along an existing axis (local)."""
    return _join(tensors, axis, "concatenate", np.concatenate)


def dot(a: object, b: object) -> SecretTensor:
    if isinstance(a, SecretTensor):
        return a.dot(b)
    if not isinstance(b, SecretTensor):
        raise ShareTypeError("dot: at least one operand must be a SecretTensor")
    if np.ndim(a) == 0 or b.ndim == 0:
        return a * b  # type: ignore[operator]
    return to_numpy(a, "dot operand") @ b


def outer(a: object, b: object) -> SecretTensor:
    if isinstance(a, SecretTensor):
        return a.outer(b)
    if not isinstance(b, SecretTensor):
        raise ShareTypeError("outer: at least one operand must be a SecretTensor")
    return to_numpy(a, "outer operand").reshape(-1, 1) @ b.reshape(1, -1)


def conv2d(x: object, weight: object, stride: int | tuple[int, int] = 1,
           padding: int | tuple[int, int] = 0) -> SecretTensor:
    """See :meth:`SecretTensor.conv2d`; ``x`` may be public when ``weight`` is secret."""
    if isinstance(x, SecretTensor):
        return x.conv2d(weight, stride, padding)
    if not isinstance(weight, SecretTensor):
        raise ShareTypeError("conv2d: at least one operand must be a SecretTensor")
    xa = to_numpy(x, "conv2d input")
    k, cols_fn = conv_plan(xa.shape, weight.shape, stride, padding)
    out = weight.reshape(weight.shape[0], -1) @ cols_fn(xa)
    return out.reshape(weight.shape[0], xa.shape[0], *k).transpose(1, 0, 2, 3)


def avg_pool2d(x: SecretTensor, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
               padding: int | tuple[int, int] = 0) -> SecretTensor:
    if not isinstance(x, SecretTensor):
        raise ShareTypeError("avg_pool2d: expected a SecretTensor")
    return x.avg_pool2d(kernel_size, stride, padding)


__all__ = ["avg_pool2d", "concatenate", "conv2d", "dot", "outer", "stack"]
