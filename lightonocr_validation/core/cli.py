"""`invoke ...` through the project's own Program: invoke's parse errors, the environment, invoke.yaml and a
Ctrl-C that reaches the top all end as one line and a documented exit code, never a traceback.

Stock invoke's `Program.run` prints a ParseError and exits 1 (the code of "a check failed"), exits 1 without
a word on KeyboardInterrupt, and casts INVOKE_* values by the type of their default inside its Executor
(`INVOKE_CHECK_PORT=abc` is a ValueError traceback, `INVOKE_SERVER_ENABLE_PREFIX_CACHING=false` is *true*),
before any task body could catch anything. None of this has a hook, and people type the stock `invoke`. So
tasks.py ends with `hand_over(...)`: when the stock program is loading it, the same argv is run by `Program`
below, and its SystemExit passes through the stock program's `run` untouched.

- `ProjectConfig` takes the project's INVOKE_* values as text (config.load reads them strictly, with the
  same words as a flag's) and turns a YAML or JSON syntax error, or a file whose shape cannot be merged,
  into one line naming the file (and line).
- `Program` maps invoke's ParseError to exit 2 with the cause and the fix, UserError to its code, and
  KeyboardInterrupt to 130 (errors.EXIT_INTERRUPTED).
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import invoke
from invoke.config import AmbiguousMergeError, merge_dicts
from invoke.env import Environment
from invoke.exceptions import AmbiguousEnvVar, Exit, ParseError, UncastableEnvVar, UnknownFileType
from invoke.util import yaml
from rich.console import Console

from lightonocr_validation.core import interrupts
from lightonocr_validation.core.errors import EXIT_INTERRUPTED, EXIT_USAGE, UserError, print_error, shorten
from lightonocr_validation.core.interrupts import STOCK_NAMES
from lightonocr_validation.core.settings import DEFAULTS

# The top-level sections the project owns; invoke's own (run, tasks, sudo, ...) keep invoke's reading.
PROJECT_SECTIONS = frozenset(DEFAULTS)
# The task that takes a Ctrl-C held before it ran over itself (reports marked partial, every check not run).
TAKES_HELD_SIGNAL = "check"

errors = Console(stderr=True, highlight=False)


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


def usage_line(error: ParseError) -> str:
    """invoke's parse error as the cause and the fix ("No idea what '--bogus' is!" names neither)."""
    message = str(error)
    task = error.context.name if error.context is not None else None
    help_ = f"see invoke {task} --help" if task else "see invoke --help and invoke --list"
    if message.startswith("No idea what "):
        token = message.removeprefix("No idea what ").removesuffix(" is!")
        word = token[1:-1] if token[:1] in "'\"" else token
        if word.startswith("-"):
            return f"{task or 'invoke'} has no option {word}: {help_}"
        if task:
            return f"{task} takes no word {token}: values follow their flag (--name VALUE): {help_}"
        return f"there is no task {token}: see invoke --list"
    if "needed value and was not given one" in message:
        flag = _flag_of(message)
        return f"{flag} needs a value: write {flag} VALUE, {help_}"
    if "doesn't take any value" in message:
        flag = _flag_of(message)
        return f"{flag} is a switch and takes no value: write {flag} alone, {help_}"
    return f"{message}: {help_}"


def _flag_of(message: str) -> str:
    """ "--report-json" from invoke's "Flag <Argument: report_json> needed value ...": the flag as typed."""
    name = message.split("<Argument: ", 1)[-1].split(">", 1)[0].split(" ", 1)[0]
    return ("--" if len(name) > 1 else "-") + name.replace("_", "-")


def _at_the_edge(step: Callable[..., Any], *, parses_flags: bool = False) -> Callable[..., Any]:
    """A step of Program.run whose failures end as one line and a documented code (invoke's Exit does the
    exiting: its code passes through the stock `run`)."""

    casting_error = ValueError if parses_flags else ()

    @functools.wraps(step)
    def guarded(self: Program, *args: Any, **kwargs: Any) -> Any:
        try:
            return step(self, *args, **kwargs)
        except ParseError as error:
            print_error(errors, usage_line(error))
            raise Exit(code=EXIT_USAGE) from None
        except UserError as error:  # the environment or a configuration file
            print_error(errors, str(error))
            raise Exit(code=error.code) from None
        except casting_error as error:  # invoke casting a flag's value by its default's type
            print_error(errors, f"a flag's value could not be read ({error}): see invoke --help TASK")
            raise Exit(code=EXIT_USAGE) from None
        except KeyboardInterrupt:
            _interrupted()
        except Exception as error:
            # invoke's c.run forwards Ctrl-C to its child's stdin, which fails (ValueError) once the child has
            # closed it: still an interrupt, not a bug to show as a traceback.
            if isinstance(error.__context__, KeyboardInterrupt):
                _interrupted()
            raise

    return guarded


def _interrupted() -> None:
    print_error(errors, "interrupted (Ctrl-C): the task stopped before its end; run it again to finish")
    raise Exit(code=EXIT_INTERRUPTED) from None


class Program(invoke.Program):
    """invoke's Program over an already loaded tasks module, with the project's Config and exit codes."""

    def __init__(self, tasks_module: ModuleType, project_root: Path) -> None:
        super().__init__(
            name="Invoke",
            binary="inv[oke]",
            binary_names=list(STOCK_NAMES),
            version=invoke.__version__,
            config_class=ProjectConfig,
        )
        self.tasks_module = tasks_module
        self.project_root = project_root

    def load_collection(self) -> None:
        # The stock loader already imported tasks.py (we run inside that import): use it, and load the
        # project's invoke.yaml beside it, as the stock program would.
        self.config.set_project_location(str(self.project_root))
        self.config.load_project()
        self.collection = invoke.Collection.from_module(
            self.tasks_module,
            loaded_from=str(self.project_root),
            auto_dash_names=self.config.tasks.auto_dash_names,
        )

    def _execute(self) -> None:
        """Hand a Ctrl-C held while tasks.py loaded and invoke parsed on: `invoke check` takes it over (its
        SignalGuard replaces the hold, and it writes the reports asked for); any other task stops here, 130."""
        if [context.name for context in self.tasks] != [TAKES_HELD_SIGNAL] and interrupts.release_signals():
            raise KeyboardInterrupt
        invoke.Program.execute(self)

    parse_core = _at_the_edge(invoke.Program.parse_core)
    parse_collection = _at_the_edge(invoke.Program.parse_collection)
    parse_tasks = _at_the_edge(invoke.Program.parse_tasks, parses_flags=True)
    parse_cleanup = _at_the_edge(invoke.Program.parse_cleanup)
    update_config = _at_the_edge(invoke.Program.update_config)
    execute = _at_the_edge(_execute)


_running = False  # set once the project's Program runs: a second import of tasks.py must not start another


def launched_by_stock_invoke(argv: list[str]) -> bool:
    """`invoke ...`, `inv ...` or `python -m invoke ...`, and not already our Program."""
    return not _running and interrupts.stock_invoke(argv)


def hand_over(tasks_module: ModuleType, argv: list[str] | None = None) -> None:
    """Run `argv` (sys.argv) through the project's Program and exit with its code: called at the end of
    tasks.py while the stock program imports it, so the stock program never parses the command line."""
    global _running
    if not launched_by_stock_invoke(sys.argv if argv is None else argv):
        return
    _running = True
    Program(tasks_module, Path(tasks_module.__file__ or ".").resolve().parent).run(sys.argv if argv is None else argv)
    sys.exit(0)
