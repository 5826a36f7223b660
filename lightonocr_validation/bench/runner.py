"""Measure a load on every host at once, `runs` times, and grade every answer after its point's clock stopped.

Grading is CPU work (normalising text, edit distances); done while requests are in flight it would steal the
client's time and slow the figures, so a point's answers are graded once its last request is back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from lightonocr_validation.accuracy.engine import grade
from lightonocr_validation.bench.plan import Step
from lightonocr_validation.core.cancel import SERVER_GONE, CancelToken
from lightonocr_validation.grounding.judge import judge
from lightonocr_validation.load.driver import Bodies, Budget, OnRecord, run_point
from lightonocr_validation.load.pages import BenchPage
from lightonocr_validation.load.records import Load, PointRun, RequestRecord
from lightonocr_validation.load.server_time import ServerTimeProbe
from lightonocr_validation.vllm.client import Target
from lightonocr_validation.vllm.liveness import HostWatch


def grade_records(records: Sequence[RequestRecord], grounding: bool = False) -> None:
    """Mark each answered page that has ground truth as accurate or not (its sample's thresholds) with its CER.
    A grounding answer is accurate when it passes every grounding judgement (format, boxes, labels, text)."""
    for record in records:
        sample = record.page.sample
        if not record.ok or sample is None:
            continue
        if grounding:
            judged = judge(record.exchange.text, sample, record.page.page)
            record.accurate, record.cer = judged.passed, judged.text.cer
            continue
        verdict = grade(record.exchange.text, sample, record.page.page)
        record.accurate, record.cer = verdict.passed, verdict.cer


@dataclass
class Bench:
    targets: Sequence[Target]
    pages: Sequence[BenchPage]
    bodies: Bodies
    budget: Budget
    stream: bool
    runs: int = 1
    graded: bool = True
    grounding: bool = False  # the requests ask for grounding: answers are judged as grounding answers
    load_defaults: Load = field(default_factory=lambda: Load(1))  # arrival and seed of rate-mode loads
    on_record: OnRecord = lambda host, load, record: None
    on_point: Callable[[PointRun], None] = lambda point: None  # after each point, for the display
    # Stopped by the deadline or Ctrl-C: the point in progress keeps what finished, and `measure` then raises
    # Cancelled; `measured` and `references` hold what there is to report.
    stop: CancelToken = field(default_factory=CancelToken)
    measured: list[Step] = field(default_factory=list)
    references: dict[str, PointRun] = field(default_factory=dict)
    # Each host's liveness (liveness.py), across its points: a host judged gone is sent nothing more, and when
    # every host is, the run stops (reason SERVER_GONE) with what finished.
    watches: dict[str, HostWatch] = field(default_factory=dict)
    model: str = ""  # the served model's id, for the watches' one-token probe
    # Hosts not watched: a replica already down before the run, whose requests count as errors (bench/servers.py).
    unwatched: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for target in self.targets:
            if target.label not in self.unwatched:
                # It answered /v1/models before the run (bench/servers.py's ask_server): a failure now is mid-run.
                watch = HostWatch(target, self.model, self._stop_when_all_gone, answered=True)
                self.watches.setdefault(target.label, watch)

    def _stop_when_all_gone(self) -> None:
        if all(watch.gone for watch in self.watches.values()):
            self.stop.stop(SERVER_GONE)

    def measure(self, load: Load) -> Step:
        self.stop.raise_if_stopped()
        load = replace(load, arrival=self.load_defaults.arrival, seed=self.load_defaults.seed)
        step = Step(load, {target.label: [] for target in self.targets})
        self.measured.append(step)
        for run in range(1, self.runs + 1):
            for point in self._all_hosts(load, self.budget, run):
                step.runs[point.host].append(point)
            self.stop.raise_if_stopped()
        return step

    def reference(self) -> dict[str, PointRun]:
        """Each page once, one at a time, on every host: the accuracy the loaded points are compared with."""
        budget = Budget(requests=len(self.pages), warmup=0)
        self.references = {point.host: point for point in self._all_hosts(Load(1), budget, 0, report=False)}
        self.stop.raise_if_stopped()
        return self.references

    def _all_hosts(self, load: Load, budget: Budget, run: int, report: bool = True) -> list[PointRun]:
        def one(target: Target) -> PointRun:
            share = (list(self.targets).index(target), len(self.targets))  # rate mode: round-robin arrivals
            probe = ServerTimeProbe(target)
            point = run_point(
                target,
                self.pages,
                self.bodies,
                load,
                budget,
                stream=self.stream,
                keep_text=self.graded,
                run=run,
                on_record=self.on_record if report else lambda host, load, record: None,
                stop=self.stop,
                on_clock_start=probe.start if report else lambda: None,
                share=share,
                watch=self.watches.get(target.label),
            )
            if report and not self.stop.is_set():  # a stopped run reports at once: no settling wait
                point.server_time = probe.finish(expected=sum(record.ok for record in point.records))
            if self.graded:
                grade_records(point.records, self.grounding)
            for record in point.records:
                record.exchange.text = ""  # the result keeps timings, not outputs
            if report:
                self.on_point(point)
            return point

        if len(self.targets) == 1:
            return [one(self.targets[0])]
        with ThreadPoolExecutor(max_workers=len(self.targets)) as pool:
            return list(pool.map(one, self.targets))
