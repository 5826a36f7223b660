"""docs/gpu.md's generated blocks, rendered from the committed result files so the document shows exactly what
the files hold: issue 22's steady-state table (benchmarks/results/h100-2026-12-07: `invoke tune`'s tune.json and
the drawn-lengths bench), issue 21's table per architecture and the encoder's attention timed alone
(benchmarks/results/h100-2026-12-07b)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightonocr_validation.core.markdown import NONE, code, formatted, table
from lightonocr_validation.docs.markers import empty_block

PATH = "docs/gpu.md"
TEMPLATE = (
    "# The GPU path, measured on a lent GPU\n\n"
    + "\n\n".join(empty_block(name) for name in ("steady-state", "architectures", "encoder-attention"))
    + "\n"
)
RESULTS = Path("benchmarks/results/h100-2026-12-07")
# The second session of that day: each architecture at full size, and the Pixtral encoder's attention alone.
ARCHITECTURES = Path("benchmarks/results/h100-2026-12-07b")
# (folder under ARCHITECTURES, profile, architecture) per row group of the architectures table; the Pixtral
# rows are section 5's (RESULTS), measured on the same kind of card.
ARCHITECTURE_RUNS = (("tune-lightonocr-3-4b", "LightOnOCR-3-4B", "qwen3_5"),)


def _row(name: str, args: str, figures: Mapping[str, Any], answers: str) -> list[str]:
    return [
        name,
        args,
        answers,
        formatted(figures.get("pages_per_s"), "{:.2f}"),
        formatted(figures.get("whole_point_pages_per_s"), "{:.2f}"),
        formatted(figures.get("e2e_p50_s"), "{:.1f} s"),
        formatted(figures.get("e2e_p95_s"), "{:.1f} s"),
        formatted(figures.get("prefill_s"), "{:.1f} s"),
        formatted(figures.get("decode_s"), "{:.1f} s"),
        formatted(figures.get("steps_with_prefill_at_least"), "{}") + " / " + formatted(figures.get("steps"), "{}"),
        formatted(figures.get("limit_pages_per_s"), "{:.2f}"),
        formatted(figures.get("share_of_limit"), "{:.0%}"),
    ]


def _drawn(root: Path) -> dict[str, Any] | None:
    """The drawn-lengths bench's figures in tune's shape (tune.key_figures), for one more row."""
    from lightonocr_validation.tune.command import key_figures

    path = root / RESULTS / "bench-drawn.json"
    return key_figures(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else None


def _flags(record: Mapping[str, Any]) -> str:
    """A configuration's flags, and the server environment it adds (the plugin's switch), as the doc shows them."""
    args = code(" ".join(record["args"])) if record["args"] else "(card)"
    env = " ".join(f"{name}={value}" for name, value in (record.get("env") or {}).items())
    return f"{args} + {code(env)}" if env else args


def render_steady(root: Path) -> str:
    path = root / RESULTS / "tune" / "tune.json"
    if not path.is_file():
        return f"No steady-state results in {RESULTS} yet."
    summary = json.loads(path.read_text(encoding="utf-8"))
    rows = []
    for record in summary["configurations"]:
        if record["status"] == "not run":
            continue
        args = _flags(record)
        if record["status"] != "ok":
            cause = (record.get("cause") or record["status"]).split(" (log:")[0]
            rows.append([record["name"], args, "fixed:1024", *[NONE] * 8, cause])
            continue
        name = record["name"] + (" (numerics)" if record.get("numerics", "bf16") != "bf16" else "")
        rows.append(_row(name, args, record["figures"], "fixed:1024"))
    drawn = _drawn(root)
    if drawn is not None:
        rows.append(_row("tuned", "(as tuned)", drawn, "uniform:256-1024, ramp 20 s"))
    header = [
        "configuration",
        "flags on top of the card's",
        "answers",
        "steady pages/s",
        "whole point",
        "e2e p50",
        "e2e p95",
        "prefill",
        "decode",
        "steps with prefill / steps",
        "limit (pages/s)",
        "share",
    ]
    return table(header, rows)


def _tune_rows(path: Path, profile: str, architecture: str) -> list[list[str]]:
    summary = json.loads(path.read_text(encoding="utf-8"))
    rows = []
    for record in summary["configurations"]:
        if record["status"] != "ok":
            continue
        figures = record["figures"]
        rows.append(
            [
                profile,
                architecture,
                record["name"],
                formatted(figures.get("pages_per_s"), "{:.2f}"),
                formatted(figures.get("e2e_p50_s"), "{:.1f} s"),
                formatted(figures.get("e2e_p95_s"), "{:.1f} s"),
                formatted(figures.get("limit_pages_per_s"), "{:.2f}"),
                formatted(figures.get("share_of_limit"), "{:.0%}"),
            ]
        )
    return rows


def render_architectures(root: Path) -> str:
    """Pages/s per architecture at full size with random weights, the card's flags and `tuned`, steady state."""
    rows = _tune_rows(root / RESULTS / "tune" / "tune.json", "LightOnOCR-2-1B (and -1B-1025, -3-1B)", "pixtral")
    rows = [row for row in rows if row[2] in ("card", "tuned")]
    for folder, profile, architecture in ARCHITECTURE_RUNS:
        path = root / ARCHITECTURES / folder / "tune.json"
        if path.is_file():
            rows.extend(_tune_rows(path, profile, architecture))
    header = ["model", "architecture", "flags", "steady pages/s", "e2e p50", "e2e p95", "limit", "share"]
    return table(header, rows)


def render_encoder_attention(root: Path) -> str:
    """The Pixtral encoder's attention timed alone (tools/lent-gpu/encoder_attention.py), one row per way."""
    path = root / ARCHITECTURES / "encoder-attention.json"
    if not path.is_file():
        return f"No encoder-attention results in {ARCHITECTURES} yet."
    found = json.loads(path.read_text(encoding="utf-8"))
    ways = list(dict.fromkeys(row["way"] for row in found["rows"]))
    pages = sorted({row["pages"] for row in found["rows"]})
    by = {(row["way"], row["pages"]): row for row in found["rows"]}
    rows = []
    for way in ways:
        cells = [by.get((way, n)) for n in pages]
        rows.append(
            [code(way)]
            + [
                f"{cell['ms_per_page_24_layers']:.1f} ms ({cell['useful_tflops']:.0f} TFLOP/s)" if cell else NONE
                for cell in cells
            ]
        )
    header = ["way", *[f"{n} page{'s' if n > 1 else ''} per step" for n in pages]]
    return f"{found['device']}, {found['patches']:,} patches a page, ms per page over 24 layers:\n\n" + table(
        header, rows
    )


def blocks(root: Path) -> dict[str, str]:
    return {
        "steady-state": render_steady(root),
        "architectures": render_architectures(root),
        "encoder-attention": render_encoder_attention(root),
    }
