"""``mpcrun``: start the parties of a Tessera session (also ``python -m mpc run``).

Three ways to run, chosen by the flags:

``mpcrun -n N [options] script.py args...``
    Every party on this machine: N processes (plus the dealer unless ``--no-dealer`` or a
    non-dealer ``--preprocessing``), on free loopback ports, CURVE-encrypted with ephemeral keys
    unless ``--insecure-plaintext``. Output is prefixed ``[P0]``..., each process has a log, and
    the first failure stops the run (see :mod:`mpc.launch.local`).
``mpcrun --pid I --hosts hosts.toml [options] script.py args...``
    One party of a multi-host session, in the foreground (``--pid dealer`` for the dealer, whose
    script arguments are ignored). ``MPC_PID``/``MPC_HOSTS`` work in place of the flags.
``mpcrun [options] script.py args...`` with ``RANK``/``WORLD_SIZE`` set (torchrun, clusters)
    One party, its id from ``RANK`` (see :mod:`mpc.config` for how addresses are derived).

``mpcrun keygen --pid I hosts.toml`` writes one party's CURVE key pair on its own host;
``mpcrun keygen hosts.toml`` every key at once, for one trusted operator
(:mod:`mpc.launch.keygen`).

SIGINT, SIGTERM and SIGHUP stop every process of the run and remove the temporary hosts file
and keys of ``-n`` before ``mpcrun`` exits (with 128 + the signal's number).

In every script argument, ``{pid}`` is replaced by the party id. Options reach the processes as
``MPC_*`` variables, which override the defaults the script passes to ``mpc.run``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from mpc.config import DEALER, SessionConfig, from_env, is_launched
from mpc.config.session import MALLOC_MODES, OT_EXTENSIONS, OT_MATRIX_MODES, SHM_MODES
from mpc.errors import ConfigError
from mpc.launch import keygen
from mpc.launch.local import (
    DEFAULT_GRACE,
    ProcSpec,
    StopSignals,
    Supervisor,
    child_env,
    default_log_dir,
    local_session,
    share_cores,
    status_of,
)
from mpc.launch.run import STATS_PREFIX, refuse_insecure_local

_PASS_THROUGH = (
    "timeout",
    "connect_timeout",
    "spin_us",
    "malloc",
    "shm",
    "engine",
    "preprocessing",
    "ot_batch",
    "ot_matrix",
    "ot_extension",
    "ot_k",
    "kernels",
    "insecure_plaintext",
    "insecure_local_preprocessing",
    "stats",
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mpcrun",
        usage="mpcrun (-n N | --pid I --hosts hosts.toml) [options] script.py [args...]\n"
        "       mpcrun keygen [--pid I] hosts.toml [--force]",
        description="Launch the parties of a Tessera secure multi-party computation. "
        "'{pid}' in script arguments is replaced by each party's id.",
    )
    p.add_argument("-n", type=int, metavar="N", help="run N parties on this machine")
    p.add_argument("--pid", help="run only this party (an id, or 'dealer') of a multi-host session")
    p.add_argument("--hosts", metavar="FILE", help="hosts file (TOML) listing every party's address and key")
    p.add_argument("--engine", help="semi2k | spdz2k | masked2k | gmw | cleartext (overrides the script's default)")
    p.add_argument("--preprocessing", help="preprocessing source (overrides the script's default)")
    p.add_argument("--ot-batch", type=int, metavar="N",
                   help="with --preprocessing ot: elements per OT round trip (memory bound; default 16384)")
    p.add_argument("--ot-matrix", choices=OT_MATRIX_MODES,
                   help="with --preprocessing ot: matrix triples from Gilboa OT products (GBs of traffic at "
                        "256^3), from Paillier (MBs of traffic, about 25 s of CPU at 256^3) or auto (default: "
                        "the cheaper per shape by the cost models; Paillier from about 40^3)")
    p.add_argument("--ot-extension", choices=OT_EXTENSIONS,
                   help="with --preprocessing ot: the OT extension, SoftSpoken (default; Roy, CRYPTO 2022) or "
                        "IKNP with the KOS15 check")
    p.add_argument("--ot-k", type=int, metavar="K",
                   help="with --ot-extension softspoken: bits per block, 1..8 (default 2; larger k sends "
                        "less and computes more: 2^k AES blocks per k OTs)")
    p.add_argument("--kernels", help="c | ref | auto: compiled kernels or the NumPy reference")
    p.add_argument("--timeout", type=float, metavar="S", help="receive deadline in seconds (default 60)")
    p.add_argument("--connect-timeout", type=float, metavar="S", help="how long to wait for peers at start")
    p.add_argument("--spin-us", type=float, metavar="US",
                   help="microseconds a receive polls before it sleeps (default 100; 0 saves CPU)")
    p.add_argument("--malloc", choices=MALLOC_MODES,
                   help="the processes' C heap: tuned (default: large buffers are reused, no page faults per "
                        "step) or system (glibc's defaults)")
    p.add_argument("--shm", choices=SHM_MODES,
                   help="large payloads to parties on this host through shared memory instead of loopback TCP: "
                        "auto (default; with CURVE the rings carry AES-GCM records when the host restricts ptrace, "
                        "Yama ptrace_scope >= 1, and the payloads as they are otherwise, where every process of "
                        "the user can read the parties' memory anyway), on (never sealed), sealed (always sealed "
                        "with CURVE), off")
    p.add_argument("--stats", action="store_true", default=None, help="print bytes and rounds per party")
    p.add_argument(
        "--insecure-plaintext",
        action="store_true",
        default=None,
        help="no CURVE encryption (loopback benchmarks; never across untrusted networks)",
    )
    p.add_argument(
        "--insecure-local-preprocessing",
        action="store_true",
        default=None,
        help="allow preprocessing 'local' (every party can compute every share: tests only) in separate processes",
    )
    p.add_argument(
        "--log-dir", metavar="DIR", help="where the per-process logs go (default ./logs/mpcrun-<time>)"
    )
    p.add_argument("--no-dealer", action="store_true", help="with -n: do not start a dealer process")
    p.add_argument("--emulate", action="store_true",
                   help="with -n: every party as a thread of ONE process on the cleartext debug engine (same "
                        "results as semi2k, overflow reported, semi2k's costs counted; no security: never with "
                        "real secrets; see docs/debugging.md)")
    p.add_argument(
        "--grace",
        type=float,
        default=DEFAULT_GRACE,
        metavar="S",
        help=f"seconds between SIGTERM and SIGKILL when stopping a run (default {DEFAULT_GRACE:g})",
    )
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="script.py [args...]")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """The ``mpcrun`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["keygen"]:
        return keygen.main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.emulate:
            return _run_emulated(args)
        if args.n is not None:
            with StopSignals() as signals:
                return _run_local(args, signals)
        if args.pid is not None or is_launched(os.environ):
            with StopSignals() as signals:
                return _run_one(args, signals)
        parser.print_usage(sys.stderr)
        print(
            "mpcrun: pass -n N to run every party on this machine, or --pid I --hosts hosts.toml to run one "
            "party of a multi-host session",
            file=sys.stderr,
        )
        return 2
    except ConfigError as exc:
        print(f"mpcrun: {exc}", file=sys.stderr)
        return 2


def _script(args: argparse.Namespace, required: bool = True) -> tuple[str | None, list[str]]:
    if not args.command:
        if required:
            raise ConfigError("script: missing; usage: mpcrun -n N script.py [args...]")
        return None, []
    script, rest = args.command[0], list(args.command[1:])
    if script.startswith("-"):
        raise ConfigError(
            f"script: expected a script path, got option {script!r} (options go before the script)"
        )
    if not Path(script).is_file():
        raise ConfigError(f"script: no such file {script!r}")
    return script, rest


def _substitute(args: Sequence[str], pid: int | str) -> list[str]:
    return [a.replace("{pid}", str(pid)) for a in args]


def _options(args: argparse.Namespace) -> dict[str, object]:
    return {k: getattr(args, k) for k in _PASS_THROUGH}


def _run_local(args: argparse.Namespace, signals: StopSignals) -> int:
    if args.n < 2:
        raise ConfigError(f"-n: a session needs at least 2 parties, got {args.n}")
    if args.pid is not None or args.hosts is not None:
        raise ConfigError(
            "-n runs every party here on fresh loopback ports; to run one party of a multi-host "
            "session pass --pid I --hosts hosts.toml instead"
        )
    script, rest = _script(args)
    dealer = not args.no_dealer and args.preprocessing in (None, "dealer")
    session = local_session(args.n, dealer=dealer, encrypted=not args.insecure_plaintext)
    try:  # the session's folder holds secret keys: removed whatever happens (signals included)
        common = dict(_options(args), n=args.n, hosts=session.hosts)
        # fail here, once, rather than in N processes; the options as flags, so a bad one is named
        # as typed (--timeout), not as the MPC_* variable the children receive it in
        _check(from_env({}, common, child_env(pid=0)))
        log_dir = Path(args.log_dir) if args.log_dir else default_log_dir()
        common["log_dir"] = log_dir.resolve()
        processes = args.n + (1 if dealer else 0)  # all on this host: the cores are shared among them
        specs = [
            ProcSpec(
                f"party {i}",
                f"P{i}",
                [sys.executable, script, *_substitute(rest, i)],
                share_cores(child_env(pid=i, **common), processes),
                log_dir / f"party{i}.log",
            )
            for i in range(args.n)
        ]
        if dealer:
            specs.append(
                ProcSpec(
                    "dealer",
                    "D",
                    [sys.executable, "-m", "mpc", "dealer"],
                    share_cores(child_env(pid=DEALER, **common), processes),
                    log_dir / "dealer.log",
                    helper=True,
                )
            )
        mode = "plaintext" if args.insecure_plaintext else "CURVE-encrypted"
        print(
            f"mpcrun: {args.n} parties{' + dealer' if dealer else ''} on loopback ({mode}); "
            f"logs in {log_dir}",
            file=sys.stderr,
            flush=True,
        )
        sup = Supervisor(specs, grace=args.grace, signals=signals)
        status = sup.run()
        if args.stats or sup.stats:
            for line in stats_table(sup.stats, [s.name for s in specs if not s.helper]):
                print(line, flush=True)
        return status
    finally:
        session.cleanup()


def _run_emulated(args: argparse.Namespace) -> int:
    """``--emulate``: ONE process runs the script; its ``mpc.run`` starts every party as a thread
    on the cleartext engine (``MPC_EMULATE=N``, :func:`mpc.launch.run.run`). No dealer, no sockets."""
    if args.n is None or args.n < 2 or args.pid is not None or args.hosts is not None:
        raise ConfigError("--emulate: pass -n N (N >= 2) and no --pid/--hosts: every party runs in this process")
    if args.engine not in (None, "cleartext"):
        raise ConfigError(f"--emulate runs the cleartext engine; drop --engine {args.engine}")
    script, rest = _script(args)
    env = child_env(**dict(_options(args), emulate=args.n))
    stats: dict[str, dict] = {}
    with subprocess.Popen([sys.executable, script, *rest], env=env, stdout=subprocess.PIPE, text=True) as proc:
        for line in proc.stdout:  # the parties' stats lines go into the table, the rest through
            if line.startswith(STATS_PREFIX):
                record = json.loads(line[len(STATS_PREFIX) :])
                stats[f"party {record['pid']}"] = record
            else:
                print(line, end="", flush=True)
    if args.stats:
        for line in stats_table(stats, [f"party {i}" for i in range(args.n)]):
            print(line, flush=True)
    return status_of(proc.returncode)


def _check(cfg: SessionConfig) -> None:
    """What the launcher can refuse before starting anything (each process checks again): the
    engine, preprocessing and OT options named by a flag or an ``MPC_*`` variable (a script's own
    defaults are known only once it runs), and insecure local preprocessing."""
    from mpc.runtime.engines import check_engine  # the registry: imported only when launching
    from mpc.runtime.inout import check_preprocessing_spec, ot_options

    refuse_insecure_local(cfg)
    check_preprocessing_spec(cfg.preprocessing, check_engine(cfg.engine))
    ot_options(cfg.ot_batch, cfg.ot_matrix, cfg.ot_extension, cfg.ot_k)


def _run_one(args: argparse.Namespace, signals: StopSignals) -> int:
    hosts = Path(args.hosts).resolve() if args.hosts else None
    flags = dict(_options(args), pid=args.pid, n=args.n, hosts=hosts, log_dir=args.log_dir)
    cfg = from_env({}, flags, os.environ)  # validate before starting anything
    if not cfg.is_dealer:
        _check(cfg)
    log_dir = Path(args.log_dir) if args.log_dir else default_log_dir()
    env = child_env(**dict(flags, pid=cfg.pid, log_dir=log_dir.resolve()))
    if cfg.is_dealer:
        spec = ProcSpec("dealer", "D", [sys.executable, "-m", "mpc", "dealer"], env, log_dir / "dealer.log")
    else:
        script, rest = _script(args)
        spec = ProcSpec(
            f"party {cfg.pid}",
            f"P{cfg.pid}",
            [sys.executable, script, *_substitute(rest, cfg.pid)],
            env,
            log_dir / f"party{cfg.pid}.log",
        )
    sup = Supervisor([spec], grace=args.grace, show_tails=False, signals=signals)
    status = sup.run()
    if args.stats or sup.stats:
        for line in stats_table(sup.stats, [spec.name]):
            print(line, flush=True)
    return status


def stats_table(stats: dict[str, dict], names: Sequence[str]) -> list[str]:
    """The ``--stats`` table: traffic of each party after set-up (seed agreement excluded), and
    what it received from the dealer when it had a dealer link."""
    cols = ["bytes sent", "bytes received", "messages sent", "messages received", "rounds"]
    keys = ["bytes_sent", "bytes_received", "messages_sent", "messages_received", "rounds"]
    with_dealer = any("dealer" in stats.get(name, {}) for name in names)
    if with_dealer:
        cols.append("from dealer")
    rows = []
    for name in names:
        record = stats.get(name, {})
        total = record.get("total")
        if total is None:
            rows.append([name, *(["-"] * len(cols))])
            continue
        row = [name, *(f"{total[k]:,}" for k in keys)]
        if with_dealer:
            dealer = record.get("dealer")
            row.append(f"{dealer['bytes_received']:,}" if dealer else "-")
        rows.append(row)
    header = ["party", *cols]
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]

    def fmt(row: list[str]) -> str:
        cells = zip(row, widths, strict=True)
        return "  ".join(cell.ljust(w) if c == 0 else cell.rjust(w) for c, (cell, w) in enumerate(cells))

    lines = ["mpcrun: traffic per party (protocol only; set-up excluded)", fmt(header)]
    lines += [fmt(r) for r in rows]
    missing = [n for n in names if n not in stats]
    if missing:
        lines.append(
            f"mpcrun: no stats from {', '.join(missing)} (it failed, or the script does not call mpc.run)"
        )
    return lines
