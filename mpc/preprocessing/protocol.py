"""The dealer link protocol: messages between the trusted dealer and one party.

Each party has its own 2-party link to the dealer (a Channel with the dealer as pid 0 and the
party as pid 1). Messages are uint64 arrays in the Tessera wire format (never pickled):

1. At start, on every link: dealer -> party, a uint8 array of 16 bytes: the seed k_i.
2. Online, on party n-1's link only, one exchange per batch (same tag both ways):
   party -> dealer ``[REQUEST, count, (kind_code, nparams, *params) * count]``, where the
   kind code word also carries the ring (bits 8..15) and the auth flag (bit 16) of the request;
   dealer -> party the flat uint64 corrections of the batch, in request order.
   Kind codes (the order of ``KINDS`` in :mod:`mpc.preprocessing.base`, from 1): 1 triple,
   2 square, 3 matmul, 4 trunc, 5 div, 6 bit_triple (params (nwords,), correction nwords
   words), 7 dabit (params (count,), correction count ring elements), 8 bitmul (params
   (count,), corrections 2 * count ring elements: r, then r*a), 9 tmul (params (k1, k2,
   *shape)), 10 tsquare (params (k, *shape)), 11 rand (params shape), 12 input (params
   (owner, *shape)), 13 edabit (params (count,)). Ring field: 64 (Z_2^64, unauthenticated),
   128 (Z_2^128 with MACs, auth flag set: every arithmetic kind, rand, input, and the daBit,
   bit-injection and edaBit kinds, whose bit words carry GF(2^64) MACs), 1 (GF(2) bits with
   GF(2^64) MACs, auth flag set: bit_triple and input). Authenticated corrections are party
   n-1's derived values and all its MAC shares, in component order
   (:func:`mpc.preprocessing.authenticated.correction_shapes`).
3. At the end, party n-1 -> dealer ``[BYE]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mpc.errors import ConfigError, ProtocolError
from mpc.preprocessing.base import KINDS, Request, normalize

REQUEST = 1
BYE = 2
_CODES = {k: i + 1 for i, k in enumerate(KINDS)}
_KINDS = {v: k for k, v in _CODES.items()}
MAX_ITEMS = 1 << 20


def encode_batch(reqs: Sequence[Request]) -> np.ndarray:
    words = [REQUEST, len(reqs)]
    for r in reqs:
        words += [_CODES[r.kind] | r.ring << 8 | int(r.auth) << 16, len(r.params), *r.params]
    return np.array(words, dtype=np.uint64)


def encode_bye() -> np.ndarray:
    return np.array([BYE], dtype=np.uint64)


def decode(msg: np.ndarray) -> list[Request] | None:
    """The requests of a batch message, or ``None`` for BYE. Malformed input is a ProtocolError."""
    words = [int(w) for w in np.asarray(msg, dtype=np.uint64).ravel()]
    if not words:
        raise ProtocolError("dealer: empty request")
    if words[0] == BYE and len(words) == 1:
        return None
    if words[0] != REQUEST or len(words) < 2 or words[1] > MAX_ITEMS:
        raise ProtocolError("dealer: malformed request header")
    pos, reqs = 2, []
    for _ in range(words[1]):
        if pos + 2 > len(words):
            raise ProtocolError("dealer: truncated request")
        word, count = words[pos], words[pos + 1]
        code, ring, auth = word & 0xFF, (word >> 8) & 0xFF, (word >> 16) & 1
        params = words[pos + 2 : pos + 2 + count]
        if code not in _KINDS or word >> 17 or len(params) != count or count > 16:
            raise ProtocolError("dealer: malformed request item")
        try:
            reqs.append(normalize((_KINDS[code], tuple(params), ring, bool(auth))))
        except ConfigError as exc:
            raise ProtocolError(f"dealer: invalid request item ({exc})") from None
        pos += 2 + count
    if pos != len(words):
        raise ProtocolError("dealer: trailing words after the last request item")
    return reqs
