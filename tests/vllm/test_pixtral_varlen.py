"""The vLLM plugin's Pixtral lever (vllm_plugin/): the same attention as vLLM's dense mask, page by page.

On this machine (no GPU) the lever's per-page SDPA path is what runs; the FlashAttention path is measured on
the lent GPU (docs/gpu.md). The pixtral module of vLLM 0.26.0 cannot be imported here (the CPU build is 0.32.0,
whose Pixtral attends page by page itself), so `apply` is held to a module carrying the two globals 0.26.0
reads, and to the real 0.32.0 module, which it must leave alone.
"""

from __future__ import annotations

import logging
import types
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import torch

# torch, transformers and the plugin (installed by `nox -s tests`) are the vLLM environment's: imported in the
# tests, so that the fast session collects this file without them and deselects it by the marker.
pytestmark = pytest.mark.vllm


@pytest.fixture(autouse=True)
def _imports() -> None:
    global torch, pixtral_varlen, lightonocr_vllm_plugin
    import lightonocr_vllm_plugin
    import torch
    from lightonocr_vllm_plugin import pixtral_varlen


HEADS, HEAD_DIM = 4, 16


def _qkv(pages: list[int], seed: int = 0) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(1, sum(pages), HEADS, HEAD_DIM, generator=generator) for _ in range(3))


def _dense(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, pages: list[int]) -> torch.Tensor:
    """vLLM 0.26.0's path without xformers: one SDPA over every patch, with transformers' block mask."""
    from transformers.models.pixtral.modeling_pixtral import generate_block_attention_mask

    mask = generate_block_attention_mask(pages, q)
    qh, kh, vh = (t.transpose(1, 2) for t in (q, k, v))
    return torch.nn.functional.scaled_dot_product_attention(qh, kh, vh, attn_mask=mask).transpose(1, 2)


def _lever(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, pages: list[int]) -> torch.Tensor:
    mask = pixtral_varlen.XOPS.fmha.attn_bias.BlockDiagonalMask.from_seqlens(pages)
    return pixtral_varlen.XOPS.memory_efficient_attention(q, k, v, attn_bias=mask)


@pytest.mark.parametrize("pages", [[37], [37, 21], [12, 40, 7]])
def test_the_lever_computes_what_the_dense_mask_computes(pages: list[int]) -> None:
    q, k, v = _qkv(pages)
    lever = _lever(q, k, v, pages)
    assert lever.shape == q.shape
    torch.testing.assert_close(lever, _dense(q, k, v, pages), rtol=1e-5, atol=1e-5)


def test_pages_do_not_see_each_other_and_one_merged_page_would_differ() -> None:
    pages = [30, 20]
    q, k, v = _qkv(pages)
    out = _lever(q, k, v, pages)
    k2, v2 = k.clone(), v.clone()
    k2[:, 30:], v2[:, 30:] = torch.randn_like(k2[:, 30:]), torch.randn_like(v2[:, 30:])
    changed = _lever(q, k2, v2, pages)
    torch.testing.assert_close(changed[:, :30], out[:, :30])  # the first page never reads the second's patches
    assert not torch.allclose(changed[:, 30:], out[:, 30:])
    # The judgement can fail: attention over both pages as one is not what Pixtral computes.
    merged = _lever(q, k, v, [50])
    assert not torch.allclose(merged, out, atol=1e-3)


def test_bad_shapes_and_lengths_are_refused() -> None:
    q, k, v = _qkv([10])
    mask = pixtral_varlen.PageLengths.from_seqlens([6, 3])
    with pytest.raises(ValueError, match="10 patches, but the pages hold 9"):
        pixtral_varlen.memory_efficient_attention(q, k, v, mask)
    with pytest.raises(ValueError, match="at least one patch"):
        pixtral_varlen.PageLengths.from_seqlens([4, 0])
    with pytest.raises(ValueError, match="same"):
        pixtral_varlen.PageLengths.from_seqlens([4], [5])


def test_cu_seqlens_are_int32_offsets_made_once_per_device() -> None:
    pages = pixtral_varlen.PageLengths.from_seqlens([5, 7, 2])
    cu = pages.cu_seqlens(torch.device("cpu"))
    assert cu.dtype == torch.int32 and cu.tolist() == [0, 5, 12, 14] and pages.max_seqlen == 7
    assert pages.cu_seqlens(torch.device("cpu")) is cu


def _module_0_26(use_xformers: bool = False) -> types.SimpleNamespace:
    """The two globals vLLM 0.26.0's pixtral module reads at call time."""
    return types.SimpleNamespace(USE_XFORMERS_OPS=use_xformers, xops=object() if use_xformers else None)


def test_apply_serves_the_xformers_branch_where_vllm_masks_densely() -> None:
    module = _module_0_26()
    said = pixtral_varlen.apply(module)
    assert module.USE_XFORMERS_OPS is True and module.xops is pixtral_varlen.XOPS
    assert "page by page" in said and "dense mask" in said


def test_what_the_plugin_logs_is_the_proof_invoke_tune_waits_for() -> None:
    from lightonocr_validation.tune.grid import VARLEN_PROOF

    # register() logs "LightOnOCR plugin: " + apply()'s line; tune fails a lever whose proof is not logged.
    assert f"LightOnOCR plugin: {pixtral_varlen.apply(_module_0_26())}".startswith(VARLEN_PROOF)
    assert not f"LightOnOCR plugin: {pixtral_varlen.apply(_module_0_26(use_xformers=True))}".startswith(VARLEN_PROOF)


def test_apply_leaves_a_working_xformers_alone() -> None:
    module = _module_0_26(use_xformers=True)
    real = module.xops
    assert "nothing to do" in pixtral_varlen.apply(module)
    assert module.xops is real


# Importing vLLM's models warns of torch.jit.script_method, torch's deprecation, not ours.
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_apply_leaves_vllm_0_32s_own_page_by_page_encoder_alone() -> None:
    from vllm.model_executor.models import pixtral  # the tests session has it: a missing one must fail, not skip

    before = dict(vars(pixtral))
    assert "nothing to do" in pixtral_varlen.apply()
    assert dict(vars(pixtral)) == before


def test_vllm_finds_the_plugin_and_it_is_inert_without_the_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import entry_points

    names = {e.name: e.value for e in entry_points(group="vllm.general_plugins")}
    assert names.get("lightonocr_pixtral_varlen") == "lightonocr_vllm_plugin:register"
    applied: list[bool] = []
    monkeypatch.setattr(pixtral_varlen, "apply", lambda module=None: applied.append(True) or "applied")
    monkeypatch.delenv(lightonocr_vllm_plugin.SWITCH, raising=False)
    lightonocr_vllm_plugin.register()
    assert applied == []
    monkeypatch.setenv(lightonocr_vllm_plugin.SWITCH, "varlen")
    lightonocr_vllm_plugin.register()
    assert applied == [True]


def test_an_unknown_switch_value_is_logged_and_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    applied: list[bool] = []
    monkeypatch.setattr(pixtral_varlen, "apply", lambda module=None: applied.append(True) or "applied")
    monkeypatch.setenv(lightonocr_vllm_plugin.SWITCH, "flash")
    # vLLM's "vllm" logger does not propagate to the root, where caplog listens: attach its handler here.
    plugin_logger = logging.getLogger("vllm.lightonocr_plugin")
    with caplog.at_level(logging.WARNING, logger=plugin_logger.name):
        plugin_logger.addHandler(caplog.handler)
        try:
            lightonocr_vllm_plugin.register()
        finally:
            plugin_logger.removeHandler(caplog.handler)
    assert applied == []
    assert "'flash' is not a known value" in caplog.text
    # 'off', what the docs tell a user to set over the tuned profile's switch, is a choice: silent, unapplied.
    caplog.clear()
    monkeypatch.setenv(lightonocr_vllm_plugin.SWITCH, "off")
    plugin_logger.addHandler(caplog.handler)
    try:
        lightonocr_vllm_plugin.register()
    finally:
        plugin_logger.removeHandler(caplog.handler)
    assert applied == [] and caplog.text == ""
