"""Integer values of any width <-> bit planes, the layout of boolean circuits and SecretBits.

A vector of n values of ``width`` bits is held as a ``(width, W)`` uint64 array, W = ceil(n/64):
plane i packs bit i of every value (value j at bit j % 64 of word j // 64). Bit 0 is the least
significant bit, as on the wires of a Bristol Fashion value. Any width >= 1 is allowed: values
wider than 64 bits are cut into 64-bit limbs, limb j (bits 64j..64j+63) giving planes
64j..64j+63 through the ``bitslice`` kernel, so a 128-bit value costs two bit transposes.

Value forms accepted by :func:`encode` (``values``):
- a Python int or NumPy integer; negatives are read in two's complement mod 2^width;
- ``bytes``/``bytearray`` of exactly ceil(width / 8) bytes, read **big-endian**
  (``int.from_bytes(b, "big")``): the first byte holds the most significant bits, as hex
  strings of keys and blocks are written (FIPS-197), so ``bytes.fromhex("000102...")`` and the
  integer ``0x000102...`` are the same value;
- a sequence of those (one entry per element), or a 1-d integer ndarray (each entry fits in 64
  bits; signed dtypes are sign-extended to ``width``).
A scalar or one ``bytes`` is one element, or, with ``broadcast=True``, the same value for each of
the n elements (public operands). With ``fit=True`` a value must fit in ``width`` bits: Python
ints in [-2^(width-1), 2^width), NumPy ints by their dtype's reading, bytes with no bits set
above ``width``; with ``fit=False`` values are reduced mod 2^width. Error messages never contain
a value (values may be secret).

:func:`decode` gives uint64 arrays for width <= 64 and object arrays of Python ints above;
:func:`decode_bytes` gives one ``bytes`` of ceil(width / 8) bytes per element, big-endian.
"""

from __future__ import annotations

import types

import numpy as np

from mpc.errors import InputError, ShareTypeError
from mpc.sharing.packing import nwords

__all__ = ["check_width", "nwords", "nbytes", "encode", "decode", "decode_bytes"]

_M64 = (1 << 64) - 1


def nbytes(width: int) -> int:
    """Bytes of one ``width``-bit value: ceil(width / 8)."""
    return -(-width // 8)


def check_width(width: object, name: str = "width") -> int:
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
        raise InputError(f"{name}: expected a positive integer number of bits, got {width!r}")
    return int(width)


def _is_int(v: object) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _is_bytes(v: object) -> bool:
    return isinstance(v, (bytes, bytearray, memoryview))


def _limbs_of_ints(name: str, items: list[int], width: int, fit: bool) -> np.ndarray:
    """(n, L) uint64 limbs of Python ints, least significant limb first."""
    if fit and any(not -(1 << (width - 1)) <= v < 1 << width for v in items):
        raise InputError(f"{name}: some entries do not fit in {width} bits")
    limbs = nwords(width)
    mod = 1 << width
    raw = b"".join((v % mod).to_bytes(8 * limbs, "little") for v in items)
    return np.frombuffer(raw, dtype="<u8").reshape(len(items), limbs).astype(np.uint64)


def _limbs_of_bytes(name: str, items: list, width: int, fit: bool) -> np.ndarray:
    """(n, L) uint64 limbs of big-endian byte strings of exactly nbytes(width) bytes each."""
    size, limbs = nbytes(width), nwords(width)
    if any(len(b) != size for b in items):
        raise InputError(f"{name}: a {width}-bit value takes exactly {size} bytes; "
                         f"got lengths {sorted({len(b) for b in items})}")
    big = np.frombuffer(b"".join(bytes(b) for b in items), dtype=np.uint8).reshape(len(items), size)
    if fit and width % 8 and np.any(big[:, 0] >> np.uint8(width % 8)):
        raise InputError(f"{name}: some entries do not fit in {width} bits")
    little = np.zeros((len(items), 8 * limbs), dtype=np.uint8)
    little[:, :size] = big[:, ::-1]
    return little.view("<u8").astype(np.uint64)


def _limbs_of_array(name: str, values: np.ndarray, width: int, fit: bool) -> np.ndarray:
    """(n, L) uint64 limbs of a 1-d integer ndarray (signed dtypes sign-extended)."""
    if values.dtype.kind not in "ui":
        raise ShareTypeError(f"{name}: expected integer values, got dtype {values.dtype}")
    if values.ndim != 1:
        raise ShareTypeError(f"{name}: expected a 1-d array of values, got shape {values.shape}")
    signed = values.dtype.kind == "i"
    if fit and values.size and width < 64:
        lo, hi = (-(1 << (width - 1)), 1 << (width - 1)) if signed else (0, 1 << width)
        if int(values.min()) < lo or int(values.max()) >= hi:
            raise InputError(f"{name}: some entries do not fit in {width} bits")
    limbs = np.zeros((values.shape[0], nwords(width)), dtype=np.uint64)
    limbs[:, 0] = values.astype(np.uint64)  # signed values wrap to two's complement
    if signed and limbs.shape[1] > 1:
        limbs[values < 0, 1:] = np.uint64(_M64)
    return limbs


def encode(k: types.SimpleNamespace, name: str, values: object, width: int, n: int | None = None, *,
           fit: bool = True, broadcast: bool = False) -> tuple[np.ndarray, int]:
    """``values`` (see the module docstring) as ``((width, W) uint64 planes, element count)``.

    ``k`` is the kernel namespace (``bitslice``). ``n``, when given, is the expected element
    count (and the count a broadcast scalar is repeated to). ``name`` prefixes every message.
    """
    width = check_width(width)
    scalar = _is_int(values) or _is_bytes(values)
    if scalar and broadcast:
        if n is None:
            raise InputError(f"{name}: a single value needs the element count n")
        items: object = [values] * n
    elif scalar:
        items = [values]
    else:
        items = values
    if isinstance(items, np.ndarray):
        limbs = _limbs_of_array(name, items, width, fit)
    else:
        if isinstance(items, str):
            raise ShareTypeError(f"{name}: expected integers or bytes, got str")
        try:
            items = list(items)
        except TypeError:
            raise ShareTypeError(f"{name}: expected integers or bytes, got {type(values).__name__}") from None
        if all(_is_int(v) for v in items):
            limbs = _limbs_of_ints(name, [int(v) for v in items], width, fit)
        elif all(_is_bytes(v) for v in items):
            limbs = _limbs_of_bytes(name, items, width, fit)
        else:
            raise ShareTypeError(f"{name}: expected integer values or bytes (all entries of one kind)")
    count = limbs.shape[0]
    if n is not None and count != n:
        raise ShareTypeError(f"{name}: expected {n} values, got {count}")
    planes = np.concatenate([k.bitslice(np.ascontiguousarray(limbs[:, j])) for j in range(limbs.shape[1])])
    return np.ascontiguousarray(planes[:width]), count


def _limbs(k: types.SimpleNamespace, planes: np.ndarray, n: int) -> np.ndarray:
    """(n, L) uint64 limbs of the values held in ``planes`` (padding past n dropped)."""
    width = planes.shape[0]
    cols = [k.unbitslice(np.ascontiguousarray(planes[j : j + 64]), n) for j in range(0, width, 64)]
    return np.stack(cols, axis=1) if cols else np.zeros((n, 0), dtype=np.uint64)


def decode(k: types.SimpleNamespace, planes: np.ndarray, n: int) -> np.ndarray:
    """The n values of ``planes``: a uint64 array for width <= 64, else an object array of ints."""
    if planes.shape[0] <= 64:
        return k.unbitslice(np.ascontiguousarray(planes), n)
    limbs = _limbs(k, planes, n)
    raw = limbs.astype("<u8").tobytes()
    size = 8 * limbs.shape[1]
    out = np.empty(n, dtype=object)
    out[:] = [int.from_bytes(raw[i * size : (i + 1) * size], "little") for i in range(n)]
    return out


def decode_bytes(k: types.SimpleNamespace, planes: np.ndarray, n: int) -> list[bytes]:
    """The n values of ``planes`` as big-endian ``bytes`` of ceil(width / 8) bytes each."""
    size = nbytes(planes.shape[0])
    little = np.ascontiguousarray(_limbs(k, planes, n).astype("<u8")).view(np.uint8)
    big = np.ascontiguousarray(little[:, :size][:, ::-1])
    return [row.tobytes() for row in big]
