"""Project rules that a reviewer would otherwise have to remember (DESIGN.md section 3)."""

import ast
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOURCES = sorted(p for p in (ROOT / "mpc").rglob("*.py") if p.name != "_ref.py")


def _calls_and_imports(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        yield path, node


def test_no_insecure_randomness_pickle_or_assert_in_mpc():
    problems = []
    for path in SOURCES:
        for _, node in _calls_and_imports(path):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Import) and any(a.name in ("random", "pickle") for a in node.names):
                problems.append(f"{where}: imports random/pickle")
            if isinstance(node, ast.ImportFrom) and node.module in ("random", "pickle", "numpy.random"):
                problems.append(f"{where}: imports from {node.module}")
            if isinstance(node, ast.Attribute) and node.attr == "random" and getattr(node.value, "id", "") in ("np", "numpy"):
                problems.append(f"{where}: numpy.random")
            if isinstance(node, ast.Attribute) and node.attr in ("Generator", "rand", "randn", "randint") and getattr(
                node.value, "id", ""
            ) == "torch":
                problems.append(f"{where}: torch randomness")
            if isinstance(node, ast.Assert):
                problems.append(f"{where}: assert used for validation")
    assert problems == []


def test_import_has_no_side_effects():
    code = (
        "import sys, threading; sys.argv = ['x', '--bogus']; import mpc, mpc.testing, mpc.runtime; "
        "import mpc.net.local; assert threading.active_count() == 1, threading.enumerate(); print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
