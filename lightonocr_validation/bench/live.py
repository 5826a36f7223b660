"""What `invoke bench` shows: a live line per host while a point runs, a line per finished point, the end table.

Workers only bump counters under a lock; rich redraws four times a second from its own thread, so the
display costs the client next to nothing. On a terminal that is not interactive (CI) only the finished-point
lines and the table are printed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from lightonocr_validation.bench.limits import PREFILL_SHARE
from lightonocr_validation.bench.steady import ONE_WAVE, headline, headline_figure, is_steady
from lightonocr_validation.load.records import Load, PointRun, RequestRecord


class BenchProgress:
    def __init__(self, console: Console, planned: int | None) -> None:
        self._console = console
        self._planned = planned
        self._lock = threading.Lock()
        self._state: dict[str, dict[str, Any]] = {}
        # Redrawn from the counters by rich's own thread: the workers never render.
        self._live = Live(console=console, transient=True, refresh_per_second=4, get_renderable=self._render)

    def __enter__(self) -> BenchProgress:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.__exit__(*exc)

    def on_record(self, host: str, load: Load, record: RequestRecord) -> None:
        with self._lock:
            state = self._state.get(host)
            if state is None or state["load"] != load:
                state = self._state[host] = {"load": load, "done": 0, "errors": 0, "since": time.perf_counter()}
            state["done"] += 1
            state["errors"] += not record.ok

    def on_point(self, point: PointRun) -> None:
        with self._lock:
            self._state.pop(point.host, None)
        done = [r for r in point.records if r.ok]
        e2e = sorted(r.exchange.e2e_s for r in done)
        median = f"{e2e[len(e2e) // 2]:.2f} s" if e2e else "n/a"
        pages = len(done) / point.duration_s if point.duration_s > 0 else 0.0
        line = (
            f"{point.host}  {point.load.label} run {point.run}: {len(point.records)} requests, "
            f"{pages:.2f} pages/s, median {median}, {len(point.records) - len(done)} errors"
        )
        self._live.console.print(line, markup=False, highlight=False)

    def _render(self) -> Text:
        with self._lock:
            lines = []
            for host, state in self._state.items():
                elapsed = time.perf_counter() - state["since"]
                planned = f"/{self._planned}" if self._planned else ""
                lines.append(
                    f"{host}  {state['load'].label}: {state['done']}{planned} requests, "
                    f"{state['errors']} errors, {elapsed:.0f} s"
                )
        return Text("\n".join(lines) or "warming up…", style="dim")


def _seconds(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}" if value < 0.1 else f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _share(value: Any) -> str:
    return "-" if value is None else f"{value:.0%}"


def _number(value: Any, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render_table(console: Console, result: Mapping[str, Any]) -> None:
    """Per host (and for the fleet) a speed table and a quality-and-cost table, a row per load with its runs
    pooled, each narrow enough for an 80-column CI log; then a summary line."""
    blocks = [(host["name"], host["summary"]) for host in result["hosts"]]
    if result.get("fleet"):
        blocks.append(("fleet", result["fleet"]["summary"]))
    for name, summary in blocks:
        if not summary["loads"]:  # stopped (or the server gone) before a point was measured: no empty tables
            console.print(f"{name}: no load point measured", markup=False, highlight=False)
            continue
        speed = Table(title=f"{name}: speed (seconds; steady state where measured)", title_justify="left")
        for column in ("load", "pages", "state", "pages/s", "tok/s", "e2e p50", "p95", "p99", "ttft p50", "itl p50"):
            speed.add_column(column, justify="left" if column in ("load", "state") else "right")
        quality = Table(title=f"{name}: quality and cost", title_justify="left")
        for column in ("load", "errors", "truncated", "accuracy", "vs c1", "acc. goodput", "per 1000", "client"):
            quality.add_column(column, justify="left" if column == "load" else "right")
        for load in summary["loads"]:
            f = load["figures"]
            where = f"rate {load['rate']:g}/s" if load["rate"] is not None else f"c={load['concurrency']}"
            speed.add_row(
                where,
                str(f["requests"]),
                state(f),
                _number(headline(f)[0]),
                _number(headline_figure(f, "output_tokens_per_s"), 0),
                *(_seconds(headline_figure(f, f"e2e_s.{q}")) for q in ("p50", "p95", "p99")),
                _seconds(headline_figure(f, "ttft_s.p50")),
                _seconds(headline_figure(f, "itl_s.p50")),
            )
            quality.add_row(
                where,
                _share(f["error_rate"]),
                _share(f["truncation_rate"]),
                _share(f["accuracy"]),
                _number(f["accuracy_vs_c1"]),
                _number(f["accurate_goodput_pages_per_s"]),
                _number(f["cost_per_1000_pages"], 3),
                _seconds((f["client_s"] or {}).get("p50")),
            )
        console.print(speed)
        limit = limit_table(name, summary["loads"], result["settings"])
        if limit is not None:
            console.print(limit)
        console.print(quality)
        breakdown = time_breakdown(name, summary["loads"])
        if breakdown is not None:
            console.print(breakdown)
            steps = engine_steps(name, summary["loads"])
            if steps is not None:
                console.print(steps)
        else:
            console.print(f"{name}: {NO_BREAKDOWN}", markup=False, highlight=False)
        console.print(summary_line(name, summary, result["settings"]), markup=False, highlight=False)


def state(seen: Mapping[str, Any]) -> str:
    """ "steady 4.0 waves", "one wave", or "-" (rate mode: an open loop has no waves)."""
    block = seen.get("steady")
    if not isinstance(block, Mapping):
        return "-"
    return f"steady {block['waves']:.1f} waves" if is_steady(seen) else ONE_WAVE


def limit_table(name: str, loads: Sequence[Mapping[str, Any]], settings: Mapping[str, Any]) -> Table | None:
    """Each load's pages/s against the physical limit of its GPU for its pages and answers (limits.py)."""
    blocks = [(load, load["figures"].get("limit")) for load in loads]
    if not any(block for _, block in blocks):
        return None
    gpu = settings.get("gpu") or {}
    card = gpu.get("name") or "GPU unknown"
    table = Table(
        title=f"{name}: against the limit ({card}; prefill at {PREFILL_SHARE:.0%} of peak, pages/s)",
        title_justify="left",
    )
    for column in ("load", "prompt", "answer", "decode", "prefill", "combined", "measured", "share"):
        table.add_column(column, justify="left" if column == "load" else "right")
    for load, block in blocks:
        if not block:
            continue
        rate, mark = headline(load["figures"])
        table.add_row(
            f"c={load['concurrency']}",
            _number(block["prompt_tokens"], 0),
            _number(block["answer_tokens"], 0),
            _number(block["decode_pages_per_s"]),
            _number(block["prefill_pages_per_s"]),
            _number(block["combined_pages_per_s"]),
            _number(rate) + (f" ({mark})" if mark else ""),
            _share(block["share"]),
        )
    return table


NO_BREAKDOWN = "no server time breakdown: /metrics unreadable or without vLLM's request histograms"


def time_breakdown(name: str, loads: Sequence[Mapping[str, Any]]) -> Table | None:
    """Mean seconds per request at each load: the client's own CPU time, then vLLM's queue, prefill (the vision
    encoder included) and decode, the server's whole e2e and the e2e the client saw (the gap is the upload,
    the network and the server's handling outside the engine). None when no load has a server breakdown."""
    if not any(load.get("server_time") for load in loads):
        return None
    table = Table(title=f"{name}: where the time goes (mean s per request)", title_justify="left")
    columns = ("load", "counted", "client", "queue", "prefill", "decode", "server e2e", "seen e2e")
    for column in columns:
        table.add_column(column, justify="left" if column == "load" else "right")
    for load in loads:
        where = f"rate {load['rate']:g}/s" if load["rate"] is not None else f"c={load['concurrency']}"
        server = load.get("server_time") or {}
        f = load["figures"]
        table.add_row(
            where,
            str(server["requests"]) if server else "-",
            _seconds((f["client_s"] or {}).get("mean")),
            *(_seconds(server.get(phase)) for phase in ("queue_s", "prefill_s", "decode_s", "e2e_s")),
            _seconds((f["e2e_s"] or {}).get("mean")),
        )
    return table


def engine_steps(name: str, loads: Sequence[Mapping[str, Any]]) -> Table | None:
    """The engine's steps at each load and the share of them that also computed prompt tokens: a table of its
    own, so the time table above still fits an 80-column log. None when no load counted steps."""
    if not any((load.get("server_time") or {}).get("engine") for load in loads):
        return None
    table = Table(title=f"{name}: engine steps (vLLM's step-size histogram)", title_justify="left")
    for column in ("load", "steps", "mixed with prefill"):
        table.add_column(column, justify="left" if column == "load" else "right")
    for load in loads:
        where = f"rate {load['rate']:g}/s" if load["rate"] is not None else f"c={load['concurrency']}"
        table.add_row(where, *_steps((load.get("server_time") or {}).get("engine")))
    return table


def _steps(engine: Mapping[str, Any] | None) -> tuple[str, str]:
    """The engine's steps in the window and the share that computed prompt tokens beside the decode ("mixed":
    more tokens than requests in flight), from vLLM's step-size histogram."""
    steps = (engine or {}).get("steps")
    mixed = (engine or {}).get("steps_with_prefill_at_least")
    if not steps:
        return "-", "-"
    return str(steps), "-" if mixed is None else f">={mixed / steps:.0%}"


def summary_line(name: str, summary: Mapping[str, Any], settings: Mapping[str, Any]) -> str:
    best = summary.get("best_pages_per_s")
    parts = []
    if best and best.get("pages_per_s") is not None:
        where = f"rate {best['rate']:g}/s" if best.get("rate") is not None else f"concurrency {best['concurrency']}"
        mark = f" ({best['mark']})" if best.get("mark") else ""
        parts.append(f"best {best['pages_per_s']:.2f} pages/s{mark} at {where}")
    slo = summary.get("slo")
    if slo:
        if slo["met_at"] is None:
            parts.append(f"{slo['objective']} met at no load")
        else:
            where = ", ".join(f"{k} {v:g}" for k, v in slo["met_at"].items() if v is not None)
            parts.append(f"{slo['objective']} met up to {where}: {slo['pages_per_s']:.2f} pages/s")
    interval = summary.get("intervals", {}).get("pages_per_s")
    if interval:
        spans = "; ".join(f"{load}: {low:.2f}-{high:.2f}" for load, (low, high) in interval.items())
        parts.append(f"pages/s 95 % interval {spans}")
    if summary.get("stopped_because"):
        parts.append(f"the sweep stopped: {summary['stopped_because']}")
    if not settings.get("accuracy_judged"):
        parts.append(f"accuracy not judged ({settings.get('accuracy_note')})")
    return f"{name}: " + "; ".join(parts)


def client_warnings(result: Mapping[str, Any]) -> Sequence[str]:
    """Points where the client itself was busy enough to bend the figures."""
    found = []
    for host in result["hosts"]:
        for load in host["summary"]["loads"]:
            share = load["figures"].get("client_cpu_share")
            # A host that answered nothing (a replica that is down) has no figure for the client to bend.
            if share is not None and share > 0.5 and load["figures"].get("completed"):
                found.append(
                    f"{host['name']} at concurrency {load['concurrency']}: the client used {share:.0%} of the cores"
                )
    return found
