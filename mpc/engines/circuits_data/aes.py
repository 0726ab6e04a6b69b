"""AES-128 encryption (FIPS-197) as a boolean circuit over any gate backend; the S-box in a tower field.

Bit and byte order (the convention of Tessera's ``aes128`` Bristol circuit): the key and the
block are 128-bit values ``int.from_bytes(sixteen_bytes, "big")``, so the FIPS-197 hex strings
read as integers (key ``0x000102...0f``); wire / bit i of a value is bit i of that integer,
least significant first. Hence byte k of the block (k = 0..15 in FIPS order: byte 0 is the
first two hex digits) is bits 8(15-k) .. 8(15-k)+7, and bit b of that byte (b = 0 its least
significant bit, the coefficient of x^0) is bit 8(15-k)+b. The ciphertext has the same layout.
The published Bristol Fashion ``aes_128`` circuit is fed the same way (key first, then the
block).

The S-box (SubBytes) is inversion in GF(2^8) followed by the affine map. Inversion runs in the
isomorphic tower field GF(((2^2)^2)^2) (Rijmen; Satoh, Morioka, Takano, Munetoh, "A compact
Rijndael hardware architecture with S-box optimization", ASIACRYPT 2001; Canright, "A very
compact S-box for AES", CHES 2005), with Karatsuba products (3 ANDs per GF(4) product, 9 per
GF(16) product). For v = l + hY in GF(16)[Y]/(Y^2 + Y + L):

1. delta = l(l + h) + L h^2 in GF(16) (the norm of v): 1 GF(16) product, AND depth 1.
2. delta^-1 by the same formula one level down, in GF(4)[Z]/(Z^2 + Z + N):
   eps = dl(dl + dh) + N dh^2 (1 GF(4) product), eps^-1 = eps^2 (free in GF(4)), then
   delta^-1 = (dl + dh) eps^-1 + dh eps^-1 Z (2 GF(4) products): AND depth 2 and 3.
3. v^-1 = (l + h) delta^-1 + h delta^-1 Y: 2 GF(16) products, AND depth 4.
Zero maps to zero throughout, as AES needs. In all 36 ANDs, AND depth 4. The change of basis
into the tower field and back (with the affine map) is linear: it is folded into the XOR
networks that feed each AND layer. The tower constants N, L and the isomorphism (a root g of the
AES polynomial x^8 + x^4 + x^3 + x + 1 in the tower field) are searched here, among all valid
choices, for the fewest XOR gates. Every linear layer (those XOR networks, MixColumns) is
built with Paar's greedy common-subexpression heuristic (Paar, "Optimized arithmetic for
Reed-Solomon encoders", ISIT 1997): repeatedly XOR the pair of signals shared by most rows.

AES-128 (FIPS-197 sections 5.1, 5.2): key expansion (40 S-boxes, run alongside the rounds) and
10 rounds (160 S-boxes); 200 S-boxes = 7200 ANDs. AND depth 40: round r's S-boxes read round
key r - 1, whose S-boxes finish at depth 4(r - 1). These figures are checked by the tests and
printed by ``python -m mpc.engines.circuits_data.generate``.
"""

from __future__ import annotations

import functools
import itertools
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["AES_POLY", "aes128", "aes128_reference_sbox", "sbox_program", "sub_bytes", "run_program", "Program"]

AES_POLY = 0x11B  # x^8 + x^4 + x^3 + x + 1
_RCON = (0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1B, 0x36)


# ----------------------------------------------------------------------------- field arithmetic (ints)


def _gf256_mul(a: int, b: int) -> int:
    """Product in the AES field GF(2)[x]/(x^8 + x^4 + x^3 + x + 1)."""
    r = 0
    while b:
        if b & 1:
            r ^= a
        a <<= 1
        if a & 0x100:
            a ^= AES_POLY
        b >>= 1
    return r


def aes128_reference_sbox() -> tuple[int, ...]:
    """The AES S-box from its definition (FIPS-197 5.1.1): x^254 then the affine map + 0x63."""
    table = []
    for x in range(256):
        inv = 1
        for _ in range(254):
            inv = _gf256_mul(inv, x)
        inv = 0 if x == 0 else inv
        out = 0x63
        for i in range(8):
            bit = 0
            for j in (0, 4, 5, 6, 7):
                bit ^= (inv >> ((i + j) % 8)) & 1
            out ^= bit << i
        table.append(out)
    return tuple(table)


def _gf4_mul(a: int, b: int) -> int:
    """GF(4) = GF(2)[W]/(W^2 + W + 1), elements a0 + a1 W as the 2-bit int a1 a0."""
    a0, a1, b0, b1 = a & 1, a >> 1, b & 1, b >> 1
    return (a0 & b0 ^ a1 & b1) | ((a0 & b1 ^ a1 & b0 ^ a1 & b1) << 1)


def _gf16_mul(x: int, y: int, n: int) -> int:
    """GF(16) = GF(4)[Z]/(Z^2 + Z + n), elements l + h Z as the 4-bit int h l."""
    xl, xh, yl, yh = x & 3, x >> 2, y & 3, y >> 2
    hh = _gf4_mul(xh, yh)
    return (_gf4_mul(xl, yl) ^ _gf4_mul(n, hh)) | ((_gf4_mul(xl, yh) ^ _gf4_mul(xh, yl) ^ hh) << 2)


def _gf256t_mul(x: int, y: int, n: int, lam: int) -> int:
    """The tower GF(16)[Y]/(Y^2 + Y + lam), elements l + h Y as the 8-bit int h l."""
    xl, xh, yl, yh = x & 15, x >> 4, y & 15, y >> 4
    hh = _gf16_mul(xh, yh, n)
    low = _gf16_mul(xl, yl, n) ^ _gf16_mul(lam, hh, n)
    return low | ((_gf16_mul(xl, yh, n) ^ _gf16_mul(xh, yl, n) ^ hh) << 4)


def _tower_choices():
    """Every (N, L, g): Z^2+Z+N irreducible over GF(4), Y^2+Y+L over GF(16), g a root of the
    AES polynomial in the tower (so x -> g is a field isomorphism)."""
    for n in range(1, 4):
        if any(_gf4_mul(z, z) ^ z == n for z in range(4)):
            continue
        for lam in range(1, 16):
            if any(_gf16_mul(z, z, n) ^ z == lam for z in range(16)):
                continue
            for g in range(2, 256):
                powers = [1]
                for _ in range(8):
                    powers.append(_gf256t_mul(powers[-1], g, n, lam))
                if powers[8] ^ powers[4] ^ powers[3] ^ powers[1] ^ powers[0] == 0:
                    yield n, lam, tuple(powers[:8])


# ----------------------------------------------------------------------------- straight-line programs


@dataclass(frozen=True)
class Program:
    """A straight-line program: signals 0..ninputs-1 are the inputs; ``steps`` are
    ``("XOR", d, a, b)``, ``("INV", d, a)`` or ``("AND", ((d, a, b), ...))`` (one AND layer)."""

    ninputs: int
    steps: tuple
    outputs: tuple[int, ...]

    def count(self, op: str) -> int:
        return sum(len(s[1]) if s[0] == "AND" else 1 for s in self.steps if s[0] == op)


@dataclass(frozen=True)
class _Lin:
    """A GF(2)-linear form over basis signals (bit i of ``mask`` = signal i) plus a constant."""

    mask: int
    const: int = 0

    def __xor__(self, other: _Lin) -> _Lin:
        return _Lin(self.mask ^ other.mask, self.const ^ other.const)


_ZERO = _Lin(0)


def _bits(mask: int) -> list[int]:
    return [i for i in range(mask.bit_length()) if mask >> i & 1]


class _Compiler:
    """Builds a :class:`Program` from symbolic linear forms: linear algebra is free until an AND
    layer or the outputs need a form as a wire, then Paar's heuristic picks the XOR network."""

    def __init__(self, ninputs: int) -> None:
        self.ninputs = ninputs
        self.steps: list = []
        self.nsig = ninputs
        self.have: dict[tuple[int, int], int] = {(1 << i, 0): i for i in range(ninputs)}
        self.inputs = [_Lin(1 << i) for i in range(ninputs)]

    def _xor(self, a: int, b: int, mask: int) -> int:
        key = (mask, 0)
        if key not in self.have:
            self.have[key] = self.nsig
            self.steps.append(("XOR", self.nsig, a, b))
            self.nsig += 1
        return self.have[key]

    def materialize(self, forms: Sequence[_Lin]) -> list[int]:
        masks = sorted({f.mask for f in forms if (f.mask, 0) not in self.have})
        if any(m == 0 for m in {f.mask for f in forms}):
            raise ValueError("a constant signal: not expected in these circuits")
        rows = [set(_bits(m)) for m in masks]
        value = {i: 1 << i for row in rows for i in row}  # signal -> its mask
        while True:
            counts = Counter(p for row in rows for p in itertools.combinations(sorted(row), 2))
            if not counts:
                break
            (i, j), best = max(counts.items(), key=lambda kv: (kv[1], -kv[0][0], -kv[0][1]))
            if best < 2:
                break
            s = self._xor(i, j, value[i] ^ value[j])
            value[s] = value[i] ^ value[j]
            for row in rows:
                if i in row and j in row:
                    row -= {i, j}
                    row.add(s)
        for row in rows:
            acc, *rest = sorted(row)
            for v in rest:
                acc_mask = value[acc] ^ value[v]
                acc = self._xor(acc, v, acc_mask)
                value[acc] = acc_mask
        out = []
        for f in forms:
            s = self.have[(f.mask, 0)]
            if f.const:
                if (f.mask, 1) not in self.have:
                    self.have[(f.mask, 1)] = self.nsig
                    self.steps.append(("INV", self.nsig, s))
                    self.nsig += 1
                s = self.have[(f.mask, 1)]
            out.append(s)
        return out

    def and_layer(self, pairs: Sequence[tuple[_Lin, _Lin]]) -> list[_Lin]:
        """One AND layer: every pair's product, as new basis signals."""
        sigs = self.materialize([f for p in pairs for f in p])
        layer, out = [], []
        for k in range(len(pairs)):
            d = self.nsig
            self.nsig += 1
            layer.append((d, sigs[2 * k], sigs[2 * k + 1]))
            self.have[(1 << d, 0)] = d
            out.append(_Lin(1 << d))
        self.steps.append(("AND", tuple(layer)))
        return out

    def finish(self, outputs: Sequence[_Lin]) -> Program:
        outs = self.materialize(outputs)
        return Program(self.ninputs, tuple(self.steps), tuple(outs))


def _linear(fn: Callable[[int], int], forms: Sequence[_Lin]) -> list[_Lin]:
    """Apply the GF(2)-linear map ``fn`` (on ints of len(forms) bits) to symbolic bits."""
    k = len(forms)
    cols = [fn(1 << j) for j in range(k)]
    out = []
    for r in range(k):
        acc = _ZERO
        for j in range(k):
            if cols[j] >> r & 1:
                acc = acc ^ forms[j]
        out.append(acc)
    return out


def _add(x: Sequence[_Lin], y: Sequence[_Lin]) -> list[_Lin]:
    return [a ^ b for a, b in zip(x, y, strict=True)]


def _gf4_products(c: _Compiler, pairs) -> list[list[_Lin]]:
    """Karatsuba in GF(4), all pairs in ONE AND layer: p0 = a0 b0, p1 = a1 b1,
    p2 = (a0 + a1)(b0 + b1); a b = (p0 + p1) + (p0 + p2) W."""
    reqs = []
    for a, b in pairs:
        reqs += [(a[0], b[0]), (a[1], b[1]), (a[0] ^ a[1], b[0] ^ b[1])]
    p = c.and_layer(reqs)
    return [[p[3 * k] ^ p[3 * k + 1], p[3 * k] ^ p[3 * k + 2]] for k in range(len(pairs))]


def _gf16_products(c: _Compiler, pairs, n: int) -> list[list[_Lin]]:
    """Karatsuba in GF(16) over GF(4), ONE AND layer: P0 = xl yl, P1 = xh yh,
    P2 = (xl + xh)(yl + yh); x y = (P0 + N P1) + (P0 + P2) Z."""
    reqs = []
    for x, y in pairs:
        reqs += [(x[:2], y[:2]), (x[2:], y[2:]), (_add(x[:2], x[2:]), _add(y[:2], y[2:]))]
    p = _gf4_products(c, reqs)
    out = []
    for k in range(len(pairs)):
        p0, p1, p2 = p[3 * k : 3 * k + 3]
        out.append(_add(p0, _linear(lambda v: _gf4_mul(n, v), p1)) + _add(p0, p2))
    return out


def _sbox(n: int, lam: int, powers: tuple[int, ...]) -> Program:
    c = _Compiler(8)
    def iso(a: int) -> int:  # AES basis -> tower basis: sum of a_i g^i
        return functools.reduce(lambda acc, i: acc ^ (powers[i] if a >> i & 1 else 0), range(8), 0)

    back = {iso(a): a for a in range(256)}
    t = _linear(iso, c.inputs)  # the input in the tower basis (symbolic: never wired as such)
    lo, hi = t[:4], t[4:]
    # 1. delta = l (l + h) + L h^2
    (m,) = _gf16_products(c, [(lo, _add(lo, hi))], n)
    delta = _add(m, _linear(lambda v: _gf16_mul(lam, _gf16_mul(v, v, n), n), hi))
    # 2. delta^-1 in GF(16): eps = dl (dl + dh) + N dh^2; eps^-1 = eps^2
    dl, dh = delta[:2], delta[2:]
    (e,) = _gf4_products(c, [(dl, _add(dl, dh))])
    eps = _add(e, _linear(lambda v: _gf4_mul(n, _gf4_mul(v, v)), dh))
    eps_inv = _linear(lambda v: _gf4_mul(v, v), eps)
    d_lo, d_hi = _gf4_products(c, [(_add(dl, dh), eps_inv), (dh, eps_inv)])
    delta_inv = d_lo + d_hi
    # 3. v^-1 = (l + h) delta^-1 + h delta^-1 Y
    v_lo, v_hi = _gf16_products(c, [(_add(lo, hi), delta_inv), (hi, delta_inv)], n)
    # back to the AES basis, then the affine map: bit i of A x is the parity of x & rotl(0xF1, i)
    def affine(v: int) -> int:
        x = back[v]
        return sum((bin(x & ((0xF1 << i | 0xF1 >> (8 - i)) & 0xFF)).count("1") & 1) << i for i in range(8))

    out = [f ^ _Lin(0, 0x63 >> i & 1) for i, f in enumerate(_linear(affine, v_lo + v_hi))]
    return c.finish(out)


@functools.cache
def sbox_program() -> Program:
    """The S-box program with the fewest XORs over every tower field choice (36 ANDs, depth 4)."""
    best = None
    for n, lam, powers in _tower_choices():
        prog = _sbox(n, lam, powers)
        if best is None or len(prog.steps) < len(best.steps):
            best = prog
    return best


@functools.cache
def _mixcolumn_program() -> Program:
    """MixColumns on one column (4 bytes, byte r at bits 8r..8r+7) as an XOR network."""

    def mix(x: int) -> int:
        a = [(x >> (8 * r)) & 0xFF for r in range(4)]
        out = 0
        for r in range(4):
            b = _gf256_mul(2, a[r]) ^ _gf256_mul(3, a[(r + 1) % 4]) ^ a[(r + 2) % 4] ^ a[(r + 3) % 4]
            out |= b << (8 * r)
        return out

    c = _Compiler(32)
    return c.finish(_linear(mix, c.inputs))


# ----------------------------------------------------------------------------- running on a backend


def run_program(ops, prog: Program, inputs: Sequence) -> list:
    """Run ``prog`` on a gate backend (``xor``, ``invert``, ``and_many``), each input a bundle;
    each AND layer is one ``and_many`` call."""
    sig: dict[int, object] = dict(enumerate(inputs))
    for step in prog.steps:
        if step[0] == "XOR":
            sig[step[1]] = ops.xor(sig[step[2]], sig[step[3]])
        elif step[0] == "INV":
            sig[step[1]] = ops.invert(sig[step[2]])
        else:
            res = ops.and_many([(sig[a], sig[b]) for _, a, b in step[1]])
            for (d, _, _), r in zip(step[1], res, strict=True):
                sig[d] = r
    return [sig[o] for o in prog.outputs]


def _bitwise(ops, prog: Program, groups: Sequence[np.ndarray], width: int) -> list[np.ndarray]:
    """Run a ``width``-bit program on each bundle of ``groups`` (each ``(width, ...)``), all at once."""
    inputs = [np.stack([g[i] for g in groups]) for i in range(width)]
    outs = run_program(ops, prog, inputs)
    return [np.stack([o[k] for o in outs]) for k in range(len(groups))]


def sub_bytes(ops, byte_bundles: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The S-box on each byte (an 8-bit bundle, bit 0 first), all bytes in the same 4 AND layers."""
    return _bitwise(ops, sbox_program(), byte_bundles, 8)


def _split(x: np.ndarray) -> list[np.ndarray]:
    """A 128-bit bundle as its 16 bytes in FIPS order (byte k = bits 8(15-k)..8(15-k)+7)."""
    return [x[8 * (15 - k) : 8 * (15 - k) + 8] for k in range(16)]


def _join(byte_bundles: Sequence[np.ndarray]) -> np.ndarray:
    return np.concatenate([byte_bundles[15 - p] for p in range(16)])


def _xor_bytes(ops, a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> list[np.ndarray]:
    flat = ops.xor(np.concatenate(list(a)), np.concatenate(list(b)))
    return [flat[8 * i : 8 * i + 8] for i in range(len(a))]


def aes128(ops, key: np.ndarray, block: np.ndarray) -> np.ndarray:
    """AES-128 encryption of ``block`` under ``key`` (128-bit bundles, see the module docstring)."""
    kb, state = _split(key), _split(block)
    words = [kb[4 * i : 4 * i + 4] for i in range(4)]
    state = _xor_bytes(ops, state, kb)
    for r in range(1, 11):
        # key expansion, round r: w[4r] = w[4r-4] ^ SubWord(RotWord(w[4r-1])) ^ Rcon[r]
        prev = words[-1]
        temp = sub_bytes(ops, [prev[1], prev[2], prev[3], prev[0]])
        first = temp[0].copy()
        flip = [i for i in range(8) if _RCON[r - 1] >> i & 1]
        first[flip] = ops.invert(first[flip])
        temp[0] = first
        new = [_xor_bytes(ops, words[-4], temp)]
        for j in range(1, 4):
            new.append(_xor_bytes(ops, words[-4 + j], new[-1]))
        words += new
        # round r: SubBytes, ShiftRows (state[i + 4c] <- state[i + 4((c + i) % 4)]), MixColumns, AddRoundKey
        state = sub_bytes(ops, state)
        state = [state[i % 4 + 4 * ((i // 4 + i % 4) % 4)] for i in range(16)]
        if r < 10:
            cols = [np.concatenate(state[4 * c : 4 * c + 4]) for c in range(4)]
            mixed = _bitwise(ops, _mixcolumn_program(), cols, 32)
            state = [m[8 * i : 8 * i + 8] for m in mixed for i in range(4)]
        state = _xor_bytes(ops, state, [b for w in new for b in w])
    return _join(state)
