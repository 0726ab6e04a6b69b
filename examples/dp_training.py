"""Differentially private training: two hospitals train a model whose release is (3, 1e-5)-DP.

    mpcrun -n 2 examples/dp_training.py

As in private_training.py, each hospital holds half of scikit-learn's breast-cancer records and
no record leaves it. Here the trained model, which both hospitals see at the end, also carries a
guarantee about the records it was trained on: DP-SGD (mpc.dp.DPSGD) clips every patient's
gradient to norm 1 and adds discrete Gaussian noise that no hospital knows, inside the
computation, and the accountant stops training before epsilon = 3 at delta = 1e-5 is spent.
Needs the ``nn-test`` extra (scikit-learn). Step by step:
1. Each hospital standardises its rows with its own statistics (nothing is revealed) and keeps a
   quarter of its patients as a private test set.
2. ``mpc.nn.horizontal`` joins the rows and one-hot diagnoses of both hospitals (secret).
3. A logistic regression (Linear 30 -> 2) is shared from hospital A's initial weights.
4. The noise multiplier z is the smallest that keeps 5 epochs of expected batch 64 within the
   budget (``noise_multiplier_for``: the accountant's RDP composition of the sampled Gaussian).
5. ``dp.step(loss)`` per step, on the loss over every record: a secret Poisson sample of rate
   q = 64 / n (no hospital learns who is in the batch, nor how many), per-example gradient
   norms in MPC, clipping, noise, the update.
6. The model is opened to both hospitals; each tests it on its own held-out patients.
"""

import numpy as np
import torch
import torch.nn as nn

import mpc
import mpc.dp
import mpc.nn
from mpc.dp.dpsgd import noise_multiplier_for

EPSILON, DELTA, EPOCHS, BATCH, LR, CLIP = 3.0, 1e-5, 5, 64, 1.0, 1.0


def my_records(pid: int):
    """This hospital's (train rows, labels, test rows, labels), standardised with its own statistics."""
    from sklearn.datasets import load_breast_cancer

    d = load_breast_cancer()
    mine = np.random.default_rng(2026).permutation(len(d.target))[pid::2]  # a fixed split of the public set
    x, y = d.data[mine], d.target[mine].astype(np.int64)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    cut = len(mine) * 3 // 4
    return x[:cut], y[:cut], x[cut:], y[cut:]


def main(party: mpc.Party):
    xtr, ytr, xte, yte = my_records(party.pid)                           # 1.
    X = mpc.nn.horizontal(party, xtr)                                    # 2.
    Y = mpc.nn.horizontal(party, np.eye(2)[ytr])
    n = X.shape[0]
    enc = mpc.nn.from_torch(party, nn.Sequential(nn.Linear(30, 2)), owner=0).train()   # 3.
    q, steps = BATCH / n, EPOCHS * (n // BATCH)  # a float rate is sampled exactly
    z = noise_multiplier_for(EPSILON, DELTA, q, steps)                                  # 4.
    budget = mpc.dp.Accountant(EPSILON, DELTA)
    dp = mpc.dp.DPSGD(mpc.nn.SGD(enc.parameters(), lr=LR), CLIP, z, budget, party=party, dataset_size=n,
                      sample_rate=q)
    loss_fn = mpc.nn.CrossEntropyLoss()
    for _ in range(steps):                                               # 5.
        dp.step(loss_fn(enc(X), Y))
    trained = enc.to_torch(to=None)                                      # 6.
    with torch.no_grad():
        accuracy = float((trained(torch.tensor(xte, dtype=torch.float32)).argmax(dim=1).numpy() == yte).mean())
    spent, delta = budget.spent()
    print(f"hospital {'AB'[party.pid]}: {dp.steps} DP-SGD steps on {n} patients, noise multiplier {z:.3f} "
          f"(std {dp.noise_std:.3f} on each summed gradient coordinate); spent epsilon = {spent:.3f} at "
          f"delta = {delta:g}; {accuracy:.1%} correct on my {len(yte)} held-out patients")
    return trained, accuracy, spent


if __name__ == "__main__":
    mpc.run(main, engine="semi2k", preprocessing="dealer")
