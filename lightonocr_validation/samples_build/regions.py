"""Where each block of a drawn page is: recorded while the layouts draw, kept in the manifest as true blocks.

The layouts hand `record` the pixel region they drew a block in; the region is tightened to the block's ink
(any pixel not paper), so a true box is where the text is, not where its line spacing ends. `true_blocks`
groups consecutive list items into one list block (as LightOnOCR-3 labels a list), names each block with a
label of LightOn's grounding set and writes its box in per mille of the page, as grounding answers do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageChops

# The source's block kinds as grounding labels (LightOn's set: lightonocr_validation/grounding/blocks.py).
LABELS = {"h1": "title", "h2": "section", "p": "text", "li": "list", "table": "table", "eq": "formula"}
PixelBox = tuple[float, float, float, float]


@dataclass
class Region:
    """A drawn block: its label, its text (Markdown, as the ground truth writes it) and its ink box in pixels."""

    label: str
    text: str
    box: PixelBox


def record(found: list[Region] | None, image: Image.Image, label: str, text: str, region: PixelBox) -> None:
    """Add the block drawn in ``region`` to ``found`` (when the caller wants regions), tightened to its ink."""
    if found is None:
        return
    left, top = max(0, math.floor(region[0])), max(0, math.floor(region[1]))
    right, bottom = min(image.width, math.ceil(region[2])), min(image.height, math.ceil(region[3]))
    ink = ImageChops.invert(image.crop((left, top, right, bottom)).convert("L")).getbbox()
    box = (left + ink[0], top + ink[1], left + ink[2], top + ink[3]) if ink else (left, top, right, bottom)
    found.append(Region(label, text, box))


def rotate(found: Sequence[Region], size: tuple[int, int], degrees: float) -> None:
    """Turn each region as ``Image.rotate(degrees)`` turns the page (counter-clockwise about its centre) and
    keep the upright box around its corners."""
    cx, cy = size[0] / 2, size[1] / 2
    cos, sin = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    for region in found:
        x1, y1, x2, y2 = region.box
        corners = [
            (cx + (x - cx) * cos + (y - cy) * sin, cy - (x - cx) * sin + (y - cy) * cos)
            for x, y in ((x1, y1), (x2, y1), (x1, y2), (x2, y2))
        ]
        region.box = (
            min(x for x, _ in corners),
            min(y for _, y in corners),
            max(x for x, _ in corners),
            max(y for _, y in corners),
        )


def true_blocks(found: Sequence[Region], size: tuple[int, int]) -> list[dict[str, object]]:
    """The manifest's ``blocks`` of a page: label, box (per mille, integers, rounded outwards) and text."""
    merged: list[Region] = []
    for region in found:
        if region.label == "list" and merged and merged[-1].label == "list":
            last = merged[-1]
            box = (min(last.box[0], region.box[0]), last.box[1], max(last.box[2], region.box[2]), region.box[3])
            merged[-1] = Region("list", f"{last.text}\n{region.text}", box)
        else:
            merged.append(Region(region.label, region.text, region.box))
    width, height = size
    return [
        {
            "label": region.label,
            "box": [
                max(0, math.floor(region.box[0] * 1000 / width)),
                max(0, math.floor(region.box[1] * 1000 / height)),
                min(1000, math.ceil(region.box[2] * 1000 / width)),
                min(1000, math.ceil(region.box[3] * 1000 / height)),
            ],
            "text": region.text,
        }
        for region in merged
    ]
