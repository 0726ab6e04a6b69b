"""Authenticated (SPDZ2k) material from a dealer: value and MAC shares in Z_2^128.

Every kind of Z_2^64 material has an authenticated twin (``Request(kind, params, 128, True)``):
each component is shared in Z_2^128 with MACs (:mod:`mpc.sharing.authenticated`), and the kinds
``rand`` (2^64 u for a u uniform in Z_2^64 that only the dealer draws, from its private PRG: the
mask of the upper bits of a revealed value) and
``input`` (params (owner, *shape): an authenticated mask r whose value the owner also receives in
the clear, for inputs and private outputs) exist only authenticated. Values of the truncation
kinds (trunc, div, tmul, tsquare) are those of their Z_2^64 twins computed from the low 64 bits
of the uniform masks (SPDZ2k values live mod 2^64), zero-extended; the Beaver kinds' products
are exact mod 2^128.

Seed compression, as for Z_2^64 (:mod:`mpc.preprocessing.material`), in a stream of its own
(``auth``): party i < n-1 expands every value share and every MAC share itself; party n-1
expands its base value shares and receives, as corrections, its derived value shares and all
its MAC shares (alpha * v - sum of the others' MAC shares). The MAC key share alpha_i comes from
``PRG(k_i).derive("mac-key")`` (the dealer knows every alpha_i, hence alpha: the dealer is trusted
with everything it makes, as for semi2k); party 0's is odd and the others' even, so alpha =
sum alpha_i is odd: an odd alpha times a nonzero error is nonzero mod 2^128, which is what lets
the MAC check catch every single-element error (:mod:`mpc.engines.mac_check`). The mask value of
an ``input`` item comes from the owner's ``input-masks`` stream, which the dealer mirrors: no
extra message. Correction traffic to party n-1: 16 bytes per element per MAC and per derived
value (a triple: 64 bytes per element, against 8 for a Z_2^64 triple).

Authenticated bits (spdz2k's boolean side, :mod:`mpc.sharing.auth_bits`): components that are
bit words are XOR-shared and carry one GF(2^64) MAC share per bit, with XOR_i m_i = b * Delta for
the binary MAC key Delta = XOR_i Delta_i (Delta_i from ``PRG(k_i).derive("bit-mac-key")``, uniform;
the dealer knows Delta too). The same stream and the same order serve them: bit words are drawn
as words, their MACs as 64 words per word; base bit words are XOR-combined, and party n-1's
corrections are its derived bit words (v XOR the others') and its MAC shares
(Delta * b XOR the others'), 512 bytes per word of 64 bits per component. Each party computes the
folded MAC of its words itself (:func:`assemble`). The kinds (see :mod:`mpc.preprocessing.base`):
``bit_triple`` (ring 1: a, b base; c = a AND b; the item also holds their bits and folded
MACs as light words, :func:`triple_heads`), ``light_triple`` (the same with c as a light word:
its bits and folded MAC only, drawn as one word per word by parties 0..n-2, and for party n-1
the correction Delta c XOR the others' folds, c read as an element of GF(2^64): the fold of the
bits' MACs Delta c_j X^j), ``input`` (ring 1: the owner's bit mask),
``dabit`` (bits base; their 0/1 ring elements derived), ``bitmul`` (bits and a base; r = the
bits as ring elements and r*a derived) and ``edabit`` (r uniform in Z_2^128 base; the bit planes
of r mod 2^64 derived, and with params (count, 1) their 31 pair products, planes 2t AND 2t+1).
Correction bytes per element: an AND triple 1544 / 64 = 24.1 per AND gate (a light one
1040 / 64 = 16.25: c's word and fold instead of its 64 MACs), a daBit
8 + 16 + 16 = 40 (bit MAC, ring value, ring MAC), an edaBit 64 * 8 + 64 * 8 / 64 + 16 = 536
(every bit's MAC and the derived bits, r's MAC), and its pair products 31 * 520 / 64 = 252 more.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable, Sequence

import numpy as np

from mpc.preprocessing.base import AND_TRIPLE_KINDS, EDABIT_PAIRS, Request, component_shapes
from mpc.prg import PRG
from mpc.sharing import auth_bits
from mpc.sharing.authenticated import AUTH, lift64, low64, pack, ring128

__all__ = ["AUTH_ONLY", "assemble", "base_count", "bit_mac_key_share", "correction_shapes", "dealer_corrections",
           "expand_auth", "item_bytes", "mac_key_share", "template", "triple_heads"]

AUTH_ONLY = ("rand", "input")
_BASE = {"triple": 2, "square": 1, "matmul": 2, "trunc": 1, "div": 1, "tmul": 2, "tsquare": 1, "rand": 0, "input": 0,
         "bit_triple": 2, "light_triple": 2, "dabit": 1, "bitmul": 2, "edabit": 1}
_MIXED = {"dabit": "BA", "bitmul": "BAAA", "edabit": "AB"}  # component types of the mixed kinds


def base_count(req: Request) -> int:
    """How many components of an authenticated item are uniform (the rest are derived)."""
    return _BASE[req.kind]


def mac_key_share(root: PRG, pid: int) -> int:
    """Party ``pid``'s MAC key share alpha_i in [0, 2^64): odd for party 0, even for the others."""
    v = int(root.derive("mac-key").uint64(1)[0])
    return (v & ~1) | (1 if pid == 0 else 0)


def bit_mac_key_share(root: PRG) -> int:
    """A party's binary MAC key share Delta_i in GF(2^64), uniform."""
    return int(root.derive("bit-mac-key").uint64(1)[0])


def _shapes(req: Request) -> list[tuple[int, ...]]:
    shapes = component_shapes(req)
    return shapes if req.kind != "input" else [tuple(req.params[1:])]


def _types(req: Request) -> str:
    """One letter per component: "A" shared in Z_2^128 with a Z_2^128 MAC, "B" bit words with
    one GF(2^64) MAC per bit, "L" bit words with only their folded MAC (a light triple's c)."""
    count = len(_shapes(req))
    if req.kind == "light_triple":
        return "BBL"
    if req.ring == 1:
        return "B" * count
    return _MIXED[req.kind] + "B" * (count - 2) if req.kind == "edabit" else _MIXED.get(req.kind, "A" * count)


# the record dtype of each component type (see _types)
_DTYPES = {"A": AUTH, "B": auth_bits.BAUTH, "L": auth_bits.LAUTH}


def item_bytes(req: Request) -> int:
    """Bytes one party holds for an authenticated item: 32 per ring element (value and MAC
    shares in Z_2^128), 528 per bit word (:data:`~mpc.sharing.auth_bits.BAUTH`), 16 per light
    word (a light triple's c, :data:`~mpc.sharing.auth_bits.LAUTH`), and 48 more per word of an
    AND triple (the heads of a, b and c, :func:`triple_heads`; a light triple's lc is its c)."""
    heads = 3 * auth_bits.LAUTH.itemsize * req.params[0] if req.kind in AND_TRIPLE_KINDS else 0
    return heads + sum(_DTYPES[t].itemsize * math.prod(s) for t, s in zip(_types(req), _shapes(req), strict=True))


def triple_heads(words: Sequence[np.ndarray], folds: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    """The *heads* of an authenticated AND triple: the bits and folded MACs of a, b and c as light
    words (LAUTH), the three extra arrays of a ``bit_triple`` item (ring 1) after the BAUTH
    records a, b, c (``words``, ``folds``: theirs, in that order). The same values as the
    records' first two words, laid out contiguously offline, so that the AND's masking
    (``bauth_mask``, a and b) and a light AND's combine (c) stream 16 bytes a word instead of
    reading one cache line of every 528-byte record: the masking 2.6 ns a word against about 10
    on Zen 4, out of cache (:mod:`mpc.engines.authbits`)."""
    return tuple(auth_bits.pack_light(w, f) for w, f in zip(words, folds, strict=True))


def _value_shapes(req: Request) -> list[tuple[int, ...]]:
    return [(*s, 2) if t == "A" else s for t, s in zip(_types(req), _shapes(req), strict=True)]


_MAC_TAIL = {"A": (2,), "B": (64,), "L": ()}  # a ring MAC in Z_2^128, 64 bit MACs, one folded MAC


def _mac_shapes(req: Request) -> list[tuple[int, ...]]:
    return [(*s, *_MAC_TAIL[t]) for t, s in zip(_types(req), _shapes(req), strict=True)]


def expand_auth(req: Request, auth: PRG, inputs: PRG, pid: int, last: bool) -> list[np.ndarray]:
    """The arrays a party draws itself, in stream order: base values, then (unless ``last``) the
    derived values and every MAC share; and, for an ``input`` item it owns, the mask value."""
    values = _value_shapes(req)
    b = base_count(req)
    drawn = values[:b] if last else values + _mac_shapes(req)  # values (base, derived), then MACs
    out = [auth.uint64(s) for s in drawn]
    if req.kind == "input" and req.params[0] == pid:
        out.append(inputs.uint64(values[0]))
    return out


def correction_shapes(req: Request) -> list[tuple[int, ...]]:
    """uint64 shapes of party n-1's corrections: derived values, then every MAC share."""
    return _value_shapes(req)[base_count(req):] + _mac_shapes(req)


Derive64 = Callable[[Request, Sequence[np.ndarray], types.SimpleNamespace], list[np.ndarray]]


def _derive(req: Request, base: list[np.ndarray], given: np.ndarray | None,
            kernels: types.SimpleNamespace, derive64: Derive64) -> list[np.ndarray]:
    """The plaintext Z_2^128 derived values from the plaintext base values."""
    if req.kind == "triple":
        return [kernels.mul128(base[0], base[1])]
    if req.kind == "square":
        return [kernels.mul128(base[0], base[0])]
    if req.kind == "matmul":
        a, b = base
        if not req.params[0]:
            return [kernels.matmul128(a, b)]
        return [np.stack([kernels.matmul128(a[i], b[i]) for i in range(a.shape[0])])]
    if req.kind in AUTH_ONLY:  # the value itself comes from the dealer (input: the owner's mask)
        return [given]
    if req.kind in AND_TRIPLE_KINDS:
        return [kernels.band(base[0], base[1])]
    if req.kind in ("dabit", "bitmul"):
        bits = lift64(kernels.unpack_bits(base[0], req.params[0]).astype(np.uint64))
        return [bits] if req.kind == "dabit" else [bits, kernels.mul128(bits, base[1])]
    if req.kind == "edabit":
        planes = np.ascontiguousarray(kernels.bitslice(low64(base[0])))
        if len(req.params) == 1:
            return [planes]
        pairs = 2 * EDABIT_PAIRS
        return [planes, kernels.band(np.ascontiguousarray(planes[0:pairs:2]), np.ascontiguousarray(planes[1:pairs:2]))]
    plain = Request(req.kind, req.params)  # the Z_2^64 twin, on the low words
    return [lift64(v.reshape(base[0].shape[:-1])) for v in derive64(plain, [low64(x) for x in base], kernels)]


def dealer_corrections(req: Request, per_party: Sequence[list[np.ndarray]], keys: tuple[int, int],
                       given: np.ndarray | None, kernels: types.SimpleNamespace,
                       derive64: Derive64, out: Sequence[np.ndarray] | None = None) -> list[np.ndarray]:
    """Party n-1's corrections for one item from every party's expansion (:func:`expand_auth`);
    ``keys`` the MAC keys (alpha, Delta); ``given`` the value of an ``input`` or ``rand`` item;
    ``derive64`` derives the Z_2^64 twin's values (:func:`mpc.preprocessing.material.derive`).
    ``out``: arrays of :func:`correction_shapes` to write them into (the dealer's reply buffer,
    so no pass copies them there), else fresh ones. A bit word's 64 MAC shares are made in one
    pass with the first other party's XORed away (``bit_macs_xor``), where building Delta b and
    then XORing took three passes over arrays 64 times the words' size; a light word's folded
    MAC is Delta times the word, read as an element of GF(2^64) (the fold of Delta b_j X^j)."""
    alpha, delta = keys
    n = len(per_party)
    b = base_count(req)
    kinds = _types(req)
    if out is None:
        out = [np.empty(s, dtype=np.uint64) for s in correction_shapes(req)]
    base = []
    for j in range(b):  # ring components are summed, bit words XOR-combined
        combine = kernels.add128 if kinds[j] == "A" else kernels.bxor
        total = per_party[0][j].copy()
        for i in range(1, n):
            combine(total, per_party[i][j], out=total)
        base.append(total)
    derived = _derive(req, base, given, kernels, derive64)
    values = base + derived
    outs = iter(out)
    for j, v in enumerate(derived):  # party n-1's derived value shares
        corr = next(outs)
        np.copyto(corr, v)
        remove = kernels.sub128 if kinds[b + j] == "A" else kernels.bxor
        for i in range(n - 1):
            remove(corr, per_party[i][b + j], out=corr)
    c = len(kinds)
    for j, v in enumerate(values):  # MACs: alpha * v - sum (or Delta * bit ^ XOR) of the others' MAC shares
        corr = next(outs)
        if kinds[j] == "A":
            kernels.mul128(v, ring128(alpha, v.shape[:-1]), out=corr)  # alpha = sum alpha_i: beyond 64 bits
            remove, others = kernels.sub128, range(n - 1)
        elif kinds[j] == "L":
            kernels.gf64_mul(v, np.full(v.shape, delta, dtype=np.uint64), out=corr)
            remove, others = kernels.bxor, range(n - 1)
        else:
            kernels.bit_macs_xor(v, delta, per_party[0][c + j], out=corr)
            remove, others = kernels.bxor, range(1, n - 1)
        for i in others:
            remove(corr, per_party[i][c + j], out=corr)
    return list(out)


def assemble(req: Request, own: list[np.ndarray], corrections: list[np.ndarray] | None,
             pid: int, kernels: types.SimpleNamespace) -> tuple[np.ndarray, ...]:
    """One party's item: an AUTH (or, for bit words, BAUTH with its folded MACs; LAUTH for a
    light word) array per component, then, for an AND triple, the heads of a, b and c
    (:func:`triple_heads`; a light triple's lc is its c), or, for an ``input`` item it owns, the
    mask value (Z_2^128 words, or bit words)."""
    kinds = _types(req)
    c = len(kinds)
    b = base_count(req)
    mask = own[-1] if req.kind == "input" and req.params[0] == pid else None
    parts = own[:-1] if mask is not None else own
    if corrections is not None:  # party n-1: base values drawn, the rest corrected
        values = parts[:b] + corrections[: c - b]
        macs = corrections[c - b :]
    else:
        values, macs = parts[:c], parts[c:]
    folds = [None if t == "A" else m if t == "L" else kernels.gf64_fold(m) for t, m in zip(kinds, macs, strict=True)]
    items = [pack(v, m) if t == "A" else auth_bits.pack_light(v, f) if t == "L" else auth_bits.pack(v, f, m)
             for t, v, f, m in zip(kinds, values, folds, macs, strict=True)]
    if req.kind == "bit_triple":
        items += triple_heads(values, folds)
    elif req.kind == "light_triple":
        items += (*triple_heads(values[:2], folds[:2]), items[2])
    return (*items, mask) if mask is not None else tuple(items)


def template(req: Request, pid: int) -> tuple[np.ndarray, ...]:
    """An all-zero item of the shapes and dtypes :func:`assemble` returns (dry runs)."""
    items = [np.zeros(s, dtype=_DTYPES[t]) for t, s in zip(_types(req), _shapes(req), strict=True)]
    if req.kind in AND_TRIPLE_KINDS:
        items += [np.zeros(_shapes(req)[0], dtype=auth_bits.LAUTH) for _ in range(2)]
        items.append(items[2] if req.kind == "light_triple" else np.zeros(_shapes(req)[0], dtype=auth_bits.LAUTH))
    if req.kind == "input" and req.params[0] == pid:
        items.append(np.zeros(_value_shapes(req)[0], dtype=np.uint64))
    return tuple(items)


def high_mask(prg: PRG, shape: tuple[int, ...]) -> np.ndarray:
    """2^64 u for u uniform from ``prg`` (the dealer's private generator): a ``rand`` value."""
    out = np.zeros((*shape, 2), dtype=np.uint64)
    out[..., 1] = prg.uint64(shape)
    return out
