"""Base oblivious transfer: Chou-Orlandi "simplest OT" in a 2048-bit prime-order group.

Used once per ordered pair of parties to seed the OT extension (:mod:`mpc.crypto.ot_ext`):
128 random OTs whose 16-byte outputs become the extension's base seeds.

Group. G is the subgroup of quadratic residues of Z_p^*, p the 2048-bit safe prime of RFC 3526
(group 14), so |G| = q = (p - 1) / 2 is prime, with generator g = 4 (a square other than 1).
An element travels as 256 big-endian bytes. *Validation*: a received element x must satisfy
1 < x < p - 1 and be a quadratic residue (Legendre symbol (x/p) = 1, by Euler's criterion
exactly the elements of order q); anything else -- out of range, 0, 1, p - 1, a non-residue
(which would leak the sender's exponent mod 2 through a small subgroup) -- raises
:class:`~mpc.errors.ProtocolError` before it is used. Exponents are 256 bits from
``os.urandom`` (twice the 128-bit target: the short-exponent setting of RFC 3526 section 8 and
RFC 7919; a full 2047-bit exponent would cost 8x more and buys no security at this modulus).

Why not X25519 through ``cryptography``: simplest OT needs the group operation itself
(B = A * g^b, and B / A), which an X25519 API does not expose (it only gives the Diffie-Hellman
function on Montgomery u-coordinates, where x(P) does not determine P, so B / A is undefined);
Ristretto and Ed25519 point arithmetic are not exposed either. gmpy2 gives fast modular
exponentiation in a prime-order group, with every operation the protocol needs.

Protocol (m random OTs; the sender S has no input, the receiver R has choice bits c_1..c_m):

1. S draws a, sends A = g^a (one element for the whole batch, as in the paper's batched form).
2. R validates A; for each i draws b_i, sends B_i = g^b_i if c_i = 0 else A * g^b_i, and
   outputs k_i = H(sid, i, A, B_i, A^b_i).
3. S validates every B_i; with T = A^a it outputs k_i^0 = H(sid, i, A, B_i, B_i^a) and
   k_i^1 = H(sid, i, A, B_i, B_i^a / T) (so k_i^c = k_i, since B_i^a / T = (B_i / A)^a).

H is SHA-256 truncated to 16 bytes over the full transcript of the OT (session label, index,
A, B_i): binding the keys to the transcript is the repair of Hauck and Loss ("Efficient and
universally composable protocols for oblivious transfer from the CDH assumption", 2017), who
showed that the original key derivation H(B, C) cannot be simulated in the UC model.

Security (semi-honest, the model of the engines that use it; random oracle H): R's choice is
perfectly hidden (B_i is uniform in G whatever c_i, since g^b_i is); S's other key
k_i^{1-c} = H(..., g^{a b_i} / g^{a^2} or g^{a b_i} * g^{a^2}) needs g^{a^2} given g^a, which is
as hard as CDH in G (Chou and Orlandi, "The simplest protocol for oblivious transfer",
LATINCRYPT 2015, Theorem 1; DDH/CDH in the quadratic residues of a safe-prime group).

Cost: S 1 + m exponentiations, R 2m (about 0.7 ms each here); 256 bytes S -> R and 256 m
bytes R -> S; 1.5 rounds. For m = 128: 32 KiB and about 0.3 s per ordered pair, once per session.

The module does no I/O: the caller (:mod:`mpc.preprocessing.ot_link`) moves the byte arrays.
"""

from __future__ import annotations

import hashlib
import os

import gmpy2
import numpy as np

from mpc.errors import ProtocolError

# RFC 3526, 2048-bit MODP group (group 14): a safe prime, p = 2q + 1 with q prime
P = gmpy2.mpz(int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AACAA68FFFFFFFFFFFFFFFF", 16))
Q = (P - 1) // 2
G = gmpy2.mpz(4)
ELEMENT_BYTES = 256
EXPONENT_BYTES = 32
KEY_BYTES = 16


def _exponent() -> gmpy2.mpz:
    return gmpy2.mpz(int.from_bytes(os.urandom(EXPONENT_BYTES), "big") | 1)  # nonzero


def encode(x: gmpy2.mpz) -> bytes:
    return int(x).to_bytes(ELEMENT_BYTES, "big")


def decode(raw: bytes | np.ndarray, what: str = "group element") -> gmpy2.mpz:
    """A received element, validated: in (1, p - 1) and a quadratic residue, else ProtocolError."""
    data = bytes(raw) if not isinstance(raw, np.ndarray) else raw.tobytes()
    if len(data) != ELEMENT_BYTES:
        raise ProtocolError(f"base OT: {what} must be {ELEMENT_BYTES} bytes, got {len(data)}")
    x = gmpy2.mpz(int.from_bytes(data, "big"))
    if not 1 < x < P - 1 or gmpy2.legendre(x, P) != 1:
        raise ProtocolError(f"base OT: {what} is not an element of the prime-order group")
    return x


def _key(sid: bytes, i: int, a_enc: bytes, b_enc: bytes, shared: gmpy2.mpz) -> bytes:
    h = hashlib.sha256(b"tessera-base-ot\0" + sid + i.to_bytes(4, "big") + a_enc + b_enc + encode(shared))
    return h.digest()[:KEY_BYTES]


class BaseOTSender:
    """The sender's side of one batch (steps 1 and 3)."""

    def __init__(self, sid: bytes) -> None:
        self._sid = bytes(sid)
        self._a = _exponent()
        self.A = gmpy2.powmod(G, self._a, P)

    def first_message(self) -> np.ndarray:
        """Step 1: A, as ``(256,)`` uint8."""
        return np.frombuffer(encode(self.A), dtype=np.uint8).copy()

    def keys(self, msg: np.ndarray) -> list[tuple[bytes, bytes]]:
        """Step 3: from R's ``(m, 256)`` uint8 message, the key pairs (k^0, k^1) of every OT."""
        rows = np.asarray(msg, dtype=np.uint8)
        if rows.ndim != 2 or rows.shape[1] != ELEMENT_BYTES:
            raise ProtocolError("base OT: the receiver's message must be (m, 256) bytes")
        a_enc = encode(self.A)
        t_inv = gmpy2.invert(gmpy2.powmod(self.A, self._a, P), P)
        out = []
        for i, row in enumerate(rows):
            b = decode(row, f"receiver element {i}")
            b_enc = row.tobytes()
            s0 = gmpy2.powmod(b, self._a, P)
            out.append((_key(self._sid, i, a_enc, b_enc, s0), _key(self._sid, i, a_enc, b_enc, s0 * t_inv % P)))
        return out


def receive(sid: bytes, first: np.ndarray, choices: np.ndarray) -> tuple[np.ndarray, list[bytes]]:
    """Step 2: the receiver's ``(m, 256)`` uint8 message and its keys k_i^{c_i}."""
    a = decode(first, "sender element A")
    a_enc = encode(a)
    msg = np.empty((len(choices), ELEMENT_BYTES), dtype=np.uint8)
    keys = []
    for i, c in enumerate(np.asarray(choices).astype(bool)):
        b = _exponent()
        big_b = gmpy2.powmod(G, b, P)
        if c:
            big_b = big_b * a % P
        b_enc = encode(big_b)
        msg[i] = np.frombuffer(b_enc, dtype=np.uint8)
        keys.append(_key(bytes(sid), i, a_enc, b_enc, gmpy2.powmod(a, b, P)))
    return msg, keys
