"""ZmqChannel between party processes in separate network namespaces (bench/netns.py; root only).

Each party is a subprocess started with ``ip netns exec tsrtest<i> python -c PARTY``; it listens
on its namespace's 10.77.0.<i+1> address. Skipped, with the reason, where namespaces cannot be
created (not root, no iproute2, not Linux). The namespaces are always removed afterwards.

The lan/wan tests check that the profile's rate and delay are really there: with netem, or
without it through tbf + bench/netdelay.py (NFQUEUE, its rule added by ``iptables`` or, where
that is not installed -- as on the CI VM, whose kernel has neither netem nor an iptables
package -- by the daemon itself through the kernel's xtables socket). They fail, not skip,
where root can make namespaces but no path emulates the delay. The netlink and xtables
encodings of bench/netdelay.py are checked without root.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(stem: str):
    """bench/<stem>.py as a module, without putting bench/ on sys.path."""
    name = f"tessera_bench_{stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{stem}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
    return sys.modules[name]


netns = _load("netns")
netdelay = _load("netdelay")

# Not the CLI's default (a test run never removes a benchmark's network), and fresh per run: other
# test runs on the machine use namespaces of their own. Fixed length and a letter last, so no
# run's prefix followed by a party id is another run's namespace.
PREFIX = f"tsrt{secrets.token_hex(2)}x"
PORT = 5555
MB = 1 << 20

PARTY = r"""
import json, sys, time
import numpy as np
from mpc.net.zmq_channel import ZmqChannel

pid, n, size, pings = map(int, sys.argv[1:5])
eps = json.loads(sys.argv[5])
with ZmqChannel(pid, n, 0x4E7, eps, timeout=20) as ch:
    ch.exchange(np.zeros(1, np.uint64))  # every party is up: start together
    arr = np.full(size // 8, pid + 1, dtype=np.uint64)
    t0 = time.perf_counter()
    got = ch.exchange(arr)
    seconds = time.perf_counter() - t0
    ok = all(g.shape == arr.shape and int(g[0]) == int(g[-1]) == i + 1 for i, g in enumerate(got))
    rtts = []
    for _ in range(pings):
        tag = ch.next_tag()
        if pid == 0:
            t = time.perf_counter()
            ch.send(1, np.zeros(1, np.uint64), tag)
            ch.recv(1, tag, shape=(1,))
            rtts.append(time.perf_counter() - t)
        elif pid == 1:
            ch.recv(0, tag, shape=(1,))
            ch.send(0, np.zeros(1, np.uint64), tag)
    ch.exchange(np.zeros(1, np.uint64))  # nobody closes before everyone is done
print(json.dumps({"ok": ok, "seconds": seconds, "rtt_min": min(rtts) if rtts else None}))
"""


@pytest.fixture(scope="module")
def netns_ok():
    ok, reason = netns.available()
    if not ok:
        pytest.skip(f"network namespaces unavailable: {reason}")


@pytest.fixture
def make_net(netns_ok, request):
    """make_net(n, profile) -> Network; torn down after the test whatever happens."""
    request.addfinalizer(lambda: netns.teardown(PREFIX))
    return lambda n, profile: netns.setup(n, profile, prefix=PREFIX)


def run_parties(net: netns.Network, size: int, pings: int = 0) -> list[dict]:
    eps = [net.endpoint(i, PORT) if i < net.n - 1 else None for i in range(net.n)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-c", PARTY]
    procs = [
        net.popen_in(
            i,
            [*argv, str(i), str(net.n), str(size), str(pings), json.dumps(eps)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        for i in range(net.n)
    ]
    results = []
    try:
        for i, proc in enumerate(procs):
            out, err = proc.communicate(timeout=40)
            assert proc.returncode == 0, f"party {i} failed:\n{err[-2000:]}"
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return results


@pytest.mark.timeout(60)
@pytest.mark.parametrize("n", [2, 3])
def test_exchange_across_namespaces(make_net, n):
    net = make_net(n, "loopback")
    assert [netns.address(i) for i in range(n)] == [f"10.77.0.{i + 1}" for i in range(n)]
    results = run_parties(net, size=MB, pings=5)
    assert all(r["ok"] for r in results)


@pytest.mark.timeout(60)
def test_lan_rate_is_enforced(make_net):
    net = make_net(2, "lan")
    if net.rate is None:
        pytest.skip("the kernel offers no rate-limiting qdisc")
    size = 16 * MB
    floor = size * 8 / 1e9  # 1 gbit/s
    results = run_parties(net, size=size)
    assert all(r["ok"] for r in results)
    # Behaviour, not speed: a shaped link cannot carry 16 MB faster than its rate allows.
    assert max(r["seconds"] for r in results) >= 0.9 * floor, (results, net.shaping)


def _delay(net: netns.Network) -> float:
    """The emulated one-way delay in seconds (a failure, with the reason, if there is none)."""
    assert net.delay_ms == net.profile.delay_ms > 0, f"delay not emulated: {net.note} ({net.shaping})"
    return net.delay_ms / 1000


@pytest.mark.timeout(60)
@pytest.mark.parametrize("profile", ["lan", "wan"])
def test_round_trip_includes_the_delay(make_net, profile):
    net = make_net(2, profile)
    delay = _delay(net)
    results = run_parties(net, size=8, pings=20 if profile == "lan" else 4)
    rtt = results[0]["rtt_min"]
    # A request and its reply each cross the link once: at least twice the one-way delay...
    assert rtt >= 2 * delay, (results, net.shaping)
    # ...and not much more. The rest is ZeroMQ's round trip on loopback (~0.1 ms) plus, with
    # bench/netdelay.py, its wake-ups (~0.1 ms per crossing); 2 ms leaves room for a busy machine.
    assert rtt <= 2 * delay + max(2e-3, 0.1 * delay), (results, net.shaping)


@pytest.mark.timeout(60)
def test_wan_rate_is_enforced_and_tcp_fills_the_delay(make_net):
    net = make_net(2, "wan")
    _delay(net)
    size = 4 * MB
    floor = size * 8 / 100e6  # 100 mbit/s
    results = run_parties(net, size=size)
    assert all(r["ok"] for r in results)
    seconds = max(r["seconds"] for r in results)
    assert seconds >= 0.9 * floor, (results, net.shaping)
    # TCP needs a 500 KB window in flight to fill 100 mbit/s over 80 ms: if the shaping held it
    # back (queue limits, or TCP Small Queues with packets parked on the sender) 4 MB would
    # take tens of seconds. ~1 s is slow start plus the transfer.
    assert seconds < 10 * floor, (results, net.shaping)


@pytest.mark.timeout(60)
def test_teardown_stops_the_delay_daemons(make_net):
    net = make_net(2, "lan")
    if net.shaping.startswith("netem"):
        pytest.skip("the kernel has netem: no delay daemon is started")
    assert len(net.delay_pids) == 2 and all(netns._alive(pid) for pid in net.delay_pids)
    assert "nfqueue delay 0.1ms" in netns.delay_status(net.namespaces[0])
    # A dead daemon shows, and its rule (no --queue-bypass) stops the traffic instead of
    # letting it through undelayed; status says so.
    os.kill(net.delay_pids[0], signal.SIGKILL)
    deadline = time.monotonic() + 5
    while netns._alive(net.delay_pids[0]) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "no bench/netdelay.py daemon" in netns.delay_status(net.namespaces[0])
    netns.teardown(PREFIX)
    assert not any(netns._alive(pid) for pid in net.delay_pids)
    assert netns.list_namespaces(PREFIX) == []


@pytest.mark.timeout(60)
def test_teardown_removes_everything(make_net):
    net = make_net(2, "loopback")
    assert netns.list_namespaces(PREFIX) == [f"{PREFIX}0", f"{PREFIX}1", f"{PREFIX}hub"]
    # Deleting a namespace does not end its processes: teardown must.
    stray = net.popen_in(1, ["sleep", "60"])
    # `ip netns exec` joins the namespace after it starts: under load that takes a moment
    deadline = time.monotonic() + 5
    while netns.namespace_pids(f"{PREFIX}1") != [stray.pid] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert netns.namespace_pids(f"{PREFIX}1") == [stray.pid]
    netns.teardown(PREFIX)
    assert stray.wait(timeout=5) == -signal.SIGTERM
    assert netns.list_namespaces(PREFIX) == []


@pytest.mark.timeout(60)
def test_without_iptables_the_daemon_adds_its_rule(make_net, monkeypatch):
    monkeypatch.setattr(netns, "IPTABLES", ("tessera-no-such-iptables",))
    net = make_net(2, "lan")
    if net.shaping.startswith("netem"):
        pytest.skip("the kernel has netem: the NFQUEUE fallback is not used")
    assert net.rate == "1gbit" and net.shaping.startswith("tbf") and net.delay_ms == 0.1
    assert "xtables socket" in net.shaping and len(net.delay_pids) == 2
    for ns in net.namespaces:
        listed = netns.run_in(
            ns, [sys.executable, str(netns.NETDELAY), "--list-rules"], capture_output=True, text=True
        )
        assert listed.stdout.split() == ["eth0", str(netns.QUEUE_NUM)], listed


_ADD_RULES = """
import sys
sys.path.insert(0, sys.argv[1])
import netdelay
netdelay.add_nfqueue_rule("eth0", 0)
netdelay.add_nfqueue_rule("lo", 3)  # after the first: -A appends to INPUT, before its policy
print(netdelay.nfqueue_rules())
"""


@pytest.mark.timeout(60)
def test_netdelay_rules_go_into_the_kernel_table(make_net):
    """bench/netdelay.py's xtables writes: the kernel accepts a table with one and with two of
    its rules in it (the offsets moved right each time) and hands back what was written."""
    net = make_net(1, "loopback")
    out = net.run_in(
        0, [sys.executable, "-c", _ADD_RULES, str(ROOT / "bench")], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[('eth0', 0), ('lo', 3)]"


@pytest.mark.timeout(60)
def test_without_any_rule_path_the_rate_alone_is_applied(make_net, monkeypatch):
    monkeypatch.setattr(netns, "IPTABLES", ("tessera-no-such-iptables",))
    monkeypatch.setattr(netns, "XTABLES_SELF", False)
    net = make_net(2, "lan")
    if net.shaping.startswith("netem"):
        pytest.skip("the kernel has netem: the NFQUEUE fallback is not used")
    assert net.rate == "1gbit" and net.shaping.startswith("tbf") and net.delay_ms == 0
    assert not net.delay_pids and "apt-get install -y iptables" in net.note


def test_nfqueue_probe_names_the_missing_iptables(monkeypatch):
    monkeypatch.setattr(netns, "IPTABLES", ("tessera-no-such-iptables",))
    binary, why = netns._probe_nfqueue("unused")  # returns before touching any namespace
    assert binary == "" and "apt-get install -y iptables" in why


def test_netdelay_xtables_entry_encoding():
    """``-i eth0 -j NFQUEUE --queue-num 7`` as bench/netdelay.py --rule hands it to the kernel,
    laid out by hand from linux/netfilter_ipv4/ip_tables.h and linux/netfilter/x_tables.h."""
    entry = netdelay.nfqueue_entry("eth0", 7)
    assert len(entry) == 152  # struct ipt_entry (112) + xt_entry_target (32) + xt_NFQ_info, aligned
    assert entry[:16] == bytes(16)  # any source, destination (addresses and masks)
    assert entry[16:32] == b"eth0" + bytes(12)  # iniface
    assert entry[32:48] == bytes(16)  # outiface: any
    assert entry[48:64] == b"\xff" * 5 + bytes(11)  # iniface_mask: "eth0" and its NUL, exactly
    assert entry[64:88] == bytes(24)  # outiface_mask, proto, flags, invflags, nfcache
    assert struct.unpack_from("=HH", entry, 88) == (112, 152)  # target_offset, next_offset
    assert entry[92:112] == bytes(20)  # comefrom, counters
    assert struct.unpack_from("=H", entry, 112)[0] == 40  # target_size
    assert entry[114:143] == b"NFQUEUE" + bytes(22) and entry[143] == 0  # name, revision 0
    assert struct.unpack_from("=H", entry, 144)[0] == 7 and entry[146:] == bytes(6)  # queuenum
    with pytest.raises(ValueError):
        netdelay.nfqueue_entry("an-interface-name-too-long", 0)


def test_netdelay_netlink_encoding():
    """The bytes bench/netdelay.py sends and parses, laid out by hand from the kernel UAPI."""
    msg = netdelay._message(netdelay.NFQNL_MSG_CONFIG, 7, netdelay._attr(1, bytes([1, 0, 0, 0])), seq=5)
    length, kind, flags, seq, portid = struct.unpack_from("=IHHII", msg)
    assert (length, kind, flags, seq, portid) == (len(msg), (3 << 8) | 2, 1, 5, 0) and len(msg) == 28
    assert msg[16:20] == bytes([0, 0, 0, 7])  # nfgenmsg: AF_UNSPEC, version 0, res_id = queue (be16)
    assert msg[20:] == struct.pack("=HH", 8, 1) + bytes([1, 0, 0, 0])  # NFQA_CFG_CMD: BIND, pf 0
    assert len(netdelay._attr(2, b"12345")) == 12  # 4 + 5, padded to 4
    # A packet message as the kernel sends it: NFQA_PACKET_HDR (id 0x01020304, be) first.
    hdr = struct.pack("=HH", 11, 1) + bytes([1, 2, 3, 4, 8, 0, 3]) + b"\0"
    other = struct.pack("=HH", 8, 5) + b"\0\0\0\2"
    body = bytes([2, 0, 0, 0]) + hdr + other
    packet = struct.pack("=IHHII", 16 + len(body), 3 << 8, 0, 0, 0) + body
    assert netdelay._packet_id(bytearray(packet), 0, len(packet)) == 0x01020304
    body = bytes([2, 0, 0, 0]) + other + hdr  # found wherever it is
    packet = struct.pack("=IHHII", 16 + len(body), 3 << 8, 0, 0, 0) + body
    assert netdelay._packet_id(bytearray(packet), 0, len(packet)) == 0x01020304
