"""Seeded grounding answers for the drawn pages, as a healthy or a broken LightOnOCR-3 would write them.

Each `Case` turns a page's true blocks (the manifest's ``blocks``) into one grounding answer. Healthy cases
make the differences a healthy model makes: boxes off by a few per mille or padded, near-synonym labels
swapped (header/title, title/section, list/text, page_number/footer), blocks split in two or neighbours
merged, a few characters misread. Broken cases make those of a broken server or client: coordinates in
pixels instead of per mille, x and y swapped, boxes shifted by a tenth of the page, blocks missing, every
box the whole page, labels that name another kind of block, an answer with no markers at all.

The fake vLLM answers grounding requests with these cases (tests/fakevllm), and calibration.py grades them
all to set and show the thresholds of grounding/boxes.py.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lightonocr_validation.accuracy.readings import HEALTHY_MISREAD_RATE, misread
from lightonocr_validation.grounding.blocks import write
from lightonocr_validation.grounding.boxes import union
from lightonocr_validation.pages.blocks import TrueBlock

SHIFT = 100  # a tenth of the page, per mille
JITTER = 6  # per mille: "a few"
PAD = 10  # per mille on each side: a model that draws its boxes with a margin
SWAPS = {"header": "title", "title": "section", "section": "title", "page_number": "footer", "list": "text"}
# A label of another kind of block, as from a model whose labels are shuffled.
WRONG = {"table": "image", "formula": "table", "image": "table"}

Piece = tuple[str, tuple[float, float, float, float], str]  # label, box, text
Transform = Callable[[list[Piece], tuple[int, int], random.Random], list[Piece]]


@dataclass(frozen=True)
class Case:
    name: str
    healthy: bool
    what: str
    change: Transform

    def answer(self, truth: Sequence[TrueBlock], size: tuple[int, int], seed: int) -> str:
        """The grounding answer for a page of ``size`` pixels whose true blocks are ``truth``."""
        rng = random.Random(f"{self.name}:{seed}:{len(truth)}:{truth[0].box if truth else ''}")
        pieces = [(block.label, block.box, block.text) for block in truth]
        if self.name == "no_markers":
            return "\n\n".join(text for _, _, text in pieces)
        return write(self.change(pieces, size, rng))


def _clamp(box: Sequence[float]) -> tuple[float, float, float, float]:
    """A box kept on the page (a model writes nothing past 1000 in per mille), rounded to integers."""
    x1, y1, x2, y2 = (min(1000.0, max(0.0, round(value))) for value in box)
    return (x1, y1, max(x2, x1 + 1), max(y2, y1 + 1))


def _boxes(
    move: Callable[[tuple[float, ...], tuple[int, int], random.Random], Sequence[float]], clamp=_clamp
) -> Transform:
    return lambda pieces, size, rng: [(label, clamp(move(box, size, rng)), text) for label, box, text in pieces]


def _labels(rename: dict[str, str]) -> Transform:
    return lambda pieces, size, rng: [(rename.get(label, label), box, text) for label, box, text in pieces]


def _jitter(box, size, rng):
    return [value + rng.randint(-JITTER, JITTER) for value in box]


def _pad(box, size, rng):
    return [box[0] - PAD, box[1] - PAD, box[2] + PAD, box[3] + PAD]


def _pixels(box, size, rng):
    return [box[0] * size[0] / 1000, box[1] * size[1] / 1000, box[2] * size[0] / 1000, box[3] * size[1] / 1000]


def _split(pieces: list[Piece], size: tuple[int, int], rng: random.Random) -> list[Piece]:
    """Text blocks of several lines cut in two at a word near the middle; the second half is a new text block
    or a ``text+`` piece (both are what a model writes)."""
    out: list[Piece] = []
    for label, box, text in pieces:
        words = text.split(" ")
        if label != "text" or box[3] - box[1] < 30 or len(words) < 8:
            out.append((label, box, text))
            continue
        middle = (box[1] + box[3]) / 2
        cut = len(words) // 2
        out.append((label, (box[0], box[1], box[2], middle - 2), " ".join(words[:cut])))
        out.append((rng.choice(("text", "text+")), (box[0], middle + 2, box[2], box[3]), " ".join(words[cut:])))
    return out


def _merge(pieces: list[Piece], size: tuple[int, int], rng: random.Random) -> list[Piece]:
    """Each pair of neighbouring text blocks in one column written as one block."""
    out: list[Piece] = []
    for label, box, text in pieces:
        if (
            out
            and label == "text"
            and out[-1][0] == "text"
            and abs(out[-1][1][0] - box[0]) < 20
            and out[-1][1][1] < box[1]
        ):
            last = out.pop()
            out.append(("merged", union([last[1], box]), f"{last[2]}\n\n{text}"))
        else:
            out.append((label, box, text))
    return [("text" if label == "merged" else label, box, text) for label, box, text in out]


def _misread(pieces: list[Piece], size: tuple[int, int], rng: random.Random) -> list[Piece]:
    return [(label, box, misread(text, HEALTHY_MISREAD_RATE, rng)) for label, box, text in pieces]


def _missing(pieces: list[Piece], size: tuple[int, int], rng: random.Random) -> list[Piece]:
    return [piece for number, piece in enumerate(pieces) if number % 2 == 0]


def _then(*steps: Transform) -> Transform:
    def apply(pieces: list[Piece], size: tuple[int, int], rng: random.Random) -> list[Piece]:
        for step in steps:
            pieces = step(pieces, size, rng)
        return pieces

    return apply


CASES: tuple[Case, ...] = (
    Case("exact", True, "the true blocks, boxes and labels", lambda pieces, size, rng: pieces),
    Case("jitter", True, f"every coordinate moved by up to {JITTER}‰", _boxes(_jitter)),
    Case("padded", True, f"every box {PAD}‰ larger on each side", _boxes(_pad)),
    Case("synonyms", True, "header→title, title↔section, page_number→footer, list→text", _labels(SWAPS)),
    Case("split", True, "paragraphs cut in two blocks (text or text+)", _split),
    Case("merged", True, "neighbouring paragraphs of a column in one block", _merge),
    Case("misread", True, "1 % of characters misread, as the healthy plain readings", _misread),
    Case(
        "combined",
        True,
        "jitter, synonyms, split and misread together",
        _then(_boxes(_jitter), _labels(SWAPS), _split, _misread),
    ),
    Case(
        "pixels",
        False,
        "coordinates in the page's pixels instead of per mille",
        _boxes(_pixels, clamp=lambda box: tuple(round(v) for v in box)),
    ),
    Case("swapped", False, "x and y swapped: (y1,x1,y2,x2)", _boxes(lambda b, s, r: [b[1], b[0], b[3], b[2]])),
    Case(
        "shifted_down",
        False,
        f"every box {SHIFT}‰ lower",
        _boxes(lambda b, s, r: [b[0], b[1] + SHIFT, b[2], b[3] + SHIFT]),
    ),
    Case(
        "shifted_right",
        False,
        f"every box {SHIFT}‰ to the right",
        _boxes(lambda b, s, r: [b[0] + SHIFT, b[1], b[2] + SHIFT, b[3]]),
    ),
    Case("missing", False, "every other block left out", _missing),
    Case("whole_page", False, "every box the whole page", _boxes(lambda b, s, r: [0, 0, 1000, 1000])),
    Case(
        "wrong_labels",
        False,
        "every block labelled as another kind (text as table, ...)",
        _labels(
            {
                "text": "table",
                "title": "image",
                "section": "code",
                "list": "chart",
                "header": "formula",
                "page_number": "caption",
                "footer": "image",
                **WRONG,
            }
        ),
    ),
    Case(
        "unknown_labels",
        False,
        "labels outside LightOn's set (paragraph, heading, ...)",
        _labels({"text": "paragraph", "title": "heading", "section": "heading", "list": "bullets", "table": "grid"}),
    ),
    Case("no_markers", False, "the plain-mode answer: no marker at all", lambda pieces, size, rng: pieces),
)
HEALTHY = tuple(case for case in CASES if case.healthy)
BROKEN = tuple(case for case in CASES if not case.healthy)


def case(name: str) -> Case:
    found = next((c for c in CASES if c.name == name), None)
    if found is None:
        raise KeyError(f"no grounding case {name!r}: one of {', '.join(c.name for c in CASES)}")
    return found
