"""Multi-page PDFs with real (vector) text, typeset by ReportLab's platypus.

Reproducible: ``invariant=True`` fixes the creation date (2000-01-01) and the document ID, and
``pageCompression=0`` leaves the content streams unzipped, so the bytes depend on ReportLab's version
(pinned in pyproject's ``samples`` group) and not on the zlib build.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

from lightonocr_validation.samples_build.source import Block

MARGIN = 72  # one inch, in points
STYLES = {
    "h1": ParagraphStyle("h1", fontName="Helvetica-Bold", fontSize=18, leading=22, spaceAfter=10),
    "h2": ParagraphStyle("h2", fontName="Helvetica-Bold", fontSize=14, leading=18, spaceAfter=8),
    "p": ParagraphStyle("p", fontName="Helvetica", fontSize=11, leading=15, spaceBefore=6, spaceAfter=4),
    "li": ParagraphStyle("li", fontName="Helvetica", fontSize=11, leading=15, leftIndent=18, spaceAfter=4),
}


def _flowable(block: Block) -> Paragraph:
    if block.kind not in STYLES:
        raise ValueError(f"a PDF page has no {block.kind} blocks; use headings, paragraphs and lists")
    bullet = "\u2022" if block.kind == "li" else None
    return Paragraph(escape(block.text), STYLES[block.kind], bulletText=bullet)


def pdf_bytes(pages: Sequence[Sequence[Block]], title: str) -> bytes:
    """One PDF page per entry of ``pages`` (each fits on one Letter page)."""
    story: list = []
    for number, blocks in enumerate(pages):
        if number:
            story.append(PageBreak())
        story.extend(_flowable(block) for block in blocks)
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=LETTER,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=title,
        author="",
        subject="",
        creator="lightonocr_validation samples_build",
        producer="ReportLab",
        invariant=True,
        pageCompression=0,
    )
    document.build(story)
    return out.getvalue()
