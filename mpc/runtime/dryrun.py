"""Dry runs: the preprocessing plan of a computation, found without communicating.

Every semi2k protocol's control flow and its material requests depend only on public data
(shapes, dtypes, scales), never on shares or opened values. So running a computation on
*shadow* tensors (zero shares) bound to a shadow engine, whose channel returns zeros and whose
preprocessing hands out zeros and records each request, yields exactly the requests the real
run will make, in order, with no message sent and no real stream advanced. The plan then
feeds ``party.preprocess(plan)`` (the offline phase).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mpc.engines.semi2k import Semi2k
from mpc.preprocessing.base import Preprocessing, Request, component_shapes
from mpc.prg import PRG
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
    """Zero material; the requests are the plan."""

    def __init__(self) -> None:
        super().__init__()
        self.plan: list[Request] = []

    def _take(self, req: Request) -> tuple[np.ndarray, ...]:
        self.plan.append(req)
        return tuple(np.zeros(s, dtype=np.uint64) for s in component_shapes(req))


def dry_run(party, fn: Callable[..., object], *tensors: SecretTensor) -> list[Request]:
    """The plan of ``fn(*tensors)`` (see the module docstring); ``tensors`` are not modified."""
    recorder = _Recorder()
    engine = Semi2k(_NullChannel(party.pid, party.n), recorder,  # type: ignore[arg-type]
                    pair_prgs={j: PRG.fresh() for j in party.pair_prgs}, kernels=party.kernels)
    shadows = [
        SecretTensor(engine, np.zeros(t.shape, dtype=np.uint64), t.dtype, t.scale) if isinstance(t, SecretTensor) else t
        for t in tensors
    ]
    fn(*shadows)
    return recorder.plan
