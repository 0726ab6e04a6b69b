"""Layers that only move values: Flatten, view/reshape, transpose/permute, Identity, Dropout,
residual additions, ``torch.cat``, sums and means over dimensions, basic indexing (``x[:, 0]``,
``h[..., :d]``), and the public shape queries of traced graphs (``x.size(0)``, ``x.shape[1]``).

All are local (no communication) except where noted:
- Dropout(p): identity in inference. In training, a *public* mask, drawn from the PRG the
  parties agreed on for this model (:func:`mpc.nn.agree.agree_seed`): y = x m / (1 - p) and the
  backward g m / (1 - p) (public products, local). The mask depends on nothing secret, so making
  it public reveals nothing about the data or the weights; torch's own random stream cannot be
  reproduced, so a network with dropout does not follow a torch run step for step.
- Add: a + b with broadcasting (a residual connection); the backward sums g over broadcast axes.
- Cat: ``mpc.concatenate``; the backward slices g.
- Public: a value every party computes alike in the clear: a buffer read in ``forward``
  (``self.mask``, hashed into the architecture check so that the parties' copies must agree)
  and whatever the allowed torch functions make from such values and from shapes
  (``torch.ones(t, t).tril()``, ``mask[:t, :t] == 0``); never on the tape, never secret.
- MaskedFill: ``x.masked_fill(mask, value)`` for a public mask: x (1 - m) + v m, local; a value
  of -inf (a causal mask before a softmax) becomes -2^20, which a softmax's exp takes to 0; the
  backward g (1 - m).
- Index: ``x[key]`` for basic keys (integers, slices, ``...``, ``None``); the backward writes g
  into zeros of x's shape at the key (local).
- Reduce: ``x.sum(dim, keepdim)`` / ``x.mean(dim, keepdim)`` (and ``torch.sum``/``torch.mean``):
  local sums, a mean's division one round; the backward spreads g back over the reduced
  dimensions (a mean's divided by their size: local, or one division round when g's truncation
  is pending).
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from mpc.errors import ConfigError
from mpc.nn.layers.base import Ctx, Layer, State
from mpc.nn.scaling import zeros
from mpc.nn.tape import reduce_to
from mpc.tensor.functions import concatenate
from mpc.tensor.secret_tensor import SecretTensor

__all__ = ["Identity", "Flatten", "Reshape", "Permute", "Dropout", "Add", "Cat", "Index", "MaskedFill", "Public", "Reduce",
           "ShapeOf"]


class Identity(Layer):
    kind = "Identity"

    def forward(self, ctx: Ctx, args: tuple, state: State) -> SecretTensor:
        return args[0]

    def backward(self, ctx: Ctx, g: SecretTensor, needs: list[bool]):
        return [g], []


class Flatten(Layer):
    kind = "Flatten"

    def __init__(self, name: str, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__(name)
        self.start, self.end = int(start_dim), int(end_dim)

    def config(self) -> str:
        return f"{self.start},{self.end}"

    def forward(self, ctx: Ctx, args: tuple, state: State) -> SecretTensor:
        (x,) = args
        ctx.shape = x.shape
        if x.ndim == 0:
            return x.reshape(1)
        s, e = self.start % x.ndim, self.end % x.ndim
        if s > e:
            raise ValueError(f"{self.name} (Flatten): start_dim {self.start} is after end_dim {self.end} for shape {x.shape}")
        return x.reshape(x.shape[:s] + (-1,) + x.shape[e + 1 :])

    def backward(self, ctx: Ctx, g: SecretTensor, needs: list[bool]):
        return [g.reshape(ctx.shape)], []


class Reshape(Layer):
    """``x.view(*shape)`` / ``x.reshape(*shape)`` / ``torch.reshape(x, shape)``: the sizes may
    come from the graph (``x.size(0)``), so they are arguments, not configuration."""

    kind = "Reshape"

    def forward(self, ctx: Ctx, args: tuple, state: State) -> SecretTensor:
        x, *sizes = args
        if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
            sizes = list(sizes[0])
        shape = tuple(int(s) for s in sizes)
        ctx.shape = x.shape
        return x.reshape(shape)

    def backward(self, ctx: Ctx, g: SecretTensor, needs: list[bool]):
        return [g.reshape(ctx.shape)], []


def _dims(layer: Layer, what: str, dims: Any, x: SecretTensor) -> list[int]:
    """torch's dimension arguments (ints, negative from the end; or one tuple/list of them) as
    axes 0 .. x.ndim - 1, in the order given; ValueError naming the layer otherwise."""
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = dims[0]
    try:
        return [int(d) % x.ndim for d in dims]
    except (TypeError, ValueError, ZeroDivisionError):  # a 0-d x has no dimension to name
        raise ValueError(f"{layer.name} ({what}): bad dimensions {dims!r} for shape {x.shape}") from None


class Permute(Layer):
    """``x.transpose(d0, d1)`` / ``torch.transpose`` (``swap``: the two axes) and ``x.permute(*dims)``
    / ``torch.permute`` (the order of all axes); the backward applies the inverse order."""

    kind = "Permute"

    def __init__(self, name: str, swap: bool) -> None:
        super().__init__(name)
        self.swap = bool(swap)

    def config(self) -> str:
        return "swap" if self.swap else "order"

    def forward(self, ctx: Ctx, args: tuple, state: State) -> SecretTensor:
        x, *dims = args
        dims = _dims(self, "transpose" if self.swap else "permute", dims, x) if x.ndim else []
        if self.swap:
            if len(dims) != 2:
                raise ValueError(f"{self.name} (transpose): expected two dimensions, got {len(dims)}")
            order = list(range(x.ndim))
            order[dims[0]], order[dims[1]] = order[dims[1]], order[dims[0]]
        else:
            order = dims
        if sorted(order) != list(range(x.ndim)):
            raise ValueError(f"{self.name} (permute): {order} is not an order of the {x.ndim} axes of {x.shape}")
        ctx.inverse = [order.index(i) for i in range(x.ndim)]
        return x.transpose(order)

    def backward(self, ctx: Ctx, g: SecretTensor, needs: list[bool]):
        return [g.transpose(ctx.inverse)], []


class Dropout(Layer):
    kind = "Dropout"

    def __init__(self, name: str, p: float) -> None:
        super().__init__(name)
        self.rate = float(p)
        if not 0.0 <= self.rate < 1.0:
            raise ConfigError(f"layer {name!r} (torch.nn.Dropout): p={p} is not supported (0 <= p < 1)")

    def config(self) -> str:
        return f"p={self.rate!r}"

    def forward(self, ctx: Ctx, args: tuple, state: State) -> SecretTensor:
        (x,) = args
        if not state.training or self.rate == 0.0:
            ctx.factor = None
            return x
        prg = state.model.public_prg()
        keep = prg.uint64(x.shape) >= np.uint64(int(self.rate * 2.0**64) if self.rate > 0 else 0)
        ctx.factor = keep.astype(np.float64) / (1.0 - self.rate)
        return x * ctx.factor

    def backward(self, ctx: Ctx, g: SecretTensor, needs: list[bool]):
        return [g if ctx.factor is None else g * ctx.factor], []


class Add(Layer):
    """a + b (either may be a public number); a residual connection when both are tensors."""

    kind = "Add"

    def forward(self, ctx: Ctx, args: tuple, state: State) -> SecretTensor:
        a, b = args
        ctx.shapes = [t.shape for t in args if isinstance(t, SecretTensor)]
        if not isinstance(a, SecretTensor):
            a, b = b, a
        return a + b

    def backward(self, ctx: Ctx, g: SecretTensor, needs: list[bool]):
        return [reduce_to(g, s) if need else None for s, need in zip(ctx.shapes, needs, strict=True)], []


class Cat(Layer):
    kind = "Cat"

    def forward(self, ctx: Ctx, args: tuple, state: State) -> SecretTensor:
        tensors, dim = args[0], (args[1] if len(args) > 1 else 0)
        if not tensors or not all(isinstance(t, SecretTensor) for t in tensors):
            raise ValueError(f"{self.name} (torch.cat): expected a list of secret tensors")
        nd = tensors[0].ndim
        ax = int(dim) % nd
        ctx.axis, ctx.sizes = ax, [t.shape[ax] for t in tensors]
        return concatenate(list(tensors), axis=ax)

    def backward(self, ctx: Ctx, g: SecretTensor, needs: list[bool]):
        out, start = [], 0
        for size, need in zip(ctx.sizes, needs, strict=True):
            key = (slice(None),) * ctx.axis + (slice(start, start + size),)
            out.append(g[key] if need else None)
            start += size
        return out, []


class Public(Layer):
    """A public value: ``value`` itself (a buffer's, as a NumPy array) or ``fn`` applied to the
    node's arguments (public values and shapes; torch tensors in, NumPy arrays out)."""

    kind = "Public"
    differentiable = False

    def __init__(self, name: str, what: str, fn=None, value=None) -> None:
        super().__init__(name)
        self.what, self.fn, self.value = what, fn, value

    def config(self) -> str:
        return self.what  # a buffer's: its name and the hash of its value

    def forward(self, ctx: Ctx, args: tuple, state: State) -> Any:
        if self.fn is None:
            return self.value
        import torch

        def to_torch(a):
            if isinstance(a, SecretTensor):
                raise ValueError(f"{self.name} ({self.what}): a secret activation cannot enter a public computation")
            if isinstance(a, np.ndarray):
                return torch.from_numpy(a)
            if isinstance(a, (list, tuple)):
                return type(a)(to_torch(b) for b in a)
            return a

        args, kwargs = args  # the call's positional arguments and its (key, value) pairs
        out = self.fn(*to_torch(args), **{k: to_torch(v) for k, v in kwargs})
        return out.numpy() if isinstance(out, torch.Tensor) else out


FILL_FLOOR = -(2.0**20)  # what masked_fill writes for -inf (and for anything below it; +inf: -FILL_FLOOR)


class MaskedFill(Layer):
    kind = "MaskedFill"

    def forward(self, ctx: Ctx, args: tuple, state: State) -> SecretTensor:
        x, mask, value = args
        if not isinstance(x, SecretTensor) or isinstance(mask, SecretTensor):
            raise ValueError(f"{self.name} (masked_fill): expected an activation and a public mask")
        m = np.asarray(mask)
        if m.dtype != np.bool_ and not np.all((m == 0) | (m == 1)):
            raise ValueError(f"{self.name} (masked_fill): the mask must be boolean")
        v = float(value)
        if np.isnan(v):
            raise ValueError(f"{self.name} (masked_fill): the fill value is NaN")
        keep = (~m.astype(bool)).astype(np.int64)
        ctx.keep = keep
        return x * keep + np.where(keep == 0, min(max(v, FILL_FLOOR), -FILL_FLOOR), 0.0)

    def backward(self, ctx: Ctx, g: SecretTensor, needs: list[bool]):
        return [g * ctx.keep], []


class Index(Layer):
    """``x[key]`` with a basic key: integers, slices, ``...`` and ``None`` (no arrays: a gather's
    backward would have to add up repeated positions)."""

    kind = "Index"

    def forward(self, ctx: Ctx, args: tuple, state: State) -> SecretTensor:
        x, key = args
        parts = key if isinstance(key, tuple) else (key,)
        if not all(p is None or p is Ellipsis or isinstance(p, (int, slice)) for p in parts):
            raise ValueError(f"{self.name} (indexing): only integers, slices, ... and None index an activation, "
                             f"got {key!r}")
        ctx.shape, ctx.key = x.shape, key
        return x[key]

    def backward(self, ctx: Ctx, g: SecretTensor, needs: list[bool]):
        if not g.size:
            raise ValueError(f"{self.name} (indexing): an empty selection has no gradient to spread")
        out = zeros(g, ctx.shape)
        out[ctx.key] = g
        return [out], []


class Reduce(Layer):
    """Sum or mean over ``dim`` (an int, a tuple, or None for all), keeping the dimensions or not."""

    kind = "Reduce"

    def __init__(self, name: str, mean: bool) -> None:
        super().__init__(name)
        self.mean = bool(mean)

    def config(self) -> str:
        return "mean" if self.mean else "sum"

    def forward(self, ctx: Ctx, args: tuple, state: State) -> SecretTensor:
        x, dim, keepdim = args
        axes = tuple(range(x.ndim)) if dim is None else tuple(sorted(set(_dims(self, self.config(), (dim,), x))))
        ctx.shape, ctx.axes, ctx.count = x.shape, axes, math.prod(x.shape[a] for a in axes)
        return x.mean(axis=axes, keepdims=bool(keepdim)) if self.mean else x.sum(axis=axes, keepdims=bool(keepdim))

    def backward(self, ctx: Ctx, g: SecretTensor, needs: list[bool]):
        kept = tuple(1 if i in ctx.axes else d for i, d in enumerate(ctx.shape))
        spread = g.reshape(kept) + zeros(g, ctx.shape)  # broadcast back (local)
        return [spread / ctx.count if self.mean and ctx.count > 1 else spread], []


class ShapeOf(Layer):
    """Public shape queries in traced graphs: ``x.size()``, ``x.size(d)``, ``x.shape``, and
    ``operator.getitem`` on their results. Produce Python values; never on the tape."""

    kind = "Shape"
    differentiable = False

    def __init__(self, name: str, what: str) -> None:
        super().__init__(name)
        self.what = what

    def config(self) -> str:
        return self.what

    def forward(self, ctx: Ctx, args: tuple, state: State) -> Any:
        if self.what == "size":
            x, *dim = args
            return tuple(x.shape) if not dim else x.shape[int(dim[0])]
        if self.what == "shape":
            return tuple(args[0].shape)
        if self.what == "getitem":
            seq, key = args
            if isinstance(seq, SecretTensor):
                raise ValueError(f"{self.name}: indexing a tensor is not supported by mpc.nn")
            return operator.getitem(seq, key)
        raise ValueError(f"unknown shape query {self.what!r}")
