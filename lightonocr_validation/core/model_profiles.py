"""Which LightOnOCR a server serves, and what that means: one typed profile per generation and size.

The rows live in the configuration (settings.DEFAULTS["model_profiles"], documented there and overridable in
invoke.yaml); this module types them and picks one: `--model-profile NAME` (model.profile) when given, else
the name the model is served or loaded under, else its config.json (a local folder), else the `root` a
server's /v1/models gives for it. A model none of these tell is one `error:` line asking for
`--model-profile`, never a profile guessed and presented as a verdict (LightOn's own client assumes
LightOnOCR-3 at 2048 px there; a validator must not).

What a profile decides: the pages' longest edge, the sampling and `chat_template_kwargs` sent with each
page, the extra `vllm serve` flags, the modes (grounding is generation 3's), the prompt tokens one page
must cost (OCR002, per processor: Pixtral's or Qwen3.5's), and the vLLM releases it needs or must avoid.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lightonocr_validation.core.errors import EXIT_USAGE, UserError
from lightonocr_validation.core.settings import DEFAULT_MODEL_PROFILE, DEFAULTS

ARCHITECTURES = ("pixtral", "qwen3_5")
MODES = ("plain", "grounding")
# What the profile command line flag is called in every message that asks for it.
FLAG = "--model-profile"

# Processor arithmetic per architecture (lightonocr-facts.md; tiny_qwen35.py says where Qwen3.5's come from):
# Pixtral scales the page so its longest side fits longest_edge, cuts 14 px patches and merges 2x2; Qwen3.5
# rounds each side to 32 px (16 px patches, 2x2 merge) within a pixel budget and takes the page as sent.
PIXTRAL_PATCH, PIXTRAL_MERGE, PIXTRAL_OVERHEAD = 14, 2, 12
QWEN35_FACTOR, QWEN35_MIN_PIXELS, QWEN35_MAX_PIXELS = 32, 65_536, 16_777_216
# Tokens around the image with thinking off (tiny_qwen35.PROMPT_TOKENS_BESIDES_IMAGE; unverified against the
# real checkpoint's template, which this machine cannot download: OCR002 on a real server says).
QWEN35_OVERHEAD = 14


@dataclass(frozen=True)
class ProfileSampling(Mapping[str, Any]):
    """A profile's sampling: read as a mapping (`sampling["temperature"]`, `dict(sampling)`) or by attribute
    (`sampling.temperature`), as config.Sampling is."""

    temperature: float
    top_p: float
    max_tokens: int

    def __getitem__(self, key: str) -> Any:
        if key not in SAMPLING_KEYS:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(SAMPLING_KEYS)

    def __len__(self) -> int:
        return len(SAMPLING_KEYS)


SAMPLING_KEYS = ("temperature", "top_p", "max_tokens")


class ProfileError(UserError):
    """No profile for the model, or a profile row that is not well formed: one line, exit 2."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_USAGE)


@dataclass(frozen=True)
class ModelProfile:
    name: str  # "LightOnOCR-3-4B": the table's key
    hub_id: str  # "lightonai/LightOnOCR-3-4B"
    generation: int  # 1, 2 or 3
    architecture: str  # "pixtral" or "qwen3_5"
    longest_edge: int  # pages are rendered (never upscaled) to this many px on their longest side
    serve_args: tuple[str, ...]  # extra `vllm serve` flags beyond the image limit and the two caches
    sampling: ProfileSampling  # temperature, top_p, max_tokens sent with every page (a Mapping)
    chat_template_kwargs: Mapping[str, Any]  # sent with every request when not empty
    modes: frozenset[str]  # {"plain"} or {"plain", "grounding"}
    aliases: tuple[str, ...] = ()  # other names that say this model (lowercase substrings)
    matched_by: str = field(default="", compare=False)  # how it was chosen, for reports and messages

    @property
    def grounding(self) -> bool:
        return "grounding" in self.modes

    def prompt_tokens(self, width: int, height: int) -> int:
        """Prompt tokens one page of `width` x `height` px must cost in plain mode (OCR002)."""
        if self.architecture == "pixtral":
            tokens = pixtral_image_tokens(width, height, self.longest_edge, PIXTRAL_PATCH, PIXTRAL_MERGE)
            return PIXTRAL_OVERHEAD + tokens
        return QWEN35_OVERHEAD + qwen35_image_tokens(*sent_size(width, height, self.longest_edge))

    def largest_page_tokens(self) -> int:
        """The prompt of the largest page this model is sent: a square at its longest edge."""
        return self.prompt_tokens(self.longest_edge, self.longest_edge)

    def prompt_tokens_rule(self) -> str:
        """The formula OCR002 states, in words."""
        if self.architecture == "pixtral":
            return f"{PIXTRAL_OVERHEAD} + ceil(W/28) * ceil(H/28) after fitting {self.longest_edge} px"
        return f"{QWEN35_OVERHEAD} + (H/32) * (W/32) after rounding each side to 32 px (Qwen3.5's smart resize)"

    def describe(self) -> str:
        """One line for the console: name, generation, architecture, page size, modes."""
        return (
            f"{self.name} (generation {self.generation}, {self.architecture}, pages at {self.longest_edge} px, "
            f"modes {', '.join(m for m in MODES if m in self.modes)})"
        )

    def provenance(self) -> dict[str, Any]:
        """What reports record of the profile a run used."""
        return {
            "name": self.name,
            "generation": self.generation,
            "architecture": self.architecture,
            "longest_edge": self.longest_edge,
            "matched_by": self.matched_by,
        }


def resized_size(width: int, height: int, longest: int) -> tuple[int, int]:
    """Size after Pixtral's downscale: ``ratio = max(h/longest, w/longest)``; if ratio > 1 each side is
    ``floor(side / ratio)``; smaller images are kept as they are.

    >>> resized_size(2550, 3300, 1540)
    (1190, 1540)
    >>> resized_size(800, 600, 1540)
    (800, 600)
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    ratio = max(height / longest, width / longest)
    if ratio > 1:
        return math.floor(width / ratio), math.floor(height / ratio)
    return width, height


def pixtral_image_tokens(width: int, height: int, longest: int, patch: int, merge: int) -> int:
    """Image tokens Pixtral's encoder produces for a page: patches of the downscaled page, merged."""
    w, h = resized_size(width, height, longest)
    return math.ceil(((w - 1) // patch + 1) / merge) * math.ceil(((h - 1) // patch + 1) / merge)


def sent_size(width: int, height: int, longest_edge: int) -> tuple[int, int]:
    """A page as the client sends it: downscaled to fit `longest_edge`, never upscaled."""
    return resized_size(width, height, longest_edge)


def qwen35_image_tokens(width: int, height: int) -> int:
    """Image tokens Qwen3.5's processor makes of a `width` x `height` image (transformers' smart_resize for
    Qwen2-VL-family processors, factor 32, the pixel budget of Qwen3-VL's preprocessor_config)."""
    factor = QWEN35_FACTOR
    h_bar, w_bar = round(height / factor) * factor, round(width / factor) * factor
    if h_bar * w_bar > QWEN35_MAX_PIXELS:
        beta = math.sqrt(height * width / QWEN35_MAX_PIXELS)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < QWEN35_MIN_PIXELS:
        beta = math.sqrt(QWEN35_MIN_PIXELS / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return (h_bar // factor) * (w_bar // factor)


def table(config: Any = None) -> dict[str, ModelProfile]:
    """Every profile of the configuration's table (DEFAULTS' when `config` is None), by name.

    `config` is a config.Config (its `model_profiles` and `sampling`) or a plain mapping shaped like DEFAULTS.
    A row without sampling of its own takes the `sampling` section (the model card's, LightOnOCR-1 and -2)."""
    rows, sampling = _rows_and_sampling(config)
    return {name: _profile(name, row, sampling) for name, row in rows.items()}


def profile_for(model_name: str, config: Mapping[str, Any] | Any | None = None, *, root: str = "") -> ModelProfile:
    """The profile of the model served or loaded as `model_name` (a hub id, a served name or a local folder).

    Chosen, in order, by: the configuration's model.profile (`--model-profile`); the name; a local folder's
    config.json; the server's `root` for it (`root`, from /v1/models). ProfileError when none tells."""
    profiles = table(config)
    chosen = _configured_name(config)
    if chosen:  # from --model-profile, invoke.yaml, or --tiny/--full-size (the profile they were built for)
        return _named(profiles, chosen, f"model.profile {chosen!r}")
    for text, how in ((model_name, "name"), (root, "the server's /v1/models root")):
        found = by_name(profiles, text)
        if found is not None:
            return _with(found, f"{how} {text!r}")
    folder = Path(model_name) if model_name else None
    if folder is not None and (folder / "config.json").is_file():
        found = by_checkpoint_config(profiles, folder / "config.json")
        if found is not None:
            return found
    raise ProfileError(unknown_message(model_name, root, profiles))


def serve_args(profile: ModelProfile, max_model_len: int) -> tuple[str, ...]:
    """The profile's extra `vllm serve` flags, less its --max-model-len when server.max_model_len sets one
    (build_command adds that one, and two would leave vLLM to take the last)."""
    args = list(profile.serve_args)
    if max_model_len and "--max-model-len" in args:
        index = args.index("--max-model-len")
        del args[index : index + 2]
    return tuple(args)


def named(name: str, config: Mapping[str, Any] | Any | None = None) -> ModelProfile:
    """The profile called `name` (`--model-profile NAME`); ProfileError listing the names when there is none."""
    return _named(table(config), name, f"{FLAG} {name}")


def by_name(profiles: Mapping[str, ModelProfile], text: str) -> ModelProfile | None:
    """The profile whose name (or an alias) the text contains, the longest match first: a local path or a
    snapshot folder (models--lightonai--LightOnOCR-3-4B) says its model as a hub id does."""
    lowered = text.lower().replace("--", "/")
    candidates = [
        (len(key), profile)
        for profile in profiles.values()
        for key in (profile.name.lower(), *profile.aliases)
        if key and key in lowered
    ]
    return max(candidates, key=lambda pair: pair[0])[1] if candidates else None


def by_checkpoint_config(profiles: Mapping[str, ModelProfile], path: Path) -> ModelProfile | None:
    """The profile a checkpoint's config.json tells, where it tells one: Qwen3.5's two sizes differ in their
    decoder's width (1024 for 0.8B, 2560 for 4B). A Pixtral-based config is the same for LightOnOCR-1B-1025,
    -2-1B and -3-1B (tiny and full-size builds of this toolkit included): None, the caller asks for a flag."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict) or config.get("model_type") != "qwen3_5":
        return None
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else {}
    width = text.get("hidden_size")
    for profile in profiles.values():
        if profile.architecture == "qwen3_5" and QWEN35_WIDTHS.get(profile.name) == width:
            return _with(profile, f"config.json of {path.parent} (qwen3_5, hidden_size {width})")
    return None


# The decoder width that tells the Qwen3.5-based checkpoints apart (tiny_qwen35.FULL_SIZE; Qwen's configs).
QWEN35_WIDTHS = {"LightOnOCR-3-0.8B": 1024, "LightOnOCR-3-4B": 2560}


def unknown_message(model_name: str, root: str, profiles: Mapping[str, ModelProfile]) -> str:
    said = f"{model_name!r}" + (f" (root {root!r})" if root and root != model_name else "")
    return (
        f"no model profile matches {said}: name it with {FLAG} NAME (one of {', '.join(profiles)}), or "
        f"set model.profile in invoke.yaml; a model this toolkit does not know is not judged by a guess"
    )


def _named(profiles: Mapping[str, ModelProfile], name: str, how: str) -> ModelProfile:
    for key, profile in profiles.items():
        if key.lower() == name.strip().lower():
            return _with(profile, how)
    raise ProfileError(f"{FLAG} {name!r} is not a model profile: use one of {', '.join(profiles)}")


def _with(profile: ModelProfile, how: str) -> ModelProfile:
    from dataclasses import replace

    return replace(profile, matched_by=how)


def _configured_name(config: Any) -> str:
    if config is None:
        return ""
    model = config.get("model") if isinstance(config, Mapping) else getattr(config, "model", None)
    value = model.get("profile", "") if isinstance(model, Mapping) else getattr(model, "profile", "")
    return str(value or "").strip()


def _rows_and_sampling(config: Any) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    if config is None:
        config = DEFAULTS
    if isinstance(config, Mapping):
        rows = config.get("model_profiles", DEFAULTS["model_profiles"])
        sampling = config.get("sampling", DEFAULTS["sampling"])
    else:
        rows = config.model_profiles
        sampling = {key: getattr(config.sampling, key) for key in SAMPLING_KEYS}
    return rows, sampling


def _profile(name: str, row: Mapping[str, Any], sampling: Mapping[str, Any]) -> ModelProfile:
    where = f"model_profiles.{name}"
    try:
        architecture = str(row["architecture"])
        modes = frozenset(str(mode) for mode in row["modes"])
        profile = ModelProfile(
            name=name,
            hub_id=str(row["hub_id"]),
            generation=int(row["generation"]),
            architecture=architecture,
            longest_edge=int(row["longest_edge"]),
            serve_args=tuple(str(arg) for arg in row["serve_args"]),
            sampling=_sampling({**sampling, **dict(row.get("sampling") or {})}),
            chat_template_kwargs=dict(row.get("chat_template_kwargs") or {}),
            modes=modes,
            aliases=tuple(str(alias).lower() for alias in row.get("aliases") or ()),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ProfileError(f"{where} is not a profile row ({error}): see docs/tasks.md for its keys") from None
    if architecture not in ARCHITECTURES:
        raise ProfileError(f"{where}.architecture {architecture!r} is not one of {', '.join(ARCHITECTURES)}")
    if not modes or not modes <= set(MODES):
        raise ProfileError(f"{where}.modes {sorted(modes)} must be plain, or plain and grounding")
    if profile.longest_edge < 28:
        raise ProfileError(f"{where}.longest_edge {profile.longest_edge} is too small: LightOnOCR reads 1540 or 2048")
    return profile


def _sampling(values: Mapping[str, Any]) -> ProfileSampling:
    """The row's sampling over the `sampling` section's, typed (a value of the wrong type: ValueError)."""
    for key in ("temperature", "top_p", "max_tokens"):
        if isinstance(values[key], bool) or not isinstance(values[key], int | float):
            raise ValueError(f"sampling.{key} is {values[key]!r}, not a number")
    return ProfileSampling(float(values["temperature"]), float(values["top_p"]), int(values["max_tokens"]))


def default() -> ModelProfile:
    """The toolkit's default model's profile (LightOnOCR-2-1B)."""
    return _with(table()[DEFAULT_MODEL_PROFILE], "the default model")
