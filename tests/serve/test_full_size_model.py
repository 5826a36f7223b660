"""The full-size mode of the model builder: LightOnOCR-2-1B's dimensions and tokenizer ids, no weights."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lightonocr_validation.serve import tiny_model

# The published checkpoint: one bf16 model.safetensors of this many bytes (2 per parameter plus its header).
PUBLISHED_SAFETENSORS_BYTES = 2_011_367_489


# The full-size tokenizer and configuration are built with tokenizers and read back with transformers.
pytestmark = pytest.mark.vllm


@pytest.fixture(scope="module")
def full_size(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("full-size")
    return out, tiny_model.build_full_size(out)


def _tokenizer(folder: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder)


def _page_prompt(tokenizer) -> list[str]:
    messages = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    ids = ids["input_ids"] if hasattr(ids, "keys") else ids
    return tokenizer.convert_ids_to_tokens(ids)


def test_the_chat_template_renders_a_page_in_the_real_12_tokens_besides_the_image(full_size) -> None:
    tokens = _page_prompt(_tokenizer(full_size[0]))
    newline = "\N{LATIN CAPITAL LETTER C WITH DOT ABOVE}"  # byte-level BPE's "\n"
    assert tokens == [
        "<|im_start|>", "system", "<|im_end|>", newline,
        "<|im_start|>", "user", newline, "<|image_pad|>", "<|im_end|>", newline,
        "<|im_start|>", "assistant", newline,
    ]  # fmt: skip


def test_a_tokenizer_without_merges_is_refused(full_size, tmp_path: Path) -> None:
    # Without merges "system", "user" and "assistant" cost a token per letter: 16 more than the real prompt,
    # which would make the prompt-length check fail a healthy server. The builder must catch that.
    broken = tmp_path / "broken"
    shutil.copytree(full_size[0], broken)
    data = json.loads((broken / "tokenizer.json").read_text(encoding="utf-8"))
    data["model"]["merges"] = []
    (broken / "tokenizer.json").write_text(json.dumps(data), encoding="utf-8")
    assert len(_page_prompt(_tokenizer(broken))) == 13 + 16
    with pytest.raises(tiny_model.TinyModelError, match="28 tokens besides the image, the real model 12"):
        tiny_model._check_prompt_layout(broken)


def test_vocabulary_size_and_special_ids_are_the_real_ones(full_size) -> None:
    tokenizer = _tokenizer(full_size[0])
    assert len(tokenizer.get_vocab()) == 151_936
    assert sorted(tokenizer.get_vocab().values()) == list(range(151_936))
    assert tokenizer.convert_tokens_to_ids(["<|image_pad|>", "<|im_end|>", "<|endoftext|>"]) == [151655, 151645, 151643]
    assert tokenizer.eos_token_id == 151645 and tokenizer.pad_token_id == 151643
    # Random weights sample any id: every one must decode, the last rows of the embedding included.
    for token_id in (0, 198, 151_642, 151_656, 151_935):
        assert isinstance(tokenizer.decode([token_id]), str)


def test_config_has_the_published_dimensions_and_no_weights(full_size) -> None:
    from transformers import AutoConfig

    folder, summary = full_size
    config = AutoConfig.from_pretrained(folder)
    assert config.architectures == ["LightOnOCRForConditionalGeneration"] and config.model_type == "mistral3"
    text, vision = config.text_config, config.vision_config
    assert (text.hidden_size, text.num_hidden_layers, text.num_attention_heads, text.num_key_value_heads) == (
        1024,
        28,
        16,
        8,
    )
    assert (text.head_dim, text.intermediate_size, text.vocab_size, text.max_position_embeddings) == (
        128,
        3072,
        151_936,
        16384,
    )
    assert (vision.hidden_size, vision.num_hidden_layers, vision.num_attention_heads, vision.head_dim) == (
        1024,
        24,
        16,
        64,
    )
    assert (vision.intermediate_size, vision.image_size, vision.patch_size) == (4096, 1540, 14)
    assert config.spatial_merge_size == 2 and config.image_token_id == 151655
    assert config.vision_feature_layer == -1 and config.multimodal_projector_bias is False
    # Parameter count checked against the published checkpoint's size: two bytes each, plus a header
    # of tens of kilobytes. A wrong dimension anywhere moves this by millions.
    header = PUBLISHED_SAFETENSORS_BYTES - 2 * summary["parameters"]
    assert 0 < header < 200_000, summary["parameters"]
    assert not list(folder.glob("*.safetensors")) and not list(folder.glob("*.bin"))
    assert summary["image_token_id"] == 151655


def test_full_size_replaces_a_tiny_models_weights(tmp_path: Path) -> None:
    # Built over a tiny model's folder, its weights must go: else vLLM could load them as if they fitted.
    (tmp_path / "model.safetensors").write_bytes(b"tiny")
    tiny_model.build_full_size(tmp_path)
    assert not (tmp_path / "model.safetensors").exists()
