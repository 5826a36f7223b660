"""Exit codes and user-facing errors: the one place every task takes them from.

A task that cannot do what was asked raises `UserError(message, code)`; the task layer (tasks.py) prints
it with `print_error` as one red line naming the cause and the fix, and exits with the code, no traceback.
The codes are documented in docs/tasks.md, generated from `EXIT_CODES` below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # errors.py stays stdlib-only: noxfile.py imports it (through wheelhouse.py) outside our venv
    from rich.console import Console

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
# A server that cannot be reached, a report that could not be written: nothing a CI job may read as a pass.
EXIT_UNREACHABLE = EXIT_USAGE
# Ctrl-C (or SIGTERM): the shell's convention, 128 + SIGINT, so that a wrapper script tells it from a failure.
EXIT_INTERRUPTED = 130

# What each code means, as docs/tasks.md shows it (generated from this table, not from the source text).
EXIT_CODES: tuple[tuple[str, int, str], ...] = (
    ("EXIT_OK", EXIT_OK, "success: the server is validated (or skip-no-gpu), the benchmark measured what was asked"),
    (
        "EXIT_FAILED",
        EXIT_FAILED,
        "serve: the server process exited, at start-up or later (its log's last lines are shown); check: a check "
        "failed (a key the server refuses included: MOD001 says so), or the run's --deadline passed; bench: "
        "objective missed, a regression, or more than --max-error-rate of a host's requests failed",
    ),
    (
        "EXIT_USAGE",
        EXIT_USAGE,
        "bad input (a flag, an INVOKE_ variable, invoke.yaml, a pid file, a page or sample file; invoke's own parse "
        "errors too), a busy port, a missing executable; bench: a key the server refuses (nothing measured); check "
        "and bench: the server unreachable or gone mid-run, nothing ran, a report not written",
    ),
    (
        "EXIT_INTERRUPTED",
        EXIT_INTERRUPTED,
        "interrupted (Ctrl-C or SIGTERM): what had finished is reported, marked partial; nothing is left running",
    ),
)


class UserError(Exception):
    """Bad input or an unusable server: nothing (more) ran. The message names the cause and the fix."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def print_error(console: Console, message: str) -> None:
    """`error: <message>` in red on one line whatever the terminal's width: CI logs get grepped."""
    console.print(f"error: {message}", markup=False, style="bold red", soft_wrap=True)


def print_warning(console: Console, message: str) -> None:
    console.print(f"warning: {message}", markup=False, style="yellow", soft_wrap=True)


def shorten(text: str, limit: int = 160, *, one_line: bool = True) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis; on one line (whitespace runs become one space)
    unless ``one_line`` is False (a detector quoting a repeated unit shows its newlines)."""
    if one_line:
        text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def os_cause(error: OSError) -> str:
    """ "Permission denied (/ro/reports)": the OS's words and the file it was about, on one line."""
    cause = error.strerror or str(error) or type(error).__name__
    return f"{cause} ({error.filename})" if error.filename else cause
