"""The bench report as ONE self-contained HTML file: summary, charts, figures per host and load, settings, provenance.

It works offline and leaks nothing: the charts are inline SVG (glyphs drawn as paths, so no font is fetched),
the style sheet is inline, there is no script, and a Content-Security-Policy forbids the page to load anything
at all. Every string taken from the result is HTML-escaped, since it may quote a server's text; URLs are
shown as text without their user name or password, never as links.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lightonocr_validation.bench.charts import chart_svgs
from lightonocr_validation.bench.readout import (
    FLEET,
    NO_VALUE,
    Load,
    Series,
    check_result,
    figure_value,
    format_number,
    series_of,
)
from lightonocr_validation.core.files import write_text
from lightonocr_validation.core.serialize import public_url

# Nothing may be fetched: inline <style> (the page's and the SVGs') is the only thing allowed in.
CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
# (heading, figure): the figures table's columns after load and run.
COLUMNS: Sequence[tuple[str, str]] = (
    ("requests", "requests"),
    ("completed", "completed"),
    ("errors", "errors"),
    ("error rate", "error_rate"),
    ("truncated", "truncation_rate"),
    ("pages/s", "pages_per_s"),
    ("steady pages/s (- : one wave)", "steady.pages_per_s"),
    ("output tok/s", "output_tokens_per_s"),
    ("e2e p50 s", "e2e_s.p50"),
    ("e2e p95 s", "e2e_s.p95"),
    ("e2e p99 s", "e2e_s.p99"),
    ("TTFT p50 s", "ttft_s.p50"),
    ("TTFT p95 s", "ttft_s.p95"),
    ("accuracy", "accuracy"),
    ("accuracy vs c=1", "accuracy_vs_c1"),
    ("accurate goodput pages/s", "accurate_goodput_pages_per_s"),
    ("cost / 1000 pages", "cost_per_1000_pages"),
)
STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 78rem; padding: 0 1rem; color: #1b1b1b; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
.meta { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ddd; padding: .2rem .5rem; text-align: right; vertical-align: top; }
th { background: #f4f4f4; } td.text, th.text { text-align: left; } td.text { white-space: nowrap; }
tr.mean td { font-weight: 600; background: #fafafa; }
figure { margin: 1rem 0; } figure svg { max-width: 100%; height: auto; display: block; }
figcaption { color: #555; font-size: .9rem; }
.scroll { overflow-x: auto; } .missing { color: #a00; }
"""


def write_html(result: Mapping[str, Any], path: Path) -> Path:
    """Write the report of `result` to `path` (whole or not at all) and return the path.

    Raises ResultError when `result` is not a bench result, ChartsUnavailable without matplotlib.
    """
    path = Path(path)
    write_text(path, render_html(result))
    return path


def render_html(result: Mapping[str, Any]) -> str:
    check_result(result)
    series = series_of(result)
    provenance = result.get("provenance") or {}
    settings = result.get("settings") or {}
    title = f"LightOnOCR bench: {provenance.get('model') or 'model'} ({result.get('created') or 'undated'})"
    body = [
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">schema {_e(result.get("schema"))} · mode {_e(settings.get("mode") or NO_VALUE)} · '
        f"{len(result['hosts'])} host(s) · runs per load {_e(settings.get('runs') or 1)}</p>",
        _summary(result),
        _scaling(result),
        _charts(result),
        '<section id="figures"><h2>Figures per host and load</h2>',
        *(_figures(one) for one in series),
        "</section>",
        '<section id="settings"><h2>Settings</h2>',
        _key_values(_flatten(settings)),
        "</section>",
        '<section id="provenance"><h2>Provenance</h2>',
        _key_values(_flatten(provenance)),
        "</section>",
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CSP)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="referrer" content="no-referrer">\n<title>{_e(title)}</title>\n'
        f"<style>{STYLE}</style>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )


def _summary(result: Mapping[str, Any]) -> str:
    rows = []
    groups = [(str(host.get("name")), str(host.get("url") or ""), host) for host in result["hosts"]]
    if isinstance(result.get("fleet"), dict) and result["fleet"].get("summary"):
        groups.append((FLEET, "all hosts together", result["fleet"]))
    for name, url, group in groups:
        summary = group.get("summary") if isinstance(group.get("summary"), dict) else {}
        best = summary.get("best_pages_per_s") or {}
        slo = summary.get("slo") or {}
        objective = slo.get("objective")
        met_at = slo.get("met_at")
        if not objective:
            met = NO_VALUE
        elif isinstance(met_at, dict):
            met = _e(_load_text(met_at))
        else:
            met = '<span class="missing">not met</span>'
        rows.append(
            [
                _e(name),
                _e(public_url(url)),
                _e(format_number(_float(best.get("pages_per_s"))) + (f" ({best['mark']})" if best.get("mark") else "")),
                _e(_load_text(best)),
                _e(objective or NO_VALUE),
                met,
                _e(format_number(_float(slo.get("pages_per_s")))),
            ]
        )
    table = _table(
        ["host", "url", "best pages/s", "at", "SLO", "met up to", "pages/s within SLO"],
        rows,
        text_columns={0, 1, 3, 4, 5},
    )
    return f'<section id="summary"><h2>Summary</h2>{table}</section>'


def _scaling(result: Mapping[str, Any]) -> str:
    """A fleet against one GPU: each load per GPU with the two figures its efficiency is made of; "" without."""
    block = result.get("scaling")
    if not isinstance(block, dict):
        return ""
    gpus = block.get("gpus")
    what = f"{gpus} replicas" if block.get("layout") == "replicas" else f"one data-parallel server on {gpus} GPUs"
    source = (block.get("single_gpu") or {}).get("source")
    rows = []
    entries = [(entry, _load_text({k: entry.get(k) for k in ("concurrency", "rate")})) for entry in block["loads"]]
    entries.append((block.get("peak") or {}, "peak (best of each)"))
    for entry, where in entries:
        rows.append(
            [
                _e(where),
                _e(format_number(_float(entry.get("total_pages_per_s")))),
                _e(format_number(_float(entry.get("single_gpu_pages_per_s")))),
                _e(gpus),
                _e(_percent(entry.get("efficiency"))),
                _e(format_number(_float(entry.get("total_e2e_p95_s")))),
                _e(format_number(_float(entry.get("single_gpu_e2e_p95_s")))),
            ]
        )
    headers = ["load per GPU", "total pages/s", "one GPU pages/s", "GPUs", "scaling efficiency"]
    table = _table([*headers, "total e2e p95 s", "one GPU e2e p95 s"], rows, text_columns={0})
    return (
        f'<section id="scaling"><h2>Scaling: {_e(what)}</h2>'
        f'<p class="meta">scaling efficiency = {_e(block.get("definition"))}; one GPU\'s figure: {_e(source)}</p>'
        f"{table}</section>"
    )


def _percent(value: Any) -> str:
    number = _float(value)
    return NO_VALUE if number is None else f"{number:.0%}"


def _charts(result: Mapping[str, Any]) -> str:
    parts = ['<section id="charts"><h2>Charts</h2>']
    for chart, svg in chart_svgs(result):
        parts.append(
            f'<figure id="chart-{_e(chart.name)}">{_inline_svg(svg, chart.name, chart.title)}'
            f"<figcaption>{_e(chart.title)}</figcaption></figure>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def _figures(one: Series) -> str:
    heading = "fleet (totals over the hosts)" if one.name == FLEET else one.name
    rows: list[list[str]] = []
    for load in one.loads:
        points = one.by_load[load]
        for point in sorted(points, key=lambda p: _float(p.get("run")) or 0):
            rows.append(
                [_e(load.label), _e(point.get("run") if point.get("run") is not None else NO_VALUE)]
                + [_e(format_number(figure_value(point, figure))) for _, figure in COLUMNS]
            )
        if len(points) > 1:
            rows.append(_mean_row(one, load))
    table = _table(["load", "run", *(c[0] for c in COLUMNS)], rows, text_columns={0, 1}, mean_marker=True)
    return f'<h3>{_e(heading)}</h3><div class="scroll">{table}</div>'


def _mean_row(one: Series, load: Load) -> list[str]:
    cells = [_e(load.label), "mean"]
    for _, figure in COLUMNS:
        text = format_number(one.value(figure, load))
        interval = one.interval(figure, load)
        if interval is not None and interval[1] > interval[0]:
            text += f" [{format_number(interval[0])} to {format_number(interval[1])}]"
        cells.append(_e(text))
    return cells


def _table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], text_columns: set[int], mean_marker: bool = False
) -> str:
    """Cells arrive escaped (they may hold markup of ours); headers are escaped here."""

    def cls(index: int) -> str:
        return ' class="text"' if index in text_columns else ""

    head = "".join(f"<th{cls(i)}>{_e(h)}</th>" for i, h in enumerate(headers))
    body = []
    for row in rows:
        marker = ' class="mean"' if mean_marker and len(row) > 1 and row[1] == "mean" else ""
        body.append(f"<tr{marker}>" + "".join(f"<td{cls(i)}>{cell}</td>" for i, cell in enumerate(row)) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _key_values(pairs: Sequence[tuple[str, str]]) -> str:
    rows = [[_e(key), _e(value)] for key, value in pairs]
    return _table(["key", "value"], rows, text_columns={0, 1})


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Nested settings or provenance as ("a.b", "text") rows; lists of plain values joined by commas."""
    if isinstance(value, Mapping):
        pairs: list[tuple[str, str]] = []
        for key, item in value.items():
            pairs += _flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return pairs
    if isinstance(value, list) and any(isinstance(item, Mapping | list) for item in value):
        return [pair for index, item in enumerate(value) for pair in _flatten(item, f"{prefix}[{index}]")]
    if isinstance(value, list):
        return [(prefix, ", ".join(_text(item) for item in value))]
    if isinstance(value, str):
        value = public_url(value) if "://" in value else value
    return [(prefix, _text(value))]


def _inline_svg(svg: str, prefix: str, title: str) -> str:
    """matplotlib's SVG made fit to sit inside HTML beside others: no XML prolog or metadata, ids prefixed."""
    svg = re.sub(r"^.*?(?=<svg\b)", "", svg, flags=re.DOTALL)
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.DOTALL)
    # Several charts in one page: matplotlib's ids (glyphs, clip paths, markers) must not collide.
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', svg)
    svg = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", svg)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{_e(title)}" ', 1)


def _load_text(load: Any) -> str:
    if not isinstance(load, Mapping):
        return NO_VALUE
    parts = [f"{key} {_text(value)}" for key, value in load.items() if key != "pages_per_s" and value is not None]
    return ", ".join(parts) or NO_VALUE


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text(value: Any) -> str:
    if value is None:
        return NO_VALUE
    if isinstance(value, Mapping | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)
