"""Real sample pages sent the model card's way: well-formed answers, the right prompt size, accurate text."""

from __future__ import annotations

from statistics import mean

from lightonocr_validation.accuracy.engine import grade, overall_score, score_by_category
from lightonocr_validation.check.base import Check, Outcome, register
from lightonocr_validation.check.context import CheckContext
from lightonocr_validation.check.page_answers import answered, listing, one_line, page_answers
from lightonocr_validation.check.user_set import grade_user_set


@register
class OCR001(Check):
    """Every sample page gets a well-formed completion"""

    family = "ocr"
    failure = "Pages are refused or answered in a shape OpenAI clients cannot read: no page gets its text."
    hint = (
        "Read the error the server gave for the first page: a 400 often names a serving flag "
        "(--limit-mm-per-prompt, --max-model-len); a 500 is in the server log."
    )
    requires = ("MOD001",)
    tags = frozenset({"smoke"})

    def run(self, ctx: CheckContext) -> Outcome:
        answers = page_answers(ctx)
        if not answers:
            return Outcome.skipped("the sample set has no page to send")
        bad = [a for a in answers if a.problem]
        good = len(answers) - len(bad)
        figure = f"{good}/{len(answers)} pages"
        data = {
            "pages": len(answers),
            "well_formed": good,
            "statuses": {a.page.label: a.status for a in answers},
        }
        if bad:
            first = bad[0]
            return Outcome.failed(
                f"{len(bad)} page(s) without a usable answer; {first.page.label}: {first.problem}",
                figure=figure,
                **data,
            )
        return Outcome.passed(f"{good} pages answered 200 with content, finish_reason and usage", figure=figure, **data)


@register
class OCR002(Check):
    """Prompt tokens match LightOnOCR's image preprocessing"""

    family = "ocr"
    failure = (
        "The server turns pages into a different number of image tokens than LightOnOCR was trained on: "
        "the wrong processor config, image size or model revision, and worse text."
    )
    hint = (
        "Serve the model's own preprocessor_config.json (LightOnOCR-1, -2 and -3-1B: Pixtral, longest_edge 1540, "
        "patch 14, merge 2; LightOnOCR-3-0.8B and -4B: Qwen3.5, patch 16, merge 2, pages taken as sent) and do "
        "not resize pages in a proxy; check that the model profile is the served model's (--model-profile)."
    )
    requires = ("MOD001",)

    def run(self, ctx: CheckContext) -> Outcome:
        counted = [a for a in page_answers(ctx) if a.prompt_tokens is not None]
        if not counted:
            return Outcome.skipped("no page answer reported usage.prompt_tokens")
        wrong = []
        for answer in counted:
            expected = ctx.profile.prompt_tokens(answer.page.width, answer.page.height)
            if answer.prompt_tokens != expected:
                wrong.append((answer, expected))
        figure = f"{len(counted) - len(wrong)}/{len(counted)} pages"
        data = {"pages": {a.page.label: a.prompt_tokens for a in counted}}
        if wrong:
            answer, expected = wrong[0]
            return Outcome.failed(
                f"{len(wrong)} page(s) counted differently; {answer.page.label} "
                f"({answer.page.width}x{answer.page.height}): {answer.prompt_tokens} prompt tokens, expected "
                f"{expected} ({ctx.profile.prompt_tokens_rule()}, {ctx.profile.name})",
                figure=figure,
                **data,
            )
        return Outcome.passed(
            f"every page counted as {ctx.profile.prompt_tokens_rule()} prompt tokens ({ctx.profile.name})",
            figure=figure,
            **data,
        )


@register
class OCR003(Check):
    """Sample pages are read accurately"""

    family = "ocr"
    failure = "The served model misreads documents: wrong weights, chat template, preprocessing or sampling."
    hint = (
        "Compare the first failing page's output with its ground truth (samples/); serve the model card's "
        "way (no system or text prompt, the profile's sampling: temperature 0.2, top_p 0.9 for LightOnOCR-2) "
        "with the official checkpoint."
    )
    requires = ("OCR001",)
    needs_trained_weights = True
    tags = frozenset({"accuracy"})

    def run(self, ctx: CheckContext) -> Outcome:
        if ctx.settings.pages_dir:
            return grade_user_set(ctx)
        answers = answered(ctx)
        if not answers:
            return Outcome.skipped("no page was answered: nothing to grade")
        grades = [grade(a.text, a.page.sample, a.page.page) for a in answers]
        failing = [(a, g) for a, g in zip(answers, grades, strict=True) if not g.passed]
        passed = len(grades) - len(failing)
        # Blank pages are left out of the mean: their reference is empty, so any CER there is unbounded.
        mean_cer = mean([g.cer for g in grades if g.reference_chars] or [0.0])
        figure = f"{passed}/{len(grades)} pages, mean CER {mean_cer:.3f}"
        data = {
            "passed": passed,
            "total": len(grades),
            "mean_cer": round(mean_cer, 4),
            "score": round(overall_score(grades), 4),
            "by_category": score_by_category(grades),
            "pages": [
                {"page": a.page.label, "category": g.category, "cer": round(g.cer, 4), "passed": g.passed}
                for a, g in zip(answers, grades, strict=True)
            ],
        }
        if failing:
            answer, first = failing[0]
            labels = [a.page.label for a, _ in failing]
            return Outcome.failed(
                f"{len(failing)} page(s) below their thresholds ({listing(labels)}); "
                f"{answer.page.label}: {one_line(first.reason)}",
                figure=figure,
                **data,
            )
        return Outcome.passed("every page within its CER, fact and table thresholds", figure=figure, **data)
