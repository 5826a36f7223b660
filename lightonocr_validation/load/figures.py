"""The figures of a load point, computed from its measured requests only (warm-up requests never get here).

Definitions follow `vllm bench serve` where it has the figure, so the two agree on the same server:
throughput is completed requests over the point's duration (start to the end of the last request);
percentiles interpolate linearly between ranks (numpy's default); inter-token latency pools every gap of
every request. In OCR's units a completed request is a page.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lightonocr_validation.load.records import RequestRecord

PERCENTILES = (50, 90, 95, 99)
# 97.5 % quantiles of Student's t for 1..30 degrees of freedom: the 95 % interval of a mean over a few runs.
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile of already sorted values, linearly interpolated (numpy's default method)."""
    if not sorted_values:
        raise ValueError("no values")
    rank = (len(sorted_values) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


def distribution(values: Sequence[float]) -> dict[str, float] | None:
    """Mean and p50/p90/p95/p99 of ``values``; None when there are none (e.g. TTFT without streaming)."""
    if not values:
        return None
    ordered = sorted(values)
    summary = {"mean": sum(ordered) / len(ordered)}
    summary.update({f"p{q}": percentile(ordered, q) for q in PERCENTILES})
    return summary


@dataclass(frozen=True)
class Economics:
    """What turns pages/s into money and a deadline: the price of one server-hour, the latency objective a page
    must meet to count in goodput, and how many servers the figures are for."""

    gpu_hour_price: float | None = None
    meets_latency: Callable[[RequestRecord], bool] = lambda record: True
    servers: int = 1


def figures(
    records: Sequence[RequestRecord],
    duration_s: float,
    *,
    graded: bool,
    reference_accuracy: float | None = None,
    economics: Economics = Economics(),
    client_cpu_s: float | None = None,
) -> dict[str, object]:
    """Every figure of the contract's `figures` object (plus a few more), from the measured requests."""
    requests = len(records)
    done = [r for r in records if r.ok]
    completed = len(done)
    rate = (lambda count: count / duration_s) if duration_s > 0 else (lambda count: None)
    pages_per_s = rate(completed)
    accuracy: float | None = None
    goodput: float | None = None
    if graded:
        judged = [r for r in done if r.accurate is not None]
        accuracy = sum(bool(r.accurate) for r in judged) / len(judged) if judged else None
        goodput = rate(sum(bool(r.accurate) and economics.meets_latency(r) for r in done))
    price = economics.gpu_hour_price
    cost = price * economics.servers / 3600 / pages_per_s * 1000 if price and pages_per_s else None
    cores = os.cpu_count() or 1
    return {
        "requests": requests,
        "completed": completed,
        "errors": requests - completed,
        "error_rate": (requests - completed) / requests if requests else None,
        "truncation_rate": sum(r.exchange.finish_reason == "length" for r in done) / completed if done else None,
        "pages_per_s": pages_per_s,
        "output_tokens_per_s": rate(sum(r.output_tokens for r in done)),
        "e2e_s": distribution([r.exchange.e2e_s for r in done]),
        "ttft_s": distribution([r.exchange.ttft_s for r in done if r.exchange.ttft_s is not None]),
        "itl_s": distribution([gap for r in done for gap in r.exchange.gaps]),
        "client_s": distribution([r.exchange.client_s for r in records]),
        "accuracy": accuracy,
        "accuracy_vs_c1": accuracy / reference_accuracy if accuracy is not None and reference_accuracy else None,
        "accurate_goodput_pages_per_s": goodput,
        "goodput_pages_per_s": rate(sum(economics.meets_latency(r) for r in done)),
        "cost_per_1000_pages": cost,
        "mean_prompt_tokens": _mean([r.exchange.prompt_tokens for r in done if r.exchange.prompt_tokens is not None]),
        "mean_output_tokens": _mean([r.output_tokens for r in done]),
        # Share of this machine's cores the client kept busy: near 1, the client may be what limits the figures.
        "client_cpu_share": client_cpu_s / duration_s / cores if client_cpu_s is not None and duration_s > 0 else None,
    }


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def interval95(values: Sequence[float]) -> tuple[float, float] | None:
    """95 % confidence interval of the mean of ``values`` (one per run), by Student's t; None under two runs."""
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    t = _T975[len(values) - 2] if len(values) - 1 <= len(_T975) else 1.96
    half = t * spread / math.sqrt(len(values))
    return mean - half, mean + half


def pick(figure_set: dict[str, object], name: str) -> float | None:
    """A figure by dotted name: "pages_per_s", "e2e_s.p95"."""
    value: object = figure_set
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
