"""Write the shipped Bristol Fashion circuits from Tessera's own circuit builder.

    python -m mpc.engines.circuits_data.generate          # (re)write adder64.txt, lt64.txt, aes128.txt
    python -m mpc.engines.circuits_data.generate --check  # fail if the files on disk differ

- ``adder64.txt``: 2 inputs of 64 bits, 1 output of 64 bits, a + b mod 2^64 (Sklansky adder of
  :func:`mpc.engines.circuits.add`).
- ``lt64.txt``: 2 inputs of 64 bits, 1 output of 1 bit, [a < b] unsigned (comparison tree of
  :func:`mpc.engines.circuits.lt`).
- ``aes128.txt``: 2 inputs of 128 bits (key, then plaintext block), 1 output of 128 bits (the
  ciphertext): AES-128 encryption with its key expansion (:mod:`.aes`; 7200 ANDs, AND depth 40).
Bits are least significant first, as in the published Bristol Fashion circuits; for AES the
128-bit values are the big-endian readings of the 16-byte key, block and ciphertext (see
:mod:`.aes`). Before writing, each circuit is checked in cleartext: the arithmetic ones against
Python integers on edge and pseudo-random inputs, AES against the FIPS-197 Appendix B and C.1
vectors and against the ``cryptography`` package's AES-ECB on pseudo-random keys and blocks.
"""

from __future__ import annotations

import argparse
import hashlib
import pathlib
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from mpc.engines import circuits
from mpc.engines.bristol import Circuit, CircuitBuilder, evaluate_clear
from mpc.engines.circuits_data import aes

HERE = pathlib.Path(__file__).resolve().parent
_M64 = (1 << 64) - 1
_EDGES = [0, 1, 2, _M64, _M64 - 1, 1 << 63, (1 << 63) - 1, (1 << 63) + 1, 0xAAAAAAAAAAAAAAAA, 0x5555555555555555]
# FIPS-197 Appendix B and C.1: (key, plaintext, ciphertext)
FIPS197 = [
    ("2b7e151628aed2a6abf7158809cf4f3c", "3243f6a8885a308d313198a2e0370734", "3925841d02dc09fbdc118597196a0b32"),
    ("000102030405060708090a0b0c0d0e0f", "00112233445566778899aabbccddeeff", "69c4e0d86a7b0430d8cdb78070b4c55a"),
]


def _two_inputs(bits: int, fn) -> Circuit:
    b = CircuitBuilder()
    x, y = b.input(bits), b.input(bits)
    return b.build([fn(b, x, y)])


def adder64() -> Circuit:
    return _two_inputs(64, circuits.add)


def lt64() -> Circuit:
    return _two_inputs(64, circuits.lt)


def aes128() -> Circuit:
    return _two_inputs(128, aes.aes128)


def _digest(label: str, i: int) -> bytes:
    # deterministic, non-secret test inputs
    return hashlib.sha256(f"tessera-circuits-{label}-{i}".encode()).digest()


def _test_pairs() -> tuple[list[int], list[int]]:
    # the edges crossed with each other, plus SHA-256 words
    xs = [a for a in _EDGES for _ in _EDGES] + [a ^ 1 for a in _EDGES]
    ys = [b for _ in _EDGES for b in _EDGES] + list(_EDGES)
    for i in range(200):
        h = hashlib.sha256(f"tessera-circuits-{i}".encode()).digest()
        xs.append(int.from_bytes(h[:8], "little"))
        ys.append(int.from_bytes(h[8:16], "little"))
    return xs, ys


def aes_ecb(key: bytes, block: bytes) -> bytes:
    """One block of AES-128 by the ``cryptography`` package: the oracle for the circuit."""
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return encryptor.update(block) + encryptor.finalize()


def self_check(name: str, circuit: Circuit) -> None:
    if name == "aes128":
        keys = [bytes.fromhex(k) for k, _, _ in FIPS197] + [_digest("key", i)[:16] for i in range(64)]
        blocks = [bytes.fromhex(p) for _, p, _ in FIPS197] + [_digest("block", i)[16:] for i in range(64)]
        want = [bytes.fromhex(c) for _, _, c in FIPS197] + [aes_ecb(k, p) for k, p in zip(keys[2:], blocks[2:], strict=True)]
        (got,) = evaluate_clear(circuit, [keys, blocks], as_bytes=True)
    else:
        xs, ys = _test_pairs()
        (out,) = evaluate_clear(circuit, [xs, ys])
        got = [int(v) for v in out]
        op = (lambda x, y: (x + y) & _M64) if name == "adder64" else (lambda x, y: int(x < y))
        want = [op(x, y) for x, y in zip(xs, ys, strict=True)]
    if got != want:
        raise RuntimeError(f"{name}: the generated circuit disagrees with its plaintext oracle")


CIRCUITS = {"adder64": adder64, "lt64": lt64, "aes128": aes128}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the files on disk, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for name, make in CIRCUITS.items():
        circuit = make()
        self_check(name, circuit)
        text = circuit.to_bristol()
        path = HERE / f"{name}.txt"
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
            print(f"{path.name}: {circuit.ngates} gates, {circuit.and_count} ANDs, AND depth {circuit.and_depth}, "
                  f"{len(text)} bytes")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python -m mpc.engines.circuits_data.generate", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
