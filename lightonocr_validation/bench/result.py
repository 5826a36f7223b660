"""The result JSON (schema "lightonocr-validation/bench/1", BENCH-CONTRACT.md): every measured request with its
timings, the figures of each point, per host and for the fleet, and the provenance the check reports carry.

Written whole or not at all, through the same redaction as the check reports: the targets' API keys and
credential headers never reach the file, and URLs lose their user:password part.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lightonocr_validation.bench.plan import Step, slo_summary
from lightonocr_validation.bench.slo import Objective
from lightonocr_validation.bench.steady import Lane, headline, steady_block
from lightonocr_validation.core.files import write_text
from lightonocr_validation.core.serialize import iso_utc, jsonable, public_url, redact, render_json, target_secrets
from lightonocr_validation.load.figures import Economics, figures, interval95, pick
from lightonocr_validation.load.records import Load, PointRun, RequestRecord
from lightonocr_validation.load.server_time import ServerTime, as_json
from lightonocr_validation.load.server_time import pooled as pooled_server_time
from lightonocr_validation.vllm.client import Target

SCHEMA = "lightonocr-validation/bench/1"
# A point's records, the requests it kept in flight and its headline pages/s -> its `limit` object (limits.py).
Limit = Callable[[Sequence[RequestRecord], int, float | None], dict[str, Any] | None]
# Figures given a 95 % interval over runs (with --runs 2 or more).
INTERVAL_FIGURES = (
    "pages_per_s",
    "output_tokens_per_s",
    "e2e_s.p50",
    "e2e_s.p95",
    "e2e_s.p99",
    "ttft_s.p50",
    "itl_s.p50",
    "error_rate",
    "truncation_rate",
    "accuracy",
    "accurate_goodput_pages_per_s",
    "cost_per_1000_pages",
)


def request_dict(record: RequestRecord) -> dict[str, Any]:
    exchange = record.exchange
    return {
        "page": record.page.label,
        "start_s": record.start_s,
        "scheduled_s": record.scheduled_s,
        "e2e_s": exchange.e2e_s,
        "ttft_s": exchange.ttft_s,
        "itl_s": record.itl_s,
        "output_tokens": exchange.output_tokens,
        "prompt_tokens": exchange.prompt_tokens,
        "finish_reason": exchange.finish_reason,
        "status": exchange.status,
        "error": exchange.error,
        "accurate": record.accurate,
        "cer": record.cer,
        "client_s": exchange.client_s,
    }


def _where(load: Load) -> dict[str, Any]:
    return {"concurrency": load.concurrency, "rate": load.rate}


def _key(load: Load) -> str:
    return load.label


class ResultBuilder:
    """Figures for every point, per host and for the fleet, with the options that shape them."""

    def __init__(
        self,
        *,
        graded: bool,
        economics: Callable[[int], Economics],
        objective: Objective | None,
        references: Mapping[str, PointRun | None],
        limit: Limit | None = None,
    ) -> None:
        self.graded = graded
        self.economics = economics  # servers -> Economics
        self.objective = objective
        self.references = references
        self.limit = limit

    def reference_accuracy(self, host: str, steps: Sequence[Step]) -> float | None:
        """Accuracy at concurrency 1: the sweep's first load, else the reference pass sent before the points."""
        if not self.graded:
            return None
        first = next((s for s in steps if s.load.concurrency == 1 and s.load.rate is None), None)
        records = [r for run in first.runs.get(host, []) for r in run.records] if first else []
        if not records and self.references.get(host) is not None:
            records = self.references[host].records  # type: ignore[union-attr]
        judged = [r for r in records if r.ok and r.accurate is not None]
        return sum(bool(r.accurate) for r in judged) / len(judged) if judged else None

    def point_figures(
        self, records: Sequence[RequestRecord], duration: float, cpu: float, reference: float | None, servers: int
    ) -> dict[str, Any]:
        return figures(
            records,
            duration,
            graded=self.graded,
            reference_accuracy=reference,
            economics=self.economics(servers),
            client_cpu_s=cpu,
        )

    def host(self, target: Target, steps: Sequence[Step]) -> dict[str, Any]:
        label = target.label
        reference = self.reference_accuracy(label, steps)
        points = []
        loads: list[tuple[Load, dict[str, Any], list[dict[str, Any]]]] = []
        for step in steps:
            runs = step.runs.get(label, [])
            per_run = []
            for run in runs:
                seen = self.point_figures(run.records, run.duration_s, run.client_cpu_s, reference, 1)
                _add_steady(seen, step.load, [[(run.records, run.load.concurrency)]])
                self._add_limit(seen, run.records, run.load)
                per_run.append(seen)
                where = (run.load, run.run, run.started, run.duration_s)
                points.append(self._point(*where, seen, run.records, step, server_time=run.server_time))
            records = [r for run in runs for r in run.records]
            pooled = self.point_figures(
                records, sum(r.duration_s for r in runs), sum(r.client_cpu_s for r in runs), reference, 1
            )
            _add_steady(pooled, step.load, [[(run.records, run.load.concurrency)] for run in runs])
            self._add_limit(pooled, records, runs[0].load if runs else step.load)
            loads.append((step.load, pooled, per_run))
        host = {
            "name": label,
            "url": public_url(target.base_url),
            "reference": self._reference(label),
            "points": points,
            "summary": self._summary(loads, _stopped(steps)),
        }
        _add_server_time(host["summary"], [[run.server_time for run in step.runs.get(label, [])] for step in steps])
        return host

    def _add_limit(self, seen: dict[str, Any], records: Sequence[RequestRecord], load: Load) -> None:
        """The physical limit for this point's pages and answers (limits.py), a host's only: a fleet's total
        is N cards' worth, and its cards may differ."""
        if self.limit is not None and load.rate is None:
            seen["limit"] = self.limit(records, load.concurrency, headline(seen)[0])

    def fleet(self, targets: Sequence[Target], steps: Sequence[Step]) -> dict[str, Any]:
        """Totals over the hosts at each load: they ran at the same moment, so a run lasts as long as its
        slowest host, and pages/s is every host's pages over that."""
        points = []
        loads = []
        servers = len(targets)
        for step in steps:
            per_run = []
            count = max((len(runs) for runs in step.runs.values()), default=0)
            for number in range(count):
                runs = [runs[number] for runs in step.runs.values() if number < len(runs)]
                records = [r for run in runs for r in run.records]
                duration = max(run.duration_s for run in runs)
                cpu = max(run.client_cpu_s for run in runs)
                seen = self.point_figures(records, duration, cpu, None, servers)
                _add_steady(seen, step.load, [[(run.records, run.load.concurrency) for run in runs]])
                per_run.append(seen)
                started = min(run.started for run in runs)
                server_time = pooled_server_time(run.server_time for run in runs)
                points.append(self._point(step.load, number + 1, started, duration, seen, records, step, server_time))
            records, duration, cpu = step.pooled()
            pooled = self.point_figures(records, duration, cpu, None, servers)
            _add_steady(pooled, step.load, step.lanes_by_run())
            loads.append((step.load, pooled, per_run))
        summary = self._summary(loads, _stopped(steps))
        _add_server_time(summary, [[run.server_time for runs in s.runs.values() for run in runs] for s in steps])
        return {"hosts": [t.label for t in targets], "points": points, "summary": summary}

    def _point(
        self,
        load: Load,
        run: int,
        started: float,
        duration: float,
        seen: dict[str, Any],
        records: Sequence[RequestRecord],
        step: Step,
        server_time: ServerTime | None = None,
    ) -> dict[str, Any]:
        return {
            **_where(load),
            "run": run,
            "started": iso_utc(started),
            "duration_s": duration,
            "note": step.stopped_because or None,
            "figures": seen,
            "server_time": as_json(server_time, load.concurrency if load.rate is None else None),
            "requests": [request_dict(r) for r in records],
        }

    def _reference(self, host: str) -> dict[str, Any] | None:
        run = self.references.get(host)
        if run is None:
            return None
        judged = [r for r in run.records if r.ok and r.accurate is not None]
        return {
            "concurrency": 1,
            "accuracy": sum(bool(r.accurate) for r in judged) / len(judged) if judged else None,
            "requests": [request_dict(r) for r in run.records],
        }

    def _summary(
        self, loads: Sequence[tuple[Load, dict[str, Any], list[dict[str, Any]]]], stopped: str = ""
    ) -> dict[str, Any]:
        best = max(loads, key=lambda item: headline(item[1])[0] or 0.0, default=None)
        summary: dict[str, Any] = {
            # The steady-state rate where the load has one, else the whole load's marked "one wave".
            "best_pages_per_s": {**_where(best[0]), "pages_per_s": headline(best[1])[0], "mark": headline(best[1])[1]}
            if best
            else None,
            "loads": [{**_where(load), "figures": pooled} for load, pooled, _ in loads],
            "slo": slo_summary(self.objective, [(load, pooled) for load, pooled, _ in loads])
            if self.objective
            else None,
            "intervals": {},
            "stopped_because": stopped or None,
        }
        for name in INTERVAL_FIGURES:
            by_load = {}
            for load, _, per_run in loads:
                values = [v for v in (pick(seen, name) for seen in per_run) if v is not None]
                span = interval95(values)
                if span is not None:
                    # Every figure here is a count, a rate or a time: an interval below 0 is Student's t
                    # overshooting on few runs, not a possible value.
                    by_load[_key(load)] = [max(0.0, span[0]), span[1]]
            if by_load:
                summary["intervals"][name] = by_load
        return summary


def _add_steady(seen: dict[str, Any], load: Load, runs: Sequence[Sequence[Lane]]) -> None:
    """The point's steady state (steady.py) beside its whole-point figures; null for a rate-mode point."""
    seen["steady"] = steady_block(runs) if load.rate is None else None


def _add_server_time(summary: dict[str, Any], per_load: Sequence[Sequence[ServerTime | None]]) -> None:
    """Each summary load's server time, its runs (and hosts) pooled; the loads are in the steps' order."""
    for load, times in zip(summary["loads"], per_load, strict=True):
        in_flight = load["concurrency"] if load.get("rate") is None else None
        load["server_time"] = as_json(pooled_server_time(times), in_flight)


def _stopped(steps: Sequence[Step]) -> str:
    """Why a sweep ended where it did (the last reason given before the SLO search, if any)."""
    reasons = [
        f"{s.load.label}: {s.stopped_because}" for s in steps if s.stopped_because and s.stopped_because != "SLO search"
    ]
    return reasons[-1] if reasons else ""


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def assemble(
    *,
    settings: Mapping[str, Any],
    provenance: Mapping[str, Any],
    hosts: Sequence[dict[str, Any]],
    fleet: dict[str, Any] | None,
    targets: Sequence[Target],
    scaling: dict[str, Any] | None = None,
    stopped: str | None = None,
) -> dict[str, Any]:
    """``stopped``: why the run ended before its plan ("deadline", "interrupted"); the result is then partial:
    the points hold the requests that finished, the loads not reached are absent."""
    result = {
        "schema": SCHEMA,
        "created": now_iso(),
        "partial": stopped is not None,
        "stopped": stopped,
        "provenance": dict(provenance),
        "settings": dict(settings),
        "hosts": list(hosts),
        "fleet": fleet,
        # A fleet against one GPU (bench/scaling.py): null unless --replicas N or --gpus N gave both figures.
        "scaling": scaling,
    }
    secrets = [secret for target in targets for secret in target_secrets(target)]
    return redact(jsonable(result), secrets)


def write_result(path: Path, result: Mapping[str, Any]) -> None:
    write_text(path, render_json(result))
