"""The page thresholds against seeded readings: every healthy one must pass, every broken one must fail,
both in grade() and in the verdict of the whole check suite against the fake vLLM."""

from __future__ import annotations

import random
import re
import unicodedata

import pytest

from lightonocr_validation.accuracy.calibration import calibrate, margins
from lightonocr_validation.accuracy.engine import comparable_text, grade
from lightonocr_validation.accuracy.metrics import cer
from lightonocr_validation.accuracy.readings import BROKEN, CASES, HEALTHY, case, misread, pages_of
from lightonocr_validation.check.base import Status
from lightonocr_validation.check.verdict import EXIT_CHECK_FAILED, EXIT_OK
from lightonocr_validation.pages.samples import load_manifest
from lightonocr_validation.truth.fact_math import formula, formulas_as_shown
from tests.fakevllm.server import Faults

SEEDS = range(5)
PAGES = pages_of(load_manifest())


@pytest.fixture(scope="module")
def cells():
    return calibrate(seeds=SEEDS)


# --- the generator does what it says -------------------------------------------------------------------


def test_the_sample_set_is_thirteen_pages_one_blank() -> None:
    assert len(PAGES) == 13
    assert [p.label for p in PAGES if not p.truth] == ["blank-01"]


@pytest.mark.parametrize("rate", [0.01, 0.05])
def test_misreads_cost_the_stated_share_of_characters(rate: float) -> None:
    for page in PAGES:
        if not page.truth:
            continue
        reference = comparable_text(page.truth)
        floor = cer(reference, comparable_text(misread(page.truth, rate, random.Random(1))))
        ceiling = cer(reference, comparable_text(misread(page.truth, rate, random.Random(1), at_least=True)))
        assert rate - 0.004 <= floor <= rate + 1e-9, page.label
        assert rate - 1e-9 <= ceiling <= rate + 0.006, page.label


def test_misreads_are_ocr_confusions_that_keep_accents_and_markup() -> None:
    table = next(p for p in PAGES if p.sample.expect == "html-table")
    french = next(p for p in PAGES if p.sample.lang == "fr")
    read = misread(table.truth, 0.05, random.Random(3))
    assert re.findall(r"</?\w+>", read) == re.findall(r"</?\w+>", table.truth)  # every tag intact
    accented = [c for c in unicodedata.normalize("NFD", french.truth) if unicodedata.category(c) == "Mn"]
    read_fr = misread(french.truth, 0.05, random.Random(3))
    assert [c for c in unicodedata.normalize("NFD", read_fr) if unicodedata.category(c) == "Mn"] == accented


def test_readings_are_seeded() -> None:
    for c in CASES:
        assert [r.text for r in c.read(PAGES, 7)] == [r.text for r in c.read(PAGES, 7)], c.name
    changing = case("all healthy at once")
    assert [r.text for r in changing.read(PAGES, 1)] != [r.text for r in changing.read(PAGES, 2)]


def test_layout_only_cases_change_the_markdown_but_not_the_compared_text() -> None:
    for name, mark in [
        ("pipe tables", "|---|"),
        ("math brackets", "\\["),
        ("headings re-levelled", "## "),
        ("emphasis added", "*"),
        ("typography", "\u2019"),
        ("reflowed", "\n"),
    ]:
        readings = case(name).read(PAGES, 0)
        assert any(r.text != r.page.truth and mark in r.text for r in readings), name
        assert all(comparable_text(r.text) == comparable_text(r.page.truth) for r in readings), name


MATH = next(p for p in PAGES if p.sample.expect == "latex")


def _formulas(text: str) -> list[str]:
    return [m.group(1) or m.group(2) for m in re.finditer(r"\$\$(.+?)\$\$|\$([^$\n]+?)\$", text, re.DOTALL)]


def test_misreads_stay_out_of_formulas() -> None:
    for seed in range(20):
        read = misread(MATH.truth, 0.05, random.Random(seed))
        assert read != MATH.truth and _formulas(read) == _formulas(MATH.truth)


def test_math_respelled_rewrites_every_formula_and_keeps_what_each_renders() -> None:
    truth = _formulas(MATH.truth)
    for seed in range(20):
        reading = next(r for r in case("math respelled").read(PAGES, seed) if r.page == MATH)
        written = _formulas(reading.text)
        assert len(written) == len(truth)
        assert all(a != b for a, b in zip(written, truth, strict=True) if len(b) > 1), reading.text
        assert [formula(w) for w in written] == [formula(t) for t in truth]
        assert formulas_as_shown(reading.text) == formulas_as_shown(MATH.truth)


@pytest.mark.parametrize("name", [c.name for c in BROKEN if c.by_facts])
def test_a_formula_case_changes_one_formula_and_fails_the_page_by_its_math_fact(name: str) -> None:
    truth = _formulas(MATH.truth)
    facts = {f.math for f in MATH.sample.facts if f.type == "math"}
    for seed in range(10):
        reading = next(r for r in case(name).read(PAGES, seed) if r.page == MATH)
        written = _formulas(reading.text)
        changed = [t for t, w in zip(truth, written, strict=True) if formula(t) != formula(w)]
        assert len(changed) == 1 and changed[0] in facts, (seed, written)
        assert reading.broken and reading.text.replace(" ", "") != MATH.truth.replace(" ", "")
        graded = grade(reading.text, MATH.sample)
        assert not graded.passed and graded.cer <= MATH.sample.thresholds.cer_max  # the CER alone would pass it
        assert f"missing equation '{changed[0]}'" in graded.reason, graded.reason


def test_every_broken_case_breaks_some_page_and_every_text_page_has_broken_cases(cells) -> None:
    for c in BROKEN:
        assert any(cell.expect_pass is False for cell in cells if cell.case is c), c.name
    for page in PAGES:
        if not page.truth:
            continue  # the blank page: another page's text is its broken reading
        broken_here = {cell.case.name for cell in cells if cell.page == page and cell.expect_pass is False}
        assert len(broken_here) >= 2, page.label


# --- grade(): every reading of every page is judged as its case says ---------------------------------------


@pytest.mark.parametrize("name", [c.name for c in HEALTHY])
def test_healthy_readings_pass_every_page(name: str, cells) -> None:
    wrong = [(c.page.label, c.grade.reason) for c in cells if c.case.name == name and c.grade and not c.right]
    assert not wrong


@pytest.mark.parametrize("name", [c.name for c in BROKEN])
def test_broken_readings_fail_every_page_they_break(name: str, cells) -> None:
    wrong = [(c.page.label, c.grade.reason) for c in cells if c.case.name == name and c.grade and not c.right]
    assert not wrong


def test_each_threshold_sits_between_the_healthy_worst_and_the_broken_best_with_room(cells) -> None:
    for m in margins(cells):
        assert m.healthy_worst * 1.5 <= m.cer_max, m.page.label
        assert m.cer_max * 1.5 <= m.broken_best, m.page.label
        if m.cells is not None:
            cells_min, healthy, broken = m.cells
            assert broken < cells_min <= healthy, m.page.label


def test_the_ground_truth_passes_and_the_blank_page_is_graded_by_its_character_count(cells) -> None:
    for cell in cells:
        if cell.case.name == "ground truth":
            assert cell.grade is not None and cell.grade.passed and cell.grade.cer == 0.0
    blank = [c for c in cells if c.page.sample.expect == "empty" and c.grade is not None]
    assert {c.case.name: c.grade.passed for c in blank if c.case.name == "another page's text"} == {
        "another page's text": False
    }
    assert all(c.grade.reason.startswith("blank page") for c in blank if not c.grade.passed)


# --- the whole check suite's verdict --------------------------------------------------------------------


@pytest.mark.parametrize("name", [c.name for c in CASES])
def test_the_suite_verdict_follows_the_readings(name: str, fake_vllm, run_checks) -> None:
    readings = case(name).read(PAGES, 0)
    checked = run_checks(fake_vllm(Faults(readings={r.page.label: r.text for r in readings})).url)
    ocr = checked.by_id["OCR003"]
    judged = {page["page"]: page["passed"] for page in ocr.data["pages"]}
    expected = {r.page.label: not r.broken for r in readings}
    assert judged == expected, ocr.detail
    if case(name).healthy:
        assert ocr.status is Status.PASS, ocr.detail
        assert (checked.verdict.word, checked.verdict.exit_code) == ("validated", EXIT_OK), checked.verdict.line
    else:
        assert ocr.status is Status.FAIL
        assert (checked.verdict.word, checked.verdict.exit_code) == ("issue", EXIT_CHECK_FAILED)
        assert checked.verdict.line.startswith("issue: OCR003"), checked.verdict.line


def test_the_fake_reads_only_the_named_pages_from_readings(fake_vllm, run_checks) -> None:
    checked = run_checks(fake_vllm(Faults(readings={"pdf-01 p2": "Nothing like the page."})).url)
    judged = {page["page"]: page["passed"] for page in checked.by_id["OCR003"].data["pages"]}
    assert [label for label, passed in judged.items() if not passed] == ["pdf-01 p2"]
