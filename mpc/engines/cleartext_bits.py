"""The boolean side of the cleartext debug engine: GMW's interface and circuits, in the clear.

:class:`CleartextBits` is the boolean engine: every party holds the whole words (the same at
every party, *replicated*), so XOR, NOT and AND are the plain bit operations, and a reveal is
the value itself. It has GMW's interface (it is a :class:`~mpc.engines.gmw.GMWEngine`, which
:class:`~mpc.tensor.secret_bits.SecretBits` and the circuits take) and charges the channel what
GMW would send (:class:`~mpc.engines.cleartext_costs.Meter`): an AND layer of W words is one
exchange of 2W words, a reveal one exchange of W words; input sends nothing (pairwise PRGs).

:class:`CleartextConverter` is the engine's :class:`~mpc.engines.base.MixedProtocols`. It *is*
the semi2k/GMW :class:`~mpc.engines.convert.Converter` (MSB, zero test and A2B are inherited,
unchanged) with the one party-specific step replaced: the parties' additive addends of a value
x are (x, 0, ..., 0), a valid split that every party knows. So the very same circuits run (on
the cleartext boolean engine), give x's bits, sign or zero test, and charge the same AND layers
as under semi2k, carry-save layers for n > 2 included. B2A and bit times value, which semi2k
does with daBits and bit-injection triples (one opening each), are computed directly and
charged that opening. Single bits are 0/1 ``uint64`` words, replicated.

Domain check: a bit decomposition whose output is only consumed under masks
(``a2b(..., masked_use=True)``) is, in this code base, the normalisation of
:mod:`mpc.functions._normalize` (reciprocal, divide, sqrt, rsqrt, log; exact for |X| < 2^60),
so values of |X| >= 2^60 there are reported as function inputs outside their domain. exp's and
softmax's decomposition of x log2(e) runs as a step version (``a2b_steps``, unchecked): far
outside exp's clamp it wraps on purpose, and its result is multiplied by an exact 0 there.

Security: none. Every party sees every value; for debugging only, never with real secrets.
"""

from __future__ import annotations

import math
import types
from collections.abc import Sequence

import numpy as np

from mpc.engines.base import ArithmeticEngine
from mpc.engines.cleartext_costs import Meter
from mpc.engines.cleartext_overflow import Monitor, outside, signed
from mpc.engines.convert import Converter, nwords
from mpc.engines.gmw import GMWEngine
from mpc.errors import ShareTypeError
from mpc.net.channel import Channel
from mpc.sharing.dims import dims
from mpc.sharing.flat import concat_flat, split_flat

__all__ = ["CleartextBits", "CleartextConverter", "DOMAIN_BITS"]

_ONE = np.uint64(1)
DOMAIN_BITS = 60  # the normalisation's domain: |X| < 2^60


class CleartextBits(GMWEngine):
    """GMW's interface on replicated plaintext words (see the module docstring)."""

    name = "cleartext"

    def __init__(self, channel: Channel, kernels: types.SimpleNamespace, meter: Meter) -> None:
        # GMWEngine.__init__ is not called: no triples, no PRGs (nothing is shared)
        self.channel = channel
        self.pid = channel.pid
        self.n = channel.n
        self.k = kernels
        self.meter = meter

    def __repr__(self) -> str:
        return f"CleartextBits(pid={self.pid}, n={self.n})"

    def invert(self, x: np.ndarray) -> np.ndarray:
        """~x at every party (GMW: party 0 flips its share). Local."""
        return self.k.bnot(self._words("invert x", x)).reshape(x.shape)

    def xor_public(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        """x ^ c at every party. Local."""
        x, c = self._pair_of(x, c, "xor_public")
        return self.k.bxor(x, c).reshape(x.shape)

    def public(self, c: np.ndarray) -> np.ndarray:
        """The public words c, held by every party. Local."""
        return self._words("public c", c).copy()

    def and_many(self, pairs: Sequence[tuple[np.ndarray, np.ndarray]], lanes: int | None = None) -> list[np.ndarray]:
        """x & y for every pair; charged as GMW's one round of 2 words per operand word (``lanes``
        is the protocol's padding hint: unused)."""
        pairs = [self._pair_of(x, y, f"and_many pair {i}") for i, (x, y) in enumerate(pairs)]
        total = sum(x.size for x, _ in pairs)
        if total:
            self.meter.exchange(2 * total)
        return [np.bitwise_and(x, y, out=np.empty(x.shape, dtype=np.uint64)) for x, y in pairs]

    def and_steps(self, pairs: Sequence[tuple[np.ndarray, np.ndarray]]):
        """:meth:`and_many` as a step generator (:mod:`mpc.engines.steps`): computed uncharged, the
        one exchange of 2 words per operand word charged by the lockstep that runs it."""
        total = sum(np.asarray(x).size for x, _ in pairs)
        with self.meter.muted():
            out = self.and_many(pairs)
        if total:
            yield np.zeros(2 * total, dtype=np.uint64)
        return out

    def input(self, words: np.ndarray | None, owner: int, shape: int | Sequence[int]) -> np.ndarray:
        """The owner's words at every party (uncounted: GMW's input sends nothing)."""
        shape = dims(shape, "shape")
        if isinstance(owner, bool) or not isinstance(owner, (int, np.integer)) or not 0 <= owner < self.n:
            raise ValueError(f"owner: expected a party id in [0, {self.n}), got {owner!r}")
        if words is not None:
            self._words("input words", words)
        return self.meter.carry(words, int(owner), shape)

    def reveal_many(self, xs: Sequence[np.ndarray], to: int | None = None) -> list[np.ndarray | None]:
        """The values (None at parties other than ``to``); charged as GMW's reveal: one round."""
        xs = [self._words(f"reveal share {i}", x) for i, x in enumerate(xs)]
        if to is not None and (isinstance(to, bool) or not isinstance(to, (int, np.integer)) or not 0 <= to < self.n):
            raise ValueError(f"to: expected None or a party id in [0, {self.n}), got {to!r}")
        total = sum(x.size for x in xs)
        if total and to is None:
            self.meter.exchange(total)
        elif total:
            self.meter.gather(total, int(to))
        if to is not None and to != self.pid:
            return [None] * len(xs)
        return [np.array(x, dtype=np.uint64, copy=True) for x in xs]


class CleartextConverter(Converter):
    """semi2k's MixedProtocols evaluated in the clear (see the module docstring)."""

    def __init__(self, arith: ArithmeticEngine, boolean: CleartextBits, monitor: Monitor) -> None:
        super().__init__(arith, boolean, dabits=None)  # no daBits: B2A and bit_mul are overridden
        self.monitor = monitor

    def __repr__(self) -> str:
        return f"CleartextConverter(pid={self.pid}, n={self.n})"

    def addends(self, flat: np.ndarray, negate_last: bool = False, trivial: bool = False) -> list[np.ndarray]:
        """Bit planes (64, W) of the parties' addends of ``flat``: the value as party 0's, zeros as
        everyone else's (so a negated last addend is zero too). No cost, as under semi2k."""
        shape = (64, nwords(flat.shape[0]))
        planes = np.ascontiguousarray(self.k.bitslice(flat)) if flat.shape[0] else np.zeros(shape, dtype=np.uint64)
        return [planes] + [np.zeros(shape, dtype=np.uint64) for _ in range(self.n - 1)]

    def a2b(self, xs: Sequence[np.ndarray], masked_use: bool = False) -> tuple[np.ndarray, list[tuple[int, ...]]]:
        """Converter.a2b, with the functions' domain check on masked decompositions."""
        if masked_use:
            bound = 1 << DOMAIN_BITS
            for x in xs:
                self.monitor.check("a function's normalisation (reciprocal, divide, sqrt, rsqrt or log)",
                                   outside(x, -bound + 1, bound),
                                   "inputs are outside the documented domain |x| * 2^scale < 2^60",
                                   lambda x=x: np.abs(signed(x).astype(np.float64)))
        return super().a2b(xs, masked_use)

    def bit_not(self, bit: np.ndarray) -> np.ndarray:
        """NOT b at every party. Local."""
        return np.bitwise_xor(bit, _ONE, out=np.empty_like(bit))

    def b2a(self, bits: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The bits as ring elements; charged as semi2k's daBit B2A: one reveal of the packed bits."""
        flat = concat_flat(bits) if bits else np.zeros(0, dtype=np.uint64)
        if flat.shape[0]:
            self.boolean.meter.exchange(nwords(flat.shape[0]))
        return split_flat(np.bitwise_and(flat, _ONE), [b.shape for b in bits])

    def b2a_steps(self, bits: Sequence[np.ndarray]):
        """:meth:`b2a` as a step generator (:mod:`mpc.engines.steps`): it yields the packed bits'
        words (semi2k's daBit opening) for the lockstep to charge."""
        flat = concat_flat(bits) if bits else np.zeros(0, dtype=np.uint64)
        if flat.shape[0]:
            yield np.zeros(nwords(flat.shape[0]), dtype=np.uint64)
        return split_flat(np.bitwise_and(flat, _ONE), [b.shape for b in bits])

    def bit_mul(self, pairs: Sequence[tuple[np.ndarray, np.ndarray]],
                b2a: Sequence[np.ndarray] = ()) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """b * x for each (bit, value) pair and the extra bits as ring elements; charged as
        semi2k's bit injection: one exchange of the packed bits and one word per product."""
        shapes = [x.shape for _, x in pairs]
        if [b.shape for b, _ in pairs] != shapes:
            raise ShareTypeError(f"bit_mul: bit and value shapes differ: {[b.shape for b, _ in pairs]} and {shapes}")
        m = sum(math.prod(s) for s in shapes)
        me = sum(e.size for e in b2a)
        if m + me:
            self.boolean.meter.exchange(nwords(m) + nwords(me) + m)
        prods = [np.where((b & _ONE).astype(bool), x, np.uint64(0)).astype(np.uint64) for b, x in pairs]
        return prods, [np.bitwise_and(e, _ONE, out=np.empty(e.shape, dtype=np.uint64)) for e in b2a]
