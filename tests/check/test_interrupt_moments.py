"""Ctrl-C at any moment of `invoke check` (issue 18): exit 130, a line, and the reports asked for, marked partial.

test_interrupt.py signals a run in flight. Here the other moments: while invoke is still loading (the signal
is held, then handed to the task), while the pages are read or the samples rendered (before any request), and
once the run is over, while the verdict and the reports are written. The signal is a real one, sent by the
process to itself at that moment (`os.kill`), so the handlers that take it are those a person's Ctrl-C meets.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from lightonocr_validation.check import command as check_command
from lightonocr_validation.check.command import CheckOptions, run_check
from lightonocr_validation.check.report import console as console_report
from lightonocr_validation.core import interrupts
from lightonocr_validation.core.errors import EXIT_INTERRUPTED
from lightonocr_validation.pages import inputs
from tests.conftest import CONFIG
from tests.fakevllm.server import FakeVllm
from tests.processes import ROOT, signals_at_default

pytestmark = pytest.mark.timeout(180)

ONLY = ("RDY001", "RDY002", "MOD001")


@pytest.fixture(autouse=True)
def python_handlers() -> Iterator[None]:
    """run_check leaves its handlers in place once stopped (the process is on its way out); not in pytest's."""
    saved = {number: signal.getsignal(number) for number in interrupts.SIGNALS}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


@pytest.fixture
def fake() -> Iterator[FakeVllm]:
    with FakeVllm() as server:
        asked: list[str] = []
        answer = server.handle
        server.handle = lambda method, path, *rest: (asked.append(path), answer(method, path, *rest))[1]
        server.asked = asked  # type: ignore[attr-defined]
        yield server


def _options(fake: FakeVllm, tmp_path: Path, **changes: Any) -> CheckOptions:
    return CheckOptions(
        config=CONFIG,
        hosts=[fake.url],
        only=ONLY,
        report_json=tmp_path / "r.json",
        junit=tmp_path / "r.xml",
        report_md=tmp_path / "r.md",
        **changes,
    )


def _check(options: CheckOptions) -> tuple[int, str]:
    out = io.StringIO()
    quiet = Console(file=out, width=200)
    return run_check(options, console=quiet, errors=quiet), out.getvalue()


def _ctrl_c_then(work: Callable[..., Any]) -> Callable[..., Any]:
    """``work``, with a Ctrl-C pressed as it starts: the signal's handler runs before ``work``'s first line."""

    def pressed(*args: Any, **kwargs: Any) -> Any:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(2)  # the handler raises here at the latest; unreached when it does
        return work(*args, **kwargs)

    return pressed


def _not_run_report(tmp_path: Path) -> dict[str, Any]:
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert (report["partial"], report["stopped"], report["verdict"]["exit_code"]) == (True, "interrupted", 130)
    checks = report["hosts"][0]["checks"]
    assert [check["id"] for check in checks] == list(ONLY)
    assert {check["detail"] for check in checks} == {"not run: interrupted (SIGINT) before it started"}
    assert "PARTIAL REPORT: the run was interrupted" in (tmp_path / "r.md").read_text(encoding="utf-8")
    assert 'name="stopped" value="interrupted"' in (tmp_path / "r.xml").read_text(encoding="utf-8")
    return report


def test_ctrl_c_while_the_samples_render_writes_the_reports_with_no_check_run(
    fake: FakeVllm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(check_command, "_pages_sent", _ctrl_c_then(check_command._pages_sent))
    code, out = _check(_options(fake, tmp_path))
    assert code == EXIT_INTERRUPTED
    assert out.strip().splitlines()[-4] == "issue: interrupted: 3 of 3 checks did not finish; so far: no check finished"
    _not_run_report(tmp_path)
    assert fake.asked == []  # stopped before anything was sent


def test_ctrl_c_while_the_pages_load_writes_the_reports_with_no_check_run(
    fake: FakeVllm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inputs, "user_pages", _ctrl_c_then(inputs.user_pages))
    code, _ = _check(_options(fake, tmp_path, pages=tmp_path))
    assert code == EXIT_INTERRUPTED
    report = _not_run_report(tmp_path)
    assert (report["provenance"]["pages"]["pages"], report["provenance"]["pages"]["tests"]) == (0, 0)  # none read
    assert fake.asked == []


def test_ctrl_c_held_while_invoke_loaded_is_taken_by_check(
    fake: FakeVllm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(interrupts, "_held", ["SIGINT"])
    code, _ = _check(_options(fake, tmp_path))
    assert code == EXIT_INTERRUPTED
    _not_run_report(tmp_path)
    assert fake.asked == []


def test_ctrl_c_once_the_run_is_over_still_writes_every_report_whole(
    fake: FakeVllm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    # While the verdict is rendered: the checks had all finished, so the reports are whole, not partial; the
    # exit code still says that the user stopped it.
    monkeypatch.setattr(console_report, "render_summary", _ctrl_c_then(console_report.render_summary))
    code, out = _check(_options(fake, tmp_path))
    assert code == EXIT_INTERRUPTED
    assert capfd.readouterr().err.splitlines() == [interrupts.LATE_LINE]
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert (report["partial"], report["stopped"]) == (False, None)
    assert [check["status"] for check in report["hosts"][0]["checks"]] == ["pass"] * len(ONLY)
    assert "validated: 3 checks passed" in out and "report: " in out


def test_without_ctrl_c_the_same_run_is_whole_and_exits_0(fake: FakeVllm, tmp_path: Path) -> None:
    code, _ = _check(_options(fake, tmp_path))
    assert code == 0
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert (report["partial"], report["stopped"], report["verdict"]["exit_code"]) == (False, None, 0)
    assert fake.asked[:2] == ["/health", "/health"]


# A Ctrl-C pressed while invoke itself loads, before tasks.py: the stock program, with the hold of tasks.py
# already in place and the signal pressed before the program runs, as it is when a person presses it then.
HELD_BY_STOCK_INVOKE = """\
import os, signal, sys
sys.argv = ["invoke", *sys.argv[1:]]
from lightonocr_validation.core import interrupts
interrupts.hold_signals(sys.argv)
os.kill(os.getpid(), signal.SIGINT)
from invoke.main import program
program.run()
"""


def _stock_invoke_pressed_early(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "VLLM_API_KEY"} | {"COLUMNS": "200"}
    env["INVOKE_SERVER_PID_FILE"] = str(cwd / "none.pid")
    return subprocess.run(
        [sys.executable, "-c", HELD_BY_STOCK_INVOKE, "-r", str(ROOT), *args],
        cwd=cwd,
        env=env | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=signals_at_default,
    )


def test_a_ctrl_c_while_invoke_loads_ends_check_with_its_reports(fake: FakeVllm, tmp_path: Path) -> None:
    flags = ["--report-json", "r.json", "--junit", "r.xml", "--report-md", "r.md"]
    result = _stock_invoke_pressed_early(
        "check", "--host", fake.url, *[f"--only={i}" for i in ONLY], *flags, cwd=tmp_path
    )
    assert result.returncode == EXIT_INTERRUPTED, result.stdout + result.stderr
    assert result.stderr.splitlines() == [interrupts.HELD_LINE]  # said when pressed; invoke used to say nothing
    assert "issue: interrupted: 3 of 3 checks did not finish" in result.stdout
    _not_run_report(tmp_path)
    assert fake.asked == []


def test_a_ctrl_c_while_invoke_loads_stops_another_task_with_130(tmp_path: Path) -> None:
    result = _stock_invoke_pressed_early("stop", cwd=tmp_path)
    assert result.returncode == EXIT_INTERRUPTED, result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        interrupts.HELD_LINE,
        "error: interrupted (Ctrl-C): the task stopped before its end; run it again to finish",
    ]
    assert "no detached server" not in result.stdout  # stopped before the task ran
