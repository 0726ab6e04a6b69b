"""The stamp every benchmark JSON line carries: machine, commit, versions, settings, time.

Fields added to each line (existing fields of the same name are kept, never overwritten):

- ``machine``: ``{"cpu": model name, "cpu_id": "family F model M" (x86), "isa": the kernels' vector
  extension (avx512, avx2 or portable), "cores": logical CPUs, "memory_gb": total RAM, "os"}``
- ``commit``: ``{"sha": git rev-parse HEAD (or "none" before the first commit),
  "uncommitted": whether the work tree differs from it (changed or new files, not counting the
  benchmark's own outputs under bench/results/, bench/plots/ and bench/README.md)}``
- ``versions``: ``{"python", "numpy", "pyzmq"}`` of the interpreter that drives the run
- ``settings``: the command-line settings of the run (suite, engines, parties, profile, ...)
- ``run_id`` (one per ``python -m bench`` invocation) and ``timestamp`` (UTC, ISO 8601)
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STAMP_KEYS = ("machine", "commit", "versions", "settings", "run_id", "timestamp")
OUTPUTS = ("bench/results/", "bench/plots/", "bench/README.md")  # written by the run itself


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (empty where there is none)."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if not line.strip():
                break
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return fields


def kernels_isa() -> str | None:
    """The vector extension the C kernels dispatch their products to on this CPU (``avx512``,
    ``avx2`` or ``portable``): the core's own choice, :func:`mpc._core._matmul.matmul_isa`;
    None where the core is not built."""
    try:
        from mpc._core import _matmul
    except ImportError:
        return None
    return _matmul.matmul_isa()


@lru_cache(maxsize=1)
def machine() -> dict:
    """The CPU (its model name, and on x86 its family and model numbers, since a VM may report
    only "AMD EPYC" for generations that differ in speed and vector width), the vector extension
    the kernels use, cores, RAM and OS."""
    info = _cpuinfo()
    cpu = info.get("model name") or platform.processor() or platform.machine()
    out: dict = {"cpu": cpu}
    if "cpu family" in info and "model" in info:
        out["cpu_id"] = f"family {info['cpu family']} model {info['model']}"
    isa = kernels_isa()
    if isa:
        out["isa"] = isa
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 2**20, 1)
                break
    except OSError:
        pass
    return {**out, "cores": os.cpu_count(), "memory_gb": mem_gb, "os": platform.platform()}


def _git(*args: str) -> tuple[int, str]:
    try:
        proc = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 1, str(exc)
    return proc.returncode, proc.stdout.rstrip()  # not strip(): a porcelain line starts with a space


@lru_cache(maxsize=1)
def commit() -> dict:
    rc, sha = _git("rev-parse", "HEAD")
    if rc != 0 or not sha:
        sha = "none"
    # changed or new files count, except the benchmark's own outputs
    rc, status = _git("status", "--porcelain", "--untracked-files=normal")
    changed = [ln[3:] for ln in status.splitlines() if ln.strip()]
    changed = [p for p in changed if not p.startswith(OUTPUTS)]
    dirty = rc != 0 or bool(changed) or sha == "none"
    return {"sha": sha, "uncommitted": dirty}


@lru_cache(maxsize=1)
def versions() -> dict:
    out = {"python": platform.python_version()}
    for mod, key in (("numpy", "numpy"), ("zmq", "pyzmq")):
        try:
            out[key] = __import__(mod).__version__
        except Exception:  # a missing module is a fact to record, not an error
            out[key] = None
    return out


def now() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_run_id() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"


def stamp(record: dict, settings: dict, run_id: str) -> dict:
    """``record`` with the stamp fields added (its own fields win)."""
    base = {"machine": machine(), "commit": commit(), "versions": versions(), "settings": settings,
            "run_id": run_id, "timestamp": now()}
    return {**base, **record}
