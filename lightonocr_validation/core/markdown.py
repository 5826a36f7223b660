"""Small Markdown builders shared by the generated documents: tables, inline code, values, numbers (the one
formatter of a figure that may be missing, which `invoke tune`'s console table uses too)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

# What an empty table cell shows; an escape, since ruff flags a literal en dash as ambiguous.
NONE = "\N{EN DASH}"


def cell(text: str) -> str:
    """Text safe inside a table cell: a `|` would end the cell even inside backticks (GFM)."""
    return " ".join(str(text).split()).replace("|", "\\|")


def code(text: str) -> str:
    """Inline code that survives backticks inside the text."""
    text = str(text)
    fence = "``" if "`" in text else "`"
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def formatted(value: Any, pattern: str, missing: str = NONE) -> str:
    """``value`` in ``pattern`` ("{:.2f}", "{:.1f} s", "{:+.1%}"), or ``missing`` where there is none."""
    return missing if value is None else pattern.format(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def value(data: Any) -> str:
    """A configuration value as it would be written in invoke.yaml (JSON is valid YAML)."""
    return code(json.dumps(data, ensure_ascii=False))


def fenced(text: str, language: str = "") -> str:
    return f"```{language}\n{text.rstrip()}\n```"


def rst_to_markdown(text: str) -> str:
    """Docstrings use reStructuredText's double backticks; Markdown wants single ones."""
    return text.replace("``", "`")


def cases_table(cases: Sequence[Any], does: str) -> str:
    """A calibration's seeded cases (``name``, ``healthy``, ``what``): the text and the grounding calibrations'
    first tables; ``does`` heads the last column ("what the reading does")."""
    rows = [[case.name, "healthy" if case.healthy else "broken", case.what] for case in cases]
    return table(["case", "kind", does], rows)


def case_page_table(cells: Sequence[Any], page_of: Callable[[Any], str]) -> str:
    """Cases down, pages across (``page_of`` names a cell's page); each cell its ``show()``, marked when any
    seed was judged wrongly (``right`` false). The grounding calibration's table is drawn the same way."""
    pages = list(dict.fromkeys(page_of(cell) for cell in cells))
    cases = list(dict.fromkeys(cell.case.name for cell in cells))
    by_key = {(cell.case.name, page_of(cell)): cell for cell in cells}
    rows = []
    for name in cases:
        row = [name]
        for label in pages:
            cell = by_key[(name, label)]
            row.append(cell.show() + ("" if cell.right else " **wrong**"))
        rows.append(row)
    return table(["case", *pages], rows)
