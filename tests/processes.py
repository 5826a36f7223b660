"""Helpers shared by the tests that start servers and run the invoke tasks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

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
