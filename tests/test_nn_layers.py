"""Every supported layer's forward (inference and training) and backward against torch, on
random inputs, for 2 and 3 parties, under semi2k and spdz2k.

One secret model per case, built by ``mpc.nn.from_torch`` from a small torch model (the layer
alone, or the small graph exercising a traced form); the input is party 1's. Compared with torch
in float64 on the same parameters: the inference output, the training output, and after
backward with a random upstream gradient G the input's gradient (``requires_grad=True``) and
every parameter's (``p.grad / p.grad_scale``; here the scale is 1). Tolerances are relative to
the largest reference value: 2e-3 for linear layers and comparisons (a few units of 2^-16 summed
over the reduction), 5e-3 where mpc.functions approximations enter (sigmoid, softmax, rsqrt of
BatchNorm). Inputs include exact zeros and ties (a coarse grid) so that ReLU's and max
pooling's tie rules (first index, as torch) are exercised.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as TF

import mpc.nn
from mpc.testing import run_local
from tests._nn_helpers import assert_close, torch_forward_backward


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(6, 6)
        self.b = nn.Linear(6, 6)

    def forward(self, x):
        h = TF.relu(self.a(x))
        return self.b(h) + x  # residual addition


class Concat(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)

    def forward(self, x):
        y = torch.cat([self.conv(x), x], dim=1)
        y = TF.max_pool2d(TF.hardtanh(TF.leaky_relu(y, 0.2), -1.0, max_val=2.0), 2)
        return y.view(y.size(0), -1)


class Functional(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        y = torch.flatten(TF.avg_pool2d(x, 2), 1)
        z = self.fc(y)
        y = torch.sigmoid(z) + torch.tanh(z)
        return TF.log_softmax(y.reshape(-1, 4), dim=1)


class Attention(nn.Module):
    """A transformer block's parts: projections, q k^T / sqrt(d), softmax, a v, a residual with a
    scaled activation, LayerNorm, GELU, an elementwise gate."""

    def __init__(self) -> None:
        super().__init__()
        self.q, self.k, self.v, self.ff = nn.Linear(6, 4), nn.Linear(6, 4), nn.Linear(6, 4), nn.Linear(4, 4)
        self.ln = nn.LayerNorm(4)

    def forward(self, x):
        q, k, v = self.q(x), self.k(x), self.v(x)
        a = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) / 2.0, dim=-1)
        h = self.ln(a @ v + q * 0.5)
        return TF.gelu(self.ff(h)) * h


class Heads(nn.Module):
    """Heads split by view/permute, batched products with torch.bmm, merged back."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 8)

    def forward(self, x):
        b, t = x.size(0), x.size(1)
        h = self.proj(x).view(b, t, 2, 4).permute(0, 2, 1, 3).reshape(b * 2, t, 4)
        s = torch.bmm(h, h.transpose(1, 2)).mul(0.25)
        o = torch.bmm(s, h).view(b, 2, t, 4).transpose(1, 2)
        return o.reshape(b, t, 8).div(4.0)


class Pool(nn.Module):
    """Sequence pooling: means and sums over one or several dimensions, kept or not."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(5, 4)

    def forward(self, x):
        h = TF.silu(self.fc(x))  # (B, T, 4)
        a = h.mean(dim=1) + torch.sum(h, 1) * 0.25  # (B, 4)
        b = h.mean(dim=(1, 2), keepdim=True).reshape(-1, 1)  # (B, 1)
        return a * b + torch.mean(h, dim=-1).sum(1, keepdim=True) + h.sum()


class Slices(nn.Module):
    """Basic indexing of activations: a token, a slice of features, a new axis, an ellipsis."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(5, 6)

    def forward(self, x):
        h = self.fc(x)  # (B, T, 6)
        first = h[:, 0]  # (B, 6): a "class token"
        return first[..., :3] * h[:, -1, 3:] + h[:, 1:, None, 2].sum(dim=(1, 2)).reshape(-1, 1)


class Causal(nn.Module):
    """Masked attention: a causal mask from a buffer (-inf), one made in forward from constants
    (-1e9), and a buffer added as a public value."""

    def __init__(self) -> None:
        super().__init__()
        self.q, self.k, self.v = nn.Linear(6, 4), nn.Linear(6, 4), nn.Linear(6, 4)
        self.register_buffer("tri", torch.tril(torch.ones(3, 3)))

    def forward(self, x):
        s = self.q(x) @ self.k(x).transpose(-2, -1) / 2.0
        a = torch.softmax(s.masked_fill(self.tri == 0, float("-inf")), dim=-1) @ self.v(x)
        upper = torch.triu(torch.ones(3, 3, dtype=torch.bool), diagonal=1)
        filled = s.masked_fill(upper, 0.25).sum(-1, keepdim=True)  # the filled places get no gradient
        return a + TF.softmax(s.masked_fill(upper, -1e9), dim=-1).sum(-1, keepdim=True) + self.tri[:, :1] + filled


class SelfAttention(nn.Module):
    """nn.MultiheadAttention on one tensor (both call forms), sequence first, with a residual."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(5, 8)
        self.attn = nn.MultiheadAttention(8, 2)

    def forward(self, x):  # x: (T, B, 5)
        h = self.fc(x)
        out, _ = self.attn(h, h, h)  # need_weights=True by default: the weights are not used
        return out + h


class SelfAttentionFirst(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 4, batch_first=True, bias=False)

    def forward(self, x):
        return self.attn(x, x, x, need_weights=False)[0]


class Shared(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(TF.relu6(self.fc(x)))  # one module, two calls: its gradients add up


def bn_stats(model, shape):
    """Non-trivial running statistics: a few torch training passes on shifted data."""
    with torch.no_grad():
        model.train()
        for _ in range(3):
            model(torch.randn(*shape) * 2 + 0.5)
    model.eval()
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    return model


def perturbed(model):
    """LayerNorm weights and biases away from torch's 1 and 0, so that their gradients matter."""
    for m in model.modules():
        if isinstance(m, nn.LayerNorm) and m.elementwise_affine:
            m.weight.data.uniform_(0.5, 1.5)
            if m.bias is not None:
                m.bias.data.uniform_(-0.5, 0.5)
    return model


def cases():
    """(name, model, input shape, tolerance, grid): grid > 0 rounds the input to multiples of it."""
    torch.manual_seed(7)
    img = (4, 2, 6, 6)
    return [
        ("Linear", nn.Sequential(nn.Linear(5, 4)), (6, 5), 2e-3, 0),
        ("Conv2d_s2_p1", nn.Sequential(nn.Conv2d(2, 3, 3, stride=2, padding=1)), img, 2e-3, 0),
        ("Conv2d_nobias_5x5", nn.Sequential(nn.Conv2d(2, 2, 5, padding=2, bias=False)), img, 2e-3, 0),
        ("BatchNorm1d", bn_stats(nn.Sequential(nn.BatchNorm1d(5)), (8, 5)), (8, 5), 5e-3, 0),
        ("BatchNorm2d", bn_stats(nn.Sequential(nn.BatchNorm2d(2)), img), img, 5e-3, 0),
        ("Linear+BatchNorm1d(folded)", bn_stats(nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4)), (8, 5)), (8, 5),
         5e-3, 0),
        ("Conv2d+BatchNorm2d(folded)", bn_stats(nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3)), img), img,
         5e-3, 0),
        ("LayerNorm", perturbed(nn.Sequential(nn.Linear(5, 7), nn.LayerNorm(7))), (6, 5), 5e-3, 0),
        ("LayerNorm_2d_nobias", perturbed(nn.Sequential(nn.LayerNorm((6, 6), bias=False))), img, 5e-3, 0),
        ("LayerNorm_plain", nn.Sequential(nn.LayerNorm(7, elementwise_affine=False)), (5, 7), 5e-3, 0),
        ("ReLU", nn.Sequential(nn.ReLU()), (5, 7), 2e-3, 0.25),
        ("GELU", nn.Sequential(nn.GELU()), (5, 7), 5e-3, 0),  # erf's GELU: ours is the tanh form
        ("GELU_tanh", nn.Sequential(nn.GELU(approximate="tanh")), (5, 7), 5e-3, 0),
        ("SiLU", nn.Sequential(nn.SiLU()), (5, 7), 5e-3, 0),
        ("pooling: sum/mean over dims, silu (fx)", Pool(), (2, 3, 5), 5e-3, 0),
        ("indexing activations (fx)", Slices(), (2, 3, 5), 2e-3, 0),
        ("causal masks: masked_fill, public buffers (fx)", Causal(), (2, 3, 6), 5e-3, 0),
        ("MultiheadAttention (T, B, E) after a Linear (fx)", perturbed(SelfAttention()), (4, 3, 5), 5e-3, 0),
        ("MultiheadAttention batch_first, no bias (fx)", SelfAttentionFirst(), (2, 4, 8), 5e-3, 0),
        ("TransformerEncoderLayer post-norm relu batch_first",
         perturbed(nn.Sequential(nn.Linear(5, 8), nn.TransformerEncoderLayer(8, 2, 16, 0.0, batch_first=True))),
         (3, 4, 5), 5e-3, 0),
        ("TransformerEncoderLayer pre-norm gelu (T, B, E)",
         perturbed(nn.Sequential(nn.TransformerEncoderLayer(8, 4, 12, 0.0, activation="gelu", norm_first=True))),
         (4, 3, 8), 5e-3, 0),
        ("TransformerEncoder x2 + norm",
         perturbed(nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, 0.0, batch_first=True), 2,
                                         norm=nn.LayerNorm(8), enable_nested_tensor=False)), (2, 4, 8), 5e-3, 0),
        ("LeakyReLU", nn.Sequential(nn.LeakyReLU(0.1)), (5, 7), 2e-3, 0.25),
        ("Hardtanh", nn.Sequential(nn.Hardtanh(-0.5, 1.25)), (5, 7), 2e-3, 0.25),  # ties at both bounds
        ("ReLU6", nn.Sequential(nn.ReLU6()), (6, 9), 2e-3, 0.5),
        ("Sigmoid", nn.Sequential(nn.Sigmoid()), (5, 7), 5e-3, 0),
        ("Tanh", nn.Sequential(nn.Tanh()), (5, 7), 5e-3, 0),
        ("Softmax", nn.Sequential(nn.Softmax(dim=1)), (5, 7), 5e-3, 0),
        ("LogSoftmax", nn.Sequential(nn.LogSoftmax(dim=1)), (5, 7), 5e-3, 0),
        ("MaxPool2d_2", nn.Sequential(nn.MaxPool2d(2)), img, 2e-3, 0.5),
        ("MaxPool2d_3s2p1", nn.Sequential(nn.MaxPool2d(3, stride=2, padding=1)), (2, 2, 7, 7), 2e-3, 0.5),
        ("AvgPool2d_2", nn.Sequential(nn.AvgPool2d(2)), img, 2e-3, 0),
        ("AvgPool2d_3s1p1", nn.Sequential(nn.AvgPool2d(3, stride=1, padding=1)), img, 2e-3, 0),
        ("AdaptiveAvgPool2d_1", nn.Sequential(nn.AdaptiveAvgPool2d(1)), img, 2e-3, 0),
        ("AdaptiveAvgPool2d_4of6", nn.Sequential(nn.AdaptiveAvgPool2d((4, 3))), img, 2e-3, 0),
        ("Flatten+Identity+Dropout", nn.Sequential(nn.Flatten(), nn.Identity(), nn.Dropout(0.0)), img, 2e-3, 0),
        ("residual (fx)", Residual(), (5, 6), 2e-3, 0),
        ("attention block (fx)", perturbed(Attention()), (2, 3, 6), 5e-3, 0),
        ("heads: view/permute/bmm (fx)", Heads(), (2, 3, 4), 2e-3, 0),
        ("shared module (fx)", Shared(), (5, 4), 2e-3, 0),
        ("cat+view+functional (fx)", Concat(), img, 2e-3, 0),
        ("functional sigmoid/tanh/log_softmax (fx)", Functional(), (3, 3, 4, 2), 5e-3, 0),
    ]


def run_cases(n: int, engine: str = "semi2k"):
    rng = np.random.default_rng(20261204 + n)
    spec = []
    for name, model, shape, tol, grid in cases():
        model = model.double()
        x = rng.normal(size=shape) * 1.5
        if grid:
            x = np.round(x / grid) * grid  # exact zeros and ties
        g = rng.normal(size=np.shape(model.eval()(torch.tensor(x))))
        spec.append((name, model, x, g, tol))

    def main(p):
        out = []
        for _, model, x, g, _ in spec:
            enc = mpc.nn.from_torch(p, model, owner=0)
            xs = p.input(x if p.pid == 1 else None, owner=1, shape=x.shape)
            y_eval = enc(xs)
            enc.train()
            var = enc(xs, requires_grad=True)
            var.backward(g)
            names = [q.name for q in enc.parameters()]
            opened = p.reveal(y_eval, var.data, var.input_grad(), *[q.grad for q in enc.parameters()])
            out.append((opened[0], opened[1], opened[2], dict(zip(names, opened[3:], strict=True))))
        return out

    return spec, run_local(main, n, timeout=300, engine=engine)[0]


@pytest.fixture(scope="module", params=[(2, "semi2k"), (3, "semi2k"), (2, "spdz2k"), (3, "spdz2k")],
                ids=lambda v: f"{v[0]}p-{v[1]}")
def results(request):
    return run_cases(*request.param)


@pytest.mark.parametrize("index", range(len(cases())), ids=[c[0] for c in cases()])
def test_layer_matches_torch(results, index):
    spec, got = results
    name, model, x, g, tol = spec[index]
    y_eval, y_train, dx, grads = got[index]
    ref_eval, _, _ = torch_forward_backward(model, x, g, train=False)
    ref_train, ref_dx, ref_grads = torch_forward_backward(model, x, g, train=True)
    assert_close(f"{name} inference", y_eval, ref_eval, tol)
    assert_close(f"{name} training forward", y_train, ref_train, tol)
    assert_close(f"{name} input gradient", dx, ref_dx, tol)
    assert set(grads) == set(ref_grads)
    for key in ref_grads:
        assert_close(f"{name} {key} gradient", grads[key], ref_grads[key], tol)
