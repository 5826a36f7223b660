"""docs/accuracy.md's grounding blocks: the seeded grounding answers judged, and the margins of the box score."""

from __future__ import annotations

from pathlib import Path

from lightonocr_validation.core.markdown import cases_table
from lightonocr_validation.docs import sources
from lightonocr_validation.grounding.calibration import SEEDS, calibrate, calibration_table, margin_table
from lightonocr_validation.grounding.readings import CASES


def blocks(root: Path) -> dict[str, str]:
    cells = sources.calibrated(calibrate, root)
    seeds = (
        f"Seeds {SEEDS.start} to {SEEDS.stop - 1}; each cell: the verdict (with the parts that failed), then "
        "located / labels / precision of the seed closest to the wrong verdict."
    )
    return {
        "grounding-cases": cases_table(CASES, "what the answer does"),
        "grounding-calibration": seeds + "\n\n" + calibration_table(cells),
        "grounding-margins": margin_table(cells),
    }
