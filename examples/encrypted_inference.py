"""Encrypted inference: a model owner classifies a data owner's images; neither sees the other's secret.

    mpcrun -n 2 examples/encrypted_inference.py

Party 0 owns a trained network (here a small CNN it trains on its own images, scikit-learn's
bundled digits; pass a file saved with ``torch.save(model.state_dict(), path)`` as the first
argument to use yours). Party 1 owns 360 images it wants labelled. Party 0's weights and party
1's images are secret-shared, the network runs on the shares, and only the predicted labels are
opened, to party 1 alone. Party 0 learns the number and size of the images, nothing else;
party 1 learns the labels and the network's architecture (both must build the same one).
Needs the ``nn-test`` extra (scikit-learn) for the bundled images.

Step by step:
1. Every party builds the same torch architecture; only party 0 fills it with trained weights.
2. Party 1 announces how many images it has (the shape is public: the others must know it to
   take part).
3. ``mpc.nn.from_torch(party, model, owner=0)`` checks that the architectures agree (a mismatch
   names the first differing layer on every party) and secret-shares party 0's weights; party 1
   secret-shares its images with ``party.input``.
4. ``enc.predict(x, to=1, labels=True)`` runs the network on the shares and opens only the
   argmax of each row's logits, to party 1: the logits themselves are never revealed.
"""

import numpy as np
import torch
import torch.nn as nn

import mpc
import mpc.nn


def build() -> nn.Module:
    """The architecture both parties agree on: two conv + pool layers with BatchNorm, then Linear."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64, 10),
    )


def digits():
    """(party 0's training images and labels, party 1's images and labels): a fixed split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.data / 16.0).reshape(-1, 1, 8, 8)
    xtr, xte, ytr, yte = train_test_split(x, d.target, test_size=360, random_state=0, stratify=d.target)
    return (xtr, ytr), (xte, yte)


def train(model: nn.Module, x: np.ndarray, y: np.ndarray, epochs: int = 4, optimizer=None) -> nn.Module:
    """Party 0's ordinary plaintext training on its own data (nothing secret about it); SGD with
    momentum unless ``optimizer`` (parameters -> a torch optimizer) says otherwise."""
    torch.manual_seed(0)
    opt = (optimizer or (lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9)))(model.parameters())
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y)
    model.train()
    for _ in range(epochs):
        for lo in range(0, len(x), 64):
            opt.zero_grad()
            nn.functional.cross_entropy(model(xt[lo : lo + 64]), yt[lo : lo + 64]).backward()
            opt.step()
    return model.eval()


def main(party: mpc.Party):
    # 1. the same architecture everywhere; the weights only at party 0 (a fixed seed for its
    #    initial weights, so that every run trains, and labels, the same model)
    torch.manual_seed(0)
    model = build()
    (xtr, ytr), (images, truth) = digits()
    if party.pid == 0:
        if party.argv:
            model.load_state_dict(torch.load(party.argv[0]))
        else:
            train(model, xtr, ytr)
    return classify(party, model, images, truth)


def classify(party: mpc.Party, model: nn.Module, images: np.ndarray, truth: np.ndarray):
    """Steps 2-4: party 0's model (its weights) labels party 1's images; party 1 learns the labels."""
    # 2. the number of party 1's images is public (this opening also waits for party 0's training:
    #    parties run as threads of one process in the tests, and torch.fx's tracing in step 3
    #    patches torch process-wide)
    count = party.reveal(party.input(len(images) if party.pid == 1 else None, owner=1, shape=(), dtype=mpc.Int64()))
    # 3. the architecture checked, party 0's weights secret-shared; party 1's pixels secret-shared
    enc = mpc.nn.from_torch(party, model, owner=0)
    x = party.input(images if party.pid == 1 else None, owner=1, shape=(int(count), *images.shape[1:]))
    # 4. the labels, opened to party 1 only
    labels = enc.predict(x, to=1, labels=True)
    if party.pid == 1:
        accuracy = float((labels == truth).mean())
        print(f"party 1: labels of my {len(labels)} images, e.g. {labels[:10].tolist()}; "
              f"{accuracy:.1%} match my own annotations")
    else:
        print(f"party {party.pid}: classified {int(count)} images I never saw; I learned no label")
    return labels, (model if party.pid == 0 else None)  # (returned for the tests)


if __name__ == "__main__":
    mpc.run(main, engine="semi2k", preprocessing="dealer")
