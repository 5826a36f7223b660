"""Print how often our fact engine agrees with olmOCR-Bench's scorer, per fact type, on the generated cases.

    python benchmarks/facts_oracle.py

Needs the `oracle` dependency group and `olmocr` (installed --no-deps), as the tests session installs them;
math cases also need Chromium (Debian's `chromium`), else they are counted as not judged. The cases are the
seeded ones of tests/accuracy/fact_cases.py and the deliberate differences those of tests/accuracy/test_facts_oracle.py.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.accuracy.fact_cases import generate
from tests.accuracy.fact_oracle import oracle_verdict, our_verdict, use_system_chromium
from tests.accuracy.test_facts_oracle import KNOWN_DIFFERENCES


def main() -> int:
    browser = use_system_chromium()
    counts: dict[str, Counter[str]] = {}
    started = time.perf_counter()
    for case in generate():
        kind = case.id.split("-")[0]
        tally = counts.setdefault(kind, Counter())
        tally["cases"] += 1
        if kind == "math" and not browser:
            tally["not judged (no chromium)"] += 1
            continue
        ours, theirs = our_verdict(case), oracle_verdict(case)
        tally[f"olmOCR {theirs}"] += 1
        if ours == theirs:
            tally["agreed"] += 1
        elif case.id in KNOWN_DIFFERENCES:
            tally["deliberate difference"] += 1
        else:
            tally["UNEXPECTED difference"] += 1
    print(f"{'fact type':<10} {'cases':>5} {'agreed':>6} {'deliberate':>10} {'unexpected':>10}  olmOCR pass/fail")
    for kind, tally in counts.items():
        unjudged = tally["not judged (no chromium)"]
        print(
            f"{kind:<10} {tally['cases']:>5} {tally['agreed']:>6} {tally['deliberate difference']:>10} "
            f"{tally['UNEXPECTED difference']:>10}  {tally['olmOCR True']}/{tally['olmOCR False']}"
            + (f"  ({unjudged} not judged: no chromium)" if unjudged else "")
        )
    print(f"{sum(t['cases'] for t in counts.values())} cases in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
