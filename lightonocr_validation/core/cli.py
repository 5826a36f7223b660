"""`invoke ...` through the project's own Program: invoke's parse errors, the environment, invoke.yaml and a
Ctrl-C that reaches the top all end as one line and a documented exit code, never a traceback.

Stock invoke's `Program.run` prints a ParseError and exits 1 (the code of "a check failed"), exits 1 without
a word on KeyboardInterrupt, and casts INVOKE_* values by the type of their default inside its Executor
(`INVOKE_CHECK_PORT=abc` is a ValueError traceback, `INVOKE_SERVER_ENABLE_PREFIX_CACHING=false` is *true*),
before any task body could catch anything. None of this has a hook, and people type the stock `invoke`. So
tasks.py ends with `hand_over(...)`: when the stock program is loading it, the same argv is run by `Program`
below, and its SystemExit passes through the stock program's `run` untouched.

- `ProjectConfig` (invoke_config.py, the one module that reaches behind invoke's public API) takes the
  project's INVOKE_* values as text and turns a broken configuration file into one line naming it.
- `Program` maps invoke's ParseError to exit 2 with the cause and the fix, UserError to its code, and
  KeyboardInterrupt to 130 (errors.EXIT_INTERRUPTED).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import invoke
from invoke.exceptions import Exit, ParseError
from rich.console import Console

from lightonocr_validation.core import interrupts
from lightonocr_validation.core.errors import EXIT_INTERRUPTED, EXIT_USAGE, UserError, print_error
from lightonocr_validation.core.interrupts import STOCK_NAMES
from lightonocr_validation.core.invoke_config import ProjectConfig

# The task that takes a Ctrl-C held before it ran over itself (reports marked partial, every check not run).
TAKES_HELD_SIGNAL = "check"

errors = Console(stderr=True, highlight=False)


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
