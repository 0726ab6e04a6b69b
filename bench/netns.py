"""Emulated networks for benchmarks and tests: one Linux network namespace per party (root only).

    python bench/netns.py available
    python bench/netns.py setup -n 3 --profile lan      # creates tsr0 tsr1 tsr2 and tsrhub
    python bench/netns.py run 0 -- python -c "print('in tsr0')"
    python bench/netns.py status
    python bench/netns.py teardown

Layout: party ``i`` lives in namespace ``<prefix><i>`` (``tsr0``, ``tsr1``, ...). Its interface
``eth0`` has the address ``10.77.0.<i+1>/24`` and is one end of a veth pair whose other end
(``p<i>``) sits in the hub namespace ``<prefix>hub`` on the bridge ``br0``, so every party
reaches every other one through the bridge. Everything is created inside these namespaces
(the veth pairs are created in the hub namespace and their party ends moved straight into the
party namespaces): no interface, address or route of the host's own namespace is touched, and
only the 10.77.0.0/24 addresses inside the namespaces are ever used.

Profiles shape the egress of each party's ``eth0`` (``tc qdisc ... root``):

    loopback   no shaping
    lan        netem delay 0.1ms rate 1gbit
    wan        netem delay 40ms rate 100mbit

The delay is one-way per direction (each party delays what it sends), so a round trip between
two parties takes at least twice the delay. When the kernel has no ``sch_netem`` (some VM and
container kernels), the rate is enforced with ``tbf`` instead and the delay cannot be emulated:
:attr:`Network.shaping` says which was applied and :attr:`Network.delay_ms` is then 0.

Requirements: Linux, root (CAP_NET_ADMIN and CAP_SYS_ADMIN), iproute2 (``ip``, ``tc``; on
Debian/Ubuntu ``apt-get install -y iproute2``). :func:`available` checks them by creating and
deleting a probe namespace.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

SUBNET = "10.77.0"
DEFAULT_PREFIX = "tsr"
MAX_PARTIES = 250


class NetnsError(RuntimeError):
    """An ``ip``/``tc`` command failed (message carries the command and its stderr)."""


@dataclass(frozen=True)
class Profile:
    name: str
    rate: str | None = None  # tc rate, e.g. "1gbit"
    delay_ms: float = 0.0  # one-way, per direction


PROFILES: dict[str, Profile] = {
    "loopback": Profile("loopback"),
    "lan": Profile("lan", rate="1gbit", delay_ms=0.1),
    "wan": Profile("wan", rate="100mbit", delay_ms=40.0),
}


@dataclass
class Network:
    """A set-up emulated network (returned by :func:`setup`)."""

    n: int
    profile: Profile
    prefix: str = DEFAULT_PREFIX
    shaping: str = "none"  # the qdisc applied to each eth0, as passed to tc
    delay_ms: float = 0.0  # the one-way delay actually emulated (0 without netem)
    rate: str | None = None  # the rate actually enforced
    namespaces: list[str] = field(default_factory=list)

    def address(self, i: int) -> str:
        return address(i)

    def endpoint(self, i: int, port: int) -> str:
        return f"tcp://{address(i)}:{port}"

    def run_in(self, i: int, argv: Sequence[str], **kwargs) -> subprocess.CompletedProcess:
        return run_in(self.namespaces[i], argv, **kwargs)

    def popen_in(self, i: int, argv: Sequence[str], **kwargs) -> subprocess.Popen:
        return popen_in(self.namespaces[i], argv, **kwargs)


def address(i: int) -> str:
    """Party ``i``'s address inside its namespace."""
    return f"{SUBNET}.{i + 1}"


def namespace(i: int | str, prefix: str = DEFAULT_PREFIX) -> str:
    return i if isinstance(i, str) else f"{prefix}{i}"


def _run(argv: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise NetnsError(f"{' '.join(argv)} failed: {proc.stderr.strip() or proc.returncode}")
    return proc


def _ip(*args: str, ns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    return _run(["ip", *(["-n", ns] if ns else []), *args], check=check)


def _tc(ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return _run(["ip", "netns", "exec", ns, "tc", *args], check=check)


def list_namespaces(prefix: str = DEFAULT_PREFIX) -> list[str]:
    """The namespaces this module manages under ``prefix`` that exist now."""
    if shutil.which("ip") is None:
        return []
    out = _run(["ip", "netns", "list"], check=False).stdout
    pattern = re.compile(rf"^{re.escape(prefix)}(\d+|hub)$")
    names = (line.split()[0] for line in out.splitlines() if line.strip())
    return sorted(name for name in names if pattern.match(name))


def available() -> tuple[bool, str]:
    """Whether namespaces can be created here: ``(True, "")`` or ``(False, reason)``."""
    if not sys.platform.startswith("linux"):
        return False, f"network namespaces need Linux (this is {sys.platform})"
    if shutil.which("ip") is None:
        return False, "iproute2 is not installed (no `ip`; apt-get install -y iproute2)"
    if shutil.which("tc") is None:
        return False, "iproute2's `tc` is missing (apt-get install -y iproute2)"
    if os.geteuid() != 0:
        return False, "creating network namespaces needs root"
    probe = f"tsrprobe{os.getpid()}"
    made = _run(["ip", "netns", "add", probe], check=False)
    if made.returncode != 0:
        return False, f"`ip netns add` fails here: {made.stderr.strip()}"
    try:
        veth = _ip("link", "add", "pa", "type", "veth", "peer", "name", "pb", ns=probe, check=False)
        if veth.returncode != 0:
            return False, f"veth pairs cannot be created: {veth.stderr.strip()}"
        bridge = _ip("link", "add", "br0", "type", "bridge", ns=probe, check=False)
        if bridge.returncode != 0:
            return False, f"bridges cannot be created: {bridge.stderr.strip()}"
    finally:
        _run(["ip", "netns", "del", probe], check=False)
    return True, ""


def shaping_support() -> dict[str, bool]:
    """Which qdiscs the kernel offers: ``{"netem": bool, "tbf": bool}`` (probed in a namespace)."""
    probe = f"tsrprobe{os.getpid()}"
    _run(["ip", "netns", "add", probe])
    try:
        _ip("link", "set", "lo", "up", ns=probe)
        support = {}
        for kind, args in (
            ("netem", ["delay", "1ms"]),
            ("tbf", ["rate", "1gbit", "burst", "64kb", "latency", "50ms"]),
        ):
            support[kind] = (
                _tc(probe, "qdisc", "add", "dev", "lo", "root", kind, *args, check=False).returncode == 0
            )
            _tc(probe, "qdisc", "del", "dev", "lo", "root", check=False)
        return support
    finally:
        _run(["ip", "netns", "del", probe], check=False)


def _rate_bytes(rate: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([kmg]?)bit", rate)
    if m is None:
        raise ValueError(f"rate: expected e.g. '100mbit', got {rate!r}")
    return float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[m.group(2)] / 8


def _shape(ns: str, profile: Profile, support: dict[str, bool]) -> tuple[list[str], float, str | None]:
    """Apply the profile to ``ns``'s eth0; returns (tc qdisc args, delay emulated, rate enforced)."""
    if profile.rate is None and profile.delay_ms == 0:
        return [], 0.0, None
    if support["netem"]:
        args = ["netem", "delay", f"{profile.delay_ms:g}ms"]
        if profile.rate:
            args += ["rate", profile.rate]
        # netem's default queue (1000 packets) overflows at WAN bandwidth-delay products
        args += ["limit", "100000"]
        delay = profile.delay_ms
    elif support["tbf"] and profile.rate:
        burst = max(int(_rate_bytes(profile.rate) * 0.002), 64 * 1024)  # 2 ms of traffic, >= a GSO packet
        args = ["tbf", "rate", profile.rate, "burst", str(burst), "latency", "100ms"]
        delay = 0.0
    else:
        raise NetnsError(f"profile {profile.name}: the kernel offers neither netem nor tbf")
    _tc(ns, "qdisc", "add", "dev", "eth0", "root", *args)
    return args, delay, profile.rate


def setup(n: int, profile: str | Profile = "loopback", *, prefix: str = DEFAULT_PREFIX) -> Network:
    """Create namespaces ``<prefix>0..n-1`` joined by a bridge, shaped by ``profile``.

    Namespaces left over under the same prefix are removed first. On any failure everything
    created is removed again before the error propagates.
    """
    if not 1 <= n <= MAX_PARTIES:
        raise ValueError(f"n: expected 1..{MAX_PARTIES} parties, got {n}")
    prof = PROFILES[profile] if isinstance(profile, str) else profile
    ok, reason = available()
    if not ok:
        raise NetnsError(f"network namespaces are not available: {reason}")
    support = shaping_support() if prof.rate or prof.delay_ms else {"netem": False, "tbf": False}
    teardown(prefix)
    hub = f"{prefix}hub"
    net = Network(n=n, profile=prof, prefix=prefix)
    try:
        _run(["ip", "netns", "add", hub])
        _ip("link", "set", "lo", "up", ns=hub)
        _ip("link", "add", "br0", "type", "bridge", ns=hub)
        _ip("link", "set", "br0", "up", ns=hub)
        for i in range(n):
            ns = namespace(i, prefix)
            _run(["ip", "netns", "add", ns])
            net.namespaces.append(ns)
            _ip("link", "set", "lo", "up", ns=ns)
            _ip("link", "add", f"p{i}", "type", "veth", "peer", "name", "eth0", "netns", ns, ns=hub)
            _ip("link", "set", f"p{i}", "master", "br0", ns=hub)
            _ip("link", "set", f"p{i}", "up", ns=hub)
            _ip("addr", "add", f"{address(i)}/24", "dev", "eth0", ns=ns)
            _ip("link", "set", "eth0", "up", ns=ns)
            args, net.delay_ms, net.rate = _shape(ns, prof, support)
            net.shaping = " ".join(args) or "none"
    except BaseException:
        teardown(prefix)
        raise
    return net


def teardown(prefix: str = DEFAULT_PREFIX) -> list[str]:
    """Delete every namespace this module made under ``prefix`` (idempotent); returns their names."""
    names = list_namespaces(prefix)
    for name in names:
        _run(["ip", "netns", "del", name], check=False)
    return names


@contextlib.contextmanager
def network(
    n: int, profile: str | Profile = "loopback", *, prefix: str = DEFAULT_PREFIX
) -> Iterator[Network]:
    """``with network(3, "lan") as net:`` -- set up, then always tear down."""
    net = setup(n, profile, prefix=prefix)
    try:
        yield net
    finally:
        teardown(prefix)


def _netns_argv(ns: str, argv: Sequence[str]) -> list[str]:
    return ["ip", "netns", "exec", ns, *argv]


def run_in(
    ns: int | str, argv: Sequence[str], *, prefix: str = DEFAULT_PREFIX, **kwargs
) -> subprocess.CompletedProcess:
    """Run ``argv`` inside namespace ``ns`` (a party index or a name) and wait for it.

    ``kwargs`` go to :func:`subprocess.run` (e.g. ``capture_output=True, timeout=30``).
    """
    return subprocess.run(_netns_argv(namespace(ns, prefix), argv), **kwargs)


def popen_in(
    ns: int | str, argv: Sequence[str], *, prefix: str = DEFAULT_PREFIX, **kwargs
) -> subprocess.Popen:
    """Start ``argv`` inside namespace ``ns`` without waiting (``kwargs`` go to Popen)."""
    return subprocess.Popen(_netns_argv(namespace(ns, prefix), argv), **kwargs)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prefix", default=DEFAULT_PREFIX, help="namespace name prefix (default tsr)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("available", help="check that namespaces can be created here")
    p_setup = sub.add_parser("setup", help="create the namespaces")
    p_setup.add_argument("-n", type=int, required=True, help="number of parties")
    p_setup.add_argument("--profile", choices=sorted(PROFILES), default="loopback")
    sub.add_parser("teardown", help="delete the namespaces")
    sub.add_parser("status", help="list the namespaces and their shaping")
    p_run = sub.add_parser("run", help="run a command in party I's namespace")
    p_run.add_argument("party", help="party index or namespace name")
    p_run.add_argument("argv", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)

    try:
        if args.cmd == "available":
            ok, reason = available()
            print("available" if ok else f"not available: {reason}")
            return 0 if ok else 1
        if args.cmd == "setup":
            net = setup(args.n, args.profile, prefix=args.prefix)
            for i, ns in enumerate(net.namespaces):
                print(f"{ns}\t{address(i)}\t{net.shaping}")
            if net.profile.delay_ms and not net.delay_ms:
                print(
                    f"note: this kernel has no netem; {net.profile.name} delay is not emulated",
                    file=sys.stderr,
                )
            return 0
        if args.cmd == "teardown":
            print(" ".join(teardown(args.prefix)) or "nothing to remove")
            return 0
        if args.cmd == "status":
            for ns in list_namespaces(args.prefix):
                qdisc = (
                    _tc(ns, "qdisc", "show", "dev", "eth0", check=False).stdout.strip()
                    if ns[-1].isdigit()
                    else ""
                )
                print(f"{ns}\t{qdisc}")
            return 0
        party = int(args.party) if args.party.isdigit() else args.party
        cmd = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
        if not cmd:
            parser.error("run: give a command after --")
        return run_in(party, cmd, prefix=args.prefix).returncode
    except NetnsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
