"""Shared helpers of the examples tests: load an examples/ script as a module, read its run line."""

from __future__ import annotations

import importlib.util
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def example(name):
    """examples/<name>.py imported as a module (its ``main`` not run); examples/ goes on sys.path,
    as for a script run from it, so that an example can import another."""
    if str(EXAMPLES) not in sys.path:
        sys.path.append(str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_line(name):
    """The `mpcrun ...` line of an example's docstring, as an argv."""
    lines = [ln.strip() for ln in example(name).__doc__.splitlines() if ln.strip().startswith("mpcrun ")]
    return lines[0].split()
