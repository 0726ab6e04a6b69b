"""The trusted dealer: generates seed-compressed material for the parties of one session.

Trust assumption (in the name): the dealer sees every party's shares of the material (not the
parties' inputs) and must not collude with any party; it is semi-honest. Against that dealer,
semi2k is secure for a dishonest majority of semi-honest parties.

Protocol (see :mod:`mpc.preprocessing.protocol` for the messages):

1. Draw a fresh seed k_i per party (``os.urandom`` through :func:`mpc.prg.new_seed`) and send
   it on party i's link.
2. Serve party n-1: for each batch request, advance all n seed streams item by item
   (:class:`~mpc.preprocessing.material.DealerCore`) and answer with party n-1's corrections.
3. Stop at party n-1's BYE. A silent party n-1 for longer than ``idle_timeout`` ends the
   dealer with ``PeerTimeout``.

Cost per item: the request (a few words) and one ring element per element of each derived
component (c of a triple; r >> f and msb(r) of a truncation triple; one word per 64 AND triples;
one ring element per daBit), to party n-1 only.
"""

from __future__ import annotations

import types
from collections.abc import Sequence

import numpy as np

from mpc._core import get_kernels
from mpc.errors import ConfigError, PeerTimeout, ProtocolError
from mpc.net.channel import Channel
from mpc.preprocessing import protocol
from mpc.preprocessing.material import DealerCore
from mpc.prg import new_seed


class TrustedDealer:
    """Serve one session. ``links[i]`` is the dealer's end (pid 0) of party i's 2-party link."""

    def __init__(
        self,
        links: Sequence[Channel],
        *,
        kernels: types.SimpleNamespace | str | None = None,
        idle_timeout: float = 3600.0,
    ) -> None:
        if len(links) < 2:
            raise ConfigError(f"links: the dealer needs one link per party (at least 2), got {len(links)}")
        for i, link in enumerate(links):
            if link.n != 2 or link.pid != 0:
                raise ConfigError(f"links[{i}]: expected the dealer end (pid 0) of a 2-party link")
        self.links = list(links)
        self.n = len(links)
        self.kernels = kernels if isinstance(kernels, types.SimpleNamespace) else get_kernels(kernels)
        self.idle_timeout = idle_timeout
        self.batches = 0
        self.items = 0

    def serve(self) -> None:
        """Deliver the seeds, then answer party n-1 until it says BYE (see the module docstring)."""
        try:
            seeds = [new_seed() for _ in range(self.n)]
            for link, seed in zip(self.links, seeds, strict=True):
                link.send(1, np.frombuffer(seed, dtype=np.uint8), link.next_tag())
            core = DealerCore(seeds, self.kernels)
            del seeds  # only the generators keep them
            last = self.links[-1]
            while True:
                tag = last.next_tag()
                try:
                    msg = last.recv(1, tag, dtype=np.uint64, timeout=self.idle_timeout)
                except PeerTimeout as exc:  # silent past the deadline, or disconnected: the link says which
                    raise PeerTimeout(str(exc), peer=self.n - 1) from None
                if msg.ndim != 1:
                    raise ProtocolError("dealer: a request must be a 1-d array")
                reqs = protocol.decode(msg)
                if reqs is None:
                    return
                last.send(1, core.batch(reqs), tag)
                self.batches += 1
                self.items += len(reqs)
        finally:
            for link in self.links:
                link.close()
