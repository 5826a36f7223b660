"""Judge every seeded grounding answer of every drawn page, and the margin each box threshold leaves.

For each case of grounding/readings.py and each page with true blocks, over `SEEDS`: a healthy case keeps its
worst seed (fewest blocks located, labels agreeing, boxes used), a broken case its best: the closest either
comes to the wrong verdict. docs/accuracy.md shows the tables (docs/grounding_doc.py renders them from here);
tests/grounding/test_grounding_calibration.py asserts that every healthy answer passes and every broken one fails.

    python -m lightonocr_validation.grounding.calibration [--seeds N]   # print the tables; exit 1 if misjudged
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lightonocr_validation.core.markdown import case_page_table, table
from lightonocr_validation.grounding import boxes
from lightonocr_validation.grounding.judge import PageJudgement, judge
from lightonocr_validation.grounding.readings import CASES, Case
from lightonocr_validation.pages.samples import SAMPLES_DIR, Sample, load_manifest

SEEDS = range(5)


@dataclass(frozen=True)
class Cell:
    """One case on one page, over the seeds: the judgement closest to the wrong verdict."""

    case: Case
    sample: Sample
    judgement: PageJudgement
    right: bool  # every seed was judged as the case expects

    def show(self) -> str:
        word = "pass" if self.judgement.passed else "FAIL " + "+".join(self.judgement.problems())
        score = self.judgement.boxes
        return f"{word} {score.located:.2f}/{score.labels:.2f}/{score.precision:.2f}" if score else word


def _scores(j: PageJudgement) -> tuple[float, float, float]:
    score = j.boxes
    return (score.located, score.labels, score.precision) if score else (0.0, 0.0, 0.0)


def drawn_pages(samples: Sequence[Sample]) -> list[Sample]:
    """The samples whose true blocks are known and not empty (the blank page has no block to place)."""
    return [sample for sample in samples if sample.blocks]


def calibrate(samples: Sequence[Sample] | None = None, seeds: Iterable[int] = SEEDS) -> list[Cell]:
    """Every (case, page) cell, cases in readings.CASES order, pages in manifest order."""
    pages = drawn_pages(samples if samples is not None else load_manifest(SAMPLES_DIR))
    seeds = list(seeds)
    cells: list[Cell] = []
    for case in CASES:
        for sample in pages:
            size = sample.pages()[0].size
            judged = [judge(case.answer(sample.blocks, size, seed), sample) for seed in seeds]
            right = all(j.passed == case.healthy for j in judged)
            # Healthy: a failing seed, else the lowest scores; broken: a passing seed, else the highest.
            pick = min if case.healthy else max
            closest = pick(judged, key=lambda j: (j.passed, _scores(j)))
            cells.append(Cell(case, sample, closest, right))
    return cells


@dataclass(frozen=True)
class Margin:
    """One box threshold: the worst healthy value, the threshold, and the best broken value that it alone
    (with the parts judged before it) has to catch."""

    name: str
    threshold: float
    healthy_worst: float
    broken_best: float
    broken_case: str


def margins(cells: Sequence[Cell]) -> list[Margin]:
    scored = [c for c in cells if c.judgement.boxes is not None]
    healthy = [c for c in scored if c.case.healthy]
    # The broken cases the boxes must catch: those whose format, coordinates and labels pass (pixels and
    # no-marker answers are caught before any box is scored).
    broken = [c for c in scored if not c.case.healthy and not ({"format", "coordinates"} & set(c.judgement.problems()))]
    out = []
    for index, (name, threshold) in enumerate(
        (("located", boxes.LOCATED_MIN), ("labels", boxes.LABELS_MIN), ("precision", boxes.PRECISION_MIN))
    ):
        worst = min(_scores(c.judgement)[index] for c in healthy)
        # The broken cells this threshold is the one to catch: the cases its metric is about.
        about = [c for c in broken if name in _CAUGHT_BY.get(c.case.name, ())]
        best = max(about, key=lambda c: _scores(c.judgement)[index]) if about else None
        out.append(
            Margin(
                name,
                threshold,
                worst,
                _scores(best.judgement)[index] if best else float("nan"),
                f"{best.case.name} on {best.sample.id}" if best else "—",
            )
        )
    return out


# Which box threshold is meant to catch each broken case (the others may catch it too).
_CAUGHT_BY = {
    "swapped": ("located",),
    "shifted_down": ("located",),
    "shifted_right": ("located",),
    "missing": ("located",),
    "whole_page": ("located", "precision"),
    "wrong_labels": ("labels",),
}


def worst_healthy_offset(cells: Sequence[Cell]) -> float:
    """The largest median edge offset of a healthy answer, per mille (OFFSET_MAX sits above it)."""
    return max(c.judgement.boxes.offset for c in cells if c.case.healthy and c.judgement.boxes is not None)


def calibration_table(cells: Sequence[Cell]) -> str:
    """Cases down, pages across; each cell the verdict (and the parts that failed) and located/labels/precision
    of the seed closest to the wrong verdict, marked when any seed was judged wrongly."""
    return case_page_table(cells, lambda cell: cell.sample.id)


def margin_table(cells: Sequence[Cell]) -> str:
    rows = [
        [
            m.name,
            f"{m.healthy_worst:.2f}",
            f"**{m.threshold:.2f}**",
            f"{m.broken_best:.2f} ({m.broken_case})",
            f"{m.healthy_worst - m.threshold:.2f} / {m.threshold - m.broken_best:.2f}",
        ]
        for m in margins(cells)
    ]
    rows.append(
        [
            "edge offset (‰)",
            f"{worst_healthy_offset(cells):.0f}",
            f"**{boxes.OFFSET_MAX}**",
            "100 (shifted_down, shifted_right)",
            f"{boxes.OFFSET_MAX - worst_healthy_offset(cells):.0f} / {100 - boxes.OFFSET_MAX}",
        ]
    )
    return table(["score", "healthy worst", "threshold", "broken best (case)", "room below / above"], rows)


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Judge the seeded grounding answers and print the tables.")
    parser.add_argument("--seeds", type=int, default=len(SEEDS), help=f"seeds 0..N-1 (default {len(SEEDS)})")
    args = parser.parse_args(argv)
    cells = calibrate(seeds=range(args.seeds))
    print(calibration_table(cells))
    print()
    print(margin_table(cells))
    wrong = [cell for cell in cells if not cell.right]
    for cell in wrong:
        print(f"wrong: {cell.case.name} on {cell.sample.id}: {cell.judgement.problems() or 'passed'}")
    return 1 if wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
