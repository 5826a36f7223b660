"""The bundled sample set: manifest, files, byte-identical rebuild, self-grading, page geometry."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from lightonocr_validation.accuracy.engine import grade
from lightonocr_validation.pages.image import (
    expected_image_tokens,
    expected_prompt_tokens,
    fit_longest_side,
    png_data_url,
    resized_size,
)
from lightonocr_validation.pages.samples import CATEGORIES, SAMPLES_DIR, SampleError, load_manifest, samples_digest
from lightonocr_validation.samples_build import build_samples, check_samples

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def samples() -> list:
    return load_manifest()


def test_manifest_loads_and_covers_every_category(samples: list) -> None:
    assert {s.category for s in samples} == set(CATEGORIES)
    assert sum(s.page_count for s in samples) >= 10
    assert len({s.id for s in samples}) == len(samples)
    pdfs = [s for s in samples if s.is_pdf]
    assert pdfs and all(2 <= s.page_count <= 3 for s in pdfs)
    for s in samples:
        assert s.license, s.id
        assert s.file.is_file(), s.file
        assert all(p.is_file() for p in s.ground_truth_files), s.id


def test_every_file_in_samples_is_named_by_the_manifest(samples: list) -> None:
    named = {"manifest.json"}
    for s in samples:
        named.add(s.file.name)
        named.update(p.name for p in s.ground_truth_files)
    assert {p.name for p in SAMPLES_DIR.iterdir() if p.is_file()} == named
    # Besides the built files, samples/ holds only their sources.
    assert {p.name for p in SAMPLES_DIR.iterdir() if not p.is_file()} == {"src"}


def test_sample_set_is_small() -> None:
    total = sum(p.stat().st_size for p in SAMPLES_DIR.iterdir())
    assert total < 3_000_000, f"samples/ is {total} bytes"


def test_committed_samples_are_a_byte_identical_rebuild() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lightonocr_validation.samples_build", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "identical" in result.stdout


def test_check_names_a_file_that_differs(tmp_path: Path) -> None:
    build_samples(tmp_path)
    assert check_samples(tmp_path) == []
    gt = tmp_path / "prose-01.md"
    gt.write_text(gt.read_text(encoding="utf-8") + "extra\n", encoding="utf-8")
    (tmp_path / "stray.txt").write_text("x", encoding="utf-8")
    (tmp_path / "blank-01.png").unlink()
    assert check_samples(tmp_path) == [
        f"missing: {tmp_path / 'blank-01.png'}",
        f"differs: {tmp_path / 'prose-01.md'}",
        f"not built by samples_build: {tmp_path / 'stray.txt'}",
    ]


def test_ground_truth_graded_against_itself_passes(samples: list) -> None:
    for s in samples:
        for page in range(s.page_count):
            result = grade(s.ground_truth[page], s, page)
            assert result.passed, f"{s.id} page {page}: {result.reason}"
            assert result.cer == 0.0
            assert all(f.passed for f in result.facts), s.id
            if s.expect == "html-table":
                assert result.table_cells == 1.0


def test_every_sample_has_facts_except_blank(samples: list) -> None:
    for s in samples:
        assert s.facts or s.expect == "empty", s.id


def test_pages_are_rgb_at_the_model_size(samples: list) -> None:
    for s in samples:
        pages = s.pages()
        assert len(pages) == s.page_count
        for image in pages:
            assert image.mode == "RGB"
            assert max(image.size) == 1540, (s.id, image.size)
            assert expected_image_tokens(*image.size) <= 3025


def test_png_files_carry_no_varying_metadata(samples: list) -> None:
    for s in samples:
        if s.is_pdf:
            data = s.file.read_bytes()
            # ReportLab's invariant mode writes a fixed date (2000-01-01) and a document ID derived from it.
            dates = re.findall(rb"/(?:CreationDate|ModDate) \(D:(\d+)", data)
            assert dates and set(dates) == {b"20000101000000"}, (s.id, dates)
            continue
        data = s.file.read_bytes()
        for chunk in (b"tEXt", b"zTXt", b"iTXt", b"tIME"):
            assert chunk not in data, (s.id, chunk)


@pytest.mark.parametrize(("size", "tokens"), [((1190, 1540), 2365), ((1089, 1540), 2145), ((1540, 1540), 3025)])
def test_expected_image_tokens_match_the_published_figures(size: tuple[int, int], tokens: int) -> None:
    assert expected_image_tokens(*size) == tokens
    assert expected_prompt_tokens(*size) == tokens + 12


def test_token_count_downscales_like_pixtral() -> None:
    # 2550x3300 (Letter at 300 dpi): ratio 3300/1540, floor(2550/ratio) = 1190.
    assert resized_size(2550, 3300) == (1190, 1540)
    assert expected_image_tokens(2550, 3300) == 2365
    # Small images are not upscaled: 100x50 -> 7 patches wide -> 4 tokens, 4 patches high -> 2 tokens.
    assert expected_image_tokens(100, 50) == 8
    assert expected_image_tokens(3080, 3080) == 3025


def test_fit_longest_side_only_downscales() -> None:
    small = Image.new("RGB", (800, 600), "white")
    assert fit_longest_side(small).size == (800, 600)
    big = Image.new("RGB", (3080, 2000), "white")
    assert fit_longest_side(big).size == (1540, 1000)


def test_png_data_url_is_lossless_rgb() -> None:
    image = Image.new("L", (30, 20), 255)
    image.putpixel((3, 4), 17)
    url = png_data_url(image)
    assert url.startswith("data:image/png;base64,")
    with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as decoded:
        assert decoded.format == "PNG" and decoded.mode == "RGB"
        assert decoded.getpixel((3, 4)) == (17, 17, 17)
        assert decoded.getpixel((0, 0)) == (255, 255, 255)


def test_transparent_pixels_become_white() -> None:
    rgba = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    with Image.open(io.BytesIO(base64.b64decode(png_data_url(rgba).split(",", 1)[1]))) as decoded:
        assert decoded.getpixel((1, 1)) == (255, 255, 255)


def test_digest_is_stable_and_changes_with_content(tmp_path: Path) -> None:
    assert samples_digest() == samples_digest(SAMPLES_DIR)
    assert len(samples_digest()) == 64
    copy = tmp_path / "samples"
    shutil.copytree(SAMPLES_DIR, copy)
    assert samples_digest(copy) == samples_digest()
    gt = copy / "table-01.md"
    gt.write_text(gt.read_text(encoding="utf-8").replace("117", "118"), encoding="utf-8")
    assert samples_digest(copy) != samples_digest()


def _broken_copy(tmp_path: Path, edit: object) -> Path:
    copy = tmp_path / "samples"
    shutil.copytree(SAMPLES_DIR, copy)
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    edit(manifest)  # type: ignore[operator]
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return copy


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.update(schema=2), "schema is 2"),
        (lambda m: m["samples"][0].update(category="novel"), "unknown category 'novel'"),
        (lambda m: m["samples"][0].update(file="nope.png"), "file 'nope.png' not found"),
        (lambda m: m["samples"][0].pop("facts"), "missing keys ['facts']"),
        (lambda m: m["samples"][0]["facts"].append({"type": "present"}), "fact 4: present fact needs"),
        (lambda m: m["samples"][0].update(thresholds={"cer": 1}), "unknown threshold keys"),
        (lambda m: m["samples"][0].update(thresholds={"facts_min": 3}), "threshold 'facts_min' is 3"),
        (lambda m: m["samples"][-1].update(ground_truth="pdf-01.p1.md"), "3 page(s) but 1 ground truth"),
        (lambda m: m["samples"][1].update(id="prose-01"), "duplicate id 'prose-01'"),
    ],
)
def test_invalid_manifest_raises_sample_error(tmp_path: Path, edit: object, message: str) -> None:
    root = _broken_copy(tmp_path, edit)
    with pytest.raises(SampleError) as info:
        load_manifest(root)
    text = str(info.value)
    assert message in text
    assert "manifest.json" in text and "\n" not in text


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text('{"schema": 1,\n "samples": [,]}', encoding="utf-8")
    with pytest.raises(SampleError, match=r"manifest.json: invalid JSON at line 2"):
        load_manifest(tmp_path)
