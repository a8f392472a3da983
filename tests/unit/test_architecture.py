"""The architecture's import rules, checked on the source: dependencies flow one way and nothing imports in a circle.

Every module under src/offpolicy is parsed with ``ast``; every ``import`` and ``from ... import`` in it counts, at the
top level and inside functions, classes, ``if TYPE_CHECKING:`` blocks and ``try:`` blocks alike (a function-level
import is still a dependency, only a later one). ``from offpolicy.sweep import store`` is an edge to the module
``offpolicy.sweep.store``; ``from offpolicy.agents import make_agent`` an edge to the package ``offpolicy.agents``
(its ``__init__.py``). Importing a module runs its parent packages' ``__init__.py`` too, but that is not counted as
an edge (every module would otherwise depend on its own package).

To add a rule, add a row to ``RULES``; to allow one module an edge its component may not have, add the pair to
``ALLOWED`` with the reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "offpolicy"

FRONT_ENDS = {"api", "cli"}
SHELLS = {"run", "sweep", "analysis"}
CORE = {"agents", "networks", "buffer", "exploration"}

RULES: list[tuple[str, set[str], str]] = [
    # (component, components it must not import, why). A component is the first name under offpolicy/: a package
    # (run, sweep, analysis, loops, agents) or a module (config, envs, networks, ...); "offpolicy" is the root
    # package's __init__.py, the public API.
    ("analysis", {"run", "sweep"} | FRONT_ENDS,
     "statistics, result reading and figures serve run/ and sweep/; they read run directories, not the code that "
     "wrote them"),
    ("run", {"sweep"} | FRONT_ENDS, "the training shell knows nothing of sweeps or of the front ends"),
    ("sweep", FRONT_ENDS, "sweeps drive run/ directly; the CLI registers sweep.commands, not the reverse"),
    ("loops", SHELLS | FRONT_ENDS, "a loop serves the shells through its contract and never calls them"),
    *((core, {"loops", "export"} | SHELLS | FRONT_ENDS, "the pure algorithm core depends on nothing above it")
      for core in CORE),
    ("config", {"loops", "export"} | SHELLS | FRONT_ENDS, "a config is data; everything above reads it"),
    ("export", {"loops", "policy", "config", "envs"} | SHELLS | FRONT_ENDS,
     "export writes a Policy's weights to a file (policy.py calls it, not the reverse) and runs them with NumPy "
     "alone; it needs no training, env or config code"),
    ("provenance", {"agents", "loops", "config", "envs"} | CORE | SHELLS | FRONT_ENDS,
     "provenance reads the installation and the machine, nothing of offpolicy's own but its version"),
    ("errors", {"*"}, "the exception types are a leaf: everything may raise them"),
    ("*", {PACKAGE}, "no module imports the root package (it imports the API classes, and so the whole shell)"),
]

ALLOWED: dict[tuple[str, str], str] = {
    # (importing module, imported module): why this edge is fine although a rule forbids it.
}


def _module_files() -> dict[str, Path]:
    files = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        files[".".join(parts)] = path
    return files


MODULES = _module_files()


def _resolve(name: str) -> str | None:
    """The nearest module of ours that ``name`` (a module, or a module's attribute) lies in."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _edges(module: str, path: Path) -> list[tuple[str, int]]:
    """(imported module of ours, line) for every import statement in ``module``'s source."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from . import x, from ..run import y
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        for name in names:
            target = _resolve(name) if name.split(".")[0] == PACKAGE else None
            if target is not None and target != module and (target, node.lineno) not in out:
                out.append((target, node.lineno))
    return out


GRAPH = {module: _edges(module, path) for module, path in MODULES.items()}


def _component(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else PACKAGE


def _where(module: str, line: int) -> str:
    return f"{MODULES[module].relative_to(SRC.parent)}:{line}"


def test_the_graph_is_read():
    """Guards the other tests against passing on an empty or misread graph."""
    assert len(MODULES) > 30
    assert ("offpolicy.run.trainer", "offpolicy.agents") in {(m, t) for m, ts in GRAPH.items() for t, _ in ts}
    worker_imports = {t for t, _ in GRAPH["offpolicy.sweep.worker"]}
    assert {"offpolicy.run.trainer", "offpolicy.run.writer"} <= worker_imports  # function-level imports count
    components = {_component(m) for m in MODULES}
    for source, targets, _ in RULES:
        assert source == "*" or source in components, f"RULES names {source!r}, which is no component any more"
        unknown = targets - components - {"*"}
        assert not unknown, f"RULES row {source!r} names {sorted(unknown)}, which are no components any more"


def test_no_forbidden_imports():
    broken = []
    for module, edges in GRAPH.items():
        source = _component(module)
        for target, line in edges:
            to = _component(target)
            if to == source or (module, target) in ALLOWED:
                continue
            for rule_source, forbidden, why in RULES:
                if rule_source in (source, "*") and ("*" in forbidden or to in forbidden):
                    broken.append(f"{_where(module, line)}: {module} imports {target} ({rule_source} -> {to}: {why})")
    assert not broken, "imports against the architecture's rules:\n" + "\n".join(broken)


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(v: str) -> None:  # the graph has ~50 modules: recursion depth is no concern
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w, _ in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return found


def _shortest_cycle(members: set[str]) -> list[tuple[str, str, int]]:
    """One shortest cycle through the first of ``members`` (a strongly connected group): (module, imported, line)."""
    start = min(members)
    previous: dict[str, tuple[str, int]] = {}
    frontier = [start]
    while frontier:
        following = []
        for v in frontier:
            for w, line in GRAPH[v]:
                if w not in members or w in previous:
                    continue
                previous[w] = (v, line)
                if w == start:
                    steps, node = [], start
                    while True:
                        back, at = previous[node]
                        steps.append((back, node, at))
                        node = back
                        if node == start:
                            return steps[::-1]
                following.append(w)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover - members come from a strong component


def test_no_import_cycles():
    messages = []
    for component in _cycles():
        steps = _shortest_cycle(set(component))
        path = "\n".join(f"  {_where(m, line)}: {m} -> {t}" for m, t, line in steps)
        messages.append(f"{len(component)} modules in a cycle ({', '.join(component)}), for example:\n{path}")
    assert not messages, "modules that import each other (directly or through others):\n" + "\n".join(messages)


@pytest.mark.parametrize("source, expected", [
    ("from offpolicy.sweep import store", ["offpolicy.sweep.store"]),
    ("from offpolicy.agents import make_agent", ["offpolicy.agents"]),
    ("import offpolicy.run.trainer as t", ["offpolicy.run.trainer"]),
    ("def f():\n    from offpolicy.run.trainer import Trainer", ["offpolicy.run.trainer"]),
    ("from . import store\nfrom ..analysis import stats", ["offpolicy.sweep.store", "offpolicy.analysis.stats"]),
    ("from offpolicy import __version__", ["offpolicy"]),
    ("import numpy\nfrom yaml import safe_load", []),
])
def test_imports_are_resolved_to_modules(tmp_path, source, expected):
    path = tmp_path / "driver.py"
    path.write_text(source)
    assert [t for t, _ in _edges("offpolicy.sweep.driver", path)] == expected
