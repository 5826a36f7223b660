"""Score a grounding answer's boxes against a page's true blocks: is each block found where its text is?

Boxes are per mille of the page (0-1000). A model may cut a block in two or join two neighbours, so a true
block is matched to whichever of three counterparts sits closest to it:

- the pieces that lie mostly inside it, or are centred in it (a block split: their union against the block),
- the one box that holds most of it, against the union of the true blocks that box holds (blocks merged),
- the predicted box that overlaps it most (a box drawn a little off).

A block is *located* when its counterpart's edges are all within `OFFSET_MAX` per mille of the true edges
(a box's four edges, not its area: IoU punishes a few per mille of error on a one-line title as much as a
wrong box on a paragraph) and the counterpart's text is the block's (word-level similarity at least
`TEXT_MIN`: a box in the right place that carries another block's text, as when every box slid down by one
paragraph, is not where that text is). Its label *agrees* when a box of the counterpart has its label or a near-synonym
(`SYNONYMS`). A predicted box is *used* when it is part of a located block's counterpart. A page passes when
`LOCATED_MIN` of its blocks are located, `LABELS_MIN` of those agree and `PRECISION_MIN` of the predicted
boxes are used. lightonocr_validation/grounding/calibration.py sets these between seeded healthy and broken
readings; docs/accuracy.md shows the margin.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median

from rapidfuzz.distance import Levenshtein

from lightonocr_validation.pages.blocks import Box, TrueBlock

OFFSET_MAX = 30  # per mille: a healthy box is off by a few, a broken one by tens (a tenth of the page: 100)
TEXT_MIN = 0.5  # word-level similarity: 0.9 and more for a healthy reading, 0.1 to 0.3 for another paragraph
LOCATED_MIN = 0.8
LABELS_MIN = 0.8
PRECISION_MIN = 0.8
# A dense page has a few hundred blocks; matching costs blocks x boxes x blocks, so a hostile answer's
# millions of boxes are refused before they are matched.
MAX_BOXES = 2000
INSIDE = 0.6  # "mostly inside": this share of a box's area lies in the other
# Labels a healthy model may give the same block. Pairs, not classes: a running header may be read as a
# title or a page number, but a title is not a page number.
SYNONYMS = frozenset(
    frozenset(pair)
    for pair in (
        ("header", "title"),
        ("title", "section"),
        ("header", "section"),
        ("header", "page_number"),
        ("footer", "page_number"),
        ("text", "list"),
        ("text", "caption"),
        ("text", "footnote"),
        ("text", "aside_text"),
    )
)


@dataclass(frozen=True)
class BoxScore:
    located: float  # share of true blocks located
    labels: float  # share of located blocks whose label agrees
    precision: float  # share of predicted boxes that belong to a located block
    offset: float  # median over located blocks of the worst edge offset, per mille
    blocks: int
    predicted: int
    reason: str  # why the page fails ("" when it passes)

    @property
    def passed(self) -> bool:
        return not self.reason

    def show(self) -> str:
        return f"located {self.located:.2f}, labels {self.labels:.2f}, precision {self.precision:.2f}"


def labels_agree(a: str, b: str) -> bool:
    return a == b or frozenset((a, b)) in SYNONYMS


def score_boxes(predicted: Sequence[tuple[str, Box, str]], truth: Sequence[TrueBlock]) -> BoxScore:
    """How well ``predicted`` (label, box, text) blocks locate and label the page's ``truth`` blocks."""
    if not truth:
        return BoxScore(1.0, 1.0, 1.0 if not predicted else 0.0, 0.0, 0, len(predicted), "")
    if len(predicted) > MAX_BOXES:
        return BoxScore(0.0, 0.0, 0.0, 1000.0, len(truth), len(predicted), f"{len(predicted)} boxes: past {MAX_BOXES}")
    used: set[int] = set()
    located = agreeing = 0
    offsets: list[float] = []
    for block in truth:
        offset, members, held = _counterpart(block, predicted, truth)
        if offset > OFFSET_MAX or not _same_text(" ".join(t.text for t in held), [predicted[i][2] for i in members]):
            continue
        located += 1
        offsets.append(offset)
        used.update(members)
        agreeing += any(labels_agree(predicted[i][0], block.label) for i in members)
    located_share = located / len(truth)
    labels = agreeing / located if located else 0.0
    precision = len(used) / len(predicted) if predicted else 0.0
    reasons = []
    if located_share < LOCATED_MIN:
        reasons.append(f"{located} of {len(truth)} blocks located within {OFFSET_MAX}‰ (at least {LOCATED_MIN:.0%})")
    if located and labels < LABELS_MIN:
        reasons.append(f"labels agree on {agreeing} of {located} located blocks (at least {LABELS_MIN:.0%})")
    if precision < PRECISION_MIN:
        reasons.append(
            f"{len(used)} of {len(predicted)} boxes lie on a true block (at least {PRECISION_MIN:.0%})"
            if predicted
            else "no box"
        )
    return BoxScore(
        located_share,
        labels,
        precision,
        median(offsets) if offsets else float(1000),
        len(truth),
        len(predicted),
        "; ".join(reasons),
    )


def _counterpart(
    block: TrueBlock, predicted: Sequence[tuple[str, Box, str]], truth: Sequence[TrueBlock]
) -> tuple[float, tuple[int, ...], tuple[TrueBlock, ...]]:
    """The closest of the split, merge and single-box counterparts: (worst edge offset, the predicted indices,
    the true blocks they stand for)."""
    candidates: list[tuple[float, tuple[int, ...], tuple[TrueBlock, ...]]] = []
    pieces = tuple(i for i, (_, box, _) in enumerate(predicted) if _inside(box, block.box) or _centred(box, block.box))
    if pieces:
        candidates.append((offset(union([predicted[i][1] for i in pieces]), block.box), pieces, (block,)))
    for i, (_, box, _) in enumerate(predicted):
        if _inside(block.box, box):
            held = tuple(t for t in truth if _inside(t.box, box))
            candidates.append((offset(box, union([t.box for t in held])), (i,), held))
    if predicted:
        best = max(range(len(predicted)), key=lambda i: iou(predicted[i][1], block.box))
        candidates.append((offset(predicted[best][1], block.box), (best,), (block,)))
    return min(candidates, key=lambda c: c[0], default=(float(1000), (), (block,)))


_TAG = re.compile(r"<[^>]*>")
_WORD = re.compile(r"\w+")


def _same_text(truth: str, pieces: Sequence[str]) -> bool:
    """The pieces' text is the true text, word for word but for a few (markup and case aside). A block with
    no known text (a user's box without it) agrees with any."""
    expected = _WORD.findall(_TAG.sub(" ", truth).lower())
    if not expected:
        return True
    found = _WORD.findall(_TAG.sub(" ", " ".join(pieces)).lower())
    return Levenshtein.normalized_similarity(expected, found) >= TEXT_MIN


def area(box: Box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def intersection(a: Box, b: Box) -> float:
    return area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))


def iou(a: Box, b: Box) -> float:
    shared = intersection(a, b)
    total = area(a) + area(b) - shared
    return shared / total if total > 0 else 0.0


def union(boxes: Sequence[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def offset(a: Box, b: Box) -> float:
    """The worst of the four edge distances, per mille."""
    return max(abs(x - y) for x, y in zip(a, b, strict=True))


def _centred(small: Box, big: Box) -> bool:
    """The centre of ``small`` lies in ``big``: a piece of a split block whose box is a little off."""
    x, y = (small[0] + small[2]) / 2, (small[1] + small[3]) / 2
    return big[0] <= x <= big[2] and big[1] <= y <= big[3]


def _inside(small: Box, big: Box) -> bool:
    """Most of ``small`` lies in ``big`` (a box of no area lies nowhere)."""
    size = area(small)
    return size > 0 and intersection(small, big) >= INSIDE * size
