"""`invoke check --pages DIR`: the loader of both layouts, the set's score, the verdict both ways and the
reports, and one-line errors (exit 2) for folders that cannot be graded."""

from __future__ import annotations

import json
import os
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from lightonocr_validation.accuracy.set_score import TestResult, score_set
from lightonocr_validation.pages.user_pages import FOLDER, OLMOCR_BENCH, PagesError, PageTest, layout_of, load_pages
from lightonocr_validation.truth.facts import FACT_TYPES
from tests.fakevllm.server import FakeVllm, Faults
from tests.pages.pagesets import (
    INVOICE,
    bench_folder,
    bench_folder_with_every_type,
    document_folder,
    jsonl,
    known_pages,
    markdown,
    page_image,
    write_pdf,
)
from tests.processes import run_invoke

BASELINE = "baseline" in FACT_TYPES  # olmOCR-Bench's automatic test, once the fact types include it

# --- the loader --------------------------------------------------------------------------------------


def test_a_document_folder_gives_every_page_with_its_tests(tmp_path: Path) -> None:
    document_folder(tmp_path)
    pages = {page.id: page for page in load_pages(tmp_path)}
    assert layout_of(tmp_path) == FOLDER
    assert list(pages) == ["invoice.png", "notice.jpg", "report.pdf p1", "report.pdf p2"]
    assert [t.category for t in pages["report.pdf p1"].tests] == ["text", "present"]
    assert [t.category for t in pages["report.pdf p2"].tests] == ["order", "table", "present"]
    assert pages["report.pdf p2"].page == 1 and pages["report.pdf p2"].ground_truth is None
    assert pages["invoice.png"].ground_truth == markdown(INVOICE)
    assert pages["notice.jpg"].tests[0].source.endswith("notice.facts.json fact 1")


def test_pages_are_rendered_as_lighton_does_never_upscaling_images(tmp_path: Path) -> None:
    page_image(INVOICE, size=(3000, 2000)).save(tmp_path / "wide.png")
    (tmp_path / "wide.md").write_text("x", encoding="utf-8")
    page_image(INVOICE, size=(400, 300)).save(tmp_path / "small.png")
    (tmp_path / "small.md").write_text("x", encoding="utf-8")
    write_pdf(tmp_path / "letter.pdf", [INVOICE])  # 8.5 x 11 in: rendered straight to 1540 px high
    (tmp_path / "letter.md").write_text("x", encoding="utf-8")
    sizes = {page.id: page.image().size for page in load_pages(tmp_path)}
    assert sizes == {"wide.png": (1540, 1026), "small.png": (400, 300), "letter.pdf": (1190, 1540)}


def test_olmocr_bench_layout_maps_records_to_facts_with_0_based_pages(tmp_path: Path) -> None:
    bench_folder(tmp_path)
    pages = {page.id: page for page in load_pages(tmp_path)}
    assert layout_of(tmp_path) == OLMOCR_BENCH
    assert set(pages) == {"arxiv/notice.pdf p1", "report.pdf p1", "report.pdf p2"}
    second = pages["report.pdf p2"]
    assert second.page == 1 and {t.fact.page for t in second.tests if t.fact} == {1}
    table = next(t for t in second.tests if t.id == "tt_1")
    assert table.category == "table_tests" and table.source.endswith("table_tests.jsonl:1")
    assert table.fact is not None and dict(table.fact.neighbours) == {"up": "120", "left": "South", "top_heading": "Q1"}
    categories = {t.category for page in pages.values() for t in page.tests}
    assert categories == {"multi_column", "table_tests", "old_scans"} | ({"baseline"} if BASELINE else set())


def _bench_record(**fields: object) -> dict[str, object]:
    return {"pdf": "report.pdf", "page": 1, "id": "x1", "type": "present", "text": "Minutes", **fields}


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda root: None, "no such folder"),
        (lambda root: root.mkdir(), "no page with ground truth"),
        (lambda root: _with(root, "tests.jsonl", "{}"), "*.jsonl tests but no pdfs/ folder"),
        (lambda root: (root / "pdfs").mkdir(parents=True), "a pdfs/ folder but no *.jsonl tests"),
        (lambda root: _with(root, "stray.md", "text"), "stray.md: no image or PDF named stray beside it"),
        (lambda root: _with(root, "broken.pdf", "not a pdf"), "broken.pdf: not a readable PDF"),
        (lambda root: _with(root, "broken.png", "not a png"), "broken.png: not a readable image"),
        (lambda root: _pdf(root, 2, "doc.md"), "doc.pdf has 2 pages; write one file per page: doc.p1.md"),
        (lambda root: _pdf(root, 2, "doc.p3.md"), "doc.p3.md: doc.pdf has 2 page(s)"),
        (lambda root: _pdf(root, 2, "doc.p1.md"), "doc.pdf: page 2 has no ground truth; write doc.p2.md"),
        (
            lambda root: _pdf(root, 1, "doc.facts.jsonl", '{"type": "present", "text": "a"}\n{"type": "present"\n'),
            "doc.facts.jsonl:2: not JSON",
        ),
        (
            lambda root: _pdf(root, 1, "doc.facts.jsonl", '{"type": "shout", "text": "a"}\n'),
            "doc.facts.jsonl:1: fact type 'shout' is not one of",
        ),
        (
            lambda root: _pdf(root, 1, "doc.facts.json", '[{"type": "present", "text": "a", "page": 3}]'),
            "doc.facts.json fact 1: 'page' is 3 but pages count 0..0",
        ),
        (lambda root: _bench(root, _bench_record(page=0)), "cat.jsonl:1: 'page' is 0; olmOCR-Bench pages count from 1"),
        (lambda root: _bench(root, _bench_record(page=3)), "cat.jsonl:1: page 3 but report.pdf has 2 page(s)"),
        (lambda root: _bench(root, _bench_record(pdf="gone.pdf")), "cat.jsonl:1: pdf 'gone.pdf' not found"),
        (lambda root: _bench(root, {"pdf": "report.pdf", "type": "present"}), "cat.jsonl:1: missing page, id"),
        (lambda root: _bench(root, _bench_record(), _bench_record()), "cat.jsonl:2: test id 'x1' is also used"),
        (lambda root: _bench(root, _bench_record(type="present", text="")), "cat.jsonl:1: present fact needs"),
    ],
)
def test_a_folder_that_cannot_be_graded_is_one_line_naming_the_file(
    tmp_path: Path, build: Callable[[Path], object], message: str
) -> None:
    root = tmp_path / "pages"
    build(root)
    with pytest.raises(PagesError) as raised:
        load_pages(root)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def _with(root: Path, name: str, text: str) -> None:
    root.mkdir(exist_ok=True)
    (root / name).write_text(text, encoding="utf-8")


def _pdf(root: Path, pages: int, name: str, text: str = "# ground truth\n") -> None:
    write_pdf(root / "doc.pdf", [INVOICE] * pages)
    (root / name).write_text(text, encoding="utf-8")


def _bench(root: Path, *records: dict[str, object]) -> None:
    write_pdf(root / "pdfs" / "report.pdf", [INVOICE, INVOICE])
    jsonl(root / "cat.jsonl", list(records))


# --- the score ---------------------------------------------------------------------------------------


def _results(category: str, passed: int, failed: int) -> list[TestResult]:
    test = PageTest("t", category, None, "t.md")
    return [TestResult(test, "p", True, "") for _ in range(passed)] + [
        TestResult(test, "p", False, "x") for _ in range(failed)
    ]


def test_the_score_is_the_mean_of_category_pass_rates_with_a_bootstrap_interval() -> None:
    # 9/10 in one category and 1/2 in another: the mean of the rates (0.7), not of the tests (10/12).
    scored = score_set(_results("big", 9, 1) + _results("small", 1, 1))
    assert scored.overall.score == pytest.approx(0.7)
    assert scored.tests == 12 and scored.passed == 10
    big, small = scored.categories
    assert (big.category, big.interval.score, small.interval.score) == ("big", 0.9, 0.5)
    assert 0 <= small.interval.low < 0.5 < small.interval.high <= 1
    assert big.interval.low < 0.9 <= big.interval.high
    assert scored.overall.low < 0.7 < scored.overall.high
    assert score_set(_results("big", 9, 1) + _results("small", 1, 1)) == scored  # seeded: reproducible


def test_a_category_with_one_outcome_has_no_spread() -> None:
    scored = score_set(_results("all", 5, 0))
    assert (scored.overall.score, scored.overall.low, scored.overall.high) == (1.0, 1.0, 1.0)


# --- invoke check --pages against the fake vLLM --------------------------------------------------------


def _check_pages(tmp_path: Path, folder: Path, texts: dict[str, str], faults: Faults | None = None) -> tuple:
    tmp_path.mkdir(parents=True, exist_ok=True)
    reports = {"json": tmp_path / "r.json", "md": tmp_path / "r.md", "xml": tmp_path / "r.xml"}
    with FakeVllm(faults, known_pages=known_pages(folder, texts)) as fake:
        started = time.monotonic()
        result = run_invoke(
            "check",
            "--host",
            fake.url,
            "--pages",
            str(folder),
            "--report-json",
            str(reports["json"]),
            "--report-md",
            str(reports["md"]),
            "--junit",
            str(reports["xml"]),
            env=dict(os.environ),
            timeout=180,
        )
        seconds = time.monotonic() - started
    report = json.loads(reports["json"].read_text())
    ocr003 = next(c for c in report["hosts"][0]["checks"] if c["id"] == "OCR003")
    return result, report, ocr003, reports, seconds


@pytest.mark.slow
def test_a_healthy_reading_of_a_document_folder_is_validated(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    result, report, ocr003, reports, _ = _check_pages(tmp_path, folder, document_folder(folder))
    assert result.returncode == 0, result.stdout + result.stderr
    assert report["verdict"]["word"] == "validated"
    data = ocr003["data"]
    assert ocr003["status"] == "pass" and data["tests"] == data["passed"] == 8
    assert set(data["by_category"]) == {"text", "present", "order", "table", "absent"}
    assert data["by_category"]["text"] == {"tests": 2, "passed": 2, "score": 1.0, "low": 1.0, "high": 1.0}
    assert data["score"] == {"score": 1.0, "low": 1.0, "high": 1.0}
    assert {"id": "report.facts.jsonl:3", "category": "table", "page": "report.pdf p2", "passed": True}.items() <= next(
        r for r in data["results"] if r["id"] == "report.facts.jsonl:3"
    ).items()
    assert report["provenance"]["pages"]["layout"] == "folder" and report["provenance"]["samples_digest"] is None
    assert "## Your pages on" in reports["md"].read_text()


@pytest.mark.slow
def test_a_broken_reading_of_olmocr_bench_fails_with_per_category_scores(tmp_path: Path) -> None:
    folder = tmp_path / "bench"
    texts = bench_folder(folder)
    result, report, ocr003, reports, _ = _check_pages(tmp_path, folder, texts, Faults(wrong_text=True))
    assert result.returncode == 1, result.stdout + result.stderr
    assert ocr003["status"] == "fail" and "below the minimum 70.0%" in ocr003["detail"]
    assert report["verdict"]["line"].startswith("issue: OCR003")
    by_category = ocr003["data"]["by_category"]
    assert by_category["multi_column"]["score"] == 0.0 and by_category["old_scans"]["score"] == 0.5
    assert by_category["old_scans"]["low"] < 0.5 < by_category["old_scans"]["high"]
    failed = {r["id"]: r for r in ocr003["data"]["results"] if not r["passed"]}
    assert failed["tt_1"]["reason"] == "table cell '95': no table in the output"
    assert failed["mc_1"]["fact"] == "present 'Books are due within three weeks'"
    markdown_report = reports["md"].read_text()
    assert "| **fail** | report.pdf p2 | table\\_tests | tt\\_1 |" in markdown_report
    system_out = "".join(ET.parse(reports["xml"]).getroot().itertext())
    assert "category multi_column: 0/2 tests" in system_out and "fail report.pdf p2 tt_1" in system_out


@pytest.mark.slow
def test_a_healthy_reading_of_olmocr_bench_passes(tmp_path: Path) -> None:
    folder = tmp_path / "bench"
    result, report, ocr003, _, _ = _check_pages(tmp_path, folder, bench_folder(folder))
    assert result.returncode == 0, result.stdout + result.stderr
    assert ocr003["data"]["score"]["score"] == 1.0
    assert report["provenance"]["pages"] == {
        "dir": str(folder.resolve()),
        "layout": "olmocr-bench",
        "pages": 3,
        "tests": 6 + (2 if BASELINE else 0),
        "score_min": 0.7,
        "cer_max": 0.1,
    }


def test_the_score_minimum_comes_from_the_configuration(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    texts = document_folder(folder)
    # A reading that loses one line of the invoice: its text test fails (CER above 0.10), the rest pass.
    texts["invoice.png"] = markdown(INVOICE[:-1])
    with FakeVllm(known_pages=known_pages(folder, texts)) as fake:
        strict = run_invoke(
            "check", "--host", fake.url, "--pages", str(folder), "--only", "RDY001,MOD001,OCR001,OCR003",
            env={**os.environ, "INVOKE_CHECK_PAGES_SCORE_MIN": "0.95"},
        )  # fmt: skip
        lenient = run_invoke(
            "check", "--host", fake.url, "--pages", str(folder), "--only", "RDY001,MOD001,OCR001,OCR003",
            env=dict(os.environ),
        )  # fmt: skip
    assert strict.returncode == 1 and "below the minimum 95.0%" in strict.stdout.replace("\n", " ")
    assert lenient.returncode == 0, lenient.stdout


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda root: None, "no such folder"),
        (lambda root: root.mkdir(), "no page with ground truth"),
        (lambda root: _with(root, "stray.md", "text"), "stray.md: no image or PDF named stray beside it; add"),
        (lambda root: _with(root, "broken.pdf", "%PDF-1.4 torn"), "broken.pdf: not a readable PDF"),
        (lambda root: _bench(root, _bench_record(), {"pdf": "report.pdf"}), "cat.jsonl:2: missing page, id, type"),
    ],
)
def test_a_bad_pages_folder_exits_2_with_one_line_and_no_traceback(
    tmp_path: Path, build: Callable[[Path], object], message: str
) -> None:
    root = tmp_path / "pages"
    build(root)
    # Nothing is sent for a bad folder: the port is not even asked.
    result = run_invoke("check", "--host", "http://127.0.0.1:9", "--pages", str(root), env=dict(os.environ))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_an_image_too_is_a_page_with_0_based_facts(tmp_path: Path) -> None:
    Image.new("RGB", (200, 100), "white").save(tmp_path / "blank.png")
    (tmp_path / "blank.md").write_text("", encoding="utf-8")
    (tmp_path / "blank.facts.jsonl").write_text('{"type": "absent", "text": "Invoice", "page": 0}\n')
    (page,) = load_pages(tmp_path)
    assert page.as_sample(0.1).expect == "empty"  # an empty .md is a blank page: DEG005 judges it
    assert [t.category for t in page.tests] == ["text", "absent"]


# --- progress ----------------------------------------------------------------------------------------


def test_the_runner_reports_pages_answered_and_the_live_display_shows_a_bar(tmp_path: Path) -> None:
    from rich.console import Console

    from checks.ocr import OCR001
    from lightonocr_validation.check.report.console import LiveProgress
    from lightonocr_validation.check.runner import run_host
    from lightonocr_validation.vllm.client import Target
    from tests.conftest import SETTINGS

    folder = tmp_path / "docs"
    texts = document_folder(folder)
    seen: list[tuple[str, int, int]] = []
    settings = replace(SETTINGS, pages_dir=str(folder))
    with FakeVllm(known_pages=known_pages(folder, texts)) as fake:
        run = run_host(Target(base_url=fake.url, name="fake"), settings, [OCR001], on_pages=lambda *a: seen.append(a))
    assert run.results[0].detail.startswith("4 pages answered")
    assert sorted(seen) == [("fake", done, 4) for done in (1, 2, 3, 4)]

    with LiveProgress(Console(width=100)) as progress:
        progress("fake", OCR001, None)
        progress.pages("fake", 3, 10)
        screen = Console(record=True, width=100)
        screen.print(progress._render())  # what the live display shows now
    shown = screen.export_text()
    assert "running OCR001" in shown and "3/10 pages" in shown


# --- every olmOCR-Bench fact type (math, baseline, case_sensitive, first_n/last_n) -----------------------


def test_olmocr_bench_gives_a_pdf_without_a_baseline_test_one_like_olmocr_does(tmp_path: Path) -> None:
    bench_folder_with_every_type(tmp_path)
    tests = {t.id: t for page in load_pages(tmp_path) for t in page.tests}
    automatic = {name for name, t in tests.items() if t.category == "baseline"}
    assert automatic == {"arxiv/notice.pdf_baseline", "report.pdf_baseline", "math.pdf_baseline"}
    assert tests["hf_2"].fact is not None and tests["hf_2"].fact.max_length == 0  # its own: none added
    present = tests["am_2"].fact
    assert present is not None and (present.case_sensitive, present.first_n, present.max_diffs) == (False, 200, 1)


@pytest.mark.slow
def test_every_fact_type_passes_a_healthy_reading_and_fails_a_broken_one(tmp_path: Path) -> None:
    folder = tmp_path / "bench"
    texts = bench_folder_with_every_type(folder)
    healthy, report, ocr003, _, _ = _check_pages(tmp_path / "healthy", folder, texts)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    statuses = {check["id"]: check["status"] for check in report["hosts"][0]["checks"]}
    assert statuses["DEG005"] == "pass"  # the baseline test with max_length makes blank.pdf a blank page
    results = {r["id"]: r for r in ocr003["data"]["results"]}
    assert all(r["passed"] for r in results.values()), [r for r in results.values() if not r["passed"]]
    assert set(ocr003["data"]["by_category"]) == {
        "arxiv_math", "baseline", "headers_footers", "multi_column", "old_scans", "table_tests",
    }  # fmt: skip
    assert results["am_1"]["fact"] == "math 'E = mc^2'"

    # Every other line lost and a prompt echoed before the text: math, the case-insensitive text and the
    # blank page's baseline fail; the absent footer still holds.
    broken_faults = Faults(wrong_text=True, echo_prompt="Transcribe this page.")
    broken, report, ocr003, _, _ = _check_pages(tmp_path / "broken", folder, texts, broken_faults)
    assert broken.returncode == 1
    assert {c["id"]: c["status"] for c in report["hosts"][0]["checks"]}["DEG005"] == "fail"
    results = {r["id"]: r for r in ocr003["data"]["results"]}
    assert not results["am_1"]["passed"] and not results["am_2"]["passed"] and not results["hf_2"]["passed"]
    assert "expected blank" in results["hf_2"]["reason"]
    assert results["hf_1"]["passed"]
    assert ocr003["data"]["by_category"]["arxiv_math"]["score"] == 0.0
