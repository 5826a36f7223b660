"""What grade() compares: tables by their cells whatever their form, the rest normalized."""

from __future__ import annotations

import pytest

from lightonocr_validation.accuracy.engine import comparable_text, grade, reference_tables, table_cell_score
from lightonocr_validation.accuracy.metrics import cer
from tests.accuracy.test_accuracy import TABLE, make_sample

PIPE = (
    "## Prices\n\n"
    "| Item | Price | Stock |\n"
    "|:-----|------:|:-----:|\n"
    "| Apples | 1.20 | 40 |\n"
    "| Pears | 1.50 | 25 |\n"
    "| Plums | 2.10 | 12 |\n"
)


def test_a_pipe_table_compares_equal_to_the_same_html_table() -> None:
    assert comparable_text(PIPE) == comparable_text(TABLE)
    assert (
        reference_tables(PIPE)
        == reference_tables(TABLE)
        == [[["Item", "Price", "Stock"], ["Apples", "1.20", "40"], ["Pears", "1.50", "25"], ["Plums", "2.10", "12"]]]
    )
    assert table_cell_score(TABLE, PIPE).accuracy == 1.0


def test_a_wrong_cell_costs_its_characters_in_either_form() -> None:
    wrong = PIPE.replace("| 1.50 |", "| 1.05 |")
    assert cer(comparable_text(TABLE), comparable_text(wrong)) == pytest.approx(
        cer(comparable_text(TABLE), comparable_text(TABLE.replace("<td>1.50</td>", "<td>1.05</td>")))
    )
    score = table_cell_score(TABLE, wrong)
    assert score.accuracy == pytest.approx(11 / 12)
    assert score.first_wrong == "table 1 cell (row 3, column 2): expected '1.50' got '1.05'"


def test_a_table_read_as_loose_text_loses_its_cells_and_its_separators() -> None:
    loose = "## Prices\n\nItem Price Stock\nApples 1.20 40\nPears 1.50 25\nPlums 2.10 12\n"
    assert table_cell_score(TABLE, loose).accuracy == 0.0
    assert cer(comparable_text(TABLE), comparable_text(loose)) > 0.3


def test_pipes_without_a_rule_row_are_text_not_a_table() -> None:
    text = "| not | a table |\n| just | pipes |\n"
    assert reference_tables(text) == []
    assert comparable_text(text) == "| not | a table | | just | pipes |"


def test_grade_measures_cer_on_the_compared_text() -> None:
    sample = make_sample(TABLE, category="table", expect="html-table")
    assert grade(PIPE, sample).cer == 0.0
    assert grade(PIPE, sample).passed
    result = grade(PIPE.replace("Plums", "Pluns").replace("Pears", "Peans"), sample)
    assert result.cer == pytest.approx(2 / len(comparable_text(TABLE)))


def test_facts_min_tolerates_that_share_of_missed_facts_and_no_more() -> None:
    from dataclasses import replace

    from lightonocr_validation.pages.samples import Thresholds
    from lightonocr_validation.truth.facts import parse_fact

    facts = tuple(parse_fact({"type": "present", "text": word}) for word in ("Apples", "Pears", "Plums", "Stock"))
    every = make_sample(TABLE, category="table", expect="html-table", thresholds=Thresholds(cer_max=0.5), facts=facts)
    three_of_four = replace(every, thresholds=Thresholds(cer_max=0.5, facts_min=0.75))
    one_missed = TABLE.replace("Plums", "Prunes")
    assert not grade(one_missed, every).passed
    tolerated = grade(one_missed, three_of_four)
    assert tolerated.passed
    assert "1 fact(s) missed within facts_min 0.75: missing text 'Plums'" in tolerated.reason
    two_missed = grade(one_missed.replace("Pears", "Quinces"), three_of_four)
    assert not two_missed.passed
    assert "'Pears'" in two_missed.reason and "'Plums'" in two_missed.reason
