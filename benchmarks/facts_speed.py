"""Time fact checks on huge and hostile answers and print the figures (never asserted: machines are shared).

    python benchmarks/facts_speed.py            # 4 MB answers
    python benchmarks/facts_speed.py --mb 16

Three answers of the given size: prose (varied words, a table, equations), a loop (one sentence repeated, the
way a degenerate model ends), and a single character repeated. On each, every fact type is checked, with
fuzzy facts that are NOT there (the costly case: no exact match short-cuts the search).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lightonocr_validation.truth.facts import check_fact, parse_fact

FACTS = [
    {"type": "present", "text": "the harbour lantern was lit at dusk", "max_diffs": 3},
    {"type": "present", "text": "THE HARBOUR LANTERN", "case_sensitive": False, "max_diffs": 2, "last_n": 100000},
    {"type": "absent", "text": "zebra crossing near the quarry", "max_diffs": 4},
    {"type": "order", "before": "signal market bridge", "after": "copper valley ledger", "max_diffs": 2},
    {"type": "order", "before": "zebra crossing", "after": "quarry lantern", "max_diffs": 2},
    {"type": "order", "before": "aaaaaaaaaa", "after": "bbbbbbbbbb", "max_diffs": 3},
    {"type": "table", "cell": "1.50", "up": "1.20", "top_heading": "Price", "max_diffs": 1},
    {"type": "math", "math": r"\frac{a}{b} + c^2"},
    {"type": "baseline"},
    {"type": "baseline", "max_length": 10},
]


def answers(size: int) -> dict[str, str]:
    rng = random.Random(7)
    words = [
        "river",
        "stone",
        "table",
        "garden",
        "budget",
        "council",
        "harbour",
        "meeting",
        "lantern",
        "winter",
        "copper",
        "valley",
        "ledger",
    ]
    chunk = []
    while sum(len(c) for c in chunk) < 20000:
        chunk.append(" ".join(rng.choice(words) for _ in range(12)) + ".\n")
    table = "<table><tr><th>Item</th><th>Price</th></tr><tr><td>Apples</td><td>1.20</td></tr></table>\n"
    prose = ("".join(chunk) + table + "| a | b |\n|---|---|\n| 1 | 2 |\n\nwhere $x^2 + \\frac{a}{b}$ and $5.\n") * (
        size // 20000 + 1
    )
    return {
        "prose": prose[:size],
        "loop": ("The harbour lantern is lit. " * (size // 28 + 1))[:size],
        "one character": "a" * size,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=4.0, help="answer size in megabytes (default 4)")
    args = parser.parse_args()
    size = int(args.mb * 1_000_000)
    facts = [parse_fact(raw) for raw in FACTS]
    print(f"{len(facts)} facts per answer, answers of {size:,} characters")
    for name, answer in answers(size).items():
        total = 0.0
        slowest = ("", 0.0)
        for fact in facts:
            started = time.perf_counter()
            check_fact(fact, answer)
            spent = time.perf_counter() - started
            total += spent
            slowest = max(slowest, (fact.describe(), spent), key=lambda item: item[1])
        print(f"{name:>14}: {total:6.2f} s for all facts; slowest {slowest[1]:5.2f} s ({slowest[0][:60]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
