"""The dealer link protocol: messages between the trusted dealer and one party.

Each party has its own 2-party link to the dealer (a Channel with the dealer as pid 0 and the
party as pid 1). Messages are uint64 arrays in the Tessera wire format (never pickled):

1. At start, on every link: dealer -> party, a uint8 array of 16 bytes: the seed k_i.
2. Online, on party n-1's link only, one exchange per batch (same tag both ways):
   party -> dealer ``[REQUEST, count, (kind_code, nparams, *params) * count]``;
   dealer -> party the flat uint64 corrections of the batch, in request order.
   Kind codes: 1 triple, 2 square, 3 matmul, 4 trunc, 5 div, 6 bit_triple (params (nwords,),
   correction nwords words), 7 dabit (params (count,), correction count ring elements), 8 bitmul
   (params (count,), corrections 2 * count ring elements: r, then r*a).
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
        words += [_CODES[r.kind], len(r.params), *r.params]
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
        code, count = words[pos], words[pos + 1]
        params = words[pos + 2 : pos + 2 + count]
        if code not in _KINDS or len(params) != count or count > 16:
            raise ProtocolError("dealer: malformed request item")
        try:
            reqs.append(normalize((_KINDS[code], tuple(params))))
        except ConfigError as exc:
            raise ProtocolError(f"dealer: invalid request item ({exc})") from None
        pos += 2 + count
    if pos != len(words):
        raise ProtocolError("dealer: trailing words after the last request item")
    return reqs
