"""The grounding checks against the fake vLLM serving a LightOnOCR-3 model: every healthy grounding answer of
the calibration passes, every broken one is caught by the check that exists for it; a generation 2 model and
random weights skip what they must, saying why."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from checks import grounding, model
from lightonocr_validation.check import registry
from lightonocr_validation.check.base import SkipReason, Status
from lightonocr_validation.check.verdict import EXIT_OK
from lightonocr_validation.grounding.readings import HEALTHY
from lightonocr_validation.pages.samples import load_manifest
from lightonocr_validation.pages.user_pages import PagesError, load_pages
from tests.fakevllm.server import FakeVllm, Faults
from tests.processes import run_invoke

GEN3 = "lightonai/LightOnOCR-3-1B"
GROUNDING = tuple(c for c in registry.CHECKS if c.family == "grounding")
SELECTED = (model.MOD001, *GROUNDING)


def test_a_healthy_generation_3_server_passes_every_check(fake_vllm, run_checks) -> None:
    checked = run_checks(fake_vllm(model=GEN3).url, served_name=GEN3)
    assert {r.check_id: r.status for r in checked.run.results} == {c.id: Status.PASS for c in registry.CHECKS}
    assert (checked.verdict.word, checked.verdict.exit_code) == ("validated", EXIT_OK)
    boxes = checked.by_id["GRD006"].data["pages"]
    assert len(boxes) == 9 and all(page["located"] == 1.0 for page in boxes.values())  # the drawn pages
    assert set(checked.by_id["GRD005"].data["cer_vs_plain"]) >= {"prose-01", "pdf-01 p2"}


@pytest.mark.parametrize("case", [c.name for c in HEALTHY if c.name != "exact"])
def test_each_healthy_grounding_answer_passes(case, fake_vllm, run_checks) -> None:
    checked = run_checks(fake_vllm(Faults(grounding=case), model=GEN3).url, served_name=GEN3, selected=SELECTED)
    assert {r.check_id: r.status.value for r in checked.run.results if r.status is not Status.PASS} == {}


# broken case -> the checks that must fail (the others may pass), and a word of the first one's detail
BROKEN = {
    "no_markers": (("GRD002",), "no ![label]"),
    "pixels": (("GRD003", "GRD006"), "outside 0-1000"),
    "swapped": (("GRD006",), "located"),
    "shifted_down": (("GRD006",), "located"),
    "shifted_right": (("GRD006",), "located"),
    "missing": (("GRD005", "GRD006"), "CER"),
    "whole_page": (("GRD006",), "lie on a true block"),
    "wrong_labels": (("GRD006",), "labels agree"),
    "unknown_labels": (("GRD004", "GRD006"), "not documented"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_each_broken_grounding_answer_is_caught(case, fake_vllm, run_checks) -> None:
    checks, word = BROKEN[case]
    checked = run_checks(fake_vllm(Faults(grounding=case), model=GEN3).url, served_name=GEN3, selected=SELECTED)
    failed = [r for r in checked.run.results if r.status is Status.FAIL]
    assert {r.check_id for r in failed} >= set(checks)
    assert word in checked.by_id[checks[0]].detail
    assert all(r.hint for r in failed)
    assert checked.verdict.word == "issue"


def test_random_weights_run_the_serving_part_and_skip_the_judging_ones(fake_vllm, run_checks) -> None:
    checked = run_checks(fake_vllm(model=GEN3).url, served_name=GEN3, weights="random", selected=SELECTED)
    assert checked.by_id["GRD001"].status is Status.PASS
    for check in GROUNDING[1:]:
        assert checked.by_id[check.id].skip_reason is SkipReason.RANDOM_WEIGHTS


def test_a_refused_grounding_request_fails_the_serving_check(fake_vllm, run_checks) -> None:
    # A gateway that refuses any request with a text part, as one that strips prompts would.
    fake = fake_vllm(Faults(fail_sample="prose-01"), model=GEN3)
    checked = run_checks(fake.url, served_name=GEN3, selected=(model.MOD001, grounding.GRD001))
    assert checked.by_id["GRD001"].status is Status.FAIL and "prose-01" in checked.by_id["GRD001"].detail


def test_a_generation_2_model_skips_grounding_with_the_reason(fake_vllm, run_checks) -> None:
    checked = run_checks(fake_vllm().url, selected=SELECTED)
    for check in GROUNDING:
        result = checked.by_id[check.id]
        assert result.status is Status.SKIP and "no grounding mode" in result.detail
    assert checked.verdict.word == "validated"


def _own_pages(folder, shift: int = 0):
    """A --pages folder holding the bundled prose page, its .md and its blocks (moved down by ``shift``)."""
    sample = next(s for s in load_manifest() if s.id == "prose-01")
    folder.mkdir()
    shutil.copy(sample.file, folder / "prose.png")
    (folder / "prose.md").write_text(sample.ground_truth[0], encoding="utf-8")
    blocks = [
        {"label": b.label, "box": [b.box[0], b.box[1] + shift, b.box[2], b.box[3] + shift], "text": b.text}
        for b in sample.blocks
    ]
    (folder / "prose.blocks.json").write_text(json.dumps(blocks), encoding="utf-8")
    return folder


def test_own_pages_with_blocks_are_scored_against_their_blocks_both_ways(tmp_path, fake_vllm, run_checks) -> None:
    fake = fake_vllm(model=GEN3)
    right = run_checks(fake.url, served_name=GEN3, selected=SELECTED, pages_dir=str(_own_pages(tmp_path / "a")))
    assert right.by_id["GRD006"].status is Status.PASS and list(right.by_id["GRD006"].data["pages"]) == ["prose.png"]
    wrong = run_checks(fake.url, served_name=GEN3, selected=SELECTED, pages_dir=str(_own_pages(tmp_path / "b", 100)))
    assert wrong.by_id["GRD006"].status is Status.FAIL and "prose.png" in wrong.by_id["GRD006"].detail


def test_own_pages_without_blocks_skip_the_box_check_saying_how_to_give_them(tmp_path, fake_vllm, run_checks) -> None:
    folder = _own_pages(tmp_path / "a")
    (folder / "prose.blocks.json").unlink()
    checked = run_checks(fake_vllm(model=GEN3).url, served_name=GEN3, selected=SELECTED, pages_dir=str(folder))
    assert checked.by_id["GRD006"].status is Status.SKIP and "blocks.json" in checked.by_id["GRD006"].detail
    assert checked.by_id["GRD005"].status is Status.PASS


@pytest.mark.parametrize(
    ("content", "words"),
    [("{not json", "not valid JSON"), ('[{"label": "text", "box": [10, 20, 5, 40]}]', "x1 < x2")],
)
def test_a_bad_blocks_file_is_one_line_naming_it(tmp_path, content, words) -> None:
    folder = _own_pages(tmp_path / "a")
    (folder / "prose.blocks.json").write_text(content, encoding="utf-8")
    with pytest.raises(PagesError) as raised:
        load_pages(folder)
    assert "prose.blocks.json" in str(raised.value) and words in str(raised.value)
    assert "\n" not in str(raised.value)


# --- invoke check --mode, end to end against the fake vLLM --------------------------------------------


def test_invoke_check_mode_grounding_validates_a_generation_3_server(tmp_path) -> None:
    report = tmp_path / "r.json"
    with FakeVllm(model=GEN3) as fake:
        result = run_invoke(
            "check", "--host", fake.url, "--model", GEN3, "--mode", "grounding", "--report-json", str(report),
            env={**os.environ, "NO_COLOR": "1"}, timeout=180,
        )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    checks = {c["id"]: c["status"] for c in json.loads(report.read_text())["hosts"][0]["checks"]}
    grounding_ids = {c.id for c in GROUNDING}
    assert grounding_ids <= set(checks) and all(checks[i] == "pass" for i in grounding_ids)
    assert "OCR003" not in checks  # plain mode's checks are left out


def test_invoke_check_mode_grounding_refuses_a_generation_2_model_in_one_line() -> None:
    result = run_invoke("check", "--mode", "grounding", env={**os.environ, "NO_COLOR": "1"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("error: --mode grounding: lightonai/LightOnOCR-2-1B is LightOnOCR generation 2")
    assert "Traceback" not in result.stderr


def test_invoke_check_mode_must_be_a_known_mode() -> None:
    result = run_invoke("check", "--mode", "layout", env={**os.environ, "NO_COLOR": "1"})
    assert result.returncode == 2 and "--mode 'layout' is not one of plain, grounding" in result.stderr


def test_own_pages_text_is_graded_by_their_own_tests_both_ways(tmp_path, fake_vllm, run_checks) -> None:
    folder = _own_pages(tmp_path / "a")
    (folder / "prose.facts.jsonl").write_text('{"type": "present", "text": "Margaret Innes"}\n', encoding="utf-8")
    healthy = run_checks(fake_vllm(model=GEN3).url, served_name=GEN3, selected=SELECTED, pages_dir=str(folder))
    assert healthy.by_id["GRD005"].status is Status.PASS
    broken = fake_vllm(Faults(grounding="missing"), model=GEN3)
    checked = run_checks(broken.url, served_name=GEN3, selected=SELECTED, pages_dir=str(folder))
    assert checked.by_id["GRD005"].status is Status.FAIL and "prose.png" in checked.by_id["GRD005"].detail


def test_a_mode_that_leaves_no_check_is_one_line() -> None:
    result = run_invoke("check", "--mode", "plain", "--tag", "grounding", env={**os.environ, "NO_COLOR": "1"})
    assert result.returncode == 2 and result.stderr.startswith("error: --mode plain leaves no check")
