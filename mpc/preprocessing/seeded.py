"""Party-side seed-compressed preprocessing: :class:`DealerClient` and :class:`InsecureLocalDealer`.

Protocol (party i of n, per batch of requests; see :mod:`mpc.preprocessing.material`):

1. Parties 0..n-2 expand every share of every item from PRG(k_i): no communication at all.
2. Party n-1 expands its base shares (a, b; r) from PRG(k_{n-1}), sends the batch of requests
   to the dealer and receives its derived shares as corrections: one request and one answer
   per batch (one round trip, on the dealer link only).

The boolean material is served the same way: AND triples (``bit_triples(nwords)``, for the GMW
engine; correction c_{n-1}, 8 bytes per word of 64 triples) and daBits (``dabits(count)``, for
B2A; correction: party n-1's ring share, 8 bytes per daBit), each from a stream of its own
(:class:`~mpc.preprocessing.material.Streams`), XOR-combined by the dealer. Both sources are
therefore the single preprocessing of a Party: its semi2k engine, GMW engine and Converter.

Offline/online: :meth:`prefetch` (``party.preprocess(plan)``) obtains a whole plan as one batch
and keeps it in a store keyed by request; the online phase then takes items from the store with
no dealer traffic. Every party consults the store at the same program points with the same
requests, so streams stay aligned and every item is handed out exactly once (it is removed from
the store).

A request with nothing in store is fetched on demand, together with a *prediction* of what
comes next: if the same request was taken before, the requests that followed it then (up to the
present: one cycle of a loop) are fetched in the same batch and stored. A training loop whose
steps repeat the same requests thus costs one dealer round trip per step after its first step,
instead of one per item. The prediction is a function of the request history alone, which every
party sees identically, so every party expands the same items in the same order and the streams
stay aligned even where the prediction is wrong (an unused item waits in store for a later
identical request, or is never used; its only cost is memory, bounded by
:data:`PREDICT_BYTES` of store, counted from the requests alone: every party's bound is the same).
"""

from __future__ import annotations

import functools
import math
import types
from abc import abstractmethod
from collections import deque
from collections.abc import Sequence

import numpy as np

from mpc._core import get_kernels
from mpc.errors import PeerTimeout
from mpc.net.channel import Channel
from mpc.preprocessing import protocol
from mpc.preprocessing.authenticated import assemble, item_bytes
from mpc.preprocessing.base import Preprocessing, Request, component_shapes
from mpc.preprocessing.material import (
    DealerCore,
    Streams,
    expand_own,
    mask_share,
    split_corrections,
    total_corrections,
)
from mpc.prg import PRG, SEED_BYTES

DEALER = "dealer"
PREDICT_ITEMS = 4096  # at most this many items fetched ahead by one prediction
PREDICT_BYTES = 1 << 28  # ... nor bytes in store (predicted and unused: memory only); bytes, since an
# authenticated bit word holds 528 of them: a bound of 2^24 elements allowed 8.8 GB
_HISTORY = 1 << 16  # requests remembered for predictions

class SeedCompressed(Preprocessing):
    """Common logic: expand own shares from a seed; party n-1 obtains corrections (subclass hook)."""

    offers_light_triples = True  # light AND triples: c's word and fold, 16 bytes of correction instead of 520

    def __init__(self, pid: int, n: int, seed: bytes, kernels: types.SimpleNamespace | None = None) -> None:
        super().__init__()
        self.pid = pid
        self.n = n
        self._last = pid == n - 1
        self._streams = Streams(seed)
        self._kernels = kernels if kernels is not None else get_kernels()  # folds of authenticated bits
        self._store: dict[Request, deque[tuple[np.ndarray, ...]]] = {}
        self._history: list[Request] = []  # every request taken, in order (the last _HISTORY)
        self._seen: dict[Request, int] = {}  # request -> index in _history of its latest take
        self._stored = 0  # bytes in store (as _item_bytes counts them)

    @property
    def pending(self) -> int:
        """Items fetched ahead and not consumed yet."""
        return sum(len(q) for q in self._store.values())

    def _generate(self, reqs: Sequence[Request]) -> list[tuple[np.ndarray, ...]]:
        own = [expand_own(r, self._streams, self._last, self.pid) for r in reqs]
        corr: list = [None] * len(reqs)
        if self._last and reqs:
            corr = split_corrections(reqs, self._corrections(reqs))
        return [assemble(r, o, c, self.pid, self._kernels) if r.auth else tuple(o if c is None else o + c)
                for r, o, c in zip(reqs, own, corr, strict=True)]

    def mask_shares(self, start: int, shape) -> np.ndarray:
        """This party's shares of the masks tagged ``start ..`` (its window, or zeros for another
        owner's input masks; nothing consumed)."""
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
        return mask_share(self._streams, self.pid, self.n, int(start), shape)

    def mac_key_share(self) -> int:
        """alpha_i, from this party's seed (the dealer knows it: see :mod:`mpc.preprocessing.authenticated`)."""
        return self._streams.mac_key_share(self.pid)

    def bit_mac_key_share(self) -> int:
        """Delta_i, from this party's seed (the dealer knows it too)."""
        return self._streams.bit_mac_key_share()

    def _prefetch(self, plan: Sequence[Request]) -> None:
        for req, item in zip(plan, self._generate(plan), strict=True):
            self._keep(req, item)

    def _keep(self, req: Request, item: tuple[np.ndarray, ...]) -> None:
        self._store.setdefault(req, deque()).append(item)
        self._stored += _item_bytes(req)

    def _take(self, req: Request) -> tuple[np.ndarray, ...]:
        queue = self._store.get(req)
        if queue:
            item = queue.popleft()  # removed: it can never be handed out again
            self._stored -= _item_bytes(req)
            if not queue:
                del self._store[req]
        else:
            batch = [req, *self._predict(req)]
            items = self._generate(batch)
            for r, it in zip(batch[1:], items[1:], strict=True):
                self._keep(r, it)
            item = items[0]
        self._remember(req)
        return item

    def _predict(self, req: Request) -> list[Request]:
        """What followed ``req`` the last time it was taken, up to now (see the module docstring)."""
        start = self._seen.get(req)
        if start is None:
            return []
        out, room = [], PREDICT_BYTES - self._stored - _item_bytes(req)
        for r in self._history[start + 1 : start + 1 + PREDICT_ITEMS]:
            room -= _item_bytes(r)
            if room < 0:
                break
            out.append(r)
        return out

    def _remember(self, req: Request) -> None:
        if len(self._history) >= _HISTORY:  # forget the older half (indices shift: rebuild)
            self._history = self._history[_HISTORY // 2 :]
            self._seen = {r: i for i, r in enumerate(self._history)}
        self._seen[req] = len(self._history)
        self._history.append(req)

    @abstractmethod
    def _corrections(self, reqs: Sequence[Request]) -> np.ndarray:
        """Party n-1 only: the flat corrections of a batch."""


class DealerClient(SeedCompressed):
    """Material from a :class:`~mpc.preprocessing.dealer.TrustedDealer` over ``link``.

    ``link`` is this party's 2-party channel to the dealer (dealer = pid 0, this party = pid 1).
    Construction waits for the seed; a dealer that does not answer gives ``PeerTimeout`` with
    ``peer == "dealer"``.
    """

    def __init__(self, link: Channel, pid: int, n: int) -> None:
        self.link = link
        self._closed = False
        tag = link.next_tag()
        seed = self._recv(tag, np.uint8, (SEED_BYTES,), pid, "its preprocessing seed").tobytes()
        super().__init__(pid, n, seed)

    def _recv(self, tag: int, dtype, shape, pid: int, what: str) -> np.ndarray:
        try:
            return self.link.recv(0, tag, dtype=dtype, shape=shape)
        except PeerTimeout:
            raise PeerTimeout(
                f"party {pid}: the dealer did not send {what} within {self.link.timeout:g} s "
                "(dealer dead, unreachable or overloaded)",
                peer=DEALER,
            ) from None

    def _corrections(self, reqs: Sequence[Request]) -> np.ndarray:
        tag = self.link.next_tag()
        self.link.send(0, protocol.encode_batch(reqs), tag)
        size = total_corrections(reqs)
        return self._recv(tag, np.uint64, (size,), self.pid, f"corrections for {len(reqs)} item(s)")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._last:
                self.link.send(0, protocol.encode_bye(), self.link.next_tag())
        finally:
            self.link.close()


class InsecureLocalDealer(SeedCompressed):
    """INSECURE, for tests and examples only: every party can compute every share.

    All seeds are derived from the session's common seed, which every party knows; party n-1
    runs the dealer's arithmetic itself. The material and the message pattern between parties
    are exactly those of a real dealer, without a dealer process; the privacy is none.
    """

    def __init__(self, pid: int, n: int, common_prg: PRG, kernels: types.SimpleNamespace) -> None:
        seeds = [common_prg.derive(f"insecure-local-dealer/{i}").random_bytes(SEED_BYTES) for i in range(n)]
        super().__init__(pid, n, seeds[pid], kernels)
        self._core = DealerCore(seeds, kernels) if pid == n - 1 else None

    def _corrections(self, reqs: Sequence[Request]) -> np.ndarray:
        return self._core.batch(reqs)  # type: ignore[union-attr]


@functools.lru_cache(maxsize=4096)  # on every take: the online phase asks it once per item
def _item_bytes(req: Request) -> int:
    """Bytes of one item at a party, from the request alone (so every party counts alike): ring/8
    per element (or packed bit word, ring 64) of plain material, and authenticated items as
    :func:`~mpc.preprocessing.authenticated.item_bytes` counts them."""
    if req.auth:
        return item_bytes(req)
    return req.ring // 8 * sum(math.prod(s) for s in component_shapes(req))
