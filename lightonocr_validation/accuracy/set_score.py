"""Grade a user's page set test by test, and score it as olmOCR-Bench reports a benchmark.

olmOCR-Bench's headline is the mean of the per-category pass rates (every category weighs the same, however
many tests it has), with a 95 % bootstrap interval: each resample draws, within every category
independently, as many tests as it has (with replacement) and takes the mean of the category means; the
interval is the 2.5th and 97.5th percentiles of 1000 such means. A category's own interval resamples only its
tests. The resampling is seeded, so the same results always give the same interval.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from lightonocr_validation.accuracy.engine import grade
from lightonocr_validation.pages.user_pages import PageTest, UserPage
from lightonocr_validation.truth.facts import check_fact

RESAMPLES = 1000
LEVEL = 0.95
SEED = 0


@dataclass(frozen=True)
class TestResult:
    """One test's outcome on one page; ``reason`` says what was wrong (or, for a text test, the CER)."""

    __test__ = False  # a dataclass, not a pytest test class

    test: PageTest
    page: str
    passed: bool
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.test.id,
            "category": self.test.category,
            "page": self.page,
            "fact": self.test.describe(),
            "passed": self.passed,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Interval:
    score: float
    low: float
    high: float

    def as_dict(self) -> dict[str, float]:
        return {"score": round(self.score, 4), "low": round(self.low, 4), "high": round(self.high, 4)}


@dataclass(frozen=True)
class CategoryScore:
    category: str
    tests: int
    passed: int
    interval: Interval


@dataclass(frozen=True)
class SetScore:
    overall: Interval
    categories: tuple[CategoryScore, ...]

    @property
    def tests(self) -> int:
        return sum(category.tests for category in self.categories)

    @property
    def passed(self) -> int:
        return sum(category.passed for category in self.categories)


def grade_page(page: UserPage, output: str | None, *, cer_max: float, problem: str = "") -> list[TestResult]:
    """Every test of ``page`` against the model's ``output``; a page without an answer fails all its tests,
    as olmOCR-Bench counts a page it has no output for."""
    if output is None:
        reason = f"no answer: {problem or 'the page was not answered'}"
        return [TestResult(test, page.id, False, reason) for test in page.tests]
    results = []
    for test in page.tests:
        if test.fact is None:
            graded = grade(output, page.as_sample(cer_max), 0)
            results.append(TestResult(test, page.id, graded.passed, graded.reason))
        else:
            checked = check_fact(test.fact, output)
            results.append(TestResult(test, page.id, checked.passed, checked.reason))
    return results


def score_set(
    results: Sequence[TestResult], *, resamples: int = RESAMPLES, level: float = LEVEL, seed: int = SEED
) -> SetScore:
    """Per-category pass rates and their mean, each with its bootstrap interval (see the module's doc)."""
    by_category: dict[str, list[bool]] = {}
    for result in results:
        by_category.setdefault(result.test.category, []).append(result.passed)
    rng = random.Random(seed)
    names = sorted(by_category)
    draws = {name: [_resample_mean(by_category[name], rng) for _ in range(resamples)] for name in names}
    categories = tuple(
        CategoryScore(
            name,
            len(by_category[name]),
            sum(by_category[name]),
            _interval(_mean(by_category[name]), draws[name], level),
        )
        for name in names
    )
    if not names:
        return SetScore(Interval(0.0, 0.0, 0.0), ())
    # The overall resample i is the mean of every category's resample i: categories drawn independently.
    overall_draws = [_mean([draws[name][i] for name in names]) for i in range(resamples)]
    overall = _mean([category.interval.score for category in categories])
    return SetScore(_interval(overall, overall_draws, level), categories)


def _resample_mean(passed: list[bool], rng: random.Random) -> float:
    return sum(rng.choices(passed, k=len(passed))) / len(passed)


def _mean(values: Sequence[float | bool]) -> float:
    return sum(values) / len(values) if values else 0.0


def _interval(score: float, draws: list[float], level: float) -> Interval:
    alpha = (1 - level) / 2
    ordered = sorted(draws)
    return Interval(score, _percentile(ordered, alpha), _percentile(ordered, 1 - alpha))


def _percentile(ordered: list[float], fraction: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default percentile method)."""
    if not ordered:
        return 0.0
    position = fraction * (len(ordered) - 1)
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)
