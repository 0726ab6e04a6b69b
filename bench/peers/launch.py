"""Start a peer's party processes, on loopback or each in its own emulated network namespace.

Stdlib only (it runs inside the peers' virtual environments). For the ``lan`` and ``wan``
profiles every process gets its own namespace from ``bench/netns.py`` (one per party, plus one
for a dealer process), shaped by that profile; the caller builds each process's command line
from the addresses it is given.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent


def loopback_address(i: int) -> str:
    return "127.0.0.1"


def run_parties(nproc: int, command: Callable[[int, Callable[[int], str]], tuple[list[str], dict]],
                tmp: str, timeout: float, profile: str = "loopback", prefix: str = "tbp") -> tuple[str | None, dict]:
    """Run ``nproc`` processes; ``command(i, address_of)`` gives process i's (argv, env).

    Returns (None or the reason of the failure with the tail of each log, network facts).
    """
    net = None
    info: dict = {"profile": profile}
    address_of = loopback_address
    popen = subprocess.Popen
    if profile != "loopback":
        sys.path.insert(0, str(BENCH))
        try:
            import netns  # bench/netns.py
        finally:
            sys.path.pop(0)
        ok, why = netns.available()
        if not ok:
            return f"the {profile} profile needs network namespaces: {why}", info
        net = netns.setup(nproc, profile, prefix=prefix)
        info.update(shaping=net.shaping, delay_ms=net.delay_ms, rate=net.rate)
        address_of = net.address

        def popen(argv, *, _i, **kw):
            return net.popen_in(_i, argv, **kw)
    procs = []
    failed = None
    try:
        for i in range(nproc):
            argv, env = command(i, address_of)
            log = open(Path(tmp) / f"log{i}.txt", "w")  # noqa: SIM115 - closed below
            kw = {"env": env, "stdout": log, "stderr": subprocess.STDOUT}
            p = popen(argv, _i=i, **kw) if net is not None else popen(argv, **kw)
            procs.append((p, log))
        deadline = time.monotonic() + timeout
        for i, (p, _log) in enumerate(procs):
            try:
                rc = p.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                failed = f"timed out after {timeout:.0f} s"
                break
            if rc != 0:
                failed = f"process {i} exited {rc}"
                break
    finally:
        for p, log in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            log.close()
        if net is not None:
            netns.teardown(prefix)
    if failed:
        tails = []
        for i in range(nproc):
            path = Path(tmp) / f"log{i}.txt"
            lines = path.read_text(errors="replace").strip().splitlines() if path.exists() else []
            tails.append(f"process {i}: " + " | ".join(lines[-3:]))
        return f"{failed}; " + "; ".join(tails), info
    return None, info


def report_failed(base: dict, workloads, reason: str) -> int:
    """One ``failed`` line per workload (the run produced none of them); returns exit code 1."""
    for workload in workloads:
        print(json.dumps({**base, "workload": workload, "status": "failed", "reason": reason}), flush=True)
    return 1
