"""semi2k arithmetic benchmarks: fixed-point products and matrix products, offline vs online.

    python bench/arith.py [--quick] [--parties 2 3]

Workloads (DESIGN.md section 8):
- W1: elementwise product of two secret Fixed(16) vectors of 10^5 and 10^6 elements, as
  ``mul`` (x*y with deferred truncation: the product stays at scale 2f, one round) and
  ``mul_trunc`` ((x*y).truncate(): two rounds, comparable to CrypTen's mul);
- W2: a secret 256x256 @ 256x256 Fixed(16) matrix product (``matmul``, deferred truncation).

Setting: parties are threads of this process, with the dealer in a thread too, over
in-process channels (``--transport local``, reported as "local-threads") or over ZeroMQ on
loopback TCP, plaintext (``--transport zmq``, "zmq-loopback-threads": real sockets, same
dealer service as ``mpcrun``). The offline phase is
``party.preprocess(plan)`` (the plan recorded from one warm-up run); the online phase then runs
with no dealer traffic. ``seconds`` is the median over repeats of the slowest party; ``bytes``
is per party: for the online phase what the busiest party sent to its peers, for the offline
phase what the dealer sent to party n-1 (the only party that talks to the dealer; the others
expand their material from seeds). ``rounds`` counts communication rounds of the phase.
One JSON line per measurement.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mpc._core import get_kernels  # noqa: E402
from mpc.testing import run_local  # noqa: E402

TRANSPORTS = {"local": "local-threads", "zmq": "zmq-loopback-threads"}


def run_zmq_threads(main, n: int) -> list:
    """Like run_local, over ZeroMQ loopback sockets with the dealer service in a thread."""
    from mpc.config import DEALER, SessionConfig
    from mpc.launch.local import free_port_block
    from mpc.net.zmq_channel import ZmqChannel
    from mpc.preprocessing.dealer_service import party_link, serve
    from mpc.runtime.party import Party

    base = free_port_block(2 * n)
    common = {"n": n, "session": 1, "endpoints": tuple(f"tcp://127.0.0.1:{base + i}" for i in range(n)),
              "dealer_endpoint": f"tcp://127.0.0.1:{base + n}", "timeout": 600.0, "connect_timeout": 30.0}
    results, errors = [None] * n, []

    def party(pid: int) -> None:
        try:
            cfg = SessionConfig(pid=pid, **common)
            ch = ZmqChannel(pid, n, cfg.session, cfg.endpoints, timeout=cfg.timeout, connect_timeout=cfg.connect_timeout)
            p = Party(ch, preprocessing="dealer", dealer=party_link(cfg))
            try:
                results[pid] = main(p)
            finally:
                p.close()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=serve, args=(SessionConfig(pid=DEALER, **common),), daemon=True)]
    threads += [threading.Thread(target=party, args=(pid,), daemon=True) for pid in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def workload(op: str, size: int):
    """(input shapes, the operation on secret tensors)."""
    if op == "matmul":
        return ((size, size), (size, size)), (lambda x, y: x @ y)
    if op == "mul":
        return ((size,), (size,)), (lambda x, y: x * y)
    return ((size,), (size,)), (lambda x, y: (x * y).truncate())


def measure(op: str, size: int, parties: int, repeats: int, transport: str) -> list[dict]:
    (sx, sy), fn = workload(op, size)
    barrier = threading.Barrier(parties)

    def main(p):
        gen = np.random.default_rng(p.pid)  # benchmark data, not secrets
        x = p.input(gen.uniform(-8, 8, sx) if p.pid == 0 else None, owner=0, shape=sx)
        y = p.input(gen.uniform(-8, 8, sy) if p.pid == p.n - 1 else None, owner=p.n - 1, shape=sy)
        with p.recording() as plan:
            fn(x, y)  # warm-up, on-demand material; records the plan
        offline, online = [], []
        for r in range(repeats):
            barrier.wait()
            dealer0 = p.stats().get("dealer", {}).get("bytes_received", 0)
            with p.section(f"off{r}"):
                t0 = time.perf_counter()
                p.preprocess(plan)
                offline.append(time.perf_counter() - t0)
            dealer_bytes = p.stats().get("dealer", {}).get("bytes_received", 0) - dealer0
            barrier.wait()
            with p.section(f"on{r}"):
                t0 = time.perf_counter()
                fn(x, y)
                online.append(time.perf_counter() - t0)
        s = p.stats()["sections"]
        return {"offline": offline, "online": online, "dealer_bytes": dealer_bytes,
                "online_bytes": s[f"on{repeats - 1}"]["bytes_sent"], "online_rounds": s[f"on{repeats - 1}"]["rounds"],
                "offline_rounds": 1 if p.pid == p.n - 1 else 0}

    if transport == "zmq":
        res = run_zmq_threads(main, parties)
    else:
        res = run_local(main, parties, preprocessing="dealer", timeout=600)
    common = {"op": op, "engine": "semi2k", "parties": parties, "n": size, "system": "tessera",
              "transport": TRANSPORTS[transport], "backend": get_kernels().backend, "dtype": "Fixed(16)"}
    off = statistics.median(max(r["offline"][i] for r in res) for i in range(repeats))
    on = statistics.median(max(r["online"][i] for r in res) for i in range(repeats))
    return [
        {**common, "phase": "offline", "seconds": off, "bytes": max(r["dealer_bytes"] for r in res),
         "rounds": max(r["offline_rounds"] for r in res)},
        {**common, "phase": "online", "seconds": on, "bytes": max(r["online_bytes"] for r in res),
         "rounds": max(r["online_rounds"] for r in res)},
    ]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, one repeat (a smoke test)")
    ap.add_argument("--parties", type=int, nargs="+", default=[2, 3])
    ap.add_argument("--transport", choices=sorted(TRANSPORTS), default="local")
    args = ap.parse_args(argv)
    if args.quick:
        cases = [("mul", 10**4, 1), ("mul_trunc", 10**4, 1), ("matmul", 32, 1)]
    else:
        cases = [("mul", 10**5, 5), ("mul", 10**6, 3), ("mul_trunc", 10**5, 5), ("mul_trunc", 10**6, 3),
                 ("matmul", 256, 3)]
    for parties in args.parties:
        measure("mul", 10**4, parties, 1, args.transport)  # warm-up: imports, allocator, threads
        for op, size, repeats in cases:
            for record in measure(op, size, parties, repeats, args.transport):
                print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
