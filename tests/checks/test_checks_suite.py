"""The whole check suite against the fake vLLM server: healthy passes, each fault is caught by its check."""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import asdict, replace

import pytest

from checks import serving
from lightonocr_validation.check import registry
from lightonocr_validation.check.base import SkipReason, Status
from lightonocr_validation.check.command import build_provenance
from lightonocr_validation.check.report.json_report import report_dict
from lightonocr_validation.check.runner import RANDOM_WEIGHTS_REASON
from lightonocr_validation.check.verdict import EXIT_CHECK_FAILED, EXIT_OK, EXIT_UNREACHABLE
from tests.checks.test_checks_grounding import BROKEN as GROUNDING_BROKEN
from tests.checks.test_checks_grounding import GEN3
from tests.conftest import SETTINGS
from tests.fakevllm.server import Faults

PERF = SETTINGS.perf  # PRF002's load as configured

API_KEY = "sk-fake-0123456789abcdef"


def test_a_healthy_server_passes_every_check(fake_vllm, run_checks) -> None:
    checked = run_checks(fake_vllm().url)
    # LightOnOCR-2 has no grounding mode: those checks skip, saying so, and are not essential.
    grounding = {c.id for c in registry.CHECKS if c.family == "grounding"}
    expected = {c.id: Status.SKIP if c.id in grounding else Status.PASS for c in registry.CHECKS}
    assert {r.check_id: r.status for r in checked.run.results} == expected
    assert all("generation 2" in checked.by_id[i].detail for i in grounding)
    assert (checked.verdict.word, checked.verdict.exit_code) == ("validated", EXIT_OK)
    by_id = checked.by_id
    assert by_id["MOD001"].data["max_model_len"] == 16384
    assert by_id["OCR003"].data["passed"] == by_id["OCR003"].data["total"] == 13
    assert set(by_id["OCR003"].data["by_category"]) >= {"prose", "table", "pdf", "blank"}
    assert by_id["DET001"].data["share"] == 1.0
    assert by_id["SRV005"].figure.startswith("TTFT ")


# fault -> the checks that exist to catch it, and a word the first one's detail must contain.
# Loops run to max_tokens: a smaller one keeps those outputs (and their grading) short.
SHORT = {"max_tokens": 1024}
FAULTS = {
    "engine dead (/health 503)": (Faults(health_status=503), ("RDY002",), "503", {}),
    "vLLM 0.27.1 (loops)": (Faults(version="0.27.1"), ("RDY003",), "0.27.1", {}),
    "vLLM 0.10.0 (no LightOnOCR)": (Faults(version="0.10.0"), ("RDY003",), "older than", {}),
    "model not listed": (
        Faults(served_name="lightonai/LightOnOCR-1B-1025"),
        ("MOD001",),
        "LightOnOCR-1B-1025",
        {},
    ),
    "max_model_len 2048": (Faults(max_model_len=2048), ("MOD002", "OCR001"), "2048", {}),
    "two images accepted": (Faults(image_limit=None), ("SRV001",), "200", {}),
    "corrupt image -> 500": (Faults(corrupt_image_status=500), ("SRV002",), "500", {}),
    "prefix caching on": (Faults(prefix_caching=True), ("SRV003",), "enable_prefix_caching=True", {}),
    "mm processor cache hits": (Faults(mm_cache=True), ("SRV004",), "multimodal cache hits", {}),
    "stream without [DONE]": (Faults(stream_done=False), ("SRV005",), "[DONE]", {}),
    "stream not SSE": (Faults(stream_sse=False), ("SRV005",), "no SSE data chunk", {}),
    "stream loses a chunk": (Faults(stream_drops_chunk=True), ("SRV005",), "differs from the plain answer", {}),
    "stream without usage": (Faults(stream_usage="missing"), ("SRV005",), "no usage chunk", {}),
    "stream usage miscounted": (Faults(stream_usage="wrong"), ("SRV005",), "prompt_tokens", {}),
    "engine dies at 8 in flight": (Faults(dies_at_in_flight=8), ("SRV009",), "engine died", {}),
    "pages cut at 8 in flight": (Faults(truncates_at_in_flight=8), ("SRV009",), "truncated", {}),
    "empty output": (Faults(empty_output=True), ("DEG001",), "empty", {}),
    "truncated at length": (Faults(truncate=True), ("DEG002",), "length", {}),
    "loop of words": (Faults(repetition="words"), ("DEG003", "DEG002"), "repeated", SHORT),
    "loop of lines": (Faults(repetition="lines"), ("DEG003",), "repeated", SHORT),
    "one character": (Faults(one_char=True), ("DEG004",), "'!'", SHORT),
    "wrong OCR text": (Faults(wrong_text=True), ("OCR003",), "CER", {}),
    "nondeterministic at temperature 0": (Faults(nondeterministic=True), ("DET001",), "different texts", {}),
    "pages resized differently": (Faults(resize_longest=1024), ("OCR002",), "expected", {}),
    "text prompt echoed": (
        Faults(echo_prompt="Convert this page to Markdown."),
        ("OCR003", "DEG005"),
        "Convert this page",
        {},
    ),
    "blank page gets text": (Faults(blank_text="Page 1 of 1. Lorem ipsum."), ("DEG005",), "Lorem", {}),
    "slow answers": (Faults(delay=0.25), ("PRF001",), "over 0.2 s", {"page_seconds_max": 0.2}),
    "slow under load": (
        Faults(delay=0.25),
        ("PRF002",),
        "p95 latency",
        {"perf": replace(PERF, p95_seconds_max=0.2)},
    ),
    "too few pages/s": (
        Faults(delay=0.1),
        ("PRF002",),
        "under the floor",
        {"perf": replace(PERF, pages_per_s_min=50)},
    ),
    "any model name answered": (Faults(unknown_model_status=200), ("SRV007",), "200", {}),
    "max_tokens not enforced": (Faults(enforce_max_tokens=False), ("SRV008",), "200", {}),
    "text-only request refused": (Faults(text_only_status=400), ("SRV006",), "400", {}),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_fault_is_caught_by_its_check(fault, fake_vllm, run_checks) -> None:
    faults, catchers, word, settings = FAULTS[fault]
    checked = run_checks(fake_vllm(faults).url, **settings)
    by_id = checked.by_id
    for check_id in catchers:
        assert by_id[check_id].status is Status.FAIL, (check_id, by_id[check_id].detail)
        assert by_id[check_id].hint  # a failure always says how to fix it
    assert word in by_id[catchers[0]].detail
    # Broken answers are judged, never crash a check.
    assert not [r.check_id for r in checked.run.results if r.status is Status.ERROR]
    assert (checked.verdict.word, checked.verdict.exit_code) == ("issue", EXIT_CHECK_FAILED)


def test_every_check_has_a_fault_or_test_that_makes_it_fail() -> None:
    caught = {check_id for _, catchers, _, _ in FAULTS.values() for check_id in catchers}
    # The grounding checks, against a LightOnOCR-3 fake (tests/checks/test_checks_grounding.py).
    caught |= {check_id for catchers, _ in GROUNDING_BROKEN.values() for check_id in catchers} | {"GRD001"}
    uncaught = {c.id for c in registry.CHECKS} - caught - {"RDY001"}  # RDY001: the unreachable test below
    assert not uncaught


def test_metrics_not_exposed_skips_the_cache_checks_without_failing(fake_vllm, run_checks) -> None:
    checked = run_checks(fake_vllm(Faults(metrics=False)).url)
    for check_id in ("SRV003", "SRV004"):
        assert checked.by_id[check_id].status is Status.SKIP
        assert "/metrics answered 404" in checked.by_id[check_id].detail
    assert (checked.verdict.word, checked.verdict.exit_code) == ("validated", EXIT_OK)


def test_the_text_only_answer_is_informational(fake_vllm, run_checks) -> None:
    # LightOnOCR echoes a text prompt; the check records that and judges only the status.
    selected = [c for c in registry.CHECKS if c.id in {"RDY001", "MOD001", "SRV006"}]
    checked = run_checks(fake_vllm().url, selected=selected)
    assert checked.by_id["SRV006"].status is Status.PASS
    assert checked.by_id["SRV006"].data["echoes_prompt"] is True
    assert not serving.SRV006.essential


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_server_exits_2_naming_connection_refused(run_checks) -> None:
    checked = run_checks(f"http://127.0.0.1:{_closed_port()}", timeout=5.0)
    first = checked.by_id["RDY001"]
    assert first.status is Status.FAIL
    assert "connection refused" in first.detail
    assert first.unreachable == "refused"
    assert all(r.status is Status.SKIP for r in checked.run.results if r.check_id != "RDY001")
    assert (checked.verdict.word, checked.verdict.exit_code) == ("issue", EXIT_UNREACHABLE)


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) but never answers: a hung server."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


@pytest.mark.parametrize(
    ("where", "kind", "words"),
    [
        ("http://validation-host.invalid:8000", "dns", "does not resolve"),
        ("https://FAKE", "tls", "TLS"),
        ("http://127.0.0.1:SILENT", "timeout", "did not answer in time"),
    ],
)
def test_unreachable_kinds_are_told_apart(where, kind, words, fake_vllm, silent_listener, run_checks) -> None:
    url = where.replace("https://FAKE", fake_vllm().url.replace("http://", "https://"))
    checked = run_checks(url.replace("SILENT", str(silent_listener)), timeout=0.5)
    first = checked.by_id["RDY001"]
    assert (first.status, first.unreachable, first.figure) == (Status.FAIL, kind, kind)
    assert words in first.detail
    assert checked.verdict.exit_code == EXIT_UNREACHABLE


@pytest.mark.parametrize("faults", [Faults(), Faults(repetition="words")], ids=["healthy", "looping"])
def test_random_weights_skip_text_checks_and_give_skip_no_gpu(faults, fake_vllm, run_checks) -> None:
    # A random-weight model loops by nature: the text checks must skip, not fail, and the rest must pass.
    checked = run_checks(fake_vllm(faults).url, weights="random")
    for check in registry.CHECKS:
        result = checked.by_id[check.id]
        if check.family == "grounding":  # LightOnOCR-2: no grounding mode, random weights or not
            assert result.skip_reason is SkipReason.NOT_APPLICABLE, check.id
        elif check.needs_trained_weights:
            assert (result.status, result.detail) == (Status.SKIP, RANDOM_WEIGHTS_REASON), check.id
            assert result.skip_reason is SkipReason.RANDOM_WEIGHTS, check.id
        else:
            assert result.status is Status.PASS, (check.id, result.detail)
            assert result.skip_reason is None, check.id
    assert {c.id for c in registry.CHECKS if c.needs_trained_weights} >= {
        "OCR003",
        "DEG001",
        "DEG002",
        "DEG003",
        "DEG004",
        "DEG005",
        "DET001",
    }
    assert (checked.verdict.word, checked.verdict.exit_code) == ("skip-no-gpu", EXIT_OK)
    # Random weights are served on GPUs too (the full-size model, --load-format dummy): the line names what is
    # missing, the trained weights, and claims nothing about the hardware.
    assert checked.verdict.line.endswith("need the trained weights)") and "GPU" not in checked.verdict.line


def test_server_facts_come_from_the_answers_the_checks_asked_for(fake_vllm, run_checks) -> None:
    fake = fake_vllm()
    asked = run_checks(fake.url, selected=[c for c in registry.CHECKS if c.id in ("RDY003", "MOD001")]).run
    assert asked.facts.vllm_version == "0.32.0" and isinstance(asked.facts.max_model_len, int)
    # Nobody asked /version or /v1/models: the facts stay unknown rather than costing a request of their own.
    health_only = run_checks(fake.url, selected=[c for c in registry.CHECKS if c.id == "RDY001"]).run
    assert (health_only.facts.vllm_version, health_only.facts.max_model_len) == (None, None)


def _serialized(checked) -> str:
    results = json.dumps([asdict(r) for r in checked.run.results], default=str)
    provenance = build_provenance([checked.run], SETTINGS, checked.run.started)
    report = json.dumps(report_dict([checked.run], [checked.verdict], checked.verdict, provenance), default=str)
    return results + report


def test_api_key_is_sent_everywhere_and_never_reported(fake_vllm, run_checks) -> None:
    # A LightOnOCR-3 model, so the grounding requests too are sent with the key.
    fake = fake_vllm(api_key=API_KEY, model=GEN3)
    checked = run_checks(fake.url, api_key=API_KEY, served_name=GEN3)
    assert all(r.status is Status.PASS for r in checked.run.results), [
        (r.check_id, r.detail) for r in checked.run.results if r.status is not Status.PASS
    ]
    assert checked.verdict.word == "validated"
    assert API_KEY not in _serialized(checked)


@pytest.mark.parametrize(
    ("key", "variable", "said"),
    [
        ("", None, "none was sent (VLLM_API_KEY is not set)"),
        ("", "", "none was sent (VLLM_API_KEY is empty)"),
        ("sk-wrong-key-987654", "sk-wrong-key-987654", "the server refused the API key read from VLLM_API_KEY"),
    ],
    ids=["unset", "empty", "wrong key"],
)
def test_missing_or_wrong_api_key_fails_the_model_check_with_401(
    key, variable, said, fake_vllm, run_checks, monkeypatch
) -> None:
    if variable is None:
        monkeypatch.delenv("VLLM_API_KEY", raising=False)
    else:
        monkeypatch.setenv("VLLM_API_KEY", variable)
    fake = fake_vllm(api_key=API_KEY)
    checked = run_checks(fake.url, api_key=key)
    by_id = checked.by_id
    # vLLM leaves /health and /version open: readiness passes, the first /v1 call names the 401.
    assert [by_id[i].status for i in ("RDY001", "RDY002", "RDY003")] == [Status.PASS] * 3
    model = by_id["MOD001"]
    assert model.status is Status.FAIL
    assert model.detail.startswith("/v1/models answered 401: ") and model.detail.endswith(said), model.detail
    # The fix is the variable, not the model name MOD001's own hint is about.
    assert "VLLM_API_KEY" in model.hint and "served-model-name" not in model.hint
    assert (checked.verdict.word, checked.verdict.exit_code) == ("issue", EXIT_CHECK_FAILED)
    assert said in checked.verdict.line
    serialized = _serialized(checked)
    assert API_KEY not in serialized and (not key or key not in serialized)


def test_a_gateway_refusing_health_is_named_a_key_problem_not_the_engine(run_checks, monkeypatch) -> None:
    # A gateway that guards /health too: RDY002's own hint (read the server log for the engine's error) would
    # send the user to the wrong place; the variable read (a profile's api_key_env) is named instead.
    monkeypatch.setenv("GATEWAY_KEY", "sk-gateway-wrong-55")
    with _answering_everything(401) as url:
        selected = registry.select(only=["RDY001", "RDY002"])
        checked = run_checks(url, api_key="sk-gateway-wrong-55", api_key_env="GATEWAY_KEY", selected=selected)
    health = checked.by_id["RDY002"]
    assert health.status is Status.FAIL
    assert health.detail == "/health answered 401: the server refused the API key read from GATEWAY_KEY"
    assert "GATEWAY_KEY" in health.hint and "server log" not in health.hint
    assert "sk-gateway-wrong-55" not in _serialized(checked)


@contextlib.contextmanager
def _answering_everything(status: int) -> Iterator[str]:
    """A gateway in front of the server that answers every GET with ``status``, /health included."""

    class Gateway(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"error": "Unauthorized"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
