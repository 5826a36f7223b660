"""Helpers shared by the tests that start servers and run the invoke tasks."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def signals_at_default() -> None:
    """`preexec_fn` of a child a test will signal: SIGINT and SIGTERM back at their defaults. A suite launched
    with SIGINT ignored (`nohup`, a script's background job) hands SIG_IGN down to every child, and Python then
    installs no KeyboardInterrupt handler: the child would never notice the test's Ctrl-C."""
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_DFL)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_invoke(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`invoke ARGS` from the repository root, as a person runs it, with this interpreter's invoke."""
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def invoke_env(state: Path, port: int, **extra: str) -> dict[str, str]:
    """The environment of an end-to-end run: one port for serve and check, the pid file, log and tiny models in
    `state` (a test's own folder), on top of this process's environment."""
    return {
        **os.environ,
        "INVOKE_SERVER_PORT": str(port),
        "INVOKE_CHECK_PORT": str(port),
        "INVOKE_SERVER_PID_FILE": str(state / "server.pid"),
        "INVOKE_SERVER_LOG_FILE": str(state / "server.log"),
        "INVOKE_TINY_MODEL_PATH": str(state / "tiny-model"),
        **extra,
    }


@contextlib.contextmanager
def detached_server(
    env: dict[str, str], state: Path, *model: str
) -> Iterator[tuple[subprocess.CompletedProcess[str], dict[str, Any] | None]]:
    """`invoke serve MODEL --detach --device cpu` on the real vLLM beside this interpreter, its result and pid
    record; after the block `invoke stop`, which must leave nothing of the server's process group running."""
    import pytest

    from lightonocr_validation.serve import processes

    if shutil.which("vllm", path=str(Path(sys.executable).parent)) is None:
        pytest.fail("vllm is not installed beside this interpreter: run the tests with `nox -s tests`")
    started = run_invoke("serve", *model, "--detach", "--device", "cpu", env=env, timeout=900)
    record = json.loads((state / "server.pid").read_text()) if (state / "server.pid").is_file() else None
    try:
        yield started, record
    finally:
        stopped = run_invoke("stop", env=env, timeout=120)
        if record is not None:
            pid = record["servers"][0]["pid"]
            assert not processes.group_members(pid), "invoke stop left the server's process group running"
        assert stopped.returncode == 0, stopped.stderr
        # The real vLLM's command line is what was recorded at start: stop proved it, and signalled it.
        assert stopped.stdout.startswith("stopped pid "), stopped.stdout + stopped.stderr


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (which may hold spaces): state, ppid, pgrp, …"""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (a zombie is gone for our purpose: it only awaits its reaper)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    fields = _stat_fields(pid)
    return fields is None or fields[0] != "Z"


def process_group(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[2]) if fields else None


def free_ports(count: int, attempts: int = 50) -> int:
    """The first of `count` consecutive free loopback ports (a fleet's port, port+1, ...), all bound at once
    to be sure, then released for the caller's servers."""
    for _ in range(attempts):
        base = free_port()
        if base + count - 1 > 65535:
            continue
        probes: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                probe = socket.socket()
                probes.append(probe)
                probe.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
    raise RuntimeError(f"no run of {count} free loopback ports found in {attempts} attempts")
