"""Sliding windows of (N, C, H, W) SecretTensors and their adjoint, from public operations only.

:func:`windows` gathers the kh x kw windows of a convolution or pooling as a (kh*kw, N, C, OH,
OW) tensor: one strided slice per kernel position, stacked (local; the same rearrangement as
im2col, Chellapilla, Puri and Simard 2006, done on slices so that the backward can keep it).
:func:`col2im` is its adjoint: every window element's gradient added back to the input position
it came from (local). Padding is a public constant (0 for convolutions and average pooling, a
large negative value for max pooling) joined with ``mpc.concatenate``.
"""

from __future__ import annotations

import numpy as np

from mpc.nn.scaling import zeros
from mpc.tensor.functions import concatenate, stack
from mpc.tensor.secret_tensor import SecretTensor
from mpc.tensor.shapes import pair, window_shape

__all__ = ["Window", "windows", "col2im", "pad2d"]


class Window:
    """Kernel, stride and padding of a 2-d window operation, validated (ValueError naming them)."""

    def __init__(self, kernel, stride, padding, op: str) -> None:
        self.k = pair(kernel, f"{op} kernel_size")
        self.s = pair(stride if stride is not None else kernel, f"{op} stride")
        self.p = pair(padding, f"{op} padding")
        self.op = op
        if min(self.k) < 1 or min(self.s) < 1 or min(self.p) < 0:
            raise ValueError(f"{op}: kernel {self.k} and stride {self.s} must be positive, padding {self.p} >= 0")

    def out_hw(self, h: int, w: int) -> tuple[int, int]:
        return window_shape((h, w), self.k, self.s, self.p, self.op)

    def __repr__(self) -> str:
        return f"kernel={self.k}, stride={self.s}, padding={self.p}"


def pad2d(x: SecretTensor, p: tuple[int, int], value: float = 0.0) -> SecretTensor:
    """x (N, C, H, W) with p[0] rows and p[1] columns of the public ``value`` on each side."""
    n, c, h, w = x.shape
    if p[0]:
        band = np.full((n, c, p[0], w), value)
        x = concatenate([band, x, band], axis=2)
    if p[1]:
        band = np.full((n, c, h + 2 * p[0], p[1]), value)
        x = concatenate([band, x, band], axis=3)
    return x


def windows(x: SecretTensor, win: Window, pad_value: float = 0.0) -> SecretTensor:
    """(kh*kw, N, C, OH, OW): entry i*kw + j holds x_padded[:, :, i + s0*oh, j + s1*ow]."""
    if x.ndim != 4:
        raise ValueError(f"{win.op}: expected input of shape (N, C, H, W), got {x.shape}")
    oh, ow = win.out_hw(x.shape[2], x.shape[3])
    xp = pad2d(x, win.p, pad_value)
    (kh, kw), (s0, s1) = win.k, win.s
    parts = [xp[:, :, i : i + s0 * (oh - 1) + 1 : s0, j : j + s1 * (ow - 1) + 1 : s1]
             for i in range(kh) for j in range(kw)]
    return stack(parts)


def col2im(cols: SecretTensor, shape: tuple[int, ...], win: Window) -> SecretTensor:
    """The adjoint of :func:`windows`: (kh*kw, N, C, OH, OW) gradients summed into (N, C, H, W)."""
    n, c, h, w = shape
    (kh, kw), (s0, s1), (p0, p1) = win.k, win.s, win.p
    _, _, _, oh, ow = cols.shape
    hp, wp = h + 2 * p0, w + 2 * p1
    if (kh, kw) == (s0, s1):
        # windows tile the input without overlap: a transposition, then zero rows/columns for the
        # part of the input no window covers (floor mode)
        out = cols.reshape(kh, kw, n, c, oh, ow).transpose(2, 3, 4, 0, 5, 1).reshape(n, c, oh * kh, ow * kw)
        if oh * kh < hp:
            out = concatenate([out, np.zeros((n, c, hp - oh * kh, ow * kw))], axis=2)
        if ow * kw < wp:
            out = concatenate([out, np.zeros((n, c, hp, wp - ow * kw))], axis=3)
    else:
        out = zeros(cols, (n, c, hp, wp))
        for i in range(kh):
            for j in range(kw):
                key = (slice(None), slice(None), slice(i, i + s0 * (oh - 1) + 1, s0), slice(j, j + s1 * (ow - 1) + 1, s1))
                out[key] = out[key] + cols[i * kw + j]
    if p0 or p1:
        out = out[:, :, p0 : p0 + h, p1 : p1 + w]
    return out
