"""BatchNorm1d / BatchNorm2d (Ioffe and Szegedy, ICML 2015): a real layer in training, folded
into the layer before it in inference; LayerNorm (Ba, Kiros and Hinton, 2016): the same
normalisation over each sample's last dimensions, in inference and training alike.

Training, over the M = N (x H x W) values of each channel (torch's semantics: biased variance to
normalise, unbiased variance in the running estimate):
1. mu = sum(x) / M, d = x - mu, var = sum(d^2) / M (1 round for d^2, 1 for each division);
2. inv = rsqrt(var + eps) (:func:`mpc.functions.rsqrt`, 26 rounds, per channel);
3. xhat = d inv, y = gamma xhat + beta (1 round each);
4. running_mean, running_var updated with ``momentum`` (1 round for the public products).
Backward (g the output gradient): dgamma = sum(g xhat), dbeta = sum(g), and
dx = inv (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) with dxhat = g gamma: 4 rounds.

Inference: s = gamma rsqrt(running_var + eps), t = beta - running_mean s. When the BatchNorm
reads only the output of a Linear or Conv2d, that layer uses W s and b s + t and the BatchNorm
is the identity (no cost); otherwise y = x s + t (1 round). The folded values are computed by
the owner in the clear when the model is shared (so a shared model's inference pays nothing
for them) and recomputed in MPC (rsqrt: 26 rounds, then 3 products) only after training has
changed a parameter or a running statistic.

Not supported (ConfigError): ``track_running_stats=False``, ``momentum=None`` (cumulative
averaging).

LayerNorm(normalized_shape): steps 1-3 over the normalized (last) dimensions of each sample, the
same code as BatchNorm's training (:func:`normalize`), in inference too (there are no running
statistics to fold); the backward is BatchNorm's formula over those dimensions
(:func:`normalize_backward`), dgamma and dbeta summed over the leading dimensions. Cost: as
BatchNorm's training: 29 rounds forward (rsqrt's 26 among them) and 5 backward (2 parties).
"""

from __future__ import annotations

import math

import numpy as np

import mpc.functions as F
from mpc.errors import ConfigError
from mpc.nn.layers.base import Ctx, Layer, State, truncate_all
from mpc.nn.scaling import zeros
from mpc.tensor.functions import concatenate, stack
from mpc.tensor.secret_tensor import SecretTensor

__all__ = ["BatchNorm", "LayerNorm", "fold_plain", "normalize", "normalize_backward"]


def fold_plain(values: dict[str, np.ndarray], eps: float, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """(s, t) in float64 from the owner's BatchNorm values (see the module docstring)."""
    gamma = values.get("weight", np.ones(channels))
    beta = values.get("bias", np.zeros(channels))
    s = gamma / np.sqrt(values["running_var"] + eps)
    return s, beta - values["running_mean"] * s


def normalize(x: SecretTensor, axes: tuple[int, ...], eps: float) -> tuple[SecretTensor, SecretTensor, SecretTensor, SecretTensor]:
    """(mu, var, xhat, inv) of x over ``axes`` (steps 1-3; the variance biased, as torch's
    normalisation): mu and var keep the reduced dimensions (size 1)."""
    m = math.prod(x.shape[a] for a in axes)
    mu = x.sum(axis=axes, keepdims=True) / m
    d = x - mu
    var = d.square().sum(axis=axes, keepdims=True) / m
    inv = F.rsqrt(var + eps)
    return mu, var, d * inv, inv


def normalize_backward(dxhat: SecretTensor, xhat: SecretTensor, inv: SecretTensor, axes: tuple[int, ...]) -> SecretTensor:
    """dx = inv (dxhat - mean(dxhat) - xhat mean(dxhat xhat)), the means over ``axes``: the
    gradient through :func:`normalize` (both means divided in one round)."""
    m = math.prod(xhat.shape[a] for a in axes)
    s1 = dxhat.sum(axis=axes, keepdims=True)
    s2 = (dxhat * xhat).sum(axis=axes, keepdims=True)
    k = s1.size
    means = concatenate([s1.reshape(-1), s2.reshape(-1)]) / m
    return (dxhat - means[:k].reshape(s1.shape) - xhat * means[k:].reshape(s1.shape)) * inv


class BatchNorm(Layer):
    def __init__(self, name: str, module, dims: int) -> None:
        super().__init__(name)
        self.kind = f"BatchNorm{dims}d"
        where = f"layer {name!r} (torch.nn.{self.kind})"
        if not module.track_running_stats:
            raise ConfigError(f"{where}: track_running_stats=False is not supported")
        if module.momentum is None:
            raise ConfigError(f"{where}: momentum=None (cumulative moving average) is not supported")
        self.dims = dims
        self.channels = int(module.num_features)
        self.eps, self.momentum = float(module.eps), float(module.momentum)
        if module.affine:
            self.add_weight_bias(module)
        self.add_buffer("running_mean", module.running_mean)
        self.add_buffer("running_var", module.running_var)
        self.tracked = 0  # training batches seen here (torch's num_batches_tracked counts them too)
        self.producer = None  # the Linear / Conv2d folded into, set by the tracer
        self._cache: dict[str, tuple[tuple, tuple]] = {}

    def config(self) -> str:
        return f"{self.channels},eps={self.eps!r},momentum={self.momentum!r},affine={'weight' in self.params}"

    # -- shapes

    def _axes(self, x: SecretTensor) -> tuple[tuple[int, ...], tuple[int, ...]]:
        ok = (x.ndim in (2, 3)) if self.dims == 1 else (x.ndim == 4)
        if not ok or x.shape[1] != self.channels:
            want = "(N, C) or (N, C, L)" if self.dims == 1 else "(N, C, H, W)"
            raise ValueError(f"{self.name} ({self.kind}): input of shape {x.shape}, expected {want} with C = {self.channels}")
        axes = (0, *range(2, x.ndim))
        return axes, (1, self.channels) + (1,) * (x.ndim - 2)

    # -- inference: the folded affine map

    def _key(self, producer=None) -> tuple:
        slots = [s for _, s in self.slots()]
        if producer is not None:
            slots += [s for _, s in producer.slots()]
        return tuple(s.version for s in slots)

    def seed(self, affine: tuple[SecretTensor, SecretTensor], folded: tuple | None) -> None:
        """Install the owner's folded values (shared with the parameters) as the current cache."""
        self._cache["affine"] = (self._key(), affine)
        if folded is not None and self.producer is not None:
            self._cache["producer"] = (self._key(self.producer), folded)

    def affine(self) -> tuple[SecretTensor, SecretTensor]:
        """(s, t) per channel; recomputed in MPC when a slot changed since they were made."""
        key = self._key()
        hit = self._cache.get("affine")
        if hit is not None and hit[0] == key:
            return hit[1]
        rv, rm = self.p("running_var"), self.p("running_mean")
        inv = F.rsqrt(rv + self.eps)
        s = inv * self.p("weight") if "weight" in self.params else inv
        t = -(rm * s)
        if "bias" in self.params:
            t = t + self.p("bias")
        self._cache["affine"] = (key, (s, t))
        return s, t

    def folded_producer(self, producer) -> tuple[SecretTensor, SecretTensor]:
        """(W', b') of the producer with this BatchNorm folded in."""
        key = self._key(producer)
        hit = self._cache.get("producer")
        if hit is not None and hit[0] == key:
            return hit[1]
        s, t = self.affine()
        w, b = producer.p("weight"), producer.p("bias")
        shape = (-1,) + (1,) * (w.ndim - 1)
        w2 = w * s.reshape(shape)
        b2 = t if b is None else b * s + t
        self._cache["producer"] = (key, (w2, b2))
        return w2, b2

    # -- forward and backward

    def forward(self, ctx: Ctx, args: tuple, state: State) -> SecretTensor:
        (x,) = args
        axes, cshape = self._axes(x)
        if not state.training:
            if id(self) in state.extras.get("folded", ()):
                return x  # folded into the producer's weights
            s, t = self.affine()
            return x * s.reshape(cshape) + t.reshape(cshape)
        m = math.prod(x.shape[a] for a in axes)
        if m < 2:
            raise ValueError(f"{self.name} ({self.kind}): training needs more than one value per channel, got {x.shape}")
        mu, var, xhat, inv = normalize(x, axes, self.eps)
        y = xhat
        if "weight" in self.params:
            y = xhat * self.p("weight").reshape(cshape) + self.p("bias").reshape(cshape)
        ctx.xhat, ctx.inv, ctx.axes, ctx.cshape = xhat, inv, axes, cshape
        # running statistics: (1 - momentum) old + momentum new, the variance unbiased
        rm, rv = self.buffers["running_mean"], self.buffers["running_var"]
        mom = self.momentum
        old = concatenate([rm.data, rv.data])
        new = concatenate([mu.reshape(-1), var.reshape(-1)])
        coef = np.concatenate([np.full(self.channels, mom), np.full(self.channels, mom * m / (m - 1))])
        old, new = truncate_all(old, new)
        upd = old * (1 - mom) + new * coef
        rm.data, rv.data = upd[: self.channels], upd[self.channels :]
        self.tracked += 1
        return y

    def backward(self, ctx: Ctx, g: SecretTensor, needs: list[bool]):
        axes, cshape, xhat = ctx.axes, ctx.cshape, ctx.xhat
        grads = []
        if "weight" in self.params:
            gamma = zeros(xhat, xhat.shape) + self.p("weight").reshape(cshape)
            both = g * stack([xhat, gamma])  # g xhat and g gamma in one round
            gx, dxhat = both[0], both[1]
            grads = [(self.params["weight"], gx.sum(axis=axes)), (self.params["bias"], g.sum(axis=axes))]
        else:
            dxhat = g
        return [normalize_backward(dxhat, xhat, ctx.inv, axes) if needs[0] else None], grads


class LayerNorm(Layer):
    kind = "LayerNorm"

    def __init__(self, name: str, module) -> None:
        super().__init__(name)
        self.shape = tuple(int(d) for d in module.normalized_shape)
        self.eps = float(module.eps)
        if module.elementwise_affine:
            self.add_weight_bias(module)

    def config(self) -> str:
        return f"{self.shape},eps={self.eps!r},params={sorted(self.params)}"

    def forward(self, ctx: Ctx, args: tuple, state: State) -> SecretTensor:
        (x,) = args
        k = len(self.shape)
        if x.ndim < k or tuple(x.shape[x.ndim - k :]) != self.shape:
            raise ValueError(f"{self.name} (LayerNorm): input of shape {x.shape} does not end in {self.shape}")
        axes = tuple(range(x.ndim - k, x.ndim))
        _, _, xhat, inv = normalize(x, axes, self.eps)
        y = xhat * self.p("weight") if "weight" in self.params else xhat
        if "bias" in self.params:
            y = y + self.p("bias")
        ctx.xhat, ctx.inv, ctx.axes = xhat, inv, axes
        return y

    def backward(self, ctx: Ctx, g: SecretTensor, needs: list[bool]):
        xhat, axes = ctx.xhat, ctx.axes
        lead = tuple(range(g.ndim - len(axes)))  # the parameters' gradients sum over the samples
        grads = []
        dxhat = g
        if "weight" in self.params:
            gamma = zeros(xhat, xhat.shape) + self.p("weight")
            both = g * stack([xhat, gamma])  # g xhat and g gamma in one round
            dxhat = both[1]
            grads.append((self.params["weight"], both[0].sum(axis=lead)))
        if "bias" in self.params:
            grads.append((self.params["bias"], g.sum(axis=lead)))
        return [normalize_backward(dxhat, xhat, ctx.inv, axes) if needs[0] else None], grads
