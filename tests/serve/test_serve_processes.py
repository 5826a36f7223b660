"""`invoke serve` and `invoke stop` with the processes they start: real `invoke` runs, a stand-in `vllm`.

The stand-in answers /health and /v1/models on its port, has a worker that ignores SIGTERM (as a stuck
vLLM worker might), and writes its pids and CUDA_VISIBLE_DEVICES to STAND_IN_DIR/PORT.json. Switches:
STAND_IN_DIE_PORT (that replica dies at start with a CUDA out-of-memory line), STAND_IN_DELAY (seconds
before it listens), STAND_IN_PLUGIN (logs the vLLM plugin's line when its switch is on, as the plugin does).
Every test ends with no process of any group alive, stale records' strangers untouched.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lightonocr_validation.serve import processes
from tests.processes import ROOT, alive, free_ports, run_invoke, signals_at_default

pytestmark = pytest.mark.slow

STAND_IN = textwrap.dedent(
    """\
    #!{python}
    import http.server, json, os, subprocess, sys, time
    args = sys.argv[1:]
    value = lambda flag: args[args.index(flag) + 1]
    port = int(value("--port"))
    if os.environ.get("STAND_IN_DIE_PORT") == str(port):
        print("environment at the crash: VLLM_API_KEY=" + os.environ.get("VLLM_API_KEY", ""), flush=True)
        print("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", flush=True)
        sys.exit(1)
    worker = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
    child = subprocess.Popen([sys.executable, "-c", worker])
    info = {{"pids": [os.getpid(), child.pid], "gpu": os.environ.get("CUDA_VISIBLE_DEVICES"), "argv": args}}
    info["lever"] = os.environ.get("LIGHTONOCR_PIXTRAL_ATTENTION")  # the project's vLLM plugin's switch
    if os.environ.get("STAND_IN_PLUGIN") and info["lever"] == "varlen":  # as the plugin logs when it loads
        print("INFO [__init__.py:45] LightOnOCR plugin: Pixtral's encoder attends page by page", flush=True)
    path = os.path.join(os.environ["STAND_IN_DIR"], f"{{port}}.json")
    with open(path + ".part", "w") as out:  # written whole, then renamed: never read half-written
        json.dump(info, out)
    os.replace(path + ".part", path)
    time.sleep(float(os.environ.get("STAND_IN_DELAY", "0.3")))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            listing = {{"object": "list", "data": [{{"id": value("--served-model-name"), "max_model_len": 16384}}]}}
            body = b"" if self.path == "/health" else json.dumps(listing).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    http.server.HTTPServer((value("--host"), port), Handler).serve_forever()
    """
)


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "stand-in").mkdir()
    yield tmp_path
    # Whatever a failing test left behind: only groups whose leader still runs the stand-in we wrote.
    for info in (tmp_path / "stand-in").glob("*.json"):
        leader = json.loads(info.read_text())["pids"][0]
        live = processes.identify(leader)
        if live and live.pgid == leader and str(tmp_path / "vllm") in live.argv:
            processes.stop_groups([leader], grace=0.5)


@pytest.fixture
def env(state: Path) -> dict[str, str]:
    executable = state / "vllm"
    executable.write_text(STAND_IN.format(python=sys.executable))
    executable.chmod(0o755)
    port = free_ports(2)  # replicas take port and port + 1: both bound once to be sure they are free
    # A CI machine's own GPU list would change which GPU each replica gets: these tests start from none.
    ours = {key: value for key, value in os.environ.items() if key != "CUDA_VISIBLE_DEVICES"}
    return {
        **ours,
        "INVOKE_SERVER_EXECUTABLE": str(executable),
        "INVOKE_SERVER_PORT": str(port),
        "INVOKE_SERVER_PID_FILE": str(state / "server.pid"),
        "INVOKE_SERVER_LOG_FILE": str(state / "vllm-serve.log"),
        "INVOKE_SERVER_STOP_TIMEOUT": "2",
        "STAND_IN_DIR": str(state / "stand-in"),
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }


def _infos(state: Path) -> dict[int, dict]:
    return {int(p.stem): json.loads(p.read_text()) for p in (state / "stand-in").glob("*.json")}


def _all_pids(state: Path) -> list[int]:
    return [pid for info in _infos(state).values() for pid in info["pids"]]


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


@pytest.fixture
def stranger() -> Iterator[subprocess.Popen[bytes]]:
    """An unrelated program that leads its own process group, as a reused pid might: it must never be hit."""
    process = subprocess.Popen(["sleep", "600"], start_new_session=True)
    processes.identify_started(process.pid)
    yield process
    process.kill()
    process.wait()


# Stale records: the pid now belongs to another program.


def _legacy_record(pid: int, port: int) -> str:
    return json.dumps(
        {
            "pid": pid,
            "base_url": f"http://127.0.0.1:{port}",
            "model": "m",
            "log_file": "x",
            "command": ["vllm", "serve"],
        }
    )


def _v2_record(entries: list[dict]) -> str:
    return json.dumps({"version": 2, "mode": "replicas", "model": "m", "servers": entries})


def _entry(pid: int, port: int, start_time: int | None = 1) -> dict:
    return {
        "pid": pid,
        "start_time": start_time,
        "pgid": pid,
        "argv": ["vllm", "serve", "m", "--port", str(port)],
        "base_url": f"http://127.0.0.1:{port}",
        "port": port,
        "gpu": "0",
        "log": "x",
    }


@pytest.mark.parametrize("kind", ["legacy", "v2"])
def test_stop_with_a_stale_pid_file_signals_nothing_and_removes_it(
    env: dict[str, str], state: Path, stranger: subprocess.Popen[bytes], kind: str
) -> None:
    port = int(env["INVOKE_SERVER_PORT"])
    record = _legacy_record(stranger.pid, port) if kind == "legacy" else _v2_record([_entry(stranger.pid, port)])
    (state / "server.pid").write_text(record)
    result = run_invoke("stop", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _first_line(result.stdout) == (
        f"the recorded server (pid {stranger.pid}, http://127.0.0.1:{port}) is gone: pid {stranger.pid} now belongs "
        f"to another program (`sleep 600`), left alone; removed the stale pid file {state / 'server.pid'}"
    )
    assert stranger.poll() is None and alive(stranger.pid), "invoke stop signalled a process it never started"
    assert not (state / "server.pid").exists()


def test_a_stale_pid_file_does_not_block_a_start(
    env: dict[str, str], state: Path, stranger: subprocess.Popen[bytes]
) -> None:
    (state / "server.pid").write_text(_legacy_record(stranger.pid, int(env["INVOKE_SERVER_PORT"])))
    started = run_invoke("serve", "--detach", "--device", "cpu", env=env)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert f"removed the stale pid file {state / 'server.pid'}" in started.stderr
        assert f"pid {stranger.pid} now runs `sleep 600`" in started.stderr
        assert alive(stranger.pid)
    finally:
        stopped = run_invoke("stop", env=env)
    assert stopped.returncode == 0 and stopped.stdout.startswith("stopped pid ")
    assert not any(alive(pid) for pid in _all_pids(state)) and alive(stranger.pid)


@pytest.mark.parametrize("content", ["garbage{", '{"pid": "abc"}', "[1,2]"])
@pytest.mark.parametrize("task", [["stop"], ["serve", "--detach", "--device", "cpu"]])
def test_a_broken_pid_file_is_one_line_and_exit_2_for_stop_and_serve(
    env: dict[str, str], state: Path, content: str, task: list[str]
) -> None:
    (state / "server.pid").write_text(content)
    result = run_invoke(*task, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(state / "server.pid") in errors[0] and "delete it" in errors[0]
    assert "Traceback" not in result.stderr and not _infos(state)  # nothing was started


# Ctrl-C and SIGTERM in invoke serve.


class Foreground:
    """`invoke serve` in the foreground, its output read as it comes."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "invoke", "serve", "--device", "cpu", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=signals_at_default,  # the test's Ctrl-C must reach it however the suite was launched
        )
        self.stdout: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.stdout.append(line)

    def wait_for(self, text: str, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while not any(text in line for line in self.stdout):
            if self.process.poll() is not None or time.monotonic() > deadline:
                # Stop it and close its pipes before failing (an open pipe left to the garbage collector fails
                # a later test with a ResourceWarning), and say how it ended.
                code, stderr = self.finish(kill=True)
                pytest.fail(f"never printed {text!r} (exit {code}): {''.join(self.stdout)}{stderr[-2000:]}")
            time.sleep(0.05)

    def finish(self, *, kill: bool = False) -> tuple[int, str]:
        if kill and self.process.poll() is None:
            self.process.kill()
        try:
            _, stderr = self.process.communicate(timeout=60)
        finally:
            if self.process.poll() is None:
                self.process.kill()
        self._reader.join(timeout=5)
        return self.process.returncode, stderr


def _wait_for_pids(state: Path, servers: int) -> None:
    deadline = time.monotonic() + 30
    while len(_infos(state)) < servers:
        if time.monotonic() > deadline:
            pytest.fail("the stand-in servers did not start")
        time.sleep(0.05)


def test_ctrl_c_in_the_foreground_stops_the_group_and_exits_130(env: dict[str, str], state: Path) -> None:
    serve = Foreground(env)
    serve.wait_for("serving until interrupted (Ctrl-C)")
    pids = _all_pids(state)
    serve.process.send_signal(signal.SIGINT)
    code, stderr = serve.finish()
    assert code == 130, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("interrupted")]
    assert lines == [
        f"interrupted: stopped the server (pid {pids[0]} and its process group) in {lines[0].split(' in ')[1]}"
    ]
    assert "killed after the 2 s grace" in lines[0] and f"its log: {state / 'vllm-serve.log'}" in lines[0]
    assert "Traceback" not in stderr
    assert not any(alive(pid) for pid in pids), "a process of the server's group survived Ctrl-C"


def test_ctrl_c_during_the_start_up_wait_stops_the_group_too(env: dict[str, str], state: Path) -> None:
    serve = Foreground({**env, "STAND_IN_DELAY": "60"})
    _wait_for_pids(state, 1)
    pids = _all_pids(state)
    serve.process.send_signal(signal.SIGINT)
    code, stderr = serve.finish()
    assert code == 130 and "interrupted: stopped the server" in stderr, stderr
    assert not any("ready:" in line for line in serve.stdout)
    assert not any(alive(pid) for pid in pids)


def test_a_second_ctrl_c_kills_at_once_and_still_exits_130(env: dict[str, str], state: Path) -> None:
    # A long grace: the second Ctrl-C, not the grace running out, must end the stop.
    serve = Foreground({**env, "INVOKE_SERVER_STOP_TIMEOUT": "120"})
    serve.wait_for("serving until interrupted (Ctrl-C)")
    pids = _all_pids(state)
    serve.process.send_signal(signal.SIGINT)
    time.sleep(0.5)  # inside the stop's grace period: the worker ignores SIGTERM
    serve.process.send_signal(signal.SIGINT)
    code, stderr = serve.finish()
    assert code == 130, stderr
    assert f"interrupted again: killed the server (pid {pids[0]} and its process group) at once" in stderr
    assert "Traceback" not in stderr
    assert not any(alive(pid) for pid in pids)


def test_sigterm_stops_every_replica_and_exits_130(env: dict[str, str], state: Path) -> None:
    serve = Foreground(env, "--replicas", "2")
    serve.wait_for("serving until interrupted (Ctrl-C)")
    pids = _all_pids(state)
    assert len(pids) == 4
    serve.process.send_signal(signal.SIGTERM)
    code, stderr = serve.finish()
    assert code == 130, stderr
    leaders = ", ".join(str(info["pids"][0]) for _, info in sorted(_infos(state).items()))
    assert f"interrupted: stopped 2 servers (pids {leaders} and their process groups)" in stderr
    assert not any(alive(pid) for pid in pids), "a process of a replica's group survived"


def test_ctrl_c_with_several_replicas_stops_them_all(env: dict[str, str], state: Path) -> None:
    serve = Foreground(env, "--replicas", "2")
    serve.wait_for("serving until interrupted (Ctrl-C)")
    pids = _all_pids(state)
    serve.process.send_signal(signal.SIGINT)
    code, stderr = serve.finish()
    assert code == 130 and "interrupted: stopped 2 servers" in stderr, stderr
    assert not any(alive(pid) for pid in pids)


# Several replicas: start, record, stop.


def test_replicas_start_detached_on_their_gpus_and_ports_and_stop_together(env: dict[str, str], state: Path) -> None:
    port = int(env["INVOKE_SERVER_PORT"])
    started = run_invoke("serve", "--replicas", "2", "--detach", "--device", "cpu", env=env)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        infos = _infos(state)
        assert sorted(infos) == [port, port + 1]
        assert [infos[p]["gpu"] for p in (port, port + 1)] == ["0", "1"]
        for index, p in enumerate((port, port + 1)):
            assert (
                f"ready: replica {index} (GPU {index}, port {p}, log {state / f'vllm-serve.{p}.log'})" in started.stdout
            )
        record = json.loads((state / "server.pid").read_text())
        assert record["version"] == 2 and record["mode"] == "replicas"
        assert [(s["pid"], s["port"], s["gpu"]) for s in record["servers"]] == [
            (infos[port]["pids"][0], port, "0"),
            (infos[port + 1]["pids"][0], port + 1, "1"),
        ]
        again = run_invoke("serve", "--replicas", "2", "--detach", "--device", "cpu", env=env)
        assert again.returncode == 2 and "servers we started are already running" in again.stderr
    finally:
        stopped = run_invoke("stop", env=env)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert stopped.stdout.startswith(
        f"stopped pids {infos[port]['pids'][0]} (http://127.0.0.1:{port}), {infos[port + 1]['pids'][0]} "
        f"(http://127.0.0.1:{port + 1}) and their children in "
    )
    assert not any(alive(pid) for pid in _all_pids(state))
    assert not (state / "server.pid").exists()


def test_the_tuned_profile_switches_every_replica_on_and_a_log_without_the_plugins_line_is_said(
    env: dict[str, str], state: Path
) -> None:
    port = int(env["INVOKE_SERVER_PORT"])
    logs = [state / f"vllm-serve.{p}.log" for p in (port, port + 1)]
    for plugin, warned in (("", True), ("1", False)):
        tuned = {**env, "INVOKE_SERVER_PROFILE": "tuned", "STAND_IN_PLUGIN": plugin}
        started = run_invoke("serve", "--replicas", "2", "--detach", "--device", "cpu", env=tuned)
        try:
            assert started.returncode == 0, started.stdout + started.stderr
            assert [_infos(state)[p]["lever"] for p in (port, port + 1)] == ["varlen", "varlen"]
            said = "the project's vLLM plugin did not load" in started.stderr
            assert said == warned, started.stderr
            assert not warned or all(str(log) in " ".join(started.stderr.split()) for log in logs)
        finally:
            stopped = run_invoke("stop", env=env)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not any(alive(pid) for pid in _all_pids(state))


def test_a_foreground_server_without_the_plugins_line_is_said_too(env: dict[str, str], state: Path) -> None:
    serve = Foreground({**env, "INVOKE_SERVER_PROFILE": "tuned", "STAND_IN_PLUGIN": ""})
    serve.wait_for("serving until interrupted (Ctrl-C)")
    serve.process.send_signal(signal.SIGINT)
    code, stderr = serve.finish()
    assert code == 130, stderr
    said = " ".join(stderr.split())  # the note may wrap
    assert "the project's vLLM plugin did not load" in said and str(state / "vllm-serve.log") in said


def test_a_replica_dying_at_start_is_named_and_diagnosed_and_the_others_stopped(
    env: dict[str, str], state: Path
) -> None:
    port = int(env["INVOKE_SERVER_PORT"])
    result = run_invoke(
        "serve", "--replicas", "2", "--detach", "--device", "cpu", env={**env, "STAND_IN_DIE_PORT": str(port + 1)}
    )
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    log = state / f"vllm-serve.{port + 1}.log"
    assert errors == [
        f"error: replica 1 (GPU 1, port {port + 1}, log {log}): the server exited with code 1 during start-up "
        f"(the others were stopped): the GPU has too little free memory for the weights plus the KV cache; "
        f"fix: lower --gpu-memory-utilization (server.gpu_memory_utilization) or set server.max_model_len to "
        f"8192, and stop other processes on the GPU (nvidia-smi)"
    ]
    assert "  | torch.OutOfMemoryError: CUDA out of memory" in result.stderr
    assert not any(alive(pid) for pid in _all_pids(state)), "the healthy replica was left running"
    assert not (state / "server.pid").exists()


def test_stop_stops_the_proven_replicas_and_leaves_a_stale_entry_alone(
    env: dict[str, str], state: Path, stranger: subprocess.Popen[bytes]
) -> None:
    port = int(env["INVOKE_SERVER_PORT"])
    started = run_invoke("serve", "--replicas", "2", "--detach", "--device", "cpu", env=env)
    assert started.returncode == 0, started.stdout + started.stderr
    record = json.loads((state / "server.pid").read_text())
    replica_1 = record["servers"][1]
    # Replica 1's pid now names another program: the pid was reused (its start time is not the one recorded).
    record["servers"][1] = {**replica_1, "pid": stranger.pid, "pgid": stranger.pid}
    (state / "server.pid").write_text(json.dumps(record))
    try:
        stopped = run_invoke("stop", env=env)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        lines = stopped.stdout.strip().splitlines()
        assert lines[0].startswith(f"stopped pid {record['servers'][0]['pid']} and its children in ")
        assert lines[1] == (
            f"the recorded server (pid {stranger.pid}, http://127.0.0.1:{port + 1}) is gone: pid {stranger.pid} "
            f"now belongs to another program (`sleep 600`), left alone"
        )
        assert lines[2] == f"removed the stale pid file {state / 'server.pid'}"
        assert alive(stranger.pid), "invoke stop signalled a process it never started"
        assert not any(alive(pid) for pid in _infos(state)[port]["pids"])
    finally:
        # Replica 1 itself is no longer recorded: end its group here, once proven to be that replica.
        proof = processes.prove(replica_1["pid"], replica_1["start_time"], replica_1["argv"])
        assert proof.state == processes.OURS
        processes.stop_groups([replica_1["pid"]], grace=0.5)


def test_more_replicas_than_gpus_is_refused_before_anything_starts(env: dict[str, str], state: Path) -> None:
    result = run_invoke(
        "serve", "--replicas", "2", "--device", "cuda", "--detach", env={**env, "CUDA_VISIBLE_DEVICES": ""}
    )
    assert result.returncode == 2
    assert _first_line(result.stderr).startswith("error: --replicas 2 needs 2 GPUs, this machine has 0 usable")
    assert not _infos(state)


def test_dry_run_prints_every_replicas_command_with_its_gpu_and_port(env: dict[str, str]) -> None:
    result = run_invoke(
        "serve",
        *("--dry-run", "--device", "cuda", "--replicas", "2", "--port", "8200"),
        env={**env, "CUDA_VISIBLE_DEVICES": "4,7"},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    for line, gpu, port in zip(lines, ("4", "7"), (8200, 8201), strict=True):
        assert line.startswith(f"CUDA_VISIBLE_DEVICES={gpu} ") and f" --port {port} " in line
    dp = run_invoke("serve", "--dry-run", "--device", "cuda", "--data-parallel-size", "2", "--port", "8200", env=env)
    assert dp.returncode == 0 and len(dp.stdout.strip().splitlines()) == 1
    assert dp.stdout.startswith("CUDA_VISIBLE_DEVICES=0,1 ") and " --data-parallel-size 2" in dp.stdout


def test_a_process_with_the_recorded_start_but_another_command_is_not_signalled(
    env: dict[str, str], state: Path, stranger: subprocess.Popen[bytes]
) -> None:
    # Same pid and start time (so the same process), but it no longer runs the recorded command: a person
    # must decide. Nothing is signalled, the record is kept, exit 2.
    live = processes.identify(stranger.pid)
    assert live is not None
    port = int(env["INVOKE_SERVER_PORT"])
    (state / "server.pid").write_text(_v2_record([_entry(stranger.pid, port, start_time=live.start_time)]))
    result = run_invoke("stop", env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert _first_line(result.stderr) == (
        f"error: pid {stranger.pid} started when the recorded server did but now runs `sleep 600`: not signalled; "
        f"if it is the server, stop it with `kill -TERM -- -{stranger.pid}`, then delete {state / 'server.pid'}"
    )
    assert alive(stranger.pid) and (state / "server.pid").is_file()
    refused = run_invoke("serve", "--detach", "--device", "cpu", env=env)
    assert refused.returncode == 2 and "not signalled" in refused.stderr and not _infos(state)


def test_a_replica_dying_in_the_foreground_stops_the_others_and_exits_1(env: dict[str, str], state: Path) -> None:
    port = int(env["INVOKE_SERVER_PORT"])
    serve = Foreground(env, "--replicas", "2")
    serve.wait_for("serving until interrupted (Ctrl-C)")
    infos = _infos(state)
    os.kill(infos[port + 1]["pids"][0], signal.SIGKILL)  # replica 1's server process crashes
    code, stderr = serve.finish()
    assert code == 1, stderr
    assert (
        f"error: replica 1 (GPU 1, port {port + 1}, log {state / f'vllm-serve.{port + 1}.log'}) exited with code -9; "
        f"the others were stopped"
    ) in stderr.splitlines()
    assert not any(alive(pid) for pid in infos[port]["pids"]), "replica 0 was left running"
    # Replica 1's own worker was in its group: the stop of every group ended it too.
    assert not any(alive(pid) for pid in infos[port + 1]["pids"])


def test_a_vllm_that_is_a_wrapper_script_is_still_proven_and_stopped(env: dict[str, str], state: Path) -> None:
    # `vllm` as a shell wrapper that execs the real one (a pyenv shim, the lent GPU machine's shim): the
    # command line changes after the start, under the same pid and start time.
    wrapper = state / "vllm-wrapper"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} {state / "vllm"} "$@"\n')
    wrapper.chmod(0o755)
    wrapped = {**env, "INVOKE_SERVER_EXECUTABLE": str(wrapper)}
    started = run_invoke("serve", "--detach", "--device", "cpu", env=wrapped)
    assert started.returncode == 0, started.stdout + started.stderr
    (server,) = json.loads((state / "server.pid").read_text())["servers"]
    assert server["argv"][:2] == [sys.executable, str(state / "vllm")]  # the server's own, not the wrapper's
    stopped = run_invoke("stop", env=wrapped)
    assert stopped.returncode == 0 and stopped.stdout.startswith(f"stopped pid {server['pid']} "), stopped.stderr
    assert not any(alive(pid) for pid in _all_pids(state))


def test_a_log_tail_that_holds_the_api_key_is_printed_redacted(env: dict[str, str], state: Path) -> None:
    """A server that dies at start may have written its environment to its log: serve quotes the log's last
    lines, never the key in them."""
    secret = "sk-serve-secret-0123456789"
    port = int(env["INVOKE_SERVER_PORT"])
    result = run_invoke(
        "serve", "--detach", "--device", "cpu", env={**env, "STAND_IN_DIE_PORT": str(port), "VLLM_API_KEY": secret}
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "  | environment at the crash: VLLM_API_KEY=(redacted)" in result.stderr
    assert secret not in result.stdout + result.stderr
    assert secret in (state / "vllm-serve.log").read_text(), "the stand-in did write it: the test proves the redaction"


def test_a_key_on_vllms_command_line_is_refused_before_anything_starts(env: dict[str, str], state: Path) -> None:
    secret = "sk-serve-secret-0123456789"
    for words in (["--", "--api-key", secret], ["--", f"--api-key={secret}"]):
        result = run_invoke("serve", "--dry-run", *words, env=env)
        assert result.returncode == 2, result.stdout + result.stderr
        assert _first_line(result.stderr).startswith("error: --api-key on vllm's command line is visible")
        assert "export VLLM_API_KEY=" in result.stderr
        assert secret not in result.stdout + result.stderr
    assert not _infos(state), "nothing may start"


def _sigint_ignored() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _sigint_disposition(preexec: Any) -> str:
    """What a Python child started from a process that ignores SIGINT finds as its SIGINT handler."""
    probe = "import signal; print(getattr(signal.getsignal(signal.SIGINT), '__name__', 'SIG_IGN'))"

    def launched_ignoring() -> None:
        _sigint_ignored()  # as nohup or a script's background job leaves it
        if preexec is not None:
            preexec()

    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, preexec_fn=launched_ignoring, check=True
    )
    return out.stdout.strip()


def test_a_child_the_tests_signal_gets_sigint_back_at_its_default() -> None:
    # Inherited SIG_IGN: Python installs no KeyboardInterrupt handler, and a Ctrl-C test waits out its timeout.
    assert _sigint_disposition(None) == "SIG_IGN"
    assert _sigint_disposition(signals_at_default) == "default_int_handler"


def test_the_ctrl_c_tests_pass_when_the_suite_is_launched_with_sigint_ignored() -> None:
    # The suite itself under SIG_IGN, as `nohup nox -s tests` or `nox -s tests &` in a script runs it.
    chosen = "test_ctrl_c_in_the_foreground_stops_the_group_and_exits_130"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"{__file__}::{chosen}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        preexec_fn=_sigint_ignored,
        timeout=170,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "1 passed" in result.stdout
