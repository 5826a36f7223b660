"""Grade one page of model output against a sample's ground truth."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from lightonocr_validation.accuracy.metrics import cer, first_difference, ned, wer
from lightonocr_validation.pages.samples import Sample
from lightonocr_validation.truth.fact_math import formulas_as_shown
from lightonocr_validation.truth.facts import FactResult, check_fact
from lightonocr_validation.truth.normalize import normalize_text, parse_tables


@dataclass(frozen=True)
class Grade:
    """Verdict for one page. ``cer``/``wer`` are over the reference length (can exceed 1), ``ned`` over the
    longer text (0..1); ``table_cells`` is the share of reference cells reproduced, for html-table samples."""

    sample_id: str
    category: str
    page: int
    cer: float
    wer: float
    ned: float
    facts: tuple[FactResult, ...]
    table_cells: float | None
    passed: bool
    reason: str
    output_chars: int
    reference_chars: int


# A table is either HTML (what LightOnOCR was trained to write) or a Markdown pipe table (what many models
# and people write); both are graded by their cells, so the form a healthy reading picks does not count.
# A run of lines holding a "|" may be a pipe table: parse_tables decides.
_TABLE = re.compile(
    r"<table\b.*?(?:</table\s*>|\Z)|(?:^[^\n]*\|[^\n]*(?:\n|\Z)){2,}", re.IGNORECASE | re.DOTALL | re.MULTILINE
)


def reference_tables(text: str) -> list[list[list[str]]]:
    """Every table of ``text``, HTML or Markdown pipe, as a grid of normalized cell texts, in page order."""
    return [table.grid() for table in parse_tables(text)]


def comparable_text(text: str) -> str:
    """The text CER and WER are measured on: ``normalize_text`` after every table, HTML or pipe, is written
    as its rows of cells (``| a | b |``), so a table costs what its cells cost, not its markup."""

    def rows(match: re.Match[str]) -> str:
        grids = reference_tables(match.group(0))
        if not grids:
            return match.group(0)
        lines = ["| " + " | ".join(row) + " |" for grid in grids for row in grid]
        return "\n" + "\n".join(lines) + "\n"

    return normalize_text(_TABLE.sub(rows, text))


@dataclass(frozen=True)
class CellScore:
    accuracy: float
    first_wrong: str | None


def table_cell_score(reference: str, output: str) -> CellScore:
    """Share of reference table cells found at the same grid position of the same-numbered output table.

    A cell's position is its place on the span-expanded grid; the first wrong cell is named so a report
    points straight at it.
    """
    ref_tables = reference_tables(reference)
    out_tables = reference_tables(output)
    total = correct = 0
    first_wrong: str | None = None
    for number, ref in enumerate(ref_tables):
        out = out_tables[number] if number < len(out_tables) else []
        for r, row in enumerate(ref):
            for c, expected in enumerate(row):
                total += 1
                got = out[r][c] if r < len(out) and c < len(out[r]) else None
                if got == expected:
                    correct += 1
                elif first_wrong is None:
                    shown = "missing" if got is None else f"'{got}'"
                    where = f"table {number + 1} cell (row {r + 1}, column {c + 1})"
                    first_wrong = f"{where}: expected '{expected}' got {shown}"
    return CellScore(correct / total if total else 1.0, first_wrong)


def grade(output: str, sample: Sample, page: int = 0) -> Grade:
    """Grade ``output`` (the model's Markdown for one page) against ``sample``'s ground truth for ``page``.

    A page passes when its CER (and WER, when a bound is set) is within the sample's thresholds, every fact
    for that page holds (or the share ``facts_min`` of them, where a page sets one), the table cell accuracy
    reaches ``cells_min`` and, for a blank page, the output has at most ``max_chars`` characters. ``reason``
    lists the failures; for a passing page with differences it still shows the first one, and any fact
    missed within ``facts_min``. On a math page (``expect`` latex) the formulas are judged by its math facts, as
    they render, and CER reads each formula as the characters it shows, so notation costs nothing.
    docs/accuracy.md shows how the thresholds were calibrated.
    """
    if not 0 <= page < sample.page_count:
        raise IndexError(f"sample {sample.id!r} has {sample.page_count} page(s); page {page} does not exist")
    if sample.expect == "latex":  # formulas are judged by math facts; CER reads each as the characters it shows
        reference = comparable_text(formulas_as_shown(sample.ground_truth[page]))
        hypothesis = comparable_text(formulas_as_shown(output))
    else:
        reference = comparable_text(sample.ground_truth[page])
        hypothesis = comparable_text(output)
    limits = sample.thresholds
    c, w, n = cer(reference, hypothesis), wer(reference, hypothesis), ned(reference, hypothesis)
    facts = tuple(check_fact(fact, output) for fact in sample.facts if fact.page == page)
    failures: list[str] = []

    if sample.expect == "empty":
        max_chars = limits.max_chars if limits.max_chars is not None else 0
        if len(hypothesis) > max_chars:
            failures.append(
                f"blank page: output has {len(hypothesis)} characters (max {max_chars}): '{hypothesis[:80]}'"
            )
    table_cells: float | None = None
    if sample.expect == "html-table":
        score = table_cell_score(sample.ground_truth[page], output)
        table_cells = score.accuracy
        if limits.cells_min is not None and score.accuracy < limits.cells_min:
            failures.append(f"table cells {score.accuracy:.2f} < {limits.cells_min:.2f}: {score.first_wrong}")
    missed = [result.reason for result in facts if not result.passed]
    facts_min = limits.facts_min if limits.facts_min is not None else 1.0
    held = (len(facts) - len(missed)) / len(facts) if facts else 1.0
    tolerated = missed if missed and held >= facts_min else []
    if not tolerated:
        failures.extend(missed)

    difference = first_difference(reference, hypothesis)
    if sample.expect != "empty":
        if c > limits.cer_max:
            failures.append(f"CER {c:.3f} > {limits.cer_max:.3f}: {difference}")
        elif limits.wer_max is not None and w > limits.wer_max:
            failures.append(f"WER {w:.3f} > {limits.wer_max:.3f}: {difference}")

    if failures:
        reason = "; ".join(failures)
        if difference and not any(f.startswith(("CER", "WER")) for f in failures):
            reason += f"; first difference: {difference}"
    else:
        reason = "identical after normalization" if difference is None else f"passed; first difference: {difference}"
        if tolerated:
            reason += f"; {len(tolerated)} fact(s) missed within facts_min {facts_min:.2f}: {'; '.join(tolerated)}"
    return Grade(
        sample_id=sample.id,
        category=sample.category,
        page=page,
        cer=c,
        wer=w,
        ned=n,
        facts=facts,
        table_cells=table_cells,
        passed=not failures,
        reason=reason,
        output_chars=len(hypothesis),
        reference_chars=len(reference),
    )


def score_by_category(grades: Iterable[Grade]) -> dict[str, float]:
    """Pass rate (0..1) per category, categories sorted by name."""
    by_category: dict[str, list[bool]] = defaultdict(list)
    for g in grades:
        by_category[g.category].append(g.passed)
    return {category: sum(v) / len(v) for category, v in sorted(by_category.items())}


def overall_score(grades: Iterable[Grade]) -> float:
    """Mean of the per-category pass rates (olmOCR-Bench's headline: every category weighs the same)."""
    scores = score_by_category(grades)
    return sum(scores.values()) / len(scores) if scores else 0.0
