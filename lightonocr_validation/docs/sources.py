"""Load what the documents are generated from: tasks.py, noxfile.py, pyproject.toml, settings' comments.

tasks.py and noxfile.py are executed afresh from their files for every generation, never taken from
`sys.modules`: invoke pops each task's help text while it builds its command-line parser
(`Task.get_arguments`), so the module invoke itself loaded to run `invoke docs` has lost its help by the
time the docs task runs.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import os
import sys
import tomllib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from lightonocr_validation.core.cli_options import OptionSet
from lightonocr_validation.pages.samples import Sample, load_manifest, samples_digest

T = TypeVar("T")


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
    """Execute noxfile.py and read the sessions it registered with nox (nox.registry's public API only)."""
    import nox

    # The registry is process-wide and nox refuses a session name registered twice (as a second generation
    # in one process would): read this noxfile's sessions into an empty registry, then register again, with
    # nox's public decorator, whatever was there before.
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
        for name, func in previous.items():
            _register_again(nox.registry, name, func)
    return NoxSessions(module, sessions)


def _register_again(registry: ModuleType, name: str, func: Any) -> None:
    """Put a session back into nox's registry as its decorator declared it (Func's public attributes)."""
    registry.session_decorator(
        func.func,
        python=func.python,
        reuse_venv=func.reuse_venv,
        name=name,
        venv_backend=func.venv_backend,
        venv_params=func.venv_params,
        tags=func.tags,
        default=func.default,
        requires=func.requires,
        download_python=func.download_python,
        allow_parallel=func.allow_parallel,
    )


def session_options(noxfile: ModuleType, name: str) -> OptionSet | None:
    """The options a session declares (noxfile.SESSION_OPTIONS), or None when it takes none of its own."""
    return getattr(noxfile, "SESSION_OPTIONS", {}).get(name)


def pyproject(root: Path) -> dict[str, Any]:
    return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))


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


def calibrated(calibrate: Callable[[Sequence[Sample]], list[T]], root: Path) -> list[T]:
    """``calibrate`` (the text or the grounding calibration) over root's bundled samples: run once for the three
    blocks each renders, and again only when samples/ changes (its digest is part of the cache's key)."""
    samples = root / "samples"
    return _calibrated(calibrate, str(samples), samples_digest(samples))


@functools.cache
def _calibrated(calibrate: Callable[[Sequence[Sample]], list[T]], samples: str, digest: str) -> list[T]:
    return calibrate(load_manifest(Path(samples)))
