"""What accelerator this machine has, as far as serving LightOnOCR is concerned."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

# LightOnOCR-2-1B's 2 GB of weights, activations and a useful KV cache fit from 8 GB of GPU memory.
MIN_GPU_MEMORY_MIB = 8 * 1024


@dataclass(frozen=True)
class Gpu:
    name: str
    memory_mib: int


def nvidia_gpus() -> list[Gpu]:
    """The NVIDIA GPUs the driver reports; empty when there is no driver or no GPU."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        proc = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    gpus = []
    for line in proc.stdout.splitlines() if proc.returncode == 0 else []:
        name, _, memory = line.rpartition(",")
        if name and memory.strip().isdigit():
            gpus.append(Gpu(name.strip(), int(memory.strip())))
    return gpus


def describe(gpus: list[Gpu]) -> str:
    if not gpus:
        return "no NVIDIA GPU (nvidia-smi finds none)"
    return ", ".join(f"{gpu.name} ({gpu.memory_mib / 1024:.0f} GiB)" for gpu in gpus)


def usable_gpu(gpus: list[Gpu]) -> Gpu | None:
    return next((gpu for gpu in gpus if gpu.memory_mib >= MIN_GPU_MEMORY_MIB), None)
