"""The offline wheelhouse: resolution for another machine, what it leaves out, the offline install, its errors.

Everything runs against a folder of small pure-Python wheels built here, standing in for vLLM, torch and their
dependencies with the same shape of dependency graph (torch pulling NCCL, vLLM pinning torch, a dependency
that rejects the target's numpy), with the registry switched off: the real resolution is tested, not a GB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.utils import parse_wheel_filename

from lightonocr_validation.vllm import wheelhouse
from lightonocr_validation.vllm.wheelhouse import Target, WheelhouseError
from tests.processes import ROOT
from tests.wheels import make_wheel

TARGET = Target("3.12", "manylinux_2_31_x86_64")
# name, version, requirements: the shapes that matter in vLLM 0.26.0's real graph.
PACKAGES = [
    ("vllm", "0.26.0", ["torch==2.11.0", "transformers>=5.5.3", "numpy", "llguidance>=1.7,<1.8", "numba"]),
    ("vllm", "0.30.0", ["torch==2.13.0", "transformers>=5.10.4", "numpy"]),
    ("torch", "2.11.0", ["nvidia-nccl-cu13==2.28.9", "sympy"]),
    ("torch", "2.13.0", ["nvidia-nccl-cu13==2.28.9", "sympy"]),
    ("nvidia-nccl-cu13", "2.28.9", []),
    ("sympy", "1.14.0", ["mpmath"]),
    ("mpmath", "1.3.0", []),
    ("transformers", "5.16.0", ["numpy", "sympy"]),
    ("transformers", "5.16.1", ["numpy"]),
    ("transformers", "5.17.0", ["numpy"]),
    ("numpy", "2.4.4", []),
    ("numpy", "2.5.2", []),
    ("llguidance", "1.7.6", []),
    ("numba", "0.65.0", ["numpy<2.5"]),  # as the real numba: the target's numpy 2.5.2 must still win
    ("invoke", "2.2.1", []),
]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("index")
    for name, version, requires in PACKAGES:
        make_wheel(folder, name, version, requires)
    return folder


@pytest.fixture(autouse=True)
def no_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """pip and uv see only the test's folder: no machine-wide configuration, no registry."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    for variable in ("PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "UV_INDEX_URL", "UV_FIND_LINKS"):
        monkeypatch.delenv(variable, raising=False)


def _build(index: Path, out: Path, vllm: str = "0.26.0", have: tuple[str, ...] = ()) -> dict:
    return wheelhouse.build(
        out,
        vllm=vllm,
        target=TARGET,
        have=wheelhouse.parse_have(list(have)),
        runtime=["invoke>=2.2"],
        sources=["--no-index", f"--find-links={index}"],
    )


def _names(manifest: dict) -> set[str]:
    return {f"{name}=={version}" for name, version, _, _ in map(parse_wheel_filename, manifest["wheels"])}


def test_target_spellings_for_uv_and_pip() -> None:
    assert TARGET.uv_platform == "x86_64-manylinux_2_31" and TARGET.abi == "cp312"
    # pip matches --platform literally: every older glibc and the legacy names must be offered too.
    assert TARGET.pip_platforms[0] == "manylinux_2_31_x86_64"
    assert {"manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux1_x86_64"} <= set(
        TARGET.pip_platforms
    )
    assert "manylinux_2_32_x86_64" not in TARGET.pip_platforms


@pytest.mark.parametrize(
    ("python", "platform", "message"),
    [
        ("312", "manylinux_2_31_x86_64", "is not X.Y"),
        ("3.12", "linux_x86_64", "is not a manylinux tag"),
        ("3.12", "win_amd64", "is not a manylinux tag"),
    ],
)
def test_a_bad_target_is_named(python: str, platform: str, message: str) -> None:
    with pytest.raises(WheelhouseError, match=message):
        Target(python, platform)


def test_have_must_be_exact_pins() -> None:
    assert wheelhouse.parse_have(["Torch==2.11.0", "numpy==2.5.2"]) == {"torch": "2.11.0", "numpy": "2.5.2"}
    for bad in ("torch", "torch>=2.11", "==2.11.0", "torch==latest"):
        with pytest.raises(WheelhouseError, match="is not NAME==VERSION"):
            wheelhouse.parse_have([bad])


def test_the_compatibility_table_decides_what_is_installed_beside_vllm() -> None:
    assert wheelhouse.requirements("0.26.0", ["invoke>=2.2"]) == ["invoke>=2.2", "vllm==0.26.0", "transformers==5.16.0"]
    assert wheelhouse.requirements("0.11.2") == ["vllm==0.11.2"]
    with pytest.raises(WheelhouseError, match="loop"):
        wheelhouse.requirements("0.27.1")
    with pytest.raises(WheelhouseError, match="predates LightOnOCR"):
        wheelhouse.requirements("0.10.0")


def test_command_lines_resolve_and_download_for_the_target(tmp_path: Path) -> None:
    compile_ = wheelhouse.compile_command(tmp_path / "in", tmp_path / "over", TARGET, ["--no-index"])
    assert compile_[:3] == ["uv", "pip", "compile"]
    assert " --python-version 3.12 --python-platform x86_64-manylinux_2_31 " in " ".join(compile_)
    assert " --override " in " ".join(compile_) and " --only-binary :all: " in " ".join(compile_)
    download = wheelhouse.download_command(tmp_path / "r", TARGET, tmp_path / "out", [], pip=["pip"])
    joined = " ".join(download)
    assert download[:2] == ["pip", "download"] and "--no-deps" in download and "--only-binary=:all:" in download
    assert " --python-version 3.12 --implementation cp --abi cp312 --platform manylinux_2_31_x86_64 " in joined


def test_what_only_the_targets_packages_need_is_left_out() -> None:
    compiled = """\
nvidia-nccl-cu13==2.28.9
    # via torch
numpy==2.5.2
    # via
    #   --override overrides.txt
    #   vllm
torch==2.11.0
    # via
    #   --override overrides.txt
    #   vllm
triton==3.6.0
    # via
    #   torch
    #   xgrammar
vllm==0.26.0
    # via -r requirements.in
xgrammar==0.2.7
    # via vllm
"""
    resolved = wheelhouse.parse_compiled(compiled)
    assert resolved["torch"].via == frozenset({"vllm"}) and resolved["vllm"].via == frozenset({""})
    kept = [str(p) for p in wheelhouse.needed(resolved, {"torch": "2.11.0", "numpy": "2.5.2"})]
    # NCCL only torch needs: out. triton is also xgrammar's: in, unless the target has it too.
    assert kept == ["triton==3.6.0", "vllm==0.26.0", "xgrammar==0.2.7"]
    kept = [str(p) for p in wheelhouse.needed(resolved, {"torch": "2.11.0", "numpy": "2.5.2", "triton": "3.6.0"})]
    assert kept == ["vllm==0.26.0", "xgrammar==0.2.7"]
    everything = [str(p) for p in wheelhouse.needed(resolved, {})]
    assert "nvidia-nccl-cu13==2.28.9" in everything and "torch==2.11.0" in everything


def test_build_reuses_the_targets_torch_and_numpy(index: Path, tmp_path: Path) -> None:
    manifest = _build(index, tmp_path / "wh", have=("torch==2.11.0", "numpy==2.5.2"))
    assert _names(manifest) == {
        "vllm==0.26.0",
        "transformers==5.16.0",  # the compatibility table's pin, not the newest
        "llguidance==1.7.6",
        "numba==0.65.0",
        "sympy==1.14.0",  # transformers needs it too, not only torch
        "mpmath==1.3.0",
        "invoke==2.2.1",
    }
    assert {"torch==2.11.0", "numpy==2.5.2", "nvidia-nccl-cu13==2.28.9"} <= set(manifest["left_out"])
    assert sorted(p.name for p in (tmp_path / "wh").glob("*.whl")) == manifest["wheels"]
    assert manifest["have"] == ["numpy==2.5.2", "torch==2.11.0"] and manifest["python"] == "3.12"


def test_without_have_everything_is_carried(index: Path, tmp_path: Path) -> None:
    manifest = _build(index, tmp_path / "wh")
    assert {"torch==2.11.0", "nvidia-nccl-cu13==2.28.9", "numpy==2.4.4"} <= _names(manifest)
    assert manifest["left_out"] == []


@pytest.mark.slow
def test_a_target_torch_that_vllm_does_not_pin_is_refused(index: Path, tmp_path: Path) -> None:
    with pytest.raises(WheelhouseError, match=r"vLLM 0.30.0 requires torch==2.13.0 but the target has torch==2.11.0"):
        _build(index, tmp_path / "wh", vllm="0.30.0", have=("torch==2.11.0",))
    # Carrying torch instead works: the wheelhouse then holds vLLM's own torch.
    assert "torch==2.13.0" in _names(_build(index, tmp_path / "wh2", vllm="0.30.0"))


def test_a_requirement_the_source_cannot_satisfy_fails_with_the_cause(index: Path, tmp_path: Path) -> None:
    with pytest.raises(WheelhouseError, match=r"resolving .*vllm==0\.33\.0") as raised:
        _build(index, tmp_path / "wh", vllm="0.33.0")
    assert raised.value.exit_code == wheelhouse.EXIT_FAILED


def _venv(tmp_path: Path) -> Path:
    venv = tmp_path / "venv"
    subprocess.run(["uv", "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    return venv / "bin" / "python"


@pytest.mark.slow
def test_offline_install_from_the_wheelhouse_over_the_targets_torch(index: Path, tmp_path: Path) -> None:
    manifest = _build(index, tmp_path / "wh", have=("torch==2.11.0", "numpy==2.5.2"))
    python = _venv(tmp_path)
    assert wheelhouse.missing_from(python, manifest["have"]) == ["numpy==2.5.2 (absent)", "torch==2.11.0 (absent)"]
    # The target's own torch and numpy, installed beforehand as the machine has them.
    target_own = [str(index / "torch-2.11.0-py3-none-any.whl"), str(index / "numpy-2.5.2-py3-none-any.whl")]
    subprocess.run(["uv", "pip", "install", "--quiet", "--python", str(python), "--no-deps", *target_own], check=True)
    assert wheelhouse.missing_from(python, manifest["have"]) == []
    arguments = wheelhouse.install_arguments(tmp_path / "wh", manifest, tmp_path)
    assert arguments[:4] == ["--offline", "--no-index", "--find-links", str(tmp_path / "wh")]
    installed = subprocess.run(
        ["uv", "pip", "install", "--python", str(python), *arguments], capture_output=True, text=True, check=False
    )
    assert installed.returncode == 0, installed.stderr
    listing = subprocess.run(
        ["uv", "pip", "list", "--format", "json", "--python", str(python)], capture_output=True, text=True, check=True
    )
    frozen = {f"{item['name']}=={item['version']}" for item in json.loads(listing.stdout)}
    assert {"vllm==0.26.0", "transformers==5.16.0", "torch==2.11.0", "numpy==2.5.2"} <= frozen
    assert not any(line.startswith("nvidia-nccl") for line in frozen)  # torch's own, left to the target


@pytest.mark.slow
def test_the_offline_install_fails_when_the_wheelhouse_lacks_a_wheel(index: Path, tmp_path: Path) -> None:
    manifest = _build(index, tmp_path / "wh")
    (tmp_path / "wh" / "llguidance-1.7.6-py3-none-any.whl").unlink()
    with pytest.raises(WheelhouseError, match=r"is incomplete: llguidance-1\.7\.6-py3-none-any\.whl missing"):
        wheelhouse.load(tmp_path / "wh", vllm="0.26.0")
    # uv, asked anyway, finds nothing elsewhere: no registry is consulted.
    python = _venv(tmp_path)
    arguments = wheelhouse.install_arguments(tmp_path / "wh", manifest, tmp_path)
    installed = subprocess.run(
        ["uv", "pip", "install", "--python", str(python), *arguments], capture_output=True, text=True, check=False
    )
    assert installed.returncode != 0 and "llguidance" in installed.stderr


@pytest.mark.parametrize(
    ("prepare", "args", "message"),
    [
        (lambda folder: None, ["--vllm", "0.26.0"], "does not exist: build it on a connected machine"),
        (lambda folder: folder.mkdir(), ["--vllm", "0.26.0"], "holds no wheelhouse.json, so it is no wheelhouse"),
        (
            lambda folder: (folder.mkdir(), (folder / "wheelhouse.json").write_text('{"vllm": "0.30.0"}')),
            ["--vllm", "0.26.0"],
            "holds vLLM 0.30.0, not 0.26.0",
        ),
        (
            lambda folder: (folder.mkdir(), (folder / "wheelhouse.json").write_text('{"python": "3.11"}')),
            ["--python", "3.12"],
            "is for Python 3.11, this environment is 3.12",
        ),
        (
            lambda folder: (folder.mkdir(), (folder / "wheelhouse.json").write_text(json.dumps({"wheels": ["a.whl"]}))),
            [],
            "is incomplete: a.whl missing",
        ),
    ],
)
def test_check_names_what_is_wrong_in_one_line_exit_2(tmp_path: Path, prepare, args: list[str], message: str) -> None:
    folder = tmp_path / "wh"
    prepare(folder)
    result = subprocess.run(
        [sys.executable, "-m", "lightonocr_validation.vllm.wheelhouse", "check", str(folder), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr, result.stderr


@pytest.mark.slow
def test_a_complete_wheelhouse_passes_the_check(index: Path, tmp_path: Path) -> None:
    _build(index, tmp_path / "wh")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "lightonocr_validation.vllm.wheelhouse",
            "check",
            str(tmp_path / "wh"),
            "--vllm",
            "0.26.0",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and "wheelhouse complete: 10 wheels" in result.stdout, result.stdout + result.stderr


@pytest.mark.slow
def test_the_vllm_plugin_goes_into_the_wheelhouse_and_the_offline_install(index: Path, tmp_path: Path) -> None:
    """`nox -s wheelhouse` builds the project's vLLM plugin in (its build backend from the registry, as on the
    connected machine), and the offline install puts it beside vLLM with vLLM's entry point."""
    _build(index, tmp_path / "wh", have=("torch==2.11.0", "numpy==2.5.2"))
    manifest = wheelhouse.add_plugin(tmp_path / "wh", ROOT / "vllm_plugin")
    assert manifest["plugin"].startswith("lightonocr_vllm_plugin-") and manifest["plugin"].endswith(".whl")
    assert json.loads((tmp_path / "wh" / "wheelhouse.json").read_text())["plugin"] == manifest["plugin"]
    # Built again (a second `nox -s wheelhouse`), the one wheel is recorded, not two.
    assert wheelhouse.add_plugin(tmp_path / "wh", ROOT / "vllm_plugin")["plugin"] == manifest["plugin"]
    loaded = wheelhouse.load(tmp_path / "wh", vllm="0.26.0")
    python = _venv(tmp_path)
    target_own = [str(index / "torch-2.11.0-py3-none-any.whl"), str(index / "numpy-2.5.2-py3-none-any.whl")]
    subprocess.run(["uv", "pip", "install", "--quiet", "--python", str(python), "--no-deps", *target_own], check=True)
    arguments = wheelhouse.install_arguments(tmp_path / "wh", loaded, tmp_path)
    installed = subprocess.run(
        ["uv", "pip", "install", "--python", str(python), *arguments], capture_output=True, text=True, check=False
    )
    assert installed.returncode == 0, installed.stderr
    entry_points = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(*m.entry_points(group='vllm.general_plugins'))"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "lightonocr_vllm_plugin:register" in entry_points.stdout
    # A wheelhouse whose plugin wheel went missing is incomplete, in one line, like any other wheel.
    (tmp_path / "wh" / manifest["plugin"]).unlink()
    with pytest.raises(WheelhouseError, match=rf"is incomplete: {manifest['plugin']} missing"):
        wheelhouse.load(tmp_path / "wh", vllm="0.26.0")


def test_a_plugin_that_cannot_be_built_fails_in_one_line(index: Path, tmp_path: Path) -> None:
    _build(index, tmp_path / "wh")
    # Its build backend is on no source the wheelhouse may use: the cause, not uv's traceback.
    with pytest.raises(WheelhouseError, match=r"building the vLLM plugin failed: ") as raised:
        wheelhouse.add_plugin(tmp_path / "wh", ROOT / "vllm_plugin", ["--no-index", f"--find-links={index}"])
    assert raised.value.exit_code == wheelhouse.EXIT_FAILED and "\n" not in str(raised.value)
    assert "plugin" not in json.loads((tmp_path / "wh" / "wheelhouse.json").read_text())
