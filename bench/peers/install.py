"""``python -m bench peers install``: one virtual environment per peer under ``bench/.peers/``.

The steps follow shared PEERS.md exactly:

* CrypTen 0.4.1: ``torch==2.13.0`` first (only that spec: the CPU wheel lies on disk, any other
  spec pulls multi-GB CUDA wheels), then ``crypten==0.4.1 --no-deps`` (its declared dependencies
  include the deliberately broken ``sklearn`` package), then ``numpy omegaconf pyyaml onnx``.
* MPyC 0.11: ``mpyc==0.11 gmpy2`` (plus ``numpy``, which our runner uses to make inputs and
  which lets MPyC vectorise its secure arrays).

A failing step is recorded as a JSON line saying which peer and why; the other peer goes on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
PEERS_DIR = BENCH_DIR / ".peers"

# Registered before ``import crypten``: torch 2.13 dropped this private module, which CrypTen's
# ONNX converter imports at module level. Only that converter stays unusable.
# The converter does ``from torch.onnx._internal.registration import registry``, so the stand-in
# module carries a ``registry`` attribute (None); a module without it still fails the import.
CRYPTEN_SHIM = (
    "import sys, types; "
    "_m = types.ModuleType('torch.onnx._internal.registration'); _m.registry = None; "
    "sys.modules.setdefault('torch.onnx._internal.registration', _m)"
)

PEERS: dict[str, dict] = {
    "crypten": {
        "steps": [
            ["torch==2.13.0"],
            ["crypten==0.4.1", "--no-deps"],
            ["numpy", "omegaconf", "pyyaml", "onnx"],
        ],
        "check": CRYPTEN_SHIM + "; import crypten, torch; print(crypten.__version__, torch.__version__)",
    },
    "mpyc": {
        "steps": [["mpyc==0.11", "gmpy2", "numpy"]],
        "check": "import mpyc, gmpy2, numpy; print(mpyc.__version__, gmpy2.version(), numpy.__version__)",
    },
}


def peer_python(name: str) -> Path:
    return PEERS_DIR / name / "bin" / "python"


def peer_ready(name: str) -> tuple[bool, str]:
    """Whether the peer's venv exists and imports; the reason when not."""
    py = peer_python(name)
    if not py.exists():
        return False, f"{name} is not installed (run: python -m bench peers install)"
    proc = subprocess.run([str(py), "-c", PEERS[name]["check"]], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return False, f"{name} venv does not import: {tail}"
    return True, proc.stdout.strip()


def _run(cmd: list[str], log) -> tuple[int, str]:
    log.write("$ " + " ".join(cmd) + "\n")
    log.flush()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log.write(proc.stdout)
    log.flush()
    tail = "\n".join(proc.stdout.strip().splitlines()[-3:])
    return proc.returncode, tail


def install_one(name: str, force: bool = False) -> dict:
    spec = PEERS[name]
    venv = PEERS_DIR / name
    PEERS_DIR.mkdir(parents=True, exist_ok=True)
    logpath = PEERS_DIR / f"{name}-install.log"
    t0 = time.time()
    rec: dict = {"kind": "peer-install", "peer": name, "venv": str(venv.relative_to(BENCH_DIR.parent))}
    if not force:
        ok, info = peer_ready(name)
        if ok:
            rec.update(status="ok", detail=f"already installed: {info}", seconds=round(time.time() - t0, 1))
            return rec
    with open(logpath, "w") as log:
        if not peer_python(name).exists():
            base = getattr(sys, "_base_executable", sys.executable)
            rc, tail = _run([base, "-m", "venv", str(venv)], log)
            if rc != 0:
                rec.update(status="failed", step="venv", reason=f"could not create venv: {tail}")
                return rec
        pip = [str(peer_python(name)), "-m", "pip", "install", "-q"]
        for step in spec["steps"]:
            rc, tail = _run(pip + step, log)
            if rc != 0:
                rec.update(status="failed", step="pip install " + " ".join(step),
                           reason=tail or f"pip exited {rc}", log=str(logpath))
                rec["seconds"] = round(time.time() - t0, 1)
                return rec
    ok, info = peer_ready(name)
    rec.update(status="ok" if ok else "failed", detail=info, seconds=round(time.time() - t0, 1))
    if not ok:
        rec.update(step="import check", reason=info, log=str(logpath))
    return rec


def install(names: list[str], force: bool = False, out: Path | None = None) -> list[dict]:
    recs = []
    for name in names:
        if name not in PEERS:
            rec = {"kind": "peer-install", "peer": name, "status": "failed", "reason": f"unknown peer {name!r}"}
        else:
            try:
                rec = install_one(name, force=force)
            except Exception as exc:  # record and continue with the next peer
                rec = {"kind": "peer-install", "peer": name, "status": "failed", "reason": repr(exc)}
        recs.append(rec)
        line = json.dumps(rec)
        print(line, flush=True)
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            with open(out, "a") as fh:
                fh.write(line + "\n")
    return recs


if __name__ == "__main__":
    install(sys.argv[1:] or list(PEERS), force=os.environ.get("FORCE") == "1")
