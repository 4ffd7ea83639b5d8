"""The import graph of ``mhubio`` has no cycles (lower layers never import upper ones)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import REPO

PACKAGE = REPO / "mhubio"


def module_name(path: Path) -> str:
    """Dotted name of a source file of the package."""
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(node: ast.AST, package: str, known: set[str]) -> set[str]:
    """Package modules imported anywhere under ``node`` (functions included), not under ``if TYPE_CHECKING:``."""
    found: set[str] = set()
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for sub in child.orelse:
                found |= _imports(sub, package, known)
            continue
        if isinstance(child, ast.Import):
            found |= {_resolve(alias.name, known) for alias in child.names}
        elif isinstance(child, ast.ImportFrom):
            base = child.module or ""
            if child.level:
                anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in child.names:
                found.add(_resolve(f"{base}.{alias.name}", known) or _resolve(base, known))
        found |= _imports(child, package, known)
    return found - {""}


def _resolve(name: str, known: set[str]) -> str:
    """The longest known module that ``name`` is or lies in ('' if none)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name


def import_graph() -> dict[str, set[str]]:
    """Module -> package modules it imports."""
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    known = set(paths)
    graph = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        graph[name] = _imports(ast.parse(path.read_text(), str(path)), package, known) - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle as [a, b, ..., a], or [] when the graph is acyclic."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target):], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def test_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_type_checking_imports_and_relative_imports_are_resolved():
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from mhubio.core import runner\n"
                     "def f():\n    from .data import DataItem\n")
    assert _imports(tree, "mhubio.core", {"mhubio.core", "mhubio.core.runner", "mhubio.core.data"}) == {
        "mhubio.core.data"}


def test_mhubio_has_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert not cycle, "import cycle: " + " -> ".join(cycle)
