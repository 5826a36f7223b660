"""Bench results built as benchcore writes them (docs: /BENCH-CONTRACT, schema lightonocr-validation/bench/1).

`make_result` gives a small but complete result: hosts, loads, runs, requests, intervals and a fleet on demand;
each figure can be scaled per host to make a regression or an improvement for the comparison's tests.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Mapping, Sequence
from typing import Any

SCHEMA = "lightonocr-validation/bench/1"


def make_result(
    hosts: Sequence[str] = ("local",),
    concurrencies: Sequence[int] = (1, 2, 4),
    *,
    runs: int = 1,
    fleet: bool = False,
    stream: bool = True,
    with_requests: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    rng = random.Random(seed)
    result: dict[str, Any] = {
        "schema": SCHEMA,
        "created": "2026-11-29T10:00:00Z",
        "provenance": {
            "tool": {"name": "lightonocr-validation", "version": "0.1.0", "python": "3.11.9"},
            "model": "lightonai/LightOnOCR-2-1B",
            "weights": "trained",
            "sampling": {"temperature": 0.0, "top_p": 1.0, "max_tokens": 1024},
            "samples_digest": "ab" * 32,
            "servers": [{"host": name, "vllm_version": "0.32.0", "max_model_len": 8192} for name in hosts],
        },
        "settings": {
            "mode": "sweep",
            "concurrencies": list(concurrencies),
            "rate": None,
            "arrival": "constant",
            "seed": 0,
            "requests_per_point": 16,
            "duration_s": None,
            "warmup_requests": 4,
            "max_tokens": 1024,
            "ignore_eos": True,
            "temperature": 0.0,
            "top_p": 1.0,
            "stream": stream,
            "slo": "p95_e2e<=20s",
            "gpu_hour_price": 2.0,
            "runs": runs,
            "pages": ["prose-01", "table-01"],
        },
        "hosts": [],
        "fleet": None,
    }
    for index, name in enumerate(hosts):
        points = [
            _point(c, run, rng, speed=1.0 + index * 0.5, stream=stream, with_requests=with_requests)
            for c in concurrencies
            for run in range(1, runs + 1)
        ]
        result["hosts"].append(
            {
                "name": name,
                "url": f"http://127.0.0.1:{8100 + index} (credentials redacted)",
                "points": points,
                "summary": _summary(points, runs),
            }
        )
    if fleet:
        by_load: dict[int, list[dict[str, Any]]] = {}
        for host in result["hosts"]:
            for point in host["points"]:
                by_load.setdefault((point["concurrency"], point["run"]), []).append(point)
        result["fleet"] = {
            "points": [
                {
                    "concurrency": c,
                    "rate": None,
                    "run": run,
                    "figures": {
                        "pages_per_s": sum(p["figures"]["pages_per_s"] for p in group),
                        "output_tokens_per_s": sum(p["figures"]["output_tokens_per_s"] for p in group),
                        "e2e_s": copy.deepcopy(
                            max(group, key=lambda p: p["figures"]["e2e_s"]["p95"])["figures"]["e2e_s"]
                        ),
                        "errors": 0,
                        "error_rate": 0.0,
                    },
                }
                for (c, run), group in sorted(by_load.items())
            ]
        }
    return result


def scale(result: Mapping[str, Any], figure: str, factor: float, *, host: str | None = None) -> dict[str, Any]:
    """A copy with `figure` ("pages_per_s", "e2e_s.p95") multiplied by `factor` at every load (of one host)."""
    changed = copy.deepcopy(dict(result))
    for group in changed["hosts"]:
        if host is not None and group["name"] != host:
            continue
        # Each run's point and, where the driver wrote them, the runs pooled per load (what compare reads).
        for point in [*group["points"], *group["summary"].get("loads", [])]:
            _set(point["figures"], figure, lambda v: v * factor)
        # The runs moved, so did their interval.
        intervals = group["summary"].get("intervals") or {}
        for key, bounds in intervals.get(figure, {}).items():
            intervals[figure][key] = sorted(b * factor for b in bounds)
    return changed


def set_figure(result: Mapping[str, Any], figure: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(dict(result))
    for group in changed["hosts"]:
        for point in group["points"]:
            _set(point["figures"], figure, lambda _v: value)
    return changed


def _slowest(points: list[dict[str, Any]]) -> dict[str, Any]:
    return max(points, key=lambda p: p["figures"]["e2e_s"]["p95"])


def _set(figures: dict[str, Any], figure: str, change: Any) -> None:
    *parents, leaf = figure.split(".")
    for part in parents:
        figures = figures[part]
    figures[leaf] = change(figures[leaf])


def _point(
    concurrency: int, run: int, rng: random.Random, *, speed: float, stream: bool, with_requests: bool
) -> dict[str, Any]:
    latency = 0.5 + 0.15 * concurrency / speed
    requests = []
    for i in range(16):
        e2e = latency * (0.8 + 0.4 * rng.random())
        requests.append(
            {
                "page": "prose-01" if i % 2 else "table-01",
                "start_s": i * 0.05,
                "e2e_s": e2e,
                "ttft_s": e2e * 0.1 if stream else None,
                "itl_s": 0.01 if stream else None,
                "output_tokens": 1024,
                "prompt_tokens": 2377,
                "finish_reason": "length",
                "status": 200,
                "error": None,
                "accurate": True,
                "client_s": 0.002,
            }
        )
    pages_per_s = speed * concurrency / latency * (0.98 + 0.04 * rng.random())
    stats = _stats([r["e2e_s"] for r in requests])
    return {
        "concurrency": concurrency,
        "rate": None,
        "run": run,
        "started": "2026-11-29T10:00:01Z",
        "duration_s": 16 / pages_per_s,
        "figures": {
            "requests": 16,
            "completed": 16,
            "errors": 0,
            "error_rate": 0.0,
            "truncation_rate": 0.0,
            "pages_per_s": pages_per_s,
            "output_tokens_per_s": pages_per_s * 1024,
            "e2e_s": stats,
            "ttft_s": {k: v * 0.1 for k, v in stats.items()} if stream else None,
            "itl_s": {"mean": 0.01, "p50": 0.01, "p90": 0.01, "p95": 0.02, "p99": 0.03} if stream else None,
            "client_s": {"mean": 0.002, "p50": 0.002, "p90": 0.003, "p95": 0.003, "p99": 0.004},
            "accuracy": 1.0,
            "accuracy_vs_c1": 1.0,
            "accurate_goodput_pages_per_s": pages_per_s,
            "cost_per_1000_pages": 2.0 / 3.6 / pages_per_s,
        },
        "requests": requests if with_requests else [],
    }


def _stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def quantile(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "mean": sum(ordered) / len(ordered),
        "p50": quantile(0.5),
        "p90": quantile(0.9),
        "p95": quantile(0.95),
        "p99": quantile(0.99),
    }


def _summary(points: list[dict[str, Any]], runs: int) -> dict[str, Any]:
    best = max(points, key=lambda p: p["figures"]["pages_per_s"])
    summary: dict[str, Any] = {
        "best_pages_per_s": {"concurrency": best["concurrency"], "pages_per_s": best["figures"]["pages_per_s"]},
        "slo": {"objective": "p95_e2e<=20s", "met_at": {"concurrency": best["concurrency"]}, "pages_per_s": 1.0},
        "intervals": {},
    }
    if runs > 1:
        for figure in ("pages_per_s", "e2e_s.p95"):
            by_load: dict[str, list[float]] = {}
            for point in points:
                value = point["figures"]
                for part in figure.split("."):
                    value = value[part]
                by_load.setdefault(f"concurrency={point['concurrency']}", []).append(value)
            summary["intervals"][figure] = {
                key: [min(values) * 0.97, max(values) * 1.03] for key, values in by_load.items()
            }
    return summary
