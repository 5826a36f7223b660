"""How long a page takes, from the answers the sample pages already got."""

from __future__ import annotations

from statistics import median

from lightonocr_validation.check.base import Check, Outcome, register
from lightonocr_validation.check.context import CheckContext
from lightonocr_validation.check.page_answers import answered


@register
class PRF001(Check):
    """Every page is answered within the time limit"""

    family = "performance"
    failure = "Pages take longer than the limit: clients time out and throughput is far below what the model can do."
    hint = (
        "Look for a CPU-only or overloaded server, a tiny KV cache (queued requests), or pages running to "
        "max_tokens; raise the limit only if this hardware is expected to be slow."
    )
    requires = ("OCR001",)
    # Page latency is mostly output length. Random weights never stop before max_tokens, so against the tiny
    # model the figure says nothing about LightOnOCR's speed, and a limit on it would only measure the machine.
    needs_trained_weights = True

    def run(self, ctx: CheckContext) -> Outcome:
        answers = answered(ctx)
        if not answers:
            return Outcome.skipped("no page was answered: nothing to time")
        seconds = sorted(a.seconds for a in answers)
        slowest = max(answers, key=lambda a: a.seconds)
        limit = ctx.settings.check.page_seconds_max
        figure = f"median {median(seconds):.2f} s, max {slowest.seconds:.2f} s"
        data = {
            "median_seconds": round(median(seconds), 4),
            "max_seconds": round(slowest.seconds, 4),
            "limit_seconds": limit,
            "in_flight": ctx.settings.check.page_concurrency,
        }
        if slowest.seconds > limit:
            over = sum(s > limit for s in seconds)
            return Outcome.failed(
                f"{over} page(s) over {limit:g} s; {slowest.page.label} took {slowest.seconds:.2f} s",
                figure=figure,
                **data,
            )
        return Outcome.passed(
            f"{len(answers)} pages, {ctx.settings.check.page_concurrency} in flight, all under {limit:g} s",
            figure=figure,
            **data,
        )
