"""A/B of the Z_2^128 matrix kernels of two built trees, in one process, interleaved.

    python bench/ab.py OLD_TREE NEW_TREE [--repeats 7]

For a kernel change whose former method no longer exists in the tree: build the parent commit
in a worktree (``git worktree add /tmp/old HEAD~1``, then ``python setup.py build_ext --inplace``
there with the same interpreter) and give both trees. Each tree's ``mpc/_core/_ring`` extension is
loaded from its file (the Python helpers it imports, argument checks and the uint64 kernel module,
come from this checkout), both results are checked equal bit for bit, and the calls are timed
round-robin (old, new, old, ...) so load drifts hit both alike. One JSON line per kernel, shape
and tree (DESIGN.md section 8): ``seconds`` the median, ``ratio`` the old median over this one.
Cases: ``auth_matmul_combine`` (spdz2k's matrix Beaver combine) and ``matmul128`` with 64-bit
and 128-bit operands, at 256 x 256 x 256 and 128 x 784 x 64 (a dense layer's shape). The float64
products use one BLAS thread unless OPENBLAS_NUM_THREADS says otherwise, as in bench/kernels.py.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads OpenBLAS

import numpy as np  # noqa: E402

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stamp import OUTPUTS  # noqa: E402  (the benchmark's own outputs: not a change to the code)

SHAPES = ((256, 256, 256), (128, 784, 64))


def load_ring(tree: Path):
    """The compiled ``_ring`` extension built in ``tree`` (loaded from its file, under its own name)."""
    found = sorted((tree / "mpc" / "_core").glob("_ring.*.so"))
    if not found:
        raise SystemExit(f"{tree}: no built mpc/_core/_ring extension (run `python setup.py build_ext --inplace` there)")
    spec = importlib.util.spec_from_file_location("mpc._core._ring", found[0])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def commit(tree: Path) -> dict:
    """The tree's commit and whether its tracked files differ from it (the benchmark's outputs
    aside), as bench/stamp.py records a run's."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(tree), *args], capture_output=True, text=True).stdout

    changed = [ln[3:] for ln in git("status", "--porcelain", "--untracked-files=no").splitlines() if ln.strip()]
    return {"sha": git("rev-parse", "HEAD").strip() or "unknown",
            "uncommitted": any(not p.startswith(OUTPUTS) for p in changed)}


def cases(rng: np.random.Generator):
    """(op, shape, extra, call(module)) for every kernel and shape; benchmark data, not secrets."""
    def u64(*shape):
        return rng.integers(0, 1 << 64, shape, dtype=np.uint64, endpoint=False)

    for m, k, n in SHAPES:
        c, a, b, d, e = u64(m, n, 4), u64(m, k, 4), u64(k, n, 4), u64(m, k), u64(k, n)
        yield "auth_matmul_combine", (m, k, n), {}, lambda mod, c=c, a=a, b=b, d=d, e=e: \
            mod.auth_matmul_combine(c, a, b, d, e, 7, True)
        for a_wide in (False, True):
            for b_wide in (False, True):
                x = u64(m, k, 2) if a_wide else u64(m, k)
                y = u64(k, n, 2) if b_wide else u64(k, n)
                yield "matmul128", (m, k, n), {"a_bits": 128 if a_wide else 64, "b_bits": 128 if b_wide else 64}, \
                    lambda mod, x=x, y=y: mod.matmul128(x, y)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    modules = {name: load_ring(tree) for name, tree in trees.items()}
    commits = {name: commit(tree) for name, tree in trees.items()}
    for op, shape, extra, call in cases(np.random.default_rng(2026)):
        if not np.array_equal(call(modules["old"]), call(modules["new"])):  # also the warm-up call
            raise SystemExit(f"{op} {shape}: the two builds disagree")
        times: dict[str, list[float]] = {name: [] for name in modules}
        for _ in range(args.repeats):
            for name, module in modules.items():
                start = time.perf_counter()
                call(module)
                times[name].append(time.perf_counter() - start)
        medians = {name: float(np.median(t)) for name, t in times.items()}
        for name in modules:
            print(json.dumps({"op": op, "engine": "kernel", "backend": name, "parties": 1, "n": shape[0],
                              "shape": list(shape), "seconds": medians[name], "bytes": 0, "rounds": 0,
                              "phase": "local", "min_seconds": min(times[name]),
                              "ratio": medians["old"] / medians[name], "ratio_to": "old", "commit": commits[name],
                              "blas_threads": os.environ["OPENBLAS_NUM_THREADS"], **extra}), flush=True)


if __name__ == "__main__":
    main()
