"""SRV005 (the stream tells the plain answer's truth) and SRV009 (a burst at the client's concurrency), each
both ways against the fake vLLM, and the burst's degradation judgement on answers built by hand."""

from __future__ import annotations

import requests

from checks.burst import SAME_PAGE_MAX_NED, Aftermath, BurstReply, LoadPeaks, degradation, likely_cause
from lightonocr_validation.check import registry
from lightonocr_validation.check.base import Status
from lightonocr_validation.check.page_answers import PageAnswer
from lightonocr_validation.pages.inputs import sample_pages
from lightonocr_validation.pages.samples import SAMPLES_DIR
from tests.fakevllm.server import ENGINE_DEAD_MESSAGE, Faults


def _selected(*ids: str) -> list:
    wanted = {"RDY001", "MOD001", *ids}
    return [check for check in registry.CHECKS if check.id in wanted]


def test_a_healthy_stream_matches_the_plain_answer_and_its_usage(fake_vllm, run_checks) -> None:
    result = run_checks(fake_vllm().url, selected=_selected("SRV005")).by_id["SRV005"]
    assert result.status is Status.PASS, result.detail
    assert result.data["streamed_chars"] == result.data["plain_chars"] > 0
    usage = result.data["stream_usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (
        result.data["plain_usage"]["prompt_tokens"],
        result.data["plain_usage"]["completion_tokens"],
    )


def test_a_stream_that_loses_a_chunk_fails_naming_where_it_differs(fake_vllm, run_checks) -> None:
    result = run_checks(fake_vllm(Faults(stream_drops_chunk=True)).url, selected=_selected("SRV005")).by_id["SRV005"]
    assert result.status is Status.FAIL
    assert "differs from the plain answer at temperature 0" in result.detail
    assert "first difference at character" in result.detail
    assert result.data["streamed_chars"] < result.data["plain_chars"]


def test_a_missing_or_miscounted_usage_chunk_fails(fake_vllm, run_checks) -> None:
    missing = run_checks(fake_vllm(Faults(stream_usage="missing")).url, selected=_selected("SRV005")).by_id["SRV005"]
    assert missing.status is Status.FAIL and "no usage chunk" in missing.detail
    wrong = run_checks(fake_vllm(Faults(stream_usage="wrong")).url, selected=_selected("SRV005")).by_id["SRV005"]
    assert wrong.status is Status.FAIL
    assert "stream usage prompt_tokens" in wrong.detail and "completion_tokens" not in wrong.detail


def test_a_server_not_reproducible_at_temperature_0_is_not_blamed_on_streaming(fake_vllm, run_checks) -> None:
    result = run_checks(fake_vllm(Faults(nondeterministic=True)).url, selected=_selected("SRV005")).by_id["SRV005"]
    assert result.status is Status.FAIL
    assert "changes from one request to the next" in result.detail


def test_a_healthy_server_answers_the_whole_burst_undegraded(fake_vllm, run_checks) -> None:
    result = run_checks(fake_vllm().url, selected=_selected("SRV009")).by_id["SRV009"]
    assert result.status is Status.PASS, result.detail
    assert (result.data["burst"], result.data["answered"], result.data["judged"]) == (64, 64, 64)
    assert result.data["degraded"] == 0 and result.data["capped"] == ""
    assert result.data["health_after"] == "200" and result.data["model_listed_after"]
    assert "64 pages at once" in result.detail


def test_an_engine_that_dies_under_the_burst_fails_naming_the_cause(fake_vllm, run_checks) -> None:
    fake = fake_vllm(Faults(dies_at_in_flight=8))
    checked = run_checks(fake.url, selected=_selected("SRV009"))
    result = checked.by_id["SRV009"]
    assert result.status is Status.FAIL
    assert ENGINE_DEAD_MESSAGE in result.data["first_failure"] and "HTTP 500" in result.data["first_failure"]
    assert result.data["health_after"] == "503"
    assert result.data["failed"] == 64
    assert "engine died under the burst" in result.detail and "out of GPU memory" in result.detail
    assert "/health 503 after the burst" in result.detail and "at most 8 running" in result.detail
    for fix in ("--gpu-memory-utilization", "--max-num-batched-tokens", "--max-num-seqs"):
        assert fix in result.hint
    assert checked.verdict.word == "issue"
    # As vLLM: the dead engine answers every later completion 500 and /health 503.
    assert requests.get(f"{fake.url}/health", timeout=5).status_code == 503


def test_the_burst_is_as_large_as_configured(fake_vllm, run_checks) -> None:
    # Healthy at eight in flight, dead at sixteen: eight pass, sixteen fail.
    at_eight = run_checks(
        fake_vllm(Faults(dies_at_in_flight=16)).url, selected=_selected("SRV009"), burst_concurrency=8
    )
    assert at_eight.by_id["SRV009"].status is Status.PASS, at_eight.by_id["SRV009"].detail
    assert at_eight.by_id["SRV009"].data["burst"] == 8
    at_sixteen = run_checks(
        fake_vllm(Faults(dies_at_in_flight=16)).url, selected=_selected("SRV009"), burst_concurrency=16
    )
    assert at_sixteen.by_id["SRV009"].status is Status.FAIL


def test_pages_that_degrade_under_the_burst_fail_it_and_pass_below(fake_vllm, run_checks) -> None:
    faults = Faults(truncates_at_in_flight=8)
    cut = run_checks(fake_vllm(faults).url, selected=_selected("SRV009")).by_id["SRV009"]
    assert cut.status is Status.FAIL
    # Every page is answered and the server stays up; the pages that had text come back cut (the blank
    # page has none to cut, and the burst's last pages may find fewer than eight in flight).
    assert (cut.data["answered"], cut.data["health_after"]) == (64, "200")
    assert cut.data["degraded"] > 32
    assert "page(s) degraded compared with the page alone at temperature 0" in cut.detail
    assert "truncated (" in cut.detail
    below = run_checks(fake_vllm(faults).url, selected=_selected("SRV009"), burst_concurrency=4).by_id["SRV009"]
    assert below.status is Status.PASS, below.detail


def test_random_weights_cap_the_burst_and_say_so(fake_vllm, run_checks) -> None:
    result = run_checks(fake_vllm().url, selected=_selected("SRV009"), weights="random").by_id["SRV009"]
    assert result.status is Status.PASS, result.detail
    assert (result.data["burst"], result.data["max_tokens"]) == (16, 512)
    assert "capped from 64: random weights" in result.detail
    dead = run_checks(fake_vllm(Faults(dies_at_in_flight=16)).url, selected=_selected("SRV009"), weights="random")
    assert dead.by_id["SRV009"].status is Status.FAIL


def _answer(page, text: str, completion: int, finish: str = "stop") -> PageAnswer:
    return PageAnswer(page, 200, 0.1, text, finish, 100, completion, "")


def test_degradation_tells_empty_truncated_swapped_and_changed_from_healthy() -> None:
    pages = sample_pages(str(SAMPLES_DIR))
    page, other = pages[0], pages[1]
    text = page.sample.ground_truth[0].strip()
    others = {other.label: other.sample.ground_truth[0].strip()}
    alone = _answer(page, text, 400)
    assert degradation(_answer(page, text, 400), alone, others) == ""
    # One word changed, as batch-variant kernels may: within the tolerance.
    changed_word = text.replace(text.split()[3], "X" * len(text.split()[3]), 1)
    assert degradation(_answer(page, changed_word, 400), alone, others) == ""
    assert degradation(_answer(page, "", 1), alone, others) == "empty"
    assert degradation(_answer(page, text[: len(text) // 3], 130, "length"), alone, others).startswith("truncated")
    assert degradation(_answer(page, others[other.label], 380), alone, others) == f"{other.label}'s text"
    scrambled = " ".join(reversed(text.split()))
    assert degradation(_answer(page, scrambled, 400), alone, others).startswith("another text")
    assert SAME_PAGE_MAX_NED < 0.5


def test_the_likely_cause_follows_what_the_burst_saw() -> None:
    page = sample_pages(str(SAMPLES_DIR))[0]
    dead = BurstReply(page, PageAnswer(page, 500, 0.1, "", None, None, None, f"HTTP 500: {ENGINE_DEAD_MESSAGE}"))
    late = BurstReply(page, None, "fake: the server accepted the connection but did not answer in time")
    refused = BurstReply(page, PageAnswer(page, 503, 0.1, "", None, None, None, "HTTP 503: overloaded"))
    exited = Aftermath("unreachable (fake: connection refused)", False, None, None)
    alive = Aftermath("200", True, 0.0, 12.0)
    peaks = LoadPeaks(running=8.0, waiting=56.0)
    # The process exited after the burst, as vLLM does once its engine died: the engine died.
    assert likely_cause([dead], exited, peaks).startswith("the engine died under the burst")
    assert "at most 8 running and 56 waiting" in likely_cause([dead], exited, peaks)
    assert likely_cause([late], alive, peaks).startswith("pages waited past the request timeout")
    assert likely_cause([refused], alive, peaks).startswith("requests failed under load while the server stayed up")
    assert likely_cause([], Aftermath("200", False, 0.0, 0.0), peaks).startswith("the server is no longer serving")
