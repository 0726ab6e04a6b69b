"""mpc.nn workloads: W5 through ``from_torch``, W7 LeNet-5 inference, W8 an MLP training epoch.

    python bench/nn.py [--quick] [--parties 2 3] [--repeats 3] [--transport procs|local]
                       [--profile loopback|lan|wan] [--ops W5-hand,W5-nn,W7,W8]

- W5: the MLP 784-128-128-10 inference of bench/ml.py (batch 64, weights P0's, input P(n-1)'s),
  twice: hand-written on SecretTensors (``[hand-written]``, bench/ml.py's code) and as a torch
  model through ``mpc.nn.from_torch`` (``[from_torch]``); the target is within 1.1x. On a shared
  machine separate processes vary more than that; ``--w5-pair RUNS`` runs the two alternately in
  the same party processes and prints their medians and ratio.
- W7: LeNet-5 inference on 1x28x28 images, batch 1 and 64 (bench/peers/nn_workloads.py): a torch
  model through ``from_torch`` (weights P0's, images P(n-1)'s); logits stay secret.
- W8: one training epoch of the MLP 64-128-10 on the 1,437 training digits, batch 64 in order,
  ``mpc.nn.CrossEntropyLoss`` and ``mpc.nn.SGD`` (lr 0.1): ``from_torch`` (P0's initial weights),
  the epoch, and the trained parameters as the result (checked against float64 NumPy).
Setting and phases as every runner (bench/parties.py): the offline phase prefetches every
triple the online phase uses; ``total`` (rendered) is offline + online. Every record carries
``peak_rss_mb``: the largest resident set of the party processes (``ru_maxrss`` at the end of the
party's run: the whole run, set-up, preprocessing and all repeats), and ``peak_rss_mb_parties``
per party; with ``--transport local`` the parties are threads of one process, whose peak it is.
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.nn as tnn  # noqa: E402

import mpc  # noqa: E402
import mpc.nn  # noqa: E402
from bench import ml  # noqa: E402
from bench import parties as bp  # noqa: E402
from bench.peers import nn_workloads as nw  # noqa: E402
from bench.peers import workloads as wl  # noqa: E402

ENGINE = "semi2k+gmw+dabits"
# runner op -> (workload, variant shown in the table)
OPS = {"W5-hand": ("W5", "hand-written"), "W5-nn": ("W5", "from_torch"), "W7": ("W7", ""), "W8": ("W8", "")}


def _load(model: tnn.Module, values: dict[str, np.ndarray]) -> tnn.Module:
    with torch.no_grad():
        for key, t in model.state_dict().items():
            t.copy_(torch.as_tensor(values[key], dtype=t.dtype))
    return model.eval()


def w5_model(inp: dict[str, np.ndarray]) -> tnn.Module:
    m = tnn.Sequential(tnn.Linear(784, 128), tnn.ReLU(), tnn.Linear(128, 128), tnn.ReLU(), tnn.Linear(128, 10))
    return _load(m, {"0.weight": inp["w1"].T, "0.bias": inp["b1"], "2.weight": inp["w2"].T, "2.bias": inp["b2"],
                     "4.weight": inp["w3"].T, "4.bias": inp["b3"]})


class LeNet5(tnn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.conv2 = tnn.Conv2d(1, 6, 5, padding=2), tnn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = tnn.Linear(400, 120), tnn.Linear(120, 84), tnn.Linear(84, 10)
        self.pool, self.relu = tnn.MaxPool2d(2), tnn.ReLU()

    def forward(self, x):
        x = self.pool(self.relu(self.conv1(x)))
        x = self.pool(self.relu(self.conv2(x)))
        x = x.flatten(1)
        return self.fc3(self.relu(self.fc2(self.relu(self.fc1(x)))))


def w8_model(inp: dict[str, np.ndarray]) -> tnn.Module:
    m = tnn.Sequential()
    m.add_module("fc1", tnn.Linear(64, 128))
    m.add_module("relu", tnn.ReLU())
    m.add_module("fc2", tnn.Linear(128, 10))
    return _load(m, inp)


def _secret(p, value: np.ndarray, owner: int):
    return p.input(value if p.pid == owner else None, owner=owner, shape=value.shape)


def w5_interleaved(p, size: int, repeats: int, barrier) -> dict:
    """W5 hand-written and through from_torch alternately in the same processes, each run
    preprocessed first and started together: per variant the online seconds of every run."""
    inp = wl.make_inputs("W5", size)
    w = {k: _secret(p, inp[k], 0) for k in ("w1", "b1", "w2", "b2", "w3", "b3")}
    x = _secret(p, inp["x"], p.n - 1)
    enc = mpc.nn.from_torch(p, w5_model(inp), owner=0)

    def hand():
        h = (x @ w["w1"] + w["b1"]).relu()
        h = (h @ w["w2"] + w["b2"]).relu()
        return h @ w["w3"] + w["b3"]

    out: dict[str, list[float]] = {"hand-written": [], "from_torch": []}
    for _ in range(repeats + 1):  # the first pair is untimed
        for name, fn in (("hand-written", hand), ("from_torch", lambda: enc(x))):
            with p.recording() as plan:
                fn()
            p.preprocess(plan)
            barrier()
            t0 = time.perf_counter()
            bp.settle(fn())
            out[name].append(time.perf_counter() - t0)
    return {k: v[1:] for k, v in out.items()}


def party_main(p, op: str, size: int, repeats: int, barrier) -> dict:
    """One party's timings for ``op`` and the accuracy of its result (see bench/parties.py)."""
    torch.set_num_threads(1)
    if op == "W5-pair":
        return w5_interleaved(p, size, repeats, barrier)
    if op == "W5-hand":
        out = ml.party_main(p, "W5", size, repeats, barrier)
    else:
        last = p.n - 1
        if op in ("W5-nn", "W7"):  # inference of a torch model: weights P0's, input P(n-1)'s
            if op == "W5-nn":
                inp = wl.make_inputs("W5", size)
                model, ref = w5_model(inp), wl.reference("W5", inp)
            else:
                inp = nw.make_inputs("W7", size)
                model, ref = _load(LeNet5(), inp), nw.reference("W7", inp)
            enc = mpc.nn.from_torch(p, model, owner=0)
            x = _secret(p, inp["x"], last)

            def fn():
                return enc(x)
        elif op == "W8":
            inp = nw.make_inputs("W8", size)
            model = w8_model(inp)
            X, Y = _secret(p, inp["x"], 0), _secret(p, inp["onehot"], last)
            ref = nw.reference("W8", inp)

            def fn():
                enc = mpc.nn.from_torch(p, model, owner=0).train()
                opt = mpc.nn.SGD(enc.parameters(), lr=nw.LR)
                loss = mpc.nn.CrossEntropyLoss()
                for xb, yb in mpc.nn.batches(X, Y, nw.BATCH):
                    out = loss(enc(xb), yb)
                    opt.zero_grad()
                    out.backward()
                    opt.step()
                return mpc.concatenate([q.data.reshape(-1) for q in enc.parameters()])
        else:
            raise ValueError(f"unknown op {op!r}")
        out = bp.time_and_check(p, fn, (), repeats, barrier, ref)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return out


def measure(op: str, size: int, parties: int, repeats: int, transport: str, profile: str = "loopback") -> list[dict]:
    """The offline and online records of ``op`` (bench/parties.py's fields, plus peak memory)."""
    from mpc._core import get_kernels

    res, net = bp.run("nn", party_main, op, size, parties, repeats, transport, profile)
    workload, variant = OPS[op]
    rss = [round(r["peak_rss_mb"], 1) for r in res]
    common = {"op": variant or workload, "workload": workload, "parties": parties, "n": size, "system": "tessera",
              "transport": bp.transport_label(transport, profile), "backend": get_kernels().backend, **net,
              "engine": ENGINE, "dtype": "Fixed(16)", "peak_rss_mb": max(rss), "peak_rss_mb_parties": str(rss),
              **{k: res[0][k] for k in ("max_abs_err", "n_off", "n_results") if k in res[0]}}
    off, on = bp.summarize(res, repeats)
    return [
        {**common, "phase": "offline", "seconds": off, "bytes": max(r["dealer_bytes"] for r in res),
         "rounds": max(r["offline_rounds"] for r in res)},
        {**common, "phase": "online", "seconds": on, "bytes": max(r["online_bytes"] for r in res),
         "rounds": max(r["online_rounds"] for r in res)},
    ]


def main(argv: list[str] | None = None) -> None:
    ap = bp.runner_parser(__doc__, repeats=3, quick_help="W8 on 256 samples, one repeat (a smoke test)")
    ap.add_argument("--ops", default=",".join(OPS), help=f"a subset of {','.join(OPS)} (default: all)")
    ap.add_argument("--w5-pair", type=int, default=0, metavar="RUNS",
                    help="only W5: both variants alternately in the same processes, RUNS times each (the "
                         "like-for-like ratio on a loaded machine)")
    args = bp.parse_runner_args(ap, argv, ENGINE, ["W5", "W7", "W8"])
    if args is None:
        return
    ops = [o.strip() for o in args.ops.split(",") if o.strip()]
    if any(o not in OPS for o in ops):
        ap.error(f"--ops: choose from {', '.join(OPS)}")
    repeats = 1 if args.quick else args.repeats
    if args.w5_pair:
        for parties in args.parties:
            res, net = bp.run("nn", party_main, "W5-pair", 64, parties, args.w5_pair, args.transport, args.profile)
            per = {k: [max(r[k][i] for r in res) for i in range(args.w5_pair)] for k in res[0]}
            line = {"workload": "W5", "op": "interleaved", "parties": parties, "n": 64, "runs": args.w5_pair,
                    **{f"{k}_median": statistics.median(v) for k, v in per.items()},
                    **{f"{k}_min": min(v) for k, v in per.items()}}
            line["ratio_median"] = line["from_torch_median"] / line["hand-written_median"]
            print(json.dumps({**line, **net}), flush=True)
        return
    for parties in args.parties:
        for op in ops:
            workload = OPS[op][0]
            sizes = wl.sizes(workload, args.quick) if workload == "W5" else nw.sizes(workload, args.quick)
            for size in sizes:
                for line in measure(op, size, parties, repeats, args.transport, args.profile):
                    print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
