"""`checks` and `lightonocr_validation` import each other only one way round at a time: no import cycle.

A cycle between the two packages works or breaks depending on which module a process imports first (a
check imported before the runner, say), so it is caught here twice: statically, from the module-level
imports of every module, and by importing each check module first thing in a fresh interpreter.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("checks", "lightonocr_validation")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _module_level_imports(tree: ast.Module, modules: dict[str, Path]) -> set[str]:
    """Our modules imported when this one is: top-level statements (and their if/try bodies), not the imports
    inside functions or under `if TYPE_CHECKING:`, which never run at import."""
    found: set[str] = set()
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If):
            if "TYPE_CHECKING" not in ast.unparse(node.test):
                pending += [*node.body, *node.orelse]
        elif isinstance(node, ast.Try):
            pending += [*node.body, *node.orelse, *node.finalbody, *(s for h in node.handlers for s in h.body)]
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in modules}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in modules else node.module)
    return {name for name in found if name in modules}


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in graph:
        if node not in index:
            visit(node)
    return components


def test_no_import_cycle_spans_checks_and_lightonocr_validation() -> None:
    modules = _modules()
    graph = {
        name: _module_level_imports(ast.parse(path.read_text(encoding="utf-8")), modules) - {name}
        for name, path in modules.items()
    }
    assert graph["lightonocr_validation.check.runner"] >= {
        "lightonocr_validation.check.base"
    }  # the scan sees real imports
    spanning = [
        sorted(component) for component in _cycles(graph) if {name.split(".")[0] for name in component} >= set(PACKAGES)
    ]
    assert spanning == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"checks.a": {"lightonocr_validation.b"}, "lightonocr_validation.b": {"checks.a"}, "c": set()}
    assert _cycles(graph) == [{"checks.a", "lightonocr_validation.b"}]


@pytest.mark.parametrize("module", sorted(name for name in _modules() if name.startswith("checks")))
def test_each_check_module_imports_first_in_a_fresh_interpreter(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
