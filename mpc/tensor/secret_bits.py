"""SecretBits: a vector of XOR-shared ``width``-bit values (any width >= 1), bit-sliced.

Layout: ``planes`` is this party's share, a ``(width, W)`` uint64 array with W = ceil(n / 64);
plane i packs bit i of every element (element j at bit j % 64 of word j // 64), so a circuit
gate on a plane runs on all n elements word-parallel (:mod:`mpc.engines.circuits`). Bit 0 is
the least significant bit. Bits of the last word past n are padding: they carry no meaning, and
shares are masked to zero there before anything is opened, so padding never leaks.

Values in and out (:mod:`mpc.engines.bitplanes`): Python ints of any size, NumPy integer
arrays, or ``bytes`` of ceil(width / 8) bytes read big-endian (the first byte holds the most
significant bits, as hex strings of AES keys and blocks are written). :meth:`SecretBits.reveal`
gives a uint64 array for width <= 64 and an object array of Python ints above;
``reveal(as_bytes=True)`` gives one big-endian ``bytes`` per element.

Operations (all parties call them in the same order; cost per element, GMW engine; every
operation works at any width, e.g. 128- or 256-bit adders and comparisons):
- ``^``, ``~``, ``<<``, ``>>``, :meth:`sar`, :meth:`bit`, :meth:`bits`, :meth:`concat_bits`,
  :meth:`zero_extend`, :meth:`sign_extend`, and ``& | ^`` with public values: local, 0 rounds.
- ``&``, ``|`` between secrets: 1 round, width ANDs.
- ``+``, ``-``, unary ``-``: Sklansky adder mod 2^width, 1 + ceil(log2(width-1)) rounds.
- ``<``, ``<=``, ``>``, ``>=`` (unsigned) and :meth:`lt` & co. with ``signed=True``:
  comparison tree, 1 + ceil(log2 width) rounds; :meth:`eq`/:meth:`ne`: ceil(log2 width) rounds.
  They return 1-bit SecretBits. ``==`` is deliberately NOT overloaded (it stays identity-based
  equality so a SecretBits can be hashed and compared in tests); use :meth:`eq`.
- :func:`where` (multiplexer): 1 round. :func:`sum_bits`: carry-save reduction, then one adder.
- :meth:`reveal` / :func:`reveal_bits`: 1 round.
- Bristol Fashion circuits on SecretBits: :func:`mpc.bristol.evaluate`.
Public operands are Python ints, bytes or integer arrays of length n, reduced mod 2^width
(negative values in two's complement); every party must pass the same public values.

Security: that of the party's boolean engine (semi-honest GMW under semi2k; authenticated bits,
actively secure, under spdz2k: :mod:`mpc.engines.authbits`); protocols in :mod:`mpc.engines.gmw` and
:mod:`mpc.engines.circuits`. ``repr`` shows sizes only and never communicates.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mpc.engines import circuits
from mpc.engines.base import BooleanEngine
from mpc.engines.bitplanes import check_width, decode, decode_bytes, encode, nwords
from mpc.errors import InputError, ShareTypeError
from mpc.sharing.packing import lane_masks

__all__ = ["SecretBits", "check_width", "reveal_bits", "sum_bits", "where"]


class SecretBits:
    """XOR-shared vector of ``n`` values of ``width`` bits, stored as bit planes (see the module)."""

    __slots__ = ("engine", "planes", "n")

    def __init__(self, engine: BooleanEngine, planes: np.ndarray, n: int) -> None:
        if not isinstance(engine, BooleanEngine) or not hasattr(engine, "share_dtype"):
            raise ShareTypeError(f"engine: SecretBits needs a boolean engine, got {type(engine).__name__}")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise InputError(f"n: expected a non-negative element count, got {n!r}")
        n = int(n)
        if not isinstance(planes, np.ndarray) or planes.dtype != engine.share_dtype or planes.ndim != 2:
            raise ShareTypeError(f"planes: expected a 2-d array of bit planes of the {engine.name} engine's shares")
        if planes.shape[0] < 1 or planes.shape[1] != nwords(n):
            raise ShareTypeError(f"planes: expected shape (width >= 1, {nwords(n)}) for n = {n}, got {planes.shape}")
        self.engine = engine
        self.planes = planes
        self.n = n

    # ------------------------------------------------------------------ construction

    @classmethod
    def input(
        cls, engine: BooleanEngine, values: object | None, owner: int, n: int | None = None, width: int = 64
    ) -> SecretBits:
        """Secret-share the owner's ``width``-bit values; other parties pass ``values=None`` and ``n``.

        Values: one int or ``bytes`` (one element), or a sequence / 1-d integer array of them
        (see :mod:`mpc.engines.bitplanes`); they must fit in ``width`` bits, negatives are two's
        complement. Cost: that of :meth:`BooleanEngine.input` on width * ceil(n/64) words.
        """
        width = check_width(width)
        if engine.pid == owner:
            if values is None:
                raise ShareTypeError("values: the owner must pass its values")
            words, n = encode(engine.k, "values", values, width, n)
        else:
            if values is not None:
                raise ShareTypeError(f"values: party {engine.pid} is not the owner (party {owner}) and must pass None")
            if n is None:
                raise InputError("n: parties other than the owner must pass the element count")
            words = None
        return cls(engine, engine.input(words, owner, (width, nwords(int(n)))), int(n))

    @classmethod
    def input_all(cls, engine: BooleanEngine, values: object, n: int, width: int = 64) -> list[SecretBits]:
        """Every party's n values of ``width`` bits, shared (the list indexed by party), in one
        call: :meth:`BooleanEngine.input_all` (no message under GMW; one round under spdz2k's
        authenticated bits). Every party passes its own values, all n of them."""
        width = check_width(width)
        words, _ = encode(engine.k, "values", values, width, n)
        return [cls(engine, share, int(n)) for share in engine.input_all(words, (width, nwords(int(n))))]

    @classmethod
    def public(cls, engine: BooleanEngine, values: object, n: int | None = None, width: int = 64) -> SecretBits:
        """A sharing of public values (party 0 holds them), reduced mod 2^width; one value is
        repeated n times. Local; all parties pass the same values."""
        planes, count = encode(engine.k, "values", values, width, n, fit=False, broadcast=True)
        return cls(engine, engine.public(planes), count)

    @classmethod
    def zeros(cls, engine: BooleanEngine, n: int, width: int = 64) -> SecretBits:
        return cls(engine, engine.zeros((check_width(width), nwords(n))), n)

    @classmethod
    def concat_bits(cls, parts: Sequence[SecretBits]) -> SecretBits:
        """Stack bit fields, least significant part first: width = sum of the parts' widths. Local."""
        parts = list(parts)
        if not parts:
            raise ShareTypeError("concat_bits: expected at least one part")
        for p in parts[1:]:
            parts[0]._same_vector(p, "concat_bits")
        return cls(parts[0].engine, np.concatenate([p.planes for p in parts]), parts[0].n)

    # ------------------------------------------------------------------ basics

    @property
    def width(self) -> int:
        return int(self.planes.shape[0])

    @property
    def nwords(self) -> int:
        return int(self.planes.shape[1])

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:  # sizes only: never a share, never a protocol
        return f"SecretBits(n={self.n}, width={self.width}, party={self.engine.pid})"

    @property
    def _gates(self):
        """The engine for this vector's AND gates. Every operation on SecretBits is lane-wise or
        moves whole planes or whole words, so the padding lanes past n only ever hold what the
        padding of inputs and constants computes to (an input's zero padding, which a cheating
        owner may fill with its own values; a public operand's; a broadcast's zeros), never a
        live element: with padding the AND layers say ``lanes=n``
        (:class:`~mpc.engines.circuits.LiveLanes`), and a source that offers it (spdz2k's
        dealer-free one) makes no gates for the padding, whose openings show nothing else."""
        return circuits.live_gates(self.engine, self.n)

    def _new(self, planes: np.ndarray) -> SecretBits:
        return SecretBits(self.engine, np.ascontiguousarray(planes), self.n)

    def _same_vector(self, other: SecretBits, what: str) -> None:
        if other.engine is not self.engine:
            raise ShareTypeError(f"{what}: operands belong to different engines or parties")
        if other.n != self.n:
            raise ShareTypeError(f"{what}: element counts differ: {self.n} and {other.n}")

    def _operand(self, other: object, what: str) -> SecretBits:
        """``other`` as a SecretBits of this width: secrets are checked, public values shared."""
        if isinstance(other, SecretBits):
            self._same_vector(other, what)
            if other.width != self.width:
                raise ShareTypeError(f"{what}: widths differ: {self.width} and {other.width} bits")
            return other
        return SecretBits.public(self.engine, other, self.n, self.width)

    def _public_planes(self, other: object) -> np.ndarray:
        return encode(self.engine.k, "public operand", other, self.width, self.n, fit=False, broadcast=True)[0]

    # ------------------------------------------------------------------ bitwise

    def __xor__(self, other: object) -> SecretBits:
        if isinstance(other, SecretBits):
            return self._new(self.engine.xor(self.planes, self._operand(other, "^").planes))
        return self._new(self.engine.xor_public(self.planes, self._public_planes(other)))

    __rxor__ = __xor__

    def __and__(self, other: object) -> SecretBits:
        if isinstance(other, SecretBits):
            return self._new(self._gates.and_(self.planes, self._operand(other, "&").planes))
        return self._new(self.engine.and_public(self.planes, self._public_planes(other)))

    __rand__ = __and__

    def __or__(self, other: object) -> SecretBits:
        """a | b = a ^ b ^ (a & b): 1 round with a secret operand, local with a public one."""
        return self ^ other ^ (self & other)

    __ror__ = __or__

    def __invert__(self) -> SecretBits:
        return self._new(self.engine.invert(self.planes))

    # ------------------------------------------------------------------ bit movement (local)

    def _check_shift(self, k: object) -> int:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise InputError(f"shift: expected a non-negative integer, got {k!r}")
        return min(int(k), self.width)

    def __lshift__(self, k: int) -> SecretBits:
        """Logical shift left within the width (high bits fall off)."""
        k = self._check_shift(k)
        zeros = self.engine.zero_bits(k, self.planes)
        return self._new(np.concatenate([zeros, self.planes[: self.width - k]]))

    def __rshift__(self, k: int) -> SecretBits:
        """Logical shift right (zeros enter at the top)."""
        k = self._check_shift(k)
        zeros = self.engine.zero_bits(k, self.planes)
        return self._new(np.concatenate([self.planes[k:], zeros]))

    def sar(self, k: int) -> SecretBits:
        """Arithmetic shift right of the two's-complement reading (the sign bit is replicated)."""
        k = self._check_shift(k)
        top = np.repeat(self.planes[-1:], k, axis=0)
        return self._new(np.concatenate([self.planes[k:], top]))

    def bit(self, i: int) -> SecretBits:
        """Bit i of every element, as a 1-bit SecretBits."""
        return self.bits(i, i + 1)

    def bits(self, lo: int, hi: int) -> SecretBits:
        """Bits lo..hi-1 of every element (value shifted down by lo), width hi - lo."""
        if not (isinstance(lo, (int, np.integer)) and isinstance(hi, (int, np.integer)) and 0 <= lo < hi <= self.width):
            raise InputError(f"bits: expected 0 <= lo < hi <= {self.width}, got lo={lo!r}, hi={hi!r}")
        return self._new(self.planes[lo:hi])

    def zero_extend(self, width: int) -> SecretBits:
        width = check_width(width)
        if width < self.width:
            raise InputError(f"zero_extend: cannot extend {self.width} bits down to {width}")
        return self._new(np.concatenate([self.planes, self.engine.zero_bits(width - self.width, self.planes)]))

    def sign_extend(self, width: int) -> SecretBits:
        width = check_width(width)
        if width < self.width:
            raise InputError(f"sign_extend: cannot extend {self.width} bits down to {width}")
        return self._new(np.concatenate([self.planes, np.repeat(self.planes[-1:], width - self.width, axis=0)]))

    # ------------------------------------------------------------------ arithmetic mod 2^width

    def __add__(self, other: object) -> SecretBits:
        return self._new(circuits.add(self._gates, self.planes, self._operand(other, "+").planes))

    __radd__ = __add__

    def __sub__(self, other: object) -> SecretBits:
        return self._new(circuits.sub(self._gates, self.planes, self._operand(other, "-").planes))

    def __rsub__(self, other: object) -> SecretBits:
        return self._new(circuits.sub(self._gates, self._operand(other, "-").planes, self.planes))

    def __neg__(self) -> SecretBits:
        return self._new(circuits.neg(self._gates, self.planes))

    # ------------------------------------------------------------------ comparisons (1-bit results)

    def lt(self, other: object, signed: bool = False) -> SecretBits:
        return self._new(circuits.lt(self._gates, self.planes, self._operand(other, "lt").planes, signed))

    def gt(self, other: object, signed: bool = False) -> SecretBits:
        return self._new(circuits.lt(self._gates, self._operand(other, "gt").planes, self.planes, signed))

    def le(self, other: object, signed: bool = False) -> SecretBits:
        return ~self.gt(other, signed)

    def ge(self, other: object, signed: bool = False) -> SecretBits:
        return ~self.lt(other, signed)

    def eq(self, other: object) -> SecretBits:
        return self._new(circuits.eq(self._gates, self.planes, self._operand(other, "eq").planes))

    def ne(self, other: object) -> SecretBits:
        return ~self.eq(other)

    def __lt__(self, other: object) -> SecretBits:
        return self.lt(other)

    def __le__(self, other: object) -> SecretBits:
        return self.le(other)

    def __gt__(self, other: object) -> SecretBits:
        return self.gt(other)

    def __ge__(self, other: object) -> SecretBits:
        return self.ge(other)

    # ------------------------------------------------------------------ output

    def _masked_planes(self) -> np.ndarray:
        """This party's share with the padding bits past n cleared: padding is never opened."""
        planes = self.planes
        if self.n % 64 and planes.size:
            planes = planes.copy()
            keep = np.broadcast_to(lane_masks(self.n)[-1:], (planes.shape[0], 1))
            planes[:, -1:] = self.engine.and_public(np.ascontiguousarray(planes[:, -1:]), np.ascontiguousarray(keep))
        return planes

    def reveal(self, to: int | None = None, *, as_bytes: bool = False) -> np.ndarray | list[bytes] | None:
        """Open the values to all parties (``to=None``) or to party ``to`` (``None`` elsewhere).

        Returns an array of length n: uint64 for width <= 64, Python ints (object dtype) above;
        with ``as_bytes=True`` a list of n big-endian ``bytes`` of ceil(width / 8) bytes each.
        """
        return reveal_bits(self, to=to, as_bytes=as_bytes)[0]


def where(cond: SecretBits, a: object, b: object) -> SecretBits:
    """Elementwise ``a if cond else b`` (cond: 1 bit per element). One round, width ANDs."""
    if not isinstance(cond, SecretBits) or cond.width != 1:
        raise ShareTypeError("where: cond must be a 1-bit SecretBits")
    ref = a if isinstance(a, SecretBits) else b
    if not isinstance(ref, SecretBits):
        raise ShareTypeError("where: at least one of a and b must be a SecretBits")
    cond._same_vector(ref, "where")
    sa, sb = ref._operand(a, "where"), ref._operand(b, "where")
    return ref._new(circuits.mux(ref._gates, cond.planes, sa.planes, sb.planes))


def sum_bits(addends: Sequence[SecretBits]) -> SecretBits:
    """Sum mod 2^width of N same-width SecretBits: carry-save layers then one adder."""
    addends = list(addends)
    if not addends or not all(isinstance(x, SecretBits) for x in addends):
        raise ShareTypeError("sum_bits: expected a non-empty sequence of SecretBits")
    first = addends[0]
    planes = [first._operand(x, "sum_bits").planes for x in addends]
    return first._new(circuits.csa_sum(first._gates, planes))


def reveal_bits(*xs: SecretBits, to: int | None = None, as_bytes: bool = False) -> list:
    """Open several SecretBits in ONE round; values as :meth:`SecretBits.reveal` gives them
    (``None`` on non-recipients)."""
    if not xs or not all(isinstance(x, SecretBits) for x in xs):
        raise ShareTypeError("reveal_bits: expected SecretBits arguments")
    engine = xs[0].engine
    if any(x.engine is not engine for x in xs):
        raise ShareTypeError("reveal_bits: operands belong to different engines or parties")
    opened = engine.reveal_many([x._masked_planes() for x in xs], to=to)
    dec = decode_bytes if as_bytes else decode
    return [None if p is None else dec(engine.k, p, x.n) for x, p in zip(xs, opened, strict=True)]
