"""Re-derive what a bench result computed from its measured requests, after a fix to how it is derived.

Two derivations were wrong in results measured before 2026-12-07's fixes, and nothing measured was:
- the steady latencies took the requests that started and finished inside the window (one request at most
  under a lockstep closed loop), now the requests that finished inside it (bench/steady.py);
- the limit held a Qwen3.5-based LightOnOCR-3 against LightOnOCR-2-1B's all-attention decoder, now its
  hybrid one (bench/limits.py).

For each `bench/NAME.json` under a tune folder this recomputes, from the requests the file holds (their start,
e2e, TTFT, prompt and answer tokens) and the page's size at the profile's page size, each point's
`figures.steady` latencies (e2e, TTFT; ITL needs each token's gap, which the file does not keep, so it is left
as measured) and `figures.limit`, then the tune record's `figures` in `configs/NAME.json` and `tune.json`. Each
rewritten object gets `rederived` naming this script and the date.

Usage: python tools/lent-gpu/relimit.py TUNE_FOLDER|BENCH_JSON --model-profile NAME [--model CONFIG_FOLDER]
(a single bench JSON, such as steady.sh drawn's, is rewritten alone).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from lightonocr_validation.bench import limits, steady
from lightonocr_validation.core import model_profiles
from lightonocr_validation.load.figures import distribution
from lightonocr_validation.load.pages import BenchPage, sample_pages
from lightonocr_validation.load.records import RequestRecord
from lightonocr_validation.load.transport import Exchange

STAMP = "tools/lent-gpu/relimit.py, 2026-12-07"


def _records(point: dict[str, Any], sizes: dict[str, tuple[int, int]]) -> list[RequestRecord]:
    """The point's requests as the bench recorded them (its own RequestRecord, so `ok` and `end_s` are the
    bench's), with each page's size at the profile's page size."""
    out = []
    for r in point["requests"]:
        width, height = sizes[r["page"]]
        exchange = Exchange(
            status=r.get("status") or 0,
            prompt_tokens=r.get("prompt_tokens"),
            output_tokens=r.get("output_tokens"),
            e2e_s=r["e2e_s"] or 0.0,
            ttft_s=r.get("ttft_s"),
            error=r.get("error"),
        )
        out.append(RequestRecord(BenchPage(r["page"], "", width, height), r["start_s"], exchange))
    return out


def rederive_point(point: dict[str, Any], shape: limits.ModelShape, sizes: dict[str, tuple[int, int]]) -> None:
    records = _records(point, sizes)
    figures = point["figures"]
    block = figures.get("steady")
    if block and block.get("state") == steady.STEADY:
        found = steady.window([(records, point["concurrency"])])
        if found is not None:
            block["e2e_s"] = distribution([r.exchange.e2e_s for r in found.finished])
            block["ttft_s"] = distribution([r.exchange.ttft_s for r in found.finished if r.exchange.ttft_s is not None])
            block["rule"] = steady.RULE
            block["rederived"] = f"{STAMP}: e2e and TTFT of the requests finished inside the window"
    old = figures.get("limit")
    if old:
        card = limits.resolve_card(old["gpu"], [], []) if old.get("gpu") else limits.Card(None, None, "unknown")
        pages_per_s = (block or {}).get("pages_per_s") or figures.get("pages_per_s")
        new = limits.limit_block(records, old["in_flight"], card, shape, pages_per_s)
        new["rederived"] = f"{STAMP}: {shape.source}"
        figures["limit"] = new


def _rederive_file(bench_path: Path, shape: limits.ModelShape, sizes: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """Rewrite one bench result in place; its key figures as tune records them."""
    from lightonocr_validation.tune.command import key_figures

    result = json.loads(bench_path.read_text(encoding="utf-8"))
    for host in result["hosts"]:
        for point in host["points"]:
            rederive_point(point, shape, sizes)
        for load in host.get("summary", {}).get("loads", []):
            match = next((p for p in host["points"] if p["concurrency"] == load.get("concurrency")), None)
            if match is not None:
                load["figures"] = match["figures"]
    bench_path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    figures = key_figures(result)
    print(
        f"{bench_path.stem}: {figures.get('pages_per_s'):.2f} pages/s, e2e p50 {figures.get('e2e_p50_s'):.1f} s "
        f"p95 {figures.get('e2e_p95_s'):.1f} s, limit {figures.get('limit_pages_per_s'):.2f}, "
        f"share {figures.get('share_of_limit'):.0%}"
    )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tune_folder", type=Path)
    parser.add_argument("--model-profile", required=True)
    parser.add_argument("--model", default="", help="a local config folder (default: the profile's published shapes)")
    args = parser.parse_args()
    target = args.tune_folder
    if not (target.is_file() or (target / "tune.json").is_file()):
        parser.error(f"{target} is neither a bench JSON nor a tune folder with tune.json: name one of them")
    try:
        profile = model_profiles.named(args.model_profile)
    except model_profiles.ProfileError as error:
        parser.error(str(error))
    shape = (
        limits.served_shape(args.model, args.model_profile) if args.model else limits.profile_shape(args.model_profile)
    )
    sizes = {page.label: (page.width, page.height) for page in sample_pages(longest=profile.longest_edge)}
    if args.tune_folder.is_file():
        _rederive_file(args.tune_folder, shape, sizes)
        return 0
    summary_path = args.tune_folder / "tune.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    for bench_path in sorted((args.tune_folder / "bench").glob("*.json")):
        figures = _rederive_file(bench_path, shape, sizes)
        for record in summary["configurations"]:
            if record["name"] == bench_path.stem:
                record["figures"] = figures
        config_path = args.tune_folder / "configs" / bench_path.name
        if config_path.is_file():
            config = json.loads(config_path.read_text(encoding="utf-8"))
            config["figures"] = figures
            config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    summary_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
