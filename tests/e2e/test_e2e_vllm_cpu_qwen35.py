"""End to end, LightOnOCR-3's Qwen3.5 architecture: the real `vllm serve` (CPU build) through the invoke tasks.

`invoke serve --tiny --model-profile LightOnOCR-3-4B --detach` builds the tiny Qwen3.5-based model (gated-delta
linear attention, 16 px patches, pages taken as sent), starts vLLM with the profile's flags; `invoke check`
validates it with that profile's expectations (prompt tokens of Qwen3.5's processor, pages at 2048 px,
enable_thinking false); `invoke bench` records the profile; `invoke stop` stops the process tree. The
Pixtral-based tiny model has its own module (test_e2e_vllm_cpu.py). Needs the environment `nox -s tests` builds.
"""

from __future__ import annotations

import json

import pytest

from lightonocr_validation.check import registry
from lightonocr_validation.check.verdict import EXIT_OK
from lightonocr_validation.core import model_profiles
from tests.processes import detached_server, free_port, invoke_env, run_invoke

pytestmark = pytest.mark.e2e
PROFILE = "LightOnOCR-3-4B"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    state = tmp_path_factory.mktemp("serve-qwen35")
    port = free_port()
    env = invoke_env(state, port)
    model = ("--tiny", "--model-profile", PROFILE)
    with detached_server(env, state, *model) as (started, record):
        yield {"env": env, "port": port, "state": state, "serve": started, "record": record, "model": model}


def test_serve_adds_the_profile_flags_and_builds_the_qwen35_tiny_model(served) -> None:
    result = served["serve"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "--max-model-len 18000 --default-chat-template-kwargs '{\"enable_thinking\": false}'" in result.stdout
    assert f"model profile: {PROFILE} (generation 3, qwen3_5, pages at 2048 px" in result.stderr
    config = json.loads((served["state"] / "tiny-model-qwen3_5" / "config.json").read_text())
    assert config["architectures"] == ["Qwen3_5ForConditionalGeneration"]
    assert "linear_attention" in config["text_config"]["layer_types"]


def test_check_validates_the_tiny_qwen35_model_with_its_profile(served) -> None:
    report = served["state"] / "report.json"
    result = run_invoke("check", *served["model"], "--report-json", str(report), env=served["env"], timeout=900)
    data = json.loads(report.read_text())
    assert result.returncode == EXIT_OK, result.stdout + result.stderr
    assert data["verdict"]["word"] == "skip-no-gpu"
    statuses = {c["id"]: (c["status"], c["detail"]) for c in data["hosts"][0]["checks"]}
    assert set(statuses) == {check.id for check in registry.CHECKS}
    for check in registry.CHECKS:
        status, detail = statuses[check.id]
        if check.needs_trained_weights:
            assert status == "skip" and "random weights" in detail, (check.id, status, detail)
        else:
            assert status == "pass", (check.id, status, detail)
    # The real processor counted every page as the profile says Qwen3.5's does (not Pixtral's arithmetic).
    assert "14 + (H/32) * (W/32)" in statuses["OCR002"][1]
    provenance = data["provenance"]
    assert provenance["profile"]["name"] == PROFILE and provenance["profile"]["longest_edge"] == 2048
    assert provenance["sampling"] == {"temperature": 0.1, "top_p": 1.0, "max_tokens": 4096}


def test_the_same_server_judged_as_lightonocr_2_fails_the_prompt_token_check(served) -> None:
    """The profile is what the verdict rests on: Pixtral's expectations against Qwen3.5's processor fail."""
    result = run_invoke(
        "check", *served["model"][:1], "--model", "lightonocr-tiny-qwen3_5", "--model-profile", "LightOnOCR-2-1B",
        "--only", "OCR002", env=served["env"], timeout=600,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "issue: OCR002" in result.stdout


def test_bench_records_the_profile_in_its_provenance(served) -> None:
    result_path = served["state"] / "bench.json"
    result = run_invoke(
        "bench", *served["model"], "--concurrency", "2", "--requests", "4", "--warmup", "1", "--max-tokens", "8",
        "--page", "prose-01", "--json", str(result_path), env=served["env"], timeout=600,
    )  # fmt: skip
    assert result.returncode == EXIT_OK, result.stdout + result.stderr
    data = json.loads(result_path.read_text())
    assert data["provenance"]["profile"]["name"] == PROFILE
    assert data["provenance"]["profile"]["architecture"] == "qwen3_5"
    (point,) = data["hosts"][0]["points"]
    assert point["figures"]["completed"] == 4
    # prose-01 is 1190 x 1540: Qwen3.5's processor rounds it to 1184 x 1536, 37 x 48 tokens, 14 around them.
    assert {r["prompt_tokens"] for r in point["requests"]} == {model_profiles.named(PROFILE).prompt_tokens(1190, 1540)}
