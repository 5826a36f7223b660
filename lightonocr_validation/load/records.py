"""What a load point measured: each request as it went, before any figure is computed from it."""

from __future__ import annotations

from dataclasses import dataclass, field

from lightonocr_validation.load.pages import BenchPage
from lightonocr_validation.load.server_time import ServerTime
from lightonocr_validation.load.transport import Exchange


@dataclass(frozen=True)
class Load:
    """How hard a point pushes: at most ``concurrency`` requests in flight, and with ``rate`` a request every
    1/rate s on average (``arrival`` constant or poisson, drawn from ``seed``) instead of as fast as they
    can go."""

    concurrency: int
    rate: float | None = None
    arrival: str = "constant"
    seed: int = 0

    @property
    def label(self) -> str:
        return f"rate={self.rate:g}" if self.rate is not None else f"concurrency={self.concurrency}"


@dataclass
class RequestRecord:
    """One measured request. Times in seconds; ``start_s`` from the point's start (after warm-up)."""

    page: BenchPage
    start_s: float
    exchange: Exchange
    scheduled_s: float | None = None  # rate mode: when the arrival process wanted it sent
    accurate: bool | None = None  # None: not graded (random weights, fixed length, no ground truth, an error)
    cer: float | None = None

    @property
    def ok(self) -> bool:
        return self.exchange.ok

    @property
    def end_s(self) -> float:
        return self.start_s + self.exchange.e2e_s

    @property
    def output_tokens(self) -> int:
        """The server's count (usage), else the streamed choice events after the role chunk."""
        if self.exchange.output_tokens is not None:
            return self.exchange.output_tokens
        return len(self.exchange.gaps)

    @property
    def itl_s(self) -> float | None:
        gaps = self.exchange.gaps
        return sum(gaps) / len(gaps) if gaps else None


@dataclass
class PointRun:
    """One run at one load on one host: the measured requests (warm-up excluded) and the time they took."""

    host: str
    load: Load
    run: int
    started: float  # epoch seconds at the point's start
    duration_s: float  # from the start to the end of the last request
    records: list[RequestRecord] = field(default_factory=list)
    client_cpu_s: float = 0.0  # this process's CPU time over the point (every worker, the display)
    warmup_requests: int = 0
    server_time: ServerTime | None = None  # where the time went in the server (/metrics), None without it
