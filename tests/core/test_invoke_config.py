"""invoke.yaml and INVOKE_* read in one line or refused in one line: that rests on invoke's internals
(core/invoke_config.py), so an invoke release that changes them fails here, not in a user's terminal."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

import invoke
import pytest
from packaging.specifiers import SpecifierSet

from lightonocr_validation.core.errors import UserError
from lightonocr_validation.core.invoke_config import INVOKE_INTERNALS, INVOKE_STATE, ProjectConfig
from lightonocr_validation.core.settings import DEFAULTS

ROOT = Path(__file__).resolve().parents[2]


def _project(tmp_path: Path, text: str) -> ProjectConfig:
    (tmp_path / "invoke.yaml").write_text(text, encoding="utf-8")
    config = ProjectConfig(project_location=str(tmp_path))
    config.load_collection(DEFAULTS)
    return config


def test_the_installed_invoke_is_a_version_pyproject_pins() -> None:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    (pin,) = [dependency for dependency in dependencies if dependency.startswith("invoke")]
    assert "<" in pin, "pin invoke's versions from above too: an untested release may break invoke_config.py"
    assert importlib.metadata.version("invoke") in SpecifierSet(pin.removeprefix("invoke"))


def test_the_invoke_internals_it_uses_are_there(tmp_path: Path) -> None:
    config = _project(tmp_path, "check:\n  port: 8001\n")
    assert [name for name in INVOKE_INTERNALS if not callable(getattr(invoke.Config, name, None))] == []
    assert [name for name in INVOKE_STATE if name not in vars(config)] == []


def test_a_good_invoke_yaml_is_read(tmp_path: Path) -> None:
    config = _project(tmp_path, "check:\n  port: 8001\n")
    config.load_project()
    assert config.check.port == 8001


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("check:\n  port: [8001\n", "invoke.yaml, line 3: "),
        ("sever:\n  port: 8001\n", "'sever' is not a section"),
        ("check: 8001\n", "check in "),
        ("- check\n", "write a mapping of sections"),
    ],
)
def test_a_broken_invoke_yaml_is_one_line_naming_it(tmp_path: Path, text: str, said: str) -> None:
    config = _project(tmp_path, text)
    with pytest.raises(UserError) as raised:
        config.load_project()
    assert said in str(raised.value) and "\n" not in str(raised.value)


def test_invoke_variables_for_the_project_arrive_as_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVOKE_CHECK_PORT", "abc")  # stock invoke: a ValueError traceback
    config = _project(tmp_path, "")
    config.load_shell_env()
    assert config.check.port == "abc"  # config.load refuses it in one line, as it does a flag
