"""Optimisers: SGD (momentum, dampening, Nesterov, weight decay) and Adam, with torch's update
rules, over secret parameters and gradients.

All parameters with a gradient are updated together: gradients, parameters and state are
flattened into one vector (local), so each step costs the rounds of one update whatever the
number of parameter tensors. Gradients arrive as the gradient of the summed loss with its
``grad_scale`` M (:mod:`mpc.nn.tape`); the 1/M is folded into the public constants (M of the
first step: a later batch of another size, such as the last, shorter one, has its gradient
rescaled to it first, one round, so that momentum and moments stay in one unit), and every
public scaling goes through :func:`mpc.nn.scaling.mul_const` (12 significant bits of the
constant, one round), since lr / M (1.6e-4 for lr = 0.01, M = 64) would keep 3 significant bits
encoded at f = 16. Parameters and state stay at scale 2f (see :mod:`mpc.nn.scaling`): updates
far below 2^-f accumulate instead of being truncated away.

SGD (torch.optim.SGD): g = G + M wd p; buf = g on the first step, then buf = mu buf +
(1 - dampening) g; d = g + mu buf (Nesterov) or buf; p -= (lr / M) d. Rounds per step: 1
(no momentum), 2 (momentum), +1 with weight decay, +1 with Nesterov.

Adam (Kingma and Ba, ICLR 2015; torch.optim.Adam, L2 weight decay): m += (1 - b1)(g - m),
v += (1 - b2)(g^2 - v), v_hat = v / (1 - b2^t), p -= lr / (1 - b1^t) m rsqrt(v_hat + e^2) with
e = M eps (M g is what is stored: Adam's step does not change when g is scaled, eps aside). Two
departures from torch, both for fixed point: the denominator is sqrt(v_hat + e^2) rather than
sqrt(v_hat) + e (one :func:`mpc.functions.rsqrt` instead of a square root and a reciprocal),
and e is at least 2^-12 in units of the summed gradient (torch's eps = 1e-8 is below the
fixed-point resolution: a parameter whose gradient is 0 up to rounding would otherwise get an
update of lr times that rounding error over 1e-8). So a step is torch's (to ~1e-3 relative)
where |M g| >> 2^-12, and smaller where the gradient is that close to 0, where torch still moves
by up to lr. Rounds per step: 31 (square 1, moments 2, bias correction 1, rsqrt 26, product 1,
scaling 1).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import mpc.functions as F
from mpc.errors import ConfigError, ShareTypeError
from mpc.nn.scaling import lift, mul_const
from mpc.nn.tape import Parameter
from mpc.tensor.functions import concatenate
from mpc.tensor.secret_tensor import SecretTensor

__all__ = ["Optimizer", "SGD", "Adam", "ADAM_EPS_FLOOR"]

ADAM_EPS_FLOOR = 2.0**-12


def _positive(name: str, value: float, allow_zero: bool = True) -> float:
    v = float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ConfigError(f"{name}: expected a {'non-negative' if allow_zero else 'positive'} number, got {value!r}")
    return v


class Optimizer:
    """Common part: the parameter list, ``zero_grad`` and the flattened step."""

    def __init__(self, params: Iterable[Parameter], lr: float) -> None:
        self.params = list(params)
        if not self.params:
            raise ConfigError("optimizer: the parameter list is empty")
        for i, p in enumerate(self.params):
            if not isinstance(p, Parameter):
                raise ShareTypeError(f"optimizer: parameter {i} is a {type(p).__name__}, not an mpc.nn Parameter "
                                     "(pass enc.parameters())")
        self.lr = _positive("lr", lr, allow_zero=False)
        self.state: dict[int, dict] = {id(p): {} for p in self.params}
        self.ref_scale: int | None = None

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def _groups(self) -> list[tuple[int, list[Parameter]]]:
        """Parameters with a gradient, grouped by grad_scale (one group after one backward)."""
        groups: dict[int, list[Parameter]] = {}
        for p in self.params:
            if p.grad is not None:
                groups.setdefault(p.grad_scale, []).append(p)
        return sorted(groups.items())

    @staticmethod
    def _flat(tensors: list[SecretTensor]) -> SecretTensor:
        return concatenate([t.reshape(-1) for t in tensors])

    @staticmethod
    def _split(flat: SecretTensor, params: list[Parameter]) -> list[SecretTensor]:
        out, offset = [], 0
        for p in params:
            size = p.data.size
            out.append(flat[offset : offset + size].reshape(p.shape))
            offset += size
        return out

    def step(self) -> None:
        for scale, params in self._groups():
            g = lift(self._flat([p.grad for p in params]))
            # state (momentum, moments) is kept in units of the first step's scale: a batch of
            # another size (the last, shorter one) is brought to it, or the state would mix units
            if self.ref_scale is None:
                self.ref_scale = scale
            elif scale != self.ref_scale:
                g = mul_const(g, self.ref_scale / scale)
            update = self._update(self.ref_scale, params, g)
            for p, u in zip(params, self._split(update, params), strict=True):
                p.data = p.data - u

    def _update(self, scale: int, params: list[Parameter], g: SecretTensor) -> SecretTensor:  # pragma: no cover
        raise NotImplementedError

    def _state(self, params: list[Parameter], key: str) -> SecretTensor | None:
        parts = [self.state[id(p)].get(key) for p in params]
        if any(s is None for s in parts):
            return None
        return self._flat(parts)

    def _store(self, params: list[Parameter], key: str, flat: SecretTensor) -> None:
        for p, part in zip(params, self._split(flat, params), strict=True):
            self.state[id(p)][key] = part


class SGD(Optimizer):
    """torch.optim.SGD's rule (see the module docstring)."""

    def __init__(self, params: Iterable[Parameter], lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(params, lr)
        self.momentum = _positive("momentum", momentum)
        self.dampening = _positive("dampening", dampening)
        self.weight_decay = _positive("weight_decay", weight_decay)
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum == 0 or self.dampening != 0):
            raise ConfigError("SGD: nesterov=True needs momentum > 0 and dampening = 0")

    def _update(self, scale: int, params: list[Parameter], g: SecretTensor) -> SecretTensor:
        if self.weight_decay:
            g = g + mul_const(self._flat([p.data for p in params]), self.weight_decay * scale)
        d = g
        if self.momentum:
            buf = self._state(params, "momentum_buffer")
            if buf is None:
                buf = g
            else:
                damp = g if self.dampening == 0 else mul_const(g, 1.0 - self.dampening)
                buf = mul_const(buf, self.momentum) + damp
            self._store(params, "momentum_buffer", buf)
            d = g + mul_const(buf, self.momentum) if self.nesterov else buf
        return mul_const(d, self.lr / scale)


class Adam(Optimizer):
    """torch.optim.Adam's rule with the two fixed-point departures of the module docstring."""

    def __init__(self, params: Iterable[Parameter], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        super().__init__(params, lr)
        b1, b2 = (float(b) for b in betas)
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ConfigError(f"Adam: betas must be in [0, 1), got {betas!r}")
        if amsgrad:
            raise ConfigError("Adam: amsgrad=True is not supported")
        self.betas = (b1, b2)
        self.eps = _positive("eps", eps)
        self.weight_decay = _positive("weight_decay", weight_decay)
        self.t = 0

    def _update(self, scale: int, params: list[Parameter], g: SecretTensor) -> SecretTensor:
        b1, b2 = self.betas
        if self.weight_decay:
            g = g + mul_const(self._flat([p.data for p in params]), self.weight_decay * scale)
        self.t += 1
        m, v = self._state(params, "exp_avg"), self._state(params, "exp_avg_sq")
        g2 = g.square()
        m = mul_const(g, 1.0 - b1) if m is None else m + mul_const(g - m, 1.0 - b1)
        v = mul_const(g2, 1.0 - b2) if v is None else v + mul_const(g2 - v, 1.0 - b2)
        self._store(params, "exp_avg", m)
        self._store(params, "exp_avg_sq", v)
        # the second moment bias-corrected first: the floor on eps then means the same at every t
        v_hat = mul_const(v, 1.0 / (1.0 - b2**self.t))
        e = max(scale * self.eps, ADAM_EPS_FLOOR)
        return mul_const(m * F.rsqrt(v_hat + e * e), self.lr / (1.0 - b1**self.t))
