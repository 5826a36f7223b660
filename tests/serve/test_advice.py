"""The notes `invoke serve` prints before a start that measurements say will be slow (serve/advice.py)."""

from __future__ import annotations

import pytest

from lightonocr_validation.core import model_profiles
from lightonocr_validation.core.hardware import Gpu
from lightonocr_validation.serve.advice import default_step_tokens, serving_notes, step_tokens

PIXTRAL = model_profiles.named("LightOnOCR-2-1B")
QWEN = model_profiles.named("LightOnOCR-3-4B")
H100 = [Gpu("NVIDIA H100 80GB HBM3", 81_559)]
LAPTOP = [Gpu("NVIDIA GeForce RTX 4070 Laptop GPU", 8_188)]
TUNED = ["vllm", "serve", "m", "--compilation-config.compile_mm_encoder=true", "--max-num-batched-tokens", "4096"]


def test_vllms_default_step_follows_the_card() -> None:
    assert default_step_tokens(H100) == 8192
    assert default_step_tokens(LAPTOP) == 2048 and default_step_tokens([]) == 2048
    assert default_step_tokens([Gpu("NVIDIA A100-SXM4-80GB", 81_920)]) == 2048  # vLLM keeps A100s small


def test_the_step_budget_is_read_in_either_spelling_and_the_last_one_wins() -> None:
    assert step_tokens(["vllm", "serve", "m"]) is None
    assert step_tokens(["--max-num-batched-tokens", "4096"]) == 4096
    assert step_tokens(["--max-num-batched-tokens=2560", "--max-num-batched-tokens", "8192"]) == 8192
    assert step_tokens(["--max-num-batched-tokens", "many"]) is None


@pytest.mark.parametrize("profile", [PIXTRAL, None])  # a model no profile tells is served as Pixtral's
def test_pixtral_on_a_gpu_without_xformers_at_the_default_budget_gets_the_encoder_note(profile) -> None:
    (note,) = serving_notes(profile, "card", "cuda", ["vllm", "serve", "m"], xformers=False, gpus=H100)
    assert "dense mask" in note and "up to 3 pages a step" in note and "--profile tuned" in note
    # A laptop card's default step holds less than a page: the encoder never sees two.
    assert serving_notes(profile, "card", "cuda", ["vllm", "serve", "m"], xformers=False, gpus=LAPTOP) == []


def test_no_encoder_note_with_xformers_one_page_a_step_on_the_cpu_or_for_qwen() -> None:
    assert serving_notes(PIXTRAL, "card", "cuda", ["vllm"], xformers=True, gpus=H100) == []
    # The project's vLLM plugin in the server's environment attends page by page: no dense mask to warn of.
    lever = {"LIGHTONOCR_PIXTRAL_ATTENTION": "varlen"}
    assert serving_notes(PIXTRAL, "card", "cuda", ["vllm"], xformers=False, plugin=True, gpus=H100, env=lever) == []
    unknown = {"LIGHTONOCR_PIXTRAL_ATTENTION": "flash"}  # the plugin ignores a value it does not know
    (note,) = serving_notes(PIXTRAL, "card", "cuda", ["vllm"], xformers=False, gpus=H100, env=unknown)
    assert "LIGHTONOCR_PIXTRAL_ATTENTION: varlen" in note
    assert serving_notes(PIXTRAL, "tuned", "cuda", TUNED, xformers=False, gpus=H100) == []  # 4096 // 2337: one
    assert serving_notes(PIXTRAL, "card", "cpu", ["vllm"], xformers=False, gpus=H100) == []
    assert serving_notes(QWEN, "card", "cuda", ["vllm"], xformers=False, gpus=H100) == []


def test_tuned_on_a_qwen35_profile_says_the_card_was_faster() -> None:
    (note,) = serving_notes(QWEN, "tuned", "cuda", TUNED, xformers=False, gpus=H100)
    assert "6.56" in note and "7.56" in note and "--profile card" in note
    assert serving_notes(QWEN, "card", "cuda", ["vllm"], xformers=False, gpus=H100) == []


def test_the_switch_without_the_plugin_installed_says_the_lever_will_not_take() -> None:
    lever = {"LIGHTONOCR_PIXTRAL_ATTENTION": "varlen"}  # what server.profile_env.tuned holds
    # The tuned profile's step is one page, so the dense-mask note is silent; the missing plugin is not.
    (note,) = serving_notes(PIXTRAL, "tuned", "cuda", TUNED, xformers=False, plugin=False, gpus=H100, env=lever)
    assert "lightonocr_vllm_plugin is not installed" in note and "will not take" in note
    assert "pip install ./vllm_plugin" in note and "LIGHTONOCR_PIXTRAL_ATTENTION: 'off'" in note
    # Silent where the plugin is installed, the switch is off, the device is the CPU or the model is Qwen3.5's.
    assert serving_notes(PIXTRAL, "tuned", "cuda", TUNED, xformers=False, plugin=True, gpus=H100, env=lever) == []
    off = {"LIGHTONOCR_PIXTRAL_ATTENTION": "off"}
    assert serving_notes(PIXTRAL, "tuned", "cuda", TUNED, xformers=False, plugin=False, gpus=H100, env=off) == []
    assert serving_notes(PIXTRAL, "tuned", "cpu", TUNED, xformers=False, plugin=False, gpus=H100, env=lever) == []
    assert serving_notes(QWEN, "card", "cuda", ["vllm"], xformers=False, plugin=False, gpus=H100, env=lever) == []


def test_the_notes_read_the_effective_environment_with_the_chosen_profiles() -> None:
    from dataclasses import replace

    from lightonocr_validation.core.config import defaults
    from lightonocr_validation.serve.setup import server_env

    cfg = defaults()
    env = server_env(replace(cfg, server=replace(cfg.server, profile="tuned")), "cuda", profile=True)
    # The tuned profile's switch is on: the dense-mask note is silent even at 8192 tokens a step.
    wide = [*TUNED, "--max-num-batched-tokens", "8192"]
    assert serving_notes(PIXTRAL, "tuned", "cuda", wide, xformers=False, plugin=True, gpus=H100, env=env) == []
    (note,) = serving_notes(PIXTRAL, "card", "cuda", wide, xformers=False, plugin=True, gpus=H100, env={})
    assert "dense mask" in note and "5.33" in note and "1.98" in note


def test_after_the_start_a_log_without_the_plugins_line_is_named(tmp_path) -> None:
    from lightonocr_validation.serve.advice import plugin_not_loaded

    loaded, silent, missing = tmp_path / "a.log", tmp_path / "b.log", tmp_path / "none.log"
    loaded.write_text("INFO [__init__.py:45] LightOnOCR plugin: Pixtral's encoder attends page by page\n")
    silent.write_text("INFO: Application startup complete.\n")
    lever = {"LIGHTONOCR_PIXTRAL_ATTENTION": "varlen"}
    note = plugin_not_loaded(lever, [loaded, silent, missing])
    assert "did not load" in note and str(silent) in note and str(missing) in note and str(loaded) not in note
    assert plugin_not_loaded(lever, [loaded]) is None
    assert plugin_not_loaded({"LIGHTONOCR_PIXTRAL_ATTENTION": "off"}, [silent]) is None  # switched off: no claim
