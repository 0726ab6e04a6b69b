"""Authenticated division tuples and truncating-product tuples for spdz2k without a dealer.

Used by :class:`~mpc.preprocessing.ot_spdz.SpdzOTPreprocessing` for the kinds ``div`` (a public
d that is not a power of two), ``tmul`` and ``tsquare`` (:mod:`mpc.preprocessing.base`). The
items are those of the dealer (:mod:`mpc.preprocessing.authenticated`): masks r uniform in
Z_2^128 whose low 64 bits r64 define the derived values, every component authenticated in
Z_2^128; the products of ``tmul``/``tsquare`` are right mod 2^64 (here exact mod 2^128 products of
the components, whose upper bits carry no meaning, as for every SPDZ2k value: the engine
combines them with 64-bit public coefficients and reads the result mod 2^64).

Input: the batch's authenticated random bits (:func:`mpc.preprocessing.ot_spdz_bits.xor_bits`:
Z_2^128 ring elements 0/1 with MACs, after their bit check and MAC check), the authenticated
2^64 u of each output, and sacrificed authenticated triples of the batch reserved for these
items. Every Beaver opening below is recorded; one MAC check (:meth:`~mpc.preprocessing.
ot_spdz.SpdzOTPreprocessing._mac_check`, a fresh coin, commit, open: 4 rounds) covers all of
them, and any other failure seen, before any item of the batch is handed out:
:class:`~mpc.errors.CheatingDetected` on every honest party otherwise.

``tmul`` (k1, k2) and ``tsquare`` (k):

1. Truncation parts from 64 bits per truncated mask (as the ``trunc`` kind, linear):
   r_j = sum_t 2^t b_t + 2^64 u_j, A_j = r_j64 >> k_j, M_j = msb(r_j64) = b_63. With k2 = 0, r2 is
   an authenticated uniform Z_2^128 value (every party's own share authenticated, as ``rand``'s
   u) and A2 = r2.
2. The products A1 A2, M1 A2, and with k2 > 0 A1 M2 (and M1 M2 when k1 + k2 > 64); for
   ``tsquare`` A A and A M: Beaver products with authenticated triples, all in one round (open
   eps = x - a, delta = y - b; z = c + eps b + delta a + eps delta).

``div`` (d): the rejection sampling of :mod:`mpc.preprocessing.div_circuit` (the same circuit as
the semi-honest :mod:`mpc.preprocessing.ot_div`) on authenticated arithmetic bits:

1. K = (count + 3 sqrt(count)) / p candidates (p the acceptance, :func:`candidates`), each with
   L + l authenticated random bits (q's then s's): the batch accepts enough except with
   probability about 10^-3; a short batch is topped up by another one (the accept bits are
   public, so every party agrees on the shortfall).
2. The gates: AND = one Beaver product, NOT x = 1 - x, a public bit b = (party 0: b; MAC shares
   alpha_i b), the exclusive XOR of the circuit = x + y. ``div_circuit.and_layers`` rounds (8).
3. The accept bits are opened (one round, recorded for the MAC check); an opened value that is not
   0 or 1 is noted as cheating. A cheater that changes a share of any opening (to bias which
   candidates are accepted, or to corrupt the kept values) is caught by the MAC check, which runs
   before any item is handed out; the accept bit of an honest run is independent of the accepted
   value, so opening it reveals nothing. (A cheater that adds errors to gate openings can make an
   opened accept bit depend on the honest parties' candidate bits; those are random material of
   this batch, discarded when the MAC check then fails: no input is involved.)
4. For the accepted (the first ``count``): q = sum 2^t q_t, r = d q + sum 2^t s_t + 2^64 u,
   msb(r64) = the circuit's msb: linear (values and MACs alike); r = d q + s < 2^64 exactly.

Cost (n parties; a triple: about 10.4 KB per party per peer, :mod:`mpc.preprocessing.ot_spdz`):
a ``tmul`` tuple with k2 > 0: 128 n + 3 (or 4) triples; k2 = 0: 64 n + 2; a ``tsquare``: 64 n + 2;
plus 2 openings per product. A ``div`` tuple: (n (L + l) + G) / p triples, G the circuit's AND
gates per candidate (``div_circuit.and_gates``, about 4L + 6l), for the acceptance
p = 2^(64 - L - l) in [1/4, 1] (d = 3, two parties: L = 63, l = 2, G = 222, p = 1/2: about 700
triples; 10.2 MB per party per tuple, docs/preprocessing.md: expensive; it buys division by any
public integer under spdz2k with no trusted party). Rounds after the bits: 1 (products) +
``div_circuit.and_layers`` (8) + 1 (the accept bits) per ``div`` request + 4 (MAC check).

Security model: that of :mod:`mpc.preprocessing.ot_spdz` (malicious, any n - 1 parties, with
abort). References: Cramer, Damgard, Escudero, Scholl, Xing, "SPDZ2k", CRYPTO 2018 (ring, MACs,
checks); Beaver, CRYPTO 1991 (products from triples); the truncating products as in
:meth:`mpc.engines.semi2k.Semi2k.mul_truncating`.
"""

from __future__ import annotations

import math

import numpy as np

from mpc.preprocessing import div_circuit as circuit
from mpc.preprocessing.base import tmul_components
from mpc.preprocessing.ot_spdz_bits import beaver, open_recorded, truncation_parts
from mpc.sharing.authenticated import pack, sum128
from mpc.sharing.packing import POW2

__all__ = ["candidates", "derive", "div_bits", "item_shape", "item_size", "products_of"]

_PRODUCTS = {"a1a2": ("a1", "a2"), "m1a2": ("m1", "a2"), "a1m2": ("a1", "m2"), "m1m2": ("m1", "m2"),
             "aa": ("a", "a"), "am": ("a", "m")}


def item_shape(req) -> tuple[int, ...]:
    """The element shape of a ``div``, ``tmul`` or ``tsquare`` request: its params after d, after
    (k1, k2), after k."""
    return tuple(req.params[2:] if req.kind == "tmul" else req.params[1:])


def item_size(req) -> int:
    """Elements of a ``div``, ``tmul`` or ``tsquare`` request."""
    return math.prod(item_shape(req))


def products_of(kind: str, params: tuple[int, ...]) -> tuple[str, ...]:
    """The product components of a ``tmul`` or ``tsquare`` item (one Beaver triple per element each)."""
    if kind == "tsquare":
        return ("aa", "am")
    return tuple(name for name in tmul_components(params[0], params[1]) if name in _PRODUCTS)


def candidates(d: int, count: int) -> int:
    """Candidates drawn for ``count`` division tuples: (count + 3 sqrt(count)) / p, at least
    three standard deviations above the mean need count / p (a shortfall, probability below
    about 10^-3, costs one more batch)."""
    p = circuit.acceptance(circuit.constants(d))
    return int(math.ceil((count + 3 * math.sqrt(count)) / p))


def div_bits(d: int) -> int:
    """Authenticated random bits per candidate: L + l."""
    c = circuit.constants(d)
    return c.big_l + c.small_l


def div_triples(d: int, n: int) -> int:
    """Triples per candidate: n per bit (their XOR and bit check) and one per AND gate."""
    c = circuit.constants(d)
    return n * (c.big_l + c.small_l) + circuit.and_gates(c)


class _AuthGates:
    """The circuit's gates on authenticated ring bits: rows (value lo, hi, MAC lo, hi)."""

    def __init__(self, src, t0: int, opened: list, open_macs: list) -> None:
        self.src, self.t = src, t0
        self.opened, self.open_macs = opened, open_macs
        self._one = np.zeros(4, dtype=np.uint64)
        self._one[0] = 1 if src.pid == 0 else 0
        self._one[2] = src.mac_key_share()

    def and_(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        zv, zm = beaver(self.src, _split(x), _split(y), self.t, self.opened, self.open_macs)
        self.t += len(x)
        return np.concatenate([zv, zm], axis=1)

    def not_(self, x: np.ndarray) -> np.ndarray:
        one = np.ascontiguousarray(np.broadcast_to(self._one, x.shape))
        return self.src.kernels.sub128(one.reshape(-1, 2), x.reshape(-1, 2)).reshape(x.shape)

    def const(self, bit: int, nw: int) -> np.ndarray:
        return np.tile(self._one, (nw, 1)) if bit else np.zeros((nw, 4), dtype=np.uint64)

    def xor_disjoint(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self.src.kernels.add128(x.reshape(-1, 2), y.reshape(-1, 2)).reshape(x.shape)


def _split(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.ascontiguousarray(x[:, :2]), np.ascontiguousarray(x[:, 2:])


def derive(src, items, bits: tuple[np.ndarray, np.ndarray], values: np.ndarray, macs: np.ndarray) -> list[tuple]:
    """The items of ``items`` (the batch's ``tmul``, ``tsquare`` and ``div`` requests, each with
    its first bit ``boff``, its first reserved triple ``poff`` and its slots), after one MAC check
    of every opening made here. A ``div`` item may be short (fewer accepted than asked): flat
    arrays, the caller tops it up."""
    opened: list[np.ndarray] = []
    open_macs: list[np.ndarray] = []
    bad: list[str] = []
    parts = [_trunc_parts(src, it, bits, values, macs) if it.req.kind != "div" else None for it in items]
    # tmul / tsquare: every product of the batch in one Beaver round
    xs, ys, t0 = [], [], None
    for it, pt in zip(items, parts, strict=True):
        if pt is None:
            continue
        t0 = it.poff if t0 is None else t0
        for name in products_of(it.req.kind, it.req.params):
            left, right = _PRODUCTS[name]
            xs.append(pt[left])
            ys.append(pt[right])
    if xs:
        cat = [tuple(np.concatenate([p[i] for p in group]) for i in range(2)) for group in (xs, ys)]
        zv, zm = beaver(src, cat[0], cat[1], t0, opened, open_macs)
        pos = 0
        for it, pt in zip(items, parts, strict=True):
            if pt is None:
                continue
            size = len(pt["r1" if "r1" in pt else "r"][0])
            for name in products_of(it.req.kind, it.req.params):
                pt[name] = (zv[pos : pos + size], zm[pos : pos + size])
                pos += size
    kept = [_divide(src, it, bits, values, macs, opened, open_macs, bad) if it.req.kind == "div" else None
            for it in items]
    src._mac_check(np.concatenate(opened), np.concatenate(open_macs), src._coin(), bad)
    out = []
    for it, pt, kv in zip(items, parts, kept, strict=True):
        if kv is not None:
            out.append(kv)
            continue
        names = ("r", "a", "m", "aa", "am") if it.req.kind == "tsquare" else tmul_components(*it.req.params[:2])
        out.append(tuple(pack(*pt[name]).reshape(item_shape(it.req)) for name in names))
    return out


def _trunc_parts(src, it, bits, values, macs) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Step 1 for a tmul / tsquare item: its masks and truncation parts, (values, MACs) each."""
    p = it.req.params
    k = src.kernels
    size = item_size(it.req)
    su = it.slots["u"]
    u = (values[su], macs[su])
    operands = [(p[0], "1" if it.req.kind == "tmul" else "")]
    if it.req.kind == "tmul" and p[1]:
        operands.append((p[1], "2"))
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for j, (shift, tag) in enumerate(operands):
        sl = slice(it.boff + j * 64 * size, it.boff + (j + 1) * 64 * size)
        us = slice(j * size, (j + 1) * size)
        (rv, av, mv), (rm, am, mm) = truncation_parts(k, (bits[0][sl], bits[1][sl]), (u[0][us], u[1][us]), shift)
        out["r" + tag], out["a" + tag], out["m" + tag] = (rv, rm), (av, am), (mv, mm)
    if it.req.kind == "tmul" and not p[1]:  # r2 uniform in Z_2^128, A2 = r2
        sr = it.slots["r2"]
        out["r2"] = out["a2"] = (values[sr], macs[sr])
    return out


def _divide(src, it, bits, values, macs, opened: list, open_macs: list, bad: list[str]) -> tuple[np.ndarray, ...]:
    """Steps 1-4 of ``div`` for one item: (r, q, msb) flat AUTH arrays of the accepted candidates
    (at most the item's size)."""
    k = src.kernels
    d, count = it.req.params[0], item_size(it.req)
    c = circuit.constants(d)
    width = c.big_l + c.small_l
    kk = it.cand
    sl = slice(it.boff, it.boff + kk * width)
    rows = np.concatenate([bits[0][sl], bits[1][sl]], axis=1).reshape(kk, width, 4)
    planes = [np.ascontiguousarray(rows[:, t]) for t in range(width)]
    g = _AuthGates(src, it.poff, opened, open_macs)
    accept_sh, msb_sh = circuit.accept_and_msb(g, planes[: c.big_l], planes[c.big_l :], c, d, kk)
    total = open_recorded(src, *_split(accept_sh), opened, open_macs)
    if total[:, 1].any() or (total[:, 0] > 1).any():
        bad.append("an opened accept bit is not a bit")
    idx = np.flatnonzero(total[:, 0] == 1)[:count]
    m = len(idx)
    u = (values[it.slots["u"]][:m, 0], macs[it.slots["u"]][:m, 0])
    kept, kept_msb = rows[idx], msb_sh[idx]
    wq = np.ascontiguousarray(np.broadcast_to(POW2[: c.big_l], (m, c.big_l)))
    ws = np.ascontiguousarray(np.broadcast_to(POW2[: c.small_l], (m, c.small_l)))
    out = []
    for col, high in ((0, u[0]), (2, u[1])):
        b = kept[:, :, col : col + 2]  # (m, width, 2)
        q = sum128(k.mul128_64(np.ascontiguousarray(b[:, : c.big_l]), wq), 1)
        s = sum128(k.mul128_64(np.ascontiguousarray(b[:, c.big_l :]), ws), 1)
        r = k.add128(k.mul128_64(q, np.full(m, d, dtype=np.uint64)), s)
        r[:, 1] += high  # + 2^64 u
        out.append((r, q, np.ascontiguousarray(kept_msb[:, col : col + 2])))
    (rv, qv, mv), (rm, qm, mm) = out
    return pack(rv, rm), pack(qv, qm), pack(mv, mm)

