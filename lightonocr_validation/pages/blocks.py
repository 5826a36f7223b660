"""Where a page's blocks truly are: the ground truth of LightOnOCR-3's grounding mode, as the samples' manifest and
a `--pages` set's `<page>.blocks.json` record it (read with the page; judged by grounding/boxes.py)."""

from __future__ import annotations

from dataclasses import dataclass

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class TrueBlock:
    """A block of a drawn page: its label, its box in per mille and its text (Markdown)."""

    label: str
    box: Box
    text: str


def read_true_blocks(raw: object) -> tuple[TrueBlock, ...]:
    """True blocks as the manifest and a ``--pages`` set's ``<page>.blocks.json`` write them: a list of
    ``{"label": ..., "box": [x1, y1, x2, y2], "text": ...}`` with the box in per mille. ValueError names the
    first entry that is not one."""
    if not isinstance(raw, list):
        raise ValueError("'blocks' is not a list of {label, box, text} objects")
    out: list[TrueBlock] = []
    for number, entry in enumerate(raw):
        box = entry.get("box") if isinstance(entry, dict) else None
        label = entry.get("label") if isinstance(entry, dict) else None
        text = entry.get("text", "") if isinstance(entry, dict) else None
        numbers = box if isinstance(box, list) and len(box) == 4 else []
        if not numbers or any(isinstance(v, bool) or not isinstance(v, int) for v in numbers):
            raise ValueError(f"block {number}: 'box' is not [x1, y1, x2, y2] in integers (per mille of the page)")
        if not (0 <= numbers[0] < numbers[2] <= 1000 and 0 <= numbers[1] < numbers[3] <= 1000):
            raise ValueError(f"block {number}: box {numbers} is not 0 <= x1 < x2 <= 1000 and 0 <= y1 < y2 <= 1000")
        if not isinstance(label, str) or not label or not isinstance(text, str):
            raise ValueError(f"block {number}: 'label' must be a label such as \"text\" and 'text' a string")
        out.append(TrueBlock(label, (numbers[0], numbers[1], numbers[2], numbers[3]), text))
    return tuple(out)
