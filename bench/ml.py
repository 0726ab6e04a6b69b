"""Machine-learning workloads on SecretTensor: W5 MLP inference, W6 logistic regression.

    python bench/ml.py [--quick] [--parties 2 3] [--repeats 3] [--transport procs|procs-enc|procs-tcp|local]
                       [--engines semi2k spdz2k masked2k] [--preprocessing dealer|ot] [--profile loopback|lan|wan]

- W5: inference of an MLP 784-128-128-10 with ReLU on a batch of 64; weights and biases are
  party 0's, the input party 1's (party n-1 with 3 parties); the logits stay secret.
- W6: one epoch of logistic regression by SGD, batch 64, on 6,400 samples of 100 features
  (features party 0's, labels party n-1's): per batch z = X_b @ w + b, err = sigmoid(z) - y_b,
  w -= lr/64 * X_b^T @ err, b -= lr/64 * sum(err), with mpc.functions.sigmoid.
Inputs, learning rate and the plaintext reference are those every peer uses
(bench/peers/workloads.py); ``max_abs_err`` and ``n_off`` (results off by more than 2^-10)
compare the revealed result with float64 plaintext. Setting and phases: bench/parties.py (the
offline phase prefetches every triple the run needs; the online phase has no dealer traffic);
``--profile lan|wan`` (root only) runs every process in its own network namespace. The default
``procs`` measures mpcrun's plaintext default and, beside it, its encrypted default (engine
``... encrypted``, transport ``...-encrypted``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mpc  # noqa: E402
import mpc.functions as F  # noqa: E402
from bench.compare import ENGINE_LABELS as COMPARE_LABELS  # noqa: E402
from bench.parties import measure as parties_measure  # noqa: E402
from bench.parties import parse_runner_args, run_engine_cases, runner_parser, time_and_check  # noqa: E402
from bench.peers import workloads as wl  # noqa: E402


def _secret(p, value: np.ndarray, owner: int):
    return p.input(value if p.pid == owner else None, owner=owner, shape=value.shape)


# masked2k's products and matrix products are the masked ones; its ReLU and sigmoid run semi2k's
ENGINE_LABELS = {**COMPARE_LABELS, "masked2k": "masked2k+gmw+dabits"}


def party_main(p, op: str, size: int, repeats: int, barrier) -> dict:
    """One party's timings for W5 or W6, and the accuracy of the revealed result."""
    inp = wl.make_inputs(op, size)
    last = p.n - 1
    # the secret tensors are the workload's arguments, not captured: a masked2k plan is a dry
    # run, which shadows only arguments (bench/parties.py)
    if op == "W5":
        args = (_secret(p, inp["x"], last), *(_secret(p, inp[k], 0) for k in ("w1", "b1", "w2", "b2", "w3", "b3")))

        def fn(x, w1, b1, w2, b2, w3, b3):
            h = (x @ w1 + b1).relu()
            h = (h @ w2 + b2).relu()
            return h @ w3 + b3
    else:
        args = (_secret(p, inp["x"], 0), _secret(p, inp["y"], last))

        def fn(X, labels):
            wt, b = np.zeros(X.shape[1]), 0.0  # public zeros until the first update
            for s in range(0, X.shape[0], wl.BATCH):
                xb, yb = X[s : s + wl.BATCH], labels[s : s + wl.BATCH]
                err = F.sigmoid(xb @ wt + b) - yb
                step = wl.LR / xb.shape[0]
                wt = wt - (xb.T @ err) * step
                b = b - err.sum() * step
            return mpc.concatenate([wt, b.reshape(1)])

    return time_and_check(p, fn, args, repeats, barrier, wl.reference(op, inp))


def measure(op: str, size: int, parties: int, repeats: int, transport: str, profile: str = "loopback",
            engine: str = "semi2k", **kw) -> list[dict]:
    return parties_measure("ml", party_main, op, size, parties, repeats, transport, profile, **kw, workload=op,
                           engine=ENGINE_LABELS[engine], dtype="Fixed(16)")


def main(argv: list[str] | None = None) -> None:
    ap = runner_parser(__doc__, repeats=3, quick_help="W6 on 640 samples, one repeat (a smoke test)", preprocessing=True)
    ap.add_argument("--engines", nargs="+", choices=tuple(ENGINE_LABELS), default=list(ENGINE_LABELS))
    args = parse_runner_args(ap, argv, "semi2k+gmw+dabits", ["W5", "W6"])
    if args is None:
        return
    repeats = 1 if args.quick else args.repeats
    cases = [(op, size) for op in ("W5", "W6") for size in wl.sizes(op, args.quick)]
    run_engine_cases(args, cases, measure, repeats)


if __name__ == "__main__":
    main()
