"""The cost model of the cleartext debug engine: the traffic semi2k and GMW would send.

The cleartext engine computes on the values themselves, so its protocols send nothing; but a
user debugging a protocol wants to see what the real run will cost. :class:`Meter` charges the
party's channel counters (``party.stats()``, ``party.section``, ``mpcrun --stats``) with exactly
the messages the real engines send at the same step, message by message, without sending them:

- one *exchange* of w words (:meth:`Meter.exchange`): a message of w uint64 words to every peer
  and one from every peer, on one tag, so one round: what every semi2k opening (Beaver products,
  squares, matrix products, truncations, ``open``) and every GMW AND layer and reveal sends;
- one *gather* of w words to one party (:meth:`Meter.gather`): ``open(..., to=p)``.

Each message is charged its frame header plus its payload (the payloads of these protocols are
always flat arrays: :data:`HEADER` bytes of header). The word counts per operation are the
engines' own (documented in :mod:`mpc.engines.semi2k`, :mod:`mpc.engines.gmw` and
:mod:`mpc.engines.convert`, for semi2k with daBits and bit-injection triples, which the dealer
and the local source both offer); tests/test_cleartext.py checks them against semi2k's measured
``party.stats()``. Not modelled: the preprocessing traffic (the dealer link; see
``party.dry_run`` under semi2k for the material a computation needs).

The one real message of the cleartext engine, an owner's input reaching the other parties
(:meth:`Meter.carry`), is *not* counted, since semi2k's and GMW's inputs send nothing (pairwise
PRG sharing). The channel offers no public way to count a message it does not carry, nor to
carry one it does not count, so this module reaches into its counter fields (``_count``,
``_total``, ``_open``, ``_round_tag``; :mod:`mpc.net.channel`), and nothing else does: a
public ``Channel.charge`` / ``Channel.uncounted`` pair would replace those four lines.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

from mpc.errors import ShareTypeError
from mpc.net.channel import Channel, Counters
from mpc.net.wire import HEADER_BYTES

__all__ = ["HEADER", "Meter"]

HEADER = HEADER_BYTES + 8  # the frame header of a flat (1-d) payload
WORD = 8


class Meter:
    """Charges one party's channel with modelled messages; ``active=False`` (a dry run's shadow
    engine, whose channel keeps no counters) charges nothing."""

    def __init__(self, channel: Channel, active: bool = True) -> None:
        self.channel = channel
        self.active = active

    def _charge(self, tag: int, words: int, sent: int, received: int) -> None:
        nbytes = HEADER + WORD * int(words)
        for _ in range(sent):
            self.channel._count(tag, nbytes, sent=True)
        for _ in range(received):
            self.channel._count(tag, nbytes, sent=False)

    def exchange(self, words: int) -> None:
        """An all-to-all exchange of ``words`` words: one round, n-1 messages out and n-1 in."""
        if self.active:
            peers = self.channel.n - 1
            self._charge(self.channel.next_tag(), words, peers, peers)

    def gather(self, words: int, to: int) -> None:
        """Every party but ``to`` sends it ``words`` words: one round."""
        if self.active:
            mine = self.channel.pid == to
            self._charge(self.channel.next_tag(), words, 0 if mine else 1, self.channel.n - 1 if mine else 0)

    @contextlib.contextmanager
    def muted(self) -> Iterator[None]:
        """A block that charges nothing: a step version computes its result in it and charges its
        one exchange through the lockstep that runs it (:mod:`mpc.engines.steps`)."""
        saved, self.active = self.active, False
        try:
            yield
        finally:
            self.active = saved

    @contextlib.contextmanager
    def _uncounted(self) -> Iterator[None]:
        ch = self.channel
        saved = ch._total, ch._open, ch._round_tag
        ch._total, ch._open = Counters(), []
        try:
            yield
        finally:
            ch._total, ch._open, ch._round_tag = saved

    def carry(self, value: np.ndarray | None, owner: int, shape: tuple[int, ...]) -> np.ndarray:
        """The owner's ``value`` (uint64, ``shape``) at every party: the owner sends it to each
        peer, uncounted (see the module docstring). Returns a fresh array."""
        ch = self.channel
        if ch.pid == owner:
            if value is None or value.shape != tuple(shape) or value.dtype != np.uint64:
                raise ShareTypeError(f"input: the owner must pass a uint64 array of shape {tuple(shape)}")
            value = np.array(value, dtype=np.uint64, copy=True)
        elif value is not None:
            raise ShareTypeError(f"input: party {ch.pid} is not the owner (party {owner}) and must pass None")
        with self._uncounted() if self.active else contextlib.nullcontext():
            tag = ch.next_tag()
            if ch.pid == owner:
                for p in ch.peers:
                    ch.send(p, value, tag)
                return value
            return np.array(ch.recv(owner, tag, dtype=np.uint64, shape=tuple(shape)), copy=True)
