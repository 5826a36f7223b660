"""A folder of the user's own pages with their ground truth: loading, validation and page rendering.

Two layouts are read (docs/vllm-validation.md, "Your own pages", describes them for users):

- **olmOCR-Bench's** (the folder holds ``*.jsonl`` test files beside a ``pdfs/`` folder): every jsonl line is
  one test, ``{"pdf": "<path under pdfs/>", "page": <1-based>, "id": ..., "type": ..., <the test's fields>}``
  plus metadata (``checked``, ``url``). A test's category is its file's name (``table_tests``), as
  olmOCR-Bench reports; like olmOCR-Bench, every PDF without a ``baseline`` test gets one (category
  ``baseline``) where the fact types support it. Only pages with a test are read.
- **a folder of documents**: images (``.png``, ``.jpg``, ``.jpeg``, ``.webp``, ``.tif``, ``.tiff``,
  ``.bmp``) and PDFs, each with its ground truth beside it: ``NAME.md`` for an image or a one-page PDF,
  ``NAME.p<N>.md`` (N from 1) for page N of a PDF, and/or facts in ``NAME.facts.jsonl`` (one fact a line) or
  ``NAME.facts.json`` (a list), in the fact format of samples/manifest.json (``page`` 0-based). Every page
  needs a ``.md`` or a fact. A ``.md`` page is one test of category ``text`` (graded by CER); a fact is a
  test whose category is its type. A page may also say where its blocks are, for LightOnOCR-3's grounding
  mode: ``NAME.blocks.json`` (``NAME.p<N>.blocks.json`` for page N of a PDF), a list of
  ``{"label": "text", "box": [x1, y1, x2, y2], "text": "..."}`` with the box in per mille of the page, as
  samples/manifest.json writes the bundled pages' blocks. olmOCR-Bench's layout has no boxes.

``load_page_set(folder)`` returns the pages, each with its tests and a way to render its image as LightOn's
client does, and the pages that cannot be read, each with a one-line reason (a ``.md`` that is not UTF-8, an
image past PAGE_PIXELS_MAX pixels, a file that does not decode): those are left out and the others judged.
``load_pages`` is the strict form (a benchmark's pages: any unread page is an error). It needs nothing of the
check machinery. A problem of the folder itself is a ``PagesError`` whose message is one line naming the file
(and line) and the fix.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, UnidentifiedImageError

from lightonocr_validation.pages.blocks import TrueBlock, read_true_blocks
from lightonocr_validation.pages.image import LONGEST_SIDE, fit_longest_side, to_rgb
from lightonocr_validation.pages.samples import PDFIUM_LOCK, Sample, Thresholds, render_pdf_page
from lightonocr_validation.truth.facts import FACT_TYPES, Fact, parse_fact

OLMOCR_BENCH = "olmocr-bench"
FOLDER = "folder"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")
TEXT_CATEGORY = "text"  # the category of a page graded against its .md ground truth
BASELINE_CATEGORY = "baseline"
# Keys of an olmOCR-Bench test line that say where the test applies or how it was made, not what it checks.
OLMOCR_LOCATION_KEYS = ("pdf", "page", "id")
OLMOCR_METADATA_KEYS = ("checked", "url")
BLOCKS_SUFFIX = ".blocks.json"
_PAGE_MD = re.compile(r"^(?P<stem>.+)\.p(?P<number>[1-9][0-9]*)$")
# The most pixels a page image may have, read from its header before anything is decoded. A page is sent at
# 1540 px on its longest side, so no page needs more; decoding one takes 3 bytes a pixel (150 Mpx: 450 MB),
# and a small file can announce far more (a 40,000 x 40,000 px PNG of 276 KB would take 4.8 GB). 150 Mpx holds
# an A0 sheet scanned at 300 dpi (9933 x 14043 px).
PAGE_PIXELS_MAX = 150_000_000
# Pillow warns past its own 89 Mpx and refuses past 179 Mpx; PAGE_PIXELS_MAX is the bound here, named in the
# page's reason, so Pillow's warning (printed on stderr mid-run) is not wanted.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


class PagesError(ValueError):
    """The folder of pages cannot be graded; the message is one line naming the file and the fix."""


@dataclass(frozen=True)
class Unread:
    """A page left out of the set: its file and why, one line with the fix."""

    file: Path
    reason: str

    def line(self) -> str:
        return f"{self.file}: {self.reason}"


@dataclass(frozen=True)
class PageTest:
    """One graded statement about one page: a fact, or (``fact`` None) the page's text against its .md."""

    id: str
    category: str
    fact: Fact | None
    source: str  # "file:line" or the .md file, for messages

    def describe(self) -> str:
        return self.fact.describe() if self.fact else f"text matches {Path(self.source).name}"


@dataclass(frozen=True)
class UserPage:
    """One page to send: page ``page`` (0-based) of ``file``, with its tests."""

    id: str  # "scan.png", "report.pdf p2", "arxiv_math/2503.pdf p1"
    file: Path
    page: int
    ground_truth: str | None  # the .md text, when one was given
    tests: tuple[PageTest, ...]
    blocks: tuple[TrueBlock, ...] | None = None  # where its blocks are (NAME.blocks.json), when given

    @property
    def is_pdf(self) -> bool:
        return self.file.suffix.lower() == ".pdf"

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(test.category for test in self.tests))

    def image(self, longest: int = LONGEST_SIDE) -> Image.Image:
        """The RGB page as it is sent: a PDF page rendered straight to `longest` px on its longest side (the
        model profile's: 1540, or 2048 for LightOnOCR-3-0.8B and -4B), an image downscaled to fit (never
        upscaled)."""
        try:
            if self.is_pdf:
                return render_pdf_page(self.file, self.page, longest)
            with Image.open(self.file) as image:
                image.load()
                return fit_longest_side(to_rgb(image), longest)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, pdfium.PdfiumError) as error:
            # Read at load time (_check_image): this one changed since, or PDFium cannot render the page.
            raise PagesError(f"{self.file}: cannot be read now ({error}); replace it or remove it") from None

    def as_sample(self, cer_max: float) -> Sample:
        """This page as a one-page Sample, so the checks that read samples (format, degeneration, speed)
        read it the same way. An empty .md, or a baseline fact with ``max_length`` (olmOCR-Bench's blank-page
        test), makes it a blank page: the degeneration checks then expect (almost) no text."""
        limits = [
            test.fact.max_length
            for test in self.tests
            if test.fact is not None
            and test.fact.type == "baseline"
            and getattr(test.fact, "max_length", None) is not None
        ]
        blank = bool(limits) or (self.ground_truth is not None and not self.ground_truth.strip())
        return Sample(
            id=self.id,
            category=(self.categories or (TEXT_CATEGORY,))[0],
            expect="empty" if blank else "markdown",
            file=self.file,
            ground_truth=(self.ground_truth or "",),
            ground_truth_files=(),
            thresholds=Thresholds(cer_max=cer_max, max_chars=min(limits) if limits else None),
            blocks=self.blocks,
        )


def layout_of(folder: Path) -> str:
    """``olmocr-bench`` when the folder has a ``pdfs/`` folder and ``*.jsonl`` files, else ``folder``."""
    if (folder / "pdfs").is_dir() and any(folder.glob("*.jsonl")):
        return OLMOCR_BENCH
    return FOLDER


def load_pages(folder: Path | str) -> list[UserPage]:
    """Every page of ``folder``, strictly: a page that cannot be read is a PagesError (a benchmark sends them all)."""
    pages, unread = load_page_set(folder)
    if unread:
        raise PagesError(unread[0].line())
    return pages


def load_page_set(folder: Path | str) -> tuple[list[UserPage], list[Unread]]:
    """Every page of ``folder`` that has ground truth, with its tests, in a stable order (file, page), and the
    pages that cannot be read (left out, each with its reason). None readable is a PagesError."""
    root = Path(folder)
    if not root.exists():
        raise PagesError(f"{root}: no such folder; give --pages a folder of pages with their ground truth")
    if not root.is_dir():
        raise PagesError(f"{root}: not a folder; give --pages the folder that holds the pages")
    unread: list[Unread] = []
    pages = _olmocr_pages(root) if layout_of(root) == OLMOCR_BENCH else _folder_pages(root, unread)
    if not pages and unread:
        more = f" (and {len(unread) - 1} other page(s) cannot be read)" if len(unread) > 1 else ""
        raise PagesError(f"{unread[0].line()}{more}")
    if not pages and any(root.glob("*.jsonl")):
        raise PagesError(f"{root}: *.jsonl tests but no pdfs/ folder; put olmOCR-Bench's PDFs in {root / 'pdfs'}")
    if not pages and (root / "pdfs").is_dir():
        raise PagesError(f"{root}: a pdfs/ folder but no *.jsonl tests; put olmOCR-Bench's jsonl files in {root}")
    if not pages:
        raise PagesError(
            f"{root}: no page with ground truth; put images or PDFs there with NAME.md or NAME.facts.jsonl "
            f"beside each, or olmOCR-Bench's *.jsonl beside its pdfs/ folder"
        )
    return pages, unread


def _page_count(path: Path, shown: str) -> int:
    with PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError as error:
            raise PagesError(f"{shown}: not a readable PDF ({error}); replace it or remove it") from None
        try:
            return len(document)
        finally:
            document.close()


def _image_problem(path: Path) -> str:
    """Why the image cannot be a page ("" when it can). Its size is read from the header first, against
    PAGE_PIXELS_MAX; then the whole image is decoded once before anything is sent (verify() alone misses a
    corrupt compressed stream, and a page that fails mid-run would be a failed check of the server)."""
    try:
        with Image.open(path) as image:  # the header only
            width, height = image.size
            if width * height > PAGE_PIXELS_MAX:
                return _too_many_pixels(f"{width} x {height} px")
            image.verify()
        with Image.open(path) as image:
            image.load()
    except Image.DecompressionBombError as error:  # past Pillow's own bound, which it checks on the header
        return _too_many_pixels(_announced_size(path, error))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        return f"not a readable image ({error}); replace it or remove it"
    return ""


def _too_many_pixels(size: str) -> str:
    return (
        f"{size}, above the {PAGE_PIXELS_MAX / 1e6:.0f} Mpx a page may have (checked before decoding): scale it "
        "down (it is sent at 1540 px on its longest side), e.g. to 300 dpi"
    )


def _announced_size(path: Path, error: Exception) -> str:
    """The size a file announces: a PNG's header read here, else the pixel count Pillow's refusal names."""
    with open(path, "rb") as file:
        head = file.read(24)
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        return f"{int.from_bytes(head[16:20], 'big')} x {int.from_bytes(head[20:24], 'big')} px"
    found = re.search(r"\((\d+) pixels\)", str(error))
    return f"{int(found[1]):,} pixels" if found else "more pixels than Pillow reads"


# --- olmOCR-Bench's layout -------------------------------------------------------------------------------


def _olmocr_pages(root: Path) -> list[UserPage]:
    pdf_root = root / "pdfs"
    page_counts: dict[str, int] = {}
    tests: dict[tuple[str, int], list[PageTest]] = {}
    seen_ids: dict[str, str] = {}
    for jsonl in sorted(root.glob("*.jsonl")):
        for number, raw in _jsonl_lines(jsonl):
            where = f"{jsonl}:{number}"
            pdf, page, test = _olmocr_test(raw, where, jsonl.stem)
            if test.id in seen_ids:
                raise PagesError(f"{where}: test id {test.id!r} is also used at {seen_ids[test.id]}; give each its own")
            seen_ids[test.id] = where
            if pdf not in page_counts:
                path = pdf_root / pdf
                if not path.is_file():
                    raise PagesError(f"{where}: pdf {pdf!r} not found under {pdf_root}; add it or fix the path")
                page_counts[pdf] = _page_count(path, str(path))
            if page >= page_counts[pdf]:
                raise PagesError(f"{where}: page {page + 1} but {pdf} has {page_counts[pdf]} page(s); fix 'page'")
            tests.setdefault((pdf, page), []).append(test)
    if "baseline" in FACT_TYPES:
        _add_baselines(pdf_root, page_counts, tests)
    return [
        UserPage(id=f"{pdf} p{page + 1}", file=pdf_root / pdf, page=page, ground_truth=None, tests=tuple(page_tests))
        for (pdf, page), page_tests in sorted(tests.items())
    ]


def _add_baselines(pdf_root: Path, page_counts: dict[str, int], tests: dict[tuple[str, int], list[PageTest]]) -> None:
    """olmOCR-Bench gives every PDF without a baseline test one on its first page, category ``baseline``."""
    with_baseline = {
        name for (name, _), page_tests in tests.items() if any(t.fact and t.fact.type == "baseline" for t in page_tests)
    }
    for path in sorted(pdf_root.rglob("*.pdf")):
        pdf = path.relative_to(pdf_root).as_posix()
        if pdf in with_baseline:
            continue
        if pdf not in page_counts:
            page_counts[pdf] = _page_count(path, str(path))
        fact = parse_fact({"type": "baseline"})
        tests.setdefault((pdf, 0), []).append(PageTest(f"{pdf}_baseline", BASELINE_CATEGORY, fact, str(path)))


def _olmocr_test(raw: Mapping[str, object], where: str, category: str) -> tuple[str, int, PageTest]:
    missing = [key for key in (*OLMOCR_LOCATION_KEYS, "type") if key not in raw]
    if missing:
        raise PagesError(f"{where}: missing {', '.join(missing)}; every olmOCR-Bench test names pdf, page, id, type")
    pdf, page, test_id = raw["pdf"], raw["page"], raw["id"]
    if not isinstance(pdf, str) or not pdf:
        raise PagesError(f"{where}: 'pdf' is {pdf!r}; give the PDF's path under pdfs/")
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise PagesError(f"{where}: 'page' is {page!r}; olmOCR-Bench pages count from 1")
    if not isinstance(test_id, str) or not test_id:
        raise PagesError(f"{where}: 'id' is {test_id!r}; give the test a non-empty string id")
    dropped = (*OLMOCR_LOCATION_KEYS, *OLMOCR_METADATA_KEYS)
    fields = {key: value for key, value in raw.items() if key not in dropped}
    fact = _fact(fields, where, page=page - 1)
    return pdf, page - 1, PageTest(test_id, category, fact, where)


# --- a folder of documents -------------------------------------------------------------------------------


@dataclass
class _Document:
    path: Path
    pages: int
    markdown: dict[int, Path]
    facts: list[tuple[Fact, str]]
    blocks: dict[int, tuple[TrueBlock, ...]] = field(default_factory=dict)
    problem: str = ""  # why its image cannot be read: the page is left out with this reason


def _folder_pages(root: Path, unread: list[Unread]) -> list[UserPage]:
    files = sorted(path for path in root.iterdir() if path.is_file() and not path.name.startswith("."))
    documents: dict[str, _Document] = {}
    for path in files:
        suffix = path.suffix.lower()
        if suffix not in (".pdf", *IMAGE_SUFFIXES):
            continue
        if path.stem in documents:
            other = documents[path.stem].path.name
            raise PagesError(f"{path}: {other} has the same name; rename one, ground truth is matched by name")
        if suffix == ".pdf":
            documents[path.stem] = _Document(path, _page_count(path, str(path)), {}, [])
        else:
            documents[path.stem] = _Document(path, 1, {}, [], problem=_image_problem(path))
    for path in files:
        name = path.name
        if name.endswith(BLOCKS_SUFFIX):
            _attach_blocks(documents, path)
        elif name.endswith((".facts.jsonl", ".facts.json")):
            stem = name.rsplit(".facts.", 1)[0]
            _document_for(documents, stem, path).facts.extend(_facts_file(path, documents[stem].pages))
        elif path.suffix.lower() == ".md":
            _attach_markdown(documents, path)
    pages: list[UserPage] = []
    for document in documents.values():
        if document.problem:
            unread.append(Unread(document.path, document.problem))
            continue
        for page in _document_pages(document, root):
            if isinstance(page, Unread):
                unread.append(page)
            else:
                pages.append(page)
    return pages


def _document_for(documents: dict[str, _Document], stem: str, path: Path) -> _Document:
    if stem not in documents:
        raise PagesError(
            f"{path}: no image or PDF named {stem} beside it; add {stem}.png (or .pdf, .jpg...) or remove the file"
        )
    return documents[stem]


def _attach_markdown(documents: dict[str, _Document], path: Path) -> None:
    stem = path.stem
    per_page = _PAGE_MD.match(stem)
    if stem in documents:
        document = documents[stem]
        if document.pages > 1:
            raise PagesError(
                f"{path}: {document.path.name} has {document.pages} pages; write one file per page: "
                f"{stem}.p1.md ... {stem}.p{document.pages}.md"
            )
        document.markdown[0] = path
        return
    if per_page and per_page["stem"] in documents:
        document = documents[per_page["stem"]]
        number = int(per_page["number"])
        if document.path.suffix.lower() != ".pdf":
            raise PagesError(f"{path}: {document.path.name} is an image, one page; name its ground truth {stem}.md")
        if number > document.pages:
            raise PagesError(f"{path}: {document.path.name} has {document.pages} page(s); fix the page number")
        document.markdown[number - 1] = path
        return
    _document_for(documents, stem, path)  # raises: a .md without its image


def _attach_blocks(documents: dict[str, _Document], path: Path) -> None:
    """``NAME.blocks.json`` (or ``NAME.p<N>.blocks.json``): the page's true blocks, read and checked."""
    stem = path.name[: -len(BLOCKS_SUFFIX)]
    per_page = _PAGE_MD.match(stem)
    if stem in documents and documents[stem].pages == 1:
        document, page = documents[stem], 0
    elif per_page and per_page["stem"] in documents and int(per_page["number"]) <= documents[per_page["stem"]].pages:
        document, page = documents[per_page["stem"]], int(per_page["number"]) - 1
    elif stem in documents:
        raise PagesError(f"{path}: {documents[stem].path.name} has several pages; name it {stem}.p1{BLOCKS_SUFFIX} ...")
    else:
        _document_for(documents, per_page["stem"] if per_page else stem, path)  # raises: no page for it
        raise PagesError(f"{path}: the page number is past the PDF's pages; fix it")
    try:
        document.blocks[page] = read_true_blocks(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise PagesError(
            f'{path}: not valid JSON ({error}); write [{{"label": ..., "box": [...], "text": ...}}]'
        ) from None
    except ValueError as error:
        raise PagesError(f"{path}: {error}") from None


def _facts_file(path: Path, pages: int) -> list[tuple[Fact, str]]:
    if path.suffix == ".jsonl":
        lines = list(_jsonl_lines(path))
    else:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise PagesError(f"{path}: not valid JSON ({error}); write a list of facts") from None
        if not isinstance(data, list):
            raise PagesError(f'{path}: not a list; write [{{"type": "present", "text": "..."}}, ...]')
        lines = [(index + 1, raw) for index, raw in enumerate(data)]
    facts = []
    for number, raw in lines:
        where = f"{path}:{number}" if path.suffix == ".jsonl" else f"{path} fact {number}"
        fact = _fact(raw, where)
        if fact.page >= pages:
            raise PagesError(f"{where}: 'page' is {fact.page} but pages count 0..{pages - 1}; fix 'page'")
        facts.append((fact, where))
    return facts


def _document_pages(document: _Document, root: Path) -> Iterable[UserPage | Unread]:
    for page in range(document.pages):
        md = document.markdown.get(page)
        tests = []
        if md is not None:
            tests.append(PageTest(md.name, TEXT_CATEGORY, None, str(md)))
        for fact, where in document.facts:
            if fact.page == page:
                tests.append(PageTest(Path(where).name, fact.type, fact, where))
        if not tests:
            shown = f"{document.path.stem}.p{page + 1}.md" if document.pages > 1 else f"{document.path.stem}.md"
            raise PagesError(
                f"{document.path}: page {page + 1} has no ground truth; write {shown} or a fact with "
                f'"page": {page} in {document.path.stem}.facts.jsonl'
            )
        label = document.path.name if document.pages == 1 else f"{document.path.name} p{page + 1}"
        try:
            text = md.read_text(encoding="utf-8") if md is not None else None
        except UnicodeDecodeError as error:
            assert md is not None
            yield Unread(md, _not_utf8(md, error))
            continue
        yield UserPage(label, document.path, page, text, tuple(tests), document.blocks.get(page))


def _not_utf8(path: Path, error: UnicodeDecodeError) -> str:
    """The reason a ground truth that is not UTF-8 is left out: the byte, where, the likely encoding, the fix."""
    byte = error.object[error.start : error.start + 1].hex()
    return (
        f"not UTF-8 (byte 0x{byte} at offset {error.start}: Latin-1 or Windows-1252, most likely): save "
        f"it as UTF-8, e.g. iconv -f latin1 -t utf-8 {path.name} > {path.stem}.utf8 && mv {path.stem}.utf8 "
        f"{path.name}"
    )


# --- shared ----------------------------------------------------------------------------------------------


def _jsonl_lines(path: Path) -> Iterable[tuple[int, Mapping[str, object]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise PagesError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as error:
            raise PagesError(f"{path}:{number}: not JSON ({error.msg}); write one JSON object a line") from None
        if not isinstance(raw, dict):
            raise PagesError(f"{path}:{number}: not a JSON object; write one object a line")
        yield number, raw


def _fact(raw: object, where: str, **override: object) -> Fact:
    if not isinstance(raw, Mapping):
        raise PagesError(f'{where}: not an object; write e.g. {{"type": "present", "text": "..."}}')
    try:
        return parse_fact({**raw, **override})
    except ValueError as error:
        raise PagesError(f"{where}: {error}; see the fact types in docs/vllm-validation.md") from None
