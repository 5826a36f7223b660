"""The bundled sample documents: manifest loading, validation, page rendering and a provenance digest."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, UnidentifiedImageError

from lightonocr_validation.pages.blocks import TrueBlock, read_true_blocks
from lightonocr_validation.pages.image import LONGEST_SIDE, fit_longest_side, to_rgb
from lightonocr_validation.truth.facts import Fact, parse_fact

SAMPLES_DIR = Path(__file__).resolve().parent.parent.parent / "samples"
MANIFEST_NAME = "manifest.json"
SCHEMA_VERSION = 1
CATEGORIES = (
    "prose",
    "columns",
    "table",
    "math",
    "receipt",
    "small-text",
    "headers-footers",
    "scan",
    "multilingual",
    "blank",
    "pdf",
)
EXPECTS = ("markdown", "html-table", "latex", "empty")
THRESHOLD_KEYS = ("cer_max", "wer_max", "cells_min", "facts_min", "max_chars")
# Used when a manifest entry states no cer_max: generous enough for Markdown layout choices.
DEFAULT_CER_MAX = 0.10
REQUIRED_KEYS = ("id", "file", "category", "expect", "ground_truth", "thresholds", "facts", "license")


class SampleError(ValueError):
    """The sample manifest or a file it names is invalid; the message is one line naming file and fix."""


@dataclass(frozen=True)
class Thresholds:
    """Pass criteria of one sample; ``cells_min`` is for html-table samples, ``max_chars`` for blank ones;
    ``facts_min`` is the share of a page's facts that must hold (None: every one)."""

    cer_max: float = DEFAULT_CER_MAX
    wer_max: float | None = None
    cells_min: float | None = None
    max_chars: int | None = None
    facts_min: float | None = None


@dataclass(frozen=True)
class Sample:
    """One document of the sample set; a PDF has several pages, an image one."""

    id: str
    category: str
    expect: str
    file: Path
    ground_truth: tuple[str, ...]
    ground_truth_files: tuple[Path, ...]
    thresholds: Thresholds = Thresholds()
    facts: tuple[Fact, ...] = ()
    license: str = ""
    lang: str = "en"
    # Where each block of a one-page sample is drawn (grounding's ground truth); None where it is not known
    # (a PDF, typeset by ReportLab).
    blocks: tuple[TrueBlock, ...] | None = None

    @property
    def page_count(self) -> int:
        return len(self.ground_truth)

    @property
    def is_pdf(self) -> bool:
        return self.file.suffix.lower() == ".pdf"

    def pages(self, longest: int = LONGEST_SIDE) -> list[Image.Image]:
        """RGB page images as they are sent to the model (at most `longest` px on the longest side: the model
        profile's, 1540 or 2048; a PDF is rendered to it, an image never upscaled). A file that cannot be read
        (truncated, corrupt) is a SampleError naming it and the fix, not a bare PIL error."""
        try:
            if self.is_pdf:
                return render_pdf(self.file, longest)
            with Image.open(self.file) as image:
                image.load()
                return [fit_longest_side(to_rgb(image), longest)]
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, pdfium.PdfiumError) as error:
            raise unreadable(self.file, error) from None


# PDFium is not thread-safe: two renders at once crash the process (seen with a fleet of hosts checked in
# parallel threads). Every use of it in this process goes through this lock.
PDFIUM_LOCK = threading.Lock()


def render_pdf(path: Path, longest: int = LONGEST_SIDE) -> list[Image.Image]:
    """Render every page straight to ``longest`` px on its longest side (scale = longest / longest side in
    points), as LightOn's client does, instead of rendering large and resampling."""
    with PDFIUM_LOCK:
        return _render_pdf(path, longest)


def render_pdf_page(path: Path, index: int, longest: int = LONGEST_SIDE) -> Image.Image:
    """Page ``index`` alone, rendered as `render_pdf` renders every page (a user's long PDF is sent page by
    page, so it never sits in memory whole)."""
    with PDFIUM_LOCK:
        document = pdfium.PdfDocument(str(path))
        try:
            return _render_page(document, index, longest)
        finally:
            document.close()


def _render_pdf(path: Path, longest: int) -> list[Image.Image]:
    document = pdfium.PdfDocument(str(path))
    try:
        return [_render_page(document, index, longest) for index in range(len(document))]
    finally:
        document.close()


def _render_page(document: pdfium.PdfDocument, index: int, longest: int) -> Image.Image:
    page = document[index]
    try:
        width, height = page.get_size()
        bitmap = page.render(scale=longest / max(width, height))
        try:
            return to_rgb(bitmap.to_pil())
        finally:
            bitmap.close()
    finally:
        page.close()


def pdf_page_count(path: Path) -> int:
    with PDFIUM_LOCK:
        document = pdfium.PdfDocument(str(path))
        try:
            return len(document)
        finally:
            document.close()


def unreadable(file: Path, error: Exception) -> SampleError:
    """A sample page file PIL or PDFium cannot read: the committed set is rebuilt byte for byte by `invoke samples`."""
    return SampleError(
        f"{file}: the sample page cannot be read ({error or type(error).__name__}); "
        f"rebuild the samples with `invoke samples` (or `git checkout -- samples/`)"
    )


def _fail(where: str, problem: str, fix: str) -> SampleError:
    return SampleError(f"{where}: {problem}; {fix}")


def _thresholds(where: str, raw: object) -> Thresholds:
    if not isinstance(raw, Mapping):
        raise _fail(where, "'thresholds' is not an object", 'write e.g. {"cer_max": 0.1}')
    unknown = sorted(set(raw) - set(THRESHOLD_KEYS))
    if unknown:
        raise _fail(where, f"unknown threshold keys {unknown}", f"use only {', '.join(THRESHOLD_KEYS)}")
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise _fail(where, f"threshold {key!r} is {value!r}", "use a non-negative number")
    for key in ("cells_min", "facts_min"):
        if raw.get(key) is not None and raw[key] > 1:
            raise _fail(where, f"threshold {key!r} is {raw[key]!r}", "a share: use a number from 0 to 1")
    max_chars = raw.get("max_chars")
    return Thresholds(
        cer_max=float(raw.get("cer_max", DEFAULT_CER_MAX)),
        wer_max=None if raw.get("wer_max") is None else float(raw["wer_max"]),
        cells_min=None if raw.get("cells_min") is None else float(raw["cells_min"]),
        max_chars=None if max_chars is None else int(max_chars),
        facts_min=None if raw.get("facts_min") is None else float(raw["facts_min"]),
    )


def _sample(root: Path, manifest: Path, raw: object, index: int) -> Sample:
    where = f"{manifest} entry {index}"
    if not isinstance(raw, Mapping):
        raise _fail(where, "is not an object", "each entry of 'samples' must be a JSON object")
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        raise _fail(where, f"missing keys {missing}", f"every entry needs {', '.join(REQUIRED_KEYS)}")
    sample_id = raw["id"]
    if not isinstance(sample_id, str) or not sample_id:
        raise _fail(where, "'id' is not a non-empty string", 'use e.g. "prose-01"')
    where = f"{manifest} entry {sample_id!r}"
    if raw["category"] not in CATEGORIES:
        raise _fail(where, f"unknown category {raw['category']!r}", f"use one of {', '.join(CATEGORIES)}")
    if raw["expect"] not in EXPECTS:
        raise _fail(where, f"unknown expect {raw['expect']!r}", f"use one of {', '.join(EXPECTS)}")
    file = root / str(raw["file"])
    if not file.is_file():
        raise _fail(where, f"file {raw['file']!r} not found under {root}", "rebuild the samples or fix the path")
    gt_raw = raw["ground_truth"]
    gt_names = [gt_raw] if isinstance(gt_raw, str) else gt_raw
    if not isinstance(gt_names, list) or not gt_names or not all(isinstance(n, str) for n in gt_names):
        raise _fail(where, "'ground_truth' is not a path or a list of paths", "name one .md file per page")
    gt_files = tuple(root / n for n in gt_names)
    for gt in gt_files:
        if not gt.is_file():
            raise _fail(where, f"ground truth {gt.name!r} not found", "create it or fix the path")
    try:
        pages = pdf_page_count(file) if file.suffix.lower() == ".pdf" else 1
    except pdfium.PdfiumError as error:
        raise unreadable(file, error) from None
    if pages != len(gt_files):
        raise _fail(where, f"{pages} page(s) but {len(gt_files)} ground truth file(s)", "give one .md per page")
    if not isinstance(raw["facts"], list):
        raise _fail(where, "'facts' is not a list", "write [] when there are none")
    facts: list[Fact] = []
    for number, fact_raw in enumerate(raw["facts"]):
        if not isinstance(fact_raw, Mapping):
            raise _fail(where, f"fact {number} is not an object", 'write e.g. {"type": "present", "text": "..."}')
        try:
            fact = parse_fact(fact_raw)
        except ValueError as exc:
            raise _fail(where, f"fact {number}: {exc}", "see the fact types in truth/facts.py") from None
        if fact.page >= pages:
            raise _fail(where, f"fact {number} is for page {fact.page}", f"pages are 0..{pages - 1}")
        facts.append(fact)
    lang = raw.get("lang", "en")
    if not isinstance(lang, str) or not lang:
        raise _fail(where, f"'lang' is {lang!r}", 'use an ISO 639-1 code such as "en" or "fr"')
    blocks = None
    if "blocks" in raw:
        if pages != 1:
            raise _fail(where, "'blocks' on a sample of several pages", "give blocks for one-page samples only")
        try:
            blocks = read_true_blocks(raw["blocks"])
        except ValueError as exc:
            raise _fail(where, str(exc), "rebuild the samples with `invoke samples`") from None
    return Sample(
        id=sample_id,
        category=str(raw["category"]),
        expect=str(raw["expect"]),
        file=file,
        ground_truth=tuple(gt.read_text(encoding="utf-8") for gt in gt_files),
        ground_truth_files=gt_files,
        thresholds=_thresholds(where, raw["thresholds"]),
        facts=tuple(facts),
        license=str(raw["license"]),
        lang=lang,
        blocks=blocks,
    )


def _read_manifest(root: Path) -> tuple[Path, Mapping[str, object]]:
    manifest = root / MANIFEST_NAME
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SampleError(f"{manifest}: not found; run python -m lightonocr_validation.samples_build") from None
    except json.JSONDecodeError as exc:
        raise SampleError(f"{manifest}: invalid JSON at line {exc.lineno}: {exc.msg}; fix the syntax") from None
    if not isinstance(data, Mapping):
        raise _fail(str(manifest), "top level is not an object", 'write {"schema": 1, "samples": [...]}')
    if data.get("schema") != SCHEMA_VERSION:
        raise _fail(
            str(manifest),
            f"schema is {data.get('schema')!r}",
            f'this version reads "schema": {SCHEMA_VERSION}',
        )
    if not isinstance(data.get("samples"), list):
        raise _fail(str(manifest), "'samples' is missing or not a list", "list the entries under 'samples'")
    return manifest, data


def load_manifest(root: Path = SAMPLES_DIR) -> list[Sample]:
    """Read and validate ``root/manifest.json``; SampleError names the file and the fix on any problem."""
    manifest, data = _read_manifest(root)
    entries = data["samples"]
    assert isinstance(entries, list)
    samples = [_sample(root, manifest, raw, index) for index, raw in enumerate(entries)]
    seen: set[str] = set()
    for sample in samples:
        if sample.id in seen:
            raise _fail(str(manifest), f"duplicate id {sample.id!r}", "give every entry its own id")
        seen.add(sample.id)
    return samples


def samples_digest(root: Path = SAMPLES_DIR) -> str:
    """sha256 over the manifest and every file it names (path and bytes, in a fixed order), so a report
    can prove which sample set it graded."""
    digest = hashlib.sha256()
    names = {MANIFEST_NAME}
    for sample in load_manifest(root):
        names.add(sample.file.relative_to(root).as_posix())
        names.update(gt.relative_to(root).as_posix() for gt in sample.ground_truth_files)
    for name in sorted(names):
        data = (root / name).read_bytes()
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()
