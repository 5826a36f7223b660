"""PLACEHOLDER for the grounding branch: the profiles branch (issue 21 item 1) replaces this file at merge.

Only the shape the grounding checks read: a profile's generation, modes, longest edge, sampling and
chat_template_kwargs, chosen from the served model's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lightonocr_validation.config import Sampling


@dataclass(frozen=True)
class ModelProfile:
    name: str
    generation: int
    modes: frozenset[str]
    longest_edge: int
    sampling: Sampling
    chat_template_kwargs: Mapping[str, Any] = field(default_factory=dict)


def profile_for(model_name: str, config: Any = None) -> ModelProfile:
    if "LightOnOCR-3" in model_name:
        qwen = "-1B" not in model_name
        return ModelProfile(
            model_name,
            3,
            frozenset({"plain", "grounding"}),
            2048 if qwen else 1540,
            Sampling(temperature=0.1, top_p=1.0, max_tokens=4096),
            {"enable_thinking": False} if qwen else {},
        )
    return ModelProfile(model_name, 2, frozenset({"plain"}), 1540, Sampling(0.2, 0.9, 4096))
