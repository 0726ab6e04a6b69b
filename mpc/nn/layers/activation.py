"""Activations: ReLU, LeakyReLU, Hardtanh (and ReLU6), GELU, SiLU, Sigmoid, Tanh, Softmax,
LogSoftmax (modules and their functional forms).

Costs for 2 parties (8 rounds per comparison, :mod:`mpc.tensor.compare`; the functions of
:mod:`mpc.functions`):
- ReLU: inference ``x.relu()`` (8 rounds). Training needs the mask [x > 0] again for the
  backward, so it computes m = [x > 0] (8 rounds) and y = m x (1 round), and the backward is
  g m (1 round). (A relu that also returned its mask would save the product round.)
- LeakyReLU(a), 0 <= a <= 1: inference max(x, a x) (8 rounds); training y = x (a + (1 - a) m)
  with m = [x > 0] (9 rounds), backward g (a + (1 - a) m) (1 round).
- Hardtanh(lo, hi), lo < hi (ReLU6 is Hardtanh(0, 6)): inference and training ``x.clip(lo, hi)``,
  training with its mask [lo < x < hi] from the same circuit (``with_mask``: 8 rounds);
  backward g m (1 round).
- GELU (Hendrycks and Gimpel, 2016), in its tanh form for both of torch's ``approximate``
  settings: y = x (1 + tanh(u)) / 2 with u = sqrt(2 / pi) (x + 0.044715 x^3); torch's exact
  (erf) GELU differs from it by at most 4.8e-4 (at x = -2.70). Forward: x^2, x^3, tanh, x (1 + t)
  / 2: 11 rounds; backward from 2 dy/dx = 1 + t + (1 - t^2)(u + 2 sqrt(2 / pi) 0.044715 x^3):
  4 rounds (measured, 2 parties).
- SiLU (x sigmoid(x), Elfwing, Uchibe and Doya, 2018): the sigmoid, then one product; backward
  g (s + y (1 - s)): 9 rounds forward, 2 backward (2 parties).
- Sigmoid, Tanh: :func:`mpc.functions.sigmoid` / ``tanh`` (8 rounds under semi2k, 2 parties); backward
  g y (1 - y) / g (1 - y^2) (2 rounds).
- Softmax(dim): :func:`mpc.functions.softmax` (31 rounds for 10 entries under semi2k, 2 parties);
  backward y (g - sum(g y)) (2 rounds).
- LogSoftmax(dim): :func:`mpc.functions.log_softmax` (31 rounds for 10 entries); backward
  g - exp(y) sum(g) (exp: 13 rounds, then 1).
"""

from __future__ import annotations

import math

import mpc.functions as F
from mpc.errors import ConfigError
from mpc.nn.layers.base import Ctx, Layer, State
from mpc.tensor.secret_tensor import SecretTensor

__all__ = ["ReLU", "LeakyReLU", "Hardtanh", "GELU", "SiLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax"]


class ReLU(Layer):
    kind = "ReLU"

    def forward(self, ctx: Ctx, args: tuple, state: State) -> SecretTensor:
        (x,) = args
        if not state.training:
            return x.relu()
        ctx.mask = x > 0
        return x * ctx.mask

    def backward(self, ctx: Ctx, g: SecretTensor, needs: list[bool]):
        return [g * ctx.mask if needs[0] else None], []


class LeakyReLU(Layer):
    kind = "LeakyReLU"

    def __init__(self, name: str, slope: float) -> None:
        super().__init__(name)
        self.slope = float(slope)
        if not 0.0 <= self.slope <= 1.0:
            raise ConfigError(f"layer {name!r} (torch.nn.LeakyReLU): negative_slope={slope} is not supported "
                              "(only 0 <= negative_slope <= 1)")

    def config(self) -> str:
        return f"slope={self.slope!r}"

    def forward(self, ctx: Ctx, args: tuple, state: State) -> SecretTensor:
        (x,) = args
        if not state.training:
            return x.maximum(x * self.slope)
        ctx.factor = (x > 0) * (1.0 - self.slope) + self.slope
        return x * ctx.factor

    def backward(self, ctx: Ctx, g: SecretTensor, needs: list[bool]):
        return [g * ctx.factor if needs[0] else None], []


class Hardtanh(Layer):
    kind = "Hardtanh"

    def __init__(self, name: str, lo: float, hi: float) -> None:
        super().__init__(name)
        self.lo, self.hi = float(lo), float(hi)
        if not self.lo < self.hi:
            raise ConfigError(f"layer {name!r} (torch.nn.Hardtanh): min_val={lo} must be below max_val={hi}")

    def config(self) -> str:
        return f"lo={self.lo!r},hi={self.hi!r}"

    def forward(self, ctx: Ctx, args: tuple, state: State) -> SecretTensor:
        (x,) = args
        if not state.training:
            return x.clip(self.lo, self.hi)
        y, ctx.mask = x.clip(self.lo, self.hi, with_mask=True)
        return y

    def backward(self, ctx: Ctx, g: SecretTensor, needs: list[bool]):
        return [g * ctx.mask if needs[0] else None], []


_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_A = 0.044715


class GELU(Layer):
    kind = "GELU"

    def __init__(self, name: str, approximate: str = "none") -> None:
        super().__init__(name)
        if approximate not in ("none", "tanh"):
            raise ConfigError(f"layer {name!r} (torch.nn.GELU): approximate={approximate!r} is not supported")
        self.approximate = approximate  # both computed in the tanh form (module docstring)

    def config(self) -> str:
        return f"approximate={self.approximate!r}"

    def forward(self, ctx: Ctx, args: tuple, state: State) -> SecretTensor:
        (x,) = args
        x = x.truncate()
        # u = C x + C A x^3: the public factors go on base-scale operands (local), so every
        # pending truncation folds into the next product's round
        cubic = x.square() * (x * (_GELU_C * _GELU_A))
        u = x * _GELU_C + cubic
        t = F.tanh(u)
        ctx.t, ctx.w = t, u + cubic * 2  # 2 dy/dx = 1 + t + (1 - t^2) (u + 2 C A x^3)
        return (x * 0.5) * (t + 1.0)

    def backward(self, ctx: Ctx, g: SecretTensor, needs: list[bool]):
        if not needs[0]:
            return [None], []
        t = ctx.t
        twice = (1.0 - t.square()) * ctx.w + (t + 1.0)  # 2 dy/dx
        return [(g * 0.5) * twice], []


class SiLU(Layer):
    kind = "SiLU"

    def forward(self, ctx: Ctx, args: tuple, state: State) -> SecretTensor:
        (x,) = args
        s = F.sigmoid(x)
        y = x * s
        ctx.s, ctx.y = s, y
        return y

    def backward(self, ctx: Ctx, g: SecretTensor, needs: list[bool]):
        if not needs[0]:
            return [None], []
        s, y = ctx.s, ctx.y
        return [g * (y * (1.0 - s) + s)], []


class Sigmoid(Layer):
    kind = "Sigmoid"

    def forward(self, ctx: Ctx, args: tuple, state: State) -> SecretTensor:
        y = F.sigmoid(args[0])
        ctx.y = y
        return y

    def backward(self, ctx: Ctx, g: SecretTensor, needs: list[bool]):
        if not needs[0]:
            return [None], []
        y = ctx.y
        return [g * (y - y.square())], []


class Tanh(Layer):
    kind = "Tanh"

    def forward(self, ctx: Ctx, args: tuple, state: State) -> SecretTensor:
        y = F.tanh(args[0])
        ctx.y = y
        return y

    def backward(self, ctx: Ctx, g: SecretTensor, needs: list[bool]):
        if not needs[0]:
            return [None], []
        return [g * (1.0 - ctx.y.square())], []


class _Along(Layer):
    def __init__(self, name: str, dim) -> None:
        super().__init__(name)
        if dim is None:
            raise ConfigError(f"layer {name!r} (torch.nn.{self.kind}): dim=None (implicit dimension) is not "
                              "supported; give dim explicitly")
        self.dim = int(dim)

    def config(self) -> str:
        return f"dim={self.dim}"

    def _axis(self, x: SecretTensor) -> int:
        if not -x.ndim <= self.dim < x.ndim:
            raise ValueError(f"{self.name} ({self.kind}): dim={self.dim} out of range for shape {x.shape}")
        return self.dim % x.ndim


class Softmax(_Along):
    kind = "Softmax"

    def forward(self, ctx: Ctx, args: tuple, state: State) -> SecretTensor:
        (x,) = args
        ctx.axis = self._axis(x)
        ctx.y = F.softmax(x, axis=ctx.axis)
        return ctx.y

    def backward(self, ctx: Ctx, g: SecretTensor, needs: list[bool]):
        if not needs[0]:
            return [None], []
        gy = g * ctx.y
        return [gy - ctx.y * gy.sum(axis=ctx.axis, keepdims=True)], []


class LogSoftmax(_Along):
    kind = "LogSoftmax"

    def forward(self, ctx: Ctx, args: tuple, state: State) -> SecretTensor:
        (x,) = args
        ctx.axis = self._axis(x)
        ctx.y = F.log_softmax(x, axis=ctx.axis)
        return ctx.y

    def backward(self, ctx: Ctx, g: SecretTensor, needs: list[bool]):
        if not needs[0]:
            return [None], []
        return [g - F.exp(ctx.y) * g.sum(axis=ctx.axis, keepdims=True)], []
