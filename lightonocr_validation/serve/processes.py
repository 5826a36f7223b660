"""Who a process is, whether it is still the one we started, and how to stop process groups together.

A pid alone proves nothing: once our server is gone the kernel hands its pid to the next process, and a
`kill` on a recorded pid can hit a stranger. So `identify` reads what the kernel says about a pid (start
time, process group, command line) and `prove` compares it with what was recorded when we started it.
On Linux all three come from /proc; elsewhere `ps` gives the start time (to the second) and the command
line; without either, the command line and the group are all the proof there is, and the caller says so.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from lightonocr_validation.core.errors import shorten

PROC = Path("/proc")
# After SIGKILL the kernel needs a moment to tear a group down; waiting longer would only hide a bug.
KILL_WAIT_S = 5.0

# How a start time was read: told to the user when it is not the precise one.
PRECISE_SOURCE = "/proc/PID/stat"  # clock ticks since boot
START_TIME_SOURCE = PRECISE_SOURCE if PROC.joinpath("self", "stat").is_file() else "`ps -o lstart`"


@dataclass(frozen=True)
class Identity:
    pid: int
    start_time: int | str | None  # clock ticks since boot (Linux), `ps` lstart text elsewhere, None if unknown
    pgid: int
    argv: tuple[str, ...]

    @property
    def program(self) -> str:
        """The command line as a person reads it, shortened: `sleep 600`."""
        return shorten(" ".join(self.argv) or f"pid {self.pid}", 80, one_line=False)


def identify(pid: int) -> Identity | None:
    """What the kernel says about `pid` now; None when no such process runs (a zombie counts as gone)."""
    if START_TIME_SOURCE == PRECISE_SOURCE:
        return _identify_proc(pid)
    return _identify_ps(pid)


def identify_started(pid: int, wait: float = 2.0) -> Identity | None:
    """The identity of a process we just started. Popen returns once the child execs, a moment before the
    kernel publishes the new command line (an empty /proc/PID/cmdline until then): wait for it."""
    deadline = time.monotonic() + wait
    while True:
        identity = identify(pid)
        if identity is None or identity.argv or time.monotonic() > deadline:
            return identity
        time.sleep(0.01)


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat after the command name (which may hold spaces and parentheses): state, ppid, pgrp, …"""
    try:
        text = (PROC / str(pid) / "stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()
    return fields if len(fields) > 19 else None


def _identify_proc(pid: int) -> Identity | None:
    fields = _stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return None
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return None
    argv = tuple(part.decode("utf-8", errors="replace") for part in raw.rstrip(b"\0").split(b"\0")) if raw else ()
    # Field 22 (starttime) is index 19 here: the fields list starts at field 3 (state).
    return Identity(pid=pid, start_time=int(fields[19]), pgid=int(fields[2]), argv=argv)


def _identify_ps(pid: int) -> Identity | None:
    try:
        pgid = os.getpgid(pid)
        out = subprocess.run(
            ["ps", "-o", "lstart=", "-o", "command=", "-p", str(pid)],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except (ProcessLookupError, PermissionError):
        return None
    except (OSError, subprocess.TimeoutExpired):
        return Identity(pid=pid, start_time=None, pgid=pgid, argv=())
    if not out:
        return None
    words = out.split()
    # lstart is five words: "Sun Nov 29 12:34:56 2026".
    return Identity(pid=pid, start_time=" ".join(words[:5]), pgid=pgid, argv=tuple(words[5:]))


OURS = "ours"  # the live process is the one recorded: it may be signalled
GONE = "gone"  # nothing runs under that pid any more
REUSED = "reused"  # the pid now belongs to another program: never signal it
CHANGED = "changed"  # same start, but another command line or group: not proven, not signalled


@dataclass(frozen=True)
class Proof:
    state: str
    live: Identity | None
    # The recorded start time was missing (an old pid file, or no /proc and no ps): proven by command line
    # and process group only.
    weak: bool = False


def prove(pid: int, start_time: int | str | None, argv: Sequence[str] | None, *, legacy: bool = False) -> Proof:
    """Is the process running under `pid` the one we recorded (start time, command line, group leader)?

    `legacy`: `argv` is the command we asked for (an old pid file), not the kernel's command line: the live
    command line must end with its arguments and name its program (an interpreter may come first).
    """
    live = identify(pid)
    if live is None:
        return Proof(GONE, None)
    same_start = start_time is not None and live.start_time is not None and str(start_time) == str(live.start_time)
    if start_time is not None and live.start_time is not None and not same_start:
        return Proof(REUSED, live)
    same_command = argv is not None and (_ends_like(live.argv, argv) if legacy else tuple(live.argv) == tuple(argv))
    leads_group = live.pgid == pid
    if same_start:
        return Proof(OURS if same_command and leads_group else CHANGED, live)
    # No start time to compare: a pid that leads no group, or runs another command, is someone else's.
    return Proof(OURS if same_command and leads_group else REUSED, live, weak=True)


def _ends_like(live: Sequence[str], asked: Sequence[str]) -> bool:
    if not asked or len(live) < len(asked):
        return False
    program = os.path.basename(asked[0])
    heads = [os.path.basename(word) for word in live[: len(live) - len(asked) + 1]]
    return tuple(live[len(live) - len(asked) + 1 :]) == tuple(asked[1:]) and program in heads


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes of a process group. Off Linux: the group itself, if any is alive."""
    if START_TIME_SOURCE != PRECISE_SOURCE:
        return [pgid] if group_alive(pgid) else []
    members = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
                members.append(int(entry.name))
    return members


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def reap(pid: int) -> None:
    """Collect our own child's exit status, so that it stops counting as a member of its group."""
    with contextlib.suppress(ChildProcessError):  # not our child (a detached server): init reaps it
        os.waitpid(pid, os.WNOHANG)


class HurryOnSignal:
    """While we stop servers, Ctrl-C and SIGTERM no longer raise: they ask for the kill at once."""

    def __init__(self) -> None:
        self.count = 0

    def requested(self) -> bool:
        return self.count > 0

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1

    def __enter__(self) -> HurryOnSignal:
        self._previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
        for signum in self._previous:
            signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


@dataclass(frozen=True)
class StopOutcome:
    seconds: float
    killed: bool  # SIGKILL was needed (grace ran out, or the caller hurried)
    survivors: list[int]  # processes still alive after the kill (should be none)


def stop_groups(
    pgids: Sequence[int],
    grace: float,
    *,
    hurry: Callable[[], bool] = lambda: False,
    poll: float = 0.2,
) -> StopOutcome:
    """SIGTERM every group at once, one grace period for all, then SIGKILL what is left.

    `hurry()` turning true (a second Ctrl-C) ends the grace period at once. Each pgid must be a group we
    proved ours (its leader's pid): nothing else is ever signalled.
    """
    started = time.monotonic()
    for pgid in pgids:
        signal_group(pgid, signal.SIGTERM)
    deadline, killed = started + grace, False
    while True:
        for pgid in pgids:
            reap(pgid)
        alive = [pgid for pgid in pgids if group_members(pgid)]
        if not alive:
            break
        if not killed and (hurry() or time.monotonic() >= deadline):
            for pgid in alive:
                signal_group(pgid, signal.SIGKILL)
            killed, deadline = True, time.monotonic() + KILL_WAIT_S
        elif killed and time.monotonic() >= deadline:
            break
        time.sleep(poll)
    survivors = [pid for pgid in pgids for pid in group_members(pgid)]
    return StopOutcome(seconds=time.monotonic() - started, killed=killed, survivors=survivors)
