"""olmOCR-Bench style pass/fail facts about one page's output.

A fact is checked on normalized text (see ``normalize.py``), so typography and Markdown markup do not
decide it. Each check returns ``FactResult(passed, reason)``; the reason names the text that was missing
or misplaced so a report can show it without a diff.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from lightonocr_validation.accuracy.normalize import normalize_text, parse_tables

FACT_TYPES = ("present", "absent", "order", "table")
NEIGHBOURS = ("up", "down", "left", "right", "top_heading", "left_heading")


@dataclass(frozen=True)
class Fact:
    """One checkable statement. ``page`` is 0-based and matters only for multi-page documents;
    ``max_diffs`` allows that many character edits when looking a text up (0 = exact after normalization)."""

    type: str
    text: str = ""
    before: str = ""
    after: str = ""
    cell: str = ""
    neighbours: tuple[tuple[str, str], ...] = ()
    page: int = 0
    max_diffs: int = 0

    def describe(self) -> str:
        if self.type == "order":
            return f"order '{self.before}' before '{self.after}'"
        if self.type == "table":
            rel = ", ".join(f"{k}='{v}'" for k, v in self.neighbours)
            return f"table cell '{self.cell}' ({rel})"
        return f"{self.type} '{self.text}'"


@dataclass(frozen=True)
class FactResult:
    fact: Fact
    passed: bool
    reason: str


def parse_fact(raw: Mapping[str, object]) -> Fact:
    """Build a Fact from its manifest form; ValueError with a one-line explanation when it is malformed.

    >>> parse_fact({"type": "order", "before": "a", "after": "b"}).describe()
    "order 'a' before 'b'"
    """
    kind = raw.get("type")
    if kind not in FACT_TYPES:
        raise ValueError(f"fact type {kind!r} is not one of {', '.join(FACT_TYPES)}")
    allowed = {"type", "text", "before", "after", "cell", "page", "max_diffs", *NEIGHBOURS}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ValueError(f"{kind} fact has unknown keys {unknown}")

    def text_of(key: str) -> str:
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{kind} fact needs a non-empty string {key!r}")
        return value

    page = raw.get("page", 0)
    max_diffs = raw.get("max_diffs", 0)
    if not isinstance(page, int) or page < 0 or not isinstance(max_diffs, int) or max_diffs < 0:
        raise ValueError(f"{kind} fact: 'page' and 'max_diffs' must be non-negative integers")
    if kind in ("present", "absent"):
        return Fact(kind, text=text_of("text"), page=page, max_diffs=max_diffs)
    if kind == "order":
        return Fact(kind, before=text_of("before"), after=text_of("after"), page=page, max_diffs=max_diffs)
    neighbours = tuple((k, text_of(k)) for k in NEIGHBOURS if k in raw)
    return Fact(kind, cell=text_of("cell"), neighbours=neighbours, page=page, max_diffs=max_diffs)


def find(needle: str, haystack: str, max_diffs: int = 0) -> int:
    """Index of the first occurrence of ``needle`` in ``haystack`` with at most ``max_diffs`` edits, or -1.

    >>> find("world", "hello world"), find("wrld", "hello world"), find("wrld", "hello world", 1)
    (6, -1, 6)
    """
    exact = haystack.find(needle)
    if exact >= 0 or max_diffs == 0 or not needle:
        return exact
    # Windows of every length the needle can take with max_diffs edits; the first start that fits wins,
    # so "first occurrence" means the same as in the exact case.
    lengths = range(max(1, len(needle) - max_diffs), len(needle) + max_diffs + 1)
    for start in range(len(haystack)):
        for length in lengths:
            window = haystack[start : start + length]
            if Levenshtein.distance(needle, window, score_cutoff=max_diffs) <= max_diffs:
                return start
    return -1


def _same(a: str, b: str, max_diffs: int) -> bool:
    return Levenshtein.distance(normalize_text(a), normalize_text(b)) <= max_diffs


def check_present(fact: Fact, normalized: str) -> FactResult:
    if find(normalize_text(fact.text), normalized, fact.max_diffs) >= 0:
        return FactResult(fact, True, "")
    return FactResult(fact, False, f"missing text '{fact.text}'")


def check_absent(fact: Fact, normalized: str) -> FactResult:
    if find(normalize_text(fact.text), normalized, fact.max_diffs) < 0:
        return FactResult(fact, True, "")
    return FactResult(fact, False, f"text that should be absent is present: '{fact.text}'")


def check_order(fact: Fact, normalized: str) -> FactResult:
    before = find(normalize_text(fact.before), normalized, fact.max_diffs)
    after = find(normalize_text(fact.after), normalized, fact.max_diffs)
    if before < 0:
        return FactResult(fact, False, f"order: missing text '{fact.before}'")
    if after < 0:
        return FactResult(fact, False, f"order: missing text '{fact.after}'")
    if before < after:
        return FactResult(fact, True, "")
    return FactResult(fact, False, f"reading order: '{fact.after}' comes before '{fact.before}'")


def _neighbour(grid: list[list[str]], r: int, c: int, relation: str) -> str | None:
    positions = {
        "up": (r - 1, c),
        "down": (r + 1, c),
        "left": (r, c - 1),
        "right": (r, c + 1),
        "top_heading": (0, c),
        "left_heading": (r, 0),
    }
    rr, cc = positions[relation]
    if 0 <= rr < len(grid) and 0 <= cc < len(grid[rr]) and (rr, cc) != (r, c):
        return grid[rr][cc]
    return None


def check_table(fact: Fact, output: str) -> FactResult:
    """Like olmOCR-Bench's TableTest: some cell with this text must have all the stated neighbours."""
    grids = [t.grid() for t in parse_tables(output)]
    if not grids:
        return FactResult(fact, False, f"table cell '{fact.cell}': no HTML table in the output")
    first_problem = ""
    for grid in grids:
        for r, row in enumerate(grid):
            for c, text in enumerate(row):
                if not _same(text, fact.cell, fact.max_diffs):
                    continue
                for relation, expected in fact.neighbours:
                    got = _neighbour(grid, r, c, relation)
                    if got is None or not _same(got, expected, fact.max_diffs):
                        first_problem = first_problem or (
                            f"table cell '{fact.cell}': {relation} expected '{expected}' got '{got or ''}'"
                        )
                        break
                else:
                    return FactResult(fact, True, "")
    return FactResult(fact, False, first_problem or f"table cell '{fact.cell}' not found in any table")


def check_fact(fact: Fact, output: str) -> FactResult:
    """Check one fact against a page's raw model output (normalized here)."""
    if fact.type == "table":
        return check_table(fact, output)
    normalized = normalize_text(output)
    checks = {"present": check_present, "absent": check_absent, "order": check_order}
    return checks[fact.type](fact, normalized)
