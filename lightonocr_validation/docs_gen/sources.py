"""Load what the documents are generated from: tasks.py, noxfile.py, pyproject.toml, settings' comments.

tasks.py and noxfile.py are executed afresh from their files for every generation, never taken from
`sys.modules`: invoke pops each task's help text while it builds its command-line parser
(`Task.get_arguments`), so the module invoke itself loaded to run `invoke docs` has lost its help by the
time the docs task runs.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import inspect
import os
import re
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any


@contextmanager
def importable_root(root: Path) -> Iterator[None]:
    """The repository root on sys.path (tasks.py imports `lightonocr_validation` and `checks` from it)."""
    entry = str(root)
    added = entry not in sys.path
    if added:
        sys.path.insert(0, entry)
    try:
        yield
    finally:
        if added:
            sys.path.remove(entry)


def _execute(path: Path, module_name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    # Registered while it runs, as a normal import would, so dataclasses and the like can find it.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(module_name, None)
    return module


def load_tasks(root: Path) -> ModuleType:
    """A fresh tasks.py module (its `ns` collection with every task's help intact)."""
    with importable_root(root):
        return _execute(root / "tasks.py", "_docs_gen_tasks")


@dataclass(frozen=True)
class NoxSessions:
    module: ModuleType
    # nox's registry entries (nox._decorators.Func) of this noxfile, in definition order.
    sessions: dict[str, Any]


def load_nox_sessions(root: Path) -> NoxSessions:
    """Execute noxfile.py and read the sessions it registered with nox."""
    import nox

    # The registry is process-wide and nox warns when a session name is registered twice (as a second
    # generation in one process would): read this noxfile's sessions into an empty registry, then put
    # back whatever was there. nox offers get() and reset() but no way to restore, hence _REGISTRY.
    previous = nox.registry.get()
    # The noxfile prepends pyenv's interpreters to PATH when imported; that is for nox, not for us.
    saved_path = os.environ.get("PATH")
    nox.registry.reset()
    try:
        with importable_root(root):
            module = _execute(root / "noxfile.py", "_docs_gen_noxfile")
        sessions = nox.registry.get()
    finally:
        if saved_path is not None:
            os.environ["PATH"] = saved_path
        nox.registry.reset()
        nox.registry._REGISTRY.update(previous)
    return NoxSessions(module, sessions)


def session_parser(noxfile: ModuleType, name: str) -> argparse.ArgumentParser | None:
    """The argparse parser of a session's own options (noxfile.OPTION_PARSERS), or None when it has none."""
    factory = getattr(noxfile, "OPTION_PARSERS", {}).get(name)
    return factory() if factory else None


def pyproject(root: Path) -> dict[str, Any]:
    return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))


def dict_key_comments(module: ModuleType, variable: str) -> dict[tuple[str, ...], str]:
    """The comment lines right above each key of the dict literal `variable`, by key path.

    settings.py explains its keys in comments; reading them keeps one explanation, in the code.
    """
    source = inspect.getsource(module)
    lines = source.splitlines()
    tree = ast.parse(source)
    comments: dict[tuple[str, ...], str] = {}

    def walk(node: ast.AST, path: tuple[str, ...]) -> None:
        if not isinstance(node, ast.Dict):
            return
        for key, item in zip(node.keys, node.values, strict=True):
            if not isinstance(key, ast.Constant) or not isinstance(key.value, str):
                continue
            key_path = (*path, key.value)
            above: list[str] = []
            index = key.lineno - 2
            while index >= 0 and lines[index].strip().startswith("#"):
                above.insert(0, lines[index].strip().lstrip("#").strip())
                index -= 1
            if above:
                comments[key_path] = " ".join(above)
            walk(item, key_path)

    for node in ast.walk(tree):
        targets = [node.target] if isinstance(node, ast.AnnAssign) else getattr(node, "targets", [])
        if isinstance(node, ast.Assign | ast.AnnAssign) and any(
            isinstance(target, ast.Name) and target.id == variable for target in targets
        ):
            walk(node.value, ())
    return comments


def commented_constants(module: ModuleType, prefix: str) -> list[tuple[str, int, str]]:
    """`NAME = 1  # why` lines of a module whose names start with `prefix`: (name, value, comment)."""
    pattern = re.compile(rf"^({re.escape(prefix)}\w*)\s*=\s*(\d+)\s*#\s*(.+)$")
    found = []
    for line in inspect.getsource(module).splitlines():
        match = pattern.match(line)
        if match:
            found.append((match[1], int(match[2]), match[3].strip()))
    return found


def docstring_bullets(module: ModuleType) -> list[str]:
    """The `- ...` lines of a module docstring (verdict.py lists its verdicts and exit codes that way)."""
    lines = (inspect.getdoc(module) or "").splitlines()
    bullets: list[str] = []
    for line in lines:
        if line.startswith("- "):
            bullets.append(line[2:].strip())
        elif bullets and line.startswith("  ") and line.strip():
            bullets[-1] += " " + line.strip()
    return bullets


def docstring_numbered(module: ModuleType) -> list[str]:
    """The `1. ...` items of a module docstring, continuation lines joined (cpu_repairs.py's repairs)."""
    items: list[str] = []
    for line in (inspect.getdoc(module) or "").splitlines():
        match = re.match(r"^\d+\.\s+(.*)$", line)
        if match:
            items.append(match[1].strip())
        elif items and line.startswith("   ") and line.strip():
            items[-1] += " " + line.strip()
        elif items and not line.strip():
            break
    return items
