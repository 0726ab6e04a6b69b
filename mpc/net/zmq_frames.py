"""How a message of :mod:`mpc.net.zmq_channel` is laid out in ZeroMQ frames, and read.

Frames
    A data message is one ZeroMQ frame ``header || payload`` when the payload is under 64 KiB,
    else two frames ``[header, payload]`` with the payload sent zero-copy (ZeroMQ reads the
    array itself). One frame for small messages matters: each ``send`` call costs
    microseconds, and latency-bound protocols send many small messages. The header is
    ``32 + 8 * ndim`` bytes (:mod:`mpc.net.wire`: 40 for a 1-d array); the receiver splits a
    single frame there (ndim is byte 15 of the header). A ROUTER prepends the sender's routing
    id, ``b"P"`` + the party id (2 bytes, big-endian). Control messages (the handshake,
    :mod:`mpc.net.zmq_handshake`) are always two frames. Every payload is received zero-copy:
    the array a receive returns is a read-only view of the ZeroMQ frame.

Polling
    :func:`read` can poll without blocking for up to ``spin`` seconds before it blocks: an
    answer that comes back within it is read without the thread going to sleep and waking up
    cold, which is most of a small message's round trip in Python.
"""

from __future__ import annotations

import time

import zmq

from mpc.errors import ProtocolError
from mpc.net import wire
from mpc.net.channel import SMALL_BYTES

ZERO_COPY_MIN = SMALL_BYTES  # below it, one frame header || payload (a copy is cheaper)


def identity(pid: int) -> bytes:
    """The routing id party ``pid`` connects with."""
    return b"P" + pid.to_bytes(2, "big")


def read(sock: zmq.Socket, flags: int = 0, spin: float = 0.0) -> list[zmq.Frame]:
    """All frames of the next message (the first receive waits up to the socket's RCVTIMEO).

    Frames, not bytes: payloads stay in ZeroMQ's buffers (zero-copy), and ``Frame.more`` is
    cheaper than asking the socket for RCVMORE. ``spin`` > 0 (seconds): poll that long first
    (module docstring).
    """
    first = None
    if spin > 0.0:
        end = time.perf_counter() + spin
        while time.perf_counter() < end:
            try:
                first = sock.recv(zmq.NOBLOCK, copy=False)
                break
            except zmq.Again:
                pass
    frames = [first if first is not None else sock.recv(flags, copy=False)]
    while frames[-1].more:
        frames.append(sock.recv(copy=False))
    return frames


def split(frames: list[zmq.Frame]) -> tuple[bytes, memoryview]:
    """(header, payload) of a message's 1 or 2 frames (routing id already removed).

    One frame is ``header || payload``, split at 32 + 8 * ndim; a control message is always two
    frames, so its short head never reaches the split.
    """
    if len(frames) == 2:
        return frames[0].bytes, frames[1].buffer
    return cut_header(frames[0].buffer)


def cut_header(buf: bytes | memoryview) -> tuple[bytes, memoryview]:
    """(header, rest) of a buffer that starts with a wire header, cut at 32 + 8 * ndim (ndim is
    byte 15): a one-frame message, or the opened record of one (:mod:`mpc.net.zmq_records`).
    What the header says is left to :func:`mpc.net.wire.decode_header`."""
    if len(buf) < wire.HEADER_BYTES:
        raise ProtocolError(f"truncated frame: {len(buf)} bytes, need at least {wire.HEADER_BYTES}")
    cut = wire.HEADER_BYTES + 8 * buf[15]
    return bytes(buf[:cut]), memoryview(buf)[cut:]
