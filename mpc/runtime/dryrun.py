"""Dry runs: the preprocessing plan of a computation, found without communicating.

Every semi2k, GMW and conversion protocol's control flow and its material requests depend
only on public data (shapes, dtypes, scales, widths), never on shares or opened values. So
running a computation on *shadow* values (zero shares) bound to shadow engines, whose channel
returns zeros and whose preprocessing hands out zeros and records each request, yields exactly
the requests the real run will make, in order, with no message sent and no real stream
advanced. The shadow engines mirror the party's: its arithmetic engine, built by name through
the registry (:mod:`mpc.runtime.engines`) with its boolean side, and a GMW engine, so
comparisons and SecretBits circuits are planned too. The plan then feeds ``party.preprocess(plan)`` (the offline phase).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mpc.engines.base import EngineContext
from mpc.engines.gmw import GMWEngine
from mpc.preprocessing.authenticated import template
from mpc.preprocessing.base import Preprocessing, Request, component_shapes
from mpc.prg import PRG
from mpc.runtime.engines import build_arithmetic
from mpc.tensor.secret_bits import SecretBits
from mpc.tensor.secret_tensor import SecretTensor


class _NullChannel:
    """Stands in for a Channel: never sends; every opening reads as zeros."""

    def __init__(self, pid: int, n: int) -> None:
        self.pid, self.n = pid, n
        self.peers = [p for p in range(n) if p != pid]

    def next_tag(self) -> int:
        return 0

    def exchange(self, arr: np.ndarray, tag: int | None = None) -> list[np.ndarray]:
        return [np.zeros_like(arr)] * self.n

    def send(self, to: int, arr: np.ndarray, tag: int) -> None:
        pass

    def recv(self, frm: int, tag: int, *, dtype=None, shape=None, timeout=None) -> np.ndarray:
        return np.zeros(shape, dtype=dtype)


class _Recorder(Preprocessing):
    """Zero material (authenticated records -- AUTH, and BAUTH for authenticated bit words -- for
    authenticated requests, and the mask value of an input mask at its owner); the requests are
    the plan."""

    def __init__(self, pid: int) -> None:
        super().__init__()
        self.pid = pid
        self.plan: list[Request] = []

    def _take(self, req: Request) -> tuple[np.ndarray, ...]:
        self.plan.append(req)
        if req.auth:  # AUTH records, BAUTH bit words, and the owner's mask value
            return template(req, self.pid)
        return tuple(np.zeros(s, dtype=np.uint64) for s in component_shapes(req))

    def mac_key_share(self) -> int:
        return 0

    def mask_shares(self, start: int, shape) -> np.ndarray:
        return np.zeros(shape, dtype=np.uint64)

    def bit_mac_key_share(self) -> int:
        return 0


def dry_run(party, fn: Callable[..., object], *values: object) -> list[Request]:
    """The plan of ``fn(*values)`` (see the module docstring); SecretTensor and SecretBits
    arguments are replaced by shadows, other arguments passed as they are; nothing is modified."""
    recorder = _Recorder(party.pid)
    # the requests the party's source will see: AND triples for live lanes, and light ones, where it offers them
    recorder.offers_live_lanes = getattr(party.preprocessing, "offers_live_lanes", False)
    recorder.offers_light_triples = getattr(party.preprocessing, "offers_light_triples", False)  # and light ones
    channel = _NullChannel(party.pid, party.n)
    fresh = {j: PRG.fresh() for j in party.pair_prgs}
    gmw = GMWEngine(channel, recorder, party.kernels, prg=PRG.fresh(), pair_prgs=fresh)  # type: ignore[arg-type]
    ctx = EngineContext(channel, recorder, party.kernels, PRG.fresh(), fresh, PRG.fresh(),  # type: ignore[arg-type]
                        boolean=gmw, dry=True)
    engine = build_arithmetic(party.engine_name, ctx)
    # an engine whose requests name its shares' provenance (masked2k's mask tags) continues from
    # the party's engine and keeps that provenance in the shadows: the plan is the real run's
    follow = getattr(engine, "follow", None)
    if follow is not None:
        follow(party.engine)
    zeros = getattr(engine, "shadow", None) or (lambda share: engine.zeros(share.shape))
    # SecretBits run on the engine's own boolean side, as the party's do (Party.gmw): spdz2k's
    # authenticated bits ask for authenticated (and light) AND triples, GMW's for plain ones
    converter = getattr(engine, "converter", None)
    bits = converter.boolean if converter is not None else gmw

    def shadow(v: object) -> object:
        if isinstance(v, SecretTensor):
            return SecretTensor(engine, zeros(v.share), v.dtype, v.scale)
        if isinstance(v, SecretBits):
            return SecretBits(bits, np.zeros(v.planes.shape, dtype=bits.share_dtype), v.n)
        return v

    fn(*[shadow(v) for v in values])
    return recorder.plan
