"""Compare two bench results (`invoke bench --compare OLD.json`): each figure's change, judged against tolerances.

Figures are matched by host and load (concurrency, or rate). Each change gets a verdict:

- `worse`: the figure moved the wrong way by more than its tolerance: a regression; `Comparison.ok` is False.
- `better`: it moved the right way by more than its tolerance.
- `same`: the change is within the tolerance.
- `within noise`: beyond the tolerance, but both results have a 95 % interval from at least
  `MIN_RUNS_FOR_NOISE` runs at this load and the intervals overlap: the runs cannot tell the two apart, so it
  is not a regression.
- `n/a`: one side has no value (TTFT without streaming, say).

The tolerance of a figure is the larger of a relative part (of the old value) and an absolute part. The
defaults (`Tolerances()`): throughput (pages/s, output tokens/s, accurate goodput) 10 %; latency (end-to-end
p50/p95/p99, TTFT p50/p95) 15 % or 10 ms, whichever is larger; error rate and truncation rate 0 (any new
error or truncation is a regression); accuracy 0.02 (one page in fifty).

A baseline is a result file: a committed `invoke bench --json` output, or `make_baseline(result)` of one (the
same schema without the per-request lists, plus an optional `tolerances` object that replaces the defaults;
see `Tolerances.from_dict`). Hosts or loads present on one side only are listed in `Comparison.unmatched`,
settings that differ in `Comparison.notes`. Hosts match by name, or in order when no name is on both sides
(a host's name is often its URL, which changes from run to run). Input that cannot be compared raises
`ResultError` (one line).

With `--runs 2` a 95 % interval (Student's t, one degree of freedom) is about nine times the gap between the
two runs: a pages/s drop of 35-59 % fell inside the overlap in a real sweep. Such intervals would let a CI
gate wave real regressions through, so they are ignored: below three runs a change is judged against its
tolerance alone.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from lightonocr_validation.bench.readout import (
    FLEET,
    NO_VALUE,
    Load,
    ResultError,
    Series,
    check_result,
    format_number,
    load_of,
    load_result,
    runs_of,
    series_of,
)
from lightonocr_validation.bench.steady import ONE_WAVE
from lightonocr_validation.core.errors import shorten
from lightonocr_validation.core.files import write_text

# Intervals from fewer runs are too wide to mean anything (see the module docstring): ignored below this.
MIN_RUNS_FOR_NOISE = 3

# Settings and provenance that change what a figure means: a difference is noted beside the comparison.
COMPARABLE_SETTINGS = (
    "mode",
    "arrival",
    "requests_per_point",
    "duration_s",
    "max_tokens",
    "ignore_eos",
    "temperature",
    "top_p",
    "stream",
    "pages",
)
COMPARABLE_PROVENANCE = ("model", "weights", "samples_digest")


@dataclass(frozen=True)
class Tolerance:
    """How far a figure may move the wrong way before it is a regression: max(relative * |old|, absolute)."""

    relative: float = 0.0
    absolute: float = 0.0

    def allowed(self, old: float) -> float:
        return max(self.relative * abs(old), self.absolute)

    def describe(self, unit: str) -> str:
        parts = [f"{self.relative:.0%}"] if self.relative else []
        if self.absolute or not parts:
            parts.append(f"{self.absolute:g}{unit}")
        return " or ".join(parts)


@dataclass(frozen=True)
class Tolerances:
    """Tolerances per kind of figure; the defaults are the documented ones (module docstring)."""

    throughput: Tolerance = Tolerance(relative=0.10)
    latency: Tolerance = Tolerance(relative=0.15, absolute=0.010)
    errors: Tolerance = Tolerance()
    truncation: Tolerance = Tolerance()
    accuracy: Tolerance = Tolerance(absolute=0.02)

    @classmethod
    def from_dict(cls, data: Any) -> Tolerances:
        """{"latency": {"relative": 0.2, "absolute": 0.05}, ...}; kinds left out keep their default."""
        kinds = {f.name for f in fields(cls)}
        if not isinstance(data, Mapping) or set(data) - kinds:
            unknown = sorted(set(data) - kinds) if isinstance(data, Mapping) else data
            raise ResultError(f"tolerances: unknown kind(s) {unknown!r}; known: {', '.join(sorted(kinds))}")
        chosen = {}
        for kind, value in data.items():
            if not isinstance(value, Mapping) or set(value) - {"relative", "absolute"}:
                raise ResultError(f"tolerances.{kind}: expected {{'relative': number, 'absolute': number}}")
            numbers = dict(value)
            if not all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in numbers.values()):
                raise ResultError(f"tolerances.{kind}: relative and absolute must be numbers >= 0")
            chosen[kind] = Tolerance(**{k: float(v) for k, v in numbers.items()})
        return cls(**chosen)

    def to_dict(self) -> dict[str, dict[str, float]]:
        return asdict(self)


class Better(enum.Enum):
    HIGHER = "higher"
    LOWER = "lower"


@dataclass(frozen=True)
class Figure:
    label: str
    path: str  # dotted name in `figures`
    kind: str  # a field of Tolerances
    better: Better
    unit: str = ""


FIGURES: Sequence[Figure] = (
    Figure("pages/s", "pages_per_s", "throughput", Better.HIGHER),
    # The steady state's (steady.py): null for a point of one wave, so only steady points compare on it.
    Figure("steady pages/s", "steady.pages_per_s", "throughput", Better.HIGHER),
    Figure("output tokens/s", "output_tokens_per_s", "throughput", Better.HIGHER),
    Figure("e2e p50", "e2e_s.p50", "latency", Better.LOWER, " s"),
    Figure("e2e p95", "e2e_s.p95", "latency", Better.LOWER, " s"),
    Figure("e2e p99", "e2e_s.p99", "latency", Better.LOWER, " s"),
    Figure("TTFT p50", "ttft_s.p50", "latency", Better.LOWER, " s"),
    Figure("TTFT p95", "ttft_s.p95", "latency", Better.LOWER, " s"),
    Figure("error rate", "error_rate", "errors", Better.LOWER),
    Figure("truncation rate", "truncation_rate", "truncation", Better.LOWER),
    Figure("accuracy", "accuracy", "accuracy", Better.HIGHER),
    Figure("accurate goodput", "accurate_goodput_pages_per_s", "throughput", Better.HIGHER),
)


class Verdict(enum.Enum):
    BETTER = "better"
    SAME = "same"
    NOISE = "within noise"
    WORSE = "worse"
    NOT_APPLICABLE = "n/a"


@dataclass(frozen=True)
class Row:
    """One figure of one host at one load, old against new."""

    host: str
    load: Load
    figure: Figure
    old: float | None
    new: float | None
    verdict: Verdict
    allowed: float | None  # the tolerance in the figure's unit, at this old value

    @property
    def change(self) -> float | None:
        return None if self.old is None or self.new is None else self.new - self.old

    @property
    def relative(self) -> float | None:
        """The change as a fraction of the old value; None when the old value is 0 or missing."""
        return None if self.change is None or not self.old else self.change / abs(self.old)


@dataclass
class Comparison:
    rows: list[Row]
    unmatched: list[str] = field(default_factory=list)  # hosts or loads on one side only, as sentences
    notes: list[str] = field(default_factory=list)  # settings that differ between the two
    tolerances: Tolerances = field(default_factory=Tolerances)

    @property
    def regressions(self) -> list[Row]:
        return [row for row in self.rows if row.verdict is Verdict.WORSE]

    @property
    def ok(self) -> bool:
        """No figure got worse beyond its tolerance (and outside the noise)."""
        return not self.regressions


def compare_results(old: Mapping[str, Any], new: Mapping[str, Any], tolerances: Tolerances | None = None) -> Comparison:
    """Compare `new` with `old` (the baseline) figure by figure; see the module docstring for the verdicts.

    `tolerances` None takes the baseline's own `tolerances` object when it has one, else the defaults.
    Raises ResultError when either is not a bench result or they have no (host, load) in common.
    """
    check_result(old, "the baseline")
    check_result(new, "the new result")
    if tolerances is None:
        tolerances = Tolerances.from_dict(old["tolerances"]) if old.get("tolerances") else Tolerances()
    comparison = Comparison(rows=[], tolerances=tolerances, notes=_setting_notes(old, new))
    intervals_count = runs_of(old) >= MIN_RUNS_FOR_NOISE and runs_of(new) >= MIN_RUNS_FOR_NOISE
    for old_series, new_series in _matched_series(old, new, comparison):
        old_loads, new_loads = set(old_series.loads), set(new_series.loads)
        for load in sorted(old_loads - new_loads):
            comparison.unmatched.append(f"{old_series.name} at {load.label}: in the baseline only")
        for load in sorted(new_loads - old_loads):
            comparison.unmatched.append(f"{new_series.name} at {load.label}: in the new result only")
        for load in sorted(old_loads & new_loads):
            comparison.rows += [
                _row(figure, old_series, new_series, load, tolerances, intervals_count) for figure in FIGURES
            ]
            comparison.notes += _wave_notes(old_series, new_series, load)
    comparison.rows += _scaling_rows(old, new, tolerances)
    if not comparison.rows:
        raise ResultError(
            "the baseline and the new result have no host and load in common ("
            + "; ".join(comparison.unmatched)
            + "): run the bench at the baseline's loads"
        )
    return comparison


def render_comparison(comparison: Comparison, only_changes: bool = False) -> Group:
    """A rich table of every figure (host, load, figure, old, new, change, tolerance, verdict), then what did
    not match, the settings that differ, and one closing line: no regression, or how many and which.

    `only_changes` leaves out the rows judged `same` or `n/a` (a long sweep has hundreds), and says how many."""
    table = Table(title="bench: this run against the baseline", show_lines=False)
    for name, justify in (
        ("host", "left"),
        ("load", "left"),
        ("figure", "left"),
        ("baseline", "right"),
        ("now", "right"),
        ("change", "right"),
        ("tolerance", "right"),
        ("verdict", "left"),
    ):
        table.add_column(name, justify=justify, no_wrap=name in ("figure", "verdict"))
    shown = [r for r in comparison.rows if not only_changes or r.verdict not in (Verdict.SAME, Verdict.NOT_APPLICABLE)]
    if len(shown) < len(comparison.rows):
        table.caption = f"{len(comparison.rows) - len(shown)} figures the same or not comparable are not shown"
    for row in shown:
        unit = row.figure.unit
        table.add_row(
            row.host,
            row.load.label,
            row.figure.label,
            format_number(row.old, unit),
            format_number(row.new, unit),
            _change_text(row),
            getattr(comparison.tolerances, row.figure.kind).describe(unit),
            Text(row.verdict.value, style=VERDICT_STYLE[row.verdict]),
        )
    parts: list[Any] = [table]
    parts += [Text(f"not compared: {line}", style="yellow") for line in comparison.unmatched]
    parts += [Text(f"note: {line}", style="yellow") for line in comparison.notes]
    regressions = comparison.regressions
    if regressions:
        named = ", ".join(f"{r.host} {r.load.label} {r.figure.label} {_change_text(r)}" for r in regressions[:5])
        more = f" and {len(regressions) - 5} more" if len(regressions) > 5 else ""
        parts.append(Text(f"{len(regressions)} regression(s) against the baseline: {named}{more}", style="bold red"))
    else:
        parts.append(Text(f"no regression against the baseline ({len(comparison.rows)} figures)", style="bold green"))
    return Group(*parts)


VERDICT_STYLE = {
    Verdict.BETTER: "green",
    Verdict.SAME: "",
    Verdict.NOISE: "yellow",
    Verdict.WORSE: "bold red",
    Verdict.NOT_APPLICABLE: "dim",
}


def load_baseline(path: Path) -> dict[str, Any]:
    """Read a baseline (a result file, with or without `tolerances`); ResultError (one line) when unusable."""
    baseline = load_result(path)
    if baseline.get("tolerances"):
        Tolerances.from_dict(baseline["tolerances"])  # fail now, naming the file, rather than mid-comparison
    return baseline


def make_baseline(result: Mapping[str, Any], tolerances: Tolerances | None = None) -> dict[str, Any]:
    """The result without its per-request lists (small enough to commit), with the tolerances to apply."""
    check_result(result)
    baseline = json.loads(json.dumps(result))
    for group in [*baseline["hosts"], *([baseline["fleet"]] if baseline.get("fleet") else [])]:
        for point in group["points"]:
            point.pop("requests", None)
    if tolerances is not None:
        baseline["tolerances"] = tolerances.to_dict()
    return baseline


def write_baseline(result: Mapping[str, Any], path: Path, tolerances: Tolerances | None = None) -> Path:
    write_text(Path(path), json.dumps(make_baseline(result, tolerances), indent=2, allow_nan=False) + "\n")
    return Path(path)


def _wave_notes(old: Series, new: Series, load: Load) -> list[str]:
    """A point of one wave on either side is said: its figures count the ramps, not a steady state."""
    notes = []
    for side, series in (("the baseline's", old), ("this run's", new)):
        states = {figure_state(point) for point in series.by_load.get(load, [])}
        if ONE_WAVE in states:
            notes.append(
                f"{new.name} at {load.label}: {side} point is {ONE_WAVE} (its ramps counted): "
                "compare steady-state runs (--waves 3 or more)"
            )
    return notes


def figure_state(point: Mapping[str, Any]) -> str | None:
    steady = (point.get("figures") or {}).get("steady")
    return steady.get("state") if isinstance(steady, dict) else None


def _row(figure: Figure, old: Series, new: Series, load: Load, tolerances: Tolerances, intervals_count: bool) -> Row:
    before, after = old.value(figure.path, load), new.value(figure.path, load)
    noise = intervals_count and _overlap(old.interval(figure.path, load), new.interval(figure.path, load))
    return _judged(new.name, load, figure, before, after, tolerances, noise)


def _judged(
    host: str,
    load: Load,
    figure: Figure,
    before: float | None,
    after: float | None,
    tolerances: Tolerances,
    noise: bool,
) -> Row:
    if before is None or after is None:
        return Row(host, load, figure, before, after, Verdict.NOT_APPLICABLE, None)
    allowed = getattr(tolerances, figure.kind).allowed(before)
    worse_by = (before - after) if figure.better is Better.HIGHER else (after - before)
    # A hair of slack: 0.1 + 0.2 style rounding must not turn "exactly at the tolerance" into a regression.
    slack = 1e-9 * max(1.0, abs(before))
    if abs(worse_by) <= allowed + slack:
        verdict = Verdict.SAME
    elif noise:
        verdict = Verdict.NOISE
    else:
        verdict = Verdict.WORSE if worse_by > 0 else Verdict.BETTER
    return Row(host, load, figure, before, after, verdict, allowed)


SCALING = Figure("scaling efficiency", "efficiency", "throughput", Better.HIGHER)


def _scaling_rows(old: Mapping[str, Any], new: Mapping[str, Any], tolerances: Tolerances) -> list[Row]:
    """Both results measured a fleet against one GPU (`scaling`): its efficiency at each load per GPU they share,
    judged as a throughput (the fleet's pages/s and one GPU's are compared as figures of their own already)."""
    sides = [_efficiencies(result) for result in (old, new)]
    return [
        _judged("scaling", load, SCALING, sides[0][load], sides[1][load], tolerances, False)
        for load in sorted(set(sides[0]) & set(sides[1]))
    ]


def _efficiencies(result: Mapping[str, Any]) -> dict[Load, float | None]:
    block = result.get("scaling")
    if not isinstance(block, dict):
        return {}
    found = {}
    for entry in block.get("loads") or []:
        load = load_of(entry) if isinstance(entry, dict) else None
        if load is not None:
            value = entry.get("efficiency")
            found[load] = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    return found


def _overlap(first: tuple[float, float] | None, second: tuple[float, float] | None) -> bool:
    return first is not None and second is not None and first[0] <= second[1] and second[0] <= first[1]


def _matched_series(
    old: Mapping[str, Any], new: Mapping[str, Any], comparison: Comparison
) -> list[tuple[Series, Series]]:
    """Pairs by host name (the fleet with the fleet). When no name is on both sides and both have as many
    hosts, they pair in order: a baseline taken on other machines (or other ports: a host's name is often
    its URL) still applies; each such pairing is noted."""
    olds = {s.name: s for s in series_of(old)}
    news = {s.name: s for s in series_of(new)}
    old_hosts = [n for n in olds if n != FLEET]
    new_hosts = [n for n in news if n != FLEET]
    if len(old_hosts) == len(new_hosts) and not set(old_hosts) & set(new_hosts):
        for old_name, new_name in zip(old_hosts, new_hosts, strict=True):
            comparison.notes.append(f"host {new_name!r} compared with the baseline's host {old_name!r}")
            olds[new_name] = olds.pop(old_name)
    pairs = [(olds[name], news[name]) for name in news if name in olds]
    comparison.unmatched += [f"{name}: in the baseline only" for name in olds if name not in news]
    comparison.unmatched += [f"{name}: in the new result only" for name in news if name not in olds]
    return pairs


def _setting_notes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    notes = []
    for block, keys in (("settings", COMPARABLE_SETTINGS), ("provenance", COMPARABLE_PROVENANCE)):
        before, after = old.get(block) or {}, new.get(block) or {}
        for key in keys:
            if key in before and key in after and before[key] != after[key]:
                notes.append(
                    f"{key} differs: {_short(before[key])} in the baseline, {_short(after[key])} now "
                    "(the figures may not be comparable)"
                )
    return notes


def _change_text(row: Row) -> str:
    if row.change is None:
        return NO_VALUE
    if row.relative is not None and math.isfinite(row.relative):
        return f"{row.relative:+.1%}"
    return f"{row.change:+.3g}{row.figure.unit}"


def _short(value: Any) -> str:
    return shorten(json.dumps(value), 40)
