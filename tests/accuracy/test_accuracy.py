"""The accuracy engine on hand-made cases whose answers are known."""

from __future__ import annotations

import doctest
import importlib
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from lightonocr_validation.accuracy.engine import grade, overall_score, score_by_category, table_cell_score
from lightonocr_validation.accuracy.metrics import cer, first_difference, ned, wer
from lightonocr_validation.pages.samples import Sample, Thresholds
from lightonocr_validation.truth import katex_render
from lightonocr_validation.truth.fact_math import MAX_RENDERED
from lightonocr_validation.truth.fact_text import MAX_CANDIDATE_STARTS
from lightonocr_validation.truth.facts import Fact, check_fact, find, parse_fact
from lightonocr_validation.truth.normalize import (
    canonical_latex,
    latex_to_plain,
    normalize_text,
    parse_tables,
    to_plain_text,
)

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


def test_case_insensitive_fact_ignores_case_and_sensitive_fact_does_not() -> None:
    insensitive = parse_fact({"type": "present", "text": "ANNUAL MEETING", "case_sensitive": False})
    sensitive = parse_fact({"type": "present", "text": "ANNUAL MEETING"})
    assert check_fact(insensitive, PROSE).passed
    assert not check_fact(sensitive, PROSE).passed
    assert not check_fact(insensitive, PROSE.replace("Meeting", "Meting")).passed


def test_first_n_and_last_n_look_only_inside_their_window() -> None:
    head = parse_fact({"type": "present", "text": "Annual Meeting", "first_n": 20})
    tail = parse_fact({"type": "present", "text": "first Monday of June", "last_n": 40})
    assert check_fact(head, PROSE).passed and check_fact(tail, PROSE).passed
    moved = "Preface of the minutes, long enough to push the title out. " + PROSE
    result = check_fact(head, moved)
    assert not result.passed and result.reason == "missing text 'Annual Meeting' in the first 20 characters"
    assert not check_fact(tail, PROSE + "\nAppendix: a long list of attendees follows here.\n").passed
    header = parse_fact({"type": "absent", "text": "Page 3", "first_n": 30})
    assert check_fact(header, "Body text that mentions, much later on and far from the top, Page 3.").passed
    assert not check_fact(header, "Page 3\n\nBody text.").passed


def test_fuzzy_limit_is_olmocr_similarity_threshold() -> None:
    # 14 characters, max_diffs 1: the best window must reach similarity 1 - 1/14.
    fact = parse_fact({"type": "present", "text": "community hall", "max_diffs": 1})
    assert check_fact(fact, "the communty hall").passed  # one deletion
    assert not check_fact(fact, "the commnty hal").passed  # three


def test_order_holds_for_any_pair_of_occurrences() -> None:
    fact = parse_fact({"type": "order", "before": "Total due", "after": "Signature"})
    assert check_fact(fact, "Signature (top copy)\n\nTotal due: 40\n\nSignature").passed
    result = check_fact(fact, "Signature\n\nTotal due: 40")
    assert not result.passed and result.reason == "reading order: 'Signature' comes before 'Total due'"
    fuzzy = parse_fact({"type": "order", "before": "Total due", "after": "Signature", "max_diffs": 1})
    assert check_fact(fuzzy, "Totl due: 40 then Signatur").passed
    assert not check_fact(fuzzy, "Tol de: 40 then Signatur").passed


PIPE_TABLE = (
    "## Prices\n\n| Item | Price | Stock |\n|:-----|------:|------:|\n| Apples | 1.20 | 40 |\n| Pears | 1.50 | 25 |\n"
)


def test_table_facts_read_markdown_pipe_tables() -> None:
    fact = parse_fact({"type": "table", "cell": "1.50", "up": "1.20", "left": "Pears", "top_heading": "Price"})
    assert check_fact(fact, PIPE_TABLE).passed
    assert check_fact(fact, TABLE).passed
    result = check_fact(fact, PIPE_TABLE.replace("| 1.20 |", "| 1.25 |"))
    assert not result.passed and result.reason == "table cell '1.50': up expected '1.20' got '1.25'"
    html_only = parse_fact({"type": "table", "cell": "1.50", "up": "1.20", "ignore_markdown_tables": True})
    assert not check_fact(html_only, PIPE_TABLE).passed


def test_pipe_tables_have_grids_for_the_cell_score() -> None:
    assert parse_tables(PIPE_TABLE)[0].grid() == [
        ["Item", "Price", "Stock"],
        ["Apples", "1.20", "40"],
        ["Pears", "1.50", "25"],
    ]
    reference = TABLE.split("<tr><td>Plums")[0] + "</table>"
    assert table_cell_score(reference, PIPE_TABLE).accuracy == 1.0
    assert table_cell_score(reference, PIPE_TABLE.replace("Pears", "Pairs")).accuracy == pytest.approx(8 / 9)


def test_table_colspan_takes_one_position_in_its_row_as_in_olmocr() -> None:
    html = (
        '<table><tr><th colspan="2">Name</th><th>Age</th></tr><tr><td>Ada</td><td>Lovelace</td><td>36</td></tr></table>'
    )
    # olmOCR places "Age" right after the spanning "Name" (the grid the cell score uses puts it in column 3),
    # so "36" is not below it; the spanning heading heads every column from its own on.
    assert check_fact(parse_fact({"type": "table", "cell": "Name", "right": "Age"}), html).passed
    assert not check_fact(parse_fact({"type": "table", "cell": "Age", "down": "36"}), html).passed
    assert check_fact(parse_fact({"type": "table", "cell": "36", "top_heading": "Name"}), html).passed
    assert not check_fact(parse_fact({"type": "table", "cell": "36", "top_heading": "Surname"}), html).passed


def test_table_relations_off_the_edge_are_not_checked_as_in_olmocr() -> None:
    fact = parse_fact({"type": "table", "cell": "Item", "up": "anything at all"})
    assert check_fact(fact, TABLE).passed
    assert not check_fact(parse_fact({"type": "table", "cell": "Apples", "up": "anything at all"}), TABLE).passed


@pytest.mark.parametrize(
    "answer",
    [
        r"The law \(a^{2} + b^{2} = c^{2}\) holds.",
        r"The law \[ a^2+b^2=c^2 \] holds.",
        "The law $$a^2 + b^2 = c^2$$ holds.",
        "Prices $5 and $6, and the law $a^2 + b^2 = c^2$ holds.",
        r"It costs \$5; the law $a^{2} \, + b^2 = c^2$ holds.",
    ],
)
def test_math_fact_finds_the_equation_in_every_delimiter(answer: str) -> None:
    fact = parse_fact({"type": "math", "math": "a^2 + b^2 = c^2"})
    assert check_fact(fact, answer).passed
    broken = check_fact(fact, answer.replace("b^", "d^"))
    assert not broken.passed and broken.reason == "missing equation 'a^2 + b^2 = c^2'"


def test_math_fact_can_ignore_dollar_delimiters() -> None:
    fact = parse_fact({"type": "math", "math": "x^2", "ignore_dollar_delimited": True})
    assert check_fact(fact, r"see \(x^2\)").passed
    assert not check_fact(fact, "see $x^2$").passed


def test_baseline_fact_catches_loops_disallowed_characters_and_invented_text() -> None:
    baseline = parse_fact({"type": "baseline"})
    assert check_fact(baseline, PROSE).passed
    looping = check_fact(baseline, PROSE + "la " * 40)
    assert not looping.passed and "40 repeats of a 3-character sequence" in looping.reason
    assert check_fact(parse_fact({"type": "baseline", "max_repeats": 50}), PROSE + "la " * 40).passed
    assert not check_fact(baseline, PROSE + " \u4e2d\u6587").passed
    assert check_fact(parse_fact({"type": "baseline", "check_disallowed_characters": False}), PROSE + " \u4e2d").passed
    assert not check_fact(baseline, " \n- \n").passed
    blank = parse_fact({"type": "baseline", "max_length": 5})
    assert check_fact(blank, "12\n").passed
    assert not check_fact(blank, "![a company logo](x.png)").passed
    skip_images = parse_fact({"type": "baseline", "max_length": 5, "max_length_skips_image_alt_tags": True})
    assert check_fact(skip_images, "![a company logo](x.png)").passed


def test_parse_fact_accepts_every_olmocr_key() -> None:
    raws = [
        {"type": "present", "text": "a", "case_sensitive": False, "first_n": 10, "last_n": 5, "max_diffs": 0},
        {"type": "absent", "text": "a", "pdf": "doc.pdf", "page": 0, "id": "x_1", "checked": "verified", "url": "u"},
        {"type": "order", "before": "alpha", "after": "omega", "max_diffs": 2},
        {"type": "table", "cell": "c", "up": "u", "down": "d", "left": "l", "right": "r"},
        {"type": "table", "cell": "c", "top_heading": "t", "left_heading": "l", "ignore_markdown_tables": True},
        {"type": "math", "math": "x^2", "ignore_dollar_delimited": True},
        {"type": "baseline", "max_repeats": 10, "check_disallowed_characters": False},
        {"type": "baseline", "max_length": 0, "max_length_skips_image_alt_tags": True},
    ]
    facts = [parse_fact(raw) for raw in raws]
    assert [f.type for f in facts] == ["present", "absent", "order", "table", "table", "math", "baseline", "baseline"]
    assert (facts[0].case_sensitive, facts[0].first_n, facts[0].last_n) == (False, 10, 5)
    assert dict(facts[4].neighbours) == {"top_heading": "t", "left_heading": "l"}
    assert facts[7].max_length == 0


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"type": "shiny"}, "fact type 'shiny'"),
        ({"type": "present"}, "non-empty string 'text'"),
        ({"type": "order", "before": "a"}, "'after'"),
        ({"type": "present", "text": "a", "colour": "red"}, "unknown keys"),
        ({"type": "order", "before": "abc", "after": "abcdef", "max_diffs": 2}, "at most half"),
        ({"type": "present", "text": "a", "case_sensitive": "no"}, "true or false"),
        ({"type": "present", "text": "a", "first_n": -1}, "non-negative integer"),
        ({"type": "math", "math": "  "}, "non-empty string 'math'"),
        ({"type": "math", "math": "\\frac{1"}, "does not render in KaTeX: KaTeX parse error"),
        ({"type": "present", "text": "**  **"}, "non-empty string 'text'"),
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
        ("It costs $5 and $6 today", "It costs $5 and $6 today"),
        ("from $5-$10, then $x ^ 2$", "from $5-$10, then $x^{2}$"),
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
        "lightonocr_validation.truth.normalize",
        "lightonocr_validation.accuracy.metrics",
        "lightonocr_validation.truth.facts",
        "lightonocr_validation.truth.fact_text",
        "lightonocr_validation.truth.fact_tables",
        "lightonocr_validation.truth.fact_math",
        "lightonocr_validation.truth.katex_render",
        "lightonocr_validation.truth.math_glyphs",
        "lightonocr_validation.truth.fact_baseline",
        "lightonocr_validation.pages.image",
    ],
)
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0
    assert result.failed == 0


def test_fuzzy_search_gives_up_after_its_candidate_bound_on_hostile_text() -> None:
    # Deliberate difference from olmOCR (which searches on, for minutes): past MAX_CANDIDATE_STARTS places where a
    # piece of the text occurs, a fuzzy search stops as if nothing more were there.
    fact = parse_fact({"type": "order", "before": "abcdefgh", "after": "zzzz", "max_diffs": 1})
    near = "abcd" * 1000 + "abcdefgx zzzz"
    assert check_fact(fact, near).passed
    far = "abcd" * (MAX_CANDIDATE_STARTS // 2) + "abcdefgx zzzz"
    result = check_fact(fact, far)
    assert not result.passed and result.reason == "order: missing text 'abcdefgh'"


def test_a_late_first_match_is_still_chosen_as_the_best_of_its_group() -> None:
    # Thousands of places where a piece occurs come first; the real match's group must still be examined whole,
    # so that its best (exact) match, not a neighbour one edit away, gives the start.
    noise = "abcd " * 6000
    assert find("abcdefgh", noise + "xabcdefgh", 1) == len(noise) + 1
    assert find("abcdefgh", noise + "abcdefgh", 1) == len(noise)


@pytest.mark.parametrize(
    ("written", "alike"),
    [
        (r"E=mc^2", True),
        (r"E = m c^{2} \,", True),
        (r"{E} = \mathit{m}c^{2}", True),
        (r"E = mc^{3}", False),
        (r"E = m^{2}c", False),
        (r"E = mc_{2}", False),
        (r"E = \sqrt{mc^{2}}", False),
    ],
)
def test_math_fact_is_judged_as_it_renders(written: str, alike: bool) -> None:
    fact = parse_fact({"type": "math", "math": "E = mc^{2}"})
    assert check_fact(fact, f"The law ${written}$ holds.").passed is alike


@pytest.mark.parametrize(
    ("one", "other", "alike"),
    [
        (r"\frac{a}{b}", r"\dfrac{a}{b}", True),
        (r"\frac{1}{2}", r"\frac12", True),
        (r"\left( a + b \right)^{2}", r"(a+b)^2", True),
        (r"\operatorname{f}(x)", r"\text{f}(x)", True),
        (r"\mathrm{f}(x)", r"\operatorname{f}(x)", True),
        (r"f'(x)", r"f^{\prime}(x)", True),
        (r"\int_0^1 x \, dx", r"\int_{0}^{1}x\;\mathrm{d}x", True),
        (r"\sum_{i=1}^{n} i", r"\sum\limits_{i=1}^n i", True),
        (r"\frac{1}{3}", r"\frac{3}{1}", False),
        (r"\sqrt{b^{2} - 4ac} + 1", r"b^{2} - 4ac + 1", False),
        (r"a + b", r"a - b", False),
        (r"\binom{n}{k}", r"\frac{n}{k}", False),
        (r"\mathbb{R}^{n}", r"R^{n}", False),
        (r"(a b)^{c}", r"a^{bc}", False),
    ],
)
def test_math_fact_passes_a_notation_katex_renders_alike_and_fails_another_formula_both_ways(
    one: str, other: str, alike: bool
) -> None:
    assert check_fact(parse_fact({"type": "math", "math": one}), f"so \\[{other}\\] holds").passed is alike
    assert check_fact(parse_fact({"type": "math", "math": other}), f"so \\[{one}\\] holds").passed is alike


def test_an_equation_katex_cannot_render_is_passed_over() -> None:
    fact = parse_fact({"type": "math", "math": "x^2"})
    assert not check_fact(fact, r"broken \(\frac{x^2\) here").passed
    assert check_fact(fact, r"broken \(\frac{x^2\) then \(x^{2}\)").passed
    assert katex_render.render("x" * (katex_render.MAX_SOURCE + 1)).error.startswith("longer than")


def test_math_fact_renders_at_most_max_rendered_equations_the_closest_first() -> None:
    # Deliberate bound (olmOCR renders them all): past MAX_RENDERED equations closer in spelling, the one that
    # renders alike is not reached.
    fact = parse_fact({"type": "math", "math": "a^{2} + b^{2} = c^{2}"})
    decoys = " ".join(f"$a^{{2}} + b^{{2}} = c^{{{n}}}$" for n in range(3, 3 + MAX_RENDERED))
    assert check_fact(fact, decoys.rsplit(" ", 1)[0] + " $a^2+b^2=c^2$").passed
    assert not check_fact(fact, decoys + " $a^2+b^2=c^2$").passed


def test_without_quickjs_a_math_fact_is_refused_in_one_line_naming_the_requirement(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "quickjs", None)  # an environment built before the dependency
    katex_render._katex.cache_clear()
    katex_render.render.cache_clear()
    try:
        with pytest.raises(ValueError, match=r"not installed: pip install 'quickjs-ng>=0\.17'"):
            parse_fact({"type": "math", "math": "y^3"})
    finally:
        katex_render._katex.cache_clear()
        katex_render.render.cache_clear()
