"""Pack a wheelhouse's vLLM for the lent GPU machine: install into a folder, prune, tar | xz, parts of 44 MiB.

Workplace-specific (see README.md beside this file): the lent machine has no network, runs one command at
a time and takes at most 64 MiB of files with each. It already has Python 3.12, torch, triton and numpy in
an environment, so vLLM goes there as a folder on PYTHONPATH over that environment, in parts of a
compressed archive, one part per command.

``python tools/lent-gpu/pack.py --wheelhouse DIR`` (a wheelhouse from ``nox -s wheelhouse``; needs uv, tar
and xz). The parts land in lent-gpu-parts/ (git-ignored) with their SHA256SUMS.
"""

from __future__ import annotations

import argparse
import hashlib
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from lightonocr_validation.vllm import wheelhouse  # noqa: E402

PARTS = ROOT / "lent-gpu-parts"
MIB = 2**20

# What LightOnOCR on a Hopper GPU never loads, read from vLLM 0.26.0's imports (each is imported lazily or
# behind an availability check, so its absence only switches off a path this model does not take). Paths are
# relative to the install folder; a dist-info goes with its package so that metadata agrees with the files.
PRUNE: tuple[tuple[str, str], ...] = (
    (
        "vllm/vllm_flash_attn/_vllm_fa2_C.abi3.so",
        "FlashAttention 2: imported in a try; on compute capability 9 (Hopper) vLLM picks FlashAttention 3. "
        "Keep it (--keep-fa2) for an Ampere or Ada GPU",
    ),
    ("vllm/vllm-rs", "the Rust front end, run only with VLLM_USE_RUST_FRONTEND"),
    ("tokenspeed_mla*", "MLA attention (DeepSeek models), imported inside its backend"),
    ("tokenspeed_triton*", "tokenspeed_mla's Triton"),
    ("tilelang*", "the mHC kernels of other models, imported inside them (has_tilelang)"),
    ("z3*", "tilelang's solver"),
    (
        "nvidia_cutlass_dsl*",
        "CuTe DSL: FlashAttention 4 and router GEMMs; the GEMM warm-up checks for it and skips without it",
    ),
    ("quack*", "FlashAttention 4's helpers (the cute package), for Blackwell"),
    ("humming*", "quantized GEMM kernels, behind has_humming; LightOnOCR is bf16"),
    (
        "nvidia",
        "the cu13 compilers humming and CuTe pull (nvcc, nvvm, crt, cccl, nvdisasm) and a CUDA runtime and "
        "NVRTC that would shadow the machine's own, which its torch loads",
    ),
    ("nvidia_cuda_*.dist-info", "the metadata of those nvidia files"),
    ("nvidia_nvvm-*.dist-info", "the metadata of those nvidia files"),
    ("PyNvVideoCodec", "video decoding, imported inside vllm/multimodal/video.py"),
    ("pynvvideocodec*", "its libraries and metadata"),
    ("torchcodec*", "video decoding, imported inside vllm/multimodal/video.py"),
    ("bin/z3", "the z3 solver's program (tilelang's; the pattern above leaves bin/ alone)"),
    (
        "cv2",
        "OpenCV: imported in a try by vllm/multimodal/video.py (video) and behind is_opencv_installed in "
        "mistral_common's image tokenizer; LightOnOCR's pages go through the HF processor (PIL, torchvision)",
    ),
    ("opencv_python_headless*", "OpenCV's libraries and metadata"),
    (
        "numba",
        "imported only inside n-gram speculative decoding and two other models' processors (Kimi-K2.5, Inkling)",
    ),
    ("numba-*.dist-info", "numba's metadata"),
    ("llvmlite*", "numba's compiler"),
)


class PackError(Exception):
    pass


def install(wheels: Path, manifest: dict, target: Path) -> None:
    """Unpack every wheel of the wheelhouse into `target` for the wheelhouse's Python and platform."""
    platform = wheelhouse.Target(manifest["python"], manifest["platform"])
    command = [
        "uv",
        "pip",
        "install",
        "--quiet",
        "--target",
        str(target),
        "--no-deps",
        "--offline",
        "--no-index",
        # Own copies, not hard links into uv's cache: another install linking the same cache file changes
        # its ctime, and tar then stops with "file changed as we read it".
        "--link-mode",
        "copy",
        "--python-version",
        platform.python,
        "--python-platform",
        platform.uv_platform,
        *(str(wheels / name) for name in manifest["wheels"]),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PackError(f"installing the wheelhouse into {target} failed: {result.stderr.strip()[-400:]}")


def size(path: Path) -> int:
    if path.is_file() or path.is_symlink():
        return path.lstat().st_size
    return sum(f.lstat().st_size for f in path.rglob("*") if f.is_file() or f.is_symlink())


def prune(target: Path, keep_fa2: bool = False) -> list[tuple[str, int]]:
    """Remove what PRUNE names; return (pattern, bytes removed) for each pattern."""
    removed = []
    for pattern, _why in PRUNE:
        if keep_fa2 and "fa2" in pattern:
            continue
        freed = 0
        for path in sorted(target.glob(pattern)):
            freed += size(path)
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        removed.append((pattern, freed))
    return removed


def pack(target: Path, out: Path, name: str, part_bytes: int) -> list[Path]:
    """tar | xz -6 | split into parts of at most `part_bytes`; write SHA256SUMS; return the parts."""
    for old in out.glob(f"{name}.part*"):
        old.unlink()
    prefix = out / f"{name}.part"
    pipeline = (
        f"set -o pipefail; tar -C {_q(target)} -cf - . | xz -6 -T0 -c | split -b {part_bytes} -d -a 2 - {_q(prefix)}"
    )
    result = subprocess.run(["bash", "-c", pipeline], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PackError(f"packing failed: {result.stderr.strip()[-400:]}")
    parts = sorted(out.glob(f"{name}.part*"))
    sums = [f"{hashlib.sha256(part.read_bytes()).hexdigest()}  {part.name}\n" for part in parts]
    (out / "SHA256SUMS").write_text("".join(sums), encoding="utf-8")
    return parts


def _q(path: Path) -> str:
    return shlex.quote(str(path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheelhouse", type=Path, required=True, help="a folder from `nox -s wheelhouse`")
    parser.add_argument("--out", type=Path, default=PARTS, help=f"where the parts go (default {PARTS.name}/)")
    # A call carries 64 MiB: a part of 44 MiB leaves room for the checkout (7.0 MiB of tracked files on
    # 2026-12-07, the result files growing) and a full-size model or a wheel carried with the same call.
    parser.add_argument("--part-mib", type=float, default=44, help="largest part in MiB (default 44)")
    parser.add_argument("--keep-fa2", action="store_true", help="keep FlashAttention 2 (a GPU older than Hopper)")
    parser.add_argument("--keep-stage", type=Path, help="install into this folder and keep it (to inspect)")
    args = parser.parse_args(argv)
    try:
        manifest = wheelhouse.load(args.wheelhouse)
        args.out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="lent-gpu-", dir=args.out) as scratch:
            target = args.keep_stage or Path(scratch) / "site"
            if target.exists():
                shutil.rmtree(target)
            install(args.wheelhouse, manifest, target)
            installed = size(target)
            removed = prune(target, keep_fa2=args.keep_fa2)
            kept = size(target)
            name = f"vllm-{manifest['vllm']}-py{manifest['python'].replace('.', '')}.tar.xz"
            parts = pack(target, args.out, name, int(args.part_mib * MIB))
    except (wheelhouse.WheelhouseError, PackError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2 if isinstance(error, wheelhouse.WheelhouseError) else 1
    print(f"installed {len(manifest['wheels'])} wheels: {installed / MIB:.0f} MiB")
    for pattern, freed in removed:
        print(f"  pruned {pattern:<45} {freed / MIB:7.1f} MiB" + ("  (matched nothing)" if not freed else ""))
    print(f"kept {kept / MIB:.0f} MiB; packed into {len(parts)} parts in {args.out}:")
    for part in parts:
        print(f"  {part.name}  {part.stat().st_size / MIB:.1f} MiB")
    print(f"  total {sum(p.stat().st_size for p in parts) / MIB:.1f} MiB; SHA256SUMS beside them")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
