"""Shared-memory rings for same-host payloads (mpc.net.shm_ring) and their use by ZmqChannel."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_zmq_channel import SESSION, check_ok, curve_for, endpoints, make_keys, run_parties

from mpc.config import from_env
from mpc.errors import ConfigError, PeerTimeout, ProtocolError
from mpc.net import shm_ring
from mpc.net.zmq_channel import ZmqChannel, same_host

ROOT = Path(__file__).resolve().parents[1]
BIG = shm_ring.MIN_BYTES // 8  # uint64 elements of the smallest payload that takes the ring

pytestmark = pytest.mark.skipif(not shm_ring.available(), reason="no /dev/shm on x86-64 here")


def ring_files(session: int = SESSION) -> list[str]:
    return [f for f in os.listdir(shm_ring.SHM_DIR) if f.startswith(f"tessera-{session:016x}-")]


@contextlib.contextmanager
def ring_pair(capacity: int):
    """Both ends of one ring, as two parties hold them after set-up; closed afterwards."""
    out = shm_ring.Outgoing(SESSION, 0, 1, capacity)
    inn = shm_ring.Incoming(out.name, capacity)
    out.unlink()
    try:
        yield out, inn
    finally:
        out.close()
        inn.close()


# ---------------------------------------------------------------------- the ring itself


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40_000), st.booleans()), min_size=1, max_size=40))
def test_ring_stream_matches_what_was_put(steps):
    """Random payload sizes, with the receiver sometimes lagging: every payload that went in
    comes out intact and in order; a put is refused exactly when the receiver has not freed
    room, and a refused put leaves the ring as it was."""
    capacity = 1 << 16
    with ring_pair(capacity) as (out, inn):
        queue = []  # (reference, payload) not yet taken
        for k, (size, take_now) in enumerate(steps):
            payload = np.frombuffer(os.urandom(size), dtype=np.uint8)
            # where the put must go (a new lap when everything is read, or when the lap's tail is
            # too short) and whether that overlaps bytes the receiver has not taken yet
            at = out._write % capacity
            if at and (not queue or at + size > capacity):
                at = 0
            unread = [(shm_ring.REF.unpack(r)[0] % capacity, e.nbytes) for r, e in queue]
            overlaps = any(at < lo + n and lo < at + size for lo, n in unread)
            ref = out.put(payload)
            if ref is None:
                assert size > capacity // 2 or queue, "refused although the ring was empty"
                assert size > capacity // 2 or overlaps, "refused although the place was free"
            else:
                assert not overlaps
                queue.append((ref, payload.copy()))
            while queue and (take_now or k == len(steps) - 1 or ref is None):
                r, expected = queue.pop(0)
                got = np.frombuffer(inn.take(r, expected.nbytes), dtype=np.uint8)
                assert np.array_equal(got, expected)
                if ref is None:  # freed room: a retry now fits unless it is too large
                    break
        assert int(inn.consumed[0]) <= out._write


def test_rounds_reuse_the_lap_start_once_everything_is_read():
    """One exchange per round: each payload lands at ring offset 0, on pages already mapped."""
    with ring_pair(1 << 16) as (out, inn):
        for k in range(5):
            payload = np.full(3000 + k, k, dtype=np.uint8)
            ref = out.put(payload)
            assert shm_ring.REF.unpack(ref)[0] % (1 << 16) == 0
            assert np.array_equal(np.frombuffer(inn.take(ref, payload.nbytes), np.uint8), payload)
        unread = out.put(np.ones(100, np.uint8))  # not read yet: the next one goes behind it
        assert shm_ring.REF.unpack(out.put(np.ones(100, np.uint8)))[0] == shm_ring.REF.unpack(unread)[0] + 100


def test_a_skipped_lap_tail_is_not_counted_as_unread():
    """A product's payload starts a new lap (everything read), and the truncation's payload
    behind it must fit while the product's is still unread: the skipped tail of the previous
    lap holds no data (this put used to be refused, and went over TCP)."""
    with ring_pair(1 << 16) as (out, inn):
        first = np.full(30_000, 1, dtype=np.uint8)
        assert np.array_equal(np.frombuffer(inn.take(out.put(first), first.nbytes), np.uint8), first)
        product, trunc = np.full(30_000, 2, dtype=np.uint8), np.full(20_000, 3, dtype=np.uint8)
        rp = out.put(product)  # a new lap: at offset 0, stream position 65536
        assert shm_ring.REF.unpack(rp)[0] == 1 << 16
        rt = out.put(trunc)  # product unread: goes behind it, in the same lap
        assert rt is not None and shm_ring.REF.unpack(rt)[0] == (1 << 16) + 30_000
        assert out.put(np.zeros(20_000, np.uint8)) is None  # 80,000 bytes would overlap the product
        assert np.array_equal(np.frombuffer(inn.take(rp, product.nbytes), np.uint8), product)
        assert np.array_equal(np.frombuffer(inn.take(rt, trunc.nbytes), np.uint8), trunc)


def test_ring_refuses_when_full_and_wraps_without_straddling():
    with ring_pair(1 << 12) as (out, inn):
        a, b, c = (np.full(1500, v, dtype=np.uint8) for v in (1, 2, 3))
        ra, rb = out.put(a), out.put(b)
        assert ra is not None and rb is not None
        assert out.put(c) is None  # 3000 bytes in flight, 1500 more would straddle into unread a
        assert np.array_equal(np.frombuffer(inn.take(ra, 1500), np.uint8), a)
        rc = out.put(c)  # the lap's tail (1096 bytes) is skipped: c starts at 0 again
        assert rc is not None and shm_ring.REF.unpack(rc)[0] == 4096
        assert np.array_equal(np.frombuffer(inn.take(rb, 1500), np.uint8), b)
        assert np.array_equal(np.frombuffer(inn.take(rc, 1500), np.uint8), c)
        assert out.put(np.zeros(2049, np.uint8)) is None  # more than half the ring never fits


def test_full_tmpfs_sends_inline_instead_of_faulting(monkeypatch):
    """A ring page tmpfs cannot supply is refused up front (ENOSPC from posix_fallocate), so the
    payload goes inline; pages already reserved keep working."""
    with ring_pair(1 << 16) as (out, inn):
        first = np.arange(1000, dtype=np.uint8)
        ref = out.put(first)  # reserves the ring's first 1000 bytes
        assert np.array_equal(np.frombuffer(inn.take(ref, 1000), np.uint8), first)

        def full(fd, offset, length):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(shm_ring.os, "posix_fallocate", full)
        assert out.put(np.zeros(5000, np.uint8)) is None  # would reach unreserved pages
        assert out.sent == 1
        monkeypatch.undo()
        assert out.put(np.zeros(5000, np.uint8)) is not None


@pytest.mark.parametrize(
    "ref, nbytes, what",
    [
        (shm_ring.REF.pack(0, 100), 99, "header declares 99"),  # size differs from the header
        (shm_ring.REF.pack(4000, 200), 200, "out of range"),  # runs past the end of the ring
        (shm_ring.REF.pack(0, 3000), 3000, "out of range"),  # more than half the ring
    ],
)
def test_bad_reference_is_a_protocol_error(ref, nbytes, what):
    with ring_pair(1 << 12) as (out, inn):
        with pytest.raises(ProtocolError, match="shared-memory reference") as info:
            inn.take(ref, nbytes)
        assert what in str(info.value) or "out of order or out of range" in str(info.value)


def test_reference_behind_the_stream_is_a_protocol_error():
    with ring_pair(1 << 12) as (out, inn):
        ref = out.put(np.ones(100, np.uint8))
        inn.take(ref, 100)
        with pytest.raises(ProtocolError, match="out of order"):
            inn.take(ref, 100)  # replayed: the stream is already past it


@pytest.mark.parametrize("name", ["../../etc/passwd", "tessera-x/../../etc/passwd", "other-ring", "tessera-missing"])
def test_incoming_refuses_foreign_or_missing_names(name):
    with pytest.raises((ProtocolError, OSError)):
        shm_ring.Incoming(name)


def test_incoming_refuses_a_file_of_the_wrong_size(tmp_path):
    out = shm_ring.Outgoing(SESSION, 0, 1, 1 << 12)
    try:
        with pytest.raises(ProtocolError, match="wrong size"):
            shm_ring.Incoming(out.name, 1 << 13)
    finally:
        out.close()
    assert not os.path.exists(os.path.join(shm_ring.SHM_DIR, out.name))


def test_launcher_removes_rings_a_dead_party_left():
    from mpc.config.addresses import session_id
    from mpc.launch.local import local_session

    session = local_session(2, dealer=False, encrypted=False)
    sid = session_id(session.session)
    left = shm_ring.Outgoing(sid, 0, 1, 1 << 12)  # as if its party died before set-up ended
    other = shm_ring.Outgoing(SESSION, 0, 1, 1 << 12)  # another session's: kept
    try:
        assert os.path.exists(left.path)
        session.cleanup()
        assert not os.path.exists(left.path) and os.path.exists(other.path)
        assert shm_ring.remove_leftovers(sid) == 0
    finally:
        left.close()
        other.close()


@pytest.mark.parametrize(
    "endpoint, expected",
    [
        ("tcp://127.0.0.1:5000", True),
        ("tcp://127.3.2.1:5000", True),
        ("tcp://localhost:5000", True),
        ("tcp://[::1]:5000", True),
        ("ipc:///tmp/x", True),
        ("tcp://10.0.0.2:5000", False),
        ("tcp://example.org:5000", False),
        ("tcp://[2001:db8::1]:5000", False),
        (None, False),
    ],
)
def test_same_host(endpoint, expected):
    assert same_host(endpoint) is expected


# ---------------------------------------------------------------------- through the channel


def _payloads(pid: int, rounds: int) -> list[np.ndarray]:
    """What party ``pid`` sends in each round: all dtypes, several shapes, sizes around MIN_BYTES."""
    base = [
        np.arange(BIG, dtype=np.uint64) * (pid + 3),
        (np.arange(3 * BIG, dtype=np.int64) - pid).reshape(3, BIG),
        np.linspace(-1, 1, BIG + 5) * (pid + 1),
        np.full(shm_ring.MIN_BYTES + 1, pid, dtype=np.uint8),
        np.arange(BIG - 1, dtype=np.uint64),  # one element short of the ring: inline
    ]
    return [base[r % len(base)] + np.asarray(r, dtype=base[r % len(base)].dtype) for r in range(rounds)]


@pytest.mark.parametrize("n", [2, 3])
def test_exchange_through_rings_matches_inline(n):
    eps = endpoints(n)
    rounds = 12

    def body(pid):
        with ZmqChannel(pid, n, SESSION, eps, timeout=20, shm=True) as ch:
            assert ch.shm_peers == [p for p in range(n) if p != pid]
            ok, files = [], None
            for r, arr in enumerate(_payloads(pid, rounds)):
                got = ch.exchange(arr)
                if files is None:  # every party is past its set-up once it has sent to us
                    files = ring_files()
                for p in ch.peers:
                    ok.append(np.array_equal(got[p], _payloads(p, rounds)[r]) and got[p].dtype == arr.dtype)
                # every peer has read this round before the next one is sent, so each ring is empty
                # when a payload is put: which payloads take the ring does not depend on timing
                ch.exchange(np.zeros(1, dtype=np.uint8))
            stats = ch.stats()["total"]
            return all(ok), files, ch.shm_sent, stats

    results = check_ok(run_parties(n, body, join=60))
    for all_ok, files, shm_sent, stats in results:
        assert all_ok
        assert files == []  # each ring file is unlinked once both its ends have it mapped
        # 4 of every 5 payloads are at least MIN_BYTES and take the ring, to every peer
        assert shm_sent == (n - 1) * sum(1 for r in range(rounds) if r % 5 != 4)
        assert stats["rounds"] == 2 * rounds and stats["messages_sent"] == 2 * (n - 1) * rounds
        # the counters are the logical traffic, the same whichever way a payload went
        assert stats["bytes_sent"] == stats["bytes_received"] > (n - 1) * rounds * shm_ring.MIN_BYTES // 2


def test_product_then_truncation_payloads_both_take_the_ring():
    """A product's payload (read) and then the next product's and the truncation's, put before
    party 1 reads either: all three go through the ring (the truncation's used to go over TCP
    because the lap tail the second product skipped counted as unread)."""
    eps = endpoints(2)
    sent_two = threading.Event()

    def body(pid):
        with ZmqChannel(pid, 2, SESSION, eps, timeout=20, shm=True) as ch:
            if pid == 0:
                ch.send(1, np.full(2 * BIG, 1, dtype=np.uint64), tag=1)
                ch.recv(1, 2, dtype=np.uint8, shape=(1,))  # party 1 has read it: the ring is empty
                ch.send(1, np.full(2 * BIG, 2, dtype=np.uint64), tag=3)  # a new lap
                ch.send(1, np.full(BIG, 3, dtype=np.uint64), tag=4)  # behind it, unread
                sent_two.set()
                return ch.shm_sent
            first = ch.recv(0, 1, dtype=np.uint64, shape=(2 * BIG,))
            ch.send(0, np.ones(1, dtype=np.uint8), tag=2)
            assert sent_two.wait(20)
            second = ch.recv(0, 3, dtype=np.uint64, shape=(2 * BIG,))
            third = ch.recv(0, 4, dtype=np.uint64, shape=(BIG,))
            return [bool((a == v).all()) for a, v in ((first, 1), (second, 2), (third, 3))]

    shm_sent, ok = check_ok(run_parties(2, body, join=60))
    assert ok == [True, True, True]
    assert shm_sent == 3


def test_full_ring_falls_back_to_inline_in_order():
    """Party 0 sends six 24 MiB payloads before party 1 reads any: two fit the 64 MiB ring, the
    rest go inline, and all arrive in order; the ring is used again once it has been read."""
    eps = endpoints(2)
    big = 3 * (1 << 20)  # uint64 elements: 24 MiB
    all_sent = threading.Event()

    def body(pid):
        with ZmqChannel(pid, 2, SESSION, eps, timeout=20, shm=True) as ch:
            if pid == 0:
                for k in range(6):
                    ch.send(1, np.full(big, k, dtype=np.uint64), tag=k + 1)
                first = ch.shm_sent
                all_sent.set()
                ch.recv(1, 7, dtype=np.uint8, shape=(1,))  # party 1 has read them all
                ch.send(1, np.full(big, 9, dtype=np.uint64), tag=8)
                return first, ch.shm_sent
            assert all_sent.wait(20)
            firsts = [int(ch.recv(0, k + 1, dtype=np.uint64, shape=(big,))[[0, -1]].sum()) for k in range(6)]
            ch.send(0, np.ones(1, dtype=np.uint8), tag=7)
            last = ch.recv(0, 8, dtype=np.uint64, shape=(big,))
            return firsts, bool((last == 9).all())

    (first, after), (firsts, last_ok) = check_ok(run_parties(2, body, join=60))
    assert firsts == [2 * k for k in range(6)]
    assert first == 2 and after == 3 and last_ok


def test_the_receiver_takes_references_whatever_threshold_the_sender_used(monkeypatch):
    """A plaintext receiver reads a 16-byte body as a ring reference for any header declaring
    another size, so a sender with a lower ``MIN_BYTES`` than its own (a dealer or a party of
    another build) still gets through: party 0 sends 1 KiB through the ring with the threshold
    at 1 KiB, party 1 reads it with the threshold back at 1 MiB. A 16-byte payload stays inline."""
    eps = endpoints(2)
    sent, restored = threading.Event(), threading.Event()
    monkeypatch.setattr(shm_ring, "MIN_BYTES", 1 << 10)

    def body(pid):
        with ZmqChannel(pid, 2, SESSION, eps, timeout=20, shm=True) as ch:
            if pid == 0:
                ch.send(1, np.arange(128, dtype=np.uint64), tag=1)
                ch.send(1, np.arange(2, dtype=np.uint64), tag=2)
                sent.set()
                assert restored.wait(20)
                return ch.shm_sent
            assert sent.wait(20)
            shm_ring.MIN_BYTES = 1 << 20
            restored.set()
            big = ch.recv(0, 1, dtype=np.uint64, shape=(128,))
            small = ch.recv(0, 2, dtype=np.uint64, shape=(2,))
            return big.tolist() == list(range(128)) and small.tolist() == [0, 1]

    assert check_ok(run_parties(2, body)) == [1, True]


def test_mixed_settings_fall_back_to_tcp():
    eps = endpoints(2)
    arr = np.arange(2 * BIG, dtype=np.uint64)

    def body(pid):
        with ZmqChannel(pid, 2, SESSION, eps, timeout=20, shm=pid == 0) as ch:
            got = ch.exchange(arr + pid)
            return ch.shm_peers, ch.shm_sent, bool(np.array_equal(got[1 - pid], arr + (1 - pid)))

    assert check_ok(run_parties(2, body)) == [([], 0, True), ([], 0, True)]
    assert ring_files() == []


def test_curve_channel_can_use_rings_when_asked():
    eps, keys = endpoints(2), make_keys(2)
    arr = np.arange(2 * BIG, dtype=np.uint64)

    def body(pid):
        with ZmqChannel(pid, 2, SESSION, eps, timeout=20, curve=curve_for(pid, keys), shm=True) as ch:
            got = ch.exchange(arr * (pid + 1))
            return ch.shm_sent, bool(np.array_equal(got[1 - pid], arr * (2 - pid)))

    assert check_ok(run_parties(2, body)) == [(1, True), (1, True)]


def test_silent_peer_is_still_a_peer_timeout():
    eps = endpoints(2)

    def body(pid):
        with ZmqChannel(pid, 2, SESSION, eps, timeout=20, shm=True) as ch:
            if pid == 0:
                with pytest.raises(PeerTimeout, match="no message from party 1"):
                    ch.recv(1, 1, dtype=np.uint64, shape=(2 * BIG,), timeout=0.5)
                ch.send(1, np.zeros(1, np.uint8), tag=2)  # now party 1 may close
                return "timed out"
            ch.recv(0, 2)
            return "done"

    assert check_ok(run_parties(2, body)) == ["timed out", "done"]


# ---------------------------------------------------------------------- configuration and launcher


def test_shm_setting_from_flags_and_environment():
    env = {"MPC_PID": "0", "MPC_ADDRS": "127.0.0.1:5000,127.0.0.1:5001", "MPC_INSECURE_PLAINTEXT": "1"}
    assert from_env({}, {}, env).shm == "auto" and from_env({}, {}, env).use_shm
    assert from_env({}, {}, {**env, "MPC_SHM": "off"}).use_shm is False
    assert from_env({}, {"shm": "on"}, {**env, "MPC_SHM": "off"}).shm == "on"
    with pytest.raises(ConfigError, match="MPC_SHM: expected one of auto, on, sealed, off"):
        from_env({}, {}, {**env, "MPC_SHM": "yes"})
    # what an encrypted session's rings carry: the host decides (None), never sealed, always
    assert [from_env({}, {}, {**env, "MPC_SHM": m}).shm_sealed for m in ("auto", "on", "sealed")] == [None, False, True]


@pytest.mark.processes
@pytest.mark.timeout(120)
@pytest.mark.parametrize("n, mode, encrypted", [(2, "auto", False), (3, "auto", False), (2, "off", False),
                                               (3, "sealed", True), (2, "on", True), (2, "sealed", False)])
def test_product_through_mpcrun_with_and_without_rings(tmp_path, n, mode, encrypted):
    """Plaintext and encrypted runs: the rings carry the product's payloads unless off, sealed
    (AES-GCM records) only in an encrypted run under --shm sealed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPC_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    argv = [sys.executable, "-m", "mpc", "run", "-n", str(n), *([] if encrypted else ["--insecure-plaintext"]),
            "--shm", mode, "--log-dir", str(tmp_path / "logs"), str(ROOT / "tests" / "scripts" / "shm_product.py"),
            str(BIG)]
    proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=110)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for i in range(n):
        line = next(x for x in proc.stdout.splitlines() if x.startswith(f"[P{i}] party {i}: "))
        assert "ok=True" in line
        sent = int(line.rsplit("shm_sent=", 1)[1])
        # inputs send nothing (seeded shares); the product's exchange (2 * BIG elements) and the
        # reveal's (BIG) take the ring to each peer when it is on
        assert sent == (0 if mode == "off" else 2 * (n - 1)), line
        sealed = line.split("sealed=", 1)[1].split()[0]
        peers = ",".join(str(p) for p in range(n) if p != i)
        assert sealed == (peers if encrypted and mode == "sealed" else "-"), line
