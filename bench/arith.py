"""Arithmetic benchmarks: fixed-point products and matrix products, offline vs online, for semi2k,
spdz2k and masked2k (``--engines``).

    python bench/arith.py [--quick] [--parties 2 3] [--engines semi2k spdz2k masked2k] [--profile loopback|lan|wan]

Workloads (DESIGN.md section 8):
- W1: elementwise product of two secret Fixed(16) vectors of 10^5 and 10^6 elements, as
  ``mul`` (x*y with deferred truncation: the product stays at scale 2f, one round; fed to
  another elementwise product its truncation rides in that product's round, so this is the
  cost of a product layer, the ratio reference) and ``mul_trunc`` ((x*y).truncate(): a
  stand-alone exact truncation round on top, what a product pays when a matrix product or an
  explicit truncate consumes it);
- W2: a secret 256x256 @ 256x256 Fixed(16) matrix product (``matmul``, deferred truncation).
- spdz2k only, ``mul_check``: W1's product followed by the MAC check of its openings (what
  verifying a product layer costs: the check itself is ``mul_check`` minus ``mul``; the check
  otherwise runs when a value is revealed, outside the timed ``mul``, and the openings of the
  untimed runs before are checked before each round: ``bench/parties.py``, ``time_phases``).

Setting (``--transport``, see bench/parties.py): ``procs`` (the default,
"processes-zmq+shm-loopback"): one process per party plus the dealer process, started by
``mpcrun`` over ZeroMQ on loopback, plaintext, with mpcrun's default for one host (payloads of 1
MiB and more through shared memory); on loopback the default run also measures every case with
``--shm off`` ("processes-zmq-loopback", engine ``semi2k tcp``): every byte over TCP, as the
peers run, the like-for-like line; ``procs-tcp`` measures that one alone; every default run also
measures the encrypted default, ``mpcrun -n`` without ``--insecure-plaintext``
("processes-zmq+shm-loopback-encrypted", engine ``semi2k encrypted``: CURVE for the set-up, then
every message as AES-GCM records, the rings sealed or not as the host decides, ``rings_sealed``),
and ``procs-enc`` measures it alone; for semi2k also with every ring sealed (``--shm sealed``,
"...-encrypted-sealed", engine ``semi2k encrypted sealed``; ``procs-enc-sealed`` alone); ``local``
("local-threads"): parties and dealer as threads of this process over in-process channels (the
engine's own cost, no sockets). ``--profile lan|wan`` (root only): every process in its own
network namespace shaped by that profile, joined by a hosts file (bench/parties.py; transport
"processes-zmq-netns"). The offline phase is ``party.preprocess(plan)`` (the plan recorded from
one warm-up run); the online phase then runs with no dealer traffic. ``seconds`` is the median
over repeats of the slowest party; ``bytes`` is per party: for the online phase what the busiest
party sent to its peers, for the offline phase what the dealer sent to party n-1 (the only party
that talks to the dealer; the others expand their material from seeds). ``rounds`` counts
communication rounds of the phase.
One JSON line per measurement.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.parties import (  # noqa: E402
    SEALED,
    engines_for_source,
    parse_runner_args,
    runner_parser,
    time_and_check,
    transports,
)
from bench.parties import measure as parties_measure  # noqa: E402
from bench.peers import workloads as wl  # noqa: E402

WORKLOAD = {"mul": "W1", "mul_trunc": "W1", "matmul": "W2", "mul_check": "W1"}
ENGINES = ("semi2k", "spdz2k", "masked2k")


def _checked(x, y):
    z = x * y
    x.engine.mac.check("bench")  # spdz2k: verify the product's openings now (3 rounds)
    return z


def workload(op: str):
    """The operation on secret tensors."""
    if op == "matmul":
        return lambda x, y: x @ y
    if op == "mul":
        return lambda x, y: x * y
    if op == "mul_check":
        return _checked
    return lambda x, y: (x * y).truncate()


def party_main(p, op: str, size: int, repeats: int, barrier) -> dict:
    """One party's timings for ``op`` and the accuracy of its result (see bench/parties.py)."""
    inp = wl.make_inputs(WORKLOAD[op], size)  # the inputs every peer uses
    x = p.input(inp["x"] if p.pid == 0 else None, owner=0, shape=inp["x"].shape)
    y = p.input(inp["y"] if p.pid == p.n - 1 else None, owner=p.n - 1, shape=inp["y"].shape)
    return time_and_check(p, workload(op), (x, y), repeats, barrier, wl.reference(WORKLOAD[op], inp))


def measure(op: str, size: int, parties: int, repeats: int, transport: str, profile: str = "loopback",
            engine: str = "semi2k", **kw) -> list[dict]:
    return parties_measure("arith", party_main, op, size, parties, repeats, transport, profile, **kw,
                           engine=engine, dtype="Fixed(16)")


def main(argv: list[str] | None = None) -> None:
    ap = runner_parser(__doc__, repeats=None, preprocessing=True)
    ap.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    args = parse_runner_args(ap, argv, "semi2k", sorted(set(WORKLOAD.values())))
    if args is None:
        return
    if args.quick:
        cases = [("mul", 10**4, 1), ("mul_trunc", 10**4, 1), ("matmul", 32, 1)]
    else:
        cases = [("mul", 10**5, 5), ("mul", 10**6, 5), ("mul_trunc", 10**5, 5), ("mul_trunc", 10**6, 5),
                 ("matmul", 256, 3)]
    # mpcrun's plaintext default, its encrypted default and (loopback) the like-for-like TCP line
    # and, for semi2k, the encrypted default with sealed rings (what sealing costs where the host
    # does not ask for it)
    lines = transports(args.transport, args.profile, tcp=True, sealed=True)
    engines = engines_for_source(args, args.engines)
    for parties in args.parties:
        measure("mul", 10**4, parties, 1, args.transport, args.profile)  # warm-up: imports, allocator, threads
        for op, size, repeats in cases:
            for engine in engines:  # engines take turns within each case: load hits both alike
                ops = [op, "mul_check"] if engine == "spdz2k" and op == "mul" else [op]
                for one in ops:
                    for transport in lines:
                        if transport == SEALED and engine != "semi2k":
                            continue
                        for record in measure(one, size, parties, repeats, transport, args.profile, engine,
                                              preprocessing=args.preprocessing):
                            print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
