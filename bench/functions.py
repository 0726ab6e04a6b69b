"""Nonlinear function benchmarks (mpc.functions): exp, log, reciprocal, sqrt, rsqrt, tanh.

    python bench/functions.py [--quick] [--parties 2 3] [--repeats 5] [--transport procs|local]

Workloads (inputs and plaintext references from bench/peers/workloads.py, the same values for
every system): each function on one secret Fixed(16) vector of 10^4 elements owned by party 0,
drawn over the accuracy domain that mpc/functions/ documents for it:

=============  ==================================  ============================================
 op             x                                   Tessera's method (mpc/functions/)
=============  ==================================  ============================================
 exp            uniform on [-16, 10]                range reduction, 2^r by a Chebyshev poly
 log            log-uniform on [1e-3, 1e4]          normalisation by the leading one, poly
 reciprocal     |x| log-uniform on [1e-2, 1e4],     normalisation, poly of the mantissa,
                both signs                          exact secret power of two
 sqrt, rsqrt    log-uniform on [1e-2, 1e4]          as reciprocal, even exponent
 tanh           uniform on [-20, 20]                saturating polynomial of |x|
=============  ==================================  ============================================

Inputs are multiples of 2^-16, so every system's 16-bit fixed point encodes them exactly and the
error columns measure the function. sigmoid and softmax are in bench/compare.py (not repeated).

Accuracy against float64 plaintext on the same inputs: ``max_abs_err``, ``n_off`` (off by more
than 2^-10) and ``max_rel_err`` = max |result - f(x)| / |f(x)|, what matters for these functions
(exp spans 1e-7 .. 2e4, reciprocal 1e-4 .. 1e2: an absolute bound says little at either end).
Tessera's results are at scale 2f (32 fractional bits), so small results keep their relative
precision; the peers return 16 fractional bits.

Setting and measurement, as bench/compare.py (see bench/parties.py): ``--transport procs`` (the
default, "processes-zmq-loopback"): one process per party plus the dealer process via
``mpcrun``, over ZeroMQ on loopback TCP, plaintext, as the peers run; ``local``: threads over
in-process channels. Engine semi2k with the GMW boolean engine and daBits; security semi-honest,
dishonest majority (additive sharing over Z_2^64), all correlated randomness from the
TrustedDealer process, prefetched in the offline phase from the plan recorded by a warm-up run.
``seconds``: median over repeats of the slowest party; offline ``bytes``: what the dealer sent
to party n-1; online ``bytes``: what the busiest party sent; ``rounds``: communication rounds of
the phase. One JSON line per phase and measurement.

Peers (run by ``python -m bench functions``, interleaved per round with this script): CrypTen
(bench/peers/crypten_w.py: its exp, log, reciprocal, sqrt, inv_sqrt, tanh with the default
configuration; semi-honest, dishonest majority, TTP or TFP dealer) and MPyC (bench/peers/
mpyc_w.py: 1/x and the loop of its private sqrt helper; semi-honest, honest majority, 3 parties;
exp, log, rsqrt and tanh print not-available: MPyC 0.11 has none of them for fixed point). Their
domains are narrower than these inputs, and the error columns show it, which is the point of
measuring every system on the same values. Measured (bench/peers/crypten_w.py has the details):
CrypTen's exp, the limit (1 + x/256)^256, is 3-18% off on [-8, 10] and up to 100% below -8 (16
fractional bits); its log and reciprocal start from guesses built on e^(-2x), and that limit
grows again below -512, so both return garbage (wrapped ring values) beyond |x| ~ 256, not only
the divergence of the Newton iteration (from |x| ~ 650); its inv_sqrt (and sqrt = x inv_sqrt(x))
starts from a guess that turns negative beyond x ~ 205, garbage too. MPyC's SecFxp(32, 16) holds
|x| < 2^15, and its results keep 16 fractional bits (1/x is ~8% off at |x| = 1e4).

Extra option: ``--ops exp,log`` runs a subset.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


import mpc.functions as F  # noqa: E402
from bench.parties import measure as parties_measure  # noqa: E402
from bench.parties import parse_runner_args, runner_parser, time_and_check  # noqa: E402
from bench.peers import workloads as wl  # noqa: E402

OPS = {
    "exp": F.exp,
    "log": F.log,
    "reciprocal": F.reciprocal,
    "sqrt": F.sqrt,
    "rsqrt": F.rsqrt,
    "tanh": F.tanh,
}
assert tuple(OPS) == wl.FUNCTION_NAMES  # one list of workloads for every system
SIZE = 10**4
ENGINE = "semi2k+gmw+dabits"
DTYPE = "Fixed(16)"


def workload(op: str, size: int):
    """(input x, the operation on a secret tensor, the float64 plaintext result)."""
    inp = wl.make_inputs(op, size)
    fn = OPS[op]
    return inp["x"], (lambda x, y: fn(x)), wl.reference(op, inp)


def party_main(p, op: str, size: int, repeats: int, barrier) -> dict:
    """One party's timings for ``op`` and the accuracy of its result (see bench/parties.py)."""
    xin, fn, ref = workload(op, size)
    x = p.input(xin if p.pid == 0 else None, owner=0, shape=xin.shape)
    return time_and_check(p, fn, (x, None), repeats, barrier, ref, workload=op)


def measure(op: str, size: int, parties: int, repeats: int, transport: str, profile: str = "loopback") -> list[dict]:
    return parties_measure("functions", party_main, op, size, parties, repeats, transport, profile,
                           engine=ENGINE, dtype=DTYPE)


def main(argv: list[str] | None = None) -> None:
    ap = runner_parser(__doc__, repeats=5)
    ap.add_argument("--ops", default=",".join(OPS), help="comma-separated subset of " + ", ".join(OPS))
    args = parse_runner_args(ap, argv, ENGINE, list(OPS))
    if args is None:
        return
    ops = [o.strip().lower() for o in args.ops.split(",") if o.strip()]
    unknown = [o for o in ops if o not in OPS]
    if unknown:
        ap.error(f"unknown op(s) {', '.join(unknown)}: choose from {', '.join(OPS)}")
    size, repeats = SIZE, args.repeats
    if args.quick:  # as bench/compare.py: a hundredth of the size, one repeat
        size, repeats = max(SIZE // 100, 10), 1
    for parties in args.parties:
        for op in ops:
            for line in measure(op, size, parties, repeats, args.transport, args.profile):
                print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
