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

Profiles give each link a rate and a one-way delay:

    loopback   no shaping
    lan        1 Gbit/s, 0.1 ms
    wan        100 Mbit/s, 40 ms

The delay is one-way per direction (every packet from one party to another is delayed once),
so a round trip between two parties takes at least twice the delay. How it is applied depends
on the kernel, best first (:func:`shaping_support` probes it; :attr:`Network.shaping` says what
was applied and :attr:`Network.delay_ms` is the delay actually emulated):

1. ``sch_netem``: ``tc qdisc add dev eth0 root netem delay 40ms rate 100mbit`` on each party's
   egress.
2. No netem (some VM kernels, e.g. Firecracker's, which have no modules either), but netfilter
   queues and ``iptables``: ``tbf`` enforces the rate on each party's egress, and the delay
   comes from ``bench/netdelay.py``, a small stdlib-only daemon in each party namespace that
   holds every packet queued to it by ``iptables -A INPUT -i eth0 -j NFQUEUE --queue-num 0``
   for the delay and then accepts it. The rule is on *ingress* (each party delays what it
   receives) rather than egress on purpose: packets parked on the sender's egress keep their
   socket's send-buffer charge, and TCP Small Queues then throttles a stream to ~1 ms worth
   of data per delay period (measured: 1.1 Mbit/s instead of 88 Mbit/s through the wan
   profile); on ingress the sender's socket has already let go of them. The one-way delay per
   packet is the same either way (rate limit, then delay). The daemon is started, and has
   bound its queue, before the rule exists, and the rule has no ``--queue-bypass``: if the
   daemon dies the party's traffic stops (visible) rather than flowing undelayed (silently
   wrong benchmark figures); ``status`` reports a missing daemon. See bench/netdelay.py for
   its precision and cost.
3. As 2, but no ``iptables`` binary (a clean CI VM: no package may be installed at test time):
   the daemon runs with ``--rule eth0`` and, once bound, appends the same rule itself through
   the kernel's legacy xtables socket options (``IPT_SO_GET_INFO``/``GET_ENTRIES``/
   ``SET_REPLACE`` on a raw socket, what ``iptables-legacy`` does; ``CONFIG_IP_NF_IPTABLES``
   with the legacy interface, ``CONFIG_NETFILTER_XT_TARGET_NFQUEUE``); only then does it print
   "ready". Same daemon and rule as 2 (bench/netdelay.py's figures were taken on path 2; on
   path 3, with the 2-core VM at load ~9, ZmqChannel's small-message round trip was 0.46 ms
   at best on lan and 81-82 ms on wan); :attr:`Network.shaping` says "rule added by it
   through the kernel's xtables socket". Probed like 2 (a delayed datagram on lo).
4. None of these: the rate alone, with ``tbf``; :attr:`Network.delay_ms` is 0 and
   :attr:`Network.note` says why (e.g. iptables is not installed and the kernel has no legacy
   xtables).

Why path 3 and not another way to get a delay on a kernel without netem (evaluated on the
Firecracker VM, kernel 6.18: no sch_netem, sch_fq, sch_etf or act_bpf; tbf, htb, ingress,
cls_bpf, mirred, nfnetlink_queue, legacy xtables and nf_tables without nft_queue built in):

* A tc BPF program setting ``skb->tstamp`` (earliest departure time) needs a qdisc that honours
  it, ``fq`` or ``etf``: neither is in this kernel, and loading the program without clang would
  mean hand-assembled bytecode. Ruled out.
* A userspace bridge (a relay namespace between the parties' veths, a Python daemon reading
  frames from ``AF_PACKET`` sockets and re-sending them after the delay) would move every byte
  through Python twice and change the topology: at 1 Gbit/s that is ~83,000 1500-byte frames a
  second per direction (or GSO super-packets, which ``AF_PACKET`` only re-sends with
  ``PACKET_VNET_HDR`` bookkeeping), several microseconds of interpreter work each, on a 2-core
  machine the parties also need. Ruled out for the lan rate.
* An ``nf_tables`` rule with a ``queue`` statement: ``nft_queue`` is not built in here.
* What the kernel does have is path 2's machinery: NFQUEUE parks packets *in the kernel* and
  hands the daemon only their ids (metadata copy mode, GSO packets whole: ~1,200 verdict
  round trips for 64 MB), measured at 958 Mbit/s through lan with ~40 % of a core. Only the
  ``iptables`` binary was missing, and the rule it would add is a fixed ~150-byte entry, so
  bench/netdelay.py writes it itself. If a kernel lacks the legacy interface (nft-only) but
  has ``iptables`` (nft flavour), path 2 still applies.

:func:`teardown` stops every process left in the namespaces (the delay daemons, and anything
a benchmark left running) before deleting them: deleting a namespace does not kill its
processes.

Requirements: Linux, root (CAP_NET_ADMIN and CAP_SYS_ADMIN), iproute2 (``ip``, ``tc``; on
Debian/Ubuntu ``apt-get install -y iproute2``); for the delay without netem, a kernel with
``CONFIG_NETFILTER_NETLINK_QUEUE`` and the xtables ``NFQUEUE`` target, and either ``iptables``
(``apt-get install -y iptables``; ``iptables-legacy`` is tried too) or the legacy xtables
interface (path 3). :func:`available`
checks the namespaces by creating and deleting a probe namespace.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SUBNET = "10.77.0"
DEFAULT_PREFIX = "tsr"
MAX_PARTIES = 250

NETDELAY = Path(__file__).resolve().with_name("netdelay.py")
IPTABLES = ("iptables", "iptables-legacy")  # Debian's default is the nft-based one
# Without an iptables binary, bench/netdelay.py --rule adds its NFQUEUE rule itself through the
# kernel's legacy xtables socket options (False: do not try; the tests use it to reach path 4).
XTABLES_SELF = True
RULE_BY_DAEMON = "bench/netdelay.py --rule"  # shaping_support()["rule"] for that path
QUEUE_NUM = 0  # NFQUEUE numbers are per namespace: every party can use 0
# Ingress, not egress: see the module docstring (TCP Small Queues).
DELAY_RULE = ("INPUT", "-i", "eth0", "-j", "NFQUEUE", "--queue-num", str(QUEUE_NUM))
PROBE_DELAY_MS = 20.0

# Delay daemons started by this process, by namespace, so teardown can reap them (no zombies).
_DAEMONS: dict[str, subprocess.Popen] = {}


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
    shaping: str = "none"  # what shapes each eth0: tc qdisc args [+ nfqueue delay]
    delay_ms: float = 0.0  # the one-way delay actually emulated (0 if it cannot be)
    rate: str | None = None  # the rate actually enforced
    namespaces: list[str] = field(default_factory=list)
    delay_pids: list[int] = field(default_factory=list)  # bench/netdelay.py daemons, if any
    note: str = ""  # how the delay is emulated without netem, or why it is not

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


def _iptables(ns: str, binary: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    # -w: several namespaces may be configured at once, and xtables takes a host-wide lock
    return _run(["ip", "netns", "exec", ns, binary, "-w", "5", *args], check=check)


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a process that has not exited (a zombie counts as exited)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].split(maxsplit=1)[0] not in ("Z", "X")


def _reap() -> None:
    """Collect the exit status of delay daemons this process started that have exited."""
    for ns, proc in list(_DAEMONS.items()):
        if proc.poll() is not None:
            if proc.stdout is not None:
                proc.stdout.close()
            del _DAEMONS[ns]


def namespace_pids(ns: str) -> list[int]:
    """The processes running in namespace ``ns``."""
    out = _run(["ip", "netns", "pids", ns], check=False).stdout
    return sorted(int(p) for p in out.split() if p.isdigit())


def stop_processes(names: Iterable[str], grace: float = 2.0) -> list[int]:
    """SIGTERM every process in the namespaces ``names``, SIGKILL those left after ``grace`` s.

    Returns the pids that were found. ``ip netns del`` only removes a namespace's name: the
    processes inside keep running (and keep the namespace alive, unreachable), hence this first.
    """
    pids = sorted({pid for ns in names for pid in namespace_pids(ns)})
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        for pid in pids:
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while True:
            _reap()
            if not any(_alive(pid) for pid in pids) or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        if not any(_alive(pid) for pid in pids):
            break
    return pids


def _netdelay_log(ns: str) -> Path:
    return Path(tempfile.gettempdir()) / f"tessera-netdelay-{ns}.log"


def _start_netdelay(ns: str, delay_ms: float, rule_iface: str | None = None) -> subprocess.Popen:
    """Start bench/netdelay.py in ``ns`` (its stderr goes to a log file; see :func:`_await_ready`).

    With ``rule_iface`` the daemon also adds its ``-i rule_iface -j NFQUEUE`` rule itself once
    bound (before it prints "ready"), through the kernel's xtables socket.
    """
    # --netns: should the namespace be deleted without teardown(), the daemon exits by itself
    argv = [
        sys.executable,
        str(NETDELAY),
        "--queue",
        str(QUEUE_NUM),
        "--delay-ms",
        f"{delay_ms:g}",
        "--netns",
        ns,
        *(["--rule", rule_iface] if rule_iface else []),
    ]
    with open(_netdelay_log(ns), "w") as log:
        # Its own session: a Ctrl-C meant for the caller must not kill the daemon behind the
        # caller's back (the link would stop); teardown() stops it.
        proc = popen_in(
            ns,
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,
        )
    _DAEMONS[ns] = proc
    return proc


def _await_ready(ns: str, proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Wait until the daemon has bound its queue (it prints "ready"), or raise with its log."""
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline() if ready else ""
    if line.strip() == "ready":
        proc.stdout.close()  # it writes nothing more there
        return
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    proc.stdout.close()
    _DAEMONS.pop(ns, None)
    log = _netdelay_log(ns).read_text(errors="replace").strip()
    why = log.splitlines()[-1] if log else f"no 'ready' within {timeout:g} s"
    raise NetnsError(f"bench/netdelay.py did not start in {ns}: {why}")


_PROBE_SEND = """
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.settimeout(5)
t = time.monotonic()
s.sendto(b"x", s.getsockname())
try:
    s.recv(1)
    print(time.monotonic() - t)
except OSError:
    print(-1)
"""


def _probe_delay(probe: str) -> float:
    """Seconds a UDP datagram over ``probe``'s lo takes (-1: it never arrives)."""
    sent = run_in(probe, [sys.executable, "-c", _PROBE_SEND], capture_output=True, text=True, timeout=30)
    return float(sent.stdout.strip() or -1)


def _probe_verdict(how: str, took: float) -> str:
    """Why the delay through ``how`` failed the probe ("" if it passed)."""
    if took >= PROBE_DELAY_MS / 1000:
        return ""
    return f"with {how} a packet " + (
        "was never delivered" if took < 0 else f"took {took * 1e3:.1f} ms, not >= {PROBE_DELAY_MS:g} ms"
    )


def _probe_xtables(probe: str) -> str:
    """In namespace ``probe`` (lo up): does bench/netdelay.py --rule delay packets by itself?

    "" if so, else why not (e.g. a kernel without the legacy xtables interface).
    """
    if not XTABLES_SELF:
        return "adding the rule through the kernel's xtables socket is disabled"
    try:
        _await_ready(probe, _start_netdelay(probe, PROBE_DELAY_MS, rule_iface="lo"))
        return _probe_verdict("bench/netdelay.py --rule", _probe_delay(probe))
    except (NetnsError, OSError, ValueError, subprocess.SubprocessError) as e:
        return str(e)
    finally:
        stop_processes([probe])


def _probe_nfqueue(probe: str) -> tuple[str, str]:
    """In namespace ``probe`` (lo up): does an NFQUEUE rule + bench/netdelay.py delay packets?

    Returns ``(iptables binary, "")`` or ``("", reason)``. It checks the whole path: the
    daemon binds, the rule is accepted, and a UDP datagram over lo arrives no sooner than
    the delay (and does arrive).
    """
    binaries = [b for b in IPTABLES if shutil.which(b)]
    if not binaries:
        return "", "iptables is not installed (apt-get install -y iptables)"
    rule = ("INPUT", "-i", "lo", "-j", "NFQUEUE", "--queue-num", str(QUEUE_NUM))
    try:
        _await_ready(probe, _start_netdelay(probe, PROBE_DELAY_MS))
        reasons = []
        for binary in binaries:
            added = _iptables(probe, binary, "-A", *rule, check=False)
            if added.returncode != 0:
                reasons.append(f"`{binary} -j NFQUEUE` fails: {added.stderr.strip()}")
                continue
            took = _probe_delay(probe)
            _iptables(probe, binary, "-D", *rule, check=False)
            why = _probe_verdict(f"`{binary} -j NFQUEUE`", took)
            if not why:
                return binary, ""
            reasons.append(why)
        return "", "; ".join(reasons)
    except (NetnsError, OSError, subprocess.SubprocessError) as e:
        return "", str(e)
    finally:
        stop_processes([probe])


def shaping_support() -> dict[str, bool | str]:
    """What can shape links here, probed in a namespace.

    ``{"netem": bool, "tbf": bool, "nfqueue": bool, "iptables": binary or "", "rule": what adds
    the NFQUEUE rule (an iptables binary, or RULE_BY_DAEMON) or "", "nfqueue_reason": why not
    or ""}``; the NFQUEUE delay is only probed without netem, the daemon's own rule only
    without a working iptables binary.
    """
    probe = f"tsrprobe{os.getpid()}"
    _run(["ip", "netns", "add", probe])
    try:
        _ip("link", "set", "lo", "up", ns=probe)
        support: dict[str, bool | str] = {}
        for kind, args in (
            ("netem", ["delay", "1ms"]),
            ("tbf", ["rate", "1gbit", "burst", "64kb", "latency", "50ms"]),
        ):
            support[kind] = (
                _tc(probe, "qdisc", "add", "dev", "lo", "root", kind, *args, check=False).returncode == 0
            )
            _tc(probe, "qdisc", "del", "dev", "lo", "root", check=False)
        rule = ""
        if support["netem"]:
            binary, why = "", "not needed (the kernel has netem)"
        else:
            binary, why = _probe_nfqueue(probe)
            rule = binary
            if not binary:
                why_self = _probe_xtables(probe)
                if why_self:
                    why = f"{why}; {why_self}"
                else:
                    rule, why = RULE_BY_DAEMON, ""
        support.update(nfqueue=bool(rule), iptables=binary, rule=rule, nfqueue_reason=why)
        return support
    finally:
        stop_processes([probe])
        _run(["ip", "netns", "del", probe], check=False)


def _rate_bytes(rate: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([kmg]?)bit", rate)
    if m is None:
        raise ValueError(f"rate: expected e.g. '100mbit', got {rate!r}")
    return float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[m.group(2)] / 8


def _shape(
    ns: str, profile: Profile, support: dict
) -> tuple[str, float, str | None, subprocess.Popen | None]:
    """Apply the profile to ``ns``'s eth0.

    Returns (description, delay emulated, rate enforced, delay daemon to await). The daemon is
    only started here; :func:`setup` waits for all of them at once, then adds their rules.
    """
    if profile.rate is None and profile.delay_ms == 0:
        return "none", 0.0, None, None
    if support["netem"]:
        args = ["netem", "delay", f"{profile.delay_ms:g}ms"]
        if profile.rate:
            args += ["rate", profile.rate]
        # netem's default queue (1000 packets) overflows at WAN bandwidth-delay products
        args += ["limit", "100000"]
        _tc(ns, "qdisc", "add", "dev", "eth0", "root", *args)
        return " ".join(args), profile.delay_ms, profile.rate, None
    parts, daemon = [], None
    if profile.rate:
        if not support["tbf"]:
            raise NetnsError(f"profile {profile.name}: the kernel offers neither netem nor tbf")
        burst = max(int(_rate_bytes(profile.rate) * 0.002), 64 * 1024)  # 2 ms of traffic, >= a GSO packet
        # latency bounds the backlog: 100 ms at the rate (1.25 MB at 100mbit) holds a window
        # of the 500 KB bandwidth-delay product of wan and then some.
        args = ["tbf", "rate", profile.rate, "burst", str(burst), "latency", "100ms"]
        _tc(ns, "qdisc", "add", "dev", "eth0", "root", *args)
        parts.append(" ".join(args))
    delay = 0.0
    if profile.delay_ms and support["nfqueue"]:
        by_daemon = support["rule"] == RULE_BY_DAEMON
        daemon = _start_netdelay(ns, profile.delay_ms, rule_iface="eth0" if by_daemon else None)
        parts.append(
            f"nfqueue delay {profile.delay_ms:g}ms on ingress (bench/netdelay.py"
            + (", rule added by it through the kernel's xtables socket)" if by_daemon else ")")
        )
        delay = profile.delay_ms
    return " + ".join(parts) or "none", delay, profile.rate, daemon


def setup(n: int, profile: str | Profile = "loopback", *, prefix: str = DEFAULT_PREFIX) -> Network:
    """Create namespaces ``<prefix>0..n-1`` joined by a bridge, shaped by ``profile``.

    Namespaces left over under the same prefix are removed first. On any failure everything
    created is removed again (processes included) before the error propagates.
    """
    if not 1 <= n <= MAX_PARTIES:
        raise ValueError(f"n: expected 1..{MAX_PARTIES} parties, got {n}")
    prof = PROFILES[profile] if isinstance(profile, str) else profile
    ok, reason = available()
    if not ok:
        raise NetnsError(f"network namespaces are not available: {reason}")
    support = (
        shaping_support()
        if prof.rate or prof.delay_ms
        else {"netem": False, "tbf": False, "nfqueue": False, "iptables": "", "rule": ""}
    )
    teardown(prefix)
    hub = f"{prefix}hub"
    net = Network(n=n, profile=prof, prefix=prefix)
    if prof.delay_ms and not support["netem"]:
        net.note = (
            f"no sch_netem in this kernel: the {prof.delay_ms:g} ms delay is emulated by "
            f"bench/netdelay.py (NFQUEUE, rule by {support['rule']}) in each party namespace"
            if support["nfqueue"]
            else f"the {prof.delay_ms:g} ms delay is not emulated: no sch_netem in this kernel, "
            f"and no NFQUEUE delay either: {support['nfqueue_reason']}"
        )
    daemons: list[tuple[str, subprocess.Popen]] = []
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
            net.shaping, net.delay_ms, net.rate, daemon = _shape(ns, prof, support)
            if daemon is not None:
                daemons.append((ns, daemon))
        # The daemons start in parallel; each rule goes in only once its daemon has bound the
        # queue, so no packet ever meets a queue nobody listens to (it would be dropped).
        for ns, daemon in daemons:
            _await_ready(ns, daemon)  # with RULE_BY_DAEMON its rule is in once it is ready
            if support["rule"] != RULE_BY_DAEMON:
                _iptables(ns, str(support["rule"]), "-A", *DELAY_RULE)
            net.delay_pids.append(daemon.pid)
    except BaseException:
        teardown(prefix)
        raise
    return net


def teardown(prefix: str = DEFAULT_PREFIX) -> list[str]:
    """Stop every process in, then delete, each namespace made under ``prefix`` (idempotent).

    Returns the namespaces' names.
    """
    names = list_namespaces(prefix)
    stop_processes(names)
    for name in names:
        _run(["ip", "netns", "del", name], check=False)
    return names


def delay_status(ns: str) -> str:
    """The NFQUEUE delay in ``ns`` as found now: daemon(s) and rule, or a warning."""
    daemons = []
    for pid in namespace_pids(ns):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(a.endswith(b"netdelay.py") for a in argv) and _alive(pid):
            delay = argv[argv.index(b"--delay-ms") + 1].decode() if b"--delay-ms" in argv else "?"
            daemons.append(f"{delay}ms (bench/netdelay.py pid {pid})")
    rule = any(
        "NFQUEUE" in _iptables(ns, b, "-S", "INPUT", check=False).stdout for b in IPTABLES if shutil.which(b)
    )
    if not rule and XTABLES_SELF:  # a rule bench/netdelay.py --rule added (legacy xtables)
        listed = run_in(
            ns, [sys.executable, str(NETDELAY), "--list-rules"], capture_output=True, text=True, timeout=30
        )
        rule = listed.returncode == 0 and any(line.startswith("eth0 ") for line in listed.stdout.splitlines())
    if daemons and rule:
        return "nfqueue delay " + ", ".join(daemons)
    if rule:
        return "NFQUEUE rule but no bench/netdelay.py daemon: every packet to eth0 is dropped"
    if daemons:
        return "bench/netdelay.py running but no NFQUEUE rule: no delay"
    return ""


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
            if ok:
                support = shaping_support()
                if support["netem"]:
                    print("shaping: netem (rate and delay)")
                elif support["nfqueue"]:
                    print(
                        f"shaping: tbf (rate) + bench/netdelay.py over NFQUEUE, rule by {support['rule']} (delay)"
                    )
                else:
                    rate = "tbf (rate)" if support["tbf"] else "nothing (neither netem nor tbf)"
                    print(f"shaping: {rate}; the delay cannot be emulated: {support['nfqueue_reason']}")
            return 0 if ok else 1
        if args.cmd == "setup":
            net = setup(args.n, args.profile, prefix=args.prefix)
            for i, ns in enumerate(net.namespaces):
                print(f"{ns}\t{address(i)}\t{net.shaping}")
            if net.note:
                print(f"note: {net.note}", file=sys.stderr)
            if net.delay_pids:
                print(
                    f"note: delay daemons (pids {' '.join(map(str, net.delay_pids))}) run until "
                    f"`python bench/netns.py --prefix {args.prefix} teardown`; their logs: "
                    f"{_netdelay_log(args.prefix + '*')}",
                    file=sys.stderr,
                )
            return 0
        if args.cmd == "teardown":
            print(" ".join(teardown(args.prefix)) or "nothing to remove")
            return 0
        if args.cmd == "status":
            for ns in list_namespaces(args.prefix):
                shaping = []
                if ns[-1].isdigit():
                    shaping.append(_tc(ns, "qdisc", "show", "dev", "eth0", check=False).stdout.strip())
                    shaping.append(delay_status(ns))
                print("\t".join([ns, *filter(None, shaping)]))
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
