"""Where a load point's time went inside the server, from vLLM's per-request histograms on /metrics.

vLLM observes every finished request into histograms whose `_sum` and `_count` only grow: the time it waited
for a slot (queue), from being scheduled to its first token (prefill, the vision encoder included for an
image), from the first to the last token (decode), scheduled to last token (inference = prefill + decode) and
arrival to finish (e2e, which adds the server's own processing of the upload and the answer). Reading them
when the point's clock starts and again when its last request is back, the difference is the measured
requests' share: warm-up requests finished before the first reading. Any other client's requests in that
window are counted too; the bench cannot tell them apart.

A server without /metrics (a gateway hides it, 404) or without these histograms gives no breakdown, never an
error: the point's figures stand without it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from lightonocr_validation.vllm import prometheus
from lightonocr_validation.vllm.client import Target, configured_session

# Phase in the result -> vLLM's histogram (v1/metrics/loggers.py; names unchanged across releases, 0.32.0 recorded).
HISTOGRAMS = {
    "queue_s": "vllm:request_queue_time_seconds",
    "prefill_s": "vllm:request_prefill_time_seconds",
    "decode_s": "vllm:request_decode_time_seconds",
    "inference_s": "vllm:request_inference_time_seconds",
    "e2e_s": "vllm:e2e_request_latency_seconds",
    "ttft_s": "vllm:time_to_first_token_seconds",
}
# Engine-wide counters (vLLM 0.26.0 v1/metrics/loggers.py and perf.py): the tokens computed, and with
# --enable-mfu-metrics vLLM's own estimate of the decoder's FLOPs and bytes (the vision encoder not counted).
COUNTERS = {
    "prompt_tokens": "vllm:prompt_tokens_total",
    "generation_tokens": "vllm:generation_tokens_total",
    "estimated_flops": "vllm:estimated_flops_per_gpu_total",
    "estimated_read_bytes": "vllm:estimated_read_bytes_per_gpu_total",
}
# Tokens each engine step computed (prompt + generated), one observation per step: a step with more tokens
# than requests in flight carried prompt tokens, so it mixed prefill into the decode of the others.
STEP_TOKENS = "vllm:iteration_tokens_total"
# /metrics is read while the point's workers wait at the start barrier: a server that hangs on it must not
# hold the bench for the target's whole request timeout.
METRICS_TIMEOUT_S = 10.0
# vLLM records a request's histograms in the same event-loop turn that hands out its last tokens, so they are
# normally counted before the client has the answer; with several API server processes they may lag a little.
SETTLE_S = 2.0
SETTLE_POLL_S = 0.05


@dataclass(frozen=True)
class Snapshot:
    """Each phase's (sum of seconds, count of requests), summed over every engine and label set; the engine
    counters; the step-size histogram's cumulative counts by upper bound (+Inf included) and its sum."""

    totals: Mapping[str, tuple[float, float]]
    counters: Mapping[str, float] = field(default_factory=dict)
    steps: Mapping[float, float] = field(default_factory=dict)
    step_tokens: float = 0.0


@dataclass(frozen=True)
class ServerTime:
    """The server's seconds and requests per phase between two snapshots."""

    sums: Mapping[str, float]
    counts: Mapping[str, float]
    counters: Mapping[str, float] = field(default_factory=dict)
    steps: Mapping[float, float] = field(default_factory=dict)  # steps of at most `bound` tokens, by bound
    step_tokens: float = 0.0

    @property
    def requests(self) -> int:
        """Requests the server finished in the window (the e2e histogram's count, else the largest)."""
        count = self.counts.get("e2e_s", max(self.counts.values(), default=0.0))
        return round(count)

    def mean(self, phase: str) -> float | None:
        count = self.counts.get(phase)
        return self.sums[phase] / count if count else None

    def __add__(self, other: ServerTime) -> ServerTime:
        phases = self.counts.keys() & other.counts.keys()
        return ServerTime(
            {p: self.sums[p] + other.sums[p] for p in phases},
            {p: self.counts[p] + other.counts[p] for p in phases},
            _add(self.counters, other.counters),
            _add(self.steps, other.steps),
            self.step_tokens + other.step_tokens,
        )

    def as_dict(self, in_flight: int | None = None) -> dict[str, Any]:
        """The result's `server_time`: requests counted and the mean seconds per request in each phase; the
        engine's steps when it exports them (`in_flight`, the requests each engine held, says which steps
        certainly carried prompt tokens)."""
        return {
            "requests": self.requests,
            **{phase: self.mean(phase) for phase in HISTOGRAMS},
            **self._engine(in_flight),
        }

    def _engine(self, in_flight: int | None) -> dict[str, Any]:
        steps = self.steps.get(math.inf)
        # vLLM registers the MFU counters whether or not --enable-mfu-metrics is on: 0 then means "off".
        engine: dict[str, Any] = {name: self.counters.get(name) or None for name in COUNTERS}
        engine["steps"] = round(steps) if steps is not None else None
        engine["tokens_per_step"] = self.step_tokens / steps if steps else None
        bound = min((b for b in self.steps if in_flight is not None and b >= in_flight), default=None)
        # Steps above the first bucket bound at or past the requests in flight computed more tokens than there
        # were requests to decode: they carried prefill. Steps below it may have too (a short chunk): "at least".
        mixed = steps - self.steps[bound] if steps is not None and bound is not None else None
        engine["steps_with_prefill_at_least"] = round(mixed) if mixed is not None else None
        engine["step_bound_tokens"] = bound if bound is not None and bound != math.inf else None
        return {"engine": engine if steps is not None or any(v is not None for v in self.counters.values()) else None}


def parse_snapshot(text: str) -> Snapshot | None:
    samples = prometheus.parse(text)
    totals = {}
    for phase, name in HISTOGRAMS.items():
        seconds = prometheus.total(samples, f"{name}_sum")
        count = prometheus.total(samples, f"{name}_count")
        if seconds is not None and count is not None:
            totals[phase] = (seconds, count)
    counters = {key: value for key, name in COUNTERS.items() if (value := prometheus.total(samples, name)) is not None}
    steps: dict[float, float] = {}
    for sample in samples:
        if sample.name == f"{STEP_TOKENS}_bucket" and "le" in sample.labels and not math.isnan(sample.value):
            bound = float(sample.labels["le"])  # "+Inf" reads as inf
            steps[bound] = steps.get(bound, 0.0) + sample.value
    step_tokens = prometheus.total(samples, f"{STEP_TOKENS}_sum") or 0.0
    return Snapshot(totals, counters, steps, step_tokens) if totals else None


def read_snapshot(session: requests.Session, target: Target) -> Snapshot | None:
    """/metrics now; None when it cannot be read or has none of the histograms."""
    try:
        reply = session.get(f"{target.base_url}/metrics", timeout=min(target.timeout, METRICS_TIMEOUT_S))
    except requests.RequestException:
        return None
    if reply.status_code != 200:
        return None
    return parse_snapshot(reply.text)


def between(before: Snapshot | None, after: Snapshot | None) -> ServerTime | None:
    """What the server added between the two snapshots; None when either is missing or a counter went
    backwards (the server restarted in between, so the difference means nothing)."""
    if before is None or after is None:
        return None
    phases = before.totals.keys() & after.totals.keys()
    sums = {p: after.totals[p][0] - before.totals[p][0] for p in phases}
    counts = {p: after.totals[p][1] - before.totals[p][1] for p in phases}
    if not phases or any(value < 0 for value in (*sums.values(), *counts.values())):
        return None
    counters = _less(after.counters, before.counters)
    steps = _less(after.steps, before.steps)
    if any(value < 0 for value in (*counters.values(), *steps.values())):
        counters, steps = {}, {}  # an engine counter went back on its own: leave the engine part out
    return ServerTime(sums, counts, counters, steps, max(0.0, after.step_tokens - before.step_tokens))


def _less(after: Mapping[Any, float], before: Mapping[Any, float]) -> dict[Any, float]:
    return {key: after[key] - before[key] for key in after.keys() & before.keys()}


def _add(one: Mapping[Any, float], other: Mapping[Any, float]) -> dict[Any, float]:
    return {key: one[key] + other[key] for key in one.keys() & other.keys()}


def pooled(times: Iterable[ServerTime | None]) -> ServerTime | None:
    """Several points' server time together (runs of a load, hosts of a fleet); None when any one lacks it, so
    a pooled breakdown never silently covers only part of the requests."""
    listed = list(times)
    if not listed or any(t is None for t in listed):
        return None
    total = listed[0]
    for one in listed[1:]:
        total = total + one  # type: ignore[operator]
    return total


def as_json(server_time: ServerTime | None, in_flight: int | None = None) -> dict[str, Any] | None:
    return server_time.as_dict(in_flight) if server_time is not None else None


class ServerTimeProbe:
    """Reads /metrics at a point's start (``start``, the driver's clock barrier) and end (``finish``), each time
    over a session of the target's own (auth, TLS, proxies), closed once read: nothing is left open if the point
    never ends normally."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._before: Snapshot | None = None

    def start(self) -> None:
        with configured_session(self.target) as session:
            self._before = read_snapshot(session, self.target)

    def finish(self, expected: int) -> ServerTime | None:
        """The server time since ``start``; waits up to SETTLE_S for the histograms to count ``expected``
        requests (the point's answered ones), then takes what is there. None when ``start`` found nothing
        (or never ran: the point was stopped during warm-up)."""
        if self._before is None:
            return None
        deadline = time.monotonic() + SETTLE_S
        with configured_session(self.target) as session:
            while True:
                found = between(self._before, read_snapshot(session, self.target))
                if found is None or found.requests >= expected or time.monotonic() >= deadline:
                    return found
                time.sleep(SETTLE_POLL_S)
