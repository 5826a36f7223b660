"""Run selected checks against one or more servers and collect their results.

The runner owns what checks must not do themselves: timing, turning an unexpected exception into an
`error` result, skipping a check whose prerequisites did not pass, and skipping checks that need trained
weights when the served model is the random-weight tiny one. Hosts run concurrently (a fleet of replicas
is checked in the time of the slowest); checks on one host run in registry order, one at a time, so a
slow server is not flooded by its own validator.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from checks.base import Check, Outcome, Result, SkipReason, Status
from lightonocr_validation.client import BadAnswer, Target, Unreachable, VllmClient, one_line
from lightonocr_validation.context import CheckContext, RequestSettings, ServerFacts

# Called when a check starts (result None) and when it ends, for a live display.
ProgressCallback = Callable[[str, type[Check], Result | None], None]
# Called with (host, pages answered, pages in all) while a host's page set is read.
PagesCallback = Callable[[str, int, int], None]

RANDOM_WEIGHTS_REASON = "the served model has random weights (tiny model): its text cannot be judged"


@dataclass(frozen=True)
class HostRun:
    target: Target
    results: tuple[Result, ...]
    started: float
    finished: float
    # The server's version and context length, as it answered them.
    facts: ServerFacts = field(default_factory=ServerFacts)


def run_host(
    target: Target,
    settings: RequestSettings,
    selected: Sequence[type[Check]],
    on_progress: ProgressCallback = lambda host, check, result: None,
    on_pages: PagesCallback | None = None,
) -> HostRun:
    started = time.time()
    client = VllmClient(target)
    context = CheckContext(client=client, settings=settings)
    if on_pages is not None:
        context.on_pages = lambda done, total: on_pages(target.label, done, total)
    results: dict[str, Result] = {}
    try:
        for check_class in selected:
            on_progress(target.label, check_class, None)
            result = _run_one(check_class, context, results, target.label)
            results[check_class.id] = result
            on_progress(target.label, check_class, result)
        facts = context.facts()
    finally:
        client.close()
    return HostRun(target, tuple(results.values()), started, time.time(), facts)


def run_hosts(
    targets: Sequence[Target],
    settings: RequestSettings,
    selected: Sequence[type[Check]],
    on_progress: ProgressCallback = lambda host, check, result: None,
    on_pages: PagesCallback | None = None,
) -> list[HostRun]:
    with ThreadPoolExecutor(max_workers=max(1, len(targets))) as pool:
        futures = [pool.submit(run_host, t, settings, selected, on_progress, on_pages) for t in targets]
        return [future.result() for future in futures]


def _run_one(check_class: type[Check], ctx: CheckContext, done: dict[str, Result], host: str) -> Result:
    started = time.perf_counter()
    skip_reason, outcome = _runner_skip(check_class, ctx, done)
    if outcome is None:
        try:
            outcome = check_class().run(ctx)
        except Unreachable as error:
            outcome = Outcome(Status.ERROR, f"the server stopped answering: {error}", unreachable=error.kind)
        except BadAnswer as error:  # the server answered, wrongly: a failure of the server, named
            outcome = Outcome(Status.FAIL, one_line(str(error), 300), data={"bad_answer": error.kind})
        except Exception as error:  # a check's bug or an answer it did not expect: reported, never raised
            outcome = Outcome(Status.ERROR, one_line(f"{type(error).__name__}: {error}", 300))
    seconds = time.perf_counter() - started
    hint = check_class.hint if outcome.status in (Status.FAIL, Status.ERROR) else ""
    return Result(
        check_id=check_class.id,
        title=check_class.title(),
        family=check_class.family,
        status=outcome.status,
        detail=outcome.detail,
        figure=outcome.figure,
        seconds=seconds,
        hint=hint,
        data=outcome.data,
        host=host,
        unreachable=outcome.unreachable,
        skip_reason=skip_reason,
    )


def _runner_skip(
    check_class: type[Check], ctx: CheckContext, done: dict[str, Result]
) -> tuple[SkipReason | None, Outcome | None]:
    """The runner's own reason not to run a check, and the skip it records; (None, None) to run it."""
    for required in check_class.requires:
        previous = done.get(required)
        if previous is None:
            continue  # not selected: the check finds out for itself
        if previous.status is not Status.PASS:
            return SkipReason.PREREQUISITE, Outcome.skipped(f"needs {required} ({previous.title}), which did not pass")
    if check_class.needs_trained_weights and ctx.settings.random_weights:
        return SkipReason.RANDOM_WEIGHTS, Outcome.skipped(RANDOM_WEIGHTS_REASON)
    return None, None
