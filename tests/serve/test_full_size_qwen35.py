"""The Qwen3.5-based builds (LightOnOCR-3-0.8B and -4B): tiny and full size, read back with transformers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from lightonocr_validation.core import model_profiles
from lightonocr_validation.serve import tiny_qwen35
from lightonocr_validation.serve.tiny_model import TinyModelError

# Built with tokenizers and torch, read back with transformers: the vLLM environment.
pytestmark = pytest.mark.vllm


@pytest.fixture(scope="module")
def full_size(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("full-size-qwen35")
    return out, tiny_qwen35.build_full_size(out, "LightOnOCR-3-0.8B")


def _page_prompt(folder: Path, **kwargs: bool) -> list[str]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    messages = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, **kwargs)
    return tokenizer.convert_ids_to_tokens(ids["input_ids"] if hasattr(ids, "keys") else ids)


def test_thinking_off_opens_an_empty_thought_in_14_tokens_besides_the_image(full_size) -> None:
    newline = "\N{LATIN CAPITAL LETTER C WITH DOT ABOVE}"  # byte-level BPE's "\n"
    assert _page_prompt(full_size[0], enable_thinking=False) == [
        "<|im_start|>", "user", newline, "<|vision_start|>", "<|image_pad|>", "<|vision_end|>", "<|im_end|>",
        newline, "<|im_start|>", "assistant", newline, "<think>", newline * 2, "</think>", newline * 2,
    ]  # fmt: skip
    # With thinking on (the template's default) the prompt differs: what --default-chat-template-kwargs is for.
    assert _page_prompt(full_size[0])[-1] != newline * 2


def test_the_full_size_config_has_the_real_shapes_and_ids(full_size) -> None:
    folder, summary = full_size
    config = json.loads((folder / "config.json").read_text())
    text = config["text_config"]
    assert config["architectures"] == ["Qwen3_5ForConditionalGeneration"] and config["model_type"] == "qwen3_5"
    assert (text["hidden_size"], text["num_hidden_layers"], text["vocab_size"]) == (1024, 24, 248_320)
    assert text["layer_types"] == ["linear_attention"] * 3 + ["full_attention"] + text["layer_types"][4:]
    assert text["layer_types"].count("full_attention") == 6
    assert config["image_token_id"] == 248_056 and config["vision_config"]["out_hidden_size"] == 1024
    assert not list(folder.glob("*.safetensors"))
    assert math.isclose(summary["parameters"], 0.85e9, rel_tol=0.05)  # "0.8B": decoder, vision tower, embeddings
    # The profile table tells this folder by its config alone (the width of its decoder).
    assert model_profiles.profile_for(str(folder)).name == "LightOnOCR-3-0.8B"


def test_the_profiles_widths_are_the_builders() -> None:
    for name, shapes in tiny_qwen35.FULL_SIZE.items():
        assert model_profiles.QWEN35_WIDTHS[name] == shapes["text"]["hidden_size"]


def test_a_template_that_costs_other_tokens_is_refused(full_size, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for item in full_size[0].iterdir():
        (broken / item.name).write_bytes(item.read_bytes())
    (broken / "chat_template.jinja").write_text(tiny_qwen35.CHAT_TEMPLATE.replace("<think>\\n\\n</think>\\n\\n", ""))
    with pytest.raises(TinyModelError, match=r"renders 10 tokens besides the image, Qwen3\.5's 14"):
        tiny_qwen35.check_prompt_layout(broken)
