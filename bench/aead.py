"""AEAD record micro-benchmark: mpc.crypto.aead seal and open on one machine, no network.

    python bench/aead.py [--quick]

Prints one JSON line per measurement (DESIGN.md section 8), as bench/kernels.py does (which runs
this group too, so it lands in the ``kernels`` tables): ``aead_seal``, ``aead_open`` and
``aead_roundtrip`` (seal then open) of one AES-256-GCM record carrying n = 16 KiB, 1 MiB and
16 MiB, with backend ``into`` (caller-preallocated record and payload buffers, no copy: how the
channel uses it) and ``alloc`` (a fresh buffer per call). ``seconds`` is the median over the
repeats after one untimed round, ``min_seconds`` the fastest, ``gb_per_s`` payload bytes over the
median. The two variants alternate within each repeat, so their ratio holds up on a shared
machine. Each repeat seals a new record (the counter advances) and opens it at the other end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cryptography  # noqa: E402

from mpc.crypto.aead import KeyExchange, record_size  # noqa: E402

SIZES = (16 << 10, 1 << 20, 16 << 20)
HEADER = bytes(40)  # the size of a 1-d wire header


def bench_records(size: int, repeats: int) -> list[dict]:
    """JSON records of seal, open and seal + open of one ``size``-byte payload, both variants."""
    a, b = KeyExchange(), KeyExchange()
    sealer, _ = a.records(b.public, session=1, me=0, peer=1)
    _, opener = b.records(a.public, session=1, me=1, peer=0)
    payload = np.frombuffer(os.urandom(size), dtype=np.uint8)  # benchmark data, not a secret
    record = np.empty(record_size(size), dtype=np.uint8)
    out = np.empty(size, dtype=np.uint8)
    variants = ("into", "alloc")
    times: dict[str, dict[str, list[float]]] = {v: {"seal": [], "open": []} for v in variants}
    for r in range(repeats + 1):  # round 0 is untimed
        for variant in variants:
            t0 = time.perf_counter()
            sealed = sealer.seal(HEADER, payload, out=record if variant == "into" else None)
            t1 = time.perf_counter()
            got = opener.open(HEADER, sealed, out=out if variant == "into" else None)
            t2 = time.perf_counter()
            if r == 0 and not np.array_equal(np.frombuffer(got, dtype=np.uint8), payload):
                raise SystemExit("aead: the record did not round-trip")
            # freed here, untimed: a fresh 16 MiB buffer is unmapped when its last reference goes,
            # which would otherwise land in the next contender's time
            del sealed, got
            if r:
                times[variant]["seal"].append(t1 - t0)
                times[variant]["open"].append(t2 - t1)
    lines = []
    for variant, t in times.items():
        both = [s + o for s, o in zip(t["seal"], t["open"], strict=True)]
        for op, ts in (("aead_seal", t["seal"]), ("aead_open", t["open"]), ("aead_roundtrip", both)):
            med = statistics.median(ts)
            lines.append({
                "op": op, "engine": "aead", "backend": variant, "parties": 1, "n": size, "shape": [size],
                "seconds": med, "min_seconds": min(ts), "gb_per_s": size / med / 1e9, "bytes": 0, "rounds": 0,
                "phase": "local", "transport": "none", "encrypted": True, "cipher": "AES-256-GCM",
                "cryptography": cryptography.__version__,
            })
    return lines


def run(repeats: int) -> None:
    for size in SIZES:
        for line in bench_records(size, repeats):
            print(json.dumps(line), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (same sizes)")
    args = parser.parse_args(argv)
    run(3 if args.quick else 15)


if __name__ == "__main__":
    main()
