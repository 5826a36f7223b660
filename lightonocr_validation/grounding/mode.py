"""Whether the served model has a grounding mode, and how a grounding request is made: the one gate that
every grounding part (the checks, `invoke check --mode`, `invoke bench --mode`) reads.

The model's profile says it (`model_profiles.profile_for`: generation 3 has the modes plain and grounding,
generations 1 and 2 plain only). A check context that carries its profile (``ctx.profile``) is read as is;
one that does not gets the profile of the served name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightonocr_validation.core.errors import EXIT_USAGE, UserError
from lightonocr_validation.core.model_profiles import ModelProfile, profile_for

GROUNDING = "grounding"
PROMPT = "grounding"  # the text LightOn's client sends beside the image to ask for grounding


def profile_of(holder: Any, model_name: str) -> ModelProfile:
    """``holder.profile`` when it has one (a check context), else the profile of ``model_name``."""
    profile = getattr(holder, "profile", None)
    return profile if profile is not None else profile_for(model_name)


def grounding_supported(profile: ModelProfile) -> bool:
    return GROUNDING in profile.modes


def no_grounding(profile: ModelProfile, model_name: str) -> str:
    """Why a grounding request makes no sense for this model, in one line."""
    return (
        f"{model_name} is LightOnOCR generation {profile.generation}: it has no grounding mode (only "
        f"generation 3 has; its modes: {', '.join(sorted(profile.modes))})"
    )


def grounding_content(data_url: str) -> list[dict[str, Any]]:
    """The message content of a grounding request: the page image, then the text ``grounding``."""
    return [{"type": "image_url", "image_url": {"url": data_url}}, {"type": "text", "text": PROMPT}]


def grounding_overrides(profile: ModelProfile) -> dict[str, Any]:
    """What a grounding request sends beyond the plain one: the profile's sampling and chat template
    arguments (``enable_thinking: false`` for the Qwen3.5-based checkpoints)."""
    overrides: dict[str, Any] = {key: _sampled(profile.sampling, key) for key in ("temperature", "top_p")}
    kwargs: Mapping[str, Any] = profile.chat_template_kwargs or {}
    if kwargs:
        overrides["chat_template_kwargs"] = dict(kwargs)
    return overrides


MODES = ("plain", GROUNDING)


def require_grounding(profile: ModelProfile, model_name: str) -> None:
    """An explicit ``--mode grounding`` for a model without the mode: one line, exit 2, before any request."""
    if not grounding_supported(profile):
        raise UserError(
            f"--mode grounding: {no_grounding(profile, model_name)}; drop --mode grounding, or name a "
            "LightOnOCR-3 server's model with --model lightonai/LightOnOCR-3-...",
            EXIT_USAGE,
        )


def _sampled(sampling: Any, key: str) -> Any:
    """A sampling value of the profile, whether its sampling is a settings object or a mapping."""
    return sampling[key] if isinstance(sampling, Mapping) else getattr(sampling, key)
