"""The serve command, readiness wait and process-tree stop, without vLLM: real processes, fake servers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest

from lightonocr_validation.core.config import ModelSettings, ServerSettings, defaults
from lightonocr_validation.serve import process as serve
from lightonocr_validation.serve.process import local_url as serving_local_url
from lightonocr_validation.vllm.diagnose import KNOWN_FAILURES, KnownFailure, diagnose
from tests.processes import alive, free_port


def _config(**server: object) -> tuple[ModelSettings, ServerSettings]:
    return defaults().model, replace(defaults().server, **server)


def test_default_command_is_the_model_cards() -> None:
    command = serve.render(serve.build_command(*_config()))
    assert command.startswith("vllm serve lightonai/LightOnOCR-2-1B ")
    for flag in (
        "--limit-mm-per-prompt '{\"image\": 1}'",
        "--mm-processor-cache-gb 0",
        "--no-enable-prefix-caching",
        "--port 8000",
        "--host 127.0.0.1",
        "--served-model-name lightonai/LightOnOCR-2-1B",
    ):
        assert flag in command
    assert "--gpu-memory-utilization" not in command  # vLLM's own default, 0.9, is not repeated


def test_configured_values_and_extra_arguments_reach_the_command() -> None:
    model, server = _config(port=8011, max_model_len=8192, gpu_memory_utilization=0.8, enable_prefix_caching=True)
    command = serve.build_command(replace(model, served_name="ocr"), server, ["--enforce-eager"])
    assert command[command.index("--port") + 1] == "8011"
    assert command[command.index("--max-model-len") + 1] == "8192"
    assert command[command.index("--gpu-memory-utilization") + 1] == "0.8"
    assert command[command.index("--served-model-name") + 1] == "ocr"
    assert "--enable-prefix-caching" in command and command[-1] == "--enforce-eager"


def test_a_busy_port_is_refused_with_exit_code_2(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(serve.ServeError, match=f"port {port} on 127.0.0.1 is already in use") as caught:
            serve.start(["true"], host="127.0.0.1", port=port, log_file=tmp_path / "log", env={})
    assert caught.value.code == 2


def test_a_missing_executable_names_the_install_command(tmp_path: Path) -> None:
    with pytest.raises(serve.ServeError, match=r"uv pip install vllm==0\.11\.2") as caught:
        serve.start(
            ["no-such-vllm-here", "serve"],
            host="127.0.0.1",
            port=free_port(),
            log_file=tmp_path / "l",
            env={},
        )
    assert caught.value.code == 2


FAKE_SERVER = textwrap.dedent(
    """
    import http.server, json, os, sys, time, subprocess
    # A child that ignores SIGTERM, as a stuck worker would: the group stop must still end it.
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
    subprocess.Popen([sys.executable, "-c", stubborn])
    time.sleep(float(sys.argv[2]))
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            listing = {"data": [{"id": "m", "max_model_len": 8192}]}
            body = b"" if self.path == "/health" else json.dumps(listing).encode()
            self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
            self.wfile.write(body)
        def log_message(self, *a): pass
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
    """
)


def _start_fake(tmp_path: Path, delay: float) -> serve.RunningServer:
    port = free_port()
    script = tmp_path / "fake.py"
    script.write_text(FAKE_SERVER)
    command = [sys.executable, str(script), str(port), str(delay)]
    process = serve.start(command, host="127.0.0.1", port=port, log_file=tmp_path / "log", env={})
    return serve.RunningServer(process, command, tmp_path / "log", f"http://127.0.0.1:{port}", "m", serve.Stages())


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_readiness_passes_through_each_stage_and_stop_ends_the_whole_tree(tmp_path: Path) -> None:
    server = _start_fake(tmp_path, delay=1.0)
    seen: list[str] = []
    serve.wait_until_ready(server, timeout=30, on_progress=lambda stage, stages: seen.append(stage))
    assert seen[0] == "process" and seen[-1] == "model"
    assert list(server.stages.reached) == ["process", "listening", "healthy", "model"]
    children = _children(server.pid)
    assert children, "the fake server should have a child process"
    assert serve.stop_process_group(server.pid, grace=2.0) is True
    server.process.wait(timeout=5)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(p) for p in [server.pid, *children]):
        time.sleep(0.1)
    assert not any(alive(p) for p in [server.pid, *children]), "a process of the tree survived the stop"


def test_a_server_dying_during_start_up_is_diagnosed_from_its_log(tmp_path: Path) -> None:
    port = free_port()
    message = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"
    command = [sys.executable, "-c", f"import sys; print({message!r}); sys.exit(1)"]
    process = serve.start(command, host="127.0.0.1", port=port, log_file=tmp_path / "log", env={})
    server = serve.RunningServer(process, command, tmp_path / "log", f"http://127.0.0.1:{port}", "m", serve.Stages())
    with pytest.raises(serve.ServeError, match="exited with code 1 during start-up") as caught:
        serve.wait_until_ready(server, timeout=30)
    assert caught.value.diagnosis is not None and caught.value.diagnosis.key == "out-of-memory"
    assert message in caught.value.log_tail


def test_stop_leaves_a_pid_that_is_not_a_group_leader_alone() -> None:
    # Our own process is not the leader of its group under pytest: a reused PID must never be signalled.
    if os.getpgid(os.getpid()) == os.getpid():
        pytest.fail("pytest runs as a group leader here; the premise of this test does not hold")
    assert serve.stop_process_group(os.getpid(), grace=0.1) is False


@pytest.mark.parametrize(
    ("line", "key"),
    [
        (
            "ImportError: cannot import name 'PixtralRotaryEmbedding' from 'transformers'",
            "transformers-import",
        ),
        (
            "ValueError: Model architectures ['LightOnOCRForConditionalGeneration'] are not supported for now.",
            "unsupported-architecture",
        ),
        (
            "ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization`",
            "out-of-memory",
        ),
        ("RuntimeError: Failed to infer device type", "no-gpu"),
        ("importlib.metadata.PackageNotFoundError: No package metadata was found for vllm", "vllm-metadata"),
        ("RuntimeError: operator torchvision::nms does not exist", "torchvision-ops"),
        ("OSError: Can't load image processor for 'lightonai/LightOnOCR-2-1B'", "image-processor"),
        (
            "ERROR: [Errno 98] error while attempting to bind on address: address already in use",
            "address-in-use",
        ),
    ],
)
def test_known_failures_are_recognised(line: str, key: str) -> None:
    found = diagnose(["INFO starting", line, "Traceback (most recent call last):"])
    assert found is not None and found.key == key


@pytest.mark.parametrize("failure", KNOWN_FAILURES, ids=lambda failure: failure.key)
def test_each_symptom_the_guide_shows_is_diagnosed_as_its_own_failure(failure: KnownFailure) -> None:
    # The guide's troubleshooting table shows `symptom`; a line a reader finds there must lead to the same fix.
    for line in failure.symptom.split("; "):
        found = diagnose(["INFO starting", line])
        assert found is not None and found.key == failure.key, line


def test_an_unknown_failure_has_no_diagnosis() -> None:
    assert diagnose(["INFO all fine", "RuntimeError: something new"]) is None


def test_vllm_beside_the_running_interpreter_wins_over_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    environment, elsewhere = tmp_path / "env" / "bin", tmp_path / "elsewhere"
    for folder in (environment, elsewhere):
        folder.mkdir(parents=True)
        (folder / "vllm").write_text("#!/bin/sh\n")
        (folder / "vllm").chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(environment / "python"))
    monkeypatch.setenv("PATH", str(elsewhere))
    assert serve.resolve_executable("vllm") == str(environment / "vllm")
    (environment / "vllm").unlink()
    assert serve.resolve_executable("vllm") == str(elsewhere / "vllm")
    assert serve.resolve_executable("/opt/custom/vllm") == "/opt/custom/vllm"


def test_local_url_reaches_a_wildcard_bind_on_loopback_and_brackets_ipv6() -> None:
    # serve's readiness wait, tune's servers and tune's bench all reach the server through this one URL.
    assert serving_local_url("0.0.0.0", 8000) == "http://127.0.0.1:8000"
    assert serving_local_url("", 8001) == "http://127.0.0.1:8001"
    assert serving_local_url("10.0.0.5", 8000) == "http://10.0.0.5:8000"
    assert serving_local_url("::1", 8000) == "http://[::1]:8000"


def test_the_servers_environment_is_cpu_env_then_the_chosen_profiles_then_server_env() -> None:
    from lightonocr_validation.serve.setup import server_env

    cfg = defaults()
    tuned = replace(cfg, server=replace(cfg.server, profile="tuned"))
    lever = {"LIGHTONOCR_PIXTRAL_ATTENTION": "varlen"}  # server.profile_env.tuned by default
    assert server_env(tuned, "cuda", profile=True) == lever
    assert server_env(cfg, "cuda", profile=True) == {}  # the card's profile has no environment
    # invoke tune: its card baseline and every configuration go without the chosen profile's environment.
    assert server_env(tuned, "cuda", profile=False) == {}
    # The profile's is over cpu.env and under server.env: a user's server.env can turn the lever off.
    off = replace(tuned, server=replace(tuned.server, env={"LIGHTONOCR_PIXTRAL_ATTENTION": "off"}))
    assert server_env(off, "cuda", profile=True) == {"LIGHTONOCR_PIXTRAL_ATTENTION": "off"}
    on_cpu = replace(tuned, cpu=replace(tuned.cpu, env={"LIGHTONOCR_PIXTRAL_ATTENTION": "cpu", "A": "1"}))
    assert server_env(on_cpu, "cpu", profile=True) == {"LIGHTONOCR_PIXTRAL_ATTENTION": "varlen", "A": "1"}
    assert server_env(on_cpu, "cuda", profile=True) == lever  # cpu.env is the CPU's alone
