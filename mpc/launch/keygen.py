"""`mpcrun keygen hosts.toml`: CURVE key pairs for every party (and the dealer) of a hosts file.

Each public key is written into the hosts file (``public_key = "..."`` in the party's table),
each secret key into its own side file next to it, ``<stem>.party<i>.key`` /
``<stem>.dealer.key``, created with mode 0600. The hosts file then goes to every host and each
secret key only to its own host: a party can prove who it is and read only its own traffic.

The hosts file is edited line by line so the user's comments and layout survive; the result is
parsed again and compared with the intended keys, and only if that check fails is the file
rewritten in the canonical layout. Existing keys are never replaced without ``--force``, because
replacing them silently would lock out every host still holding the old files.

This module also writes the temporary hosts file of a local ``mpcrun -n N`` run
(:func:`write_hosts`): TOML is written by hand (no dependency), in the one simple layout that
:func:`mpc.config.load_hosts` reads.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import tomllib
from collections.abc import Sequence
from pathlib import Path

from mpc.config import DEALER, HostsFile, load_hosts
from mpc.config.toml_layout import Layout
from mpc.errors import ConfigError


def toml_string(s: str) -> str:
    """A TOML basic string (JSON escapes are valid TOML escapes when non-ASCII is left as is)."""
    return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007f")


def write_hosts(
    path: str | os.PathLike,
    session: str,
    addresses: Sequence[str],
    dealer: str | None = None,
) -> Path:
    """Write a hosts file listing ``addresses`` (one party each, in pid order) and the dealer."""
    out = [f"session = {toml_string(session)}", ""]
    for i, addr in enumerate(addresses):
        out += ["[[party]]", f"# party {i}", f"address = {toml_string(addr)}", ""]
    if dealer is not None:
        out += ["[dealer]", f"address = {toml_string(dealer)}", ""]
    p = Path(path)
    _atomic_write(p, "\n".join(out), mode=0o644)
    return p


def _atomic_write(path: Path, text: str, mode: int) -> None:
    """Write via a temporary file in the same directory and rename, so readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_secret(path: Path, secret: bytes) -> None:
    """Create ``path`` with mode 0600 (from the start: no window where others could read it)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # in case the file existed with a wider mode
        os.write(fd, secret + b"\n")
    finally:
        os.close(fd)


def _set_keys_by_lines(text: str, keys: dict[tuple[str, int], bytes]) -> str:
    """Put ``public_key = "..."`` into each (table, occurrence) of ``keys``, keeping everything else."""
    layout = Layout(text)
    lines = list(layout.lines)
    inserts: list[tuple[int, str]] = []
    for (table, index), key in keys.items():
        header = layout.table(table, index)
        if header is None:
            return text  # not a layout we can edit line-wise; the caller falls back
        entry = f"public_key = {toml_string(key.decode())}\n"
        line = layout.key(table, index, "public_key")
        if line is not None:
            lines[line] = layout.indent(line) + entry
        else:
            after = layout.key(table, index, "address")
            after = header if after is None else after
            inserts.append((after + 1, layout.indent(after) + entry))
    for i, entry in sorted(inserts, reverse=True):
        if i > 0 and not lines[i - 1].endswith("\n"):
            lines[i - 1] += "\n"
        lines.insert(i, entry)
    return "".join(lines)


def _canonical(hosts: HostsFile, keys: dict[tuple[str, int], bytes]) -> str:
    out = [f"session = {toml_string(hosts.session_name)}", ""]
    for i, nd in enumerate(hosts.parties):
        out += [
            "[[party]]",
            f"address = {toml_string(nd.address)}",
            f"public_key = {toml_string(keys[('party', i)].decode())}",
            "",
        ]
    if hosts.dealer is not None:
        out += [
            "[dealer]",
            f"address = {toml_string(hosts.dealer.address)}",
            f"public_key = {toml_string(keys[('dealer', 0)].decode())}",
            "",
        ]
    return "\n".join(out)


def _keys_match(text: str, keys: dict[tuple[str, int], bytes]) -> bool:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return False
    for (table, index), key in keys.items():
        entry = data.get("party", [])[index] if table == "party" else data.get("dealer", {})
        if not isinstance(entry, dict) or entry.get("public_key") != key.decode():
            return False
    return True


def generate_keys(hosts_path: str | os.PathLike, *, force: bool = False) -> list[Path]:
    """Give every party (and the dealer) of the hosts file a fresh CURVE key pair.

    Returns the secret key files written. Raises ConfigError when keys exist and not ``force``.
    """
    import zmq  # the launcher layer owns the ZeroMQ dependency; config stays free of it

    if not zmq.has("curve"):
        raise ConfigError(
            "keygen: this libzmq was built without CURVE support; install a pyzmq wheel with it"
        )
    hosts = load_hosts(hosts_path)
    if not force:
        for who, nd in hosts.nodes():
            name = DEALER if who == DEALER else f"party {who}"
            if nd.public_key is not None:
                raise ConfigError(
                    f"{hosts.path}, line {nd.line}: {name} already has a public_key; pass --force "
                    "to replace every key (each host then needs the new files)"
                )
            if hosts.key_path(who).exists():
                raise ConfigError(
                    f"{hosts.key_path(who)}: secret key file of {name} already exists; pass --force "
                    "to replace every key (each host then needs the new files)"
                )
    keys: dict[tuple[str, int], bytes] = {}
    written = []
    for who, _ in hosts.nodes():
        public, secret = zmq.curve_keypair()
        keys[("dealer", 0) if who == DEALER else ("party", who)] = public
        path = hosts.key_path(who)
        write_secret(path, secret)
        written.append(path)
    text = hosts.path.read_text(encoding="utf-8")
    new = _set_keys_by_lines(text, keys)
    if not _keys_match(new, keys):
        new = _canonical(hosts, keys)
    mode = hosts.path.stat().st_mode & 0o777
    _atomic_write(hosts.path, new, mode)
    load_hosts(hosts.path)  # the file we wrote must read back
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``mpcrun keygen hosts.toml [--force]``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="mpcrun keygen",
        description="Write a CURVE key pair for every party (and the dealer) of a hosts file: public keys "
        "into the file, secret keys into <stem>.party<i>.key side files (mode 0600).",
    )
    parser.add_argument("hosts", help="the hosts file (TOML) to give keys")
    parser.add_argument("--force", action="store_true", help="replace existing keys")
    args = parser.parse_args(argv)
    try:
        written = generate_keys(args.hosts, force=args.force)
    except ConfigError as exc:
        print(f"mpcrun keygen: {exc}", file=sys.stderr)
        return 2
    print(
        f"mpcrun keygen: wrote {len(written)} public keys into {args.hosts} and the secret keys (mode 0600):"
    )
    for path in written:
        print(f"  {path}")
    print("Copy the hosts file to every host, and each secret key file only to its own host.")
    return 0
