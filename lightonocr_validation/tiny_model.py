"""Build, offline and in seconds, a random-weight checkpoint with LightOnOCR-2-1B's architecture.

The real weights (2 GB) cannot be downloaded everywhere this toolkit must run (CI, air-gapped machines), yet
the serving path is exactly what needs proving there: the architecture name vLLM resolves, the Mistral3
config, the Pixtral vision tower, the Qwen3 decoder, the weight names, the PixtralProcessor, the ChatML
template and the image-token expansion. This module writes all of those, shrunk: a few hundred thousand
parameters instead of a billion. What the result can never prove is OCR quality: its output is noise.

Run with an interpreter that has torch, transformers and tokenizers (the vLLM environment):
``python -m lightonocr_validation.tiny_model OUT_DIR``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# Token strings and layout of the real checkpoint (see lightonocr-facts: ChatML, one <|image_pad|> per
# image that the processor expands). Only the ids differ: the tiny vocabulary is a few hundred tokens.
IMAGE_TOKEN = "<|image_pad|>"
SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    IMAGE_TOKEN,
    "<|vision_pad|>",
    "<|vision_end|>",
)
EOS_TOKEN = "<|im_end|>"
PAD_TOKEN = "<|endoftext|>"

# The real template's token layout around one page: an empty system turn, a user turn holding only the
# image, the assistant prompt. With the real tokenizer this is 12 tokens besides the image tokens; the tiny
# tokenizer is trained so that it is 12 here too, which `build` verifies.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if loop.first and message['role'] != 'system' -%}{{ '<|im_start|>system<|im_end|>\\n' }}{%- endif -%}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['content'] is string -%}{{ message['content'] }}"
    "{%- else -%}{%- for part in message['content'] -%}"
    "{%- if part['type'] in ('image', 'image_url') or 'image' in part or 'image_url' in part -%}<|image_pad|>"
    "{%- elif 'text' in part -%}{{ part['text'] }}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}{{ '<|im_end|>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)
PROMPT_TOKENS_BESIDES_IMAGE = 12

# Dimensions that vLLM's CPU backend serves: its attention takes head sizes 32, 64, 80 and up.
TEXT_DIMENSIONS = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "head_dim": 32,
    "max_position_embeddings": 16384,
    "rope_theta": 1_000_000,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,
}
VISION_DIMENSIONS = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "head_dim": 32,
    "image_size": 1540,
    "patch_size": 14,
    "num_channels": 3,
    "rope_theta": 10_000,
}
SPATIAL_MERGE_SIZE = 2
SEED = 20_260_101

# Text the byte-level BPE is trained on: the template's role names, so each is one token, and enough
# document-like words that the vocabulary looks like a tokenizer's.
TRAINING_TEXT = [
    "system\nuser\nassistant\n" * 20,
    "Invoice Total Date Page Table Figure Summary Results Methods Introduction",
    "The quick brown fox jumps over the lazy dog. 0123456789 $ % & ( ) [ ] { } < > = + - * / \\ ^ _",
    "<table><tr><th>Item</th><td>Price</td></tr></table> # ## ** $$ \\frac{a}{b} \\sum_{i=1}^{n}",
]
VOCAB_SIZE = 512


class TinyModelError(Exception):
    """A tiny checkpoint could not be built or did not come out as LightOnOCR's architecture."""


def build_tokenizer(out_dir: Path) -> int:
    """Train and save the tokenizer; return the image token's id."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(TRAINING_TEXT * 50, trainer=trainer)
    tokenizer.save(str(out_dir / "tokenizer.json"))
    _write_json(
        out_dir / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": None,
            "eos_token": EOS_TOKEN,
            "pad_token": PAD_TOKEN,
            "model_max_length": TEXT_DIMENSIONS["max_position_embeddings"],
            "clean_up_tokenization_spaces": False,
            "extra_special_tokens": {"image_token": IMAGE_TOKEN},
        },
    )
    (out_dir / "chat_template.jinja").write_text(CHAT_TEMPLATE, encoding="utf-8")
    return tokenizer.token_to_id(IMAGE_TOKEN)


def build_processor_files(out_dir: Path) -> None:
    _write_json(
        out_dir / "preprocessor_config.json",
        {
            "image_processor_type": "PixtralImageProcessorFast",
            "processor_class": "PixtralProcessor",
            "do_convert_rgb": True,
            "do_normalize": True,
            "do_rescale": True,
            "do_resize": True,
            "image_mean": [0.48145466, 0.4578275, 0.40821073],
            "image_std": [0.26862954, 0.26130258, 0.27577711],
            "patch_size": VISION_DIMENSIONS["patch_size"],
            "resample": 3,
            "rescale_factor": 1 / 255,
            "size": {"longest_edge": VISION_DIMENSIONS["image_size"]},
        },
    )
    _write_json(
        out_dir / "processor_config.json",
        {
            "processor_class": "PixtralProcessor",
            "image_token": IMAGE_TOKEN,
            "image_break_token": "<|vision_pad|>",
            "image_end_token": "<|vision_end|>",
            "patch_size": VISION_DIMENSIONS["patch_size"],
            "spatial_merge_size": SPATIAL_MERGE_SIZE,
        },
    )


def build_weights(out_dir: Path, vocab_size: int, image_token_id: int, eos_id: int, pad_id: int) -> int:
    """Save random weights under the real checkpoint's tensor names; return the parameter count."""
    import torch
    from transformers import LightOnOcrConfig, LightOnOcrForConditionalGeneration

    torch.manual_seed(SEED)
    text = {**TEXT_DIMENSIONS, "vocab_size": vocab_size, "eos_token_id": eos_id, "pad_token_id": pad_id}
    config = LightOnOcrConfig(
        text_config={"model_type": "qwen3", **text},
        vision_config={"model_type": "pixtral", **VISION_DIMENSIONS},
        spatial_merge_size=SPATIAL_MERGE_SIZE,
        image_token_id=image_token_id,
        tie_word_embeddings=True,
    )
    model = LightOnOcrForConditionalGeneration(config).to(torch.bfloat16).eval()
    model.save_pretrained(out_dir, safe_serialization=True)
    _check_weight_names(out_dir)
    # LightOnOCR-2-1B ships a Mistral3 config naming the LightOnOCR architecture; vLLM resolves the model
    # class from that name, so the file on disk must say the same, whatever transformers wrote.
    _write_json(out_dir / "config.json", _mistral3_config(text, image_token_id))
    _write_json(
        out_dir / "generation_config.json",
        {"eos_token_id": eos_id, "pad_token_id": pad_id, "bos_token_id": None},
    )
    return sum(p.numel() for p in model.parameters())


def _mistral3_config(text: dict, image_token_id: int) -> dict:
    return {
        "architectures": ["LightOnOCRForConditionalGeneration"],
        "model_type": "mistral3",
        "dtype": "bfloat16",
        "image_token_id": image_token_id,
        "multimodal_projector_bias": False,
        "projector_hidden_act": "gelu",
        "spatial_merge_size": SPATIAL_MERGE_SIZE,
        "vision_feature_layer": -1,
        "tie_word_embeddings": True,
        "text_config": {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", **text},
        "vision_config": {"model_type": "pixtral", "hidden_act": "silu", **VISION_DIMENSIONS},
    }


def _check_weight_names(out_dir: Path) -> None:
    from safetensors import safe_open

    with safe_open(str(out_dir / "model.safetensors"), framework="pt") as weights:
        names = list(weights.keys())
    expected_prefixes = ("model.vision_encoder.", "model.vision_projection.", "model.language_model.")
    missing = [p for p in expected_prefixes if not any(n.startswith(p) for n in names)]
    if missing:
        raise TinyModelError(f"weights lack the real checkpoint's prefixes {missing}; got e.g. {names[:3]}")


def _check_prompt_layout(out_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(out_dir)
    messages = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
    besides_image = len(ids) - 1
    if besides_image != PROMPT_TOKENS_BESIDES_IMAGE:
        raise TinyModelError(
            f"the chat template renders {besides_image} tokens besides the image, the real model "
            f"{PROMPT_TOKENS_BESIDES_IMAGE}: {tokenizer.convert_ids_to_tokens(ids)}"
        )


def build(out_dir: Path) -> dict:
    """Write the checkpoint into `out_dir` and return a summary (parameters, bytes, image token id)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    image_token_id = build_tokenizer(out_dir)
    build_processor_files(out_dir)
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(out_dir / "tokenizer.json"))
    parameters = build_weights(
        out_dir,
        vocab_size=tokenizer.get_vocab_size(),
        image_token_id=image_token_id,
        eos_id=tokenizer.token_to_id(EOS_TOKEN),
        pad_id=tokenizer.token_to_id(PAD_TOKEN),
    )
    _check_prompt_layout(out_dir)
    size = sum(f.stat().st_size for f in out_dir.iterdir() if f.is_file())
    return {"path": str(out_dir), "parameters": parameters, "bytes": size, "image_token_id": image_token_id}


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args(argv)
    try:
        summary = build(args.out_dir)
    except ImportError as error:
        print(f"error: {error.name} is missing: run this with the vLLM environment's python", file=sys.stderr)
        return 2
    except TinyModelError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
