"""A server that stops answering mid-run: judged gone once (lightonocr_validation/vllm/liveness.py), and the rest of
the run stops waiting on it; a server merely slow on one page, or refusing one connection, is never judged.
And a stream broken mid-way (the server cut it, or Ctrl-C's watchdog shut the socket) is a failed or abandoned
request, never urllib3's exception. Every case against real sockets: the fake vLLM (tests/fakevllm) and the
hostile server (tests/faults/hostile.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from lightonocr_validation.vllm.client import Target, Unreachable
from lightonocr_validation.vllm.liveness import HostWatch
from tests.fakevllm.server import MODEL, FakeVllm, Faults
from tests.faults.hostile import Hostile
from tests.processes import ROOT, free_port

INVOKE = Path(sys.executable).parent / "invoke"


def timed_out(target: Target) -> Unreachable:
    return Unreachable("timeout", f"{target.label}: the server accepted the connection but did not answer in time")


# --- the rule, both ways ----------------------------------------------------------------------------------------


def test_a_server_that_answers_nothing_is_judged_hung() -> None:
    with FakeVllm(Faults(hang=True)) as fake:
        target = Target(fake.url, timeout=2)
        watch = HostWatch(target, MODEL, answered=True)
        reported = watch.failed(timed_out(target))
        assert watch.gone.startswith("judged hung: a request got no answer within 2 s (--timeout)")
        assert reported.kind == "gone" and "nor did a one-token request within 2 s" in str(reported)
        assert fake.counters["fake:hung_posts"] == 1  # the probe: the request itself was the caller's


def test_a_server_slow_on_one_page_is_not_judged() -> None:
    with FakeVllm() as fake:  # answers the one-token probe at once, as vLLM batches it beside a slow page
        target = Target(fake.url, timeout=2)
        watch = HostWatch(target, MODEL, answered=True)
        error = timed_out(target)
        assert watch.failed(error) is error and watch.failed(error) is error and not watch.gone


def test_a_dead_server_is_judged_gone() -> None:
    target = Target(f"http://127.0.0.1:{free_port()}", timeout=5)  # nothing listens: /health is refused too
    watch = HostWatch(target, MODEL, answered=True)
    reported = watch.failed(Unreachable("refused", f"{target.label}: connection refused"))
    assert watch.gone == "judged gone: connection refused, and /health does not answer either"
    assert reported.kind == "gone"


def test_a_server_that_never_answered_is_unreachable_not_gone() -> None:
    target = Target(f"http://127.0.0.1:{free_port()}", timeout=5)
    watch = HostWatch(target, MODEL)  # nothing answered yet: the request that failed says how it is unreachable
    error = Unreachable("refused", f"{target.label}: connection refused")
    assert watch.failed(error) is error and not watch.gone
    watch.answered()
    assert watch.failed(error).kind == "gone"  # once it answered, the same failure is a server gone


def test_one_reset_connection_while_health_answers_is_not_judged() -> None:
    with Hostile("reset") as server:  # POSTs are reset; GET /health answers
        target = Target(server.url, timeout=5)
        watch = HostWatch(target, MODEL, answered=True)
        error = Unreachable("connection", f"{target.label}: the server reset the connection without answering")
        assert watch.failed(error) is error and not watch.gone


# --- invoke check -------------------------------------------------------------------------------------------------


def invoke(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "300", "VLLM_API_KEY": ""}
    env = {k: v for k, v in env.items() if not k.startswith("INVOKE_")}
    return subprocess.run(
        [str(INVOKE), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def checks_of(path: Path) -> dict[str, dict]:
    report = json.loads(path.read_text(encoding="utf-8"))
    return {check["id"]: check for check in report["hosts"][0]["checks"]}


def test_check_stops_waiting_on_a_hung_server(tmp_path: Path) -> None:
    with FakeVllm(Faults(hang=True)) as fake:
        run = invoke("check", "--host", fake.url, "--timeout", "2", "--report-json", str(tmp_path / "r.json"))
        hung_posts = fake.counters.get("fake:hung_posts", 0)
    assert run.returncode == 2 and "Traceback" not in run.stdout + run.stderr
    assert "issue: server unreachable: the server stopped answering:" in run.stdout
    assert "judged hung: a request got no answer within 2 s (--timeout)" in run.stdout
    checks = checks_of(tmp_path / "r.json")
    assert checks["OCR001"]["unreachable"] == "gone"
    skipped = [c for c in checks.values() if c["skip_reason"] == "server_gone"]
    assert len(skipped) >= 15 and all(
        c["detail"] == "not run: the server was judged gone during OCR001" for c in skipped
    )
    assert hung_posts <= 4 + 1  # OCR001's pages in flight at once, and the one probe: nothing after


def test_check_keeps_going_past_a_page_slower_than_the_timeout(tmp_path: Path) -> None:
    with FakeVllm(Faults(slow_sample="prose-01", slow_seconds=4)) as fake:
        run = invoke(
            "check", "--host", fake.url, "--timeout", "2", "--only", "OCR001,SRV006,SRV007",
            "--report-json", str(tmp_path / "r.json"),
        )  # fmt: skip
    checks = checks_of(tmp_path / "r.json")
    assert "judged" not in run.stdout and not any(c["skip_reason"] == "server_gone" for c in checks.values())
    assert checks["OCR001"]["unreachable"] == "timeout"  # the slow page is OCR001's finding
    assert checks["SRV006"]["status"] == "pass" and checks["SRV007"]["status"] == "pass"  # the later checks ran


# --- invoke bench -------------------------------------------------------------------------------------------------


def test_bench_stops_sending_to_a_hung_server(tmp_path: Path) -> None:
    with FakeVllm(Faults(hang=True)) as fake:
        run = invoke(
            "bench", "--host", fake.url, "--requests", "8", "--timeout", "2", "--json", str(tmp_path / "b.json")
        )
        hung_posts = fake.counters.get("fake:hung_posts", 0)
    assert run.returncode == 2 and "Traceback" not in run.stdout + run.stderr
    assert "issue: the server stopped answering mid-run (judged hung" in run.stdout
    result = json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))
    assert (result["partial"], result["stopped"]) == (True, "server_gone") and result["hosts"][0]["gone"]
    assert hung_posts <= 2  # the reference pass's first page and the probe: not one per request


def served_fake(port: int) -> subprocess.Popen[bytes]:
    code = (
        "import sys, time; sys.path.insert(0, sys.argv[1]); from tests.fakevllm.server import FakeVllm; "
        "FakeVllm(port=int(sys.argv[2])).__enter__(); print('ready', flush=True); time.sleep(600)"
    )
    process = subprocess.Popen([sys.executable, "-c", code, str(ROOT), str(port)], stdout=subprocess.PIPE)
    assert process.stdout is not None and process.stdout.readline().strip() == b"ready"
    return process


def answered_at_least(port: int, count: int, seconds: float = 60) -> bool:
    """Wait until the fake at ``port`` (another process) has answered ``count`` completions, read from /metrics."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
                text = reply.read().decode()
            done = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(SUCCESS))
            if done >= count:
                return True
        time.sleep(0.2)
    return False


SUCCESS = "vllm:request_success_total{"


def test_bench_ends_with_exit_2_when_the_server_is_killed_mid_run(tmp_path: Path) -> None:
    port = free_port()
    server = served_fake(port)
    try:
        args = ["bench", "--port", str(port), "--duration", "30", "--max-tokens", "8", "--warmup", "0"]
        env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "300"}
        process = subprocess.Popen(
            [str(INVOKE), *args, "--json", str(tmp_path / "b.json")],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        assert answered_at_least(port, 20)  # measuring: --max-tokens skips the reference pass
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
        assert server.stdout is not None
        server.stdout.close()
    output = process.communicate(timeout=60)[0]
    assert process.returncode == 2 and "Traceback" not in output
    assert "issue: the server stopped answering mid-run (judged gone:" in output
    result = json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))
    figures = result["hosts"][0]["points"][0]["figures"]
    assert result["stopped"] == "server_gone" and figures["completed"] > 0
    assert figures["errors"] <= 8  # the requests that met the dead server before it was judged: few


# --- a stream broken mid-way --------------------------------------------------------------------------------------


def stream_body() -> bytes:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "OK"}], "max_tokens": 8, "stream": True}
    return json.dumps(body).encode()


def test_a_stream_cut_mid_way_is_a_failed_request_not_a_transport_exception() -> None:
    from lightonocr_validation.load.transport import send
    from lightonocr_validation.vllm.client import configured_session

    for server, cut in ((Hostile("truncated"), True), (FakeVllm(), False)):
        with server:
            target = Target(server.url, timeout=10)
            session = configured_session(target)
            exchange = send(session, target, f"{server.url}/v1/chat/completions", stream_body(), stream=True)
            session.close()
        assert (exchange.error is not None) is cut, exchange.error
        assert not cut or "cut its" in exchange.error


def test_ctrl_c_mid_stream_exits_130_with_the_partial_result(tmp_path: Path) -> None:
    with FakeVllm(Faults(token_delay=0.01)) as fake:  # 64 events an answer: the signal lands mid-stream
        args = ["bench", "--host", fake.url, "--max-tokens", "64", "--concurrency", "2", "--requests", "100000"]
        env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "300"}
        process = subprocess.Popen(
            [str(INVOKE), *args, "--warmup", "0", "--json", str(tmp_path / "b.json")],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        answered = lambda: sum(v for k, v in fake.counters.items() if k.startswith("vllm:request_success_total/"))  # noqa: E731
        while answered() < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=60)[0]
    assert process.returncode == 130 and "Traceback" not in output and "ProtocolError" not in output
    result = json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))
    assert (result["partial"], result["stopped"]) == (True, "interrupted")
