"""OCR003 on the user's own pages (`invoke check --pages DIR`): every test graded, scored per category.

A user's set has no calibrated per-page thresholds, so no single page decides: the set passes when its
overall score (the mean of the per-category pass rates, as olmOCR-Bench reports) reaches
``check.pages_score_min``. Every test's result, and each category's score with its 95 % bootstrap interval,
go into the check's data, hence into the JSON, Markdown and JUnit reports.
"""

from __future__ import annotations

from lightonocr_validation.accuracy.set_score import TestResult, grade_page, score_set
from lightonocr_validation.check.base import Outcome
from lightonocr_validation.check.context import CheckContext
from lightonocr_validation.check.page_answers import one_line, page_answers
from lightonocr_validation.pages.inputs import UserPageInput, user_page_set


def grade_user_set(ctx: CheckContext) -> Outcome:
    answers = page_answers(ctx)
    results: list[TestResult] = []
    for answer in answers:
        page = answer.page
        assert isinstance(page, UserPageInput)
        output = None if answer.problem else answer.text
        results.extend(grade_page(page.user, output, cer_max=ctx.settings.check.pages_cer_max, problem=answer.problem))
    if not results:
        return Outcome.skipped("the page set has no test")
    scored = score_set(results)
    overall = scored.overall
    minimum = ctx.settings.check.pages_score_min
    figure = f"score {overall.score:.1%} [{overall.low:.1%}, {overall.high:.1%}]"
    data = {
        "pages_dir": ctx.settings.pages_dir,
        "score_min": minimum,
        "cer_max": ctx.settings.check.pages_cer_max,
        "pages": len(answers),
        "tests": scored.tests,
        "passed": scored.passed,
        "score": overall.as_dict(),
        "by_category": {
            category.category: {"tests": category.tests, "passed": category.passed, **category.interval.as_dict()}
            for category in scored.categories
        },
        "results": [result.as_dict() for result in results],
    }
    unread = user_page_set(ctx.settings.pages_dir, ctx.settings.check.pages_cer_max, ctx.profile.longest_edge)[1]
    data["unread"] = [{"file": str(page.file), "reason": page.reason} for page in unread]
    weakest = min(scored.categories, key=lambda category: category.interval.score)
    summary = (
        f"{scored.passed}/{scored.tests} tests passed over {len(answers)} pages; score {overall.score:.1%} "
        f"(95% CI {overall.low:.1%}-{overall.high:.1%}, mean of {len(scored.categories)} categories); "
        f"weakest: {weakest.category} {weakest.interval.score:.1%}"
    )
    if unread:  # the score covers the pages read: the set is not judged whole, so it cannot pass
        return Outcome.failed(
            f"{len(unread)} of {len(answers) + len(unread)} pages could not be read and were left out: "
            f"{one_line(unread[0].line(), 300)}; the others: {summary}",
            figure=figure,
            **data,
        )
    if overall.score < minimum:
        first = next(result for result in results if not result.passed)
        return Outcome.failed(
            f"{summary}, below the minimum {minimum:.1%}; first failure: {first.page} {first.test.describe()}: "
            f"{one_line(first.reason, 200)}",
            figure=figure,
            **data,
        )
    return Outcome.passed(f"{summary}, at least the minimum {minimum:.1%}", figure=figure, **data)
