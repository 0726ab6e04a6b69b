"""CrypTen 0.4.1 runner for workloads W1-W8 and the functions (run with bench/.peers/crypten/bin/python).

    bench/.peers/crypten/bin/python bench/peers/crypten_w.py --workloads W1,W2 --parties 2 --dealer ttp
    bench/.peers/crypten/bin/python bench/peers/crypten_w.py --workloads exp,log,reciprocal,sqrt,rsqrt,tanh

The launcher (this script without ``--worker``) starts one process per computing party, plus the
separate dealer process in TTP mode, over torch.distributed (gloo, file rendezvous), waits for
them and prints one JSON line per measurement: the same fields as Tessera's runners. With
``--profile lan|wan`` (root only) each process runs in its own network namespace made by
``bench/netns.py`` and shaped by that profile, gloo talking over the namespaces' ``eth0``.

Per workload instance and repeat, three measurements:

* ``total``: the operation with triples made on demand (TTP: requested from the dealer process;
  TFP: made by party 0, which is also a computing party), while ``crypten.trace()`` records the
  requests;
* ``offline``: ``crypten.fill_cache()`` making the recorded triples in advance;
* ``online``: the same operation again, served from the filled cache.

Time is wall time from a barrier to the end of the operation, the maximum over the parties.
Bytes and rounds come from CrypTen's own counters with ``communicator.verbose`` on: each party
counts the elements it sends and receives (x 8 bytes), so counts are halved, as CrypTen's docs
say: ``bytes`` is half the busiest party's count (like Tessera's "bytes sent by the busiest
party"), ``bytes_total`` half the sum over the parties. In TTP mode the dealer's traffic is seen
by party 0 only. ``rounds`` is the largest per-party count of communication calls. Accuracy is
the revealed result against float64 plaintext on the same inputs (CrypTen decodes negative values
dividing by 65535 rather than 65536, so some results are off by one unit: they are counted, not
corrected).

The functions (suite ``functions``, inputs in workloads.FUNCTIONS) are CrypTen's own MPCTensor
methods with its default configuration (``crypten.cfg.functions``): ``exp`` is the limit
(1 + x/2^8)^(2^8) (8 squarings), ``log`` 2 rounds of 8th-order Householder iterations from the
guess x/120 - 20 e^(-2x-1) + 3 (documented accurate to 2% on [1e-4, 250]), ``reciprocal`` the
sign times 10 Newton iterations from 3 e^(1-2|x|) + 0.003, ``rsqrt`` is ``inv_sqrt``: 3 Newton
iterations from 2.2 e^(-x/2-0.2) + 0.2 - x/1024, ``sqrt`` = x inv_sqrt(x), ``tanh`` =
2 sigmoid(2x) - 1 with sigmoid by a reciprocal. Their domains are narrower than the benchmark's
inputs (the documented domains of mpc.functions), and the error columns, including
``max_rel_err`` (max |result - f(x)| / |f(x)|), show it. Measured on these inputs: the exp limit
grows again for arguments below -512, so log and reciprocal, whose guesses take e^(-2x), return
garbage (wrapped ring values, errors ~1e10) beyond x ~ 256; inv_sqrt's guess turns negative
beyond x ~ 205 (garbage too); exp is 3-18% off on [-8, 10] and, with 16 fractional bits, up to
100% off below -8 (e^-12 is 0.4 units).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
import traceback
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nn_workloads as nw  # noqa: E402  (W7, W8 of the nn suite)
import workloads as wl  # noqa: E402  (this folder, importable from the peer's venv)
from launch import report_failed, run_parties  # noqa: E402

SECURITY = "semi-honest, dishonest majority (additive sharing over Z_2^64, 16 fractional bits)"
# workloads.FUNCTIONS -> the MPCTensor method computing it (CrypTen calls 1/sqrt "inv_sqrt")
CRYPTEN_FUNCTIONS = {"exp": "exp", "log": "log", "reciprocal": "reciprocal", "sqrt": "sqrt",
                     "rsqrt": "inv_sqrt", "tanh": "tanh"}
FUNCTION_NOTES = {  # where CrypTen's method is not meant for the whole input domain (measured)
    "exp": "CrypTen exp: (1 + x/256)^256 with 16 fractional bits: 3-18% off on [-8, 10], up to 100% below -8",
    "log": "CrypTen log: documented to 2% on [1e-4, 250]; its e^(-2x) guess overflows beyond x ~ 256",
    "reciprocal": "CrypTen reciprocal: its 3e^(1-2|x|) + 0.003 guess overflows beyond |x| ~ 256",
    "sqrt": "CrypTen sqrt: x inv_sqrt(x); inv_sqrt's guess is negative beyond x ~ 205",
    "rsqrt": "CrypTen inv_sqrt: its guess 2.2e^(-x/2-0.2) + 0.2 - x/1024 is negative beyond x ~ 205",
    "tanh": "CrypTen tanh: 2 sigmoid(2x) - 1; relative error large only where tanh(x) ~ 0",
}
PREPROCESSING = {
    "ttp": "TTP: a separate dealer process (not a computing party) makes the triples",
    "tfp": "TFP (CrypTen's default): party 0 is the dealer and also a computing party, insecure by CrypTen's own docs",
}


def _import_crypten():
    # torch 2.13 dropped this private module; CrypTen's ONNX converter imports ``registry`` from it
    # at import time. Register a stand-in first (only that converter becomes unusable).
    name = "torch.onnx._internal.registration"
    if name not in sys.modules:
        shim = types.ModuleType(name)
        shim.registry = None
        sys.modules[name] = shim
    import crypten
    import torch

    return crypten, torch


# ---------------------------------------------------------------------------------------------
# worker: one party (or the TTP dealer)


def _share(crypten, torch, arr, owner, rank):
    """Secret-share ``arr`` from party ``owner``; the other parties pass zeros of the same shape."""
    t = torch.from_numpy(arr) if rank == owner else torch.zeros(arr.shape, dtype=torch.float64)
    return crypten.cryptensor(t.to(torch.float64), src=owner)


def _build(crypten, torch, workload, inp, rank, world):
    """Share the inputs and return the secure computation as a zero-argument function."""
    p1 = 1 % world
    if workload in ("W1", "W2", "W3"):
        x = _share(crypten, torch, inp["x"], 0, rank)
        y = _share(crypten, torch, inp["y"], p1, rank)
        if workload == "W1":
            return lambda: x * y
        if workload == "W2":
            return lambda: x.matmul(y)
        return lambda: x < y
    if workload == "W4":
        x = _share(crypten, torch, inp["x"], 0, rank)
        return lambda: x.relu()
    if workload == "W5":
        w = {k: _share(crypten, torch, inp[k], 0, rank) for k in ("w1", "b1", "w2", "b2", "w3", "b3")}
        x = _share(crypten, torch, inp["x"], p1, rank)

        def mlp():
            h = (x.matmul(w["w1"]) + w["b1"]).relu()
            h = (h.matmul(w["w2"]) + w["b2"]).relu()
            return h.matmul(w["w3"]) + w["b3"]

        return mlp
    if workload == "W6":
        X = _share(crypten, torch, inp["x"], 0, rank)
        labels = _share(crypten, torch, inp["y"], p1, rank)
        d = inp["x"].shape[1]

        def epoch():
            w = crypten.cryptensor(torch.zeros(d, dtype=torch.float64), src=0)
            b = crypten.cryptensor(torch.zeros(1, dtype=torch.float64), src=0)
            for s in range(0, X.size(0), wl.BATCH):
                xb, yb = X[s : s + wl.BATCH], labels[s : s + wl.BATCH]
                m = xb.size(0)
                err = (xb.matmul(w) + b).sigmoid() - yb
                w = w - xb.t().matmul(err) * (wl.LR / m)
                b = b - err.sum() * (wl.LR / m)
            return crypten.cat([w, b])

        return epoch
    if workload == "W7":
        return _lenet(crypten, torch, inp, _share(crypten, torch, inp["x"], p1, rank))
    if workload == "W8":
        return _mlp_epoch(crypten, torch, inp, rank, p1)
    if workload in CRYPTEN_FUNCTIONS:
        x = _share(crypten, torch, inp["x"], 0, rank)
        method = getattr(x, CRYPTEN_FUNCTIONS[workload])
        return lambda: method()
    raise ValueError(workload)


def _with_params(torch, layers: dict, values: dict) -> None:
    """Load the workload's weights into crypten.nn layers (before encryption; party 0's are used)."""
    for name, layer in layers.items():
        for key in ("weight", "bias"):
            layer.set_parameter(key, torch.from_numpy(values[f"{name}.{key}"]).float())


def _lenet(crypten, torch, inp, x):
    """W7: LeNet-5 built from crypten.nn layers (CrypTen's ONNX import is unusable on torch 2.13),
    encrypted from party 0; inference on party 1's images."""
    cnn = crypten.nn
    layers = {"conv1": cnn.Conv2d(1, 6, 5, padding=2), "conv2": cnn.Conv2d(6, 16, 5), "fc1": cnn.Linear(400, 120),
              "fc2": cnn.Linear(120, 84), "fc3": cnn.Linear(84, 10)}
    _with_params(torch, layers, inp)
    model = cnn.Sequential(layers["conv1"], cnn.ReLU(), cnn.MaxPool2d(2), layers["conv2"], cnn.ReLU(),
                           cnn.MaxPool2d(2), cnn.Flatten(), layers["fc1"], cnn.ReLU(), layers["fc2"], cnn.ReLU(),
                           layers["fc3"])
    model.encrypt(src=0)
    model.eval()
    return lambda: model(x)


def _mlp_epoch(crypten, torch, inp, rank, p1):
    """W8: one epoch of crypten.nn training as CrypTen's tutorials write it: model.encrypt(),
    CrossEntropyLoss on one-hot labels, backward, update_parameters(lr) (its default gradient
    threshold included); a fresh model from the same initial weights on every call."""
    X = _share(crypten, torch, inp["x"], 0, rank)
    Y = _share(crypten, torch, inp["onehot"], p1, rank)
    cnn = crypten.nn

    def epoch():
        layers = {"fc1": cnn.Linear(64, 128), "fc2": cnn.Linear(128, 10)}
        _with_params(torch, layers, inp)
        model = cnn.Sequential(layers["fc1"], cnn.ReLU(), layers["fc2"])
        model.encrypt(src=0)
        model.train()
        loss = cnn.CrossEntropyLoss()
        for s in range(0, X.size(0), nw.BATCH):
            out = loss(model(X[s : s + nw.BATCH]), Y[s : s + nw.BATCH])
            model.zero_grad()
            out.backward()
            model.update_parameters(nw.LR)
        return crypten.cat([q.flatten() for q in model.parameters()])

    return epoch


def _inputs(workload: str, n: int) -> dict:
    return nw.make_inputs(workload, n) if workload in nw.WORKLOADS else wl.make_inputs(workload, n)


def _reference(workload: str, inp: dict):
    return nw.reference(workload, inp) if workload in nw.WORKLOADS else wl.reference(workload, inp)


def worker(args) -> int:
    crypten, torch = _import_crypten()
    torch.set_num_threads(1)
    crypten.cfg.mpc.provider = args.dealer.upper()
    crypten.cfg.communicator.verbose = True
    rank, world = args.rank, args.parties
    if args.dealer == "ttp" and rank == world:
        crypten.mpc.provider.TTPServer()  # serves requests until party 0 says terminate
        return 0
    crypten.init()
    comm = crypten.communicator.get()
    provider = crypten.mpc.get_default_provider()
    out = []

    def measure(fn):
        comm.barrier()
        comm.reset_communication_stats()
        t0 = time.perf_counter()
        res = fn()
        dt = time.perf_counter() - t0
        st = comm.get_communication_stats()
        return res, {"seconds": dt, "bytes": float(st["bytes"]), "rounds": int(st["rounds"])}

    for workload in args.workloads:
        for n in args.sizes[workload]:
            inp = _inputs(workload, n)
            fn = _build(crypten, torch, workload, inp, rank, world)
            if workload not in ("W6", "W8"):  # warm-up (first-call costs); W6, W8 amortise them over batches
                fn()
            for rep in range(args.repeats):
                provider.request_cache = []
                provider.tuple_cache = {}
                crypten.trace(True)
                res, total = measure(fn)
                crypten.trace(False)
                _, offline = measure(crypten.fill_cache)
                res2, online = measure(fn)
                leftover = sum(len(v) for v in provider.tuple_cache.values())
                provider.request_cache = []
                provider.tuple_cache = {}
                plain = res2.get_plain_text().double().numpy()
                acc = wl.score(workload, plain, _reference(workload, inp)) if rank == 0 else {}
                # peak resident set so far: this process runs every workload in turn, so it is the
                # peak of this workload and of those before it (the nn suite reports it per party)
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
                for phase, m in (("total", total), ("offline", offline), ("online", online)):
                    rec = {"workload": workload, "n": n, "repeat": rep, "phase": phase, "peak_rss_mb": peak, **m}
                    if phase != "offline":
                        rec.update(acc)
                    if phase == "online":
                        rec["cache_leftover"] = leftover
                    out.append(rec)
            del fn
    (Path(args.outdir) / f"rank{rank}.json").write_text(json.dumps(out))
    crypten.uninit()
    return 0


# ---------------------------------------------------------------------------------------------
# launcher


def _merge(per_rank: list[list[dict]]) -> list[dict]:
    merged = []
    for recs in zip(*per_rank, strict=True):
        r0 = dict(recs[0])
        r0["seconds"] = max(r["seconds"] for r in recs)
        # Each party counts what it sends and what it receives (CrypTen's docs): halve it. ``bytes``
        # is the busiest party's half (what Tessera reports: bytes sent by the busiest party),
        # ``bytes_total`` the halved sum over the parties (everything on the wire).
        r0["bytes"] = int(round(max(r["bytes"] for r in recs) / 2))
        r0["bytes_total"] = int(round(sum(r["bytes"] for r in recs) / 2))
        r0["bytes_counted_per_party"] = [int(r["bytes"]) for r in recs]
        r0["rounds"] = max(r["rounds"] for r in recs)
        if all("peak_rss_mb" in r for r in recs):
            r0["peak_rss_mb_parties"] = str([round(r["peak_rss_mb"], 1) for r in recs])
            r0["peak_rss_mb"] = round(max(r["peak_rss_mb"] for r in recs), 1)
        merged.append(r0)
    return merged


def launch(args) -> int:
    crypten, torch = _import_crypten()
    versions = {"crypten": crypten.__version__, "torch": torch.__version__}
    del crypten, torch
    base = {
        "system": "crypten",
        "engine": args.dealer,
        "parties": args.parties,
        "security": SECURITY,
        "preprocessing": PREPROCESSING[args.dealer],
        "peer_versions": versions,
        "threads_per_party": 1,
    }
    with tempfile.TemporaryDirectory(prefix="crypten-bench-") as tmp:
        nproc = args.parties + (1 if args.dealer == "ttp" else 0)
        base_env = dict(os.environ, DISTRIBUTED_BACKEND="gloo", RENDEZVOUS=f"file://{tmp}/rendezvous",
                        WORLD_SIZE=str(args.parties), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        if args.profile != "loopback":
            base_env["GLOO_SOCKET_IFNAME"] = "eth0"  # each process's interface in its namespace

        def command(r, address_of):
            argv = [sys.executable, __file__, "--worker", "--rank", str(r), "--outdir", tmp,
                    "--parties", str(args.parties), "--dealer", args.dealer, "--repeats", str(args.repeats),
                    "--workloads", ",".join(args.workloads), "--sizes", json.dumps(args.sizes)]
            return argv, dict(base_env, RANK=str(r))

        failed, netinfo = run_parties(nproc, command, tmp, args.timeout, args.profile, prefix="tbc")
        base.update(netinfo)
        if failed:
            return report_failed(base, args.workloads, f"CrypTen run failed: {failed}")
        per_rank = [json.loads((Path(tmp) / f"rank{r}.json").read_text()) for r in range(args.parties)]
    for rec in _merge(per_rank):
        rec = {**base, **rec}
        if rec["phase"] == "online":
            rec["notes"] = "online only: triples from the cache filled by crypten.trace()/fill_cache()"
        elif rec["phase"] == "offline":
            rec["notes"] = "crypten.fill_cache() for the traced requests"
        else:
            rec["notes"] = "triples made on demand during the run"
        if args.dealer == "tfp":
            rec["notes"] += "; TFP: the dealer is computing party 0"
        if rec.get("workload") in FUNCTION_NOTES:
            rec["notes"] += "; " + FUNCTION_NOTES[rec["workload"]]
        print(json.dumps(rec), flush=True)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workloads", default="W1,W2,W3,W4,W5,W6")
    ap.add_argument("--parties", type=int, default=2)
    ap.add_argument("--dealer", choices=["ttp", "tfp"], default="ttp")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=1800.0)
    ap.add_argument("--profile", choices=["loopback", "lan", "wan"], default="loopback",
                    help="lan/wan: each process in its own namespace (bench/netns.py), root only")
    ap.add_argument("--sizes", default=None, help="JSON {workload: [n, ...]} (default: workloads.SIZES)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--rank", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--outdir", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.workloads = [wl.canonical(w) for w in args.workloads.split(",") if w.strip()]
    args.sizes = json.loads(args.sizes) if args.sizes else {
        w: (nw.sizes if w in nw.WORKLOADS else wl.sizes)(w, args.quick) for w in args.workloads}
    if args.worker:
        try:
            return worker(args)
        except Exception:
            traceback.print_exc()
            return 1
    return launch(args)


if __name__ == "__main__":
    sys.exit(main())
