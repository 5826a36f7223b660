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

from lightonocr_validation.core.config import CheckSettings, Config, ModelSettings, PerfSettings, Sampling
from lightonocr_validation.core.model_profiles import ModelProfile, profile_for
from lightonocr_validation.core.shape import kind
from lightonocr_validation.vllm.client import BadAnswer, Response, VllmClient
from lightonocr_validation.vllm.provenance import ServerFacts

T = TypeVar("T")


@dataclass(frozen=True)
class RequestSettings:
    """What the checks read, as sections of the one configuration (config.py): no value copied out of it."""

    model: ModelSettings
    sampling: Sampling
    check: CheckSettings  # the check.* settings: page concurrency, limits, burst sizes, --pages bars
    perf: PerfSettings  # bench.perf: PRF002's short load
    # `invoke check --pages DIR`: the user's own pages replace the bundled samples (lightonocr_validation/
    # user_pages.py); "" sends the samples. A user set is validated by its overall score, not per page.
    pages_dir: str = ""
    # Which LightOnOCR the server serves (model_profiles.py): page size, prompt tokens, modes. `sampling`
    # above is this profile's, so every reader of it sends what the model is meant to get.
    profile: ModelProfile | None = None

    @classmethod
    def from_config(cls, config: Config, pages_dir: str = "", profile: ModelProfile | None = None) -> RequestSettings:
        """The settings for `config`'s model; its profile told by its name (or config.json) unless given
        (check_command asks the server first where the name does not say: ProfileError when nothing does)."""
        chosen = profile or profile_for(config.model.served, config)
        sampling = Sampling(**chosen.sampling)
        return cls(config.model, sampling, config.check, config.bench.perf, pages_dir, chosen)

    @property
    def model_name(self) -> str:
        """The id requests name and /v1/models must list."""
        return self.model.served

    @property
    def random_weights(self) -> bool:
        return self.model.random_weights

    @property
    def model_profile(self) -> ModelProfile:
        """The profile, LightOnOCR-2-1B's (the default model's) when the settings were built without one."""
        if self.profile is None:
            from lightonocr_validation.core.model_profiles import default

            return default()
        return self.profile


@dataclass
class CheckContext:
    client: VllmClient
    settings: RequestSettings
    samples_root: Any = None  # Path of samples/; None uses the bundled set
    # Told (pages answered, pages in all) while the page set is read, for a progress display.
    on_pages: Callable[[int, int], None] | None = None
    _memo: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def profile(self) -> ModelProfile:
        """Which LightOnOCR this server serves: the page size, prompt tokens, sampling and modes checks expect."""
        return self.settings.model_profile

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

    def model_entries(self) -> list[dict[str, Any]]:
        """The model objects of a 200 /v1/models answer ([] for another status). `BadAnswer` naming the shape
        when the answer is not JSON or its ``data`` is not a list of objects."""
        reply = self.models()
        if reply.status != 200:
            return []
        body = reply.json()  # NotJson (a BadAnswer) when it is not JSON
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            shown = f"its data is {kind(data)}" if isinstance(body, dict) else f"it is {kind(body)}"
            raise BadAnswer("shape", f"/v1/models answered 200 but {shown}, not a list of models", reply.status)
        return [entry for entry in data if isinstance(entry, dict)]

    def listed_model(self) -> dict[str, Any] | None:
        """The /v1/models entry whose id is the expected model name, if listed."""
        return next((m for m in self.model_entries() if m.get("id") == self.settings.model_name), None)

    def version(self) -> Response:
        return self.memo("version", lambda: self.client.get("/version"))

    def facts(self) -> ServerFacts:
        """The server's version and context length from the /version and /v1/models answers already fetched."""
        with self._lock:
            fetched = {key for key, (ok, _) in self._memo.items() if ok}
        version = None
        if "version" in fetched:
            reply = self.version()
            answer = _json_or_none(reply) if reply.status == 200 else None
            found = answer.get("version") if isinstance(answer, dict) else None
            version = found if isinstance(found, str) and found else None
        length = None
        if "models" in fetched and _json_or_none(self.models()) is not None:
            try:
                length = self.max_model_len()
            except BadAnswer:  # a /v1/models answer of the wrong shape: MOD001 says so, the report says null
                length = None
        return ServerFacts(vllm_version=version, max_model_len=length)

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
            "temperature": self.settings.sampling.temperature,
            "top_p": self.settings.sampling.top_p,
            "max_tokens": self.settings.sampling.max_tokens,
            # generation 3's Qwen3.5-based models: no thinking preamble (empty, and not sent, for the others)
            **(
                {"chat_template_kwargs": dict(self.profile.chat_template_kwargs)}
                if self.profile.chat_template_kwargs
                else {}
            ),
            **overrides,
        }


def _json_or_none(reply: Response) -> Any:
    try:
        return reply.json()
    except ValueError:
        return None
