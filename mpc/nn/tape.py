"""Reverse-mode differentiation over SecretTensors: parameters, the tape, and Variables.

The tensor layer knows nothing of gradients. A model in training mode runs its graph and, for
every layer it applies, records on a :class:`Tape` the layer, what the layer saved for its
backward (its *context*), which values it read and which it wrote. ``loss.backward()`` (or
:meth:`Variable.backward`) walks the tape in reverse, calls each layer's ``backward`` with the
gradient of its output, sums the gradients of values read by several layers, and accumulates
parameter gradients into :attr:`Parameter.grad`.

Gradient scale (see docs/nn.md). A loss that averages over M elements (the batch, as torch's
losses do) hands the tape M times its gradient, that is the gradient of the *summed* loss, and
every parameter records that M in :attr:`Parameter.grad_scale`; the optimisers divide by it
(with the learning rate, in one precise public scaling). The gradient of a mean over a batch of
64 is 64 times smaller than that of the sum: at 16 fractional bits a per-sample gradient of 1e-4
would keep 2 significant bits after the division, and the product lr * g would lose the rest.
``p.grad / p.grad_scale`` is torch's ``p.grad``.

Only values that depend on a parameter carry gradients: the layer that reads the model's input
is never asked for the input's gradient (the first Linear's ``g @ W``, the first convolution's
col2im are skipped).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mpc.errors import ConfigError, ShareTypeError
from mpc.tensor.secret_tensor import SecretTensor

__all__ = ["Slot", "Parameter", "Tape", "Variable", "reduce_to"]


class Slot:
    """A named secret tensor of a model (a parameter or a buffer such as a running mean).

    ``version`` grows whenever :attr:`data` is replaced, so that derived values (BatchNorm folded
    into the layer before it) know when to recompute."""

    __slots__ = ("name", "_data", "version")

    def __init__(self, name: str, data: SecretTensor | None) -> None:
        self.name = name
        self._data = data
        self.version = 0

    @property
    def data(self) -> SecretTensor:
        if self._data is None:
            raise ConfigError(f"{self.name}: not shared yet")
        return self._data

    @data.setter
    def data(self, value: SecretTensor) -> None:
        if not isinstance(value, SecretTensor):
            raise ShareTypeError(f"{self.name}: expected a SecretTensor, got {type(value).__name__}")
        if self._data is not None and value.shape != self._data.shape:
            raise ValueError(f"{self.name}: shape {value.shape} does not match {self._data.shape}")
        self._data = value
        self.version += 1

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    def __repr__(self) -> str:
        shape = self._data.shape if self._data is not None else "?"
        return f"{type(self).__name__}({self.name!r}, shape={shape})"


class Parameter(Slot):
    """A trainable slot. ``grad`` is the gradient of the summed loss, ``grad_scale`` the number of
    elements the loss averaged over (torch's gradient is ``grad / grad_scale``)."""

    __slots__ = ("grad", "grad_scale")

    def __init__(self, name: str, data: SecretTensor | None) -> None:
        super().__init__(name, data)
        self.grad: SecretTensor | None = None
        self.grad_scale: int = 1

    def accumulate(self, g: SecretTensor, scale: int) -> None:
        if g.shape != self.shape:
            raise ValueError(f"{self.name}: gradient of shape {g.shape} for a parameter of shape {self.shape}")
        if self.grad is None:
            self.grad, self.grad_scale = g, int(scale)
        elif int(scale) == self.grad_scale:
            self.grad = self.grad + g
        else:
            raise ConfigError(f"{self.name}: gradients of losses averaged over {self.grad_scale} and {scale} "
                              "elements cannot be accumulated; call zero_grad() between them")


def reduce_to(g: SecretTensor, shape: tuple[int, ...]) -> SecretTensor:
    """Sum g over the axes along which a tensor of ``shape`` was broadcast to g's shape (local)."""
    shape = tuple(shape)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, d in enumerate(shape) if d == 1 and g.shape[lead + i] != 1)
    out = g.sum(axis=axes, keepdims=True) if axes else g
    return out.reshape(shape)


class _Entry:
    __slots__ = ("layer", "ctx", "inputs", "output")

    def __init__(self, layer: Any, ctx: Any, inputs: list[int | None], output: int) -> None:
        self.layer, self.ctx, self.inputs, self.output = layer, ctx, inputs, output


class Tape:
    """The record of one training-mode forward pass (see the module docstring)."""

    def __init__(self) -> None:
        self.entries: list[_Entry] = []
        self.requires: list[bool] = []
        self.used = False
        self.leftover: dict[int, SecretTensor] = {}  # after backward: the gradients of the inputs
        self.per_example: list[tuple[Any, Any, SecretTensor]] = []  # (layer, ctx, output gradient)

    def value(self, requires_grad: bool) -> int:
        """A new value id."""
        self.requires.append(bool(requires_grad))
        return len(self.requires) - 1

    def record(self, layer: Any, ctx: Any, inputs: Sequence[int | None], output: int) -> None:
        self.entries.append(_Entry(layer, ctx, list(inputs), output))

    def check_per_example(self) -> None:
        """ConfigError unless every layer with parameters has per-example gradients (local)."""
        for e in self.entries:
            if e.layer.params and not hasattr(e.layer, "per_example_sq_norms"):
                raise ConfigError(f"per-example gradients: layer {e.layer.name!r} ({e.layer.kind}) mixes the "
                                  "examples of a batch or has no per-example rule (supported: Linear, Conv2d)")

    def backward(self, output: int, grad: SecretTensor, scale: int, per_example: bool = False) -> None:
        """Propagate ``grad`` (scale x d loss / d output) back through the tape; see the module.

        ``per_example=True`` (DP-SGD, :mod:`mpc.nn.per_example`): layers with parameters give
        only their input gradients; their (layer, context, output gradient) are kept in
        :attr:`per_example` and no parameter gradient is accumulated. Layers with parameters
        must then offer ``param_grads`` and ``per_example_sq_norms`` (Linear, Conv2d), else
        ConfigError before anything is computed."""
        if self.used:
            raise ConfigError("backward: this forward pass was already differentiated; run the model again")
        if per_example:
            self.check_per_example()
        self.used = True
        grads: dict[int, SecretTensor] = {output: grad}
        touched: dict[int, tuple[Any, SecretTensor]] = {}
        for e in reversed(self.entries):
            g = grads.pop(e.output, None)
            if g is None:
                continue
            needs = [i is not None and self.requires[i] for i in e.inputs]
            if per_example and e.layer.params:
                in_grads, param_grads = e.layer.backward_inputs(e.ctx, g, needs), []
                self.per_example.append((e.layer, e.ctx, g))
            else:
                in_grads, param_grads = e.layer.backward(e.ctx, g, needs)
            for i, gi in zip(e.inputs, in_grads, strict=True):
                if i is None or gi is None or not self.requires[i]:
                    continue
                grads[i] = grads[i] + gi if i in grads else gi
            for p, gp in param_grads:
                key = id(p)
                touched[key] = (p, touched[key][1] + gp) if key in touched else (p, gp)
        for p, gp in touched.values():
            p.accumulate(gp, scale)
        self.leftover = grads


class Variable:
    """A model's output in training mode: the SecretTensor ``data`` and its place on the tape.

    Pass it to a loss (``loss_fn(out, y).backward()``) or call :meth:`backward` with the gradient
    of some scalar with respect to it. ``data`` is an ordinary SecretTensor (reveal it, compare
    it...)."""

    __slots__ = ("data", "tape", "ref", "inputs")

    def __init__(self, data: SecretTensor, tape: Tape, ref: int, inputs: Sequence[int] = ()) -> None:
        self.data, self.tape, self.ref, self.inputs = data, tape, ref, list(inputs)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def __repr__(self) -> str:
        return f"Variable(shape={self.shape}, dtype={self.dtype})"

    def backward(self, grad: object = None, scale: int = 1, per_example: bool = False) -> None:
        """Accumulate into the parameters' ``grad`` the gradients of sum(grad * self) times
        ``scale`` (``grad`` secret or public, of self's shape; None: all ones). With
        ``per_example=True`` the parameter gradients are kept per layer instead (see
        :meth:`Tape.backward`)."""
        if grad is None:
            grad = np.ones(self.shape)
        if not isinstance(grad, SecretTensor):
            g = np.asarray(grad, dtype=np.float64)
            if g.shape != self.shape:
                raise ValueError(f"backward: grad of shape {g.shape} for an output of shape {self.shape}")
            grad = self.data * 0 + g  # a sharing of the public gradient (local)
        elif grad.shape != self.shape:
            raise ValueError(f"backward: grad of shape {grad.shape} for an output of shape {self.shape}")
        if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
            raise ValueError(f"backward: scale must be a positive integer, got {scale!r}")
        self.tape.backward(self.ref, grad, int(scale), per_example)

    def input_grad(self, i: int = 0) -> SecretTensor | None:
        """After backward: the gradient (times the scale) with respect to the model's input ``i``,
        if the model was called with ``requires_grad=True``; otherwise None."""
        if not 0 <= i < len(self.inputs):
            raise IndexError(f"input_grad: the model has {len(self.inputs)} input(s)")
        return self.tape.leftover.get(self.inputs[i])
