"""Build, on a connected machine, the folder of wheels an air-gapped GPU machine installs vLLM from; check one.

`pip download vllm==X` cannot do this: it resolves for the machine it runs on, and for the target it fails on
torch's pinned NCCL. So the resolution is uv's, for the target's Python and platform (`uv pip compile
--python-version --python-platform`), with the packages the target already has forced to its versions
(overrides: the target will import those, whatever a dependency's metadata asks). The wheelhouse then leaves
out those packages and whatever only they need (the resolution's "via" annotations say who needs what), and
pip downloads the rest, binary wheels only, for the target's tags.

A package the target has is reused only when vLLM's own requirement accepts its version: vLLM's compiled
kernels are built against one torch, and forcing another one would install a vLLM that crashes at import.

The folder gets a manifest (`wheelhouse.json`) so that an install from it can say, in one line, what is
missing before uv says it in twenty. The project's vLLM plugin (vllm_plugin/) is built into it as a wheel too
(`uv build`, whose build backend only a connected machine can fetch): the offline install puts it beside vLLM.

``python -m lightonocr_validation.vllm.wheelhouse build --vllm 0.26.0 --python 3.12 --platform
manylinux_2_28_x86_64 --have torch==2.11.0 --out DIR`` (needs uv and pip); ``... check DIR --vllm 0.26.0``.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.parser import Parser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from lightonocr_validation.core.cli_options import Option, OptionSet

# The codes of errors.py: EXIT_FAILED when a download or resolution failed, EXIT_USAGE for bad input (a missing
# or incomplete wheelhouse, a target vLLM cannot use).
from lightonocr_validation.core.errors import EXIT_FAILED, EXIT_USAGE
from lightonocr_validation.vllm import compat

MANIFEST = "wheelhouse.json"
# The project's vLLM plugin (vllm_plugin/): its distribution name, as its wheel's file name spells it.
PLUGIN = "lightonocr-vllm-plugin"
_REPO_PLUGIN = Path(__file__).resolve().parents[2] / "vllm_plugin"

_MANYLINUX = re.compile(r"manylinux_(\d+)_(\d+)_(x86_64|aarch64)")
# The legacy manylinux names and the glibc they stand for (PEP 600).
_LEGACY_MANYLINUX = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}


class WheelhouseError(Exception):
    """The wheelhouse cannot be built or used; the message names the cause and the fix."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Target:
    """The machine the wheels are for: its Python (X.Y) and its platform tag (manylinux_2_28_x86_64)."""

    python: str
    platform: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"3\.\d+", self.python):
            raise WheelhouseError(f"--python {self.python!r} is not X.Y: write it as e.g. --python 3.12")
        if not _MANYLINUX.fullmatch(self.platform):
            raise WheelhouseError(
                f"--platform {self.platform!r} is not a manylinux tag: write it as e.g. manylinux_2_28_x86_64"
            )

    @property
    def uv_platform(self) -> str:
        """uv's spelling of the platform: x86_64-manylinux_2_28."""
        major, minor, arch = _MANYLINUX.fullmatch(self.platform).groups()
        return f"{arch}-manylinux_{major}_{minor}"

    @property
    def pip_platforms(self) -> list[str]:
        """Every manylinux tag the target accepts, newest first: pip matches --platform literally."""
        major, minor, arch = _MANYLINUX.fullmatch(self.platform).groups()
        tags = []
        for glibc_minor in range(int(minor), 4, -1):
            tags.append(f"manylinux_{major}_{glibc_minor}_{arch}")
            legacy = _LEGACY_MANYLINUX.get((int(major), glibc_minor))
            if legacy:
                tags.append(f"{legacy}_{arch}")
        return tags

    @property
    def abi(self) -> str:
        return "cp" + self.python.replace(".", "")


@dataclass(frozen=True)
class Pinned:
    name: str
    version: str
    via: frozenset[str] = field(default_factory=frozenset)  # canonical names, or "" for a top-level requirement

    def __str__(self) -> str:
        return f"{self.name}=={self.version}"


def requirements(vllm: str, runtime: Sequence[str] = ()) -> list[str]:
    """What the wheelhouse must install: vLLM, the pins the compatibility table puts beside it, the runtime."""
    if not compat.is_supported(vllm):
        raise WheelhouseError(
            f"vLLM {vllm} predates LightOnOCR (first in {compat.format_version(compat.MINIMUM_VLLM)}): choose a newer "
            "--vllm"
        )
    rule = compat.rule_for(vllm)
    if rule is not None and rule.status == "avoid":
        raise WheelhouseError(f"vLLM {vllm}: {rule.summary}; {rule.fix}")
    return [*runtime, f"vllm=={vllm}", *compat.install_pins(vllm)]


def parse_have(items: Sequence[str]) -> dict[str, str]:
    """`torch==2.11.0` items -> {"torch": "2.11.0"}; anything but an exact pin is an error."""
    have = {}
    for item in items:
        name, sep, version = item.partition("==")
        if not sep or not name.strip() or not re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", version.strip()):
            raise WheelhouseError(f"--have {item!r} is not NAME==VERSION: write it as e.g. --have torch==2.11.0")
        have[canonicalize_name(name)] = version.strip()
    return have


def compile_command(requirements_file: Path, overrides_file: Path, target: Target, sources: Sequence[str]) -> list[str]:
    return [
        "uv",
        "pip",
        "compile",
        str(requirements_file),
        "--override",
        str(overrides_file),
        "--python-version",
        target.python,
        "--python-platform",
        target.uv_platform,
        "--annotation-style",
        "split",
        "--no-header",
        "--no-python-downloads",
        # Wheels only, as pip downloads them: else uv picks a release whose only build for this platform is an
        # sdist (llguidance 1.7.6 has manylinux_2_31 wheels alone), which the offline target could not build.
        "--only-binary",
        ":all:",
        "--quiet",
        *sources,
    ]


def download_command(
    requirements_file: Path, target: Target, out: Path, sources: Sequence[str], pip: Sequence[str] = ()
) -> list[str]:
    platforms = [arg for tag in target.pip_platforms for arg in ("--platform", tag)]
    return [
        *(pip or (sys.executable, "-m", "pip")),
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--python-version",
        target.python,
        "--implementation",
        "cp",
        "--abi",
        target.abi,
        *platforms,
        "--dest",
        str(out),
        "--quiet",
        "--disable-pip-version-check",
        "--requirement",
        str(requirements_file),
        *sources,
    ]


def parse_compiled(text: str) -> dict[str, Pinned]:
    """uv's `--annotation-style split` output -> {canonical name: Pinned with who needs it}."""
    pinned: dict[str, Pinned] = {}
    current: tuple[str, str] | None = None
    via: dict[str, set[str]] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            name, _, version = line.split(";")[0].strip().partition("==")
            current = (canonicalize_name(name), version.strip())
            via[current[0]] = set()
            pinned[current[0]] = Pinned(current[0], current[1])
            continue
        entry = line.strip().lstrip("#").strip().removeprefix("via").strip()
        if not entry or current is None:
            continue
        # "-r file" marks a top-level requirement; "--override file" is not a reason to install anything.
        if entry.startswith("-r ") or entry.startswith("--requirement"):
            via[current[0]].add("")
        elif not entry.startswith("-"):
            via[current[0]].add(canonicalize_name(entry))
    return {name: Pinned(p.name, p.version, frozenset(via[name])) for name, p in pinned.items()}


def needed(resolved: dict[str, Pinned], have: dict[str, str]) -> list[Pinned]:
    """What the target lacks: reachable from the top-level requirements without passing through what it has."""
    keep: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, pinned in resolved.items():
            if name in keep or name in have:
                continue
            if "" in pinned.via or any(parent in keep for parent in pinned.via):
                keep.add(name)
                changed = True
    return sorted((resolved[name] for name in keep), key=lambda p: p.name)


def vllm_requirements(wheel: Path) -> list[Requirement]:
    """The Requires-Dist of a wheel, read from its METADATA."""
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1)
        message = Parser().parsestr(archive.read(metadata).decode("utf-8"))
    return [Requirement(value) for value in message.get_all("Requires-Dist") or []]


def check_have_against_vllm(requires: Sequence[Requirement], have: dict[str, str], target: Target, vllm: str) -> None:
    """Raise when vLLM's own requirement rejects a version the target has (its kernels need that torch)."""
    environment = {"python_version": target.python, "sys_platform": "linux", "platform_machine": "x86_64"}
    for requirement in requires:
        name = canonicalize_name(requirement.name)
        if name not in have or (requirement.marker and not requirement.marker.evaluate(environment)):
            continue
        if not requirement.specifier.contains(Version(have[name]), prereleases=True):
            raise WheelhouseError(
                f"vLLM {vllm} requires {requirement.name}{requirement.specifier} but the target has "
                f"{name}=={have[name]}: leave --have {name} out to carry it, or choose a vLLM that uses "
                f"{name} {have[name]} (docs/vllm-validation.md, compatibility)"
            )


def _run(command: Sequence[str], what: str) -> str:
    print(f"$ {shlex.join(command)}", file=sys.stderr)
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        reason = " / ".join(line.strip() for line in lines[-3:]) or f"exit code {result.returncode}"
        raise WheelhouseError(f"{what} failed: {reason}", exit_code=EXIT_FAILED)
    return result.stdout


def build(
    out: Path,
    *,
    vllm: str,
    target: Target,
    have: dict[str, str],
    runtime: Sequence[str] = (),
    sources: Sequence[str] = (),
    pip: Sequence[str] = (),
) -> dict:
    """Resolve, leave out what the target has, download; write the manifest and return it."""
    wanted = requirements(vllm, runtime)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wheelhouse-") as scratch:
        folder = Path(scratch)
        (folder / "requirements.in").write_text("\n".join(wanted) + "\n", encoding="utf-8")
        (folder / "overrides.txt").write_text("".join(f"{n}=={v}\n" for n, v in have.items()), encoding="utf-8")
        try:
            compiled = _run(
                compile_command(folder / "requirements.in", folder / "overrides.txt", target, sources),
                f"resolving {' '.join(wanted)} for Python {target.python} {target.platform}",
            )
        except WheelhouseError as error:
            if "Wheels are required" in str(error):
                error.args = (f"{error}; fix: a --platform with a newer glibc, if the target has one",)
            raise
        resolved = parse_compiled(compiled)
        wheels = needed(resolved, have)
        vllm_pin = [p for p in wheels if p.name == "vllm"]
        # vLLM first, alone: its metadata decides whether the target's own packages can be reused.
        (folder / "vllm.txt").write_text("".join(f"{p}\n" for p in vllm_pin), encoding="utf-8")
        _run(download_command(folder / "vllm.txt", target, out, sources, pip), f"downloading vllm=={vllm}")
        check_have_against_vllm(vllm_requirements(_wheel_for(out, "vllm", vllm)), have, target, vllm)
        (folder / "wheels.txt").write_text("".join(f"{p}\n" for p in wheels), encoding="utf-8")
        _run(download_command(folder / "wheels.txt", target, out, sources, pip), f"downloading {len(wheels)} wheels")
    files = {p.name: _wheel_for(out, p.name, p.version).name for p in wheels}
    manifest = {
        "vllm": vllm,
        "python": target.python,
        "platform": target.platform,
        "requirements": wanted,
        "have": [f"{n}=={v}" for n, v in sorted(have.items())],
        "wheels": sorted(files.values()),
        "left_out": sorted(str(p) for n, p in resolved.items() if n not in files),
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _wheel_for(folder: Path, name: str, version: str) -> Path:
    for wheel in folder.glob("*.whl"):
        wheel_name, wheel_version, _, _ = parse_wheel_filename(wheel.name)
        if wheel_name == canonicalize_name(name) and wheel_version == Version(version):
            return wheel
    raise WheelhouseError(f"no wheel of {name}=={version} in {folder} after the download", exit_code=EXIT_FAILED)


def load(folder: Path, *, vllm: str | None = None, python: str | None = None) -> dict:
    """The manifest of a complete wheelhouse for this vLLM and Python; WheelhouseError (exit 2) otherwise."""
    rebuild = f"build it on a connected machine with `nox -s wheelhouse -- --vllm {vllm or 'X.Y.Z'} --out {folder}`"
    if not folder.is_dir():
        raise WheelhouseError(f"the wheelhouse {folder} does not exist: {rebuild}")
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WheelhouseError(f"{folder} holds no {MANIFEST}, so it is no wheelhouse: {rebuild}") from None
    except json.JSONDecodeError as error:
        raise WheelhouseError(f"{folder / MANIFEST} is not JSON ({error.msg}): {rebuild}") from None
    if vllm and manifest.get("vllm") != vllm:
        raise WheelhouseError(f"the wheelhouse {folder} holds vLLM {manifest.get('vllm')}, not {vllm}: {rebuild}")
    if python and manifest.get("python") != python:
        raise WheelhouseError(
            f"the wheelhouse {folder} is for Python {manifest.get('python')}, this environment is {python}: {rebuild}"
        )
    listed = [*manifest.get("wheels", []), *([manifest["plugin"]] if manifest.get("plugin") else [])]
    missing = [name for name in listed if not (folder / name).is_file()]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise WheelhouseError(f"the wheelhouse {folder} is incomplete: {missing[0]}{more} missing: {rebuild}")
    return manifest


def install_arguments(folder: Path, manifest: dict, scratch: Path) -> list[str]:
    """`uv pip install` arguments that take every package from the folder and never ask a registry.

    What the wheelhouse left out (the target's own torch, ...) is dropped from the resolution by an override
    whose marker never holds: uv looks only at the environment's own site-packages, so it would otherwise
    look for those in the folder; the environment sees the target's copies through its system site-packages.
    """
    arguments = ["--offline", "--no-index", "--find-links", str(folder)]
    if manifest.get("have"):
        overrides = scratch / "wheelhouse-leaves-out.txt"
        overrides.write_text("".join(f"{item} ; sys_platform == 'never'\n" for item in manifest["have"]), "utf-8")
        arguments += ["--override", str(overrides)]
    plugin = [str(folder / manifest["plugin"])] if manifest.get("plugin") else []
    return [*arguments, *manifest["requirements"], *plugin]


def add_plugin(out: Path, source: Path, sources: Sequence[str] = ()) -> dict:
    """Build the project's vLLM plugin from `source` into the wheelhouse `out` and record it in the manifest.

    `uv build` fetches the plugin's build backend (hatchling) from the same sources as the wheels: a registry,
    or --find-links folders that hold it."""
    before = set(out.glob("*.whl"))
    _run(["uv", "build", "--wheel", "--quiet", str(source), "-o", str(out), *sources], "building the vLLM plugin")
    built = [w for w in set(out.glob("*.whl")) - before if parse_wheel_filename(w.name)[0] == PLUGIN]
    if not built:  # the same version already there: uv rewrote the file in place
        built = [w for w in out.glob("*.whl") if parse_wheel_filename(w.name)[0] == PLUGIN]
    if len(built) != 1:
        raise WheelhouseError(
            f"after `uv build` {out} holds {len(built)} wheels of {PLUGIN}: remove them and build again",
            exit_code=EXIT_FAILED,
        )
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    manifest["plugin"] = built[0].name
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


# Run by the environment's own interpreter, which may lack `packaging`: a local version (2.11.0+cu130) counts
# as its public one (2.11.0).
HAVE_PROBE = """\
import importlib.metadata, sys
for item in sys.argv[1:]:
    name, _, version = item.partition("==")
    try:
        found = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        print(f"{item} (absent)")
        continue
    if found.split("+")[0] != version.split("+")[0]:
        print(f"{item} (found {found})")
"""


def missing_from(python: str | Path, have: Sequence[str]) -> list[str]:
    """Which of the packages a wheelhouse left out the interpreter `python` lacks at those versions."""
    if not have:
        return []
    probe = subprocess.run([str(python), "-c", HAVE_PROBE, *have], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return [f"{item} (unknown: {python} could not be asked)" for item in have]
    return [line for line in probe.stdout.splitlines() if line.strip()]


def left_out_error(folder: Path, missing: Sequence[str]) -> WheelhouseError:
    return WheelhouseError(
        f"the wheelhouse {folder} leaves out what the machine it was built for has, and this environment lacks "
        f"{', '.join(missing)}: build a complete one (`nox -s wheelhouse` without --have), or install into the "
        f"environment that has them"
    )


def _summary(folder: Path, manifest: dict) -> str:
    size = sum((folder / name).stat().st_size for name in manifest["wheels"])
    return f"{len(manifest['wheels'])} wheels, {size / 2**20:.0f} MiB in {folder}"


def option_set(prog: str, default_vllm: str, default_python: str, epilog: str | None = None) -> OptionSet:
    """Options of a wheelhouse build (`nox -s wheelhouse -- ...` and this module's `build`), as data."""
    options = (
        Option("--vllm", f"vLLM version (default {default_vllm})", default=default_vllm),
        Option("--python", f"the target's Python X.Y (default {default_python})", default=default_python),
        Option(
            "--platform",
            "the target's platform tag (default manylinux_2_31_x86_64: glibc 2.31 or newer)",
            # vLLM 0.26.0 needs llguidance 1.7, whose x86_64 wheels are manylinux_2_31: glibc 2.31 is its floor.
            default="manylinux_2_31_x86_64",
        ),
        Option(
            "--have",
            "a package the target has, left out with what only it needs (repeat; e.g. --have torch==2.11.0)",
            default=[],
            metavar="NAME==VERSION",
            repeat=True,
        ),
        Option("--out", "folder to download into", type=Path, required=True),
        Option("--find-links", "another folder of wheels to take from", default=[], repeat=True),
        Option("--no-index", "ask no registry: only --find-links folders", switch=True),
    )
    return OptionSet(prog, "Download the wheels an offline GPU machine installs from.", options, epilog)


def build_parser(prog: str, default_vllm: str, default_python: str) -> argparse.ArgumentParser:
    """The argparse parser of option_set()."""
    return option_set(prog, default_vllm, default_python).parser()


def build_from_options(
    options: argparse.Namespace,
    runtime: Sequence[str] = (),
    pip: Sequence[str] = (),
    plugin: Path | None = None,
) -> str:
    """Build as the parsed options say, with the vLLM plugin built from the folder `plugin` when given; return
    the one-line summary."""
    sources = [*(["--no-index"] if options.no_index else []), *(f"--find-links={f}" for f in options.find_links)]
    manifest = build(
        options.out,
        vllm=options.vllm,
        target=Target(options.python, options.platform),
        have=parse_have(options.have),
        runtime=runtime,
        sources=sources,
        pip=pip,
    )
    if plugin is not None:
        manifest = add_plugin(options.out, plugin, sources)
    with_plugin = f", and the vLLM plugin ({manifest['plugin']})" if manifest.get("plugin") else ""
    return (
        f"wheelhouse: {_summary(options.out, manifest)}{with_plugin}; left out (the target has them, or only they "
        f"need them): {len(manifest['left_out'])} packages"
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    prog = "python -m lightonocr_validation.vllm.wheelhouse"
    try:
        if argv[:1] == ["check"]:
            verify = argparse.ArgumentParser(prog=f"{prog} check", description="Exit 2 unless the wheelhouse is whole.")
            verify.add_argument("folder", type=Path)
            verify.add_argument("--vllm")
            verify.add_argument("--python")
            args = verify.parse_args(argv[1:])
            manifest = load(args.folder, vllm=args.vllm, python=args.python)
            print(f"wheelhouse complete: {_summary(args.folder, manifest)}")
        elif argv[:1] == ["build"]:
            options = build_parser(f"{prog} build", "0.26.0", "3.12").parse_args(argv[1:])
            print(build_from_options(options, plugin=_REPO_PLUGIN if _REPO_PLUGIN.is_dir() else None))
        else:
            print(f"usage: {prog} build|check ... (--help after either)", file=sys.stderr)
            return EXIT_USAGE
    except WheelhouseError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
