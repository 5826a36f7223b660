"""What accelerator this machine has, as far as serving LightOnOCR is concerned."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

# LightOnOCR-2-1B's 2 GB of weights, activations and a useful KV cache fit from 8 GB of GPU memory.
MIN_GPU_MEMORY_MIB = 8 * 1024
# One CPU vLLM server's resident memory, measured on vLLM 0.32.0's CPU build with cpu.env's 1 GiB KV cache:
# 3.1-3.5 GB (its engine and API processes together). A fleet of CPU servers is bounded by it and by the cores.
CPU_SERVER_BYTES = 3_500_000_000


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


@dataclass(frozen=True)
class Cpu:
    cores: int  # the cores this process may run on
    memory_bytes: int  # the machine's memory (MemTotal), 0 when unknown


def this_cpu() -> Cpu:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    memory = 0
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    memory = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        memory = 0
    return Cpu(cores, memory)


def cpu_servers_max(cpu: Cpu) -> int:
    """How many CPU vLLM servers this machine can run at once: one a core, each with CPU_SERVER_BYTES."""
    by_memory = cpu.memory_bytes // CPU_SERVER_BYTES if cpu.memory_bytes else cpu.cores
    return max(1, min(cpu.cores, by_memory))


def describe(gpus: list[Gpu]) -> str:
    if not gpus:
        return "no NVIDIA GPU (nvidia-smi finds none)"
    return ", ".join(f"{gpu.name} ({gpu.memory_mib / 1024:.0f} GiB)" for gpu in gpus)


def usable_gpu(gpus: list[Gpu]) -> Gpu | None:
    return next((gpu for gpu in gpus if gpu.memory_mib >= MIN_GPU_MEMORY_MIB), None)
