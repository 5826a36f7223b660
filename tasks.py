"""Actions on a LightOnOCR vLLM server: serve it, check it, stop it; build the tiny model and the samples.

Invoke owns actions, nox owns environments: run these inside the environment `nox -s validate` built
(or any environment with vLLM), from the repository root. Defaults live in
lightonocr_validation/core/settings.py and can be overridden by invoke.yaml, INVOKE_* variables and flags.

Each task reads its flags into its wing's options and calls the wing's `run_*`; the flags two tasks take
alike are declared once, as a group (core/task_flags.py), and a flag's help shows the default of the setting
it overrides from settings.SETTINGS (`default_of`), never typed again.
"""

# ruff: noqa: E402 (the hold of Ctrl-C comes before the imports that take seconds)
from __future__ import annotations

import sys

# First, before the imports below take their seconds: a Ctrl-C from here until a task runs is held, then
# handed to it (invoke's own Program would exit 1 without a word); see lightonocr_validation/core/interrupts.py.
from lightonocr_validation.core import interrupts

interrupts.hold_signals(sys.argv)

import functools
import os
import shlex
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invoke import Collection, Context, Exit, task
from rich.console import Console

from lightonocr_validation.core import cli, config
from lightonocr_validation.core.config import Config
from lightonocr_validation.core.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    UserError,
    print_error,
    print_warning,
)
from lightonocr_validation.core.hardware import describe, nvidia_gpus
from lightonocr_validation.core.settings import DEFAULTS, default_of
from lightonocr_validation.core.task_flags import flag, flag_task
from lightonocr_validation.serve import process as serving
from lightonocr_validation.serve import setup

if TYPE_CHECKING:
    from lightonocr_validation.bench.options import BenchOptions

ROOT = Path(__file__).resolve().parent
console = Console(stderr=False, highlight=False)
errors = Console(stderr=True, highlight=False)
MODELS = ("tiny", "full_size")  # the flags that name a model this toolkit builds (config.apply_flags)
# --model-profile, as serve, check, bench, tune and tiny-model take it (the names are model_profiles' rows).
MODEL_PROFILE_HELP = (
    f"Which LightOnOCR the model is: {', '.join(DEFAULTS['model_profiles'])} "
    + default_of(
        "model.profile", ", else told by the model's name, a folder's config.json or the server's /v1/models root"
    )
    + "."
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


def _config(c: Context, task: str, *groups: Any, **flags: Any) -> Config:
    """The typed configuration for `task`, built once: invoke's tree (settings.DEFAULTS, invoke.yaml,
    INVOKE_* variables) read and checked by config.load, then the task's flags on top (config.apply_flags):
    `flags`, and those of each flag group that name a setting of the task or a model (--tiny, --full-size)."""
    for group in groups:
        flags |= {
            name: value for name, value in vars(group).items() if name in config.FLAG_KEYS[task] or name in MODELS
        }
    return config.apply_flags(config.load(c.config), task, ROOT, **flags)


def _exit_with(code: int) -> None:
    """A wing's exit code as the task's (0 returns)."""
    if code:
        raise Exit(code=code)


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


@dataclass(frozen=True)
class ServedFlags:
    """What to serve and where: `serve` and `tune` take these alike."""

    model: str | None = flag(f"Hub id or local folder to serve {default_of('model.id')}.")
    served_model_name: str | None = flag(
        f"Id the server lists and requests name {default_of('model.served_name', ', else the model')}."
    )
    tiny: bool = flag("Serve the random-weight tiny model with LightOnOCR's architecture (built if missing).", False)
    full_size: bool = flag(
        "Serve LightOnOCR-2-1B's full-size architecture with random weights (--load-format dummy).", False
    )
    port: int | None = flag(f"Port to bind {default_of('server.port')}.")
    device: str = flag("auto (cuda when nvidia-smi finds a GPU, else cpu), cuda or cpu; cpu adds cpu.env.", "auto")
    model_profile: str | None = flag(MODEL_PROFILE_HELP)

    def model_to_serve(self, cfg: Config) -> setup.ModelToServe:
        return setup.model_to_serve(cfg, tiny=self.tiny, full_size=self.full_size)

    @staticmethod
    def say_note(model: setup.ModelToServe) -> None:
        """The model's note (nothing tells what it is), once every flag has been checked."""
        if model.note:
            print_warning(errors, model.note)

    def build_if_missing(self, c: Context, cfg: Config, model: setup.ModelToServe) -> None:
        """A local model not built yet is built first, as `invoke tiny-model` builds it."""
        if model.local is not None and model.missing(cfg):
            tiny_model(c, full_size=self.full_size, model_profile=model.local.profile)


def _say_device(device: str) -> None:
    errors.print(f"device: {device} ({describe(nvidia_gpus())})", markup=False)


@flag_task(
    help={
        "host": f"Address to bind {default_of('server.host')}.",
        "detach": "Return once the server is ready and leave it running; stop it with `invoke stop`.",
        "dry-run": "Print the vllm serve command, after the environment variables it adds (the profile's, the "
        "CPU's), and exit.",
        "timeout": f"Seconds to wait for readiness {default_of('server.startup_timeout')}.",
        "profile": "Extra vllm flags from server.profiles, and the server's environment from server.profile_env: "
        f"card (none) or tuned {default_of('server.profile')}.",
        "replicas": "Serve N GPUs as N servers: GPU i (CUDA_VISIBLE_DEVICES), port PORT+i, log per port. On the "
        "CPU, at most one server a core with 3.5 GB of memory each; more is refused before anything starts.",
        "data-parallel-size": "Serve N GPUs as one server with vLLM's --data-parallel-size N (one port).",
    },
    auto_shortflags=False,
)
@_user_errors
def serve(
    c: Context,
    served: ServedFlags,
    host: str | None = None,
    detach: bool = False,
    dry_run: bool = False,
    timeout: float | None = None,
    profile: str | None = None,
    replicas: int | None = None,
    data_parallel_size: int | None = None,
) -> None:
    """Serve LightOnOCR with the model card's vllm serve command; arguments after -- go to vllm.

    The model's profile (told by its name, or --model-profile) adds its own flags: LightOnOCR-3's
    --max-model-len, and for the Qwen3.5-based 0.8B and 4B the chat template's enable_thinking false.

    Ctrl-C (or SIGTERM) stops every server's process group, gracefully then killed after
    server.stop_timeout, and exits 130; a second Ctrl-C kills them at once. A server that dies at start
    (any replica: the others are stopped) exits 1 with its log's last lines and the known cause and fix.
    """
    from lightonocr_validation.serve import advice, fleet
    from lightonocr_validation.serve.command import ServeOptions, run_serve

    config.flag_choice("--device", served.device, config.DEVICES)  # a dry run refuses what the real run would
    cfg = _config(c, "serve", served, host=host, timeout=timeout, profile=profile)
    profile_args = cfg.server.profile_args()
    model = served.model_to_serve(cfg)
    visible = os.environ.get(fleet.DEVICES_VARIABLE)
    plan = fleet.plan(
        cfg.model,
        cfg.server,
        [*model.args, *profile_args, *_remainder_args(getattr(c, "remainder", ""))],
        replicas=config.flag_value("--replicas", replicas, int),
        data_parallel_size=config.flag_value("--data-parallel-size", data_parallel_size, int),
        log_file=ROOT / cfg.server.log_file,
        visible=visible,
    )
    served.say_note(model)  # after every flag is checked: a refused run's first line is its error
    device = setup.resolve_device(served.device)
    env = setup.server_env(cfg, device, profile=True)
    if dry_run:  # what the real run would start, its environment included (the tuned profile's lever)
        for server in plan.servers:
            console.print(server.rendered(env), markup=False, soft_wrap=True)
        return
    setup.check_fits(plan, device, visible)
    served.build_if_missing(c, cfg, model)
    _say_device(device)
    advice.say_model(model.profile, cfg.server.profile, device, plan.servers[0].command, env=env, errors=errors)
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
    _exit_with(run_serve(options, console=console, errors=errors))


def _stop_on_sigterm() -> None:
    """SIGTERM (from nox, CI or a service manager) stops the server tree like Ctrl-C does."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


@task(help={"timeout": f"Seconds to wait for a graceful stop before killing {default_of('server.stop_timeout')}."})
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
    _exit_with(run_stop(ROOT / cfg.server.pid_file, cfg.server.stop_timeout, console=console, errors=errors))


@task(
    help={
        "out": "Folder to write the checkpoint into "
        + default_of("tiny_model.path", ", or full_size_model.path with --full-size; a suffix for another profile's")
        + ".",
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


REPLICAS_HELP = (
    "A fleet of N replicas: the servers at the host's port, port+1, ..., port+N-1 (as `invoke serve --replicas N` "
    "starts them)."
)


@dataclass(frozen=True)
class TargetFlags:
    """Which server to reach and how: `check` and `bench` take these alike."""

    host: list[str] | None = flag(
        "Server to check: host name, IP, URL (https://host/base) or a check.hosts profile; repeat for a fleet."
    )
    port: int | None = flag(f"Port for a bare host name or IP {default_of('check.port')}.")
    model: str | None = flag(
        f"Model id the server must list and requests name {default_of('model.served_name', ', else model.id')}."
    )
    tiny: bool = flag(
        "The server serves the random-weight tiny model: text-judging checks skip with that reason.", False
    )
    full_size: bool = flag(
        "The server serves the full-size model with random weights (`invoke serve --full-size`).", False
    )
    insecure: bool = flag(
        "Do not verify TLS certificates (warned about; prefer a CA bundle in the host profile).", False
    )
    timeout: float | None = flag(
        f"Seconds for one request in all, every byte of the answer included {default_of('check.timeout')}."
    )
    replicas: int | None = flag(REPLICAS_HELP)
    deadline: str | None = flag("Seconds the whole run may take.")  # each task says what its deadline does
    model_profile: str | None = flag(MODEL_PROFILE_HELP)

    @property
    def hosts(self) -> list[str]:
        return self.host or []

    def replica_count(self) -> int:
        return 1 if self.replicas is None else config.flag_value("--replicas", self.replicas, int)


@flag_task(
    help={
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
        "deadline": "Seconds the whole run may take; past it unfinished checks are errors, exit 1 "
        + default_of("check.deadline", ": derived from the pages sent and --timeout")
        + ".",
    },
    auto_shortflags=False,
)
@_user_errors
def check(
    c: Context,
    target: TargetFlags,
    only: list[str] | None = None,
    skip: list[str] | None = None,
    tag: list[str] | None = None,
    list: bool = False,
    report_json: str | None = None,
    junit: str | None = None,
    report_md: str | None = None,
    pages: str | None = None,
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
        config=_config(c, "check", target),
        hosts=target.hosts,
        only=only or [],
        skip=skip or [],
        tags=tag or [],
        report_json=Path(report_json) if report_json else None,
        junit=Path(junit) if junit else None,
        report_md=Path(report_md) if report_md else None,
        insecure=target.insecure,
        pages=Path(pages) if pages else None,
        replicas=target.replica_count(),
        mode=config.flag_choice("--mode", mode, MODES) if mode else "",
    )
    code = run_check(options, console=console, errors=errors)
    leave_now_if_stuck(code)  # a stopped run's abandoned request may still be opening its connection
    _exit_with(code)


@dataclass(frozen=True)
class LoadFlags:
    """`invoke bench`'s own flags: the load, what is measured, and where the result goes."""

    concurrency: int | None = flag(
        f"Requests in flight {default_of('bench.concurrency')}; with --rate, the most in flight."
    )
    sweep: bool = flag(
        "Concurrency 1, 2, 4, ... until pages/s rises less than bench.min_gain (5 %) or a request fails.", False
    )
    max_concurrency: int | None = flag(f"Largest concurrency a sweep tries {default_of('bench.max_concurrency')}.")
    rate: float | None = flag(
        "Send this many requests per second (arrivals from --arrival) instead of a fixed concurrency."
    )
    arrival: str = flag("constant (every 1/rate s) or poisson (random gaps drawn from --seed).", "constant")
    seed: int | None = flag("Seed of the Poisson arrivals (default 0): the same seed sends at the same moments.")
    requests: int | None = flag(f"Measured requests per load point {default_of('bench.requests')}.")
    duration: float | None = flag("Measure each load point for this many seconds instead of a number of requests.")
    warmup: int | None = flag("Warm-up requests before each point, left out of every figure (default: one per worker).")
    max_tokens: int | None = flag(
        "Fixed output length: every answer exactly N tokens (vLLM's ignore_eos); accuracy is not judged then."
    )
    answer_tokens: str | None = flag(
        "Answer lengths drawn per request, sent as its max_tokens with ignore_eos: fixed:N, "
        "uniform:A-B or lognormal:MEDIAN,SIGMA[,MAX] (drawn from --seed); accuracy is not judged then."
    )
    waves: float | None = flag(
        "Send N x concurrency requests per load point: 3 or more gives a steady state (the ramps left "
        "out; a point with fewer is marked one wave)."
    )
    ramp: float | None = flag(
        "Stagger the start: worker k sends its first request k x SECONDS / concurrency after the clock."
    )
    gpu: str | None = flag(
        "The server's GPU for the limits beside the figures (H100, H200, A100, L40S, L4); default: this "
        "machine's when the host is local, else unknown."
    )
    temperature: float | None = flag(f"Sampling temperature, always sent {default_of('sampling.temperature')}.")
    no_stream: bool = flag("Plain JSON answers: no time to first token or inter-token latency.", False)
    slo: str | None = flag(
        'Latency objective, e.g. "p95_e2e<=20s": met or exit 1; with --sweep, the highest load that meets it.'
    )
    gpu_hour_price: float | None = flag(
        f"Price of one server-hour, for the cost per 1000 pages {default_of('bench.gpu_hour_price')}."
    )
    runs: int | None = flag("Repeat every load point N times (default 1) and give a 95 % interval for each figure.")
    page: list[str] | None = flag(
        "Send only these sample pages (repeat or comma-separate; default: every sample page)."
    )
    json: str | None = flag("Write the result JSON here (default: bench.result_dir/bench-DATE-TIME.json).")
    html: str | None = flag("Also write the offline HTML report (charts, figures, provenance) here.")
    charts: str | None = flag("Also write the charts as PNG files into this folder.")
    compare: str | None = flag(
        "Compare with this baseline result (docs/bench.md): exit 1 when a figure got worse beyond its tolerance."
    )
    save_baseline: str | None = flag(
        "Also write this run as a baseline to compare later runs with (no per-request lists)."
    )
    gpus: int | None = flag(
        "The one server is data parallel over N GPUs (vllm --data-parallel-size N): load flags are per GPU, "
        "the server gets N times them; needs --single-gpu."
    )
    single_gpu: str | None = flag(
        "A one-GPU bench result (--json) to set the fleet against: scaling efficiency = total pages/s "
        "/ (N x its pages/s)."
    )
    mode: str = flag(
        "plain (default) or grounding: every request asks for LightOnOCR-3's grounding mode (the image plus "
        "`grounding`) and every answer is judged as a grounding answer (blocks, boxes, labels, text).",
        "plain",
    )
    max_error_rate: float | None = flag(
        "Share of a host's requests that may fail before the run fails, exit 1 "
        + default_of("bench.max_error_rate", "; 0: none may")
        + ". A server gone mid-run stops the run, exit 2 (docs/bench.md)."
    )

    def numbers(self) -> dict[str, Any]:
        """The load's numbers, read before anything else: flags without a typed default arrive as text, and a
        typo is one line, not a traceback."""
        whole = ("concurrency", "requests", "warmup", "max_tokens", "gpus", "seed", "runs")
        real = ("rate", "duration", "temperature", "waves", "ramp")
        return {
            name: config.flag_value("--" + name.replace("_", "-"), getattr(self, name), kind)
            for names, kind in ((whole, int), (real, float))
            for name in names
        }

    def options(self, cfg: Config, target: TargetFlags, numbers: dict[str, Any]) -> BenchOptions:
        """The bench wing's BenchOptions for this run."""
        from lightonocr_validation.bench.options import BenchOptions

        def path(value: str | None) -> Path | None:
            return Path(value) if value else None

        return BenchOptions(
            config=cfg,
            hosts=target.hosts,
            insecure=target.insecure,
            sweep=self.sweep,
            arrival=self.arrival,
            answer_tokens=self.answer_tokens,
            gpu=self.gpu,
            stream=not self.no_stream,
            slo=self.slo,
            pages=self.page or [],
            result_path=path(self.json),
            html=path(self.html),
            charts=path(self.charts),
            compare=path(self.compare),
            save_baseline=path(self.save_baseline),
            replicas=target.replica_count(),
            single_gpu=path(self.single_gpu),
            request_mode=self.mode,
            **{**numbers, "seed": numbers["seed"] or 0, "ramp": numbers["ramp"] or 0.0, "runs": numbers["runs"] or 1},
        )


@flag_task(
    help={
        "host": "Server to load: host name, IP, URL or a check.hosts profile; repeat for a fleet (figures per host "
        "and for the fleet).",
        "tiny": "The server serves the random-weight tiny model: accuracy is not judged.",
        "full-size": "The server serves the random-weight full-size model (serve --full-size): accuracy not judged.",
        "replicas": REPLICAS_HELP + " Load flags are per replica; one replica alone is measured first (one GPU's "
        "pages/s, unless --single-gpu), then the fleet: figures per replica, in total, and the scaling efficiency.",
        "deadline": "Seconds the whole run may take, a hard ceiling over the plan: past it the result keeps what "
        "finished, marked partial, exit 1 " + default_of("bench.deadline", ": none") + ".",
    },
    auto_shortflags=False,
)
@_user_errors
def bench(c: Context, target: TargetFlags, load: LoadFlags) -> None:
    """Load a running server: pages/s, latency and accuracy under load; exit 0, 1 (objective missed) or 2."""
    from lightonocr_validation.bench.command import run_bench
    from lightonocr_validation.core.interrupts import leave_now_if_stuck

    numbers = load.numbers()
    code = run_bench(load.options(_config(c, "bench", target, load), target, numbers), console=console, errors=errors)
    leave_now_if_stuck(code)  # a stopped run's abandoned request may still be opening its connection
    _exit_with(code)


@flag_task(
    help={
        "grid": "Configurations to try: a built-in grid (encoder, steady) or a YAML/JSON file "
        + default_of("tune.grid")
        + ".",
        "only": "Measure only these configurations of the grid (repeat or comma-separate); the rest stay as "
        "recorded in --out.",
        "fresh": "Measure again the configurations --out already records.",
        "port": f"Port every configuration's server binds {default_of('server.port')}.",
        "concurrency": f"Requests in flight while measuring {default_of('tune.concurrency')}.",
        "max-tokens": f"Fixed output length of every answer, ignore_eos {default_of('tune.max_tokens')}.",
        "requests": "Measured requests per configuration "
        + default_of("tune.requests", ": four waves at 64; at least three waves of --concurrency give a steady state")
        + ".",
        "warmup": "Warm-up requests before measuring (default: one per request in flight).",
        "out": f"Folder for the records, logs, bench results and tune.json {default_of('tune.out')}.",
        "start-timeout": f"Seconds one configuration may take to become ready {default_of('tune.start_timeout')}.",
        "page": "Send only these sample pages (repeat or comma-separate; default: every sample page).",
    },
    auto_shortflags=False,
)
@_user_errors
def tune(
    c: Context,
    served: ServedFlags,
    grid: str | None = None,
    only: list[str] | None = None,
    fresh: bool = False,
    concurrency: int | None = None,
    max_tokens: int | None = None,
    requests: int | None = None,
    warmup: int | None = None,
    out: str | None = None,
    start_timeout: float | None = None,
    page: list[str] | None = None,
) -> None:
    """Serve each configuration of a grid in turn, bench it, stop it: the best flags and their gain over the card's."""
    from lightonocr_validation.bench.options import validate
    from lightonocr_validation.serve.stop import guard_no_server_running
    from lightonocr_validation.tune import command as tuning

    config.flag_choice("--device", served.device, config.DEVICES)
    warmup = config.flag_value("--warmup", warmup, int)
    cfg = _config(
        c,
        "tune",
        served,
        grid=grid,
        concurrency=concurrency,
        max_tokens=max_tokens,
        requests=requests,
        start_timeout=start_timeout,
        out=out,
    )
    chosen_grid = tuning.select_grid(cfg, only or [])
    model = served.model_to_serve(cfg)
    device = setup.resolve_device(served.device)
    out_dir = Path(out) if out else ROOT / cfg.tune.out
    options = tuning.tune_options(
        cfg,
        chosen_grid,
        model_args=model.args,
        env=setup.server_env(cfg, device, profile=False),  # the card and each configuration: their own env
        fresh=fresh,
        warmup=warmup,
        pages=page or [],
        out=out_dir,
    )
    validate(options.bench(out_dir / "bench" / "-"))
    served.say_note(model)
    served.build_if_missing(c, cfg, model)
    guard_no_server_running(ROOT / cfg.server.pid_file, errors=errors)
    _say_device(device)
    _stop_on_sigterm()
    try:
        code = tuning.run_tune(options, console=console, errors=errors)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM (a command's time limit): the server is already stopped
        raise UserError(
            f"interrupted: the server was stopped; what was measured is in {tuning.config_dir(out_dir)}, "
            f"and the same command measures the rest",
            EXIT_INTERRUPTED,
        ) from None
    _exit_with(code)


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
