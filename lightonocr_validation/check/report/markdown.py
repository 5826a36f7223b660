"""A Markdown report for people: the verdict first, then provenance, each host's results, and what to do.

Rendered from the report dict, like the JSON and JUnit reports. Every value from a check or a server is
escaped: a pipe in a detail would otherwise split a table cell, and markup in a server's reply would render.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from lightonocr_validation.check.report.counts import family_counts, family_line, partial_note
from lightonocr_validation.core.files import write_text
from lightonocr_validation.core.serialize import jsonable

TITLE = "LightOnOCR server validation"
_MARKUP = re.compile(r"([\\`*_\[\]|])")
COLUMNS = ("ID", "Title", "Status", "Figure", "Detail", "Hint")


def render_markdown(report: Mapping[str, Any]) -> str:
    report = jsonable(report)
    return "\n".join(_lines(report)).rstrip("\n") + "\n"


def write_markdown(path: Path, report: Mapping[str, Any]) -> None:
    write_text(path, render_markdown(report))


def escape(value: Any) -> str:
    """Text as literal Markdown on one line: markup and pipes backslash-escaped, HTML characters as entities,
    line breaks as <br> (a table row cannot span lines)."""
    text = "" if value is None else str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MARKUP.sub(r"\\\1", text)
    return "<br>".join(text.splitlines())


def _lines(report: Mapping[str, Any]) -> Iterator[str]:
    verdict = report.get("verdict") or {}
    hosts = report.get("hosts") or []
    # The verdict is the first line: a CI job's summary or a chat preview shows it without opening the file.
    yield f"**{escape(verdict.get('line', 'no verdict'))}** (exit code {verdict.get('exit_code', '?')})"
    yield ""
    note = partial_note(report)
    if note:
        yield f"> **{escape(note)}**"
        yield ""
    checks = [check for host in hosts for check in host.get("checks", [])]
    if checks:
        yield escape(family_line(family_counts((c.get("family", ""), c.get("status", "")) for c in checks)))
        yield ""
    yield f"# {TITLE}"
    yield ""
    yield "## Provenance"
    yield ""
    yield "| Field | Value |"
    yield "|---|---|"
    for name, value in _provenance_rows(report, hosts):
        yield f"| {name} | {escape(value) if value not in (None, '') else '—'} |"
    yield ""
    yield "## Results"
    for host in hosts:
        yield ""
        yield f"### {escape(host.get('host', ''))}: {escape((host.get('verdict') or {}).get('line', ''))}"
        yield ""
        yield "| " + " | ".join(COLUMNS) + " |"
        yield "|" + "---|" * len(COLUMNS)
        for check in host.get("checks", []):
            status = check.get("status", "")
            shown = f"**{status}**" if status in ("fail", "error") else status
            cells = (
                check.get("id"),
                check.get("title"),
                None,
                check.get("figure"),
                check.get("detail"),
                check.get("hint"),
            )
            row = [escape(cell) for cell in cells]
            row[2] = shown
            yield "| " + " | ".join(row) + " |"
    yield from _user_sets(hosts)
    todo = list(_what_to_do(hosts))
    if todo:
        yield ""
        yield "## What to do"
        yield ""
        yield from todo


def _user_sets(hosts: list[Any]) -> Iterator[str]:
    """`--pages DIR`: each host's score per category with its interval, then every test, failures first."""
    for host in hosts:
        for check in host.get("checks", []):
            data = check.get("data") or {}
            if not isinstance(data.get("results"), list) or not isinstance(data.get("by_category"), dict):
                continue
            score = data.get("score") or {}
            yield ""
            yield f"## Your pages on {escape(host.get('host', ''))}: {_share(score)}"
            yield ""
            yield (
                f"{escape(data.get('pages_dir', ''))}: {data.get('passed')}/{data.get('tests')} tests passed over "
                f"{data.get('pages')} pages; the set passes at a score of at least {_percent(data.get('score_min'))} "
                "(the mean of the category scores, as olmOCR-Bench reports)."
            )
            yield ""
            yield "| Category | Tests | Passed | Score (95% CI) |"
            yield "|---|---|---|---|"
            for name, category in data["by_category"].items():
                yield f"| {escape(name)} | {category.get('tests')} | {category.get('passed')} | {_share(category)} |"
            yield ""
            yield "| Result | Page | Category | Test | Fact | Reason |"
            yield "|---|---|---|---|---|---|"
            ordered = sorted(data["results"], key=lambda result: bool(result.get("passed")))
            for result in ordered:
                shown = "pass" if result.get("passed") else "**fail**"
                cells = [escape(result.get(key)) for key in ("page", "category", "id", "fact", "reason")]
                yield f"| {shown} | " + " | ".join(cells) + " |"


def _percent(value: Any) -> str:
    return f"{value:.1%}" if isinstance(value, int | float) else "—"


def _share(score: Mapping[str, Any]) -> str:
    return f"{_percent(score.get('score'))} ({_percent(score.get('low'))}-{_percent(score.get('high'))})"


def _provenance_rows(report: Mapping[str, Any], hosts: list[Any]) -> Iterator[tuple[str, Any]]:
    provenance = report.get("provenance") or {}
    servers = provenance.get("servers") or []
    tool = provenance.get("tool") or {}
    yield "Generated by", report.get("generated_by")
    yield "Model", provenance.get("model")
    yield "Weights", provenance.get("weights")
    for label, key in (("vLLM version", "vllm_version"), ("max_model_len", "max_model_len")):
        if len(servers) == 1:
            yield label, servers[0].get(key)
        else:
            yield label, "; ".join(f"{s.get('host')}: {s.get(key) if s.get(key) is not None else '—'}" for s in servers)
    sampling = provenance.get("sampling") or {}
    yield "Sampling", ", ".join(f"{key} {value}" for key, value in sampling.items())
    yield "Samples (sha256)", provenance.get("samples_digest")
    pages = provenance.get("pages")
    if isinstance(pages, dict):
        yield (
            "Your pages",
            f"{pages.get('dir')} ({pages.get('layout')}: {pages.get('pages')} pages, {pages.get('tests')} tests)",
        )
    client = [f"{tool.get('name', 'lightonocr-validation')} {tool.get('version', '')}".strip()]
    for label, key in (("Python", "python"), ("requests", "requests")):
        if tool.get(key):
            client.append(f"{label} {tool[key]}")
    yield "Client", ", ".join(client)
    yield "Started (UTC)", provenance.get("started_at")
    yield "Finished (UTC)", provenance.get("finished_at")
    if len(hosts) > 1:
        yield "Hosts", ", ".join(str(host.get("host", "")) for host in hosts)
    fleet = provenance.get("fleet")
    if isinstance(fleet, dict):
        yield "Fleet", f"{fleet.get('replicas')} replicas of one server, each with its own verdict above"


def _what_to_do(hosts: list[Any]) -> Iterator[str]:
    several = len(hosts) > 1
    for host in hosts:
        for check in host.get("checks", []):
            if check.get("status") not in ("fail", "error"):
                continue
            where = f" on {escape(host.get('host', ''))}" if several else ""
            advice = check.get("hint") or "read the detail above; the check gave no hint"
            yield (
                f"- **{escape(check.get('id', ''))}** {escape(check.get('title', ''))}{where}: "
                f"{escape(check.get('detail', ''))} — {escape(advice)}"
            )
