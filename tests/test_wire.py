"""The wire format under fuzzing, and the receive-side checks of the Channel base class."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mpc.errors import ProtocolError
from mpc.net import wire
from mpc.net.local import LocalHub

SESSION = 0x5E55

dtypes = st.sampled_from(sorted(wire.DTYPES.values(), key=str))
shapes = st.integers(0, wire.MAX_NDIM).flatmap(lambda nd: st.tuples(*[st.integers(0, 3)] * nd))
u64 = st.integers(0, 2**64 - 1)


def random_array(dtype: np.dtype, shape: tuple[int, ...], seed: int) -> np.ndarray:
    raw = np.frombuffer(
        np.random.default_rng(seed).bytes(int(np.prod(shape)) * dtype.itemsize), dtype=np.uint8
    )
    return raw.view(dtype).reshape(shape)


def decode_or_protocol_error(header_bytes: bytes, payload: bytes) -> None:
    """Decoding may fail, but only with ProtocolError; what decodes is self-consistent."""
    try:
        header = wire.decode_header(header_bytes)
    except ProtocolError:
        return
    assert header.dtype in wire.DTYPES.values()
    assert len(header.shape) <= wire.MAX_NDIM
    try:
        arr = wire.decode_payload(header, payload)
    except ProtocolError:
        return
    assert arr.shape == header.shape and arr.dtype == header.dtype
    assert arr.nbytes == len(payload)


# ---------------------------------------------------------------------- round trip


@given(
    dtype=dtypes,
    shape=shapes,
    session=u64,
    sender=st.integers(0, 0xFFFF),
    tag=u64,
    seed=st.integers(0, 2**32),
)
def test_round_trip_all_dtypes_and_ranks(dtype, shape, session, sender, tag, seed):
    arr = random_array(dtype, shape, seed)
    raw = wire.encode_header(session, sender, tag, arr)
    assert len(raw) == wire.HEADER_BYTES + 8 * arr.ndim
    header = wire.decode_header(raw)
    assert header == wire.Header(session, sender, tag, dtype, shape)
    assert header.nbytes == arr.nbytes
    out = wire.decode_payload(header, arr.tobytes())
    assert out.dtype == dtype and out.shape == shape
    assert out.tobytes() == arr.tobytes()  # bitwise (NaNs included)


@pytest.mark.parametrize("ndim", range(wire.MAX_NDIM + 1))
@pytest.mark.parametrize("dtype", sorted(wire.DTYPES.values(), key=str))
def test_round_trip_every_dtype_and_ndim(dtype, ndim):
    shape = tuple(range(2, 2 + ndim)) if ndim <= 4 else (2, 1) * (ndim // 2) + (3,) * (ndim % 2)
    arr = random_array(dtype, shape, ndim)
    header = wire.decode_header(wire.encode_header(SESSION, 1, 99, arr))
    out = wire.decode_payload(header, memoryview(arr.tobytes()))
    assert out.shape == arr.shape and out.tobytes() == arr.tobytes()
    assert not out.flags.writeable


@pytest.mark.parametrize("shape", [(0,), (2, 0), (0, 3), (2, 0, 2), (3, 2), (2, 3, 2)])
def test_an_array_handed_over_as_the_payload_decodes(shape):
    """An in-process channel hands the sent array itself over as the payload: its size in bytes,
    not len() (its first axis), is what the header is checked against; empty arrays of any rank
    included (a planar opening of no elements is (2, 0): it used to fail in memoryview.cast)."""
    arr = np.arange(int(np.prod(shape)), dtype=np.uint64).reshape(shape)
    header = wire.decode_header(wire.encode_header(SESSION, 1, 7, arr))
    out = wire.decode_payload(header, arr)
    assert out.shape == shape and out.dtype == np.uint64 and out.tobytes() == arr.tobytes()
    short = np.zeros((2, 1), dtype=np.uint64) if arr.size else np.zeros((2, 1), dtype=np.uint8)
    with pytest.raises(ProtocolError, match="bytes but its header says"):
        wire.decode_payload(header, short)  # another size than the header's is still refused


# ---------------------------------------------------------------------- fuzz


@given(raw=st.binary(max_size=120), payload=st.binary(max_size=64))
def test_random_bytes_raise_only_protocol_error(raw, payload):
    decode_or_protocol_error(raw, payload)


@given(
    tail=st.binary(min_size=wire.HEADER_BYTES - 4, max_size=wire.HEADER_BYTES - 4 + 8 * 10),
    payload=st.binary(max_size=64),
)
def test_random_bytes_after_valid_magic_raise_only_protocol_error(tail, payload):
    decode_or_protocol_error(wire.MAGIC + bytes([wire.VERSION]) + tail, payload)


@example(dtype=np.dtype(np.float64), shape=(0, 0, 0), edits=[(32, 2), (55, 8)], cut=0, seed=0)
@given(
    dtype=dtypes,
    shape=shapes,
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=6),
    cut=st.integers(-8, 16),
    seed=st.integers(0, 2**32),
)
def test_mutated_headers_raise_only_protocol_error(dtype, shape, edits, cut, seed):
    arr = random_array(dtype, shape, seed)
    raw = bytearray(wire.encode_header(SESSION, 0, 7, arr))
    for pos, value in edits:
        raw[pos % len(raw)] = value
    if cut < 0:
        raw = raw[:cut]
    elif cut > 8:
        raw += bytes(cut)
    decode_or_protocol_error(bytes(raw), arr.tobytes())


@given(dtype=dtypes, shape=shapes, delta=st.integers(-64, 64).filter(bool), seed=st.integers(0, 2**32))
def test_payload_length_mismatch_is_a_protocol_error(dtype, shape, delta, seed):
    arr = random_array(dtype, shape, seed)
    header = wire.decode_header(wire.encode_header(SESSION, 0, 1, arr))
    payload = arr.tobytes()
    payload = payload + bytes(delta) if delta > 0 else payload[: max(0, len(payload) + delta)]
    if len(payload) == arr.nbytes:  # shortening an empty payload leaves it intact
        return
    with pytest.raises(ProtocolError, match="payload is"):
        wire.decode_payload(header, payload)


def _header(*, magic=wire.MAGIC, version=wire.VERSION, code=1, ndim=1, nbytes=8, shape=(1,)):
    fixed = struct.pack("<3sBQHBBQQ", magic, version, SESSION, 0, code, ndim, 1, nbytes)
    return fixed + struct.pack(f"<{len(shape)}Q", *shape)


@pytest.mark.parametrize(
    "raw, match",
    [
        (_header(), None),
        (b"", "truncated"),
        (_header()[:31], "truncated"),
        (_header(magic=b"XYZ"), "magic"),
        (_header(version=2), "version 2"),
        (_header(code=0), "unknown dtype code 0"),
        (_header(code=200), "unknown dtype code 200"),
        (_header(ndim=9, shape=(1,) * 9), "9 dimensions"),
        (_header(ndim=2), "expected 48"),
        (_header() + b"\x00", "expected 40"),
        (_header(nbytes=16), "does not match"),
        (_header(shape=(2**62,), nbytes=0), "does not match"),
        (_header(ndim=2, shape=(2**63, 2**63), nbytes=0), "does not match"),
    ],
)
def test_each_header_check(raw, match):
    if match is None:
        assert wire.decode_header(raw).shape == (1,)
        return
    with pytest.raises(ProtocolError, match=match):
        wire.decode_header(raw)


@pytest.mark.parametrize(
    "code, shape",
    [(2, (2**32, 2**32)), (4, (2, 0, 2**59)), (2, (0, 2**61, 2**61))],
)
def test_shapes_numpy_cannot_build_are_rejected(code, shape):
    """Shapes whose size wraps around in int64, or zero-size shapes with a huge dimension.

    wire.decode_header must reject them (fails until wire.py computes sizes with math.prod on
    Python ints and bounds math.prod(max(s, 1) for s in shape) * itemsize).
    """
    raw = _header(code=code, ndim=len(shape), shape=shape, nbytes=0)
    with pytest.raises(ProtocolError):
        wire.decode_payload(wire.decode_header(raw), b"")


def test_encode_rejects_what_the_wire_cannot_carry():
    with pytest.raises(ProtocolError, match="dtype float32"):
        wire.encode_header(SESSION, 0, 1, np.zeros(2, dtype=np.float32))
    with pytest.raises(ProtocolError, match="more than 8"):
        wire.encode_header(SESSION, 0, 1, np.zeros((1,) * 9, dtype=np.uint64))


# ---------------------------------------------------------------------- channel checks


def push(hub: LocalHub, src: int, dst: int, header: bytes, payload) -> None:
    """Put a hand-made frame into the in-process queue from ``src`` to ``dst``."""
    hub._queues[(src, dst)].put((header, payload))


def frame(arr, *, session=SESSION, sender=0, tag=1):
    arr = np.asarray(arr)
    return wire.encode_header(session, sender, tag, arr), arr.tobytes()


@pytest.fixture
def hub():
    return LocalHub(3, session=SESSION, timeout=1.0)


def test_well_formed_frame_is_received(hub):
    ch = hub.channels()[1]
    push(hub, 0, 1, *frame(np.arange(4, dtype=np.uint64), tag=3))
    got = ch.recv(0, 3, dtype=np.uint64, shape=(4,))
    assert got.tolist() == [0, 1, 2, 3] and not got.flags.writeable


@pytest.mark.parametrize(
    "make, recv_kw, match",
    [
        (lambda: frame(np.zeros(2, np.uint64), tag=2), {}, "expected tag 1, got tag 2"),
        (lambda: frame(np.zeros(2, np.uint64), sender=2), {}, "claims sender 2"),
        (lambda: frame(np.zeros(2, np.uint64), session=SESSION + 1), {}, "another session"),
        (lambda: frame(np.zeros(2, np.int64)), {"dtype": np.uint64}, "expected dtype uint64, got int64"),
        (lambda: frame(np.zeros((2, 2), np.uint64)), {"shape": (4,)}, r"expected shape \(4,\), got \(2, 2\)"),
        (lambda: (b"garbage", b""), {}, "truncated"),
        (lambda: (frame(np.zeros(2, np.uint64))[0], b"\x00" * 3), {}, "payload is 3 bytes"),
    ],
)
def test_channel_rejects_bad_frames(hub, make, recv_kw, match):
    ch = hub.channels()[1]
    push(hub, 0, 1, *make())
    with pytest.raises(ProtocolError, match=match):
        ch.recv(0, 1, **recv_kw)


def test_channel_rejects_bad_peers(hub):
    ch = hub.channels()[1]
    for bad in (1, 3, -1, "0"):
        with pytest.raises(ProtocolError, match="not a peer"):
            ch.recv(bad, 1)
        with pytest.raises(ProtocolError, match="not a peer"):
            ch.send(bad, np.zeros(1, np.uint64), 1)


def test_exchange_checks_dtype_and_shape_of_what_peers_send(hub):
    chans = hub.channels()
    push(hub, 0, 1, *frame(np.zeros(3, np.uint64), tag=1))
    push(hub, 2, 1, *frame(np.zeros(4, np.uint64), sender=2, tag=1))
    with pytest.raises(ProtocolError, match="expected shape"):
        chans[1].exchange(np.zeros(3, np.uint64))
