"""The invoke tasks as a person runs them: real `invoke` processes, exit codes, one-line errors, signals.

A stand-in `vllm` executable (a small Python HTTP server with a child process, set through
INVOKE_SERVER_EXECUTABLE) lets these run in seconds; the real vLLM is driven by test_e2e_vllm_cpu.py.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.processes import ROOT, alive, free_port, run_invoke, signals_at_default

STAND_IN_VLLM = textwrap.dedent(
    """\
    #!{python}
    # Stands in for `vllm serve MODEL --host H --port P --served-model-name NAME ...`.
    import http.server, json, os, subprocess, sys, time
    args = sys.argv[1:]
    value = lambda flag: args[args.index(flag) + 1]
    if os.environ.get("STAND_IN_DIE"):
        print("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", flush=True)
        sys.exit(1)
    # A worker that ignores SIGTERM, as a stuck vLLM worker might: the stop must still end it.
    worker = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
    child = subprocess.Popen([sys.executable, "-c", worker])
    # Written whole, then renamed: the test polls for the file and must never read it half-written.
    with open(os.environ["STAND_IN_PIDS"] + ".part", "w") as out:
        json.dump([os.getpid(), child.pid], out)
    os.replace(os.environ["STAND_IN_PIDS"] + ".part", os.environ["STAND_IN_PIDS"])
    time.sleep(0.5)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            # vLLM guards /v1 with the key it was started with (here STAND_IN_KEY, else VLLM_API_KEY).
            key = os.environ.get("STAND_IN_KEY") or os.environ.get("VLLM_API_KEY")
            if key and self.path.startswith("/v1") and self.headers.get("Authorization") != f"Bearer {{key}}":
                body = json.dumps({{"error": "Unauthorized"}}).encode()
                self.send_response(401)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            listing = {{"object": "list", "data": [{{"id": value("--served-model-name"), "max_model_len": 16384}}]}}
            body = b"" if self.path == "/health" else json.dumps(listing).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    http.server.HTTPServer((value("--host"), int(value("--port"))), Handler).serve_forever()
    """
)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    executable = tmp_path / "vllm"
    executable.write_text(STAND_IN_VLLM.format(python=sys.executable))
    executable.chmod(0o755)
    port = free_port()
    return {
        **os.environ,
        "INVOKE_SERVER_EXECUTABLE": str(executable),
        "INVOKE_SERVER_PORT": str(port),
        "INVOKE_CHECK_PORT": str(port),
        "INVOKE_SERVER_PID_FILE": str(tmp_path / "server.pid"),
        "INVOKE_SERVER_LOG_FILE": str(tmp_path / "server.log"),
        "STAND_IN_PIDS": str(tmp_path / "pids.json"),
        # The stand-in's worker ignores SIGTERM on purpose: don't wait the default 30 s before killing it.
        "INVOKE_SERVER_STOP_TIMEOUT": "3",
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }


def _wait_gone(pids: list[int], seconds: float = 45) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(alive(pid) for pid in pids):
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_foreground_serve_stops_the_whole_tree_on_sigterm(env: dict[str, str], tmp_path: Path) -> None:
    serve = subprocess.Popen(
        [sys.executable, "-m", "invoke", "serve", "--device", "cpu"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=signals_at_default,
    )
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "pids.json").is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        pids = json.loads((tmp_path / "pids.json").read_text())
        # The readiness wait ends once the model is listed; give it that moment before the signal.
        time.sleep(3)
        serve.send_signal(signal.SIGTERM)
        stdout, stderr = serve.communicate(timeout=90)
    finally:
        if serve.poll() is None:
            serve.kill()
    assert "ready:" in stdout, stdout + stderr
    assert "Traceback" not in stderr
    assert _wait_gone(pids), "a process of the server's tree survived SIGTERM to invoke serve"


@pytest.mark.slow
def test_detached_serve_then_stop(env: dict[str, str], tmp_path: Path) -> None:
    started = run_invoke("serve", "--detach", "--device", "cpu", env=env)
    assert started.returncode == 0, started.stdout + started.stderr
    for stage in ("process started", "/health answered 200", "model listed in /v1/models"):
        assert stage in started.stdout
    pids = json.loads((tmp_path / "pids.json").read_text())
    assert all(alive(pid) for pid in pids)
    again = run_invoke("serve", "--detach", "--device", "cpu", env=env)
    assert again.returncode == 2 and "already running" in again.stderr
    stopped = run_invoke("stop", env=env)
    assert stopped.returncode == 0 and "stopped pid" in stopped.stdout
    assert _wait_gone(pids, seconds=5)
    assert not (tmp_path / "server.pid").exists()
    assert "no detached server" in run_invoke("stop", env=env).stdout


def test_a_server_dying_at_start_gets_its_log_and_a_diagnosis(env: dict[str, str]) -> None:
    result = run_invoke("serve", "--device", "cpu", env={**env, "STAND_IN_DIE": "1"})
    assert result.returncode == 1
    assert "CUDA out of memory" in result.stderr  # the log's last lines
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "lower --gpu-memory-utilization" in error_lines[0]
    assert "Traceback" not in result.stderr


def test_a_missing_vllm_is_named_with_the_install_command(env: dict[str, str]) -> None:
    result = run_invoke("serve", "--device", "cpu", env={**env, "INVOKE_SERVER_EXECUTABLE": "no-such-vllm"})
    assert result.returncode == 2
    assert "`no-such-vllm` was not found" in result.stderr and "uv pip install vllm==0.11.2" in result.stderr
    assert "Traceback" not in result.stderr


def test_dry_run_prints_the_configured_command(env: dict[str, str]) -> None:
    result = run_invoke("serve", "--dry-run", "--port", "8123", "--", "--enforce-eager", env=env)
    assert result.returncode == 0
    assert result.stdout.strip().endswith(
        "--port 8123 --served-model-name lightonai/LightOnOCR-2-1B --limit-mm-per-prompt '{\"image\": 1}' "
        "--mm-processor-cache-gb 0 --no-enable-prefix-caching --enforce-eager"
    )


def test_arguments_after_the_double_dash_keep_their_quotes(env: dict[str, str]) -> None:
    # Invoke joins the remainder with spaces; a JSON value must still reach vLLM as one word, quotes and all.
    json_value = '{"compile_mm_encoder": true}'
    result = run_invoke(
        "serve", "--dry-run", "--port", "8123", "--", "--compilation-config", json_value, "--note", "two words", env=env
    )
    assert result.returncode == 0, result.stderr
    assert shlex.split(result.stdout.strip())[-4:] == ["--compilation-config", json_value, "--note", "two words"]


@pytest.mark.slow
def test_full_size_is_served_with_dummy_weights_and_checked_as_random_weights(
    env: dict[str, str], tmp_path: Path
) -> None:
    folder = tmp_path / "full-size"
    folder.mkdir()
    (folder / "config.json").write_text("{}")  # present, so serve does not build it
    env = {**env, "INVOKE_FULL_SIZE_MODEL_PATH": str(folder)}
    dry = run_invoke("serve", "--full-size", "--dry-run", "--device", "cuda", env=env)
    words = shlex.split(dry.stdout.strip())
    assert words[2] == str(folder) and words[-2:] == ["--load-format", "dummy"]
    assert words[words.index("--served-model-name") + 1] == "lightonocr-2-1b-random-weights"
    started = run_invoke("serve", "--full-size", "--detach", "--device", "cpu", env=env)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        report = tmp_path / "report.json"
        checked = run_invoke("check", "--full-size", "--only", "RDY001,MOD001", "--report-json", str(report), env=env)
        assert checked.returncode == 0, checked.stdout
        assert json.loads(report.read_text())["provenance"]["weights"] == "random"
        # Checked as the real model instead, the served name is not the one expected: MOD001 fails.
        assert run_invoke("check", "--only", "RDY001,MOD001", env=env).returncode == 1
    finally:
        run_invoke("stop", env=env)


def test_tiny_and_full_size_together_is_one_line_and_exit_2(env: dict[str, str]) -> None:
    result = run_invoke("serve", "--tiny", "--full-size", "--dry-run", env=env)
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [
        "error: --tiny and --full-size name two different models: choose one"
    ]


def test_check_against_a_closed_port_exits_2_with_the_cause(env: dict[str, str], tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = run_invoke("check", "--port", str(free_port()), "--report-json", str(report), env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "issue: server unreachable" in result.stdout and "connection refused" in result.stdout
    assert json.loads(report.read_text())["verdict"]["exit_code"] == 2


def test_verdict_and_error_lines_are_whole_on_a_narrow_pipe(env: dict[str, str]) -> None:
    # Piped, rich folds at 80 columns (here 40): the table may fold, the verdict and `error:` lines may not,
    # so that `invoke check | tail -1`, a CI log or grep gets the whole line.
    narrow = {**env, "COLUMNS": "40"}
    result = run_invoke("check", "--port", str(free_port()), env=narrow)
    assert result.returncode == 2, result.stdout + result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("issue: server unreachable: ") and last.endswith("(not started, or still loading)"), last
    assert len(last) > 80
    refused = run_invoke("check", "--host", "ftp://example.com/a/long/path/that/does/not/fit", env=narrow)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [refused.stderr.strip()]
    assert refused.stderr.startswith("error: ") and "write it as https://host[:port][/base/path]" in refused.stderr


def test_a_host_word_that_is_no_profile_is_one_line_before_any_check(env: dict[str, str]) -> None:
    result = run_invoke("check", "--host", "remote-gpu", env=env)
    assert result.returncode == 2
    assert result.stdout == ""  # no check ran: before, 25 check lines ended with "does not resolve (DNS)"
    assert result.stderr.strip().splitlines() == [
        "error: --host remote-gpu is not a host profile (invoke.yaml's check.hosts defines none) and no host of "
        "that name resolves: add check.hosts.remote-gpu with its url, api_key_env and ca_bundle to invoke.yaml, "
        "as invoke.example.yaml shows (or run invoke -f invoke.example.yaml ...), or give a URL or an IP address"
    ]


def test_the_example_profile_reads_its_key_variable(env: dict[str, str]) -> None:
    # The shipped example, used as it is: the profile is found, and its key variable is named when unset.
    unset = {name: value for name, value in env.items() if name != "REMOTE_GPU_API_KEY"}
    result = run_invoke("-f", "invoke.example.yaml", "check", "--host", "remote-gpu", env=unset)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == (
        "error: the API key variable REMOTE_GPU_API_KEY is not set: export REMOTE_GPU_API_KEY=<the server's --api-key>"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--only", "XYZ999"], "unknown check id XYZ999"),
        (["--tag", "nonsense"], "unknown tag nonsense"),
        (["--host", "ftp://example.com"], "is not an http(s) URL"),
    ],
)
def test_bad_check_input_is_one_line_and_exit_2(env: dict[str, str], args: list[str], message: str) -> None:
    result = run_invoke("check", *args, env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and message in result.stderr
    assert "Traceback" not in result.stderr


def test_the_api_key_never_reaches_output_or_reports(env: dict[str, str], tmp_path: Path) -> None:
    secret = "sk-do-not-print-7f3a"
    reports = [tmp_path / "r.json", tmp_path / "r.md", tmp_path / "r.xml"]
    result = run_invoke(
        "check",
        "--port",
        str(free_port()),
        "--report-json",
        str(reports[0]),
        "--report-md",
        str(reports[1]),
        "--junit",
        str(reports[2]),
        env={**env, "VLLM_API_KEY": secret},
    )
    assert result.returncode == 2
    assert secret not in result.stdout + result.stderr
    for report in reports:
        assert secret not in report.read_text()


def test_every_task_and_session_lists_a_summary(env: dict[str, str]) -> None:
    listing = run_invoke("--list", env=env).stdout
    for name in ("serve", "stop", "check", "tiny-model", "samples", "docs"):
        assert f"  {name} " in listing


@pytest.mark.slow
def test_readiness_asks_with_the_servers_api_key(env: dict[str, str]) -> None:
    keyed = {**env, "VLLM_API_KEY": "sk-ready-1"}
    started = run_invoke("serve", "--detach", "--device", "cpu", env=keyed)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert "sk-ready-1" not in started.stdout + started.stderr
    finally:
        run_invoke("stop", env=keyed)


@pytest.mark.slow
def test_a_server_wanting_a_key_we_lack_is_named_not_waited_for(env: dict[str, str]) -> None:
    result = run_invoke("serve", "--device", "cpu", env={**env, "STAND_IN_KEY": "sk-other"})
    assert result.returncode == 2
    assert "401" in result.stderr and "export VLLM_API_KEY" in result.stderr
    assert "Traceback" not in result.stderr
