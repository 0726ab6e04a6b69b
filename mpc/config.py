"""Session configuration: who this process is, where the others listen, and with which keys.

A :class:`SessionConfig` is everything a process needs to join a run: its party id, the number
of parties, the session id, every party's endpoint (and the dealer's), the deadlines, the CURVE
keys, and the engine options. It is built in one place, :func:`from_env`, from four sources in
this order of precedence (first wins):

1. command-line flags of ``mpcrun`` (``argv_flags``: ``pid``, ``n``, ``hosts``, ``timeout``, ...);
2. ``MPC_*`` environment variables (``MPC_PID``, ``MPC_N``, ``MPC_HOSTS``, ``MPC_TIMEOUT``,
   ``MPC_CONNECT_TIMEOUT``, ``MPC_ENGINE``, ``MPC_PREPROCESSING``, ``MPC_KERNELS``,
   ``MPC_INSECURE_PLAINTEXT``, ``MPC_STATS``, ``MPC_LOG_DIR``, ``MPC_ADDRS``, ``MPC_DEALER_ADDR``);
   this is how ``mpcrun`` hands the configuration to the processes it starts;
3. the variables ``torchrun`` and cluster launchers set: ``RANK`` is the party id,
   ``WORLD_SIZE`` the number of parties, and when no hosts file or ``MPC_ADDRS`` is given every
   party listens on ``MASTER_ADDR`` at port ``MASTER_PORT + 1 + pid`` (``MASTER_PORT`` itself is
   left to torch's rendezvous store; default 29500) and the dealer at ``MASTER_PORT + 1 + n``
   (it listens on that port plus each party id, so ports up to ``MASTER_PORT + 2n`` are used).
   That rule suits one node; across nodes list the addresses in a hosts file (``MPC_HOSTS``) or
   in ``MPC_ADDRS`` (comma-separated ``host:port``, one per party in pid order);
4. the defaults the script passes to ``mpc.run(main, engine=..., ...)``.

Addresses come from a hosts file (see :func:`load_hosts`)::

    session = "salaries-2026"          # any string; hashed to the u64 session id
    [[party]]                           # one table per party, in pid order
    address = "10.0.0.1:5000"
    public_key = "..."                  # written by `mpcrun keygen hosts.toml`
    [dealer]                            # optional
    address = "10.0.0.9:5100"           # listens on 5100 + pid for each party
    public_key = "..."

Each party's CURVE secret key lives next to the hosts file in ``<stem>.party<i>.key`` (the
dealer's in ``<stem>.dealer.key``), mode 0600, so the hosts file itself can be copied to every
host while each secret key goes only to its own host.

Security policy (enforced by :class:`SessionConfig` itself, so no path around it): traffic is
encrypted and authenticated with CURVE whenever keys are configured; without keys, plaintext is
allowed only when every endpoint is a loopback address, or when the operator explicitly passes
``--insecure-plaintext`` / ``MPC_INSECURE_PLAINTEXT=1``. A script cannot turn encryption off.

Nothing here reads the environment or the disk at import time; :func:`from_env` reads the
mapping it is given (``os.environ`` by default) when called.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mpc._core import BACKENDS
from mpc.errors import ConfigError

__all__ = [
    "DEALER",
    "CurveConfig",
    "HostsFile",
    "Node",
    "SessionConfig",
    "from_env",
    "is_launched",
    "key_path",
    "load_hosts",
    "parse_address",
    "session_id",
]

DEALER = "dealer"
"""The party id of the dealer process (``MPC_PID=dealer``, ``mpcrun --pid dealer``)."""

DEFAULT_TIMEOUT = 60.0
TORCH_DEFAULT_PORT = 29500
_Z85 = re.compile(r"^[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}$")
_HOSTNAME = re.compile(
    r"^[A-Za-z0-9]([A-Za-z0-9\-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9\-]*[A-Za-z0-9])?)*$"
)


# --------------------------------------------------------------------------------------- types


@dataclass(frozen=True)
class CurveConfig:
    """CURVE keys of one process (Z85 text, 40 bytes each, as ``zmq.curve_keypair()`` gives them).

    ``parties[i]`` is party i's public key (this process's own included); ``dealer`` is the
    dealer's public key, or None when the session has no dealer. The secret never appears in
    ``repr`` so a config can be logged.
    """

    public: bytes
    secret: bytes = field(repr=False)
    parties: tuple[bytes, ...]
    dealer: bytes | None = None

    def peers(self) -> dict[int, bytes]:
        """Party id -> public key for every party (this one included)."""
        return dict(enumerate(self.parties))


@dataclass(frozen=True)
class SessionConfig:
    """Everything one process needs to join a session (see the module docstring).

    ``pid`` is an int in [0, n) for a computing party, or :data:`DEALER` for the dealer.
    Construction validates every field and the encryption policy, raising ConfigError.
    """

    pid: int | str
    n: int
    session: int
    endpoints: tuple[str, ...]
    dealer_endpoint: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    connect_timeout: float | None = None
    curve: CurveConfig | None = None
    insecure_plaintext: bool = False
    engine: str = "semi2k"
    preprocessing: object = "dealer"
    kernels: str | None = None
    log_dir: str | None = None
    stats: bool = False
    hosts: str | None = None  # the hosts file this came from, for messages and the dealer

    def __post_init__(self) -> None:
        object.__setattr__(self, "endpoints", tuple(self.endpoints))
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 2:
            raise ConfigError(f"n: a session needs at least 2 parties, got {self.n!r}")
        if self.pid != DEALER and (
            isinstance(self.pid, bool) or not isinstance(self.pid, int) or not 0 <= self.pid < self.n
        ):
            raise ConfigError(f"pid: expected a party id in [0, {self.n}) or {DEALER!r}, got {self.pid!r}")
        if (
            isinstance(self.session, bool)
            or not isinstance(self.session, int)
            or not 0 <= self.session < 2**64
        ):
            raise ConfigError("session: expected a 64-bit unsigned session id")
        if len(self.endpoints) != self.n:
            raise ConfigError(f"endpoints: expected one per party ({self.n}), got {len(self.endpoints)}")
        for i, ep in enumerate(self.endpoints):
            parse_address(ep, f"endpoints[{i}]")
        if self.dealer_endpoint is not None:
            parse_address(self.dealer_endpoint, "dealer_endpoint")
        if self.pid == DEALER and self.dealer_endpoint is None:
            raise ConfigError("pid: this process is the dealer but the session has no dealer address")
        _positive("timeout", self.timeout)
        if self.connect_timeout is not None:
            _positive("connect_timeout", self.connect_timeout)
        if self.kernels is not None and self.kernels not in BACKENDS:
            raise ConfigError(f"kernels: expected one of {', '.join(BACKENDS)}, got {self.kernels!r}")
        if not isinstance(self.engine, str) or not self.engine:
            raise ConfigError(f"engine: expected an engine name, got {self.engine!r}")
        if self.curve is not None:
            self._check_curve(self.curve)
        elif not self.insecure_plaintext:
            remote = [ep for ep in self.all_endpoints() if not is_loopback(parse_address(ep, "endpoint")[0])]
            if remote:
                raise ConfigError(
                    f"parties on different hosts need CURVE keys (non-loopback address {remote[0]}); "
                    "run `mpcrun keygen hosts.toml` or pass --insecure-plaintext"
                )

    def _check_curve(self, c: CurveConfig) -> None:
        for name, key in (("curve.public", c.public), ("curve.secret", c.secret)):
            _check_key(key, name)
        if len(c.parties) != self.n:
            raise ConfigError(
                f"curve.parties: expected a public key per party ({self.n}), got {len(c.parties)}"
            )
        for i, key in enumerate(c.parties):
            _check_key(key, f"curve.parties[{i}]")
        if self.dealer_endpoint is not None and c.dealer is None:
            raise ConfigError("curve.dealer: the session has a dealer but no dealer public key")
        own = c.dealer if self.pid == DEALER else c.parties[self.pid]
        if own != c.public:
            raise ConfigError(f"curve.public: does not match the public key listed for {self.who}")

    @property
    def is_dealer(self) -> bool:
        return self.pid == DEALER

    @property
    def who(self) -> str:
        """``"party 1"`` or ``"dealer"``: how messages name this process."""
        return DEALER if self.pid == DEALER else f"party {self.pid}"

    @property
    def encrypted(self) -> bool:
        return self.curve is not None

    def all_endpoints(self) -> list[str]:
        return [*self.endpoints, *([self.dealer_endpoint] if self.dealer_endpoint else [])]


@dataclass(frozen=True)
class Node:
    """One ``[[party]]`` or ``[dealer]`` table of a hosts file."""

    address: str  # "host:port" as written
    host: str
    port: int
    public_key: bytes | None
    line: int | None  # line of the table header, for messages

    @property
    def endpoint(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp://{host}:{self.port}"


@dataclass(frozen=True)
class HostsFile:
    """A parsed, validated hosts file."""

    path: Path
    session_name: str
    parties: tuple[Node, ...]
    dealer: Node | None

    @property
    def session(self) -> int:
        return session_id(self.session_name)

    def nodes(self) -> list[tuple[int | str, Node]]:
        return [*enumerate(self.parties), *([(DEALER, self.dealer)] if self.dealer else [])]

    def key_path(self, who: int | str) -> Path:
        return key_path(self.path, who)


# --------------------------------------------------------------------------------------- helpers


def session_id(name: str) -> int:
    """The u64 session id of a session name (SHA-256, so every host derives the same id)."""
    return int.from_bytes(hashlib.sha256(b"tessera-session\0" + name.encode()).digest()[:8], "little")


def key_path(hosts_path: str | os.PathLike, who: int | str) -> Path:
    """Where the secret key of party ``who`` (or the dealer) lives: next to the hosts file."""
    p = Path(hosts_path)
    suffix = "dealer" if who == DEALER else f"party{int(who)}"
    return p.with_name(f"{p.stem}.{suffix}.key")


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1; any other name counts as remote."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_address(text: object, where: str) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or ``tcp://...`` -> (host, port); ConfigError naming ``where``."""
    if not isinstance(text, str):
        raise ConfigError(f'{where}: expected an address string "host:port", got {type(text).__name__}')
    s = text.strip()
    if s.startswith("tcp://"):
        s = s[len("tcp://") :]
    elif "://" in s:
        raise ConfigError(f"{where}: only tcp:// addresses are supported, got {text!r}")
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d+)|([^:\[\]\s]+):(\d+)", s)
    if not m:
        raise ConfigError(f'{where}: malformed address {text!r}; expected "host:port" (IPv6 as "[::1]:port")')
    host, port_text = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ConfigError(f"{where}: port {port} in {text!r} is out of range (1..65535)")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if m.group(1) or not _HOSTNAME.match(host):
            raise ConfigError(f"{where}: malformed host {host!r} in {text!r}") from None
    return host, port


def _endpoint(host: str, port: int) -> str:
    return f"tcp://[{host}]:{port}" if ":" in host else f"tcp://{host}:{port}"


def _positive(name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigError(f"{name}: expected a positive number of seconds, got {value!r}")
    return float(value)


def _check_key(key: object, where: str) -> bytes:
    if isinstance(key, str):
        key = key.encode("ascii", "replace")
    if not isinstance(key, bytes) or not _Z85.match(key.decode("ascii", "replace")):
        raise ConfigError(f"{where}: expected a 40-character Z85 CURVE key (as `mpcrun keygen` writes)")
    return key


# --------------------------------------------------------------------------------------- hosts file


class _Lines:
    """Line numbers of the tables and keys of a TOML file, for error messages (tomllib has none)."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"']+)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")

    def __init__(self, text: str) -> None:
        self.tables: dict[str, list[int]] = {}  # table name -> header line of each occurrence
        self.keys: dict[tuple[str, int], dict[str, int]] = {}  # (table, occurrence) -> key -> line
        current: tuple[str, int] = ("", 0)
        for lineno, line in enumerate(text.splitlines(), start=1):
            h = self._HEADER.match(line)
            if h:
                name = h.group(2).strip("\"'")
                self.tables.setdefault(name, []).append(lineno)
                current = (name, len(self.tables[name]) - 1)
                continue
            k = self._KEY.match(line)
            if k:
                self.keys.setdefault(current, {}).setdefault(k.group(1), lineno)

    def table(self, name: str, index: int = 0) -> int | None:
        lines = self.tables.get(name, [])
        return lines[index] if index < len(lines) else None

    def key(self, table: str, index: int, key: str) -> int | None:
        return self.keys.get((table, index), {}).get(key) or self.table(table, index)


def load_hosts(path: str | os.PathLike) -> HostsFile:
    """Parse and validate a hosts file; every error names the file, the line and the key."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"hosts file {p}: not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"hosts file {p}: cannot read it ({exc.__class__.__name__}: {exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"hosts file {p}: not valid TOML: {exc}") from None
    lines = _Lines(text)

    def at(line: int | None) -> str:
        return f"hosts file {p}, line {line}" if line else f"hosts file {p}"

    unknown = sorted(set(data) - {"session", "party", "dealer"})
    if unknown:
        key = unknown[0]
        where = lines.key("", 0, key) or lines.table(key)
        raise ConfigError(f"{at(where)}: unknown key {key!r} (expected session, [[party]], [dealer])")
    session = data.get("session", None)
    if session is None:
        # every copy of the file lists the same addresses, so they agree on this default
        parties_raw = data.get("party", [])
        session = "addresses:" + ",".join(str(t.get("address")) for t in parties_raw if isinstance(t, dict))
    elif not isinstance(session, str) or not session:
        raise ConfigError(f"{at(lines.key('', 0, 'session'))}: session: expected a non-empty string")

    tables = data.get("party")
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"hosts file {p}: no [[party]] tables; list one per party, in pid order")
    if len(tables) < 2:
        raise ConfigError(f"{at(lines.table('party'))}: a session needs at least 2 [[party]] tables, got 1")

    def node(table: object, name: str, index: int, label: str, allowed: set[str]) -> Node:
        header = lines.table(name, index)
        if not isinstance(table, dict):
            raise ConfigError(f"{at(header)}: {label}: expected a table")
        for key in table:
            if key not in allowed:
                raise ConfigError(
                    f"{at(lines.key(name, index, key))}: {label}: unknown key {key!r} "
                    f"(expected {', '.join(sorted(allowed))})"
                )
        if "address" not in table:
            raise ConfigError(f"{at(header)}: {label}: missing key 'address' (\"host:port\")")
        host, port = parse_address(
            table["address"], f"{at(lines.key(name, index, 'address'))}: {label}: address"
        )
        key = table.get("public_key")
        if key is not None:
            try:
                key = _check_key(key, "public_key")
            except ConfigError:
                raise ConfigError(
                    f"{at(lines.key(name, index, 'public_key'))}: {label}: public_key is not a "
                    "40-character Z85 CURVE key; run `mpcrun keygen --force` to rewrite it"
                ) from None
        return Node(str(table["address"]).strip(), host, port, key, header)

    parties = []
    for i, table in enumerate(tables):
        nd = node(table, "party", i, f"party {i}", {"address", "public_key", "pid"})
        declared = table.get("pid", i)
        if isinstance(declared, bool) or not isinstance(declared, int) or declared != i:
            line = lines.key("party", i, "pid")
            raise ConfigError(
                f"{at(line)}: party {i}: pid = {declared!r}, but the [[party]] tables must be listed "
                f"in pid order (this is table {i}: pid {i}); remove or fix the pid keys"
            )
        parties.append(nd)
    dealer = None
    if "dealer" in data:
        dealer = node(data["dealer"], "dealer", 0, "dealer", {"address", "public_key"})

    seen: dict[tuple[str, int], str] = {}
    for who, nd in [
        *((f"party {i}", n) for i, n in enumerate(parties)),
        *((("dealer", dealer),) if dealer else ()),
    ]:
        k = (nd.host.lower(), nd.port)
        if k in seen:
            raise ConfigError(f"{at(nd.line)}: {who}: address {nd.address} is already used by {seen[k]}")
        seen[k] = who
    if dealer is not None:
        # the dealer listens on its port plus each party id (mpc.preprocessing.dealer_service)
        last = dealer.port + len(parties) - 1
        if last > 65535:
            raise ConfigError(
                f"{at(dealer.line)}: dealer: it listens on ports {dealer.port}..{last} (its port "
                "plus each party id), past 65535; pick a lower port"
            )
        for i, nd in enumerate(parties):
            if nd.host.lower() == dealer.host.lower() and dealer.port <= nd.port <= last:
                raise ConfigError(
                    f"{at(dealer.line)}: dealer: it listens on ports {dealer.port}..{last} (its port "
                    f"plus each party id), which includes party {i}'s address {nd.address}"
                )
    return HostsFile(p, session, tuple(parties), dealer)


def read_secret_key(path: Path, who: str) -> bytes:
    """Read a secret key side file; refuse files other users can read (like ssh does)."""
    try:
        st = path.stat()
        if os.name == "posix" and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"{who}: secret key file {path} is accessible by other users "
                f"(mode {stat.S_IMODE(st.st_mode):04o}); run `chmod 600 {path}`"
            )
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise ConfigError(
            f"{who}: secret key file {path} not found; `mpcrun keygen` writes it next to the "
            "hosts file (copy each party's key to that party's host only)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{who}: cannot read secret key file {path} ({exc.__class__.__name__})") from None
    if not _Z85.match(text):
        raise ConfigError(f"{who}: secret key file {path} does not hold a 40-character Z85 key")
    return text.encode()


def curve_for(hosts: HostsFile, pid: int | str) -> CurveConfig | None:
    """The CURVE keys of ``pid`` from a hosts file, or None when the file has no keys at all."""
    nodes = hosts.nodes()
    missing = [who for who, nd in nodes if nd.public_key is None]
    if len(missing) == len(nodes):
        return None
    if missing:
        names = ", ".join(DEALER if w == DEALER else f"party {w}" for w in missing)
        raise ConfigError(
            f"hosts file {hosts.path}: some entries have a public_key and some do not ({names} missing); "
            f"run `mpcrun keygen --force {hosts.path}` to give every party a key pair"
        )
    owners: dict[bytes, str] = {}
    for w, nd in nodes:
        name = DEALER if w == DEALER else f"party {w}"
        if nd.public_key in owners:
            raise ConfigError(
                f"hosts file {hosts.path}, line {nd.line}: {name} has the same public_key as {owners[nd.public_key]}; "
                f"every party needs its own key pair (run `mpcrun keygen --force {hosts.path}`)"
            )
        owners[nd.public_key] = name
    who = DEALER if pid == DEALER else f"party {pid}"
    own = hosts.dealer if pid == DEALER else hosts.parties[pid]
    secret = read_secret_key(hosts.key_path(pid), who)
    return CurveConfig(
        public=own.public_key,
        secret=secret,
        parties=tuple(nd.public_key for nd in hosts.parties),
        dealer=hosts.dealer.public_key if hosts.dealer else None,
    )


# --------------------------------------------------------------------------------------- from_env

_ENV = {
    "pid": "MPC_PID",
    "n": "MPC_N",
    "hosts": "MPC_HOSTS",
    "timeout": "MPC_TIMEOUT",
    "connect_timeout": "MPC_CONNECT_TIMEOUT",
    "engine": "MPC_ENGINE",
    "preprocessing": "MPC_PREPROCESSING",
    "kernels": "MPC_KERNELS",
    "insecure_plaintext": "MPC_INSECURE_PLAINTEXT",
    "stats": "MPC_STATS",
    "log_dir": "MPC_LOG_DIR",
}
_TORCH = {"pid": "RANK", "n": "WORLD_SIZE"}
SCRIPT_DEFAULTS = ("engine", "preprocessing", "kernels", "timeout", "connect_timeout", "stats", "log_dir")
"""What a script may set in ``mpc.run(main, ...)``. Not the pid, addresses or encryption: those
belong to whoever launches the parties, so a script cannot weaken them."""


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
    elif env.get("MPC_ADDRS", ""):
        addrs = [a.strip() for a in env["MPC_ADDRS"].split(",") if a.strip()]
        endpoints = [_endpoint(*parse_address(a, f"MPC_ADDRS[{i}]")) for i, a in enumerate(addrs)]
        if n is not None and n != len(endpoints):
            raise ConfigError(f"{n_src}: {n} parties, but MPC_ADDRS lists {len(endpoints)} addresses")
        n = len(endpoints)
        if env.get("MPC_DEALER_ADDR", ""):
            dealer_endpoint = _endpoint(*parse_address(env["MPC_DEALER_ADDR"], "MPC_DEALER_ADDR"))
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
        endpoints = [_endpoint(host, base + 1 + i) for i in range(n)]
        dealer_endpoint = _endpoint(host, base + 1 + n)
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
    engine, _ = pick("engine")
    preprocessing, _ = pick("preprocessing")
    kernels_raw, kernels_src = pick("kernels")
    kernels = None
    if kernels_raw is not None:
        kernels = str(kernels_raw).lower()
        if kernels not in BACKENDS:
            raise ConfigError(f"{kernels_src}: expected one of {', '.join(BACKENDS)}, got {kernels_raw!r}")
    log_dir, _ = pick("log_dir")
    stats = _parse_bool(*pick("stats")) or False

    try:
        return SessionConfig(
            pid=pid,
            n=n,
            session=session,
            endpoints=tuple(endpoints),
            dealer_endpoint=dealer_endpoint,
            timeout=timeout,
            connect_timeout=connect_timeout,
            curve=curve,
            insecure_plaintext=insecure,
            engine=str(engine) if engine is not None else "semi2k",
            preprocessing=preprocessing if preprocessing is not None else "dealer",
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
    return _positive(src or "timeout", value)


def _parse_bool(raw: object, src: str | None) -> bool | None:
    if raw is None or isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{src}: expected 1/0, true/false or yes/no, got {raw!r}")
