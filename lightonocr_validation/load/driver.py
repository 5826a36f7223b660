"""Drive one load point against one server: warm-up first, then the measured requests, timed one by one.

Workers are threads, each with its own pooled `requests` session, so every worker reuses one keep-alive
connection and pays the TLS handshake once; sending and reading release the GIL, and a request's own CPU
cost (writing the upload, parsing the answer) is what the benchmark `benchmarks/client_throughput.py`
measures (hundreds of requests per second on two cores: far above any server's pages per second). Threads
rather than asyncio because the project's one client (auth, TLS, proxies, redaction) is `requests`.

Warm-up requests go through the same workers before a barrier; the point's clock starts when every
worker has passed it, so no warm-up request is counted and every worker's connection is already open.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import queue
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from requests import Session

from lightonocr_validation.core.cancel import CancelToken
from lightonocr_validation.load.answers import AnswerBodies
from lightonocr_validation.load.pages import BenchPage
from lightonocr_validation.load.records import Load, PointRun, RequestRecord
from lightonocr_validation.load.transport import Exchange, send
from lightonocr_validation.vllm.client import Target, configured_session
from lightonocr_validation.vllm.liveness import HostWatch

CHAT_PATH = "/v1/chat/completions"
# Rate mode without --concurrency: at most this many requests in flight (a worker each).
RATE_MAX_IN_FLIGHT = 128
RATE_WARMUP = 8

# Called from worker threads after each measured request: host, load, record.
OnRecord = Callable[[str, Load, RequestRecord], None]
# Each page's encoded request (every answer the same length), or bodies whose answer length each request draws.
Bodies = Mapping[str, bytes] | AnswerBodies


def body_of(bodies: Bodies, label: str, index: int) -> bytes:
    return bodies.body(label, index) if isinstance(bodies, AnswerBodies) else bodies[label]


@dataclass(frozen=True)
class Budget:
    """How much a point sends: ``requests`` measured requests, or as many as ``duration_s`` allows (requests in
    flight at the end are finished and counted); ``warmup`` requests before, not counted (None: one per worker,
    at most RATE_WARMUP in rate mode, where workers are many and mostly idle)."""

    requests: int | None
    duration_s: float | None = None
    warmup: int | None = None
    # A staggered start: worker k sends its first measured request k x ramp_s / workers after the clock starts,
    # so the first wave does not arrive as one burst (the steady window leaves the ramp out either way).
    ramp_s: float = 0.0
    # Closed loop: send waves x concurrency requests (a steady state needs 3 or more: steady.py), not `requests`.
    waves: float | None = None


def arrival_offsets(load: Load, budget: Budget) -> list[float]:
    """When each request of a rate-mode point is due, in seconds from its start: every 1/rate s, or Poisson
    arrivals (exponential gaps) drawn from the seed, so a rerun sends at the same moments."""
    assert load.rate is not None and load.rate > 0
    draw = random.Random(load.seed)
    offsets: list[float] = []
    moment = 0.0
    while True:
        if budget.requests is not None and len(offsets) >= budget.requests:
            return offsets
        if budget.duration_s is not None and moment >= budget.duration_s:
            return offsets
        offsets.append(moment)
        # Constant arrivals by multiplication: summing 1/rate drifts (ten steps of 0.1 s end before 1 s).
        moment = moment + draw.expovariate(load.rate) if load.arrival == "poisson" else len(offsets) / load.rate


def _share_of_arrivals(load: Load, budget: Budget, index: int, count: int) -> list[float]:
    assert load.rate is not None
    if count == 1:
        return arrival_offsets(load, budget)
    fleet_budget = Budget(budget.requests * count if budget.requests is not None else None, budget.duration_s)
    return arrival_offsets(replace(load, rate=load.rate * count), fleet_budget)[index::count]


def run_point(
    target: Target,
    pages: Sequence[BenchPage],
    bodies: Bodies,
    load: Load,
    budget: Budget,
    *,
    stream: bool,
    keep_text: bool = True,
    run: int = 1,
    on_record: OnRecord = lambda host, load, record: None,
    stop: CancelToken | None = None,
    on_clock_start: Callable[[], None] = lambda: None,
    share: tuple[int, int] = (0, 1),
    watch: HostWatch | None = None,
) -> PointRun:
    """Send ``budget``'s requests to ``target`` at ``load``, cycling through ``pages`` (``bodies`` holds each
    page's encoded request, keyed by label) and return what each measured request did. ``keep_text`` False when
    the answers will not be graded: streamed tokens are then timed without being parsed. ``on_clock_start`` runs
    once warm-up is over, just before the clock starts (the server-time probe's first /metrics reading).

    ``share`` (k, n): this host is replica k of a fleet of n. In rate mode the fleet's arrivals are one stream
    of n times the rate, dealt round-robin as a load balancer would: this host sends arrivals k, k+n, ...,
    so replicas take turns instead of all sending at the same moments.

    When ``stop`` is stopped the workers send nothing more, the requests in flight are abandoned and left out:
    the point holds the requests that finished. The same once ``watch`` judges the server gone (liveness.py):
    no request is sent to a dead or hung server, so it costs one --timeout, not one per request."""
    offsets = _share_of_arrivals(load, budget, *share) if load.rate is not None else None
    point = _Point(
        target, pages, bodies, load, budget, offsets, stream=stream, keep_text=keep_text, stop=stop or CancelToken(),
        on_record=on_record, on_clock_start=on_clock_start, watch=watch,
    )  # fmt: skip
    return point.run(run)


class _Point:
    """One point's workers and what they share: the warm-up counter, the barrier that starts the clock after
    it, the measured records, and (rate mode) the queue of arrivals due. A closed loop's workers send their next
    request as soon as the last one ends; an open loop's take the arrivals the main thread puts on the queue."""

    def __init__(
        self,
        target: Target,
        pages: Sequence[BenchPage],
        bodies: Bodies,
        load: Load,
        budget: Budget,
        offsets: list[float] | None,
        *,
        stream: bool,
        keep_text: bool,
        stop: CancelToken,
        on_record: OnRecord,
        on_clock_start: Callable[[], None],
        watch: HostWatch | None,
    ) -> None:
        self.target, self.pages, self.bodies, self.load = target, pages, bodies, load
        self.offsets = offsets
        self.stream, self.keep_text, self.stop, self.watch = stream, keep_text, stop, watch
        self.on_record, self.on_clock_start = on_record, on_clock_start
        self.url = f"{target.base_url}{CHAT_PATH}"
        self.workers = load.concurrency
        if offsets is not None:
            self.workers = max(1, min(self.workers, len(offsets)))
        elif budget.waves is not None:
            budget = replace(budget, requests=math.ceil(budget.waves * self.workers), duration_s=None)
        self.budget = budget
        default_warmup = self.workers if offsets is None else min(self.workers, RATE_WARMUP)
        self.warmup = budget.warmup if budget.warmup is not None else default_warmup
        self.warmups = itertools.count()
        self.measured = itertools.count()
        self.clock: dict[str, float] = {}
        self.records: dict[int, RequestRecord] = {}
        self.warmed: list[int] = []
        self.failures: list[BaseException] = []
        self.due: queue.SimpleQueue[tuple[int, float] | None] = queue.SimpleQueue()
        self.barrier = threading.Barrier(self.workers + 1, action=self._start_clock)

    def sending(self) -> bool:
        return not self.stop.is_set() and not (self.watch is not None and self.watch.gone)

    def _start_clock(self) -> None:
        self.on_clock_start()  # before the clock: its time is not the point's
        self.clock["origin"] = time.perf_counter()
        self.clock["epoch"] = time.time()
        self.clock["cpu"] = time.process_time()

    def _send(self, session: Session, index: int, *, keep_text: bool) -> tuple[BenchPage, Exchange]:
        page = self.pages[index % len(self.pages)]
        body = body_of(self.bodies, page.label, index)
        exchange = send(
            session, self.target, self.url, body, stream=self.stream, keep_text=keep_text, cancel=self.stop,
            watch=self.watch,
        )  # fmt: skip
        return page, exchange

    def _one(self, session: Session, index: int, scheduled: float | None) -> None:
        start = time.perf_counter() - self.clock["origin"]
        page, exchange = self._send(session, index, keep_text=self.keep_text)
        if exchange.abandoned:
            return
        record = RequestRecord(page, start, exchange, scheduled)
        self.records[index] = record
        self.on_record(self.target.label, self.load, record)

    def _warm_up(self, session: Session) -> None:
        while self.sending() and (index := next(self.warmups)) < self.warmup:
            _, warm = self._send(session, index, keep_text=False)
            if not warm.abandoned:
                self.warmed.append(index)

    def _closed_loop(self, session: Session, worker: int) -> None:
        budget = self.budget
        deadline = self.clock["origin"] + budget.duration_s if budget.duration_s is not None else None
        if budget.ramp_s > 0 and self.stop.wait(worker * budget.ramp_s / self.workers):
            return
        while self.sending():
            index = next(self.measured)
            if budget.requests is not None and index >= budget.requests:
                return
            if deadline is not None and time.perf_counter() >= deadline:
                return
            self._one(session, index, None)

    def _work(self, worker: int) -> None:
        session = configured_session(self.target)
        try:
            self._warm_up(session)
            self.barrier.wait()
            if self.offsets is not None:
                while (item := self.due.get()) is not None and self.sending():
                    self._one(session, *item)
                return
            self._closed_loop(session, worker)
        except threading.BrokenBarrierError:
            return
        except BaseException as error:  # a bug: reported by the caller, never a silent short point
            self.failures.append(error)
            self.barrier.abort()
        finally:
            session.close()

    def _deal_arrivals(self, threads: Sequence[threading.Thread]) -> None:
        """Rate mode, in the calling thread: each arrival onto the queue at its moment, then one end per worker."""
        assert self.offsets is not None
        origin = self.clock["origin"]
        for index, offset in enumerate(self.offsets):
            delay = origin + offset - time.perf_counter()
            if (self.stop.wait(delay) if delay > 0 else self.stop.is_set()) or not self.sending():
                break
            self.due.put((index, offset))
        for _ in threads:
            self.due.put(None)

    def run(self, run: int) -> PointRun:
        label = self.target.label
        threads = [
            threading.Thread(target=self._work, args=(n,), name=f"bench-{label}-{n}", daemon=True)
            for n in range(self.workers)
        ]
        for thread in threads:
            thread.start()
        with contextlib.suppress(threading.BrokenBarrierError):
            self.barrier.wait()
        if self.offsets is not None and "origin" in self.clock:
            self._deal_arrivals(threads)
        for thread in threads:
            thread.join()
        if self.failures:
            raise self.failures[0]
        ordered = [self.records[index] for index in sorted(self.records)]
        return PointRun(
            host=label,
            load=self.load,
            run=run,
            started=self.clock.get("epoch", time.time()),
            duration_s=max((r.end_s for r in ordered), default=0.0),
            records=ordered,
            client_cpu_s=time.process_time() - self.clock.get("cpu", time.process_time()),
            warmup_requests=len(self.warmed),
        )
