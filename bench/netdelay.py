"""Constant one-way packet delay in user space over NFQUEUE: a stand-in for netem's ``delay``.

    ip netns exec tsr0 python bench/netdelay.py --queue 0 --delay-ms 40 --netns tsr0 &
    # once it has printed "ready" (it has bound the queue):
    ip netns exec tsr0 iptables -A INPUT -i eth0 -j NFQUEUE --queue-num 0

    # or, without the iptables binary, the daemon adds that rule itself once bound:
    ip netns exec tsr0 python bench/netdelay.py --queue 0 --delay-ms 40 --netns tsr0 --rule eth0 &
    ip netns exec tsr0 python bench/netdelay.py --list-rules     # -> "eth0 0"

What it emulates: every packet that the iptables rule hands to queue ``--queue`` goes on
``--delay-ms`` milliseconds after the daemon saw it: a constant one-way delay per packet like
``tc qdisc ... netem delay 40ms``, without jitter, loss, duplication, corruption or reordering.
:mod:`bench.netns` uses it for the ``lan``/``wan`` profiles when the kernel has no
``sch_netem`` (some VM kernels, e.g. Firecracker's), with ``tbf`` for the rate; it puts the
rule on each party's ingress, not egress, for the TCP Small Queues reason under "limits".

How: the kernel's netfilter queue (``NFQUEUE`` target, ``nfnetlink_queue``) parks each packet
and sends its id to the process bound to the queue over a ``NETLINK_NETFILTER`` socket; the
packet stays parked in the kernel (metadata mode, copy range 0: no payload is copied) until a
verdict names it. The daemon stamps each id with its arrival time and keeps the ids in a FIFO;
a single ``select`` loop sleeps until the head is due, then one ``NFQNL_MSG_VERDICT_BATCH``
accepts every id up to the newest due one (a constant delay never reorders, and a batch
verdict accepts every parked packet up to the id it names, in queue order). The netlink
messages are packed with :mod:`struct` from the kernel UAPI (``linux/netlink.h``,
``linux/netfilter/nfnetlink_queue.h``): the standard library is all it needs, so it also runs
from the peers' virtual environments. ``NFQA_CFG_F_GSO`` keeps GSO super-packets (up to 64 KB
over veth) whole, so a bulk TCP stream costs one queue round trip per ~64 KB, not per
1500-byte frame. The queue may hold ``--maxlen`` packets (100000, far beyond any window here)
and the socket gets an 8 MB receive buffer with ``NETLINK_NO_ENOBUFS``.

``--rule IFACE``: the rule is written through the kernel's legacy xtables interface, as
``iptables-legacy`` does, from the UAPI headers (``linux/netfilter_ipv4/ip_tables.h``,
``linux/netfilter/x_tables.h``, ``xt_NFQUEUE.h``) with :mod:`struct` and :mod:`ctypes`: read
the namespace's ``filter`` table (``IPT_SO_GET_INFO``, ``IPT_SO_GET_ENTRIES``), insert one
``struct ipt_entry`` (``-i IFACE``, exact name) with an ``NFQUEUE`` target (revision 0, the
queue number) before INPUT's policy, move the hook and underflow offsets (and any jump) past
it, and hand the table back (``IPT_SO_SET_REPLACE``, with room for the old counters). The
kernel validates the whole table; a refusal is an error and the daemon exits without printing
"ready". It is the same rule, so everything below holds for it too. bench/netns.py uses it
when no ``iptables`` binary is installed (the CI VM), and ``--list-rules`` to report it.

If the daemon dies: the kernel drops the packets it held and, since the rule is installed
*without* ``--queue-bypass``, every later packet to that interface too (nobody is bound to the
queue). Traffic stops and connections time out: a visible failure. With ``--queue-bypass``
packets would silently flow undelayed, and a benchmark would report LAN/WAN figures measured
without the latency -- wrong numbers that look right, which is worse than a run that fails.
``bench/netns.py status`` reports a missing daemon. For the same reason a full queue or
receive buffer drops packets (as netem does beyond its ``limit``; TCP retransmits) rather
than passing them undelayed (no ``NFQA_CFG_F_FAIL_OPEN``); the kernel's drop counters are
printed on exit. Stopping: SIGTERM/SIGINT; packets already read still leave at their due
time, then it exits and prints its figures on stderr. With ``--netns NAME`` it also exits by
itself within a second once that namespace is deleted (a process would otherwise keep an
unreachable namespace alive for ever).

Cost and limits:

* Python: one ``recv`` per packet and one ``sendto`` per batch. The verdict's ``sendto`` also
  runs the kernel's processing of the released packets (TCP receive, on ingress), which is
  charged to the daemon as system time.
* Timer granularity: a ``select`` timeout ends ~55 us late on the test VM even with the timer
  slack lowered to 1 us (``prctl``), so the loop learns that oversleep, wakes that much early
  and polls until the head is due (a spin of ~50 us per batch, bounded by 200 us). Releases
  then leave a few us late (median) instead of ~70 us; a busy machine adds scheduling delays
  (up to a scheduler tick, 4 ms, in the tail). The delay never comes out shorter than asked.
* The arrival stamp is taken when the daemon reads the packet, not when the kernel queued it:
  the wake-up on arrival (~70 us per crossing here) is added to the delay and not corrected
  (correcting it by a guess could make some delays shorter than asked). It matters for lan's
  0.1 ms, not for wan's 40 ms. If the daemon falls behind, its backlog adds up the same way.
* TCP Small Queues: a packet parked on the *sender's* egress keeps its socket's send-buffer
  charge, and TSQ lets a socket have only ~1 ms of its pacing rate below TCP; delaying egress
  by 40 ms therefore throttles a stream to a trickle (netem avoids this by orphaning what it
  delays; user space cannot). On the receiver's ingress the sender's socket has let go.
* IPv4 only as bench/netns.py installs it (an ``iptables`` rule, no ``ip6tables`` one).

Measured on the 2-vCPU Firecracker VM (kernel 6.18, Python 3.11, load from other jobs at the
same time), two parties set up by bench/netns.py, a plain TCP stream (TCP_NODELAY, 8-byte
ping-pongs for the round trip):

    profile   shaping                         64 MB transfer        round trip (min / median)
    (none)    veth + bridge, no shaping       9.7 Gbit/s            0.028 / 0.030 ms
    lan       tbf 1gbit + netdelay 0.1 ms     958 Mbit/s (0.56 s)   0.37 / 0.46 ms
    wan       tbf 100mbit + netdelay 40 ms    88.5 Mbit/s (6.1 s)   80.5 / 80.6 ms

    the same wan stream with the rule on the sender's egress (OUTPUT) instead: 1.1 Mbit/s
    (16 MB in 119 s), TSQ as above; without the early wake-up lan's round trip was 0.45 ms.

Daemon CPU (user + system, each of the two daemons, ~0.03 s of it Python's start): lan 64 MB,
~1230 packets: 0.23-0.26 s, i.e. ~40 % of a core while 1 Gbit/s flows; wan 64 MB, ~4900
packets: 0.55-0.61 s over 6 s, ~10 % of a core. That is ~0.1 ms of CPU per packet, half of it
the kernel's work on the released packets. Releases were late by a median under 8 us, p99
under 0.25 ms on wan (64 us on lan), max ~4-5 ms; no drops. Through ZmqChannel
(tests/test_netns.py's PARTY script) the small-message round trip is 0.49-0.66 ms on lan
(0.19 ms without shaping: ZeroMQ's own cost) and 80.9 ms on wan.
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import errno
import math
import os
import select
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable

NETLINK_NETFILTER = 12
SO_RCVBUFFORCE = 33  # asm-generic/socket.h (the socket module does not export it)
SOL_NETLINK = 270
NETLINK_NO_ENOBUFS = 5

# linux/netlink.h
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLMSG_ERROR = 2  # an ack (error 0) or a refusal
NLA_TYPE_MASK = 0x3FFF  # strips NLA_F_NESTED / NLA_F_NET_BYTEORDER

# linux/netfilter/nfnetlink.h, nfnetlink_queue.h
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG, NFQNL_MSG_VERDICT_BATCH = 0, 1, 2, 3
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS, NFQA_CFG_QUEUE_MAXLEN, NFQA_CFG_MASK, NFQA_CFG_FLAGS = 1, 2, 3, 4, 5
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NFQA_CFG_F_GSO = 1 << 2
NF_ACCEPT = 1

PACKET_TYPE = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET
NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, portid (host byte order)
NFGENMSG = struct.Struct("!BBH")  # family, version, res_id (= queue number, big-endian)
NLATTR = struct.Struct("=HH")  # len, type (host byte order; payloads are big-endian)
HEAD_TYPE = struct.Struct("=IH")
BE32 = struct.Struct("!I")

DEFAULT_MAXLEN = 100_000  # parked packets; bounded in practice by the sockets' send buffers
DEFAULT_RCVBUF = 8 << 20
WATCH_EVERY = 1.0  # s between checks that the namespace given by --netns still exists
MAX_EARLY = 200e-6  # bounds the spin per batch (and its CPU) on a loaded machine


class NetdelayError(RuntimeError):
    pass


def _attr(kind: int, payload: bytes) -> bytes:
    raw = NLATTR.pack(NLATTR.size + len(payload), kind) + payload
    return raw + b"\0" * (-len(raw) % 4)  # attributes are 4-byte aligned


def _message(msg: int, queue: int, attrs: bytes, *, flags: int = NLM_F_REQUEST, seq: int = 0) -> bytes:
    body = NFGENMSG.pack(socket.AF_UNSPEC, 0, queue) + attrs
    kind = (NFNL_SUBSYS_QUEUE << 8) | msg
    return NLMSGHDR.pack(NLMSGHDR.size + len(body), kind, flags, seq, 0) + body


def _packet_id(buf: memoryview | bytearray, off: int, end: int) -> int | None:
    """The id in an NFQNL_MSG_PACKET message at ``buf[off:end]`` (None if it has none)."""
    pos = off + NLMSGHDR.size + NFGENMSG.size
    while pos + NLATTR.size <= end:
        alen, akind = NLATTR.unpack_from(buf, pos)
        if alen < NLATTR.size:
            return None
        if akind & NLA_TYPE_MASK == NFQA_PACKET_HDR:  # the kernel puts it first
            return BE32.unpack_from(buf, pos + NLATTR.size)[0]
        pos += (alen + 3) & ~3
    return None


# -- the NFQUEUE rule without the iptables binary ---------------------------------------------
#
# linux/netfilter_ipv4/ip_tables.h: the legacy xtables interface is a pair of socket options
# on a raw IPv4 socket that read and replace a whole table at once (what iptables-legacy uses).
IPT_SO_SET_REPLACE = 64  # setsockopt, level SOL_IP
IPT_SO_GET_INFO, IPT_SO_GET_ENTRIES = 64, 65  # getsockopt
NF_INET_LOCAL_IN = 1  # the INPUT hook
IPT_GETINFO = struct.Struct("=32sI5I5III")  # name, valid_hooks, hook_entry, underflow, num_entries, size
IPT_GET_ENTRIES = struct.Struct("=32sI4x")  # name, size; the entries follow 8-byte aligned
IPT_REPLACE = struct.Struct("=32sIII5I5IIQ")  # ..., num_counters, counters (a user pointer)
# struct ipt_entry: struct ipt_ip (src, dst, smsk, dmsk, iniface, outiface, their masks, proto,
# flags, invflags), nfcache, target_offset, next_offset, comefrom, counters (pcnt, bcnt)
IPT_ENTRY = struct.Struct("=4s4s4s4s16s16s16s16sHBBIHHIQQ")
XT_TARGET = struct.Struct("=H29sB")  # struct xt_entry_target: target_size, name, revision
XT_COUNTERS = 16
NFQ_TARGET = struct.Struct("=H29sBH6x")  # + struct xt_NFQ_info (revision 0): queuenum, aligned to 8


def _xt_socket() -> socket.socket:
    return socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)


def _getsockopt(sock: socket.socket, opt: int, request: bytes) -> bytes:
    """getsockopt(SOL_IP) whose buffer carries a request in (the socket module cannot)."""
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(request, len(request))
    size = ctypes.c_uint32(len(request))
    if libc.getsockopt(sock.fileno(), socket.SOL_IP, opt, buf, ctypes.byref(size)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"getsockopt({opt}) on the filter table: {os.strerror(err)}")
    return buf.raw[: size.value]


def _filter_table(sock: socket.socket) -> tuple[tuple, bytes]:
    """The filter table of this namespace: (its IPT_GETINFO fields, its entries)."""
    info = IPT_GETINFO.unpack(_getsockopt(sock, IPT_SO_GET_INFO, IPT_GETINFO.pack(b"filter", 0, *[0] * 12)))
    size = info[-1]
    raw = _getsockopt(sock, IPT_SO_GET_ENTRIES, IPT_GET_ENTRIES.pack(b"filter", size) + bytes(size))
    return info, raw[IPT_GET_ENTRIES.size : IPT_GET_ENTRIES.size + size]


def _entries(table: bytes) -> list[tuple[int, bytes]]:
    """(offset, bytes) of each entry of a table."""
    out, off = [], 0
    while off + IPT_ENTRY.size <= len(table):
        next_offset = IPT_ENTRY.unpack_from(table, off)[13]
        if next_offset < IPT_ENTRY.size:
            raise NetdelayError(f"malformed filter table entry at {off}")
        out.append((off, table[off : off + next_offset]))
        off += next_offset
    return out


def nfqueue_entry(iface: str, queue: int) -> bytes:
    """``-i IFACE -j NFQUEUE --queue-num QUEUE`` as a struct ipt_entry with its target."""
    name = iface.encode()
    if not 0 < len(name) < 16:
        raise ValueError(f"iface: expected an interface name of 1..15 bytes, got {iface!r}")
    mask = b"\xff" * (len(name) + 1)  # the name and its NUL must match: exactly this interface
    size = IPT_ENTRY.size + NFQ_TARGET.size
    zero = bytes(4)
    head = IPT_ENTRY.pack(
        zero, zero, zero, zero, name, b"", mask, b"", 0, 0, 0, 0, IPT_ENTRY.size, size, 0, 0, 0
    )
    return head + NFQ_TARGET.pack(NFQ_TARGET.size, b"NFQUEUE", 0, queue)


def add_nfqueue_rule(iface: str, queue: int) -> None:
    """Append ``-A INPUT -i IFACE -j NFQUEUE --queue-num QUEUE`` to this namespace's filter
    table, as ``iptables-legacy`` would, without it (root; kernel with legacy xtables).

    The whole table is read, the entry inserted before INPUT's policy, every offset at or
    after it moved, and the table replaced (IPT_SO_SET_REPLACE hands back the old counters).
    """
    entry = nfqueue_entry(iface, queue)
    with _xt_socket() as sock:
        info, table = _filter_table(sock)
        _name, valid_hooks, *rest = info
        hook_entry, underflow, num_entries = rest[0:5], rest[5:10], rest[10]
        if not valid_hooks & (1 << NF_INET_LOCAL_IN):
            raise NetdelayError("the filter table has no INPUT chain")
        pos, grow = underflow[NF_INET_LOCAL_IN], len(entry)
        parts = []
        for off, raw in _entries(table):
            if off == pos:
                parts.append(entry)
            target_offset = IPT_ENTRY.unpack_from(raw, 0)[12]
            tsize, tname, _rev = XT_TARGET.unpack_from(raw, target_offset)
            if tname.rstrip(b"\0") == b"" and tsize >= XT_TARGET.size + 4:  # standard: a verdict
                verdict = struct.unpack_from("=i", raw, target_offset + XT_TARGET.size)[0]
                if verdict > pos:  # a jump (verdicts proper are negative)
                    raw = bytearray(raw)
                    struct.pack_into("=i", raw, target_offset + XT_TARGET.size, verdict + grow)
                    raw = bytes(raw)
            parts.append(raw)
        hooks = [h + grow if h != 0xFFFFFFFF and h > pos else h for h in hook_entry]
        unders = [u + grow if u != 0xFFFFFFFF and u >= pos else u for u in underflow]
        new = b"".join(parts)
        counters = ctypes.create_string_buffer(max(1, num_entries) * XT_COUNTERS)
        head = IPT_REPLACE.pack(
            b"filter",
            valid_hooks,
            num_entries + 1,
            len(new),
            *hooks,
            *unders,
            num_entries,
            ctypes.addressof(counters),
        )
        try:
            sock.setsockopt(socket.SOL_IP, IPT_SO_SET_REPLACE, head + new)
        except OSError as e:
            raise NetdelayError(f"cannot add the NFQUEUE rule to the filter table: {e.strerror}") from None


def nfqueue_rules() -> list[tuple[str, int]]:
    """The ``-i IFACE -j NFQUEUE`` rules of this namespace's INPUT chain: [(iface, queue)]."""
    with _xt_socket() as sock:
        info, table = _filter_table(sock)
    first, policy = info[2 + NF_INET_LOCAL_IN], info[7 + NF_INET_LOCAL_IN]
    rules = []
    for off, raw in _entries(table):
        fields = IPT_ENTRY.unpack_from(raw, 0)
        tsize, tname, _rev = XT_TARGET.unpack_from(raw, fields[12])
        if first <= off < policy and tname.rstrip(b"\0") == b"NFQUEUE":
            queue = struct.unpack_from("=H", raw, fields[12] + XT_TARGET.size)[0]
            rules.append((fields[4].rstrip(b"\0").decode(errors="replace"), queue))
    return rules


def _lower_timer_slack() -> None:
    """Ask for 1 us timer slack (default 50 us) so sub-millisecond releases are on time."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(29, 1, 0, 0, 0)  # PR_SET_TIMERSLACK
    except (OSError, AttributeError):
        pass  # best effort: only the lan profile's precision is affected


def queue_counters(queue: int) -> dict[str, int] | None:
    """The kernel's counters for ``queue`` in this namespace (None if it is not bound)."""
    try:
        with open("/proc/net/netfilter/nfnetlink_queue") as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 8 and int(fields[0]) == queue:
                    return {
                        "waiting": int(fields[2]),
                        "queue_dropped": int(fields[5]),
                        "user_dropped": int(fields[6]),
                        "id_sequence": int(fields[7]),
                    }
    except OSError:
        pass
    return None


class Delayer:
    """Bound to one NFQUEUE queue; :meth:`run` accepts each packet ``delay`` seconds after it came."""

    def __init__(
        self, queue: int, delay: float, *, maxlen: int = DEFAULT_MAXLEN, rcvbuf: int = DEFAULT_RCVBUF
    ):
        if not 0 <= queue <= 65535:
            raise ValueError(f"queue: expected 0..65535, got {queue}")
        if delay < 0:
            raise ValueError(f"delay: expected >= 0, got {delay}")
        self.queue = queue
        self.delay = delay
        self.pending: collections.deque[tuple[float, int]] = collections.deque()  # (due, id), FIFO
        self.buf = bytearray(1 << 16)
        self.seq = 0
        self.packets = 0
        self.batches = 0
        self.late_max = 0.0
        self.late_sum = 0.0
        # How late each batch left, in power-of-two microsecond buckets: bounded memory for
        # percentiles however long the daemon runs (bucket k holds [2**(k-1), 2**k) us).
        self.late_hist = [0] * 40
        self.overruns = 0
        self.errors = 0
        self.early = 50e-6  # learned in run(); a typical VM timer wake-up to start with
        # Every verdict is the same 32 bytes but for the id: build the rest once.
        self.verdict_prefix = (
            NLMSGHDR.pack(
                NLMSGHDR.size + NFGENMSG.size + NLATTR.size + 8,
                (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_VERDICT_BATCH,
                NLM_F_REQUEST,
                0,
                0,
            )
            + NFGENMSG.pack(socket.AF_UNSPEC, 0, queue)
            + NLATTR.pack(NLATTR.size + 8, NFQA_VERDICT_HDR)
        )
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        try:
            self._configure(maxlen, rcvbuf)
        except BaseException:
            self.sock.close()
            raise

    # -- setup -------------------------------------------------------------------------------

    def _configure(self, maxlen: int, rcvbuf: int) -> None:
        s = self.sock
        s.bind((0, 0))  # the kernel picks our port id
        # A burst of packets must not overflow the socket before we read it: a message that
        # does not fit is a dropped packet. SO_RCVBUFFORCE (root) ignores net.core.rmem_max.
        try:
            s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf)
        except OSError:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        # Without this an overflow also makes the next recv fail with ENOBUFS; the dropped
        # packets are counted by the kernel either way (user_dropped), so ask it not to.
        try:
            s.setsockopt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1)
        except OSError:
            pass  # then ENOBUFS is handled in _drain
        self._request(_attr(NFQA_CFG_CMD, struct.pack("!BxH", NFQNL_CFG_CMD_BIND, 0)), "bind")
        params = _attr(NFQA_CFG_PARAMS, struct.pack("!IB", 0, NFQNL_COPY_META))  # no payload copy
        params += _attr(NFQA_CFG_QUEUE_MAXLEN, BE32.pack(maxlen))
        self._request(params, "set copy mode and queue length")
        flags = _attr(NFQA_CFG_MASK, BE32.pack(NFQA_CFG_F_GSO)) + _attr(
            NFQA_CFG_FLAGS, BE32.pack(NFQA_CFG_F_GSO)
        )
        self._request(flags, "keep GSO packets whole (NFQA_CFG_F_GSO)")
        s.setblocking(False)

    def _request(self, attrs: bytes, what: str) -> None:
        """Send a config message and wait for the kernel's ack (packets meanwhile are kept)."""
        self.seq += 1
        self.sock.sendto(
            _message(NFQNL_MSG_CONFIG, self.queue, attrs, flags=NLM_F_REQUEST | NLM_F_ACK, seq=self.seq),
            (0, 0),
        )
        self.sock.settimeout(5)
        try:
            while True:
                n = self.sock.recv_into(self.buf)
                now = time.monotonic()
                off = 0
                while off + NLMSGHDR.size <= n:
                    mlen, kind, _flags, seq, _pid = NLMSGHDR.unpack_from(self.buf, off)
                    if mlen < NLMSGHDR.size:
                        break
                    if kind == NLMSG_ERROR and seq == self.seq:
                        err = -struct.unpack_from("=i", self.buf, off + NLMSGHDR.size)[0]
                        if err:
                            raise NetdelayError(f"queue {self.queue}: cannot {what}: {_explain(err)}")
                        return
                    if kind == PACKET_TYPE:
                        self._arrived(off, off + mlen, now)
                    off += (mlen + 3) & ~3
        except TimeoutError:  # socket.timeout is TimeoutError (3.10+)
            raise NetdelayError(f"queue {self.queue}: no answer from the kernel to '{what}'") from None
        finally:
            self.sock.settimeout(None)

    # -- the loop ----------------------------------------------------------------------------

    def _arrived(self, off: int, end: int, now: float) -> None:
        pid = _packet_id(self.buf, off, end)
        if pid is not None:
            self.pending.append((now + self.delay, pid))
            self.packets += 1

    def _drain(self, limit: int = 256) -> None:
        """Read what is waiting (at most ``limit`` messages, so due packets are not held up)."""
        buf, recv_into = self.buf, self.sock.recv_into
        for _ in range(limit):
            try:
                n = recv_into(buf)
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno == errno.ENOBUFS:  # only without NETLINK_NO_ENOBUFS
                    self.overruns += 1
                    if self.overruns == 1:
                        print(
                            "netdelay: receive buffer overflowed; the kernel dropped packets "
                            "(raise --rcvbuf)",
                            file=sys.stderr,
                            flush=True,
                        )
                    continue
                raise
            now = time.monotonic()
            off = 0
            while off + NLMSGHDR.size <= n:
                mlen, kind = HEAD_TYPE.unpack_from(buf, off)
                if mlen < NLMSGHDR.size:
                    break
                if kind == PACKET_TYPE:
                    self._arrived(off, off + mlen, now)
                elif kind == NLMSG_ERROR:  # a verdict the kernel refused
                    err = -struct.unpack_from("=i", buf, off + NLMSGHDR.size)[0]
                    if err:
                        self.errors += 1
                        if self.errors <= 3:
                            print(f"netdelay: verdict refused: {_explain(err)}", file=sys.stderr, flush=True)
                off += (mlen + 3) & ~3

    def _release(self) -> None:
        """Accept every packet that is due now, with one batch verdict."""
        pending = self.pending
        now = time.monotonic()
        if not pending or pending[0][0] > now:
            return
        late = now - pending[0][0]
        self.late_sum += late
        self.late_hist[min(39, int(late * 1e6).bit_length())] += 1
        if late > self.late_max:
            self.late_max = late
        last = None
        while pending and pending[0][0] <= now:
            last = pending.popleft()[1]
        self.sock.sendto(self.verdict_prefix + struct.pack("!II", NF_ACCEPT, last), (0, 0))
        self.batches += 1

    def run(self, stop_fd: int, still_wanted: Callable[[], bool] | None = None) -> None:
        """Serve until ``stop_fd`` becomes readable (or ``still_wanted()``, asked every
        ``WATCH_EVERY`` s, says no); then release what was read and return.

        A timed sleep ends tens of microseconds after it was due (timer interrupt and vCPU
        wake-up), which would add that much to every delay. So the loop learns how late its
        sleeps end (``self.early``, a moving average of the oversleep, at most ``MAX_EARLY``)
        and sleeps that much less, then polls without sleeping until the head is due: a short
        spin per batch instead of a late release.
        """
        rlist = [self.sock, stop_fd]
        stopping = False
        monotonic, sel = time.monotonic, select.select
        next_watch = monotonic() + WATCH_EVERY if still_wanted else math.inf
        while True:
            timeout = None
            if self.pending:
                wait = self.pending[0][0] - monotonic()
                timeout = wait - self.early if wait > self.early else 0.0
            elif stopping:
                return
            t0 = monotonic()
            if t0 >= next_watch:
                next_watch = t0 + WATCH_EVERY
                if not stopping and not still_wanted():
                    print("netdelay: its network namespace was deleted: exiting", file=sys.stderr, flush=True)
                    stopping, rlist = True, []
                    continue
            if next_watch - t0 < (math.inf if timeout is None else timeout):
                timeout = next_watch - t0  # wake up for the next check
            ready, _, _ = sel(rlist, [], [], timeout)
            if ready:
                if self.sock in ready:
                    self._drain()
                if stop_fd in ready:
                    # Packets already read still leave at their due time (at most one delay);
                    # what the kernel holds beyond that is dropped when the socket closes.
                    stopping = True
                    rlist = []
            elif timeout:
                over = monotonic() - t0 - timeout
                self.early = min(MAX_EARLY, max(0.0, self.early + (over - self.early) / 8))
            self._release()

    def lateness(self, q: float) -> float:
        """An upper bound (s) on the ``q`` quantile of how late batches left."""
        need, seen = q * self.batches, 0
        for k, count in enumerate(self.late_hist):
            seen += count
            if count and seen >= need:
                return (1 << k) * 1e-6
        return 0.0

    def close(self) -> None:
        self.sock.close()


def _explain(err: int) -> str:
    why = os.strerror(err)
    if err == errno.EPERM:
        why += " (binding a netfilter queue needs CAP_NET_ADMIN: run as root)"
    elif err == errno.EBUSY:
        why += " (another process is bound to this queue in this namespace)"
    elif err == errno.ENOENT:
        why += " (unknown packet id or queue)"
    return why


def _namespace_watch(name: str) -> Callable[[], bool]:
    """A check that ``ip netns`` still has ``name`` and that it is this process's namespace.

    A process keeps its network namespace alive, so a daemon whose namespace was deleted with
    a plain ``ip netns del`` (not bench/netns.py's teardown, which stops it first) would idle
    forever in a namespace nobody can reach; with this it notices and exits.
    """
    own = os.stat("/proc/self/ns/net")
    path = f"/run/netns/{name}"

    def still_there() -> bool:
        try:
            st = os.stat(path)  # the bind mount of the namespace's nsfs inode
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)

    if not still_there():
        raise NetdelayError(f"--netns {name}: this process does not run in that namespace")
    return still_there


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queue", type=int, default=0, help="NFQUEUE number (default 0)")
    parser.add_argument("--delay-ms", type=float, help="one-way delay per packet, ms (required to serve)")
    parser.add_argument(
        "--rule",
        metavar="IFACE",
        help="once bound, append `-A INPUT -i IFACE -j NFQUEUE --queue-num QUEUE` to the filter "
        "table itself (no iptables binary needed), then print ready",
    )
    parser.add_argument(
        "--list-rules",
        action="store_true",
        help="print this namespace's INPUT NFQUEUE rules (IFACE QUEUE per line) and exit",
    )
    parser.add_argument(
        "--maxlen",
        type=int,
        default=DEFAULT_MAXLEN,
        help=f"packets the kernel may park before dropping (default {DEFAULT_MAXLEN})",
    )
    parser.add_argument("--rcvbuf", type=int, default=DEFAULT_RCVBUF, help="netlink receive buffer, bytes")
    parser.add_argument(
        "--netns",
        metavar="NAME",
        help="exit once the named namespace (/run/netns/NAME, the one this runs in) is deleted",
    )
    args = parser.parse_args(argv)
    if args.list_rules:
        try:
            rules = nfqueue_rules()
        except (NetdelayError, OSError) as e:
            print(f"netdelay: {e}", file=sys.stderr, flush=True)
            return 1
        for iface, queue in rules:
            print(iface, queue)
        return 0
    if args.delay_ms is None:
        parser.error("--delay-ms is required")

    _lower_timer_slack()
    # SIGTERM/SIGINT only write a byte to this pipe; the loop sees it in select and stops.
    stop_r, stop_w = os.pipe()
    os.set_blocking(stop_w, False)
    signal.set_wakeup_fd(stop_w, warn_on_full_buffer=False)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: None)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)

    try:
        still_wanted = _namespace_watch(args.netns) if args.netns else None
        delayer = Delayer(args.queue, args.delay_ms / 1000, maxlen=args.maxlen, rcvbuf=args.rcvbuf)
    except (NetdelayError, OSError, ValueError) as e:
        print(f"netdelay: {e}", file=sys.stderr, flush=True)
        return 1
    try:
        if args.rule:
            # Only now: a packet the rule queues before the queue is bound would be dropped.
            add_nfqueue_rule(args.rule, args.queue)
    except (NetdelayError, OSError, ValueError) as e:
        delayer.close()
        print(f"netdelay: {e}", file=sys.stderr, flush=True)
        return 1
    print("ready", flush=True)
    # Nothing more goes to stdout: the caller may stop reading it once it has seen "ready".
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    try:
        delayer.run(stop_r, still_wanted)
        counters = queue_counters(args.queue) or {}
    finally:
        delayer.close()
    times = os.times()
    mean = delayer.late_sum / delayer.batches * 1e6 if delayer.batches else 0.0
    print(
        f"netdelay: queue {args.queue} delay {args.delay_ms:g} ms: {delayer.packets} packets in "
        f"{delayer.batches} batches; released late by {mean:.0f} us on average, median < "
        f"{delayer.lateness(0.5) * 1e6:.0f} us, p99 < {delayer.lateness(0.99) * 1e6:.0f} us, max "
        f"{delayer.late_max * 1e6:.0f} us; cpu user {times.user:.2f} s, system {times.system:.2f} s "
        f"(includes the stack's work on the released packets); kernel drops: queue full "
        f"{counters.get('queue_dropped', '?')}, socket full {counters.get('user_dropped', '?')}",
        file=sys.stderr,
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
