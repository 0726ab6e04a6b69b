"""``mpcrun keygen``: CURVE key pairs for the parties (and the dealer) of a hosts file.

Per host (recommended): ``mpcrun keygen --pid I hosts.toml`` on party I's own host (``--pid
dealer`` on the dealer's) writes that party's secret key, and nothing else, into
``<stem>.party<I>.key`` (``<stem>.dealer.key``) next to the hosts file, and prints its public
key as the line ``public_key = "..."`` for that party's table of the hosts file. Whoever
assembles the hosts file collects these lines and sends the file to every host; no secret key
ever leaves the host that made it.

All at once (:func:`generate_keys`): ``mpcrun keygen hosts.toml`` makes every party's key pair
on this machine, writes the public keys into the hosts file and each secret key into its side
file. Whoever runs it holds every secret key and could impersonate every party: this mode is for
one trusted operator who runs (or hands out the keys of) every party, e.g. one team's machines.

Every secret key file is created with ``O_CREAT | O_EXCL | O_NOFOLLOW`` and mode 0600: it never
replaces an existing file or follows a link planted in its place, and no other user can read
it at any moment. Existing keys are replaced only with ``--force`` (the old file is removed
first), because replacing them silently would lock out every host still holding the old files.

The hosts file is edited line by line so the user's comments and layout survive; the result is
parsed again and compared with the intended keys, and only if that check fails is the file
rewritten in the canonical layout.

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


def write_secret(path: Path, secret: bytes, *, replace: bool = False) -> None:
    """Create ``path`` holding ``secret``, mode 0600 from the start (see the module docstring).

    ConfigError if the file (or a link) is already there, unless ``replace``: then the old entry
    is removed first (a link itself, never its target) and the new file is still created
    exclusively."""
    if replace:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        raise ConfigError(
            f"{path}: already exists; a secret key file is never overwritten (pass --force to replace "
            "it: every host then needs the new public key)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot create the secret key file ({exc.strerror})") from None
    try:
        os.fchmod(fd, 0o600)  # exactly 0600, whatever the umask
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
            *([f"bulk_port = {nd.bulk_port}"] if nd.bulk_port is not None else []),
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


def _curve_keypair() -> tuple[bytes, bytes]:
    import zmq  # the launcher layer owns the ZeroMQ dependency; config stays free of it

    if not zmq.has("curve"):
        raise ConfigError(
            "keygen: this libzmq was built without CURVE support; install a pyzmq wheel with it"
        )
    return zmq.curve_keypair()


def _name(who: int | str) -> str:
    return DEALER if who == DEALER else f"party {who}"


def generate_keys(hosts_path: str | os.PathLike, *, force: bool = False) -> list[Path]:
    """Give every party (and the dealer) of the hosts file a fresh CURVE key pair (one trusted
    operator: see the module docstring).

    Returns the secret key files written. Raises ConfigError when keys exist and not ``force``.
    """
    hosts = load_hosts(hosts_path)
    if not force:
        for who, nd in hosts.nodes():
            if nd.public_key is not None:
                raise ConfigError(
                    f"{hosts.path}, line {nd.line}: {_name(who)} already has a public_key; pass --force "
                    "to replace every key (each host then needs the new files)"
                )
            if os.path.lexists(hosts.key_path(who)):
                raise ConfigError(
                    f"{hosts.key_path(who)}: secret key file of {_name(who)} already exists; pass --force "
                    "to replace every key (each host then needs the new files)"
                )
    keys: dict[tuple[str, int], bytes] = {}
    written = []
    for who, _ in hosts.nodes():
        public, secret = _curve_keypair()
        keys[("dealer", 0) if who == DEALER else ("party", who)] = public
        path = hosts.key_path(who)
        write_secret(path, secret, replace=force)
        written.append(path)
    text = hosts.path.read_text(encoding="utf-8")
    new = _set_keys_by_lines(text, keys)
    if not _keys_match(new, keys):
        new = _canonical(hosts, keys)
    mode = hosts.path.stat().st_mode & 0o777
    _atomic_write(hosts.path, new, mode)
    load_hosts(hosts.path)  # the file we wrote must read back
    return written


def generate_key(hosts_path: str | os.PathLike, who: int | str, *, force: bool = False) -> tuple[Path, bytes]:
    """Per-host key generation: a fresh key pair for party ``who`` (or the dealer) only.

    Writes the secret key file and returns (its path, the public key); the hosts file is left
    as it is (each host has its own copy until the collected public keys are sent round)."""
    hosts = load_hosts(hosts_path)
    if who == DEALER:
        if hosts.dealer is None:
            raise ConfigError(f"--pid: dealer, but hosts file {hosts.path} has no [dealer] table")
    elif not 0 <= who < len(hosts.parties):
        raise ConfigError(
            f"--pid: party {who} is not in hosts file {hosts.path}, which lists {len(hosts.parties)} "
            f"parties (pids 0..{len(hosts.parties) - 1})"
        )
    public, secret = _curve_keypair()
    path = hosts.key_path(who)
    write_secret(path, secret, replace=force)
    return path, public


def _parse_pid(text: str) -> int | str:
    if text.strip().lower() == DEALER:
        return DEALER
    try:
        pid = int(text)
    except ValueError:
        raise ConfigError(f"--pid: expected a party id or 'dealer', got {text!r}") from None
    if pid < 0:
        raise ConfigError(f"--pid: expected a party id >= 0, got {pid}")
    return pid


def main(argv: Sequence[str] | None = None) -> int:
    """``mpcrun keygen [--pid I] hosts.toml [--force]``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="mpcrun keygen",
        description="CURVE keys for a hosts file. With --pid I (run on party I's own host): write only "
        "that party's secret key, next to the hosts file (mode 0600), and print its public_key line for "
        "the hosts file. Without --pid: every party's key pair on this machine (one trusted operator "
        "only: whoever runs it holds every secret key); public keys go into the hosts file.",
    )
    parser.add_argument("hosts", help="the hosts file (TOML)")
    parser.add_argument("--pid", help="make only this party's key pair (an id, or 'dealer')")
    parser.add_argument("--force", action="store_true", help="replace existing keys")
    args = parser.parse_args(argv)
    try:
        if args.pid is not None:
            who = _parse_pid(args.pid)
            path, public = generate_key(args.hosts, who, force=args.force)
        else:
            written = generate_keys(args.hosts, force=args.force)
    except ConfigError as exc:
        print(f"mpcrun keygen: {exc}", file=sys.stderr)
        return 2
    if args.pid is not None:
        table = "[dealer]" if who == DEALER else f"[[party]] table number {who + 1} (party {who})"
        print(
            f"mpcrun keygen: wrote the secret key of {_name(who)} to {path} (mode 0600); keep it on this "
            f"host only.\nPut this line in the {table} of {args.hosts}, replacing any public_key there, "
            "and give every host that hosts file:",
            file=sys.stderr,
        )
        print(f"public_key = {toml_string(public.decode())}")
        return 0
    print(
        f"mpcrun keygen: wrote {len(written)} public keys into {args.hosts} and the secret keys (mode 0600):"
    )
    for path in written:
        print(f"  {path}")
    print("Copy the hosts file to every host, and each secret key file only to its own host.")
    return 0
