"""Differential-privacy benchmarks: exact samplers in plaintext (beside OpenDP) and noise in MPC.

    python bench/dp.py [--quick] [--parties 2] [--repeats 3] [--transport procs|local] [--no-opendp]

Plaintext (``phase: local``, one process; ops ``plain-*``): samples per second of
mpc.dp.samplers' discrete_gaussian (sigma 1, 20, 1000), discrete_laplace (scale 20) and
bernoulli_exp (gamma 1/2) on 10^6 samples (median of the repeats, after a warm-up call), and of OpenDP's
``make_gaussian`` / ``make_laplace`` on an integer vector of the same length (its exact
discrete samplers, in Rust; the Python list in and out is part of its call). OpenDP runs in
its own venv, ``bench/.peers/opendp`` (``pip install opendp``, made on first use; it is not a
dependency of Tessera); ``--no-opendp`` skips it.

MPC (2 parties by default, semi2k + GMW + daBits, all correlated randomness from the trusted
dealer process, prefetched in the offline phase from the plan a warm-up run records; one
process per party over ZeroMQ on loopback, plaintext, as bench/parties.py runs every suite):
2^15 samples of
- ``mpc-dgauss-s20``: mpc.dp.noise.discrete_gaussian, sigma = 20 (joint, secure against n-1
  colluders);
- ``mpc-dlap-s20``: mpc.dp.noise.discrete_laplace, scale = 20 (joint);
- ``mpc-binomial-1600``: mpc.dp.noise.binomial with 1600 coins (variance 400, as sigma = 20);
- ``mpc-distributed-s20``: mpc.dp.noise.distributed_discrete_gaussian, sigma = 20,
  honest_parties = 1;
- ``mpc-bernoulli``: mpc.dp.subsample.bernoulli_mask, secret Bernoulli(q) bits at q = 64 / 426
  (rounded down to 2^-64: a 64-bit comparison per record), DP-SGD's Poisson sampling.
``seconds``: median over repeats of the slowest party, offline and online lines; ``bytes``:
what the dealer sent to party n-1 (offline) / what the busiest party sent (online);
``rounds``: rounds of the phase. Target (issue 17): mpc-dgauss-s20 at most 10 s offline + online.

DP-SGD (ops ``dpsgd-bc``, ``dpsgd-digits``; ``n`` the training set size): one epoch of
mpc.dp.DPSGD (joint noise) on the logistic regression of bench/dpsgd_ref.py (breast cancer:
batch 64, 6 steps; digits: batch 128, 11 steps; epsilon 3 at delta 1e-5 over 5 epochs) on
public shuffled batches (``sampling="shuffled_as_poisson"``), beside ``sgd-bc`` / ``sgd-digits``,
one epoch of plain mpc.nn training of the same model and batches (SGD, no clipping, no noise),
and ``dpsgd-poisson-bc`` / ``dpsgd-poisson-digits``: the same number of steps with secret
Poisson batches (``sampling="poisson"``, q = batch / n: every step over all n rows): ``seconds``
is per epoch.

``--dpsgd-accuracy`` (threads, in-process preprocessing; one JSON line per data set and
epsilon, op ``dpsgd-accuracy``): test accuracy after 5 epochs of DPSGD in MPC (2 parties) at
epsilon 1, 3, 8 (delta 1e-5; 3 MPC runs for breast cancer, 1 for digits) beside the plaintext
reference (bench/dpsgd_ref.py, 3 noise seeds; ``mpc_minus_plain`` the difference of the means) with the MPC run's noise (``plain_same_noise``) and with the textbook z C
(``plain_zc``), and Opacus (``opacus``, 3 seeds) when installed. With ``--sampling poisson``:
secret Poisson batches (rate batch / n, n // batch steps per epoch) beside the plaintext
Poisson reference (:func:`plain_poisson_dpsgd`) with the MPC run's noise.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.parties import measure as parties_measure  # noqa: E402
from bench.parties import parse_runner_args, runner_parser, time_phases  # noqa: E402
from mpc.dp import noise, samplers  # noqa: E402
from mpc.dp.subsample import bernoulli_mask, sampled_rate  # noqa: E402

MPC_OPS = ("mpc-dgauss-s20", "mpc-dlap-s20", "mpc-binomial-1600", "mpc-distributed-s20", "mpc-bernoulli")
DPSGD_OPS = ("dpsgd-bc", "sgd-bc", "dpsgd-digits", "sgd-digits", "dpsgd-poisson-bc", "dpsgd-poisson-digits")
DPSGD_CONFIG = {"bc": {"batch": 64, "lr": 1.0, "epochs": 5}, "digits": {"batch": 128, "lr": 2.0, "epochs": 5}}
DPSGD_C, DPSGD_DELTA, DPSGD_SEED = 1.0, 1e-5, 1234
MPC_SIZE = 1 << 15
PLAIN_SIZE = 10**6
ENGINE = "semi2k+gmw+dabits"
OPENDP_VENV = Path(__file__).resolve().parent / ".peers" / "opendp"

PLAIN = (  # (op, parameter, Tessera's call, OpenDP's constructor and distance)
    ("plain-dgauss-s1", 1, lambda n: samplers.discrete_gaussian(1, n), ("make_gaussian", "l2_distance")),
    ("plain-dgauss-s20", 20, lambda n: samplers.discrete_gaussian(20, n), ("make_gaussian", "l2_distance")),
    ("plain-dgauss-s1000", 1000, lambda n: samplers.discrete_gaussian(1000, n), ("make_gaussian", "l2_distance")),
    ("plain-dlap-s20", 20, lambda n: samplers.discrete_laplace(20, n), ("make_laplace", "l1_distance")),
    ("plain-bexp-0.5", 0.5, lambda n: samplers.bernoulli_exp(0.5, n), None),
)

OPENDP_SNIPPET = r"""
import json, statistics, sys, time, importlib.metadata as md
import opendp.prelude as dp
dp.enable_features("contrib")
make, dist, scale, n, repeats = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
m = getattr(dp.m, make)(dp.vector_domain(dp.atom_domain(T=int)), getattr(dp, dist)(T=int), scale=scale)
x = [0] * n
m(x[:1000])
times = []
for _ in range(repeats):
    t = time.perf_counter(); m(x); times.append(time.perf_counter() - t)
print(json.dumps({"seconds": statistics.median(times), "version": md.version("opendp")}))
"""


def _line(**rec) -> None:
    print(json.dumps(rec), flush=True)


def opendp_python() -> Path | None:
    """The OpenDP venv's interpreter, made with ``pip install opendp`` on first use (None if that fails)."""
    py = OPENDP_VENV / "bin" / "python"
    if not py.exists():
        print("[dp] installing opendp into bench/.peers/opendp", file=sys.stderr, flush=True)
        ok = subprocess.run([sys.executable, "-m", "venv", str(OPENDP_VENV)]).returncode == 0 and subprocess.run(
            [str(py), "-m", "pip", "install", "-q", "opendp"]).returncode == 0
        if not ok:
            return None
    return py


def bench_plaintext(n: int, repeats: int, with_opendp: bool) -> None:
    py = opendp_python() if with_opendp else None
    for op, param, call, peer in PLAIN:
        call(1000)  # warm-up
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            call(n)
            times.append(time.perf_counter() - t)
        sec = statistics.median(times)
        common = {"op": op, "phase": "local", "parties": 1, "n": n, "bytes": 0, "rounds": 0,
                  "transport": "none"}
        _line(**common, system="tessera", engine="plaintext", seconds=sec, samples_per_s=round(n / sec))
        if peer is None:
            continue
        if py is None:
            _line(**common, system="opendp", status="not-available",
                  reason="opendp is not installed in bench/.peers/opendp" if with_opendp else "--no-opendp")
            continue
        proc = subprocess.run([str(py), "-c", OPENDP_SNIPPET, peer[0], peer[1], str(param), str(n), str(repeats)],
                              capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            _line(**common, system="opendp", status="failed", reason=(proc.stderr.strip().splitlines() or ["?"])[-1])
            continue
        got = json.loads(proc.stdout.strip().splitlines()[-1])
        _line(**common, system="opendp", engine=f"opendp {got['version']} {peer[0]}", seconds=got["seconds"],
              samples_per_s=round(n / got["seconds"]))


def noise_fn(p, op: str, size: int):
    if op == "mpc-dgauss-s20":
        return lambda: noise.discrete_gaussian(p, 20, (size,))
    if op == "mpc-dlap-s20":
        return lambda: noise.discrete_laplace(p, 20, (size,))
    if op == "mpc-binomial-1600":
        return lambda: noise.binomial(p, 1600, (size,))
    if op == "mpc-distributed-s20":
        return lambda: noise.distributed_discrete_gaussian(p, 20, (size,), honest_parties=1)
    if op == "mpc-bernoulli":  # secret Poisson-sampling bits at DP-SGD's rate on breast cancer
        return lambda: bernoulli_mask(p, Fraction(64, 426), size)
    raise ValueError(f"unknown dp op {op!r}")


def dpsgd_setup(p, name: str, epsilon: float, dp: bool, noise_kind: str = "joint", budget: float | None = None,
                sampling: str = "shuffled_as_poisson"):
    """(encrypted model, one-epoch function, DPSGD or None, test data) for data set ``name``:
    the training rows input by party 0, the batches of ``DPSGD_SEED``'s public permutations
    (``sampling`` "shuffled_as_poisson", charged as Poisson: the labelled heuristic of
    mpc.dp.dpsgd), or with ``sampling="poisson"`` n // batch steps per epoch over all the rows,
    each with a secret Poisson batch of rate batch / n."""
    import mpc.nn
    from bench import dpsgd_ref as ref
    from mpc.dp import DPSGD, Accountant
    from mpc.dp.dpsgd import noise_multiplier_for

    cfg = DPSGD_CONFIG[name]
    xtr, xte, ytr, yte = ref.DATASETS[name]()
    n, batch = len(xtr), cfg["batch"]
    enc = mpc.nn.from_torch(p, ref.model_for(name), owner=0).train()
    x = p.input(xtr if p.pid == 0 else None, owner=0, shape=xtr.shape)
    y = ytr  # labels public to keep the bench on the model (a secret one-hot costs one input more)
    opt = mpc.nn.SGD(enc.parameters(), lr=cfg["lr"])
    steps = cfg["epochs"] * (n // batch)
    poisson = sampling == "poisson"
    q = float(sampled_rate(Fraction(batch, n))) if poisson else batch / n
    z = noise_multiplier_for(epsilon, DPSGD_DELTA, q, steps)
    dps = DPSGD(opt, DPSGD_C, z, Accountant(budget or epsilon, DPSGD_DELTA), party=p, dataset_size=n,
                noise=noise_kind, honest_parties=p.n if noise_kind == "distributed" else None,
                sampling=sampling, sample_rate=q if poisson else None) if dp else None
    prg = mpc.nn.public_prg(DPSGD_SEED)
    loss_fn = mpc.nn.CrossEntropyLoss()

    def epoch():
        if poisson:
            for _ in range(n // batch):
                dps.step(loss_fn(enc(x), y))
            return
        order = mpc.nn.permutation(prg, n)
        for lo in range(0, n - batch + 1, batch):
            idx = order[lo : lo + batch]
            loss = loss_fn(enc(x[idx]), y[idx])
            if dps is not None:
                dps.step(loss)
            else:
                opt.zero_grad()
                loss.backward()
                opt.step()
    return enc, epoch, dps, (xte, yte), z


def plain_poisson_dpsgd(model, x, y, steps: int, q: float, lr: float, C: float, noise_std: float,
                        expected: int, seed: int, replay=None):
    """Plaintext DP-SGD with Poisson batches of rate ``q`` (a reference: NumPy's generator draws
    the sample and the noise, in the clear), the noisy sum divided by the expected batch size
    ``expected``, as Opacus and mpc.dp.DPSGD(sampling="poisson") do. ``replay`` (tests): one
    (0/1 mask over the records, flat noise in ``named_parameters`` order) per step, used instead
    of fresh draws, to replay what an MPC run opened for the purpose."""
    import numpy as np
    import torch
    from torch.func import functional_call, grad, vmap

    from bench.dpsgd_ref import step_noise

    model = model.double()
    params = {k: v.detach() for k, v in model.named_parameters()}
    rng = np.random.default_rng(seed)

    def loss_one(p, xi, yi):
        return torch.nn.functional.cross_entropy(functional_call(model, p, (xi[None],)), yi[None], reduction="sum")

    per_grad = vmap(grad(loss_one), in_dims=(None, 0, 0))
    xt, yt = torch.tensor(x), torch.tensor(y)
    for t in range(steps):
        g = per_grad(params, xt, yt)
        norms = torch.sqrt(sum((v.reshape(len(x), -1) ** 2).sum(1) for v in g.values()))
        mask, flat = (rng.random(len(x)) < q, None) if replay is None else replay[t]
        w = torch.clamp(C / norms, max=1.0) * torch.tensor(np.asarray(mask, dtype=np.float64))
        noise = step_noise(rng, noise_std, params, flat)
        for k in params:
            s = (g[k] * w.reshape((-1,) + (1,) * (g[k].ndim - 1))).sum(0)
            params[k] = params[k] - lr * (s + noise[k]) / expected
    with torch.no_grad():
        for k, v in model.named_parameters():
            v.copy_(params[k])
    return model


def party_main(p, op: str, size: int, repeats: int, barrier) -> dict:
    """One party's offline/online timings of ``op`` (see bench/parties.py)."""
    if op in DPSGD_OPS:
        kind, name = op.split("-")[0], op.split("-")[-1]
        sampling = "poisson" if "-poisson-" in op else "shuffled_as_poisson"
        # the noise of epsilon 3 over 5 epochs; a budget that also covers the warm-up, the
        # untimed round and every repeat (timing only)
        _, epoch, _, _, _ = dpsgd_setup(p, name, 3.0, kind == "dpsgd", budget=1e6, sampling=sampling)
        return time_phases(p, epoch, (), repeats, barrier)
    return time_phases(p, noise_fn(p, op, size), (), repeats, barrier)


def dpsgd_accuracy(parties: int, epsilons=(1, 3, 8), names=("bc", "digits"), seeds: int = 3,
                   mpc_runs: dict | None = None, sampling: str = "shuffled_as_poisson") -> None:
    """The accuracy table of the module docstring (JSON lines): ``mpc_runs[name]`` MPC runs per
    configuration (default 3 for breast cancer, 1 for digits: fresh noise each run).
    ``sampling="poisson"``: secret Poisson batches in MPC, beside the plaintext Poisson
    reference only (:func:`plain_poisson_dpsgd`, ``seeds`` seeds, the MPC run's noise)."""
    mpc_runs = {"bc": 3, "digits": 1} if mpc_runs is None else mpc_runs
    from bench import dpsgd_ref as ref
    from mpc.nn import permutation, public_prg
    from mpc.testing import run_local

    for name in names:
        cfg = DPSGD_CONFIG[name]
        for eps in epsilons:
            def main(p, name=name, eps=eps, cfg=cfg):
                enc, epoch, dps, (xte, yte), z = dpsgd_setup(p, name, eps, True, sampling=sampling)
                t0 = time.perf_counter()
                for _ in range(cfg["epochs"]):
                    epoch()
                sec = (time.perf_counter() - t0) / cfg["epochs"]
                model = enc.to_torch(to=None)
                return (ref.accuracy(model, xte, yte), sec, dps.noise_std, z, dps.g, dps.accountant.spent()[0],
                        dps.steps, dps.expected_batch, dps.sample_rate)
            runs = [run_local(main, parties, timeout=3600)[0] for _ in range(mpc_runs.get(name, 1))]
            accs = [r[0] for r in runs]
            sec = statistics.median(r[1] for r in runs)
            _, _, std, z, g, spent, steps, expected, q = runs[0]
            xtr, xte, ytr, yte = ref.DATASETS[name]()
            common = {"op": "dpsgd-accuracy", "dataset": name, "parties": parties, "epsilon": eps,
                      "delta": DPSGD_DELTA, "sampling": sampling, "epsilon_spent": round(spent, 4),
                      "noise_multiplier": round(z, 4), "granularity": g, "noise_std": round(std, 4),
                      "epochs": cfg["epochs"], "batch": cfg["batch"], "lr": cfg["lr"],
                      "mpc": [round(a, 4) for a in accs], "mpc_seconds_per_epoch": round(sec, 2),
                      "transport": "local-threads", "preprocessing": "local"}
            if sampling == "poisson":
                same = [ref.accuracy(plain_poisson_dpsgd(ref.model_for(name), xtr, ytr, steps, float(q), cfg["lr"],
                                                         DPSGD_C, std, expected, s), xte, yte) for s in range(seeds)]
                _line(**common, mpc_minus_plain=round(statistics.mean(accs) - statistics.mean(same), 4),
                      plain_same_noise=[round(a, 4) for a in same])
                continue
            prg = public_prg(DPSGD_SEED)
            orders = [permutation(prg, len(xtr)) for _ in range(cfg["epochs"])]
            args = (xtr, ytr, orders, cfg["batch"], cfg["lr"], DPSGD_C)
            same = [ref.accuracy(ref.plain_dpsgd(ref.model_for(name), *args, std, s), xte, yte) for s in range(seeds)]
            zc = [ref.accuracy(ref.plain_dpsgd(ref.model_for(name), *args, z * DPSGD_C, s), xte, yte)
                  for s in range(seeds)]
            opa = [ref.accuracy(ref.opacus_dpsgd(ref.model_for(name), *args, z, s), xte, yte)
                   for s in range(seeds)] if ref.opacus_available() else None
            _line(**common, mpc_minus_plain=round(statistics.mean(accs) - statistics.mean(same), 4),
                  plain_same_noise=[round(a, 4) for a in same], plain_zc=[round(a, 4) for a in zc],
                  opacus=None if opa is None else [round(a, 4) for a in opa])


def _train_size(op: str) -> int:
    return 426 if op.endswith("-bc") else 1437


def main(argv: list[str] | None = None) -> None:
    ap = runner_parser(__doc__, repeats=3)
    ap.add_argument("--no-opendp", action="store_true", help="skip the OpenDP plaintext samplers")
    every = MPC_OPS + DPSGD_OPS
    ap.add_argument("--ops", default=",".join(MPC_OPS + DPSGD_OPS[:2] + DPSGD_OPS[4:5]),
                    help="comma-separated subset of " + ", ".join(every))
    ap.add_argument("--dpsgd-accuracy", action="store_true", help="only the DP-SGD accuracy table (threads)")
    ap.add_argument("--sampling", default="shuffled_as_poisson", choices=("shuffled_as_poisson", "poisson"),
                    help="--dpsgd-accuracy: public shuffled batches charged as Poisson (default), or secret Poisson")
    ap.set_defaults(parties=[2])
    args = parse_runner_args(ap, argv, ENGINE, list(every))
    if args is None:
        return
    if args.dpsgd_accuracy:
        for parties in args.parties:
            dpsgd_accuracy(parties, names=("bc",) if args.quick else ("bc", "digits"),
                           epsilons=(3,) if args.quick else (1, 3, 8), sampling=args.sampling)
        return
    ops = [o.strip() for o in args.ops.split(",") if o.strip()]
    unknown = [o for o in ops if o not in every]
    if unknown:
        ap.error(f"unknown op(s) {', '.join(unknown)}: choose from {', '.join(every)}")
    plain_n, mpc_n, repeats = PLAIN_SIZE, MPC_SIZE, args.repeats
    if args.quick:
        plain_n, mpc_n, repeats = 10**4, 1 << 10, 1
    if args.profile == "loopback":
        bench_plaintext(plain_n, repeats, not args.no_opendp)
    for parties in args.parties:
        for op in ops:
            dtype = "Fixed(16)" if op in DPSGD_OPS else "Int64"
            size = _train_size(op) if op in DPSGD_OPS else mpc_n
            for line in parties_measure("dp", party_main, op, size, parties, repeats, args.transport, args.profile,
                                        engine=ENGINE, dtype=dtype):
                print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
