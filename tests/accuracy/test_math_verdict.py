"""The bundled math page end to end: `invoke check` against the fake vLLM answering it with a reading under test.

A reading that writes every formula in notation KaTeX renders alike is `validated`; one in which a single formula
renders otherwise (one exponent, one sign, one term) is `issue: OCR003` naming that formula.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest

from lightonocr_validation.accuracy.readings import one_formula, pages_of, respell_math
from lightonocr_validation.accuracy.readings_math import dropped_term, swapped_sign, wrong_exponent
from lightonocr_validation.check.verdict import EXIT_CHECK_FAILED, EXIT_OK
from lightonocr_validation.pages.samples import load_manifest
from tests.fakevllm.server import FakeVllm, Faults
from tests.processes import ROOT

pytestmark = pytest.mark.slow
MATH = next(page for page in pages_of(load_manifest()) if page.sample.expect == "latex")


def _check(reading: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "VLLM_API_KEY"} | {"COLUMNS": "400"}
    with FakeVllm(Faults(readings={MATH.label: reading})) as fake:
        port = fake.url.rsplit(":", 1)[1]
        command = [sys.executable, "-m", "invoke", "-r", str(ROOT), "check", "--port", port, "--only", "OCR003"]
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def _verdict(result: subprocess.CompletedProcess[str]) -> str:
    return next(line for line in result.stdout.splitlines() if line.startswith(("validated", "issue", "skip")))


def test_the_math_page_in_another_notation_is_validated() -> None:
    reading = respell_math(MATH.truth, random.Random(19))
    assert reading != MATH.truth
    result = _check(reading)
    assert result.returncode == EXIT_OK, result.stdout + result.stderr
    assert _verdict(result).startswith("validated")


@pytest.mark.parametrize("change", [wrong_exponent, swapped_sign, dropped_term], ids=lambda c: c.__name__)
def test_one_formula_rendering_otherwise_is_an_ocr003_issue_naming_it(change) -> None:
    reading = one_formula(change)(MATH.truth, random.Random(19))
    assert reading != MATH.truth
    result = _check(reading)
    assert result.returncode == EXIT_CHECK_FAILED, result.stdout + result.stderr
    verdict = _verdict(result)
    assert verdict.startswith("issue: OCR003"), verdict
    changed = [f.math for f in MATH.sample.facts if f.type == "math" and f.math not in reading]
    assert len(changed) == 1 and f"math-01: missing equation '{changed[0]}'" in result.stdout, result.stdout
