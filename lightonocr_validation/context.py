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
class RequestSettings:
    model_name: str  # the id requests name and /v1/models must list
    temperature: float
    top_p: float
    max_tokens: int
    weights: str = "trained"  # "random" for the tiny model: its text is noise

    @property
    def random_weights(self) -> bool:
        return self.weights == "random"


@dataclass
class CheckContext:
    client: VllmClient
    settings: RequestSettings
    samples_root: Any = None  # Path of samples/; None uses the bundled set
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
