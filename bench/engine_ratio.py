"""spdz2k's online time over semi2k's on W1-W4, both engines in the same run (issue #14's targets).

    python bench/engine_ratio.py [--parties 2] [--repeats 5] [--rounds 2] [--transport procs|local]
                                 [--ops W1 W1t W2 W3 W4]

Workloads as bench/arith.py (W1: ``mul`` of 10^6 elements; W1t: W1's ``mul_trunc``, the product and
its truncation; W2: ``matmul`` 256x256 @ 256x256) and
bench/compare.py (W3: ``lt`` of 10^5; W4: ``relu`` of 10^5), Fixed(16), dealer material
prefetched offline. The engines take turns within each of ``--rounds`` rounds (semi2k, spdz2k,
semi2k, ...), so a burst of load on a shared machine hits both alike; each turn runs
``--repeats`` timed online phases (bench/parties.py ``time_phases``). One JSON line per workload:
per engine the minimum and the median over all timed phases of the slowest party's online
seconds, and the two ratios spdz2k / semi2k (the minimum is the steadier one on a loaded
machine). ``procs``: one process per party via mpcrun on loopback, plaintext, shared-memory
rings for large payloads (bench/parties.py); ``local``: threads.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import arith, compare  # noqa: E402
from bench.parties import run  # noqa: E402

CASES = {"W1": ("arith", "mul", 10**6, arith.party_main), "W1t": ("arith", "mul_trunc", 10**6, arith.party_main),
         "W2": ("arith", "matmul", 256, arith.party_main),
         "W3": ("compare", "W3", 10**5, compare.party_main), "W4": ("compare", "W4", 10**5, compare.party_main)}
ENGINES = ("semi2k", "spdz2k")


def measure(workload: str, parties: int, repeats: int, rounds: int, transport: str) -> dict:
    suite, op, size, party_main = CASES[workload]
    times: dict[str, list[float]] = {e: [] for e in ENGINES}
    for _ in range(rounds):
        for engine in ENGINES:
            res, _ = run(suite, party_main, op, size, parties, repeats, transport, engine=engine)
            times[engine] += [max(r["online"][i] for r in res) for i in range(repeats)]
    out = {"workload": workload, "op": op, "n": size, "parties": parties, "transport": transport}
    for e, ts in times.items():
        out[e] = {"min_s": min(ts), "median_s": statistics.median(ts)}
    out["ratio_min"] = min(times["spdz2k"]) / min(times["semi2k"])
    out["ratio_median"] = statistics.median(times["spdz2k"]) / statistics.median(times["semi2k"])
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parties", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--transport", choices=["procs", "local"], default="procs")
    ap.add_argument("--ops", nargs="+", choices=sorted(CASES), default=sorted(CASES))
    args = ap.parse_args(argv)
    for w in args.ops:
        print(json.dumps(measure(w, args.parties, args.repeats, args.rounds, args.transport)), flush=True)


if __name__ == "__main__":
    main()
