"""The wire format: a fixed header followed by one raw array buffer. Never pickle.

Layout (little-endian): a header of 32 bytes plus 8 per dimension (32 for a 0-d array, 40 for a
1-d array, 48 for a matrix), then the payload::

    offset size field
    0      3    magic b"TSR"
    3      1    version (1)
    4      8    session id (u64): both ends must belong to the same run
    12     2    sender party id (u16; on a dealer link the dealer is 0 and the party 1)
    14     1    dtype code (see DTYPES)
    15     1    ndim (0..8)
    16     8    tag (u64): the operation counter all parties advance identically
    24     8    payload length in bytes (u64)
    32     8*ndim shape

The payload is the array's C-order bytes; its length must equal prod(shape) * itemsize. Any
mismatch, an unknown dtype, a wrong magic/version or a truncated header is a ProtocolError.
Checking session, sender and tag against what the receiver expects is the channel's job.
"""

from __future__ import annotations

import math
import struct
from typing import NamedTuple

import numpy as np

from mpc.errors import ProtocolError

MAGIC = b"TSR"
VERSION = 1
MAX_NDIM = 8
_FIXED = struct.Struct("<3sBQHBBQQ")
HEADER_BYTES = _FIXED.size  # 32: the fixed part; the shape adds 8 bytes per dimension

DTYPES: dict[int, np.dtype] = {
    1: np.dtype(np.uint64),
    2: np.dtype(np.uint8),
    3: np.dtype(np.int64),
    4: np.dtype(np.float64),
}
_CODES = {dt: code for code, dt in DTYPES.items()}
# the whole header for each ndim, packed and unpacked in one call
_STRUCTS = [struct.Struct(f"<3sBQHBBQQ{ndim}Q") for ndim in range(MAX_NDIM + 1)]


class Header(NamedTuple):  # a tuple: built on every receive, so cheap to construct
    session: int
    sender: int
    tag: int
    dtype: np.dtype
    shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def encode_header(session: int, sender: int, tag: int, arr: np.ndarray) -> bytes:
    """Header bytes for sending ``arr`` (which must be C-contiguous)."""
    code = _CODES.get(arr.dtype)
    if code is None:
        raise ProtocolError(f"cannot send arrays of dtype {arr.dtype}; supported: {sorted(map(str, _CODES))}")
    if arr.ndim > MAX_NDIM:
        raise ProtocolError(f"cannot send arrays of more than {MAX_NDIM} dimensions (got {arr.ndim})")
    return _STRUCTS[arr.ndim].pack(MAGIC, VERSION, session, sender, code, arr.ndim, tag, arr.nbytes, *arr.shape)


def declared_nbytes(buf: bytes) -> int:
    """The payload length a header claims, unchecked (0 for a buffer too short to say); the
    full checks are :func:`decode_header`'s."""
    return _FIXED.unpack_from(buf)[-1] if len(buf) >= HEADER_BYTES else 0


def decode_header(buf: bytes | memoryview) -> Header:
    """Parse and validate header bytes; raises ProtocolError on anything malformed."""
    if not isinstance(buf, bytes):
        buf = memoryview(buf).cast("B")
    if len(buf) < HEADER_BYTES:
        raise ProtocolError(f"truncated frame header: {len(buf)} bytes, need at least {HEADER_BYTES}")
    magic, version, session, sender, code, ndim, tag, nbytes = _FIXED.unpack_from(buf)
    if len(buf) == HEADER_BYTES + 8 * ndim and ndim <= MAX_NDIM and magic == MAGIC and version == VERSION:
        # the common case in one unpack; every check of the slow path below still applies
        dtype = DTYPES.get(code)
        shape = _STRUCTS[ndim].unpack(buf)[8:]
        count = math.prod(shape)
        if dtype is not None and count * dtype.itemsize == nbytes and 0 < nbytes < 1 << 62:
            return Header(session, sender, tag, dtype, shape)
    if magic != MAGIC:
        raise ProtocolError("frame does not start with the Tessera magic bytes")
    if version != VERSION:
        raise ProtocolError(f"wire version {version} is not supported (this build speaks {VERSION})")
    if code not in DTYPES:
        raise ProtocolError(f"unknown dtype code {code} in frame header")
    if ndim > MAX_NDIM:
        raise ProtocolError(f"frame header claims {ndim} dimensions (at most {MAX_NDIM})")
    if len(buf) != HEADER_BYTES + 8 * ndim:
        raise ProtocolError(f"frame header is {len(buf)} bytes, expected {HEADER_BYTES + 8 * ndim} for {ndim} dims")
    shape = struct.unpack_from(f"<{ndim}Q", buf, HEADER_BYTES)
    header = Header(session, sender, tag, DTYPES[code], tuple(shape))
    itemsize = header.dtype.itemsize
    if math.prod(shape) * itemsize != nbytes or math.prod(max(s, 1) for s in shape) * itemsize >= 1 << 62:
        raise ProtocolError(f"frame header shape {shape} does not match its declared payload of {nbytes} bytes")
    return header


def decode_payload(header: Header, payload) -> np.ndarray:
    """The array a frame carries, checked against its header (read-only view, no copy)."""
    try:  # the common case: a byte buffer of exactly the declared size
        arr = np.frombuffer(payload, dtype=header.dtype)
        # its size in bytes: len() of an array or a view (an in-process channel hands over the
        # sent array itself) counts its first axis only
        size = payload.nbytes if isinstance(payload, (np.ndarray, memoryview)) else len(payload)
        if arr.size * header.dtype.itemsize == size:  # not a 'B' view of another format
            return arr.reshape(header.shape)
    except (ValueError, TypeError):
        pass  # wrong length (or an odd buffer): the checks below say what is wrong
    view = memoryview(payload)
    if view.nbytes != header.nbytes:
        raise ProtocolError(
            f"frame payload is {view.nbytes} bytes but its header says {header.nbytes} "
            f"({header.shape} of {header.dtype})"
        )
    return np.frombuffer(view.cast("B") if view.nbytes else b"", dtype=header.dtype).reshape(header.shape)
