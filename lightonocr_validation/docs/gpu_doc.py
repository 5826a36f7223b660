"""docs/gpu.md's generated block: issue 22's steady-state table, rendered from the committed result files
(benchmarks/results/h100-2026-12-07: `invoke tune`'s tune.json and the drawn-lengths bench), so the document
shows exactly what the files hold."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightonocr_validation.core.markdown import NONE, code, formatted, table
from lightonocr_validation.docs.markers import empty_block

PATH = "docs/gpu.md"
TEMPLATE = "# The GPU path, measured on a lent GPU\n\n" + empty_block("steady-state") + "\n"
RESULTS = Path("benchmarks/results/h100-2026-12-07")


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


def render_steady(root: Path) -> str:
    path = root / RESULTS / "tune" / "tune.json"
    if not path.is_file():
        return f"No steady-state results in {RESULTS} yet."
    summary = json.loads(path.read_text(encoding="utf-8"))
    rows = []
    for record in summary["configurations"]:
        args = code(" ".join(record["args"])) if record["args"] else "(card)"
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


def blocks(root: Path) -> dict[str, str]:
    return {"steady-state": render_steady(root)}
