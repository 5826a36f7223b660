"""docs/accuracy.md's grounding blocks: the seeded grounding answers judged, and the margins of the box score."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

from lightonocr_validation.core.markdown import case_page_table, table
from lightonocr_validation.grounding import boxes
from lightonocr_validation.grounding.calibration import SEEDS, Cell, calibrate, margins, worst_healthy_offset
from lightonocr_validation.grounding.readings import CASES
from lightonocr_validation.pages.samples import load_manifest, samples_digest


def cases_table() -> str:
    rows = [[c.name, "healthy" if c.healthy else "broken", c.what] for c in CASES]
    return table(["case", "kind", "what the answer does"], rows)


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


@functools.cache
def _cells(samples: str, digest: str) -> list[Cell]:
    return calibrate(load_manifest(Path(samples)))


def blocks(root: Path) -> dict[str, str]:
    samples = root / "samples"
    cells = _cells(str(samples), samples_digest(samples))
    seeds = (
        f"Seeds {SEEDS.start} to {SEEDS.stop - 1}; each cell: the verdict (with the parts that failed), then "
        "located / labels / precision of the seed closest to the wrong verdict."
    )
    return {
        "grounding-cases": cases_table(),
        "grounding-calibration": seeds + "\n\n" + calibration_table(cells),
        "grounding-margins": margin_table(cells),
    }
