"""Reading a bench result (schema "lightonocr-validation/bench/1"): loads, series per host, intervals.

The charts, the HTML report and the comparison all read a result the same way, through here: a point's load
is its request rate in rate mode, else its concurrency; a load's figure is the runs' pooled figure from
`summary.loads` (or the mean of the runs where that is absent); the 95 % interval of a figure comes from the
host's `summary.intervals`. A result that is not of this shape raises
`ResultError` with one line that names the cause, for the task to print and exit 2.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = "lightonocr-validation/bench/1"
FLEET = "fleet"
# Shown where a figure does not apply (an en dash).
NO_VALUE = "\u2013"


class ResultError(ValueError):
    """A bench result that cannot be read: not a file, not JSON, or not of the schema."""


@dataclass(frozen=True, order=True)
class Load:
    """The load a point ran at: a concurrency (closed loop) or a request rate in requests/s (open loop)."""

    kind: str  # "concurrency" or "rate"
    value: float

    @property
    def label(self) -> str:
        number = f"{self.value:g}"
        return f"concurrency {number}" if self.kind == "concurrency" else f"{number} req/s"

    @property
    def key(self) -> str:
        """The form `summary.intervals` uses: "concurrency=4", "rate=2.5"."""
        return f"{self.kind}={self.value:g}"


@dataclass(frozen=True)
class Series:
    """One host's points (or the fleet's), grouped by load in increasing order; runs stay separate."""

    name: str
    by_load: dict[Load, list[Mapping[str, Any]]]
    intervals: Mapping[str, Any]
    # `summary.loads`: each load's figures over all its runs' requests pooled, when the writer gave them.
    pooled: Mapping[Load, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def loads(self) -> list[Load]:
        return sorted(self.by_load)

    def value(self, figure: str, load: Load) -> float | None:
        """The figure at this load: from the pooled runs when the result has them, else the mean of the runs'
        values (a p95 over every request beats a mean of p95s); None where no run has it."""
        if load in self.pooled:
            return figure_value(self.pooled[load], figure)
        values = [v for point in self.by_load.get(load, []) if (v := figure_value(point, figure)) is not None]
        return sum(values) / len(values) if values else None

    def interval(self, figure: str, load: Load) -> tuple[float, float] | None:
        """The 95 % interval of the figure at this load (runs > 1), as `summary.intervals` gives it."""
        return interval_for(self.intervals, figure, load)

    def requests(self, load: Load) -> list[Mapping[str, Any]]:
        """Every measured request at this load, all runs together."""
        return [r for point in self.by_load.get(load, []) for r in point.get("requests") or [] if isinstance(r, dict)]


def load_result(path: Path) -> dict[str, Any]:
    """Read and check a result file; ResultError (one line: the file and the cause) when it cannot be used."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ResultError(f"{path}: cannot read it ({_reason(error)})") from None
    try:
        result = json.loads(text)
    except json.JSONDecodeError as error:
        raise ResultError(f"{path}: not JSON ({error.msg} at line {error.lineno}); pass a bench result file") from None
    check_result(result, str(path))
    return result


def check_result(result: Any, source: str = "result") -> None:
    """Raise ResultError unless `result` has the shape every reader here relies on."""
    if not isinstance(result, dict):
        raise ResultError(f"{source}: not a bench result (a JSON object with schema {SCHEMA!r} is expected)")
    schema = result.get("schema")
    if schema != SCHEMA:
        raise ResultError(f"{source}: schema {schema!r} is not {SCHEMA!r}; pass a result written by `invoke bench`")
    hosts = result.get("hosts")
    if not isinstance(hosts, list) or not hosts:
        raise ResultError(f"{source}: no hosts in it (`hosts` must be a non-empty list)")
    groups = [(f"hosts[{i}]", host) for i, host in enumerate(hosts)]
    if result.get("fleet") is not None:
        groups.append((FLEET, result["fleet"]))
    for where, group in groups:
        if not isinstance(group, dict) or not isinstance(group.get("points"), list):
            raise ResultError(f"{source}: {where} has no `points` list")
        if where != FLEET and not isinstance(group.get("name"), str):
            raise ResultError(f"{source}: {where} has no `name`")
        for index, point in enumerate(group["points"]):
            if not isinstance(point, dict) or not isinstance(point.get("figures"), dict):
                raise ResultError(f"{source}: {where}.points[{index}] has no `figures` object")
            if load_of(point) is None:
                raise ResultError(f"{source}: {where}.points[{index}] has neither a concurrency nor a rate")


def load_of(point: Mapping[str, Any]) -> Load | None:
    """The rate when the point has one (its concurrency is then only a cap), else its concurrency."""
    for kind in ("rate", "concurrency"):
        value = _number(point.get(kind))
        if value is not None:
            return Load(kind, value)
    return None


def series_of(result: Mapping[str, Any]) -> list[Series]:
    """Every host's series in the result's order, then the fleet's when there is one."""
    groups = [(str(host.get("name")), host) for host in result.get("hosts") or []]
    if result.get("fleet"):
        groups.append((FLEET, result["fleet"]))
    series = []
    for name, group in groups:
        by_load: dict[Load, list[Mapping[str, Any]]] = {}
        for point in group.get("points") or []:
            load = load_of(point)
            if load is not None:
                by_load.setdefault(load, []).append(point)
        summary = group.get("summary") if isinstance(group.get("summary"), dict) else {}
        intervals = summary.get("intervals") if isinstance(summary.get("intervals"), dict) else {}
        pooled = {}
        for entry in summary.get("loads") or []:
            load = load_of(entry) if isinstance(entry, dict) else None
            if load is not None and isinstance(entry.get("figures"), dict):
                pooled[load] = entry
        series.append(Series(name, by_load, intervals, pooled))
    return series


def figure_value(point: Mapping[str, Any], figure: str) -> float | None:
    """A point's figure by dotted name ("pages_per_s", "e2e_s.p95"); None where absent, null or not finite."""
    value: Any = point.get("figures") or {}
    for part in figure.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return _number(value)


def interval_for(intervals: Mapping[str, Any], figure: str, load: Load) -> tuple[float, float] | None:
    """The interval of `figure` at `load`; a nested figure may be keyed "e2e_s.p95" or "e2e_s_p95"."""
    for name in dict.fromkeys((figure, figure.replace(".", "_"))):
        by_load = intervals.get(name)
        if not isinstance(by_load, dict):
            continue
        for key, bounds in by_load.items():
            if _load_key(key) == load and isinstance(bounds, list | tuple) and len(bounds) == 2:
                low, high = (_number(b) for b in bounds)
                if low is not None and high is not None:
                    return (min(low, high), max(low, high))
    return None


def runs_of(result: Mapping[str, Any]) -> int:
    runs = _number((result.get("settings") or {}).get("runs"))
    return int(runs) if runs else 1


def numbers(values: Iterable[Any]) -> list[float]:
    return [n for v in values if (n := _number(v)) is not None]


def format_number(value: float | None, unit: str = "", digits: int = 3) -> str:
    """A figure for people: 3 significant digits (whole numbers from 1000 on), NO_VALUE for none."""
    if value is None:
        return NO_VALUE
    if abs(value) >= 10**digits:
        return f"{value:,.0f}{unit}"
    return f"{value:.{digits}g}{unit}"


def _load_key(key: Any) -> Load | None:
    kind, _, value = str(key).partition("=")
    number = _number(_float(value))
    return Load(kind.strip(), number) if kind.strip() in ("concurrency", "rate") and number is not None else None


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or type(error).__name__
