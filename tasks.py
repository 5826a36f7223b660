"""Actions on a LightOnOCR vLLM server: serve it, check it, stop it; build the tiny model and the samples.

Invoke owns actions, nox owns environments: run these inside the environment `nox -s validate` built
(or any environment with vLLM), from the repository root. Defaults live in
lightonocr_validation/core/settings.py and can be overridden by invoke.yaml, INVOKE_* variables and flags.
"""

# ruff: noqa: E402 (the hold of Ctrl-C comes before the imports that take seconds)
from __future__ import annotations

import sys

# First, before the imports below take their seconds: a Ctrl-C from here until a task runs is held, then
# handed to it (invoke's own Program would exit 1 without a word); see lightonocr_validation/core/interrupts.py.
from lightonocr_validation.core import interrupts

interrupts.hold_signals(sys.argv)

import dataclasses
import functools
import os
import shlex
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from invoke import Collection, Context, Exit, task
from rich.console import Console

from lightonocr_validation.core import cli, config, model_profiles
from lightonocr_validation.core.config import Config
from lightonocr_validation.core.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    UserError,
    print_error,
    print_warning,
)
from lightonocr_validation.core.hardware import describe, nvidia_gpus, this_cpu
from lightonocr_validation.core.settings import DEFAULTS
from lightonocr_validation.serve import process as serving

ROOT = Path(__file__).resolve().parent
console = Console(stderr=False, highlight=False)
errors = Console(stderr=True, highlight=False)
# --model-profile, as serve, check, bench, tune and tiny-model take it (the names are model_profiles' rows).
MODEL_PROFILE_HELP = (
    f"Which LightOnOCR the model is: {', '.join(DEFAULTS['model_profiles'])} (default: model.profile, else told "
    "by the model's name, a folder's config.json or the server's /v1/models root)."
)


def _user_errors(body: Callable[..., None]) -> Callable[..., None]:
    """A task body whose UserError becomes one red line on stderr and its documented exit code; no traceback."""

    @functools.wraps(body)
    def run(c: Context, *args: Any, **kwargs: Any) -> None:
        try:
            body(c, *args, **kwargs)
        except UserError as error:
            print_error(errors, str(error))
            raise Exit(code=error.code) from None

    return run


def _config(c: Context, task: str, **flags: Any) -> Config:
    """The typed configuration for `task`, built once: invoke's tree (settings.DEFAULTS, invoke.yaml,
    INVOKE_* variables) read and checked by config.load, then the task's flags on top (config.apply_flags)."""
    return config.apply_flags(config.load(c.config), task, ROOT, **flags)


def _resolve_device(device: str) -> str:
    if config.flag_choice("--device", device, config.DEVICES) != "auto":
        return device
    return "cuda" if nvidia_gpus() else "cpu"


def _remainder_args(remainder: str, argv: list[str] | None = None) -> list[str]:
    """The arguments after `--`, as the shell passed them.

    Invoke hands tasks the remainder joined with spaces, which loses the quotes of a JSON value
    (`-- --limit-mm-per-prompt '{"image": 2}'` would reach vLLM as two words without quotes). The
    command line still has the words as given: take them from there whenever they join to that remainder.
    """
    if not remainder:
        return []
    argv = sys.argv if argv is None else argv
    if "--" in argv:
        words = argv[argv.index("--") + 1 :]
        if " ".join(words) == remainder:
            return words
    return shlex.split(remainder)


@task(
    help={
        "model": "Hub id or local folder to serve (default: model.id, lightonai/LightOnOCR-2-1B).",
        "served-model-name": "Id the server lists and requests name (default: model.served_name, else the model).",
        "host": "Address to bind (default: server.host, 127.0.0.1).",
        "port": "Port to bind (default: server.port, 8000).",
        "tiny": "Serve the random-weight tiny model with LightOnOCR's architecture (built if missing).",
        "full-size": "Serve LightOnOCR-2-1B's full-size architecture with random weights (--load-format dummy).",
        "device": "auto (cuda when nvidia-smi finds a GPU, else cpu), cuda or cpu; cpu adds cpu.env.",
        "detach": "Return once the server is ready and leave it running; stop it with `invoke stop`.",
        "dry-run": "Print the vllm serve command and exit.",
        "timeout": "Seconds to wait for readiness (default: server.startup_timeout).",
        "profile": "Extra vllm flags from server.profiles: card (none) or tuned (default: server.profile).",
        "replicas": "Serve N GPUs as N servers: GPU i (CUDA_VISIBLE_DEVICES), port PORT+i, log per port. On the "
        "CPU, at most one server a core with 3.5 GB of memory each; more is refused before anything starts.",
        "data-parallel-size": "Serve N GPUs as one server with vLLM's --data-parallel-size N (one port).",
        "model-profile": MODEL_PROFILE_HELP,
    },
    auto_shortflags=False,
)
@_user_errors
def serve(
    c: Context,
    model: str | None = None,
    served_model_name: str | None = None,
    host: str | None = None,
    port: int | None = None,
    tiny: bool = False,
    full_size: bool = False,
    device: str = "auto",
    detach: bool = False,
    dry_run: bool = False,
    timeout: float | None = None,
    profile: str | None = None,
    replicas: int | None = None,
    data_parallel_size: int | None = None,
    model_profile: str | None = None,
) -> None:
    """Serve LightOnOCR with the model card's vllm serve command; arguments after -- go to vllm.

    The model's profile (told by its name, or --model-profile) adds its own flags: LightOnOCR-3's
    --max-model-len, and for the Qwen3.5-based 0.8B and 4B the chat template's enable_thinking false.

    Ctrl-C (or SIGTERM) stops every server's process group, gracefully then killed after
    server.stop_timeout, and exits 130; a second Ctrl-C kills them at once. A server that dies at start
    (any replica: the others are stopped) exits 1 with its log's last lines and the known cause and fix.
    """
    from lightonocr_validation.serve import fleet as fleet_serve
    from lightonocr_validation.serve.command import ServeOptions, run_serve

    config.flag_choice("--device", device, config.DEVICES)  # a dry run refuses what the real run would
    cfg = _config(
        c,
        "serve",
        tiny=tiny,
        full_size=full_size,
        model=model,
        served_model_name=served_model_name,
        host=host,
        port=port,
        timeout=timeout,
        profile=profile,
        model_profile=model_profile,
    )
    local = config.local_model(cfg, tiny=tiny, full_size=full_size)
    chosen = _profile_to_serve(cfg)
    extra = [
        *(model_profiles.serve_args(chosen, cfg.server.max_model_len) if chosen else ()),
        *cfg.server.profile_args(),
        *_remainder_args(getattr(c, "remainder", "")),
    ]
    if local is not None:
        extra = [*local.serve_args, *extra]
    visible = os.environ.get(fleet_serve.DEVICES_VARIABLE)
    plan = fleet_serve.plan(
        cfg.model,
        cfg.server,
        extra,
        replicas=config.flag_value("--replicas", replicas, int),
        data_parallel_size=config.flag_value("--data-parallel-size", data_parallel_size, int),
        log_file=ROOT / cfg.server.log_file,
        visible=visible,
    )
    if dry_run:
        for server in plan.servers:
            console.print(server.rendered(), markup=False, soft_wrap=True)
        return
    resolved = _resolve_device(device)
    if resolved == "cuda":
        fleet_serve.check_gpus(plan, nvidia_gpus(), visible)
    else:
        fleet_serve.check_cpu(plan, this_cpu())
    env = dict(cfg.server.env)
    if resolved == "cpu":
        env = {**cfg.cpu.env, **env}
    if local is not None and not (Path(cfg.model.id) / "config.json").is_file():
        tiny_model(c, full_size=full_size, model_profile=local.profile)
    errors.print(f"device: {resolved} ({describe(nvidia_gpus())})", markup=False)
    if chosen is not None:
        errors.print(f"model profile: {chosen.describe()}", markup=False)
    options = ServeOptions(
        plan=plan,
        model_name=cfg.model.served,
        env=env,
        pid_file=ROOT / cfg.server.pid_file,
        detach=detach,
        startup_timeout=cfg.server.startup_timeout,
        stop_timeout=cfg.server.stop_timeout,
        api_key={**os.environ, **env}.get(serving.API_KEY_VARIABLE, ""),
    )
    _stop_on_sigterm()
    code = run_serve(options, console=console, errors=errors)
    if code:
        raise Exit(code=code)


def _profile_to_serve(cfg: Config) -> model_profiles.ModelProfile | None:
    """The profile of the model to serve, told by its id, its served name or its folder's config.json; None
    when nothing tells it (a folder of Pixtral-based weights under a name of its own): it is then served with the
    model card's flags, as before profiles, and said so; `invoke check` asks for --model-profile before any
    verdict. A --model-profile that names no profile stays an error."""
    try:
        return model_profiles.profile_for(cfg.model.id, cfg, root=cfg.model.served)
    except model_profiles.ProfileError:
        if cfg.model.profile:
            raise
        names = ", ".join(cfg.model_profiles)
        print_warning(
            errors,
            f"no model profile tells what {cfg.model.id!r} (served as {cfg.model.served!r}) is: serving with the model "
            f"card's flags alone; for a LightOnOCR-3 checkpoint pass --model-profile NAME (one of {names})",
        )
        return None


def _stop_on_sigterm() -> None:
    """SIGTERM (from nox, CI or a service manager) stops the server tree like Ctrl-C does."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


@task(help={"timeout": "Seconds to wait for a graceful stop before killing (default: server.stop_timeout)."})
@_user_errors
def stop(c: Context, timeout: float | None = None) -> None:
    """Stop the servers `invoke serve --detach` started, each proven ours first, with their process trees.

    Before any signal, each pid in the pid file must still be the process recorded: same start time, same
    command line, leader of its process group. A pid now held by another program is left alone and the
    stale file removed: exit 0, since no server of ours runs. A process that started with ours but now runs
    another command line is not signalled, the file is kept: exit 2. A pid file that is not ours: exit 2.
    Ctrl-C during the stop kills the servers at once: exit 130.
    """
    from lightonocr_validation.serve.stop import run_stop

    cfg = _config(c, "stop", timeout=timeout)
    code = run_stop(ROOT / cfg.server.pid_file, cfg.server.stop_timeout, console=console, errors=errors)
    if code:
        raise Exit(code=code)


@task(
    help={
        "out": "Folder to write the checkpoint into (default: tiny_model.path, full_size_model.path; a suffix "
        "for another profile's).",
        "full-size": "The profile's real dimensions and tokenizer ids, no weights: for --load-format dummy.",
        "model-profile": "Whose architecture: " + MODEL_PROFILE_HELP,
    },
    auto_shortflags=False,
)
@_user_errors
def tiny_model(c: Context, out: str | None = None, full_size: bool = False, model_profile: str | None = None) -> None:
    """Build the random-weight tiny model with LightOnOCR's architecture (needs torch, transformers).

    Pixtral-based (LightOnOCR-1B-1025, -2-1B, -3-1B) by default; Qwen3.5-based with --model-profile
    LightOnOCR-3-0.8B or -3-4B. With --full-size, that profile's real shapes and no weights."""
    cfg = _config(c, "tiny_model", model_profile=model_profile)
    local = config.local_model(cfg, tiny=not full_size, full_size=full_size)
    assert local is not None
    target = Path(out) if out else (ROOT / local.path).resolve()
    result = c.run(
        f"{shlex.quote(sys.executable)} -m lightonocr_validation.serve.build_model {shlex.quote(str(target))}"
        + (" --full-size" if full_size else "")
        + f" --model-profile {shlex.quote(local.profile)}",
        warn=True,
        hide="stdout",
    )
    kind = f"{local.profile} full-size model" if full_size else f"{local.architecture} tiny model"
    if not result.ok:
        raise UserError(f"the {kind} could not be built into {target} (see above)", EXIT_USAGE)
    console.print(f"{kind}: {result.stdout.strip()}", markup=False)


@task(help={"check": "Rebuild into a temporary folder and fail if any committed sample differs (writes nothing)."})
@_user_errors
def samples(c: Context, check: bool = False) -> None:
    """Rebuild samples/ (pages, ground truth, manifest) from the page sources in samples/src, byte for byte."""
    result = c.run(
        f"{shlex.quote(sys.executable)} -m lightonocr_validation.samples_build" + (" --check" if check else ""),
        warn=True,
    )
    if not result.ok:
        raise Exit(code=result.exited or EXIT_FAILED)


# The options that say which server to reach and how: `check` and `bench` take them alike.
TARGET_HELP = {
    "port": "Port for a bare host name or IP (default: check.port, 8000).",
    "model": "Model id the server must list and requests name (default: model.served_name, else model.id).",
    "insecure": "Do not verify TLS certificates (warned about; prefer a CA bundle in the host profile).",
    "timeout": "Seconds for one request in all, every byte of the answer included (default: check.timeout).",
}
REPLICAS_HELP = (
    "A fleet of N replicas: the servers at the host's port, port+1, ..., port+N-1 (as `invoke serve --replicas N` "
    "starts them)."
)


@task(
    iterable=["host", "only", "skip", "tag"],
    help={
        **TARGET_HELP,
        "host": "Server to check: host name, IP, URL (https://host/base) or a check.hosts profile; repeat for a fleet.",
        "tiny": "The server serves the random-weight tiny model: text-judging checks skip with that reason.",
        "full-size": "The server serves the full-size model with random weights (`invoke serve --full-size`).",
        "only": "Run only these check ids (repeat or comma-separate).",
        "skip": "Leave these check ids out (repeat or comma-separate).",
        "tag": "Run only checks with this tag or family (repeat or comma-separate).",
        "list": "List every check (id, family, title, tags) and exit.",
        "report-json": "Write the JSON report (schema in docs/report-schema.md) to this path.",
        "junit": "Write JUnit XML for CI systems to this path.",
        "report-md": "Write a Markdown report to this path.",
        "pages": "Grade your own pages in this folder instead of the bundled samples (see the guide's layouts).",
        "mode": "plain or grounding: only that mode's checks (grounding: LightOnOCR-3 only). Default: both, "
        "the grounding checks skipping for a model without the mode.",
        "replicas": REPLICAS_HELP + " A verdict per replica, and the fleet's: validated only when every one is.",
        "deadline": "Seconds the whole run may take; past it unfinished checks are errors, exit 1 (default: "
        "check.deadline, auto: derived from the pages sent and --timeout).",
        "model-profile": MODEL_PROFILE_HELP,
    },
    auto_shortflags=False,
)
@_user_errors
def check(
    c: Context,
    host: list[str] | None = None,
    port: int | None = None,
    model: str | None = None,
    tiny: bool = False,
    full_size: bool = False,
    only: list[str] | None = None,
    skip: list[str] | None = None,
    tag: list[str] | None = None,
    list: bool = False,
    report_json: str | None = None,
    junit: str | None = None,
    report_md: str | None = None,
    insecure: bool = False,
    timeout: float | None = None,
    pages: str | None = None,
    replicas: int | None = None,
    deadline: str | None = None,
    model_profile: str | None = None,
    mode: str | None = None,
) -> None:
    """Validate a running server: every check, a verdict, and exit 0 (validated), 1 (issue) or 2 (unreachable)."""
    from lightonocr_validation.check.command import CheckOptions, list_checks, run_check
    from lightonocr_validation.core.interrupts import leave_now_if_stuck
    from lightonocr_validation.grounding.mode import MODES

    if list:
        list_checks(console)
        return
    options = CheckOptions(
        config=_config(
            c,
            "check",
            tiny=tiny,
            full_size=full_size,
            model=model,
            port=port,
            timeout=timeout,
            deadline=deadline,
            model_profile=model_profile,
        ),
        hosts=host or [],
        only=only or [],
        skip=skip or [],
        tags=tag or [],
        report_json=Path(report_json) if report_json else None,
        junit=Path(junit) if junit else None,
        report_md=Path(report_md) if report_md else None,
        insecure=insecure,
        pages=Path(pages) if pages else None,
        replicas=1 if replicas is None else config.flag_value("--replicas", replicas, int),
        mode=config.flag_choice("--mode", mode, MODES) if mode else "",
    )
    code = run_check(options, console=console, errors=errors)
    leave_now_if_stuck(code)  # a stopped run's abandoned request may still be opening its connection
    if code:
        raise Exit(code=code)


@task(
    iterable=["host", "page"],
    help={
        **TARGET_HELP,
        "host": "Server to load: host name, IP, URL or a check.hosts profile; repeat for a fleet (figures per host "
        "and for the fleet).",
        "tiny": "The server serves the random-weight tiny model: accuracy is not judged.",
        "full-size": "The server serves the random-weight full-size model (serve --full-size): accuracy not judged.",
        "concurrency": "Requests in flight (default: bench.concurrency, 4); with --rate, the most in flight.",
        "sweep": "Concurrency 1, 2, 4, ... until pages/s rises less than bench.min_gain (5 %) or a request fails.",
        "max-concurrency": "Largest concurrency a sweep tries (default: bench.max_concurrency).",
        "rate": "Send this many requests per second (arrivals from --arrival) instead of a fixed concurrency.",
        "arrival": "constant (every 1/rate s) or poisson (random gaps drawn from --seed).",
        "seed": "Seed of the Poisson arrivals (default 0): the same seed sends at the same moments.",
        "requests": "Measured requests per load point (default: bench.requests, 64).",
        "duration": "Measure each load point for this many seconds instead of a number of requests.",
        "warmup": "Warm-up requests before each point, left out of every figure (default: one per worker).",
        "max-tokens": "Fixed output length: every answer exactly N tokens (vLLM's ignore_eos); accuracy is not "
        "judged then.",
        "answer-tokens": "Answer lengths drawn per request, sent as its max_tokens with ignore_eos: fixed:N, "
        "uniform:A-B or lognormal:MEDIAN,SIGMA[,MAX] (drawn from --seed); accuracy is not judged then.",
        "waves": "Send N x concurrency requests per load point: 3 or more gives a steady state (the ramps left "
        "out; a point with fewer is marked one wave).",
        "ramp": "Stagger the start: worker k sends its first request k x SECONDS / concurrency after the clock.",
        "gpu": "The server's GPU for the limits beside the figures (H100, H200, A100, L40S, L4); default: this "
        "machine's when the host is local, else unknown.",
        "temperature": "Sampling temperature, always sent (default: sampling.temperature).",
        "no-stream": "Plain JSON answers: no time to first token or inter-token latency.",
        "slo": 'Latency objective, e.g. "p95_e2e<=20s": met or exit 1; with --sweep, the highest load that meets it.',
        "gpu-hour-price": "Price of one server-hour, for the cost per 1000 pages (default: bench.gpu_hour_price).",
        "runs": "Repeat every load point N times (default 1) and give a 95 % interval for each figure.",
        "page": "Send only these sample pages (repeat or comma-separate; default: every sample page).",
        "json": "Write the result JSON here (default: bench.result_dir/bench-DATE-TIME.json).",
        "html": "Also write the offline HTML report (charts, figures, provenance) here.",
        "charts": "Also write the charts as PNG files into this folder.",
        "compare": "Compare with this baseline result (docs/bench.md): exit 1 when a figure got worse beyond "
        "its tolerance.",
        "save-baseline": "Also write this run as a baseline to compare later runs with (no per-request lists).",
        "replicas": REPLICAS_HELP + " Load flags are per replica; one replica alone is measured first (one GPU's "
        "pages/s, unless --single-gpu), then the fleet: figures per replica, in total, and the scaling efficiency.",
        "gpus": "The one server is data parallel over N GPUs (vllm --data-parallel-size N): load flags are per GPU, "
        "the server gets N times them; needs --single-gpu.",
        "single-gpu": "A one-GPU bench result (--json) to set the fleet against: scaling efficiency = total pages/s "
        "/ (N x its pages/s).",
        "deadline": "Seconds the whole run may take, a hard ceiling over the plan: past it the result keeps what "
        "finished, marked partial, exit 1 (default: bench.deadline, 0: none).",
        "model-profile": MODEL_PROFILE_HELP,
        "mode": "plain (default) or grounding: every request asks for LightOnOCR-3's grounding mode (the image plus "
        "`grounding`) and every answer is judged as a grounding answer (blocks, boxes, labels, text).",
        "max-error-rate": "Share of a host's requests that may fail before the run fails, exit 1 (default: "
        "bench.max_error_rate, 0.05; 0: none may). A server gone mid-run stops the run, exit 2 (docs/bench.md).",
    },
    auto_shortflags=False,
)
@_user_errors
def bench(
    c: Context,
    host: list[str] | None = None,
    port: int | None = None,
    model: str | None = None,
    tiny: bool = False,
    full_size: bool = False,
    insecure: bool = False,
    timeout: float | None = None,
    concurrency: int | None = None,
    sweep: bool = False,
    max_concurrency: int | None = None,
    rate: float | None = None,
    arrival: str = "constant",
    seed: int | None = None,
    requests: int | None = None,
    duration: float | None = None,
    warmup: int | None = None,
    max_tokens: int | None = None,
    answer_tokens: str | None = None,
    waves: float | None = None,
    ramp: float | None = None,
    gpu: str | None = None,
    temperature: float | None = None,
    no_stream: bool = False,
    slo: str | None = None,
    gpu_hour_price: float | None = None,
    runs: int | None = None,
    page: list[str] | None = None,
    json: str | None = None,
    html: str | None = None,
    charts: str | None = None,
    compare: str | None = None,
    save_baseline: str | None = None,
    replicas: int | None = None,
    gpus: int | None = None,
    single_gpu: str | None = None,
    deadline: str | None = None,
    model_profile: str | None = None,
    mode: str = "plain",
    max_error_rate: float | None = None,
) -> None:
    """Load a running server: pages/s, latency and accuracy under load; exit 0, 1 (objective missed) or 2."""
    from lightonocr_validation.bench.command import BenchOptions, run_bench
    from lightonocr_validation.core.interrupts import leave_now_if_stuck

    # Flags without a typed default arrive as text: read them here, so a typo is one line, not a traceback.
    concurrency, requests, warmup, max_tokens, gpus, seed, runs = (
        config.flag_value(flag, value, int)
        for flag, value in (
            ("--concurrency", concurrency),
            ("--requests", requests),
            ("--warmup", warmup),
            ("--max-tokens", max_tokens),
            ("--gpus", gpus),
            ("--seed", seed),
            ("--runs", runs),
        )
    )
    rate, duration, temperature, waves, ramp = (
        config.flag_value(flag, value, float)
        for flag, value in (
            ("--rate", rate),
            ("--duration", duration),
            ("--temperature", temperature),
            ("--waves", waves),
            ("--ramp", ramp),
        )
    )
    cfg = _config(
        c,
        "bench",
        tiny=tiny,
        full_size=full_size,
        model=model,
        port=port,
        timeout=timeout,
        max_concurrency=max_concurrency,
        gpu_hour_price=gpu_hour_price,
        deadline=deadline,
        model_profile=model_profile,
        max_error_rate=max_error_rate,
    )
    options = BenchOptions(
        config=cfg,
        hosts=host or [],
        insecure=insecure,
        concurrency=concurrency,
        sweep=sweep,
        rate=rate,
        arrival=arrival,
        seed=seed or 0,
        requests=requests,
        duration=duration,
        warmup=warmup,
        max_tokens=max_tokens,
        answer_tokens=answer_tokens,
        waves=waves,
        ramp=ramp or 0.0,
        gpu=gpu,
        temperature=temperature,
        stream=not no_stream,
        slo=slo,
        runs=runs or 1,
        pages=page or [],
        result_path=Path(json) if json else None,
        html=Path(html) if html else None,
        charts=Path(charts) if charts else None,
        compare=Path(compare) if compare else None,
        save_baseline=Path(save_baseline) if save_baseline else None,
        replicas=1 if replicas is None else config.flag_value("--replicas", replicas, int),
        gpus=gpus,
        single_gpu=Path(single_gpu) if single_gpu else None,
        request_mode=mode,
    )
    code = run_bench(options, console=console, errors=errors)
    leave_now_if_stuck(code)  # a stopped run's abandoned request may still be opening its connection
    if code:
        raise Exit(code=code)


@task(
    iterable=["only", "page"],
    help={
        "page": "Send only these sample pages (repeat or comma-separate; default: every sample page).",
        "grid": "Configurations to try: a built-in grid (encoder, steady) or a YAML/JSON file (default: tune.grid).",
        "only": "Measure only these configurations of the grid (repeat or comma-separate); the rest stay as "
        "recorded in --out.",
        "fresh": "Measure again the configurations --out already records.",
        "model": "Hub id or local folder to serve (default: model.id).",
        "served-model-name": "Id the server lists and requests name (default: model.served_name, else the model).",
        "tiny": "Serve the random-weight tiny model (built if missing).",
        "full-size": "Serve LightOnOCR-2-1B's full-size architecture with random weights (--load-format dummy).",
        "port": "Port every configuration's server binds (default: server.port).",
        "device": "auto, cuda or cpu (cpu adds cpu.env), as for invoke serve.",
        "concurrency": "Requests in flight while measuring (default: tune.concurrency, 64).",
        "max-tokens": "Fixed output length of every answer, ignore_eos (default: tune.max_tokens, 1024).",
        "requests": "Measured requests per configuration (default: tune.requests, 256: four waves at 64; at least "
        "three waves of --concurrency give a steady state).",
        "warmup": "Warm-up requests before measuring (default: one per request in flight).",
        "out": "Folder for the records, logs, bench results and tune.json (default: tune.out).",
        "start-timeout": "Seconds one configuration may take to become ready (default: tune.start_timeout).",
        "model-profile": MODEL_PROFILE_HELP,
    },
    auto_shortflags=False,
)
@_user_errors
def tune(
    c: Context,
    grid: str | None = None,
    only: list[str] | None = None,
    fresh: bool = False,
    model: str | None = None,
    served_model_name: str | None = None,
    tiny: bool = False,
    full_size: bool = False,
    port: int | None = None,
    device: str = "auto",
    concurrency: int | None = None,
    max_tokens: int | None = None,
    requests: int | None = None,
    warmup: int | None = None,
    out: str | None = None,
    start_timeout: float | None = None,
    model_profile: str | None = None,
    page: list[str] | None = None,
) -> None:
    """Serve each configuration of a grid in turn, bench it, stop it: the best flags and their gain over the card's."""
    config.flag_choice("--device", device, config.DEVICES)
    from lightonocr_validation.bench.command import BenchOptions, validate
    from lightonocr_validation.serve.stop import guard_no_server_running
    from lightonocr_validation.tune import command as tuning
    from lightonocr_validation.tune.grid import GridError, load_grid, select

    warmup = config.flag_value("--warmup", warmup, int)
    cfg = _config(
        c,
        "tune",
        tiny=tiny,
        full_size=full_size,
        model=model,
        served_model_name=served_model_name,
        port=port,
        grid=grid,
        concurrency=concurrency,
        max_tokens=max_tokens,
        requests=requests,
        start_timeout=start_timeout,
        out=out,
        model_profile=model_profile,
    )
    try:
        candidates = load_grid(cfg.tune.grid)
        selected = select(candidates, [name.strip() for item in only or [] for name in item.split(",") if name.strip()])
    except GridError as error:
        raise UserError(str(error), EXIT_USAGE) from None
    local = config.local_model(cfg, tiny=tiny, full_size=full_size)
    chosen = _profile_to_serve(cfg)
    model_args = [*local.serve_args] if local is not None else []
    model_args += model_profiles.serve_args(chosen, cfg.server.max_model_len) if chosen else ()
    resolved = _resolve_device(device)
    env = dict(cfg.server.env)
    if resolved == "cpu":
        env = {**cfg.cpu.env, **env}
    # The bench reaches the server each configuration starts: check.port is the port it binds.
    bench_config = dataclasses.replace(cfg, check=dataclasses.replace(cfg.check, port=cfg.server.port))

    def bench_options(result_path: Path) -> BenchOptions:
        return BenchOptions(
            config=bench_config,
            hosts=[serving.local_url(cfg.server.host, cfg.server.port)],
            concurrency=cfg.tune.concurrency,
            requests=cfg.tune.requests,
            warmup=warmup,
            max_tokens=cfg.tune.max_tokens,
            result_path=result_path,
            pages=page or [],
        )

    out_dir = Path(out) if out else ROOT / cfg.tune.out
    validate(bench_options(out_dir / "bench" / "-"))
    if local is not None and not (Path(cfg.model.id) / "config.json").is_file():
        tiny_model(c, full_size=full_size, model_profile=local.profile)
    guard_no_server_running(ROOT / cfg.server.pid_file, errors=errors)
    errors.print(f"device: {resolved} ({describe(nvidia_gpus())})", markup=False)
    options = tuning.TuneOptions(
        model=cfg.model,
        server=cfg.server,
        model_args=model_args,
        env=env,
        grid=candidates,
        selected=selected,
        grid_name=cfg.tune.grid,
        out=out_dir,
        start_timeout=cfg.tune.start_timeout,
        bench=bench_options,
        fresh=fresh,
    )
    _stop_on_sigterm()
    try:
        code = tuning.run_tune(options, console=console, errors=errors)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM (a command's time limit): the server is already stopped
        raise UserError(
            f"interrupted: the server was stopped; what was measured is in {tuning.config_dir(out_dir)}, "
            f"and the same command measures the rest",
            EXIT_INTERRUPTED,
        ) from None
    if code:
        raise Exit(code=code)


@task(help={"check": "Write nothing; exit 1 naming the stale files when docs/ differs from the code."})
@_user_errors
def docs(c: Context, check: bool = False) -> None:
    """Generate docs/ (tasks, sessions, checks, the guide's generated blocks) from the code."""
    from lightonocr_validation import docs as docs_gen
    from lightonocr_validation.docs.markers import MarkerError

    try:
        paths = docs_gen.check(ROOT) if check else docs_gen.write(ROOT)
    except MarkerError as error:  # a hand edit broke a generated block's markers
        raise UserError(str(error), EXIT_USAGE) from None
    names = ", ".join(str(path.relative_to(ROOT)) for path in paths)
    if check and paths:
        raise UserError(f"stale docs: {names}: regenerate them with `nox -s docs`", EXIT_FAILED)
    if check:
        console.print("docs are up to date", markup=False)
    else:
        console.print(f"wrote {names}" if paths else "docs were up to date", markup=False)


ns = Collection(serve, stop, check, bench, tune, tiny_model, samples, docs)
ns.configure(DEFAULTS)

# `invoke ...` typed at a shell: the stock program is importing this file. The same command line is run by
# the project's Program (lightonocr_validation/core/cli.py), which maps invoke's own errors to documented codes.
cli.hand_over(sys.modules[__name__])
