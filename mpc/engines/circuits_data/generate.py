"""Write the shipped Bristol Fashion circuits from Tessera's own circuit builder.

    python -m mpc.engines.circuits_data.generate          # (re)write adder64.txt and lt64.txt
    python -m mpc.engines.circuits_data.generate --check  # fail if the files on disk differ

- ``adder64.txt``: 2 inputs of 64 bits, 1 output of 64 bits, a + b mod 2^64 (Sklansky adder of
  :func:`mpc.engines.circuits.add`).
- ``lt64.txt``: 2 inputs of 64 bits, 1 output of 1 bit, [a < b] unsigned (comparison tree of
  :func:`mpc.engines.circuits.lt`).
Bits are least significant first, as in the published Bristol Fashion circuits. Before writing,
each circuit is checked in cleartext against Python integers on edge and pseudo-random inputs.
"""

from __future__ import annotations

import argparse
import hashlib
import pathlib
import sys

import numpy as np

from mpc.engines import circuits
from mpc.engines.bristol import Circuit, CircuitBuilder, evaluate_clear

HERE = pathlib.Path(__file__).resolve().parent
_M64 = (1 << 64) - 1
_EDGES = [0, 1, 2, _M64, _M64 - 1, 1 << 63, (1 << 63) - 1, (1 << 63) + 1, 0xAAAAAAAAAAAAAAAA, 0x5555555555555555]


def adder64() -> Circuit:
    b = CircuitBuilder()
    x, y = b.input(64), b.input(64)
    return b.build([circuits.add(b, x, y)])


def lt64() -> Circuit:
    b = CircuitBuilder()
    x, y = b.input(64), b.input(64)
    return b.build([circuits.lt(b, x, y)])


def _test_pairs() -> tuple[list[int], list[int]]:
    # deterministic, non-secret test inputs: the edges crossed with each other, plus SHA-256 words
    xs = [a for a in _EDGES for _ in _EDGES] + [a ^ 1 for a in _EDGES]
    ys = [b for _ in _EDGES for b in _EDGES] + list(_EDGES)
    for i in range(200):
        h = hashlib.sha256(f"tessera-circuits-{i}".encode()).digest()
        xs.append(int.from_bytes(h[:8], "little"))
        ys.append(int.from_bytes(h[8:16], "little"))
    return xs, ys


def self_check(name: str, circuit: Circuit) -> None:
    xs, ys = _test_pairs()
    (got,) = evaluate_clear(circuit, [xs, ys])
    want = [(x + y) & _M64 for x, y in zip(xs, ys, strict=True)] if name == "adder64" else [
        int(x < y) for x, y in zip(xs, ys, strict=True)
    ]
    if not np.array_equal(got, np.array(want, dtype=np.uint64)):
        raise RuntimeError(f"{name}: the generated circuit disagrees with plaintext arithmetic")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the files on disk, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for name, make in (("adder64", adder64), ("lt64", lt64)):
        circuit = make()
        self_check(name, circuit)
        text = circuit.to_bristol()
        path = HERE / f"{name}.txt"
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
            print(f"{path.name}: {circuit.ngates} gates, {circuit.and_count} ANDs, AND depth {circuit.and_depth}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python -m mpc.engines.circuits_data.generate", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
