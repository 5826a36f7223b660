"""LightOnOCR-3's grounding mode: the page image plus the text ``grounding``, answered in LightOn's block format.

Every page is sent once more in grounding mode (the profile's sampling and chat template arguments) and the
answers are shared by these checks: the serving part (a well-formed completion) runs on any model that has
the mode, random weights included; the parts that judge the answer (markers, coordinates, labels, text, boxes)
need the trained weights. A model without the mode (generations 1 and 2) skips them all, saying so; they are
not essential, so such a model is validated without them.
"""

from __future__ import annotations

from statistics import mean
from typing import ClassVar

from lightonocr_validation.accuracy.metrics import cer
from lightonocr_validation.accuracy.set_score import grade_page
from lightonocr_validation.check.base import Check, Outcome, register
from lightonocr_validation.check.context import CheckContext
from lightonocr_validation.check.page_answers import PageAnswer, answered, listing, one_line, send_page, sent_pages
from lightonocr_validation.grounding.boxes import LABELS_MIN, LOCATED_MIN, OFFSET_MAX, PRECISION_MIN
from lightonocr_validation.grounding.judge import PageJudgement, judge
from lightonocr_validation.grounding.mode import (
    grounding_content,
    grounding_overrides,
    grounding_supported,
    no_grounding,
    profile_of,
)
from lightonocr_validation.pages.inputs import UserPageInput
from lightonocr_validation.truth.normalize import normalize_text


def grounding_answers(ctx: CheckContext) -> tuple[PageAnswer, ...]:
    """Every page's answer to a grounding request, sent once per context."""
    overrides = grounding_overrides(profile_of(ctx, ctx.settings.model_name))
    return sent_pages(ctx, "grounding_answers", lambda page: send_page(ctx, page, grounding_content, **overrides))


def judged(ctx: CheckContext) -> list[tuple[PageAnswer, PageJudgement]]:
    """The well-formed grounding answers of pages with text, each judged on every count, once per context."""

    answers = grounding_answers(ctx)  # outside the memo below: the context's lock is not re-entrant

    def judge_all() -> list[tuple[PageAnswer, PageJudgement]]:
        return [
            (answer, judge(answer.text, answer.page.sample, answer.page.page))
            for answer in answers
            if not answer.problem and answer.page.sample.expect != "empty"
        ]

    return ctx.memo("grounding_judgements", judge_all)


class _Grounding(Check):
    family = "grounding"
    essential = False  # a model without the mode skips these, and is validated without them
    # Not GRD001: a model without the mode must say so in every check, not "GRD001 did not pass". The judging
    # checks read only the well-formed answers, as OCR003 does.
    requires: tuple[str, ...] = ("MOD001",)

    @classmethod
    def not_applicable(cls, ctx: CheckContext) -> str:
        profile = profile_of(ctx, ctx.settings.model_name)
        return "" if grounding_supported(profile) else no_grounding(profile, ctx.settings.model_name)


class _EachPage(_Grounding):
    """A check that passes when no page's answer has a problem of its ``part`` (PageJudgement.problems)."""

    part: ClassVar[str]
    done: ClassVar[str]  # the detail of a pass
    needs_trained_weights = True

    def run(self, ctx: CheckContext) -> Outcome:
        part = self.part
        pages = judged(ctx)
        if not pages:
            return Outcome.skipped("no page with text got a well-formed grounding answer")
        bad = [(a, j.problems()[part]) for a, j in pages if part in j.problems()]
        figure = f"{len(pages) - len(bad)}/{len(pages)} pages"
        data = {"pages": {a.page.label: j.problems().get(part, "") for a, j in pages}}
        if bad:
            answer, problem = bad[0]
            labels = [a.page.label for a, _ in bad]
            return Outcome.failed(
                f"{len(bad)} page(s) ({listing(labels)}); {answer.page.label}: {one_line(problem, 240)}",
                figure=figure,
                **data,
            )
        return Outcome.passed(self.done, figure=figure, **data)


@register
class GRD001(_Grounding):
    """Grounding requests get a well-formed completion"""

    failure = "The server refuses the grounding request (the image plus the text `grounding`) or answers it malformed."
    hint = (
        "Serve a LightOnOCR-3 checkpoint with the flags of its profile (`invoke serve --dry-run --model ...`); "
        "a 400 naming chat_template_kwargs or the prompt length points at the serving flags."
    )
    tags = frozenset({"smoke"})

    def run(self, ctx: CheckContext) -> Outcome:
        answers = grounding_answers(ctx)
        if not answers:
            return Outcome.skipped("the page set has no page to send")
        bad = [a for a in answers if a.problem]
        figure = f"{len(answers) - len(bad)}/{len(answers)} pages"
        if bad:
            return Outcome.failed(
                f"{len(bad)} grounding request(s) without a usable answer; {bad[0].page.label}: {bad[0].problem}",
                figure=figure,
            )
        return Outcome.passed("every page answered 200 in grounding mode", figure=figure)


@register
class GRD002(_EachPage):
    """Grounding answers are in LightOn's block format: every marker parses"""

    failure = "Grounding answers are not LightOn's blocks: clients that read ![label](x1,y1,x2,y2) get no layout."
    hint = (
        "Send the image and then the text `grounding` in one user turn, with the profile's chat_template_kwargs; "
        "a plain-Markdown answer means the text part was dropped (a proxy, or a generation 1 or 2 model)."
    )
    part = "format"
    done = "every answer is blocks after ![label](x1,y1,x2,y2) markers"


@register
class GRD003(_EachPage):
    """Grounding boxes are integers in 0-1000 with x1 < x2 and y1 < y2"""

    failure = "Boxes are not per mille of the page: a client drawing them puts them in the wrong place."
    hint = (
        "Coordinates past 1000 are pixels: the model or a post-processor did not normalise them; swapped or "
        "empty boxes point at a post-processor that rewrites the markers."
    )
    part = "coordinates"
    done = "every box is integers in 0-1000 with x1 < x2 and y1 < y2"


@register
class GRD004(_EachPage):
    """Grounding labels come from LightOn's documented set"""

    failure = "Blocks carry labels a client does not know: it cannot tell a table from a title."
    hint = "Serve the official LightOnOCR-3 checkpoint: another fine-tune may label blocks its own way."
    part = "labels"
    done = "every label is one of LightOn's fifteen (or text+ after a block)"


@register
class GRD005(_Grounding):
    """The grounding blocks' text reads the page as plain mode does"""

    failure = "In grounding mode the model misreads the page: its blocks hold text that plain mode would not."
    hint = (
        "Compare the first failing page's blocks, markers removed, with its ground truth; send the profile's "
        "sampling (temperature 0.1, top_p 1.0 for generation 3) and chat_template_kwargs."
    )
    needs_trained_weights = True
    tags = frozenset({"accuracy"})

    def run(self, ctx: CheckContext) -> Outcome:
        pages = judged(ctx)
        if not pages:
            return Outcome.skipped("no page with text got a well-formed grounding answer")
        plain = {a.page.label: a.text for a in answered(ctx)}
        # How far each page's grounding text is from its plain-mode reading (reported; the verdict is the
        # ground truth's, graded by the same engine and thresholds as OCR003).
        apart = {
            a.page.label: round(cer(normalize_text(plain[a.page.label]), normalize_text(j.grounding.text())), 4)
            for a, j in pages
            if a.page.label in plain and plain[a.page.label].strip()
        }
        data = {"cer_vs_plain": apart, "cer": {a.page.label: round(j.text.cer, 4) for a, j in pages}}
        misread = [(a, reason) for a, j in pages if (reason := _misread(ctx, a, j))]
        shown = f", {mean(apart.values()):.3f} from plain mode" if apart else ""
        figure = f"{len(pages) - len(misread)}/{len(pages)} pages{shown}"
        if ctx.settings.pages_dir:
            # A user's set has no calibrated per-page thresholds: as OCR003, the set's share decides.
            share = (len(pages) - len(misread)) / len(pages)
            minimum = ctx.settings.check.pages_score_min
            if share >= minimum:
                return Outcome.passed(
                    f"{share:.0%} of the pages pass every test (at least {minimum:.0%})", figure, **data
                )
        if misread:
            answer, reason = misread[0]
            return Outcome.failed(
                f"{len(misread)} page(s) misread in grounding mode ({listing([a.page.label for a, _ in misread])}); "
                f"{answer.page.label}: {one_line(reason)}",
                figure=figure,
                **data,
            )
        return Outcome.passed("every page's blocks read within its CER, fact and table thresholds", figure, **data)


def _misread(ctx: CheckContext, answer: PageAnswer, judgement: PageJudgement) -> str:
    """Why the page's grounding text fails ("" when it reads well): a bundled page by its thresholds, a user's
    page by its own tests (its .md and facts, as OCR003 grades them)."""
    if isinstance(answer.page, UserPageInput):
        results = grade_page(answer.page.user, judgement.grounding.text(), cer_max=ctx.settings.check.pages_cer_max)
        failed = next((r for r in results if not r.passed), None)
        return f"{failed.test.describe()}: {failed.reason}" if failed else ""
    return "" if judgement.text.passed else judgement.text.reason


@register
class GRD006(_Grounding):
    """Grounding boxes are where the text is on the page"""

    failure = "The boxes do not say where each block is: a client cropping or highlighting them gets other text."
    hint = (
        "Open the first failing page and draw its boxes: boxes a tenth off, swapped x/y or the whole page point "
        "at the image being resized or padded before the model (a proxy), or at the wrong checkpoint."
    )
    needs_trained_weights = True
    tags = frozenset({"accuracy"})

    def run(self, ctx: CheckContext) -> Outcome:
        scored = [(a, j) for a, j in judged(ctx) if j.boxes is not None]
        if not scored:
            return Outcome.skipped(
                "no page has true boxes (the bundled drawn pages do; give your pages a <page>.blocks.json)"
            )
        failing = [(a, j) for a, j in scored if not j.boxes.passed]
        located = mean(j.boxes.located for _, j in scored)
        figure = f"{len(scored) - len(failing)}/{len(scored)} pages, {located:.0%} of blocks located"
        data = {
            "thresholds": {
                "offset_max_per_mille": OFFSET_MAX,
                "located_min": LOCATED_MIN,
                "labels_min": LABELS_MIN,
                "precision_min": PRECISION_MIN,
            },
            "pages": {
                a.page.label: {
                    "located": round(j.boxes.located, 3),
                    "labels": round(j.boxes.labels, 3),
                    "precision": round(j.boxes.precision, 3),
                    "offset": j.boxes.offset,
                    "passed": j.boxes.passed,
                }
                for a, j in scored
            },
        }
        if failing:
            answer, first = failing[0]
            return Outcome.failed(
                f"{len(failing)} page(s) with boxes off ({listing([a.page.label for a, _ in failing])}); "
                f"{answer.page.label}: {first.boxes.reason}",
                figure=figure,
                **data,
            )
        return Outcome.passed(
            f"every page's blocks located within {OFFSET_MAX}‰ with their own text and agreeing labels",
            figure=figure,
            **data,
        )
