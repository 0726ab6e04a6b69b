"""Private training: two hospitals train one model on the union of their patients' records.

    mpcrun -n 2 examples/private_training.py

Each hospital holds the records of its own patients (here each takes one half of scikit-learn's
bundled breast-cancer set: 30 measurements per tumour and a malignant/benign diagnosis). They
want a classifier trained on all of them without showing any record to the other hospital.
What they agree to reveal: the per-feature mean and standard deviation of the joint data (the
model needs them to be usable; computed as secure sums) and the trained model itself. Every
record, every label, every gradient and every intermediate weight stays secret-shared. Needs
the ``nn-test`` extra (scikit-learn).

Step by step:
1. Each hospital splits off a quarter of its own records as its private test set.
2. Feature scaling from secure sums: the sum of the features over both hospitals is revealed
   (so the joint mean), then the sum of squared deviations from it (so the joint deviation);
   each hospital then standardises its own rows locally.
3. ``mpc.nn.horizontal`` joins the hospitals' rows (and their one-hot diagnoses) into secret
   tensors: row order is hospital A's, then hospital B's.
4. Hospital A provides the initial weights of an MLP 30-16-2 (``from_torch``: random weights
   are fine, they are not a secret worth keeping; the architecture is checked on both sides).
5. ``mpc.nn.fit`` trains it with SGD on shuffled mini-batches (a public order from a shared
   coin toss), revealing nothing, not even the loss.
6. ``enc.to_torch(to=None)`` opens the trained weights to both hospitals, and each measures
   the model on its own held-out patients.
"""

import numpy as np
import torch
import torch.nn as nn

import mpc
import mpc.nn

EPOCHS, BATCH, LR, MOMENTUM = 5, 32, 0.05, 0.9


def my_records(pid: int):
    """This hospital's (training rows, labels, test rows, labels): its half of the bundled set."""
    from sklearn.datasets import load_breast_cancer

    d = load_breast_cancer()
    order = np.random.default_rng(2026).permutation(len(d.target))  # a fixed shuffle of the public set
    mine = order[pid::2]  # hospital A: the even positions, hospital B: the odd ones
    x, y = d.data[mine], d.target[mine].astype(np.int64)
    cut = len(mine) * 3 // 4
    return x[:cut], y[:cut], x[cut:], y[cut:]


def joint_scaling(party: mpc.Party, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The joint per-feature mean and standard deviation, from two revealed secure sums.

    Sums only (no products), so a fine fixed point fits: Fixed(30) keeps the small features'
    squared deviations (1e-5 and less) that 16 fractional bits would round away."""
    fine = mpc.Fixed(30)
    count = mpc.stack(party.input(float(len(x)), dtype=fine)).sum()
    total = mpc.stack(party.input(x.sum(axis=0), dtype=fine)).sum(axis=0)
    n, s = party.reveal(count, total)
    mean = s / n
    sq = mpc.stack(party.input(((x - mean) ** 2).sum(axis=0), dtype=fine)).sum(axis=0)
    return mean, np.sqrt(party.reveal(sq) / n)


def model() -> nn.Module:
    """The architecture both hospitals build; torch's random initial weights (hospital A's are used)."""
    return nn.Sequential(nn.Linear(30, 16), nn.ReLU(), nn.Linear(16, 2))


def main(party: mpc.Party):
    name = "ABCDEFGH"[party.pid]
    # 1. this hospital's records, and its private held-out patients
    xtr, ytr, xte, yte = my_records(party.pid)
    # 2. joint feature scaling from secure sums; each hospital scales its own rows
    mean, std = joint_scaling(party, xtr)
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    # 3. both hospitals' rows and diagnoses, joined as secret tensors
    X = mpc.nn.horizontal(party, xtr)
    Y = mpc.nn.horizontal(party, np.eye(2)[ytr])
    # 4. hospital A's initial weights, secret-shared
    start = model()
    enc = mpc.nn.from_torch(party, start, owner=0)
    # 5. training on the shares; nothing is revealed
    opt = mpc.nn.SGD(enc.parameters(), lr=LR, momentum=MOMENTUM)
    mpc.nn.fit(enc, X, Y, epochs=EPOCHS, batch_size=BATCH, loss=mpc.nn.CrossEntropyLoss(), optimizer=opt)
    # 6. the trained model, opened to both hospitals; each tests it on its own patients
    trained = enc.to_torch(to=None)
    with torch.no_grad():
        pred = trained(torch.tensor(xte, dtype=torch.float32)).argmax(dim=1).numpy()
    accuracy = float((pred == yte).mean())
    print(f"hospital {name}: trained on {X.shape[0]} patients of both hospitals ({len(xtr)} mine); "
          f"{accuracy:.1%} correct on my {len(yte)} held-out patients")
    return trained, accuracy, (start if party.pid == 0 else None)  # (returned for the tests)


if __name__ == "__main__":
    mpc.run(main, engine="semi2k", preprocessing="dealer")
