"""Offline-phase benchmark: dealer-free material from OT (``preprocessing="ot"``).

    python bench/offline.py [--quick] [--parties 2 3] [--transport procs|local] [--batch 65536] [--ops auth_triple]
                            [--profile loopback|lan|wan]

Measures, per party count, how fast the parties make their own material with no dealer
(:mod:`mpc.preprocessing.ot_source`): ``triple`` (Beaver triples over Z_2^64 by Gilboa's OT
multiplication), ``and`` (AND triples from 1-bit correlated OT), ``dabit`` (daBits) and
``auth_triple`` (authenticated spdz2k triples over Z_2^128 with MACs, ``engine="spdz2k"``:
Gilboa products, COPE MACs, the input check and the sacrifice, :mod:`mpc.preprocessing.ot_spdz`;
``bytes_per_item`` is then the bytes per authenticated triple per party) and ``auth_trunc``
(authenticated truncation tuples for f = 16 from authenticated random bits,
:mod:`mpc.preprocessing.ot_spdz_bits`), ``auth_div`` (authenticated division tuples for d = 3 by
rejection sampling on authenticated bits) and ``auth_tmul`` (authenticated truncating-product
tuples, k1 = k2 = 16), both :mod:`mpc.preprocessing.ot_spdz_div`; ``auth_lt``: all the material
of ``x < 0`` on n elements under spdz2k (its edaBits, AND triples, daBits; the plan of a dry run
on an input made before the timing, preprocessed), the figure a small script pays per comparison
(for n < 64 the AND triples of the n live lanes only, docs/preprocessing.md);
``auth_lt_demand``: ``reveal(x < 0)`` on n elements with nothing prefetched, its material made
on demand as a script without a plan makes it (``seconds`` then includes the online phase;
``rounds`` counts the offline ones: a small circuit's AND layers come from the gate pool,
:class:`~mpc.preprocessing.ot_spdz_mixed.GatePool`).
The base OTs are made in an untimed warm-up request, once per session (they cost about 0.3 s
per ordered pair). Each repeat then asks for n items of the kind; ``seconds`` is the median
over repeats of the slowest party, ``per_second`` = n / seconds, ``bytes`` what the busiest
party sent in the offline section (``party.stats()["offline"]``) for the n items, and
``bytes_per_item`` = bytes / n (per party). ``rounds``: offline rounds of one repeat.
``cpu_seconds``: the same median of the busiest party's CPU time (``time.process_time``, all
its threads) and ``cpu_per_second`` = n / cpu_seconds: what one core per party would reach,
the figure to compare when the machine is shared (wall time then includes the waits).

Transports (see bench/parties.py): ``procs`` (default): ``mpcrun -n P --preprocessing ot
--insecure-plaintext`` (one process per party, ZeroMQ on loopback, payloads from 64 KiB
through shared memory, no dealer process); ``local``: threads over in-process channels.
``--profile lan|wan`` (root only): every party in its own network namespace shaped by that
profile (bench/netns.py), joined through a hosts file as on separate hosts, no dealer process
(``bench.parties._namespaced``); the base OTs' warm-up is the same. Plaintext on every profile
(the offline phase's traffic is on the parties' own links, which ``mpcrun`` encrypts by default;
these lines measure the protocol, as the online tables' plaintext lines do).
First, ``ot_hash_send``: the hash both ways (OpenSSL ECB batches vs the fused AES-NI kernel) on
2^20 OTs in this process. One JSON line per measurement.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.parties import (  # noqa: E402
    NETNS_PREFIX,
    PARTY_SCRIPT,
    REPO,
    _namespaced,
    _results,
    add_profile_argument,
    net_fields,
    report_unavailable,
    transport_label,
)

OPS = ("triple", "and", "dabit", "auth_triple", "auth_trunc", "auth_div", "auth_tmul", "auth_lt", "auth_lt_demand")
AUTH_OPS = ("auth_triple", "auth_trunc", "auth_div", "auth_tmul", "auth_lt", "auth_lt_demand")  # spdz2k material (mpc.preprocessing.ot_spdz): the engine is spdz2k


def hash_lines(m: int, repeats: int) -> list[dict]:
    """The correlation-robust hash of the OT extension on m OTs, both ways (one process, no
    network): ``openssl-ecb`` -- fixed-key AES through ``cryptography`` in one ECB batch per
    AES layer plus the C tweak/finish kernels (:func:`mpc.crypto.ot_ext.cr_hash`, full 128-bit
    outputs); ``aesni-fused`` -- the C kernel ``ot_hash_words`` (AES-NI, 8 blocks in flight, the
    first 64-bit word only, what the Gilboa and bit OTs use). Both hash q and q ^ Delta, as the
    sender does."""
    import os

    import numpy as np

    from mpc.crypto import ot_ext

    q = np.frombuffer(os.urandom(16 * m), dtype=np.uint64).reshape(m, 2)  # benchmark data
    delta = np.frombuffer(os.urandom(16), dtype=np.uint64)
    ways = {"openssl-ecb": lambda: ot_ext.rot_send(q, delta, 0),
            "aesni-fused": lambda: ot_ext.rot_send_words(q, delta, 0)}
    times: dict[str, list[float]] = {k: [] for k in ways}
    for r in range(repeats + 1):  # round 0 untimed; the two take turns
        for name, fn in ways.items():
            t0 = time.perf_counter()
            fn()
            if r:
                times[name].append(time.perf_counter() - t0)
    return [{"op": "ot_hash_send", "engine": "ot", "backend": name, "system": "tessera", "parties": 1, "n": m,
             "seconds": statistics.median(ts), "per_second": m / statistics.median(ts),
             "gb_per_s": 2 * 16 * m / statistics.median(ts) / 1e9, "bytes": 0, "rounds": 0, "phase": "local",
             "transport": "none", "encrypted": False} for name, ts in times.items()]


def _make(p, op: str, size: int, x=None) -> None:
    pre = p.preprocessing
    if op == "auth_lt":  # x: a secret input of ``size`` elements
        p.preprocess(p.dry_run(lambda t: t < 0.0, x))
    elif op == "auth_lt_demand":
        p.reveal(x < 0.0)
    elif op == "triple":
        pre.triples((size,))
    elif op == "auth_triple":
        pre.triples((size,), auth=True)
    elif op == "auth_trunc":
        pre.trunc_triples((size,), 16, auth=True)
    elif op == "auth_div":
        pre.div_triples((size,), 3, auth=True)
    elif op == "auth_tmul":
        pre.trunc_products((size,), 16, 16, auth=True)
    elif op == "and":
        pre.bit_triples(-(-size // 64))
    else:
        pre.dabits(size)


def party_main(p, op: str, size: int, repeats: int, barrier) -> dict:
    """This party's timings and offline bytes for ``repeats`` batches of ``size`` items."""
    import numpy as np

    def zeros(m):  # auth_lt's input, made before the timing: its masks are not the comparison's
        return p.input(None if p.pid else np.zeros(m), owner=0, shape=(m,)) if op.startswith("auth_lt") else None

    x = zeros(size)
    _make(p, op, 64, zeros(64))  # warm-up, untimed: the base OTs with every peer
    seconds, cpu, sent, rounds = [], [], [], []
    for _ in range(repeats):
        barrier()
        before = p.stats()["offline"]
        t0, c0 = time.perf_counter(), time.process_time()
        _make(p, op, size, x)
        seconds.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        after = p.stats()["offline"]
        sent.append(after["bytes_sent"] - before["bytes_sent"])
        rounds.append(after["rounds"] - before["rounds"])
    return {"seconds": seconds, "cpu": cpu, "bytes": max(sent), "rounds": max(rounds)}


def run(op: str, size: int, parties: int, repeats: int, transport: str, batch: int | None,
        profile: str = "loopback", prefix: str = NETNS_PREFIX) -> tuple[list[dict], dict]:
    """Every party's result dict and the network facts (:func:`bench.parties.net_fields`)."""
    batch_flag = [] if batch is None else ["--ot-batch", str(batch)]
    engine = "spdz2k" if op in AUTH_OPS else "semi2k"
    if profile != "loopback":
        return _namespaced("offline", op, size, parties, repeats, profile, prefix, engine,
                           preprocessing="ot", extra=batch_flag)
    if transport == "local":
        from mpc.testing import run_local

        barrier = threading.Barrier(parties)
        opts = {} if batch is None else {"ot_batch": batch}
        return run_local(lambda p: party_main(p, op, size, repeats, barrier.wait), parties, preprocessing="ot",
                         engine=engine, timeout=600, **opts), net_fields({})
    with tempfile.TemporaryDirectory() as logs:
        cmd = [sys.executable, "-m", "mpc", "run", "-n", str(parties), "--insecure-plaintext", "--preprocessing",
               "ot", "--engine", engine, *batch_flag, "--timeout", "600", "--log-dir", logs, str(PARTY_SCRIPT), "offline", op, str(size),
               str(repeats)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, cwd=REPO)
    if done.returncode != 0:
        raise RuntimeError(f"mpcrun failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}")
    return _results(done.stdout, parties, "mpcrun"), net_fields({})


def measure(op: str, size: int, parties: int, repeats: int, transport: str, batch: int | None,
            profile: str = "loopback", prefix: str = NETNS_PREFIX) -> dict:
    res, net = run(op, size, parties, repeats, transport, batch, profile, prefix)
    sec = statistics.median(max(r["seconds"][i] for r in res) for i in range(repeats))
    cpu = statistics.median(max(r["cpu"][i] for r in res) for i in range(repeats))
    nbytes = max(r["bytes"] for r in res)
    engine = "spdz2k" if op in AUTH_OPS else "gmw" if op == "and" else "semi2k"
    return {"op": f"offline_{op}", "engine": engine, "system": "tessera",
            "preprocessing": "ot", "parties": parties, "n": size, "seconds": sec, "per_second": size / sec,
            "bytes": nbytes, "bytes_per_item": nbytes / size,
            "cpu_seconds": cpu, "cpu_per_second": size / cpu, "rounds": max(r["rounds"] for r in res),
            "phase": "offline", "transport": transport_label(transport, profile),
            "encrypted": False, "profile": profile, "batch": batch, **net}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, one repeat (a smoke test)")
    ap.add_argument("--parties", type=int, nargs="+", default=[2, 3])
    ap.add_argument("--transport", choices=("procs", "local"), default="procs")
    ap.add_argument("--batch", type=int, default=None, help="elements per OT round trip (ot_batch)")
    ap.add_argument("--ops", nargs="+", choices=OPS, default=list(OPS), help="which kinds to measure")
    add_profile_argument(ap)
    args = ap.parse_args(argv)
    if args.profile != "loopback" and args.transport != "procs":
        ap.error("--profile lan/wan runs processes in namespaces: it needs --transport procs")
    if report_unavailable(args.profile, engine="ot", workloads=[f"offline_{op}" for op in args.ops]):
        return
    cases = [("triple", 4096, 1), ("and", 1 << 16, 1), ("dabit", 4096, 1), ("auth_triple", 4096, 1),
             ("auth_trunc", 64, 1), ("auth_div", 8, 1), ("auth_tmul", 32, 1), ("auth_lt", 1, 1),
             ("auth_lt_demand", 5, 1)] if args.quick else \
        [("triple", 1 << 18, 3), ("and", 1 << 24, 3), ("dabit", 1 << 18, 3), ("auth_triple", 1 << 16, 3),
         ("auth_trunc", 1 << 10, 3), ("auth_div", 64, 3), ("auth_tmul", 256, 3),
         *(("auth_lt", m, 3) for m in (1, 8, 64, 100)), *(("auth_lt_demand", m, 3) for m in (5, 40, 100))]
    cases = [c for c in cases if c[0] in args.ops]
    if args.profile == "loopback":  # the hash runs in one process: no network to shape
        for line in hash_lines(1 << 14 if args.quick else 1 << 20, 1 if args.quick else 5):
            print(json.dumps(line), flush=True)
    for parties in args.parties:
        for op, size, repeats in cases:
            print(json.dumps(measure(op, size, parties, repeats, args.transport, args.batch, args.profile)), flush=True)


if __name__ == "__main__":
    main()
