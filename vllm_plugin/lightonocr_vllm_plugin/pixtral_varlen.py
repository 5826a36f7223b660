"""Pixtral's encoder attention page by page, for vLLM releases that mask it densely without xformers.

vLLM 0.26.0's ``vllm/model_executor/models/pixtral.py`` reads two module globals at call time:
``USE_XFORMERS_OPS`` and ``xops`` (xformers' ``ops``, when importable). With them, the vision model builds
``xops.fmha.attn_bias.BlockDiagonalMask.from_seqlens(patches per page)`` once per step, and every attention
layer calls ``xops.memory_efficient_attention(q, k, v, attn_bias=mask)`` with q, k and v of shape
(1, patches, heads, head_dim). Without xformers it builds a dense (patches x patches) additive mask instead.

``apply`` sets ``USE_XFORMERS_OPS`` and gives the module an ``xops`` that answers exactly those two calls:
``BlockDiagonalMask.from_seqlens`` keeps the pages' lengths, and ``memory_efficient_attention`` attends within
each page, with vLLM's own FlashAttention (varlen over ``cu_seqlens``) on a GPU that has it, else with
``scaled_dot_product_attention`` once per page. Nothing else in vLLM sees the stand-in: it is the pixtral
module's attribute, not an importable ``xformers``.
"""

from __future__ import annotations

import functools
import itertools
from types import SimpleNamespace

import torch
import torch.nn.functional as F


class PageLengths:
    """What ``BlockDiagonalMask.from_seqlens`` stands for here: the patches of each page, in order."""

    def __init__(self, seqlens: list[int]) -> None:
        if not seqlens or any(n <= 0 for n in seqlens):
            raise ValueError(f"every page needs at least one patch, got {seqlens!r}")
        self.seqlens = [int(n) for n in seqlens]
        self.max_seqlen = max(self.seqlens)
        self.total = sum(self.seqlens)
        self._cu: dict[torch.device, torch.Tensor] = {}

    @classmethod
    def from_seqlens(cls, q_seqlen: list[int], kv_seqlen: list[int] | None = None) -> PageLengths:
        if kv_seqlen is not None and list(kv_seqlen) != list(q_seqlen):
            raise ValueError("Pixtral's pages attend to themselves: query and key lengths must be the same")
        return cls(list(q_seqlen))

    def cu_seqlens(self, device: torch.device) -> torch.Tensor:
        """[0, n1, n1+n2, ...] as int32 on `device`, made once per step (the mask lives for one step)."""
        if device not in self._cu:
            offsets = [0, *itertools.accumulate(self.seqlens)]
            self._cu[device] = torch.tensor(offsets, dtype=torch.int32, device=device)
        return self._cu[device]


@functools.cache
def _flash_version(head_dim: int) -> int | None:
    """vLLM's FlashAttention version for this GPU and head size, or None where it has none (CPU, ROCm).

    Asked once per process: every layer of every step calls the attention, and the answer cannot change."""
    try:
        from vllm.platforms import current_platform
        from vllm.v1.attention.backends.fa_utils import get_flash_attn_version

        if not current_platform.is_cuda():
            return None
        return get_flash_attn_version(head_size=head_dim)
    except (ImportError, AttributeError, AssertionError):  # a vLLM without these helpers: SDPA serves
        return None


def memory_efficient_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, attn_bias: PageLengths
) -> torch.Tensor:
    """Attention of each page's patches over the same page's patches; (1, S, H, D) in and out."""
    if q.dim() != 4 or q.shape[0] != 1 or not isinstance(attn_bias, PageLengths):
        raise ValueError("expected q, k, v of shape (1, patches, heads, head_dim) and a PageLengths bias")
    if attn_bias.total != q.shape[1]:
        raise ValueError(f"{q.shape[1]} patches, but the pages hold {attn_bias.total}")
    version = _flash_version(q.shape[-1]) if q.is_cuda else None
    if version is not None:
        return _flash_varlen(q, k, v, attn_bias, version)
    return _sdpa_per_page(q, k, v, attn_bias)


def _flash_varlen(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, pages: PageLengths, version: int):
    from vllm.vllm_flash_attn import flash_attn_varlen_func

    cu = pages.cu_seqlens(q.device)
    # vLLM 0.26.0 hands v over as a view into the fused qkv projection (a row stride of 3 x hidden): one copy
    # per layer (19 MB a page) gives FlashAttention the dense rows it is written for; q and k already are.
    q, k, v = (t[0].contiguous() for t in (q, k, v))
    out = flash_attn_varlen_func(
        q,
        k,
        v,
        max_seqlen_q=pages.max_seqlen,
        cu_seqlens_q=cu,
        max_seqlen_k=pages.max_seqlen,
        cu_seqlens_k=cu,
        softmax_scale=q.shape[-1] ** -0.5,
        causal=False,
        fa_version=version,
    )
    return out.unsqueeze(0)


def _sdpa_per_page(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, pages: PageLengths) -> torch.Tensor:
    # (1, S, H, D) -> (1, H, S, D) for SDPA; each page alone needs no mask, so SDPA may pick its flash kernel.
    qh, kh, vh = (t.transpose(1, 2) for t in (q, k, v))
    outs, start = [], 0
    for n in pages.seqlens:
        piece = slice(start, start + n)
        outs.append(F.scaled_dot_product_attention(qh[:, :, piece], kh[:, :, piece], vh[:, :, piece]))
        start += n
    return torch.cat(outs, dim=2).transpose(1, 2)


XOPS = SimpleNamespace(
    memory_efficient_attention=memory_efficient_attention,
    fmha=SimpleNamespace(attn_bias=SimpleNamespace(BlockDiagonalMask=PageLengths)),
)


def apply(module=None) -> str:
    """Serve the pixtral module's xformers branch with the per-page attention above; a line saying what it did.

    `module` is vLLM's pixtral module (imported here by default; a test passes its own).
    """
    if module is None:
        from vllm.model_executor.models import pixtral as module
    if not hasattr(module, "USE_XFORMERS_OPS"):
        return "this vLLM's Pixtral encoder has no xformers switch (it attends page by page itself): nothing to do"
    if module.USE_XFORMERS_OPS:
        return "xformers is installed and Pixtral's encoder uses it: nothing to do"
    module.xops = XOPS
    module.USE_XFORMERS_OPS = True
    # invoke tune's proof that the lever took (tune/grid.py VARLEN_PROOF) is this line's start: keep them in step.
    return "Pixtral's encoder attends page by page (FlashAttention varlen on the GPU) instead of a dense mask"
