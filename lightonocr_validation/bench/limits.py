"""The physical limit beside every figure: how many pages per second the GPU could serve at best, from the
model's shapes and the card's datasheet, for the pages and answer lengths a point actually measured.

A page costs two kinds of work on the same GPU (docs/bench.md, "The limit"):

- prefill, bound by arithmetic: the vision encoder over the page's patches (its attention is quadratic in
  them) and the decoder over the prompt. FLOPs per page over ``PREFILL_SHARE`` of the card's dense bf16 peak:
  a well-fed prefill reaches about half of it;
- decode, bound by memory: every step reads the decoder's weights once for all B requests in flight, and
  each request's KV cache so far. Bytes per page over the card's bandwidth.

Combined, the two share one GPU: 1 / (1 / decode limit + 1 / prefill limit) pages per second. Measured pages/s
over it is the point's share of the limit. Small terms left out and said so: the decode's FLOPs (a step is
memory-bound by a factor of 50 at 128 in flight), norms, rotary embeddings, activations' traffic, the
sampler.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightonocr_validation.core import published_shapes
from lightonocr_validation.load.records import RequestRecord

# A well-fed prefill (large GEMMs, flash attention) reaches about half of a card's dense bf16 peak.
PREFILL_SHARE = 0.5
BF16 = 2  # bytes


@dataclass(frozen=True)
class GpuSpec:
    name: str
    bandwidth_bytes_s: float
    bf16_dense_flops: float  # dense (no 2:4 sparsity)
    source: str


# Datasheet figures (bf16 tensor cores without sparsity: half the "with sparsity" figure the sheets lead with).
GPUS: tuple[GpuSpec, ...] = (
    GpuSpec("H200", 4.8e12, 989.5e12, "NVIDIA H200 Tensor Core GPU datasheet (SXM: 4.8 TB/s, BF16 1,979 sparse)"),
    GpuSpec("H100 SXM", 3.35e12, 989.5e12, "NVIDIA H100 Tensor Core GPU datasheet (SXM: 3.35 TB/s, BF16 1,979 sparse)"),
    GpuSpec("H100 PCIe", 2.0e12, 756.5e12, "NVIDIA H100 Tensor Core GPU datasheet (PCIe: 2 TB/s, BF16 1,513 sparse)"),
    GpuSpec("A100 80GB", 2.039e12, 312e12, "NVIDIA A100 Tensor Core GPU datasheet (80GB SXM: 2,039 GB/s, BF16 312)"),
    GpuSpec("L40S", 0.864e12, 362.05e12, "NVIDIA L40S datasheet (864 GB/s, BF16 362.05 TFLOPS, 733 sparse)"),
    GpuSpec("L4", 0.3e12, 121e12, "NVIDIA L4 Tensor Core GPU datasheet (300 GB/s, BF16 242 TFLOPS sparse)"),
)
# nvidia-smi names and what users type, to a row above; the first match wins (H200 before H100, PCIe before SXM).
_ALIASES: tuple[tuple[str, str], ...] = (
    (r"h200", "H200"),
    (r"h100.*(pcie|nvl)", "H100 PCIe"),
    (r"h100", "H100 SXM"),
    (r"a100", "A100 80GB"),
    (r"l40s", "L40S"),
    (r"\bl4\b", "L4"),
)


def find_gpu(name: str | None) -> GpuSpec | None:
    """The table's row for a GPU name ("NVIDIA H200", "H100 80GB HBM3", "h200"); None when unknown."""
    if not name:
        return None
    lowered = name.lower()
    row = next((row for pattern, row in _ALIASES if re.search(pattern, lowered)), None)
    return next((gpu for gpu in GPUS if gpu.name == row), None)


@dataclass(frozen=True)
class ModelShape:
    """What the limits need of the served model; the defaults are LightOnOCR-2-1B's (lightonocr-facts.md).

    Two decoder layouts: every layer full attention (Pixtral-based LightOnOCR), or Qwen3.5's hybrid
    (LightOnOCR-3-0.8B and -4B): `full_attention_layers` of them keep a KV cache, the others are gated-delta
    (linear attention) layers whose state per request is a fixed matrix per value head, read and written at
    every decode step whatever the context length."""

    text_hidden: int = 1024
    text_layers: int = 28
    text_heads: int = 16
    text_kv_heads: int = 8
    text_head_dim: int = 128
    text_ffn: int = 3072
    vocab: int = published_shapes.PIXTRAL_VOCAB_SIZE
    vision_hidden: int = 1024
    vision_layers: int = 24
    vision_ffn: int = 4096
    patch_size: int = 14
    merge: int = 2
    source: str = "LightOnOCR-2-1B's published config (built in)"
    architecture: str = "pixtral"
    full_attention_layers: int | None = None  # None: every layer
    query_gate: int = 1  # 2 when the attention output is gated (Qwen3.5: q_proj writes the gate too)
    linear_key_heads: int = 0
    linear_value_heads: int = 0
    linear_key_dim: int = 0
    linear_value_dim: int = 0
    vision_gated_mlp: bool = True  # Pixtral's MLP has three matrices; Qwen3.5's tower two

    @property
    def full_layers(self) -> int:
        return self.text_layers if self.full_attention_layers is None else self.full_attention_layers

    @property
    def linear_layers(self) -> int:
        return self.text_layers - self.full_layers

    @property
    def decoder_params(self) -> int:
        """The decoder's matrices without the embedding: attention (q, k, v, o; the gated-delta layers' q, k, v,
        z, b, a and output) and the gated MLP, every layer."""
        q = self.text_heads * self.text_head_dim
        kv = self.text_kv_heads * self.text_head_dim
        full = self.text_hidden * (q * self.query_gate + 2 * kv) + q * self.text_hidden
        keys = self.linear_key_heads * self.linear_key_dim
        values = self.linear_value_heads * self.linear_value_dim
        linear = self.text_hidden * (2 * keys + 2 * values + 2 * self.linear_value_heads) + values * self.text_hidden
        mlp = 3 * self.text_hidden * self.text_ffn
        return self.full_layers * full + self.linear_layers * linear + self.text_layers * mlp

    @property
    def weights_read_per_step(self) -> int:
        """Bytes a decode step reads once for the whole batch: the decoder and the LM head (vocab x hidden)."""
        return (self.decoder_params + self.vocab * self.text_hidden) * BF16

    @property
    def kv_bytes_per_token(self) -> int:
        """KV cache per token of context: the full-attention layers only."""
        return self.full_layers * 2 * self.text_kv_heads * self.text_head_dim * BF16

    @property
    def linear_state_bytes_per_step(self) -> int:
        """Per request and decode step: every gated-delta layer reads and writes its state (value heads x key
        dim x value dim, in the model's dtype). Zero for an all-attention decoder."""
        state = self.linear_value_heads * self.linear_key_dim * self.linear_value_dim * BF16
        return 2 * self.linear_layers * state

    def patches(self, width: int, height: int) -> int:
        return math.ceil(width / self.patch_size) * math.ceil(height / self.patch_size)

    def vision_flops(self, width: int, height: int) -> float:
        """The vision encoder over one page: q, k, v, o and the MLP per patch, and attention over every pair
        of patches (QK^T and AV); then the merger and the projector per image token."""
        n, d = self.patches(width, height), self.vision_hidden
        mlp_matrices = 3 if self.vision_gated_mlp else 2
        linear = 2 * n * (4 * d * d + mlp_matrices * d * self.vision_ffn)
        attention = 4 * n * n * d
        tokens = n / self.merge**2
        projector = 2 * tokens * (self.merge**2 * d * d + d * self.text_hidden + self.text_hidden**2)
        return self.vision_layers * (linear + attention) + projector

    def prompt_flops(self, prompt_tokens: float) -> float:
        """The decoder over the prompt: every matrix per token, causal attention (half the pairs) in the
        full-attention layers, and the gated-delta layers' state updates (key dim x value dim per head)."""
        q = self.text_heads * self.text_head_dim
        attention = self.full_layers * 2 * prompt_tokens**2 * q
        delta = (
            self.linear_layers
            * 4
            * prompt_tokens
            * self.linear_value_heads
            * self.linear_key_dim
            * self.linear_value_dim
        )
        return 2 * self.decoder_params * prompt_tokens + attention + delta

    def decode_bytes(self, prompt_tokens: float, answer_tokens: float, in_flight: float) -> float:
        """Bytes one page's answer reads: its KV cache at every step (prompt plus what it wrote so far), the
        gated-delta layers' state at every step, and its share of the weights each step reads for the batch."""
        kv = self.kv_bytes_per_token * (answer_tokens * prompt_tokens + answer_tokens * (answer_tokens - 1) / 2)
        state = self.linear_state_bytes_per_step * answer_tokens
        return kv + state + answer_tokens * self.weights_read_per_step / max(in_flight, 1.0)


def shape_from_config(config: Mapping[str, Any], source: str) -> ModelShape:
    """The shapes of a config.json: LightOnOCR/Mistral3's (text_config, vision_config) or Qwen3.5's (layer_types,
    the gated-delta sizes, a `depth` vision tower); defaults for what it lacks."""
    text = config.get("text_config") or {}
    vision = config.get("vision_config") or {}
    if "layer_types" in text or str(config.get("model_type", "")).startswith("qwen3_5"):
        return _qwen35_shape(text, vision, source)
    base = ModelShape()
    heads = text.get("num_attention_heads", base.text_heads)
    return ModelShape(
        text_hidden=text.get("hidden_size", base.text_hidden),
        text_layers=text.get("num_hidden_layers", base.text_layers),
        text_heads=heads,
        text_kv_heads=text.get("num_key_value_heads", heads),
        text_head_dim=text.get("head_dim") or text.get("hidden_size", base.text_hidden) // heads,
        text_ffn=text.get("intermediate_size", base.text_ffn),
        vocab=text.get("vocab_size", base.vocab),
        vision_hidden=vision.get("hidden_size", base.vision_hidden),
        vision_layers=vision.get("num_hidden_layers", base.vision_layers),
        vision_ffn=vision.get("intermediate_size", base.vision_ffn),
        patch_size=vision.get("patch_size", base.patch_size),
        merge=config.get("spatial_merge_size", base.merge),
        source=source,
    )


def _qwen35_shape(text: Mapping[str, Any], vision: Mapping[str, Any], source: str) -> ModelShape:
    layers = int(text["num_hidden_layers"])
    types = text.get("layer_types") or published_shapes.qwen35_layer_types(dict(text))
    heads = int(text["num_attention_heads"])
    return ModelShape(
        text_hidden=int(text["hidden_size"]),
        text_layers=layers,
        text_heads=heads,
        text_kv_heads=int(text.get("num_key_value_heads", heads)),
        text_head_dim=int(text.get("head_dim") or int(text["hidden_size"]) // heads),
        text_ffn=int(text["intermediate_size"]),
        vocab=int(text.get("vocab_size", published_shapes.QWEN35_VOCAB_SIZE)),
        vision_hidden=int(vision["hidden_size"]),
        vision_layers=int(vision["depth"]),
        vision_ffn=int(vision["intermediate_size"]),
        patch_size=int(vision.get("patch_size", published_shapes.QWEN35_PATCH_SIZE)),
        merge=int(vision.get("spatial_merge_size", published_shapes.QWEN35_MERGE_SIZE)),
        source=source,
        architecture="qwen3_5",
        full_attention_layers=sum(1 for kind in types if kind == "full_attention"),
        query_gate=2 if text.get("attn_output_gate") else 1,
        linear_key_heads=int(text.get("linear_num_key_heads", 0)),
        linear_value_heads=int(text.get("linear_num_value_heads", 0)),
        linear_key_dim=int(text.get("linear_key_head_dim", 0)),
        linear_value_dim=int(text.get("linear_value_head_dim", 0)),
        vision_gated_mlp=False,
    )


def profile_shape(profile: str) -> ModelShape:
    """The published shapes of a model profile's architecture (core/published_shapes.py): a Qwen3.5-based
    LightOnOCR-3's own, else LightOnOCR-2-1B's (the Pixtral-based generations share it)."""
    dims = published_shapes.QWEN35.get(profile)
    if dims is None:
        return ModelShape()
    return _qwen35_shape(dims["text"], dims["vision"], f"{profile}'s published config (built in)")


def served_shape(model_id: str, profile: str = "") -> ModelShape:
    """The served model's shapes from its config.json when it is a local folder, else the profile's published
    ones (LightOnOCR-2-1B's when the profile is not told)."""
    path = Path(model_id) / "config.json"
    try:
        return shape_from_config(json.loads(path.read_text(encoding="utf-8")), f"{path}")
    except (OSError, ValueError, AttributeError, TypeError, ZeroDivisionError, KeyError):
        return profile_shape(profile)


@dataclass(frozen=True)
class Card:
    """The GPU the figures are held against: its row of the table (None: unknown) and how it was found."""

    spec: GpuSpec | None
    named: str | None  # what --gpu or nvidia-smi said
    found_by: str  # "--gpu", "nvidia-smi (local server)", "unknown: ..."

    def as_dict(self) -> dict[str, Any]:
        spec = self.spec
        return {
            "name": spec.name if spec else None,
            "named": self.named,
            "found_by": self.found_by,
            "bandwidth_tb_s": spec.bandwidth_bytes_s / 1e12 if spec else None,
            "bf16_dense_tflops": spec.bf16_dense_flops / 1e12 if spec else None,
            "source": spec.source if spec else None,
        }


def limit_block(
    records: Sequence[RequestRecord], in_flight: float, card: Card, shape: ModelShape, pages_per_s: float | None
) -> dict[str, Any] | None:
    """The `limit` object of a point's figures: the mean page's costs, the three limits and the measured
    share of the combined one. None without an answered request; limits null for an unknown GPU."""
    done = [r for r in records if r.ok]
    if not done:
        return None
    prompt = _mean([r.exchange.prompt_tokens for r in done if r.exchange.prompt_tokens is not None])
    answer = _mean([float(r.output_tokens) for r in done]) or 0.0
    vision = _mean([shape.vision_flops(r.page.width, r.page.height) for r in done]) or 0.0
    prompt_flops = shape.prompt_flops(prompt) if prompt is not None else 0.0
    decode = _mean([shape.decode_bytes(prompt or 0.0, float(r.output_tokens), in_flight) for r in done]) or 0.0
    block: dict[str, Any] = {
        "gpu": card.spec.name if card.spec else None,
        "in_flight": in_flight,
        "prompt_tokens": prompt,
        "answer_tokens": answer,
        "patches": _mean([float(shape.patches(r.page.width, r.page.height)) for r in done]),
        "vision_tflop_per_page": vision / 1e12,
        "prompt_tflop_per_page": prompt_flops / 1e12,
        "decode_gb_per_page": decode / 1e9,
        "prefill_share_of_peak": PREFILL_SHARE,
        "decode_pages_per_s": None,
        "prefill_pages_per_s": None,
        "combined_pages_per_s": None,
        "share": None,
        "model": shape.source,
    }
    if card.spec is None:
        return block
    decode_limit = card.spec.bandwidth_bytes_s / decode if decode else None
    prefill_flops = vision + prompt_flops
    prefill_limit = card.spec.bf16_dense_flops * PREFILL_SHARE / prefill_flops if prefill_flops else None
    combined = 1 / (1 / decode_limit + 1 / prefill_limit) if decode_limit and prefill_limit else None
    block.update(
        decode_pages_per_s=decode_limit,
        prefill_pages_per_s=prefill_limit,
        combined_pages_per_s=combined,
        share=pages_per_s / combined if combined and pages_per_s is not None else None,
    )
    return block


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})
UNKNOWN = "unknown: vLLM's /metrics does not name the card (read in 0.26.0's source); pass --gpu"


class UnknownGpu(ValueError):
    """--gpu named a card the table does not have."""


def resolve_card(named: str | None, hosts: Sequence[str], local_gpus: Sequence[str]) -> Card:
    """The card the figures are held against: --gpu when given; else, for servers on this machine, the first
    GPU nvidia-smi lists (``local_gpus``); else unknown (a remote server's card cannot be read from it)."""
    if named:
        spec = find_gpu(named)
        if spec is None:
            known = ", ".join(gpu.name for gpu in GPUS)
            raise UnknownGpu(f"--gpu {named!r} is not in the table of GPUs ({known}): name one of them")
        return Card(spec, named, "--gpu")
    if hosts and all(host in LOCAL_HOSTS for host in hosts) and local_gpus:
        return Card(find_gpu(local_gpus[0]), local_gpus[0], "nvidia-smi (the server is on this machine)")
    return Card(None, None, UNKNOWN)
