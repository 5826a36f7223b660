"""Run selected checks against one or more servers and collect their results.

The runner owns what checks must not do themselves: timing, turning an unexpected exception into an
`error` result, skipping a check whose prerequisites did not pass, and skipping checks that need trained
weights when the served model is the random-weight tiny one, and skipping every check left once the server
has been judged gone (liveness.py: dead, or hung past --timeout). Hosts run concurrently (a fleet of replicas
is checked in the time of the slowest); checks on one host run in registry order, one at a time, so a
slow server is not flooded by its own validator.

A run can be stopped (cancel.py: its deadline passed, or Ctrl-C): no check starts after that, the one in
flight has its requests abandoned, and every selected check without a result gets one that says why
(`Result.stopped`): a stopped run is reported with what finished, never as if the rest had passed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from lightonocr_validation.check.base import Check, Outcome, Result, SkipReason, Status
from lightonocr_validation.check.context import CheckContext, RequestSettings
from lightonocr_validation.core.cancel import DEADLINE, Cancelled, CancelToken, run_until_stopped
from lightonocr_validation.vllm.client import BadAnswer, Target, Unreachable, VllmClient, one_line
from lightonocr_validation.vllm.liveness import GONE_KIND, HostWatch
from lightonocr_validation.vllm.provenance import ServerFacts

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
    cancel: CancelToken | None = None,
) -> HostRun:
    cancel = cancel or CancelToken()
    state = _HostState(target)
    _run_checks(state, settings, selected, on_progress, on_pages, cancel)
    return state.host_run(selected, cancel)


def run_hosts(
    targets: Sequence[Target],
    settings: RequestSettings,
    selected: Sequence[type[Check]],
    on_progress: ProgressCallback = lambda host, check, result: None,
    on_pages: PagesCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[HostRun]:
    """Every host at once, each in its own thread; the calling (main) thread waits, and stops ``cancel`` when
    its deadline passes or on Ctrl-C (cancel.run_until_stopped). The hosts' results as far as they got."""
    cancel = cancel or CancelToken()
    states = [_HostState(target) for target in targets]

    def every_host() -> None:
        threads = [
            threading.Thread(
                target=_run_checks,
                args=(state, settings, selected, on_progress, on_pages, cancel),
                name=f"check-{state.target.label}",
                daemon=True,  # a host stuck past the grace period must not keep the process alive
            )
            for state in states
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    run_until_stopped(every_host, cancel, "check-hosts")
    return [state.host_run(selected, cancel) for state in states]


@dataclass
class _HostState:
    """One host's results as they come in, readable by the main thread while the host's thread runs."""

    target: Target
    started: float = field(default_factory=time.time)
    results: dict[str, Result] = field(default_factory=dict)
    running: str = ""  # the id of the check in flight
    facts: ServerFacts = field(default_factory=ServerFacts)
    finished: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def host_run(self, selected: Sequence[type[Check]], cancel: CancelToken) -> HostRun:
        with self.lock:
            results = dict(self.results)
            running, facts, finished = self.running, self.facts, self.finished
        if cancel.is_set():
            for check_class in selected:
                if check_class.id not in results:
                    results[check_class.id] = stopped_result(check_class, cancel, started=check_class.id == running)
        ordered = tuple(results[c.id] for c in selected if c.id in results)
        return HostRun(self.target, ordered, self.started, finished or time.time(), facts)


def _run_checks(
    state: _HostState,
    settings: RequestSettings,
    selected: Sequence[type[Check]],
    on_progress: ProgressCallback,
    on_pages: PagesCallback | None,
    cancel: CancelToken,
) -> None:
    client = VllmClient(state.target, cancel=cancel, watch=HostWatch(state.target, settings.model_name))
    context = CheckContext(client=client, settings=settings)
    label = state.target.label
    if on_pages is not None:
        context.on_pages = lambda done, total: on_pages(label, done, total)
    try:
        for check_class in selected:
            if cancel.is_set():
                break  # the checks left get their "not run" result from host_run
            with state.lock:
                state.running = check_class.id
            on_progress(label, check_class, None)
            result = _run_one(check_class, context, state.results, label)
            result = _judged_during(result, client.watch)
            with state.lock:
                state.results[check_class.id] = result
                state.running = ""
            on_progress(label, check_class, result)
        facts = context.facts()
        with state.lock:
            state.facts = facts
    except Cancelled:
        pass  # stopped between two checks: host_run names what did not finish
    finally:
        client.close()
        with state.lock:
            state.finished = time.time()


def _judged_during(result: Result, watch: HostWatch | None) -> Result:
    """The result of the check during which the server was judged gone: its detail names the judgement (the
    verdict quotes it), and the checks left name the check (`_runner_skip`)."""
    if watch is None or not watch.gone or watch.during:
        return result
    watch.during = result.check_id
    if not result.unreachable:
        return result
    return replace(result, detail=f"the server stopped answering: {watch.unreachable()}", unreachable=GONE_KIND)


def stopped_result(check_class: type[Check], cancel: CancelToken, *, started: bool, seconds: float = 0.0) -> Result:
    """A check the stopped run did not finish: an error when the deadline passed (the run could not prove the
    server in the time given), a skip when interrupted (the user's choice, not a finding)."""
    why = cancel.describe()
    detail = f"not finished: {why} while it ran" if started else f"not run: {why} before it started"
    status = Status.ERROR if cancel.reason == DEADLINE else Status.SKIP
    return Result.of(
        check_class,
        Outcome(status, detail),
        seconds=seconds,
        hint=DEADLINE_HINT if cancel.reason == DEADLINE and started else "",  # once, on the check it stopped
        stopped=cancel.reason,
    )


DEADLINE_HINT = (
    "Give the run more time (--deadline, check.deadline), or find why the server answers so slowly (see the "
    "checks that finished, and the server's log)."
)


def _run_one(check_class: type[Check], ctx: CheckContext, done: dict[str, Result], host: str) -> Result:
    started = time.perf_counter()
    skip_reason, outcome = _runner_skip(check_class, ctx, done)
    cancel = ctx.client.cancel
    if outcome is None:
        try:
            outcome = check_class().run(ctx)
        except Cancelled:
            return stopped_result(check_class, cancel, started=True, seconds=time.perf_counter() - started)
        except Unreachable as error:
            outcome = Outcome(Status.ERROR, f"the server stopped answering: {error}", unreachable=error.kind)
        except BadAnswer as error:  # the server answered, wrongly: a failure of the server, named
            outcome = Outcome(Status.FAIL, one_line(str(error), 300), data={"bad_answer": error.kind})
        except Exception as error:  # a check's bug or an answer it did not expect: reported, never raised
            outcome = Outcome(Status.ERROR, one_line(f"{type(error).__name__}: {error}", 300))
    seconds = time.perf_counter() - started
    if cancel.is_set() and outcome.status is not Status.PASS:
        # Stopped while it ran, and it turned an abandoned request into a finding of its own: not one.
        return stopped_result(check_class, cancel, started=True, seconds=seconds)
    hint = (outcome.hint or check_class.hint) if outcome.status in (Status.FAIL, Status.ERROR) else ""
    return Result.of(check_class, outcome, seconds=seconds, hint=hint, host=host, skip_reason=skip_reason)


def _runner_skip(
    check_class: type[Check], ctx: CheckContext, done: dict[str, Result]
) -> tuple[SkipReason | None, Outcome | None]:
    """The runner's own reason not to run a check, and the skip it records; (None, None) to run it."""
    reason = check_class.not_applicable(ctx)
    if reason:
        return SkipReason.NOT_APPLICABLE, Outcome.skipped(reason)
    if ctx.client.watch is not None and ctx.client.watch.gone:
        # Judged gone by an earlier check's requests (liveness.py): this one would only wait out its timeouts.
        during = ctx.client.watch.during or "an earlier check"
        return SkipReason.SERVER_GONE, Outcome(
            Status.SKIP, f"not run: the server was judged gone during {during}", unreachable=GONE_KIND
        )
    for required in check_class.requires:
        previous = done.get(required)
        if previous is None:
            continue  # not selected: the check finds out for itself
        if previous.status is not Status.PASS:
            return SkipReason.PREREQUISITE, Outcome.skipped(f"needs {required} ({previous.title}), which did not pass")
    if check_class.needs_trained_weights and ctx.settings.random_weights:
        return SkipReason.RANDOM_WEIGHTS, Outcome.skipped(RANDOM_WEIGHTS_REASON)
    return None, None
