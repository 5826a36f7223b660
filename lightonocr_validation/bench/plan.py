"""Which loads to measure: one fixed load, a concurrency sweep that stops where pages/s stops rising, and the
search for the highest load that meets a latency objective; each load repeated `runs` times.

The decisions read pooled figures of a load (every host's and every run's requests together), so a fleet is
swept as one: every host gets the same load at the same moment, as a load balancer in front of it would.
Measuring is a function handed in, so these rules are tested without a server.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from lightonocr_validation.bench.slo import Objective
from lightonocr_validation.bench.steady import Lane, headline, steady_block
from lightonocr_validation.load.figures import figures
from lightonocr_validation.load.records import Load, PointRun, RequestRecord

# A sweep doubles the concurrency while pages/s rises by at least this share.
MIN_GAIN = 0.05
# The SLO search halves the gap between the last load that met the objective and the first that did not at
# most this many times: concurrency 64 -> 128 is settled to within 8 requests in flight.
MAX_BISECTIONS = 4


@dataclass
class Step:
    """One load, measured on every host ``runs`` times: host label -> its runs, in order."""

    load: Load
    runs: dict[str, list[PointRun]] = field(default_factory=dict)
    stopped_because: str = ""

    def pooled(self) -> tuple[list[RequestRecord], float, float]:
        """Every host's and run's records, the fleet's duration (hosts run at once: the longest host's, summed
        over runs) and the client's CPU time."""
        records = [r for runs in self.runs.values() for run in runs for r in run.records]
        count = max((len(runs) for runs in self.runs.values()), default=0)
        duration = sum(
            max((runs[n].duration_s for runs in self.runs.values() if n < len(runs)), default=0.0) for n in range(count)
        )
        cpu = sum(
            max((runs[n].client_cpu_s for runs in self.runs.values() if n < len(runs)), default=0.0)
            for n in range(count)
        )
        return records, duration, cpu

    def lanes_by_run(self) -> list[list[Lane]]:
        """Each run with every host's run of that number (they ran at the same moment, on one clock)."""
        count = max((len(runs) for runs in self.runs.values()), default=0)
        by_run = [[runs[n] for runs in self.runs.values() if n < len(runs)] for n in range(count)]
        return [[(run.records, run.load.concurrency) for run in runs] for runs in by_run]

    def figures(self) -> dict[str, object]:
        """The pooled figures with the steady state (steady.py) the sweep's decisions read."""
        records, duration, _ = self.pooled()
        seen = figures(records, duration, graded=False)
        seen["steady"] = steady_block(self.lanes_by_run()) if self.load.rate is None else None
        return seen


MeasureLoad = Callable[[Load], Step]


@dataclass(frozen=True)
class Sweep:
    max_concurrency: int = 256
    min_gain: float = MIN_GAIN
    objective: Objective | None = None


def run_sweep(sweep: Sweep, measure: MeasureLoad, *, start: int = 1) -> list[Step]:
    """Concurrency start, 2*start, 4*start, ... until pages/s rises by less than ``min_gain``, a request fails,
    the objective is missed or ``max_concurrency`` is passed; then, with an objective, bisect between the last
    load that met it and the first that did not."""
    steps: list[Step] = []
    previous: float | None = None
    met: int | None = None
    missed: int | None = None
    concurrency = start
    while concurrency <= sweep.max_concurrency:
        step = measure(Load(concurrency))
        steps.append(step)
        seen = step.figures()
        pages_per_s = headline(seen)[0] or 0.0  # the steady state where the point has one
        if sweep.objective is not None:
            if sweep.objective.met_by(seen):
                met = concurrency
            else:
                missed = concurrency
                step.stopped_because = f"the objective {sweep.objective.text} was missed"
                break
        if seen["errors"]:
            step.stopped_because = f"{seen['errors']} request(s) failed"
            break
        if previous is not None and pages_per_s < previous * (1 + sweep.min_gain):
            step.stopped_because = f"pages/s rose less than {sweep.min_gain:.0%}"
            break
        previous = pages_per_s
        concurrency *= 2
    else:
        steps[-1].stopped_because = f"the largest concurrency, {sweep.max_concurrency}, was reached"
    if sweep.objective is not None and met is not None and missed is not None:
        steps += bisect(sweep.objective, measure, met, missed)
    return steps


def bisect(objective: Objective, measure: MeasureLoad, met: int, missed: int) -> list[Step]:
    steps = []
    for _ in range(MAX_BISECTIONS):
        if missed - met <= 1:
            break
        middle = (met + missed) // 2
        step = measure(Load(middle))
        step.stopped_because = "SLO search"
        steps.append(step)
        if objective.met_by(step.figures()):
            met = middle
        else:
            missed = middle
    return steps


def slo_summary(objective: Objective, loads: Sequence[tuple[Load, Mapping[str, object]]]) -> dict[str, object]:
    """The highest load whose figures meet ``objective``, and the pages/s sustained there (null when none)."""
    meeting = [(load, seen) for load, seen in loads if objective.met_by(seen)]
    if not meeting:
        return {"objective": objective.text, "met_at": None, "pages_per_s": None}
    load, seen = max(meeting, key=lambda item: (item[0].rate or 0.0, item[0].concurrency))
    where = {"rate": load.rate} if load.rate is not None else {"concurrency": load.concurrency}
    return {"objective": objective.text, "met_at": where, "pages_per_s": seen["pages_per_s"]}
