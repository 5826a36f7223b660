"""`invoke bench --mode grounding`: grounding requests under load, every answer judged as a grounding answer
(healthy: accurate; broken boxes: not), and a model without the mode refused in one line."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from lightonocr_validation.bench.command import run_bench
from lightonocr_validation.bench.options import BenchOptions, request_body
from lightonocr_validation.core.config import apply_flags
from lightonocr_validation.core.errors import UserError
from lightonocr_validation.load.pages import sample_pages
from tests.conftest import CONFIG
from tests.fakevllm.server import Faults
from tests.processes import run_invoke

ROOT = Path(__file__).resolve().parents[2]
GEN3 = "lightonai/LightOnOCR-3-4B"


def _options(tmp_path: Path, url: str, model: str = GEN3, **overrides: Any) -> BenchOptions:
    config = apply_flags(CONFIG, "bench", ROOT, timeout=20.0, model=model)
    return BenchOptions(
        config=config, hosts=[url], result_path=tmp_path / "r.json", request_mode="grounding", **overrides
    )


def _bench(tmp_path: Path, url: str, **overrides: Any) -> tuple[int, dict[str, Any]]:
    console = Console(file=io.StringIO(), width=120)
    code = run_bench(_options(tmp_path, url, **overrides), console=console, errors=console)
    return code, json.loads((tmp_path / "r.json").read_text())


def test_a_grounding_request_carries_the_text_and_the_profiles_arguments(tmp_path: Path) -> None:
    page = next(iter(sample_pages()))
    body = json.loads(request_body(page, _options(tmp_path, "http://127.0.0.1:9")))
    content = body["messages"][0]["content"]
    assert [part["type"] for part in content] == ["image_url", "text"] and content[1]["text"] == "grounding"
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    assert (body["temperature"], body["top_p"]) == (0.1, 1.0)


def test_healthy_grounding_answers_are_accurate_under_load_and_broken_boxes_are_not(fake_vllm, tmp_path) -> None:
    code, healthy = _bench(tmp_path, fake_vllm(model=GEN3).url, concurrency=2, requests=13)
    figures = healthy["hosts"][0]["points"][0]["figures"]
    assert code == 0 and healthy["settings"]["request_mode"] == "grounding"
    assert figures["accuracy"] == 1.0 and figures["pages_per_s"] > 0
    code, broken = _bench(tmp_path, fake_vllm(Faults(grounding="shifted_down"), model=GEN3).url, concurrency=2)
    figures = broken["hosts"][0]["points"][0]["figures"]
    # The drawn pages' boxes are judged (9 of 13 pages); the PDF's pages and the blank one have no true boxes.
    assert figures["accuracy"] < 0.5 and figures["accurate_goodput_pages_per_s"] < figures["pages_per_s"]


def test_a_generation_2_model_is_refused_before_any_request(tmp_path: Path) -> None:
    console = Console(file=io.StringIO(), width=120)
    with pytest.raises(UserError, match="generation 2: it has no grounding mode"):
        run_bench(
            _options(tmp_path, "http://127.0.0.1:9", model="lightonai/LightOnOCR-2-1B"), console=console, errors=console
        )


def test_invoke_bench_mode_grounding_on_a_generation_2_model_is_one_error_line() -> None:
    result = run_invoke("bench", "--mode", "grounding", env={**os.environ, "NO_COLOR": "1"})
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("error: --mode grounding:") and "Traceback" not in result.stderr
