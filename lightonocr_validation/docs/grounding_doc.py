"""docs/accuracy.md's grounding blocks: the seeded grounding answers judged, and the margins of the box score."""

from __future__ import annotations

import functools
from pathlib import Path

from lightonocr_validation.core.markdown import cases_table
from lightonocr_validation.grounding.calibration import SEEDS, Cell, calibrate, calibration_table, margin_table
from lightonocr_validation.grounding.readings import CASES
from lightonocr_validation.pages.samples import load_manifest, samples_digest


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
        "grounding-cases": cases_table(CASES, "what the answer does"),
        "grounding-calibration": seeds + "\n\n" + calibration_table(cells),
        "grounding-margins": margin_table(cells),
    }
