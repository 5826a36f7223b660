"""Render check results on the terminal: a live line per running check, then a table and the verdict.

The final table is rendered from the report dict (json_report.report_dict), as the JSON, JUnit and Markdown
reports are: it went through the redaction once, so the terminal shows nothing the reports would not.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from lightonocr_validation.check.base import Check, Result, Status
from lightonocr_validation.check.report.counts import FamilyCount, family_counts, partial_note
from lightonocr_validation.core.serialize import public_url

STATUS_STYLE = {Status.PASS: "green", Status.FAIL: "bold red", Status.SKIP: "yellow", Status.ERROR: "bold magenta"}


class LiveProgress:
    """A live display of the checks in progress; thread-safe, since hosts run concurrently."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._lock = threading.Lock()
        self._running: dict[str, str] = {}
        self._pages: dict[str, tuple[int, int]] = {}
        self._done = 0
        self._live = Live(self._render(), console=console, transient=True, refresh_per_second=8)

    def __enter__(self) -> LiveProgress:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.__exit__(*exc)

    def __call__(self, host: str, check: type[Check], result: Result | None) -> None:
        with self._lock:
            host = public_url(host)  # live lines are not in the report: a URL's password is dropped here
            if result is None:
                self._running[host] = f"{check.id} {check.title()}"
            else:
                self._running.pop(host, None)
                self._done += 1
                line = Text.assemble(
                    (f"{result.status.value:5} ", STATUS_STYLE[result.status]),
                    f"{host}  {result.check_id} {result.title}",
                )
                self._live.console.print(line)
            self._live.update(self._render())

    def pages(self, host: str, done: int, total: int) -> None:
        """A page of ``host``'s set was answered: the running check's line shows a bar of pages."""
        with self._lock:
            self._pages[public_url(host)] = (done, total)
            self._live.update(self._render())

    def _render(self) -> RenderableType:
        if not self._running:
            return Text(f"{self._done} checks done", style="dim")
        table = Table.grid(padding=(0, 1))
        for host, text in self._running.items():
            done, total = self._pages.get(host, (0, 0))
            if 0 < done < total:  # a long page set in flight: how far it is
                bar = ProgressBar(total=total, completed=done, width=30)
                table.add_row(Text(f"running {text}  [{host}]", style="dim"), bar, Text(f"{done}/{total} pages"))
            else:
                table.add_row(Text(f"running {text}  [{host}]", style="dim"))
        return table


def render_summary(console: Console, report: Mapping[str, Any]) -> None:
    """The final table (one row per check, per host when several), a per-family tally, the verdict last."""
    hosts = report["hosts"]
    several = len(hosts) > 1
    table = Table(title="LightOnOCR server validation", expand=True, show_lines=several)
    if several:
        # A URL label can be long: folded over lines rather than squeezing the detail column.
        table.add_column("host", overflow="fold", max_width=22)
    table.add_column("id", no_wrap=True)
    table.add_column("check", ratio=2, min_width=14)
    table.add_column("status", no_wrap=True)
    table.add_column("figure", overflow="fold", max_width=14)
    table.add_column("detail / hint", ratio=3, min_width=20)
    for host, check in _rows(hosts):
        detail = Text(check["detail"])
        if check["hint"]:
            detail.append(f"\nhint: {check['hint']}", style="cyan")
        status = Status(check["status"])
        row = [check["id"], check["title"], Text(status.value, STATUS_STYLE[status]), check["figure"], detail]
        table.add_row(*([host["host"]] if several else []), *row)
    console.print(table)
    counts = family_counts((c["family"], c["status"]) for host in hosts for c in host["checks"])
    if counts:
        console.print(_family_text(counts))
    # Verdict lines are never wrapped (soft_wrap): rich folds at 80 columns when piped, and a log, CI or
    # `| tail -1` must get the whole line; the table above may fold.
    if several:
        for host in hosts:
            console.print(f"{host['host']}: {host['verdict']['line']}", markup=False, highlight=False, soft_wrap=True)
    note = partial_note(report)
    if note:
        console.print(Text(note, style="bold yellow"), soft_wrap=True)
    overall = report["verdict"]
    style = "bold green" if overall["exit_code"] == 0 else "bold red"
    console.print(Text(overall["line"], style=style), soft_wrap=True)


def _rows(hosts: Sequence[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """Check by check, each host's row under the other: a fleet's replicas that disagree stand out."""
    order: dict[str, int] = {}
    for host in hosts:
        for check in host["checks"]:
            order.setdefault(check["id"], len(order))
    rows = [(host, check) for host in hosts for check in host["checks"]]
    return sorted(rows, key=lambda row: order[row[1]["id"]])  # stable: hosts keep their order


def _family_text(counts: Sequence[FamilyCount]) -> Text:
    text = Text()
    for index, count in enumerate(counts):
        if index:
            text.append(" · ", style="dim")
        style = "red" if count.broken else "yellow" if count.skipped else "green"
        text.append(count.text, style=style)
    return text
