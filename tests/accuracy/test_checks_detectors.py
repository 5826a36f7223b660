"""The pure detectors behind the degeneration checks, and the /metrics parser."""

from __future__ import annotations

import json

import pytest

from lightonocr_validation.accuracy.detectors import dominant_character, repetition_loop
from lightonocr_validation.pages.samples import load_manifest
from lightonocr_validation.vllm import prometheus
from tests.fakevllm.server import RECORDING

ORDINARY = {
    "sample ground truths": "\n\n".join(t for s in load_manifest() for t in s.ground_truth),
    "markdown table": "| a | b | c | d | e | f | g | h |\n"
    + "|---" * 8
    + "|\n"
    + "| 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 |\n",
    "dotted leaders": "\n".join(f"{n}. Chapter {n} {'.' * 30} {n * 7}" for n in range(1, 15)),
    "rule of dashes": "Total\n" + "-" * 60 + "\nSigned",
    "form with blank rows": "Name:\n" + "| | | |\n" * 5 + "Date:",
    "repeated word a few times": "very " * 6 + "long text that goes on for a while with ordinary words.",
    "short exclamations": "Stop! Go! Now!!!",
    "empty": "",
}


@pytest.mark.parametrize("text", ORDINARY.values(), ids=list(ORDINARY))
def test_ordinary_documents_are_not_flagged(text) -> None:
    assert repetition_loop(text) is None
    assert dominant_character(text) is None


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("The report begins here. " + "the " * 400, "the"),
        ("Title\n\n" + "The figures below are provisional.\n" * 50, "The figures below are provisional."),
        (
            "Intro\n" + "A long line that is repeated well beyond the sixty-four characters a unit may have.\n\n" * 12,
            "A long line that is repeated",
        ),
        ("abcabc" * 60, "abc"),
        ("Correct start of a page. " * 3 + "<td>0</td>" * 40, "<td>0</td>"),
    ],
)
def test_repetition_loops_are_found_and_named(text, unit) -> None:
    finding = repetition_loop(text)
    assert finding is not None and unit in finding


def test_a_repeat_too_short_to_be_a_loop_is_not_one() -> None:
    assert repetition_loop("ha " * 8 + "said the clown.") is None  # 8 copies, 24 characters
    assert repetition_loop("ab" * 70) is None  # 140 characters < LOOP_MIN_CHARS


@pytest.mark.parametrize(
    "text",
    ["!" * 300, "!!!! " * 60, "Page header\n" + "!" * 2000, "A long and correct page. " * 40 + "!" * 500],
)
def test_one_character_floods_are_found(text) -> None:
    finding = dominant_character(text)
    assert finding is not None and "'!'" in finding


def test_whitespace_alone_does_not_dominate() -> None:
    assert dominant_character("\n" * 500 + "word") is None


def test_prometheus_parser_reads_the_recorded_metrics() -> None:
    body = json.loads(RECORDING.read_text(encoding="utf-8"))["answers"]["metrics"]["body"]
    samples = prometheus.parse(body)
    assert prometheus.total(samples, "vllm:prefix_cache_hits_total") == 0.0
    assert prometheus.total(samples, "vllm:no_such_metric", "vllm:mm_cache_hits_total") == 0.0
    assert prometheus.total(samples, "vllm:no_such_metric") is None
    assert prometheus.label(samples, "vllm:cache_config_info", "enable_prefix_caching") == "False"
    assert prometheus.label(samples, "vllm:cache_config_info", "block_size") == "128"


def test_prometheus_parser_sums_engines_and_skips_comments() -> None:
    text = '# HELP x\nvllm:hits_total{engine="0"} 2.0\nvllm:hits_total{engine="1"} 3.5\nbroken line\nplain 7\n'
    samples = prometheus.parse(text)
    assert prometheus.total(samples, "vllm:hits_total") == 5.5
    assert prometheus.total(samples, "plain") == 7.0
