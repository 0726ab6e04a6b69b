"""``mpc.run(main, **defaults)``: the entry point of every protocol script.

A script is one program for all parties; the launcher (``mpcrun``, ``torchrun`` or a cluster
manager) starts it once per party and tells each process who it is through flags and
environment variables. ``run`` turns those into a :class:`~mpc.config.SessionConfig`
(:func:`mpc.config.from_env`), opens the ZeroMQ channel, builds the
:class:`~mpc.runtime.Party`, calls ``main(party)`` and closes everything.

Failure reporting is part of the contract with ``mpcrun`` (:func:`report_failure`, for the
parties and the dealer process alike):

- an expected error (any :class:`~mpc.errors.MPCError`: a ``ConfigError`` or
  ``ShareTypeError`` from the user's own call, a ``PeerTimeout``...) prints one line
  ``party <pid>: <ExcType>: <message>`` to stderr: the message names what went wrong. Its
  traceback goes to the process's log only, as ``MPC-LOG`` lines that ``mpcrun`` writes to the
  log without echoing them (without ``mpcrun`` they appear on stderr with that prefix);
- ZeroMQ refusing an address is reported the same way;
- anything else is a bug: full traceback, then the same one-line summary;
- the exit status tells the launcher what kind of failure it was (see :data:`EXIT_CODES`):
  a ``PeerTimeout`` (3) is usually the *consequence* of another party's failure.

``preprocessing="local"`` (every party derives every share from a seed all parties know: no
security at all) is refused here, since the processes ``mpc.run`` starts are separate parties,
unless the launcher passed ``--insecure-local-preprocessing``
(``MPC_INSECURE_LOCAL_PREPROCESSING=1``); a script cannot allow it. ``mpc.testing.run_local``
(threads of one process) keeps it as its default.

With stats enabled (``mpcrun --stats``, ``MPC_STATS=1``) one line ``MPC-STATS <json>`` goes to
stdout at exit; ``mpcrun`` collects these into its table.

SIGTERM (how ``mpcrun`` stops the survivors of a failed run) keeps its default action on
purpose: a Python handler runs only when the main thread next executes bytecode, and when the
signal lands on a helper thread (ZeroMQ's authenticator) a blocking receive would delay it until
the deadline. The sockets die with the process either way.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from mpc.config import DEALER, SessionConfig, from_env, is_launched, key_path
from mpc.config.session import DEFAULT_TIMEOUT
from mpc.errors import CheatingDetected, ConfigError, MPCError, PeerTimeout
from mpc.launch.allocator import tune_allocator

STATS_PREFIX = "MPC-STATS "
LOG_PREFIX = "MPC-LOG "  # a line for the process's log only (mpc.launch.local.Supervisor)
EXIT_CODES = {
    "ok": 0,
    "error": 1,
    "config": 2,
    "peer_timeout": 3,
    "cheating": 4,  # CheatingDetected: only the spdz2k engine checks MACs and raises it
    "bug": 1,
    "interrupted": 130,
    "terminated": 143,  # SIGTERM's default action, as the shell reports it
}


def run(main: Callable[..., Any], **defaults: Any) -> None:
    """Run ``main(party)`` as the party this process was launched as; see the module docstring.

    ``defaults`` (``engine``, ``preprocessing``, ``kernels``, ``timeout``, ``connect_timeout``,
    ``stats``, ``log_dir``) apply unless the launcher's flags or ``MPC_*`` variables say
    otherwise. Exits the process with a non-zero status on failure; returns normally on success.
    """
    script = sys.argv[0] if sys.argv and sys.argv[0] else "script.py"
    if os.environ.get("MPC_EMULATE"):  # mpcrun --emulate: every party here, as threads
        code = run_emulated(main, defaults, sys.argv[1:])
        if code:
            raise SystemExit(code)
        return
    if not is_launched():
        print(
            f"{script}: this is a multi-party program: launch this script with `mpcrun -n N {script} ...` "
            f"(all parties on this machine) or `mpcrun --pid I --hosts hosts.toml {script} ...` "
            "(one per host)",
            file=sys.stderr,
        )
        raise SystemExit(EXIT_CODES["config"])
    try:
        cfg = from_env(defaults)
    except ConfigError as exc:
        print(f"party ?: ConfigError: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_CODES["config"]) from None
    if cfg.is_dealer:
        print(
            f"dealer: ConfigError: {script} is a party program; start the dealer with `python -m mpc dealer`",
            file=sys.stderr,
        )
        raise SystemExit(EXIT_CODES["config"])
    code = run_party(main, cfg, sys.argv[1:])
    if code:
        raise SystemExit(code)


def run_emulated(main: Callable[..., Any], defaults: dict[str, Any], argv: Sequence[str]) -> int:
    """``mpcrun --emulate -n N``: ``main`` for every party as a thread of this process on the
    cleartext debug engine (:mod:`mpc.engines.cleartext`; ``{pid}`` in ``argv`` replaced per
    party); the parties' stats lines when stats are on. Returns the exit status."""
    from mpc.runtime.threads import run_parties

    n = int(os.environ["MPC_EMULATE"])
    stats = os.environ.get("MPC_STATS", "") == "1" or bool(defaults.get("stats"))
    timeout = float(os.environ.get("MPC_TIMEOUT") or defaults.get("timeout") or DEFAULT_TIMEOUT)

    def party_main(party: Any) -> dict:
        main(party)
        return party.stats()

    try:
        results = run_parties(party_main, n, timeout=timeout, engine="cleartext", preprocessing="local",
                              kernels=os.environ.get("MPC_KERNELS") or defaults.get("kernels"), argv=list(argv))
    except MPCError as exc:
        print(f"emulation: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return exit_code(exc)
    except Exception as exc:
        traceback.print_exc()
        print(f"emulation: {type(exc).__name__}: {exc} (unexpected error: traceback above)", file=sys.stderr)
        return EXIT_CODES["bug"]
    if stats:
        for pid, record in enumerate(results):
            print(STATS_PREFIX + json.dumps({"pid": pid, "n": n, "engine": "cleartext", **record}, sort_keys=True),
                  flush=True)
    return EXIT_CODES["ok"]


def refuse_insecure_local(cfg: SessionConfig) -> None:
    """``preprocessing="local"`` across processes only when the launcher allowed it (module docstring)."""
    if cfg.preprocessing == "local" and not cfg.insecure_local_preprocessing:
        raise ConfigError(
            "preprocessing: 'local' is insecure (every party can compute every other party's shares) and "
            "meant for parties that are threads of one process (mpc.testing.run_local); these parties are "
            "separate processes: use preprocessing='dealer', or launch with --insecure-local-preprocessing "
            "(MPC_INSECURE_LOCAL_PREPROCESSING=1) for a test run that needs no security"
        )


def report_failure(who: str, exc: BaseException, err: TextIO) -> int:
    """Report ``exc`` as the module docstring says (``who``: ``party 1`` or ``dealer``); the exit status."""
    expected = isinstance(exc, MPCError) or _is_zmq_error(exc)
    if expected:
        for line in traceback.format_exception(exc):
            for part in line.rstrip("\n").split("\n"):
                print(LOG_PREFIX + part, file=err)
        print(f"{who}: {type(exc).__name__}: {exc}", file=err, flush=True)
        return exit_code(exc)
    traceback.print_exception(exc, file=err)
    print(f"{who}: {type(exc).__name__}: {exc} (unexpected error: traceback above)", file=err, flush=True)
    return EXIT_CODES["bug"]


def exit_code(exc: BaseException) -> int:
    if isinstance(exc, ConfigError):
        return EXIT_CODES["config"]
    if isinstance(exc, PeerTimeout):
        return EXIT_CODES["peer_timeout"]
    if isinstance(exc, CheatingDetected):
        return EXIT_CODES["cheating"]
    return EXIT_CODES["error"]


def check_curve_keys(cfg: SessionConfig) -> None:
    """Refuse a secret key that does not belong to the public key the hosts file lists for us."""
    import zmq

    if cfg.curve is None:
        return
    try:
        derived = zmq.curve_public(cfg.curve.secret)
    except zmq.ZMQError:
        derived = None
    if derived != cfg.curve.public:
        where = key_path(cfg.hosts, cfg.pid) if cfg.hosts else "the configured secret key"
        raise ConfigError(
            f"{cfg.who}: the secret key in {where} does not match the public key listed for "
            f"{cfg.who}; run `mpcrun keygen --force` again and copy the new files"
        )


def open_channel(cfg: SessionConfig):
    """The ZeroMQ channel of a party; ZeroMQ's own errors become ConfigError naming the address."""
    import zmq

    from mpc.net.zmq_channel import CurveKeys, ZmqChannel

    check_curve_keys(cfg)
    curve = None
    if cfg.curve is not None:
        peers = {p: key for p, key in cfg.curve.peers().items() if p != cfg.pid}
        curve = CurveKeys(public=cfg.curve.public, secret=cfg.curve.secret, peers=peers)
    try:
        return ZmqChannel(
            cfg.pid,
            cfg.n,
            cfg.session,
            list(cfg.endpoints),
            timeout=cfg.timeout,
            connect_timeout=cfg.connect_timeout,
            curve=curve,
            **({} if cfg.spin_us is None else {"spin_us": cfg.spin_us}),
            shm=cfg.use_shm,
            shm_sealed=cfg.shm_sealed,
            bulk_port=cfg.bulk_port,
        )
    except zmq.ZMQError as exc:  # the channel words the errors it expects (a port in use...)
        raise ConfigError(
            f"{cfg.who}: cannot set up the channel (own address {cfg.endpoints[cfg.pid]}): {exc.strerror}"
        ) from None


def open_dealer_link(cfg: SessionConfig):
    """This party's link to the dealer process when the preprocessing is "dealer" and the session
    has one; None otherwise (the Party then reports a missing dealer when material is needed)."""
    import zmq

    if cfg.preprocessing != "dealer" or cfg.dealer_endpoint is None:
        return None
    from mpc.preprocessing.dealer_service import party_link

    try:
        return party_link(cfg)
    except zmq.ZMQError as exc:
        raise ConfigError(
            f"{cfg.who}: cannot connect to the dealer at {cfg.dealer_endpoint}: {exc.strerror}"
        ) from None


def run_party(
    main: Callable[..., Any],
    cfg: SessionConfig,
    argv: Sequence[str],
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Connect, build the Party, run ``main(party)``, close; return the exit status."""
    from mpc.runtime.party import ENGINES, Party

    out = sys.stdout if stdout is None else stdout
    err = sys.stderr if stderr is None else stderr
    who = DEALER if cfg.is_dealer else f"party {cfg.pid}"
    channel = None
    dealer = None
    party = None

    try:
        if cfg.engine not in ENGINES:  # before connecting: every party would fail the same way
            raise ConfigError(f"engine: expected one of {', '.join(ENGINES)}, got {cfg.engine!r}")
        refuse_insecure_local(cfg)
        tune_allocator(cfg.malloc)  # this process is one party's: reuse its large buffers
        channel = open_channel(cfg)
        dealer = open_dealer_link(cfg)
        party = Party(
            channel,
            argv=list(argv),
            engine=cfg.engine,
            preprocessing=cfg.preprocessing,
            kernels=cfg.kernels,
            dealer=dealer,
            ot_batch=cfg.ot_batch,
            ot_matrix=cfg.ot_matrix,
            ot_extension=cfg.ot_extension,
            ot_k=cfg.ot_k,
        )
        main(party)
        party.finish()  # the engine's closing checks (spdz2k: the final MAC check)
        return EXIT_CODES["ok"]
    except KeyboardInterrupt:
        print(f"{who}: interrupted", file=err, flush=True)
        return EXIT_CODES["interrupted"]
    except SystemExit:
        raise
    except Exception as exc:
        return report_failure(who, exc, err)
    finally:
        if party is not None and cfg.stats:
            with contextlib.suppress(Exception):
                _print_stats(cfg, party.stats(), out)
        if party is not None:  # closes the preprocessing (and its dealer link) and the channel
            with contextlib.suppress(Exception):
                party.close()
        for link in (dealer, channel):
            if link is not None:
                with contextlib.suppress(Exception):
                    link.close()


def _is_zmq_error(exc: BaseException) -> bool:
    zmq = sys.modules.get("zmq")
    return zmq is not None and isinstance(exc, zmq.ZMQError)


def _print_stats(cfg: SessionConfig, stats: dict, out: TextIO) -> None:
    record = {"pid": cfg.pid, "n": cfg.n, "engine": cfg.engine, **stats}
    print(STATS_PREFIX + json.dumps(record, sort_keys=True), file=out, flush=True)
