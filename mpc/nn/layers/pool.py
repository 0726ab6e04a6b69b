"""Pooling: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d (modules and functional forms).

MaxPool2d(k, stride, padding): the kh*kw windows (:func:`mpc.nn.layers.windows.windows`, padding
with -2^24, below any activation), then
- inference: ``max`` over the window axis (a tree of comparisons, ceil(log2(kh kw)) levels of
  8 rounds; 2x2: 16 rounds);
- training: the same tree, carrying for each candidate the one-hot mask of the window position it
  came from (ties keep the first position, as torch's kernel does): per level one comparison (8
  rounds) and one product round for the values and masks together (the first level's masks are
  public: local). 2x2: 18 rounds. The backward routes g through the mask (1 round) and
  :func:`~mpc.nn.layers.windows.col2im` (local). (A max that also returned its one-hot argmax
  would save the mask products.)
AvgPool2d(k, stride, padding) (count_include_pad=True, torch's default): ``avg_pool2d`` (local
sums and one division round); backward: g / (kh kw) spread over each window (col2im, local;
one product by a public constant).
AdaptiveAvgPool2d(out): an AvgPool2d when the output divides the input, otherwise a product with
the public (H W, OH OW) averaging matrix of torch's windows (local, both ways).
Not supported (ConfigError): ceil_mode, dilation, return_indices, count_include_pad=False with
padding, divisor_override.
"""

from __future__ import annotations

import numpy as np

from mpc.errors import ConfigError
from mpc.nn.layers.base import Ctx, Layer, State
from mpc.nn.layers.windows import Window, col2im, windows
from mpc.tensor.functions import concatenate, stack
from mpc.tensor.secret_tensor import SecretTensor

__all__ = ["MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "MAXPOOL_PAD"]

MAXPOOL_PAD = -float(2**24)


def _unsupported(name: str, kind: str, what: str) -> ConfigError:
    return ConfigError(f"layer {name!r} (torch.nn.{kind}): {what} is not supported")


def _check4(layer: Layer, x: SecretTensor) -> None:
    if x.ndim != 4:
        raise ValueError(f"{layer.name} ({layer.kind}): expected input of shape (N, C, H, W), got {x.shape}")


def max_with_mask(v: SecretTensor) -> tuple[SecretTensor, SecretTensor]:
    """(max over axis 0, one-hot mask (k, ...) of its first position) by a comparison tree."""
    k = v.shape[0]
    rest = v.shape[1:]
    ones = (1,) * len(rest)
    # masks[c] is the one-hot (over the k positions) of candidate c; public at first
    masks: SecretTensor | np.ndarray = np.eye(k).reshape((k, k) + ones)
    while v.shape[0] > 1:
        m = v.shape[0]
        a, b = v[0 : m - 1 : 2], v[1:m:2]
        ma, mb = masks[0 : m - 1 : 2], masks[1:m:2]
        bit = b > a  # take b only when strictly greater: ties keep the first position
        dv, dm = b - a, mb - ma
        if isinstance(dm, np.ndarray):
            nv = a + bit * dv
            nm = bit.reshape((m // 2, 1) + rest) * dm + ma  # public masks: local
        else:
            both = bit.reshape((m // 2, 1) + rest) * concatenate([dv.reshape((m // 2, 1) + rest), dm], axis=1)
            nv, nm = a + both[:, 0], ma + both[:, 1:]
        if m % 2:
            nv = concatenate([nv, v[m - 1 : m]])
            last = masks[m - 1 : m]
            if isinstance(last, np.ndarray):
                last = nm[:1] * 0 + np.broadcast_to(last, (1, k) + rest)
            nm = concatenate([nm, last])
        v, masks = nv, nm
    if isinstance(masks, np.ndarray):  # k == 1
        masks = v * 0 + masks
    return v[0], masks[0]


class MaxPool2d(Layer):
    kind = "MaxPool2d"

    def __init__(self, name: str, kernel_size, stride, padding, dilation=1, ceil_mode=False,
                 return_indices=False) -> None:
        super().__init__(name)
        if dilation not in (1, (1, 1)):
            raise _unsupported(name, self.kind, f"dilation={dilation}")
        if ceil_mode:
            raise _unsupported(name, self.kind, "ceil_mode=True")
        if return_indices:
            raise _unsupported(name, self.kind, "return_indices=True")
        self.win = Window(kernel_size, stride, padding, f"{name} (MaxPool2d)")

    def config(self) -> str:
        return repr(self.win)

    def forward(self, ctx: Ctx, args: tuple, state: State) -> SecretTensor:
        (x,) = args
        _check4(self, x)
        wins = windows(x, self.win, MAXPOOL_PAD)
        if not state.training:
            return wins.max(axis=0)
        y, mask = max_with_mask(wins)
        ctx.mask, ctx.shape = mask, x.shape
        return y

    def backward(self, ctx: Ctx, g: SecretTensor, needs: list[bool]):
        if not needs[0]:
            return [None], []
        return [col2im(ctx.mask * g, ctx.shape, self.win)], []


class AvgPool2d(Layer):
    kind = "AvgPool2d"

    def __init__(self, name: str, kernel_size, stride, padding, ceil_mode=False, count_include_pad=True,
                 divisor_override=None) -> None:
        super().__init__(name)
        if ceil_mode:
            raise _unsupported(name, self.kind, "ceil_mode=True")
        if divisor_override is not None:
            raise _unsupported(name, self.kind, f"divisor_override={divisor_override}")
        self.win = Window(kernel_size, stride, padding, f"{name} (AvgPool2d)")
        if not count_include_pad and self.win.p != (0, 0):
            raise _unsupported(name, self.kind, "count_include_pad=False with padding")

    def config(self) -> str:
        return repr(self.win)

    def forward(self, ctx: Ctx, args: tuple, state: State) -> SecretTensor:
        (x,) = args
        _check4(self, x)
        ctx.shape = x.shape
        return x.avg_pool2d(self.win.k, self.win.s, self.win.p)

    def backward(self, ctx: Ctx, g: SecretTensor, needs: list[bool]):
        if not needs[0]:
            return [None], []
        kk = self.win.k[0] * self.win.k[1]
        share = g * (1.0 / kk)
        return [col2im(stack([share] * kk), ctx.shape, self.win)], []


def adaptive_matrix(h: int, w: int, oh: int, ow: int) -> np.ndarray:
    """(H W, OH OW): column (i, j) averages torch's adaptive window of output cell (i, j)."""
    a = np.zeros((h * w, oh * ow))
    for i in range(oh):
        r0, r1 = (i * h) // oh, -((-(i + 1) * h) // oh)
        for j in range(ow):
            c0, c1 = (j * w) // ow, -((-(j + 1) * w) // ow)
            rows = [r * w + c for r in range(r0, r1) for c in range(c0, c1)]
            a[rows, i * ow + j] = 1.0 / len(rows)
    return a


class AdaptiveAvgPool2d(Layer):
    kind = "AdaptiveAvgPool2d"

    def __init__(self, name: str, output_size) -> None:
        super().__init__(name)
        size = (output_size, output_size) if isinstance(output_size, int) or output_size is None else tuple(output_size)
        if len(size) != 2:
            raise _unsupported(name, self.kind, f"output_size={output_size!r}")
        self.size = size

    def config(self) -> str:
        return f"out={self.size}"

    def _plan(self, x: SecretTensor):
        _check4(self, x)
        h, w = x.shape[2], x.shape[3]
        oh = h if self.size[0] is None else int(self.size[0])
        ow = w if self.size[1] is None else int(self.size[1])
        if h % oh == 0 and w % ow == 0:
            return AvgPool2d(self.name, (h // oh, w // ow), (h // oh, w // ow), 0), (oh, ow)
        return None, (oh, ow)

    def forward(self, ctx: Ctx, args: tuple, state: State) -> SecretTensor:
        (x,) = args
        pool, (oh, ow) = self._plan(x)
        ctx.shape, ctx.pool = x.shape, pool
        if pool is not None:
            return pool.forward(ctx, args, state)
        n, c, h, w = x.shape
        ctx.a = adaptive_matrix(h, w, oh, ow)
        return (x.reshape(n * c, h * w) @ ctx.a).reshape(n, c, oh, ow)

    def backward(self, ctx: Ctx, g: SecretTensor, needs: list[bool]):
        if not needs[0]:
            return [None], []
        if ctx.pool is not None:
            return ctx.pool.backward(ctx, g, needs)
        n, c, h, w = ctx.shape
        return [(g.reshape(n * c, -1) @ ctx.a.T).reshape(n, c, h, w)], []
