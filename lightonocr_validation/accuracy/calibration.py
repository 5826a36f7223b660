"""Grade every calibration reading of every bundled page, and the margin each page's thresholds leave.

For each case of readings.py and each page, over `SEEDS`: a healthy case keeps its worst seed (highest CER,
fewest facts held, fewest cells), a broken case its best (lowest CER): the closest either side comes to the
threshold. docs/accuracy.md renders both tables (the docs wing's accuracy_doc.py); tests/accuracy/test_calibration.py
asserts that every healthy reading passes and every broken one fails.

    python -m lightonocr_validation.accuracy.calibration [--seeds N]   # print the tables; exit 1 if misjudged
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lightonocr_validation.accuracy.engine import Grade, grade
from lightonocr_validation.accuracy.readings import CASES, Case, Page, pages_of
from lightonocr_validation.core.markdown import case_page_table, table
from lightonocr_validation.pages.samples import SAMPLES_DIR, Sample, load_manifest

SEEDS = range(10)


@dataclass(frozen=True)
class Cell:
    """One case on one page, over the seeds: the seed closest to the wrong side of the threshold."""

    case: Case
    page: Page
    expect_pass: bool | None  # None: the case does not change this page
    grade: Grade | None
    right: bool  # every seed was judged as expected

    def show(self) -> str:
        if self.grade is None or self.expect_pass is None:
            return "n/a"
        word = "pass" if self.grade.passed else "FAIL"
        if self.page.sample.expect == "empty":
            return f"{word} {self.grade.output_chars} ch"
        return f"{word} {self.grade.cer:.3f}"


def _closeness(g: Grade, expect_pass: bool) -> tuple[float, ...]:
    """Higher is closer to (or past) the wrong verdict."""
    held = sum(f.passed for f in g.facts)
    cells = g.table_cells if g.table_cells is not None else 1.0
    wrong = g.passed != expect_pass
    if expect_pass:
        return (wrong, g.cer, -held, -cells, g.output_chars)
    return (wrong, -g.cer, held, cells, -g.output_chars)


def calibrate(samples: Sequence[Sample] | None = None, seeds: Iterable[int] = SEEDS) -> list[Cell]:
    """Every (case, page) cell, cases in readings.CASES order, pages in manifest order."""
    pages = pages_of(samples if samples is not None else load_manifest(SAMPLES_DIR))
    seeds = list(seeds)
    cells: list[Cell] = []
    for case in CASES:
        by_page: dict[str, list[tuple[bool, Grade]]] = {page.label: [] for page in pages}
        for seed in seeds:
            for reading in case.read(pages, seed):
                if reading.broken is None:
                    continue
                g = grade(reading.text, reading.page.sample, reading.page.page)
                by_page[reading.page.label].append((not reading.broken, g))
        for page in pages:
            graded = by_page[page.label]
            if not graded:
                cells.append(Cell(case, page, None, None, True))
                continue
            expect = graded[0][0]
            closest = max((g for _, g in graded), key=lambda g: _closeness(g, expect))
            right = all(g.passed == expect_pass for expect_pass, g in graded)
            cells.append(Cell(case, page, expect, closest, right))
    return cells


@dataclass(frozen=True)
class Margin:
    """How far a page's CER bound is from its worst healthy and its best broken reading."""

    page: Page
    cer_max: float
    healthy_worst: float
    broken_best: float
    broken_best_case: str
    caught_otherwise: tuple[str, ...]  # broken cases at or under the CER bound, and what failed them
    cells: tuple[float, float, float] | None = None  # table pages: cells_min, healthy worst, broken best
    facts: tuple[float, float, int] = (1.0, 1.0, 0)  # facts_min, the healthy worst share held, facts on the page


def margins(cells: Sequence[Cell]) -> list[Margin]:
    out: list[Margin] = []
    pages = list(dict.fromkeys(cell.page.label for cell in cells))
    for label in pages:
        mine = [c for c in cells if c.page.label == label and c.grade is not None]
        page = mine[0].page
        if page.sample.expect == "empty":
            continue
        healthy = [c.grade.cer for c in mine if c.expect_pass and c.grade]
        # A changed formula is for the math facts to catch (its CER is a character or two): not a CER margin.
        broken = [
            (c.grade.cer, c.case.name) for c in mine if c.expect_pass is False and c.grade and not c.case.by_facts
        ]
        best, best_case = min(broken)
        limit = page.sample.thresholds.cer_max
        otherwise = tuple(
            f"{c.case.name}: {c.grade.reason.split(';')[0]}"
            for c in mine
            if c.expect_pass is False and c.grade and c.grade.cer <= limit
        )
        table = None
        if page.sample.thresholds.cells_min is not None:
            healthy_cells = [c.grade.table_cells for c in mine if c.expect_pass and c.grade]
            broken_cells = [c.grade.table_cells for c in mine if c.expect_pass is False and c.grade]
            table = (
                page.sample.thresholds.cells_min,
                min(x for x in healthy_cells if x is not None),
                max(x for x in broken_cells if x is not None and x < 1.0),  # cases that touch the table
            )
        shares = [
            sum(f.passed for f in c.grade.facts) / len(c.grade.facts) for c in mine if c.expect_pass and c.grade.facts
        ]
        facts_min = page.sample.thresholds.facts_min
        facts = (1.0 if facts_min is None else facts_min, min(shares, default=1.0), len(mine[0].grade.facts))
        out.append(Margin(page, limit, max(healthy), best, best_case, otherwise, table, facts))
    return out


def calibration_table(cells: Sequence[Cell]) -> str:
    """Cases down, pages across; each cell the verdict and CER (characters on the blank page) of the seed
    closest to the wrong side, marked when any seed was judged wrongly."""
    return case_page_table(cells, lambda cell: cell.page.label)


def margin_table(found: Sequence[Margin]) -> str:
    rows = []
    for m in found:
        below = m.cer_max / m.healthy_worst if m.healthy_worst else float("inf")
        cells = "—"
        if m.cells is not None:
            cells_min, healthy, broken = m.cells
            cells = f"{broken:.2f} < **{cells_min:.2f}** ≤ {healthy:.2f}"
        rows.append(
            [
                m.page.label,
                f"{m.healthy_worst:.4f}",
                f"**{m.cer_max:.3f}**",
                f"{m.broken_best:.4f} ({m.broken_best_case})",
                f"{below:.1f}x / {m.broken_best / m.cer_max:.1f}x",
                cells,
                f"{m.facts[0]:.2f} ≤ {m.facts[1]:.2f} of {m.facts[2]}",
                "; ".join(m.caught_otherwise) or "—",
            ]
        )
    headers = [
        "page",
        "healthy worst CER",
        "cer_max",
        "broken best CER (case)",
        "room below / above",
        "table cells: broken best < min ≤ healthy worst",
        "facts held: min ≤ healthy worst",
        "broken within the CER bound, failed by",
    ]
    return table(headers, rows)


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Grade the seeded readings and print the calibration tables.")
    parser.add_argument("--seeds", type=int, default=len(SEEDS), help=f"seeds 0..N-1 (default {len(SEEDS)})")
    args = parser.parse_args(argv)
    cells = calibrate(seeds=range(args.seeds))
    print(calibration_table(cells))
    print()
    print(margin_table(margins(cells)))
    wrong = [cell for cell in cells if not cell.right]
    for cell in wrong:
        print(f"wrong: {cell.case.name} on {cell.page.label}: {cell.grade.reason if cell.grade else ''}")
    return 1 if wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
