"""cleartext: the debug engine. Every party computes on the values themselves, in one process.

``engine="cleartext"`` (``mpc.testing.run_local(main, n, engine="cleartext")``, or
``mpcrun --emulate -n N script.py``) runs a protocol script unchanged, with every party's
"share" being the whole value, the same at every party (*replicated*). It exists to debug
protocols before running them for real:

- **Same results as semi2k.** The same encodings (:mod:`mpc.dtypes`), the same ring Z_2^64 with
  the same wrap-around, the same deferred truncation and the same function approximations (the
  code above the engine is the same code). Truncation and division by a public d are semi2k's
  own protocol evaluated by one party that holds the whole mask (:meth:`Cleartext.divide_many`),
  so the results follow semi2k's distribution exactly: truncation by 2^k gives floor(x/2^k) or
  floor(x/2^k) + 1, the +1 with probability (x mod 2^k)/2^k (stochastic rounding, unbiased);
  division by another d gives floor(x/d) + {0, 1, 2} (semi2k's error below 2 ulp). The masks come
  from a PRG with a fixed public seed, so a run is reproducible: the same inputs give the same
  outputs, run after run. Outside semi2k's exact range [-2^62, 2^62) the result is the wrong
  value semi2k would compute there (and the input is reported).
- **Values to print.** ``x.debug_value()`` (:mod:`mpc.tensor.debug`) decodes a tensor at any
  party, any time, without communicating (under a real engine it raises ConfigError).
- **Overflow found.** Every result is tested against the true integer result
  (:mod:`mpc.engines.cleartext_overflow`): sums, differences (also those a comparison tests:
  ``x < y`` is the sign of x - y), products, matrix products, sums along axes, scale changes,
  truncation and division inputs outside [-2^62, 2^62), and inputs of the functions that
  normalise (reciprocal, divide, sqrt, rsqrt, log) outside |X| < 2^60. ``engine.overflow``
  chooses the report: ``"warn"`` (default: a :class:`~mpc.errors.RangeWarning` at the user's
  line, from party 0), ``"raise"`` (:class:`~mpc.errors.RangeError` on every party) or
  ``"ignore"`` (for Int64 code that means to compute mod 2^64).
- **Costs reported.** ``party.stats()`` and sections count the messages semi2k and GMW would
  send for each operation (:mod:`mpc.engines.cleartext_costs`): the same bytes, messages and
  rounds, without sending them. Preprocessing is neither consumed nor modelled. Protocols run in
  lockstep (:mod:`mpc.engines.steps`) are charged as semi2k merges them, one message per round
  (the engine's and its boolean side's step versions compute uncharged and yield a payload of
  the words semi2k would send; :meth:`Cleartext.round_exchange` charges the merged message).

Costs of this engine itself: no cryptography, no preprocessing. The only real messages are
inputs, which the owner sends to every peer (uncounted, as semi2k's inputs send nothing).

Security: **none**. Every party holds every value; the inputs travel in the clear. Never use it
with real secrets. It refuses any channel but the in-process one (:class:`~mpc.net.local.
LocalChannel`): it cannot run across processes or hosts.
"""

from __future__ import annotations

import contextlib
import hashlib
import types
from collections.abc import Sequence

import numpy as np

from mpc._core._checks import divisor
from mpc.engines.base import EngineContext
from mpc.engines.cleartext_bits import CleartextBits, CleartextConverter
from mpc.engines.cleartext_costs import Meter
from mpc.engines.cleartext_overflow import (
    Monitor,
    add_wraps,
    check_policy,
    cumsum_wraps,
    matmul_wraps,
    neg_wraps,
    outside,
    product_wraps,
    signed,
    signed_int,
    sub_wraps,
    sum_wraps,
)
from mpc.engines.semi2k import TRUNC_BOUND_BITS
from mpc.errors import ConfigError
from mpc.net.channel import Channel
from mpc.net.local import LocalChannel
from mpc.prg import PRG, SEED_BYTES

__all__ = ["Cleartext", "build"]

_MASK_SEED = hashlib.sha256(b"tessera-cleartext-masks").digest()[:SEED_BYTES]  # public on purpose
_WRAP = "results do not fit in the 64-bit ring (|true value| >= 2^63)"


def _float(x: np.ndarray) -> np.ndarray:
    return signed(x).astype(np.float64)


class Cleartext:
    """The cleartext engine of one party; see the module docstring."""

    name = "cleartext"
    share_dtype = np.dtype(np.uint64)
    trunc_bound_bits = TRUNC_BOUND_BITS  # semi2k's: reported, not enforced

    def __init__(self, channel: Channel, kernels: types.SimpleNamespace, *, dry: bool = False) -> None:
        """``dry``: the shadow engine of a dry run (no counters to charge, nothing to report)."""
        self.channel = channel
        self.pid = channel.pid
        self.n = channel.n
        self.kernels = kernels
        self.meter = Meter(channel, active=not dry)
        self.monitor = Monitor(self.pid, "ignore" if dry else "warn")
        self._masks = PRG(_MASK_SEED)  # the same stream at every party: replicated results
        self.converter = CleartextConverter(self, CleartextBits(channel, kernels, self.meter), self.monitor)

    def __repr__(self) -> str:
        return f"Cleartext(pid={self.pid}, n={self.n}, overflow={self.overflow!r})"

    @property
    def overflow(self) -> str:
        """The overflow report: "warn" (default), "raise" or "ignore" (see the module docstring)."""
        return self.monitor.policy

    @overflow.setter
    def overflow(self, policy: str) -> None:
        self.monitor.policy = check_policy(policy)

    def unchecked(self) -> contextlib.AbstractContextManager[None]:
        """A block whose ring arithmetic wraps on purpose (the range check's differences, exact for
        every ring value): nothing in it is reported."""
        return self.monitor.suspended()

    def value(self, x: np.ndarray) -> np.ndarray:
        """The ring value a share array holds (a copy): every party holds it whole. Local."""
        return np.array(x, dtype=np.uint64, copy=True)

    # ------------------------------------------------------------------ checks

    def _sum_checked(self, op: str, x: np.ndarray, y: np.ndarray, r: np.ndarray, minus: bool) -> np.ndarray:
        bad = sub_wraps(x, y, r) if minus else add_wraps(x, y, r)
        self.monitor.check(op, bad, _WRAP, lambda: np.abs(_float(x) - _float(y) if minus else _float(x) + _float(y)))
        return r

    def _product_checked(self, op: str, x: np.ndarray, y: np.ndarray | int, r: np.ndarray) -> np.ndarray:
        fy = float(signed_int(y)) if isinstance(y, (int, np.integer)) else _float(y)
        self.monitor.check(op, product_wraps(x, y), _WRAP, lambda: np.abs(_float(x) * fy))
        return r

    def _matmul_checked(self, op: str, x: np.ndarray, y: np.ndarray, r: np.ndarray) -> np.ndarray:
        self.monitor.check(op, matmul_wraps(x, y), _WRAP, lambda: np.abs(_float(x) @ _float(y)))
        return r

    def _trunc_input(self, op: str, x: np.ndarray) -> None:
        bound = 1 << TRUNC_BOUND_BITS
        self.monitor.check(op, outside(x, -bound, bound),
                           "truncation inputs are outside [-2^62, 2^62), where semi2k's truncation is exact "
                           "(a Fixed(f) product must stay below 2^(62 - 2f) in magnitude)",
                           lambda: np.abs(_float(x)))

    # ------------------------------------------------------------------ local operations

    def zeros(self, shape: Sequence[int]) -> np.ndarray:
        return np.zeros(tuple(shape), dtype=np.uint64)

    def public_share(self, c: np.ndarray) -> np.ndarray:
        """The public value c, held by every party."""
        return np.array(c, dtype=np.uint64, copy=True)

    def add(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self._sum_checked("addition", x, y, self.kernels.add(x, y).reshape(x.shape), minus=False)

    def sub(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self._sum_checked("subtraction (also the x - y a comparison x < y tests)", x, y,
                                 self.kernels.sub(x, y).reshape(x.shape), minus=True)

    def neg(self, x: np.ndarray) -> np.ndarray:
        self.monitor.check("negation", neg_wraps(x), _WRAP, lambda: np.abs(_float(x)))
        return self.kernels.neg(x).reshape(x.shape)

    def add_public(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        """x + c: every party adds (semi2k: party 0)."""
        return self._sum_checked("addition of a public value", x, c, self.kernels.add(x, c).reshape(x.shape), False)

    def sub_public(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        return self._sum_checked("subtraction of a public value (also a comparison with one)", x, c,
                                 self.kernels.sub(x, c).reshape(x.shape), minus=True)

    def public_sub(self, c: np.ndarray, x: np.ndarray) -> np.ndarray:
        return self._sum_checked("subtraction from a public value (also a comparison with one)", c, x,
                                 self.kernels.sub(c, x).reshape(x.shape), minus=True)

    def mul_public(self, x: np.ndarray, c: np.ndarray | int) -> np.ndarray:
        """x * c for a public ring array or integer (also every change of scale: x * 2^k)."""
        if isinstance(c, np.ndarray):
            r = self.kernels.mul(x, c).reshape(x.shape)
        else:
            r = self.kernels.mul_public(x, int(c) % (1 << 64)).reshape(x.shape)
        return self._product_checked("product with a public value (also a change of scale)", x, c, r)

    def matmul_public(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        r = self.kernels.matmul(x, c) if x.ndim == 2 else self.kernels.matmul_batched(x, c)
        return self._matmul_checked("matrix product with a public matrix", x, c, r)

    def public_matmul(self, c: np.ndarray, x: np.ndarray) -> np.ndarray:
        r = self.kernels.matmul(c, x) if c.ndim == 2 else self.kernels.matmul_batched(c, x)
        return self._matmul_checked("matrix product with a public matrix", c, x, r)

    def sum(self, x: np.ndarray, axis: tuple[int, ...], keepdims: bool = False) -> np.ndarray:
        r = np.asarray(np.sum(x, axis=axis, dtype=np.uint64, keepdims=keepdims))
        self.monitor.check("sum", sum_wraps(x, axis, keepdims), _WRAP,
                           lambda: np.abs(np.sum(_float(x), axis=axis, keepdims=keepdims)))
        return r

    def cumsum(self, x: np.ndarray, axis: int) -> np.ndarray:
        r = np.cumsum(x, axis=axis, dtype=np.uint64)
        self.monitor.check("cumulative sum", cumsum_wraps(x, axis), _WRAP,
                           lambda: np.abs(np.cumsum(_float(x), axis=axis)))
        return r

    def finish(self) -> None:
        """Nothing to check at the end of a session."""

    # ------------------------------------------------------------------ input and output

    def input(self, value: np.ndarray | None, owner: int, shape: tuple[int, ...]) -> np.ndarray:
        """The owner's ring array at every party (sent in the clear; uncounted: semi2k's input
        sends nothing)."""
        return self.meter.carry(value, owner, tuple(shape))

    def open(self, shares: Sequence[np.ndarray], to: int | None = None) -> list[np.ndarray] | None:
        """The values (``None`` at the parties other than ``to``); charged as semi2k's opening."""
        words = sum(x.size for x in shares)
        if to is None:
            self.meter.exchange(words)
        else:
            self.meter.gather(words, to)
        if to is not None and to != self.pid:
            return None
        return [self.value(x) for x in shares]

    # ------------------------------------------------------------------ multiplications

    def mul(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """x * y; charged as a Beaver product: one exchange of 2 words per element."""
        self.meter.exchange(2 * x.size)
        return self._product_checked("product", x, y, self.kernels.mul(x, y).reshape(x.shape))

    def square(self, x: np.ndarray) -> np.ndarray:
        """x * x; charged as semi2k's square: one exchange of 1 word per element."""
        self.meter.exchange(x.size)
        return self._product_checked("square", x, x, self.kernels.mul(x, x).reshape(x.shape))

    def mul_truncating(self, x: np.ndarray, kx: int, y: np.ndarray, ky: int) -> np.ndarray:
        """trunc(x, kx) * trunc(y, ky) (a shift of 0 leaves that operand), each truncation as
        :meth:`divide_many`; charged as semi2k's: one exchange of 2 words per element."""
        if not kx and not ky:
            return self.mul(x, y)
        self.meter.exchange(2 * x.size)
        tx = self._divide(x, 1 << kx, "truncation folded into a product") if kx else x
        ty = self._divide(y, 1 << ky, "truncation folded into a product") if ky else y
        return self._product_checked("product", tx, ty, self.kernels.mul(tx, ty).reshape(x.shape))

    def square_truncating(self, x: np.ndarray, k: int) -> np.ndarray:
        """trunc(x, k)^2; charged as semi2k's: one exchange of 1 word per element."""
        self.meter.exchange(x.size)
        t = self._divide(x, 1 << k, "truncation folded into a square")
        return self._product_checked("square", t, t, self.kernels.mul(t, t).reshape(x.shape))

    def matmul(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """x @ y, (m,k)@(k,n) or batched; charged as a matrix triple's opening: x.size + y.size words."""
        self.meter.exchange(x.size + y.size)
        r = self.kernels.matmul(x, y) if x.ndim == 2 else self.kernels.matmul_batched(x, y)
        return self._matmul_checked("matrix product", x, y, r)

    def truncate_many(self, xs: Sequence[np.ndarray], k: int) -> list[np.ndarray]:
        """floor(x / 2^k) or that + 1 for each x (see :meth:`divide_many`): one round in all."""
        return self.divide_many(xs, 1 << k)

    def divide_many(self, xs: Sequence[np.ndarray], d: int) -> list[np.ndarray]:
        """x / d for a public integer 2 <= d <= 2^62, each x; charged as semi2k's: one exchange of
        one word per element of all xs.

        The value is semi2k's protocol (:meth:`mpc.engines.semi2k.Semi2k.divide_many`) run by one
        party holding the whole mask r (uniform, from the engine's public-seed PRG): c = x + 2^62
        + r and the finish kernel on (c, floor(r/d), msb(r)), so it has semi2k's distribution. For
        -2^62 <= x < 2^62 and d = 2^k: floor(x/d) + [u < x mod d] with u uniform in [0, d) (the
        +1 with probability (x mod d)/d); other d: floor(x/d) + {0, 1, 2}. Outside, semi2k's
        wrong value (reported).
        """
        d = divisor(d)
        if not xs:
            return []
        self.meter.exchange(sum(x.size for x in xs))
        what = "truncation" if d & (d - 1) == 0 else "division by a public integer"
        return [self._divide(x, d, what) for x in xs]

    # ------------------------------------------------------------------ step versions (mpc.engines.steps)

    def round_exchange(self, payload: np.ndarray) -> list[np.ndarray]:
        """A lockstep's merged exchange: charged as semi2k's one message of ``payload.size`` words
        to every peer, nothing sent (every party holds every value)."""
        self.meter.exchange(payload.size)
        return [payload] * self.n

    def _charged_steps(self, words: int, fn, *args):
        """A step generator that computes ``fn(*args)`` uncharged and yields one payload of
        ``words`` words for the lockstep to charge, as semi2k's step version sends it."""
        with self.meter.muted():
            out = fn(*args)
        yield np.zeros(words, dtype=np.uint64)
        return out

    def mul_steps(self, x: np.ndarray, y: np.ndarray):
        return self._charged_steps(2 * x.size, self.mul, x, y)

    def mul_truncating_steps(self, x: np.ndarray, kx: int, y: np.ndarray, ky: int):
        return self._charged_steps(2 * x.size, self.mul_truncating, x, kx, y, ky)

    def divide_steps(self, xs: Sequence[np.ndarray], d: int):
        if not xs:
            return self._charged_nothing(self.divide_many(xs, d))
        return self._charged_steps(sum(x.size for x in xs), self.divide_many, xs, d)

    def truncate_steps(self, xs: Sequence[np.ndarray], k: int):
        return self.divide_steps(xs, 1 << k)

    @staticmethod
    def _charged_nothing(value):
        return value
        yield  # a step generator without a round

    def _divide(self, x: np.ndarray, d: int, what: str) -> np.ndarray:
        self._trunc_input(what, x)
        r = self._masks.uint64(x.size)
        kern = self.kernels
        masked = kern.add(x.reshape(-1), r, c=1 << TRUNC_BOUND_BITS)
        high = r >> np.uint64(d.bit_length() - 1) if d & (d - 1) == 0 else r // np.uint64(d)
        return kern.trunc_finish(masked, high, r >> np.uint64(63), d, True, None).reshape(x.shape)


def build(ctx: EngineContext) -> Cleartext:
    """The runtime's builder (:mod:`mpc.runtime.engines`): refuses channels between processes."""
    if not ctx.dry and not isinstance(ctx.channel, LocalChannel):
        raise ConfigError("engine='cleartext' runs every party in one process (mpcrun --emulate -n N, or "
                          "mpc.testing.run_local): it shows every value to every party and sends inputs in the "
                          f"clear, so it refuses a {type(ctx.channel).__name__} between processes")
    return Cleartext(ctx.channel, ctx.kernels, dry=ctx.dry)
