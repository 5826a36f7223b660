"""The Pixtral encoder's attention alone, on the lent GPU: each way vLLM 0.26.0 could compute it, timed.

LightOnOCR's vision encoder (Pixtral, Hugging Face layout: 24 layers, 16 heads of 64) attends over one page's
patches at a time; when a step encodes several pages, vLLM concatenates them and masks attention block by
block. Without xformers installed (vLLM 0.26.0 no longer installs it), `PixtralHFAttention` passes a dense
additive mask of (patches x patches) to `scaled_dot_product_attention`, which then can only use PyTorch's
memory-efficient kernel (the profile of 2026-12-07: `fmha_cutlassF_bf16_aligned_64x64_rf_sm80`, 69 % of a
burst's GPU time) and computes every masked block too. With xformers, it builds a `BlockDiagonalMask`, and
xformers dispatches to a flash kernel that skips the masked blocks.

This times one layer's attention for 1, 2 and 3 pages per step, each way that is importable here:
  sdpa-dense-mask    what vLLM 0.26.0 runs without xformers
  xformers-block     what it runs with xformers (the kernel xformers picked is named)
  sdpa-per-page      SDPA without a mask, once per page (PyTorch's flash kernel): what no mask would cost
  vllm-fa-varlen     vLLM's own FlashAttention 3 (varlen, cu_seqlens): the kernel a native path could use
  plugin-varlen      the project's vLLM plugin as vLLM calls it, with its largest difference from sdpa-dense-mask

Usage (there, after `source ~/lent-gpu/env.sh`): python3 tools/lent-gpu/encoder_attention.py [--patches 9350]
Prints one table row per (way, pages): ms per layer call, ms per page over 24 layers, useful TFLOP/s.
"""

from __future__ import annotations

import argparse
import json

import torch
import torch.nn.functional as F

HEADS, HEAD_DIM, LAYERS = 16, 64, 24


def _timed(fn, repeats: int = 10) -> float:
    """Median milliseconds of `fn` on the GPU (CUDA events), after three warm-up calls."""
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return sorted(times)[len(times) // 2]


def _dense_mask(pages: int, patches: int, dtype: torch.dtype) -> torch.Tensor:
    """The mask transformers' generate_block_attention_mask builds: 0 inside a page's block, dtype's min outside."""
    seq = pages * patches
    mask = torch.full((seq, seq), torch.finfo(dtype).min, dtype=dtype, device="cuda")
    for page in range(pages):
        lo, hi = page * patches, (page + 1) * patches
        mask[lo:hi, lo:hi] = 0
    return mask[None, None].expand(1, 1, seq, seq)


def _dense_ms(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor) -> float:
    """SDPA with the dense mask; the mask (pages^2 x patches^2 x 2 bytes) is freed on return."""
    return _timed(lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask))


def _measure(pages: int, n: int, dtype: torch.dtype, record) -> None:
    """One layer's attention over `pages` pages of `n` patches, each way importable here."""
    seq = pages * n
    q, k, v = (torch.randn(1, HEADS, seq, HEAD_DIM, dtype=dtype, device="cuda") for _ in range(3))
    record("sdpa-dense-mask", pages, _dense_ms(q, k, v, _dense_mask(pages, n, dtype)))
    pieces = [slice(i * n, (i + 1) * n) for i in range(pages)]
    blocks = [(q[:, :, p], k[:, :, p], v[:, :, p]) for p in pieces]
    record("sdpa-per-page", pages, _timed(lambda: [F.scaled_dot_product_attention(*b) for b in blocks]))
    qx, kx, vx = (t.transpose(1, 2).contiguous() for t in (q, k, v))  # xformers: (batch, seq, heads, dim)
    try:
        from xformers import ops as xops
        from xformers.ops import fmha
    except ImportError as error:
        print(f"xformers-block: not importable ({error})")
    else:
        bias = xops.fmha.attn_bias.BlockDiagonalMask.from_seqlens([n] * pages)
        try:
            op = fmha._dispatch_fw(fmha.Inputs(query=qx, key=kx, value=vx, attn_bias=bias), False)
            kernel = getattr(op, "NAME", str(op))
        except Exception as error:  # the dispatcher is private: name what happened, keep timing
            kernel = f"unknown ({type(error).__name__})"
        ms = _timed(lambda: xops.memory_efficient_attention(qx, kx, vx, attn_bias=bias))
        record("xformers-block", pages, ms, kernel)
    try:
        from vllm.vllm_flash_attn import flash_attn_varlen_func

        qv, kv, vv = (t[0] for t in (qx, kx, vx))  # (tokens, heads, dim)
        cu = torch.arange(0, seq + 1, n, dtype=torch.int32, device="cuda")
        ms = _timed(
            lambda: flash_attn_varlen_func(
                qv, kv, vv, cu_seqlens_q=cu, cu_seqlens_k=cu, max_seqlen_q=n, max_seqlen_k=n, fa_version=3
            )
        )
        record("vllm-fa-varlen", pages, ms)
    except Exception as error:
        print(f"vllm-fa-varlen: {type(error).__name__}: {error}"[:300])
    _measure_plugin((q, k, v), (qx, kx, vx), pages, n, dtype, record)


def _measure_plugin(heads_first, seq_first, pages: int, n: int, dtype: torch.dtype, record) -> None:
    """The project's vLLM plugin (vllm_plugin/, on PYTHONPATH with WITH=lightonocr_vllm_plugin) as vLLM 0.26.0
    calls it, timed, and its largest difference from the dense-mask output vLLM computes without it."""
    try:
        from lightonocr_vllm_plugin.pixtral_varlen import XOPS
    except ImportError as error:
        print(f"plugin-varlen: not importable ({error})")
        return
    bias = XOPS.fmha.attn_bias.BlockDiagonalMask.from_seqlens([n] * pages)
    ms = _timed(lambda: XOPS.memory_efficient_attention(*seq_first, attn_bias=bias))
    lever = XOPS.memory_efficient_attention(*seq_first, attn_bias=bias).transpose(1, 2)
    dense = F.scaled_dot_product_attention(*heads_first, attn_mask=_dense_mask(pages, n, dtype))
    diff = (lever.float() - dense.float()).abs()
    record("plugin-varlen", pages, ms, f"max |diff| vs dense {diff.max().item():.2e}, mean {diff.mean().item():.2e}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patches", type=int, default=9350, help="patches per page (prose-01 at 1540 px: 9,350)")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    dtype, n = torch.bfloat16, args.patches
    print(torch.cuda.get_device_name(), "torch", torch.__version__)
    rows = []

    def record(way: str, pages: int, ms: float, kernel: str = "") -> None:
        flops = pages * 4 * n * n * HEAD_DIM * HEADS  # QK^T and PV over each page's own block
        row = {
            "way": way,
            "pages": pages,
            "ms_per_layer": round(ms, 3),
            "ms_per_page_24_layers": round(ms * LAYERS / pages, 1),
            "useful_tflops": round(flops / ms / 1e9, 1),
            "kernel": kernel,
        }
        rows.append(row)
        print(json.dumps(row))

    for pages in (1, 2, 3):
        _measure(pages, n, dtype, record)  # its tensors are freed on return, before the next size
        torch.cuda.empty_cache()
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"device": torch.cuda.get_device_name(), "patches": n, "rows": rows}, out, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
