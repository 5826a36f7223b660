"""The noxfile answers bad input one way: one `error:` line naming the cause and the fix, exit 2."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from lightonocr_validation.docs.sources import load_nox_sessions

ROOT = Path(__file__).resolve().parents[2]
# Read as the docs read it: nox's process-wide registry and PATH are put back as they were.
noxfile = load_nox_sessions(ROOT).module


@pytest.mark.parametrize(
    ("vllm", "said"), [("abc", "--vllm 'abc' is not a version"), ("0.10.0", "vLLM 0.10.0 predates LightOnOCR")]
)
def test_a_bad_vllm_version_is_one_line_and_exit_2(vllm: str, said: str, capsys: pytest.CaptureFixture[str]) -> None:
    session = types.SimpleNamespace(name="validate-gpu", posargs=["--vllm", vllm])
    with pytest.raises(SystemExit) as raised:
        noxfile._validate_options(session, "0.11.2")
    assert raised.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: {said}")


def test_a_supported_vllm_version_is_taken() -> None:
    session = types.SimpleNamespace(name="validate-gpu", posargs=["--vllm", "0.11.2"])
    assert noxfile._validate_options(session, "0.11.2").vllm == "0.11.2"
