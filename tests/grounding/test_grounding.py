"""The grounding block format parsed both ways, bounded on hostile answers, and the box score both ways."""

from __future__ import annotations

import pytest

from lightonocr_validation.grounding import blocks, boxes
from lightonocr_validation.grounding.blocks import parse
from lightonocr_validation.grounding.boxes import score_boxes
from lightonocr_validation.pages.blocks import TrueBlock, read_true_blocks
from lightonocr_validation.pages.samples import load_manifest

HEALTHY = (
    "![title](92,76,848,102)\n# The Title\n\n![text](92,125,906,202)\nFirst para.\n\n![text+](92,210,906,230)\nmore."
)


def test_a_healthy_answer_parses_into_blocks_with_no_problem():
    g = parse(HEALTHY)
    assert [b.label for b in g.blocks] == ["title", "text", "text+"]
    assert g.blocks[0].box == (92, 76, 848, 102) and g.blocks[0].text == "# The Title"
    assert not (g.format_problem() or g.coordinate_problem() or g.label_problem())
    # text+ continues the previous block: its text joins it, its box takes the block's label
    assert g.text() == "# The Title\n\nFirst para. more."
    assert [label for label, _, _ in g.pieces()] == ["title", "text", "text"]


@pytest.mark.parametrize(
    ("answer", "kind", "words"),
    [
        ("Just plain Markdown, no markers.", "format", "no ![label]"),
        ("![text](1,2,3)\nthree numbers", "format", "do not parse"),
        ("![text](a,b,c,d)\nletters", "format", "do not parse"),
        ("Preamble\n![text](1,2,30,40)\nx", "format", "before the first marker"),
        ("![text](1.5,2,30,40)\nx", "coordinates", "not integers"),
        ("![text](10,20,1190,1540)\npixels", "coordinates", "outside 0-1000"),
        ("![text](300,20,100,40)\nx1 > x2", "coordinates", "x1 < x2"),
        ("![text](10,40,100,40)\ny1 = y2", "coordinates", "y1 < y2"),
        ("![paragraph](10,20,100,40)\nundocumented", "labels", "not documented"),
        ("![text+](10,20,100,40)\ncontinues nothing", "labels", "continues no block"),
    ],
)
def test_each_broken_answer_is_named_for_what_is_wrong(answer, kind, words):
    g = parse(answer)
    problems = {"format": g.format_problem(), "coordinates": g.coordinate_problem(), "labels": g.label_problem()}
    assert words in problems[kind]
    assert [k for k, v in problems.items() if v] == [kind]


def test_every_documented_label_is_accepted():
    answer = "\n".join(f"![{label}](0,0,10,10)\nx" for label in sorted(blocks.LABELS))
    assert not parse(answer).label_problem()


@pytest.mark.parametrize(
    "answer",
    [
        "![text](0,0,10,10)x" * 2_000_000,  # millions of markers
        "![" * 3_000_000,  # millions of marker openings that never close
        "![text](" + "1," * 2_000_000,  # one huge parenthesis
        "x" * (blocks.MAX_CHARS + 10),  # past the size bound
    ],
)
def test_a_hostile_answer_is_refused_and_what_is_kept_is_bounded(answer):
    # Its time is printed by benchmarks/grounding_parse.py, not asserted here.
    g = parse(answer)
    assert g.format_problem()
    assert len(g.blocks) <= blocks.MAX_MARKERS and len(g.unparsed) <= blocks.SHOWN


def test_thousands_of_problems_keep_only_a_few_examples():
    g = parse("![nope](1,2,3,4)\nx\n" * 5000)
    assert g.bad_labels_count == 5000 and len(g.bad_labels) == blocks.SHOWN


TRUTH = (
    TrueBlock("title", (100, 50, 600, 80), "The Title"),
    TrueBlock("text", (100, 100, 900, 200), "alpha beta gamma delta epsilon zeta eta theta"),
    TrueBlock("text", (100, 220, 900, 320), "one two three four five six seven eight"),
)


def _pred(*items):
    return [(label, box, text) for label, box, text in items]


def test_the_true_blocks_score_fully_and_near_synonyms_agree():
    exact = _pred(*((b.label, b.box, b.text) for b in TRUTH))
    assert score_boxes(exact, TRUTH).passed
    renamed = _pred(("header", TRUTH[0].box, TRUTH[0].text), *((b.label, b.box, b.text) for b in TRUTH[1:]))
    assert score_boxes(renamed, TRUTH).labels == 1.0
    assert boxes.labels_agree("header", "title") and not boxes.labels_agree("title", "table")


def test_a_split_and_a_merge_are_located():
    split = _pred(
        ("title", TRUTH[0].box, TRUTH[0].text),
        ("text", (100, 100, 900, 148), "alpha beta gamma delta"),
        ("text+", (100, 152, 900, 200), "epsilon zeta eta theta"),
        ("text", TRUTH[2].box, TRUTH[2].text),
    )
    assert score_boxes(split, TRUTH).passed
    merged = _pred(
        ("title", TRUTH[0].box, TRUTH[0].text), ("text", (100, 100, 900, 320), TRUTH[1].text + " " + TRUTH[2].text)
    )
    assert score_boxes(merged, TRUTH).passed


def test_boxes_in_the_wrong_place_or_with_the_wrong_text_fail():
    whole = _pred(*(("text", (0, 0, 1000, 1000), b.text) for b in TRUTH))
    assert "lie on a true block" in score_boxes(whole, TRUTH).reason
    shifted = _pred(*((b.label, (b.box[0], b.box[1] + 100, b.box[2], b.box[3] + 100), b.text) for b in TRUTH))
    assert "located" in score_boxes(shifted, TRUTH).reason
    # the right places, each with another block's text: not where that text is
    swapped = _pred(*((b.label, b.box, TRUTH[(i + 1) % 3].text) for i, b in enumerate(TRUTH)))
    assert not score_boxes(swapped, TRUTH).passed
    wrong_labels = _pred(*(("image", b.box, b.text) for b in TRUTH))
    assert "labels agree" in score_boxes(wrong_labels, TRUTH).reason


def test_millions_of_boxes_are_refused_before_matching():
    many = _pred(*(("text", (0, 0, 10, 10), "x") for _ in range(boxes.MAX_BOXES + 1)))
    assert "past" in score_boxes(many, TRUTH).reason


def test_true_blocks_are_read_and_bad_ones_named():
    assert read_true_blocks([{"label": "text", "box": [1, 2, 3, 4], "text": "x"}])[0].box == (1, 2, 3, 4)
    for bad in ([{"label": "text", "box": [1, 2, 3]}], [{"label": "text", "box": [5, 2, 3, 4]}], {"x": 1}):
        with pytest.raises(ValueError):
            read_true_blocks(bad)


def test_the_drawn_pages_carry_their_true_blocks_and_the_pdf_none():
    samples = {s.id: s for s in load_manifest()}
    assert samples["pdf-01"].blocks is None and samples["blank-01"].blocks == ()
    headers = samples["headers-01"].blocks
    assert [b.label for b in headers][:2] == ["header", "header"] and headers[-1].label == "page_number"
    assert {b.label for b in samples["table-01"].blocks} >= {"table", "text"}
    for sample in samples.values():
        for block in sample.blocks or ():
            x1, y1, x2, y2 = block.box
            assert 0 <= x1 < x2 <= 1000 and 0 <= y1 < y2 <= 1000
