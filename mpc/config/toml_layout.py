"""Where the tables and keys of a hosts file are, line by line (``tomllib`` gives values only).

Two readers need positions: :func:`mpc.config.load_hosts` names the line of every error, and
``mpcrun keygen`` (:mod:`mpc.launch.keygen`) edits ``public_key`` lines in place so the user's
comments and layout survive. Both use this one scanner. It knows the simple layout hosts files
use: ``[table]`` and ``[[array]]`` headers and ``key = value`` lines; anything else is skipped
(``tomllib`` still parses and validates the file; this only locates things).
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"']+)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^(\s*)([A-Za-z0-9_\-]+)\s*=")

ROOT = ("", 0)
"""The (table, occurrence) of keys above the first header."""


class Layout:
    """Line indexes (0-based) of the headers and keys of a TOML text.

    ``tables[name]`` lists the header line of each occurrence of ``[name]`` / ``[[name]]``;
    ``keys[(name, occurrence)][key]`` is the first line that sets ``key`` in that table.
    """

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines(keepends=True)
        self.tables: dict[str, list[int]] = {}
        self.keys: dict[tuple[str, int], dict[str, int]] = {}
        current = ROOT
        for i, line in enumerate(self.lines):
            header = _HEADER.match(line)
            if header:
                name = header.group(2).strip("\"'")
                self.tables.setdefault(name, []).append(i)
                current = (name, len(self.tables[name]) - 1)
                continue
            key = _KEY.match(line)
            if key:
                self.keys.setdefault(current, {}).setdefault(key.group(2), i)

    def table(self, name: str, index: int = 0) -> int | None:
        """The header line of occurrence ``index`` of table ``name``, or None."""
        found = self.tables.get(name, [])
        return found[index] if index < len(found) else None

    def key(self, table: str, index: int, key: str) -> int | None:
        """The line setting ``key`` in occurrence ``index`` of ``table``, or None."""
        return self.keys.get((table, index), {}).get(key)

    def indent(self, line: int) -> str:
        """The indentation of a key line (empty for any other line)."""
        key = _KEY.match(self.lines[line])
        return key.group(1) if key else ""
