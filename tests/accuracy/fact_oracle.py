"""olmOCR-Bench's own scorer (``olmocr.bench.tests``, installed --no-deps from the ``oracle`` dependency group)
run next to our fact engine on the same case.

olmOCR's math facts render LaTeX with KaTeX in Chromium through Playwright. Playwright's own browser download
is not available offline, so the oracle drives Debian's ``chromium`` (``apt-get install chromium``) through
Playwright's ``executable_path``; without it, math cases cannot be judged by the oracle and say so.
"""

from __future__ import annotations

import shutil
import weakref
from collections.abc import Callable

from lightonocr_validation.truth.facts import check_fact, parse_fact
from tests.accuracy.fact_cases import Case

INVALID = "invalid"


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def use_system_chromium() -> bool:
    """Make olmOCR's KaTeX renderer launch the system Chromium; False when there is none."""
    path = chromium_path()
    if path is None:
        return False
    import olmocr.bench.katex.render as render
    from playwright.sync_api import sync_playwright

    def launch(owner: object) -> None:
        playwright = sync_playwright().start()
        browser = playwright.chromium.launch(executable_path=path)
        owner.p, owner.browser, owner._closed = playwright, browser, False  # type: ignore[attr-defined]
        owner._finalizer = weakref.finalize(owner, render._cleanup_playwright, playwright, browser)  # type: ignore[attr-defined]

    render._BrowserOwner.__init__ = launch  # type: ignore[method-assign]
    return True


def oracle_verdict(case: Case) -> bool | str:
    from olmocr.bench.tests import ValidationError, load_single_test

    try:
        test = load_single_test({**case.fact, "pdf": "case.pdf", "page": 1, "id": case.id})
    except ValidationError:
        return INVALID
    passed, _ = test.run(case.answer)
    return passed


def our_verdict(case: Case) -> bool | str:
    try:
        fact = parse_fact(case.fact)
    except ValueError:
        return INVALID
    return check_fact(fact, case.answer).passed


def disagreements(cases: list[Case], oracle: Callable[[Case], bool | str] = oracle_verdict) -> dict[str, tuple]:
    """Case id -> (ours, olmOCR's) for every case where the verdicts differ."""
    found = {}
    for case in cases:
        ours, theirs = our_verdict(case), oracle(case)
        if ours != theirs:
            found[case.id] = (ours, theirs)
    return found
