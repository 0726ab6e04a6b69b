"""Network benchmark: ZmqChannel against raw pyzmq sockets doing the same transfers.

    python bench/net.py [--quick] [--curve]

Measurements (one JSON line each on stdout; a summary against the targets on stderr):

(a) ``exchange``, 2 parties, 16 MiB: each party sends 16 MiB to the other and receives 16 MiB
    (one round, full duplex). Target: ZmqChannel reaches >= 80% of raw pyzmq's throughput.
(b) ``pingpong``, 2 parties, 8 bytes: party 0 sends, party 1 answers; ``seconds`` is one round
    trip (two rounds). Target: ZmqChannel <= 1.5x raw pyzmq's round trip.
(c) ``exchange``, 3 and 5 parties, 8 MiB: all-to-all, each party sends 8 MiB to every peer.

Systems: ``tessera`` is :class:`mpc.net.zmq_channel.ZmqChannel` (header frame + payload frame,
tag/session/dtype/shape checks, counters, deadline-bounded receives); ``raw-pyzmq`` is one PAIR
socket per pair of parties sending the bare payload (zero-copy from 64 KiB, like ZmqChannel),
with no header and no checks. ``--curve`` adds ``tessera-curve`` (ZmqChannel with CurveZMQ
encryption) to the 2-party measurements.

Setting: every party is a separate process (multiprocessing, spawn: no shared GIL) holding one
end of every system at once; all talk over TCP on 127.0.0.1. Each repeat runs every system once,
in an order rotated from repeat to repeat, so load from elsewhere on the machine hits the systems
alike. ``seconds`` is the median over the repeats (>= 5) of the slowest party's time for one
operation, after a warm-up; ``cpu_seconds`` the same for the CPU time of that party's process
(its Python thread and ZeroMQ's I/O thread): on a loaded machine it shows the overhead more
steadily than wall time. ``bytes`` is what one party sends per operation, headers included;
``rounds`` counts sequential message latencies.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import zmq

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mpc.launch.local import free_port_block  # noqa: E402
from mpc.net.zmq_channel import CurveKeys, ZmqChannel  # noqa: E402

MiB = 1 << 20
SESSION = 0xBE7C4
ZERO_COPY_MIN = 1 << 16
MODE = "processes (multiprocessing spawn), tcp 127.0.0.1, systems interleaved"


def free_ports(k: int) -> list[int]:
    """k free TCP ports on 127.0.0.1 (the launcher's helper: consecutive, checked together)."""
    base = free_port_block(k)
    return list(range(base, base + k))


# ---------------------------------------------------------------------- one party's end of a system


class TesseraEnd:
    def __init__(self, pid: int, n: int, eps: list, curve: CurveKeys | None) -> None:
        self.ch = ZmqChannel(pid, n, SESSION, eps, timeout=120, curve=curve)
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
    """One PAIR socket per pair: the lower party binds ports[i-j], the higher one connects."""

    def __init__(self, pid: int, n: int, ports: dict[str, int]) -> None:
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
            port = ports[f"{min(pid, j)}-{max(pid, j)}"]
            if pid < j:
                s.bind(f"tcp://127.0.0.1:{port}")
            else:
                s.connect(f"tcp://127.0.0.1:{port}")

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


def _party(pid, n, op, size, repeats, iters, wiring, queue):
    try:
        ends = {}
        for system, how in wiring.items():
            if system == "raw-pyzmq":
                ends[system] = RawEnd(pid, n, how)
            else:
                eps, keys = how
                curve = None
                if keys is not None:
                    peers = {j: k[0] for j, k in enumerate(keys) if j != pid}
                    curve = CurveKeys(keys[pid][0], keys[pid][1], peers)
                ends[system] = TesseraEnd(pid, n, eps, curve)
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
        queue.put((pid, (times, cpu, sent), None))
    except BaseException as e:  # reported by the parent
        queue.put((pid, None, f"{type(e).__name__}: {e}"))


def measure(systems: list[str], op: str, parties: int, size: int, repeats: int, iters: int = 1) -> list[dict]:
    """Run ``op`` for every system in one set of party processes; one result row per system."""
    wiring: dict[str, object] = {}
    for system in systems:
        if system == "raw-pyzmq":
            pairs = [f"{i}-{j}" for i in range(parties) for j in range(i + 1, parties)]
            wiring[system] = dict(zip(pairs, free_ports(len(pairs)), strict=True))
        else:
            eps = [f"tcp://127.0.0.1:{p}" for p in free_ports(parties - 1)] + [None]
            keys = [zmq.curve_keypair() for _ in range(parties)] if system == "tessera-curve" else None
            wiring[system] = (eps, keys)
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_party, args=(pid, parties, op, size, repeats, iters, wiring, queue))
        for pid in range(parties)
    ]
    for p in procs:
        p.start()
    results: dict[int, tuple] = {}
    try:
        for _ in range(parties):
            pid, result, error = queue.get(timeout=600)
            if error is not None:
                raise RuntimeError(f"{op} with {parties} parties, party {pid}: {error}")
            results[pid] = result
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.terminate()
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
                "mode": MODE,
            }
        )
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="ZmqChannel vs raw pyzmq (see the module docstring)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and round trips")
    parser.add_argument("--curve", action="store_true", help="also measure the 2-party cases with CURVE")
    args = parser.parse_args(argv)
    repeats = 7 if args.quick else 15
    iters = 300 if args.quick else 1000
    two = ["tessera", *(["tessera-curve"] if args.curve else []), "raw-pyzmq"]
    rows: dict[tuple, dict] = {}

    def emit(new_rows: list[dict]) -> None:
        for row in new_rows:
            rows[(row["system"], row["op"], row["parties"])] = row
            print(json.dumps(row), flush=True)

    emit(measure(two, "exchange", 2, 16 * MiB, repeats))
    emit(measure(two, "pingpong", 2, 8, repeats, iters))
    for parties in (3, 5):
        emit(measure(["tessera", "raw-pyzmq"], "exchange", parties, 8 * MiB, repeats))

    ex = rows[("raw-pyzmq", "exchange", 2)]["seconds"] / rows[("tessera", "exchange", 2)]["seconds"]
    pp = rows[("tessera", "pingpong", 2)]["seconds"] / rows[("raw-pyzmq", "pingpong", 2)]["seconds"]
    pp_cpu = (
        rows[("tessera", "pingpong", 2)]["cpu_seconds"] / rows[("raw-pyzmq", "pingpong", 2)]["cpu_seconds"]
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"# {platform.machine()}, {os.cpu_count()} cpus (load {load:.1f}), "
        f"python {platform.python_version()}, libzmq {zmq.zmq_version()}, pyzmq {zmq.__version__}; {MODE}",
        file=sys.stderr,
    )
    print(
        f"# (a) 16 MiB exchange throughput, tessera / raw-pyzmq: {ex:.0%} "
        f"(target >= 80%: {'met' if ex >= 0.8 else 'NOT met'})",
        file=sys.stderr,
    )
    print(
        f"# (b) 8-byte round trip, tessera / raw-pyzmq: {pp:.2f}x "
        f"(target <= 1.5x: {'met' if pp <= 1.5 else 'NOT met'}); CPU per round trip: {pp_cpu:.2f}x",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
