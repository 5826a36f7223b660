"""The sample builder: page sources (samples/src) in, pages, ground truth and manifest out, reproducibly."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image

from lightonocr_validation.pages.samples import load_manifest
from lightonocr_validation.samples_build import build_samples, ground_truth
from lightonocr_validation.samples_build.manifest import fact_entry
from lightonocr_validation.samples_build.math_render import render
from lightonocr_validation.samples_build.pdf import pdf_bytes
from lightonocr_validation.samples_build.source import (
    SOURCE_DIR,
    Block,
    SourceError,
    markdown,
    parse_blocks,
    read_index,
    read_sources,
    with_tolerance,
)
from lightonocr_validation.truth.facts import parse_fact

ROOT = Path(__file__).resolve().parents[2]


def test_markdown_blocks_parse_and_write_back() -> None:
    source = (
        "# Title\n\nA paragraph\nover two lines with $x^{2}$.\n\n- one\n- two\n\n"
        "| A | B |\n| --- | ---: |\n| 1 | 2 |\n\n$$\\frac{1}{2}$$\n"
    )
    blocks = parse_blocks(source)
    assert [b.kind for b in blocks] == ["h1", "p", "li", "li", "table", "eq"]
    assert blocks[1].text == "A paragraph over two lines with $x^{2}$."
    assert blocks[4].rows == (("A", "B"), ("1", "2"))  # the alignment row is not a row of the table
    assert markdown(blocks) == (
        "# Title\n\nA paragraph over two lines with $x^{2}$.\n\n- one\n- two\n\n"
        "<table><tr><th>A</th><th>B</th></tr><tr><td>1</td><td>2</td></tr></table>\n\n$$\\frac{1}{2}$$\n"
    )


def test_every_fact_survives_the_manifest_round_trip() -> None:
    _, pages = read_sources()
    facts = [fact for page in pages for fact in page.facts]
    assert len(facts) > 30
    for fact in facts:
        assert parse_fact(fact_entry(fact)) == fact


def test_tolerance_rule() -> None:
    index = read_index()
    assert with_tolerance({"type": "present", "text": "x" * 17}, index)["max_diffs"] == 3
    assert with_tolerance({"type": "present", "text": "abc"}, index)["max_diffs"] == index.min_edits
    assert with_tolerance({"type": "table", "cell": "117", "up": "142", "top_heading": "Q3"}, index)["max_diffs"] == 1
    assert "max_diffs" not in with_tolerance({"type": "absent", "text": "Saint-Etienne"}, index)
    assert with_tolerance({"type": "present", "text": "x" * 40, "max_diffs": 0}, index)["max_diffs"] == 0


def test_thresholds_come_from_the_index_unless_a_page_sets_its_own() -> None:
    _, pages = read_sources()
    by_id = {page.id: page for page in pages}
    assert by_id["prose-01"].thresholds == {"cer_max": 0.025}
    assert by_id["multilingual-01"].thresholds == {"cer_max": 0.02}
    assert by_id["table-01"].thresholds == {"cer_max": 0.025, "cells_min": 0.85, "facts_min": 0.75}
    assert by_id["blank-01"].thresholds == {"max_chars": 5}


def test_built_ground_truth_is_what_the_manifest_serves() -> None:
    _, pages = read_sources()
    samples = {s.id: s for s in load_manifest()}
    for page in pages:
        assert tuple(ground_truth(page)) == samples[page.id].ground_truth, page.id
    headers = samples["headers-01"].ground_truth[0]
    assert headers.startswith("Coastal Erosion Survey Chapter 2: Field Methods\n\n") and headers.endswith("\nPage 14\n")
    receipt = samples["receipt-01"].ground_truth[0]
    assert "TOTAL £21.30\n" in receipt and "---" not in receipt and "**" not in receipt and "|" not in receipt


def test_editing_a_source_changes_the_page_and_its_ground_truth(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(SOURCE_DIR, src)
    prose = src / "prose-01.md"
    prose.write_text(prose.read_text(encoding="utf-8").replace("Skerry Point", "Rona Head"), encoding="utf-8")
    build_samples(tmp_path / "out", src)
    assert (
        (tmp_path / "out" / "prose-01.md")
        .read_text(encoding="utf-8")
        .startswith("# The Lighthouse Keepers of Rona Head")
    )
    with Image.open(tmp_path / "out" / "prose-01.png") as new, Image.open(ROOT / "samples" / "prose-01.png") as old:
        assert new.tobytes() != old.tobytes()
    with Image.open(tmp_path / "out" / "table-01.png") as new, Image.open(ROOT / "samples" / "table-01.png") as old:
        assert new.tobytes() == old.tobytes()


def test_a_fact_its_own_ground_truth_breaks_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(SOURCE_DIR, src)
    prose = src / "prose-01.md"
    text = prose.read_text(encoding="utf-8")
    body_start = text.index("+++\n\n") + 5
    prose.write_text(
        text[:body_start]
        + text[body_start:].replace(
            "The last keeper, Margaret Innes, locked", "Margaret Innes, the last keeper, locked"
        ),
        encoding="utf-8",
    )
    with pytest.raises(SourceError, match=r"prose-01\.md: fact 1 fails on the page's own text"):
        build_samples(tmp_path / "out", src)


def test_a_bad_source_is_one_line_naming_the_file(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(SOURCE_DIR, src)
    table = src / "table-01.md"
    table.write_text(table.read_text(encoding="utf-8").replace('type = "table"', 'type = "tabel"', 1), encoding="utf-8")
    with pytest.raises(SourceError, match=r"table-01\.md: fact 0: fact type 'tabel' is not one of"):
        read_sources(src)
    result = subprocess.run(
        [sys.executable, "-m", "lightonocr_validation.samples_build", "--src", str(src), "--out", str(tmp_path / "o")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "table-01.md" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("front", "message"),
    [
        ('category = "prose"\nexpect = "markdown"\nlayout = "poster"\n', "unknown layout 'poster'"),
        ('category = "prose"\nlayout = "page"\n', "front matter has no 'expect'"),
        ('category = "prose\n', "invalid TOML"),
        (
            'category = "prose"\nexpect = "markdown"\nlayout = "page"\npapr = "a4"\n',
            r"unknown front matter keys \['papr'\]",
        ),
    ],
)
def test_bad_front_matter_names_the_problem(tmp_path: Path, front: str, message: str) -> None:
    src = tmp_path / "src"
    shutil.copytree(SOURCE_DIR, src)
    (src / "prose-01.md").write_text(f"+++\n{front}+++\n\n# Title\n", encoding="utf-8")
    with pytest.raises(SourceError, match=message):
        read_sources(src)


def test_a_page_missing_from_the_order_is_named(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(SOURCE_DIR, src)
    shutil.copy(src / "prose-01.md", src / "prose-02.md")
    with pytest.raises(SourceError, match=r"samples\.toml: pages \['prose-02'\] are not in 'order'"):
        read_sources(src)


def test_pdf_is_reproducible_with_real_text() -> None:
    pages = [(Block("h1", "First page"), Block("p", "Fish & chips <cheap>")), (Block("li", "second page"),)]
    data = pdf_bytes(pages, "A title")
    assert data == pdf_bytes(pages, "A title")
    document = pdfium.PdfDocument(data)
    try:
        texts = [document[n].get_textpage().get_text_range() for n in range(len(document))]
    finally:
        document.close()
    assert len(texts) == 2
    assert "Fish & chips <cheap>" in texts[0] and "second page" in texts[1]


def test_formulas_are_rendered_by_tex_rules() -> None:
    inline = render(r"\frac{1}{3}", 30)
    display = render(r"\frac{1}{3}", 30, display=True)
    assert display.ink.height > inline.ink.height  # display style sets fractions full size
    assert inline.ink.getbbox() is not None and 0 < inline.depth < inline.ink.height
    with pytest.raises(ValueError):
        render(r"\frac{1}{", 30)
