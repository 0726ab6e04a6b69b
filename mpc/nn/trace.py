"""From a torch.nn.Module to the graph mpc.nn runs: nodes, layers, and their arguments.

- A ``torch.nn.Sequential`` (nested Sequentials included) whose layers are all supported is read
  directly: a chain of nodes named as torch names the submodules ("0", "features.3").
- Anything else is traced with ``torch.fx.symbolic_trace``: module calls, the functional forms
  of the supported layers, residual additions, ``torch.cat``, ``view``/``reshape``/``flatten``,
  ``transpose``/``permute``, ``sum``/``mean`` over dimensions, basic indexing of activations,
  public values (buffers read in forward, masks made from shapes) and ``masked_fill`` with them,
  and TransformerEncoder(Layer)s and self-attention MultiheadAttentions, expanded into those
  layers (:mod:`mpc.nn.expand`), products of activations (``@``, ``torch.matmul``, ``*``) and with
  public numbers (``*``, ``/``), and the shape queries (``x.size(0)``, ``x.shape``) they use.
Every node is validated here, before any communication: an unsupported module, function or
method raises ConfigError naming the node, the module path and its type.

After tracing, a BatchNorm whose only input is a Linear or Conv2d read by nothing else is marked
to be folded into it in inference (:mod:`mpc.nn.layers.norm`).
"""

from __future__ import annotations

import hashlib
import numbers
import operator
import threading
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as tnn
import torch.nn.functional as TF

from mpc.errors import ConfigError
from mpc.nn.expand import EXPANDED, expand, expand_attention
from mpc.nn.layers.activation import GELU, Hardtanh, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Tanh
from mpc.nn.layers.base import Layer
from mpc.nn.layers.dense import Conv2d, Linear
from mpc.nn.layers.norm import BatchNorm, LayerNorm
from mpc.nn.layers.pool import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from mpc.nn.layers.products import MatMul, Mul
from mpc.nn.layers.structure import (
    Add,
    Cat,
    Dropout,
    Flatten,
    Identity,
    Index,
    MaskedFill,
    Permute,
    Public,
    Reduce,
    Reshape,
    ShapeOf,
)

__all__ = ["Ref", "Node", "Graph", "trace", "SUPPORTED_MODULES"]

# torch.fx patches torch.nn.Module.__call__, __getattr__ and torch's functions process-wide while it
# traces, so a party tracing while another party (a thread of the same process, as in
# mpc.testing.run_local) reads a module's weights or runs it would be handed proxies. Every place
# mpc.nn touches a torch module (tracing and building the layers, copying the model, the
# meta-tensor shape check, to_torch) holds this lock; each is short.
FX_LOCK = threading.RLock()


@dataclass(frozen=True)
class Ref:
    """The value of node ``index`` as an argument of a later node."""

    index: int


@dataclass
class Node:
    name: str
    layer: Layer | None  # None: a model input
    args: tuple  # nested tuples/lists of Refs and public constants

    def refs(self) -> list[int]:
        out: list[int] = []
        _walk(self.args, lambda r: out.append(r.index))
        return out


def _walk(a: Any, fn) -> None:
    if isinstance(a, Ref):
        fn(a)
    elif isinstance(a, (list, tuple)):
        for b in a:
            _walk(b, fn)


def _show(a: Any) -> str:
    if isinstance(a, Ref):
        return f"%{a.index}"
    if isinstance(a, (list, tuple)):
        inner = ",".join(_show(b) for b in a)
        return f"[{inner}]" if isinstance(a, list) else f"({inner})"
    if isinstance(a, slice):
        return f"slice({a.start},{a.stop},{a.step})"
    return repr(a)


class Graph:
    """Nodes in execution order; ``inputs`` the node indexes of the model's inputs."""

    def __init__(self, nodes: list[Node], inputs: list[int], output: int) -> None:
        self.nodes, self.inputs, self.output = nodes, inputs, output

    def layers(self) -> list[Layer]:
        """Distinct layers in order of first use (a module called twice appears once)."""
        seen: dict[int, Layer] = {}
        for node in self.nodes:
            if node.layer is not None and id(node.layer) not in seen:
                seen[id(node.layer)] = node.layer
        return list(seen.values())

    def descriptions(self) -> list[str]:
        """One public line per node: name, layer, arguments (see :mod:`mpc.nn.agree`)."""
        out = []
        for node in self.nodes:
            what = "input" if node.layer is None else node.layer.describe()
            owner = "" if node.layer is None else f"@{node.layer.name}"
            out.append(f"{node.name}{owner}:{what}:{_show(node.args)}")
        return out


# ------------------------------------------------------------------------------------ modules


def _type_name(m: Any) -> str:
    t = type(m)
    return f"{t.__module__}.{t.__qualname__}"


SUPPORTED_MODULES: dict[type, Any] = {
    tnn.Linear: lambda n, m: Linear(n, m),
    tnn.Conv2d: lambda n, m: Conv2d(n, m),
    tnn.BatchNorm1d: lambda n, m: BatchNorm(n, m, 1),
    tnn.BatchNorm2d: lambda n, m: BatchNorm(n, m, 2),
    tnn.LayerNorm: lambda n, m: LayerNorm(n, m),
    tnn.ReLU: lambda n, m: ReLU(n),
    tnn.LeakyReLU: lambda n, m: LeakyReLU(n, m.negative_slope),
    tnn.Hardtanh: lambda n, m: Hardtanh(n, m.min_val, m.max_val),
    tnn.ReLU6: lambda n, m: Hardtanh(n, m.min_val, m.max_val),  # torch's ReLU6 is Hardtanh(0, 6)
    tnn.GELU: lambda n, m: GELU(n, m.approximate),
    tnn.Sigmoid: lambda n, m: Sigmoid(n),
    tnn.SiLU: lambda n, m: SiLU(n),
    tnn.Tanh: lambda n, m: Tanh(n),
    tnn.Softmax: lambda n, m: Softmax(n, m.dim),
    tnn.LogSoftmax: lambda n, m: LogSoftmax(n, m.dim),
    tnn.MaxPool2d: lambda n, m: MaxPool2d(n, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode,
                                          m.return_indices),
    tnn.AvgPool2d: lambda n, m: AvgPool2d(n, m.kernel_size, m.stride, m.padding, m.ceil_mode,
                                          m.count_include_pad, m.divisor_override),
    tnn.AdaptiveAvgPool2d: lambda n, m: AdaptiveAvgPool2d(n, m.output_size),
    tnn.Flatten: lambda n, m: Flatten(n, m.start_dim, m.end_dim),
    tnn.Dropout: lambda n, m: Dropout(n, m.p),
    tnn.Identity: lambda n, m: Identity(n),
}
SUPPORTED_NAMES = ", ".join(t.__name__ for t in SUPPORTED_MODULES)


def _unsupported_module(name: str, module: Any) -> ConfigError:
    return ConfigError(f"from_torch: layer {name!r} ({_type_name(module)}) is not supported by mpc.nn "
                       f"(supported: {SUPPORTED_NAMES}, residual additions, torch.cat, view/reshape/flatten, "
                       "transpose/permute, products of activations and with numbers)")


def _module_layer(name: str, module: Any) -> Layer:
    build = SUPPORTED_MODULES.get(type(module))
    if build is None:
        raise _unsupported_module(name, module)
    return build(name, module)


def _is_torch_builtin(m: Any) -> bool:
    return type(m).__module__.startswith("torch.")


def _sequential_leaves(model: Any, prefix: str) -> list[tuple[str, Any]] | None:
    """(name, module) of a Sequential's leaves, or None if it holds a custom module (fx then)."""
    out: list[tuple[str, Any]] = []
    for key, child in model.named_children():
        name = f"{prefix}{key}"
        if isinstance(child, tnn.Sequential):
            sub = _sequential_leaves(child, f"{name}.")
            if sub is None:
                return None
            out += sub
        elif type(child) in SUPPORTED_MODULES:
            out.append((name, child))
        elif isinstance(child, EXPANDED):
            return None  # several layers: the fx path expands it
        elif _is_torch_builtin(child):
            raise _unsupported_module(name, child)
        else:
            return None
    return out


# ---------------------------------------------------------------------------------- functions


def _arg(args: tuple, kwargs: dict, i: int, key: str, default: Any = None) -> Any:
    if len(args) > i:
        return args[i]
    return kwargs.get(key, default)


def _softmax_like(cls):
    def build(name, args, kwargs):
        if kwargs.get("dtype") is not None:
            raise ConfigError(f"from_torch: node {name!r}: a dtype argument to {cls.__name__.lower()} is not supported")
        return cls(name, _arg(args, kwargs, 1, "dim")), (args[0],)
    return build


def _pool(cls, keys: tuple[str, ...], defaults: tuple):
    def build(name, args, kwargs):
        vals = [_arg(args, kwargs, i + 1, k, d) for i, (k, d) in enumerate(zip(keys, defaults, strict=True))]
        return cls(name, *vals), (args[0],)
    return build


def _add(name, args, kwargs):
    if kwargs.get("alpha", 1) != 1:
        raise ConfigError(f"from_torch: node {name!r}: torch.add with alpha is not supported")
    return Add(name), (args[0], args[1])


def _binary(cls):
    def build(name, args, kwargs):
        if kwargs or len(args) != 2:
            raise ConfigError(f"from_torch: node {name!r}: {cls.kind} with {len(args)} positional and "
                              f"{len(kwargs)} keyword arguments is not supported")
        if not any(isinstance(a, Ref) for a in args):
            raise ConfigError(f"from_torch: node {name!r}: {cls.kind} of two constants")
        return cls(name), (args[0], args[1])
    return build


def _div(name, args, kwargs):
    """x / c for a public number c: a Mul by 1 / c."""
    c = args[1] if len(args) == 2 else None
    if (kwargs or not isinstance(args[0], Ref) or not isinstance(c, numbers.Real) or isinstance(c, bool)
            or c == 0):
        raise ConfigError(f"from_torch: node {name!r}: only an activation divided by a public number (nonzero) "
                          "is supported")
    return Mul(name), (args[0], 1.0 / float(c))


def _permute(swap: bool):
    def build(name, args, kwargs):
        dims = args[1:] if len(args) > 1 else tuple(kwargs.get("dims", ()))
        if swap and len(args) == 1:
            dims = (kwargs.get("dim0"), kwargs.get("dim1"))
        return Permute(name, swap), (args[0], *dims)
    return build


def _reduce(mean: bool):
    def build(name, args, kwargs):
        if kwargs.get("dtype") is not None or "out" in kwargs:
            raise ConfigError(f"from_torch: node {name!r}: {'mean' if mean else 'sum'} with dtype or out is not supported")
        return Reduce(name, mean), (args[0], _arg(args, kwargs, 1, "dim", None), _arg(args, kwargs, 2, "keepdim", False))
    return build


def _cat(name, args, kwargs):
    return Cat(name), (list(args[0]), _arg(args, kwargs, 1, "dim", 0))


def _flatten(start_default: int):
    def build(name, args, kwargs):
        return Flatten(name, _arg(args, kwargs, 1, "start_dim", start_default), _arg(args, kwargs, 2, "end_dim", -1)), (args[0],)
    return build


def _reshape(name, args, kwargs):
    shape = args[1:] if len(args) > 1 else (kwargs.get("shape"),)
    return Reshape(name), (args[0], *shape)


def _unary(cls):
    return lambda name, args, kwargs: (cls(name), (args[0],))


FUNCTIONS: dict[Any, Any] = {
    operator.add: _add, torch.add: _add,
    operator.matmul: _binary(MatMul), torch.matmul: _binary(MatMul), torch.bmm: _binary(MatMul),
    operator.mul: _binary(Mul), torch.mul: _binary(Mul),
    operator.truediv: _div, torch.div: _div,
    torch.transpose: _permute(True), torch.permute: _permute(False),
    torch.sum: _reduce(False), torch.mean: _reduce(True),
    TF.silu: _unary(SiLU),
    TF.gelu: lambda name, args, kwargs: (GELU(name, _arg(args, kwargs, 1, "approximate", "none")), (args[0],)),
    torch.cat: _cat, torch.concat: _cat, torch.concatenate: _cat,
    torch.flatten: _flatten(0),
    torch.reshape: _reshape,
    torch.relu: _unary(ReLU), TF.relu: _unary(ReLU),
    TF.leaky_relu: lambda name, args, kwargs: (LeakyReLU(name, _arg(args, kwargs, 1, "negative_slope", 0.01)),
                                               (args[0],)),
    TF.hardtanh: lambda name, args, kwargs: (Hardtanh(name, _arg(args, kwargs, 1, "min_val", -1.0),
                                                      _arg(args, kwargs, 2, "max_val", 1.0)), (args[0],)),
    TF.relu6: lambda name, args, kwargs: (Hardtanh(name, 0.0, 6.0), (args[0],)),
    torch.sigmoid: _unary(Sigmoid), TF.sigmoid: _unary(Sigmoid),
    torch.tanh: _unary(Tanh), TF.tanh: _unary(Tanh),
    TF.softmax: _softmax_like(Softmax), torch.softmax: _softmax_like(Softmax),
    TF.log_softmax: _softmax_like(LogSoftmax), torch.log_softmax: _softmax_like(LogSoftmax),
    TF.max_pool2d: _pool(MaxPool2d, ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
                         (None, None, 0, 1, False, False)),
    TF.avg_pool2d: _pool(AvgPool2d, ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                                     "divisor_override"), (None, None, 0, False, True, None)),
    TF.adaptive_avg_pool2d: _pool(AdaptiveAvgPool2d, ("output_size",), (None,)),
    TF.dropout: lambda name, args, kwargs: (Dropout(name, _arg(args, kwargs, 1, "p", 0.5)), (args[0],)),
    operator.getitem: lambda name, args, kwargs: (ShapeOf(name, "getitem"), (args[0], args[1])),
}

METHODS: dict[str, Any] = {
    "view": _reshape, "reshape": _reshape,
    "flatten": _flatten(0),
    "size": lambda name, args, kwargs: (ShapeOf(name, "size"), tuple(args) + ((kwargs["dim"],) if "dim" in kwargs else ())),
    "relu": _unary(ReLU), "sigmoid": _unary(Sigmoid), "tanh": _unary(Tanh),
    "softmax": _softmax_like(Softmax), "log_softmax": _softmax_like(LogSoftmax),
    "contiguous": _unary(Identity),
    "add": _add,
    "matmul": _binary(MatMul), "bmm": _binary(MatMul), "mul": _binary(Mul), "div": _div,
    "transpose": _permute(True), "permute": _permute(False),
    "sum": _reduce(False), "mean": _reduce(True),
}


def _function_name(fn: Any) -> str:
    name = getattr(fn, "__name__", None)
    for space, label in ((TF, "torch.nn.functional"), (torch, "torch"), (operator, "operator")):
        if name and getattr(space, name, None) is fn:
            return f"{label}.{name}"
    mod = getattr(fn, "__module__", None) or "builtins"
    return f"{mod}.{getattr(fn, '__qualname__', getattr(fn, '__name__', repr(fn)))}"


# -------------------------------------------------------------------------------------- tracing


def trace(model: Any) -> Graph:
    """The graph of ``model`` (see the module docstring); ConfigError before any communication."""
    if not isinstance(model, tnn.Module):
        raise ConfigError(f"from_torch: model must be a torch.nn.Module, got {type(model).__name__}")
    with FX_LOCK:
        leaves = _sequential_leaves(model, "") if isinstance(model, tnn.Sequential) else None
        if isinstance(model, EXPANDED):  # the model itself: fx would trace into its forward
            graph = _from_expanded(model)
        else:
            graph = _from_sequential(leaves) if leaves is not None else _from_fx(model)
    _mark_folds(graph)
    return graph


def _from_sequential(leaves: list[tuple[str, Any]]) -> Graph:
    nodes = [Node("input", None, ())]
    for name, module in leaves:
        nodes.append(Node(name, _module_layer(name, module), (Ref(len(nodes) - 1),)))
    return Graph(nodes, [0], len(nodes) - 1)


ATTENTION_ANY = ("need_weights", "average_attn_weights")  # about the weights, which are not computed
ATTENTION_OFF = {"attn_mask": None, "key_padding_mask": None, "is_causal": False}  # masks: only absent


def _check_self_attention(name: str, args: tuple, kwargs: dict, called: bool) -> None:
    """A MultiheadAttention call mpc.nn expands: once, on one tensor as query, key and value, with
    no mask (ConfigError otherwise)."""
    where = f"from_torch: layer {name!r} (torch.nn.MultiheadAttention)"
    if called:
        raise ConfigError(f"{where} is called twice; not supported")
    if len(args) != 3 or not (isinstance(args[0], Ref) and args[0] == args[1] == args[2]):
        raise ConfigError(f"{where}: only self-attention (one tensor as query, key and value) is supported")
    for key, value in kwargs.items():
        if key not in ATTENTION_ANY and (key not in ATTENTION_OFF or value != ATTENTION_OFF[key]):
            raise ConfigError(f"{where}: {key}={value!r} is not supported (no masks: write masked attention with "
                              "masked_fill)")


def _emitter(nodes: list[Node]):
    """What :func:`mpc.nn.expand.expand` emits its layers with: appended as nodes, a Ref returned."""
    def emit(layer: Layer, largs: tuple) -> Ref:
        nodes.append(Node(layer.name, layer, largs))
        return Ref(len(nodes) - 1)
    return emit


def _from_expanded(model: Any) -> Graph:
    nodes = [Node("input", None, ())]
    expand("", model, Ref(0), _emitter(nodes))
    return Graph(nodes, [0], len(nodes) - 1)


def _from_fx(model: Any) -> Graph:
    import torch.fx as fx

    had = set(vars(model))
    try:
        gm = fx.symbolic_trace(model)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds; report it as a config error
        raise ConfigError(f"from_torch: torch.fx cannot trace {_type_name(model)} ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''}); use supported layers and no "
                          "data-dependent control flow") from None
    finally:
        # fx stores the tensors a forward computes from buffers as _tensor_constant<i> attributes of
        # the user's model (gm keeps its own copies): remove them, so that the model is left as it
        # was and every trace names them alike (their names are in the architecture check)
        for key in set(vars(model)) - had:
            if key.startswith("_tensor_constant"):
                delattr(model, key)
    index: dict[str, int] = {}
    nodes: list[Node] = []
    inputs: list[int] = []
    layers_by_module: dict[int, Layer] = {}
    pairs: dict[int, str] = {}  # node index of a MultiheadAttention's output -> its fx name
    output = None

    def convert(a: Any) -> Any:
        if isinstance(a, fx.Node):
            if a.name not in index:
                raise ConfigError(f"from_torch: node {a.name!r} is used before it is defined")
            return Ref(index[a.name])
        if isinstance(a, (list, tuple)):
            return type(a)(convert(b) for b in a)
        if isinstance(a, dict):
            return {k: convert(v) for k, v in a.items()}
        if isinstance(a, torch.Tensor):
            raise ConfigError("from_torch: a tensor constant inside the traced graph is not supported")
        return a

    for fn in gm.graph.nodes:
        args, kwargs = convert(tuple(fn.args)), convert(dict(fn.kwargs))
        if fn.op == "placeholder":
            if fn.args:  # a default value: the argument is optional
                raise ConfigError(f"from_torch: model input {fn.name!r} has a default value; not supported")
            inputs.append(len(nodes))
            nodes.append(Node(fn.name, None, ()))
        elif fn.op == "call_module" and isinstance(gm.get_submodule(fn.target), tnn.MultiheadAttention):
            module = gm.get_submodule(fn.target)
            _check_self_attention(str(fn.target), args, kwargs, id(module) in layers_by_module)
            layers_by_module[id(module)] = None
            expand_attention(str(fn.target), module, args[0], _emitter(nodes))
            pairs[len(nodes) - 1] = fn.name  # its value is a pair (output, weights): getitem 0 or 1 only
        elif (fn.op == "call_function" and fn.target is operator.getitem and isinstance(args[0], Ref)
              and args[0].index in pairs):
            if args[1] == 0:  # the output: the expanded attention's last node itself
                index[fn.name] = args[0].index
                continue
            if args[1] != 1:
                raise ConfigError(f"from_torch: node {fn.name!r}: {pairs[args[0].index]!r} returns (output, weights)")
            nodes.append(Node(fn.name, Public(fn.name, "attention weights (not computed)", value=None), ()))
        elif fn.op == "call_module" and isinstance(gm.get_submodule(fn.target), EXPANDED):
            module = gm.get_submodule(fn.target)
            if kwargs or len(args) != 1 or id(module) in layers_by_module:
                raise ConfigError(f"from_torch: layer {fn.target!r} ({_type_name(module)}) must be called once, with "
                                  "its input alone (no masks: write masked attention with masked_fill)")
            layers_by_module[id(module)] = None
            expand(str(fn.target), module, args[0], _emitter(nodes))
        elif fn.op == "call_module":
            module = gm.get_submodule(fn.target)
            layer = layers_by_module.get(id(module))
            if layer is None:
                layer = layers_by_module[id(module)] = _module_layer(str(fn.target), module)
            if kwargs or len(args) != 1:
                raise ConfigError(f"from_torch: layer {fn.target!r} ({_type_name(module)}) is called with "
                                  f"{len(args)} positional and {len(kwargs)} keyword arguments; expected one input")
            nodes.append(Node(fn.name, layer, args))
        elif fn.op in ("call_function", "call_method"):
            if fn.op == "call_function" and fn.target is getattr and len(args) == 2 and args[1] == "shape":
                layer, largs = ShapeOf(fn.name, "shape"), (args[0],)
            elif _public_call(fn, args, kwargs, nodes):
                layer, largs = _public_layer(fn), (args, tuple(kwargs.items()))
            elif fn.op == "call_method" and fn.target == "masked_fill":
                layer, largs = _masked_fill(fn.name, args, kwargs, nodes)
            elif fn.op == "call_function" and fn.target is operator.getitem and _indexes_tensor(nodes, args[0]):
                layer, largs = Index(fn.name), (args[0], args[1])
            else:
                layer, largs = _build_call(fn, args, kwargs)
            nodes.append(Node(fn.name, layer, largs))
        elif fn.op == "get_attr":
            nodes.append(Node(fn.name, _buffer(gm, fn), ()))
        elif fn.op == "output":
            out = args[0]
            if not isinstance(out, Ref):
                raise ConfigError("from_torch: the model must return one tensor (not a tuple, list or dict)")
            output = out.index
            continue
        else:  # pragma: no cover - fx has no other node kinds
            raise ConfigError(f"from_torch: unexpected fx node {fn.op!r}")
        index[fn.name] = len(nodes) - 1
    if output is None or not inputs:
        raise ConfigError("from_torch: the traced model has no input or no output")
    return Graph(nodes, inputs, output)


def _indexes_tensor(nodes: list[Node], source: Any) -> bool:
    """Whether ``source[...]`` indexes an activation (not a shape, ``x.size()``, nor a public value)."""
    return isinstance(source, Ref) and not _is_public(nodes, source)


# Public computations: what a forward may do in the clear with public values (buffers read in
# forward, shapes, constants), identically at every party: deterministic torch functions only
PUBLIC_FUNCTIONS = {torch.ones, torch.zeros, torch.full, torch.arange, torch.eye, torch.triu, torch.tril,
                    torch.logical_not, operator.getitem, operator.eq, operator.ne, operator.lt, operator.le,
                    operator.gt, operator.ge, operator.invert, operator.and_, operator.or_}
MAKERS = {torch.ones, torch.zeros, torch.full, torch.arange, torch.eye}  # public from shapes alone
PUBLIC_METHODS = {"bool", "float", "int", "long", "to", "tril", "triu", "unsqueeze", "view", "reshape", "expand",
                  "logical_not", "eq", "ne", "masked_fill", "type_as"}


def _is_public(nodes: list[Node], a: Any) -> bool:
    return isinstance(a, Ref) and isinstance(nodes[a.index].layer, (Public, ShapeOf))


def _public_call(fn: Any, args: tuple, kwargs: dict, nodes: list[Node]) -> bool:
    """Whether a call computes a public value: an allowed function or method whose inputs are all
    public (buffers, shapes, constants), at least one of them a public tensor unless it makes one."""
    refs: list[Ref] = []
    _walk((args, tuple(kwargs.values())), refs.append)
    if any(not _is_public(nodes, r) for r in refs):
        return False
    if fn.op == "call_method":
        return str(fn.target) in PUBLIC_METHODS and bool(refs) and isinstance(nodes[refs[0].index].layer, Public)
    if fn.target not in PUBLIC_FUNCTIONS:
        return False
    return fn.target in MAKERS or any(isinstance(nodes[r.index].layer, Public) for r in refs)


def _public_layer(fn: Any) -> Public:
    if fn.op == "call_method":
        name = str(fn.target)
        return Public(fn.name, f".{name}()", lambda obj, *a, **k: getattr(obj, name)(*a, **k))
    return Public(fn.name, _function_name(fn.target), fn.target)


def _buffer(gm: Any, fn: Any) -> Public:
    """A buffer read in forward: a public constant, its value hashed into the node's description
    (the architecture check then fails unless every party holds the same value)."""
    buffers = dict(gm.named_buffers())
    if fn.target not in buffers:
        raise ConfigError(f"from_torch: node {fn.name!r} reads the attribute {fn.target!r} directly (parameters "
                          "used outside their modules); not supported by mpc.nn (buffers are: as public constants)")
    value = buffers[fn.target].detach().cpu().numpy().copy()
    digest = hashlib.sha256(value.tobytes() + str((value.dtype, value.shape)).encode()).hexdigest()[:16]
    return Public(fn.name, f"buffer {fn.target} {value.dtype}{list(value.shape)} #{digest}", value=value)


def _masked_fill(name: str, args: tuple, kwargs: dict, nodes: list[Node]) -> tuple[Layer, tuple]:
    mask, value = _arg(args, kwargs, 1, "mask"), _arg(args, kwargs, 2, "value")
    if not _is_public(nodes, mask) or isinstance(value, Ref):
        raise ConfigError(f"from_torch: node {name!r}: masked_fill needs a public mask (a buffer or one made from "
                          "shapes) and a number")
    return MaskedFill(name), (args[0], mask, value)


def _build_call(fn: Any, args: tuple, kwargs: dict) -> tuple[Layer, tuple]:
    """The layer and arguments of a call_function or call_method node; ConfigError if unknown."""
    if fn.op == "call_function":
        build, what = FUNCTIONS.get(fn.target), _function_name(fn.target)
    else:
        build, what = METHODS.get(str(fn.target)), f"the tensor method .{fn.target}()"
    if build is None:
        raise ConfigError(f"from_torch: node {fn.name!r} calls {what}, which is not supported by mpc.nn")
    return build(fn.name, args, kwargs)


def _mark_folds(graph: Graph) -> None:
    consumers: dict[int, int] = {}
    uses: dict[int, int] = {}
    for node in graph.nodes:
        for r in node.refs():
            consumers[r] = consumers.get(r, 0) + 1
        if node.layer is not None:
            uses[id(node.layer)] = uses.get(id(node.layer), 0) + 1
    if graph.output is not None:
        consumers[graph.output] = consumers.get(graph.output, 0) + 1
    for node in graph.nodes:
        bn = node.layer
        if not isinstance(bn, BatchNorm) or uses[id(bn)] != 1:
            continue
        (src,) = node.refs() or (None,)
        if src is None:
            continue
        prod = graph.nodes[src].layer
        channels = getattr(prod, "out_features", getattr(prod, "out_channels", None))
        if (isinstance(prod, (Linear, Conv2d)) and consumers.get(src) == 1 and uses[id(prod)] == 1
                and prod.fold is None and (isinstance(prod, Conv2d) == (bn.dims == 2)) and channels == bn.channels):
            bn.producer, prod.fold = prod, bn
