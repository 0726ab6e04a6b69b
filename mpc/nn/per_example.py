"""Per-example gradients for DP-SGD: their norms, and sums weighted per example.

DP-SGD (:class:`mpc.dp.DPSGD`) clips each example's gradient to a norm C before summing. Here
that takes two passes over what one backward computes, never the N per-example gradients of a
Linear layer themselves:

1. ``loss.backward(per_example=True)`` runs the tape (:meth:`mpc.nn.tape.Tape.backward`) with
   the input gradients only; each layer with parameters keeps its context and output gradient
   g (for a loss averaged over the batch, g is the gradient of the *summed* loss, so row i is
   example i's own). It returns a :class:`PerExampleGrads`.
2. :meth:`PerExampleGrads.sq_norms`: ||grad_i||^2 over all parameters, a secret (N,) vector:
   each layer's ``per_example_sq_norms`` (Linear on 2-d input: ||g_i||^2 (||x_i||^2 + 1), four
   rounds; Conv2d and Linear on N-d input: the per-example weight gradients as one stack of
   matrix products, squared).
3. :meth:`PerExampleGrads.accumulate` with secret weights c (N,): every parameter gradient is
   linear in its layer's output gradient, and a layer's g_i is example i's, so
   sum_i c_i grad_i is each layer's ordinary parameter gradient of (c_i g_i)_i: one product
   (c broadcast over each g) and the layer's usual weight-gradient product.
Layers whose parameters mix the examples of a batch (BatchNorm) have no per-example gradient:
ConfigError before any message (as in Opacus).

The per-example loss is the example's summed loss (the tape's gradient is the summed loss's):
for cross entropy and a one-column BCEWithLogitsLoss, torch's per-example loss; for a loss over
k outputs per example, k times the mean over them.
"""

from __future__ import annotations

from typing import Any

from mpc.errors import ShareTypeError
from mpc.tensor.secret_tensor import SecretTensor

__all__ = ["PerExampleGrads"]


class PerExampleGrads:
    """What a per-example backward left: (layer, context, output gradient) per layer with
    parameters, and the batch size (see the module docstring)."""

    def __init__(self, records: list[tuple[Any, Any, SecretTensor]], batch: int) -> None:
        self.records, self.batch = list(records), int(batch)

    def __repr__(self) -> str:
        return f"PerExampleGrads(layers={len(self.records)}, batch={self.batch})"

    @property
    def params(self) -> list:
        """The parameters these gradients are for (each once, in layer order)."""
        seen: dict[int, Any] = {}
        for layer, _, _ in reversed(self.records):
            for p in layer.params.values():
                seen.setdefault(id(p), p)
        return list(seen.values())

    def sq_norms(self) -> SecretTensor:
        """||grad_i||^2 summed over every parameter, shape (batch,) (secret)."""
        total = None
        for layer, ctx, g in self.records:
            part = layer.per_example_sq_norms(ctx, g)
            total = part if total is None else total + part
        if total is None:
            raise ShareTypeError("sq_norms: no layer with parameters was differentiated")
        return total

    def accumulate(self, weights: SecretTensor, scale: int) -> None:
        """p.grad += sum_i weights_i grad_i (p.grad_scale = ``scale``) for every parameter."""
        if not isinstance(weights, SecretTensor) or weights.shape != (self.batch,):
            raise ShareTypeError(f"accumulate: expected a secret vector of shape ({self.batch},), got "
                                 f"{getattr(weights, 'shape', type(weights).__name__)}")
        touched: dict[int, tuple[Any, SecretTensor]] = {}
        for layer, ctx, g in self.records:
            gw = g * weights.reshape((self.batch,) + (1,) * (g.ndim - 1))
            for p, gp in layer.param_grads(ctx, gw):
                key = id(p)
                touched[key] = (p, touched[key][1] + gp) if key in touched else (p, gp)
        for p, gp in touched.values():
            p.accumulate(gp, scale)
