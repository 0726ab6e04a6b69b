"""Getting secrets in and out of a Party: input sharing, revealing, the preprocessing source.

Input (``Party.input``), n parties:
1. Every party encodes its value locally (range errors are raised here, before any message).
2. Agreement: one exchange of 12 words per party (owner, dtype, shape): all must match, since
   a mismatch would shift the pairwise streams and corrupt every later result silently.
3. Sharing: no message; see :meth:`mpc.engines.semi2k.Semi2k.input`.

Reveal (``Party.reveal``): all tensors in one opening (one round), then decoding by dtype and
scale (a scale-2f product decodes exactly).
"""

from __future__ import annotations

import types

import numpy as np

from mpc.dtypes import DType, Fixed, Int64
from mpc.errors import ConfigError, ShareTypeError
from mpc.net.channel import Channel
from mpc.net.wire import MAX_NDIM
from mpc.preprocessing.base import Preprocessing, Request
from mpc.preprocessing.seeded import DealerClient, InsecureLocalDealer
from mpc.prg import PRG
from mpc.tensor.encoding import decode, to_numpy
from mpc.tensor.secret_tensor import DEFAULT_FIXED, SecretTensor

_ALL = 1 << 32  # owner code for "every party contributes"


class _NoDealer(Preprocessing):
    """Placeholder when preprocessing="dealer" is asked for without a dealer link: linear
    protocols still run; the first request for material raises a clear ConfigError."""

    def _take(self, req: Request):
        raise ConfigError("preprocessing='dealer' needs a dealer link: run under mpcrun (which starts the dealer) "
                          "or pass Party(..., dealer=link); for in-process tests use preprocessing='local'")

    def _prefetch(self, plan) -> None:
        if plan:
            self._take(plan[0])


def check_preprocessing_spec(spec: object) -> None:
    if not isinstance(spec, Preprocessing) and spec not in ("dealer", "local"):
        raise ConfigError(f"preprocessing: expected 'dealer', 'local' or a Preprocessing instance, got {spec!r}")


def build_preprocessing(spec: object, dealer: Channel | None, pid: int, n: int, common_prg: PRG,
                        kernels: types.SimpleNamespace) -> Preprocessing:
    if isinstance(spec, Preprocessing):
        return spec
    if spec == "dealer":
        return DealerClient(dealer, pid, n) if dealer is not None else _NoDealer()
    if spec == "local":
        return InsecureLocalDealer(pid, n, common_prg, kernels)
    raise ConfigError(f"preprocessing: expected 'dealer', 'local' or a Preprocessing instance, got {spec!r}")


def _dtype(dtype: object) -> DType:
    if dtype is None:
        return DEFAULT_FIXED
    if isinstance(dtype, type) and dtype in (Int64, Fixed):
        return dtype()
    if not isinstance(dtype, (Int64, Fixed)):
        raise ShareTypeError(f"dtype: expected mpc.Int64() or mpc.Fixed(f), got {dtype!r}")
    return dtype


def _meta(owner: int, dtype: DType, shape: tuple[int, ...]) -> np.ndarray:
    words = np.zeros(4 + MAX_NDIM, dtype=np.uint64)
    words[0], words[1], words[2], words[3] = owner, 1 if isinstance(dtype, Int64) else 2, dtype.frac_bits, len(shape)
    words[4 : 4 + len(shape)] = shape
    return words


def _describe(meta: np.ndarray) -> str:
    nd = int(meta[3])
    kind = "Int64" if meta[1] == 1 else f"Fixed(f={int(meta[2])})"
    return f"{kind} {tuple(int(d) for d in meta[4 : 4 + nd])}"


def share_input(party, value: object, owner: int | None, dtype: object, shape: object,
                check: bool = True) -> SecretTensor | list:
    dt = _dtype(dtype)
    everyone = owner is None
    if not everyone and (isinstance(owner, bool) or not isinstance(owner, (int, np.integer))
                         or not 0 <= owner < party.n):
        raise ConfigError(f"owner: expected a party id in [0, {party.n}) or None, got {owner!r}")
    mine = everyone or owner == party.pid
    encoded = None
    if mine:
        if value is None:
            raise ValueError(f"input: party {party.pid} must pass a value"
                             + ("" if everyone else f" (it is the owner, owner={owner})"))
        encoded = dt.encode(to_numpy(value, "input value"))
        if shape is not None and tuple(shape) != encoded.shape:
            raise ValueError(f"input: shape={tuple(shape)} does not match the value's shape {encoded.shape}")
        shp = encoded.shape
    else:
        if shape is None:
            raise ValueError(f"input: party {party.pid} is not the owner (owner={owner}) and must pass shape=")
        shp = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)
    if len(shp) > MAX_NDIM:
        raise ValueError(f"input: at most {MAX_NDIM} dimensions, got shape {shp}")
    metas = party.channel.exchange(_meta(_ALL if everyone else int(owner), dt, shp)) if check else []
    if any(not np.array_equal(m, metas[0]) for m in metas):
        seen = "; ".join(f"party {p}: {_describe(m)} owner={'all' if m[0] == _ALL else int(m[0])}"
                         for p, m in enumerate(metas))
        raise ValueError(f"input: the parties disagree on the input ({seen})")
    eng = party.engine
    if everyone:
        return [SecretTensor(eng, eng.input(encoded if o == party.pid else None, o, shp), dt) for o in range(party.n)]
    return SecretTensor(eng, eng.input(encoded, int(owner), shp), dt)


def reveal(party, tensors: tuple, to: int | None):
    if not tensors:
        raise ValueError("reveal: pass at least one SecretTensor")
    for i, t in enumerate(tensors):
        if not isinstance(t, SecretTensor):
            raise ShareTypeError(f"reveal: argument {i} is a {type(t).__name__}, not a SecretTensor")
        if t.engine is not party.engine:
            raise ShareTypeError(f"reveal: argument {i} belongs to another party or engine")
    if to is not None and (isinstance(to, bool) or not isinstance(to, (int, np.integer)) or not 0 <= to < party.n):
        raise ConfigError(f"to: expected a party id in [0, {party.n}) or None, got {to!r}")
    opened = party.engine.open([t._share for t in tensors], to=None if to is None else int(to))
    if opened is None:
        return None if len(tensors) == 1 else (None,) * len(tensors)
    out = []
    for t, v in zip(tensors, opened, strict=True):
        d = decode(v, t.dtype, t.scale)
        out.append(d[()] if d.ndim == 0 else d)
    return out[0] if len(out) == 1 else tuple(out)
