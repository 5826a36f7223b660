"""Write samples/ from samples/src: one page file and its ground truth per sample, and the manifest."""

from __future__ import annotations

import filecmp
import json
import tempfile
from importlib.metadata import version
from pathlib import Path

from PIL import Image

from lightonocr_validation.pages.samples import MANIFEST_NAME, SCHEMA_VERSION
from lightonocr_validation.samples_build.manifest import fact_entry
from lightonocr_validation.samples_build.pdf import pdf_bytes
from lightonocr_validation.samples_build.raster import raster_page
from lightonocr_validation.samples_build.regions import Region, true_blocks
from lightonocr_validation.samples_build.source import SOURCE_DIR, PageSource, SourceError, markdown, read_sources
from lightonocr_validation.truth.facts import check_fact

# The libraries whose output is in the committed bytes (pinned in pyproject's `samples` group).
LIBRARIES = ("pillow", "matplotlib", "reportlab")


def ground_truth(page: PageSource) -> list[str]:
    """The expected answer, one Markdown text per page, from the same source the drawing comes from."""
    blocks = [block for section in page.sections for block in section]
    if page.layout == "pdf":
        return [markdown(section) for section in page.sections]
    if page.layout == "blank":
        return [""]
    if page.layout == "receipt":
        lines = [line.replace("**", "").removeprefix("# ") for line in page.body.strip().splitlines()]
        return ["\n".join(line.replace(" | ", " ") for line in lines if line != "---") + "\n"]
    if page.layout == "headers-footers":
        header = f"{page.setting('header_left', '')} {page.setting('header_right', '')}"
        return [f"{header}\n\n{markdown(blocks)}\n{page.setting('footer', '')}\n"]
    return [markdown(blocks)]


def _check_facts(page: PageSource, texts: list[str], source_dir: Path) -> None:
    """Every fact must hold on the page's own ground truth: an edit to the text that breaks one is caught here,
    not by a failing check later."""
    for number, fact in enumerate(page.facts):
        if fact.page >= len(texts):
            raise SourceError(
                f"{source_dir / page.id}.md: fact {number} is for page {fact.page}; pages are 0..{len(texts) - 1}"
            )
        if not check_fact(fact, texts[fact.page]).passed:
            raise SourceError(
                f"{source_dir / page.id}.md: fact {number} fails on the page's own text ({fact.describe()}); "
                "fix the fact or the text"
            )


def build_samples(out_dir: Path, source_dir: Path = SOURCE_DIR) -> list[Path]:
    """Write every sample, its ground truth and ``manifest.json`` into ``out_dir``; returns the paths."""
    index, pages = read_sources(source_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    entries: list[dict[str, object]] = []
    for page in pages:
        texts = ground_truth(page)
        _check_facts(page, texts, source_dir)
        blocks: list[dict[str, object]] | None = None  # a PDF's blocks are ReportLab's to place: not recorded
        if page.layout == "pdf":
            file = out_dir / f"{page.id}.pdf"
            title = page.sections[0][0].text if page.sections[0] else page.id
            file.write_bytes(pdf_bytes(page.sections, title))
            gt_names: list[str] = [f"{page.id}.p{n}.md" for n in range(1, len(texts) + 1)]
        else:
            file = out_dir / f"{page.id}.png"
            # Greyscale PNG keeps text crisp at a quarter of RGB's size; the sender converts to RGB.
            found: list[Region] = []
            image = raster_page(page, found)
            image.save(file, format="PNG", optimize=True)
            blocks = true_blocks(found, image.size)
            gt_names = [f"{page.id}.md"]
        written.append(file)
        for name, text in zip(gt_names, texts, strict=True):
            (out_dir / name).write_bytes(text.encode("utf-8"))
            written.append(out_dir / name)
        entries.append(
            {
                "id": page.id,
                "file": file.name,
                "category": page.category,
                "expect": page.expect,
                "ground_truth": gt_names if page.layout == "pdf" else gt_names[0],
                "thresholds": page.thresholds,
                "facts": [fact_entry(fact) for fact in page.facts],
                "lang": page.lang,
                "license": index.license,
                # Where each block is (grounding mode's ground truth): label, box in per mille, text.
                **({} if blocks is None else {"blocks": blocks}),
            }
        )
    text = json.dumps({"schema": SCHEMA_VERSION, "samples": entries}, indent=2, ensure_ascii=False) + "\n"
    (out_dir / MANIFEST_NAME).write_bytes(text.encode("utf-8"))
    written.append(out_dir / MANIFEST_NAME)
    return written


def _pixels_equal(a: Path, b: Path) -> bool:
    try:
        with Image.open(a) as first, Image.open(b) as second:
            return first.mode == second.mode and first.size == second.size and first.tobytes() == second.tobytes()
    except OSError:
        return False


def check_samples(committed: Path, source_dir: Path = SOURCE_DIR) -> list[str]:
    """Rebuild into a temporary directory; one line per file that differs from ``committed``."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        built = {p.name for p in build_samples(fresh, source_dir)}
        present = {p.name for p in committed.iterdir() if p.is_file()} if committed.is_dir() else set()
        for name in sorted(built):
            target = committed / name
            if name not in present:
                problems.append(f"missing: {target}")
            elif not filecmp.cmp(fresh / name, target, shallow=False):
                why = ""
                if name.endswith(".png") and _pixels_equal(fresh / name, target):
                    why = " (same pixels, different PNG encoding: another Pillow/zlib build?)"
                problems.append(f"differs: {target}{why}")
        problems.extend(f"not built by samples_build: {committed / name}" for name in sorted(present - built))
    return problems


def library_versions() -> str:
    return ", ".join(f"{name} {version(name)}" for name in LIBRARIES)
