"""from_env: build a SessionConfig from flags, MPC_* variables, torchrun variables and script defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping

from mpc._core import BACKENDS
from mpc.config.addresses import DEALER, endpoint, parse_address, positive_seconds, session_id
from mpc.config.hosts import curve_for, load_hosts
from mpc.config.session import (
    DEFAULT_TIMEOUT,
    MALLOC_MODES,
    OT_EXTENSIONS,
    OT_MATRIX_MODES,
    SHM_MODES,
    SessionConfig,
)
from mpc.errors import ConfigError

TORCH_DEFAULT_PORT = 29500

# --------------------------------------------------------------------------------------- from_env

_ENV = {
    "pid": "MPC_PID",
    "n": "MPC_N",
    "hosts": "MPC_HOSTS",
    "timeout": "MPC_TIMEOUT",
    "connect_timeout": "MPC_CONNECT_TIMEOUT",
    "spin_us": "MPC_SPIN_US",
    "malloc": "MPC_MALLOC",
    "shm": "MPC_SHM",
    "engine": "MPC_ENGINE",
    "preprocessing": "MPC_PREPROCESSING",
    "ot_batch": "MPC_OT_BATCH",
    "ot_matrix": "MPC_OT_MATRIX",
    "ot_extension": "MPC_OT_EXTENSION",
    "ot_k": "MPC_OT_K",
    "kernels": "MPC_KERNELS",
    "insecure_plaintext": "MPC_INSECURE_PLAINTEXT",
    "insecure_local_preprocessing": "MPC_INSECURE_LOCAL_PREPROCESSING",
    "stats": "MPC_STATS",
    "log_dir": "MPC_LOG_DIR",
}
_TORCH = {"pid": "RANK", "n": "WORLD_SIZE"}
SCRIPT_DEFAULTS = ("engine", "preprocessing", "ot_batch", "ot_matrix", "ot_extension", "ot_k", "kernels", "timeout", "connect_timeout", "spin_us", "malloc",
                   "stats", "log_dir")
"""What a script may set in ``mpc.run(main, ...)``. Not the pid, addresses, encryption or the
permission to use insecure local preprocessing: those belong to whoever launches the parties, so
a script cannot weaken them."""


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def is_launched(
    environ: Mapping[str, str] | None = None, argv_flags: Mapping[str, object] | None = None
) -> bool:
    """Whether a launcher told this process its party id (flag, ``MPC_PID`` or ``RANK``)."""
    env = os.environ if environ is None else environ
    return bool((argv_flags or {}).get("pid") is not None or env.get("MPC_PID") or env.get("RANK"))


def from_env(
    defaults: Mapping[str, object] | None = None,
    argv_flags: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
) -> SessionConfig:
    """Build the SessionConfig: flags > ``MPC_*`` > torchrun variables > script defaults."""
    defaults = dict(defaults or {})
    flags = {k: v for k, v in (argv_flags or {}).items() if v is not None}
    env = os.environ if environ is None else environ
    bad = sorted(set(defaults) - set(SCRIPT_DEFAULTS))
    if bad:
        raise ConfigError(
            f"mpc.run: unknown or launcher-only option {bad[0]!r}; a script may set "
            f"{', '.join(SCRIPT_DEFAULTS)}"
        )
    bad = sorted(set(flags) - set(_ENV))
    if bad:
        raise ConfigError(f"argv_flags: unknown option {bad[0]!r}")

    def pick(key: str) -> tuple[object, str | None]:
        if key in flags:
            return flags[key], _flag(key)
        name = _ENV[key]
        if env.get(name, "") != "":
            return env[name], name
        if key in _TORCH and env.get(_TORCH[key], "") != "":
            return env[_TORCH[key]], _TORCH[key]
        if key in defaults and defaults[key] is not None:
            return defaults[key], f"mpc.run({key}=...)"
        return None, None

    pid_raw, pid_src = pick("pid")
    if pid_raw is None:
        raise ConfigError("pid: not set; launch the parties with `mpcrun` (or set MPC_PID / RANK)")
    pid = _parse_pid(pid_raw, pid_src)
    n_raw, n_src = pick("n")
    n = None if n_raw is None else _parse_int(n_raw, n_src, minimum=2, what="the number of parties")
    hosts_raw, hosts_src = pick("hosts")
    insecure = _parse_bool(*pick("insecure_plaintext")) or False

    hosts = None
    dealer_endpoint = None
    curve = None
    bulk_port = None
    if hosts_raw is not None:
        hosts = load_hosts(str(hosts_raw))
        count = len(hosts.parties)
        if n is not None and n != count:
            raise ConfigError(f"{n_src}: {n} parties, but hosts file {hosts.path} lists {count}")
        n = count
        endpoints = [nd.endpoint for nd in hosts.parties]
        dealer_endpoint = hosts.dealer.endpoint if hosts.dealer else None
        session = hosts.session
        if pid == DEALER and hosts.dealer is None:
            raise ConfigError(f"{pid_src}: dealer, but hosts file {hosts.path} has no [dealer] table")
        if pid != DEALER and pid >= count:
            raise ConfigError(
                f"{pid_src}: party {pid} is not in hosts file {hosts.path}, which lists {count} "
                f"parties (pids 0..{count - 1})"
            )
        if not insecure:
            curve = curve_for(hosts, pid)
        if pid != DEALER:
            bulk_port = hosts.parties[pid].bulk_port
    elif env.get("MPC_ADDRS", ""):
        addrs = [a.strip() for a in env["MPC_ADDRS"].split(",") if a.strip()]
        endpoints = [endpoint(*parse_address(a, f"MPC_ADDRS[{i}]")) for i, a in enumerate(addrs)]
        if n is not None and n != len(endpoints):
            raise ConfigError(f"{n_src}: {n} parties, but MPC_ADDRS lists {len(endpoints)} addresses")
        n = len(endpoints)
        if env.get("MPC_DEALER_ADDR", ""):
            dealer_endpoint = endpoint(*parse_address(env["MPC_DEALER_ADDR"], "MPC_DEALER_ADDR"))
        session = session_id("addrs:" + ",".join(endpoints))
    elif env.get("MASTER_ADDR", ""):
        if n is None:
            raise ConfigError(
                "WORLD_SIZE: not set; with MASTER_ADDR the number of parties comes from "
                "WORLD_SIZE (or MPC_N / -n)"
            )
        master = env["MASTER_ADDR"].strip()
        base = _parse_int(
            env.get("MASTER_PORT") or TORCH_DEFAULT_PORT, "MASTER_PORT", minimum=1, what="a port"
        )
        if base + 2 * n > 65535:
            raise ConfigError(
                f"MASTER_PORT: {base} leaves no room for ports MASTER_PORT+1..MASTER_PORT+{2 * n}"
            )
        host, _ = parse_address(f"{master}:{base}", "MASTER_ADDR")
        endpoints = [endpoint(host, base + 1 + i) for i in range(n)]
        dealer_endpoint = endpoint(host, base + 1 + n)
        session = session_id(f"torchrun:{host}:{base}:{n}:{env.get('TORCHELASTIC_RUN_ID', '')}")
    else:
        raise ConfigError(
            "no party addresses: pass --hosts hosts.toml (or set MPC_HOSTS), MPC_ADDRS, "
            "or MASTER_ADDR/MASTER_PORT"
        )
    if pid != DEALER and pid >= n:
        raise ConfigError(f"{pid_src}: party {pid} is out of range for {n} parties (pids 0..{n - 1})")

    timeout_raw, timeout_src = pick("timeout")
    timeout = DEFAULT_TIMEOUT if timeout_raw is None else _parse_seconds(timeout_raw, timeout_src)
    ct_raw, ct_src = pick("connect_timeout")
    connect_timeout = None if ct_raw is None else _parse_seconds(ct_raw, ct_src)
    spin_raw, spin_src = pick("spin_us")
    spin_us = None if spin_raw is None else _parse_spin(spin_raw, spin_src)
    malloc = _parse_choice(*pick("malloc"), MALLOC_MODES)
    shm = _parse_choice(*pick("shm"), SHM_MODES)
    engine, _ = pick("engine")
    preprocessing, _ = pick("preprocessing")
    ot_batch_raw, ot_batch_src = pick("ot_batch")
    ot_batch = None if ot_batch_raw is None else _parse_count(ot_batch_raw, ot_batch_src, 64, "a number of elements")
    ot_matrix = _parse_choice(*pick("ot_matrix"), OT_MATRIX_MODES)
    ot_extension = _parse_choice(*pick("ot_extension"), OT_EXTENSIONS)
    ot_k_raw, ot_k_src = pick("ot_k")
    ot_k = None if ot_k_raw is None else _parse_count(ot_k_raw, ot_k_src, 1, "SoftSpoken bits per block")
    kernels_raw, kernels_src = pick("kernels")
    kernels = None
    if kernels_raw is not None:
        kernels = str(kernels_raw).lower()
        if kernels not in BACKENDS:
            raise ConfigError(f"{kernels_src}: expected one of {', '.join(BACKENDS)}, got {kernels_raw!r}")
    log_dir, _ = pick("log_dir")
    stats = _parse_bool(*pick("stats")) or False
    insecure_local = _parse_bool(*pick("insecure_local_preprocessing")) or False

    try:
        return SessionConfig(
            pid=pid,
            n=n,
            session=session,
            endpoints=tuple(endpoints),
            dealer_endpoint=dealer_endpoint,
            timeout=timeout,
            connect_timeout=connect_timeout,
            spin_us=spin_us,
            malloc=malloc,
            shm=shm,
            bulk_port=bulk_port,
            curve=curve,
            insecure_plaintext=insecure,
            insecure_local_preprocessing=insecure_local,
            engine=str(engine) if engine is not None else "semi2k",
            preprocessing=preprocessing if preprocessing is not None else "dealer",
            ot_batch=ot_batch,
            ot_matrix=ot_matrix,
            ot_extension=ot_extension,
            ot_k=ot_k,
            kernels=kernels,
            log_dir=None if log_dir is None else str(log_dir),
            stats=stats,
            hosts=None if hosts is None else str(hosts.path),
        )
    except ConfigError as exc:
        if hosts is not None and "CURVE keys" in str(exc):
            raise ConfigError(f"hosts file {hosts.path}: {exc}") from None
        raise


def _parse_pid(raw: object, src: str | None) -> int | str:
    if isinstance(raw, str) and raw.strip().lower() == DEALER:
        return DEALER
    return _parse_int(raw, src, minimum=0, what=f"a party id (or {DEALER!r})")


def _parse_int(raw: object, src: str | None, *, minimum: int, what: str) -> int:
    if isinstance(raw, bool):
        raise ConfigError(f"{src}: expected {what}, got {raw!r}")
    try:
        value = int(raw.strip()) if isinstance(raw, str) else int(raw)  # type: ignore[arg-type]
        if isinstance(raw, float) and raw != value:
            raise ValueError
    except (TypeError, ValueError):
        raise ConfigError(f"{src}: expected {what}, got {raw!r}") from None
    if value < minimum:
        qual = "at least 2 parties" if what == "the number of parties" else f"{what} >= {minimum}"
        raise ConfigError(f"{src}: expected {qual}, got {value}")
    return value


def _parse_seconds(raw: object, src: str | None) -> float:
    try:
        value = float(raw.strip()) if isinstance(raw, str) else raw
    except ValueError:
        raise ConfigError(f"{src}: expected a positive number of seconds, got {raw!r}") from None
    return positive_seconds(src or "timeout", value)


def _parse_choice(raw: object, src: str | None, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (case-insensitive); the first is the default when unset."""
    if raw is None:
        return choices[0]
    value = str(raw).strip().lower()
    if value not in choices:
        raise ConfigError(f"{src}: expected one of {', '.join(choices)}, got {raw!r}")
    return value


def _parse_spin(raw: object, src: str | None) -> float:
    try:
        value = float(raw.strip()) if isinstance(raw, str) else float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{src}: expected microseconds (a number >= 0), got {raw!r}") from None
    if not 0 <= value <= 1e6:
        raise ConfigError(f"{src}: expected microseconds in [0, 1e6], got {raw!r}")
    return value


def _parse_count(raw: object, src: str | None, least: int, what: str) -> int:
    """An integer >= ``least`` from a flag, an environment variable or a script default."""
    try:
        value = int(raw.strip()) if isinstance(raw, str) else int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"{src}: expected {what} (an integer >= {least}), got {raw!r}") from None
    if isinstance(raw, bool) or value < least:
        raise ConfigError(f"{src}: expected {what} (an integer >= {least}), got {raw!r}")
    return value


def _parse_bool(raw: object, src: str | None) -> bool | None:
    if raw is None or isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{src}: expected 1/0, true/false or yes/no, got {raw!r}")
