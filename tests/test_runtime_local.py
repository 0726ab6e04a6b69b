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


# The deadlines below are far longer than the tests' own timeout (pytest.mark.timeout): a party
# that waited for its deadline instead of being told its peer left fails the test.


@pytest.mark.timeout(60)
def test_failing_party_is_named_and_others_stop_at_once():
    def main(party):
        if party.pid == 2:
            raise RuntimeError("script bug")
        party.channel.exchange(np.zeros(1, dtype=np.uint64))

    out = run_local(main, 3, timeout=600, return_exceptions=True)
    assert isinstance(out[2], RuntimeError)
    for p in (0, 1):
        assert isinstance(out[p], PeerTimeout) and out[p].peer == 2
        assert str(out[p]) == f"party {p}: party 2 stopped (RuntimeError)"
    with pytest.raises(RuntimeError, match="script bug"):
        run_local(main, 3, timeout=600)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("preprocessing", ["local", "dealer"])
def test_party_that_stops_early_is_reported_at_once(preprocessing):
    """Party 0 returns while the others still expect a message from it (the protocol bug of a
    script whose parties take different branches): they read what it sent, then fail at once."""

    def main(party):
        x = party.input(np.arange(3.0) if party.pid == 0 else None, owner=0, shape=(3,))
        if party.pid == 0:
            return "left early"
        return party.reveal(x * x)

    out = run_local(main, 3, timeout=600, preprocessing=preprocessing, return_exceptions=True)
    assert out[0] == "left early"
    for p in (1, 2):
        assert isinstance(out[p], PeerTimeout) and out[p].peer == 0
        assert str(out[p]) == f"party {p}: party 0 has disconnected"


@pytest.mark.timeout(60)
def test_dealer_that_stops_is_reported_at_once():
    """A dealer that ends without serving (here a hook that returns at once): the parties waiting
    for its seeds are told at once, naming the dealer."""
    out = run_local(lambda party: None, 2, timeout=600, preprocessing="dealer",
                    dealer_hook=lambda dealer, links: None, return_exceptions=True)
    for p in (0, 1):
        assert isinstance(out[p], PeerTimeout) and out[p].peer == "dealer"
        assert "the dealer did not send its preprocessing seed" in str(out[p])


def test_silent_party_times_out_at_its_deadline():
    hub = LocalHub(2, timeout=0.3)
    a, _b = hub.channels()
    t = time.monotonic()
    with pytest.raises(PeerTimeout, match="party 1") as info:
        a.recv(1, a.next_tag())
    assert info.value.peer == 1 and 0.3 <= time.monotonic() - t < 60  # not before the deadline


def test_messages_sent_before_leaving_still_arrive():
    hub = LocalHub(2, timeout=600)
    a, b = hub.channels()
    b.send(0, np.array([5], dtype=np.uint64), 1)
    b.close()
    assert a.recv(1, 1).tolist() == [5]
    with pytest.raises(PeerTimeout, match="party 0: party 1 has disconnected"):
        a.recv(1, 2)


def test_bad_party_arguments():
    with pytest.raises(ConfigError, match="engine"):
        run_local(lambda p: None, 2, engine="nope")
    with pytest.raises(ConfigError, match="at least 2"):
        LocalHub(1).channels()
    hub = LocalHub(2)
    ch = hub.channels()[0]
    with pytest.raises(ProtocolError, match="not a peer"):
        ch.send(0, np.zeros(1, dtype=np.uint64), 1)
