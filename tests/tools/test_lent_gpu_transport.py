"""tools/lent-gpu: pack a wheelhouse into parts, receive them one command at a time, unpack, run the shim.

The lent machine is simulated by a folder for $HOME and one folder of carried files per command; the wheels
are small stand-ins with the files the pruning must remove, so the whole round trip runs in seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lightonocr_validation.vllm import wheelhouse
from lightonocr_validation.vllm.wheelhouse import Target
from tests.processes import ROOT
from tests.wheels import make_wheel

PACK = ROOT / "tools" / "lent-gpu" / "pack.py"
REMOTE = ROOT / "tools" / "lent-gpu" / "remote.sh"
# Stand-in for vllm's CLI: prints what it was asked, and which transformers it sees.
CLI = "import sys, transformers\nprint('vllm', ' '.join(sys.argv[1:]), 'transformers', transformers.__version__)\n"


@pytest.fixture(autouse=True)
def no_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)


@pytest.fixture
def parts(tmp_path: Path) -> Path:
    index = tmp_path / "index"
    index.mkdir()
    make_wheel(
        index,
        "vllm",
        "0.26.0",
        ["transformers>=5.5.3", "tilelang"],
        files={
            "vllm/entrypoints/__init__.py": "",
            "vllm/entrypoints/cli/__init__.py": "",
            "vllm/entrypoints/cli/main.py": CLI,
            "vllm/vllm_flash_attn/__init__.py": "",
            "vllm/vllm_flash_attn/_vllm_fa2_C.abi3.so": "not really a library",
            "vllm/vllm_flash_attn/_vllm_fa3_C.abi3.so": "kept: Hopper's attention",
            # Incompressible bulk, so that the archive spans several small parts.
            "vllm/bulk.txt": os.urandom(6000).hex(),
        },
    )
    make_wheel(index, "transformers", "5.16.0")
    make_wheel(index, "tilelang", "0.1.9")
    house = tmp_path / "wheelhouse"
    wheelhouse.build(
        house,
        vllm="0.26.0",
        target=Target("3.12", "manylinux_2_31_x86_64"),
        have={},
        sources=["--no-index", f"--find-links={index}"],
    )
    out = tmp_path / "parts"
    packed = subprocess.run(
        [sys.executable, str(PACK), "--wheelhouse", str(house), "--out", str(out), "--part-mib", "0.002"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert packed.returncode == 0, packed.stderr
    assert "pruned vllm/vllm_flash_attn/_vllm_fa2_C.abi3.so" in packed.stdout
    return out


def _remote(command: str, carried: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LENT_GPU_PARTS": str(carried), "LENT_GPU_HOME": str(home)}
    return subprocess.run(["bash", str(REMOTE), command], capture_output=True, text=True, env=env, check=False)


def _carry(parts: Path, part: Path, call: Path) -> Path:
    """What one device command carries: SHA256SUMS and one part."""
    call.mkdir(parents=True)
    shutil.copy(parts / "SHA256SUMS", call)
    shutil.copy(part, call)
    return call


def test_parts_received_one_per_command_unpack_and_run(parts: Path, tmp_path: Path) -> None:
    pieces = sorted(parts.glob("*.part*"))
    assert len(pieces) >= 3 and all(p.stat().st_size <= int(0.002 * 2**20) for p in pieces)
    assert pieces[0].name == "vllm-0.26.0-py312.tar.xz.part00"
    home = tmp_path / "home"
    for number, piece in enumerate(pieces[:-1]):
        received = _remote("receive", _carry(parts, piece, tmp_path / f"call{number}"), home)
        assert received.returncode == 0 and f"{number + 1} of {len(pieces)}" in received.stdout, received.stderr
    early = _remote("unpack", tmp_path / "call0", home)
    assert early.returncode == 2 and pieces[-1].name in early.stderr
    assert _remote("receive", _carry(parts, pieces[-1], tmp_path / "last"), home).returncode == 0
    unpacked = _remote("unpack", tmp_path / "last", home)
    assert unpacked.returncode == 0, unpacked.stderr
    site = home / "site"
    assert (site / "vllm" / "vllm_flash_attn" / "_vllm_fa3_C.abi3.so").is_file()
    assert not (site / "vllm" / "vllm_flash_attn" / "_vllm_fa2_C.abi3.so").exists()
    assert not list(site.glob("tilelang*"))
    # The shim runs vLLM's CLI from the unpacked folder, whose transformers wins over the machine's 5.17.
    machine = tmp_path / "machine" / "transformers"
    machine.mkdir(parents=True)
    (machine / "__init__.py").write_text("__version__ = '5.17.0'\n")
    script = f"source {home}/env.sh && vllm serve m --load-format dummy && echo $VLLM_USE_FLASHINFER_SAMPLER"
    ran = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(machine.parent)},
        check=False,
    )
    assert ran.stdout.split("\n")[:2] == ["vllm serve m --load-format dummy transformers 5.16.0", "0"], ran.stderr


def test_a_corrupt_part_is_refused(parts: Path, tmp_path: Path) -> None:
    piece = sorted(parts.glob("*.part*"))[1]
    call = _carry(parts, piece, tmp_path / "call")
    damaged = call / piece.name
    damaged.write_bytes(b"x" + damaged.read_bytes()[1:])
    received = _remote("receive", call, tmp_path / "home")
    assert received.returncode == 1 and "corrupt" in received.stderr


def test_nothing_carried_names_the_fix(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    received = _remote("receive", tmp_path / "empty", tmp_path / "home")
    assert received.returncode == 2 and "carry lent-gpu-parts/SHA256SUMS" in received.stderr
