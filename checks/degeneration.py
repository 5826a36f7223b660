"""Degenerate output as a serving fault: empty pages, truncation at max_tokens, loops, one-character floods,
and text invented for a blank page.

All judge the text, so against the random-weight tiny model they are skipped: random weights loop and run
to max_tokens by nature, and that says nothing about the deployment.
"""

from __future__ import annotations

from collections.abc import Callable

from lightonocr_validation.accuracy.detectors import dominant_character, repetition_loop
from lightonocr_validation.check.base import Check, Outcome, register
from lightonocr_validation.check.context import CheckContext
from lightonocr_validation.check.page_answers import PageAnswer, answered, listing, one_line
from lightonocr_validation.truth.normalize import normalize_text


def _judge(ctx: CheckContext, pages: list[PageAnswer], flag: Callable[[PageAnswer], str | None], what: str) -> Outcome:
    """Fail naming the first flagged page and how many there are; pass naming how many were judged."""
    if not pages:
        return Outcome.skipped("no page was answered: nothing to judge")
    flagged = [(answer, finding) for answer in pages if (finding := flag(answer))]
    figure = f"{len(flagged)}/{len(pages)} pages"
    data = {"flagged": [answer.page.label for answer, _ in flagged], "judged": len(pages)}
    if flagged:
        answer, finding = flagged[0]
        labels = [a.page.label for a, _ in flagged]
        return Outcome.failed(
            f"{len(flagged)} page(s) {what} ({listing(labels)}); {answer.page.label}: {one_line(finding)}",
            figure=figure,
            **data,
        )
    return Outcome.passed(f"none of {len(pages)} pages {what}", figure=figure, **data)


def _text_pages(ctx: CheckContext) -> list[PageAnswer]:
    return [a for a in answered(ctx) if a.page.sample.expect != "empty"]


@register
class DEG001(Check):
    """No page with text comes back empty"""

    family = "degeneration"
    failure = "Pages come back with no text: documents silently lose their content."
    hint = (
        "Check that the page reaches the model (one image, no text prompt) and that max_tokens is not tiny; "
        "an empty answer with finish_reason 'stop' often means a wrong chat template or EOS token."
    )
    requires = ("OCR001",)
    needs_trained_weights = True

    def run(self, ctx: CheckContext) -> Outcome:
        return _judge(
            ctx,
            _text_pages(ctx),
            lambda a: None if a.text.strip() else f"empty (finish_reason {a.finish_reason})",
            "came back empty",
        )


@register
class DEG002(Check):
    """No page is cut off at max_tokens"""

    family = "degeneration"
    failure = "Pages end with finish_reason 'length': their text is truncated, usually by a repetition loop."
    hint = (
        "Send max_tokens 4096 as the card does and serve a release not known to loop "
        "(0.27.1 loops in compiled "
        "mode); look at the truncated page for a loop."
    )
    requires = ("OCR001",)
    needs_trained_weights = True

    def run(self, ctx: CheckContext) -> Outcome:
        return _judge(
            ctx,
            answered(ctx),
            lambda a: (
                f"finish_reason 'length' after {a.completion_tokens} tokens" if a.finish_reason == "length" else None
            ),
            "stopped at max_tokens",
        )


@register
class DEG003(Check):
    """No page loops on a repeated phrase or line"""

    family = "degeneration"
    failure = "The model repeats itself until max_tokens: the page's remaining text is lost and GPU time wasted."
    hint = (
        "Serve with the card's sampling (temperature 0.2, top_p 0.9) sent explicitly; avoid vLLM 0.27.1 or "
        "use --enforce-eager; check the model revision."
    )
    requires = ("OCR001",)
    needs_trained_weights = True

    def run(self, ctx: CheckContext) -> Outcome:
        return _judge(ctx, answered(ctx), lambda a: repetition_loop(a.text), "loop")


@register
class DEG004(Check):
    """No page is dominated by one character"""

    family = "degeneration"
    failure = "Pages come back as '!!!!...' or similar: the model's numerics or weights are broken."
    hint = (
        "Typical of a wrong dtype (serve bf16), a corrupted or partial checkpoint, or a broken attention "
        "backend: re-download the weights and check the server log."
    )
    requires = ("OCR001",)
    needs_trained_weights = True

    def run(self, ctx: CheckContext) -> Outcome:
        return _judge(ctx, answered(ctx), lambda a: dominant_character(a.text), "are one character")


@register
class DEG005(Check):
    """The blank page gets no invented text"""

    family = "degeneration"
    failure = "The model invents text for empty pages: it hallucinates, or a prompt is injected and echoed."
    hint = (
        "Send the page image only (no system or text prompt: LightOnOCR echoes it) and the card's sampling; "
        "check the chat template and the model revision."
    )
    requires = ("OCR001",)
    needs_trained_weights = True
    essential_on_user_pages = False  # a user's set has a blank page only when one of its .md files is empty

    def run(self, ctx: CheckContext) -> Outcome:
        blanks = [a for a in answered(ctx) if a.page.sample.expect == "empty"]
        if not blanks:
            return Outcome.skipped("the page set has no blank page (an empty NAME.md ground truth makes one)")

        def invented(answer: PageAnswer) -> str | None:
            text = normalize_text(answer.text)
            limit = answer.page.sample.thresholds.max_chars or 0
            return f"{len(text)} characters (max {limit}): {text[:60]!r}" if len(text) > limit else None

        return _judge(ctx, blanks, invented, "got invented text")
