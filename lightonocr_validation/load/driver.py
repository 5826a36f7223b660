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

from lightonocr_validation.core.cancel import CancelToken
from lightonocr_validation.load.answers import AnswerBodies
from lightonocr_validation.load.pages import BenchPage
from lightonocr_validation.load.records import Load, PointRun, RequestRecord
from lightonocr_validation.load.transport import send
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
    stop = stop or CancelToken()

    def sending() -> bool:
        return not stop.is_set() and not (watch is not None and watch.gone)

    url = f"{target.base_url}{CHAT_PATH}"
    workers = load.concurrency
    offsets = _share_of_arrivals(load, budget, *share) if load.rate is not None else None
    if offsets is not None:
        workers = max(1, min(workers, len(offsets)))
    elif budget.waves is not None:
        budget = replace(budget, requests=math.ceil(budget.waves * workers), duration_s=None)
    warmup = budget.warmup if budget.warmup is not None else (workers if offsets is None else min(workers, RATE_WARMUP))
    warmups = itertools.count()
    measured = itertools.count()
    clock: dict[str, float] = {}
    records: dict[int, RequestRecord] = {}
    warmed: list[int] = []
    failures: list[BaseException] = []
    due: queue.SimpleQueue[tuple[int, float] | None] = queue.SimpleQueue()

    def start_clock() -> None:
        on_clock_start()  # before the clock: its time is not the point's
        clock["origin"] = time.perf_counter()
        clock["epoch"] = time.time()
        clock["cpu"] = time.process_time()

    barrier = threading.Barrier(workers + 1, action=start_clock)

    def one(session, index: int, scheduled: float | None) -> None:
        page = pages[index % len(pages)]
        start = time.perf_counter() - clock["origin"]
        body = body_of(bodies, page.label, index)
        exchange = send(session, target, url, body, stream=stream, keep_text=keep_text, cancel=stop, watch=watch)
        if exchange.abandoned:
            return
        record = RequestRecord(page, start, exchange, scheduled)
        records[index] = record
        on_record(target.label, load, record)

    def work(worker: int) -> None:
        session = configured_session(target)
        try:
            while sending() and (index := next(warmups)) < warmup:
                page = pages[index % len(pages)]
                body = body_of(bodies, page.label, index)
                warm = send(session, target, url, body, stream=stream, keep_text=False, cancel=stop, watch=watch)
                if not warm.abandoned:
                    warmed.append(index)
            barrier.wait()
            if offsets is not None:
                while (item := due.get()) is not None and sending():
                    one(session, *item)
                return
            deadline = clock["origin"] + budget.duration_s if budget.duration_s is not None else None
            if budget.ramp_s > 0 and stop.wait(worker * budget.ramp_s / workers):
                return
            while sending():
                index = next(measured)
                if budget.requests is not None and index >= budget.requests:
                    return
                if deadline is not None and time.perf_counter() >= deadline:
                    return
                one(session, index, None)
        except threading.BrokenBarrierError:
            return
        except BaseException as error:  # a bug: reported by the caller, never a silent short point
            failures.append(error)
            barrier.abort()
        finally:
            session.close()

    threads = [
        threading.Thread(target=work, args=(n,), name=f"bench-{target.label}-{n}", daemon=True) for n in range(workers)
    ]
    for thread in threads:
        thread.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        barrier.wait()
    if offsets is not None and "origin" in clock:
        for index, offset in enumerate(offsets):
            delay = clock["origin"] + offset - time.perf_counter()
            if (stop.wait(delay) if delay > 0 else stop.is_set()) or not sending():
                break
            due.put((index, offset))
        for _ in threads:
            due.put(None)
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    ordered = [records[index] for index in sorted(records)]
    duration = max((r.end_s for r in ordered), default=0.0)
    return PointRun(
        host=target.label,
        load=load,
        run=run,
        started=clock.get("epoch", time.time()),
        duration_s=duration,
        records=ordered,
        client_cpu_s=time.process_time() - clock.get("cpu", time.process_time()),
        warmup_requests=len(warmed),
    )
