"""Encrypted inference of a small transformer: party 0's attention model labels party 1's images.

    mpcrun -n 2 examples/encrypted_transformer.py

The same setting as ``encrypted_inference.py`` (party 0 owns a trained model, party 1 owns 360
images and learns only their labels), with a transformer instead of a CNN: each 8x8 digit is a
sequence of 8 row tokens; one pre-norm transformer block (self-attention with two heads, a GELU
feed-forward, residual connections, LayerNorm) reads them, and a linear head classifies the
tokens it returns. The model is ordinary PyTorch code; ``mpc.nn.from_torch`` traces it (``torch.fx``) into
secret products and functions: the attention's q k^T and a v are products of two secret
activations, its softmax and the GELU and LayerNorm are :mod:`mpc.functions` approximations.
Needs the ``nn-test`` extra (scikit-learn) for the bundled images.

Step by step: every party builds the same architecture and only party 0 trains it; then the
steps of ``encrypted_inference.py`` (its ``classify``): ``mpc.nn.from_torch`` checks the
architectures and shares party 0's weights, party 1 shares its images, and ``enc.predict(x,
to=1, labels=True)`` opens only the labels, to party 1.
"""

import math

import encrypted_inference as cnn_example  # the data split and the training loop (this directory)
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as TF

import mpc
import mpc.nn

TOKENS, WIDTH, HEADS = 8, 16, 2


class Block(nn.Module):
    """A pre-norm transformer encoder block over (batch, tokens, WIDTH)."""

    def __init__(self) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(WIDTH), nn.LayerNorm(WIDTH)
        self.q, self.k, self.v = nn.Linear(WIDTH, WIDTH), nn.Linear(WIDTH, WIDTH), nn.Linear(WIDTH, WIDTH)
        self.out = nn.Linear(WIDTH, WIDTH)
        self.ff1, self.ff2 = nn.Linear(WIDTH, 2 * WIDTH), nn.Linear(2 * WIDTH, WIDTH)

    def heads(self, t, b):
        """(b, tokens, WIDTH) -> (b, HEADS, tokens, WIDTH / HEADS)."""
        return t.reshape(b, TOKENS, HEADS, WIDTH // HEADS).permute(0, 2, 1, 3)

    def forward(self, x):
        b = x.size(0)
        h = self.ln1(x)
        q, k, v = self.q(h), self.k(h), self.v(h)
        scores = torch.matmul(self.heads(q, b), self.heads(k, b).transpose(-2, -1)) / math.sqrt(WIDTH // HEADS)
        mixed = torch.matmul(torch.softmax(scores, dim=-1), self.heads(v, b))  # (b, HEADS, tokens, d)
        x = x + self.out(mixed.permute(0, 2, 1, 3).reshape(b, TOKENS, WIDTH))
        return x + self.ff2(TF.gelu(self.ff1(self.ln2(x))))


class Model(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(8, WIDTH)  # a row of 8 pixels -> a token
        self.block = Block()
        self.head = nn.Linear(TOKENS * WIDTH, 10)

    def forward(self, x):  # x: (batch, 8 rows, 8 pixels)
        h = self.block(self.embed(x))  # attention mixes the tokens, whatever their order;
        return self.head(h.flatten(1))  # the head reads them in order (the rows' positions)


def digits():
    """encrypted_inference's split of the digits, each image as 8 row tokens of 8 pixels."""
    (xtr, ytr), (xte, yte) = cnn_example.digits()
    return (xtr.reshape(-1, TOKENS, 8), ytr), (xte.reshape(-1, TOKENS, 8), yte)


def train(model: nn.Module, x: np.ndarray, y: np.ndarray) -> nn.Module:
    """Party 0's plaintext training (encrypted_inference's loop), with Adam."""
    return cnn_example.train(model, x, y, epochs=30, optimizer=lambda ps: torch.optim.Adam(ps, lr=3e-3))


def main(party: mpc.Party):
    torch.manual_seed(0)  # 1. the same architecture everywhere; party 0 trains it
    model = Model()
    (xtr, ytr), (images, truth) = digits()
    if party.pid == 0:
        train(model, xtr, ytr)
    return cnn_example.classify(party, model, images, truth)  # steps 2-4, as for the CNN


if __name__ == "__main__":
    mpc.run(main, engine="semi2k", preprocessing="dealer")
