"""Products of activations, as attention computes them: ``a @ b`` of two secret tensors
(``torch.matmul``, ``torch.bmm``, ``@``), elementwise ``a * b`` (gates), and the product or
quotient of an activation and a public number (``scores / math.sqrt(d)``, ``x * 0.5``).

Costs for 2 parties (the SecretTensor operations':
:meth:`~mpc.tensor.secret_tensor.SecretTensor.__matmul__` and ``__mul__``):
- MatMul: 1 round (plus 1 for the operands' pending truncations, batched); training keeps the
  operands for the backward da = g b^T, db = a^T g (2 products, 1 round each, summed over
  broadcast batch dimensions). NumPy's/torch's matmul semantics for operands of 2 or more
  dimensions (batch dimensions broadcast).
- Mul of two tensors: 1 round; backward g b and g a (1 round each). By a public number c:
  local for an integer c, else one division round when the operand's truncation is pending
  (:meth:`~mpc.tensor.secret_tensor.SecretTensor._mul_public`); backward g c.
- ``x / c`` for a public number c is traced as Mul by 1 / c (:mod:`mpc.nn.trace`).
Security: the engines' (these are SecretTensor products); nothing is revealed.
"""

from __future__ import annotations

import numbers

from mpc.errors import ConfigError
from mpc.nn.layers.base import Ctx, Layer, State, truncate_all
from mpc.nn.tape import reduce_to
from mpc.tensor.secret_tensor import SecretTensor

__all__ = ["MatMul", "Mul"]


def _swap(t: SecretTensor) -> SecretTensor:
    """t with its last two axes exchanged (local)."""
    axes = list(range(t.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return t.transpose(axes)


class MatMul(Layer):
    kind = "MatMul"

    def forward(self, ctx: Ctx, args: tuple, state: State) -> SecretTensor:
        a, b = args
        if not (isinstance(a, SecretTensor) and isinstance(b, SecretTensor)):
            raise ValueError(f"{self.name} (matmul): both operands must be activations (secret tensors)")
        if a.ndim < 2 or b.ndim < 2:
            raise ValueError(f"{self.name} (matmul): operands need 2 or more dimensions, got {a.shape} and {b.shape}")
        if state.training:
            a, b = truncate_all(a, b)  # one round for both; kept for the backward at base scale
            ctx.a, ctx.b = a, b
        return a @ b

    def backward(self, ctx: Ctx, g: SecretTensor, needs: list[bool]):
        a, b = ctx.a, ctx.b
        da = reduce_to(g @ _swap(b), a.shape) if needs[0] else None
        db = reduce_to(_swap(a) @ g, b.shape) if needs[1] else None
        return [da, db], []


class Mul(Layer):
    """a * b: two activations (broadcasting), or an activation and a public number."""

    kind = "Mul"

    def forward(self, ctx: Ctx, args: tuple, state: State) -> SecretTensor:
        a, b = args
        if not isinstance(a, SecretTensor):
            a, b = b, a
        if not isinstance(b, SecretTensor):
            if not isinstance(b, numbers.Real) or isinstance(b, bool):
                raise ConfigError(f"from_torch: node {self.name!r}: a product with {type(b).__name__} is not supported "
                                  "(an activation times an activation or a number)")
            ctx.c = float(b)
            return a * b
        ctx.c, ctx.a, ctx.b = None, a, b  # a pending truncation folds into each product's round
        return a * b

    def backward(self, ctx: Ctx, g: SecretTensor, needs: list[bool]):
        if ctx.c is not None:
            return [g * ctx.c if needs[0] else None], []
        a, b = ctx.a, ctx.b
        return [reduce_to(g * b, a.shape) if needs[0] else None, reduce_to(g * a, b.shape) if needs[1] else None], []
