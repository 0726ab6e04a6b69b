"""ZmqChannel over real loopback TCP sockets; each party is a thread with its own channel."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import zmq

from mpc.errors import ConfigError, PeerTimeout, ProtocolError
from mpc.launch.local import free_port_block
from mpc.net import wire
from mpc.net.zmq_auth import CurveKeys
from mpc.net.zmq_channel import WAIT_SLICE, ZmqChannel
from mpc.net.zmq_frames import identity as _identity
from mpc.net.zmq_handshake import HELLO as _HELLO
from mpc.net.zmq_handshake import WELCOME as _WELCOME
from mpc.net.zmq_handshake import control as _control

# one session id per test process: the ring files of /dev/shm are named after it, and a test
# that checks no ring file of its session is left must not see another pytest-xdist worker's
SESSION = 0x7E55E8A << 20 | os.getpid() & 0xFFFFF


def free_ports(k: int) -> list[int]:
    """k free TCP ports on 127.0.0.1 (the launcher's helper: consecutive, checked together)."""
    base = free_port_block(k)
    return list(range(base, base + k))


def endpoints(n: int) -> list[str | None]:
    """One address per party; the last party never listens, so it gets None."""
    return [f"tcp://127.0.0.1:{p}" for p in free_ports(n - 1)] + [None]


def run_parties(n: int, body: Callable[[int], Any], join: float = 30.0) -> list[Any]:
    """Run body(pid) in n threads; each slot holds the result or the exception raised."""
    out: list[Any] = [None] * n

    def target(pid: int) -> None:
        try:
            out[pid] = body(pid)
        except BaseException as e:  # collected and checked by the test
            out[pid] = e

    threads = [threading.Thread(target=target, args=(pid,), daemon=True) for pid in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(join)
        assert not t.is_alive(), "a party thread is still running"
    return out


def check_ok(results: list[Any]) -> list[Any]:
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results


def make_keys(n: int) -> list[tuple[bytes, bytes]]:
    return [zmq.curve_keypair() for _ in range(n)]


def curve_for(pid: int, keys: list[tuple[bytes, bytes]]) -> CurveKeys:
    pub, sec = keys[pid]
    return CurveKeys(pub, sec, {j: k[0] for j, k in enumerate(keys) if j != pid})


# ---------------------------------------------------------------------- exchange


ARRAYS = [
    np.arange(2 * 1024 * 1024, dtype=np.uint64),  # 16 MiB
    np.array([7], dtype=np.int64),
    np.zeros(0, dtype=np.uint8),  # empty
    np.zeros((3, 0, 2), dtype=np.float64),  # empty, 3-d
    np.arange(12, dtype=np.float64).reshape(3, 4) / 7,
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("n", [2, 3, 5])
def test_exchange_all_shapes(n):
    eps = endpoints(n)

    def party(pid):
        with ZmqChannel(pid, n, SESSION, eps, timeout=20) as ch:
            got = []
            for base in ARRAYS:
                got.append(ch.exchange(base + pid))
            return got

    results = check_ok(run_parties(n, party))
    for pid in range(n):
        for k, base in enumerate(ARRAYS):
            for src in range(n):
                arr = results[pid][k][src]
                assert arr.dtype == base.dtype and arr.shape == base.shape
                np.testing.assert_array_equal(arr, base + src)


@pytest.mark.timeout(30)
def test_zero_dim_arrays_keep_their_shape():
    # Fails until Channel.send/exchange stop using np.ascontiguousarray, which makes 0-d arrays
    # 1-d (mpc/net/channel.py: np.asarray(arr, order="C") keeps the shape).
    eps = endpoints(2)

    def party(pid):
        with ZmqChannel(pid, 2, SESSION, eps, timeout=10) as ch:
            return ch.exchange(np.array(7 + pid, dtype=np.int64))

    for got in check_ok(run_parties(2, party)):
        assert [a.shape for a in got] == [(), ()]
        assert [int(a) for a in got] == [7, 8]


@pytest.mark.timeout(30)
def test_fifo_per_peer_with_interleaving():
    # Party 0 receives everything from party 2 before anything from party 1: both arrive on
    # its single listening socket, so party 1's messages must be buffered in order.
    n, count = 3, 40
    eps = endpoints(n)

    def party(pid):
        with ZmqChannel(pid, n, SESSION, eps, timeout=10) as ch:
            for tag in range(1, count + 1):
                for p in ch.peers:
                    ch.send(p, np.full(tag % 7, tag * 10 + pid, dtype=np.uint64), tag)
            seen = {}
            for p in sorted(ch.peers, reverse=True):
                seen[p] = [ch.recv(p, tag, dtype=np.uint64, shape=(tag % 7,)) for tag in range(1, count + 1)]
            ch.exchange(np.zeros(1))  # keep every channel open until all have received
            return seen

    results = check_ok(run_parties(n, party))
    for pid in range(n):
        for p, arrays in results[pid].items():
            for tag, arr in enumerate(arrays, start=1):
                assert np.all(arr == tag * 10 + p)


@pytest.mark.timeout(30)
def test_stats_count_bytes_messages_rounds():
    eps = endpoints(2)
    a = np.arange(100, dtype=np.uint64)
    b = np.zeros((2, 3), dtype=np.uint8)

    def party(pid):
        with ZmqChannel(pid, 2, SESSION, eps, timeout=10) as ch:
            ch.exchange(a)
            with ch.section("second"):
                ch.exchange(b)
                ch.exchange(b)
            return ch.stats()

    s0, s1 = check_ok(run_parties(2, party))
    per_a = wire.HEADER_BYTES + 8 + a.nbytes
    per_b = wire.HEADER_BYTES + 16 + b.nbytes
    for s in (s0, s1):
        tot = s["total"]
        assert tot["bytes_sent"] == tot["bytes_received"] == per_a + 2 * per_b
        assert tot["messages_sent"] == tot["messages_received"] == 3
        assert tot["rounds"] == 3
        sec = s["sections"]["second"]
        assert sec["bytes_sent"] == 2 * per_b and sec["messages_received"] == 2 and sec["rounds"] == 2


@pytest.mark.timeout(30)
def test_last_party_needs_no_endpoint_and_messages_arrive_both_ways():
    eps = endpoints(2)
    assert eps[1] is None

    def party(pid):
        with ZmqChannel(pid, 2, SESSION, eps, timeout=10) as ch:
            other = 1 - pid
            ch.send(other, np.array([pid, 42], dtype=np.int64), tag=5)
            return ch.recv(other, 5, dtype=np.int64, shape=(2,))

    r0, r1 = check_ok(run_parties(2, party))
    assert r0.tolist() == [1, 42] and r1.tolist() == [0, 42]
    assert not r0.flags.writeable


# ---------------------------------------------------------------------- deadlines


@pytest.mark.timeout(30)
def test_silent_party_gives_peer_timeout_naming_it():
    n = 3
    eps = endpoints(n)
    finished = threading.Barrier(n, timeout=15)

    def party(pid):
        with ZmqChannel(pid, n, SESSION, eps, timeout=10) as ch:
            result = None
            if pid != 2:  # party 2 is connected but never sends
                t0 = time.monotonic()
                try:
                    ch.recv(2, tag=1, timeout=0.5)
                except PeerTimeout as e:
                    result = e, time.monotonic() - t0
            finished.wait()
            return result

    results = check_ok(run_parties(n, party))
    for pid in (0, 1):
        err, elapsed = results[pid]
        assert err.peer == 2
        assert str(err) == f"party {pid}: no message from party 2 within 0.5 s"
        assert 0.45 <= elapsed < 30  # at its deadline, not before (and not much after)


@pytest.mark.timeout(30)
def test_send_to_a_departed_peer_is_a_peer_timeout():
    eps = endpoints(2)

    def party(pid):
        ch = ZmqChannel(pid, 2, SESSION, eps, timeout=5)
        ch.exchange(np.ones(1))
        if pid == 1:
            ch.close()
            return None
        try:
            for tag in range(100):  # until party 0 notices the closed connection
                ch.send(1, np.ones(1), tag)
                time.sleep(0.05)
        except PeerTimeout as e:
            return e
        finally:
            ch.close()
        return None

    err, none = run_parties(2, party)
    assert none is None
    assert isinstance(err, PeerTimeout) and err.peer == 1
    assert str(err) == "party 0: party 1 has disconnected"


@pytest.mark.timeout(30)
def test_missing_party_at_connect_is_named():
    n = 3
    eps = endpoints(n)

    def party(pid):
        if pid == 2:
            return None  # never starts
        t0 = time.monotonic()
        try:
            ZmqChannel(pid, n, SESSION, eps, timeout=5, connect_timeout=1.0)
        except PeerTimeout as e:
            return e, time.monotonic() - t0
        return None

    results = run_parties(n, party)
    for pid in (0, 1):
        err, elapsed = results[pid]
        assert isinstance(err, PeerTimeout) and err.peer == 2
        assert "party 2 did not connect within 1 s" in str(err)
        assert elapsed < 30  # the 1 s connect deadline, not the 5 s receive deadline or a hang


@pytest.mark.timeout(30)
def test_party_starting_late_still_connects():
    eps = endpoints(2)

    def party(pid):
        if pid == 1:
            time.sleep(1.0)  # ten of ZeroMQ's reconnection attempts
        with ZmqChannel(pid, 2, SESSION, eps, timeout=10) as ch:
            return ch.exchange(np.array([pid], dtype=np.uint64))

    r0, r1 = check_ok(run_parties(2, party))
    assert [int(x[0]) for x in r0] == [0, 1] == [int(x[0]) for x in r1]


# ---------------------------------------------------------------------- protocol errors


@pytest.mark.timeout(30)
def test_wrong_session_is_a_protocol_error_on_both_sides():
    eps = endpoints(2)

    def party(pid):
        ZmqChannel(pid, 2, SESSION + pid, eps, timeout=5).close()

    results = run_parties(2, party)
    for r in results:
        assert isinstance(r, ProtocolError), r
        assert "another session" in str(r)


@pytest.mark.timeout(30)
def test_wrong_party_count_is_a_protocol_error():
    eps = endpoints(3)

    def party(pid):
        n = 2 if pid == 0 else 3
        ZmqChannel(pid, n, SESSION, eps[:n], timeout=3).close()

    r0, r1 = run_parties(2, party)
    assert isinstance(r0, ProtocolError) and "n = 3" in str(r0)
    assert isinstance(r1, ProtocolError) and "n = 2" in str(r1)


def _listener_result(eps, **kw):
    out = {}

    def target():
        try:
            ZmqChannel(0, 2, SESSION, eps, timeout=5, connect_timeout=3, **kw).close()
        except BaseException as e:
            out["err"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t, out


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "identity, frames, expect",
    [
        (_identity(1), [b"a", b"b", b"c"], "malformed message with 3 frames"),
        (_identity(1), [b"a", b"b", b"c", b"d"], "malformed message with 4 frames"),
        (_identity(1), [b"one frame is a header || payload message"], "sent data before its hello"),
        (_identity(1), [_control(_WELCOME, SESSION, 1, 2), b""], "handshake message kind"),
        (_identity(1), [b"TSR\x01" + bytes(40), b""], "sent data before its hello"),
    ],
)
def test_garbage_at_the_listener_is_a_protocol_error(identity, frames, expect):
    eps = endpoints(2)
    t, out = _listener_result(eps)
    ctx = zmq.Context()
    raw = ctx.socket(zmq.DEALER)
    raw.linger = 0
    if identity is not None:
        raw.routing_id = identity
    raw.connect(eps[0])
    raw.send_multipart(frames)
    t.join(10)
    raw.close()
    ctx.term()
    assert isinstance(out.get("err"), ProtocolError), out
    assert expect in str(out["err"])


@pytest.mark.timeout(30)
def test_garbage_in_the_data_stream_is_a_protocol_error():
    # A raw ROUTER plays party 0: it answers the hello correctly, then sends bad frames.
    eps = endpoints(2)
    ctx = zmq.Context()
    raw = ctx.socket(zmq.ROUTER)
    raw.linger = 0
    raw.bind(eps[0])
    errors = []

    def party1():
        with ZmqChannel(1, 2, SESSION, eps, timeout=5) as ch:
            good = ch.recv(0, 1, dtype=np.uint64, shape=(2,))
            errors.append(good.tolist())
            for _ in range(5):
                try:
                    ch.recv(0, 2)
                except ProtocolError as e:
                    errors.append(str(e))

    t = threading.Thread(target=party1, daemon=True)
    t.start()
    assert raw.poll(5000)
    ident, hello, _ = raw.recv_multipart()
    assert ident == _identity(1) and hello == _control(_HELLO, SESSION, 1, 2)
    welcome = _control(_WELCOME, SESSION, 0, 2)
    arr = np.array([3, 4], dtype=np.uint64)
    raw.send_multipart([ident, welcome, b""])
    # the shared-memory offer and answer that follow every handshake: no ring, declined
    for tag0 in (np.frombuffer(b"-", dtype=np.uint8), np.zeros(1, dtype=np.uint8)):
        raw.send_multipart([ident, wire.encode_header(SESSION, 0, 0, tag0), tag0.tobytes()])
    raw.send_multipart([ident, wire.encode_header(SESSION, 0, 1, arr), arr.tobytes()])
    raw.send_multipart([ident, b"not a header at all", b""])
    raw.send_multipart([ident, wire.encode_header(SESSION, 0, 2, arr), b"short"])
    raw.send_multipart([ident, wire.encode_header(SESSION, 0, 2, arr), arr.tobytes(), b"extra"])
    raw.send_multipart([ident, wire.encode_header(SESSION + 1, 0, 2, arr), arr.tobytes()])
    raw.send_multipart([ident, wire.encode_header(SESSION, 0, 9, arr), arr.tobytes()])
    t.join(15)
    raw.close()
    ctx.term()
    assert errors[0] == [3, 4]
    assert len(errors) == 6, errors
    assert "truncated frame header" in errors[1]
    assert "payload is 5 bytes" in errors[2]
    assert "3 frames" in errors[3]
    assert "another session" in errors[4]
    assert "expected tag 2, got tag 9" in errors[5]


# ---------------------------------------------------------------------- configuration errors


@pytest.mark.timeout(30)
@pytest.mark.timeout(60)
@pytest.mark.parametrize("spin_us", [0, 100, 5000])
def test_receive_with_and_without_spinning(spin_us):
    """Polling before blocking changes latency only: every message arrives, a silent peer still
    times out (spin_us is out of range -> ConfigError before anything is opened)."""
    with pytest.raises(ConfigError, match="spin_us"):
        ZmqChannel(0, 2, 1, ["tcp://127.0.0.1:1", "tcp://127.0.0.1:2"], spin_us=-1)
    port = free_port_block(2)
    eps = [f"tcp://127.0.0.1:{port + i}" for i in range(2)]
    chans = [None, None]

    def open_(i):
        chans[i] = ZmqChannel(i, 2, 9, eps, timeout=0.5, connect_timeout=20, spin_us=spin_us)

    threads = [threading.Thread(target=open_, args=(i,)) for i in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    try:
        for k in range(20):
            tag = chans[0].next_tag()
            chans[1].next_tag()
            chans[1].send(0, np.full(k + 1, k, dtype=np.uint64), tag)
            np.testing.assert_array_equal(chans[0].recv(1, tag, shape=(k + 1,)), np.full(k + 1, k))
        with pytest.raises(PeerTimeout):
            chans[0].recv(1, chans[0].next_tag())
    finally:
        for c in chans:
            c.close()


@pytest.mark.timeout(60)
def test_polling_only_for_small_messages_that_come_back_fast(monkeypatch):
    """The receive polls (spins) only when a small message is expected and the previous wait was
    short: large messages and slow peers get a plain blocking read (no CPU taken from them)."""
    import mpc.net.zmq_channel as zc

    spins = []
    real = zc.read

    def spy(sock, flags=0, spin=0.0):
        if not flags:
            spins.append(spin)
        return real(sock, flags, spin)

    port = free_port_block(2)
    eps = [f"tcp://127.0.0.1:{port + i}" for i in range(2)]
    chans = [None, None]

    def open_(i):
        chans[i] = ZmqChannel(i, 2, 9, eps, timeout=10, connect_timeout=20, spin_us=5000)

    threads = [threading.Thread(target=open_, args=(i,)) for i in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    monkeypatch.setattr(zc, "read", spy)
    try:
        def one(arr, delay=None):
            tag = chans[0].next_tag()
            chans[1].next_tag()
            if delay is None:  # already there when the receive starts: a short wait
                chans[1].send(0, arr, tag)
                time.sleep(0.05)
            timer = threading.Timer(delay or 0, chans[1].send, (0, arr, tag)) if delay else None
            if timer:
                timer.start()
            got = chans[0].recv(1, tag, dtype=arr.dtype, shape=arr.shape)
            if timer:
                timer.join()
            np.testing.assert_array_equal(got, arr)

        small = np.arange(4, dtype=np.uint64)
        one(small)  # small and fast: polls
        one(np.arange(1 << 14, dtype=np.uint64))  # 128 KiB: never polls
        one(small)
        one(small)  # small, the previous wait short: polls
        one(small, delay=0.3)  # polls for 5 ms, then waits: far longer than 4 polling budgets
        one(small)  # after a long wait: does not poll
        # (the long wait may be read in two slices: the last receive is the last entry)
        assert spins[0] > 0 and spins[1] == 0 and spins[3] > 0 and spins[4] > 0 and spins[-1] == 0, spins
    finally:
        for c in chans:
            c.close()


def test_port_in_use_is_a_config_error():
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    ep = f"tcp://127.0.0.1:{blocker.getsockname()[1]}"
    try:
        with pytest.raises(ConfigError) as info:
            ZmqChannel(0, 2, SESSION, [ep, None], timeout=1)
    finally:
        blocker.close()
    assert str(info.value).startswith(f"party 0 cannot listen on {ep}: address already in use (another process")
    assert info.value.__cause__ is None and info.value.__suppress_context__


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "eps, pid, expect",
    [
        (["tcp://127.0.0.1:notaport", None], 0, "cannot listen on tcp://127.0.0.1:notaport"),
        (["bogus://x:1", None], 0, "cannot listen on bogus://x:1"),
        (["127.0.0.1:5555", None], 0, "endpoints[0]"),
        ([None, None], 1, "endpoints[0]"),
        ([None, None], 0, "endpoints[0]"),
        (["tcp://127.0.0.1:1"], 0, "expected 2 addresses"),
        ("tcp://127.0.0.1:1", 0, "one address per party"),
        (["tcp://127.0.0.1:", None], 1, "cannot connect to party 0"),
    ],
)
def test_bad_endpoints_are_config_errors(eps, pid, expect):
    with pytest.raises(ConfigError) as info:
        ZmqChannel(pid, 2, SESSION, eps, timeout=1)
    assert expect in str(info.value)
    assert info.value.__cause__ is None


def test_bad_arguments_are_config_errors():
    with pytest.raises(ConfigError, match="connect_timeout"):
        ZmqChannel(0, 2, SESSION, ["tcp://127.0.0.1:1", None], connect_timeout=0)
    with pytest.raises(ConfigError, match="pid"):
        ZmqChannel(2, 2, SESSION, ["tcp://127.0.0.1:1", None])
    pub, sec = zmq.curve_keypair()
    with pytest.raises(ConfigError, match="curve.peers: no public key for party 1"):
        ZmqChannel(0, 2, SESSION, ["tcp://127.0.0.1:1", None], curve=CurveKeys(pub, sec, {}))


def test_curve_keys_validation_and_repr():
    pub, sec = zmq.curve_keypair()
    other_pub, _ = zmq.curve_keypair()
    keys = CurveKeys(pub, sec, {1: other_pub.decode()})
    assert keys.peers == {1: other_pub}
    assert sec.decode() not in repr(keys)
    with pytest.raises(ConfigError, match="does not belong"):
        CurveKeys(other_pub, sec, {})
    with pytest.raises(ConfigError, match="curve.peers\\[1\\]"):
        CurveKeys(pub, sec, {1: b"short"})
    with pytest.raises(ConfigError, match="two keys are equal"):
        CurveKeys(pub, sec, {1: other_pub, 2: other_pub})
    with pytest.raises(ConfigError, match="two keys are equal"):
        CurveKeys(pub, sec, {1: pub})
    with pytest.raises(ConfigError, match="curve.secret") as info:
        CurveKeys(pub, b"~" * 40, {})
    assert "~" not in str(info.value)


@pytest.mark.timeout(30)
def test_close_is_idempotent_and_keeps_a_given_context():
    eps = endpoints(2)
    ctx = zmq.Context()

    def party(pid):
        ch = ZmqChannel(pid, 2, SESSION, eps, timeout=5, context=ctx if pid == 0 else None)
        ch.exchange(np.ones(3))
        ch.close()
        ch.close()
        with pytest.raises(ProtocolError, match="closed"):
            ch.send(1 - pid, np.ones(1), 9)
        return True

    check_ok(run_parties(2, party))
    sock = ctx.socket(zmq.PAIR)  # still usable: the channel did not terminate it
    sock.close()
    ctx.term()


# ---------------------------------------------------------------------- CURVE


def curve_failure(pid: int, eps: list[str | None], curve: CurveKeys | None) -> Exception | None:
    """Open and close party pid's channel of 2 with ``curve`` (party 0 waits 1 s for its peer,
    party 1 60 s: when it fails, it must fail at once, long before its deadline); the
    ConfigError or PeerTimeout raised, None when it connected."""
    try:
        ZmqChannel(pid, 2, SESSION, eps, timeout=5, connect_timeout=1 if pid == 0 else 60, curve=curve).close()
    except (ConfigError, PeerTimeout) as e:
        return e
    return None


@pytest.mark.timeout(30)
def test_curve_exchange_three_parties():
    n = 3
    eps = endpoints(n)
    keys = make_keys(n)

    def party(pid):
        with ZmqChannel(pid, n, SESSION, eps, timeout=10, curve=curve_for(pid, keys)) as ch:
            big = ch.exchange(np.full(100_000, pid, dtype=np.uint64))
            small = ch.exchange(np.array([pid], dtype=np.int64))
            return [int(a[0]) for a in big], [int(a[0]) for a in small]

    for big, small in check_ok(run_parties(n, party)):
        assert big == small == [0, 1, 2]


@pytest.mark.timeout(30)
def test_curve_refuses_an_unknown_client_key():
    eps = endpoints(2)
    keys = make_keys(2)
    intruder = zmq.curve_keypair()

    def party(pid):
        t0 = time.monotonic()
        if pid == 0:
            curve = curve_for(0, keys)
        else:  # party 1 uses a key pair party 0 does not know
            curve = CurveKeys(intruder[0], intruder[1], {0: keys[0][0]})
        return curve_failure(pid, eps, curve), time.monotonic() - t0

    (e0, t0), (e1, t1) = run_parties(2, party)
    assert isinstance(e1, ConfigError) and "refused this party's CURVE key" in str(e1)
    assert t1 < 30  # refused at once, not at its 60 s deadline
    assert isinstance(e0, PeerTimeout) and e0.peer == 1
    assert "party 1 did not connect" in str(e0) and "refused" in str(e0)
    assert intruder[0].decode() not in str(e0) + str(e1)


@pytest.mark.timeout(30)
def test_curve_wrong_server_key_fails_clearly():
    eps = endpoints(2)
    keys = make_keys(2)
    impostor_pub, _ = zmq.curve_keypair()

    def party(pid):
        curve = curve_for(pid, keys)
        if pid == 1:
            curve = CurveKeys(keys[1][0], keys[1][1], {0: impostor_pub})
        return curve_failure(pid, eps, curve)

    e0, e1 = run_parties(2, party)
    assert isinstance(e1, ConfigError) and "secure handshake with party 0" in str(e1)
    assert isinstance(e0, PeerTimeout) and e0.peer == 1


@pytest.mark.timeout(30)
def test_curve_on_one_side_only_fails_clearly():
    eps = endpoints(2)
    keys = make_keys(2)

    def party(pid):
        return curve_failure(pid, eps, curve_for(0, keys) if pid == 0 else None)

    t0 = time.monotonic()
    e0, e1 = run_parties(2, party)
    assert isinstance(e1, ConfigError) and "requires CURVE" in str(e1)
    assert time.monotonic() - t0 < 30  # at once, not at party 1's 60 s deadline
    assert isinstance(e0, PeerTimeout)


# ---------------------------------------------------------------------- departures and strangers


@pytest.mark.timeout(40)
@pytest.mark.parametrize("encrypted", [False, True])
@pytest.mark.parametrize("leaver", [0, 2])
def test_a_departed_peer_is_reported_at_once_after_its_last_messages(leaver, encrypted):
    """A peer that sends, then closes its channel: the others read what it sent, then their next
    receive from it raises PeerTimeout "has disconnected" long before the 60 s deadline (party 2
    is reached through the ROUTERs of parties 0 and 1, party 0 through their DEALERs)."""
    n = 3
    eps = endpoints(n)
    keys = make_keys(n)

    def party(pid):
        curve = curve_for(pid, keys) if encrypted else None
        with ZmqChannel(pid, n, SESSION, eps, timeout=60, curve=curve) as ch:
            ch.exchange(np.full(2, pid, dtype=np.uint64))
            if pid == leaver:
                for p in ch.peers:
                    ch.send(p, np.array([7, 8], dtype=np.int64), tag=50)
                return None  # closes the channel
            last = ch.recv(leaver, 50, dtype=np.int64, shape=(2,))
            with pytest.raises(PeerTimeout) as info:
                ch.recv(leaver, 51)
            return last.tolist(), info.value

    results = check_ok(run_parties(n, party, join=35))
    for pid in range(n):
        if pid == leaver:
            continue
        last, err = results[pid]
        assert last == [7, 8]  # what it sent before leaving still arrives
        assert err.peer == leaver and str(err) == f"party {pid}: party {leaver} has disconnected"


@pytest.mark.timeout(40)
def test_stray_connections_are_dropped_on_plaintext_links():
    """Anyone can connect to a plaintext listener: messages from connections that are not parties
    of the session (any routing id but a higher party's) are dropped and counted, during the
    handshake and mid-session, and a stray that comes and goes does not pass for a departed party."""
    eps = endpoints(2)
    chans = [None, None]
    go_on = threading.Event()
    ctx = zmq.Context()

    def stray(identity=None, frames=(b"junk",)):
        sock = ctx.socket(zmq.DEALER)
        sock.linger = 1000
        if identity is not None:
            sock.routing_id = identity
        sock.connect(eps[0])
        sock.send_multipart(list(frames))
        return sock

    def party(pid):
        if pid == 1:
            time.sleep(0.5)  # party 0 is in its handshake when the first stray arrives
        ch = chans[pid] = ZmqChannel(pid, 2, SESSION, eps, timeout=60, connect_timeout=30)
        first = ch.exchange(np.array([pid], dtype=np.uint64))
        if pid == 1:
            go_on.wait(20)
        second = ch.exchange(np.array([10 + pid], dtype=np.uint64))  # party 0 waits while strays talk
        ch.close()
        return [int(a[0]) for a in first + second]

    try:
        early = stray(frames=[b"before the hello", b"x"])
        t = threading.Thread(target=lambda: results.extend(run_parties(2, party)), daemon=True)
        results = []
        t.start()
        deadline = time.monotonic() + 20
        while chans[0] is None and time.monotonic() < deadline:
            time.sleep(0.01)
        socks = [
            stray(),  # no routing id: ZeroMQ makes one up
            stray(_identity(0), [b"a", b"b", b"c", b"d"]),  # a routing id, but not a higher party's
            stray(b"P\x00\x07", [_control(_HELLO, SESSION, 7, 2), b""]),
        ]
        while chans[0] is not None and chans[0].dropped < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        dropped = chans[0].dropped
        for sock in (early, *socks):
            sock.close()  # strays leave again: not a departure of party 1
        time.sleep(WAIT_SLICE * 3)  # party 0 is blocked in a receive across several wait slices
        go_on.set()
        t.join(30)
    finally:
        ctx.term()
    assert dropped >= 4
    assert check_ok(results) == [[0, 1, 10, 11], [0, 1, 10, 11]]
