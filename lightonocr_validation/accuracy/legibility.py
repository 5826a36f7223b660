"""An independent legibility check of the sample pages: Tesseract reads each page and its CER against the
ground truth must stay under a per-category bound.

This proves the pages themselves are readable (fonts present, nothing clipped, noise not overwhelming), so a
poor LightOnOCR score points at the server, not at a broken sample. Tesseract is a weaker reader than
LightOnOCR on math and tables, which is why those bounds are looser.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from lightonocr_validation.accuracy.metrics import cer
from lightonocr_validation.pages.image import png_bytes
from lightonocr_validation.pages.samples import Sample
from lightonocr_validation.truth.normalize import to_plain_text

# Highest Tesseract CER (normalized text, tables and LaTeX flattened to plain text) a sample page may have.
# Measured with Tesseract 5.3.0 (Debian 12), legibility_report(load_manifest()), on the pages built from
# samples/src: 0.000 on prose, columns, receipt, headers-footers, French and PDF pages 1 and 3, 0.001 on the
# small text, 0.004 on PDF page 2 (its bullets), 0.014 on the table, 0.030 on the scan, 0.149 on the math
# (mathtext's Computer Modern; 0.127 with the hand-drawn DejaVu formulas before). Each bound leaves room for
# another Tesseract release while a clipped, blank, mis-encoded or unreadable page (CER 0.5 and above) fails.
CER_BOUNDS: dict[str, float] = {
    "prose": 0.03,
    "columns": 0.03,
    # Flattened cells carry no separators; Tesseract also reads grid lines as "|" and "Q1" as "Ql".
    "table": 0.05,
    # Tesseract reads stacked fractions, roots, scripts and big operators poorly; the bound only shows the
    # prose and the symbols it does recognise are on the page.
    "math": 0.35,
    "receipt": 0.03,
    # 14 px text is at the edge of Tesseract's comfortable x-height; LightOnOCR sees the same pixels.
    "small-text": 0.03,
    "headers-footers": 0.03,
    # Rotation, blur and specks cost Tesseract some characters (specks read as punctuation, the bold
    # title is dropped as a non-text region).
    "scan": 0.08,
    "multilingual": 0.03,
    "pdf": 0.03,
}
# Tesseract language data per manifest language (Debian packages tesseract-ocr-eng, -fra, -deu).
TESSERACT_LANGS = {"en": "eng", "fr": "fra", "de": "deu"}


class TesseractMissing(RuntimeError):
    """The tesseract binary or a language pack is not installed; the message says what to install."""


@dataclass(frozen=True)
class Legibility:
    sample_id: str
    category: str
    page: int
    cer: float
    bound: float
    text: str

    @property
    def passed(self) -> bool:
        return self.cer <= self.bound


def tesseract_binary() -> str:
    path = shutil.which("tesseract")
    if path is None:
        raise TesseractMissing("tesseract not found; install it: apt-get install -y tesseract-ocr tesseract-ocr-fra")
    return path


def read_page(png: bytes, lang: str) -> str:
    """Text Tesseract reads from one PNG page (automatic page segmentation, LSTM engine)."""
    tess_lang = TESSERACT_LANGS.get(lang, lang)
    result = subprocess.run(
        [tesseract_binary(), "stdin", "stdout", "-l", tess_lang, "--psm", "3"],
        input=png,
        capture_output=True,
        # One OpenMP thread per process: pages already run in parallel, and more threads only contend.
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},
        check=False,
        timeout=300,
    )
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip().splitlines()
        hint = f"; install tesseract-ocr-{tess_lang}" if "Failed loading language" in " ".join(message) else ""
        raise TesseractMissing(f"tesseract failed on language {tess_lang!r}: {message[-1] if message else ''}{hint}")
    return result.stdout.decode("utf-8", "replace")


def sample_legibility(sample: Sample) -> list[Legibility]:
    """Tesseract CER of every page of ``sample`` (blank pages have no text to read and are left out)."""
    if sample.expect == "empty":
        return []
    results: list[Legibility] = []
    for number, image in enumerate(sample.pages()):
        text = read_page(png_bytes(image), sample.lang)
        reference = to_plain_text(sample.ground_truth[number])
        results.append(
            Legibility(
                sample_id=sample.id,
                category=sample.category,
                page=number,
                cer=cer(reference, to_plain_text(text)),
                bound=CER_BOUNDS.get(sample.category, 0.05),
                text=text,
            )
        )
    return results


def legibility_report(samples: list[Sample]) -> list[Legibility]:
    """Per-page Tesseract CER for a whole sample set, in manifest order."""
    # Tesseract is single-page and CPU bound: read samples in parallel, one thread each, in manifest order.
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        per_sample = list(pool.map(sample_legibility, samples))
    return [result for results in per_sample for result in results]
