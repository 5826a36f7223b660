"""Notes `invoke serve` prints before a start that measurements say will be slow (docs/gpu.md, section 6).

Each note names what was measured and the fix; none stops the start: the flags are the user's to choose.

- `--profile tuned` on a Qwen3.5-based LightOnOCR-3: `tuned` was found for the Pixtral-based generations; on
  LightOnOCR-3-4B it served 6.56 pages/s against the card's flags' 7.56 (lent H100, 2026-12-07).
- The Pixtral encoder on a GPU without xformers and with a step budget of two pages or more: vLLM (0.26.0 read;
  xformers no longer installed since vllm-project/vllm#29262) then attends over every page of a step through one
  dense mask, 201 ms of attention a page at two pages a step and 301 at three, against 36 at one (H100).
  Silent when the server's environment (server.env, or the profile's: `tuned` turns it on) turns on the
  project's vLLM plugin, which attends page by page.
- That switch on, on a GPU, for the Pixtral encoder, where the plugin is not installed: the lever will not take.

After a detached start, `plugin_not_loaded` says when that switch is on and a server's log never shows the
plugin's line: the plugin did not load in vLLM's environment (another Python than ours, say).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from rich.console import Console

from lightonocr_validation.core.errors import print_warning
from lightonocr_validation.core.hardware import Gpu, nvidia_gpus
from lightonocr_validation.core.model_profiles import ModelProfile
from lightonocr_validation.serve.process import log_holds

# A Letter page at 1540 px is 2,337 image tokens (9,350 patches merged 2 x 2); vLLM's encoder budget per step is
# --max-num-batched-tokens. Its default for the OpenAI server (0.26.0's EngineArgs): 8,192 on a card of 70 GiB
# or more that is not an A100 (the lent H100's log: "max_num_batched_tokens=8192"), else 2,048.
PAGE_IMAGE_TOKENS = 2_337
LARGE_CARD_MIB = 70 * 1024
BUDGET_FLAG = "--max-num-batched-tokens"
# The project's vLLM plugin (vllm_plugin/) attends page by page when the server's environment holds this switch.
PLUGIN_SWITCH, PLUGIN_VARLEN = "LIGHTONOCR_PIXTRAL_ATTENTION", "varlen"
PLUGIN_MODULE = "lightonocr_vllm_plugin"  # its import name (distribution lightonocr-vllm-plugin)
# What the plugin logs in each vLLM process it loads in with the switch on (vllm_plugin's register), whether it
# replaced the dense mask or found vLLM attending page by page already.
PLUGIN_LOG = "LightOnOCR plugin:"
# Both notes of a switch that will not (or did not) take end with the same two ways out.
_PLUGIN_FIX = (
    "Install it into vLLM's environment (`pip install ./vllm_plugin`; nox's sessions install it), or switch it "
    f"off with server.env {PLUGIN_SWITCH}: 'off'"
)


def default_step_tokens(gpus: Sequence[Gpu]) -> int:
    """vLLM's default --max-num-batched-tokens for `vllm serve` on the first of these GPUs."""
    first = gpus[0] if gpus else None
    large = first is not None and first.memory_mib >= LARGE_CARD_MIB and "a100" not in first.name.lower()
    return 8_192 if large else 2_048


def step_tokens(args: Sequence[str]) -> int | None:
    """The last --max-num-batched-tokens the command gives (either spelling), None when it gives none."""
    found = None
    for index, arg in enumerate(args):
        if arg == BUDGET_FLAG and index + 1 < len(args):
            found = args[index + 1]
        elif arg.startswith(BUDGET_FLAG + "="):
            found = arg.split("=", 1)[1]
    try:
        return int(found) if found is not None else None
    except ValueError:
        return None


def has_xformers() -> bool:
    return importlib.util.find_spec("xformers") is not None


def plugin_switched_on(env: Mapping[str, str]) -> bool:
    """Whether this environment turns the project's vLLM plugin's lever on (the value the plugin acts on)."""
    return env.get(PLUGIN_SWITCH, "").strip() == PLUGIN_VARLEN


def plugin_not_loaded(env: Mapping[str, str], logs: Sequence[Path]) -> str | None:
    """After the servers are ready: the note when `env` (the servers' whole environment) switches the plugin on
    and a server's log never says the plugin's line; None when the switch is off or every log says it."""
    if not plugin_switched_on(env):
        return None
    silent = [str(log) for log in logs if not log_holds(log, PLUGIN_LOG)]
    if not silent:
        return None
    return (
        f"{PLUGIN_SWITCH}={PLUGIN_VARLEN} is on, but the server's log ({', '.join(silent)}) never says "
        f"{PLUGIN_LOG!r}: the project's vLLM plugin did not load, and the encoder keeps vLLM's dense mask. "
        + _PLUGIN_FIX
    )


def has_plugin() -> bool:
    """The project's vLLM plugin importable here: where `invoke serve` runs, which is where vLLM is found first."""
    return importlib.util.find_spec(PLUGIN_MODULE) is not None


def serving_notes(
    profile: ModelProfile | None,
    server_profile: str,
    device: str,
    args: Sequence[str],
    *,
    xformers: bool | None = None,
    plugin: bool | None = None,
    gpus: Sequence[Gpu] | None = None,
    env: Mapping[str, str] | None = None,
) -> list[str]:
    """One line per note for this start (empty when none applies); `env` is the server's (ours by default),
    with the chosen profile's; `xformers` and `plugin` say what is installed (looked up by default)."""
    notes = []
    architecture = profile.architecture if profile is not None else "pixtral"
    if server_profile == "tuned" and architecture == "qwen3_5":
        notes.append(
            f"--profile tuned was measured on the Pixtral-based LightOnOCR; {profile.name} is Qwen3.5-based, and "
            "on LightOnOCR-3-4B tuned served 6.56 pages/s against the card's 7.56 (H100, docs/gpu.md section 6): "
            "serve it with --profile card"
        )
    if architecture == "pixtral" and device == "cuda":
        budget = step_tokens(args)
        default = default_step_tokens(nvidia_gpus() if gpus is None else gpus)
        pages = (budget or default) // PAGE_IMAGE_TOKENS
        lever_on = plugin_switched_on(os.environ if env is None else env)
        if pages >= 2 and not lever_on and not (has_xformers() if xformers is None else xformers):
            said = f"{BUDGET_FLAG} {budget}" if budget else f"vLLM's default step of {default} tokens on this card"
            notes.append(
                f"no xformers in this environment and {said} (up to {pages} pages a step): vLLM's Pixtral encoder "
                "then attends over a step's pages through one dense mask, 201-301 ms of attention a page against "
                "36 ms at one page a step (H100, docs/gpu.md section 6); --profile tuned keeps a step near one page "
                "and switches on the project's vLLM plugin (page-by-page FlashAttention, 17 ms a page): 5.33 "
                "pages/s against the card's 1.98 on an H100, 3.66 without the plugin (docs/gpu.md section 5); or "
                f"set server.env {PLUGIN_SWITCH}: {PLUGIN_VARLEN} to switch the plugin on with these flags"
            )
        if lever_on and not (has_plugin() if plugin is None else plugin):
            notes.append(
                f"{PLUGIN_SWITCH}={PLUGIN_VARLEN} (server.env, or the profile's server.profile_env) asks for the "
                f"project's vLLM plugin, but {PLUGIN_MODULE} is not installed here: the lever will not take and "
                "the encoder keeps vLLM's dense mask. " + _PLUGIN_FIX
            )
    return notes


def say_model(
    profile: ModelProfile | None,
    server_profile: str,
    device: str,
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    errors: Console,
) -> None:
    """Before a start: the model's profile, then each note that applies (stderr); `env` is what the server gets
    on top of ours."""
    if profile is not None:
        errors.print(f"model profile: {profile.describe()}", markup=False)
    for note in serving_notes(profile, server_profile, device, command, env={**os.environ, **env}):
        print_warning(errors, note)
