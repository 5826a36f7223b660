"""Build small page sets for `invoke check --pages` tests: a folder of documents and an olmOCR-Bench folder.

The pages are drawn with Pillow (real text on a white page) and PDFs are written by Pillow, so pypdfium2
renders them as it renders any PDF. ``known_pages`` gives the fake vLLM the text of each page, keyed by the
pixels the loader sends, so the fake reads these pages as a healthy model would.
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image, ImageDraw

from lightonocr_validation.pages.user_pages import load_pages
from tests.fakevllm.server import page_digest

# Eight lines each, written as paragraphs: the fake's wrong_text fault drops every second one (lines 2, 4, 6
# and 8), so the facts below are about those lines and a broken reading fails them.
INVOICE = [
    "Invoice 2024-117",
    "Northwind Traders, 12 Harbour Road",
    "Delivery of 40 crates of apples",
    "Payment due within thirty days",
    "Subtotal 1,240.00 EUR",
    "VAT 20 percent 248.00 EUR",
    "Late fees apply after the due date",
    "Thank you for your business",
]
MINUTES = [
    "Minutes of the board meeting",
    "Present: Ada, Grace and Linus",
    "The budget for 2025 was approved",
    "The audit committee reported no findings",
    "Next meeting on the third of March",
    "Any other business: none",
    "The chair closed the meeting at noon",
    "Signed by the secretary",
]
TABLE_PAGE = [
    "Quarterly results",
    "Revenue grew in every region",
    "Figures in thousands of euros",
    "<table><tr><th>Region</th><th>Q1</th></tr><tr><td>North</td><td>120</td></tr>"
    "<tr><td>South</td><td>95</td></tr></table>",
    "Prepared by the finance team",
    "Source: internal ledger",
    "Reviewed in April",
    "Not audited",
]
NOTICE = [
    "Public notice",
    "The library opens at nine",
    "Quiet please in the reading room",
    "Books are due within three weeks",
    "Lost cards cost two euros",
    "Wifi password at the front desk",
    "No food near the archives",
    "Closed on public holidays",
]


def page_image(lines: list[str], size: tuple[int, int] = (850, 1100)) -> Image.Image:
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for number, line in enumerate(lines):
        draw.text((60, 60 + 40 * number), line, fill="black")
    return image


def write_pdf(path: Path, pages: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [page_image(lines) for lines in pages]
    images[0].save(path, "PDF", save_all=True, append_images=images[1:], resolution=100.0)


def markdown(lines: list[str]) -> str:
    return "\n\n".join(lines) + "\n"


def jsonl(path: Path, records: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")


def document_folder(root: Path) -> dict[str, str]:
    """A folder of documents (PNG + .md, a two-page PDF with .p1.md and facts, a JPEG with facts only);
    returns each page's text as a healthy model would read it, by page id."""
    root.mkdir(parents=True, exist_ok=True)
    page_image(INVOICE).save(root / "invoice.png")
    (root / "invoice.md").write_text(markdown(INVOICE), encoding="utf-8")
    write_pdf(root / "report.pdf", [MINUTES, TABLE_PAGE])
    (root / "report.p1.md").write_text(markdown(MINUTES), encoding="utf-8")
    jsonl(
        root / "report.facts.jsonl",
        [
            {"type": "present", "text": "The audit committee reported no findings"},
            {"type": "order", "before": "Revenue grew in every region", "after": "Not audited", "page": 1},
            {"type": "table", "cell": "North", "right": "120", "top_heading": "Region", "page": 1},
            {"type": "present", "text": "Source: internal ledger", "page": 1},
        ],
    )
    page_image(NOTICE).save(root / "notice.jpg", quality=95)
    (root / "notice.facts.json").write_text(
        json.dumps(
            [
                {"type": "present", "text": "Books are due within three weeks"},
                {"type": "absent", "text": "Open on public holidays"},
            ]
        ),
        encoding="utf-8",
    )
    return {
        "invoice.png": markdown(INVOICE),
        "report.pdf p1": markdown(MINUTES),
        "report.pdf p2": markdown(TABLE_PAGE),
        "notice.jpg": markdown(NOTICE),
    }


def bench_folder(root: Path) -> dict[str, str]:
    """olmOCR-Bench's layout: three category files (with its metadata keys, 1-based pages) beside pdfs/."""
    write_pdf(root / "pdfs" / "arxiv" / "notice.pdf", [NOTICE])
    write_pdf(root / "pdfs" / "report.pdf", [MINUTES, TABLE_PAGE])
    meta = {"checked": "verified", "url": "https://example.com/source.pdf"}
    jsonl(
        root / "multi_column.jsonl",
        [
            {"pdf": "arxiv/notice.pdf", "page": 1, "id": "mc_1", "type": "present", **meta,
             "text": "Books are due within three weeks"},
            {"pdf": "report.pdf", "page": 1, "id": "mc_2", "type": "order", **meta,
             "before": "Present: Ada, Grace and Linus", "after": "Any other business: none"},
        ],
    )  # fmt: skip
    jsonl(
        root / "table_tests.jsonl",
        [
            {"pdf": "report.pdf", "page": 2, "id": "tt_1", "type": "table", "max_diffs": 0, **meta,
             "cell": "95", "left": "South", "up": "120", "top_heading": "Q1"},
            {"pdf": "report.pdf", "page": 2, "id": "tt_2", "type": "table", **meta,
             "cell": "120", "left": "North", "top_heading": "Q1"},
        ],
    )  # fmt: skip
    jsonl(
        root / "old_scans.jsonl",
        [
            {"pdf": "arxiv/notice.pdf", "page": 1, "id": "os_1", "type": "absent", **meta,
             "text": "Closed on Sundays"},
            {"pdf": "arxiv/notice.pdf", "page": 1, "id": "os_2", "type": "present", **meta,
             "text": "Wifi password at the front desk"},
        ],
    )  # fmt: skip
    return {
        "arxiv/notice.pdf p1": markdown(NOTICE),
        "report.pdf p1": markdown(MINUTES),
        "report.pdf p2": markdown(TABLE_PAGE),
    }


def known_pages(root: Path, texts: dict[str, str]) -> dict[str, str]:
    """What the fake vLLM needs to read the pages of ``root``: the sent pixels' digest -> the page's text."""
    return {page_digest(page.image()): texts[page.id] for page in load_pages(root)}


MATH_PAGE = [
    "Lecture notes on relativity",
    "Energy Equals mass times c squared",
    "The famous relation reads",
    "$$E = mc^2$$",
    "where c is the speed of light",
    "Mass and energy are equivalent",
    "See the appendix for a derivation",
    "Lecture 3",
]


def bench_folder_with_every_type(root: Path) -> dict[str, str]:
    """``bench_folder`` plus the fact types and options that need olmOCR-Bench's semantics: a math test, a
    case-insensitive present test on the first characters, an absent test on the last ones, and an explicit
    baseline test that expects a blank page (so that PDF gets no automatic baseline)."""
    texts = bench_folder(root)
    write_pdf(root / "pdfs" / "math.pdf", [MATH_PAGE])
    write_pdf(root / "pdfs" / "blank.pdf", [[]])
    jsonl(
        root / "arxiv_math.jsonl",
        [
            {"pdf": "math.pdf", "page": 1, "id": "am_1", "type": "math", "math": "E = mc^2", "checked": "verified"},
            {"pdf": "math.pdf", "page": 1, "id": "am_2", "type": "present", "text": "energy equals mass",
             "case_sensitive": False, "first_n": 200, "max_diffs": 1},
        ],
    )  # fmt: skip
    jsonl(
        root / "headers_footers.jsonl",
        [
            {"pdf": "math.pdf", "page": 1, "id": "hf_1", "type": "absent", "text": "PAGE 7", "case_sensitive": False,
             "last_n": 40},
            {"pdf": "blank.pdf", "page": 1, "id": "hf_2", "type": "baseline", "max_length": 0},
        ],
    )  # fmt: skip
    return {**texts, "math.pdf p1": markdown(MATH_PAGE), "blank.pdf p1": ""}
