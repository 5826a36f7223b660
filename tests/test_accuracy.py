"""The accuracy engine on hand-made cases whose answers are known."""

from __future__ import annotations

import doctest
import importlib
from dataclasses import replace
from pathlib import Path

import pytest

from lightonocr_validation.accuracy.engine import grade, overall_score, score_by_category, table_cell_score
from lightonocr_validation.accuracy.facts import Fact, check_fact, find, parse_fact
from lightonocr_validation.accuracy.metrics import cer, first_difference, ned, wer
from lightonocr_validation.accuracy.normalize import (
    canonical_latex,
    latex_to_plain,
    normalize_text,
    parse_tables,
    to_plain_text,
)
from lightonocr_validation.samples import Sample, Thresholds

PROSE = (
    "# Annual Meeting\n\n"
    "The board met on Tuesday to review the budget for the coming year.\n\n"
    "Members approved a new roof for the community hall at a cost of 48,000 pounds.\n\n"
    "The next meeting will take place in the library on the first Monday of June.\n"
)


def make_sample(
    ground_truth: str,
    *,
    category: str = "prose",
    expect: str = "markdown",
    thresholds: Thresholds | None = None,
    facts: tuple[Fact, ...] = (),
) -> Sample:
    return Sample(
        id=f"{category}-test",
        category=category,
        expect=expect,
        file=Path("unused.png"),
        ground_truth=(ground_truth,),
        ground_truth_files=(Path("unused.md"),),
        thresholds=thresholds or Thresholds(cer_max=0.05),
        facts=facts,
    )


# --- grading -------------------------------------------------------------------------------------------


def test_exact_copy_has_no_errors_and_passes() -> None:
    result = grade(PROSE, make_sample(PROSE))
    assert (result.cer, result.wer, result.ned) == (0.0, 0.0, 0.0)
    assert result.passed
    assert result.reason == "identical after normalization"


def test_markup_only_differences_still_score_zero() -> None:
    output = PROSE.replace("# Annual", "## **Annual").replace("Meeting\n", "Meeting**\n").replace("\n\n", "\n")
    assert grade(output, make_sample(PROSE)).cer == 0.0


def test_dropped_line_is_found_and_named() -> None:
    missing = "Members approved a new roof for the community hall at a cost of 48,000 pounds."
    output = PROSE.replace(missing + "\n\n", "")
    result = grade(output, make_sample(PROSE))
    assert result.cer > 0.2
    assert not result.passed
    assert result.reason.startswith("CER ")
    assert "expected '" in result.reason
    assert "new roof for the community hall" in result.reason.split(" got ")[0]


def test_passing_page_with_a_typo_still_reports_the_first_difference() -> None:
    result = grade(PROSE.replace("budget", "budgel"), make_sample(PROSE))
    assert result.passed
    assert 0 < result.cer < 0.05
    assert "expected '" in result.reason and "budget" in result.reason and "budgel" in result.reason


def test_swapped_columns_fail_the_order_fact() -> None:
    left = "Left column starts here and tells the first half of the story."
    right = "Right column continues the story after the left one ends."
    truth = f"{left}\n\n{right}\n"
    facts = (parse_fact({"type": "order", "before": "Left column starts", "after": "Right column continues"}),)
    sample = make_sample(truth, category="columns", thresholds=Thresholds(cer_max=2.0), facts=facts)
    assert grade(truth, sample).passed
    result = grade(f"{right}\n\n{left}\n", sample)
    assert not result.passed
    assert result.facts[0].passed is False
    assert "reading order" in result.reason and "Right column continues" in result.reason


TABLE = (
    "## Prices\n\n"
    "<table><tr><th>Item</th><th>Price</th><th>Stock</th></tr>"
    "<tr><td>Apples</td><td>1.20</td><td>40</td></tr>"
    "<tr><td>Pears</td><td>1.50</td><td>25</td></tr>"
    "<tr><td>Plums</td><td>2.10</td><td>12</td></tr></table>\n"
)


def test_table_with_one_wrong_cell_fails_that_cell() -> None:
    facts = (parse_fact({"type": "table", "cell": "1.50", "up": "1.20", "left": "Pears", "top_heading": "Price"}),)
    sample = make_sample(
        TABLE,
        category="table",
        expect="html-table",
        thresholds=Thresholds(cer_max=0.5, cells_min=1.0),
        facts=facts,
    )
    exact = grade(TABLE, sample)
    assert exact.passed and exact.table_cells == 1.0
    result = grade(TABLE.replace("<td>1.50</td>", "<td>1.05</td>"), sample)
    assert not result.passed
    assert result.table_cells == pytest.approx(11 / 12)
    assert "row 3, column 2): expected '1.50' got '1.05'" in result.reason
    assert "table cell '1.50' not found" in result.reason


def test_table_neighbour_mismatch_is_named() -> None:
    fact = parse_fact({"type": "table", "cell": "Pears", "down": "Plums", "right": "1.50"})
    assert check_fact(fact, TABLE).passed
    swapped = TABLE.replace("<td>Plums</td>", "<td>Figs</td>")
    result = check_fact(fact, swapped)
    assert not result.passed
    assert result.reason == "table cell 'Pears': down expected 'Plums' got 'Figs'"


def test_table_markup_variants_are_equivalent() -> None:
    variant = (
        '## Prices\n\n<table border="1">\n<thead><tr><th>Item</th><th> Price </th><th>Stock</th></tr>'
        "</thead>\n"
        "<tbody><tr><td><b>Apples</b></td><td>1.20</td><td>40</td></tr>\n<tr><td>Pears</td><td>1.50</td><td>25</td>"
        "</tr><tr><td>Plums</td><td>2.10</td><td>12</td></tr></tbody></table>"
    )
    assert normalize_text(variant) == normalize_text(TABLE)
    assert table_cell_score(TABLE, variant).accuracy == 1.0


def test_table_without_output_table_scores_zero_cells() -> None:
    score = table_cell_score(TABLE, "Item Price Stock Apples 1.20 40")
    assert score.accuracy == 0.0
    assert score.first_wrong == "table 1 cell (row 1, column 1): expected 'Item' got missing"


def test_spans_fill_every_covered_position() -> None:
    html = (
        '<table><tr><th colspan="2">Name</th><th rowspan="2">Age</th></tr>'
        "<tr><td>Ada</td><td>Lovelace</td></tr><tr><td>Alan</td><td>Turing</td><td>41</td></tr></table>"
    )
    assert parse_tables(html)[0].grid() == [
        ["Name", "Name", "Age"],
        ["Ada", "Lovelace", "Age"],
        ["Alan", "Turing", "41"],
    ]


def test_unterminated_table_is_still_parsed() -> None:
    assert parse_tables("<table><tr><td>a</td><td>b</td></tr><tr><td>c")[0].grid() == [["a", "b"], ["c", ""]]


def test_blank_page_passes_empty_output_and_fails_invented_text() -> None:
    blank = make_sample("", category="blank", expect="empty", thresholds=Thresholds(max_chars=5))
    assert grade("", blank).passed
    assert grade("  \n\n ", blank).passed
    assert grade("12", blank).passed  # a stray page number is tolerated up to max_chars
    invented = grade("Lorem ipsum dolor sit amet.", blank)
    assert not invented.passed
    assert "blank page" in invented.reason and "Lorem ipsum" in invented.reason


def test_present_and_absent_facts() -> None:
    present = parse_fact({"type": "present", "text": "48,000 pounds"})
    absent = parse_fact({"type": "absent", "text": "Lorem ipsum"})
    assert check_fact(present, PROSE).passed
    assert check_fact(absent, PROSE).passed
    missing = check_fact(present, PROSE.replace("48,000", "4,800"))
    assert not missing.passed and missing.reason == "missing text '48,000 pounds'"
    assert not check_fact(absent, PROSE + "\nLorem ipsum\n").passed


def test_fuzzy_present_fact_allows_max_diffs() -> None:
    fact = parse_fact({"type": "present", "text": "community hall", "max_diffs": 1})
    assert check_fact(fact, "the communty hall").passed
    assert not check_fact(fact, "the commnty hal").passed
    assert find("wrld", "hello world", 1) == 6


def test_order_fact_reports_missing_text() -> None:
    fact = parse_fact({"type": "order", "before": "alpha", "after": "omega"})
    result = check_fact(fact, "only omega here")
    assert not result.passed and result.reason == "order: missing text 'alpha'"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"type": "shiny"}, "fact type 'shiny'"),
        ({"type": "present"}, "non-empty string 'text'"),
        ({"type": "order", "before": "a"}, "'after'"),
        ({"type": "present", "text": "a", "colour": "red"}, "unknown keys"),
    ],
)
def test_malformed_facts_are_rejected(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_fact(raw)


def test_grade_rejects_a_page_that_does_not_exist() -> None:
    with pytest.raises(IndexError, match="page 1 does not exist"):
        grade("x", make_sample("x"), page=1)


def test_score_by_category_is_pass_rate_per_category() -> None:
    good = grade(PROSE, make_sample(PROSE))
    bad = grade("nothing", make_sample(PROSE))
    blank = grade("", make_sample("", category="blank", expect="empty", thresholds=Thresholds(max_chars=5)))
    scores = score_by_category([good, bad, replace(good, category="blank"), blank])
    assert scores == {"blank": 1.0, "prose": 0.5}
    assert overall_score([good, bad, blank]) == pytest.approx(0.75)


# --- normalization -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("\u201cQuoted\u201d and \u2018single\u2019 and it\u2019s", "\"Quoted\" and 'single' and it's"),
        ("pages 3\u20134 \u2014 done \u2212 1", "pages 3-4 - done - 1"),
        ("**bold** *italic* __strong__ _em_ <b>tag</b>", "bold italic strong em tag"),
        ("snake_case and file_name_here stay", "snake_case and file_name_here stay"),
        ("Cafe\u0301 cre\u0300me", "Caf\u00e9 cr\u00e8me"),
        ("# Title\n\n## Sub\ntext", "Title Sub text"),
        ("\u2022 one\n* two\n+ three", "- one - two - three"),
        ("a\u00a0b  c\n\n\td", "a b c d"),
        ("costs \\$5 and \\*stars\\*", "costs $5 and *stars*"),
        ("line<br>break<br/>again", "line break again"),
        ("Wait\u2026", "Wait..."),
    ],
)
def test_normalization_examples(raw: str, normal: str) -> None:
    assert normalize_text(raw) == normal


def test_nfc_makes_decomposed_and_precomposed_equal() -> None:
    assert normalize_text("re\u0301sume\u0301") == normalize_text("r\u00e9sum\u00e9")
    assert cer(normalize_text("r\u00e9sum\u00e9"), normalize_text("re\u0301sume\u0301")) == 0.0


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("$x^2$", "$x^{2}$"),
        ("$E = mc^2$", "$E=mc^{2}$"),
        (r"$$\left( a + b \right)^2$$", "$$(a+b)^{2}$$"),
        (r"$\int_0^1 x^2 \, dx$", r"$\int_{0}^{1}x^{2}dx$"),
        (r"$\dfrac{1}{3}$", r"$\frac{1}{3}$"),
        (r"\(a_i\)", "$a_{i}$"),
        (r"\[x = 1\]", "$$x=1$$"),
        (r"$a \le b$", r"$a\leq b$"),
    ],
)
def test_latex_spacing_equivalence(a: str, b: str) -> None:
    assert normalize_text(a) == normalize_text(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [("$x^{2}$", "$x^{3}$"), (r"$\pm b$", r"$\pmb$"), ("$a_{1}$", "$a1$"), ("$x^2$", "x^2")],
)
def test_latex_differences_that_matter_are_kept(a: str, b: str) -> None:
    assert normalize_text(a) != normalize_text(b)


def test_canonical_latex_keeps_control_word_separation() -> None:
    assert canonical_latex(r"\pm  b + \sqrt{ c }") == r"\pm b+\sqrt{c}"


def test_emphasis_rules_do_not_touch_math_subscripts() -> None:
    assert normalize_text("$a_1 + b_2$ and _x_") == "$a_{1}+b_{2}$ and x"


def test_plain_text_view_flattens_tables_and_latex() -> None:
    assert latex_to_plain(r"\frac{n(n+1)}{2}") == "n(n+1) 2"
    assert to_plain_text(TABLE) == "Prices Item Price Stock Apples 1.20 40 Pears 1.50 25 Plums 2.10 12"


# --- metrics -------------------------------------------------------------------------------------------


def test_cer_denominator_is_reference_length() -> None:
    assert cer("abcdefghij", "abcdefghiX") == pytest.approx(0.1)
    assert cer("abcd", "") == 1.0
    assert cer("ab", "abcdef") == 2.0  # insertions can push CER above 1
    assert cer("", "") == 0.0
    assert cer("", "abc") == 3.0


def test_wer_counts_words_over_reference_words() -> None:
    assert wer("the cat sat on the mat", "the cat sat on a mat") == pytest.approx(1 / 6)
    assert wer("one two", "one two three four") == 1.0


def test_ned_is_bounded_by_the_longer_string() -> None:
    assert ned("ab", "abcdef") == pytest.approx(4 / 6)
    assert ned("abc", "xyz") == 1.0
    assert ned("", "") == 0.0


def test_first_difference_shows_expected_and_got() -> None:
    assert first_difference("same text", "same text") is None
    assert first_difference("a b c d e", "a b X d e", context_words=1) == "expected 'b c d' got 'b X d'"


@pytest.mark.parametrize(
    "module",
    [
        "lightonocr_validation.accuracy.normalize",
        "lightonocr_validation.accuracy.metrics",
        "lightonocr_validation.accuracy.facts",
        "lightonocr_validation.pages",
    ],
)
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0
    assert result.failed == 0
