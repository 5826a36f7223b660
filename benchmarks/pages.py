"""Time `invoke check --pages` on a generated olmOCR-Bench-style set against the fake vLLM; print the figures.

    python benchmarks/pages.py              # 200 one-page PDFs, 3 tests each over 3 categories
    python benchmarks/pages.py --pages 50

Measures what the toolkit itself costs around a page set, the server being instant: loading and validating
the folder (every PDF opened), rendering the pages for the fake (which needs their digests), and the wall time
of `invoke check --pages` (23 checks; every page rendered at 1540 px, PNG-encoded, sent and graded, plus the
bootstrap). Speed is printed, never asserted: machines here are shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lightonocr_validation.pages.user_pages import load_pages  # noqa: E402
from tests.fakevllm.server import FakeVllm  # noqa: E402
from tests.pages.pagesets import jsonl, known_pages, markdown, write_pdf  # noqa: E402
from tests.processes import run_invoke  # noqa: E402


def build(root: Path, count: int) -> dict[str, str]:
    texts: dict[str, str] = {}
    records: dict[str, list[dict[str, object]]] = {"multi_column": [], "long_tiny_text": [], "old_scans": []}
    for number in range(count):
        lines = [f"Document {number} line {line}: the quick brown fox {number * 7 + line}" for line in range(12)]
        name = f"doc{number:04d}.pdf"
        write_pdf(root / "pdfs" / name, [lines])
        texts[f"{name} p1"] = markdown(lines)
        base = {"pdf": name, "page": 1, "checked": "verified"}
        records["multi_column"].append(
            {**base, "id": f"mc{number}", "type": "order", "before": lines[1], "after": lines[9]}
        )
        records["long_tiny_text"].append({**base, "id": f"lt{number}", "type": "present", "text": lines[5]})
        records["old_scans"].append({**base, "id": f"os{number}", "type": "absent", "text": "lorem ipsum"})
    for category, lines in records.items():
        jsonl(root / f"{category}.jsonl", lines)
    return texts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200, help="how many one-page PDFs to generate")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "bench"
        texts = build(folder, args.pages)
        started = time.monotonic()
        pages = load_pages(folder)
        loaded = time.monotonic() - started
        started = time.monotonic()
        known = known_pages(folder, texts)
        rendered = time.monotonic() - started
        report = Path(scratch) / "report.json"
        with FakeVllm(known_pages=known) as fake:
            started = time.monotonic()
            result = run_invoke(
                "check", "--host", fake.url, "--pages", str(folder), "--report-json", str(report),
                env=dict(os.environ), timeout=3600,
            )  # fmt: skip
            wall = time.monotonic() - started
        data = json.loads(report.read_text())
        ocr003 = next(c for c in data["hosts"][0]["checks"] if c["id"] == "OCR003")["data"]
    tests = sum(len(page.tests) for page in pages)
    print(f"pages: {len(pages)}, tests: {tests} (with olmOCR-Bench's automatic baseline per PDF)")
    print(f"load and validate the folder:        {loaded:7.2f} s")
    print(f"render every page once (the fake):   {rendered:7.2f} s  ({rendered / len(pages) * 1000:.0f} ms a page)")
    print(f"invoke check --pages wall time:      {wall:7.2f} s  (exit {result.returncode})")
    print(f"score: {ocr003['score']}  categories: {sorted(ocr003['by_category'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
