"""Parse and validate a grounding answer: LightOn's layout blocks, each after a ``![label](x1,y1,x2,y2)`` marker.

The format (LightOn's client README, read 2026-12-07): every layout block is preceded by its marker; the
coordinates are integers normalised to 0-1000 whatever the image size, x1 < x2 and y1 < y2; a block's text runs
to the next marker; the label ``text+`` continues the previous block (its box is another piece of that block).

The answer comes from a server, so it may be hostile: huge, malformed, millions of markers. The parser reads
at most `MAX_CHARS` characters and keeps at most `MAX_MARKERS` markers with one linear scan (every repetition
in the pattern is bounded, so there is no backtracking), and keeps only the first few problems of each kind.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# In the order LightOn's README lists them.
LABELS = frozenset(
    (
        "title",
        "section",
        "text",
        "list",
        "caption",
        "footnote",
        "aside_text",
        "header",
        "footer",
        "page_number",
        "table",
        "chart",
        "formula",
        "code",
        "image",
    )
)
CONTINUATION = "text+"
SCALE = 1000  # coordinates are per mille of the page's width and height
# A page at 16384 tokens holds at most ~2 MB of text (client.LONGEST_TOKEN_BYTES a token); 4 M characters is
# past any real page, and bounds the parser's work whatever it is given.
MAX_CHARS = 4_000_000
# A dense page has a few hundred blocks; ten thousand markers is not a page's layout.
MAX_MARKERS = 10_000
SHOWN = 3  # problems quoted of each kind

# Anything shaped like a marker: the label and the parenthesis are bounded, so a stray "![" costs one step.
_MARKER = re.compile(r"!\[([^\]\n]{0,40})\]\(([^)\n]{0,80})\)")
_NUMBER = r"\s*(-?\d+(?:\.\d+)?)\s*"
_COORDS = re.compile(",".join([_NUMBER] * 4))


@dataclass(frozen=True)
class Block:
    """One block: its label, its box in per mille (x1, y1, x2, y2) and its text; ``continues`` for ``text+``."""

    label: str
    box: tuple[float, float, float, float]
    text: str
    continues: bool = False


@dataclass(frozen=True)
class Grounding:
    """A parsed answer: the blocks whose marker parsed, and what is wrong, by kind (first `SHOWN` of each)."""

    blocks: tuple[Block, ...]
    markers: int  # marker-shaped strings seen (parsed or not), up to MAX_MARKERS
    unparsed: tuple[str, ...]  # markers whose parenthesis is not four numbers
    unparsed_count: int
    bad_coordinates: tuple[str, ...]
    bad_coordinates_count: int
    bad_labels: tuple[str, ...]
    bad_labels_count: int
    preamble: str  # text before the first marker (a block with no marker)
    cut: str  # why the parser stopped early ("" when it read everything)

    def format_problem(self) -> str:
        """Why the answer is not in the block format ("" when it is): no marker, an unparsable one, text with
        no marker before it, or an answer past the parser's bounds."""
        if self.cut:
            return self.cut
        if not self.markers:
            return "no ![label](x1,y1,x2,y2) marker: the answer is not in the grounding block format"
        if self.unparsed_count:
            return f"{self.unparsed_count} marker(s) do not parse as four numbers: {_quote(self.unparsed)}"
        if self.preamble:
            return f"text before the first marker, in no block: {self.preamble[:60]!r}"
        return ""

    def coordinate_problem(self) -> str:
        if not self.bad_coordinates_count:
            return ""
        return f"{self.bad_coordinates_count} box(es) invalid: {'; '.join(self.bad_coordinates)}"

    def label_problem(self) -> str:
        if not self.bad_labels_count:
            return ""
        return f"{self.bad_labels_count} label(s) not documented: {_quote(self.bad_labels)}"

    def text(self) -> str:
        """The answer with its markers removed: the blocks' texts, one paragraph each (a ``text+`` piece joins
        the block it continues with a space, as a paragraph broken across columns reads)."""
        parts: list[str] = []
        for block in self.blocks:
            if block.continues and parts:
                parts[-1] = f"{parts[-1]} {block.text}".strip()
            elif block.text:
                parts.append(block.text)
        return "\n\n".join(part for part in parts if part)

    def pieces(self) -> list[tuple[str, tuple[float, float, float, float], str]]:
        """Every box with its text and the label of the block it belongs to (a ``text+`` piece takes its
        block's label)."""
        out: list[tuple[str, tuple[float, float, float, float], str]] = []
        label = "text"
        for block in self.blocks:
            if not block.continues:
                label = block.label
            out.append((label, block.box, block.text))
        return out


def parse(answer: str) -> Grounding:
    """The blocks of ``answer`` and what is wrong with it, in time and memory bounded by MAX_CHARS/MAX_MARKERS."""
    cut = ""
    if len(answer) > MAX_CHARS:
        cut = f"the answer is {len(answer)} characters: past {MAX_CHARS}, not a page's layout"
        answer = answer[:MAX_CHARS]
    blocks: list[Block] = []
    problems: dict[str, _Problems] = {kind: _Problems() for kind in ("unparsed", "coordinates", "labels")}
    markers = 0
    pending: tuple[str, tuple[float, ...], int] | None = None  # the marker whose text is being read
    preamble = ""
    for match in _MARKER.finditer(answer):
        if markers == MAX_MARKERS:
            cut = f"more than {MAX_MARKERS} markers: not a page's layout"
            break
        markers += 1
        if markers == 1:
            preamble = answer[: match.start()].strip()
        if pending is not None:
            blocks.append(_block(*pending[:2], answer[pending[2] : match.start()]))
        pending = None
        label, inside = match.group(1).strip(), match.group(2)
        numbers = _COORDS.fullmatch(inside)
        if numbers is None:
            problems["unparsed"].add(match.group(0))
            continue
        coords = tuple(float(value) for value in numbers.groups())
        problem = coordinate_problem(numbers.groups())
        if problem:
            problems["coordinates"].add(f"{match.group(0)}: {problem}")
        if label == CONTINUATION and not blocks:
            problems["labels"].add(f"{match.group(0)} (continues no block)")
        elif label != CONTINUATION and label not in LABELS:
            problems["labels"].add(match.group(0))
        pending = (label, coords, match.end())
    if pending is not None:
        blocks.append(_block(*pending[:2], answer[pending[2] :]))
    return Grounding(
        blocks=tuple(blocks),
        markers=markers,
        unparsed=problems["unparsed"].shown(),
        unparsed_count=problems["unparsed"].count,
        bad_coordinates=problems["coordinates"].shown(),
        bad_coordinates_count=problems["coordinates"].count,
        bad_labels=problems["labels"].shown(),
        bad_labels_count=problems["labels"].count,
        preamble=preamble,
        cut=cut,
    )


def coordinate_problem(values: Iterable[str]) -> str:
    """Why four coordinates, as written, are not a valid box ("" when they are)."""
    raw = list(values)
    if any(not re.fullmatch(r"-?\d+", value) for value in raw):
        return "coordinates are not integers"
    x1, y1, x2, y2 = (int(value) for value in raw)
    if any(not 0 <= value <= SCALE for value in (x1, y1, x2, y2)):
        return f"coordinates outside 0-{SCALE} (pixels instead of per mille?)"
    if not (x1 < x2 and y1 < y2):
        return "x1 < x2 and y1 < y2 do not hold"
    return ""


def marker(label: str, box: Iterable[float]) -> str:
    """The marker LightOn writes before a block."""
    return f"![{label}]({','.join(str(round(value)) for value in box)})"


def write(blocks: Iterable[tuple[str, Iterable[float], str]]) -> str:
    """A grounding answer from (label, box, text) blocks, as LightOnOCR-3 writes one."""
    return "\n\n".join(f"{marker(label, box)}\n{text}" for label, box, text in blocks)


def _block(label: str, coords: tuple[float, ...], text: str) -> Block:
    box = (coords[0], coords[1], coords[2], coords[3])
    return Block(label, box, text.strip(), continues=label == CONTINUATION)


class _Problems:
    """A count of one kind of problem and its first SHOWN examples (a hostile answer has millions)."""

    def __init__(self) -> None:
        self.count = 0
        self.examples: list[str] = []

    def add(self, example: str) -> None:
        self.count += 1
        if len(self.examples) < SHOWN:
            self.examples.append(example)

    def shown(self) -> tuple[str, ...]:
        return tuple(self.examples)


def _quote(examples: tuple[str, ...]) -> str:
    return ", ".join(examples)
