"""Latency objectives: `--slo "p95_e2e<=20s"`, several joined by commas, each a statistic of one latency.

An objective is met at a load when each of its bounds holds on that load's figures and every request was
answered (a load that drops requests does not sustain anything). A single request meets it when its own
latency is within each bound: that is what accurate goodput counts, as `vllm bench serve --goodput` does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from lightonocr_validation.load.figures import pick
from lightonocr_validation.load.records import RequestRecord

STATISTICS = ("mean", "p50", "p90", "p95", "p99")
METRICS = ("e2e", "ttft", "itl")
_BOUND = re.compile(r"^(?P<stat>[a-z0-9]+)_(?P<metric>[a-z0-9]+)\s*<=\s*(?P<value>[0-9]*\.?[0-9]+)\s*(?P<unit>ms|s)$")
EXAMPLE = 'p95_e2e<=20s (or "p99_ttft<=500ms,p95_e2e<=20s")'


class ObjectiveError(ValueError):
    """An --slo that cannot be read; the message shows the expected form."""


@dataclass(frozen=True)
class Bound:
    statistic: str  # mean, p50, ...
    metric: str  # e2e, ttft, itl
    seconds: float

    def __str__(self) -> str:
        return f"{self.statistic}_{self.metric}<={self.seconds:g}s"

    def request_value(self, record: RequestRecord) -> float | None:
        exchange = record.exchange
        return {"e2e": exchange.e2e_s, "ttft": exchange.ttft_s, "itl": record.itl_s}[self.metric]


@dataclass(frozen=True)
class Objective:
    text: str
    bounds: tuple[Bound, ...]

    @property
    def needs_stream(self) -> bool:
        return any(bound.metric in ("ttft", "itl") for bound in self.bounds)

    def met_by(self, figures: Mapping[str, object]) -> bool:
        if figures.get("errors") or not figures.get("completed"):
            return False
        for bound in self.bounds:
            value = pick(dict(figures), f"{bound.metric}_s.{bound.statistic}")
            if value is None or value > bound.seconds:
                return False
        return True

    def request_meets(self, record: RequestRecord) -> bool:
        for bound in self.bounds:
            value = bound.request_value(record)
            if value is None or value > bound.seconds:
                return False
        return True


def parse(text: str) -> Objective:
    bounds = []
    for part in (p.strip() for p in text.split(",")):
        match = _BOUND.match(part.replace(" ", ""))
        if not match:
            raise ObjectiveError(f"--slo {text!r} is not an objective: write it as {EXAMPLE}")
        stat, metric = match["stat"], match["metric"]
        if stat not in STATISTICS or metric not in METRICS:
            raise ObjectiveError(
                f"--slo {part!r}: the statistic is one of {', '.join(STATISTICS)} and the latency one of "
                f"{', '.join(METRICS)}, as in {EXAMPLE}"
            )
        value = float(match["value"]) / (1000 if match["unit"] == "ms" else 1)
        if value <= 0:
            raise ObjectiveError(f"--slo {part!r}: the bound must be above 0")
        bounds.append(Bound(stat, metric, value))
    return Objective(",".join(str(b) for b in bounds), tuple(bounds))


def latency_only(seconds: float) -> Objective:
    """Without --slo, a page counts in goodput when it came back within this many seconds."""
    return Objective(f"e2e<={seconds:g}s", (Bound("p100", "e2e", seconds),))
