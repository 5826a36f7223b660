"""Turn a vLLM server log into the known cause of a failure and its fix.

Each pattern is a line users have met (lightonocr-facts.md, cpu-vllm.md, vLLM's issue tracker). The first
match in the log wins, in the order below: the most specific causes come first, since a dying server
also prints generic follow-up errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class KnownFailure:
    key: str
    # The line users read in the server log, for the guide's troubleshooting table (`pattern` is the
    # regular expression that finds its variants).
    symptom: str
    pattern: re.Pattern[str]
    cause: str
    fix: str


def _failure(key: str, symptom: str, regex: str, cause: str, fix: str) -> KnownFailure:
    return KnownFailure(key, symptom, re.compile(regex, re.IGNORECASE), cause, fix)


KNOWN_FAILURES: tuple[KnownFailure, ...] = (
    _failure(
        "transformers-import",
        "ImportError: cannot import name 'PixtralRotaryEmbedding'",
        r"cannot import name 'PixtralRotaryEmbedding'",
        "this vLLM (0.29 or 0.30) does not work with transformers 5.17 or newer",
        "install transformers==5.16.1 beside it (nox does this from the compatibility table)",
    ),
    _failure(
        "unsupported-architecture",
        "Model architectures ['LightOnOCRForConditionalGeneration'] are not supported",
        r"architectures? \[?'?LightOnOCRForConditionalGeneration'?\]? (are|is) not supported",
        "this vLLM predates LightOnOCR (added in 0.11.1)",
        "install vllm>=0.11.2: nox -s validate -- --vllm 0.11.2",
    ),
    _failure(
        "out-of-memory",
        "CUDA out of memory; No available memory for the cache blocks",
        r"CUDA out of memory|OutOfMemoryError|No available memory for the cache blocks|"
        r"larger than the available KV cache memory|insufficient memory",
        "the GPU has too little free memory for the weights plus the KV cache",
        "lower --gpu-memory-utilization (server.gpu_memory_utilization) or set server.max_model_len to 8192, "
        "and stop other processes on the GPU (nvidia-smi)",
    ),
    _failure(
        "cpu-memory",
        "Available memory on node 0 ... less than desired CPU memory utilization",
        r"Available memory on node \d+ .*less than desired",
        "the CPU backend asked for most of the machine's memory for its KV cache",
        "set VLLM_CPU_KVCACHE_SPACE (GiB), as cpu.env does: invoke serve --device cpu",
    ),
    _failure(
        "no-gpu",
        "No CUDA GPUs are available; Failed to infer device type; libcuda.so",
        r"No CUDA GPUs are available|Failed to infer device type|libcuda\.so|NVIDIA driver|"
        r"Found no NVIDIA driver|CUDA driver version is insufficient",
        "this vLLM is a CUDA build and no usable NVIDIA GPU or driver was found",
        "run on a machine with an NVIDIA GPU, or use the CPU build: nox -s validate (it chooses by itself)",
    ),
    _failure(
        "vllm-metadata",
        "PackageNotFoundError: No package metadata was found for vllm",
        r"No package metadata was found for vllm",
        "the vllm-cpu distribution is installed without the `vllm` metadata vLLM reads its version from",
        "python -m lightonocr_validation.vllm.cpu_repairs in that environment (nox -s validate does it)",
    ),
    _failure(
        "torchvision-ops",
        "RuntimeError: operator torchvision::nms does not exist",
        r"operator torchvision::nms does not exist",
        "a CUDA build of torchvision sits beside a CPU torch",
        "python -m lightonocr_validation.vllm.cpu_repairs in that environment, or install torchvision from "
        "PyTorch's CPU index",
    ),
    _failure(
        "image-processor",
        "OSError: Can't load image processor",
        r"Can't load image processor",
        "HF_HUB_ENABLE_HF_TRANSFER=1 is set but hf_transfer is not installed",
        "unset HF_HUB_ENABLE_HF_TRANSFER, or pip install hf_transfer",
    ),
    _failure(
        "offline",
        "OfflineModeIsEnabled; LocalEntryNotFoundError; couldn't connect to 'https://huggingface.co'",
        r"OfflineModeIsEnabled|LocalEntryNotFoundError|couldn't connect to 'https://huggingface\.co'|"
        r"Cannot find the requested files in the local cache",
        "the weights are not in the local cache and the hub cannot be reached",
        "download them once with network access (huggingface-cli download lightonai/LightOnOCR-2-1B), "
        "or serve a local folder: invoke serve --model PATH",
    ),
    _failure(
        "gated",
        "401 Client Error; gated repo (while downloading the weights)",
        r"401 Client Error|gated repo|Invalid credentials in Authorization header",
        "the hub refused the download",
        "set HF_TOKEN to a token that may read the model",
    ),
    _failure(
        "unknown-flag",
        "vllm serve: error: unrecognized arguments: --some-flag",
        r"unrecognized arguments|error: argument [^:]+: invalid|Unknown compilation config|extra_forbidden",
        "this vLLM does not accept a flag (or a value) of the command",
        "drop that flag, or install the vLLM version whose flags you used (vllm serve --help lists them)",
    ),
    _failure(
        "address-in-use",
        "Address already in use",
        r"Address already in use|address already in use",
        "another process listens on the port",
        "stop it (invoke stop, if it is ours) or choose another: invoke serve --port 8001",
    ),
)


def diagnose(lines: Iterable[str]) -> KnownFailure | None:
    text = "\n".join(lines)
    return next((failure for failure in KNOWN_FAILURES if failure.pattern.search(text)), None)
