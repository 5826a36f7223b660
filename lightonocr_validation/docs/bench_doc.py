"""docs/bench.md's generated blocks: the table of GPUs the limits use, and the limits of the reference page, both
from bench/limits.py, so the document and the figures `invoke bench` prints cannot drift apart."""

from __future__ import annotations

from pathlib import Path

from lightonocr_validation.bench import limits
from lightonocr_validation.core.markdown import table
from lightonocr_validation.docs.markers import empty_block

PATH = "docs/bench.md"
TEMPLATE = (
    "# Reading a bench report\n\n## The limit\n\n"
    + empty_block("gpu-limits")
    + "\n\nFor the reference page:\n\n"
    + empty_block("reference-limits")
    + "\n"
)

# The reference page: prose-01, US Letter at 1540 px (1190 x 1540, 2,377 prompt tokens), 128 in flight.
PAGE = (1190, 1540, 2377)
IN_FLIGHT = 128


def render_gpus() -> str:
    rows = [
        [gpu.name, f"{gpu.bandwidth_bytes_s / 1e12:.3g} TB/s", f"{gpu.bf16_dense_flops / 1e12:.4g}", gpu.source]
        for gpu in limits.GPUS
    ]
    return table(["GPU", "memory bandwidth", "dense bf16 TFLOPS", "datasheet"], rows)


def render_reference_limits() -> str:
    shape = limits.ModelShape()
    width, height, prompt = PAGE
    rows = []
    for answer in (1024, 640):
        decode = shape.decode_bytes(prompt, answer, IN_FLIGHT)
        prefill = shape.vision_flops(width, height) + shape.prompt_flops(prompt)
        for gpu in limits.GPUS:
            decode_limit = gpu.bandwidth_bytes_s / decode
            prefill_limit = gpu.bf16_dense_flops * limits.PREFILL_SHARE / prefill
            combined = 1 / (1 / decode_limit + 1 / prefill_limit)
            rows.append([gpu.name, str(answer), f"{decode_limit:.1f}", f"{prefill_limit:.1f}", f"{combined:.1f}"])
    lead = (
        f"prose-01 ({width} x {height} px: {shape.patches(width, height):,} patches, {prompt:,} prompt tokens), "
        f"{IN_FLIGHT} in flight, LightOnOCR-2-1B's shapes: "
        f"{shape.vision_flops(width, height) / 1e12:.1f} TFLOP in the vision encoder and "
        f"{shape.prompt_flops(prompt) / 1e12:.1f} in the decoder's prefill per page; "
        f"{shape.kv_bytes_per_token // 1024} KiB of KV cache per token, "
        f"{shape.weights_read_per_step / 1e9:.2f} GB of weights per decode step. 640 tokens is the mean "
        "answer of uniform:256-1024."
    )
    header = ["GPU", "answer tokens", "decode limit", "prefill limit", "combined (pages/s)"]
    return lead + "\n\n" + table(header, rows)


def blocks(root: Path) -> dict[str, str]:
    return {"gpu-limits": render_gpus(), "reference-limits": render_reference_limits()}
