"""Paillier encryption over gmpy2: keys, CRT decryption, homomorphic ops, slot packing, multi-exp.

Scheme (Paillier, "Public-key cryptosystems based on composite degree residuosity classes",
EUROCRYPT 1999), with the generator g = n + 1 (Damgard-Jurik, PKC 2001, section 3):

- Keys. ``n = p*q`` for two random primes of ``bits/2`` bits each, both with the top two bits set
  so that n has exactly ``bits`` bits; ``p != q`` and ``gcd(n, (p-1)(q-1)) = 1`` (always true for
  equal-length primes, checked anyway). The public key is ``n``; the secret key is ``(p, q)``.
- Encryption of ``m`` in ``[0, n)``: ``c = (1 + m*n) * r^n mod n^2`` with ``r`` uniform in
  ``Z*_n`` from :mod:`secrets`. ``g^m = 1 + m*n mod n^2`` costs one multiplication instead of an
  exponentiation (the g = n + 1 fast path); ``r^n`` is the whole cost. A key holder encrypting
  under its own key draws the same uniform n-th residue as ``y_p^p mod p^2`` and ``y_q^q mod q^2``
  recombined by CRT (:meth:`PrivateKey.noise`): half-size moduli and exponents, about 1/8 of the
  work (5x faster measured here, 2048 bits).
- Decryption with CRT (Paillier 1999, section 7): ``m_p = L_p(c^(p-1) mod p^2) * h_p mod p`` with
  ``L_p(x) = (x - 1) / p`` and ``h_p = L_p(g^(p-1) mod p^2)^(-1) mod p``, the same for q, and
  ``m = CRT(m_p, m_q)``: two half-size exponentiations with half-size exponents.
- Homomorphic: ``Enc(a) * Enc(b) = Enc(a + b mod n)``, ``Enc(a)^k = Enc(k*a mod n)``. A result
  carries the product of its inputs' randomisers, which the key holder can recover (it knows
  the factors), so a result sent to the key holder is re-randomised (times a fresh ``r^n``) first.

Key size. The default modulus is :data:`DEFAULT_BITS` = 2048 bits: factoring n breaks the scheme,
and NIST SP 800-57 Part 1 (rev. 5, table 2) rates a 2048-bit factoring modulus at 112-bit
security, acceptable until 2030; 3072 bits gives 128. Smaller moduli (``bits=`` down to
:data:`MIN_TEST_BITS`) are accepted for functional tests only: the algebra is identical, only the
hardness of factoring differs, and a 512-bit modulus is within reach of public factoring software.

Slot packing (:class:`SlotLayout`). Many Z_2^64 values go into one plaintext as base-2^w digits
(w the slot width), ``M = sum_j v_j * 2^(j*w)``. For inner products of length k the slot of a result holds
``S = sum_{l<k} a_l * b_l + r`` with ``a_l, b_l < 2^64`` and a mask ``r`` uniform in
``[0, 2^(128 + L + sigma))``, ``L = ceil(log2 k)``. Bound: ``sum a_l b_l <= k (2^64 - 1)^2 <
2^(128 + L)``, so ``S < 2^(128 + L) + 2^(128 + L + sigma) <= 2^(128 + L + sigma + 1) = 2^w``: no
slot carries into the next. With ``s = floor((bits - 1) / w)`` slots, ``M < 2^(s*w) <= 2^(bits-1)
< n``: nothing wraps modulo n. Masking headroom: ``x + r`` with ``x < 2^(128+L)`` and ``r``
uniform on ``2^(128+L+sigma)`` values is within statistical distance ``x / 2^(128+L+sigma) <
2^-sigma`` of ``r`` alone; ``sigma`` = :data:`DEFAULT_SIGMA` = 40 by default. For k = 256 and 2048
bits: w = 177, 11 slots per ciphertext.

Many scalar products with the same ciphertexts (:func:`multi_scalar_products`): the rows
``prod_l c_l^(e_il)`` for an m x k matrix of 64-bit exponents use Straus' simultaneous
exponentiation with a per-ciphertext window table ``c_l^d, d < 2^w`` built once (2^w - 2
multiplications) and shared by all m rows: a row costs ``64 - w`` squarings and at most
``k * 64 / w`` multiplications modulo n^2 (w = 8: 8 per scalar product instead of ~72 for a
separate 64-bit ``powmod``; :func:`best_window` picks w from m). Tables are built for chunks of
ciphertexts so their memory stays bounded (:data:`TABLE_BUDGET`, 4 MB); the compiled kernel keeps
one partial product per row and window across the chunks and joins the windows by squaring once
at the end, so the chunks cost no extra squarings. ``gmpy2.powmod_exp_list`` (one base, many exponents;
present in gmpy2 >= 2.1) does each product as a separate powmod: 4x slower than the tables for
64 rows in bench/paillier.py, so it is not used. Fixed exponents over many bases (``r^n``,
``c^(p-1)``, ``y^p``) go through :func:`powmod_many`, which runs in C and releases the GIL, so
``workers`` threads share them.

Arithmetic (:func:`montgomery_kernel`): on a CPU with AVX-512 IFMA the products, tables and
powers run in ``csrc/montgomery.c`` (Montgomery multiplication in radix 2^52, each job converted
into and out of Montgomery form once; results bit-identical to gmpy2): 1.25-1.32 us per product
modulo a 4096-bit n^2 here against 5.5-7.5 us for gmpy2's ``a * b % n2``; modulo a 2048-bit p^2
two rows (or two bases of a power) run interleaved, 0.32 us per product instead of 0.45. Elsewhere (or under
``MPC_KERNELS=ref``) gmpy2 does it: its ``powmod`` beats the portable C multiplication.

Randomisers (:func:`powers_of_random`): many ``r^n`` at once come from a pool of P fresh ones
and products with 8-bit exponents (276 products instead of ~2,450 per randomiser at 2048 bits),
within statistical distance 2^-40 of independent uniform ones (the argument is in the function's
docstring); the key holder's CRT noise likewise, per prime.

Ciphertexts on the wire (:func:`ciphertexts_to_bytes` / :func:`ciphertexts_from_bytes`): fixed
width ``ceil(bits(n^2) / 8)`` bytes, big-endian; a received value must lie in ``Z*_{n^2}``
(``0 < c < n^2``, ``gcd(c, n) = 1``; one gcd per batch, :meth:`PublicKey.validate_many`), else
:class:`~mpc.errors.ProtocolError`. A public key goes
as its modulus (:meth:`PublicKey.to_bytes` / :meth:`PublicKey.from_bytes`, which checks the size
and that n is odd and not a perfect square).

Security model: IND-CPA under the decisional composite residuosity assumption; semi-honest use
(a key holder that generates its key honestly). No validation here proves that a peer's n is a
product of two large primes.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import gmpy2
import numpy as np
from gmpy2 import mpz

from mpc.errors import ConfigError, InputError, ProtocolError

__all__ = [
    "DEFAULT_BITS",
    "DEFAULT_SIGMA",
    "MIN_TEST_BITS",
    "POOL_DIGIT_BITS",
    "PrivateKey",
    "PublicKey",
    "SlotLayout",
    "best_window",
    "ciphertexts_from_bytes",
    "ciphertexts_to_bytes",
    "generate_keypair",
    "multi_scalar_products",
    "multiexp",
    "pool_pays",
    "pool_size",
    "powmod_many",
    "powers_of_random",
]

DEFAULT_BITS = 2048
DEFAULT_SIGMA = 40
MIN_TEST_BITS = 64
_PRIME_REPS = 40  # Miller-Rabin rounds on top of GMP's own test in next_prime
TABLE_BUDGET = 4 << 20  # bytes of Straus window tables at a time (the 100 MB per party target)
POOL_DIGIT_BITS = 8  # randomiser pools: exponent digits of 8 bits, one window each


def _random_below(bound: int) -> int:
    return secrets.randbelow(bound)


def montgomery_kernel():
    """The compiled Montgomery kernels (:mod:`mpc._core._mont`) when they are built, the CPU
    runs their AVX-512 IFMA multiplication and ``MPC_KERNELS`` is not ``ref``; else None (then
    gmpy2 does the arithmetic: its ``powmod`` beats the portable C multiplication here)."""
    if (os.environ.get("MPC_KERNELS") or "auto").lower() == "ref":
        return None
    try:
        from mpc._core import _mont
    except ImportError:
        return None
    return _mont if _mont.isa() == "ifma" else None


def _split(count: int, workers: int) -> list[tuple[int, int]]:
    step = -(-count // max(1, workers))
    return [(i, min(count, i + step)) for i in range(0, count, step)]


def powmod_many(bases: Sequence[mpz], exp: mpz, mod: mpz, workers: int = 1) -> list[mpz]:
    """``[b^exp mod mod for b in bases]``: by the compiled Montgomery kernel when available
    (:func:`montgomery_kernel`; ``workers`` threads take a share of the bases each, GIL
    released); else with ``workers`` > 1 (and enough bases) chunks of
    ``gmpy2.powmod_base_list`` (C, GIL released) on that many threads; else one ``powmod`` per
    base (no GIL hand-off: as fast or faster on one core)."""
    bases = list(bases)
    mont = montgomery_kernel()
    if mont is not None and bases and mod > 1 and mod & 1 and exp >= 0:
        if workers <= 1 or len(bases) < 2 * workers:
            return mont.powmod(bases, exp, mod)
        with ThreadPoolExecutor(workers) as ex:
            parts = list(ex.map(lambda r: mont.powmod(bases[r[0]:r[1]], exp, mod), _split(len(bases), workers)))
        return [x for part in parts for x in part]
    if workers <= 1 or len(bases) < 2 * workers:
        return [gmpy2.powmod(b, exp, mod) for b in bases]
    step = -(-len(bases) // workers)
    chunks = [bases[i:i + step] for i in range(0, len(bases), step)]
    with ThreadPoolExecutor(len(chunks)) as ex:
        parts = list(ex.map(lambda ch: gmpy2.powmod_base_list(ch, exp, mod), chunks))
    return [x for part in parts for x in part]


def pool_size(group_bits: int, count: int, sigma: int = DEFAULT_SIGMA) -> int:
    """Pool bases P for :func:`powers_of_random`: ``8 P >= group_bits + 3 sigma + 2 log2(count) + 8``."""
    return -(-(group_bits + 3 * sigma + 2 * max(1, (count - 1).bit_length()) + 8) // POOL_DIGIT_BITS)


def pool_pays(count: int, exp_bits: int, pool: int) -> bool:
    """True when a pool costs fewer multiplications than ``count`` separate powers (one power of
    an e-bit exponent: about 1.2 e multiplications with 5-bit windows)."""
    one = exp_bits * 6 // 5
    return count * one > pool * (one + (1 << POOL_DIGIT_BITS) - 2) + count * (pool + 1)


def powers_of_random(draw, exp: mpz, mod: mpz, count: int, group_bits: int, workers: int = 1,
                     sigma: int = DEFAULT_SIGMA) -> list[mpz]:
    """``count`` values distributed (within ``2^-sigma``) as ``x^exp mod mod`` for independent
    ``x`` uniform in a finite abelian group G of order < ``2^group_bits`` whose subgroup of
    elements of order dividing o has at most o^2 elements, for every o (``draw()`` returns one
    uniform element of G: here ``Z*_n``, or ``Z*_p``, cyclic).

    Few values: ``draw()^exp`` each (:func:`powmod_many`). Many: a pool of P fresh ``u_j =
    g_j^exp`` (``g_j = draw()``, P = :func:`pool_size`) and ``prod_j u_j^(d_ij)`` with digits
    ``d_ij`` uniform in ``[0, 2^8)`` from :func:`os.urandom`: the root ``x_i = prod_j g_j^(d_ij)``
    then replaces a uniform x (``(prod g_j^d)^exp = prod u_j^d``). One value costs P + 1
    multiplications (one 8-bit window per base; the tables are shared) instead of ~1.2 log2(exp):
    for r^n with a 2048-bit n and 6,144 values, 276 instead of ~2,450.

    Why the roots are close to uniform (a leftover-hash argument by Fourier analysis over G):
    for a character chi of order o, ``E_g |E_d chi(prod g_j^(d_j))|^2 = prod_j Pr[d ≡ d' mod o]
    <= (1/o + 2^-8)^P``. Characters of order o >= 2^18 contribute at most ``|G| (2^-8 (1 +
    2^-10))^P <= 1.4 |G| 2^(-8P)`` in all; the at most 2^54 of smaller order at most
    ``2^54 (1/2 + 2^-8)^P``, negligible for P >= 150. With Cauchy-Schwarz and Parseval one root's
    statistical distance eps(g) from uniform has ``E_g[eps^2] <= |G| 2^(-8P)`` (up to a small
    factor), so by Markov ``count * eps <= 2^-sigma`` except with probability
    ``2^(group_bits + 2 sigma + 2 log2(count) + 1 - 8P) <= 2^-sigma`` over the pool; given the
    pool the roots are independent. So all ``count`` values together are within ``2^-sigma +
    2^-sigma`` of independent uniform ones: statistical, no assumption beyond the scheme's."""
    if count <= 0:
        return []
    pool = pool_size(group_bits, count, sigma)
    if not pool_pays(count, mpz(exp).bit_length(), pool):
        return powmod_many([draw() for _ in range(count)], exp, mod, workers)
    bases = powmod_many([draw() for _ in range(pool)], exp, mod, workers)
    digits = np.frombuffer(os.urandom(count * pool), dtype=np.uint8).reshape(count, pool)
    return multiexp(mod, bases, digits, POOL_DIGIT_BITS, POOL_DIGIT_BITS, workers=workers)


def _random_prime(bits: int) -> mpz:
    """A random prime of exactly ``bits`` bits whose top two bits are set."""
    while True:
        x = mpz(secrets.randbits(bits)) | (mpz(3) << (bits - 2)) | 1
        p = gmpy2.next_prime(x)
        if p.bit_length() == bits and gmpy2.is_prime(p, _PRIME_REPS):
            return p


def generate_keypair(bits: int = DEFAULT_BITS) -> PrivateKey:
    """A fresh key pair with an n of exactly ``bits`` bits (even, >= :data:`MIN_TEST_BITS`).

    Use the default 2048 (or more) for anything real; smaller sizes are for functional tests."""
    if not isinstance(bits, int) or bits < MIN_TEST_BITS or bits % 2:
        raise ConfigError(f"bits: expected an even integer >= {MIN_TEST_BITS}, got {bits!r}")
    while True:
        p = _random_prime(bits // 2)
        q = _random_prime(bits // 2)
        if p == q:
            continue
        n = p * q
        if n.bit_length() == bits and gmpy2.gcd(n, (p - 1) * (q - 1)) == 1:
            return PrivateKey(p, q)


def _with_noise(pub: PublicKey, ms: list[mpz], noise: list[mpz]) -> list[mpz]:
    """``(1 + m n) z mod n^2`` for the plaintexts ``ms`` and randomisers ``noise``, written over
    ``noise`` (memory: no second list of ciphertexts)."""
    n, n2 = pub.n, pub.n2
    for i, m in enumerate(ms):
        noise[i] = (1 + m * n) * noise[i] % n2
    return noise


class PublicKey:
    """Paillier public key ``n`` (generator n + 1)."""

    __slots__ = ("n", "n2", "bits", "ct_bytes")

    def __init__(self, n: int) -> None:
        self.n = mpz(n)
        self.n2 = self.n * self.n
        self.bits = self.n.bit_length()
        self.ct_bytes = (self.n2.bit_length() + 7) // 8

    def __repr__(self) -> str:
        return f"PublicKey(bits={self.bits})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and self.n == other.n

    def __hash__(self) -> int:
        return hash(int(self.n))

    # -- encryption
    def _check_plain(self, m: int) -> mpz:
        m = mpz(m)
        if not 0 <= m < self.n:
            raise InputError(f"plaintext: expected 0 <= m < n ({self.bits}-bit n)")
        return m

    def random_unit(self) -> mpz:
        """Uniform element of Z*_n (from :mod:`secrets`)."""
        while True:
            r = mpz(_random_below(int(self.n) - 1) + 1)
            if gmpy2.gcd(r, self.n) == 1:
                return r

    def noise(self, count: int, workers: int = 1) -> list[mpz]:
        """``count`` fresh ``r^n mod n^2`` (the randomisers; GIL released during the powmods), r
        uniform in Z*_n: many at once from a pool (:func:`powers_of_random`, within 2^-40)."""
        return powers_of_random(self.random_unit, self.n, self.n2, count, self.bits, workers)

    def encrypt(self, m: int, r: int | None = None) -> mpz:
        """``Enc(m; r) = (1 + m n) r^n mod n^2``; ``r`` fresh from :mod:`secrets` unless given."""
        m = self._check_plain(m)
        r = self.random_unit() if r is None else mpz(r)
        return (1 + m * self.n) * gmpy2.powmod(r, self.n, self.n2) % self.n2

    def encrypt_many(self, ms: Sequence[int], workers: int = 1) -> list[mpz]:
        ms = [self._check_plain(m) for m in ms]
        return _with_noise(self, ms, self.noise(len(ms), workers))

    # -- homomorphic operations
    def add(self, c1: mpz, c2: mpz) -> mpz:
        """Enc(a), Enc(b) -> Enc(a + b mod n)."""
        return c1 * c2 % self.n2

    def add_plain(self, c: mpz, m: int) -> mpz:
        """Enc(a), m -> Enc(a + m mod n) (not re-randomised)."""
        return c * (1 + (mpz(m) % self.n) * self.n) % self.n2

    def mul(self, c: mpz, k: int) -> mpz:
        """Enc(a), k -> Enc(k a mod n); negative k is taken modulo n."""
        return gmpy2.powmod(c, mpz(k) % self.n, self.n2)

    def rerandomize(self, c: mpz) -> mpz:
        return c * self.noise(1)[0] % self.n2

    # -- validation and bytes
    def validate(self, c: int) -> mpz:
        """``c`` as an mpz if it lies in Z*_{n^2}, else ProtocolError."""
        return self.validate_many([c])[0]

    def validate_many(self, cs) -> list[mpz]:
        """``cs`` as mpz values if every one lies in Z*_{n^2}, else ProtocolError. One gcd for all:
        a prime dividing n divides ``prod c mod n`` exactly when it divides one of the c (any n),
        so ``gcd(prod c mod n, n) = 1`` iff every c is a unit; the range is checked per value."""
        out = [mpz(c) for c in cs]
        n, n2, prod = self.n, self.n2, mpz(1)
        for c in out:
            if not 0 < c < n2:
                break
            prod = prod * c % n
        else:
            if gmpy2.gcd(prod, n) == 1:
                return out
        raise ProtocolError(f"paillier: ciphertext not in Z*_(n^2) ({self.bits}-bit n)")

    def to_bytes(self) -> bytes:
        return int(self.n).to_bytes((self.bits + 7) // 8, "big")

    @classmethod
    def from_bytes(cls, data: bytes, bits: int) -> PublicKey:
        """The public key in ``data``, required to be a ``bits``-bit odd non-square: else ProtocolError."""
        if len(data) != (bits + 7) // 8:
            raise ProtocolError(f"paillier: public key of {len(data)} bytes, expected {(bits + 7) // 8}")
        n = mpz(int.from_bytes(data, "big"))
        if n.bit_length() != bits or not n & 1 or gmpy2.is_square(n):
            raise ProtocolError(f"paillier: public key is not a {bits}-bit odd non-square modulus")
        return cls(n)


class PrivateKey:
    """Paillier secret key ``(p, q)`` with its CRT constants; ``.public`` is the public key."""

    __slots__ = ("public", "_p", "_q", "_p2", "_q2", "_hp", "_hq", "_qinv_p", "_q2inv_p2")

    def __init__(self, p: int, q: int) -> None:
        p, q = mpz(p), mpz(q)
        if p == q or p < 3 or q < 3:
            raise ConfigError("paillier: p and q must be distinct odd primes")
        self.public = PublicKey(p * q)
        n = self.public.n
        if gmpy2.gcd(n, (p - 1) * (q - 1)) != 1:
            raise ConfigError("paillier: gcd(n, (p-1)(q-1)) != 1")
        self._p, self._q = p, q
        self._p2, self._q2 = p * p, q * q
        g = n + 1
        self._hp = gmpy2.invert((gmpy2.powmod(g, p - 1, self._p2) - 1) // p, p)
        self._hq = gmpy2.invert((gmpy2.powmod(g, q - 1, self._q2) - 1) // q, q)
        self._qinv_p = gmpy2.invert(q, p)
        self._q2inv_p2 = gmpy2.invert(self._q2, self._p2)

    def __repr__(self) -> str:  # never show p or q
        return f"PrivateKey(bits={self.public.bits})"

    def _crt_mod_n(self, mp: mpz, mq: mpz) -> mpz:
        return mq + self._q * ((mp - mq) * self._qinv_p % self._p)

    def decrypt(self, c: int) -> mpz:
        return self.decrypt_many([c])[0]

    def decrypt_many(self, cs: Sequence[int], workers: int = 1) -> list[mpz]:
        """Plaintexts of ``cs`` (each validated: ProtocolError if not in Z*_{n^2}), by CRT."""
        cs = self.public.validate_many(cs)
        if not cs:
            return []
        p, q, p2, q2 = self._p, self._q, self._p2, self._q2
        xp = powmod_many([c % p2 for c in cs], p - 1, p2, workers)
        xq = powmod_many([c % q2 for c in cs], q - 1, q2, workers)
        return [
            self._crt_mod_n((a - 1) // p * self._hp % p, (b - 1) // q * self._hq % q)
            for a, b in zip(xp, xq, strict=True)
        ]

    def noise(self, count: int, workers: int = 1) -> list[mpz]:
        """``count`` fresh uniform n-th residues modulo n^2, by CRT (key holder only).

        Modulo p^2 the n-th residues are the subgroup of order p - 1 (Z*_{p^2} is cyclic of order
        p(p-1) and gcd(n/p, p-1) = 1), which is also the image of ``y -> y^p``; that image depends
        only on ``y mod p``. So ``y^p mod p^2`` for ``y`` uniform in ``[1, p)`` is uniform on it,
        as ``r^n`` is: a half-size exponentiation with a half-size exponent, the same for q. Many
        at once come from a pool per prime (:func:`powers_of_random`; Z*_p is cyclic)."""
        if count <= 0:
            return []
        p, q, p2, q2 = self._p, self._q, self._p2, self._q2
        xp = powers_of_random(lambda: mpz(_random_below(int(p) - 1) + 1), p, p2, count, p.bit_length(), workers)
        xq = powers_of_random(lambda: mpz(_random_below(int(q) - 1) + 1), q, q2, count, q.bit_length(), workers)
        for i, b in enumerate(xq):  # CRT in place (memory: one list of results, not three)
            xp[i] = b + q2 * ((xp[i] - b) * self._q2inv_p2 % p2)
            xq[i] = None
        return xp

    def encrypt_many(self, ms: Sequence[int], workers: int = 1) -> list[mpz]:
        """Encryptions of ``ms`` under the own key, randomisers by CRT (same distribution as
        :meth:`PublicKey.encrypt_many`)."""
        pub = self.public
        ms = [pub._check_plain(m) for m in ms]
        return _with_noise(pub, ms, self.noise(len(ms), workers))


# ----------------------------------------------------------------------------------------------
# slot packing


@dataclass(frozen=True)
class SlotLayout:
    """Slots of ``slot_bits`` bits, ``slots`` per plaintext, for masked inner products.

    ``value_bits`` bounds the unmasked slot content (< 2^value_bits), ``mask_bits`` = value_bits +
    sigma is the mask width, and ``slot_bits`` = mask_bits + 1 (the bound in the module doc)."""

    value_bits: int
    sigma: int
    slot_bits: int
    slots: int

    @classmethod
    def for_inner_products(cls, plain_bits: int, k: int, in_bits: int = 64, sigma: int = DEFAULT_SIGMA,
                           exp_bits: int | None = None) -> SlotLayout:
        """Layout for sums of ``k`` products of an ``in_bits``-bit value (the plaintext) and an
        ``exp_bits``-bit one (the exponent; ``in_bits`` unless given) under a ``plain_bits``-bit
        modulus: ``value_bits = in_bits + exp_bits + ceil(log2 k)`` (the module doc's bound with
        ``2^exp_bits`` for one factor); ConfigError when not even one slot fits."""
        exp_bits = in_bits if exp_bits is None else exp_bits
        if k < 1 or in_bits < 1 or exp_bits < 1 or sigma < 0:
            raise ConfigError(f"slot layout: need k >= 1, in_bits >= 1, exp_bits >= 1, sigma >= 0 "
                              f"(got {k}, {in_bits}, {exp_bits}, {sigma})")
        value_bits = in_bits + exp_bits + (k - 1).bit_length()  # + ceil(log2 k)
        slot_bits = value_bits + sigma + 1
        slots = (plain_bits - 1) // slot_bits
        if slots < 1:
            raise ConfigError(
                f"slot layout: a {plain_bits}-bit modulus cannot hold one {slot_bits}-bit slot "
                f"(k = {k}, sigma = {sigma}); use a larger key"
            )
        return cls(value_bits, sigma, slot_bits, slots)

    @property
    def mask_bits(self) -> int:
        return self.value_bits + self.sigma

    def pack(self, values: Sequence[int]) -> mpz:
        """``sum_j values[j] * 2^(j * slot_bits)``; each value must be < 2^slot_bits."""
        if len(values) > self.slots:
            raise InputError(f"pack: {len(values)} values for {self.slots} slots")
        w, out = self.slot_bits, mpz(0)
        for v in reversed(values):
            v = mpz(v)
            if not 0 <= v < 1 << w:
                raise InputError(f"pack: a value outside [0, 2^{w})")
            out = (out << w) | v
        return out

    def unpack(self, m: int, count: int | None = None) -> list[mpz]:
        count = self.slots if count is None else count
        if not 0 <= count <= self.slots:
            raise InputError(f"unpack: {count} values from {self.slots} slots")
        w, mask, m = self.slot_bits, (mpz(1) << self.slot_bits) - 1, mpz(m)
        return [(m >> (j * w)) & mask for j in range(count)]


# ----------------------------------------------------------------------------------------------
# many scalar products with the same ciphertexts


def best_window(rows: int, exp_bits: int = 64) -> int:
    """The Straus window minimising multiplications per ciphertext for ``rows`` exponent rows:
    ``2^w - 2`` to build the table plus ``rows * ceil(exp_bits / w)`` to use it (w <= 10)."""
    return min(range(1, 11), key=lambda w: ((1 << w) - 2 + rows * -(-exp_bits // w), w))


def multi_scalar_products(
    pub: PublicKey, cts: Sequence[mpz], exps: Sequence[Sequence[int]], exp_bits: int = 64,
    window: int | None = None, table_budget: int = TABLE_BUDGET, workers: int = 1,
) -> list[mpz]:
    """``[prod_l cts[l]^(exps[i][l]) mod n^2 for i]``: Enc(sum_l e_il x_l) for every row i
    (:func:`multiexp` modulo ``pub.n2``)."""
    return multiexp(pub.n2, cts, exps, exp_bits, window, table_budget, workers)


def multiexp(
    mod: mpz, bases: Sequence[mpz], exps: Sequence[Sequence[int]], exp_bits: int = 64,
    window: int | None = None, table_budget: int = TABLE_BUDGET, workers: int = 1,
) -> list[mpz]:
    """``[prod_l bases[l]^(exps[i][l]) mod mod for i]`` for an odd ``mod``.

    Exponents are integers in ``[0, 2^exp_bits)``. Straus' method with one window table per
    base, shared by all rows (module doc); tables are built for chunks of bases holding at most
    ``table_budget`` bytes. By the compiled kernel when available (:func:`montgomery_kernel`;
    ``workers`` threads take a share of the rows each), else by gmpy2, where ``workers`` > 1
    splits the rows over threads that share the tables and run with ``allow_release_gil``."""
    mod = mpz(mod)
    k = len(bases)
    w = window or best_window(len(exps), exp_bits)
    if not 1 <= w <= 16:
        raise ConfigError(f"window: expected 1..16, got {w}")
    mont = montgomery_kernel()
    if mont is not None and exp_bits <= 64 and w <= 12 and mod > 1 and mod & 1:
        return _multiexp_compiled(mont, mod, bases, exps, exp_bits, w, table_budget, workers)
    digits = _digits(exps, k, exp_bits, w)
    m = len(digits)
    if m == 0:
        return []
    chunk = max(1, table_budget // ((1 << w) * ((mod.bit_length() + 7) // 8) * 2))
    acc = [mpz(1)] * m
    for lo in range(0, k, chunk):
        hi = min(k, lo + chunk)
        tables = []
        for c in bases[lo:hi]:
            t = [mpz(1), c]
            for _ in range(2, 1 << w):
                t.append(t[-1] * c % mod)
            tables.append(t)
        _straus_rows(acc, digits, tables, lo, hi, w, mod, workers)
    return acc


def _exponent_array(exps, k: int, exp_bits: int) -> np.ndarray:
    """The exponents as an (m, k) uint64 (or, for exp_bits <= 8, uint8) array, each checked to
    lie in [0, 2^exp_bits)."""
    if isinstance(exps, np.ndarray) and (exps.dtype == np.uint64 or (exps.dtype == np.uint8 and exp_bits <= 8)):
        if exps.ndim != 2 or exps.shape[1] != k:
            raise InputError(f"multi_scalar_products: exponents of shape {exps.shape}, expected (m, {k})")
        arr = exps
    else:
        rows = [[int(e) for e in row] for row in exps]
        if any(len(row) != k for row in rows):
            raise InputError(f"multi_scalar_products: every exponent row needs {k} entries")
        if any(not 0 <= e < 1 << exp_bits for row in rows for e in row):
            raise InputError(f"multi_scalar_products: an exponent outside [0, 2^{exp_bits})")
        arr = np.array(rows, dtype=np.uint64).reshape(len(rows), k)
    if exp_bits < 64 and arr.size and int(arr.max()) >> exp_bits:
        raise InputError(f"multi_scalar_products: an exponent outside [0, 2^{exp_bits})")
    return np.ascontiguousarray(arr)


def _multiexp_compiled(mont, mod: mpz, cts, exps, exp_bits: int, w: int, table_budget: int,
                       workers: int) -> list[mpz]:
    """:func:`multiexp` by the compiled kernel: the rows split over ``workers``
    threads (each builds its own tables: ``2^w - 2`` products per ciphertext, small beside
    ``ceil(64 / w)`` per row and ciphertext once a thread has a few rows)."""
    arr = _exponent_array(exps, len(cts), exp_bits)
    m = arr.shape[0]
    if m == 0:
        return []
    cts = list(cts)
    if workers <= 1 or m < 2 * workers:
        return mont.multiexp(cts, arr, mod, w, exp_bits, table_budget)
    with ThreadPoolExecutor(workers) as ex:
        parts = list(ex.map(lambda r: mont.multiexp(cts, arr[r[0]:r[1]], mod, w, exp_bits, table_budget),
                            _split(m, workers)))
    return [x for part in parts for x in part]


def _straus_rows(acc: list[mpz], digits, tables, lo: int, hi: int, w: int, n2: mpz, workers: int) -> None:
    """acc[i] *= prod_{l in [lo, hi)} c_l^(e_il) for every row i, from the window tables."""
    shift = mpz(1) << w

    def rows(start: int, stop: int) -> None:
        with gmpy2.context(allow_release_gil=workers > 1):
            for i in range(start, stop):
                x = mpz(1)
                for t, drow in enumerate(digits[i]):
                    if t:
                        x = gmpy2.powmod(x, shift, n2)
                    for d, tab in zip(drow[lo:hi], tables):  # noqa: B905 - equal lengths by construction
                        if d:
                            x = x * tab[d] % n2
                acc[i] = acc[i] * x % n2

    m = len(acc)
    if workers <= 1 or m < 2:
        rows(0, m)
        return
    step = -(-m // workers)
    with ThreadPoolExecutor(workers) as ex:
        for f in [ex.submit(rows, i, min(m, i + step)) for i in range(0, m, step)]:
            f.result()


def _digits(exps, k: int, exp_bits: int, w: int) -> list[list[list[int]]]:
    """``out[i][t][l]``: window t (most significant first) of exponent ``exps[i][l]``."""
    nwin = -(-exp_bits // w)
    if isinstance(exps, np.ndarray) and exps.dtype == np.uint8:
        exps = exps.astype(np.uint64)
    if isinstance(exps, np.ndarray) and exps.dtype == np.uint64 and exp_bits <= 64:
        if exps.ndim != 2 or exps.shape[1] != k:
            raise InputError(f"multi_scalar_products: exponents of shape {exps.shape}, expected (m, {k})")
        if exp_bits < 64 and exps.size and int(exps.max()) >> exp_bits:
            raise InputError(f"multi_scalar_products: an exponent outside [0, 2^{exp_bits})")
        shifts = np.array([w * t for t in range(nwin - 1, -1, -1)], dtype=np.uint64)
        d = (exps[:, None, :] >> shifts[None, :, None]) & np.uint64((1 << w) - 1)
        return d.tolist()
    out = []
    for row in exps:
        if len(row) != k:
            raise InputError(f"multi_scalar_products: every exponent row needs {k} entries")
        es = [int(e) for e in row]
        if any(not 0 <= e < 1 << exp_bits for e in es):
            raise InputError(f"multi_scalar_products: an exponent outside [0, 2^{exp_bits})")
        out.append([[(e >> (w * t)) & ((1 << w) - 1) for e in es] for t in range(nwin - 1, -1, -1)])
    return out


# ----------------------------------------------------------------------------------------------
# bytes


def ciphertexts_to_bytes(pub: PublicKey, cts: Sequence[int], prefix: bytes = b"") -> bytearray:
    """``prefix``, then the fixed-width big-endian encoding, ``pub.ct_bytes`` bytes per
    ciphertext: one buffer filled in place (no per-ciphertext copies alive at once)."""
    width, start = pub.ct_bytes, len(prefix)
    out = bytearray(start + len(cts) * width)
    out[:start] = prefix
    for i, c in enumerate(cts):
        out[start + i * width:start + (i + 1) * width] = mpz(c).to_bytes(width, "big")
    return out


def ciphertexts_from_bytes(pub: PublicKey, data: bytes, count: int) -> list[mpz]:
    """``count`` validated ciphertexts from ``data`` (ProtocolError on a wrong length or a value
    outside Z*_{n^2})."""
    width = pub.ct_bytes
    if len(data) != count * width:
        raise ProtocolError(f"paillier: {len(data)} bytes of ciphertexts, expected {count} x {width}")
    mv = memoryview(data)
    return pub.validate_many([mpz.from_bytes(mv[i * width:(i + 1) * width], "big") for i in range(count)])
