"""Time `invoke check`'s page checks when every page is answered with huge or hostile text, and print it.

    python benchmarks/hostile_grading.py            # 4 MB answers, every shape
    python benchmarks/hostile_grading.py --mb 2 --shape prose
    python benchmarks/hostile_grading.py --mb 0.5   # the longest text a page can still be graded with

The fake vLLM (tests/fakevllm) answers every sample page with the same text of the given size, whole (not
cut at max_tokens), 200 and well-formed otherwise: prose (varied words), a loop (one line repeated), one
character repeated, a pipe table flood and an HTML tag flood. For each shape it prints the wall time of the
checks that read the page answers (OCR001, OCR003, DEG001-DEG005), the slowest check, and the time to
grade one page alone (accuracy.engine.grade plus the two degeneration detectors). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402

from lightonocr_validation.accuracy.detectors import dominant_character, repetition_loop  # noqa: E402
from lightonocr_validation.accuracy.engine import grade  # noqa: E402
from lightonocr_validation.check.command import CheckOptions, run_check  # noqa: E402
from lightonocr_validation.core import config as config_module  # noqa: E402
from lightonocr_validation.core.settings import DEFAULTS  # noqa: E402
from lightonocr_validation.pages.samples import load_manifest  # noqa: E402
from tests.fakevllm import server as fake_server  # noqa: E402
from tests.fakevllm.server import FakeVllm, Faults  # noqa: E402

PAGE_CHECKS = ["OCR001", "OCR003", "DEG001", "DEG002", "DEG003", "DEG004", "DEG005"]


def shapes(size: int) -> dict[str, str]:
    rng = random.Random(7)
    words = ["river", "ledger", "copper", "valley", "signal", "market", "bridge", "harbour", "lantern", "quarry"]
    prose_words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(words) + rng.choice(["", "", ",", "."])
        prose_words.append(word)
        length += len(word) + 1
    line = "The figures below are provisional and subject to revision.\n"
    return {
        "prose": " ".join(prose_words)[:size],
        "loop": (line * (size // len(line) + 1))[:size],
        "one-char": "!" * size,
        "pipes": ("| 1.50 | 1.20 | Price |\n" * (size // 24 + 1))[:size],
        "html": ("<table><tr><td>1.50</td><td>" * (size // 29 + 1))[:size],
    }


# The client stops reading an answer past its cap and closes the connection: the fake's handler threads
# then fail to write, and socketserver would print each of those tracebacks on stderr.
fake_server._Server.handle_error = lambda self, request, address: None  # type: ignore[method-assign]


class VerbatimFake(FakeVllm):
    """The fake vLLM, except that every page is answered with the given text whole: the real fake cuts an
    answer at max_tokens of its own word-sized tokens, and a hostile server does not."""

    def __init__(self, text: str) -> None:
        super().__init__(Faults())
        self.text = text

    def _generate(self, images: object, texts: object, max_tokens: int) -> tuple[str, str]:
        return self.text, "stop"


def run_checks(text: str) -> tuple[float, dict[str, float], str]:
    """Wall time of the page checks against a fake that reads every page as ``text``; per-check seconds."""
    with VerbatimFake(text) as fake:
        cfg = config_module.load(DEFAULTS)
        with tempfile.TemporaryDirectory() as folder:
            report = Path(folder) / "report.json"
            options = CheckOptions(
                config=cfg, hosts=[fake.url], only=["RDY001", "MOD001", *PAGE_CHECKS], report_json=report
            )
            console = Console(file=io.StringIO(), width=200)
            started = time.perf_counter()
            code = run_check(options, console=console, errors=console)
            wall = time.perf_counter() - started
            checks = json.loads(report.read_text(encoding="utf-8"))["hosts"][0]["checks"]
    seconds = {check["id"]: check["seconds"] for check in checks}
    ocr001 = next(check for check in checks if check["id"] == "OCR001")
    return wall, seconds, f"exit {code}, OCR001 {ocr001['status']}"


def grade_one(text: str) -> float:
    sample = next(s for s in load_manifest() if s.expect != "empty")
    started = time.perf_counter()
    grade(text, sample, 0)
    repetition_loop(text)
    dominant_character(text)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=4.0, help="answer size in MB (default 4)")
    parser.add_argument("--shape", action="append", help="only these shapes (repeatable)")
    parser.add_argument("--no-checks", action="store_true", help="grade one page only, no check run")
    args = parser.parse_args()
    size = int(args.mb * 1_000_000)
    print(f"answers of {size / 1e6:.1f} MB per page, {len(PAGE_CHECKS)} page checks")
    print(f"{'shape':10} {'grade one page (s)':>20} {'page checks wall (s)':>22} {'slowest check (s)':>20}  outcome")
    for name, text in shapes(size).items():
        if args.shape and name not in args.shape:
            continue
        one = grade_one(text)
        if args.no_checks:
            print(f"{name:10} {one:20.2f} {'-':>22}", flush=True)
            continue
        wall, seconds, outcome = run_checks(text)
        slowest = max(seconds, key=seconds.__getitem__)
        print(
            f"{name:10} {one:20.2f} {wall:22.2f} {slowest + ' ' + format(seconds[slowest], '.2f'):>20}  {outcome}",
            flush=True,
        )


if __name__ == "__main__":
    main()
