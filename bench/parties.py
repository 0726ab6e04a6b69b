"""Running a benchmark's parties: as threads of this process, or one process each via mpcrun.

A runner (bench/arith.py, bench/compare.py, bench/ml.py) defines ``party_main(p, op, size, repeats, barrier)``
returning that party's timings (:func:`time_phases` does the usual offline/online loop). Then
- ``transport="procs"``: ``mpcrun -n P --insecure-plaintext bench/party_script.py SUITE OP SIZE
  REPEATS`` starts every party (and the dealer) as its own process over ZeroMQ loopback TCP, as
  the peers run; each party prints one ``BENCH-RESULT {json}`` line;
- ``transport="local"``: :func:`mpc.testing.run_local` (threads, in-process channels, a dealer
  thread): the engine's own cost without sockets.
:func:`summarize` turns the per-party results into the median over repeats of the slowest party.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from bench.peers import workloads as wl

REPO = Path(__file__).resolve().parents[1]
PARTY_SCRIPT = Path(__file__).resolve().with_name("party_script.py")
RESULT_TAG = "BENCH-RESULT "
TRANSPORTS = {"procs": "processes-zmq-loopback", "local": "local-threads"}


def time_phases(p, fn, args, repeats: int, barrier) -> dict:
    """Warm-up run recording the plan; then per repeat the offline phase (preprocess the plan)
    and the online phase (``fn(*args)`` with no dealer traffic), each started together."""
    with p.recording() as plan:
        fn(*args)
    offline, online = [], []
    for r in range(repeats):
        barrier()
        dealer0 = p.stats().get("dealer", {}).get("bytes_received", 0)
        t0 = time.perf_counter()
        p.preprocess(plan)
        offline.append(time.perf_counter() - t0)
        dealer_bytes = p.stats().get("dealer", {}).get("bytes_received", 0) - dealer0
        barrier()
        with p.section(f"on{r}"):
            t0 = time.perf_counter()
            fn(*args)
            online.append(time.perf_counter() - t0)
    s = p.stats()["sections"][f"on{repeats - 1}"]
    return {"offline": offline, "online": online, "dealer_bytes": dealer_bytes, "online_bytes": s["bytes_sent"],
            "online_rounds": s["rounds"], "offline_rounds": 1 if p.pid == p.n - 1 else 0}


def time_and_check(p, fn, args, repeats: int, barrier, reference) -> dict:
    """:func:`time_phases`, then reveal the last online result and score it against the float64
    plaintext ``reference`` (max_abs_err, n_off: results off by more than 2^-10, n_results)."""
    results = []
    out = time_phases(p, lambda *a: results.append(fn(*a)), args, repeats, barrier)
    out.update(wl.accuracy(p.reveal(results[-1]), reference))
    return out


def channel_barrier(p):
    """All parties start a phase together (one tiny exchange)."""
    return lambda: p.channel.exchange(np.zeros(1, dtype=np.uint64))


def run(suite: str, party_main, op: str, size: int, parties: int, repeats: int, transport: str) -> list[dict]:
    if transport == "procs":
        return _processes(suite, op, size, parties, repeats)
    from mpc.testing import run_local

    barrier = threading.Barrier(parties)
    return run_local(lambda p: party_main(p, op, size, repeats, barrier.wait), parties,
                     preprocessing="dealer", timeout=600)


def _processes(suite: str, op: str, size: int, parties: int, repeats: int) -> list[dict]:
    with tempfile.TemporaryDirectory() as logs:
        cmd = [sys.executable, "-m", "mpc", "run", "-n", str(parties), "--insecure-plaintext", "--timeout", "600",
               "--log-dir", logs, str(PARTY_SCRIPT), suite, op, str(size), str(repeats)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, cwd=REPO)
    if done.returncode != 0:
        raise RuntimeError(f"mpcrun failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}")
    found = [json.loads(line.split(RESULT_TAG, 1)[1]) for line in done.stdout.splitlines() if RESULT_TAG in line]
    if len(found) != parties:
        raise RuntimeError(f"expected {parties} result lines from mpcrun, got {len(found)}: {done.stdout[-2000:]}")
    return found


def measure(suite: str, party_main, op: str, size: int, parties: int, repeats: int, transport: str,
            **fields) -> list[dict]:
    """Run ``party_main`` on every party and return the offline and online JSON records.

    ``fields`` go into both records (engine, dtype, ...); accuracy keys that party 0's result
    carries (max_abs_err, n_off, n_results) are copied too.
    """
    from mpc._core import get_kernels

    res = run(suite, party_main, op, size, parties, repeats, transport)
    common = {"op": op, "parties": parties, "n": size, "system": "tessera", "transport": TRANSPORTS[transport],
              "backend": get_kernels().backend, **fields,
              **{k: res[0][k] for k in ("max_abs_err", "n_off", "n_results") if k in res[0]}}
    off, on = summarize(res, repeats)
    return [
        {**common, "phase": "offline", "seconds": off, "bytes": max(r["dealer_bytes"] for r in res),
         "rounds": max(r["offline_rounds"] for r in res)},
        {**common, "phase": "online", "seconds": on, "bytes": max(r["online_bytes"] for r in res),
         "rounds": max(r["online_rounds"] for r in res)},
    ]


def summarize(res: list[dict], repeats: int) -> tuple[float, float]:
    """(offline, online) seconds: the median over repeats of the slowest party."""
    off = statistics.median(max(r["offline"][i] for r in res) for i in range(repeats))
    on = statistics.median(max(r["online"][i] for r in res) for i in range(repeats))
    return off, on
