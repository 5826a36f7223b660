"""One page's grounding answer judged on every count: format, coordinates, labels, text and boxes."""

from __future__ import annotations

from dataclasses import dataclass

from lightonocr_validation.accuracy.engine import Grade, grade
from lightonocr_validation.grounding.blocks import Grounding, parse
from lightonocr_validation.grounding.boxes import BoxScore, score_boxes
from lightonocr_validation.pages.samples import Sample


@dataclass(frozen=True)
class PageJudgement:
    grounding: Grounding
    blank: bool  # a blank page: its healthy answer has no block at all
    text: Grade  # the blocks' text, markers removed, graded as a plain reading of the page is (OCR003)
    boxes: BoxScore | None  # None where the page's true blocks are not known

    def problems(self) -> dict[str, str]:
        """What is wrong, by part ("format", "coordinates", "labels", "text", "boxes"); empty when nothing is."""
        found = {
            "format": "" if self.blank and not self.grounding.markers else self.grounding.format_problem(),
            "coordinates": self.grounding.coordinate_problem(),
            "labels": self.grounding.label_problem(),
            "text": "" if self.text.passed else self.text.reason,
            "boxes": self.boxes.reason if self.boxes is not None else "",
        }
        return {part: problem for part, problem in found.items() if problem}

    @property
    def passed(self) -> bool:
        return not self.problems()


def judge(answer: str, sample: Sample, page: int = 0) -> PageJudgement:
    """``answer`` to a grounding request for ``sample``'s page ``page``, judged against its ground truth."""
    grounding = parse(answer)
    boxes = score_boxes(grounding.pieces(), sample.blocks) if sample.blocks is not None else None
    blank = sample.expect == "empty"
    return PageJudgement(grounding, blank, grade(grounding.text(), sample, page), boxes)
