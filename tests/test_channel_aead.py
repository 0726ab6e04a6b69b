"""The encrypted path of ZmqChannel (mpc.net.zmq_records): after the set-up every message as
AES-GCM records on the bulk links (and in the shared-memory rings) of CURVE channels; each party a
thread with its own channel."""

from __future__ import annotations

import os
import re
import threading
import time

import numpy as np
import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_zmq_channel import SESSION, check_ok, curve_for, endpoints, free_ports, make_keys, run_parties

from mpc.config import from_env
from mpc.crypto.aead import OVERHEAD, RecordSealer
from mpc.errors import ConfigError, PeerTimeout, ProtocolError
from mpc.net import shm_ring, wire, zmq_records
from mpc.net.zmq_channel import ZmqChannel
from mpc.net.zmq_frames import ZERO_COPY_MIN, identity

RINGS = shm_ring.available()
needs_rings = pytest.mark.skipif(not RINGS, reason="no /dev/shm on x86-64 here")


def channel(pid: int, n: int, eps, keys, **kw) -> ZmqChannel:
    """Party ``pid``'s channel: encrypted when ``keys`` are given."""
    curve = None if keys is None else curve_for(pid, keys)
    return ZmqChannel(pid, n, SESSION, eps, timeout=kw.pop("timeout", 20), curve=curve, **kw)


def payload(tag: int, frm: int, to: int, size: int) -> np.ndarray:
    """What ``frm`` sends ``to`` under ``tag``: ``size`` bytes that name all three."""
    return (np.arange(size, dtype=np.uint64) * 0x9E3779B97F4A7C15 + tag * 1000 + frm * 10 + to).astype(np.uint8)


def ack(ch: ZmqChannel, peer: int, tag: int) -> None:
    """Both ends meet once more over the CURVE link (so nobody closes before the other is done)."""
    ch.send(peer, np.ones(1, dtype=np.uint8), tag)
    ch.recv(peer, tag, dtype=np.uint8, shape=(1,))


# ---------------------------------------------------------------------- routes and counters


def opened(ch: ZmqChannel) -> int:
    """How many records this party has opened so far, from every peer (its bulk links and rings)."""
    return 0 if ch._records is None else sum(o.records for o in ch._records.openers.values())


def opened_from_now(ch: ZmqChannel, barrier: threading.Barrier) -> int:
    """``opened(ch)`` once every party has its channel: a peer that finished its set-up first
    could otherwise send a message that this party reads (and opens) during its own."""
    barrier.wait(30)
    return opened(ch)


def records_of(size: int, ringed: bool = False, sealed: bool = False) -> int:
    """Records a message with a payload of ``size`` bytes takes (mpc.net.zmq_records): one under
    64 KiB; from there the header's and the payload's (as zmq_records.chunks says, or none
    beside a reference to an unsealed ring)."""
    if size < ZERO_COPY_MIN:
        return 1
    return 1 + (int(sealed) if ringed else zmq_records.chunks(size))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("encrypted, shm", [(False, False), (False, True), (True, False), (True, True)])
def test_routes_and_counters_for_every_setting(encrypted, shm):
    """The same stream under CURVE or not, rings or not: everything arrives, the counters are the
    same logical traffic, and each message took the route the settings give it (encrypted: every
    message as records on the bulk link, header included, the payload from MIN_BYTES in a ring
    when there is one; nothing on CURVE after the set-up)."""
    if shm and not RINGS:
        pytest.skip("no /dev/shm on x86-64 here")
    eps, keys = endpoints(2), make_keys(2) if encrypted else None
    barrier = threading.Barrier(2)
    sizes = [0, 8, ZERO_COPY_MIN - 8, ZERO_COPY_MIN, ZERO_COPY_MIN + 8, shm_ring.MIN_BYTES - 8,
             shm_ring.MIN_BYTES, 3 << 20]

    def body(pid):
        with channel(pid, 2, eps, keys, shm=shm) as ch:
            ok, before = [], opened_from_now(ch, barrier)
            for tag, size in enumerate(sizes, start=1):
                got = ch.exchange(payload(tag, pid, 1 - pid, size), tag)
                ok.append(np.array_equal(got[1 - pid], payload(tag, 1 - pid, pid, size)))
                ack(ch, 1 - pid, 100 + tag)  # the rings are empty before every payload: no timing
            sealed = bool(ch.sealed_rings)
            return ok, ch.bulk_peers, ch.bulk_sent, ch.shm_sent, ch.stats()["total"], opened(ch) - before, sealed

    results = check_ok(run_parties(2, body, join=50))
    for pid, (ok, bulk_peers, bulk_sent, shm_sent, total, records, sealed) in enumerate(results):
        assert all(ok)
        ringed = [shm and s >= shm_ring.MIN_BYTES for s in sizes]
        assert shm_sent == sum(ringed)
        assert bulk_peers == ([1 - pid] if encrypted else [])
        assert bulk_sent == (2 * len(sizes) if encrypted else 0)  # every message, the acks too
        expected = sum(records_of(s, r, sealed) for s, r in zip(sizes, ringed, strict=True)) + len(sizes)
        assert records == (expected if encrypted else 0)
        headers = 2 * len(sizes) * (wire.HEADER_BYTES + 8)
        assert total["bytes_sent"] == total["bytes_received"] == sum(sizes) + len(sizes) + headers
        assert total["messages_sent"] == 2 * len(sizes)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("records", [(False, True), (True, False), (False, False)])
def test_a_pair_uses_records_only_when_both_want_them(records):
    """A party with records=False (everything on CURVE) pairs up with one that wants records:
    the pair stays on CURVE, both ways, rings unused; a third party's pairs are unaffected."""
    eps, keys = endpoints(3), make_keys(3)
    arr = np.arange(1 << 18, dtype=np.uint64)  # 2 MiB
    wants = (*records, True)

    def body(pid):
        with channel(pid, 3, eps, keys, records=wants[pid], shm=True) as ch:
            got = ch.exchange(arr + pid)
            return all(np.array_equal(got[p], arr + p) for p in range(3)), ch.bulk_peers, ch.shm_sent

    for pid, (ok, bulk_peers, shm_sent) in enumerate(check_ok(run_parties(3, body))):
        linked = [p for p in range(3) if p != pid and wants[p] and wants[pid]]
        assert ok and bulk_peers == linked
        assert shm_sent == (len(linked) if RINGS else 0)  # rings only on bulk links when encrypted


@needs_rings
@pytest.mark.timeout(60)
def test_full_ring_falls_back_to_the_bulk_link_not_curve():
    """Party 0 sends six 24 MiB payloads before party 1 reads any: two fit the 64 MiB ring, the
    other four go as records on the bulk link; all arrive in order."""
    eps, keys = endpoints(2), make_keys(2)
    big = 3 << 20  # uint64 elements: 24 MiB
    all_sent = threading.Event()

    def body(pid):
        with channel(pid, 2, eps, keys, shm=True, shm_sealed=False) as ch:
            if pid == 0:
                for k in range(6):
                    ch.send(1, np.full(big, k, dtype=np.uint64), tag=k + 1)
                all_sent.set()
                ch.recv(1, 7, dtype=np.uint8, shape=(1,))
                return ch.shm_sent, ch.bulk_sent
            assert all_sent.wait(30)
            before = opened(ch)
            firsts = [int(ch.recv(0, k + 1, dtype=np.uint64, shape=(big,))[[0, -1]].sum()) for k in range(6)]
            records = opened(ch) - before
            ch.send(0, np.ones(1, dtype=np.uint8), tag=7)
            return firsts, records

    (shm_sent, bulk_sent), (firsts, records) = check_ok(run_parties(2, body, join=50))
    assert firsts == [2 * k for k in range(6)]
    assert (shm_sent, bulk_sent) == (2, 6)
    # six headers and the records of four payloads (the two in the unsealed ring are not records)
    assert records == 6 + 4 * zmq_records.chunks(big * 8)


@pytest.mark.timeout(60)
def test_payloads_go_as_several_records(monkeypatch):
    """A large payload goes as about PIECES records of CHUNK_MIN to CHUNK_BYTES bytes, the first
    with its header's: 3 parties, every party receiving from two peers at once (their records
    interleave on party 0's ROUTER)."""
    monkeypatch.setattr(zmq_records, "CHUNK_BYTES", 100_000)
    assert [zmq_records.chunk_size(s) for s in (65_536, 99_999, 524_288, 900_000, 10**7)] == [
        65_536, 65_536, 65_536, 100_000, 100_000]
    eps, keys = endpoints(3), make_keys(3)
    barrier = threading.Barrier(3)
    sizes = [65_536, 99_999, 100_000, 100_001, 350_000, 2_000_003]

    def body(pid):
        with channel(pid, 3, eps, keys) as ch:
            ok, before = [], opened_from_now(ch, barrier)
            for tag, size in enumerate(sizes, start=1):
                got = ch.exchange(payload(tag, pid, 0, size), tag)
                ok += [np.array_equal(got[p], payload(tag, p, 0, size)) for p in ch.peers]
            return all(ok), ch.bulk_sent, opened(ch) - before

    for ok, sent, records in check_ok(run_parties(3, body)):
        assert ok and sent == 2 * len(sizes)
        # from each of two peers a header and 1, 2, 2, 2, 6 and 21 payload records
        assert [zmq_records.chunks(s) for s in sizes] == [1, 2, 2, 2, 6, 21]
        assert records == 2 * sum(1 + zmq_records.chunks(s) for s in sizes)


# ---------------------------------------------------------------------- a stream under hypothesis


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.sampled_from([2, 3]),
    shm=st.booleans(),
    rounds=st.lists(
        st.lists(st.sampled_from([0, 1, 7, 4095, 4096, 4097, 20_000, 65_535, 65_536, 65_537, 200_000]),
                 min_size=9, max_size=9),
        min_size=1, max_size=6,
    ),
)
def test_stream_of_random_sizes_both_ways(n, shm, rounds):
    """Rounds in which every party sends every peer a payload of a size drawn around the
    one-record limit (64 KiB), the ring threshold (65536 here) and the record size (50,000 here),
    both ways at once, 2 and 3 parties, rings or not: every payload arrives intact and in order,
    each went the route its size gives it, and the counters count the payloads."""
    eps, keys = endpoints(n), make_keys(n)
    barrier = threading.Barrier(n)
    ring_min = 65_536
    size_of = lambda r, frm, to: rounds[r][3 * frm + to]  # noqa: E731

    def body(pid):
        with channel(pid, n, eps, keys, shm=shm and RINGS) as ch:
            ok, before = True, opened_from_now(ch, barrier)
            for r in range(len(rounds)):
                tag = r + 1
                for p in ch.peers:
                    ch.send(p, payload(tag, pid, p, size_of(r, pid, p)), tag)
                for p in ch.peers:
                    got = ch.recv(p, tag, dtype=np.uint8, shape=(size_of(r, p, pid),))
                    ok = ok and np.array_equal(got, payload(tag, p, pid, size_of(r, p, pid)))
                ch.exchange(np.zeros(1, np.uint8), tag=1000 + tag)  # rings empty before every round
            sizes = [size_of(r, pid, p) for r in range(len(rounds)) for p in ch.peers]
            got_sizes = [size_of(r, p, pid) for r in range(len(rounds)) for p in ch.peers]
            rings, sealed = shm and RINGS, bool(ch.sealed_rings)
            # the records the received payloads take, counted while the sizes above are in force
            expected = sum(records_of(s, rings and s >= ring_min, sealed) for s in got_sizes)
            return ok, ch.bulk_sent, ch.shm_sent, sizes, ch.stats()["total"]["bytes_sent"], opened(ch) - before, expected

    # read by the channels at every send and receive: rings from 64 KiB, and records of 50,000
    # bytes, so that a large payload's records from two peers interleave on party 0's ROUTER
    saved = shm_ring.MIN_BYTES, zmq_records.CHUNK_BYTES
    shm_ring.MIN_BYTES, zmq_records.CHUNK_BYTES = ring_min, 50_000
    try:
        results = check_ok(run_parties(n, body, join=60))
    finally:
        shm_ring.MIN_BYTES, zmq_records.CHUNK_BYTES = saved
    for ok, bulk_sent, ringed, sizes, sent, records, expected in results:
        assert ok
        assert bulk_sent == len(sizes) + len(rounds) * (n - 1)  # every message, the round ends too
        assert ringed == (sum(s >= ring_min for s in sizes) if shm and RINGS else 0)
        assert records == expected + len(rounds) * (n - 1)
        assert sent == sum(sizes) + (len(sizes) + len(rounds) * (n - 1)) * (wire.HEADER_BYTES + 8) + len(rounds) * (n - 1)


# ---------------------------------------------------------------------- tampering on the bulk link


# What the man in the middle sends in place of party 1's k-th message to party 0 (k = 1, 2, ...,
# counted from the first after the set-up; ``seen`` holds messages 1..k, each the list of its
# records, each record a ZeroMQ message of its own: a large message is [header record, payload
# record], a small one [record of header || payload]). It alters message 2, in its last record
# (the payload's, or the only one).


def _altered(frames, record):
    return [*frames[:-1], record]


def _flip(seen, frames):
    out = np.frombuffer(frames[-1], np.uint8).copy()
    out[8 + 5] ^= 0x10  # a ciphertext bit
    return [_altered(frames, out)]


def _truncate(seen, frames):
    return [_altered(frames, bytes(frames[-1])[:-1])]


def _extend(seen, frames):
    return [_altered(frames, bytes(frames[-1]) + b"\0")]


def _replay(seen, frames):
    return [seen[0]]  # message 1, again


def _swap(seen, frames):
    return [] if len(seen) == 2 else [frames, seen[1]]  # message 2 held back, sent after message 3


def _wrong_key(seen, frames):
    record = np.frombuffer(frames[-1], np.uint8)
    size = record.size - OVERHEAD
    forged = np.empty_like(record)
    sealer = RecordSealer(os.urandom(32), sender=1, receiver=0)
    sealer._count = int.from_bytes(record[:8].tobytes(), "big")  # the right counter, the wrong key
    if len(frames) == 1:  # the record of header || payload
        sealer.seal(zmq_records.HEAD, os.urandom(size), out=forged)
    else:
        header = wire.encode_header(SESSION, 1, 2, np.zeros(size, np.uint8))  # message 2's very header
        sealer.seal(header, payload(2, 1, 0, size), out=forged)
    return [_altered(frames, forged)]


def _counter(seen, frames):
    out = np.frombuffer(frames[0], np.uint8).copy()
    out[7] ^= 1  # the header record's counter
    return [[out, *frames[1:]]]


TAMPER = {"flip": _flip, "truncate": _truncate, "extend": _extend, "replay": _replay, "swap": _swap,
          "wrong key": _wrong_key, "counter": _counter}


def tap(ch: ZmqChannel, how: str, per: int) -> None:
    """Put the man in the middle on ``ch``'s bulk link to party 0 (``ch`` is party 1's), where
    each message is ``per`` records."""
    seen, held, send = [], [], ch._records._send

    def middle(to, *frames):
        if to != 0:
            return send(to, *frames)
        held.extend(bytes(f) for f in frames)  # copies: the sender reuses its buffers once this returns
        if len(held) == per:
            records = held[:]
            held.clear()
            seen.append(records)
            altered = len(seen) == 2 or (how == "swap" and len(seen) == 3)
            for message in TAMPER[how](seen, records) if altered else [records]:
                # as the sender groups them: the header's record with the payload's first
                send(to, *message[:2])
                for record in message[2:]:
                    send(to, record)
        return zmq_records._DONE

    ch._records._send = middle


@pytest.mark.timeout(60)
@pytest.mark.parametrize("size", [1000, ZERO_COPY_MIN + 1000])
@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("how", sorted(TAMPER))
def test_a_tampered_message_on_the_bulk_link_is_a_protocol_error(how, n, size):
    """A man in the middle of party 1's bulk link to party 0 alters its second message (after one
    honest one), small (one record: these used to travel on CURVE) or large (header and payload
    records): party 0's receive
    raises ProtocolError (never returns altered data), and so does every later receive from
    party 1; other links are unaffected."""
    eps, keys = endpoints(n), make_keys(n)

    def body(pid):
        with channel(pid, n, eps, keys) as ch:
            if pid == 1:
                tap(ch, how, 1 if size < ZERO_COPY_MIN else 1 + zmq_records.chunks(size))
            results = []
            for tag in (1, 2, 3):
                for p in ch.peers:
                    ch.send(p, payload(tag, pid, p, size), tag)
                for p in ch.peers:
                    try:
                        got = ch.recv(p, tag, dtype=np.uint8, shape=(size,))
                        results.append((tag, p, bool(np.array_equal(got, payload(tag, p, pid, size)))))
                    except ProtocolError as e:
                        results.append((tag, p, str(e)))
            for p in ch.peers:  # nobody leaves before the others are done
                ch.send(p, np.zeros(1, np.uint8), 9)
            for p in ch.peers:
                if (pid, p) != (0, 1):  # that stream is broken for good
                    ch.recv(p, 9, dtype=np.uint8, shape=(1,))
            return results

    results = check_ok(run_parties(n, body, join=50))
    for pid in range(n):
        for tag, p, outcome in results[pid]:
            if pid == 0 and p == 1 and tag >= 2:
                assert isinstance(outcome, str), (tag, outcome)  # a ProtocolError, never data
            else:
                assert outcome is True, (pid, tag, p, outcome)
    errors = [outcome for tag, p, outcome in results[0] if p == 1 and tag >= 2]
    # a one-record message's length is only checked by its tag
    resized = "was due" if size >= ZERO_COPY_MIN else "authentication"
    first = {"flip": "authentication", "wrong key": "authentication", "truncate": resized, "extend": resized,
             "replay": r"counter \d+, expected \d+", "swap": r"counter \d+, expected \d+",
             "counter": r"counter \d+, expected \d+"}
    assert re.search(first[how], errors[0]) and "failed before" in errors[1]


@pytest.mark.timeout(60)
def test_a_record_under_another_header_fails():
    """A record moved to another message: party 1's hook seals its payload's record under a
    header with another tag, as a record lifted from another message would be."""
    eps, keys = endpoints(2), make_keys(2)
    arr = np.arange(20_000, dtype=np.uint64)

    def body(pid):
        with channel(pid, 2, eps, keys) as ch:
            if pid == 1:
                seal = ch._records._send_payload
                ch._records._send_payload = lambda to, head, header, payload: seal(
                    to, head, wire.encode_header(SESSION, 1, 77, payload), payload)
                ch.send(0, arr, 5)
                return ch.recv(0, 6).tolist()
            with pytest.raises(ProtocolError, match="authentication"):
                ch.recv(1, 5)
            ch.send(1, np.ones(1, np.uint8), 6)
            return "refused"

    assert check_ok(run_parties(2, body)) == ["refused", [1]]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sender", [0, 1])
def test_a_malformed_bulk_message_is_a_protocol_error(sender):
    """A party's bulk connection carries records only: frames that are not are a ProtocolError, on
    the listener's ROUTER (party 1 sends) and on the connecting side's DEALER (party 0 sends)."""
    eps, keys = endpoints(2), make_keys(2)
    arr = np.arange(20_000, dtype=np.uint64)
    sent = threading.Event()  # the receiver stays until the sender is done (it reads nothing more)

    def body(pid):
        with channel(pid, 2, eps, keys) as ch:
            if pid == sender:
                links = ch._records.links
                if pid == 1:
                    links.dealers[0].send_multipart([b"one", b"two"])
                else:
                    links.router.send_multipart([identity(1), b"one", b"two"])
                ch.send(1 - pid, arr, 1)
                sent.set()
                return ch.recv(1 - pid, 2).tolist()
            with pytest.raises(ProtocolError, match="from party .: 3 bytes, shorter than the 24-byte overhead"):
                ch.recv(1 - pid, 1)
            ch.send(1 - pid, np.ones(1, np.uint8), 2)
            assert sent.wait(20)
            return "refused"

    results = check_ok(run_parties(2, body))
    assert results[1 - sender] == "refused" and results[sender] == [1]


@pytest.mark.timeout(60)
def test_a_wrong_key_is_refused_at_set_up(monkeypatch):
    """Party 1 derives another key for its direction to party 0 (as a substituted public key
    would give): party 0 cannot open its hello and the set-up fails with ProtocolError."""
    eps, keys = endpoints(2), make_keys(2)
    real = zmq_records.KeyExchange.records

    def skewed(self, peer_public, *, session, me, peer):
        sealer, opener = real(self, peer_public, session=session, me=me, peer=peer)
        if me == 1:
            sealer = RecordSealer(os.urandom(32), sender=1, receiver=0)
        return sealer, opener

    monkeypatch.setattr(zmq_records.KeyExchange, "records", skewed)

    def body(pid):
        try:
            channel(pid, 2, eps, keys, timeout=3, connect_timeout=10).close()
        except (ProtocolError, PeerTimeout) as e:
            return e
        return None

    e0, e1 = run_parties(2, body)
    assert isinstance(e0, ProtocolError) and "authentication" in str(e0)
    assert isinstance(e1, PeerTimeout)  # party 0 left during the set-up


@needs_rings
@pytest.mark.timeout(60)
@pytest.mark.parametrize("how", ["flip", "replay"])
def test_a_record_altered_in_the_ring_is_a_protocol_error(how):
    """Someone who can write into a sealed ring (the file is the parties' user's, 0600) alters
    the record party 0 put there before party 1 reads it: ProtocolError, no data."""
    eps, keys = endpoints(2), make_keys(2)
    big = 1 << 17  # uint64 elements: 1 MiB, above the ring's threshold
    altered = threading.Event()

    def body(pid):
        with channel(pid, 2, eps, keys, shm=True, shm_sealed=True) as ch:
            if pid == 0:
                ring = ch._rings_out[1]
                ch.send(1, np.full(big, 1, dtype=np.uint64), tag=1)
                first = ring.ring[: big * 8 + OVERHEAD].copy()
                ch.recv(1, 2, dtype=np.uint8, shape=(1,))  # party 1 has read the first
                ch.send(1, np.full(big, 2, dtype=np.uint64), tag=3)
                span = ring.ring[: big * 8 + OVERHEAD]  # each payload starts a new lap: same place
                if how == "flip":
                    span[100] ^= 1
                else:
                    span[:] = first
                altered.set()
                ch.recv(1, 4, dtype=np.uint8, shape=(1,))
                return ch.shm_sent
            assert int(ch.recv(0, 1, dtype=np.uint64, shape=(big,))[0]) == 1
            ch.send(0, np.ones(1, np.uint8), 2)
            assert altered.wait(20)
            with pytest.raises(ProtocolError, match="authentication" if how == "flip" else r"counter \d+, expected \d+"):
                ch.recv(0, 3, dtype=np.uint64, shape=(big,))
            ch.send(0, np.ones(1, np.uint8), 4)
            return "refused"

    assert check_ok(run_parties(2, body)) == [2, "refused"]


def _ring_exchange(wants, keys, restricted=None, monkeypatch=None):
    """Each party sends the other 1 MiB through its ring with ``shm_sealed=wants[pid]``; per party:
    (its sealed outgoing rings, whether its incoming ring is sealed, the payload arrived intact,
    its own ring holds the payload's bytes as they are)."""
    if restricted is not None:
        monkeypatch.setattr(shm_ring, "ptrace_restricted", lambda: restricted)
    eps = endpoints(2)
    size = 1 << 20

    def body(pid):
        with channel(pid, 2, eps, keys, shm=True, shm_sealed=wants[pid]) as ch:
            mine = payload(1, pid, 1 - pid, size)
            got = ch.exchange(mine, tag=1)
            ack(ch, 1 - pid, 2)  # the peer has read it: what stays in the ring is that payload
            held = ch._rings_out[1 - pid].ring[:size]
            ok = bool(np.array_equal(got[1 - pid], payload(1, 1 - pid, pid, size)))
            return ch.sealed_rings, ch._rings_in[1 - pid].sealed, ok, bool(np.array_equal(held, mine)), ch.shm_sent

    return check_ok(run_parties(2, body))


@needs_rings
@pytest.mark.timeout(60)
@pytest.mark.parametrize("wants", [(False, False), (False, True), (True, False), (True, True)])
def test_a_ring_is_sealed_when_either_end_asks(wants):
    """shm_sealed per party: an encrypted channel's ring carries records when its sender or its
    receiver asks, and both ends agree. Either way the payload arrives intact through the ring;
    an unsealed ring holds the payload itself (the same-user argument of shm_ring's security
    model), a sealed one never holds it."""
    sealed = any(wants)
    for pid, (out, inn, ok, plain, sent) in enumerate(_ring_exchange(wants, make_keys(2))):
        assert (out, inn, ok, plain, sent) == ([1 - pid] if sealed else [], sealed, True, not sealed, 1)


@needs_rings
@pytest.mark.timeout(60)
@pytest.mark.parametrize("restricted", [False, True])
def test_rings_are_sealed_by_default_where_the_host_restricts_ptrace(monkeypatch, restricted):
    """shm_sealed=None (mpcrun's --shm auto) follows ptrace_restricted(): sealed where another
    process of the user could not read the parties' memory, unsealed where it could."""
    for pid, (out, inn, ok, plain, _) in enumerate(_ring_exchange((None, None), make_keys(2), restricted, monkeypatch)):
        assert (out, inn, ok, plain) == ([1 - pid] if restricted else [], restricted, True, not restricted)


@needs_rings
@pytest.mark.timeout(60)
def test_plaintext_rings_are_never_sealed():
    """Without CURVE there are no record keys: shm_sealed=True does not seal anything."""
    for out, inn, ok, plain, _ in _ring_exchange((True, True), None):
        assert (out, inn, ok, plain) == ([], False, True, True)


def test_shm_sealed_must_be_a_bool_or_none():
    with pytest.raises(ConfigError, match="shm_sealed: expected True, False or None"):
        ZmqChannel(0, 2, SESSION, endpoints(2), shm_sealed="yes")


# ---------------------------------------------------------------------- strangers, silence, departure


@pytest.mark.timeout(60)
def test_strangers_on_the_bulk_port_cannot_inject():
    """Anyone can reach the bulk port (plain TCP): a connection under an id that is no party's is
    dropped, one under party 1's id (taken already) is ignored by ZeroMQ; party 0 receives party
    1's records untouched."""
    eps, keys = endpoints(2), make_keys(2)
    arr = np.arange(50_000, dtype=np.uint64)
    ready, injected, go = threading.Event(), threading.Event(), threading.Event()
    port = []

    def body(pid):
        with channel(pid, 2, eps, keys) as ch:
            if pid == 0:
                port.append(ch._records.port)
                ready.set()
                assert injected.wait(20)
                # the stranger's message is queued before party 1 sends anything (the squatter's
                # never is: ZeroMQ ignores a connection under a taken id), so it is read first
                assert ch._records.links.router.poll(10_000)
                go.set()
                got = [ch.recv(1, tag, dtype=np.uint64, shape=arr.shape) for tag in (1, 2)]
                ch.send(1, np.ones(1, np.uint8), 3)
                return all(np.array_equal(g, arr + k) for k, g in enumerate(got)), ch.dropped
            assert go.wait(20)
            ch.send(0, arr, 1)
            ch.send(0, arr + 1, 2)
            ch.recv(0, 3)
            return None

    def strangers():
        assert ready.wait(20)
        ctx = zmq.Context()
        try:
            socks = []
            for rid in (b"X01", identity(1)):
                s = ctx.socket(zmq.DEALER)
                s.routing_id = rid
                s.linger = 0
                s.connect(f"tcp://127.0.0.1:{port[0]}")
                s.send(os.urandom(arr.nbytes + OVERHEAD))
                socks.append(s)
            injected.set()
            assert go.wait(20)
            time.sleep(0.5)
            for s in socks:
                s.close()
        finally:
            ctx.term()

    thread = threading.Thread(target=strangers, daemon=True)
    thread.start()
    (ok, dropped), _ = check_ok(run_parties(2, body))
    thread.join(10)
    assert ok and dropped == 1


@pytest.mark.timeout(60)
def test_a_message_that_never_comes_is_a_peer_timeout():
    """A message lost on the bulk link: PeerTimeout at the receive's deadline, naming the peer (a
    silent link, not a hang)."""
    eps, keys = endpoints(2), make_keys(2)
    arr = np.arange(20_000, dtype=np.uint64)

    def body(pid):
        with channel(pid, 2, eps, keys) as ch:
            if pid == 1:
                ch._records._send = lambda to, *frames: zmq_records._DONE  # dropped on the wire
                ch.send(0, arr, 1)
                ch.recv(0, 2)
                return None
            t0 = time.monotonic()
            with pytest.raises(PeerTimeout, match="party 1") as info:
                ch.recv(1, 1, timeout=1.0)
            waited = time.monotonic() - t0
            ch.send(1, np.ones(1, np.uint8), 2)
            return info.value.peer, waited

    (peer, waited), _ = check_ok(run_parties(2, body))
    assert peer == 1 and waited < 10


@pytest.mark.timeout(60)
@pytest.mark.parametrize("n", [2, 3])
def test_a_peer_that_leaves_before_its_message_arrives_is_reported_at_once(n):
    """Party 1 sends a message that is lost, then closes its channel (its process ended):
    the receive raises PeerTimeout "has disconnected" long before its 60 s deadline."""
    eps, keys = endpoints(n), make_keys(n)
    arr = np.arange(20_000, dtype=np.uint64)

    def body(pid):
        with channel(pid, n, eps, keys, timeout=60) as ch:
            ch.exchange(np.zeros(1, np.uint8), tag=1)
            if pid == 1:
                ch._records._send = lambda to, *frames: zmq_records._DONE
                for p in ch.peers:
                    ch.send(p, arr, 2)
                return None
            t0 = time.monotonic()
            with pytest.raises(PeerTimeout, match="party 1 has disconnected"):
                ch.recv(1, 2)
            return time.monotonic() - t0

    for pid, waited in enumerate(check_ok(run_parties(n, body, join=50))):
        assert pid == 1 or waited < 20


@pytest.mark.timeout(60)
def test_what_a_peer_sent_before_leaving_still_arrives():
    """Party 1 sends large records and leaves at once: party 0 reads them all, then gets
    PeerTimeout "has disconnected"."""
    eps, keys = endpoints(2), make_keys(2)
    arr = np.arange(1 << 20, dtype=np.uint64)  # 8 MiB each

    def body(pid):
        with channel(pid, 2, eps, keys, timeout=60) as ch:
            ch.exchange(np.zeros(1, np.uint8), tag=1)
            if pid == 1:
                for k in range(3):
                    ch.send(0, arr + k, 2 + k)
                return None
            got = [bool(np.array_equal(ch.recv(1, 2 + k, dtype=np.uint64, shape=arr.shape), arr + k)) for k in range(3)]
            with pytest.raises(PeerTimeout, match="party 1 has disconnected"):
                ch.recv(1, 5)
            return got

    assert check_ok(run_parties(2, body))[0] == [True, True, True]


# ---------------------------------------------------------------------- configuration


def test_rings_are_used_under_encryption_by_default():
    env = {"MPC_PID": "0", "MPC_ADDRS": "127.0.0.1:5000,127.0.0.1:5001"}
    cfg = from_env({}, {}, env)  # loopback without keys: allowed, no CURVE
    assert cfg.use_shm and cfg.shm_sealed is None  # sealed or not: the host decides
    assert from_env({}, {}, {**env, "MPC_SHM": "off"}).use_shm is False
    assert from_env({}, {}, {**env, "MPC_SHM": "on"}).use_shm is True
    assert from_env({}, {}, {**env, "MPC_SHM": "sealed"}).use_shm is True


@pytest.mark.parametrize("text, restricted", [("0\n", False), ("1\n", True), ("2", True), ("3\n", True),
                                              (None, False), ("", True), ("x", True)])
def test_ptrace_restriction_from_yama(tmp_path, text, restricted):
    """Yama's ptrace_scope: 0 or no Yama at all (no file) lets every process of the user read the
    parties' memory; 1-3 do not; an unreadable value counts as restricted (the cautious side)."""
    path = tmp_path / "ptrace_scope"
    if text is not None:
        path.write_text(text)
    assert shm_ring.ptrace_restricted(str(path)) is restricted


@pytest.mark.timeout(60)
def test_bulk_links_listen_on_a_given_port():
    """With bulk_port (the hosts file's, for firewalls that open given ports only) the listener's
    bulk links use that port; the others connect to it as announced. The four ports come as one
    block checked together: drawn one by one from the worker's range of 4,000, two could be the
    same port (about 1 in 4,000 per pair) and a party's bind would fail, the likely cause of a
    failure seen once in a fresh clone (party 1 left during the set-up)."""
    e0, e1, b0, b1 = free_ports(4)
    eps, keys = [f"tcp://127.0.0.1:{e0}", f"tcp://127.0.0.1:{e1}", None], make_keys(3)
    ports = [b0, b1, None]
    arr = np.arange(1 << 15, dtype=np.uint64)

    def body(pid):
        with channel(pid, 3, eps, keys, bulk_port=ports[pid]) as ch:
            got = ch.exchange(arr + pid)
            return ch._records.port, all(np.array_equal(got[p], arr + p) for p in range(3)), ch.bulk_sent

    results = check_ok(run_parties(3, body))
    assert [r[0] for r in results] == [ports[0], ports[1], 0] and all(r[1] and r[2] == 2 for r in results)


def test_bad_settings_are_rejected():
    for bad in (0, 1, None, "yes"):
        with pytest.raises(ConfigError, match="records: expected True or False"):
            ZmqChannel(0, 2, SESSION, ["tcp://127.0.0.1:1", None], records=bad)
    for bad in (0, -1, 1.5, True, "64k"):
        with pytest.raises(ConfigError, match="bulk_port"):
            ZmqChannel(0, 2, SESSION, ["tcp://127.0.0.1:1", None], bulk_port=bad)
    with pytest.raises(ConfigError, match="bulk_port"):
        ZmqChannel(0, 2, SESSION, ["tcp://127.0.0.1:1", None], bulk_port=65536)
