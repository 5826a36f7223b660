"""`nox -s tests` as root installs Tesseract and Chromium system-wide: it says what and how much first, in one
line naming the variable that refuses it, and a refusal deselects the tests that need them (never a pass)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from lightonocr_validation.docs import sources

ROOT = Path(__file__).resolve().parents[2]
# `apt-get install --assume-no` as Debian 12 prints it (LC_ALL=C), for packages partly in apt's cache.
DRY_RUN = """\
The following NEW packages will be installed:
  chromium chromium-common fonts-liberation tesseract-ocr tesseract-ocr-fra
7 upgraded, 122 newly installed, 0 to remove and 122 not upgraded.
Need to get 58.4 MB/242 MB of archives.
After this operation, 718 MB of additional disk space will be used.
Do you want to continue? [Y/n] N
Abort.
"""


class Stop(Exception):
    pass


class FakeSession:
    """What the helper asks of nox's Session, recorded in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def log(self, message: str) -> None:
        self.calls.append(("log", message))

    def warn(self, message: str) -> None:
        self.calls.append(("warn", message))

    def error(self, message: str) -> None:
        self.calls.append(("error", message))
        raise Stop(message)

    def run(self, *args: str, external: bool = False) -> None:
        self.calls.append(("run", args))


@pytest.fixture(scope="module")
def noxfile() -> ModuleType:
    return sources.load_nox_sessions(ROOT).module


@pytest.fixture
def nothing_installed(noxfile: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(noxfile, "_have_program", lambda name: False)
    monkeypatch.setattr(noxfile, "_apt_plan", lambda packages: noxfile.apt_plan_summary(DRY_RUN))
    monkeypatch.setattr(noxfile.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.delenv("LIGHTONOCR_NO_SYSTEM_INSTALL", raising=False)


def test_apt_plan_reads_the_count_and_sizes(noxfile: ModuleType) -> None:
    expected = " and their dependencies (122 packages, 7 upgraded, 58.4 MB to download, 718 MB on disk)"
    assert noxfile.apt_plan_summary(DRY_RUN) == expected
    assert noxfile.apt_plan_summary("E: Unable to locate package chromium\n") == ""


def test_root_is_told_what_is_installed_before_anything_is(
    noxfile: ModuleType, nothing_installed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(noxfile.os, "geteuid", lambda: 0)
    session = FakeSession()
    assert noxfile._ensure_system_programs(session) == []
    (kind, line), *runs = session.calls
    assert kind == "log" and "\n" not in line
    assert line.startswith("installing system-wide with apt-get (running as root): tesseract-ocr tesseract-ocr-fra ")
    assert "chromium and their dependencies (122 packages," in line and "LIGHTONOCR_NO_SYSTEM_INSTALL=1" in line
    assert [call[1][:2] for call in runs] == [("apt-get", "update"), ("apt-get", "install")]


def test_refusing_the_install_deselects_the_system_tests(
    noxfile: ModuleType, nothing_installed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(noxfile.os, "geteuid", lambda: 0)
    monkeypatch.setenv("LIGHTONOCR_NO_SYSTEM_INSTALL", "1")
    session = FakeSession()
    assert noxfile._ensure_system_programs(session) == ["-m", "not system"]
    assert [kind for kind, _ in session.calls] == ["warn"]  # nothing run, nothing installed
    assert "deselected" in session.calls[0][1]


def test_without_root_the_missing_programs_stop_the_session_with_the_fix(
    noxfile: ModuleType, nothing_installed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(noxfile.os, "geteuid", lambda: 1000)
    session = FakeSession()
    with pytest.raises(
        Stop,
        match=r"\(sudo apt-get install tesseract-ocr tesseract-ocr-fra chromium\), then rerun; or set LIGHTONOCR_NO",
    ):
        noxfile._ensure_system_programs(session)
    assert not [call for call in session.calls if call[0] == "run"]


def test_nothing_is_said_or_installed_when_the_programs_are_there(
    noxfile: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(noxfile, "_have_program", lambda name: True)
    session = FakeSession()
    assert noxfile._ensure_system_programs(session) == [] and session.calls == []
