"""The hosts file (``hosts.toml``): parties' and the dealer's addresses and public keys."""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path

from mpc.config.addresses import DEALER, Z85, check_key, key_path, parse_address, session_id
from mpc.config.session import CurveConfig
from mpc.config.toml_layout import Layout
from mpc.errors import ConfigError


@dataclass(frozen=True)
class Node:
    """One ``[[party]]`` or ``[dealer]`` table of a hosts file."""

    address: str  # "host:port" as written
    host: str
    port: int
    public_key: bytes | None
    line: int | None  # line of the table header, for messages
    bulk_port: int | None = None  # [[party]] only: where its encrypted bulk links listen (None: any free port)

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


# --------------------------------------------------------------------------------------- hosts file


class _Lines:
    """1-based line numbers of the tables and keys of a hosts file, for error messages."""

    def __init__(self, text: str) -> None:
        self._layout = Layout(text)

    def table(self, name: str, index: int = 0) -> int | None:
        line = self._layout.table(name, index)
        return None if line is None else line + 1

    def key(self, table: str, index: int, key: str) -> int | None:
        line = self._layout.key(table, index, key)
        return line + 1 if line is not None else self.table(table, index)


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
                key = check_key(key, "public_key")
            except ConfigError:
                raise ConfigError(
                    f"{at(lines.key(name, index, 'public_key'))}: {label}: public_key is not a "
                    "40-character Z85 CURVE key; run `mpcrun keygen --force` to rewrite it"
                ) from None
        bulk_port = table.get("bulk_port")
        if bulk_port is not None and (
            isinstance(bulk_port, bool) or not isinstance(bulk_port, int) or not 1 <= bulk_port <= 65535
        ):
            raise ConfigError(
                f"{at(lines.key(name, index, 'bulk_port'))}: {label}: bulk_port: expected a port number "
                f"(1..65535), got {bulk_port!r}"
            )
        return Node(str(table["address"]).strip(), host, port, key, header, bulk_port)

    parties = []
    for i, table in enumerate(tables):
        nd = node(table, "party", i, f"party {i}", {"address", "public_key", "pid", "bulk_port"})
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
    for who, nd, port, what in [
        *((f"party {i}", n, n.port, f"address {n.address}") for i, n in enumerate(parties)),
        *((("dealer", dealer, dealer.port, f"address {dealer.address}"),) if dealer else ()),
        *((f"party {i}", n, n.bulk_port, f"bulk_port {n.bulk_port} (on {n.host})")
          for i, n in enumerate(parties) if n.bulk_port is not None),
    ]:
        k = (nd.host.lower(), port)
        if k in seen:
            raise ConfigError(f"{at(nd.line)}: {who}: {what} is already used by {seen[k]}")
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
            for what, port in (("address", nd.port), ("bulk_port", nd.bulk_port)):
                if nd.host.lower() == dealer.host.lower() and port is not None and dealer.port <= port <= last:
                    raise ConfigError(
                        f"{at(dealer.line)}: dealer: it listens on ports {dealer.port}..{last} (its port "
                        f"plus each party id), which includes party {i}'s {what} {nd.host}:{port}"
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
    if not Z85.match(text):
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


