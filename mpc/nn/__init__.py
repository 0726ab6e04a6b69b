"""mpc.nn: encrypted inference and private training of PyTorch models.

    import mpc, mpc.nn

    enc = mpc.nn.from_torch(party, model, owner=0)     # the owner's weights, secret-shared
    logits = enc(x)                                    # inference on a SecretTensor
    enc.train()
    opt = mpc.nn.SGD(enc.parameters(), lr=0.1, momentum=0.9)
    for xb, yb in mpc.nn.batches(X, Y, batch_size=64, shuffle=True, seed=party):
        loss = mpc.nn.CrossEntropyLoss()(enc(xb), yb)
        opt.zero_grad(); loss.backward(); opt.step()
    trained = enc.to_torch(to=0)                       # revealed to party 0 only

This package imports torch (``import mpc`` does not). Modules: :mod:`~mpc.nn.module`
(from_torch, EncryptedModule), :mod:`~mpc.nn.trace` (supported layers), :mod:`~mpc.nn.layers`,
:mod:`~mpc.nn.tape` (autograd, gradient scale), :mod:`~mpc.nn.losses`, :mod:`~mpc.nn.optim`,
:mod:`~mpc.nn.data` (multi-party data, batches), :mod:`~mpc.nn.fit`, :mod:`~mpc.nn.agree`,
:mod:`~mpc.nn.scaling`, :mod:`~mpc.nn.per_example` (per-example gradient norms
and weighted sums for DP-SGD). docs/nn.md has the guide: scales, accuracy and costs.
"""

from mpc.nn.agree import agree_seed
from mpc.nn.data import Batches, batches, horizontal, one_hot, permutation, public_prg, vertical
from mpc.nn.fit import fit
from mpc.nn.losses import BCEWithLogitsLoss, CrossEntropyLoss, Loss, MSELoss
from mpc.nn.module import EncryptedModule, from_torch
from mpc.nn.optim import SGD, Adam, Optimizer
from mpc.nn.per_example import PerExampleGrads
from mpc.nn.tape import Parameter, Variable

__all__ = [
    "Adam", "BCEWithLogitsLoss", "Batches", "CrossEntropyLoss", "EncryptedModule", "Loss", "MSELoss", "Optimizer",
    "Parameter", "PerExampleGrads", "SGD", "Variable", "agree_seed", "batches", "fit", "from_torch", "horizontal", "one_hot",
    "permutation", "public_prg", "vertical",
]
