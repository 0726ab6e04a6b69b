"""Getting secrets in and out of a Party: input sharing, revealing, the preprocessing source.

Input (``Party.input``), n parties:
1. Every party encodes its value locally (range errors are raised here, before any message).
2. Agreement: one exchange of 12 words per party (owner, dtype, shape): all must match, since
   a mismatch would shift the pairwise streams and corrupt every later result silently.
3. Sharing: no message; see :meth:`mpc.engines.semi2k.Semi2k.input`.

Bit input (``Party.input_bits``): the same three steps with (owner, width, count) agreed and the
values shared by the party's boolean engine: GMW (:meth:`mpc.engines.gmw.GMWEngine.input`,
pairwise-PRG sharing: no message), or under spdz2k its authenticated bits (one round of masked
words; every party's at once when every party contributes, ``input_all``).

Reveal (``Party.reveal``): all SecretTensors in one opening (one round), then decoding by dtype
and scale (a scale-2f product decodes exactly); all SecretBits in one opening (one round,
padding bits cleared first). A call mixing both kinds costs two rounds; under spdz2k each reveal
first checks every opening so far (3 rounds, none when nothing is pending: no output share is
sent before the values it was computed from are verified), and after its openings runs their
MAC check (3 rounds), once for both kinds (``MacCheck.output``), before anything is returned.
"""

from __future__ import annotations

import contextlib
import types
from typing import NamedTuple

import numpy as np

from mpc.config.session import OT_EXTENSIONS, OT_MATRIX_MODES
from mpc.crypto import ot_soft
from mpc.dtypes import DType, Fixed, Int64
from mpc.engines import bitplanes
from mpc.errors import ConfigError, InputError, ProtocolError, ShareTypeError
from mpc.net.channel import Channel
from mpc.net.wire import MAX_NDIM
from mpc.preprocessing.base import Preprocessing, Request
from mpc.preprocessing.ot_source import OTPreprocessing
from mpc.preprocessing.ot_spdz import SpdzOTPreprocessing
from mpc.preprocessing.paillier_matrix import PaillierMatrixHook, paillier_cheaper
from mpc.preprocessing.seeded import DealerClient, InsecureLocalDealer
from mpc.prg import PRG
from mpc.sharing.dims import dims
from mpc.tensor.encoding import decode, to_numpy
from mpc.tensor.secret_bits import SecretBits, check_width, reveal_bits
from mpc.tensor.secret_tensor import DEFAULT_FIXED, SecretTensor

_ALL = 1 << 32  # owner code for "every party contributes"
_BITS = 3  # dtype code of SecretBits in the agreement words (Int64 = 1, Fixed = 2)


class _NoDealer(Preprocessing):
    """Placeholder when preprocessing="dealer" is asked for without a dealer link: linear
    protocols still run; the first request for material raises a clear ConfigError."""

    def _take(self, req: Request):
        raise ConfigError("preprocessing='dealer' needs a dealer link: run under mpcrun (which starts the dealer) "
                          "or pass Party(..., dealer=link); for in-process tests use preprocessing='local'")

    def _prefetch(self, plan) -> None:
        if plan:
            self._take(plan[0])


SPECS = ("dealer", "ot", "local")


def check_preprocessing_spec(spec: object, engine: str = "semi2k") -> None:
    """Reject an unknown ``preprocessing`` before any message (``ot`` under spdz2k is
    :mod:`mpc.preprocessing.ot_spdz`: the kinds it cannot make raise at the first request)."""
    if not isinstance(spec, Preprocessing) and spec not in SPECS:
        raise ConfigError(f"preprocessing: expected 'dealer', 'ot', 'local' or a Preprocessing instance, got {spec!r}")
    if engine == "masked2k" and spec == "ot":
        raise ConfigError("preprocessing: the masked2k engine needs the dealer's masks ('dealer' or 'local'); "
                          "dealer-free masked material is not implemented")


class OTOptions(NamedTuple):
    """The options of ``preprocessing="ot"`` (:meth:`mpc.runtime.party.Party.__init__`)."""

    batch: int | None = None  # elements per OT round trip (None: the source's default)
    matrix: str = "auto"  # matrix triples: "gilboa", "paillier" or "auto"
    extension: str = "softspoken"  # the OT extension: "softspoken" or "iknp"
    k: int | None = None  # SoftSpoken's bits per block (None: ot_soft.DEFAULT_K)


def ot_options(batch: int | None = None, matrix: object = "auto", extension: object = "softspoken",
               k: object = None) -> OTOptions:
    """The ``ot_*`` options of a Party, checked before any message (ConfigError naming the option)."""
    if matrix not in OT_MATRIX_MODES:
        raise ConfigError(f"ot_matrix: expected one of {', '.join(OT_MATRIX_MODES)}, got {matrix!r}")
    if extension not in OT_EXTENSIONS:
        raise ConfigError(f"ot_extension: expected one of {', '.join(OT_EXTENSIONS)}, got {extension!r}")
    if k is not None:
        try:
            k = ot_soft.check_k(k)
        except ProtocolError:
            raise ConfigError(f"ot_k: expected SoftSpoken's bits per block, an integer in [1, {ot_soft.MAX_K}], "
                              f"got {k!r}") from None
    return OTOptions(batch, str(matrix), str(extension), k)


def build_preprocessing(spec: object, dealer: Channel | None, channel: Channel, common_prg: PRG,
                        kernels: types.SimpleNamespace, ot: OTOptions | None = None,
                        engine: str = "semi2k") -> Preprocessing:
    pid, n = channel.pid, channel.n
    ot = OTOptions() if ot is None else ot
    if isinstance(spec, Preprocessing):
        return spec
    if spec == "dealer":
        return DealerClient(dealer, pid, n) if dealer is not None else _NoDealer()
    if spec == "ot":
        options: dict[str, object] = {"extension": ot.extension, "k": ot.k}
        if ot.batch is not None:
            options["batch"] = ot.batch
        if ot.matrix == "paillier" or (ot.matrix == "auto" and engine != "spdz2k"):
            # unauthenticated matrix triples only (spdz2k's come from triples)
            options["matrix_triple_2pc"] = PaillierMatrixHook()
            if ot.matrix == "auto":  # per shape, by the cost models (the same choice at every party)
                options["matrix_choice"] = paillier_cheaper
        source = SpdzOTPreprocessing if engine == "spdz2k" else OTPreprocessing
        return source(channel, kernels, **options)
    if spec == "local":
        return InsecureLocalDealer(pid, n, common_prg, kernels)
    raise ConfigError(f"preprocessing: expected 'dealer', 'ot', 'local' or a Preprocessing instance, got {spec!r}")


def _dtype(dtype: object) -> DType:
    if dtype is None:
        return DEFAULT_FIXED
    if isinstance(dtype, type) and dtype in (Int64, Fixed):
        return dtype()
    if not isinstance(dtype, (Int64, Fixed)):
        raise ShareTypeError(f"dtype: expected mpc.Int64() or mpc.Fixed(f), got {dtype!r}")
    return dtype


def _meta(owner: int, code: int, param: int, shape: tuple[int, ...]) -> np.ndarray:
    words = np.zeros(4 + MAX_NDIM, dtype=np.uint64)
    words[0], words[1], words[2], words[3] = owner, code, param, len(shape)
    words[4 : 4 + len(shape)] = shape
    return words


def _describe(meta: np.ndarray) -> str:
    nd = int(meta[3])
    names = {1: "Int64", 2: f"Fixed(f={int(meta[2])})", _BITS: f"bits(width={int(meta[2])})"}
    kind = names.get(int(meta[1]), "?")
    return f"{kind} {tuple(int(d) for d in meta[4 : 4 + nd])}"


def _check_owner(party, owner: object) -> bool:
    """Validate ``owner``; True when every party contributes (owner None)."""
    if owner is None:
        return True
    if isinstance(owner, bool) or not isinstance(owner, (int, np.integer)) or not 0 <= owner < party.n:
        raise ConfigError(f"owner: expected a party id in [0, {party.n}) or None, got {owner!r}")
    return False


def _agree(party, meta: np.ndarray, check: bool, what: str) -> None:
    """Step 2: one exchange of the public description; a mismatch fails on every party."""
    metas = party.channel.exchange(meta) if check else []
    if any(not np.array_equal(m, metas[0]) for m in metas):
        seen = "; ".join(f"party {p}: {_describe(m)} owner={'all' if m[0] == _ALL else int(m[0])}"
                         for p, m in enumerate(metas))
        raise InputError(f"{what}: the parties disagree on the input ({seen})")


def share_input(party, value: object, owner: int | None, dtype: object, shape: object,
                check: bool = True) -> SecretTensor | list:
    if party.engine_name == "gmw":
        raise ConfigError("input: engine='gmw' computes on bits only; share values with party.input_bits(...)")
    dt = _dtype(dtype)
    everyone = _check_owner(party, owner)
    mine = everyone or owner == party.pid
    encoded = None
    if mine:
        if value is None:
            raise InputError(f"input: party {party.pid} must pass a value"
                             + ("" if everyone else f" (it is the owner, owner={owner})"))
        encoded = dt.encode(to_numpy(value, "input value"))
        if shape is not None and tuple(shape) != encoded.shape:
            raise InputError(f"input: shape={tuple(shape)} does not match the value's shape {encoded.shape}")
        shp = encoded.shape
    else:
        if shape is None:
            raise InputError(f"input: party {party.pid} is not the owner (owner={owner}) and must pass shape=")
        shp = dims(shape, "input: shape=", InputError)
    if len(shp) > MAX_NDIM:
        raise InputError(f"input: at most {MAX_NDIM} dimensions, got shape {shp}")
    code = 1 if isinstance(dt, Int64) else 2
    _agree(party, _meta(_ALL if everyone else int(owner), code, dt.frac_bits, shp), check, "input")
    eng = party.engine
    if everyone:
        return [SecretTensor(eng, eng.input(encoded if o == party.pid else None, o, shp), dt) for o in range(party.n)]
    return SecretTensor(eng, eng.input(encoded, int(owner), shp), dt)


def share_bits(party, value: object, owner: int | None, n: object, width: object,
               check: bool = True) -> SecretBits | list:
    """``Party.input_bits``: values of ``width`` bits, XOR-shared by the GMW engine."""
    width = check_width(width)
    everyone = _check_owner(party, owner)
    mine = everyone or owner == party.pid
    if mine:
        if value is None:
            raise InputError(f"input_bits: party {party.pid} must pass a value"
                             + ("" if everyone else f" (it is the owner, owner={owner})"))
        # range checks before any message; one int or bytes is one element
        count = bitplanes.encode(party.kernels, "input_bits value", value, width)[1]
        if n is not None and int(n) != count:
            raise InputError(f"input_bits: n={n} does not match the number of values {count}")
    else:
        if n is None:
            raise InputError(f"input_bits: party {party.pid} is not the owner (owner={owner}) and must pass n=")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise InputError(f"input_bits: n: expected a non-negative element count, got {n!r}")
        count = int(n)
    _agree(party, _meta(_ALL if everyone else int(owner), _BITS, width, (count,)), check, "input_bits")
    gmw = party.gmw
    if everyone:
        return SecretBits.input_all(gmw, value, count, width)
    return SecretBits.input(gmw, value if mine else None, int(owner), count, width)


def reveal(party, values: tuple, to: int | None, as_torch: bool = False):
    if not values:
        raise InputError("reveal: pass at least one SecretTensor or SecretBits")
    arith, bits = [], []
    for i, t in enumerate(values):
        if isinstance(t, SecretTensor):
            if t.engine is not party.engine:
                raise ShareTypeError(f"reveal: argument {i} belongs to another party or engine")
            arith.append(i)
        elif isinstance(t, SecretBits):
            if t.engine is not party.gmw:
                raise ShareTypeError(f"reveal: argument {i} belongs to another party or engine")
            bits.append(i)
        else:
            raise ShareTypeError(f"reveal: argument {i} is a {type(t).__name__}, not a SecretTensor or SecretBits")
    if to is not None and (isinstance(to, bool) or not isinstance(to, (int, np.integer)) or not 0 <= to < party.n):
        raise ConfigError(f"to: expected a party id in [0, {party.n}) or None, got {to!r}")
    dest = None if to is None else int(to)
    torch = _torch() if as_torch else None  # before any message: a missing torch fails cleanly
    out: list = [None] * len(values)
    # under spdz2k one output block around both kinds (its arithmetic and boolean sides share the
    # MAC check): one check before the openings and one after, before reveal returns anything
    mac = getattr(party.engine, "mac", None)
    with mac.output("reveal") if mac is not None else contextlib.nullcontext():
        _open_kinds(party, values, arith, bits, dest, torch, out)
    return out[0] if len(out) == 1 else tuple(out)


def _open_kinds(party, values: tuple, arith: list[int], bits: list[int], dest: int | None, torch, out: list) -> None:
    """Open the SecretTensors (indices ``arith``) and SecretBits (``bits``) of ``values`` into ``out``."""
    if arith:
        opened = party.engine.open([values[i].share for i in arith], to=dest)
        for i, v in zip(arith, opened or [None] * len(arith), strict=True):
            if v is not None:
                d = decode(v, values[i].dtype, values[i].scale)
                out[i] = torch.from_numpy(np.asarray(d)) if torch is not None else d[()] if d.ndim == 0 else d
    if bits:
        for i, v in zip(bits, reveal_bits(*[values[i] for i in bits], to=dest), strict=True):
            out[i] = v


def _torch():
    try:
        import torch
    except ImportError:
        raise ConfigError("reveal(as_torch=True) needs torch: pip install torch (the CPU build)") from None
    return torch
