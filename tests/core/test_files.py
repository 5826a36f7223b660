"""core.files.write_text: a file whole or not at all, with the mode asked for."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from lightonocr_validation.core.files import write_text


def test_a_file_is_written_whole_into_a_new_folder_and_nothing_else_is_left(tmp_path: Path) -> None:
    target = tmp_path / "reports" / "run.json"
    write_text(target, "{}\n")
    write_text(target, '{"second": true}\n')
    assert target.read_text(encoding="utf-8") == '{"second": true}\n'
    assert [path.name for path in target.parent.iterdir()] == ["run.json"]


def test_a_private_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    write_text(tmp_path / "pid.json", "{}", mode=0o600)
    assert stat.S_IMODE((tmp_path / "pid.json").stat().st_mode) == 0o600


def test_a_write_that_fails_leaves_the_old_file_and_no_partial(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()  # the rename onto a folder fails after the text was written
    (target / "keep").write_text("old", encoding="utf-8")
    with pytest.raises(OSError):
        write_text(target, "new")
    assert (target / "keep").read_text(encoding="utf-8") == "old"
    assert [path.name for path in tmp_path.iterdir()] == ["taken"]
