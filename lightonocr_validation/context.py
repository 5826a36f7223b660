"""What a check may use: the client of one server, the request settings, the samples, and shared answers.

Several checks need the same answers (the model list, the server's version, one graded page); the
context fetches each once per host, so a run sends each question once, and the checks stay independent
of their order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from lightonocr_validation.client import Response, VllmClient

T = TypeVar("T")


@dataclass(frozen=True)
class PerfSettings:
    """PRF002's short load (bench.perf in the configuration): pages sent, in flight, and the limits."""

    requests: int = 8
    concurrency: int = 2
    pages_per_s_min: float = 0.2
    p95_seconds_max: float = 60.0


@dataclass(frozen=True)
class RequestSettings:
    model_name: str  # the id requests name and /v1/models must list
    temperature: float
    top_p: float
    max_tokens: int
    weights: str = "trained"  # "random" for the tiny model: its text is noise
    # Slowest acceptable answer for one page (the card's 4096 max_tokens on a GPU take seconds, not minutes).
    page_seconds_max: float = 60.0
    # Page requests in flight while the sample set is read: LightOn's client keeps many; a few keep the
    # validator quick without flooding a small server.
    page_concurrency: int = 4
    # How many times the determinism check sends the same page.
    determinism_runs: int = 3
    # `invoke check --pages DIR`: the user's own pages replace the bundled samples (lightonocr_validation/
    # user_pages.py); "" sends the samples. A user set is validated by its overall score, not per page.
    pages_dir: str = ""
    pages_score_min: float = 0.70
    pages_cer_max: float = 0.10
    # Pages the burst check sends at once (LightOn's client keeps 64), and its cap for random weights.
    burst_concurrency: int = 64
    burst_concurrency_random_weights: int = 16
    perf: PerfSettings = PerfSettings()

    @property
    def random_weights(self) -> bool:
        return self.weights == "random"


@dataclass
class CheckContext:
    client: VllmClient
    settings: RequestSettings
    samples_root: Any = None  # Path of samples/; None uses the bundled set
    # Told (pages answered, pages in all) while the page set is read, for a progress display.
    on_pages: Callable[[int, int], None] | None = None
    _memo: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """Compute `key` once per context; later checks get the same answer (or the same exception)."""
        with self._lock:
            if key not in self._memo:
                try:
                    self._memo[key] = (True, compute())
                except Exception as error:  # re-raised to every caller, so each check reports it
                    self._memo[key] = (False, error)
            ok, value = self._memo[key]
        if not ok:
            raise value
        return value

    def models(self) -> Response:
        return self.memo("models", lambda: self.client.get("/v1/models"))

    def listed_model(self) -> dict[str, Any] | None:
        """The /v1/models entry whose id is the expected model name, if listed."""
        reply = self.models()
        if reply.status != 200:
            return None
        return next((m for m in reply.json().get("data", []) if m.get("id") == self.settings.model_name), None)

    def version(self) -> Response:
        return self.memo("version", lambda: self.client.get("/version"))

    def metrics(self) -> Response:
        """/metrics, fetched fresh each time: its counters are compared before and after requests."""
        return self.client.get("/metrics")

    def max_model_len(self) -> int | None:
        listed = self.listed_model()
        value = listed.get("max_model_len") if listed else None
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def chat_body(self, content: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
        """A chat completion request the model card's way: one user turn, sampling sent explicitly."""
        return {
            "model": self.settings.model_name,
            "messages": [{"role": "user", "content": content}],
            "temperature": self.settings.temperature,
            "top_p": self.settings.top_p,
            "max_tokens": self.settings.max_tokens,
            **overrides,
        }
