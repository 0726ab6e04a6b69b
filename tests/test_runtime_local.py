"""In-process runtime: counters, sections, tags, failure propagation, deadlines."""

import time

import numpy as np
import pytest

from mpc.errors import ConfigError, PeerTimeout, ProtocolError
from mpc.net.local import LocalHub
from mpc.testing import run_local


@pytest.mark.parametrize("n", [2, 3])
def test_exchange_counts_bytes_and_rounds_per_section(n):
    def main(party):
        ch = party.channel
        with party.section("two"):
            ch.exchange(np.zeros(10, dtype=np.uint64))
            ch.exchange(np.zeros(3, dtype=np.uint64))
        with party.section("none"):
            pass
        return party.stats()

    for s in run_local(main, n):
        two = s["sections"]["two"]
        assert two["rounds"] == 2
        assert two["messages_sent"] == 2 * (n - 1)
        assert two["bytes_sent"] == (n - 1) * (2 * (32 + 8) + 13 * 8)
        assert two["bytes_sent"] == two["bytes_received"]
        assert s["sections"]["none"]["bytes_sent"] == 0
        assert s["total"]["bytes_sent"] == two["bytes_sent"]  # seed agreement is not counted


def test_out_of_step_parties_raise_protocol_error():
    def main(party):
        if party.pid == 0:
            party.channel.next_tag()  # party 0 skips an operation
        party.channel.exchange(np.zeros(2, dtype=np.uint64))

    with pytest.raises(ProtocolError, match="tag"):
        run_local(main, 2)


def test_shape_mismatch_is_protocol_error():
    def main(party):
        party.channel.exchange(np.zeros(2 + party.pid, dtype=np.uint64))

    with pytest.raises(ProtocolError, match="shape"):
        run_local(main, 2)


def test_failing_party_is_named_and_others_stop_quickly():
    def main(party):
        if party.pid == 2:
            raise RuntimeError("script bug")
        party.channel.exchange(np.zeros(1, dtype=np.uint64))

    t = time.monotonic()
    out = run_local(main, 3, timeout=30, return_exceptions=True)
    assert time.monotonic() - t < 5  # far below the 30 s deadline: peers were told
    assert isinstance(out[2], RuntimeError)
    for p in (0, 1):
        assert isinstance(out[p], PeerTimeout) and out[p].peer == 2 and "party 2" in str(out[p])
    with pytest.raises(RuntimeError, match="script bug"):
        run_local(main, 3, timeout=30)


def test_silent_party_times_out_within_deadline():
    hub = LocalHub(2, timeout=0.3)
    a, _b = hub.channels()
    t = time.monotonic()
    with pytest.raises(PeerTimeout, match="party 1") as info:
        a.recv(1, a.next_tag())
    assert info.value.peer == 1 and 0.25 < time.monotonic() - t < 3


def test_bad_party_arguments():
    with pytest.raises(ConfigError, match="engine"):
        run_local(lambda p: None, 2, engine="nope")
    with pytest.raises(ConfigError, match="at least 2"):
        LocalHub(1).channels()
    hub = LocalHub(2)
    ch = hub.channels()[0]
    with pytest.raises(ProtocolError, match="not a peer"):
        ch.send(0, np.zeros(1, dtype=np.uint64), 1)
