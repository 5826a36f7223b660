"""The pages a benchmark sends, prepared before the clock starts: rendered, PNG-encoded and base64'd once.

`sample_pages` is today's only source (the bundled samples, with their ground truth, so every answer can be
graded). A source is any function that yields `BenchPage`s: a folder of the user's pages (`--pages DIR`, on
its way in another branch) plugs in as one more such function, with `sample=None` where a page has no
ground truth (its answers are then timed but not graded).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from lightonocr_validation.pages.image import LONGEST_SIDE
from lightonocr_validation.pages.inputs import PageInput
from lightonocr_validation.pages.inputs import sample_pages as rendered_sample_pages
from lightonocr_validation.pages.samples import SAMPLES_DIR, Sample


@dataclass(frozen=True)
class BenchPage:
    label: str  # "prose-01", or "invoice p2" for the second page of a PDF
    data_url: str  # data:image/png;base64,... (lossless, at most the profile's 1540 or 2048 px on the longest side)
    width: int
    height: int
    sample: Sample | None = None  # ground truth to grade the answer against; None: timed, not graded
    page: int = 0  # 0-based page of the sample

    @property
    def payload_bytes(self) -> int:
        return len(self.data_url)


def from_page_input(page: PageInput) -> BenchPage:
    return BenchPage(page.label, page.data_url, page.width, page.height, page.sample, page.page)


def sample_pages(root: Path = SAMPLES_DIR, longest: int = LONGEST_SIDE) -> Iterator[BenchPage]:
    """Every page of the bundled sample set at `longest` px (the model profile's; rendered once per process,
    shared with `invoke check`)."""
    yield from (from_page_input(page) for page in rendered_sample_pages(str(root), longest))


class PageSelectionError(ValueError):
    """--page named a page the source does not have."""


def select(pages: Iterable[BenchPage], wanted: Sequence[str] = ()) -> list[BenchPage]:
    """The pages whose label is in ``wanted`` (all of them when it is empty), in the source's order."""
    available = list(pages)
    names = {part.strip() for value in wanted for part in value.split(",") if part.strip()}
    if not names:
        return available
    unknown = sorted(names - {page.label for page in available})
    if unknown:
        known = ", ".join(page.label for page in available)
        raise PageSelectionError(f"unknown page {', '.join(unknown)}: the pages are {known}")
    return [page for page in available if page.label in names]
