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


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports_of(path, modules):
    """The mpc modules ``path`` imports anywhere in its body (deferred imports included)."""
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        found.update(n for n in names if n in modules and n != me)
    return found


def test_no_import_cycles_inside_mpc():
    """DESIGN.md section 2: layers import downward, and no circle inside a layer either (a
    deferred, function-level import counts too: it is the same circle, only hidden)."""
    modules = {_module_name(p): p for p in SOURCES}
    graph = {m: _imports_of(p, modules) for m, p in modules.items()}
    # a package's __init__ re-exporting its submodules is not a circle of the code: drop parent edges
    graph = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}
    cycles, state = [], {}

    def visit(m, stack):
        state[m] = 1
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d, stack + [d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == []
