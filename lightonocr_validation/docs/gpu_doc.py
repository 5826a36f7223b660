"""docs/gpu.md's generated blocks, rendered from the committed result files so the document shows exactly what
the files hold: issue 22's steady-state table (benchmarks/results/h100-2026-12-07: `invoke tune`'s tune.json and
the drawn-lengths bench), issue 21's table per architecture and the encoder's attention timed alone
(benchmarks/results/h100-2026-12-07b), and issue 22's encoder lever, the project's vLLM plugin, measured the
same ways (benchmarks/results/h100-2026-12-07c)."""

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
    + "\n\n".join(
        empty_block(name)
        for name in (
            "steady-state",
            "architectures",
            "encoder-attention",
            "steady-state-plugin",
            "encoder-attention-plugin",
        )
    )
    + "\n"
)
RESULTS = Path("benchmarks/results/h100-2026-12-07")
# The second session of that day: each architecture at full size, and the Pixtral encoder's attention alone.
ARCHITECTURES = Path("benchmarks/results/h100-2026-12-07b")
# (folder under ARCHITECTURES, profile, architecture) per row group of the architectures table; the Pixtral
# rows are section 5's (RESULTS), measured on the same kind of card.
ARCHITECTURE_RUNS = (("tune-lightonocr-3-4b", "LightOnOCR-3-4B", "qwen3_5"),)
# The third session: the plugin's page-by-page encoder attention, at 128 in flight (tune/) and 256 (tune-c256/).
PLUGIN_RESULTS = Path("benchmarks/results/h100-2026-12-07c")
PLUGIN_TUNES = ("tune", "tune-c256")


def _row(name: str, args: str, figures: Mapping[str, Any], answers: str) -> list[str]:
    return [
        name,
        args,
        answers,
        formatted(figures.get("concurrency"), "{}"),
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


def _drawn(folder: Path) -> dict[str, Any] | None:
    """The drawn-lengths bench's figures in tune's shape (tune.key_figures), for one more row, with the
    concurrency its file's settings record (steady.sh drawn benches one point)."""
    from lightonocr_validation.tune.command import key_figures

    path = folder / "bench-drawn.json"
    if not path.is_file():
        return None
    result = json.loads(path.read_text(encoding="utf-8"))
    (concurrency,) = result["settings"]["concurrencies"]
    return {**key_figures(result), "concurrency": concurrency}


def _flags(record: Mapping[str, Any]) -> str:
    """A configuration's flags, and the server environment it adds (the plugin's switch), as the doc shows them."""
    args = code(" ".join(record["args"])) if record["args"] else "(card)"
    env = " ".join(f"{name}={value}" for name, value in (record.get("env") or {}).items())
    return f"{args} + {code(env)}" if env else args


def _steady_rows(path: Path) -> list[list[str]]:
    """One row per configuration a tune.json records as run: its figures, or its cause where it failed."""
    summary = json.loads(path.read_text(encoding="utf-8"))
    concurrency = summary.get("settings", {}).get("concurrency")
    rows = []
    for record in summary["configurations"]:
        if record["status"] == "not run":
            continue
        args = _flags(record)
        if record["status"] != "ok":
            cause = (record.get("cause") or record["status"]).split(" (log:")[0]
            rows.append([record["name"], args, "fixed:1024", formatted(concurrency, "{}"), *[NONE] * 8, cause])
            continue
        name = record["name"] + (" (numerics)" if record.get("numerics", "bf16") != "bf16" else "")
        rows.append(_row(name, args, {**record["figures"], "concurrency": concurrency}, "fixed:1024"))
    return rows


def _steady_table(folder: Path, tunes: tuple[str, ...], drawn_name: str) -> str:
    """The steady-state table of one session's files: each tune's rows, then the drawn-lengths bench's."""
    found = [folder / name / "tune.json" for name in tunes if (folder / name / "tune.json").is_file()]
    if not found:
        return f"No steady-state results in {folder} yet."
    rows = [row for path in found for row in _steady_rows(path)]
    drawn = _drawn(folder)
    if drawn is not None:
        rows.append(_row(drawn_name, f"(as {drawn_name})", drawn, "uniform:256-1024, ramp 20 s"))
    header = [
        "configuration",
        "flags on top of the card's",
        "answers",
        "in flight",
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


def render_steady(root: Path) -> str:
    return _steady_table(root / RESULTS, ("tune",), "tuned")


def render_steady_plugin(root: Path) -> str:
    """The plugin's session: `steady.sh drawn` served tuned with the plugin's switch in its environment."""
    return _steady_table(root / PLUGIN_RESULTS, PLUGIN_TUNES, "tuned-varlen")


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


def _encoder_attention(path: Path) -> str:
    """The Pixtral encoder's attention timed alone (tools/lent-gpu/encoder_attention.py), one row per way."""
    if not path.is_file():
        return f"No encoder-attention results in {path.parent} yet."
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


def render_encoder_attention(root: Path) -> str:
    return _encoder_attention(root / ARCHITECTURES / "encoder-attention.json")


def render_encoder_attention_plugin(root: Path) -> str:
    return _encoder_attention(root / PLUGIN_RESULTS / "encoder-attention-plugin.json")


def blocks(root: Path) -> dict[str, str]:
    return {
        "steady-state": render_steady(root),
        "architectures": render_architectures(root),
        "encoder-attention": render_encoder_attention(root),
        "steady-state-plugin": render_steady_plugin(root),
        "encoder-attention-plugin": render_encoder_attention_plugin(root),
    }
