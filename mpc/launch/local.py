"""Starting and supervising the processes of a run: the machinery behind ``mpcrun``.

:class:`Supervisor` runs a set of processes (the parties, plus *helpers* such as the dealer)
and does what a person running N terminals by hand would otherwise do:

1. **Output.** Every line a process prints is echoed with a prefix (``[P0] ``, ``[D] ``) on the
   launcher's stdout or stderr, and written unprefixed to that process's log file. Two kinds of
   lines are not echoed: ``MPC-STATS`` lines are collected for the ``--stats`` table, and
   ``MPC-LOG`` lines go to the log only (the traceback of an expected error:
   :func:`mpc.launch.run.report_failure`).
2. **Failure.** When any process, helpers included, exits non-zero or is killed while the
   parties run, the others are stopped at once: SIGTERM, then SIGKILL after a grace period.
   Waiting for them to notice on their own would take a full receive deadline, and their
   PeerTimeouts would only repeat the root cause. Exits are observed by one waiter thread per
   process, so "failed first" is the true order.
3. **Report.** After a failure: the last lines each process printed, and a final line naming
   the process that failed first, e.g. ``mpcrun: party 1 failed first (exit code 1)`` or
   ``mpcrun: dealer failed first (killed by SIGKILL)``. A ``PeerTimeout`` exit (status 3) is
   usually the echo of another process's failure, so after one the launcher waits a moment
   (:data:`SETTLE`) for a root cause before naming the timed-out process.
4. **Helpers.** The run ends when the parties end: a helper that exits 0 is done (the dealer,
   after the last party's BYE), and helpers still running when the parties finish are stopped.
5. **Signals.** SIGINT, SIGTERM and SIGHUP to the launcher (Ctrl-C, ``timeout``, a batch
   scheduler, a closed terminal) stop every process the same way (:class:`StopSignals`); the
   caller then removes its temporary files (the ephemeral CURVE keys of ``mpcrun -n``), and the
   launcher exits with 128 + the signal's number.

Each process gets its own process group (``start_new_session``) so signals reach anything it
started, and a terminal's Ctrl-C reaches the launcher only, which then stops everyone in order.

:func:`local_session` prepares a single-machine run: free loopback ports, a temporary hosts
file and (unless plaintext was requested) ephemeral CURVE keys, so even a local run is
encrypted by default.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import shutil
import signal
import site
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from mpc.config.addresses import session_id
from mpc.errors import ConfigError
from mpc.launch.keygen import generate_keys, write_hosts
from mpc.launch.run import EXIT_CODES, LOG_PREFIX, STATS_PREFIX
from mpc.net.shm_ring import remove_leftovers

TAIL_LINES = 20
DEFAULT_GRACE = 3.0
SETTLE = 1.0  # seconds to look for a root cause after a PeerTimeout exit
PEER_TIMEOUT_EXIT = EXIT_CODES["peer_timeout"]
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopSignals:
    """While active (a ``with`` block in the main thread): SIGINT, SIGTERM and SIGHUP are
    recorded instead of ending the launcher, so it can stop its children and clean up first.

    Nothing is raised from the handler (an exception could land inside ``Popen`` and leave a
    child behind); the supervisor's wait loop looks at :attr:`signum` at least every
    :data:`POLL` seconds. Further signals while stopping are ignored: the grace period and
    SIGKILL bound how long stopping takes.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def _record(self, signum: int, frame: object) -> None:
        if self.signum is None:
            self.signum = signum

    @property
    def status(self) -> int:
        """The launcher's exit status after the signal: 128 + its number, as a shell reports it."""
        return 128 + (self.signum or 0)

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""


POLL = 0.2  # seconds; how often the wait loop looks for a stop signal


@dataclass
class ProcSpec:
    """One process to start: ``name`` for messages (``party 0``), ``label`` for the prefix (``P0``)."""

    name: str
    label: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    helper: bool = False


@dataclass
class _Proc:
    spec: ProcSpec
    popen: subprocess.Popen
    log: TextIO
    log_lock: threading.Lock = field(default_factory=threading.Lock)
    readers: list[threading.Thread] = field(default_factory=list)
    returncode: int | None = None
    tail: deque = field(default_factory=lambda: deque(maxlen=TAIL_LINES))  # last echoed lines


def describe_exit(code: int) -> str:
    """``exit code 3`` or ``killed by SIGKILL``."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def status_of(code: int) -> int:
    """The launcher's own exit status for a child's return code (signals as 128 + signum)."""
    return 128 - code if code < 0 else code


class Supervisor:
    """Run processes, prefix and log their output, stop all on the first failure (module docstring)."""

    def __init__(
        self,
        specs: Sequence[ProcSpec],
        *,
        grace: float = DEFAULT_GRACE,
        show_tails: bool = True,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        signals: StopSignals | None = None,
    ) -> None:
        self.specs = list(specs)
        self.signals = signals
        self.grace = grace
        self.show_tails = show_tails
        self.out = sys.stdout if stdout is None else stdout
        self.err = sys.stderr if stderr is None else stderr
        self.stats: dict[str, dict] = {}
        self.first_failure: tuple[str, int] | None = None
        self._console = threading.Lock()
        self._events: queue.Queue[tuple[int, int]] = queue.Queue()
        self._procs: list[_Proc] = []

    # ------------------------------------------------------------------ output

    def say(self, text: str, *, err: bool = True) -> None:
        stream = self.err if err else self.out
        with self._console:
            stream.write(text + "\n")
            stream.flush()

    def _pump(self, proc: _Proc, pipe, to_err: bool) -> None:
        prefix = f"[{proc.spec.label}] "
        stream = self.err if to_err else self.out
        for raw in iter(pipe.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            log_only = line.startswith(LOG_PREFIX)
            if log_only:
                line = line[len(LOG_PREFIX) :]
            with proc.log_lock:
                if not proc.log.closed:  # closed when a grandchild kept the pipe open past the end
                    proc.log.write(line + "\n")
                    proc.log.flush()
                if not log_only:
                    proc.tail.append(line)
            if log_only:
                continue
            if not to_err and line.startswith(STATS_PREFIX):
                try:
                    self.stats[proc.spec.name] = json.loads(line[len(STATS_PREFIX) :])
                    continue
                except ValueError:
                    pass
            with self._console:
                stream.write(prefix + line + "\n")
                stream.flush()
        pipe.close()

    # ------------------------------------------------------------------ processes

    def _start(self, index: int, spec: ProcSpec) -> _Proc:
        spec.log.parent.mkdir(parents=True, exist_ok=True)
        log = open(spec.log, "w", encoding="utf-8")  # closed in _finish()
        popen = subprocess.Popen(
            spec.argv,
            env=spec.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        proc = _Proc(spec, popen, log)
        for pipe, to_err in ((popen.stdout, False), (popen.stderr, True)):
            t = threading.Thread(
                target=self._pump,
                args=(proc, pipe, to_err),
                daemon=True,
                name=f"mpcrun-{spec.label}-{'err' if to_err else 'out'}",
            )
            t.start()
            proc.readers.append(t)
        waiter = threading.Thread(
            target=lambda: self._events.put((index, popen.wait())),
            daemon=True,
            name=f"mpcrun-{spec.label}-wait",
        )
        waiter.start()
        return proc

    def _signal(self, proc: _Proc, sig: int) -> None:
        if proc.returncode is not None or proc.popen.poll() is not None:
            return
        try:
            os.killpg(proc.popen.pid, sig)  # its own group: reaches whatever the process started too
        except (ProcessLookupError, PermissionError):
            pass

    def _stop(self, procs: Sequence[_Proc]) -> None:
        """SIGTERM, then SIGKILL whatever is still running after the grace period."""
        for p in procs:
            self._signal(p, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        for p in procs:
            try:
                p.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._signal(p, signal.SIGKILL)
        for p in procs:
            p.popen.wait()

    def _stop_requested(self) -> bool:
        return self.signals is not None and self.signals.signum is not None

    def run(self) -> int:
        """Start everything, wait, report; returns the launcher's exit status."""
        if self._stop_requested():
            return self.signals.status
        try:
            for i, spec in enumerate(self.specs):
                self._procs.append(self._start(i, spec))
        except OSError as exc:
            self.say(f"mpcrun: cannot start {self.specs[len(self._procs)].name}: {exc}")
            self._stop(self._procs)
            self._finish()
            return 1
        parties = {i for i, p in enumerate(self._procs) if not p.spec.helper}
        status = 0
        try:
            while parties:
                if self._stop_requested():
                    self.say(f"mpcrun: {self.signals.name} received; stopping every process")
                    status = self.signals.status
                    break
                try:
                    index, code = self._events.get(timeout=POLL)
                except queue.Empty:
                    continue
                proc = self._procs[index]
                proc.returncode = code
                parties.discard(index)
                if code != 0:
                    self.first_failure = (proc.spec.name, code)
                    if code == PEER_TIMEOUT_EXIT:
                        self._settle(parties)
                    status = status_of(self.first_failure[1]) or 1
                    break
        except KeyboardInterrupt:  # without StopSignals (a Supervisor run from another program)
            self.say("mpcrun: interrupted; stopping every process")
            status = 130
        self._stop([p for p in self._procs if p.popen.poll() is None])
        self._finish()
        if self.first_failure is not None:
            name, code = self.first_failure
            if self.show_tails:
                self._print_tails()
            verb = "failed first" if len(self._procs) > 1 else "failed"
            self.say(f"mpcrun: {name} {verb} ({describe_exit(code)})")
        return status

    def _settle(self, parties: set[int]) -> None:
        """A PeerTimeout is usually the echo of another process's failure that is still exiting
        (closing its sockets takes a moment): wait briefly for a root cause before blaming it."""
        deadline = time.monotonic() + SETTLE
        while parties:
            try:
                index, code = self._events.get(timeout=max(0.0, deadline - time.monotonic()) or 1e-3)
            except queue.Empty:
                return
            proc = self._procs[index]
            proc.returncode = code
            parties.discard(index)
            if code not in (0, PEER_TIMEOUT_EXIT):
                self.first_failure = (proc.spec.name, code)
                return
            if time.monotonic() >= deadline:
                return

    def _finish(self) -> None:
        for p in self._procs:
            for t in p.readers:
                t.join(timeout=2.0)
            with p.log_lock:
                p.log.close()

    def _print_tails(self) -> None:
        """The last lines each process printed (its log holds everything, MPC-LOG lines too)."""
        for p in self._procs:
            with p.log_lock:
                lines = list(p.tail)
            code = p.popen.returncode
            state = describe_exit(code) if code is not None else "still running"
            self.say(f"mpcrun: ---- {p.spec.name} ({state}): last {len(lines)} lines; log {p.spec.log} ----")
            for line in lines:
                self.say(f"[{p.spec.label}] {line}")


# ------------------------------------------------------------------------- environment helpers


def child_env(base: dict[str, str] | None = None, **mpc_vars: object) -> dict[str, str]:
    """The environment of a launched process: ``base`` plus ``MPC_*`` variables (None = unset).

    Output must not sit in a pipe buffer (the prefixing and the ordering depend on it), and the
    child must import the same ``mpc`` as the launcher even when it is not installed.
    """
    env = dict(os.environ if base is None else base)
    for key, value in mpc_vars.items():
        name = "MPC_" + key.upper()
        if value is None:
            continue
        env[name] = ("1" if value else "0") if isinstance(value, bool) else str(value)
    env["PYTHONUNBUFFERED"] = "1"
    root = str(Path(__file__).resolve().parents[2])
    installed = {str(Path(p).resolve()) for p in [*site.getsitepackages(), site.getusersitepackages()]}
    if root not in installed:
        parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        if root not in parts:
            env["PYTHONPATH"] = os.pathsep.join([root, *parts])
    return env


def share_cores(env: dict[str, str], processes: int) -> dict[str, str]:
    """``env`` with the BLAS thread count of a process that shares this host with ``processes - 1``
    others (mpcrun -n: the parties and the dealer): the cores divided among them (at least 1),
    unless the user set it. NumPy's OpenBLAS otherwise starts a thread per core in every process,
    and after a float64 product (:func:`mpc._core._ring.matmul128`, the spdz2k matrix combine) its
    idle threads keep spinning for a while: the dealer's, after making a matrix triple, slowed the
    parties' online spdz2k matrix products about 2x on 2 cores (measured: 20-41 ms a product
    instead of 20-22 ms)."""
    threads = str(max(1, (os.cpu_count() or 1) // max(1, processes)))
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        env.setdefault(name, threads)
    return env


EPHEMERAL_RANGE = "/proc/sys/net/ipv4/ip_local_port_range"
LOWEST_PORT = 15000  # blocks are drawn from [LOWEST_PORT, the ephemeral range's start)
PORT_RANGE_ENV = "MPC_PORT_RANGE"  # "LO-HI": draw local launches' port blocks from [LO, HI] instead


def _port_range_from_env() -> tuple[int, int] | None:
    """``MPC_PORT_RANGE`` as (lo, hi), None when unset; ConfigError when malformed. Concurrent
    launchers given disjoint ranges (the test suite's parallel workers) never draw the same
    block."""
    text = os.environ.get(PORT_RANGE_ENV, "").strip()
    if not text:
        return None
    try:
        lo, hi = (int(x) for x in text.split("-"))
    except ValueError:
        lo = hi = -1
    if not 1024 <= lo <= hi <= 65535:
        raise ConfigError(f"{PORT_RANGE_ENV}: expected LO-HI with 1024 <= LO <= HI <= 65535, got {text!r}")
    return lo, hi


def _ephemeral_start(path: str = EPHEMERAL_RANGE) -> int | None:
    """The first port the kernel hands out as an ephemeral (source or ``bind(0)``) port, or
    None where that is not known (not Linux, or unreadable)."""
    try:
        with open(path, encoding="ascii") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def free_port_block(count: int, host: str = "127.0.0.1", attempts: int = 100) -> int:
    """The first of ``count`` consecutive ports that are all free now (bound together to check).

    Consecutive because the dealer listens on its port plus each party id
    (:mod:`mpc.preprocessing.dealer_service`), so its ports must follow each other. The block is
    drawn at random from ``MPC_PORT_RANGE`` when set, else below the kernel's ephemeral range
    where that range is known (Linux): a port inside it may become the source port of any
    connection on the host before the party binds it, even of a party's own connection attempt
    to that very port, which then connects to itself (a TCP self-connect) and fails the secure
    handshake (the likely cause of a failure seen with several launches at once). Elsewhere the
    kernel picks (``bind`` to port 0).
    """
    span = _port_range_from_env()
    if span is not None and span[1] - span[0] + 1 < count:
        raise ConfigError(f"{PORT_RANGE_ENV}: {span[0]}-{span[1]} has fewer than the {count} ports needed")
    top = _ephemeral_start()
    if span is None and top is not None and top - count > LOWEST_PORT:
        span = (LOWEST_PORT, top - 1)  # the default: below the ephemeral range
    for _ in range(attempts):
        if span is not None:  # a block lo <= base, base + count - 1 <= hi
            base = span[0] + secrets.randbelow(span[1] - span[0] + 2 - count)
        else:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.bind((host, 0))
                base = probe.getsockname()[1]
        if base + count > 65536:
            continue
        socks = []
        try:
            for port in range(base, base + count):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.bind((host, port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise OSError(f"no block of {count} consecutive free ports on {host}")


def default_log_dir(root: str | os.PathLike = "logs") -> Path:
    """A new folder ``<root>/mpcrun-<timestamp>`` (``-2``, ``-3``... when runs start in the same
    second), created here: ``mkdir`` either creates it or fails, so two runs never share one."""
    base = Path(root) / f"mpcrun-{time.strftime('%Y%m%d-%H%M%S')}"
    base.parent.mkdir(parents=True, exist_ok=True)
    k = 1
    while True:
        path = base if k == 1 else base.with_name(f"{base.name}-{k}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            k += 1


@dataclass
class LocalSession:
    """A temporary hosts file (and keys) for a single-machine run; ``cleanup()`` removes it."""

    directory: Path
    hosts: Path
    dealer: bool
    session: str = ""

    def cleanup(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
        if self.session:  # shared-memory rings a killed party left before its set-up ended
            remove_leftovers(session_id(self.session))


def local_session(n: int, *, dealer: bool, encrypted: bool) -> LocalSession:
    """Pick free loopback ports and write hosts.toml (+ CURVE keys when ``encrypted``) in a 0700 dir.

    The ports are free when picked; another program could still take one before a party binds
    it, in which case that party fails with a clear "port already in use" and the run stops.
    """
    directory = Path(tempfile.mkdtemp(prefix="mpcrun-"))
    try:
        base = free_port_block(2 * n if dealer else n)  # parties, then the dealer's n link ports
        session = f"mpcrun-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}"
        hosts = write_hosts(
            directory / "hosts.toml",
            session,
            [f"127.0.0.1:{base + i}" for i in range(n)],
            f"127.0.0.1:{base + n}" if dealer else None,
        )
        if encrypted:
            generate_keys(hosts)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return LocalSession(directory, hosts, dealer, session)
