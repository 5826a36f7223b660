"""The tasks with model profiles: what `invoke serve --dry-run` prints for each model, and what check resolves.

In-process, as test_config.py runs the tasks (invoke's MockContext over the real layered configuration).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from invoke import Exit

import tasks
from tests.core.test_config import context

# LightOn's client README: `vllm serve lightonai/<model> --limit-mm-per-prompt '{"image": 1}' <flags>`.
LIGHTON_4B_FLAGS = (
    "--max-model-len 18000 --default-chat-template-kwargs '{\"enable_thinking\": false}' "
    "--mm-processor-cache-gb 0 --no-enable-prefix-caching"
)
CARD = (
    "vllm serve lightonai/LightOnOCR-2-1B --host 127.0.0.1 --port 8000 --served-model-name "
    "lightonai/LightOnOCR-2-1B --limit-mm-per-prompt '{\"image\": 1}' --mm-processor-cache-gb 0 "
    "--no-enable-prefix-caching\n"
)


def _dry_run(tmp_path: Path, capsys: pytest.CaptureFixture[str], **flags: Any) -> tuple[str, str]:
    """What `invoke serve --dry-run` prints on a GPU (--device cuda unless given): on the CPU the CPU build's
    settings precede the command."""
    capsys.readouterr()
    tasks.serve(context(tmp_path), dry_run=True, **{"device": "cuda", **flags})
    captured = capsys.readouterr()
    return captured.out, captured.err


def test_the_default_command_is_the_model_cards_byte_for_byte(tmp_path: Path, capsys) -> None:
    assert _dry_run(tmp_path, capsys) == (CARD, "")
    # On the CPU the same command, after the environment cpu.env gives vLLM's CPU build.
    cpu = "VLLM_CPU_KVCACHE_SPACE=1 VLLM_HOST_IP=127.0.0.1 HF_HUB_OFFLINE=1 "
    assert _dry_run(tmp_path, capsys, device="cpu") == (cpu + CARD, "")


def test_lightonocr_3_4b_is_served_with_every_flag_lighton_documents(tmp_path: Path, capsys) -> None:
    out, _ = _dry_run(tmp_path, capsys, model="lightonai/LightOnOCR-3-4B")
    assert out.startswith("vllm serve lightonai/LightOnOCR-3-4B ")
    assert "--limit-mm-per-prompt '{\"image\": 1}'" in out
    for flag in LIGHTON_4B_FLAGS.split(" --"):
        assert flag.removeprefix("--") in out, flag
    out, _ = _dry_run(tmp_path, capsys, model="lightonai/LightOnOCR-3-1B")
    assert out.endswith("--no-enable-prefix-caching --max-model-len 16384\n")


def test_a_model_nothing_tells_is_served_with_the_cards_flags_and_said_so(tmp_path: Path, capsys) -> None:
    out, err = _dry_run(tmp_path, capsys, model="/models/mine")
    assert out.endswith("--no-enable-prefix-caching\n") and "--max-model-len" not in out
    assert err.startswith("warning: no model profile tells what '/models/mine'") and "--model-profile NAME" in err
    out, err = _dry_run(tmp_path, capsys, model="/models/mine", model_profile="LightOnOCR-3-0.8B")
    assert "--default-chat-template-kwargs" in out and err == ""


def test_a_profile_name_that_is_none_stops_serve_with_exit_2(tmp_path: Path, capsys) -> None:
    with pytest.raises(Exit) as stopped:
        _dry_run(tmp_path, capsys, model_profile="LightOnOCR-9")
    assert stopped.value.code == 2
    assert "error: --model-profile 'LightOnOCR-9' is not a model profile" in capsys.readouterr().err


def test_check_of_a_name_nothing_tells_is_one_line_and_exit_2_before_any_check(tmp_path: Path, capsys) -> None:
    # Port 9 on loopback: nothing listens, the root cannot be asked either; both are said, nothing is checked.
    with pytest.raises(Exit) as stopped:
        tasks.check(context(tmp_path), model="ocr", host=["http://127.0.0.1:9"], timeout=2)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no model profile matches 'ocr'" in err and "could not be asked" in err
