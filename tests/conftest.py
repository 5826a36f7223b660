"""Shared fixtures: the fake vLLM server, and a helper that runs checks against it as `invoke check` does."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from lightonocr_validation.check import registry
from lightonocr_validation.check.base import Check, Result
from lightonocr_validation.check.context import RequestSettings
from lightonocr_validation.check.runner import HostRun, run_host
from lightonocr_validation.check.verdict import Verdict, verdict_for
from lightonocr_validation.core.config import apply_flags, defaults
from lightonocr_validation.core.model_profiles import ProfileError, profile_for
from lightonocr_validation.vllm.client import Target
from tests.fakevllm.server import MODEL, FakeVllm, Faults

# The defaults (the model card's sampling, weights "trained": the fake reads pages as a healthy model),
# expecting the fake's model id.
CONFIG = apply_flags(defaults(), "check", Path(__file__).parent.parent, model=MODEL)
SETTINGS = RequestSettings.from_config(CONFIG)


def with_settings(settings: RequestSettings = SETTINGS, **changes: Any) -> RequestSettings:
    """``settings`` changed: ``weights=``, ``served_name=``, ``perf=``, ``pages_dir=``, ``profile=``, a sampling
    key, or any check.* key. A new ``served_name`` brings its model's profile, unless ``profile=`` gives one."""
    if "served_name" in changes and "profile" not in changes:
        with contextlib.suppress(ProfileError):  # a name no profile knows keeps the settings' profile
            changes["profile"] = profile_for(changes["served_name"])
    model = replace(
        settings.model,
        weights=changes.pop("weights", settings.model.weights),
        served_name=changes.pop("served_name", settings.model.served_name),
    )
    named = {key: changes.pop(key) for key in ("perf", "pages_dir", "profile") if key in changes}
    sampled = {key: changes.pop(key) for key in ("temperature", "top_p", "max_tokens") if key in changes}
    sampling = replace(settings.sampling, **sampled)
    return replace(settings, model=model, sampling=sampling, check=replace(settings.check, **changes), **named)


@dataclass(frozen=True)
class CheckRun:
    run: HostRun
    verdict: Verdict

    @property
    def by_id(self) -> dict[str, Result]:
        return {result.check_id: result for result in self.run.results}


@pytest.fixture
def fake_vllm() -> Iterator[Callable[..., FakeVllm]]:
    """Start fake servers (``fake_vllm(Faults(...), api_key=...)``); all are stopped after the test."""
    started: list[FakeVllm] = []

    def start(faults: Faults | None = None, **kwargs: str) -> FakeVllm:
        fake = FakeVllm(faults, **kwargs).__enter__()
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.__exit__(None, None, None)


@pytest.fixture
def run_checks() -> Callable[..., CheckRun]:
    """Run checks (all registered ones by default) against ``base_url``; returns the results and verdict."""

    def run(
        base_url: str,
        *,
        api_key: str = "",
        api_key_env: str = "",
        selected: Sequence[type[Check]] = registry.CHECKS,
        timeout: float = 20.0,
        **settings: object,
    ) -> CheckRun:
        target = Target(base_url=base_url, name="fake", api_key=api_key, api_key_env=api_key_env, timeout=timeout)
        request_settings = with_settings(**settings)
        host_run = run_host(target, request_settings, selected)
        essential = registry.essential_ids(selected, user_pages=bool(request_settings.pages_dir))
        return CheckRun(host_run, verdict_for(host_run.results, essential))

    return run
