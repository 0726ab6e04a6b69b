"""Comparison and non-linear function benchmarks: W3 (x < y), W4 (ReLU), sigmoid, softmax.

    python bench/compare.py [--quick] [--parties 2 3] [--repeats 5] [--engines semi2k spdz2k]
                            [--preprocessing dealer|ot] [--profile loopback|lan|wan]

Workloads (bench/peers/workloads.py inputs for W3/W4):
- W3: ``lt`` on two secret Fixed(16) vectors of 10^5 elements (x from party 0, y from party 1);
- W4: ``relu`` of a secret vector of 10^5 elements;
- ``sigmoid`` of 10^4 elements and ``softmax`` of 1000 rows of 10 logits.

Setting (``--transport``, see bench/parties.py): ``procs`` (the default,
"processes-zmq+shm-loopback"): one process per party plus the dealer process via ``mpcrun``, over
ZeroMQ on loopback, plaintext, with mpcrun's default for one host; every default run also
measures mpcrun's encrypted default beside it ("...-encrypted", engine ``... encrypted``: CURVE
links, large payloads as AES-GCM records), ``procs-enc`` that one alone; ``local`` ("local-threads"): threads over
in-process channels. ``--profile lan|wan`` (root only): every process in its own network
namespace shaped by that profile (bench/parties.py). All material (Beaver and truncation triples, AND triples, daBits) comes
from the TrustedDealer and is prefetched in the offline phase exactly as bench/arith.py does;
offline ``bytes`` is what the dealer sent to party n-1. ``seconds``: median over repeats of the slowest party; online ``bytes``: what the busiest party
sent; ``rounds``: communication rounds of the phase. One JSON line per measurement.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


import mpc.functions as F  # noqa: E402
from bench.parties import measure as parties_measure  # noqa: E402
from bench.parties import parse_runner_args, run_engine_cases, runner_parser, time_and_check  # noqa: E402
from bench.peers import workloads as wl  # noqa: E402
from mpc.tensor import compare as C  # noqa: E402

# the engine each line runs (mpcrun --engine) and its label in the tables: semi2k's comparisons
# run on GMW with daBits; spdz2k's on its authenticated bits (GF(2^64) MACs) with edaBits
ENGINE_LABELS = {"semi2k": "semi2k+gmw+dabits", "spdz2k": "spdz2k"}


def workload(op: str, size: int):
    """(input x, input y or None, the operation on secret tensors, the float64 plaintext result)."""
    if op in ("W3", "W4"):
        inp = wl.make_inputs(op, size)
        fn = (lambda x, y: C.lt(x, y)) if op == "W3" else (lambda x, y: C.relu(x))
        return inp["x"], inp.get("y"), fn, wl.reference(op, inp)
    gen = np.random.default_rng([wl.SEED, size])
    if op == "sigmoid":
        x = gen.uniform(-20, 20, size)
        return x, None, (lambda x, y: F.sigmoid(x)), wl.sigmoid(x)
    x = gen.uniform(-20, 20, (size, 10))
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return x, None, (lambda x, y: F.softmax(x)), e / e.sum(axis=1, keepdims=True)


def party_main(p, op: str, size: int, repeats: int, barrier) -> dict:
    """One party's timings for ``op`` and the accuracy of its result (see bench/parties.py)."""
    xin, yin, fn, ref = workload(op, size)
    x = p.input(xin if p.pid == 0 else None, owner=0, shape=xin.shape)
    y = None if yin is None else p.input(yin if p.pid == p.n - 1 else None, owner=p.n - 1, shape=yin.shape)
    return time_and_check(p, fn, (x, y), repeats, barrier, ref)


def measure(op: str, size: int, parties: int, repeats: int, transport: str, profile: str = "loopback",
            engine: str = "semi2k", **kw) -> list[dict]:
    return parties_measure("compare", party_main, op, size, parties, repeats, transport, profile, **kw,
                           engine=ENGINE_LABELS[engine], dtype="Fixed(16)")


def main(argv: list[str] | None = None) -> None:
    ap = runner_parser(__doc__, repeats=5, preprocessing=True)
    ap.add_argument("--engines", nargs="+", choices=tuple(ENGINE_LABELS), default=list(ENGINE_LABELS))
    args = parse_runner_args(ap, argv, "semi2k+gmw+dabits", ["W3", "W4", "sigmoid", "softmax"])
    if args is None:
        return
    sizes = {"W3": 10**5, "W4": 10**5, "sigmoid": 10**4, "softmax": 1000}
    repeats = args.repeats
    if args.quick:
        sizes = {k: max(v // 100, 10) for k, v in sizes.items()}
        repeats = 1
    run_engine_cases(args, sizes.items(), measure, repeats)


if __name__ == "__main__":
    main()
