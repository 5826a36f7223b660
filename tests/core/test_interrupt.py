"""A run that always ends in time, and Ctrl-C that keeps what was done (issue 12).

Real processes and real sockets: `invoke check` and `invoke bench` run as a person runs them, against the fake
vLLM with its `hang` (every POST read and never answered) or `drip` (every answer one byte at a time) switch.
Nothing here asserts a duration: the timeouts of pytest and of the subprocesses only keep a regression from
hanging the suite; what is asserted is what the run did (exit code, lines, reports).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from lightonocr_validation.check import registry
from lightonocr_validation.check.base import Result, Status
from lightonocr_validation.check.runner import stopped_result
from lightonocr_validation.check.verdict import combine, verdict_for
from lightonocr_validation.core.cancel import DEADLINE, INTERRUPTED, CancelToken
from lightonocr_validation.core.errors import EXIT_FAILED, EXIT_INTERRUPTED
from lightonocr_validation.core.interrupts import AGAIN_LINE, FIRST_LINE
from lightonocr_validation.load.driver import CHAT_PATH
from lightonocr_validation.load.transport import send
from lightonocr_validation.vllm.client import BadAnswer, Target, VllmClient, configured_session
from tests.fakevllm.server import MODEL, FakeVllm, Faults
from tests.processes import ROOT, run_invoke, signals_at_default

pytestmark = pytest.mark.timeout(180)

REPORT_FLAGS = ("--report-json", "r.json", "--junit", "r.xml", "--report-md", "r.md")


def _env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key != "VLLM_API_KEY"} | {"COLUMNS": "200"}


def _port(fake: FakeVllm) -> str:
    return fake.url.rsplit(":", 1)[1]


def _reports(folder: Path) -> tuple[dict[str, Any], ET.Element, str]:
    return (
        json.loads((folder / "r.json").read_text(encoding="utf-8")),
        ET.parse(folder / "r.xml").getroot(),
        (folder / "r.md").read_text(encoding="utf-8"),
    )


def _junit_properties(root: ET.Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in root.iter("property")}


def _invoke(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "invoke", "-r", str(ROOT), *args],
        cwd=cwd,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=signals_at_default,  # the test's Ctrl-C must reach it however the suite was launched
    )


def _wait_for(condition: Any, process: subprocess.Popen[str]) -> None:
    """Until ``condition()`` holds (the run reached the moment to signal it); the test's timeout bounds it."""
    while not condition():
        assert process.poll() is None, f"the run ended before it was signalled: {process.communicate()}"
        time.sleep(0.05)


@pytest.fixture
def hanging() -> Iterator[FakeVllm]:
    with FakeVllm(Faults(hang=True)) as fake:
        yield fake


# --- the run's deadline ------------------------------------------------------------------------------


def test_hanging_posts_end_at_the_deadline_with_every_report_marked(hanging: FakeVllm, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "invoke", "-r", str(ROOT), "check", "--port", _port(hanging)]
    result = subprocess.run(
        [*command, "--deadline", "5", *REPORT_FLAGS],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == EXIT_FAILED, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.strip().splitlines()
    assert "issue: the run's deadline passed" in result.stdout
    assert any(line.startswith("PARTIAL REPORT: the run's deadline passed") for line in lines)
    report, junit, markdown = _reports(tmp_path)
    assert (report["partial"], report["stopped"]) == (True, "deadline")
    assert report["verdict"]["exit_code"] == EXIT_FAILED and report["verdict"]["word"] == "issue"
    checks = {check["id"]: check for check in report["hosts"][0]["checks"]}
    # What answered before the deadline kept its result; the page set, stuck on a hanging POST, did not finish.
    assert checks["RDY001"]["status"] == "pass" and checks["RDY001"]["stopped"] == ""
    assert checks["OCR001"]["stopped"] == "deadline" and checks["OCR001"]["status"] == "error"
    assert checks["OCR001"]["detail"].startswith("not finished: the run's deadline (5 s) passed")
    unfinished = [check for check in checks.values() if check["stopped"]]
    assert len(unfinished) > 1 and all(check["status"] == "error" for check in unfinished)
    assert report["provenance"]["deadline_s"] == 5
    properties = _junit_properties(junit)
    assert (properties["partial"], properties["stopped"]) == ("true", "deadline")
    assert int(junit.get("errors", "0")) == len(unfinished)
    assert markdown.splitlines()[2].startswith("> **PARTIAL REPORT: the run's deadline passed")


def test_a_slow_drip_answer_is_cut_at_the_request_timeout() -> None:
    """Each byte comes well within the read timeout, the answer would take minutes: the whole request is
    bounded, and the error names it. The server did answer, so it is a bad answer (a failed check), not an
    unreachable server."""
    with FakeVllm(Faults(drip=0.2)) as fake:
        client = VllmClient(Target(fake.url, name="dripping", timeout=1.0))
        try:
            with pytest.raises(BadAnswer) as raised:
                client.post("/v1/chat/completions", {"model": MODEL, "messages": [{"role": "user", "content": "x"}]})
        finally:
            client.close()
        assert raised.value.kind == "slow"
        assert "drips its answer" in str(raised.value) and "(--timeout)" in str(raised.value)
        # The same bound in the bench driver's transport, streamed or not.
        session = configured_session(Target(fake.url, timeout=1.0))
        body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "x"}]}).encode()
        for stream in (False, True):
            exchange = send(session, Target(fake.url, timeout=1.0), fake.url + CHAT_PATH, body, stream=stream)
            # Cut between two pieces (capped_pieces) or by the watchdog at the total bound: either names it.
            assert exchange.error is not None and "1 s" in exchange.error and "--timeout" in exchange.error
            assert not exchange.abandoned
        session.close()
        assert fake.counters["fake:dripped_posts"] == 3


def test_a_stopped_token_abandons_the_request_in_flight_and_starts_none() -> None:
    with FakeVllm(Faults(hang=True)) as fake:
        cancel = CancelToken()
        session = configured_session(Target(fake.url, timeout=120.0))
        body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "x"}]}).encode()
        stopper = threading.Thread(
            target=lambda: (_until(lambda: fake.counters.get("fake:hung_posts", 0) >= 1), cancel.stop("interrupted"))
        )
        stopper.start()
        target = Target(fake.url, timeout=120.0)
        exchange = send(session, target, fake.url + CHAT_PATH, body, stream=True, cancel=cancel)
        stopper.join()
        assert exchange.abandoned and exchange.status == 0
        again = send(session, target, fake.url + CHAT_PATH, body, stream=False, cancel=cancel)
        assert again.abandoned
        assert fake.counters["fake:hung_posts"] == 1  # nothing was sent after the stop
        session.close()


def _until(condition: Any) -> None:
    while not condition():
        time.sleep(0.02)


# --- Ctrl-C in invoke check --------------------------------------------------------------------------


def test_ctrl_c_in_check_prints_the_verdict_so_far_writes_partial_reports_and_exits_130(
    hanging: FakeVllm, tmp_path: Path
) -> None:
    process = _invoke("check", "--port", _port(hanging), *REPORT_FLAGS, cwd=tmp_path)
    _wait_for(lambda: hanging.counters.get("fake:hung_posts", 0) >= 1, process)  # the page set is in flight
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == EXIT_INTERRUPTED
    assert err.splitlines()[0] == FIRST_LINE and "Traceback" not in err
    assert "issue: interrupted: " in out and "so far: validated: 5 checks passed" in out
    assert "PARTIAL REPORT: the run was interrupted" in out
    report, junit, markdown = _reports(tmp_path)
    assert (report["partial"], report["stopped"], report["verdict"]["exit_code"]) == (True, "interrupted", 130)
    checks = report["hosts"][0]["checks"]
    finished = [check["id"] for check in checks if not check["stopped"]]
    assert finished == ["RDY001", "RDY002", "RDY003", "MOD001", "MOD002"]
    unfinished = [check for check in checks if check["stopped"]]
    assert all(check["stopped"] == "interrupted" and check["status"] == "skip" for check in unfinished)
    assert unfinished[0]["detail"] == "not finished: interrupted (SIGINT) while it ran"
    assert unfinished[-1]["detail"] == "not run: interrupted (SIGINT) before it started"
    assert _junit_properties(junit)["stopped"] == "interrupted"
    assert "PARTIAL REPORT: the run was interrupted" in markdown.splitlines()[2]


def test_sigterm_stops_check_as_ctrl_c_does(hanging: FakeVllm, tmp_path: Path) -> None:
    process = _invoke("check", "--port", _port(hanging), "--report-json", "r.json", cwd=tmp_path)
    _wait_for(lambda: hanging.counters.get("fake:hung_posts", 0) >= 1, process)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == EXIT_INTERRUPTED and "Traceback" not in err
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert report["stopped"] == "interrupted"
    assert "interrupted (SIGTERM)" in next(c["detail"] for c in report["hosts"][0]["checks"] if c["stopped"])


def test_a_second_ctrl_c_in_check_exits_130_at_once_without_reports(hanging: FakeVllm, tmp_path: Path) -> None:
    process = _invoke("check", "--port", _port(hanging), *REPORT_FLAGS, cwd=tmp_path)
    _wait_for(lambda: hanging.counters.get("fake:hung_posts", 0) >= 1, process)
    process.send_signal(signal.SIGINT)
    assert process.stderr is not None
    assert process.stderr.readline().rstrip("\n") == FIRST_LINE  # the first one was taken: the run is stopping
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == EXIT_INTERRUPTED
    assert err.splitlines() == [AGAIN_LINE]
    assert not (tmp_path / "r.json").exists()


# --- Ctrl-C and the deadline in invoke bench ---------------------------------------------------------

# A fixed output length: no accuracy reference pass, the measured point starts at once; far more requests
# than the test lets it send.
BENCH_FLAGS = ("--max-tokens", "8", "--concurrency", "2", "--requests", "100000", "--warmup", "0")


def _answered(fake: FakeVllm) -> float:
    return sum(value for key, value in fake.counters.items() if key.startswith("vllm:request_success_total/"))


def test_ctrl_c_in_bench_writes_the_finished_requests_marked_partial_and_exits_130(tmp_path: Path) -> None:
    with FakeVllm(Faults(delay=0.05)) as fake:
        process = _invoke("bench", "--port", _port(fake), *BENCH_FLAGS, "--json", "b.json", cwd=tmp_path)
        _wait_for(lambda: _answered(fake) >= 6, process)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    assert process.returncode == EXIT_INTERRUPTED, err
    assert err.splitlines()[0] == FIRST_LINE and "Traceback" not in err
    assert "issue: interrupted (SIGINT): the result is partial" in out
    result = json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))
    assert (result["partial"], result["stopped"]) == (True, "interrupted")
    point = result["hosts"][0]["points"][0]
    # The figures are those of the requests that finished: every request kept was answered, none abandoned.
    # Six were answered when Ctrl-C came; at most two (the concurrency) were still being read, and abandoned.
    assert point["figures"]["completed"] == len(point["requests"]) >= 6 - 2
    assert all(request["error"] is None for request in point["requests"])


def test_a_second_ctrl_c_in_bench_exits_130_at_once_without_the_result(tmp_path: Path) -> None:
    with FakeVllm(Faults(hang=True)) as fake:
        process = _invoke("bench", "--port", _port(fake), *BENCH_FLAGS, "--json", "b.json", cwd=tmp_path)
        _wait_for(lambda: fake.counters.get("fake:hung_posts", 0) >= 2, process)
        process.send_signal(signal.SIGINT)
        assert process.stderr is not None
        assert process.stderr.readline().rstrip("\n") == FIRST_LINE
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert process.returncode == EXIT_INTERRUPTED
    assert err.splitlines() == [AGAIN_LINE]
    assert not (tmp_path / "b.json").exists()


def test_the_bench_deadline_is_a_hard_ceiling_over_the_plan(tmp_path: Path) -> None:
    with FakeVllm(Faults(hang=True)) as fake:
        result = run_invoke(
            "bench", "--port", _port(fake), *BENCH_FLAGS, "--deadline", "3", "--json", str(tmp_path / "b.json"),
            env=_env(),
            timeout=120,
        )  # fmt: skip
    assert result.returncode == EXIT_FAILED, result.stderr
    assert "issue: the run's deadline (3 s) passed: the result is partial: 0 answered" in result.stdout
    written = json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))
    assert (written["partial"], written["stopped"]) == (True, "deadline")


def test_a_bad_deadline_is_one_line_and_exit_2() -> None:
    result = run_invoke("check", "--port", "1", "--deadline", "-5", env=_env())
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--deadline '-5' must be 0 (or auto) or more seconds" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# --- the verdict of a stopped run --------------------------------------------------------------------


def _stopped_run(reason: str, finished: list[Result]) -> list[Result]:
    token = CancelToken(60)
    token.stop(reason, "SIGINT")
    done = {result.check_id for result in finished}
    rest = [check for check in registry.CHECKS if check.id not in done][:3]
    return finished + [stopped_result(check, token, started=index == 0) for index, check in enumerate(rest)]


def _finished(check_id: str, status: Status, unreachable: str = "") -> Result:
    check = next(check for check in registry.CHECKS if check.id == check_id)
    return Result(check.id, check.title(), check.family, status, "found", "", 0.1, "", unreachable=unreachable)


def test_past_the_deadline_the_verdict_is_an_issue_exit_1_never_validated() -> None:
    results = _stopped_run(DEADLINE, [_finished("RDY001", Status.PASS), _finished("RDY002", Status.PASS)])
    verdict = verdict_for(results)
    assert (verdict.word, verdict.exit_code) == ("issue", EXIT_FAILED)
    assert verdict.line.startswith("issue: the run's deadline passed: 3 of 5 checks did not finish")


def test_a_finding_made_before_the_deadline_keeps_its_line_and_code() -> None:
    failed = verdict_for(_stopped_run(DEADLINE, [_finished("RDY001", Status.PASS), _finished("RDY002", Status.FAIL)]))
    assert (failed.exit_code, failed.line.split(":")[1].strip()) == (EXIT_FAILED, "RDY002 /health answers 200")
    assert failed.line.endswith("(then the run's deadline passed: 3 of 5 checks did not finish)")
    lost = verdict_for(_stopped_run(DEADLINE, [_finished("RDY001", Status.ERROR, unreachable="timeout")]))
    assert lost.exit_code == 2 and lost.line.startswith("issue: server unreachable")


def test_interrupted_the_verdict_is_130_with_the_verdict_so_far_whatever_the_fleet() -> None:
    interrupted = verdict_for(_stopped_run(INTERRUPTED, [_finished("RDY001", Status.PASS)]))
    assert interrupted.exit_code == EXIT_INTERRUPTED
    assert interrupted.line == "issue: interrupted: 3 of 4 checks did not finish; so far: validated: 1 check passed"
    unreachable = verdict_for([_finished("RDY001", Status.ERROR, unreachable="refused")])
    assert combine([unreachable, interrupted]) is interrupted


def test_an_idle_quickjs_worker_is_not_a_stuck_thread_but_another_thread_is(monkeypatch) -> None:
    """A run that graded a formula leaves QuickJS's idle pool thread (and any pool's worker waiting for its next
    task): not a reason to leave by os._exit (which killed the test process that ran the task in-process); any
    other live thread the run started still is."""
    from lightonocr_validation.core import interrupts as interrupt_module
    from lightonocr_validation.truth.katex_render import render

    exits: list[int] = []
    monkeypatch.setattr(interrupt_module.os, "_exit", exits.append)
    release = threading.Event()
    with interrupt_module.SignalGuard(CancelToken()), ThreadPoolExecutor(1, "a-pool-of-the-run") as pool:
        # The run begins: the QuickJS worker starts with the first formula rendered (unless an earlier test of
        # this process rendered one), and a pool of the run's own finishes its one task.
        assert render("x^2").mathml and pool.submit(lambda: None).result() is None
        _wait_until_not_stuck(interrupt_module)  # a worker is back waiting a moment after its task's result
        assert exits == []
        thread = threading.Thread(target=release.wait, name="a-request-still-connecting")
        thread.start()
        try:
            interrupt_module.leave_now_if_stuck(3)
        finally:
            release.set()
            thread.join()
    assert exits == [3]  # the connecting thread only


@pytest.fixture
def python_handlers():
    """Python's own SIGINT and SIGTERM handlers for the test, the earlier ones back after it: a run is the
    process's own only under them (SignalGuard.outermost), and a test before may have left others (tasks.py run
    in-process holds the signals); under those the guard counts as nested and notes no threads."""
    from lightonocr_validation.core.interrupts import PYTHON_HANDLERS

    previous = {number: signal.signal(number, handler) for number, handler in PYTHON_HANDLERS.items()}
    yield
    for number, handler in previous.items():
        signal.signal(number, handler)


def test_a_thread_alive_before_the_run_began_is_not_the_runs(monkeypatch, python_handlers) -> None:
    """A thread the process had before the run (a test runner's, or a library's started earlier) is not the
    run's, however idle or busy: a run in-process must not end its host by os._exit."""
    from lightonocr_validation.core import interrupts as interrupt_module

    exits: list[int] = []
    monkeypatch.setattr(interrupt_module.os, "_exit", exits.append)
    release = threading.Event()
    foreign = threading.Thread(target=release.wait, name="started-before-the-run")
    foreign.start()
    try:
        with interrupt_module.SignalGuard(CancelToken()):  # the run begins, and ends
            pass
        interrupt_module.leave_now_if_stuck(3)
        assert interrupt_module.stuck_threads() == []
    finally:
        release.set()
        foreign.join()
    assert exits == []
    # The same thread, once the run had begun before it, is the run's.
    started_in_the_run = threading.Thread(target=release.wait)
    release.clear()
    with interrupt_module.SignalGuard(CancelToken()):
        started_in_the_run.start()
    try:
        assert interrupt_module.stuck_threads() == [started_in_the_run]
    finally:
        release.set()
        started_in_the_run.join()


def _wait_until_not_stuck(interrupt_module: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while interrupt_module.stuck_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    interrupt_module.leave_now_if_stuck(3)
