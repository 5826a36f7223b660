"""Time math facts as they render (KaTeX in QuickJS) and print the figures (never asserted: machines are shared).

    python benchmarks/math_speed.py

In a fresh process: loading KaTeX (once per process), grading the bundled math page on a reading that writes every
formula in another notation (its math facts and CER, every render new), the same again (renders cached), one
formula's render, and one math fact against a hostile answer of thousands of distinct equations
(``fact_math.MAX_RENDERED`` of them rendered at most).
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _seconds(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> int:
    from lightonocr_validation.accuracy.engine import grade
    from lightonocr_validation.accuracy.readings import pages_of, respell_math
    from lightonocr_validation.pages.samples import load_manifest
    from lightonocr_validation.truth import katex_render
    from lightonocr_validation.truth.fact_math import MAX_RENDERED
    from lightonocr_validation.truth.facts import check_fact, parse_fact

    load = _seconds(lambda: katex_render.render("x"))  # before the manifest, whose math facts render when read
    page = next(p for p in pages_of(load_manifest()) if p.sample.expect == "latex")
    reading = respell_math(page.truth, random.Random(1))
    first = _seconds(lambda: grade(reading, page.sample))
    again = _seconds(lambda: grade(reading, page.sample))
    facts = sum(f.type == "math" for f in page.sample.facts)
    formula = r"x = \frac{-b \pm \sqrt{b^{2} - 4ac}}{2a}"
    one = min(_seconds(lambda: katex_render.render.__wrapped__(formula)) for _ in range(20))
    hostile = " ".join(f"$x^{{{n}}} + y_{{{n}}}$" for n in range(5000))
    fact = parse_fact({"type": "math", "math": r"\frac{a}{b} + c^{2}"})
    worst = _seconds(lambda: check_fact(fact, hostile))
    print(f"KaTeX {katex_render.KATEX_VERSION} in QuickJS, loaded once per process: {load * 1000:.0f} ms")
    print(
        f"math page ({facts} math facts + CER), every render new: {first * 1000:.0f} ms; cached: {again * 1000:.0f} ms"
    )
    print(f"one formula rendered (best of 20): {one * 1000:.2f} ms")
    print(f"a math fact against 5000 distinct equations ({MAX_RENDERED} rendered at most): {worst * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
