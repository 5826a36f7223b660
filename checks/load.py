"""A short load through `invoke bench`'s driver: a few streamed pages at a small concurrency, timed for real."""

from __future__ import annotations

import json

from lightonocr_validation.check.base import Check, Outcome, register
from lightonocr_validation.check.context import CheckContext
from lightonocr_validation.check.page_answers import image_content, one_line, pages_of
from lightonocr_validation.load.driver import Budget, run_point
from lightonocr_validation.load.figures import figures
from lightonocr_validation.load.pages import from_page_input
from lightonocr_validation.load.records import Load


@register
class PRF002(Check):
    """A short load of streamed pages keeps to the configured speed"""

    family = "performance"
    failure = (
        "Under a small concurrent load the server drops requests, answers slower than the configured p95, or "
        "reads fewer pages per second than the configured floor: it will not keep up in production."
    )
    hint = (
        "Run `invoke bench --sweep` to see where it saturates; look for a CPU-only or shared GPU, a small KV cache "
        "(--max-model-len, --gpu-memory-utilization), or set bench.perf to what this hardware is expected to do."
    )
    requires = ("OCR001",)
    tags = frozenset({"bench", "load"})
    # Random weights run every answer to max_tokens, on a CPU: the figures would measure the machine, not
    # LightOnOCR on it (as for PRF001).
    needs_trained_weights = True
    # Not essential: pages/s depend on the hardware and its price, a floor is the deployment's own policy,
    # and a server can be a correct LightOnOCR server on a slow card. A configured floor that is missed
    # still fails the run.
    essential = False

    def run(self, ctx: CheckContext) -> Outcome:
        perf = ctx.settings.perf
        pages = [from_page_input(page) for page in pages_of(ctx) if page.sample.expect != "empty"]
        if not pages:
            return Outcome.skipped("the sample set has no page with text to send")
        stream = {"stream": True, "stream_options": {"include_usage": True}}
        bodies = {
            page.label: json.dumps(ctx.chat_body(image_content(page.data_url), **stream)).encode() for page in pages
        }
        point = run_point(
            ctx.client.target,
            pages,
            bodies,
            Load(perf.concurrency),
            Budget(requests=perf.requests, warmup=perf.concurrency),
            stream=True,
            keep_text=False,  # timed, not graded: OCR003 grades the same pages
            stop=ctx.client.cancel,  # the run's deadline and Ctrl-C reach the driver's own sessions
            watch=ctx.client.watch,  # and a server judged gone stops it (liveness.py)
        )
        ctx.client.cancel.raise_if_stopped()  # a point cut short is not a measurement
        if ctx.client.watch is not None:
            ctx.client.watch.raise_if_gone()
        seen = figures(point.records, point.duration_s, graded=False)
        p95 = (seen["e2e_s"] or {}).get("p95")
        ttft = (seen["ttft_s"] or {}).get("p50")
        pages_per_s = seen["pages_per_s"] or 0.0
        figure = f"{pages_per_s:.2f} pages/s" + (f", p95 {p95:.2f} s" if p95 is not None else "")
        data = {
            "requests": seen["requests"],
            "errors": seen["errors"],
            "concurrency": perf.concurrency,
            "pages_per_s": pages_per_s,
            "e2e_p95_seconds": p95,
            "ttft_p50_seconds": ttft,
            "pages_per_s_min": perf.pages_per_s_min,
            "p95_seconds_max": perf.p95_seconds_max,
        }
        failed = [r for r in point.records if not r.ok]
        if failed:
            return Outcome.failed(
                f"{len(failed)} of {len(point.records)} requests failed at concurrency {perf.concurrency}: "
                f"{failed[0].page.label}: {one_line(failed[0].exchange.error or '', 200)}",
                figure=figure,
                **data,
            )
        problems = []
        if pages_per_s < perf.pages_per_s_min:
            problems.append(f"{pages_per_s:.2f} pages/s is under the floor of {perf.pages_per_s_min:g}")
        if p95 is not None and p95 > perf.p95_seconds_max:
            problems.append(f"p95 latency {p95:.2f} s is over {perf.p95_seconds_max:g} s")
        if problems:
            return Outcome.failed("; ".join(problems) + f" (concurrency {perf.concurrency})", figure=figure, **data)
        return Outcome.passed(
            f"{seen['requests']} pages at concurrency {perf.concurrency}, none failed, "
            f"time to first token p50 {ttft:.2f} s"
            if ttft is not None
            else f"{seen['requests']} pages, none failed",
            figure=figure,
            **data,
        )
