"""Agreements among the parties: the same architecture, and a public random seed.

:func:`agree_architecture` (run by :func:`mpc.nn.from_torch` before any parameter is shared):
1. Each party hashes the canonical description of every node of its traced graph (layer type,
   hyperparameters, parameter shapes, which nodes feed it; never a parameter value) with
   BLAKE2b to 62 bits, and the whole list to one more hash.
2. Every party contributes (number of nodes, overall hash) with ``party.input`` and all are
   revealed (the input agreement round and one opening: 2 rounds, 16 bytes per party). Equal
   everywhere: done.
3. Otherwise every party contributes the hashes of the first L nodes (L the smallest node count)
   the same way and the first index where some party differs is named in a ConfigError raised by
   every party (with this party's description of that node); if the first L agree, the longer
   graph's extra node is named.
What is revealed is the architecture, which every party must know anyway.

:func:`agree_seed`: coin tossing. Every party contributes 128 bits from ``secrets``; the sum mod
2^64 of each word is revealed (2 rounds) and is the 16-byte seed of a public PRG
(:class:`mpc.prg.PRG`). Uniform as long as one party is honest (semi-honest model; a malicious
party seeing the others' words first could bias it). Used for public permutations (batch order)
and dropout masks: values that may be public, never for shares or masks of secrets.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence

import numpy as np

from mpc.dtypes import Int64
from mpc.errors import ConfigError

__all__ = ["agree_architecture", "agree_seed", "hash62"]

_MASK62 = (1 << 62) - 1


def hash62(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") & _MASK62


def _everyone(party, words: Sequence[int]) -> list[np.ndarray]:
    """Every party's public int64 words (each contributes the same count): input and reveal."""
    mine = np.asarray(list(words), dtype=np.int64)
    shared = party.input(mine, dtype=Int64())
    opened = party.reveal(*shared)
    return [np.asarray(o, dtype=np.int64).reshape(-1) for o in (opened if party.n > 1 else [opened])]


def agree_architecture(party, descriptions: Sequence[str], names: Sequence[str]) -> None:
    """ConfigError on every party unless all passed the same graph (see the module docstring)."""
    hashes = [hash62(f"{i}|{d}") for i, d in enumerate(descriptions)]
    head = [len(hashes), hash62("\n".join(descriptions))]
    heads = _everyone(party, head)
    if all(np.array_equal(h, heads[0]) for h in heads):
        return
    counts = [int(h[0]) for h in heads]
    common = min(counts)
    per = _everyone(party, hashes[:common]) if common else [np.zeros(0, dtype=np.int64)] * party.n
    for i in range(common):
        column = [int(p[i]) for p in per]
        if any(c != column[0] for c in column):
            differ = [j for j, c in enumerate(column) if c != hashes[i]]
            raise ConfigError(f"from_torch: the parties passed different models; the first differing layer is "
                              f"#{i} {names[i]!r}: {descriptions[i]} here, different at party(ies) {differ}")
    longer = [j for j, c in enumerate(counts) if c > common]
    if len(descriptions) > common:
        raise ConfigError(f"from_torch: the parties passed different models; this party has more layers, from "
                          f"#{common} {names[common]!r}: {descriptions[common]} (layer counts {counts})")
    raise ConfigError(f"from_torch: the parties passed different models; party(ies) {longer} have more layers "
                      f"than this party's {common} (layer counts {counts})")


def agree_seed(party) -> bytes:
    """A 16-byte public seed no party chose alone (see the module docstring): 2 rounds."""
    words = [secrets.randbits(63) for _ in range(2)]
    everyone = _everyone(party, words)
    total = np.zeros(2, dtype=np.uint64)
    for w in everyone:
        total += w.view(np.uint64)  # mod 2^64
    return total.tobytes()
