"""Comparison and non-linear function benchmarks: W3 (x < y), W4 (ReLU), sigmoid, softmax.

    python bench/compare.py [--quick] [--parties 2 3] [--repeats 5]

Workloads (bench/peers/workloads.py inputs for W3/W4):
- W3: ``lt`` on two secret Fixed(16) vectors of 10^5 elements (x from party 0, y from party 1);
- W4: ``relu`` of a secret vector of 10^5 elements;
- ``sigmoid`` of 10^4 elements and ``softmax`` of 1000 rows of 10 logits.

Setting: parties are threads of this process over in-process channels ("local-threads"), with a
TrustedDealer thread for the arithmetic material (Beaver and truncation triples), prefetched in
the offline phase exactly as bench/arith.py does. The GMW AND triples come from the in-process
:class:`~mpc.preprocessing.bit_triples.LocalBitTriples` (the dealer does not serve them yet); the
offline phase generates the words the operation needs into a pool, so the online phase only
consumes them. Offline ``bytes`` = dealer bytes to party n-1 for the arithmetic material plus
8 bytes per AND-triple word, what the seed-compressed bit-triple dealer sends to party n-1
(:func:`mpc.preprocessing.bit_triples.dealer_bit_triples`); ``bit_triple_words`` gives the count.
``seconds``: median over repeats of the slowest party; online ``bytes``: what the busiest party
sent; ``rounds``: communication rounds of the phase. One JSON line per measurement.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections import deque
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))

import workloads as wl  # noqa: E402

import mpc.functions as F  # noqa: E402
from mpc._core import get_kernels  # noqa: E402
from mpc.engines.convert import Converter  # noqa: E402
from mpc.engines.gmw import GMWEngine  # noqa: E402
from mpc.preprocessing.bit_triples import BitTripleSource, LocalBitTriples  # noqa: E402
from mpc.preprocessing.dabits import DaBitSource, LocalDaBits  # noqa: E402
from mpc.tensor import compare as C  # noqa: E402
from mpc.testing import run_local  # noqa: E402


class _Pool:
    """Material drawn ahead (offline) in the order the warm-up requested it; online takes it."""

    def __init__(self, draw) -> None:
        self.draw = draw
        self.log: list[int] = []
        self.pool: deque = deque()

    def take(self, count: int):
        self.log.append(count)
        if self.pool and self.pool[0][0] == count:
            return self.pool.popleft()[1]
        return self.draw(count)

    def fill(self, counts: list[int]) -> None:
        self.pool.extend((c, self.draw(c)) for c in counts)


class PooledBitTriples(BitTripleSource):
    def __init__(self, inner: BitTripleSource) -> None:
        self.p = _Pool(inner.bit_triples)

    def bit_triples(self, nwords: int):
        return self.p.take(nwords)


class PooledDaBits(DaBitSource):
    def __init__(self, inner: DaBitSource) -> None:
        self.p = _Pool(inner.dabits)

    def dabits(self, count: int):
        return self.p.take(count)


def workload(op: str, size: int):
    """(input arrays (x, y or None), the operation on secret tensors)."""
    if op == "W3":
        inp = wl.make_inputs("W3", size)
        return inp["x"], inp["y"], (lambda x, y: C.lt(x, y))
    if op == "W4":
        return wl.make_inputs("W4", size)["x"], None, (lambda x, y: C.relu(x))
    gen = np.random.default_rng([wl.SEED, size])
    if op == "sigmoid":
        return gen.uniform(-20, 20, size), None, (lambda x, y: F.sigmoid(x))
    return gen.uniform(-20, 20, (size, 10)), None, (lambda x, y: F.softmax(x))


def measure(op: str, size: int, parties: int, repeats: int, use_dabits: bool) -> list[dict]:
    xin, yin, fn = workload(op, size)
    barrier = threading.Barrier(parties)

    def main(p):
        seed = p.common_prg.derive("bench/bit-triples").random_bytes(16)
        pool = PooledBitTriples(LocalBitTriples(seed, p.pid, p.n))
        dab = PooledDaBits(LocalDaBits(p.common_prg.derive("bench/dabits").random_bytes(16), p.pid, p.n))
        gmw = GMWEngine(p.channel, pool, p.kernels, prg=p.prg, pair_prgs=p.pair_prgs)
        p.engine.converter = Converter(p.engine, gmw, dabits=dab if use_dabits else None)
        x = p.input(xin if p.pid == 0 else None, owner=0, shape=xin.shape)
        y = None
        if yin is not None:
            y = p.input(yin if p.pid == p.n - 1 else None, owner=p.n - 1, shape=yin.shape)
        with p.recording() as plan:
            fn(x, y)  # warm-up: records the arithmetic plan, the AND-triple words and the daBits
        tlog, dlog = list(pool.p.log), list(dab.p.log)
        words, nda = sum(tlog), sum(dlog)
        offline, online = [], []
        for r in range(repeats):
            barrier.wait()
            dealer0 = p.stats().get("dealer", {}).get("bytes_received", 0)
            t0 = time.perf_counter()
            with p.section(f"off{r}"):
                p.preprocess(plan)
                pool.p.fill(tlog)
                dab.p.fill(dlog)
            offline.append(time.perf_counter() - t0)
            dealer_bytes = p.stats().get("dealer", {}).get("bytes_received", 0) - dealer0
            barrier.wait()
            with p.section(f"on{r}"):
                t0 = time.perf_counter()
                fn(x, y)
                online.append(time.perf_counter() - t0)
        s = p.stats()["sections"][f"on{repeats - 1}"]
        last = p.pid == p.n - 1
        return {"offline": offline, "online": online, "words": words, "dabits": nda,
                "offline_bytes": dealer_bytes + (8 * (words + nda) if last else 0),
                "online_bytes": s["bytes_sent"], "online_rounds": s["rounds"], "offline_rounds": 1 if last else 0}

    res = run_local(main, parties, preprocessing="dealer", timeout=600)
    common = {"op": op, "engine": "semi2k+gmw" + ("+dabits" if use_dabits else ""), "parties": parties, "n": size, "system": "tessera",
              "transport": "local-threads", "backend": get_kernels().backend, "dtype": "Fixed(16)"}
    off = statistics.median(max(r["offline"][i] for r in res) for i in range(repeats))
    on = statistics.median(max(r["online"][i] for r in res) for i in range(repeats))
    return [
        {**common, "phase": "offline", "seconds": off, "bytes": max(r["offline_bytes"] for r in res),
         "rounds": max(r["offline_rounds"] for r in res), "bit_triple_words": res[0]["words"],
         "dabits": res[0]["dabits"]},
        {**common, "phase": "online", "seconds": on, "bytes": max(r["online_bytes"] for r in res),
         "rounds": max(r["online_rounds"] for r in res)},
    ]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, one repeat (a smoke test)")
    ap.add_argument("--parties", type=int, nargs="+", default=[2, 3])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    sizes = {"W3": 10**5, "W4": 10**5, "sigmoid": 10**4, "softmax": 1000}
    repeats = args.repeats
    if args.quick:
        sizes = {k: max(v // 100, 10) for k, v in sizes.items()}
        repeats = 1
    for parties in args.parties:
        for op, size in sizes.items():
            for use_dabits in (False, True):
                for line in measure(op, size, parties, repeats, use_dabits):
                    print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
