"""Paillier matrix-triple micro-benchmark: 2 parties as 2 processes over a local pipe.

    python bench/paillier.py [--quick] [--rows M] [--full] [--shape M K N] [--bits 2048] [--repeats R]

Target (issue 15): the (256, 256) x (256, 256) matrix triple in at most 30 s and 100 MB per
party. Each party is its own process (own core, own GIL), connected by a ``multiprocessing``
pipe carrying raw bytes (``send_bytes``/``recv_bytes``: nothing is pickled); transport ``pipe``,
not encrypted. Keys are generated before the clock starts (a party reuses its key for every
triple).

Lines (JSON, DESIGN.md section 8):

- ``paillier_matrix_triple`` with ``measured: true``: one shape actually run, default
  (M, 256, 256) with M = 256 by default, i.e. the full 256^3 (about 27 s of CPU per party here
  with the IFMA kernel; ``--rows`` for a smaller M, ``--full`` is the default kept for old command lines;
  ``--shape M K N`` any shape). ``seconds`` is the slower party's wall
  time, ``bytes`` what one party sent (the two are equal), ``phases`` each party's seconds per
  step of the protocol, ``cpu_seconds_per_party`` each party's CPU time for the triple (on a
  shared machine the wall time grows with the load, the CPU time much less),
  ``peak_rss_mb`` each party process's peak resident set (ru_maxrss: key,
  ciphertexts, window tables, interpreter), ``kernel`` the arithmetic used (``ifma``: the
  compiled Montgomery kernels; ``gmpy2``: without them, e.g. under MPC_KERNELS=ref).
- ``paillier_matrix_triple`` with ``measured: false`` and ``extrapolated_from``: the 256^3 time
  predicted from that run by scaling each measured phase with its operation count (encryption of
  B and window tables do not depend on M; evaluation rows, randomisers, decryptions grow with
  M). Bytes are exact (the formula is checked against the wire in tests/test_paillier_matrix.py).
- ``paillier_matrix_model``: the cost model's prediction (``paillier_matrix_cost``) with unit
  times calibrated now, for the measured shape and for 256^3.
- ``paillier_scalar_products``: m x k scalar products of k ciphertexts (m = 64, k = 32; 16 rows
  with --quick), by Straus window tables (``backend: straus``, what the protocol uses) and by
  ``gmpy2.powmod_exp_list`` per ciphertext (``backend: powmod_exp_list``).
- ``paillier_unit``: the calibrated unit times (one multiplication mod n^2, one key-holder
  encryption, one r^n, one decryption).

Every line carries the 1-minute load average at the start (and the measured line at the end):
on a shared machine the times scale with it.

One untimed round (a 2 x 8 x 8 triple) runs first.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import queue
import resource
import statistics
import sys
import threading
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from mpc.crypto.paillier import generate_keypair, montgomery_kernel  # noqa: E402
from mpc.errors import PeerTimeout  # noqa: E402
from mpc.preprocessing import paillier_matrix as pm  # noqa: E402

TARGET = (256, 256, 256)


class PipeLink:
    """A Link over one end of a multiprocessing pipe (bytes only). Sends go through a writer
    thread: both parties send their first message before reading, and a pipe's kernel buffer is
    far smaller than a message, so a blocking send would deadlock (Link.send must not block)."""

    def __init__(self, conn) -> None:
        self.conn = conn
        self._q: queue.Queue = queue.Queue()
        self._writer = threading.Thread(target=self._write, daemon=True)
        self._writer.start()

    def _write(self) -> None:
        while (data := self._q.get()) is not None:
            self.conn.send_bytes(data)

    def send(self, data: bytes) -> None:
        self._q.put(data)

    def recv(self, timeout: float) -> bytes:
        if not self.conn.poll(timeout):
            raise PeerTimeout(f"bench: no message within {timeout:.0f} s")
        return self.conn.recv_bytes()

    def close(self) -> None:
        self._q.put(None)
        self._writer.join()


def _party(conn, out, pid: int, shape: tuple[int, int, int], bits: int, rounds: list[bool], workers: int) -> None:
    key = generate_keypair(bits)
    link = PipeLink(conn)
    m, k, n = shape
    for timed in rounds:
        shp = (m, k, n) if timed else (2, 8, 8)
        stats: dict = {}
        use = resource.getrusage(resource.RUSAGE_SELF)
        cpu0 = use.ru_utime + use.ru_stime
        t0 = time.perf_counter()
        a, b, c = pm.matrix_triple({1 - pid: link}, *shp, key=key, timeout=3600, stats=stats, workers=workers)
        secs = time.perf_counter() - t0
        if timed:
            use = resource.getrusage(resource.RUSAGE_SELF)
            cpu = use.ru_utime + use.ru_stime - cpu0
            out.send_bytes(json.dumps({"pid": pid, "seconds": secs, "cpu_seconds": cpu, "stats": stats,
                                       "peak_rss_mb": use.ru_maxrss / 1024}).encode())
            # the check: the peer's shares come back over the result pipe (not timed)
            out.send_bytes(a.tobytes() + b.tobytes() + c.tobytes())
    link.close()


def run_pair(shape: tuple[int, int, int], bits: int, repeats: int, workers: int = 1) -> list[list[dict]]:
    ctx = mp.get_context("spawn")
    c0, c1 = ctx.Pipe()
    results = [ctx.Pipe(duplex=False) for _ in range(2)]
    rounds = [False] + [True] * repeats
    procs = [ctx.Process(target=_party, args=(conn, results[pid][1], pid, shape, bits, rounds, workers))
             for pid, conn in ((0, c0), (1, c1))]
    for p in procs:
        p.start()
    m, k, n = shape
    runs = []
    for _ in range(repeats):
        per = []
        arrays = []
        for pid in range(2):
            per.append(json.loads(results[pid][0].recv_bytes()))
            raw = np.frombuffer(results[pid][0].recv_bytes(), dtype=np.uint64)
            arrays.append((raw[:m * k].reshape(m, k), raw[m * k:m * k + k * n].reshape(k, n), raw[m * k + k * n:].reshape(m, n)))
        a = arrays[0][0] + arrays[1][0]
        b = arrays[0][1] + arrays[1][1]
        want = (a.astype(object).dot(b.astype(object)) % (1 << 64)).astype(np.uint64)
        if not np.array_equal(arrays[0][2] + arrays[1][2], want):
            raise SystemExit("paillier bench: the triple does not reconstruct to A B")
        runs.append(per)
    for p in procs:
        p.join()
    return runs


def extrapolate(measured: dict, shape: tuple[int, int, int], target: tuple[int, int, int], bits: int) -> float:
    """Scale each phase of one party by the ratio of its operation counts (module doc)."""
    m, k, n = shape
    tm, tk, tn = target
    cal = pm.Calibration(bits, 1.0, 0.0, 0.0, 0.0)
    src = pm.paillier_matrix_cost(m, k, n, bits=bits, calibration=cal)
    dst = pm.paillier_matrix_cost(tm, tk, tn, bits=bits, calibration=cal)
    ph = measured["stats"]
    return (ph["encrypt_s"] * dst["encryptions"] / src["encryptions"]
            + ph["evaluate_s"] * dst["mulmods"] / src["mulmods"]
            + ph["mask_s"] * dst["randomisers"] / src["randomisers"]
            + ph["decrypt_s"] * dst["decryptions"] / src["decryptions"]
            + ph["wait_validate_s"] * dst["ciphertexts_sent"] / src["ciphertexts_sent"])


def bench_scalar_products(bits: int, m: int, k: int, base: dict) -> None:
    """Many scalar products with the same ciphertexts, two ways: Straus with window tables
    (multi_scalar_products) and one gmpy2.powmod_exp_list per ciphertext, then k - 1 products
    per row. Both must agree; one JSON line each."""
    import gmpy2

    from mpc.crypto.paillier import multi_scalar_products
    from mpc.prg import PRG

    key = generate_keypair(bits)
    pub = key.public
    cts = key.encrypt_many(range(1, k + 1))
    exps = PRG.fresh().uint64((m, k))
    t0 = time.perf_counter()
    straus = multi_scalar_products(pub, cts, exps)
    t1 = time.perf_counter()
    cols = [gmpy2.powmod_exp_list(c, [int(e) for e in exps[:, j]], pub.n2) for j, c in enumerate(cts)]
    rows = []
    for i in range(m):
        x = cols[0][i]
        for j in range(1, k):
            x = x * cols[j][i] % pub.n2
        rows.append(x)
    t2 = time.perf_counter()
    if rows != straus:
        raise SystemExit("paillier bench: the two multi-exponentiations disagree")
    for backend, secs in (("straus", t1 - t0), ("powmod_exp_list", t2 - t1)):
        print(json.dumps({**base, "op": "paillier_scalar_products", "backend": backend, "n": m * k,
                          "shape": [m, k], "seconds": secs, "bytes": 0, "rounds": 0, "phase": "local"}), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="M = 4 rows, 1 repeat")
    parser.add_argument("--rows", type=int, default=256,
                        help="M of the measured (M, 256) x (256, 256) triple (default 256: the issue's 256^3, about 27 s per party with the IFMA kernel)")
    parser.add_argument("--full", action="store_true", help="the full 256^3 triple (the default; kept for old command lines)")
    parser.add_argument("--shape", type=int, nargs=3, metavar=("M", "K", "N"), help="measure this shape instead")
    parser.add_argument("--bits", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1, help="threads per party (gmpy2 releases the GIL)")
    args = parser.parse_args(argv)
    rows = 256 if args.full else (4 if args.quick else args.rows)
    shape = tuple(args.shape) if args.shape else (rows, 256, 256)
    bits = args.bits
    base = {"engine": "paillier", "parties": 2, "bits": bits, "phase": "offline", "transport": "pipe",
            "encrypted": False, "rounds": 2, "workers": args.workers,
            "kernel": "gmpy2" if montgomery_kernel() is None else "ifma", "loadavg_start": round(os.getloadavg()[0], 2)}

    cal = pm.calibrate(bits)
    print(json.dumps({**base, "op": "paillier_unit", "n": 1, "seconds": cal.mulmod, "bytes": 0,
                      "mulmod_s": cal.mulmod, "encrypt_own_s": cal.encrypt_own,
                      "noise_public_s": cal.noise_public, "decrypt_s": cal.decrypt}), flush=True)
    for shp in dict.fromkeys((shape, TARGET)):  # once each, in order
        c = pm.paillier_matrix_cost(*shp, bits=bits, calibration=cal)
        print(json.dumps({**base, "op": "paillier_matrix_model", "n": shp[0] * shp[1] * shp[2], "shape": list(shp),
                          "seconds": c["seconds"], "bytes": c["bytes_sent"], "slots": c["slots"],
                          "mulmods": c["mulmods"], "measured": False}), flush=True)

    bench_scalar_products(bits, 16 if args.quick else 64, 32, base)
    runs = run_pair(shape, bits, 1 if args.quick else args.repeats, args.workers)
    for per in runs:
        slow = max(per, key=lambda r: r["seconds"])
        print(json.dumps({**base, "op": "paillier_matrix_triple", "n": shape[0] * shape[1] * shape[2],
                          "shape": list(shape), "seconds": slow["seconds"], "bytes": slow["stats"]["bytes_sent"],
                          "bytes_received": slow["stats"]["bytes_received"], "measured": True,
                          "phases": [r["stats"] for r in sorted(per, key=lambda r: r["pid"])],
                          "seconds_per_party": [r["seconds"] for r in sorted(per, key=lambda r: r["pid"])],
                          "cpu_seconds_per_party": [r["cpu_seconds"] for r in sorted(per, key=lambda r: r["pid"])],
                          "peak_rss_mb": [r["peak_rss_mb"] for r in sorted(per, key=lambda r: r["pid"])],
                          "loadavg_end": round(os.getloadavg()[0], 2)}), flush=True)
    if shape != TARGET and shape[1:] == TARGET[1:]:
        est = statistics.median(max(extrapolate(r, shape, TARGET, bits) for r in per) for per in runs)
        c = pm.paillier_matrix_cost(*TARGET, bits=bits, calibration=cal)
        print(json.dumps({**base, "op": "paillier_matrix_triple", "n": 256 ** 3, "shape": list(TARGET),
                          "seconds": est, "bytes": c["bytes_sent"], "measured": False,
                          "extrapolated_from": list(shape)}), flush=True)


if __name__ == "__main__":
    main()
