"""Build, offline and in seconds, a random-weight checkpoint with LightOnOCR-2-1B's architecture.

The real weights (2 GB) cannot be downloaded everywhere this toolkit must run (CI, air-gapped machines), yet
the serving path is exactly what needs proving there: the architecture name vLLM resolves, the Mistral3
config, the Pixtral vision tower, the Qwen3 decoder, the weight names, the PixtralProcessor, the ChatML
template and the image-token expansion. This module writes all of those, shrunk: a few hundred thousand
parameters instead of a billion. What the result can never prove is OCR quality: its output is noise.

Run with an interpreter that has torch, transformers and tokenizers (the vLLM environment):
``python -m lightonocr_validation.serve.build_model OUT_DIR``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from lightonocr_validation.core import published_shapes

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

# LightOnOCR-2-1B's published dimensions (lightonocr-facts): the full-size mode writes these with no weights,
# for `vllm serve --load-format dummy`, which fills them with random values. Same shapes, same kernels, same
# memory as the real model, so the serving path and its speed are real; the text is noise.
FULL_SIZE_TEXT_DIMENSIONS = published_shapes.PIXTRAL_TEXT
FULL_SIZE_VISION_DIMENSIONS = published_shapes.PIXTRAL_VISION
FULL_VOCAB_SIZE = published_shapes.PIXTRAL_VOCAB_SIZE
# The real tokenizer's layout: 151,643 byte-level BPE tokens, then Qwen's special tokens from 151643 on
# (image 151655, eos 151645, pad 151643 are LightOnOCR-2-1B's published ids), then unused rows up to the
# embedding's 151,936.
REAL_SPECIAL_IDS = {
    "<|endoftext|>": 151643,
    "<|im_start|>": 151644,
    "<|im_end|>": 151645,
    "<|object_ref_start|>": 151646,
    "<|object_ref_end|>": 151647,
    "<|box_start|>": 151648,
    "<|box_end|>": 151649,
    "<|quad_start|>": 151650,
    "<|quad_end|>": 151651,
    "<|vision_start|>": 151652,
    "<|vision_end|>": 151653,
    "<|vision_pad|>": 151654,
    "<|image_pad|>": 151655,
    "<|video_pad|>": 151656,
}
# Words the full-size tokenizer keeps whole, as the real one does: the template's role names first (else the
# prompt grows by 16 tokens and the prompt-length check fails a healthy server), then some page words.
WHOLE_WORDS = ("system", "user", "assistant", "Page", "Table", "Total", "Figure", "the", " the", " of", " and")

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
    _write_tokenizer_config(out_dir)
    return tokenizer.token_to_id(IMAGE_TOKEN)


def _bytes_to_unicode() -> dict[int, str]:
    """Byte-level BPE's alphabet: each byte as a printable character (GPT-2's scheme, which Qwen's uses)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    mapping = {byte: chr(byte) for byte in printable}
    shift = 0
    for byte in range(256):
        if byte not in mapping:
            mapping[byte] = chr(256 + shift)
            shift += 1
    return mapping


def full_size_vocabulary(
    special_ids: dict[str, int] = REAL_SPECIAL_IDS, size: int = FULL_VOCAB_SIZE, extra_words: tuple[str, ...] = ()
) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """A byte-level BPE vocabulary of the real size: bytes, whole words, filler; the special ids left free
    (LightOnOCR-2's Qwen3 layout by default; tiny_qwen35 passes Qwen3.5's)."""
    import itertools

    alphabet = _bytes_to_unicode()
    vocab: dict[str, int] = {}
    merges: list[tuple[str, str]] = []

    def add(token: str) -> None:
        if token not in vocab:
            vocab[token] = len(vocab)

    for byte in range(256):
        add(alphabet[byte])
    for word in (*WHOLE_WORDS, *extra_words):
        encoded = "".join(alphabet[byte] for byte in word.encode("utf-8"))
        for end in range(2, len(encoded) + 1):
            if encoded[:end] not in vocab:
                merges.append((encoded[: end - 1], encoded[end - 1]))
                add(encoded[:end])
    # Filler up to the first special id: tokens no merge produces (encoding never emits them) that still
    # decode to bytes, so that random weights sampling any id give text.
    letters = [alphabet[byte] for byte in range(ord("a"), ord("z") + 1)] + [alphabet[byte] for byte in range(128, 256)]
    first_special = min(special_ids.values())
    for length in (3, 4):
        for combination in itertools.product(letters, repeat=length):
            if len(vocab) >= first_special:
                break
            add("".join(combination))
    # The special tokens sit in the model's vocabulary at their real ids; declaring them added tokens then
    # keeps those ids (an added token new to the vocabulary would get the next id after the last one).
    vocab.update(special_ids)
    # Rows between and after the special tokens, up to the embedding's size.
    used = set(special_ids.values())
    next_id = first_special
    for combination in itertools.product(letters, repeat=5):
        while next_id in used:
            next_id += 1
        if next_id >= size:
            break
        token = "".join(combination)
        if token not in vocab:
            vocab[token] = next_id
            next_id += 1
    return vocab, merges


def real_size_tokenizer(
    special_ids: dict[str, int] = REAL_SPECIAL_IDS,
    size: int = FULL_VOCAB_SIZE,
    extra_words: tuple[str, ...] = (),
    whose: str = "the real tokenizer's",
):  # -> tokenizers.Tokenizer
    """A byte-level BPE tokenizer of the real vocabulary size whose special tokens hold their real ids
    (LightOnOCR-2's by default; tiny_qwen35 passes Qwen3.5's); TinyModelError when one does not."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    vocab, merges = full_size_vocabulary(special_ids, size, extra_words=extra_words)
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in special_ids])
    for token, token_id in special_ids.items():
        if tokenizer.token_to_id(token) != token_id:
            raise TinyModelError(f"{token} got id {tokenizer.token_to_id(token)}, {whose} is {token_id}")
    return tokenizer


def build_full_size_tokenizer(out_dir: Path) -> int:
    """Save a tokenizer with the real vocabulary size and special ids; return the image token's id."""
    tokenizer = real_size_tokenizer()
    tokenizer.save(str(out_dir / "tokenizer.json"))
    _write_tokenizer_config(out_dir)
    return tokenizer.token_to_id(IMAGE_TOKEN)


def _write_tokenizer_config(out_dir: Path) -> None:
    write_tokenizer_config(
        out_dir, TEXT_DIMENSIONS["max_position_embeddings"], {"image_token": IMAGE_TOKEN}, CHAT_TEMPLATE
    )


def write_tokenizer_config(
    out_dir: Path, model_max_length: int, special_tokens: Mapping[str, str], chat_template: str
) -> None:
    """tokenizer_config.json and chat_template.jinja beside a built tokenizer.json, for this builder and
    tiny_qwen35's: both models end with ``EOS_TOKEN``, pad with ``PAD_TOKEN`` and have no BOS; they differ in
    their context length and their ``special_tokens`` (the image token, and Qwen3.5's video and vision marks)."""
    write_json(
        out_dir / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": None,
            "eos_token": EOS_TOKEN,
            "pad_token": PAD_TOKEN,
            "model_max_length": model_max_length,
            "clean_up_tokenization_spaces": False,
            "extra_special_tokens": dict(special_tokens),
        },
    )
    (out_dir / "chat_template.jinja").write_text(chat_template, encoding="utf-8")


def build_processor_files(out_dir: Path) -> None:
    write_json(
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
    write_json(
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
    write_json(out_dir / "config.json", _mistral3_config(text, image_token_id))
    write_json(
        out_dir / "generation_config.json",
        {"eos_token_id": eos_id, "pad_token_id": pad_id, "bos_token_id": None},
    )
    return sum(p.numel() for p in model.parameters())


def _mistral3_config(text: dict, image_token_id: int, vision: dict = VISION_DIMENSIONS) -> dict:
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
        "vision_config": {"model_type": "pixtral", "hidden_act": "silu", **vision},
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


def build_full_size(out_dir: Path) -> dict:
    """Write LightOnOCR-2-1B's configuration, tokenizer and processor with no weights (vLLM's dummy load)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "model.safetensors").unlink(missing_ok=True)  # a tiny model's weights must not pass for these
    image_token_id = build_full_size_tokenizer(out_dir)
    build_processor_files(out_dir)
    eos_id, pad_id = REAL_SPECIAL_IDS[EOS_TOKEN], REAL_SPECIAL_IDS[PAD_TOKEN]
    text = {**FULL_SIZE_TEXT_DIMENSIONS, "vocab_size": FULL_VOCAB_SIZE, "eos_token_id": eos_id, "pad_token_id": pad_id}
    import transformers

    config = _mistral3_config(text, image_token_id, FULL_SIZE_VISION_DIMENSIONS)
    # As save_pretrained records it. Without it transformers takes the folder for an old Mistral tokenizer and
    # warns that its regex needs fixing.
    config["transformers_version"] = transformers.__version__
    write_json(out_dir / "config.json", config)
    write_json(
        out_dir / "generation_config.json",
        {"eos_token_id": eos_id, "pad_token_id": pad_id, "bos_token_id": None},
    )
    _check_prompt_layout(out_dir)
    size = sum(f.stat().st_size for f in out_dir.iterdir() if f.is_file())
    return {
        "path": str(out_dir),
        "parameters": count_parameters(out_dir),
        "bytes": size,
        "image_token_id": image_token_id,
        "weights": "none: serve with --load-format dummy",
    }


def count_parameters(out_dir: Path) -> int:
    """Parameters of the model this folder's config describes, counted on torch's meta device (no memory)."""
    import torch
    from transformers import AutoConfig, LightOnOcrConfig, LightOnOcrForConditionalGeneration

    config = AutoConfig.from_pretrained(out_dir)
    # The file says mistral3 (what vLLM reads); transformers' own class for these weights is LightOnOcr.
    lightonocr = LightOnOcrConfig(
        text_config=config.text_config.to_dict(),
        vision_config=config.vision_config.to_dict(),
        spatial_merge_size=config.spatial_merge_size,
        image_token_id=config.image_token_id,
        tie_word_embeddings=True,
    )
    with torch.device("meta"):
        model = LightOnOcrForConditionalGeneration(lightonocr)
    return sum(p.numel() for p in model.parameters())


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
