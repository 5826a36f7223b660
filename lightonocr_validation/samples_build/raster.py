"""Raster pages: Pillow sets the text in DejaVu fonts, mathtext the formulas, one function per layout."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from lightonocr_validation.samples_build.math_render import render
from lightonocr_validation.samples_build.regions import LABELS, Region, record, rotate
from lightonocr_validation.samples_build.source import Block, PageSource, block_markdown

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
# Every DejaVu face used here (Serif, Sans, Sans Mono, regular and bold) is in this Debian package.
FONT_PACKAGE = "fonts-dejavu-core"
PAPERS = {
    "letter": (1190, 1540),  # US Letter at 1540 px on the long side (140 px per inch)
    "a4": (1089, 1540),
    "receipt": (640, 1540),  # a till roll photographed on its own: tall and narrow
}
INK = 0
PAPER = 255
MARGIN = 110
INLINE_MATH = re.compile(r"(\$[^$]+\$)")


class FontMissing(FileNotFoundError):
    """A DejaVu font is not installed; the message names the Debian package."""


def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    path = FONT_DIR / name
    if not path.is_file():
        raise FontMissing(f"font {path} not found: apt-get install {FONT_PACKAGE}")
    return ImageFont.truetype(str(path), size)


@dataclass(frozen=True)
class Style:
    body: str = "DejaVuSerif.ttf"
    bold: str = "DejaVuSerif-Bold.ttf"
    size: int = 22
    h1: int = 40
    h2: int = 30
    leading: float = 1.45
    gap: float = 0.8  # space between blocks, in lines

    @classmethod
    def of(cls, page: PageSource) -> Style:
        sans = page.setting("font", "serif") == "sans"
        return cls(
            body="DejaVuSans.ttf" if sans else cls.body,
            bold="DejaVuSans-Bold.ttf" if sans else cls.bold,
            size=page.setting("size", cls.size),
            h2=page.setting("h2", cls.h2),
            gap=page.setting("gap", cls.gap),
        )


# --- paragraphs: words are runs of text and inline formulas, wrapped greedily ---------------------------


def _words(text: str) -> list[list[str]]:
    """Words of a paragraph; a word is a list of pieces, each plain text or an inline ``$formula$``."""
    words: list[list[str]] = []
    current: list[str] = []
    for part in INLINE_MATH.split(text):
        if INLINE_MATH.fullmatch(part):
            current.append(part)
            continue
        for chunk in re.split(r"(\s+)", part):
            if chunk.isspace() and current:
                words.append(current)
                current = []
            elif chunk and not chunk.isspace():
                current.append(chunk)
    if current:
        words.append(current)
    return words


def _piece_width(piece: str, face: ImageFont.FreeTypeFont) -> float:
    return render(piece[1:-1], face.size).width if INLINE_MATH.fullmatch(piece) else face.getlength(piece)


def _draw_line(image: Image.Image, words: Sequence[list[str]], x: float, top: float, face: ImageFont.FreeTypeFont):
    draw = ImageDraw.Draw(image)
    baseline = top + face.getmetrics()[0]
    space = face.getlength(" ")
    for word in words:
        for piece in word:
            if INLINE_MATH.fullmatch(piece):
                formula = render(piece[1:-1], face.size)
                image.paste(INK, (round(x), round(baseline) - formula.ascent), formula.ink)
            else:
                draw.text((x, baseline), piece, font=face, fill=INK, anchor="ls")
            x += _piece_width(piece, face)
        x += space


def draw_paragraph(image: Image.Image, text: str, x: float, y: float, width: float, face, line: float) -> float:
    """Greedy word wrap to ``width`` pixels; returns the y below the last line."""
    lines: list[list[list[str]]] = [[]]
    used = 0.0
    space = face.getlength(" ")
    for word in _words(text):
        size = sum(_piece_width(p, face) for p in word)
        if lines[-1] and used + space + size > width:
            lines.append([])
            used = 0.0
        used += (space if lines[-1] else 0) + size
        lines[-1].append(word)
    for words in lines:
        _draw_line(image, words, x, y, face)
        y += line
    return y


def draw_table(image: Image.Image, rows: Sequence[Sequence[str]], x: int, y: float, style: Style) -> float:
    draw = ImageDraw.Draw(image)
    body, bold = font(style.body, style.size), font(style.bold, style.size)
    pad_x, pad_y = 18, 12
    columns = len(rows[0])
    widths = [max(max(body.getlength(r[c]), bold.getlength(r[c])) for r in rows) + 2 * pad_x for c in range(columns)]
    row_h = int(style.size * 1.3) + 2 * pad_y
    for number, row in enumerate(rows):
        top, cx = y + number * row_h, float(x)
        for c, cell in enumerate(row):
            face = bold if number == 0 else body
            # Numbers are right-aligned as in a real report; labels left-aligned.
            tx = cx + widths[c] - pad_x - face.getlength(cell) if c > 0 else cx + pad_x
            draw.text((tx, top + pad_y), cell, font=face, fill=INK)
            cx += widths[c]
    bottom = y + len(rows) * row_h
    for number in range(len(rows) + 1):
        line_y = y + number * row_h
        draw.line([(x, line_y), (x + sum(widths), line_y)], fill=INK, width=2 if number in (0, 1) else 1)
    cx = float(x)
    for c in range(columns + 1):
        draw.line([(cx, y), (cx, bottom)], fill=INK, width=1)
        cx += widths[c] if c < columns else 0
    return bottom


def draw_blocks(
    image: Image.Image,
    blocks: Sequence[Block],
    x: int,
    y: float,
    width: int,
    style: Style,
    found: list[Region] | None = None,
) -> float:
    """Draw blocks top to bottom in a column ``width`` wide starting at (x, y); returns the y reached. Each
    block's region goes into ``found`` when given (regions.py)."""
    draw = ImageDraw.Draw(image)
    line = style.size * style.leading
    body = font(style.body, style.size)
    for i, block in enumerate(blocks):
        if i:
            y += line * (0.25 if block.kind == "li" and blocks[i - 1].kind == "li" else style.gap)
        top = y
        if block.kind in ("h1", "h2"):
            size = style.h1 if block.kind == "h1" else style.h2
            y = draw_paragraph(image, block.text, x, y, width, font(style.bold, size), size * 1.35)
        elif block.kind == "li":
            draw.text((x + style.size * 0.3, y), "\u2022", font=body, fill=INK)
            indent = int(style.size * 1.4)
            y = draw_paragraph(image, block.text, x + indent, y, width - indent, body, line)
        elif block.kind == "p":
            y = draw_paragraph(image, block.text, x, y, width, body, line)
        elif block.kind == "table":
            y = draw_table(image, block.rows, x, y, style) + line * 0.3
        elif block.kind == "eq":
            formula = render(block.text, style.size * 1.35, display=True)
            y += line * 0.3
            image.paste(INK, (round(x + (width - formula.width) / 2), round(y)), formula.ink)
            y += formula.ink.height + line * 0.3
        record(found, image, LABELS[block.kind], block_markdown(block), (x, top, x + width, y))
    return y


# --- layouts ---------------------------------------------------------------------------------------------


def new_page(page: PageSource, default: str = "letter") -> Image.Image:
    return Image.new("L", PAPERS[page.setting("paper", default)], PAPER)


def blank_layout(page: PageSource, found: list[Region] | None = None) -> Image.Image:
    return new_page(page)


def page_layout(page: PageSource, found: list[Region] | None = None) -> Image.Image:
    image = new_page(page)
    blocks = [b for s in page.sections for b in s]
    draw_blocks(image, blocks, MARGIN, MARGIN, image.width - 2 * MARGIN, Style.of(page), found)
    return image


def columns_layout(page: PageSource, found: list[Region] | None = None) -> Image.Image:
    """The first section spans the page; the next two are its left and right columns, with a rule between."""
    image, style = new_page(page), Style.of(page)
    title, left, right = page.sections
    width = image.width - 2 * MARGIN
    top = draw_blocks(image, title, MARGIN, MARGIN, width, style, found) + 30
    gutter = 60
    column = (width - gutter) // 2
    rule_x = MARGIN + column + gutter // 2
    bottom = max(
        draw_blocks(image, left, MARGIN, top, column, style, found),
        draw_blocks(image, right, MARGIN + column + gutter, top, column, style, found),
    )
    ImageDraw.Draw(image).line([(rule_x, top), (rule_x, bottom)], fill=140, width=1)
    return image


def _text(image: Image.Image, xy: tuple[float, float], text: str, face, fill: int) -> tuple[float, float, float, float]:
    """Draw ``text`` at ``xy`` (top left) and return the box Pillow says it covers."""
    draw = ImageDraw.Draw(image)
    draw.text(xy, text, font=face, fill=fill)
    return draw.textbbox(xy, text, font=face)


def headers_footers_layout(page: PageSource, found: list[Region] | None = None) -> Image.Image:
    image = new_page(page)
    draw = ImageDraw.Draw(image)
    small = font("DejaVuSans.ttf", 18)
    left, right, footer = page.setting("header_left", ""), page.setting("header_right", ""), page.setting("footer", "")
    record(found, image, "header", left, _text(image, (MARGIN, 60), left, small, 70))
    right_box = _text(image, (image.width - MARGIN - small.getlength(right), 60), right, small, 70)
    record(found, image, "header", right, right_box)
    draw.line([(MARGIN, 90), (image.width - MARGIN, 90)], fill=120, width=1)
    draw_blocks(image, page.sections[0], MARGIN, 150, image.width - 2 * MARGIN, Style.of(page), found)
    footer_box = _text(image, ((image.width - small.getlength(footer)) / 2, image.height - 80), footer, small, 70)
    # "Page 14" is a page number to LightOn's labels; another running footer is a footer.
    label = "page_number" if re.fullmatch(r"(?i)(page\s*)?\d+", footer.strip()) else "footer"
    record(found, image, label, footer, footer_box)
    return image


def receipt_layout(page: PageSource, found: list[Region] | None = None) -> Image.Image:
    """A till roll: centred lines, ``label | amount`` rows, ``---`` rules, ``# `` title, ``**bold**``.

    Its blocks: the title, then each run of lines between rules as one text block."""
    image = new_page(page, "receipt")
    draw = ImageDraw.Draw(image)
    left, right, y = 56, image.width - 56, 120.0
    lines: list[Region] = []
    for raw in page.body.strip().splitlines():
        bold = "**" in raw
        text = raw.replace("**", "")
        face = font("DejaVuSansMono-Bold.ttf" if bold else "DejaVuSansMono.ttf", 24)
        if text == "---":
            y += 18
            draw.line([(left, y), (right, y)], fill=INK, width=2)
            y += 22
            _receipt_block(found, image, lines)
        elif text.startswith("# "):
            title = font("DejaVuSansMono-Bold.ttf", 32)
            box = _text(image, ((image.width - title.getlength(text[2:])) / 2, y), text[2:], title, INK)
            record(found, image, "title", text[2:], box)
            y += 46
        elif " | " in text:
            label, value = text.split(" | ", 1)
            first = _text(image, (left, y), label, face, INK)
            last = _text(image, (right - face.getlength(value), y), value, face, INK)
            lines.append(Region("text", f"{label} {value}", (first[0], first[1], last[2], max(first[3], last[3]))))
            y += 36
        else:
            box = _text(image, ((image.width - face.getlength(text)) / 2, y), text, face, INK)
            lines.append(Region("text", text, box))
            y += 34
    _receipt_block(found, image, lines)
    return image


def _receipt_block(found: list[Region] | None, image: Image.Image, lines: list[Region]) -> None:
    """The lines read since the last rule, as one text block; ``lines`` is emptied."""
    if lines:
        box = (min(r.box[0] for r in lines), lines[0].box[1], max(r.box[2] for r in lines), lines[-1].box[3])
        record(found, image, "text", "\n".join(r.text for r in lines), box)
    lines.clear()


def scan_layout(page: PageSource, found: list[Region] | None = None) -> Image.Image:
    """A clean page made to look photocopied: slight rotation, softened ink, grey paper, dust specks.

    Noise is sparse on purpose: dense per-pixel noise would make the PNG incompressible. The blocks are found
    on the clean page and turned with it.
    """
    rng = random.Random(page.setting("seed", 0))
    clean = page_layout(page, found)
    if found is not None:
        rotate(found, clean.size, page.setting("angle", 1.5))
    scanned = clean.rotate(page.setting("angle", 1.5), resample=Image.Resampling.BICUBIC, fillcolor=PAPER)
    scanned = scanned.filter(ImageFilter.GaussianBlur(0.5))
    scanned = scanned.point(lambda v: 10 + v * 228 // 255)  # grey paper: ink stays dark, white becomes 238
    draw = ImageDraw.Draw(scanned)
    for _ in range(600):
        x, y = rng.randrange(scanned.width), rng.randrange(scanned.height)
        r = rng.choice((0.6, 0.8, 1.0, 1.6))
        draw.ellipse([(x - r, y - r), (x + r, y + r)], fill=rng.randrange(90, 190))
    for _ in range(2):
        x = rng.randrange(80, scanned.width - 80)
        draw.line([(x, 0), (x + rng.randrange(-6, 7), scanned.height)], fill=rng.randrange(200, 225), width=1)
    # Darker band along the left edge where the page lifted off the glass.
    edge = Image.linear_gradient("L").rotate(90, expand=True).resize((40, scanned.height))
    band = ImageChops.darker(scanned.crop((0, 0, 40, scanned.height)), edge.point(lambda v: 160 + v * 95 // 255))
    scanned.paste(band)
    return scanned


LAYOUTS = {
    "page": page_layout,
    "columns": columns_layout,
    "headers-footers": headers_footers_layout,
    "receipt": receipt_layout,
    "scan": scan_layout,
    "blank": blank_layout,
}


def raster_page(page: PageSource, found: list[Region] | None = None) -> Image.Image:
    """The page's image; with ``found``, the region of each block it drew is added to it."""
    return LAYOUTS[page.layout](page, found)
