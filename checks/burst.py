"""A burst of pages at the concurrency LightOn's own client keeps: every page answered, none degraded,
and the server still healthy afterwards.

`invoke check` reads the sample set a few pages at a time; LightOn's client keeps 64 in flight, and a
server can be healthy at four and dead at sixteen (seen on an H200 with vLLM 0.26.0 and
--max-num-batched-tokens 32768: the first burst of eight pages ran the engine out of GPU memory, every
later request got a 500 and the process exited).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from lightonocr_validation.accuracy.metrics import ned
from lightonocr_validation.check.base import Check, Outcome, register
from lightonocr_validation.check.context import CheckContext, RequestSettings
from lightonocr_validation.check.page_answers import PageAnswer, listing, one_line, page_answers, pages_of, send_page
from lightonocr_validation.core.cancel import Cancelled
from lightonocr_validation.core.shape import dig
from lightonocr_validation.pages.inputs import PageInput
from lightonocr_validation.vllm import prometheus
from lightonocr_validation.vllm.client import BadAnswer, Response, Unreachable

# Random weights never stop before max_tokens, so their output length is only the number asked for; what
# the burst probes (each page's prefill: the vision encoder and the KV cache reservation) is the same at
# any length, and the CPU build then reads the burst in seconds instead of minutes.
RANDOM_WEIGHTS_MAX_TOKENS = 512
# Greedy decoding is not batch-invariant on a GPU (kernels reduce in another order for another batch
# shape), so a trained model's page in a burst may differ from the page alone by a token here and there.
# A normalized edit distance of 0.1 allows that; an empty, cut or swapped answer is far beyond it.
SAME_PAGE_MAX_NED = 0.1
# An answer is another page's text when it is closer to that page alone than to its own, and close to it.
OTHER_PAGE_MAX_NED = 0.5
METRICS_POLL_SECONDS = 0.5
ENGINE_DEAD_WORDS = ("EngineCore encountered an issue", "EngineDeadError", "engine is dead")


@dataclass(frozen=True)
class BurstReply:
    """One page of the burst: its answer, or why the server could not be reached for it."""

    page: PageInput
    answer: PageAnswer | None
    unreachable: str = ""  # the connection error's cause when ``answer`` is None

    @property
    def problem(self) -> str:
        return self.unreachable if self.answer is None else self.answer.problem


@dataclass
class LoadPeaks:
    """The highest vllm:num_requests_running and _waiting /metrics showed while the burst was in flight."""

    running: float | None = None
    waiting: float | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def note(self, samples: list[prometheus.Sample]) -> None:
        running = prometheus.total(samples, "vllm:num_requests_running")
        waiting = prometheus.total(samples, "vllm:num_requests_waiting")
        if running is not None:
            self.running = max(running, self.running or 0.0)
        if waiting is not None:
            self.waiting = max(waiting, self.waiting or 0.0)

    def note_after(self, after: Aftermath) -> None:
        if after.running is not None:
            self.running = max(after.running, self.running or 0.0)
        if after.waiting is not None:
            self.waiting = max(after.waiting, self.waiting or 0.0)


def burst_size(settings: RequestSettings) -> tuple[int, str]:
    """Pages in flight, and why it is fewer than configured (empty when it is not)."""
    size = max(1, settings.check.burst_concurrency)
    cap = max(1, settings.check.burst_concurrency_random_weights)
    if settings.random_weights and size > cap:
        return cap, f"capped from {size}: random weights (the CPU build's tiny model)"
    return size, ""


def greedy_overrides(settings: RequestSettings) -> dict[str, Any]:
    """Temperature 0 for the burst and for the pages alone: with sampling (the card's 0.2) two answers of
    the same page differ by chance, and a degraded page could not be told from a sampled one."""
    max_tokens = settings.sampling.max_tokens
    if settings.random_weights:
        max_tokens = min(max_tokens, RANDOM_WEIGHTS_MAX_TOKENS)
    return {"temperature": 0.0, "max_tokens": max_tokens}


def answers_alone(ctx: CheckContext, overrides: dict[str, Any]) -> dict[str, PageAnswer]:
    """Every sample page's answer at the burst's settings, sent as the suite sends pages (a few in flight).

    The suite's own answers serve when they were asked for at these settings; otherwise the pages are
    sent once more, at temperature 0."""
    if (
        ctx.settings.sampling.temperature == overrides["temperature"]
        and ctx.settings.sampling.max_tokens == overrides["max_tokens"]
    ):
        return {answer.page.label: answer for answer in page_answers(ctx)}

    def send_all() -> dict[str, PageAnswer]:
        with ThreadPoolExecutor(max_workers=max(1, ctx.settings.check.page_concurrency)) as pool:
            answers = pool.map(lambda page: send_page(ctx, page, **overrides), pages_of(ctx))
            return {answer.page.label: answer for answer in answers}

    return ctx.memo(f"greedy_page_answers/{overrides['max_tokens']}", send_all)


@contextmanager
def watching_load(ctx: CheckContext) -> Iterator[LoadPeaks]:
    """Poll /metrics in the background while the block runs: the queue the burst built, as vLLM saw it."""
    peaks = LoadPeaks()

    def poll() -> None:
        while True:
            try:
                reply = ctx.metrics()
            except (
                Unreachable,
                BadAnswer,
                Cancelled,
            ):  # the burst's own replies say what went wrong, or the run stopped
                return
            if reply.status == 200:
                peaks.note(prometheus.parse(reply.text))
            if peaks.stop.wait(METRICS_POLL_SECONDS):
                return

    watcher = threading.Thread(target=poll, name="burst-metrics", daemon=True)
    watcher.start()
    try:
        yield peaks
    finally:
        peaks.stop.set()
        watcher.join(timeout=10)


def send_burst(ctx: CheckContext, pages: list[PageInput], overrides: dict[str, Any]) -> list[BurstReply]:
    def one(page: PageInput) -> BurstReply:
        try:
            return BurstReply(page, send_page(ctx, page, **overrides))
        except Unreachable as error:
            return BurstReply(page, None, str(error))

    with ThreadPoolExecutor(max_workers=len(pages)) as pool:
        return list(pool.map(one, pages))


def degradation(answer: PageAnswer, alone: PageAnswer, others: dict[str, str]) -> str:
    """How a page answered in the burst is worse than the same page alone ("" when it is not).

    ``others`` holds the other pages' texts alone; only those that differ from this page's text alone are
    given, since a swap between two pages that read the same cannot be seen."""
    if answer.text == alone.text:
        return ""
    if not answer.text.strip() and alone.text.strip():
        return "empty"
    distance = ned(alone.text, answer.text)
    if distance <= SAME_PAGE_MAX_NED:
        return ""
    closest = min(others.items(), key=lambda item: ned(item[1], answer.text), default=None)
    if closest is not None and ned(closest[1], answer.text) < min(distance, OTHER_PAGE_MAX_NED):
        return f"{closest[0]}'s text"
    if (answer.completion_tokens or 0) < (alone.completion_tokens or 0) and len(answer.text) < len(alone.text):
        return f"truncated ({answer.completion_tokens} of {alone.completion_tokens} tokens)"
    return f"another text (distance {distance:.2f} from the page alone)"


@dataclass(frozen=True)
class Aftermath:
    """The server as the burst left it."""

    health: str  # "200", "503", or the connection error
    listed: bool
    running: float | None
    waiting: float | None

    @property
    def healthy(self) -> bool:
        return self.health == "200" and self.listed


def aftermath(ctx: CheckContext) -> Aftermath:
    try:
        health = str(ctx.client.get("/health").status)
        models = ctx.client.get("/v1/models")
        listing = dig(_json_or_none(models), "data") if models.status == 200 else None
        listed = isinstance(listing, list) and any(dig(entry, "id") == ctx.settings.model_name for entry in listing)
        metrics = ctx.metrics()
    except (Unreachable, BadAnswer) as error:
        return Aftermath(f"unreachable ({error})" if isinstance(error, Unreachable) else str(error), False, None, None)
    samples = prometheus.parse(metrics.text) if metrics.status == 200 else []
    return Aftermath(
        health,
        listed,
        prometheus.total(samples, "vllm:num_requests_running"),
        prometheus.total(samples, "vllm:num_requests_waiting"),
    )


def _json_or_none(reply: Response) -> Any:
    try:
        return reply.json()
    except ValueError:
        return None


def _count(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def likely_cause(failed: list[BurstReply], after: Aftermath, peaks: LoadPeaks) -> str:
    """What the failures most likely mean, from the first failure, /health after and the queue seen."""
    first = failed[0].problem if failed else ""
    seen = (
        f"/health {after.health} after the burst, model {'listed' if after.listed else 'not listed'}; "
        f"/metrics showed at most {_count(peaks.running)} running and {_count(peaks.waiting)} waiting"
    )
    if (failed or not after.healthy) and (after.health != "200" or any(word in first for word in ENGINE_DEAD_WORDS)):
        cause = (
            "the engine died under the burst, most likely out of GPU memory (the vision encoder's activations "
            "for a batch of pages on top of the KV cache reservation): the server log names it"
        )
    elif failed and all("did not answer in time" in reply.problem for reply in failed):
        cause = "pages waited past the request timeout (check.timeout): the server queues more than it serves"
    elif failed:
        cause = "requests failed under load while the server stayed up: the server log has each error"
    else:
        cause = "the server is no longer serving the model after the burst"
    return f"{cause}; {seen}"


@register
class SRV009(Check):
    """A burst of pages at the client's concurrency is answered, undegraded, and the server survives it

    Every sample page is first read alone (a few in flight, as the suite reads them), then a burst of
    ``check.burst_concurrency`` pages (64 by default, as LightOn's client keeps) is sent at once, the
    sample pages in turn. Every page of the burst must be answered, the server must still answer /health
    200 and list the model, and no page may degrade compared with the same page alone: empty, truncated,
    another page's text, or a text more than 0.1 normalized edit distance away (greedy decoding is not
    batch-invariant on a GPU, so a token here and there may change). Both are asked for at temperature 0,
    where one page has one answer; under the card's 0.2 a difference could be chance. Against random
    weights (the CPU build's tiny model) the burst is capped at ``check.burst_concurrency_random_weights``
    and max_tokens at 512, and a swap between pages cannot be seen when every page alone reads the same
    noise: the detail says so.
    """

    family = "serving"
    failure = (
        "The server fails under the load LightOn's own client sends: pages are refused, come back empty, cut "
        "or mixed up, or the engine dies and every later request gets a 500."
    )
    hint = (
        "Leave vLLM room for a batch of pages: lower --gpu-memory-utilization (0.8) or --max-num-batched-tokens "
        "(the vision encoder's activations grow with it), or cap --max-num-seqs so pages queue instead of all "
        "running at once; read the server log for the first error, then run the check again."
    )
    requires = ("MOD001",)

    def run(self, ctx: CheckContext) -> Outcome:
        size, capped = burst_size(ctx.settings)
        overrides = greedy_overrides(ctx.settings)
        alone = answers_alone(ctx, overrides)
        pages = list(pages_of(ctx))
        burst = [pages[index % len(pages)] for index in range(size)]
        with watching_load(ctx) as peaks:
            replies = send_burst(ctx, burst, overrides)
        after = aftermath(ctx)
        peaks.note_after(after)  # a burst shorter than one poll, or an engine that died, shows its queue here
        failed = [reply for reply in replies if reply.problem]
        judged, degraded = self._judge(replies, alone)
        wall = max((r.answer.seconds for r in replies if r.answer is not None), default=0.0)
        data = {
            "burst": size,
            "burst_configured": ctx.settings.check.burst_concurrency,
            "capped": capped,
            "max_tokens": overrides["max_tokens"],
            "answered": size - len(failed),
            "failed": len(failed),
            "degraded": len(degraded),
            "judged": judged,
            "first_failure": failed[0].problem if failed else None,
            "health_after": after.health,
            "model_listed_after": after.listed,
            "peak_running": peaks.running,
            "peak_waiting": peaks.waiting,
            "running_after": after.running,
            "waiting_after": after.waiting,
            "slowest_seconds": round(wall, 4),
        }
        in_flight = f"{size} pages at once" + (f" ({capped})" if capped else "")
        figure = f"{size - len(failed)}/{size} answered"
        if failed or not after.healthy:
            first = f"; first failure: {failed[0].page.label}: {one_line(failed[0].problem, 200)}" if failed else ""
            return Outcome.failed(
                f"{in_flight}: {len(failed)} failed{first}; {likely_cause(failed, after, peaks)}",
                figure=figure,
                **data,
            )
        if degraded:
            return Outcome.failed(
                f"{in_flight}: {len(degraded)} page(s) degraded compared with the page alone at temperature 0: "
                f"{listing(degraded)}",
                figure=figure,
                **data,
            )
        return Outcome.passed(
            f"{in_flight}, max_tokens {overrides['max_tokens']}, temperature 0: all answered in "
            f"{wall:.1f} s, {self._judged_note(judged, alone)}; /health 200 and the model listed afterwards; "
            f"/metrics showed at most {_count(peaks.running)} running, {_count(peaks.waiting)} waiting",
            figure=figure,
            **data,
        )

    @staticmethod
    def _judge(replies: list[BurstReply], alone: dict[str, PageAnswer]) -> tuple[int, list[str]]:
        """How many answers could be compared with their page alone, and the degraded ones' descriptions."""
        judged, degraded = 0, []
        for reply in replies:
            reference = alone.get(reply.page.label)
            if reply.answer is None or reply.answer.problem or reference is None or reference.problem:
                continue
            judged += 1
            others = {
                label: other.text
                for label, other in alone.items()
                if label != reply.page.label and not other.problem and other.text != reference.text
            }
            worse = degradation(reply.answer, reference, others)
            if worse:
                degraded.append(f"{reply.page.label}: {worse}")
        return judged, degraded

    @staticmethod
    def _judged_note(judged: int, alone: dict[str, PageAnswer]) -> str:
        texts = {answer.text for answer in alone.values() if not answer.problem}
        note = f"{judged} compared with the page alone, none degraded"
        if len(texts) <= 1:
            note += " (another page's text cannot be seen: every page alone reads the same, as random weights do)"
        return note
