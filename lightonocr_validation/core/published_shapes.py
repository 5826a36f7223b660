"""The published dimensions of each LightOnOCR architecture at full size: one source for the full-size
builders (serve/tiny_model.py, serve/tiny_qwen35.py, which write them into a config.json without weights) and
for the limits beside every bench figure (bench/limits.py, which needs them when the served model is not a
local folder). Sources: lightonocr-facts.md for LightOnOCR-2-1B; Qwen3.5's configs for the Qwen3.5-based
LightOnOCR-3 (tiny_qwen35.py's docstring says which figure comes from where)."""

from __future__ import annotations

from typing import Any

# LightOnOCR-2-1B (Pixtral encoder, Qwen3 decoder); LightOnOCR-1B-1025 and -3-1B share the architecture.
PIXTRAL_VOCAB_SIZE = 151_936  # the embedding's rows (the tokenizer's 151,643 tokens and Qwen's special ones)
PIXTRAL_TEXT: dict[str, Any] = {
    "hidden_size": 1024,
    "intermediate_size": 3072,
    "num_hidden_layers": 28,
    "num_attention_heads": 16,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "max_position_embeddings": 16384,
    "rope_theta": 1_000_000,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,
}
PIXTRAL_VISION: dict[str, Any] = {
    "hidden_size": 1024,
    "intermediate_size": 4096,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "head_dim": 64,
    "image_size": 1540,
    "patch_size": 14,
    "num_channels": 3,
    "rope_theta": 10_000,
}

# Qwen3.5 (LightOnOCR-3-0.8B and -4B): hybrid decoders, three gated-delta (linear attention) layers to one of
# full attention, and Qwen3.5's vision tower.
QWEN35_VOCAB_SIZE = 248_320
QWEN35_PATCH_SIZE = 16
QWEN35_MERGE_SIZE = 2
QWEN35_TEMPORAL_PATCH_SIZE = 2
QWEN35_VISION_COMMON: dict[str, Any] = {
    "in_channels": 3,
    "patch_size": QWEN35_PATCH_SIZE,
    "spatial_merge_size": QWEN35_MERGE_SIZE,
    "temporal_patch_size": QWEN35_TEMPORAL_PATCH_SIZE,
    "num_position_embeddings": 2304,
    "hidden_act": "gelu_pytorch_tanh",
    "deepstack_visual_indexes": [],
}
_QWEN35_ROPE = {
    "rope_type": "default",
    "rope_theta": 10_000_000,
    "partial_rotary_factor": 0.25,
    "mrope_interleaved": True,
    "mrope_section": [11, 11, 10],
}
_QWEN35_LINEAR = {
    "linear_conv_kernel_dim": 4,
    "linear_key_head_dim": 128,
    "linear_value_head_dim": 128,
    "linear_num_key_heads": 16,
    "full_attention_interval": 4,
    "attn_output_gate": True,
    "head_dim": 256,
    "max_position_embeddings": 262_144,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,
    "rope_parameters": _QWEN35_ROPE,
}
QWEN35: dict[str, dict[str, dict[str, Any]]] = {
    "LightOnOCR-3-0.8B": {
        "text": {
            **_QWEN35_LINEAR,
            "hidden_size": 1024,
            "intermediate_size": 3584,
            "num_hidden_layers": 24,
            "num_attention_heads": 8,
            "num_key_value_heads": 2,
            "linear_num_value_heads": 16,
        },
        "vision": {**QWEN35_VISION_COMMON, "depth": 12, "hidden_size": 768, "intermediate_size": 3072, "num_heads": 12},
    },
    "LightOnOCR-3-4B": {
        "text": {
            **_QWEN35_LINEAR,
            "hidden_size": 2560,
            "intermediate_size": 9216,
            "num_hidden_layers": 32,
            "num_attention_heads": 16,
            "num_key_value_heads": 4,
            "linear_num_value_heads": 32,
        },
        "vision": {
            **QWEN35_VISION_COMMON,
            "depth": 24,
            "hidden_size": 1024,
            "intermediate_size": 4096,
            "num_heads": 16,
        },
    },
}


def qwen35_layer_types(text: dict[str, Any]) -> list[str]:
    """config.json's `layer_types`: every `full_attention_interval`-th layer is full attention, the rest linear."""
    interval = text["full_attention_interval"]
    return [
        "linear_attention" if (index + 1) % interval else "full_attention" for index in range(text["num_hidden_layers"])
    ]
