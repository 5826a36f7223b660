"""Charts of a bench result: throughput and p95 latency against load, and the latency distribution.

Drawn with matplotlib's object API (a `Figure` per chart, no pyplot): no global state, no GUI backend, safe
in a task that runs threads. `write_charts` saves PNG files; the HTML report embeds the same charts as SVG.
Output is deterministic for one matplotlib version: no date in the metadata, a fixed salt for SVG ids.

Each plotted series carries an SVG id, `series-<host>` (and `goodput-<host>`, `p50-<host>`, `cdf-<host>-<n>`),
so the report's test can find every host's line in the page a browser drew.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightonocr_validation.bench.readout import FLEET, Series, numbers, series_of

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# Fixed render settings: the same result gives the same bytes, whatever the user's matplotlibrc says.
RC = {
    "svg.hashsalt": "lightonocr-validation",
    "svg.fonttype": "path",  # glyphs as paths: the SVG needs no font on the reader's machine
    "font.family": "DejaVu Sans",  # shipped with matplotlib
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.dpi": 100,
}
PNG_METADATA = {"Software": None}
SVG_METADATA = {"Date": None, "Creator": None}
SIZE = (7.0, 4.0)  # inches: 700 x 400 pixels at 100 dpi
FLEET_STYLE = {"color": "black", "linestyle": "--"}
_SLO = re.compile(r"p(?P<q>\d+)_e2e\s*<=\s*(?P<seconds>[\d.]+)\s*s")


class ChartsUnavailable(RuntimeError):
    """matplotlib is not installed in this environment."""


@dataclass(frozen=True)
class Chart:
    name: str  # file stem: "throughput", "latency", "latency-distribution"
    title: str
    figure: Figure


def write_charts(result: Mapping[str, Any], out_dir: Path) -> list[Path]:
    """Write the result's charts as PNG files in `out_dir` (created); returns their paths in order.

    throughput.png (pages/s, and accurate goodput, against load), latency.png (p95 and p50 end-to-end latency
    against load, with the SLO line) and, when the result holds its requests, latency-distribution.png (the
    CDF of end-to-end latency, and of TTFT when streamed, per load). With `--runs` > 1 the points are the
    mean of the runs, with the 95 % interval from `summary.intervals` as error bars.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for chart in build_charts(result):
        path = out_dir / f"{chart.name}.png"
        with _rc():
            chart.figure.savefig(path, format="png", metadata=PNG_METADATA)
        paths.append(path)
    return paths


def chart_svgs(result: Mapping[str, Any]) -> list[tuple[Chart, str]]:
    """Each chart with its SVG text (no XML declaration), for embedding in HTML."""
    rendered = []
    for chart in build_charts(result):
        buffer = io.StringIO()
        with _rc():
            chart.figure.savefig(buffer, format="svg", metadata=SVG_METADATA)
        rendered.append((chart, buffer.getvalue()))
    return rendered


def build_charts(result: Mapping[str, Any]) -> list[Chart]:
    """The charts this result has data for (the distribution needs `points[].requests`)."""
    figure_class = _figure_class()
    series = [s for s in series_of(result) if s.by_load]
    if not series:
        return []
    kind = series[0].loads[0].kind
    with _rc():
        charts = [
            Chart("throughput", "Throughput against load", _throughput(figure_class(figsize=SIZE), series, kind)),
            Chart(
                "latency",
                "End-to-end latency against load",
                _latency(figure_class(figsize=SIZE), series, kind, _slo(result)),
            ),
        ]
        with_requests = [s for s in series if s.name != FLEET and any(s.requests(load) for load in s.loads)]
        if with_requests:
            charts.append(
                Chart("latency-distribution", "Latency distribution", _distribution(figure_class, with_requests))
            )
    return charts


def series_id(prefix: str, name: str) -> str:
    """The SVG id of a series: `series-local`, `p50-gpu-1`; any character outside [a-z0-9] becomes '-'."""
    return f"{prefix}-{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-') or 'host'}"


def _throughput(figure: Figure, series: Sequence[Series], kind: str) -> Figure:
    axes = figure.add_subplot()
    for index, one in enumerate(series):
        style = _style(one, index)
        _plot(axes, one, "pages_per_s", series_id("series", one.name), label=one.name, marker="o", **style)
        goodput = [one.value("accurate_goodput_pages_per_s", load) for load in one.loads]
        if any(v is not None for v in goodput):
            _plot(
                axes,
                one,
                "accurate_goodput_pages_per_s",
                series_id("goodput", one.name),
                label=f"{one.name} accurate goodput",
                marker=".",
                alpha=0.6,
                **{**style, "linestyle": ":"},
            )
    _axes(axes, series, kind, "pages/s", "Throughput: pages per second (higher is better)")
    axes.set_ylim(bottom=0)
    figure.set_layout_engine("constrained")
    return figure


def _latency(figure: Figure, series: Sequence[Series], kind: str, slo: tuple[str, float] | None) -> Figure:
    axes = figure.add_subplot()
    for index, one in enumerate(series):
        style = _style(one, index)
        _plot(axes, one, "e2e_s.p95", series_id("series", one.name), label=f"{one.name} p95", marker="o", **style)
        _plot(
            axes,
            one,
            "e2e_s.p50",
            series_id("p50", one.name),
            label=f"{one.name} p50",
            marker=".",
            alpha=0.6,
            **{**style, "linestyle": ":"},
        )
    title = "End-to-end latency (lower is better)"
    highest = max((v for line in axes.get_lines() for v in line.get_ydata()), default=0.0)
    if slo is not None and slo[1] <= 2 * highest:
        axes.axhline(slo[1], color="tab:red", linewidth=1, label=f"SLO {slo[0]}", gid="slo")
    elif slo is not None:
        # A line far above the data would flatten every series to the axis: named in the title instead.
        title += f"; SLO {slo[0]} far above"
    _axes(axes, series, kind, "seconds", title)
    axes.set_ylim(bottom=0)
    figure.set_layout_engine("constrained")
    return figure


def _distribution(figure_class: type[Figure], series: Sequence[Series]) -> Figure:
    with_ttft = any(numbers(r.get("ttft_s") for load in s.loads for r in s.requests(load)) for s in series)
    columns = ("e2e_s", "ttft_s") if with_ttft else ("e2e_s",)
    figure = figure_class(figsize=(SIZE[0], max(SIZE[1], 2.6 * len(series))))
    grid = figure.subplots(len(series), len(columns), squeeze=False)
    import matplotlib as mpl

    colormap = mpl.colormaps["viridis"]
    for row, one in enumerate(series):
        loads = [load for load in one.loads if one.requests(load)]
        for column, field in enumerate(columns):
            axes = grid[row][column]
            for index, load in enumerate(loads):
                values = sorted(numbers(r.get(field) for r in one.requests(load)))
                if not values:
                    continue
                share = [(i + 1) / len(values) for i in range(len(values))]
                axes.step(
                    values,
                    share,
                    where="post",
                    color=colormap(index / max(1, len(loads) - 1) * 0.9),
                    label=load.label,
                    gid=f"{series_id('cdf', one.name)}-{field.removesuffix('_s')}-{index}",
                )
            what = "end-to-end latency" if field == "e2e_s" else "time to first token"
            axes.set_title(f"{one.name}: {what}", fontsize=9)
            axes.set_xlabel("seconds")
            axes.set_ylabel("share of requests")
            axes.set_ylim(0, 1.02)
            axes.set_xlim(left=0)
            if axes.has_data():
                axes.legend(fontsize=7, loc="lower right")
    figure.set_layout_engine("constrained")
    return figure


def _plot(axes: Axes, one: Series, figure: str, gid: str, **style: Any) -> None:
    """The figure per load as a line with markers, and the 95 % intervals as error bars where known."""
    loads = [load for load in one.loads if one.value(figure, load) is not None]
    if not loads:
        return
    x = [load.value for load in loads]
    y = [one.value(figure, load) or 0.0 for load in loads]
    (line,) = axes.plot(x, y, **style)
    line.set_gid(gid)
    intervals = [one.interval(figure, load) for load in loads]
    if any(intervals):
        below = [max(0.0, v - i[0]) if i else 0.0 for v, i in zip(y, intervals, strict=True)]
        above = [max(0.0, i[1] - v) if i else 0.0 for v, i in zip(y, intervals, strict=True)]
        bars = axes.errorbar(
            x, y, yerr=[below, above], fmt="none", ecolor=line.get_color(), capsize=3, elinewidth=1, label="_nolegend_"
        )
        for collection in bars.lines[2]:
            collection.set_gid(f"{gid}-interval")


def _axes(axes: Axes, series: Sequence[Series], kind: str, ylabel: str, title: str) -> None:
    loads = sorted({load.value for one in series for load in one.loads})
    if kind == "concurrency" and loads[0] > 0 and loads[-1] / loads[0] >= 4:
        # Concurrency sweeps double (1, 2, 4, ... 64): even spacing on a log scale.
        axes.set_xscale("log", base=2)
    axes.set_xticks(loads, [f"{v:g}" for v in loads])
    axes.minorticks_off()
    axes.set_xlabel("concurrent requests" if kind == "concurrency" else "request rate (requests/s)")
    axes.set_ylabel(ylabel)
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=7, loc="best")


def _style(one: Series, index: int) -> dict[str, Any]:
    if one.name == FLEET:
        return dict(FLEET_STYLE)
    return {"color": f"C{index % 10}", "linestyle": "-"}


def _slo(result: Mapping[str, Any]) -> tuple[str, float] | None:
    """The latency objective, "p95_e2e<=20s", as its text and its seconds; None when absent or of another kind."""
    text = str((result.get("settings") or {}).get("slo") or "")
    match = _SLO.fullmatch(text.strip())
    return (text.strip(), float(match["seconds"])) if match else None


def _rc() -> Any:
    import matplotlib as mpl

    return mpl.rc_context(RC)


def _figure_class() -> type[Figure]:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ChartsUnavailable(
            "matplotlib is not installed: charts and the HTML report need it; install the `bench` extra "
            "(uv pip install 'matplotlib>=3.9')"
        ) from None
    return Figure
