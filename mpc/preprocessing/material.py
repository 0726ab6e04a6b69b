"""Seed-compressed material: what each party expands itself and what the dealer corrects.

Seed compression (as in the SPDZ-family dealers and CrypTen's trusted third party): the dealer
and party i share a seed k_i. Every item of material has *base* components (uniform shares:
a and b of a triple, r of a truncation triple) and *derived* components (c = a*b; r >> f and
msb(r)). Each party expands all its base shares from PRG(k_i); parties 0..n-2 also expand
their derived shares; only party n-1 receives its derived shares from the dealer as
*corrections* c_{n-1} = c - sum_{i<n-1} c_i. So the only preprocessing traffic is party n-1's
request and the corrections (one ring element per element of each derived component).

Authenticated material (``Request(..., auth=True)``, arithmetic and boolean) has a stream of its
own (:mod:`mpc.preprocessing.authenticated`). Boolean material (``bit_triple``, ``dabit``, ``bitmul``) follows the same pattern with XOR in place of the
sum for the bit components (:func:`~mpc.preprocessing.bit_triples.dealer_bit_triples`,
:func:`~mpc.preprocessing.dabits.dealer_dabits`), each in a stream of its own derived from k_i
(``PRG(k_i).derive("bit-triples")``, ``PRG(k_i).derive("dabits")``; :class:`Streams`).

Streams only move forward: item t is drawn after item t-1 from the same generator, on both the
dealer and the party, so they stay aligned as long as both see the same sequence of requests.
"""

from __future__ import annotations

import math
import types
from collections.abc import Sequence

import numpy as np

from mpc.errors import ProtocolError
from mpc.preprocessing import authenticated as am
from mpc.preprocessing.base import (
    MASK_KINDS,
    MAX_TAG,
    WINDOW_AT,
    Request,
    component_shapes,
    mtriple_products,
    strided_span,
    tag_owner,
    tag_shift,
    tmul_components,
)
from mpc.preprocessing.bit_triples import dealer_bit_triples, expand_bit_triple_share
from mpc.preprocessing.dabits import dealer_bitmul, dealer_dabits, expand_bitmul_share, expand_dabit_share
from mpc.prg import PRG
from mpc.sharing.flat import split_flat

_U63 = np.uint64(63)


def correction_count(req: Request) -> int:
    """How many arrays of an item are derived, i.e. dealer corrections for party n-1 (the first
    ones, the base, every party expands itself)."""
    if req.kind == "tmul":
        return len(tmul_components(req.params[0], req.params[1])) - 2  # all but r1, r2
    if req.kind == "tsquare":
        return 4  # all but r
    if req.kind == "mtriple":
        return len(component_shapes(req)) - 1  # the mask products (lambda_z: each party's own window)
    if req.kind in ("msquare", "mmatmul", "mhtriple", "mhmatmul"):
        return 1  # the mask product (lambda_z is each party's own window; a half product's a is drawn)
    return 2 if req.kind in ("trunc", "div", "bitmul", "mtrunc") else 1


class Streams:
    """The generators of one party's seed k_i: ring material, bit triples, daBits, authenticated
    material and the party's own input masks (independent), and its MAC key share."""

    __slots__ = ("ring", "bits", "dabits", "auth", "inputs", "masks", "root")

    def __init__(self, seed: bytes) -> None:
        root = PRG(seed)
        self.bits = root.derive("bit-triples")  # derive() does not advance root
        self.dabits = root.derive("dabits")
        self.auth = root.derive("authenticated")
        self.inputs = root.derive("input-masks")
        self.masks = root.derive("masks")  # masked2k's mask shares: read by window only, never drawn
        self.root = PRG(seed)  # never drawn from: only derived (the MAC key share)
        self.ring = root

    def mac_key_share(self, pid: int) -> int:
        return am.mac_key_share(self.root, pid)

    def bit_mac_key_share(self) -> int:
        return am.bit_mac_key_share(self.root)


def expand_own(req: Request, streams: Streams, last: bool, pid: int) -> list[np.ndarray]:
    """The components a party draws itself, in stream order (base, then derived unless ``last``)."""
    if req.auth:
        return am.expand_auth(req, streams.auth, streams.inputs, pid, last)
    if req.kind == "bit_triple":
        a, b, c = expand_bit_triple_share(streams.bits, req.params[0], last)
        return [a, b] if c is None else [a, b, c]
    if req.kind == "dabit":
        words, arith = expand_dabit_share(streams.dabits, req.params[0], last)
        return [words] if arith is None else [words, arith]
    if req.kind == "bitmul":  # in the daBit stream: a daBit extended by a and r*a
        return expand_bitmul_share(streams.dabits, req.params[0], last)
    shapes = component_shapes(req)
    k = len(shapes) - correction_count(req)
    drawn = shapes if not last else shapes[:k]
    if req.kind in WINDOW_AT:  # the own component is lambda_z, the party's window at tz
        own = [mask_window(streams, req.params[WINDOW_AT[req.kind]], shapes[0])]
        return own + [streams.ring.uint64(s) for s in drawn[1:]]
    return [streams.ring.uint64(s) for s in drawn]


def mask_window(streams: Streams, start: int, shape: tuple[int, ...]) -> np.ndarray:
    """A party's window at the masks tagged ``start ..`` (row-major in ``shape``; see
    :mod:`mpc.preprocessing.base`), read by random access from its mask keystream."""
    return streams.masks.window(start, math.prod(shape)).reshape(shape)


def mask_holders(start: int, n: int) -> Sequence[int]:
    """The parties whose windows hold the masks tagged ``start ..``: every party, or the owner
    alone when the tags name one (an input's masks); ProtocolError for an owner outside the
    session."""
    owner = tag_owner(start)
    if owner is None:
        return range(n)
    if owner >= n:
        raise ProtocolError(f"a mask tag names party {owner} of a {n}-party session")
    return (owner,)


def mask_share(streams: Streams, pid: int, n: int, start: int, shape: tuple[int, ...]) -> np.ndarray:
    """Party ``pid``'s shares of the masks tagged ``start ..``: its window if it holds them
    (:func:`mask_holders`), else zeros."""
    if pid in mask_holders(start, n):
        return mask_window(streams, start, shape)
    return np.zeros(shape, dtype=np.uint64)


def _mask_values(req: Request, streams: Sequence[Streams], kernels: types.SimpleNamespace,
                 base: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The dealer's plaintext derived components of a masked item, from every party's windows
    (and the plaintext base component of a half product)."""
    p = req.params

    def lam(start: int, shape: tuple[int, ...]) -> np.ndarray:
        first, *rest = mask_holders(start, len(streams))
        total = mask_window(streams[first], start, shape)  # a fresh keystream array: summed in place
        for i in rest:
            total += mask_window(streams[i], start, shape)
        return total

    def strided(t: int, r: int, c: int, rows: int, cols: int) -> np.ndarray:
        """The (rows, cols) masks with tags t + i r + j c."""
        flat = lam(t, (strided_span(t, r, c, rows, cols),))
        return np.lib.stride_tricks.as_strided(flat, (rows, cols), (8 * r, 8 * c)).copy()

    if req.kind == "mhtriple":
        shape = p[1:]
        return [kernels.mul(base[0].reshape(-1), lam(p[0], shape).reshape(-1)).reshape(shape)]
    if req.kind == "mhmatmul":
        m, k, n = p[4:]
        if p[0] == 0:
            return [kernels.matmul(strided(*p[1:4], m, k), base[0])]
        return [kernels.matmul(base[0], strided(*p[1:4], k, n))]

    if req.kind == "mtriple":
        shape = p[3:]

        def factors(t: int) -> list[np.ndarray]:
            x, k = lam(t & (MAX_TAG - 1), shape).reshape(-1), tag_shift(t)
            return [x] if not k else [x >> np.uint64(k), x >> _U63]  # A = lambda >> k, M = msb(lambda)

        fx, fy = factors(p[0]), factors(p[1])
        return [kernels.mul(fx[i], fy[j]).reshape(shape) for i, j in mtriple_products(p[0], p[1])]
    if req.kind == "msquare":
        x = lam(p[0], p[2:]).reshape(-1)
        return [kernels.mul(x, x).reshape(p[2:])]
    if req.kind == "mmatmul":
        m, k, n = p[7:]
        return [kernels.matmul(strided(*p[0:3], m, k), strided(*p[3:6], k, n))]
    x = lam(p[0], p[2:])  # mtrunc
    return [x >> np.uint64(p[1]), x >> _U63]


def derive(req: Request, base: Sequence[np.ndarray], kernels: types.SimpleNamespace) -> list[np.ndarray]:
    """The plaintext derived components from the plaintext base components (flat for 0-d items:
    NumPy turns a shift of a 0-d array into a scalar, which the kernels do not take)."""
    base = [b.reshape(1) if b.ndim == 0 else b for b in base]
    if req.kind == "triple":
        return [kernels.mul(base[0], base[1])]
    if req.kind == "square":
        return [kernels.mul(base[0], base[0])]
    if req.kind == "matmul":
        a, b = base
        if req.params[0]:
            return [kernels.matmul_batched(a, b)]
        return [kernels.matmul(a, b)]
    if req.kind == "tmul":
        return _derive_tmul(req.params[0], req.params[1], base[0], base[1], kernels)
    if req.kind == "tsquare":
        r = base[0]
        a, m = r >> np.uint64(req.params[0]), r >> _U63
        return [a, m, kernels.mul(a, a), kernels.mul(a, m)]
    r = base[0]
    if req.kind == "div":
        return [r // np.uint64(req.params[0]), r >> _U63]
    return [r >> np.uint64(req.params[0]), r >> _U63]  # logical shifts on uint64: r >> f and the top bit


def _derive_tmul(k1: int, k2: int, r1: np.ndarray, r2: np.ndarray, kernels) -> list[np.ndarray]:
    """The derived components of a ``tmul`` item, in :func:`tmul_components` order."""
    a1, m1 = r1 >> np.uint64(k1), r1 >> _U63
    a2, m2 = (r2 >> np.uint64(k2), r2 >> _U63) if k2 else (r2, None)
    out = [a1, m1] + ([a2, m2] if k2 else []) + [kernels.mul(a1, a2), kernels.mul(m1, a2)]
    if k2:
        out.append(kernels.mul(a1, m2))
        if k1 + k2 > 64:
            out.append(kernels.mul(m1, m2))
    return out


class DealerCore:
    """The dealer's arithmetic for one session: all n seed streams, kept in step with the parties.

    Used by :class:`~mpc.preprocessing.dealer.TrustedDealer` (a separate trusted process) and by
    the insecure in-process dealer of the tests.
    """

    def __init__(self, seeds: Sequence[bytes], kernels: types.SimpleNamespace, private: PRG | None = None) -> None:
        """``private``: the dealer's own generator (the value of ``rand`` items); fresh by default."""
        if len(seeds) < 2:
            raise ValueError(f"seeds: a session needs at least 2 parties, got {len(seeds)}")
        self.n = len(seeds)
        self._streams = [Streams(s) for s in seeds]
        self._kernels = kernels
        self._alpha = sum(st.mac_key_share(i) for i, st in enumerate(self._streams))  # the MAC key
        self._delta = 0  # the binary MAC key: XOR of the parties' shares
        for st in self._streams:
            self._delta ^= st.bit_mac_key_share()
        self._private = private if private is not None else PRG.fresh()
        self.items = 0

    def corrections(self, req: Request, out: Sequence[np.ndarray] | None = None) -> list[np.ndarray]:
        """Party n-1's derived shares for one item (advancing every party's stream); ``out``:
        arrays of :func:`correction_sizes` to write them into (else fresh ones)."""
        if req.auth:
            per_party = [expand_own(req, st, i == self.n - 1, i) for i, st in enumerate(self._streams)]
            return self._authenticated(req, per_party, out)
        got = self._plain(req)
        if out is None:
            return got
        for o, g in zip(out, got, strict=True):
            np.copyto(o, g.reshape(o.shape))
        return list(out)

    def _plain(self, req: Request) -> list[np.ndarray]:
        if req.kind == "bit_triple":  # XOR-combined: c_{n-1} = (XOR a_i) AND (XOR b_i) XOR c_0 ... c_{n-2}
            self.items += 1
            return [dealer_bit_triples([s.bits for s in self._streams], req.params[0])]
        if req.kind == "dabit":  # bits XOR-combined, ring shares summed: s_{n-1} = r - sum s_i
            self.items += 1
            return [dealer_dabits([s.dabits for s in self._streams], req.params[0])]
        if req.kind == "bitmul":  # as daBits, plus r*a - sum of the others' shares of it
            self.items += 1
            return list(dealer_bitmul([s.dabits for s in self._streams], req.params[0]))
        per_party = [expand_own(req, st, i == self.n - 1, i) for i, st in enumerate(self._streams)]
        k = len(per_party[-1])  # number of base components
        base = []
        for j in range(k if req.kind not in WINDOW_AT else 0):  # a window is not a base to sum
            total = per_party[0][j]  # fresh from the PRG and not needed again: sum in place
            for i in range(1, self.n):
                total += per_party[i][j]
            base.append(total)
        out = []
        values = (_mask_values(req, self._streams, self._kernels, base) if req.kind in MASK_KINDS
                  else derive(req, base, self._kernels))
        for j, value in enumerate(values):
            corr = np.asarray(value, dtype=np.uint64)  # a fresh array: corrected in place
            for i in range(self.n - 1):
                corr -= per_party[i][k + j]
            out.append(corr)
        self.items += 1
        return out

    def _authenticated(self, req: Request, per_party: list[list[np.ndarray]],
                       out: Sequence[np.ndarray] | None) -> list[np.ndarray]:
        mask = am.high_mask(self._private, req.params) if req.kind == "rand" else None
        if req.kind == "input":
            owner = req.params[0]
            if not 0 <= owner < self.n:
                raise ProtocolError(f"dealer: input mask for party {owner} of a {self.n}-party session")
            mask = per_party[owner].pop()  # the owner's mask value, drawn from its input stream
        self.items += 1
        return am.dealer_corrections(req, per_party, (self._alpha, self._delta), mask, self._kernels, derive, out)

    def batch(self, reqs: Sequence[Request]) -> np.ndarray:
        """The corrections of a batch, flattened and concatenated in request order: written into
        one buffer allocated up front (a spdz2k batch's corrections are hundreds of MB: a final
        concatenation cost as much as making them), cut as the client cuts it."""
        flat = np.empty(total_corrections(reqs), dtype=np.uint64)
        for req, out in zip(reqs, split_corrections(reqs, flat), strict=True):
            self.corrections(req, out)
        return flat


def correction_sizes(req: Request) -> list[tuple[int, ...]]:
    if req.auth:
        return am.correction_shapes(req)
    shapes = component_shapes(req)
    return shapes[len(shapes) - correction_count(req) :]


def split_corrections(reqs: Sequence[Request], flat: np.ndarray) -> list[list[np.ndarray]]:
    """Cut a flat correction buffer back into per-item arrays (the inverse of DealerCore.batch)."""
    sizes = [correction_sizes(r) for r in reqs]
    parts = iter(split_flat(flat, [s for item in sizes for s in item]))
    return [[next(parts) for _ in item] for item in sizes]


def total_corrections(reqs: Sequence[Request]) -> int:
    return sum(math.prod(s) for r in reqs for s in correction_sizes(r))
