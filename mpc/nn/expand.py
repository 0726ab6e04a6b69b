"""Torch modules that mpc.nn runs as several of its own layers: ``nn.TransformerEncoderLayer``
and ``nn.TransformerEncoder`` (Vaswani et al., "Attention is all you need", NeurIPS 2017), and
``nn.MultiheadAttention`` for self-attention (one tensor as query, key and value).

The tracer (:mod:`mpc.nn.trace`) meets such a module as one call and asks :func:`expand` for its
nodes: the same computation as torch's (its slow path, which is the definition), written with the
layers every traced model uses, so inference, training and every gradient come for free:

- self-attention: one Linear with the packed in_proj weight (E -> 3E; its state_dict keys are
  torch's ``in_proj_weight``/``in_proj_bias``), q, k, v sliced from it, split into heads
  (reshape, permute), scores q k^T / sqrt(d), softmax, dropout on the weights, the weighted sum,
  heads merged, out_proj, dropout;
- feed-forward: linear1, ReLU or GELU, dropout, linear2, dropout;
- the residual additions and the two LayerNorms, before (``norm_first``) or after each block;
- ``batch_first=False`` (torch's default, (T, B, E)) transposed to (B, T, E) and back.
A TransformerEncoder is its layers in turn, then its optional final norm.

Rounds for 2 parties, one layer (E = 16, 2 heads, T = 8 tokens, a batch of 4, feed-forward 32;
measured, semi2k): inference 107 with ReLU, 112 with GELU (0.52 and 1.45 MB sent by each party);
training forward 109 / 112, backward 32 / 35. The two LayerNorms (29 each) and the softmax are
most of it. Dropout in training uses mpc.nn's public masks (so a run with dropout does not
follow torch's step for step).

Not supported (ConfigError before any message): masks or ``is_causal`` (the module called with
more than its input; write the attention with Linear layers and ``masked_fill`` instead), kdim or
vdim different from the embedding size, ``add_bias_kv``, ``add_zero_attn``, activations other
than ReLU and GELU, and a module called twice. A MultiheadAttention returns (output, None): its
attention weights are never computed, whatever ``need_weights`` says; cross-attention (different
query, key and value) is not supported.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable
from typing import Any

import torch.nn as tnn
import torch.nn.functional as TF

from mpc.errors import ConfigError
from mpc.nn.layers.activation import GELU, ReLU, Softmax
from mpc.nn.layers.dense import Linear
from mpc.nn.layers.norm import LayerNorm
from mpc.nn.layers.products import MatMul, Mul
from mpc.nn.layers.structure import Add, Dropout, Index, Permute, Reshape, ShapeOf

__all__ = ["EXPANDED", "expand", "expand_attention"]

EXPANDED = (tnn.TransformerEncoderLayer, tnn.TransformerEncoder)

Emit = Callable[[Any, tuple], Any]  # (layer, arguments) -> a handle for the layer's output


def expand(name: str, module: Any, x: Any, emit: Emit) -> Any:
    """Emit the nodes of ``module`` (one of :data:`EXPANDED`) applied to ``x``; the output's handle."""
    if isinstance(module, tnn.TransformerEncoder):
        for i, layer in enumerate(module.layers):
            x = _encoder_layer(_at(name, f"layers.{i}"), layer, x, emit)
        return x if module.norm is None else emit(_norm(_at(name, "norm"), module.norm), (x,))
    return _encoder_layer(name, module, x, emit)


def _at(name: str, part: str) -> str:
    """The torch name of a submodule (the model itself has the name "")."""
    return f"{name}.{part}" if name else part


def _norm(name: str, module: Any) -> LayerNorm:
    if not isinstance(module, tnn.LayerNorm):
        raise ConfigError(f"from_torch: layer {name!r}: a {type(module).__name__} norm is not supported (LayerNorm is)")
    return LayerNorm(name, module)


def _activation(name: str, act: Any):
    if act is TF.relu or isinstance(act, tnn.ReLU):
        return ReLU(name)
    if act is TF.gelu:
        return GELU(name)
    if isinstance(act, tnn.GELU):
        return GELU(name, act.approximate)
    raise ConfigError(f"from_torch: layer {name!r}: the activation {act!r} is not supported (relu and gelu are)")


def _dropout(name: str, p: float, x: Any, emit: Emit) -> Any:
    return emit(Dropout(name, p), (x,)) if p > 0 else x


def _check_attention(name: str, attn: Any) -> None:
    if not attn._qkv_same_embed_dim or attn.bias_k is not None or attn.add_zero_attn:
        raise ConfigError(f"from_torch: layer {name!r} ({type(attn).__name__}): kdim/vdim, add_bias_kv and "
                          "add_zero_attn are not supported")


def _self_attention(s: str, attn: Any, t: Any, emit: Emit) -> Any:
    """MultiheadAttention ``attn`` (named ``s``) of t with itself, t (B, T, E): the module
    docstring's steps up to out_proj."""
    e, h = int(attn.embed_dim), int(attn.num_heads)
    d = e // h
    b = emit(ShapeOf(f"{s}.batch", "size"), (t, 0))
    n = emit(ShapeOf(f"{s}.tokens", "size"), (t, 1))
    packed = types.SimpleNamespace(in_features=e, out_features=3 * e, weight=attn.in_proj_weight, bias=attn.in_proj_bias)
    qkv = emit(Linear(f"{s}.in_proj", packed, (f"{s}.in_proj_weight", f"{s}.in_proj_bias")), (t,))

    def heads(i: int, tag: str) -> Any:  # (B, T, E) slice i -> (B, H, T, d)
        part = emit(Index(f"{s}.{tag}"), (qkv, (Ellipsis, slice(i * e, (i + 1) * e))))
        split = emit(Reshape(f"{s}.{tag}_heads"), (part, b, n, h, d))
        return emit(Permute(f"{s}.{tag}_order", False), (split, 0, 2, 1, 3))

    q, k, v = heads(0, "q"), heads(1, "k"), heads(2, "v")
    kt = emit(Permute(f"{s}.k_t", True), (k, -2, -1))
    scores = emit(Mul(f"{s}.scale"), (emit(MatMul(f"{s}.scores"), (q, kt)), 1.0 / math.sqrt(d)))
    weights = _dropout(f"{s}.dropout", float(attn.dropout), emit(Softmax(f"{s}.softmax", -1), (scores,)), emit)
    mixed = emit(Permute(f"{s}.merge_order", False), (emit(MatMul(f"{s}.mix"), (weights, v)), 0, 2, 1, 3))
    merged = emit(Reshape(f"{s}.merge"), (mixed, b, n, e))
    return emit(Linear(f"{s}.out_proj", attn.out_proj), (merged,))


def expand_attention(name: str, attn: Any, x: Any, emit: Emit) -> Any:
    """A MultiheadAttention module called on one tensor as query, key and value (self-attention):
    its output (torch's first result; the attention weights are not computed)."""
    _check_attention(name, attn)
    return _batch_first(name, attn.batch_first, x, emit, lambda t: _self_attention(name, attn, t, emit))


def _batch_first(name: str, batch_first: bool, x: Any, emit: Emit, body: Callable[[Any], Any]) -> Any:
    """body on (B, T, E): torch's default (T, B, E) transposed in and out around it."""
    if batch_first:
        return body(x)
    out = body(emit(Permute(_at(name, "batch_first"), True), (x, 0, 1)))
    return emit(Permute(_at(name, "batch_last"), True), (out, 0, 1))


def _encoder_layer(name: str, m: Any, x: Any, emit: Emit) -> Any:
    attn = m.self_attn
    _check_attention(_at(name, "self_attn"), attn)

    def attention(t: Any) -> Any:
        return _dropout(_at(name, "dropout1"), m.dropout1.p, _self_attention(_at(name, "self_attn"), attn, t, emit), emit)

    def feed_forward(t: Any) -> Any:
        u = emit(_activation(_at(name, "activation"), m.activation), (emit(Linear(_at(name, "linear1"), m.linear1), (t,)),))
        u = _dropout(_at(name, "dropout"), m.dropout.p, u, emit)
        return _dropout(_at(name, "dropout2"), m.dropout2.p, emit(Linear(_at(name, "linear2"), m.linear2), (u,)), emit)

    norm1, norm2 = _norm(_at(name, "norm1"), m.norm1), _norm(_at(name, "norm2"), m.norm2)

    def block(x: Any) -> Any:
        if m.norm_first:
            x = emit(Add(_at(name, "residual1")), (x, attention(emit(norm1, (x,)))))
            return emit(Add(_at(name, "residual2")), (x, feed_forward(emit(norm2, (x,)))))
        x = emit(norm1, (emit(Add(_at(name, "residual1")), (x, attention(x))),))
        return emit(norm2, (emit(Add(_at(name, "residual2")), (x, feed_forward(x))),))

    return _batch_first(name, attn.batch_first, x, emit, block)
