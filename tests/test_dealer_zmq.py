"""The dealer service over real ZeroMQ links (threads in this process, loopback TCP, plaintext)."""

import threading

import numpy as np
import pytest

from mpc.config import DEALER, SessionConfig
from mpc.errors import PeerTimeout
from mpc.launch.local import free_port_block
from mpc.net.zmq_channel import ZmqChannel
from mpc.preprocessing.dealer_service import party_link, serve
from mpc.runtime.party import Party


def configs(n, base):
    endpoints = tuple(f"tcp://127.0.0.1:{base + i}" for i in range(n))
    dealer = f"tcp://127.0.0.1:{base + n}"
    common = {"n": n, "session": 99, "endpoints": endpoints, "dealer_endpoint": dealer, "timeout": 20.0,
              "connect_timeout": 20.0}
    return [SessionConfig(pid=i, **common) for i in range(n)], SessionConfig(pid=DEALER, **common)


@pytest.mark.parametrize("n", [2, 3])
def test_parties_and_dealer_over_zmq(n):
    base = free_port_block(2 * n)
    party_cfgs, dealer_cfg = configs(n, base)
    results, errors = [None] * n, []

    def dealer():
        try:
            serve(dealer_cfg, idle_timeout=20.0)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def party(cfg):
        try:
            ch = ZmqChannel(cfg.pid, n, cfg.session, cfg.endpoints, timeout=cfg.timeout,
                            connect_timeout=cfg.connect_timeout)
            p = Party(ch, preprocessing="dealer", dealer=party_link(cfg))
            try:
                x = p.input(np.arange(4.0) if p.pid == 0 else None, owner=0, shape=(4,))
                y = p.input(np.full(4, 0.5) if p.pid == n - 1 else None, owner=n - 1, shape=(4,))
                plan = p.dry_run(lambda a, b: (a * b).truncate(), x, y)
                p.preprocess(plan)
                results[cfg.pid] = p.reveal((x * y).truncate(), x @ y)
            finally:
                p.close()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=dealer, daemon=True)]
    threads += [threading.Thread(target=party, args=(c,), daemon=True) for c in party_cfgs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    for r in results:
        np.testing.assert_allclose(r[0], np.arange(4.0) * 0.5, atol=2**-16)
        assert r[1] == pytest.approx(3.0)


def test_absent_dealer_service_is_peer_timeout_naming_dealer():
    base = free_port_block(4)
    party_cfgs, _ = configs(2, base)
    cfg = SessionConfig(pid=0, n=2, session=99, endpoints=party_cfgs[0].endpoints,
                        dealer_endpoint=party_cfgs[0].dealer_endpoint, timeout=0.5, connect_timeout=0.5)
    with pytest.raises(PeerTimeout, match="dealer") as info:
        party_link(cfg)
    assert info.value.peer == "dealer"


@pytest.mark.timeout(60)
def test_dealer_ends_when_its_last_party_disconnects():
    """Party 1 (the one the dealer serves) leaves without its BYE, as a killed process would: the
    dealer ends at once, naming it, instead of waiting out its idle deadline (600 s here)."""
    base = free_port_block(4)
    party_cfgs, dealer_cfg = configs(2, base)
    errors = []

    def dealer():
        try:
            serve(dealer_cfg, idle_timeout=600.0)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    t = threading.Thread(target=dealer, daemon=True)
    t.start()
    links = [None, None]

    def connect(cfg):
        links[cfg.pid] = party_link(cfg)

    threads = [threading.Thread(target=connect, args=(c,)) for c in party_cfgs]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for link in links:
        assert link.recv(0, link.next_tag(), dtype=np.uint8).shape == (16,)  # its seed
        link.close()  # no BYE
    t.join(40)
    assert not t.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], PeerTimeout) and errors[0].peer == 1
    assert str(errors[0]) == "dealer: party 1 has disconnected"
