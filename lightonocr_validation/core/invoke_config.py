"""The one place the project reaches behind invoke's public API: its Config, read so that the environment and a
broken configuration file end as one line naming the cause and the fix, never a traceback.

invoke has no hook for either. Stock invoke casts INVOKE_* values by the type of their default
(`INVOKE_CHECK_PORT=abc` is a ValueError traceback, `INVOKE_SERVER_ENABLE_PREFIX_CACHING=false` is *true*),
and a YAML or JSON syntax error in invoke.yaml is a traceback. `ProjectConfig` overrides invoke.Config's
file loaders (`_load_yaml`, `_load_json`, `_load_file`) and uses its state (`_set`, `_config`, `_defaults`,
`_collection`, `_runtime_path`, `_env_prefix`, `_<level>` and `_<level>_path`): private names that an invoke
release may change. So pyproject.toml pins the invoke versions this was tested with, and
tests/core/test_invoke_config.py fails when one of those names is gone or a broken file stops being one line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import invoke
from invoke.config import AmbiguousMergeError, merge_dicts
from invoke.env import Environment
from invoke.exceptions import AmbiguousEnvVar, UncastableEnvVar, UnknownFileType
from invoke.util import yaml

from lightonocr_validation.core.errors import UserError, shorten
from lightonocr_validation.core.settings import DEFAULTS

# The top-level sections the project owns; invoke's own (run, tasks, sudo, ...) keep invoke's reading.
PROJECT_SECTIONS = frozenset(DEFAULTS)
# The private names of invoke.Config used here: the test checks the installed invoke still has them.
INVOKE_INTERNALS = ("_load_yaml", "_load_json", "_load_file", "_set", "merge", "load_runtime", "load_shell_env")
INVOKE_STATE = ("_config", "_defaults", "_collection", "_runtime_path", "_env_prefix", "_project", "_project_path")


class ProjectConfig(invoke.Config):
    """invoke's Config, except for what invoke cannot read safely: the environment and broken files."""

    def load_shell_env(self) -> None:
        # Same contract as invoke's: merge what is loaded, read INVOKE_* for the keys it holds, merge again.
        self.merge()
        own = {key: value for key, value in self._config.items() if key not in PROJECT_SECTIONS}
        try:
            stock = Environment(config=own, prefix=self._env_prefix).load()
        except (ValueError, UncastableEnvVar, AmbiguousEnvVar) as error:
            raise UserError(f"an INVOKE_ variable for invoke's own settings: {error}: fix or unset it") from None
        project = project_env(self._config, self._env_prefix or "", os.environ)
        self._set(_env={**stock, **project})
        self.merge()

    def merge(self) -> None:
        try:
            super().merge()
        except AmbiguousMergeError:
            raise UserError(self._merge_problem()) from None

    def _merge_problem(self) -> str:
        """Which file put a value where a section belongs (or the reverse): invoke only says "can't merge"."""
        base = merge_dicts(merge_dicts({}, self._defaults), self._collection)
        for name in ("system", "user", "project", "runtime"):
            data, path = getattr(self, f"_{name}", None), getattr(self, f"_{name}_path", None)
            clash = shape_clash(base, data or {}, "")
            if clash:
                key, value = clash
                shape = "one value" if isinstance(value, dict) else "a section of settings"
                return f"{key} in {path} is {_short(value)}: that key holds {shape} (see docs/tasks.md, Configuration)"
        return "the configuration files cannot be merged: see docs/tasks.md, Configuration"

    def _load_yaml(self, path: Any) -> Any:
        try:
            data = super()._load_yaml(path)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            line = f", line {mark.line + 1}" if mark is not None else ""
            problem = getattr(error, "problem", None) or "not valid YAML"
            raise UserError(f"{path}{line}: {problem}: fix the YAML there (e.g. `port: 8001` under `check:`)") from None
        except UnicodeDecodeError as error:
            raise UserError(f"{path} is not UTF-8 text ({error.reason}): save it as UTF-8") from None
        except ValueError:  # Python reads no integer of over 4300 digits
            raise UserError(f"{path}: a number there is too long to read: fix the value") from None
        return _sections(path, data)

    def _load_json(self, path: Any) -> Any:
        try:
            data = super()._load_json(path)
        except json.JSONDecodeError as error:
            raise UserError(f"{path}, line {error.lineno}: {error.msg}: fix the JSON there") from None
        except UnicodeDecodeError as error:
            raise UserError(f"{path} is not UTF-8 text ({error.reason}): save it as UTF-8") from None
        except ValueError:
            raise UserError(f"{path}: a number there is too long to read: fix the value") from None
        return _sections(path, data)

    def load_runtime(self, merge: bool = True) -> None:
        # invoke skips a runtime file (-f, INVOKE_RUNTIME_CONFIG) that does not exist: the user named it.
        path = self._runtime_path
        if path is not None and not Path(path).expanduser().is_file():
            raise UserError(
                f"{path}: no such configuration file (given with -f or INVOKE_RUNTIME_CONFIG): fix the path"
            )
        super().load_runtime(merge)

    def _load_file(self, prefix: str, absolute: bool = False, merge: bool = True) -> None:
        try:
            super()._load_file(prefix, absolute=absolute, merge=merge)
        except UnknownFileType:
            raise UserError(
                f"{self._runtime_path}: invoke reads no such configuration file: use .yaml, .json or .py"
            ) from None
        except OSError as error:  # a missing file is skipped by invoke; this one exists and cannot be read
            raise UserError(f"{error.filename}: {error.strerror}: make the configuration file readable") from None


def _sections(path: Any, data: Any) -> dict[str, Any]:
    """A configuration file's top level: a mapping of the project's sections and invoke's own. A misspelt
    section (`sever:`) would be ignored without a word, and the setting the user meant left as it was."""
    if data is None:  # an empty file
        return {}
    if not isinstance(data, dict):
        raise UserError(f"{path} holds {_short(data)}: write a mapping of sections, e.g. `check:` then `  port: 8001`")
    known = sorted(PROJECT_SECTIONS) + sorted(invoke.Config.global_defaults())
    unknown = [str(key) for key in data if key not in known]
    if unknown:
        raise UserError(f"{path}: {unknown[0]!r} is not a section: the sections are {', '.join(known)}")
    return data


def project_env(tree: Mapping[str, Any], prefix: str, environ: Mapping[str, str]) -> dict[str, Any]:
    """The INVOKE_* values for the project's keys, as text: config.load reads them (strictly, by type)."""
    found: dict[str, Any] = {}

    def walk(node: Mapping[str, Any], path: list[str]) -> None:
        for key, value in node.items():
            here = [*path, str(key)]
            if isinstance(value, Mapping) and value:
                walk(value, here)
                continue
            variable = prefix + "_".join(map(str, here)).upper()
            if variable not in environ:
                continue
            if isinstance(value, list | tuple | Mapping):
                kind = "a list" if isinstance(value, list | tuple) else "a mapping"
                raise UserError(
                    f"{variable}: {'.'.join(map(str, here))} is {kind}, which an environment variable cannot hold: "
                    f"set it in invoke.yaml and unset {variable}"
                )
            target = found
            for part in here[:-1]:
                target = target.setdefault(part, {})
            target[here[-1]] = environ[variable]

    walk({key: value for key, value in tree.items() if key in PROJECT_SECTIONS}, [])
    return found


def shape_clash(base: Mapping[str, Any], data: Mapping[str, Any], prefix: str) -> tuple[str, Any] | None:
    """The first key where `data` has a section and `base` a value, or the reverse, with data's value."""
    for key, value in data.items():
        name = f"{prefix}{key}"
        if key not in base:
            continue
        if isinstance(value, dict) != isinstance(base[key], dict):
            return name, value
        if isinstance(value, dict):
            clash = shape_clash(base[key], value, name + ".")
            if clash:
                return clash
    return None


def _short(value: Any) -> str:
    return shorten(repr(value), 60, one_line=False)
