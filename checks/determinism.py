"""The same page, several times at temperature 0, must give the same text."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from lightonocr_validation.check.base import Check, Outcome, register
from lightonocr_validation.check.context import CheckContext
from lightonocr_validation.check.page_answers import first_text_page, send_page


@register
class DET001(Check):
    """The same page gives the same text at temperature 0"""

    family = "determinism"
    failure = "Greedy decoding gives different text for the same page: results cannot be reproduced or cached."
    hint = (
        "Batch-dependent kernels or a broken sampler: serve with --enforce-eager, check the attention "
        "backend, "
        "and make sure the client's temperature reaches the server."
    )
    requires = ("OCR001",)
    needs_trained_weights = True

    def run(self, ctx: CheckContext) -> Outcome:
        page = first_text_page(ctx)
        runs = max(2, ctx.settings.check.determinism_runs)
        # Sent concurrently: differences that only appear when requests share a batch are the ones users hit.
        with ThreadPoolExecutor(max_workers=runs) as pool:
            answers = list(pool.map(lambda _: send_page(ctx, page, temperature=0.0), range(runs)))
        failed = next((a for a in answers if a.problem), None)
        if failed is not None:
            return Outcome.skipped(f"{page.label} at temperature 0 was not answered: {failed.problem}")
        counts = Counter(a.text for a in answers)
        same = counts.most_common(1)[0][1]
        figure = f"{same}/{runs} identical"
        data = {
            "page": page.label,
            "runs": runs,
            "identical": same,
            "share": round(same / runs, 4),
            "distinct": len(counts),
        }
        if same < runs:
            return Outcome.failed(
                f"{page.label}: {len(counts)} different texts in {runs} runs at temperature 0",
                figure=figure,
                **data,
            )
        return Outcome.passed(f"{page.label}: {runs} runs at temperature 0, one text", figure=figure, **data)
