"""Every sample page is legible to an independent OCR engine (Tesseract), within a bound per category.

CI installs tesseract-ocr and tesseract-ocr-fra; a missing binary is a failure, not a skip, so a broken CI
image cannot pass silently.
"""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest

from lightonocr_validation.accuracy.legibility import CER_BOUNDS, TesseractMissing, legibility_report, sample_legibility
from lightonocr_validation.pages.samples import CATEGORIES, load_manifest


def _require_tesseract() -> None:
    if shutil.which("tesseract") is None:
        pytest.fail("tesseract binary not found: apt-get install -y tesseract-ocr tesseract-ocr-fra", pytrace=False)


def test_every_category_has_a_bound() -> None:
    assert set(CER_BOUNDS) == set(CATEGORIES) - {"blank"}


@pytest.mark.system
def test_tesseract_reads_every_text_page_within_its_bound() -> None:
    _require_tesseract()
    try:
        results = legibility_report(load_manifest())
    except TesseractMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    text_pages = sum(s.page_count for s in load_manifest() if s.expect != "empty")
    assert len(results) == text_pages
    failures = [f"{r.sample_id} page {r.page}: CER {r.cer:.3f} > {r.bound}" for r in results if not r.passed]
    assert not failures, "pages Tesseract cannot read: " + "; ".join(failures)


@pytest.mark.system
def test_an_unreadable_page_fails_the_bound() -> None:
    _require_tesseract()
    samples = {s.id: s for s in load_manifest()}
    # The prose ground truth paired with the blank image: nothing to read, so CER is 1.
    fake = replace(samples["prose-01"], file=samples["blank-01"].file)
    try:
        (result,) = sample_legibility(fake)
    except TesseractMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    assert result.cer > 0.9
    assert not result.passed
