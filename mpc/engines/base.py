"""The engine seam: what the layers above (tensor, functions, runtime) may ask of an engine.

Three typed protocols (structural: an engine does not inherit from them):

- :class:`ArithmeticEngine`: additive sharing of ring values (semi2k over Z_2^64; spdz2k with
  MACs over Z_2^128). Opened values are always elements of Z_2^64 as ``uint64`` arrays (the
  value ring every encoding of :mod:`mpc.dtypes` lives in), whatever the engine shares in.
- :class:`BooleanEngine`: XOR sharing of packed bit words (GMW).
- :class:`MixedProtocols`: the conversions and bit protocols between one arithmetic engine and
  its boolean engine (MSB, zero test, A2B, B2A, bit times value): ``engine.converter``. An
  arithmetic engine builds its own at construction (:class:`mpc.engines.convert.Converter` for
  semi2k); an engine with a different security model brings its own.

Shares. A share is a NumPy array whose *dtype the engine chooses* (:attr:`ArithmeticEngine.
share_dtype`: ``uint64`` for semi2k, a record of value and MAC share for spdz2k). The layers
above never look inside an element: they apply only NumPy's structural operations, which work
for every dtype (reshape, indexing and assignment of whole elements, transpose, broadcast_to,
stack, concatenate, tile, repeat, sliding windows, zero padding), and ask the engine for
everything arithmetic, including sums along axes and every public constant ("party 0 adds" is
the engine's business, never the caller's). A sharing of zero is all-zero elements under every
engine (zero padding is therefore a valid sharing of zeros).

Deferred shares. An engine may leave the last local pass of a product undone and return a
:class:`Deferred` in its place, when the caller asks for it (``defer=True``, offered by engines
with ``defers_products``: masked2k). The layer above holds it as the share: it asks for the
array on first use (:meth:`Deferred.value`), and where the value's truncation is due
(``truncate_many``, or a product whose operand's truncation is pending) it hands the Deferred
back to the engine that made it, which may truncate it in the same pass as the product's finish
(:meth:`Deferred.truncated`): masked2k writes the truncated records straight from the opened
summands, instead of writing the product's records and then reading them again to truncate.
Results are the same bits either way; only the memory passes differ.

Costs and security models are in each engine's module docstring; this module holds no protocol.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from mpc.net.channel import Channel
from mpc.preprocessing.base import Preprocessing
from mpc.prg import PRG

__all__ = ["ArithmeticEngine", "BooleanEngine", "Deferred", "EngineContext", "MixedProtocols"]


class Deferred:
    """A share whose engine has not yet made its last local pass (module docstring).

    ``finish()`` makes the share array; ``truncate(k)`` makes the share of floor(x / 2^k) in
    that same pass, or returns None when it cannot (then the caller truncates the array as
    usual). Both are local: no message, so when they run does not matter to the peers. Once
    :meth:`value` has run, the parts are dropped and :meth:`truncated` returns None.
    """

    __slots__ = ("shape", "dtype", "_finish", "_truncate", "_value")

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype, finish: Callable[[], np.ndarray],
                 truncate: Callable[[int], np.ndarray | None]) -> None:
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self._finish: Callable[[], np.ndarray] | None = finish
        self._truncate: Callable[[int], np.ndarray | None] | None = truncate
        self._value: np.ndarray | None = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def value(self) -> np.ndarray:
        """The share array (made once)."""
        if self._finish is not None:
            self._value = self._finish()
            self._finish = self._truncate = None  # their parts (the opened summands) are freed
        return self._value  # type: ignore[return-value]  (made above, once)

    def truncated(self, k: int) -> np.ndarray | None:
        """The share of floor(x / 2^k) made in the finishing pass, or None (already finished, or
        the engine cannot here)."""
        return None if self._truncate is None else self._truncate(k)


@dataclass(frozen=True)
class EngineContext:
    """Everything a builder gets from the runtime to make one party's engine.

    ``pair_prgs[j]`` is the PRG keyed with the seed this party shares with peer j, ``common_prg``
    the one all parties share, ``prg`` this party's private one. ``boolean`` is the party's
    boolean engine (built first: it draws sub-seeds from the pairwise PRGs). ``dry`` marks a
    shadow engine of a dry run (:mod:`mpc.runtime.dryrun`): its channel returns zeros, so an
    engine must skip any check that would fail on them (a MAC check).
    """

    channel: Channel
    preprocessing: Preprocessing
    kernels: types.SimpleNamespace
    prg: PRG
    pair_prgs: Mapping[int, PRG]
    common_prg: PRG
    boolean: BooleanEngine | None = None
    dry: bool = False


@runtime_checkable
class BooleanEngine(Protocol):
    """XOR sharing of uint64 words; every method is called by all parties in the same order."""

    name: str
    pid: int
    n: int

    def xor(self, x: np.ndarray, y: np.ndarray) -> np.ndarray: ...
    def invert(self, x: np.ndarray) -> np.ndarray: ...
    def xor_public(self, x: np.ndarray, c: np.ndarray) -> np.ndarray: ...
    def and_public(self, x: np.ndarray, c: np.ndarray) -> np.ndarray: ...
    def public(self, c: np.ndarray) -> np.ndarray: ...
    def zeros(self, shape: int | Sequence[int]) -> np.ndarray: ...
    def zero_bits(self, k: int, like: np.ndarray) -> np.ndarray: ...
    # planes (k, W') -> (k, ceil(n / 64)): lanes 0 .. n-1 hold lane 0 of word 0 (one element
    # broadcast to n), the padding lanes from n on hold 0; local
    def spread_lane0(self, planes: np.ndarray, n: int) -> np.ndarray: ...
    # lanes = m: every operand is bit planes over m elements whose lanes from m on (padding) reveal
    # nothing of the live lanes if opened (AuthBits.and_many says when); a hint an engine may use
    # for its material (spdz2k's: zero triples there), or ignore
    def and_many(self, pairs: Sequence[tuple[np.ndarray, np.ndarray]],
                 lanes: int | None = None) -> list[np.ndarray]: ...
    def input(self, words: np.ndarray | None, owner: int, shape: int | Sequence[int]) -> np.ndarray: ...
    # every party's words of one shape, shared (the list indexed by owner)
    def input_all(self, words: np.ndarray, shape: int | Sequence[int]) -> list[np.ndarray]: ...
    def reveal_many(self, xs: Sequence[np.ndarray], to: int | None = None) -> list[np.ndarray | None]: ...


@runtime_checkable
class MixedProtocols(Protocol):
    """Bit protocols over an arithmetic engine (``arith``) and a boolean one (``boolean``).

    Single secret bits are *unpacked* boolean shares: one share element per bit, in the shape of
    the arithmetic operand they come from (for GMW: 0/1 words). Bit planes are the packed
    ``(width, W)`` layout of :class:`~mpc.tensor.secret_bits.SecretBits`.
    """

    arith: ArithmeticEngine
    boolean: BooleanEngine

    def msb(self, xs: Sequence[np.ndarray]) -> list[np.ndarray]: ...
    def eqz(self, xs: Sequence[np.ndarray]) -> list[np.ndarray]: ...
    def b2a(self, bits: Sequence[np.ndarray]) -> list[np.ndarray]: ...
    def bit_not(self, bit: np.ndarray) -> np.ndarray: ...
    def bit_mul(self, pairs: Sequence[tuple[np.ndarray, np.ndarray]],
                b2a: Sequence[np.ndarray] = ()) -> tuple[list[np.ndarray], list[np.ndarray]]: ...
    def a2b(self, xs: Sequence[np.ndarray], masked_use: bool = False) -> tuple[np.ndarray, list[tuple[int, ...]]]: ...
    def unpack_planes(self, planes: np.ndarray, n_el: int) -> np.ndarray: ...


@runtime_checkable
class ArithmeticEngine(Protocol):
    """Additive sharing with fixed-point support; see the module docstring for what a share is.

    Public operands ``c`` are ``uint64`` ring arrays (Z_2^64) of the share's shape unless a
    method says otherwise. Every interactive method is called by all parties in the same order
    with the same shapes.
    """

    name: str
    pid: int
    n: int
    share_dtype: np.dtype
    trunc_bound_bits: int  # truncation and division are exact for |x| < 2^trunc_bound_bits
    converter: MixedProtocols | None

    # ---- local: no communication
    def zeros(self, shape: Sequence[int]) -> np.ndarray: ...
    def public_share(self, c: np.ndarray) -> np.ndarray: ...
    def add(self, x: np.ndarray, y: np.ndarray) -> np.ndarray: ...
    def sub(self, x: np.ndarray, y: np.ndarray) -> np.ndarray: ...
    def neg(self, x: np.ndarray) -> np.ndarray: ...
    def add_public(self, x: np.ndarray, c: np.ndarray) -> np.ndarray: ...
    def sub_public(self, x: np.ndarray, c: np.ndarray) -> np.ndarray: ...
    def public_sub(self, c: np.ndarray, x: np.ndarray) -> np.ndarray: ...
    def mul_public(self, x: np.ndarray, c: np.ndarray | int) -> np.ndarray: ...
    def matmul_public(self, x: np.ndarray, c: np.ndarray) -> np.ndarray: ...
    def public_matmul(self, c: np.ndarray, x: np.ndarray) -> np.ndarray: ...
    def sum(self, x: np.ndarray, axis: tuple[int, ...], keepdims: bool = False) -> np.ndarray: ...
    def cumsum(self, x: np.ndarray, axis: int) -> np.ndarray: ...

    # ---- interactive
    def input(self, value: np.ndarray | None, owner: int, shape: tuple[int, ...]) -> np.ndarray: ...
    def open(self, shares: Sequence[np.ndarray], to: int | None = None) -> list[np.ndarray] | None: ...
    def mul(self, x: np.ndarray, y: np.ndarray) -> np.ndarray: ...
    def square(self, x: np.ndarray) -> np.ndarray: ...
    def mul_truncating(self, x: np.ndarray, kx: int, y: np.ndarray, ky: int) -> np.ndarray: ...
    def square_truncating(self, x: np.ndarray, k: int) -> np.ndarray: ...
    def matmul(self, x: np.ndarray, y: np.ndarray) -> np.ndarray: ...
    def truncate_many(self, xs: Sequence[np.ndarray], k: int) -> list[np.ndarray]: ...
    def divide_many(self, xs: Sequence[np.ndarray], d: int) -> list[np.ndarray]: ...
    def finish(self) -> None: ...  # end-of-session checks (spdz2k: the final MAC check)

