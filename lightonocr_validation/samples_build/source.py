"""Read the editable page sources in samples/src: front matter, Markdown blocks, thresholds and facts.

A page source is ``samples/src/<id>.md``: TOML front matter between ``+++`` lines, then the page's text in
Markdown. That text is also the ground truth, so the drawing and the expected answer come from one place.
``samples/src/samples.toml`` lists the pages in order and holds the rules they share (default thresholds,
fact tolerance).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lightonocr_validation.truth.facts import Fact, parse_fact

SOURCE_DIR = Path(__file__).resolve().parent.parent.parent / "samples" / "src"
INDEX_NAME = "samples.toml"
LAYOUTS = ("page", "columns", "headers-footers", "receipt", "scan", "blank", "pdf")
# Section markers inside a page's Markdown: a new column (columns layout) or a new PDF page.
COLUMN_BREAK = "<!-- column -->"
PAGE_BREAK = "<!-- page -->"
DISPLAY_MATH = re.compile(r"^\$\$(.+)\$\$$", re.DOTALL)
MANIFEST_KEYS = ("category", "expect", "layout", "lang", "thresholds", "facts")
# Layout settings a page may give (raster.py reads them): paper size, body font and sizes, the scan's seed
# and angle, the running header and footer.
SETTINGS = ("paper", "font", "size", "h2", "gap", "seed", "angle", "header_left", "header_right", "footer")


class SourceError(ValueError):
    """A page source is invalid; the message is one line naming the file and the fix."""


@dataclass(frozen=True)
class Block:
    """One piece of a page: a heading (h1, h2), a paragraph (p), a list item (li), a table or a display
    equation (eq, ``text`` is its LaTeX). ``rows`` holds a table's cells, the first row being its heading."""

    kind: str
    text: str = ""
    rows: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class PageSource:
    """One sample as written in samples/src: manifest fields, layout settings and its blocks per section."""

    id: str
    category: str
    expect: str
    layout: str
    lang: str
    thresholds: dict[str, float]
    facts: tuple[Fact, ...]
    # Sections: PDF pages, or a page's columns (the first section of a columns page spans both columns).
    sections: tuple[tuple[Block, ...], ...]
    # The raw body, line-based layouts (receipt) read it line by line.
    body: str
    settings: Mapping[str, Any] = field(default_factory=dict)

    def setting(self, key: str, default: Any) -> Any:
        return self.settings.get(key, default)


@dataclass(frozen=True)
class Index:
    order: tuple[str, ...]
    license: str
    thresholds: Mapping[str, float]
    chars_per_edit: int
    min_edits: int


def _fail(path: Path, problem: str, fix: str) -> SourceError:
    return SourceError(f"{path}: {problem}; {fix}")


def _toml(path: Path, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _fail(path, f"invalid TOML: {exc}", "fix the syntax") from None


def read_index(source_dir: Path = SOURCE_DIR) -> Index:
    path = source_dir / INDEX_NAME
    if not path.is_file():
        raise _fail(path, "not found", "list the pages in it (see the committed samples/src)")
    data = _toml(path, path.read_text(encoding="utf-8"))
    tolerance = data.get("tolerance", {})
    return Index(
        order=tuple(data.get("order", ())),
        license=str(data.get("license", "")),
        thresholds=dict(data.get("thresholds", {})),
        chars_per_edit=int(tolerance.get("chars_per_edit", 8)),
        min_edits=int(tolerance.get("min_edits", 2)),
    )


def with_tolerance(raw: Mapping[str, object], index: Index) -> dict[str, object]:
    """``raw`` with its ``max_diffs``: as written when given, else by the index's tolerance rule."""
    if raw.get("type") in ("absent", "math") or "max_diffs" in raw:  # a formula is judged as it renders: exactly
        return dict(raw)
    lengths = [len(value) for key, value in raw.items() if key not in ("type", "page") and isinstance(value, str)]
    if not lengths:
        return dict(raw)
    if raw.get("type") == "table":
        return {**raw, "max_diffs": math.ceil(min(lengths) / index.chars_per_edit)}
    return {**raw, "max_diffs": max(index.min_edits, math.ceil(max(lengths) / index.chars_per_edit))}


def parse_blocks(markdown: str) -> tuple[Block, ...]:
    """The Markdown subset the pages use: ``#``/``##`` headings, paragraphs, ``-`` lists, pipe tables and
    ``$$...$$`` display equations (inline ``$...$`` stays in its paragraph)."""
    blocks: list[Block] = []
    for chunk in re.split(r"\n\s*\n", markdown.strip()):
        lines = [line.strip() for line in chunk.strip().splitlines()]
        if not lines or not lines[0]:
            continue
        if lines[0].startswith("# "):
            blocks.append(Block("h1", " ".join(lines)[2:]))
        elif lines[0].startswith("## "):
            blocks.append(Block("h2", " ".join(lines)[3:]))
        elif all(line.startswith("- ") for line in lines):
            blocks.extend(Block("li", line[2:]) for line in lines)
        elif all(line.startswith("|") for line in lines):
            rows = [tuple(cell.strip() for cell in line.strip("|").split("|")) for line in lines]
            # The second line of a pipe table only says how columns align: drawn tables right-align numbers.
            blocks.append(Block("table", rows=tuple(r for n, r in enumerate(rows) if n != 1)))
        elif match := DISPLAY_MATH.match(" ".join(lines)):
            blocks.append(Block("eq", match.group(1).strip()))
        else:
            blocks.append(Block("p", " ".join(lines)))
    return tuple(blocks)


def table_html(rows: Sequence[Sequence[str]]) -> str:
    """The table as LightOnOCR writes it: first row th, the others td, no attributes."""
    out = ["<table>"]
    for number, row in enumerate(rows):
        tag = "th" if number == 0 else "td"
        out.append("<tr>" + "".join(f"<{tag}>{cell}</{tag}>" for cell in row) + "</tr>")
    out.append("</table>")
    return "".join(out)


def block_markdown(block: Block) -> str:
    prefix = {"h1": "# ", "h2": "## ", "li": "- "}.get(block.kind, "")
    if block.kind == "table":
        return table_html(block.rows)
    if block.kind == "eq":
        return f"$${block.text}$$"
    return prefix + block.text


def markdown(blocks: Sequence[Block]) -> str:
    """Ground truth: blocks joined as Markdown paragraphs; consecutive list items stay in one list."""
    if not blocks:
        return ""
    parts: list[str] = []
    for i, block in enumerate(blocks):
        text = block_markdown(block)
        if i and block.kind == "li" and blocks[i - 1].kind == "li":
            parts[-1] += "\n" + text
        else:
            parts.append(text)
    return "\n\n".join(parts) + "\n"


def _split_front_matter(path: Path, text: str) -> tuple[str, str]:
    match = re.match(r"\+\+\+\n(.*?)\n\+\+\+\n(.*)\Z", text, re.DOTALL)
    if match is None:
        raise _fail(path, "no TOML front matter", "start the file with a '+++' line, the settings, and '+++'")
    return match.group(1), match.group(2)


def _facts(path: Path, raw_facts: object, index: Index) -> tuple[Fact, ...]:
    if not isinstance(raw_facts, list):
        raise _fail(path, "'facts' is not a list", "write each fact as a [[facts]] table")
    facts: list[Fact] = []
    for number, raw in enumerate(raw_facts):
        try:
            facts.append(parse_fact(with_tolerance(raw, index)))
        except ValueError as exc:
            raise _fail(path, f"fact {number}: {exc}", "see the fact types in truth/facts.py") from None
    return tuple(facts)


def read_source(path: Path, index: Index) -> PageSource:
    """One page source, validated; SourceError names the file and the fix."""
    front, body = _split_front_matter(path, path.read_text(encoding="utf-8"))
    data = _toml(path, front)
    for key in ("category", "expect", "layout"):
        if not isinstance(data.get(key), str):
            raise _fail(path, f"front matter has no {key!r}", f'add e.g. {key} = "..."')
    if data["layout"] not in LAYOUTS:
        raise _fail(path, f"unknown layout {data['layout']!r}", f"use one of {', '.join(LAYOUTS)}")
    # Pages with text take the shared thresholds; a page's own [thresholds] win.
    shared = index.thresholds if data["expect"] != "empty" else {}
    thresholds = {**shared, **data.get("thresholds", {})}
    sections = tuple(
        parse_blocks(part) for part in re.split(re.escape(PAGE_BREAK) + "|" + re.escape(COLUMN_BREAK), body)
    )
    unknown = sorted(set(data) - {*MANIFEST_KEYS, *SETTINGS})
    if unknown:
        raise _fail(path, f"unknown front matter keys {unknown}", f"use {', '.join((*MANIFEST_KEYS, *SETTINGS))}")
    return PageSource(
        id=path.stem,
        category=data["category"],
        expect=data["expect"],
        layout=data["layout"],
        lang=str(data.get("lang", "en")),
        thresholds=thresholds,
        facts=_facts(path, data.get("facts", []), index),
        sections=sections,
        body=body,
        settings={k: v for k, v in data.items() if k in SETTINGS},
    )


def read_sources(source_dir: Path = SOURCE_DIR) -> tuple[Index, list[PageSource]]:
    """The index and every page it lists, in its order."""
    index = read_index(source_dir)
    pages = []
    for sample_id in index.order:
        path = source_dir / f"{sample_id}.md"
        if not path.is_file():
            raise _fail(
                source_dir / INDEX_NAME, f"page {sample_id!r} has no {path.name}", "add it or drop it from order"
            )
        pages.append(read_source(path, index))
    strays = sorted({p.stem for p in source_dir.glob("*.md")} - set(index.order))
    if strays:
        raise _fail(source_dir / INDEX_NAME, f"pages {strays} are not in 'order'", "list them or remove their files")
    return index, pages
