"""Lockstep: independent protocols that share their rounds.

A *step generator* is a protocol written as a Python generator: whenever it needs one all-to-all
exchange it yields its outgoing payload (a 1-d ``uint64`` array, of the same size at every party)
and is sent back the list of every party's payload (indexed by party id; its own entry equals
what it sent); its return value is the protocol's result. The engines offer such versions of
their one-exchange-per-round protocols (``Semi2k.divide_steps``, ``Semi2k.mul_truncating_steps``,
``GMWEngine.and_steps``, ``Converter.msb_steps``, ...) and implement the plain method as
:func:`run` of it, so both give the same result from the same material.

:func:`lockstep` runs several *independent* step generators together: in every round it
concatenates the payloads of those still running into ONE message per peer (one tag, one frame
header), exchanges it and hands each generator its slice. k protocols of r_1, ..., r_k rounds
thus take max(r_i) rounds instead of sum(r_i), with the same bytes (less the saved headers).
Which generators run, in which order, and the payload sizes depend only on public shapes, so
every party draws its preprocessing material and advances its tags identically.

spdz2k offers the same step versions (``Spdz2k.mul_truncating_steps``, ``AuthBits.and_steps``,
``Spdz2kConverter.msb_steps``, ...; its openings are recorded for the MAC check as when run
alone). Engines without step versions still work: :func:`steps` wraps a plain method into a
generator that runs it at once (its own rounds) and never yields, so a lockstep of such wrappers
is the plain sequential run. Security: a lockstep only changes how the messages of protocols that
are secure on their own are framed; each protocol still masks every payload with its own fresh
material, so the combined transcript is the concatenation of the individual ones.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import Any, TypeVar

import numpy as np

from mpc.errors import ProtocolError

__all__ = ["Exchange", "Steps", "lockstep", "run", "steps"]

T = TypeVar("T")
Steps = Generator[np.ndarray, list[np.ndarray], T]
Exchange = Callable[[np.ndarray], list[np.ndarray]]


def run(exchange: Exchange, gen: Steps[T]) -> T:
    """Drive one step generator, one ``exchange`` (one round) per payload it yields."""
    try:
        payload = next(gen)
        while True:
            payload = gen.send(exchange(payload))
    except StopIteration as stop:
        return stop.value


def _now(fn: Callable[..., T], args: tuple) -> Steps[T]:
    return fn(*args)
    yield  # a generator that finishes at its first step without yielding


def steps(obj: Any, name: str, *args: Any) -> Steps[Any]:
    """The step version of the plain method ``obj.<name>`` (``and_many`` -> ``and_steps``,
    ``truncate_many`` -> ``truncate_steps``, ``msb`` -> ``msb_steps``) when ``obj`` offers it,
    else a generator that calls ``obj.<name>(*args)`` synchronously (its own rounds) when first
    advanced."""
    gen = getattr(obj, f"{name.removesuffix('_many')}_steps", None)
    return gen(*args) if gen is not None else _now(getattr(obj, name), args)


def lockstep(gens: Sequence[Steps[Any]], exchange: Exchange | None) -> list[Any]:
    """Run independent step generators together, one merged exchange per round; their results
    in order. ``exchange`` may be None only if no generator yields (plain engines)."""
    results: list[Any] = [None] * len(gens)
    live: dict[int, np.ndarray] = {}

    def advance(i: int, value: list[np.ndarray] | None) -> None:
        try:
            live[i] = next(gens[i]) if value is None else gens[i].send(value)
        except StopIteration as stop:
            results[i] = stop.value

    for i in range(len(gens)):
        advance(i, None)
    while live:
        order = sorted(live)
        payloads = [np.ascontiguousarray(live.pop(i)).reshape(-1) for i in order]
        if exchange is None:
            raise ProtocolError("lockstep: a protocol needs an exchange, but none was given")
        if any(p.dtype != np.uint64 for p in payloads):
            raise ProtocolError("lockstep: payloads must be uint64 arrays")
        merged = payloads[0] if len(payloads) == 1 else np.concatenate(payloads)
        parts = exchange(merged)
        lo = 0
        for i, p in zip(order, payloads, strict=True):
            hi = lo + p.size
            advance(i, [part[lo:hi] for part in parts])
            lo = hi
    return results
