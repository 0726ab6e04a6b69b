"""Linear and Conv2d: the layers with weight matrices.

Linear (torch.nn.Linear, weight (out, in)): y = x W^T + b.
- forward: one matrix product (1 round, plus 1 round to truncate a pending operand: in training
  x and W are truncated together first, in one round);
- backward: dW = g^T x and, unless x is the model's input, dx = g W (1 round each, after one
  truncation round of g when it is pending); db = sum of g over the batch (local).

Conv2d (torch.nn.Conv2d: stride, zero padding, groups = 1, dilation = 1): cross-correlation as
W (O, C*kh*kw) @ cols (C*kh*kw, N*OH*OW), cols the input's windows (local,
:func:`mpc.nn.layers.windows.windows`).
- forward: inference uses ``SecretTensor.conv2d`` (one product); training builds cols itself
  and keeps them for the backward (one product);
- backward: dW = g_mat cols^T (1 round), dcols = W^T g_mat (1 round, skipped for the model's
  input) summed back into dx by :func:`~mpc.nn.layers.windows.col2im` (local).
Communication of the secret x secret product is that of the opened operands: W and the windows
(kh*kw times the input) forward, g and the windows again for dW.

Per-example gradients (DP-SGD, :mod:`mpc.nn.per_example`): ``per_example_sq_norms`` (Linear on
2-d input: ||g_i||^2 (||x_i||^2 + 1), 2 rounds, no per-example weight gradient formed; Conv2d and
Linear on N-d input: the per-example weight gradients as one stack of products, squared) and
``param_grads`` on any output gradient (the clipped sum is the weight gradient of the rows
c_i g_i); ``backward_inputs`` gives dx alone.

In inference mode a BatchNorm that reads only this layer's output is folded into it (W' = W s,
b' = b s + t with s = gamma / sqrt(var + eps), t = beta - mean s; see
:mod:`mpc.nn.layers.norm`), so it costs nothing.
"""

from __future__ import annotations

from typing import Any

from mpc.errors import ConfigError
from mpc.nn.layers.base import Ctx, Layer, State, truncate_all
from mpc.nn.layers.windows import Window, col2im, windows
from mpc.tensor.secret_tensor import SecretTensor

__all__ = ["Linear", "Conv2d"]


class _Weighted(Layer):
    fold: Any = None  # the BatchNorm folded into this layer in inference mode

    def weights(self, state: State, x: SecretTensor) -> tuple[SecretTensor, SecretTensor | None]:
        """This layer's weight and bias; in inference, with the BatchNorm after it folded in (when
        the channels are on axis 1 of the output: always for Conv2d, for a Linear on 2-d input)."""
        if not state.training and self.fold is not None and (x.ndim == 2 or isinstance(self, Conv2d)):
            state.extras.setdefault("folded", set()).add(id(self.fold))
            return self.fold.folded_producer(self)
        return self.p("weight"), self.p("bias")

    def backward(self, ctx: Ctx, g: SecretTensor, needs: list[bool]):
        """The input gradient and the parameter gradients (split so DP-SGD's per-example
        backward can call ``param_grads`` on its own)."""
        (g,) = truncate_all(g)
        return self.backward_inputs(ctx, g, needs), self.param_grads(ctx, g)


class Linear(_Weighted):
    kind = "Linear"

    def __init__(self, name: str, module, slots: tuple[str, str] | None = None) -> None:
        """``module``: a torch Linear, or anything with its four attributes; ``slots``: the
        state_dict keys of the weight and the bias when they are not name.weight, name.bias."""
        super().__init__(name)
        self.in_features, self.out_features = int(module.in_features), int(module.out_features)
        self.add_weight_bias(module, slots)

    def config(self) -> str:
        return f"in={self.in_features},out={self.out_features},bias={'bias' in self.params}"

    def forward(self, ctx: Ctx, args: tuple, state: State) -> SecretTensor:
        (x,) = args
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"{self.name} (Linear): input of shape {x.shape}, expected (..., {self.in_features})")
        w, b = self.weights(state, x)
        if state.training:
            x, w = truncate_all(x, w)
            ctx.x, ctx.w = x, w
        y = x @ w.T
        return y + b if b is not None else y

    def backward_inputs(self, ctx: Ctx, g: SecretTensor, needs: list[bool]) -> list:
        """[dx] only (None for the model's input)."""
        if not needs[0]:
            return [None]
        (g,) = truncate_all(g)
        return [g @ ctx.w]

    def param_grads(self, ctx: Ctx, g: SecretTensor) -> list:
        """[(weight, g^T x), (bias, sum of g)] for the output gradient g (any g: DP-SGD passes
        per-example weighted ones, :mod:`mpc.nn.per_example`). 1 round (+1 truncation of g)."""
        (g,) = truncate_all(g)
        g2 = g.reshape(-1, self.out_features)
        grads = [(self.params["weight"], g2.T @ ctx.x.reshape(-1, self.in_features))]
        if "bias" in self.params:
            grads.append((self.params["bias"], g2.sum(axis=0)))
        return grads

    def per_example_sq_norms(self, ctx: Ctx, g: SecretTensor) -> SecretTensor:
        """||dW_i||^2 + ||db_i||^2 for every example i (axis 0), shape (N,).

        2-d input: dW_i = g_i x_i^T is an outer product, so ||dW_i||^2 = ||g_i||^2 ||x_i||^2
        (Goodfellow, "Efficient per-example gradient computations", 2015), computed as
        sum_j g_ij (g_ij X_i) with X_i = ||x_i||^2 (+ 1 with a bias): 4 rounds with g's
        truncation, nothing of size N x out x in formed. The order is for precision: ||g_i||^2
        truncated to 2^-f before the product with X_i would carry up to X_i units of 2^-f into
        the norm (1.3% of it for a gradient of 0.02 and X = 65, a clip factor off by 3e-3);
        each g_ij X_i truncated costs one unit, and the sum is truncated once.
        Otherwise (N, ..., in): dW_i = g_i^T x_i as a stack of matrix products (1 round),
        squared and summed (1 round)."""
        (g,) = truncate_all(g)
        n = g.shape[0]
        bias = "bias" in self.params
        if ctx.x.ndim == 2:
            xx = ctx.x.square().sum(axis=1)
            big = (xx + 1.0 if bias else xx).reshape(n, 1)
            return (g * (g * big)).sum(axis=1)
        g3 = g.reshape(n, -1, self.out_features)
        dw = g3.transpose(0, 2, 1) @ ctx.x.reshape(n, -1, self.in_features)
        out = dw.square().sum(axis=(1, 2))
        return out + g3.sum(axis=1).square().sum(axis=1) if bias else out


class Conv2d(_Weighted):
    kind = "Conv2d"

    def __init__(self, name: str, module) -> None:
        super().__init__(name)
        where = f"layer {name!r} (torch.nn.Conv2d)"
        if module.groups != 1:
            raise ConfigError(f"{where}: groups={module.groups} is not supported (only groups=1)")
        if tuple(module.dilation) != (1, 1):
            raise ConfigError(f"{where}: dilation={tuple(module.dilation)} is not supported (only 1)")
        if isinstance(module.padding, str):
            raise ConfigError(f"{where}: padding={module.padding!r} is not supported (give the padding as numbers)")
        if module.padding_mode != "zeros":
            raise ConfigError(f"{where}: padding_mode={module.padding_mode!r} is not supported (only 'zeros')")
        self.in_channels, self.out_channels = int(module.in_channels), int(module.out_channels)
        self.win = Window(tuple(module.kernel_size), tuple(module.stride), tuple(module.padding), f"{name} (Conv2d)")
        self.add_weight_bias(module)

    def config(self) -> str:
        return f"{self.in_channels}->{self.out_channels},{self.win},bias={'bias' in self.params}"

    def forward(self, ctx: Ctx, args: tuple, state: State) -> SecretTensor:
        (x,) = args
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"{self.name} (Conv2d): input of shape {x.shape}, expected (N, {self.in_channels}, H, W)")
        w, b = self.weights(state, x)
        if not state.training:
            y = x.conv2d(w, self.win.s, self.win.p)
        else:
            x, w = truncate_all(x, w)
            n = x.shape[0]
            wins = windows(x, self.win)  # (kh*kw, N, C, OH, OW)
            _, _, c, oh, ow = wins.shape
            cols = wins.transpose(2, 0, 1, 3, 4).reshape(c * wins.shape[0], n * oh * ow)
            ctx.cols, ctx.w, ctx.shape, ctx.out = cols, w, x.shape, (n, oh, ow)
            y = (w.reshape(self.out_channels, -1) @ cols).reshape(self.out_channels, n, oh, ow).transpose(1, 0, 2, 3)
        return y + b.reshape(1, -1, 1, 1) if b is not None else y

    def backward_inputs(self, ctx: Ctx, g: SecretTensor, needs: list[bool]) -> list:
        """[dx] only (None for the model's input): W^T g_mat summed back by col2im."""
        if not needs[0]:
            return [None]
        (g,) = truncate_all(g)
        n, oh, ow = ctx.out
        o = self.out_channels
        gm = g.transpose(1, 0, 2, 3).reshape(o, n * oh * ow)
        kk = self.win.k[0] * self.win.k[1]
        dcols = ctx.w.reshape(o, -1).T @ gm  # (C*kh*kw, N*OH*OW)
        dwin = dcols.reshape(self.in_channels, kk, n, oh, ow).transpose(1, 2, 0, 3, 4)
        return [col2im(dwin, ctx.shape, self.win)]

    def param_grads(self, ctx: Ctx, g: SecretTensor) -> list:
        """[(weight, g_mat cols^T), (bias, db)] for the output gradient g (1 round, +1 truncation
        of g; any g: DP-SGD passes per-example weighted ones)."""
        (g,) = truncate_all(g)
        n, oh, ow = ctx.out
        gm = g.transpose(1, 0, 2, 3).reshape(self.out_channels, n * oh * ow)
        grads = [(self.params["weight"], (gm @ ctx.cols.T).reshape(ctx.w.shape))]
        if "bias" in self.params:
            grads.append((self.params["bias"], g.sum(axis=(0, 2, 3))))
        return grads

    def per_example_sq_norms(self, ctx: Ctx, g: SecretTensor) -> SecretTensor:
        """||dW_i||^2 + ||db_i||^2 per example, shape (N,): dW_i = g_i (O, OH*OW) @ cols_i^T as a
        stack of N matrix products (1 round), squared and summed (1 round). Materialises N x O x
        C*kh*kw values (the weight's size per example)."""
        (g,) = truncate_all(g)
        n, oh, ow = ctx.out
        g3 = g.reshape(n, self.out_channels, oh * ow)
        cols = ctx.cols.reshape(ctx.cols.shape[0], n, oh * ow).transpose(1, 2, 0)  # (N, OH*OW, C*kh*kw)
        out = (g3 @ cols).square().sum(axis=(1, 2))
        return out + g3.sum(axis=2).square().sum(axis=1) if "bias" in self.params else out
