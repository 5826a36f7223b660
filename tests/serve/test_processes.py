"""Process identity and group stops, on real processes: a pid is signalled only when proven the one recorded."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lightonocr_validation.serve import processes
from tests.processes import alive

# A leader with a child that ignores SIGTERM, as a stuck vLLM worker would.
STUBBORN_TREE = (
    "import signal, subprocess, sys, time; "
    "subprocess.Popen([sys.executable, '-c', "
    "'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)']); "
    "time.sleep(600)"
)


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts, each in a session of its own; killed afterwards whatever happened."""
    mine: list[subprocess.Popen[bytes]] = []
    yield mine
    for process in mine:
        if process.poll() is None:  # still unreaped, so its pid is still ours to signal
            processes.signal_group(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _spawn(started: list[subprocess.Popen[bytes]], *argv: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(argv, start_new_session=True)
    started.append(process)
    processes.identify_started(process.pid)  # its command line published, as serve waits for it
    return process


def _ignores_sigterm(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    ignored = int(next(line for line in status.splitlines() if line.startswith("SigIgn:")).split()[1], 16)
    return bool(ignored & (1 << (signal.SIGTERM - 1)))


def _members_after_start(pgid: int, count: int) -> list[int]:
    """The group's members once it has `count` and its stubborn child ignores SIGTERM (else SIGTERM kills it
    before it gets stubborn, and the test proves nothing)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        members = processes.group_members(pgid)
        if len(members) >= count and any(_ignores_sigterm(pid) for pid in members):
            return members
        time.sleep(0.05)
    pytest.fail(f"group {pgid} did not reach {count} members with a stubborn child")


def test_identity_is_what_the_kernel_says(started: list[subprocess.Popen[bytes]]) -> None:
    sleeper = _spawn(started, "sleep", "600")
    identity = processes.identify(sleeper.pid)
    assert identity is not None
    assert identity.argv == ("sleep", "600") and identity.pgid == sleeper.pid
    assert isinstance(identity.start_time, int) and identity.start_time > 0
    assert identity == processes.identify(sleeper.pid)  # stable while the process lives
    assert identity.program == "sleep 600"


def test_the_process_recorded_is_proven_ours(started: list[subprocess.Popen[bytes]]) -> None:
    sleeper = _spawn(started, "sleep", "600")
    recorded = processes.identify(sleeper.pid)
    assert recorded is not None
    proof = processes.prove(sleeper.pid, recorded.start_time, recorded.argv)
    assert proof.state == processes.OURS and not proof.weak


def test_a_reused_pid_is_told_apart_by_its_start_time(started: list[subprocess.Popen[bytes]]) -> None:
    # The record says the server started at another tick: whatever runs under that pid now is not it,
    # even with the same command line and leading its own group.
    sleeper = _spawn(started, "sleep", "600")
    live = processes.identify(sleeper.pid)
    assert live is not None and isinstance(live.start_time, int)
    proof = processes.prove(sleeper.pid, live.start_time - 1, live.argv)
    assert proof.state == processes.REUSED and proof.live is not None and proof.live.argv == ("sleep", "600")


def test_same_start_but_another_command_line_is_not_proven(started: list[subprocess.Popen[bytes]]) -> None:
    sleeper = _spawn(started, "sleep", "600")
    live = processes.identify(sleeper.pid)
    assert live is not None
    assert processes.prove(sleeper.pid, live.start_time, ("vllm", "serve")).state == processes.CHANGED


def test_a_pid_that_leads_no_group_is_not_proven(started: list[subprocess.Popen[bytes]]) -> None:
    # Same start time and command line, but not the leader of its group: never treated as our server.
    member = subprocess.Popen(["sleep", "600"])  # in pytest's own group
    try:
        live = processes.identify_started(member.pid)
        assert live is not None and live.pgid != member.pid
        assert processes.prove(member.pid, live.start_time, live.argv).state == processes.CHANGED
        assert processes.prove(member.pid, None, live.argv).state == processes.REUSED
    finally:
        member.kill()
        member.wait()


def test_without_a_start_time_the_command_line_decides(started: list[subprocess.Popen[bytes]]) -> None:
    sleeper = _spawn(started, "sleep", "600")
    # An old pid file holds the command asked for; the kernel may show an interpreter before it.
    weak = processes.prove(sleeper.pid, None, ("sleep", "600"), legacy=True)
    assert weak.state == processes.OURS and weak.weak
    assert processes.prove(sleeper.pid, None, ("vllm", "serve", "m"), legacy=True).state == processes.REUSED
    script = _spawn(started, sys.executable, "-c", "import time; time.sleep(600)")
    asked = (sys.executable.rsplit("/", 1)[-1], "-c", "import time; time.sleep(600)")
    assert processes.prove(script.pid, None, asked, legacy=True).state == processes.OURS


def test_a_finished_process_is_gone() -> None:
    done = subprocess.Popen(["true"])
    done.wait()
    assert processes.identify(done.pid) is None
    assert processes.prove(done.pid, 1, ("true",)).state == processes.GONE


def test_groups_stop_together_within_one_grace_period(started: list[subprocess.Popen[bytes]]) -> None:
    leaders = [_spawn(started, sys.executable, "-c", STUBBORN_TREE) for _ in range(2)]
    members = [pid for leader in leaders for pid in _members_after_start(leader.pid, 2)]
    assert len(members) == 4
    outcome = processes.stop_groups([leader.pid for leader in leaders], grace=1.0)
    assert outcome.killed  # the stubborn children outlived SIGTERM: the grace ended in SIGKILL
    assert outcome.survivors == [] and not any(alive(pid) for pid in members)


def test_a_hurried_stop_kills_without_waiting_out_the_grace(started: list[subprocess.Popen[bytes]]) -> None:
    leader = _spawn(started, sys.executable, "-c", STUBBORN_TREE)
    members = _members_after_start(leader.pid, 2)
    outcome = processes.stop_groups([leader.pid], grace=120.0, hurry=lambda: True)
    assert outcome.killed and outcome.seconds < 60  # ended by the hurry, not by the 120 s grace
    assert not any(alive(pid) for pid in members)


def test_a_group_that_ends_on_sigterm_is_not_killed(started: list[subprocess.Popen[bytes]]) -> None:
    sleeper = _spawn(started, "sleep", "600")
    outcome = processes.stop_groups([sleeper.pid], grace=30.0)
    assert not outcome.killed and outcome.survivors == [] and not alive(sleeper.pid)


def test_off_linux_ps_gives_the_same_identity_to_the_second(started: list[subprocess.Popen[bytes]]) -> None:
    # The fallback where /proc is missing (macOS): run here through ps itself, which Linux has too.
    sleeper = _spawn(started, "sleep", "600")
    identity = processes._identify_ps(sleeper.pid)
    assert identity is not None and identity.argv == ("sleep", "600") and identity.pgid == sleeper.pid
    assert isinstance(identity.start_time, str) and len(identity.start_time.split()) == 5  # "Sun Nov 29 12:34:56 2026"
    assert processes._identify_ps(sleeper.pid) == identity
    sleeper.kill()
    sleeper.wait()
    assert processes._identify_ps(sleeper.pid) is None
