r"""olmOCR-Bench's pass/fail facts about one page's answer, with olmOCR-Bench's semantics.

A fact is one line of an olmOCR-Bench ``*.jsonl`` (or of our manifest). ``check_fact`` returns
``FactResult(fact, passed, reason)``; a failing reason is one line naming what was missing or misplaced.
The semantics are olmOCR-Bench's (olmocr 0.4.27, ``olmocr.bench.tests``), re-implemented here; the oracle
test (tests/accuracy/test_facts_oracle.py) runs olmOCR's own scorer next to this one on generated cases and lists
every deliberate difference.

Types and their options:
  * ``present`` / ``absent`` ``text``: the text is (not) in the answer. Both are normalized (``fact_text``);
    ``case_sensitive`` (default true) false compares lower-cased; ``first_n`` / ``last_n`` look only at the
    first / last that many characters of the normalized answer (both set: the two windows joined; 0 means
    unset). Fuzzy: the best window's similarity must reach ``1 - max_diffs / len(text)`` (``fact_text``).
  * ``order`` ``before`` / ``after``: some near match of ``before`` (Levenshtein, at most ``max_diffs`` edits,
    overlapping matches grouped) starts before some near match of ``after``; ``max_diffs`` may be at most half
    of each text's length.
  * ``table`` ``cell`` with any of ``up``, ``down``, ``left``, ``right``, ``top_heading``, ``left_heading``:
    some cell of some table (HTML, or a Markdown pipe table unless ``ignore_markdown_tables``) matches
    ``cell`` and all the stated relations. Cells match when their Indel similarity reaches
    ``max(0.5, 1 - max_diffs / len(expected))``. A neighbour relation at the table's edge (``up`` on the top
    row, ...) is not checked, as in olmOCR. ``top_heading`` takes the best of the column's headings; failing
    those, the header-row cells above; failing any, the non-empty cells above (``left_heading`` likewise on
    the row). The layout, with olmOCR's colspan/rowspan behaviour, is described in ``fact_tables``.
  * ``math`` ``math``: an equation of the answer is this LaTeX, or renders with its glyphs among its own
    (``fact_math``: KaTeX without a browser). The formula must render, as in olmOCR-Bench.
    ``ignore_dollar_delimited`` looks only at ``\(...\)`` and ``\[...\]``.
  * ``baseline``: not blank, no looping end, no disallowed characters; ``max_length`` makes it a blank-page
    check (``fact_baseline``). Options ``max_repeats``, ``check_disallowed_characters``,
    ``max_length_skips_image_alt_tags``.

Every fact takes ``page`` (0-based here; olmOCR-Bench's loader converts its 1-based pages) and ``max_diffs``.
olmOCR's metadata keys ``pdf``, ``id``, ``checked``, ``url`` are accepted and ignored.

Deliberate differences from olmOCR-Bench (each shown by a test; the oracle test lists the generated cases):
  * ``\$`` in an answer is a dollar, and ``\(x\)`` / ``\[x\]`` read as ``$x$`` / ``$$x$$`` in text facts
    (``fact_text``): LightOnOCR writes them, olmOCR's ground truth does not;
  * math rendered by KaTeX without a browser, compared by glyphs and layout (a radical counts, a double-struck
    letter is another symbol), and a currency ``$`` is not a math delimiter (``fact_math``);
  * a fuzzy search gives up after ``fact_text.MAX_CANDIDATE_STARTS`` candidate places and examines a group of
    overlapping matches over at most ``MAX_GROUP_STARTS`` starts, so hostile multi-megabyte answers take
    seconds, not minutes; ordinary answers never reach either bound;
  * rowspan/colspan values that are not numbers count as 1, and spans stop at 1000 (olmOCR's scorer stops
    with an error on the first, and fills whatever a huge span asks for);
  * a table nested in a cell is read only as that cell's text (olmOCR also reads it as a table of its own and
    its rows as rows of the outer table).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lightonocr_validation.truth.fact_baseline import baseline_problem
from lightonocr_validation.truth.fact_math import math_present, render_error
from lightonocr_validation.truth.fact_tables import FactTable, fact_tables
from lightonocr_validation.truth.fact_text import (
    cell_similarity,
    fact_normalize,
    first_match,
    last_match,
    present_ratio,
    similarity_threshold,
)
from lightonocr_validation.truth.normalize import normalize_text, parse_tables

__all__ = ["FACT_TYPES", "Fact", "FactResult", "check_fact", "find", "normalize_text", "parse_fact", "parse_tables"]

FACT_TYPES = ("present", "absent", "order", "table", "math", "baseline")
NEIGHBOURS = ("up", "down", "left", "right", "top_heading", "left_heading")
METADATA = frozenset({"pdf", "id", "checked", "url"})
_KEYS = {
    "present": {"text", "case_sensitive", "first_n", "last_n"},
    "absent": {"text", "case_sensitive", "first_n", "last_n"},
    "order": {"before", "after"},
    "table": {"cell", "ignore_markdown_tables", *NEIGHBOURS},
    "math": {"math", "ignore_dollar_delimited"},
    "baseline": {"max_length", "max_length_skips_image_alt_tags", "max_repeats", "check_disallowed_characters"},
}


@dataclass(frozen=True)
class Fact:
    """One checkable statement (see the module docstring for each type's fields). ``page`` is 0-based."""

    type: str
    text: str = ""
    before: str = ""
    after: str = ""
    cell: str = ""
    neighbours: tuple[tuple[str, str], ...] = ()
    page: int = 0
    max_diffs: int = 0
    case_sensitive: bool = True
    first_n: int | None = None
    last_n: int | None = None
    ignore_markdown_tables: bool = False
    math: str = ""
    ignore_dollar_delimited: bool = False
    max_length: int | None = None
    max_length_skips_image_alt_tags: bool = False
    max_repeats: int = 30
    check_disallowed_characters: bool = True

    def describe(self) -> str:
        if self.type == "order":
            return f"order '{self.before}' before '{self.after}'"
        if self.type == "table":
            rel = ", ".join(f"{k}='{v}'" for k, v in self.neighbours)
            return f"table cell '{self.cell}' ({rel})"
        if self.type == "math":
            return f"math '{self.math}'"
        if self.type == "baseline":
            return "baseline" if self.max_length is None else f"baseline (at most {self.max_length} characters)"
        return f"{self.type} '{self.text}'"


@dataclass(frozen=True)
class FactResult:
    fact: Fact
    passed: bool
    reason: str


def accepted_keys(kind: str) -> set[str]:
    """Every key a fact of this type may have: olmOCR-Bench's fields for it, metadata included.

    >>> sorted(accepted_keys("order"))
    ['after', 'before', 'checked', 'id', 'max_diffs', 'page', 'pdf', 'type', 'url']
    """
    return {"type", "page", "max_diffs", *METADATA, *_KEYS[kind]}


def parse_fact(raw: Mapping[str, object]) -> Fact:
    """Build a Fact from its manifest or olmOCR-Bench jsonl form; ValueError with a one-line explanation when
    it is malformed.

    >>> parse_fact({"type": "order", "before": "a", "after": "b"}).describe()
    "order 'a' before 'b'"
    >>> parse_fact({"type": "present", "text": "x", "case_sensitive": False, "first_n": 100}).first_n
    100
    """
    kind = raw.get("type")
    if kind not in FACT_TYPES:
        raise ValueError(f"fact type {kind!r} is not one of {', '.join(FACT_TYPES)}")
    unknown = sorted(set(raw) - accepted_keys(str(kind)))
    if unknown:
        raise ValueError(f"{kind} fact has unknown keys {unknown}")

    def text_of(key: str, required: bool = True) -> str:
        value = raw.get(key, "" if not required else None)
        if not isinstance(value, str) or (required and not fact_normalize(value).strip()):
            raise ValueError(f"{kind} fact needs a non-empty string {key!r}")
        return value

    def count_of(key: str, default: int | None) -> int | None:
        value = raw.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{kind} fact: {key!r} must be a non-negative integer")
        return value

    def flag_of(key: str, default: bool) -> bool:
        value = raw.get(key, default)
        if not isinstance(value, bool):
            raise ValueError(f"{kind} fact: {key!r} must be true or false")
        return value

    page = count_of("page", 0) or 0
    max_diffs = count_of("max_diffs", 0) or 0
    common = {"page": page, "max_diffs": max_diffs}
    if kind in ("present", "absent"):
        return Fact(
            str(kind),
            text=text_of("text"),
            case_sensitive=flag_of("case_sensitive", True),
            first_n=count_of("first_n", None),
            last_n=count_of("last_n", None),
            **common,
        )
    if kind == "order":
        before, after = text_of("before"), text_of("after")
        if max_diffs > len(fact_normalize(before)) // 2 or max_diffs > len(fact_normalize(after)) // 2:
            raise ValueError("order fact: 'max_diffs' may be at most half the length of 'before' and 'after'")
        return Fact("order", before=before, after=after, **common)
    if kind == "table":
        neighbours = tuple((k, text_of(k, required=False)) for k in NEIGHBOURS if raw.get(k))
        return Fact(
            "table",
            cell=text_of("cell", required=False),
            neighbours=neighbours,
            ignore_markdown_tables=flag_of("ignore_markdown_tables", False),
            **common,
        )
    if kind == "math":
        math = text_of("math")
        error = render_error(math)
        if error:
            raise ValueError(f"math fact {math!r} does not render in KaTeX: {error}")
        return Fact("math", math=math, ignore_dollar_delimited=flag_of("ignore_dollar_delimited", False), **common)
    return Fact(
        "baseline",
        max_length=count_of("max_length", None),
        max_length_skips_image_alt_tags=flag_of("max_length_skips_image_alt_tags", False),
        max_repeats=count_of("max_repeats", 30) or 0,
        check_disallowed_characters=flag_of("check_disallowed_characters", True),
        **common,
    )


def find(needle: str, haystack: str, max_diffs: int = 0) -> int:
    """Start of the first near match of ``needle`` in ``haystack`` (at most ``max_diffs`` edits), or -1.

    >>> find("world", "hello world"), find("wrld", "hello world"), find("wrld", "hello world", 1)
    (6, -1, 6)
    """
    match = first_match(needle, haystack, max_diffs)
    return match.start if match else -1


def _window(fact: Fact, answer: str) -> str:
    first, last = fact.first_n or 0, fact.last_n or 0
    if first and last:
        return answer[:first] + answer[-last:]
    if first:
        return answer[:first]
    if last:
        return answer[-last:]
    return answer


def _where(fact: Fact) -> str:
    if fact.first_n and fact.last_n:
        return f" in the first {fact.first_n} and last {fact.last_n} characters"
    if fact.first_n:
        return f" in the first {fact.first_n} characters"
    if fact.last_n:
        return f" in the last {fact.last_n} characters"
    return ""


def check_presence(fact: Fact, output: str) -> FactResult:
    text, answer = fact_normalize(fact.text), fact_normalize(output)
    if not fact.case_sensitive:
        text, answer = text.lower(), answer.lower()
    found = present_ratio(text, _window(fact, answer)) >= similarity_threshold(text, fact.max_diffs)
    if found == (fact.type == "present"):
        return FactResult(fact, True, "")
    if fact.type == "present":
        return FactResult(fact, False, f"missing text '{fact.text}'{_where(fact)}")
    return FactResult(fact, False, f"text that should be absent is present{_where(fact)}: '{fact.text}'")


def check_order(fact: Fact, output: str) -> FactResult:
    answer = fact_normalize(output)
    before = first_match(fact_normalize(fact.before), answer, fact.max_diffs)
    if before is None:
        return FactResult(fact, False, f"order: missing text '{fact.before}'")
    after = last_match(fact_normalize(fact.after), answer, fact.max_diffs)
    if after is None:
        return FactResult(fact, False, f"order: missing text '{fact.after}'")
    if before.start < after.start:
        return FactResult(fact, True, "")
    return FactResult(fact, False, f"reading order: '{fact.after}' comes before '{fact.before}'")


def _similar(expected: str, got: str, max_diffs: int) -> tuple[bool, float]:
    similarity = cell_similarity(expected, fact_normalize(got))
    return similarity >= max(0.5, similarity_threshold(expected, max_diffs)), similarity


def _heading(table: FactTable, r: int, c: int, expected: str, max_diffs: int, top: bool) -> str | None:
    """None when the cell at (r, c) has the expected heading, else what was found instead."""
    headings = table.col_headers.get(c, []) if top else table.row_headers.get(r, [])
    if top:
        header_cells = [table.data[i][c] for i in sorted(table.header_rows) if i < r and table.data[i][c].strip()]
        any_cells = [table.data[i][c] for i in range(r) if table.data[i][c].strip()]
    else:
        header_cells = [table.data[r][j] for j in sorted(table.header_cols) if j < c and table.data[r][j].strip()]
        any_cells = [table.data[r][j] for j in range(c) if table.data[r][j].strip()]
    best, best_similarity = "", 0.0
    # Headings and header cells first; any other cell of the row or column only when none of those came close.
    for tier in ((*headings, *header_cells), any_cells):
        if best:
            break
        for text in tier:
            ok, similarity = _similar(expected, text, max_diffs)
            if ok:
                return None
            if similarity > best_similarity:
                best, best_similarity = fact_normalize(text), similarity
    return best


_STEPS = {"up": (-1, 0), "down": (1, 0), "left": (0, -1), "right": (0, 1)}


def _cell_problem(table: FactTable, r: int, c: int, fact: Fact) -> str:
    """'' when the cell at (r, c) has every stated relation, else the first one it lacks."""
    for relation, raw_expected in fact.neighbours:
        expected = fact_normalize(raw_expected)
        if relation in _STEPS:
            dr, dc = _STEPS[relation]
            rr, cc = r + dr, c + dc
            if not (0 <= rr < table.height and 0 <= cc < table.width):
                continue  # olmOCR does not check a relation that points off the table
            got = table.data[rr][cc]
            if not _similar(expected, got, fact.max_diffs)[0]:
                return f"{relation} expected '{raw_expected}' got '{fact_normalize(got)}'"
        else:
            found = _heading(table, r, c, expected, fact.max_diffs, top=relation == "top_heading")
            if found is not None:
                return f"{relation} expected '{raw_expected}' got '{found}'"
    return ""


def check_table(fact: Fact, output: str) -> FactResult:
    tables = fact_tables(output, markdown=not fact.ignore_markdown_tables)
    if not tables:
        return FactResult(fact, False, f"table cell '{fact.cell}': no table in the output")
    cell = fact_normalize(fact.cell)
    first_problem = ""
    for table in tables:
        for r, row in enumerate(table.data):
            for c, text in enumerate(row):
                if not _similar(cell, text, fact.max_diffs)[0]:
                    continue
                problem = _cell_problem(table, r, c, fact)
                if not problem:
                    return FactResult(fact, True, "")
                first_problem = first_problem or f"table cell '{fact.cell}': {problem}"
    return FactResult(fact, False, first_problem or f"table cell '{fact.cell}' not found in any table")


def check_math(fact: Fact, output: str) -> FactResult:
    if math_present(fact.math, output, dollars=not fact.ignore_dollar_delimited):
        return FactResult(fact, True, "")
    return FactResult(fact, False, f"missing equation '{fact.math}'")


def check_baseline(fact: Fact, output: str) -> FactResult:
    problem = baseline_problem(
        output,
        max_length=fact.max_length,
        skip_images=fact.max_length_skips_image_alt_tags,
        max_repeats=fact.max_repeats,
        check_disallowed=fact.check_disallowed_characters,
    )
    return FactResult(fact, not problem, problem)


_CHECKS = {
    "present": check_presence,
    "absent": check_presence,
    "order": check_order,
    "table": check_table,
    "math": check_math,
    "baseline": check_baseline,
}


def check_fact(fact: Fact, output: str) -> FactResult:
    """Check one fact against a page's raw model output (each check normalizes what it needs)."""
    return _CHECKS[fact.type](fact, output)
