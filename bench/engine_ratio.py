"""spdz2k's online time over semi2k's on W1-W5, both engines in the same run (issue #14's targets).

    python bench/engine_ratio.py [--parties 2] [--repeats 5] [--rounds 2] [--profile loopback|lan|wan]
                                 [--transport procs|procs-enc|local] [--ops W1 W1t W2 W3 W4 W5] [--quick]

Workloads as bench/arith.py (W1: ``mul`` of 10^6 elements; W1t: W1's ``mul_trunc``, the product
and its truncation; W2: ``matmul`` 256x256 @ 256x256), bench/compare.py (W3: ``lt`` of 10^5; W4:
``relu`` of 10^5) and bench/ml.py (W5: the MLP 784-128-128-10 inference of a batch of 64),
Fixed(16), dealer material prefetched offline; ``--quick`` shrinks W1-W4 (10^4, 32, 10^3) for a
smoke run whose ratios mean little. The engines take turns within each of ``--rounds`` rounds
(semi2k, spdz2k, semi2k, ...), so a burst of load on a shared machine hits both alike; each turn
runs ``--repeats`` timed online phases (bench/parties.py ``time_phases``). One JSON line per
workload: per engine the minimum and the median over all timed phases of the slowest party's
online seconds, the two ratios spdz2k / semi2k (the minimum is the steadier one on a loaded
machine), and issue #14's target for the workload with whether the median ratio meets it
(``target`` and ``met`` None for W1t, which has none, and under ``--quick``). ``procs``: one
process per party via mpcrun on loopback, plaintext, shared-memory rings for large payloads
(bench/parties.py); ``procs-enc``: the same under mpcrun's encrypted default; ``local``: threads.
``--profile lan|wan`` (root only; processes): every party in its own network namespace, shaped as
that profile (bench/netns.py: lan 1 Gbit/s and 0.1 ms, wan 100 Mbit/s and 40 ms), so the ratios are
those of hosts on a network instead of processes sharing one memory bus; each line says its profile.

Why interleave: spdz2k's kernels are memory-bound (they move about three times semi2k's bytes per
product, bench/kernels.py), so on a VM whose memory bandwidth other tenants share, every spdz2k
kernel slows down together for stretches of seconds, and two runs minutes apart disagree: W1's
spdz2k median over 40 steps in one process went from 20 to 28 ms within half an hour on the Zen 4
VM of bench/README.md (stop 42's note).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import arith, compare, ml  # noqa: E402
from bench.parties import add_profile_argument, profile_unavailable, run  # noqa: E402

CASES = {"W1": ("arith", "mul", 10**6, arith.party_main), "W1t": ("arith", "mul_trunc", 10**6, arith.party_main),
         "W2": ("arith", "matmul", 256, arith.party_main),
         "W3": ("compare", "W3", 10**5, compare.party_main), "W4": ("compare", "W4", 10**5, compare.party_main),
         "W5": ("ml", "W5", 64, ml.party_main)}
QUICK_SIZES = {"W1": 10**4, "W1t": 10**4, "W2": 32, "W3": 10**3, "W4": 10**3, "W5": 64}
# issue #14: spdz2k's online time at most this many times semi2k's (W1 at 10^6 and W2; W3-W5)
TARGETS = {"W1": 2.5, "W2": 2.5, "W3": 3.0, "W4": 3.0, "W5": 3.0}
ENGINES = ("semi2k", "spdz2k")


def measure(workload: str, parties: int, repeats: int, rounds: int, transport: str, quick: bool = False,
            profile: str = "loopback") -> dict:
    suite, op, size, party_main = CASES[workload]
    if quick:
        size = QUICK_SIZES[workload]
    times: dict[str, list[float]] = {e: [] for e in ENGINES}
    for _ in range(rounds):
        for engine in ENGINES:
            res, _ = run(suite, party_main, op, size, parties, repeats, transport, profile=profile, engine=engine)
            times[engine] += [max(r["online"][i] for r in res) for i in range(repeats)]
    out = {"workload": workload, "op": op, "n": size, "parties": parties, "transport": transport, "profile": profile}
    for e, ts in times.items():
        out[e] = {"min_s": min(ts), "median_s": statistics.median(ts)}
    out["ratio_min"] = min(times["spdz2k"]) / min(times["semi2k"])
    out["ratio_median"] = statistics.median(times["spdz2k"]) / statistics.median(times["semi2k"])
    out["target"] = None if quick else TARGETS.get(workload)  # the targets are for the full sizes
    out["met"] = None if out["target"] is None else out["ratio_median"] <= out["target"]
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parties", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--transport", choices=["procs", "procs-enc", "local"], default="procs")
    ap.add_argument("--ops", nargs="+", choices=sorted(CASES), default=sorted(CASES))
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    add_profile_argument(ap)
    args = ap.parse_args(argv)
    why = profile_unavailable(args.profile)
    if why:
        ap.error(why)
    for w in args.ops:
        print(json.dumps(measure(w, args.parties, args.repeats, args.rounds, args.transport, args.quick, args.profile)),
              flush=True)


if __name__ == "__main__":
    main()
