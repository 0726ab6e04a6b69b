"""ZmqChannel between party processes in separate network namespaces (bench/netns.py; root only).

Each party is a subprocess started with ``ip netns exec tsrtest<i> python -c PARTY``; it listens
on its namespace's 10.77.0.<i+1> address. Skipped, with the reason, where namespaces cannot be
created (not root, no iproute2, not Linux). The namespaces are always removed afterwards.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_netns():
    """bench/netns.py as a module, without putting bench/ on sys.path."""
    name = "tessera_bench_netns"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / "netns.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
    return sys.modules[name]


netns = _load_netns()

PREFIX = "tsrtest"  # not the CLI's default, so a test run never removes a benchmark's network
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


@pytest.mark.timeout(60)
def test_lan_round_trip_includes_the_delay(make_net):
    net = make_net(2, "lan")
    if net.delay_ms == 0:
        pytest.skip(f"this kernel has no sch_netem, so delay cannot be emulated (applied: {net.shaping})")
    results = run_parties(net, size=8, pings=20)
    assert results[0]["rtt_min"] >= 2 * net.delay_ms / 1000, (results, net.shaping)


def test_teardown_removes_everything(make_net):
    make_net(2, "loopback")
    assert netns.list_namespaces(PREFIX) == [f"{PREFIX}0", f"{PREFIX}1", f"{PREFIX}hub"]
    netns.teardown(PREFIX)
    assert netns.list_namespaces(PREFIX) == []
