"""Render check results on the terminal: a live line per running check, then a table and the verdict."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from checks.base import Check, Result, Status
from lightonocr_validation.runner import HostRun
from lightonocr_validation.verdict import Verdict

STATUS_STYLE = {Status.PASS: "green", Status.FAIL: "bold red", Status.SKIP: "yellow", Status.ERROR: "bold magenta"}


class LiveProgress:
    """A live display of the checks in progress; thread-safe, since hosts run concurrently."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._lock = threading.Lock()
        self._running: dict[str, str] = {}
        self._done = 0
        self._live = Live(self._render(), console=console, transient=True, refresh_per_second=8)

    def __enter__(self) -> LiveProgress:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.__exit__(*exc)

    def __call__(self, host: str, check: type[Check], result: Result | None) -> None:
        with self._lock:
            if result is None:
                self._running[host] = f"{check.id} {check.title()}"
            else:
                self._running.pop(host, None)
                self._done += 1
                line = Text.assemble(
                    (f"{result.status.value:5} ", STATUS_STYLE[result.status]), f"{host}  {result.check_id} {result.title}"
                )
                self._live.console.print(line)
            self._live.update(self._render())

    def _render(self) -> Text:
        lines = [f"running {text}  [{host}]" for host, text in self._running.items()]
        return Text("\n".join(lines) or f"{self._done} checks done", style="dim")


def render_summary(console: Console, runs: Sequence[HostRun], verdicts: Sequence[Verdict], overall: Verdict) -> None:
    table = Table(title="LightOnOCR server validation", show_lines=False, expand=True)
    if len(runs) > 1:
        table.add_column("host", no_wrap=True)
    for column, options in (("check", {"no_wrap": True}), ("status", {}), ("figure", {}), ("detail / hint", {"ratio": 1})):
        table.add_column(column, **options)
    for run in runs:
        for result in run.results:
            detail = Text(result.detail)
            if result.hint:
                detail.append(f"\nhint: {result.hint}", style="cyan")
            row = [f"{result.check_id} {result.title}", Text(result.status.value, STATUS_STYLE[result.status]),
                   result.figure, detail]
            table.add_row(*([run.target.label] if len(runs) > 1 else []), *row)
    console.print(table)
    if len(runs) > 1:
        for run, verdict in zip(runs, verdicts, strict=True):
            console.print(f"{run.target.label}: {verdict.line}", markup=False, highlight=False)
    style = "bold green" if overall.exit_code == 0 else "bold red"
    console.print(Text(overall.line, style=style))
