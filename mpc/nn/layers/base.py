"""The layer interface of mpc.nn and the state one forward pass runs in.

A layer is built from a torch module (or an fx call) by :mod:`mpc.nn.trace`, before any
communication: it validates its configuration (ConfigError naming the module and its type) and
records the shapes of its parameters and buffers; :func:`mpc.nn.from_torch` then fills them
with shares of the owner's values. Each layer implements

- ``forward(ctx, args, state)``: its output from its resolved arguments (SecretTensors and
  public Python values such as a reshape's sizes); in training mode it saves in ``ctx`` what
  its backward needs;
- ``backward(ctx, grad, needs)``: the gradients of its tensor arguments (in the order of
  :func:`tensor_leaves`; ``None`` where ``needs`` is False) and a list of
  ``(Parameter, gradient)``.

Layers use SecretTensor's public operations only. Costs are given in each layer's docstring in
rounds for 2 parties (comparisons 8 rounds, products 1, see :mod:`mpc.tensor.compare`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mpc.nn.tape import Parameter, Slot
from mpc.tensor.secret_tensor import SecretTensor

__all__ = ["Ctx", "Layer", "State", "tensor_leaves", "truncate_all"]


class Ctx:
    """What one application of a layer saved for its backward (attributes set by the layer)."""


@dataclass
class State:
    """One forward pass: the mode and what layers may need from the model."""

    training: bool
    party: Any = None
    model: Any = None  # the EncryptedModule (dropout draws its public masks from its agreed PRG)
    extras: dict = field(default_factory=dict)


def tensor_leaves(args: Any) -> list[SecretTensor]:
    """The SecretTensors in a nested args structure, in order (the order of backward's grads)."""
    out: list[SecretTensor] = []

    def walk(a: Any) -> None:
        if isinstance(a, SecretTensor):
            out.append(a)
        elif isinstance(a, (list, tuple)):
            for b in a:
                walk(b)
        elif isinstance(a, dict):
            for b in a.values():
                walk(b)

    walk(args)
    return out


def truncate_all(*tensors: SecretTensor | None) -> list[SecretTensor | None]:
    """The tensors at base scale, all pending truncations in one round (flattened, concatenated,
    truncated, split: local apart from the one truncation)."""
    from mpc.tensor.functions import concatenate

    todo = [i for i, t in enumerate(tensors) if t is not None and t.scale > t.dtype.frac_bits]
    out = list(tensors)
    if not todo:
        return out
    if len(todo) == 1:
        out[todo[0]] = tensors[todo[0]].truncate()
        return out
    flat = concatenate([tensors[i].reshape(-1) for i in todo]).truncate()
    offset = 0
    for i in todo:
        t = tensors[i]
        out[i] = flat[offset : offset + t.size].reshape(t.shape)
        offset += t.size
    return out


class Layer:
    """Base class: a named operation with parameters and buffers (see the module docstring)."""

    kind = "Layer"
    differentiable = True  # False: produces public Python values (shapes), never on the tape

    def __init__(self, name: str) -> None:
        self.name = name
        self.params: dict[str, Parameter] = {}
        self.buffers: dict[str, Slot] = {}
        self.init_values: dict[str, np.ndarray] = {}  # this party's torch values (the owner's are shared)

    # -- description (the architecture hash) and slots

    def config(self) -> str:
        """The hyperparameters that define the layer (public)."""
        return ""

    def describe(self) -> str:
        shapes = ",".join(f"{k}{tuple(v.shape)}" for k, v in sorted(self.init_values.items()))
        return f"{self.kind}({self.config()})[{shapes}]"

    def add_param(self, key: str, value: Any, slot: str | None = None) -> None:
        """A parameter the layer reads as ``key``; its state_dict key is ``slot`` if given (a
        packed torch parameter, as MultiheadAttention's in_proj_weight), else name.key."""
        self.params[key] = Parameter(slot or (f"{self.name}.{key}" if self.name else key), None)
        self.init_values[key] = _numpy(value)

    def add_weight_bias(self, module: Any, slots: tuple[str, str] | None = None) -> None:
        """``module.weight`` and, unless it is None, ``module.bias`` as the parameters "weight" and
        "bias" (``slots``: their state_dict keys, see :meth:`add_param`)."""
        self.add_param("weight", module.weight, slots and slots[0])
        if module.bias is not None:
            self.add_param("bias", module.bias, slots and slots[1])

    def add_buffer(self, key: str, value: Any) -> None:
        self.buffers[key] = Slot(f"{self.name}.{key}" if self.name else key, None)
        self.init_values[key] = _numpy(value)

    def slots(self) -> list[tuple[str, Slot]]:
        """(state_dict key, slot) for every parameter and buffer, parameters first."""
        return [(k, s) for k, s in self.params.items()] + [(k, s) for k, s in self.buffers.items()]

    def p(self, key: str) -> SecretTensor | None:
        slot = self.params.get(key) or self.buffers.get(key)
        return None if slot is None else slot.data

    # -- computation

    def forward(self, ctx: Ctx, args: tuple, state: State) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, ctx: Ctx, grad: SecretTensor, needs: list[bool]):  # pragma: no cover - abstract
        raise NotImplementedError(f"{self.kind} has no backward")


def _numpy(value: Any) -> np.ndarray:
    if value is None:
        raise ValueError("parameter value is None")
    if hasattr(value, "detach"):
        return value.detach().cpu().double().numpy()
    return np.asarray(value, dtype=np.float64)
