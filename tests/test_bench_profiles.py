"""Tessera's benchmark runners on the emulated networks (bench/parties.py, bench/net.py; root only).

A tiny W1 product and a tiny ping-pong run end to end on the ``lan`` profile: every party (and
the dealer) in its own network namespace from bench/netns.py, joined by a hosts file. Skipped,
with the reason, where namespaces cannot be created (not root, no iproute2, not Linux). The
not-available path and the argument checks run everywhere.
"""

from __future__ import annotations

import json
import pathlib
import secrets
import sys

import pytest

# bench/ is a folder of the repository, not part of the installed package
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from bench import arith, netns, parties  # noqa: E402
from bench import net as netbench  # noqa: E402

# Not the runners' prefix (tsb): a test never removes a running benchmark's network; fresh per run,
# fixed length and a letter last, so concurrent test runs never share or remove each other's.
PREFIX = f"tsbt{secrets.token_hex(2)}x"
NS_OK, NS_WHY = netns.available()
needs_netns = pytest.mark.skipif(not NS_OK, reason=f"network namespaces not available: {NS_WHY}")


@needs_netns
@pytest.mark.timeout(60)
def test_arith_w1_on_lan_profile():
    try:
        records = arith.measure("mul", 1000, 2, 1, "procs", "lan", prefix=PREFIX)
    finally:
        netns.teardown(PREFIX)  # run_parties removes them; this covers an interrupted run too
    assert [r["phase"] for r in records] == ["offline", "online"]
    for r in records:
        assert r["system"] == "tessera" and r["op"] == "mul" and r["parties"] == 2 and r["n"] == 1000
        assert r["profile"] == "lan"
        assert r["transport"] == parties.NETNS_TRANSPORT
        # the facts netns.py reports: a qdisc on every eth0, the 1gbit rate; the delay where netem
        # or bench/netdelay.py's NFQUEUE path can apply it, so it is checked to be a number, not a value
        assert r["shaping"] and r["shaping"] != "none"
        assert r["rate"] == "1gbit"
        assert isinstance(r["delay_ms"], (int, float)) and r["delay_ms"] >= 0
        assert r["n_results"] == 1000 and r["n_off"] == 0 and r["max_abs_err"] < 2**-10
        assert r["seconds"] > 0
    assert records[1]["rounds"] == 1 and records[1]["bytes"] > 0
    assert not netns.list_namespaces(PREFIX)


@needs_netns
@pytest.mark.timeout(90)
def test_arith_w1_encrypted_on_lan_profile():
    """mpcrun's encrypted default across namespaces, as on separate hosts: keys from `mpcrun
    keygen`, the bulk links to the ports the listeners announce; its records say so."""
    try:
        records = arith.measure("mul", 30_000, 2, 1, "procs-enc", "lan", prefix=PREFIX)  # 240 KB openings
    finally:
        netns.teardown(PREFIX)
    for r in records:
        assert r["engine"] == "semi2k encrypted" and r["encrypted"] is True
        assert r["transport"] == parties.NETNS_TRANSPORT + "-encrypted" and r["profile"] == "lan"
        assert r["n_results"] == 30_000 and r["n_off"] == 0 and r["max_abs_err"] < 2**-10
    assert records[1]["rounds"] == 1 and records[1]["bytes"] > 2 * 30_000 * 8
    assert not netns.list_namespaces(PREFIX)


@needs_netns
@pytest.mark.timeout(90)
def test_preprocessing_ot_on_lan_profile():
    """``preprocessing="ot"`` across namespaces: no dealer process (the hosts file has no dealer),
    the parties' own OT material over the shaped links; a W1 product stays exact and the offline
    suite's line carries the profile."""
    from bench import offline

    try:
        records = arith.measure("mul", 2000, 2, 1, "procs", "lan", prefix=PREFIX, preprocessing="ot")
        line = offline.measure("triple", 4096, 2, 1, "procs", None, "lan", prefix=PREFIX)
    finally:
        netns.teardown(PREFIX)
    assert [r["phase"] for r in records] == ["offline", "online"]
    for r in records:
        assert r["engine"] == "semi2k ot" and r["profile"] == "lan" and r["transport"] == parties.NETNS_TRANSPORT
        assert r["n_results"] == 2000 and r["n_off"] == 0 and r["max_abs_err"] < 2**-10
    assert records[0]["bytes"] >= 500 * 2000  # OT triples, not a dealer's 8 bytes each
    assert line["op"] == "offline_triple" and line["profile"] == "lan" and line["rate"] == "1gbit"
    assert line["transport"] == parties.NETNS_TRANSPORT and 500 <= line["bytes_per_item"] <= 1100
    assert not netns.list_namespaces(PREFIX)


@needs_netns
@pytest.mark.timeout(90)
def test_net_encrypted_exchange_on_lan_profile():
    try:
        rows = netbench.measure(["tessera", "tessera-encrypted"], "exchange", 2, 1 << 20, 2, profile="lan",
                                prefix=PREFIX)
    finally:
        netns.teardown(PREFIX)
    assert {(r["system"], r["encrypted"]) for r in rows} == {("tessera", False), ("tessera-encrypted", True)}
    for r in rows:
        assert r["profile"] == "lan" and r["bytes"] >= 1 << 20 and r["seconds"] > 0


@needs_netns
@pytest.mark.timeout(60)
def test_net_pingpong_on_lan_profile():
    try:
        rows = netbench.measure(
            ["tessera", "raw-pyzmq"], "pingpong", 2, 8, 2, 20, profile="lan", prefix=PREFIX
        )
    finally:
        netns.teardown(PREFIX)
    assert {r["system"] for r in rows} == {"tessera", "raw-pyzmq"}
    for r in rows:
        assert r["profile"] == "lan" and r["rate"] == "1gbit" and r["shaping"]
        assert "namespace" in r["mode"]
        assert r["seconds"] >= 2 * r["delay_ms"] / 1000  # a round trip crosses the link twice


def test_unavailable_profile_prints_a_not_available_line(monkeypatch, capsys):
    monkeypatch.setattr(netns, "available", lambda: (False, "no namespaces in this test"))
    arith.main(["--profile", "wan", "--parties", "2"])  # must not fall back to loopback
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert len(lines) == 1
    (line,) = lines
    assert line["status"] == "not-available" and line["system"] == "tessera" and line["profile"] == "wan"
    assert "no namespaces in this test" in line["reason"]


def test_profile_needs_processes():
    with pytest.raises(SystemExit) as exc:
        arith.main(["--profile", "lan", "--transport", "local"])
    assert exc.value.code == 2
    with pytest.raises(ValueError, match="needs processes"):
        parties.run("arith", arith.party_main, "mul", 10, 2, 1, "local", "lan")


def test_loopback_records_carry_the_network_facts():
    assert parties.net_fields({"profile": "loopback"}) == {
        "profile": "loopback",
        "shaping": None,
        "delay_ms": 0.0,
        "rate": None,
    }
