"""Time the grounding parser and the box score on healthy and hostile answers, and print it.

    python benchmarks/grounding_parse.py

For each answer (a healthy page of the bundled set, and hostile ones: millions of markers, millions of marker
openings that never close, one huge parenthesis, past the size bound, thousands of whole-page boxes) it prints
its size, the CPU time to parse it (grounding/blocks.py) and to score its boxes against the page's true blocks
(grounding/boxes.py), and what the parser said. The bounds (MAX_CHARS, MAX_MARKERS, MAX_BOXES) keep every row
to a few seconds on one slow core. Figures are printed, never asserted.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lightonocr_validation.grounding import blocks  # noqa: E402
from lightonocr_validation.grounding.blocks import parse  # noqa: E402
from lightonocr_validation.grounding.boxes import score_boxes  # noqa: E402
from lightonocr_validation.grounding.readings import case  # noqa: E402
from lightonocr_validation.pages.samples import load_manifest  # noqa: E402


def answers() -> dict[str, str]:
    page = next(s for s in load_manifest() if s.id == "small-text-01")
    healthy = case("combined").answer(page.blocks, (1190, 1540), 0)
    return {
        "healthy page (small-text-01, combined case)": healthy,
        "2,000,000 markers": "![text](0,0,10,10)x" * 2_000_000,
        "3,000,000 '![' that never close": "![" * 3_000_000,
        "one parenthesis of 2,000,000 numbers": "![text](" + "1," * 2_000_000,
        f"past MAX_CHARS ({blocks.MAX_CHARS:,} + 10 characters)": "x" * (blocks.MAX_CHARS + 10),
        "1,999 whole-page boxes (just under MAX_BOXES)": "![text](0,0,1000,1000)\nword\n" * 1999,
    }


def main() -> int:
    truth = next(s for s in load_manifest() if s.id == "small-text-01").blocks
    print("| answer | characters | parse (CPU s) | score (CPU s) | blocks kept | what the parser said |")
    print("|---|---|---|---|---|---|")
    for name, answer in answers().items():
        started = time.process_time()
        parsed = parse(answer)
        parsed_s = time.process_time() - started
        started = time.process_time()
        score = score_boxes(parsed.pieces(), truth)
        scored_s = time.process_time() - started
        said = parsed.format_problem() or parsed.coordinate_problem() or score.reason or "healthy"
        print(f"| {name} | {len(answer):,} | {parsed_s:.3f} | {scored_s:.3f} | {len(parsed.blocks)} | {said[:80]} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
