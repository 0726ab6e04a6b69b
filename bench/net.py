"""Network benchmark: ZmqChannel against raw pyzmq sockets doing the same transfers.

    python bench/net.py [--quick] [--curve] [--profile loopback|lan|wan]

Measurements (one JSON line each on stdout; a summary against the targets on stderr):

(a) ``exchange``, 2 parties, 16 MiB: each party sends 16 MiB to the other and receives 16 MiB
    (one round, full duplex). Target: ZmqChannel reaches >= 80% of raw pyzmq's throughput.
(b) ``pingpong``, 2 parties, 8 bytes: party 0 sends, party 1 answers; ``seconds`` is one round
    trip (two rounds). Target: ZmqChannel <= 1.5x raw pyzmq's round trip.
(c) ``exchange``, 3 and 5 parties, 8 MiB: all-to-all, each party sends 8 MiB to every peer.
(d) ``pingpong``, 2 parties, 32 KiB: as (b) with a message of the size a training loop sends most
    of its bytes in (W6: 8-64 KiB), where the encrypted path's cost per message shows.

Systems: ``tessera`` is :class:`mpc.net.zmq_channel.ZmqChannel` in plaintext (header frame +
payload frame, tag/session/dtype/shape checks, counters, deadline-bounded receives);
``tessera-encrypted`` is the same channel as mpcrun runs it by default, encrypted: CURVE for the
set-up, then every message as AES-256-GCM records on the bulk links (:mod:`mpc.net.zmq_records`);
``raw-pyzmq`` is one PAIR socket per pair of parties sending the bare payload (zero-copy from
64 KiB, like ZmqChannel), with no header and no checks. ``--curve`` adds ``tessera-curve`` (every
byte through CurveZMQ, ``records=False``: the encrypted path before the records) to the 2-party
measurements. Every row says ``encrypted`` true or
false. No system uses the shared-memory rings here: every byte crosses TCP.

Setting: every party is a separate process (``bench/net.py --worker SPEC_FILE``, no shared GIL) holding one
end of every system at once, its heap tuned as mpcrun tunes a party's
(:mod:`mpc.launch.allocator`: large freed buffers reused, not returned to the kernel). On
``--profile loopback`` all talk over TCP on 127.0.0.1; on ``lan`` and ``wan`` (root only)
every party process runs in its own network namespace (bench/netns.py), shaped by that
profile, so both systems cross the same emulated link. The processes are started
by bench/peers/launch.py's ``run_parties``, as the peers' and the other Tessera runners' are, and
every line records ``profile``, ``shaping``, ``delay_ms`` and ``rate`` (bench/parties.py). On
``wan`` the round trip is timed over fewer iterations (each costs at least twice the delay).
Each repeat runs every system once, in an order rotated from repeat to repeat, so load from
elsewhere on the machine hits the systems alike. ``seconds`` is the median over the repeats
(>= 5) of the slowest party's time for one operation, after a warm-up; ``cpu_seconds`` the same
for the CPU time of that party's process (its Python thread and ZeroMQ's I/O thread): on a
loaded machine it shows the overhead more steadily than wall time. ``bytes`` is what one party sends per operation, headers included;
``rounds`` counts sequential message latencies.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import zmq

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.parties import NETNS_PREFIX, add_profile_argument, net_fields, report_unavailable  # noqa: E402
from bench.peers.launch import run_parties  # noqa: E402
from mpc.launch.allocator import tune_allocator  # noqa: E402
from mpc.launch.keygen import write_secret  # noqa: E402
from mpc.launch.local import free_port_block  # noqa: E402
from mpc.net.zmq_channel import CurveKeys, ZmqChannel  # noqa: E402

KiB, MiB = 1 << 10, 1 << 20
SESSION = 0xBE7C4
ZERO_COPY_MIN = 1 << 16
MODES = {
    "loopback": "processes, tcp 127.0.0.1, systems interleaved",
    "netns": "processes, each in its own network namespace (tcp over a veth bridge), systems interleaved",
}
RESULT_TAG = "NET-RESULT "
ENCRYPTED = ("tessera-encrypted", "tessera-curve")  # the systems with CURVE keys
RUN_TIMEOUT = 1800.0
# round trips per timed ping-pong (full, --quick): on wan each costs >= 2 x 40 ms of delay
PINGPONG_ITERS = {"loopback": (1000, 300), "lan": (1000, 300), "wan": (25, 10)}


def mode(profile: str) -> str:
    return MODES["loopback" if profile == "loopback" else "netns"]


def free_ports(k: int) -> list[int]:
    """k free TCP ports on 127.0.0.1 (the launcher's helper: consecutive, checked together).
    A fresh namespace has no port in use, so the same numbers serve there too."""
    base = free_port_block(k)
    return list(range(base, base + k))


# ---------------------------------------------------------------------- one party's end of a system


class TesseraEnd:
    def __init__(self, pid: int, n: int, eps: list, curve: CurveKeys | None, records: bool = True) -> None:
        kw = {} if records else {"records": False}  # every byte through CURVE
        self.ch = ZmqChannel(pid, n, SESSION, eps, timeout=120, curve=curve, **kw)
        self.pid = pid

    def exchange(self, arr: np.ndarray) -> None:
        self.ch.exchange(arr)

    def pingpong(self, msg: np.ndarray, iters: int) -> None:
        ch = self.ch
        for _ in range(iters):
            ping, pong = ch.next_tag(), ch.next_tag()
            if self.pid == 0:
                ch.send(1, msg, ping)
                ch.recv(1, pong, dtype=msg.dtype, shape=msg.shape)
            elif self.pid == 1:
                ch.recv(0, ping, dtype=msg.dtype, shape=msg.shape)
                ch.send(0, msg, pong)

    def sent(self) -> int:
        return self.ch.stats()["total"]["bytes_sent"]

    def close(self) -> None:
        self.ch.exchange(np.zeros(1, dtype=np.uint64))  # nobody closes before everyone is done
        self.ch.close()


class RawEnd:
    """One PAIR socket per pair: the lower party binds eps["i-j"] (its own address), the higher
    one connects to it."""

    def __init__(self, pid: int, n: int, eps: dict[str, str]) -> None:
        self.pid = pid
        self.ctx = zmq.Context()
        self.socks: dict[int, zmq.Socket] = {}
        self.bytes_sent = 0
        for j in range(n):
            if j == pid:
                continue
            s = self.socks[j] = self.ctx.socket(zmq.PAIR)
            s.linger = 1000
            s.sndhwm = s.rcvhwm = 0
            ep = eps[f"{min(pid, j)}-{max(pid, j)}"]
            if pid < j:
                s.bind(ep)
            else:
                s.connect(ep)

    def exchange(self, arr: np.ndarray) -> None:
        for s in self.socks.values():
            s.send(arr, copy=arr.nbytes < ZERO_COPY_MIN)
            self.bytes_sent += arr.nbytes
        for s in self.socks.values():
            np.frombuffer(s.recv(copy=False).buffer, dtype=arr.dtype)

    def pingpong(self, msg: np.ndarray, iters: int) -> None:
        if self.pid > 1:
            return
        s = self.socks[1 - self.pid]
        for _ in range(iters):
            if self.pid == 0:
                s.send(msg)
                s.recv()
            else:
                s.recv()
                s.send(msg)
        self.bytes_sent += iters * msg.nbytes

    def sent(self) -> int:
        return self.bytes_sent

    def close(self) -> None:
        self.exchange(np.zeros(1, dtype=np.uint64))
        for s in self.socks.values():
            s.close()
        self.ctx.term()


def _party(pid, n, op, size, repeats, iters, wiring) -> tuple[dict, dict, dict]:
    """One party process's (times, cpu, sent) per system (``python bench/net.py --worker SPEC_FILE``)."""
    ends = {}
    for system, how in wiring.items():
        if system == "raw-pyzmq":
            ends[system] = RawEnd(pid, n, how)
        else:
            eps, keys = how["endpoints"], how["keys"]
            curve = None
            if keys is not None:  # z85 text in the JSON spec, bytes for zmq; a peer's secret is None
                peers = {j: pub.encode() for j, (pub, _) in enumerate(keys) if j != pid}
                curve = CurveKeys(keys[pid][0].encode(), keys[pid][1].encode(), peers)
            ends[system] = TesseraEnd(pid, n, eps, curve, records=system != "tessera-curve")
    arr = np.full(size // 8, pid, dtype=np.uint64)

    def once(end):
        if op == "exchange":
            end.exchange(arr)
        else:
            end.pingpong(arr, iters)

    for end in ends.values():
        once(end)  # warm-up: connections, buffers, caches
    per = iters if op == "pingpong" else 1
    times: dict[str, list[float]] = {system: [] for system in ends}
    cpu: dict[str, list[float]] = {system: [] for system in ends}
    sent = {}
    names = list(ends)
    for r in range(repeats):
        for system in names[r % len(names) :] + names[: r % len(names)]:
            end = ends[system]
            before = end.sent()
            c0, t0 = time.process_time(), time.perf_counter()
            once(end)
            times[system].append((time.perf_counter() - t0) / per)
            cpu[system].append((time.process_time() - c0) / per)
            sent[system] = (end.sent() - before) // per
    for end in ends.values():
        end.close()
    return times, cpu, sent


def measure(
    systems: list[str],
    op: str,
    parties: int,
    size: int,
    repeats: int,
    iters: int = 1,
    profile: str = "loopback",
    prefix: str = NETNS_PREFIX,
) -> list[dict]:
    """Run ``op`` for every system in one set of party processes; one result row per system.

    The ports and keys are picked here; each process's endpoints are built from the addresses
    ``run_parties`` hands out (127.0.0.1, or the namespaces' on lan/wan), so the same code wires
    both settings.
    """
    ports = {
        system: free_ports(parties * (parties - 1) // 2 if system == "raw-pyzmq" else parties - 1)
        for system in systems
    }
    keys = {
        system: [[k.decode() for k in zmq.curve_keypair()] for _ in range(parties)]
        for system in systems
        if system in ENCRYPTED
    }

    def wiring(address_of, pid: int) -> dict:
        """Party ``pid``'s wiring: every party's public key, its own secret key alone."""
        out: dict[str, object] = {}
        for system in systems:
            if system == "raw-pyzmq":
                pairs = [(i, j) for i in range(parties) for j in range(i + 1, parties)]
                # the lower party of a pair binds, on its own address
                out[system] = {
                    f"{i}-{j}": f"tcp://{address_of(i)}:{port}"
                    for (i, j), port in zip(pairs, ports[system], strict=True)
                }
            else:
                eps = [f"tcp://{address_of(i)}:{port}" for i, port in enumerate(ports[system])] + [None]
                own = keys.get(system)
                mine = None if own is None else [[pub, sec if j == pid else None] for j, (pub, sec) in enumerate(own)]
                out[system] = {"endpoints": eps, "keys": mine}
        return out

    with tempfile.TemporaryDirectory(prefix="tessera-net-") as tmp:

        def command(pid: int, address_of) -> tuple[list[str], dict]:
            # the spec holds the party's CURVE secret key: in a file only its user can read, not on
            # the command line, which every local user sees (ps, /proc/<pid>/cmdline)
            spec = {"pid": pid, "n": parties, "op": op, "size": size, "repeats": repeats, "iters": iters,
                    "wiring": wiring(address_of, pid)}
            path = Path(tmp) / f"spec{pid}.json"
            write_secret(path, json.dumps(spec).encode(), replace=True)
            return [sys.executable, str(Path(__file__).resolve()), "--worker", str(path)], dict(os.environ)

        failed, info = run_parties(parties, command, tmp, RUN_TIMEOUT, profile, prefix=prefix)
        if failed:
            raise RuntimeError(f"{op} with {parties} parties on the {profile} profile: {failed}")
        results: dict[int, tuple] = {}
        for pid in range(parties):  # run_parties sends process i's output to log<i>.txt
            text = (Path(tmp) / f"log{pid}.txt").read_text(errors="replace")
            found = [line.split(RESULT_TAG, 1)[1] for line in text.splitlines() if RESULT_TAG in line]
            if not found:
                raise RuntimeError(
                    f"{op} with {parties} parties, party {pid} printed no result: {text[-2000:]}"
                )
            results[pid] = json.loads(found[-1])
    rows = []
    timed = [0] if op == "pingpong" else list(results)  # a round trip is timed by party 0
    for system in systems:
        slowest = [max(results[pid][0][system][r] for pid in timed) for r in range(repeats)]
        busiest = [max(results[pid][1][system][r] for pid in timed) for r in range(repeats)]
        rows.append(
            {
                "op": op,
                "engine": "net",
                "system": system,
                "parties": parties,
                "n": size,
                "seconds": statistics.median(slowest),
                "cpu_seconds": statistics.median(busiest),
                "bytes": max(results[pid][2][system] for pid in results),
                "rounds": 2 if op == "pingpong" else 1,
                "phase": "online",
                "repeats": repeats,
                "mode": mode(profile),
                "encrypted": system in ENCRYPTED,
                **net_fields(info),
            }
        )
    return rows


def worker(spec_path: str) -> int:
    """A party process: run the spec (a JSON file, mode 0600: it holds the party's CURVE secret
    key), print its result as one ``NET-RESULT`` JSON line."""
    spec = json.loads(Path(spec_path).read_text())
    tune_allocator()  # the heap of every party process of mpcrun, for every system alike
    try:
        result = _party(
            spec["pid"], spec["n"], spec["op"], spec["size"], spec["repeats"], spec["iters"], spec["wiring"]
        )
    except BaseException:  # the traceback lands in the log, whose tail the launcher reports
        traceback.print_exc()
        return 1
    print(RESULT_TAG + json.dumps(result), flush=True)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="ZmqChannel vs raw pyzmq (see the module docstring)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and round trips")
    parser.add_argument("--curve", action="store_true", help="also measure the 2-party cases with CURVE")
    add_profile_argument(parser)
    parser.add_argument("--worker", metavar="SPEC_FILE", help=argparse.SUPPRESS)  # one party process
    args = parser.parse_args(argv)
    if args.worker is not None:
        return worker(args.worker)
    if report_unavailable(args.profile, engine="net"):
        return 0
    repeats = 7 if args.quick else 15
    iters = PINGPONG_ITERS[args.profile][1 if args.quick else 0]
    where = {"profile": args.profile}
    two = ["tessera", "tessera-encrypted", *(["tessera-curve"] if args.curve else []), "raw-pyzmq"]
    rows: dict[tuple, dict] = {}

    def emit(new_rows: list[dict]) -> None:
        for row in new_rows:
            rows[(row["system"], row["op"], row["parties"], row["n"])] = row
            print(json.dumps(row), flush=True)

    emit(measure(two, "exchange", 2, 16 * MiB, repeats, **where))
    emit(measure(two, "pingpong", 2, 8, repeats, iters, **where))
    for parties in (3, 5):
        emit(measure(["tessera", "tessera-encrypted", "raw-pyzmq"], "exchange", parties, 8 * MiB, repeats, **where))
    emit(measure(two, "pingpong", 2, 32 * KiB, repeats, iters, **where))

    def seconds(system: str, op: str, n: int, key: str = "seconds") -> float:
        return rows[(system, op, 2, n)][key]

    ex = seconds("raw-pyzmq", "exchange", 16 * MiB) / seconds("tessera", "exchange", 16 * MiB)
    pp = seconds("tessera", "pingpong", 8) / seconds("raw-pyzmq", "pingpong", 8)
    pp_cpu = seconds("tessera", "pingpong", 8, "cpu_seconds") / seconds("raw-pyzmq", "pingpong", 8, "cpu_seconds")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"# {platform.machine()}, {os.cpu_count()} cpus (load {load:.1f}), "
        f"python {platform.python_version()}, libzmq {zmq.zmq_version()}, pyzmq {zmq.__version__}; "
        f"profile {args.profile} (shaping: {rows[('tessera', 'exchange', 2, 16 * MiB)]['shaping'] or 'none'}); "
        f"{mode(args.profile)}",
        file=sys.stderr,
    )
    print(
        f"# (a) 16 MiB exchange throughput, tessera / raw-pyzmq: {ex:.0%} "
        f"(target >= 80%: {'met' if ex >= 0.8 else 'NOT met'})",
        file=sys.stderr,
    )
    enc = seconds("tessera-encrypted", "exchange", 16 * MiB) / seconds("tessera", "exchange", 16 * MiB)
    print(f"# (a') 16 MiB exchange, encrypted default / plaintext: {enc:.2f}x", file=sys.stderr)
    mid = seconds("tessera-encrypted", "pingpong", 32 * KiB) / seconds("tessera", "pingpong", 32 * KiB)
    print(f"# (d) 32 KiB round trip, encrypted default / plaintext: {mid:.2f}x", file=sys.stderr)
    print(
        f"# (b) 8-byte round trip, tessera / raw-pyzmq: {pp:.2f}x "
        f"(target <= 1.5x: {'met' if pp <= 1.5 else 'NOT met'}); CPU per round trip: {pp_cpu:.2f}x",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
