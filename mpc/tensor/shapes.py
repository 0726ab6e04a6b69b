"""Shape logic of SecretTensor operations on plain arrays (no secrets, no communication).

Broadcasting follows NumPy; errors are ValueErrors naming the operation and the shapes, raised
before anything is sent. ``im2col`` is the local rearrangement behind convolution and pooling
(Chellapilla, Puri and Simard, "High performance convolutional neural networks for document
processing", 2006): it only copies elements, so it applies to shares as well as to values.
"""

from __future__ import annotations

import math

import numpy as np

from mpc.errors import InputError


def broadcast(op: str, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise InputError(f"{op}: shapes {' and '.join(map(str, shapes))} do not broadcast") from None


def expand(arr: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``arr`` broadcast to ``shape`` as a contiguous array (no copy when it already is)."""
    if arr.shape == shape:
        return np.asarray(arr, order="C")
    return np.asarray(np.broadcast_to(arr, shape), order="C")  # asarray keeps 0-d (ascontiguousarray would not)


class MatmulPlan:
    """How NumPy's ``x @ y`` maps onto 2-d or batched 3-d products."""

    def __init__(self, xs: tuple[int, ...], ys: tuple[int, ...]) -> None:
        if len(xs) == 0 or len(ys) == 0:
            raise InputError(f"matmul: operands must have at least one dimension, got shapes {xs} and {ys}")
        self.x_vec, self.y_vec = len(xs) == 1, len(ys) == 1
        x2 = (1, xs[0]) if self.x_vec else xs
        y2 = (ys[0], 1) if self.y_vec else ys
        if x2[-1] != y2[-2]:
            raise InputError(f"matmul: shapes {xs} and {ys} do not align (inner dimensions {x2[-1]} != {y2[-2]})")
        self.m, self.k, self.n = x2[-2], x2[-1], y2[-1]
        self.batch = broadcast("matmul", x2[:-2], y2[:-2])
        self.fold = len(y2) == 2  # y is one matrix: fold x's batch axes into its rows (one 2-d product)
        self.x2, self.y2 = x2, y2
        out = (*self.batch, self.m, self.n)
        if self.x_vec:
            out = out[:-2] + out[-1:]
        if self.y_vec:
            out = out[:-1]
        self.out_shape = out

    def operands(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """x and y as (m', k)@(k, n) or (B, m, k)@(B, k, n) contiguous arrays."""
        x = x.reshape(self.x2)
        y = y.reshape(self.y2)
        if self.fold:
            xb = expand(x, (*self.batch, self.m, self.k))
            rows = math.prod(self.batch) * self.m
            return xb.reshape(rows, self.k), np.ascontiguousarray(y)
        b = math.prod(self.batch)
        xb = expand(x, (*self.batch, self.m, self.k)).reshape(b, self.m, self.k)
        yb = expand(y, (*self.batch, self.k, self.n)).reshape(b, self.k, self.n)
        return xb, yb

    def result(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(z.reshape(self.out_shape), order="C")


def pair(value: int | tuple[int, int], what: str) -> tuple[int, int]:
    v = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(v) != 2 or any(not isinstance(e, (int, np.integer)) or isinstance(e, bool) for e in v):
        raise InputError(f"{what}: expected an int or a pair of ints, got {value!r}")
    return int(v[0]), int(v[1])


def window_shape(hw: tuple[int, int], k: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int],
                 op: str) -> tuple[int, int]:
    if min(stride) < 1 or min(k) < 1 or min(padding) < 0:
        raise InputError(f"{op}: kernel {k} and stride {stride} must be positive, padding {padding} >= 0")
    oh = (hw[0] + 2 * padding[0] - k[0]) // stride[0] + 1
    ow = (hw[1] + 2 * padding[1] - k[1]) // stride[1] + 1
    if oh < 1 or ow < 1:
        raise InputError(f"{op}: kernel {k} does not fit the padded input {hw} with padding {padding}")
    return oh, ow


def im2col(x: np.ndarray, k: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int]) -> np.ndarray:
    """(N, C, H, W) -> (C*kh*kw, N*OH*OW): column j holds the window of output position j."""
    n, c, _, _ = x.shape
    if padding != (0, 0):
        x = np.pad(x, ((0, 0), (0, 0), (padding[0], padding[0]), (padding[1], padding[1])))
    win = np.lib.stride_tricks.sliding_window_view(x, k, axis=(2, 3))[:, :, :: stride[0], :: stride[1]]
    oh, ow = win.shape[2], win.shape[3]
    # (N, C, OH, OW, kh, kw) -> (C, kh, kw, N, OH, OW)
    cols = win.transpose(1, 4, 5, 0, 2, 3).reshape(c * k[0] * k[1], n * oh * ow)
    return np.ascontiguousarray(cols)
