"""AEAD records (mpc.crypto.aead): key agreement, round trips, and every way a record must fail.

Payloads are test data (os.urandom or NumPy test patterns); the keys come from the module's own
exchange. Each failing case also checks that the opener then refuses the genuine record: after a
failure the stream is over.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mpc.crypto import aead
from mpc.crypto.aead import OVERHEAD, KeyExchange, RecordOpener, RecordSealer, payload_size, record_size
from mpc.errors import ConfigError, ProtocolError

SESSION = 0x0123456789ABCDEF


def header(tag: int, sender: int = 0) -> bytes:
    """A stand-in for the wire header (mpc.net.wire is a layer above): fixed size, tag inside."""
    return b"TSR\x01" + SESSION.to_bytes(8, "little") + sender.to_bytes(2, "little") + tag.to_bytes(8, "little")


def exchange(session: int = SESSION, a: int = 0, b: int = 1):
    """Both ends of a set-up: ((a's sealer, a's opener), (b's sealer, b's opener))."""
    ka, kb = KeyExchange(), KeyExchange()
    return ka.records(kb.public, session=session, me=a, peer=b), kb.records(ka.public, session=session, me=b, peer=a)


@pytest.fixture
def ab():
    """a's sealer (a -> b) and b's opener (a -> b)."""
    (sa, _), (_, ob) = exchange()
    return sa, ob


def assert_fails(opener: RecordOpener, hdr: bytes, record: object, words: str = "") -> None:
    with pytest.raises(ProtocolError, match=words):
        opener.open(hdr, record)


# ----------------------------------------------------------------------------- key agreement


def test_both_directions_open_at_the_other_end_only():
    (sa, oa), (sb, ob) = exchange()
    r = sa.seal(header(0), b"to b")
    assert bytes(ob.open(header(0), r)) == b"to b"
    r = sb.seal(header(0, 1), b"to a")
    assert bytes(oa.open(header(0, 1), r)) == b"to a"
    # reflection: a's own record handed back to a (its b -> a opener) fails
    assert_fails(oa, header(1), sa.seal(header(1), b"echo"), "authentication")


def test_direction_keys_are_bound_to_session_parties_and_public_keys():
    shared, pa, pb = os.urandom(32), os.urandom(32), os.urandom(32)
    base = aead._direction_key(shared, SESSION, 0, 1, pa, pb)
    assert len(base) == aead.KEY_BYTES
    assert base == aead._direction_key(shared, SESSION, 0, 1, pa, pb)  # deterministic: both ends agree
    variants = [
        aead._direction_key(shared, SESSION, 1, 0, pb, pa),  # the other direction
        aead._direction_key(shared, SESSION + 1, 0, 1, pa, pb),
        aead._direction_key(shared, SESSION, 0, 2, pa, pb),
        aead._direction_key(shared, SESSION, 0, 1, pb, pa),
        aead._direction_key(os.urandom(32), SESSION, 0, 1, pa, pb),
    ]
    assert len({base, *variants}) == 1 + len(variants)


def test_other_session_or_other_pair_cannot_open():
    (sa, _), _ = exchange(session=1)
    record = sa.seal(header(0), b"x")
    _, (_, ob_other_session) = exchange(session=2)
    assert_fails(ob_other_session, header(0), record, "authentication")
    _, (_, oc) = exchange(a=0, b=2)  # party 2's opener for 0 -> 2, from another exchange
    assert_fails(oc, header(0), record, "authentication")


def test_key_exchange_is_ephemeral_and_one_shot():
    k1, k2, k3 = KeyExchange(), KeyExchange(), KeyExchange()
    assert len({k1.public, k2.public, k3.public}) == 3 and len(k1.public) == aead.PUBLIC_KEY_BYTES
    k1.records(k2.public, session=1, me=0, peer=1)
    with pytest.raises(ProtocolError, match="used already"):
        k1.records(k3.public, session=1, me=0, peer=2)


@pytest.mark.parametrize(
    "peer_public, words",
    [
        (b"\x00" * 32, "no shared secret"),  # the zero point: small order
        ((1).to_bytes(32, "little"), "no shared secret"),  # the point u = 1: order 4
        (b"\x09" * 31, "31-byte"),
        (b"\x09" * 33, "33-byte"),
        ("a string", "not bytes"),
        (None, "not bytes"),
    ],
)
def test_key_exchange_rejects_bad_peer_keys(peer_public, words):
    with pytest.raises(ProtocolError, match=words):
        KeyExchange().records(peer_public, session=1, me=0, peer=1)


def test_key_exchange_rejects_its_own_key_reflected():
    k = KeyExchange()
    with pytest.raises(ProtocolError, match="own public key"):
        k.records(k.public, session=1, me=0, peer=1)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(session=-1, me=0, peer=1), "session"),
        (dict(session=2**64, me=0, peer=1), "session"),
        (dict(session=True, me=0, peer=1), "session"),
        (dict(session=1, me=0, peer=0), "two different parties"),
        (dict(session=1, me=-1, peer=0), "sender"),
        (dict(session=1, me=0, peer=0x10000), "receiver"),
        (dict(session=1, me="0", peer=1), "sender"),
    ],
)
def test_key_exchange_rejects_bad_arguments(kwargs, words):
    k = KeyExchange()
    with pytest.raises(ConfigError, match=words):
        k.records(KeyExchange().public, **kwargs)


# ids fixed: pytest-xdist's workers must collect the same test names, and random bytes differ
@pytest.mark.parametrize("key", [b"", os.urandom(16), os.urandom(33), "k" * 32, None],
                         ids=["empty", "16-bytes", "33-bytes", "str", "none"])
def test_record_ends_reject_bad_keys(key):
    for cls in (RecordSealer, RecordOpener):
        with pytest.raises(ConfigError, match="key"):
            cls(key, sender=0, receiver=1)


# ----------------------------------------------------------------------------- round trips


PAYLOADS = [
    b"",
    b"x",
    bytes(range(256)) * 7,
    bytearray(b"mutable"),
    np.arange(1000, dtype=np.uint64),
    np.arange(12, dtype=np.int64).reshape(3, 4),
    np.array(2**64 - 1, dtype=np.uint64),  # 0-d
    np.zeros((0, 5), dtype=np.uint64),
    np.linspace(0, 1, 17),
]


def raw(payload: object) -> bytes:
    return np.ascontiguousarray(payload).tobytes() if isinstance(payload, np.ndarray) else bytes(payload)


def test_records_round_trip_in_order(ab):
    sa, ob = ab
    for i, payload in enumerate(PAYLOADS):
        record = sa.seal(header(i), payload)
        n = len(raw(payload))
        assert record.nbytes == record_size(n) == n + OVERHEAD and payload_size(record.nbytes) == n
        assert int.from_bytes(record[:8], "big") == i  # the counter, in the clear
        if n >= 16:  # the payload does not appear in the record (it is encrypted)
            assert raw(payload)[:16] not in bytes(record)
        assert bytes(ob.open(header(i), record)) == raw(payload)
    assert sa.records == ob.records == len(PAYLOADS)


def test_records_go_into_caller_buffers(ab):
    sa, ob = ab
    payload = np.arange(4096, dtype=np.uint64)
    rec_buf = np.full(record_size(payload.nbytes) + 100, 0xAA, dtype=np.uint8)  # larger than needed
    record = sa.seal(header(0), payload, out=rec_buf)
    assert record.nbytes == record_size(payload.nbytes)
    assert np.shares_memory(np.frombuffer(record, np.uint8), rec_buf)
    assert np.all(rec_buf[record.nbytes:] == 0xAA)  # nothing written past the record
    out = np.empty(payload.shape, dtype=np.uint64)  # the receiver's preallocated array
    got = ob.open(header(0), rec_buf[: record.nbytes], out=out)
    assert np.shares_memory(np.frombuffer(got, np.uint8), out)
    assert np.array_equal(out, payload)


def test_sixteen_megabytes_round_trip(ab):
    sa, ob = ab
    payload = np.frombuffer(os.urandom(16 << 20), dtype=np.uint8)
    record = np.empty(record_size(payload.size), dtype=np.uint8)
    out = np.empty_like(payload)
    sa.seal(header(0), payload, out=record)
    ob.open(header(0), record, out=out)
    assert np.array_equal(out, payload)


class _OldAESGCM:
    """AESGCM as cryptography < 46 has it: no encrypt_into / decrypt_into."""

    def __init__(self, inner):
        self._inner = inner

    def encrypt(self, *args):
        return self._inner.encrypt(*args)

    def decrypt(self, *args):
        return self._inner.decrypt(*args)


def test_copying_fallback_gives_the_same_records():
    key = os.urandom(32)
    new, old = RecordSealer(key, sender=3, receiver=5), RecordSealer(key, sender=3, receiver=5)
    old._aead = _OldAESGCM(old._aead)
    opener = RecordOpener(key, sender=3, receiver=5)
    opener._aead = _OldAESGCM(opener._aead)
    for i, payload in enumerate([b"", b"abc", os.urandom(5000)]):
        r_new, r_old = bytes(new.seal(header(i), payload)), bytes(old.seal(header(i), payload))
        assert r_new == r_old
        assert bytes(opener.open(header(i), r_old)) == payload
    bad = bytearray(new.seal(header(3), b"tamper me"))
    bad[9] ^= 1
    assert_fails(opener, header(3), bad, "authentication")


class _NoOverlapAESGCM(_OldAESGCM):
    """AESGCM as cryptography >= 51 has it: encrypt_into / decrypt_into refuse any overlap of
    input and output (ValueError), exact in-place included."""

    def encrypt_into(self, nonce, data, aad, buf):
        self._check(data, buf)
        return self._inner.encrypt_into(nonce, data, aad, buf)

    def decrypt_into(self, nonce, data, aad, buf):
        self._check(data, buf)
        return self._inner.decrypt_into(nonce, data, aad, buf)

    @staticmethod
    def _check(data, buf):
        if np.may_share_memory(np.frombuffer(data, np.uint8), np.frombuffer(buf, np.uint8)):
            raise ValueError("data and buf must not overlap")


@pytest.mark.parametrize("refusing", [False, True], ids=["installed version", "a version refusing overlaps"])
def test_in_place_open_whatever_the_version_takes(monkeypatch, refusing):
    # the receiving channel opens a one-record payload into its own frame (mpc.net.zmq_records);
    # with a version that refuses the overlap (cryptography >= 51), the opener fills it with one copy
    if not hasattr(RecordOpener(os.urandom(32), sender=0, receiver=1)._aead, "decrypt_into"):
        pytest.skip("cryptography < 46 has no decrypt_into: the copying path is tested above")
    key = os.urandom(32)
    sealer, opener = RecordSealer(key, sender=0, receiver=1), RecordOpener(key, sender=0, receiver=1)
    if refusing:
        monkeypatch.setattr(aead, "IN_PLACE", False)
        sealer._aead, opener._aead = _NoOverlapAESGCM(sealer._aead), _NoOverlapAESGCM(opener._aead)
    for i, payload in enumerate([os.urandom(64), os.urandom(70_000)]):
        frame = bytearray(sealer.seal(header(i), payload))
        view = memoryview(frame)
        got = opener.open(header(i), view, out=view[aead.COUNTER_BYTES : aead.COUNTER_BYTES + len(payload)])
        assert bytes(got) == payload
    bad = bytearray(sealer.seal(header(2), b"tamper me"))
    bad[9] ^= 1
    view = memoryview(bad)
    with pytest.raises(ProtocolError, match="authentication"):
        opener.open(header(2), view, out=view[aead.COUNTER_BYTES : aead.COUNTER_BYTES + 9])


def test_in_place_probe_matches_the_installed_version():
    probe = AESGCM(bytes(32))
    sealed = memoryview(bytearray(probe.encrypt(bytes(12), bytes(16), b"")))
    try:
        probe.decrypt_into(bytes(12), sealed, b"", sealed[:16])
        taken = True
    except (AttributeError, ValueError):
        taken = False
    assert aead.IN_PLACE is taken


# ----------------------------------------------------------------------------- failures


def _tampered(record: bytes, where: str, offset: int) -> bytes:
    """The record with one bit flipped in the named part (counter, ciphertext or tag)."""
    n = len(record) - OVERHEAD
    if where == "ciphertext" and n == 0:  # an empty payload has no ciphertext: the tag instead
        where = "tag"
    start, size = {"counter": (0, 8), "ciphertext": (8, n), "tag": (8 + n, 16)}[where]
    pos = start + offset % size
    out = bytearray(record)
    out[pos] ^= 1 << (offset % 8)
    return bytes(out)


@pytest.mark.parametrize("where", ["counter", "ciphertext", "tag"])
@pytest.mark.parametrize("offset", [0, 5, 7, 1000, 4095])
def test_modified_record_fails_and_ends_the_stream(ab, where, offset):
    sa, ob = ab
    payload = os.urandom(4096)
    record = bytes(sa.seal(header(0), payload))
    out = bytearray(b"\xaa" * len(payload))
    with pytest.raises(ProtocolError, match="counter [0-9]+, expected 0" if where == "counter" else "authentication"):
        ob.open(header(0), _tampered(record, where, offset), out=out)
    # no unauthenticated plaintext left behind: zeroed after decryption, untouched before it
    assert bytes(out) == (b"\xaa" if where == "counter" else b"\x00") * len(payload)
    assert_fails(ob, header(0), record, "failed before")


@pytest.mark.parametrize("pos", [0, 3, 12, 15, 21])
def test_record_under_another_header_fails(ab, pos):
    sa, ob = ab
    record = sa.seal(header(0), b"payload bound to its header")
    other = bytearray(header(0))
    other[pos] ^= 0x80
    assert_fails(ob, bytes(other), record, "authentication")
    assert_fails(ob, header(0), record, "failed before")


def test_header_moved_to_another_tag_fails(ab):
    sa, ob = ab
    record = sa.seal(header(7), b"x" * 100)
    assert_fails(ob, header(8), record, "authentication")


def test_replayed_record_fails(ab):
    sa, ob = ab
    record = bytes(sa.seal(header(0), b"once"))
    assert bytes(ob.open(header(0), record)) == b"once"
    assert_fails(ob, header(0), record, "counter 0, expected 1")


def test_reordered_records_fail(ab):
    sa, ob = ab
    r0, r1 = bytes(sa.seal(header(0), b"first")), bytes(sa.seal(header(1), b"second"))
    assert_fails(ob, header(1), r1, "counter 1, expected 0")
    assert_fails(ob, header(0), r0, "failed before")


def test_lost_record_fails(ab):
    sa, ob = ab
    sa.seal(header(0), b"lost")
    assert_fails(ob, header(1), sa.seal(header(1), b"next"), "counter 1, expected 0")


@pytest.mark.parametrize("keep", [0, 1, 8, OVERHEAD - 1, OVERHEAD, OVERHEAD + 99, OVERHEAD + 100 - 1])
def test_truncated_record_fails(ab, keep):
    sa, ob = ab
    record = bytes(sa.seal(header(0), os.urandom(100)))
    assert_fails(ob, header(0), record[:keep], "truncated|authentication")
    assert_fails(ob, header(0), record, "failed before")


def test_extended_record_fails(ab):
    sa, ob = ab
    record = bytes(sa.seal(header(0), os.urandom(100)))
    assert_fails(ob, header(0), record + b"\x00", "authentication")


def test_wrong_key_fails():
    sealer = RecordSealer(os.urandom(32), sender=0, receiver=1)
    opener = RecordOpener(os.urandom(32), sender=0, receiver=1)
    assert_fails(opener, header(0), sealer.seal(header(0), b"x" * 64), "authentication")


def test_nonce_carries_the_direction():
    # the same key with the ends' ids swapped (the nonce prefix) does not open
    key = os.urandom(32)
    sealer = RecordSealer(key, sender=0, receiver=1)
    assert_fails(RecordOpener(key, sender=1, receiver=0), header(0), sealer.seal(header(0), b"x"), "authentication")
    sealer2 = RecordSealer(key, sender=0, receiver=1)
    assert bytes(RecordOpener(key, sender=0, receiver=1).open(header(0), sealer2.seal(header(0), b"x"))) == b"x"


def test_bad_buffers_are_rejected_without_ending_the_stream(ab):
    sa, ob = ab
    record = bytes(sa.seal(header(0), b"12345678"))
    with pytest.raises(ConfigError, match="needs 8 bytes"):
        ob.open(header(0), record, out=bytearray(7))
    with pytest.raises(ConfigError, match="read-only"):
        ob.open(header(0), record, out=bytes(8))
    with pytest.raises(ConfigError, match="bytes-like"):
        ob.open(header(0), "not a buffer")
    assert bytes(ob.open(header(0), record)) == b"12345678"  # still in step
    with pytest.raises(ConfigError, match="C-contiguous"):
        sa.seal(header(1), np.arange(10, dtype=np.uint64)[::2])
    with pytest.raises(ConfigError, match="needs 32 bytes"):
        sa.seal(header(1), b"8 bytes!", out=bytearray(31))


def test_record_and_key_limits(ab, monkeypatch):
    sa, ob = ab
    monkeypatch.setattr(aead, "MAX_RECORDS", 3)
    for i in range(3):
        ob.open(header(i), sa.seal(header(i), b"r"))
    with pytest.raises(ProtocolError, match="limit"):
        sa.seal(header(3), b"one too many")
    # the opener enforces the limit too, for a sender that does not
    forged = (3).to_bytes(8, "big") + os.urandom(OVERHEAD)  # the next counter, past the limit
    assert_fails(ob, header(3), forged, "limit")


def test_record_size_limit(ab, monkeypatch):
    sa, ob = ab
    record = sa.seal(header(0), bytes(11))
    monkeypatch.setattr(aead, "MAX_RECORD_PAYLOAD", 10)
    with pytest.raises(ConfigError, match="split it"):
        sa.seal(header(1), bytes(11))
    assert_fails(ob, header(0), record, "more than a record carries")


def test_block_limit(monkeypatch):
    monkeypatch.setattr(aead, "MAX_BLOCKS", 10)
    sealer = RecordSealer(os.urandom(32), sender=0, receiver=1)
    sealer.seal(header(0), bytes(16 * 8))  # 8 blocks + 1 per record = 9
    with pytest.raises(ProtocolError, match="limit"):
        sealer.seal(header(1), bytes(16))  # would be 11


def test_errors_and_reprs_carry_no_secrets():
    key, payload = os.urandom(32), os.urandom(64)
    sealer, opener = RecordSealer(key, sender=0, receiver=1), RecordOpener(key, sender=0, receiver=1)
    record = bytearray(sealer.seal(header(0), payload))
    record[10] ^= 1
    with pytest.raises(ProtocolError) as info:
        opener.open(header(0), record)
    texts = [str(info.value), repr(sealer), repr(opener), repr(KeyExchange())]
    for text in texts:
        for secret in (key, payload):
            assert secret.hex() not in text and secret.hex()[:16] not in text and repr(secret)[2:20] not in text


# ----------------------------------------------------------------------------- streams

Delivery = tuple[int, str, int]  # (record index, mutation, parameter)
MUTATIONS = ["none", "none", "none", "flip", "header", "truncate", "foreign"]


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    sizes=st.lists(st.integers(0, 2000), min_size=1, max_size=8),
    plan=st.lists(st.tuples(st.integers(0, 7), st.sampled_from(MUTATIONS), st.integers(0, 2**20)), max_size=16),
    in_order=st.booleans(),
)
def test_only_the_in_order_unmodified_stream_opens(sizes, plan, in_order):
    (sa, _), (_, ob) = exchange()
    foreign = RecordSealer(os.urandom(32), sender=0, receiver=1)
    payloads = [os.urandom(n) for n in sizes]
    records = [bytes(sa.seal(header(i), p)) for i, p in enumerate(payloads)]
    foreign_records = [bytes(foreign.seal(header(i), p)) for i, p in enumerate(payloads)]
    if in_order:  # half the examples: the honest stream, possibly with mutations mixed in
        padded = plan + [(0, "none", 0)] * len(records)
        plan = [(i, padded[i][1], padded[i][2]) for i in range(len(records))]
    expected, failed = 0, False
    for index, mutation, param in plan:
        index %= len(records)
        hdr, record = header(index), records[index]
        if mutation == "flip":
            record = _tampered(record, ["counter", "ciphertext", "tag"][param % 3], param // 3)
        elif mutation == "header":
            hdr = header(index + 1 + param % 5)
        elif mutation == "truncate":
            record = record[: param % len(record)]
        elif mutation == "foreign":
            record = foreign_records[index]
        honest = index == expected and mutation == "none"
        if failed or not honest:
            with pytest.raises(ProtocolError):
                ob.open(hdr, record)
            failed = True
        else:
            assert bytes(ob.open(hdr, record)) == payloads[index]
            expected += 1
    assert ob.records == expected


# ----------------------------------------------------------------------------- the bytes variants


def twins(key: bytes | None = None):
    """Two sealers and two openers of one direction under one key: what one variant does to one
    of them, the other variant does to its twin."""
    key = os.urandom(32) if key is None else key
    return (RecordSealer(key, sender=0, receiver=1), RecordSealer(key, sender=0, receiver=1),
            RecordOpener(key, sender=0, receiver=1), RecordOpener(key, sender=0, receiver=1))


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(0, 5000), min_size=1, max_size=8))
def test_bytes_variants_make_and_open_the_same_records(sizes):
    """seal_bytes/open_bytes (the small-message path of the channel) are seal/open with less
    Python: the same record bytes for the same counter, and each opens the other's."""
    s1, s2, o1, o2 = twins()
    for i, n in enumerate(sizes):
        payload = os.urandom(n)
        record = s2.seal_bytes(header(i), payload)
        assert isinstance(record, bytes) and record == bytes(s1.seal(header(i), payload))
        assert o1.open_bytes(header(i), memoryview(record)) == payload  # a frame's buffer
        assert bytes(o2.open(header(i), record)) == payload
    assert s1.records == s2.records == o1.records == o2.records == len(sizes)


def _bad_streams(record0: bytes, record1: bytes) -> dict:
    """What an attacker hands the opener instead of record 0 (then record 0 itself), by name."""
    flipped = lambda pos: record0[:pos] + bytes([record0[pos] ^ 4]) + record0[pos + 1 :]  # noqa: E731
    return {"counter bit": flipped(7), "ciphertext bit": flipped(9), "tag bit": flipped(len(record0) - 1),
            "truncated": record0[:-1], "too short": record0[: OVERHEAD - 1], "extended": record0 + b"\0",
            "reordered": record1}


@pytest.mark.parametrize("how", sorted(_bad_streams(bytes(40), bytes(40))))
def test_open_bytes_fails_as_open_does(how):
    """Every way a record must fail, through both openers: the same ProtocolError (no data), and
    the stream ends for both (the genuine record is refused afterwards)."""
    s, _, o1, o2 = twins()
    record0, record1 = s.seal_bytes(header(0), b"x" * 16), s.seal_bytes(header(1), b"y" * 16)
    bad = _bad_streams(record0, record1)[how]
    with pytest.raises(ProtocolError) as via_open:
        o1.open(header(0), bad)
    with pytest.raises(ProtocolError) as via_bytes:
        o2.open_bytes(header(0), bad)
    assert str(via_bytes.value) == str(via_open.value)
    for opener in (o1, o2):
        with pytest.raises(ProtocolError, match="failed before"):
            opener.open_bytes(header(0), record0)


def test_open_bytes_checks_the_header_and_the_limits(monkeypatch):
    s, _, o1, _ = twins()
    with pytest.raises(ProtocolError, match="authentication"):
        o1.open_bytes(header(8), s.seal_bytes(header(7), b"moved"))
    monkeypatch.setattr(aead, "MAX_RECORDS", 1)
    s, _, o1, _ = twins()
    o1.open_bytes(header(0), s.seal_bytes(header(0), b"r"))
    with pytest.raises(ProtocolError, match="limit"):
        s.seal_bytes(header(1), b"one too many")
    with pytest.raises(ProtocolError, match="limit"):
        o1.open_bytes(header(1), (1).to_bytes(8, "big") + os.urandom(OVERHEAD))
    monkeypatch.setattr(aead, "MAX_RECORD_PAYLOAD", 10)
    with pytest.raises(ConfigError, match="more than one record carries"):
        RecordSealer(os.urandom(32), sender=0, receiver=1).seal_bytes(header(0), bytes(11))
