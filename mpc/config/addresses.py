"""Addresses, keys and session ids: parsing and checks shared by the hosts file and the environment."""

from __future__ import annotations

import hashlib
import ipaddress
import math
import os
import re
from pathlib import Path

from mpc.errors import ConfigError

DEALER = "dealer"
"""The party id of the dealer process (``MPC_PID=dealer``, ``mpcrun --pid dealer``)."""


Z85 = re.compile(r"^[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}$")
_HOSTNAME = re.compile(
    r"^[A-Za-z0-9]([A-Za-z0-9\-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9\-]*[A-Za-z0-9])?)*$"
)


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


def endpoint(host: str, port: int) -> str:
    return f"tcp://[{host}]:{port}" if ":" in host else f"tcp://{host}:{port}"


def positive_seconds(name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigError(f"{name}: expected a positive number of seconds, got {value!r}")
    return float(value)


def check_key(key: object, where: str) -> bytes:
    if isinstance(key, str):
        key = key.encode("ascii", "replace")
    if not isinstance(key, bytes) or not Z85.match(key.decode("ascii", "replace")):
        raise ConfigError(f"{where}: expected a 40-character Z85 CURVE key (as `mpcrun keygen` writes)")
    return key


