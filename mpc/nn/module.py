"""EncryptedModule: a torch model whose parameters are secret-shared, and ``from_torch``.

``mpc.nn.from_torch(party, model, owner=0)`` (every party calls it with a model of the same
architecture; only the owner's parameter values are used):
1. Trace the model (:mod:`mpc.nn.trace`): an unsupported layer raises ConfigError naming it,
   before any communication.
2. Agree on the architecture (:func:`mpc.nn.agree.agree_architecture`: 2 rounds; a mismatch
   raises ConfigError naming the first differing layer on every party).
3. Share the owner's parameters and buffers, plus the BatchNorm foldings the owner computes in
   the clear (:mod:`mpc.nn.layers.norm`), as one ``party.input`` of all values (its agreement
   round; the sharing itself sends nothing).
The result starts in inference mode (``enc.eval()``); ``enc.train()`` switches to training,
where ``enc(x)`` returns a :class:`~mpc.nn.tape.Variable` for the losses of
:mod:`mpc.nn.losses`.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from mpc.dtypes import Fixed
from mpc.errors import ConfigError, ShareTypeError
from mpc.nn.agree import agree_architecture, agree_seed
from mpc.nn.layers.base import Ctx, State
from mpc.nn.layers.norm import BatchNorm, fold_plain
from mpc.nn.tape import Parameter, Slot, Tape, Variable
from mpc.nn.trace import FX_LOCK, Graph, Ref, trace
from mpc.prg import PRG
from mpc.tensor.secret_tensor import DEFAULT_FIXED, SecretTensor

__all__ = ["EncryptedModule", "from_torch"]


def _resolve(a: Any, vals: list) -> Any:
    if isinstance(a, Ref):
        return vals[a.index]
    if isinstance(a, (list, tuple)):
        return type(a)(_resolve(b, vals) for b in a)
    return a


def _tensor_refs(a: Any, vals: list, out: list[int]) -> list[int]:
    if isinstance(a, Ref):
        if isinstance(vals[a.index], SecretTensor):
            out.append(a.index)
    elif isinstance(a, (list, tuple)):
        for b in a:
            _tensor_refs(b, vals, out)
    return out


class EncryptedModule:
    """A model with secret-shared parameters (see the module docstring). Call it on
    SecretTensors of the model's dtype: inference returns a SecretTensor, training a Variable."""

    def __init__(self, party, graph: Graph, template: Any, dtype: Fixed, owner: int) -> None:
        self.party, self.graph, self.dtype, self.owner = party, graph, dtype, owner
        self.training = False
        self._template = template  # this party's own torch model (to_torch rebuilds from it)
        self._meta = None
        self._shapes_ok: set[tuple] = set()
        self._prg: PRG | None = None

    def __repr__(self) -> str:
        kinds = ", ".join(layer.kind for layer in self.graph.layers())
        return f"EncryptedModule([{kinds}], owner={self.owner}, {'training' if self.training else 'inference'})"

    # -- modes, parameters, state

    def train(self, mode: bool = True) -> EncryptedModule:
        self.training = bool(mode)
        return self

    def eval(self) -> EncryptedModule:
        return self.train(False)

    @contextlib.contextmanager
    def _mode(self, training: bool) -> Iterator[None]:
        before = self.training
        self.training = training
        try:
            yield
        finally:
            self.training = before

    def parameters(self) -> list[Parameter]:
        return [p for layer in self.graph.layers() for p in layer.params.values()]

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        return [(p.name, p) for p in self.parameters()]

    def slots(self) -> list[tuple[str, Slot]]:
        """(state_dict key, slot) of every parameter and buffer, as torch names them."""
        return [(s.name, s) for layer in self.graph.layers() for _, s in layer.slots()]

    def state_dict(self) -> dict[str, SecretTensor]:
        return {k: s.data for k, s in self.slots()}

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def public_prg(self) -> PRG:
        """A PRG every party holds with the same seed, agreed by coin tossing on first use (2
        rounds): for public randomness only (dropout masks)."""
        if self._prg is None:
            self._prg = PRG(agree_seed(self.party))
        return self._prg

    # -- running the graph

    def _check_inputs(self, inputs: tuple) -> None:
        if len(inputs) != len(self.graph.inputs):
            raise ValueError(f"the model takes {len(self.graph.inputs)} input(s), got {len(inputs)}")
        for i, x in enumerate(inputs):
            if not isinstance(x, SecretTensor):
                raise ShareTypeError(f"input {i}: expected a SecretTensor (party.input(...)), got {type(x).__name__}")
            if x.dtype != self.dtype:
                raise ShareTypeError(f"input {i}: dtype {x.dtype} differs from the model's {self.dtype}")
        shapes = tuple(x.shape for x in inputs)
        if shapes in self._shapes_ok:
            return
        # torch's own shape rules on meta tensors: a wrong input shape fails here, before any message
        try:
            with FX_LOCK, torch.no_grad(), torch.device("meta"):  # tensors made in forward: meta too
                if self._meta is None:
                    self._meta = copy.deepcopy(self._template).to("meta").eval()
                first = next(iter(self._meta.state_dict().values()), None)
                dt = first.dtype if first is not None and first.is_floating_point() else torch.float32
                self._meta(*[torch.empty(s, device="meta", dtype=dt) for s in shapes])
        except NotImplementedError:
            pass  # an operation without a meta kernel: the layers check their own shapes
        except (RuntimeError, ValueError, TypeError, IndexError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ValueError(f"input shape(s) {list(shapes)} do not fit the model: {first}") from None
        self._shapes_ok.add(shapes)

    def __call__(self, *inputs: SecretTensor, requires_grad: bool = False) -> SecretTensor | Variable:
        """Run the model. In training mode, ``requires_grad=True`` also differentiates with
        respect to the inputs (:meth:`~mpc.nn.tape.Variable.input_grad`), which costs the first
        layer's input gradient."""
        self._check_inputs(inputs)
        state = State(training=self.training, party=self.party, model=self)
        tape = Tape() if self.training else None
        nodes = self.graph.nodes
        vals: list = [None] * len(nodes)
        ids: list[int | None] = [None] * len(nodes)
        for k, i in enumerate(self.graph.inputs):
            vals[i] = inputs[k]
            ids[i] = tape.value(requires_grad) if tape is not None else None
        for i, node in enumerate(nodes):
            if node.layer is None:
                continue
            ctx = Ctx()
            out = node.layer.forward(ctx, _resolve(node.args, vals), state)
            vals[i] = out
            if tape is not None and node.layer.differentiable and isinstance(out, SecretTensor):
                leaf_ids = [ids[r] for r in _tensor_refs(node.args, vals, [])]
                req = bool(node.layer.params) or any(j is not None and tape.requires[j] for j in leaf_ids)
                ids[i] = tape.value(req)
                tape.record(node.layer, ctx, leaf_ids, ids[i])
        out = vals[self.graph.output]
        if tape is None:
            return out
        return Variable(out, tape, ids[self.graph.output], [ids[i] for i in self.graph.inputs])

    def predict(self, *inputs: SecretTensor, to: int | None = None, labels: bool = False):
        """Inference, revealed: the outputs (or, with ``labels=True``, only the argmax along the
        last axis, as int64; [logit > 0] for a single output column) opened to party ``to``
        (None: to every party; the others get None)."""
        with self._mode(False):
            y = self(*inputs)
        if labels:
            y = (y > 0).reshape(y.shape[:-1]) if y.shape[-1] == 1 else y.argmax(axis=-1)
        out = self.party.reveal(y, to=to)
        if out is None or not labels:
            return out
        return np.rint(out).astype(np.int64)

    def to_torch(self, to: int | None = 0):
        """The trained parameters and buffers revealed to party ``to`` (None: every party) as a
        copy of that party's torch model; None at the other parties. One round."""
        slots = self.slots()
        opened = self.party.reveal(*[s.data for _, s in slots], to=to)
        if to is not None and self.party.pid != to:
            return None
        opened = opened if len(slots) > 1 else (opened,)
        with FX_LOCK:
            model = copy.deepcopy(self._template)
            sd = model.state_dict()
            for (key, _), v in zip(slots, opened, strict=True):
                sd[key] = torch.as_tensor(np.asarray(v), dtype=sd[key].dtype).reshape(sd[key].shape)
            for layer in self.graph.layers():
                key = f"{layer.name}.num_batches_tracked"
                if isinstance(layer, BatchNorm) and key in sd:
                    sd[key] = sd[key] + layer.tracked
            model.load_state_dict(sd)
        return model


def _dtype(dtype: Any) -> Fixed:
    if dtype is None:
        return DEFAULT_FIXED
    if not isinstance(dtype, Fixed):
        raise ConfigError(f"dtype: a model computes in fixed point; expected mpc.Fixed(f), got {dtype!r}")
    return dtype


def _share(party, graph: Graph, owner: int, dtype: Fixed) -> None:
    """Step 3 of the module docstring: one input of every value the owner shares."""
    mine = party.pid == owner
    targets: list[tuple[Any, tuple]] = []  # (setter, shape)
    values: list[np.ndarray] = []
    for layer in graph.layers():
        for key, slot in layer.slots():
            shape = layer.init_values[key].shape
            targets.append((slot, shape))
            values.append(layer.init_values[key])
    seeds: list[tuple[BatchNorm, int, bool]] = []
    for layer in graph.layers():
        if not isinstance(layer, BatchNorm):
            continue
        start = len(targets)
        s = t = np.zeros(layer.channels)
        if mine:
            s, t = fold_plain(layer.init_values, layer.eps, layer.channels)
        targets += [(None, s.shape), (None, t.shape)]
        values += [s, t]
        prod = layer.producer
        if prod is not None:
            w = prod.init_values["weight"]
            b = prod.init_values.get("bias", np.zeros(layer.channels))
            w2 = w * s.reshape((-1,) + (1,) * (w.ndim - 1))
            targets += [(None, w.shape), (None, b.shape if "bias" in prod.init_values else (layer.channels,))]
            values += [w2, b * s + t]
        seeds.append((layer, start, prod is not None))
    sizes = [math.prod(shape) for _, shape in targets]
    total = int(sum(sizes))
    if total == 0:
        return
    vec = np.concatenate([np.asarray(v, dtype=np.float64).reshape(-1) for v in values]) if mine else None
    if mine and not np.all(np.isfinite(vec)):
        raise ConfigError("from_torch: the owner's model has NaN or infinite parameters or statistics")
    flat = party.input(vec, owner=owner, shape=(total,), dtype=dtype)
    parts, offset = [], 0
    for (slot, shape), size in zip(targets, sizes, strict=True):
        part = flat[offset : offset + size].reshape(shape)
        offset += size
        parts.append(part)
        if slot is not None:
            slot.data = part
    for layer, start, folded in seeds:
        layer.seed((parts[start], parts[start + 1]), (parts[start + 2], parts[start + 3]) if folded else None)


def from_torch(party, model: Any, owner: int = 0, *, dtype: Fixed | None = None) -> EncryptedModule:
    """Share ``model``'s parameters from party ``owner`` (see the module docstring). Every party
    passes a model of the same architecture (its parameter values are ignored unless it is the
    owner). Returns an EncryptedModule in inference mode."""
    dt = _dtype(dtype)
    if isinstance(owner, bool) or not isinstance(owner, (int, np.integer)) or not 0 <= owner < party.n:
        raise ConfigError(f"owner: expected a party id in [0, {party.n}), got {owner!r}")
    graph = trace(model)
    names = [n.name for n in graph.nodes]
    agree_architecture(party, graph.descriptions(), names)
    _share(party, graph, int(owner), dt)
    with FX_LOCK:
        template = copy.deepcopy(model)
    return EncryptedModule(party, graph, template, dt, int(owner))
