"""SecretTensor: a secret-shared array with NumPy semantics over an arithmetic engine.

A SecretTensor holds this party's share (a NumPy array of the engine's share dtype, which the
tensor never looks inside: see :mod:`mpc.engines.base`), the engine that computes on it, the
user's dtype (:class:`~mpc.dtypes.Int64` or :class:`~mpc.dtypes.Fixed`) and the *scale*: the
number of fractional bits the share currently carries. Shapes, broadcasting, 0-d arrays,
indexing and reductions follow NumPy; ring arithmetic wraps mod 2^64 like int64 overflow.
Structural operations (reshape, indexing, transpose, stack, im2col) are NumPy's own on the
share array; everything arithmetic is a call to the engine.

Dtypes mix as in NumPy: Int64 with Fixed(f) gives Fixed(f) (the integer operand is lifted to
the other's scale, locally; a product with an integer operand needs no truncation), and Int64
with a non-integral public value gives Fixed(16). Two Fixed dtypes with different f do not mix
(ShareTypeError).

Fixed point and deferred truncation. A Fixed(f) value v is the ring element round(v * 2^f).
The product of two such values carries 2f fractional bits; it is *not* truncated at once:
the result has scale 2f and is truncated only when it feeds another product, or on
``.truncate()`` (one round of its own, see :mod:`mpc.engines.semi2k`). Feeding an elementwise
product or a square, the truncation costs nothing: it is folded into that product's round
(:meth:`~mpc.engines.semi2k.Semi2k.mul_truncating`), so a chain of L elementwise products is L
rounds of 2(n-1) elements each, exact (truncation error below one ulp per product, never a
wrap). A matrix product truncates its operands in a round before its own. A pending product
times a public non-integral scalar c with |c| < 1 (a learning rate, a mean's 1/m) is one
division by round(2^f / |c|) (:meth:`~mpc.engines.semi2k.Semi2k.divide_many`): one round, the
result back at scale f (error below 2 ulps), so a matrix product fed by it pays no truncation
round; other non-integral public factors truncate the pending operand first (one round) and
leave the product at scale 2f. Revealing a scale-2f
tensor decodes it exactly (``reveal(x * y)`` is one round for the product and one for the
opening). Adding a scale-f and a scale-2f operand first multiplies the scale-f one by 2^f
(local). Range limits (:mod:`mpc.dtypes` lists every operation's): a result wraps silently mod
2^64 when its value v at scale s leaves |v| 2^s < 2^63 (|v| < 2^47 at f = 16, 2^31 at 2f), and a
truncation is exact for |v| 2^s < 2^62 (2^30 for a product at f = 16). The cleartext engine
(``engine="cleartext"``) reports every such case; ``mpc.check_range`` tests a bound securely.

Costs: linear operations (+, -, negation, public products, sums, reshapes, indexing) send
nothing; ``*``, ``@``, ``square`` cost one round each (``@`` plus one round when an operand must
be truncated first, batched for both operands). Operands of different parties, engines or dtypes
raise ShareTypeError; shape mismatches raise InputError (a ValueError) naming the shapes, before any message.
``repr`` never communicates and never shows a share.

Comparisons and selections (``<``, ``<=``, ``>``, ``>=``, ``==``, ``!=`` (also :meth:`eq`,
:meth:`ne`), ``abs()``, :meth:`relu`, :meth:`sign`, :meth:`clip`, :meth:`max`, :meth:`min`,
:meth:`argmax`, :meth:`argmin`, :meth:`sort`, :meth:`where`, :meth:`maximum`, :meth:`minimum`)
run the protocols of :mod:`mpc.engines.compare`, where their costs are documented (2 parties: 8
rounds per comparison; ``max`` of m elements ceil(log2 m) x 8 rounds), through the engine's
boolean side (``engine.converter``). Comparison results and ``argmax``/``argmin`` are Int64
tensors (0/1, indices): they reveal as integers and multiply Fixed tensors without truncation
(``x * (x < y)``). ``==`` is elementwise, as in NumPy and PyTorch, so ``if x == y:`` raises
(the truth value of a secret); tensors stay hashable (by identity). Floor division ``//``,
``%`` and ``divmod`` by a public scalar and Int64's ``>>`` are exact, NumPy's results
(:func:`mpc.engines.compare.floor_divide`: the engine's division corrected by one comparison
circuit, 9 rounds for 2 parties); Int64's ``<<`` is local.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from mpc.dtypes import DType, Fixed, Int64
from mpc.engines import compare as cmp
from mpc.engines.base import Deferred
from mpc.errors import ConfigError, InputError, ShareTypeError
from mpc.tensor import shapes as sh
from mpc.tensor.debug import debug_value
from mpc.tensor.encoding import encode_fixed, encode_int, encode_public, is_integral, to_numpy

DEFAULT_FIXED = Fixed(16)


class SecretTensor:
    """A secret-shared array. Built by ``party.input(...)`` and by operations on SecretTensors."""

    __slots__ = ("_engine", "_held", "_dtype", "_scale")
    __array_ufunc__ = None  # numpy defers to our reflected operators: arr * x -> x.__rmul__(arr)

    def __init__(self, engine: Any, share: np.ndarray | Deferred, dtype: DType, scale: int | None = None) -> None:
        if not isinstance(share, (np.ndarray, Deferred)) or share.dtype != engine.share_dtype:
            raise ShareTypeError(f"share: expected an array of the {engine.name} engine's share dtype")
        if not isinstance(dtype, (Int64, Fixed)):
            raise ShareTypeError(f"dtype: expected Int64() or Fixed(f), got {dtype!r}")
        self._engine = engine
        self._held = share  # the share, or (an engine's product) a Deferred made on first use
        self._dtype = dtype
        self._scale = dtype.frac_bits if scale is None else int(scale)

    # ------------------------------------------------------------------ metadata (never communicates)

    @property
    def _share(self) -> np.ndarray:
        """The share array; a Deferred product is finished here, once (local)."""
        held = self._held
        if isinstance(held, Deferred):
            held = self._held = held.value()
        return held

    @property
    def shape(self) -> tuple[int, ...]:
        return self._held.shape

    @property
    def ndim(self) -> int:
        return self._held.ndim

    @property
    def size(self) -> int:
        return self._held.size

    @property
    def dtype(self) -> DType:
        return self._dtype

    @property
    def scale(self) -> int:
        """Fractional bits the share carries now (f, or 2f after an untruncated product)."""
        return self._scale

    @property
    def engine(self) -> Any:
        return self._engine

    @property
    def share(self) -> np.ndarray:
        """This party's share (read-only view). Alone it reveals nothing about the value."""
        view = self._share.view()
        view.flags.writeable = False
        return view

    def debug_value(self) -> Any:
        """The value, decoded as ``party.reveal`` would, at this party without any message: under
        ``engine="cleartext"`` only (a debugging aid; ConfigError under a real engine). See
        :mod:`mpc.tensor.debug` and docs/debugging.md."""
        return debug_value(self)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise ShareTypeError("len() of a 0-d SecretTensor")
        return self.shape[0]

    def __iter__(self) -> Iterator[SecretTensor]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        scale = f", scale={self._scale}" if self._scale != self._dtype.frac_bits else ""
        return f"SecretTensor(shape={self.shape}, dtype={self._dtype}{scale}, engine={self._engine.name}, party={self._engine.pid})"

    def __bool__(self) -> bool:
        raise ShareTypeError("the truth value of a SecretTensor is secret; reveal it first")

    def __array__(self, *args, **kwargs):
        raise ShareTypeError("a SecretTensor cannot be converted to a numpy array; use party.reveal(...)")

    # ------------------------------------------------------------------ internal helpers

    def _new(self, share: np.ndarray | Deferred, scale: int | None = None, dtype: DType | None = None) -> SecretTensor:
        return SecretTensor(self._engine, share, self._dtype if dtype is None else dtype,
                            self._scale if scale is None else scale)

    def _local(self, fn) -> SecretTensor:
        """Apply a local rearrangement (reshape, index, im2col...) to the share: NumPy's own
        structural operation on the share array (an element is never looked inside)."""
        return self._new(np.asarray(fn(self._share), order="C"))

    def _check(self, other: SecretTensor) -> None:
        if other._engine is not self._engine:
            raise ShareTypeError("operands belong to different parties or engines")
        self._promote(other)

    def _promote(self, other: SecretTensor) -> DType:
        """The result dtype of combining the two (NumPy-like: Int64 with Fixed gives Fixed)."""
        a, b = self._dtype, other._dtype
        if a == b:
            return a
        if isinstance(a, Int64) and isinstance(b, Fixed):
            return b
        if isinstance(b, Int64) and isinstance(a, Fixed):
            return a
        raise ShareTypeError(f"operands have different dtypes: {a} and {b}")

    def _fixed_for(self, public: np.ndarray) -> SecretTensor:
        """self, or self as Fixed(16) when an Int64 tensor meets a non-integral public value."""
        if isinstance(self._dtype, Int64) and not is_integral(public):
            return self.astype(DEFAULT_FIXED)
        return self

    def _converter(self):
        conv = getattr(self._engine, "converter", None)
        if conv is None:
            raise ConfigError(f"comparisons need a boolean engine: the {self._engine.name} engine has none "
                              "(use a Party, which builds its engines with their boolean side)")
        return conv

    def _coerce(self, other: object, what: str) -> SecretTensor | np.ndarray:
        if isinstance(other, SecretTensor):
            self._check(other)
            return other
        return to_numpy(other, what)

    def _at_scale(self, scale: int) -> np.ndarray:
        """The share at a higher scale (local: multiply by 2^(scale - self.scale))."""
        if scale == self._scale:
            return self._share
        return self._engine.mul_public(self._share, 1 << (scale - self._scale))

    def _operand(self, k: int, shape: tuple[int, ...]) -> np.ndarray | Deferred:
        """This tensor's share as an operand of a product of ``shape``: a Deferred product as it
        is when its truncation (k bits) is pending and no broadcast is needed, so the engine can
        truncate it in its finishing pass; else the share array, broadcast."""
        if k and isinstance(self._held, Deferred) and self.shape == tuple(shape):
            return self._held
        return sh.expand(self._share, shape)

    def _deferring(self) -> dict[str, bool]:
        """The keyword asking the engine for a Deferred product, where it offers one (masked2k:
        a product truncated next is then finished and truncated in one pass)."""
        return {"defer": True} if getattr(self._engine, "defers_products", False) else {}

    def _base(self) -> int:
        return self._dtype.frac_bits

    def _pending(self) -> int:
        """The bits of a deferred truncation: scale - f (0 at base scale)."""
        return max(self._scale - self._base(), 0)

    def _truncated(self, *tensors: SecretTensor) -> list[SecretTensor]:
        """The tensors at base scale; all the truncations needed are batched into one round. A
        deferred product goes to its engine as it is held, to be truncated in its finishing pass."""
        todo: dict[int, SecretTensor] = {}  # by identity: x @ x truncates x once
        for t in tensors:
            if t._scale > t._base():
                todo.setdefault(id(t), t)
        if not todo:
            return list(tensors)
        first = next(iter(todo.values()))
        shares = self._engine.truncate_many([t._held for t in todo.values()], first._scale - first._base())
        done = {key: t._new(s, t._base()) for (key, t), s in zip(todo.items(), shares, strict=True)}
        return [done.get(id(t), t) for t in tensors]

    def truncate(self) -> SecretTensor:
        """Bring a scale-2f product back to scale f (one round; no-op when already at f).
        Range: |v| 2^(2f) < 2^62 (|v| < 2^30 at f = 16), else a wrong value."""
        return self._truncated(self)[0]

    def astype(self, dtype: DType) -> SecretTensor:
        """Int64 -> Fixed(f) (local, multiplies by 2^f); same dtype returns self. Range:
        |v| < 2^(63-f), else it wraps."""
        if dtype == self._dtype:
            return self
        if isinstance(self._dtype, Int64) and isinstance(dtype, Fixed):
            return SecretTensor(self._engine, self._engine.mul_public(self._share, 1 << dtype.f), dtype, dtype.f)
        raise ShareTypeError(f"astype: cannot convert {self._dtype} to {dtype} locally")

    # ------------------------------------------------------------------ addition and subtraction

    def _linear(self, other: object, op: str) -> SecretTensor:
        eng = self._engine
        o = self._coerce(other, f"operand of {op}")
        if isinstance(o, SecretTensor):
            shape = sh.broadcast(op, self.shape, o.shape)
            scale = max(self._scale, o._scale)
            a, b = sh.expand(self._at_scale(scale), shape), sh.expand(o._at_scale(scale), shape)
            z = eng.add(a, b) if op == "+" else eng.sub(a, b) if op == "-" else eng.sub(b, a)
            return self._new(z, scale, self._promote(o))
        if isinstance(self._dtype, Int64) and not is_integral(o):
            return self.astype(DEFAULT_FIXED)._linear(o, op)
        shape = sh.broadcast(op, self.shape, o.shape)
        c = sh.expand(encode_public(o, self._dtype, self._scale), shape)
        x = sh.expand(self._share, shape)
        if op == "+":
            return self._new(eng.add_public(x, c))
        if op == "-":
            return self._new(eng.sub_public(x, c))
        return self._new(eng.public_sub(c, x))  # reflected: public - self

    def __add__(self, other: object) -> SecretTensor:
        """Elementwise sum (local). Range: the result |v| 2^s < 2^63, else it wraps."""
        return self._linear(other, "+")

    __radd__ = __add__

    def __sub__(self, other: object) -> SecretTensor:
        """Elementwise difference (local). Range: the result |v| 2^s < 2^63, else it wraps."""
        return self._linear(other, "-")

    def __rsub__(self, other: object) -> SecretTensor:
        return self._linear(other, "r-")

    def __neg__(self) -> SecretTensor:
        return self._new(self._engine.neg(self._share))

    def __pos__(self) -> SecretTensor:
        return self

    # ------------------------------------------------------------------ products

    def _mul_public(self, c: np.ndarray) -> SecretTensor:
        shape = sh.broadcast("*", self.shape, c.shape)
        if is_integral(c):  # exact, keeps the scale: no truncation ever needed
            x, enc, scale = self, encode_int(c if c.dtype.kind != "f" else c.astype(np.int64)), self._scale
        elif isinstance(self._dtype, Int64):
            return self.astype(DEFAULT_FIXED)._mul_public(c)  # NumPy: int * float is float
        elif (d := self._divisor_for(c)) is not None:
            # pending x times a public scalar |c| <= 1: the truncation and the product are one
            # division x / round(2^k / |c|) (one round, result at base scale), never a round more
            (y,) = self._engine.divide_many([self._share], d)
            y = self._new(y, self._base())
            return -y if float(c) < 0 else y  # a 0-d c: the shape is x's
        else:
            (x,) = self._truncated(self)
            enc, scale = encode_fixed(c, x._base()), x._scale + x._base()
        share = sh.expand(x._share, shape)
        if enc.ndim == 0:
            return self._new(self._engine.mul_public(share, int(enc)), scale)
        return self._new(self._engine.mul_public(share, sh.expand(enc, shape)), scale)

    def _divisor_for(self, c: np.ndarray) -> int | None:
        """d = round(2^k / |c|) when this tensor has a pending truncation of k bits and the public
        scalar c has 2^(k-62) <= |c| <= 1: then x * c at base scale is the division x / d (one
        round, error below 2 ulps and a relative error below 2^-(k+1) from rounding d, at least as
        precise as truncating x and encoding c with f fractional bits). Otherwise None."""
        k = self._pending()
        if not k or c.ndim != 0:
            return None
        mag = abs(float(c))
        if not (0.0 < mag <= 1.0):
            return None
        d = round(2.0**k / mag)
        return d if 2 <= d <= 1 << 62 else None

    def __mul__(self, other: object) -> SecretTensor:
        """Elementwise product, one round (a pending truncation folded in). Range: Fixed(f) values
        |x y| < 2^(63-2f) (2^31 at f = 16), and < 2^(62-2f) when the product is truncated later;
        Int64 results in [-2^63, 2^63). Else it wraps."""
        o = self._coerce(other, "operand of *")
        if not isinstance(o, SecretTensor):
            return self._mul_public(o)
        shape = sh.broadcast("*", self.shape, o.shape)
        dtype = self._promote(o)
        if o is self:
            return self.square()
        # a pending truncation is folded into the product's own round (Semi2k.mul_truncating); an
        # integer operand does not grow the scale, so the other keeps its own (no truncation at all)
        mixed = self._dtype != o._dtype
        kx, ky = (0, 0) if mixed else (self._pending(), o._pending())
        z = self._engine.mul_truncating(self._operand(kx, shape), kx, o._operand(ky, shape), ky, **self._deferring())
        return self._new(z, self._scale - kx + o._scale - ky, dtype)

    __rmul__ = __mul__

    def square(self) -> SecretTensor:
        """x * x: one round, n-1 elements, also when x's truncation is pending (folded in).
        Range: as ``*``: |x|^2 < 2^(63-2f) for Fixed(f), 2^(62-2f) to be truncated later."""
        k = self._pending()
        if k:
            return self._new(self._engine.square_truncating(self._operand(k, self.shape), k, **self._deferring()),
                             2 * self._base())
        return self._new(self._engine.square(self._share, **self._deferring()), 2 * self._scale)

    def __pow__(self, exponent: object) -> SecretTensor:
        """x ** k for a public integer 0 <= k <= 64 (an integral float too): square and multiply,
        one product round per squaring and per further factor (x ** 3: 2 rounds, x ** 4: 2,
        x ** 5: 3), every pending truncation folded into the next product; x ** 0 is ones and
        x ** 1 is x (local). Range: the result as for ``*`` (|x^k| < 2^(31) for Fixed(16)), each
        truncation's error below one ulp, multiplied along the chain. Other exponents raise
        InputError naming the function to use (mpc.functions.sqrt, reciprocal)."""
        k = exponent
        if isinstance(k, float) and k.is_integer():
            k = int(k)
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or not 0 <= int(k) <= 64:
            hint = ""
            if isinstance(exponent, (int, float, np.number)) and not isinstance(exponent, bool):
                hint = (" (x ** 0.5: mpc.functions.sqrt(x); x ** -1: mpc.functions.reciprocal(x))"
                        if float(exponent) in (0.5, -1.0) else " (mpc.functions has sqrt, rsqrt, reciprocal, exp, log)")
            raise InputError(f"**: the exponent must be a public integer in [0, 64], got {exponent!r}{hint}")
        k = int(k)
        if k == 0:
            return self * 0 + 1  # a public product by 0 (local), then the public 1
        result, base = None, self
        while True:
            if k & 1:
                result = base if result is None else result * base
            k >>= 1
            if not k:
                return result
            base = base.square()

    def __truediv__(self, other: object) -> SecretTensor:
        """Division by a public value (a Fixed result; Int64 is converted to Fixed(16) first).

        - By a public integer scalar d: the division protocol of
          :meth:`mpc.engines.semi2k.Semi2k.divide_many` at the tensor's current scale, one
          round, error below 2 units in the last place. Range: |value| * 2^scale < 2^62
          (2^46 at f = 16), else a wrong value.
        - By anything else: multiplication by the reciprocal encoded with f fractional bits
          (relative error up to d * 2^-(f+1)); the result has scale 2f (deferred truncation).
        """
        if isinstance(other, SecretTensor):
            raise ShareTypeError("x / y for a secret y: use mpc.functions.divide(x, y), not '/'")
        c = to_numpy(other, "divisor")
        if np.any(c == 0):
            raise ZeroDivisionError("division of a SecretTensor by zero")
        x = self if isinstance(self._dtype, Fixed) else self.astype(DEFAULT_FIXED)
        if c.ndim == 0 and is_integral(c) and abs(int(c)) < 1 << 62:
            d = int(c)
            y = x if abs(d) == 1 else x._new(x._engine.divide_many([x._share], abs(d))[0])
            return -y if d < 0 else y
        return x._mul_public(1.0 / c.astype(np.float64))

    def __rtruediv__(self, other: object) -> SecretTensor:
        """``c / x`` for a secret x: not an operator here (a reciprocal is a protocol of its own,
        in the layer above): raises ShareTypeError naming the function to use."""
        raise ShareTypeError("c / x for a secret x: use c * mpc.functions.reciprocal(x) (or mpc.functions.divide "
                             "for a secret numerator), not '/'")

    # ------------------------------------------------------------------ floor division (mpc.engines.compare)

    def _floor_divisor(self, other: object, op: str) -> tuple[SecretTensor, int]:
        """(the tensor to divide, the integer D with value // c = floor(share / D)) for a public
        scalar c: D = c * 2^s at the tensor's scale s (an Int64 tensor meeting a non-integral c
        becomes Fixed(16) first, as NumPy's int // float is a float). Checked before any message."""
        if isinstance(other, SecretTensor):
            raise ShareTypeError(f"x {op} y for a secret y is not supported: the divisor must be public")
        c = to_numpy(other, f"divisor of {op}")
        if c.ndim != 0:
            raise InputError(f"x {op} c: the divisor must be a public scalar, got shape {c.shape}")
        if c.dtype.kind == "f" and not np.isfinite(c):
            raise InputError(f"x {op} c: the divisor is {float(c)}")
        if c == 0:
            raise ZeroDivisionError(f"x {op} 0 for a SecretTensor")
        x = self._fixed_for(c)
        if is_integral(c):
            big = int(c) << x._scale  # exact for integers of any size
        else:
            scaled = float(c) * 2.0**x._scale  # exact: a power-of-two factor
            if not scaled.is_integer():
                raise InputError(f"x {op} c: c * 2^{x._scale} must be an integer (the tensor's scale is "
                                 f"{x._scale} fractional bits), got c = {float(c)!r}")
            big = int(scaled)
        if not cmp.floor_divisor_ok(abs(big)):
            raise InputError(f"x {op} c: |c| * 2^{x._scale} must be at most 2^61 (2^62 for a power of two), "
                             f"got {abs(big)}")
        return x, big

    def __divmod__(self, other: object) -> tuple[SecretTensor, SecretTensor]:
        """(x // c, x % c) for a public scalar c, exactly, as NumPy's (floor division; the
        remainder has c's sign), from one run of :func:`mpc.engines.compare.floor_divide`: 9
        rounds for 2 parties (the engine's division, then one comparison circuit). Int64 gives
        Int64; Fixed gives Fixed (the quotient an integer value, the remainder at x's scale). c
        may be any integer, or for Fixed any c with c * 2^s an integer at the tensor's scale s
        (0.5, 0.25, ...). Range: |x| 2^s < 2^62 (2^46 at f = 16) and |c| 2^s <= 2^61 (2^62 for a
        power of two), else a wrong value; a Fixed quotient wraps when |q| >= 2^(63-f)."""
        x, big = self._floor_divisor(other, "//")
        eng = x._engine
        y = x._share if big > 0 else eng.neg(x._share)  # floor(x / -d) = floor(-x / d)
        q, r = cmp.floor_divide(self._converter(), y, abs(big))
        if big < 0:
            r = eng.neg(r)  # x - c q = -(-x - d q): c's sign
        f = x._base()
        quot = SecretTensor(eng, q, Int64(), 0) if isinstance(x._dtype, Int64) else x._new(eng.mul_public(q, 1 << f), f)
        return quot, x._new(r)

    def __floordiv__(self, other: object) -> SecretTensor:
        """x // c for a public scalar c: NumPy's floor division, exact (see :meth:`__divmod__`)."""
        return self.__divmod__(other)[0]

    def __mod__(self, other: object) -> SecretTensor:
        """x % c for a public scalar c: NumPy's remainder (c's sign), exact (see :meth:`__divmod__`)."""
        return self.__divmod__(other)[1]

    def _reflected_floor(self, *_: object) -> SecretTensor:
        raise ShareTypeError("c // x, c % x and divmod(c, x) for a secret x are not supported: the divisor must be "
                             "public (mpc.functions.reciprocal and divide give fixed-point quotients)")

    __rfloordiv__ = __rmod__ = __rdivmod__ = _reflected_floor

    def _shift_count(self, k: object, op: str, top: int) -> int:
        if not isinstance(self._dtype, Int64):
            raise ShareTypeError(f"x {op} k is for Int64 tensors (NumPy has no shifts of floats); "
                                 f"for Fixed use x * 2**k or x // 2**k")
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or not 0 <= int(k) <= top:
            raise InputError(f"x {op} k: k must be an integer in [0, {top}], got {k!r}")
        return int(k)

    def __rshift__(self, k: object) -> SecretTensor:
        """x >> k for an Int64 tensor and a public 0 <= k <= 62: NumPy's arithmetic shift,
        floor(x / 2^k), exactly, as ``x // 2**k`` (9 rounds for 2 parties; k = 0 is x).
        Range: |x| < 2^62, else a wrong value."""
        k = self._shift_count(k, ">>", 62)
        return self // (1 << k) if k else self

    def __lshift__(self, k: object) -> SecretTensor:
        """x << k for an Int64 tensor and a public 0 <= k <= 63: x * 2^k, wrapping mod 2^64 as
        NumPy's int64 does. Local."""
        k = self._shift_count(k, "<<", 63)
        return self._new(self._engine.mul_public(self._share, 1 << k))

    def _matmul(self, other: object, reflected: bool) -> SecretTensor:
        o = self._coerce(other, "operand of @")
        xs, ys = (o.shape, self.shape) if reflected else (self.shape, o.shape)
        plan = sh.MatmulPlan(tuple(xs), tuple(ys))
        eng = self._engine
        if isinstance(o, SecretTensor):
            dtype = self._promote(o)
            first, second = (o, self) if reflected else (self, o)
            x, y = (first, second) if self._dtype != o._dtype else self._truncated(first, second)
            a, b = plan.operands(x._share, y._share)
            return self._new(plan.result(eng.matmul(a, b)), x._scale + y._scale, dtype)
        if is_integral(o):
            x, enc, scale = self, encode_int(o if o.dtype.kind != "f" else o.astype(np.int64)), self._scale
        elif isinstance(self._dtype, Int64):
            return self.astype(DEFAULT_FIXED)._matmul(o, reflected)
        else:
            (x,) = self._truncated(self)
            enc, scale = encode_fixed(o, x._base()), x._scale + x._base()
        if reflected:
            a, b = plan.operands(enc, x._share)
            return self._new(plan.result(eng.public_matmul(a, b)), scale)  # public operand: local
        a, b = plan.operands(x._share, enc)
        return self._new(plan.result(eng.matmul_public(a, b)), scale)

    def __matmul__(self, other: object) -> SecretTensor:
        """Matrix product (NumPy ``@``), one round (plus one to truncate pending operands). Range:
        each exact dot product of Fixed(f) values below 2^(63-2f) (2^31 at f = 16), and below
        2^(62-2f) when truncated later; Int64 in [-2^63, 2^63). Else it wraps."""
        return self._matmul(other, reflected=False)

    def __rmatmul__(self, other: object) -> SecretTensor:
        return self._matmul(other, reflected=True)

    def dot(self, other: object) -> SecretTensor:
        """NumPy ``dot`` for operands of at most 2 dimensions (0-d operands multiply)."""
        o_ndim = other.ndim if isinstance(other, SecretTensor) else np.ndim(other)
        if self.ndim == 0 or o_ndim == 0:
            return self * other
        if self.ndim > 2 or o_ndim > 2:
            raise InputError(f"dot: operands of at most 2 dimensions (use @ for stacks), got {self.ndim}-d and {o_ndim}-d")
        return self @ other

    def outer(self, other: object) -> SecretTensor:
        """Outer product of the flattened operands, as an (m,1)@(1,n) matrix product: one round
        with m + n opened elements instead of 2mn."""
        o = other if isinstance(other, SecretTensor) else to_numpy(other, "operand of outer")
        return self.reshape(-1, 1) @ o.reshape(1, -1)

    # ------------------------------------------------------------------ reductions (local)

    def _axes(self, axis: object) -> tuple[int, ...]:
        if axis is None:
            return tuple(range(self.ndim))
        axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)  # type: ignore[arg-type]
        out = set()
        for a in axes:
            if isinstance(a, bool) or not isinstance(a, (int, np.integer)) or not -self.ndim <= a < self.ndim:
                raise InputError(f"axis {axis!r} is out of range for shape {self.shape}")
            out.add(int(a) % self.ndim)
        if len(out) != len(axes):
            raise InputError(f"axis {axis!r} repeats an axis")
        return tuple(sorted(out))

    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> SecretTensor:
        """Sum along ``axis`` (all when None), local. Range: the sum |v| 2^s < 2^63, else it wraps."""
        axes = self._axes(axis)
        return self._new(self._engine.sum(self._share, axes, keepdims))

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> SecretTensor:
        """Sum (local), then division by the public count (one round; a Fixed result, see
        ``__truediv__``). Range: the sum |v| 2^s < 2^62 (2^46 at f = 16)."""
        axes = self._axes(axis)
        count = math.prod([self.shape[a] for a in axes])
        if count == 0:
            raise InputError(f"mean: empty reduction over axes {axes} of shape {self.shape}")
        return self.sum(axes, keepdims) / count

    def cumsum(self, axis: int | None = None) -> SecretTensor:
        """Cumulative sum (local). Range: every prefix sum |v| 2^s < 2^63, else it wraps."""
        if axis is None:
            return self._new(self._engine.cumsum(self._share.reshape(-1), 0))
        (ax,) = self._axes(axis)
        return self._new(self._engine.cumsum(self._share, ax))

    # ------------------------------------------------------------------ shape and indexing (local)

    def reshape(self, *shape: int | tuple[int, ...]) -> SecretTensor:
        target = shape[0] if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)) else shape
        try:
            return self._local(lambda s: s.reshape(target))
        except ValueError:
            raise InputError(f"reshape: cannot reshape {self.shape} into {tuple(target)}") from None

    def flatten(self) -> SecretTensor:
        return self.reshape(-1)

    def transpose(self, *axes: int) -> SecretTensor:
        order = axes[0] if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)) else (axes or None)
        try:
            return self._local(lambda s: np.transpose(s, order))
        except ValueError:
            raise InputError(f"transpose: axes {order} do not match shape {self.shape}") from None

    @property
    def T(self) -> SecretTensor:  # noqa: N802 - NumPy's name
        return self.transpose()

    @staticmethod
    def _index(key: object) -> object:
        parts = key if isinstance(key, tuple) else (key,)
        if any(isinstance(p, SecretTensor) for p in parts):
            raise ShareTypeError("indexing with a secret index is not supported (indices must be public)")
        return key

    def __getitem__(self, key: object) -> SecretTensor:
        key = self._index(key)
        return self._local(lambda s: s[key])

    def __setitem__(self, key: object, value: object) -> None:
        key = self._index(key)
        v = self._coerce(value, "assigned value")
        target_shape = np.empty(self.shape, dtype=np.bool_)[key].shape
        sh.broadcast("setitem", v.shape, target_shape)
        if isinstance(v, SecretTensor):
            if self._promote(v) != self._dtype:
                raise ShareTypeError(f"setitem: cannot assign {v.dtype} values into a {self._dtype} tensor")
            scale = max(self._scale, v._scale)
            new = np.array(self._at_scale(scale), copy=True)  # copy: never write into a shared buffer
            new[key] = v._at_scale(scale)
        else:
            scale = self._scale
            enc = np.broadcast_to(encode_public(v, self._dtype, scale), target_shape)
            new = np.array(self._share, copy=True)
            new[key] = self._engine.public_share(np.ascontiguousarray(enc))
        self._held, self._scale = new, scale

    # ------------------------------------------------------------------ comparisons (mpc.engines.compare)

    def _indicator(self, d: SecretTensor, kind: str) -> SecretTensor:
        """[d < 0] & co. of a difference as an Int64 0/1 tensor."""
        return SecretTensor(self._engine, cmp.indicator(self._converter(), d._share, kind), Int64(), 0)

    def _order(self, other: object, kind: str, reflected: bool = False) -> SecretTensor:
        d = self._linear(other, "r-" if reflected else "-")  # self - other (other - self when reflected)
        return self._indicator(d, kind)

    def __lt__(self, other: object) -> SecretTensor:
        """[x < y] as the sign of x - y (8 rounds for 2 parties). Range, for every comparison and
        selection: |x - y| 2^s < 2^63 (2^47 at f = 16), else the answer is wrong."""
        return self._order(other, "lt0")  # [x - y < 0]

    def __le__(self, other: object) -> SecretTensor:
        return self._order(other, "ge0", reflected=True)  # [y - x >= 0]

    def __gt__(self, other: object) -> SecretTensor:
        return self._order(other, "lt0", reflected=True)  # [y - x < 0]

    def __ge__(self, other: object) -> SecretTensor:
        return self._order(other, "ge0")  # [x - y >= 0]

    def eq(self, other: object) -> SecretTensor:
        """[self == other] elementwise, 0/1 (Int64); the same as ``self == other``."""
        return self._order(other, "eq0")

    def ne(self, other: object) -> SecretTensor:
        """[self != other] elementwise, 0/1 (Int64); the same as ``self != other``."""
        return self._order(other, "ne0")

    __eq__ = eq  # type: ignore[assignment] - elementwise, as NumPy and PyTorch
    __ne__ = ne  # type: ignore[assignment]
    __hash__ = object.__hash__  # hashable by identity: == no longer is

    def _negative_parts(self, *ds: SecretTensor) -> list[SecretTensor]:
        """min(d, 0) for each d (one MSB circuit, one product round); each keeps its scale."""
        parts = cmp.negative_parts(self._converter(), [d._share for d in ds])
        return [d._new(p) for d, p in zip(ds, parts, strict=True)]

    def __abs__(self) -> SecretTensor:
        """|x| = x - 2 min(x, 0): 8 rounds for 2 parties, no truncation."""
        (m,) = self._negative_parts(self)
        return self - m * 2

    def relu(self) -> SecretTensor:
        """max(x, 0) = x - min(x, 0) elementwise: 8 rounds for 2 parties. A pending truncation (x a
        product) is done in lockstep with the comparison (no round of its own; the result at scale
        f, so a matrix product of it pays no truncation round) where the engine runs lockstep
        (semi2k, spdz2k, cleartext); elsewhere it stays pending."""
        k = self._pending() if isinstance(self._dtype, Fixed) else 0
        got = cmp.truncated_negative_parts(self._converter(), [self._share], k) if k else None
        if got is None:
            (m,) = self._negative_parts(self)
            return self - m
        (m,), (t,) = got
        return self._new(self._engine.sub(t, m), self._base())

    def sign(self) -> SecretTensor:
        """-1, 0 or 1 elementwise (NumPy's sign), in x's dtype: 8 rounds for 2 parties."""
        s = cmp.sign(self._converter(), self._share)
        f = self._dtype.frac_bits
        return self._new(self._engine.mul_public(s, 1 << f) if f else s, f)

    def clip(self, lo: object = None, hi: object = None, *,
             with_mask: bool = False) -> SecretTensor | tuple[SecretTensor, SecretTensor]:
        """min(max(x, lo), hi) for public or secret bounds (``None``: open on that side); both
        sides in one MSB circuit and one product round: 8 rounds for 2 parties. Needs lo <= hi
        (lo < hi with ``with_mask``). ``with_mask=True`` returns (the clipped x, the mask
        [lo < x < hi]): Int64 0/1, 1 where x passed unchanged, the derivative of the clip (0 at
        the bounds themselves, as torch's hardtanh), in the same 8 rounds
        (:func:`mpc.engines.compare.clip_parts`)."""
        diffs = []
        if lo is not None:
            diffs.append(self - lo)  # min(x - lo, 0): x - that = max(x, lo)
        if hi is not None:
            diffs.append(self._linear(hi, "r-"))  # min(hi - x, 0): x + that = min(x, hi)
        eng = self._engine
        if not diffs:
            ones = np.ones(self.shape, dtype=np.uint64)
            return (self, SecretTensor(eng, eng.public_share(ones), Int64(), 0)) if with_mask else self
        if with_mask:
            shares, bits = cmp.clip_parts(self._converter(), [d._share for d in diffs])
            parts = [d._new(p) for d, p in zip(diffs, shares, strict=True)]
            clipped = bits[0] if len(bits) == 1 else eng.add(bits[0], bits[1])  # at most one side: lo < hi
            mask = SecretTensor(eng, eng.public_sub(np.ones(clipped.shape, dtype=np.uint64), clipped), Int64(), 0)
        else:
            parts = self._negative_parts(*diffs)
        out = self - parts[0] if lo is not None else self + parts[0]
        out = out + parts[1] if len(parts) == 2 else out
        return (out, mask) if with_mask else out

    def maximum(self, other: object) -> SecretTensor:
        """Elementwise maximum with ``other`` (broadcasting): x - min(x - y, 0); 8 rounds."""
        (m,) = self._negative_parts(self - other)
        return -m + self

    def minimum(self, other: object) -> SecretTensor:
        """Elementwise minimum with ``other`` (broadcasting): y + min(x - y, 0); 8 rounds."""
        (m,) = self._negative_parts(self - other)
        return m + other

    def _front(self, axis: int | None) -> tuple[SecretTensor, int]:
        """The tensor with ``axis`` moved to the front (flattened when None)."""
        if axis is None:
            return self.reshape(-1), 0
        if self.ndim == 0:
            raise InputError("axis given for a 0-d SecretTensor")
        (ax,) = self._axes(axis)
        return self.transpose([ax, *[i for i in range(self.ndim) if i != ax]]), ax

    def _reduce(self, axis: int | None, take_max: bool, want_index: bool) -> SecretTensor:
        v, _ = self._front(axis)
        if v.shape[0] == 0:
            raise InputError("max/min/argmax/argmin of an empty axis")
        idx = None
        if want_index:
            ranks = np.arange(v.shape[0], dtype=np.uint64).reshape((-1,) + (1,) * (v.ndim - 1))
            idx = self._engine.public_share(np.ascontiguousarray(np.broadcast_to(ranks, v.shape)))
        best, where = cmp.reduce(self._converter(), v._share, take_max, idx)
        if want_index:
            return SecretTensor(self._engine, np.asarray(where), Int64(), 0)
        return v._new(np.asarray(best))

    def max(self, axis: int | None = None) -> SecretTensor:
        """Maximum along ``axis`` (of all elements when None): ceil(log2 m) levels of 8 rounds."""
        return self._reduce(axis, True, False)

    def min(self, axis: int | None = None) -> SecretTensor:
        """Minimum along ``axis`` (of all elements when None)."""
        return self._reduce(axis, False, False)

    def argmax(self, axis: int | None = None) -> SecretTensor:
        """Index (Int64) of the maximum along ``axis`` (of the flattened tensor when None); ties
        give the first index. Same rounds as :meth:`max` (the index rides in the same products)."""
        return self._reduce(axis, True, True)

    def argmin(self, axis: int | None = None) -> SecretTensor:
        """Index (Int64) of the minimum along ``axis``; ties give the first index."""
        return self._reduce(axis, False, True)

    def sort(self, axis: int = -1) -> SecretTensor:
        """A sorted copy along ``axis`` (ascending; Batcher's network). ``self`` is not modified.
        m = 2^k elements: k(k+1)/2 layers of 8 rounds (m = 10: 10 layers, 80 rounds)."""
        if self.ndim == 0:
            raise InputError("sort: cannot sort a 0-d SecretTensor")
        v, ax = self._front(axis)
        out = v._new(cmp.sort(self._converter(), v._share))
        return out.transpose(list(np.argsort([ax, *[i for i in range(self.ndim) if i != ax]])))

    def where(self, cond: SecretTensor, other: object) -> SecretTensor:
        """``self`` where ``cond`` (0/1) is 1, ``other`` where it is 0 (PyTorch's
        ``x.where(cond, y)``; the same as ``mpc.where(cond, self, other)``)."""
        return where(cond, self, other)

    # ------------------------------------------------------------------ convolution and pooling

    def conv2d(self, weight: object, stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0) -> SecretTensor:
        """2-d convolution (cross-correlation, as in PyTorch) of x (N,C,H,W) with weight (O,C,kh,kw):
        im2col (local) then one matrix product (O, C*kh*kw) @ (C*kh*kw, N*OH*OW): one round when
        both are secret, none when the weight is public."""
        w = self._coerce(weight, "weight")
        k, cols_fn = conv_plan(self.shape, w.shape, stride, padding)
        cols = self._local(cols_fn)
        out = w.reshape(w.shape[0], -1) @ cols
        return out.reshape(w.shape[0], self.shape[0], *k).transpose(1, 0, 2, 3)

    def avg_pool2d(self, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
                   padding: int | tuple[int, int] = 0) -> SecretTensor:
        """Average pooling of (N,C,H,W) (zero padding counted, as PyTorch's default): local sums,
        then division by the public window size."""
        if self.ndim != 4:
            raise InputError(f"avg_pool2d: expected input of shape (N, C, H, W), got {self.shape}")
        k = sh.pair(kernel_size, "kernel_size")
        st = sh.pair(stride if stride is not None else k, "stride")
        pad = sh.pair(padding, "padding")
        n, c, h, w = self.shape
        oh, ow = sh.window_shape((h, w), k, st, pad, "avg_pool2d")
        cols = self._local(lambda s: sh.im2col(s.reshape(n * c, 1, h, w), k, st, pad))
        return (cols.sum(axis=0) / (k[0] * k[1])).reshape(n, c, oh, ow)


def where(cond: SecretTensor | object, a: object, b: object) -> SecretTensor:
    """``a`` where cond is 1, ``b`` where it is 0: b + cond * (a - b), one product. ``cond`` holds
    0/1: an Int64 comparison result (the product then needs no truncation and keeps the scale of
    a - b), or a Fixed 0/1 tensor (a product of two Fixed values: deferred truncation, so
    |a - b| < 2^(62 - 2f)). For selections between large values use minimum/maximum/clip.
    A public ``cond`` (booleans or 0/1, as NumPy's where takes) selects locally, no round:
    (a - b) times the public 0/1 is exact; then a or b must be secret."""
    public = not isinstance(cond, SecretTensor)
    if public:
        c = to_numpy(cond, "where cond")
        if c.dtype != np.bool_ and not np.isin(c, (0, 1)).all():
            raise InputError("where: a public cond must hold booleans or 0/1 values")
        if not isinstance(a, SecretTensor) and not isinstance(b, SecretTensor):
            raise ShareTypeError("where: cond, a and b are all public: use numpy.where")
    if isinstance(a, SecretTensor) or isinstance(b, SecretTensor):
        d = a - b if isinstance(a, SecretTensor) else (-b) + a  # type: ignore[operator]
        return d * c.astype(np.int64) + b if public else cond * d + b
    pa, pb = to_numpy(a, "where a"), to_numpy(b, "where b")
    return cond * (pa - pb) + pb


def conv_plan(xs: tuple[int, ...], ws: tuple[int, ...], stride, padding):
    """Validate conv2d shapes; return the output (OH, OW) and the im2col function of the input."""
    if len(xs) != 4 or len(ws) != 4:
        raise InputError(f"conv2d: expected input (N,C,H,W) and weight (O,C,kh,kw), got {xs} and {ws}")
    if xs[1] != ws[1]:
        raise InputError(f"conv2d: input has {xs[1]} channels but weight {ws} expects {ws[1]}")
    k = (ws[2], ws[3])
    st, pad = sh.pair(stride, "stride"), sh.pair(padding, "padding")
    out = sh.window_shape((xs[2], xs[3]), k, st, pad, "conv2d")
    return out, (lambda s: sh.im2col(s, k, st, pad))
