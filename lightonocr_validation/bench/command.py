"""`invoke bench`: check the input, ask each server what it serves, measure, show, write the result, exit.

Exit codes as `invoke check`: 0 the run measured what was asked (and met --slo); 1 the objective was missed,
a comparison found a regression, or every request to a host failed (a benchmark of failures is not a
benchmark: unlike `vllm bench serve`, never 0 then); 2 bad input, or a server that cannot be reached.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from lightonocr_validation.bench import limits, scaling
from lightonocr_validation.bench import slo as objectives
from lightonocr_validation.bench.live import BenchProgress, client_warnings, render_table
from lightonocr_validation.bench.plan import Step, Sweep, run_sweep
from lightonocr_validation.bench.result import Limit, ResultBuilder, assemble, write_result
from lightonocr_validation.bench.runner import Bench
from lightonocr_validation.bench.scaling import SingleGpu
from lightonocr_validation.core import hardware
from lightonocr_validation.core.cancel import INTERRUPTED, SERVER_GONE, Cancelled, CancelToken, run_until_stopped
from lightonocr_validation.core.config import Config
from lightonocr_validation.core.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    UserError,
    os_cause,
    print_error,
    print_warning,
    shorten,
)
from lightonocr_validation.core.interrupts import SignalGuard
from lightonocr_validation.core.model_profiles import ModelProfile, profile_for
from lightonocr_validation.core.redaction import Redactor, redacting
from lightonocr_validation.core.serialize import iso_utc
from lightonocr_validation.core.shape import dig, typed
from lightonocr_validation.core.shape import kind as shape_of
from lightonocr_validation.grounding.mode import (
    GROUNDING,
    MODES,
    grounding_content,
    require_grounding,
)
from lightonocr_validation.load import answers
from lightonocr_validation.load import pages as bench_pages
from lightonocr_validation.load.answers import AnswerBodies, AnswerLengths
from lightonocr_validation.load.driver import RATE_MAX_IN_FLIGHT, Bodies, Budget
from lightonocr_validation.load.figures import Economics
from lightonocr_validation.load.pages import BenchPage
from lightonocr_validation.load.records import Load, PointRun
from lightonocr_validation.pages import samples
from lightonocr_validation.vllm import targets
from lightonocr_validation.vllm.client import BadAnswer, Target, Unreachable, VllmClient, key_refusal
from lightonocr_validation.vllm.provenance import ServerFacts, server_provenance, tool_provenance
from lightonocr_validation.vllm.served_profile import resolve_profile
from lightonocr_validation.vllm.targets import INSECURE_WARNING, resolve_fleet

ARRIVALS = ("constant", "poisson")


@dataclass(frozen=True)
class BenchOptions:
    """One `invoke bench` run: the configuration (flags applied: bench.*, check.port/timeout, the model), and
    the flags that are not settings. None for concurrency/requests: bench.concurrency/bench.requests."""

    config: Config
    hosts: Sequence[str] = ()  # --host, repeated; none: check.host
    insecure: bool = False
    concurrency: int | None = None  # fixed load; the cap on requests in flight in rate mode
    sweep: bool = False
    rate: float | None = None
    arrival: str = "constant"
    seed: int = 0
    requests: int | None = None
    duration: float | None = None
    warmup: int | None = None
    max_tokens: int | None = None  # a fixed output length: sent with ignore_eos
    answer_tokens: str | None = None  # answer lengths drawn per request (answers.py): fixed:N, uniform:A-B, ...
    ramp: float = 0.0  # seconds over which the workers send their first request (a staggered start)
    waves: float | None = None  # requests per point = waves x concurrency (steady state: 3 or more)
    gpu: str | None = None  # the server's GPU for the limits (limits.py); None: this machine's, if the host is local
    temperature: float | None = None
    stream: bool = True
    slo: str | None = None
    runs: int = 1
    pages: Sequence[str] = ()
    result_path: Path | None = None
    html: Path | None = None  # benchreport's offline report
    charts: Path | None = None  # benchreport's PNG charts, into this folder
    compare: Path | None = None  # a baseline result: exit 1 on a regression
    save_baseline: Path | None = None  # write this run as a baseline (no per-request lists)
    # A fleet: `replicas` servers at the host's consecutive ports, or one data-parallel server on `gpus` GPUs;
    # the load flags are then per GPU, and `single_gpu` a one-GPU result to compute the scaling against.
    replicas: int = 1
    gpus: int | None = None
    single_gpu: Path | None = None
    # `--mode grounding`: every request asks for LightOnOCR-3's grounding mode (the image plus "grounding",
    # the profile's sampling and chat_template_kwargs), and every answer is judged as a grounding answer.
    request_mode: str = "plain"
    # Where pages come from: the bundled samples unless another source (a folder of pages) is given.
    page_source: Callable[[], Iterable[BenchPage]] = bench_pages.sample_pages
    # Which LightOnOCR is served (model_profiles.py): set by run_bench from --model-profile, the name or the
    # server's /v1/models root; None: told by the name alone.
    profile: ModelProfile | None = None

    @property
    def model_profile(self) -> ModelProfile:
        return self.profile or profile_for(self.config.model.served, self.config)


@dataclass(frozen=True)
class Server:
    """What a server said before the run: for the provenance, and to refuse a model it does not serve."""

    target: Target
    facts: ServerFacts
    down: bool = False  # a replica that could not be reached before the run (its requests count as errors)


def validate(options: BenchOptions) -> objectives.Objective | None:
    """Every combination the task refuses, each with the fix; returns the parsed --slo."""
    positive = {
        "--concurrency": options.concurrency,
        "--max-concurrency": options.config.bench.max_concurrency,
        "--requests": options.requests,
        "--runs": options.runs,
        "--max-tokens": options.max_tokens,
    }
    for flag, value in positive.items():
        if value is not None and value < 1:
            raise UserError(f"{flag} {value} must be at least 1")
    for flag, number in {"--rate": options.rate, "--duration": options.duration}.items():
        if number is not None and not number > 0:
            raise UserError(f"{flag} {number:g} must be above 0")
    if options.warmup is not None and options.warmup < 0:
        raise UserError(f"--warmup {options.warmup} must be 0 or more")
    if options.config.bench.gpu_hour_price < 0:
        raise UserError(f"--gpu-hour-price {options.config.bench.gpu_hour_price:g} must be 0 or more")
    if options.temperature is not None and options.temperature < 0:
        raise UserError(f"--temperature {options.temperature:g} must be 0 or more")
    if options.sweep and options.rate is not None:
        raise UserError("--sweep varies the concurrency and --rate fixes the arrivals: give one of them")
    if options.sweep and options.concurrency is not None:
        raise UserError("--sweep chooses the concurrency itself: drop --concurrency (cap it with --max-concurrency)")
    if options.requests is not None and options.duration is not None:
        raise UserError("--requests and --duration both end a point: give one of them")
    _validate_waves(options)
    _validate_fleet(options)
    if options.request_mode not in MODES:
        raise UserError(f"--mode {options.request_mode!r} is not one of {', '.join(MODES)}")
    if options.arrival not in ARRIVALS:
        raise UserError(f"--arrival {options.arrival!r} is not one of {', '.join(ARRIVALS)}")
    if options.arrival != "constant" and options.rate is None:
        raise UserError(f"--arrival {options.arrival} shapes a request rate: add --rate REQUESTS_PER_S")
    if not options.slo:
        return None
    try:
        objective = objectives.parse(options.slo)
    except objectives.ObjectiveError as error:
        raise UserError(str(error)) from None
    if objective.needs_stream and not options.stream:
        raise UserError(f"--slo {objective.text} needs time to first token: drop --no-stream")
    return objective


def _validate_waves(options: BenchOptions) -> None:
    """--waves, --ramp and --answer-tokens: each refused with the fix when it cannot mean anything."""
    if options.waves is not None and not options.waves > 0:
        raise UserError(f"--waves {options.waves:g} must be above 0 (3 or more for a steady state)")
    if options.waves is not None and (options.requests is not None or options.duration is not None):
        raise UserError("--waves sets the requests per point (waves x concurrency): drop --requests/--duration")
    if options.waves is not None and options.rate is not None:
        raise UserError("--waves counts rounds of a closed loop; --rate is an open loop: give one of them")
    if options.ramp < 0:
        raise UserError(f"--ramp {options.ramp:g} must be 0 or more seconds")
    if options.answer_tokens is not None and options.max_tokens is not None:
        raise UserError("--answer-tokens and --max-tokens both set the answer length: give one of them")
    answer_lengths(options)


def answer_lengths(options: BenchOptions) -> AnswerLengths | None:
    """The answers' length distribution: --answer-tokens, or fixed:N for --max-tokens N; None: the sampling's."""
    if options.answer_tokens is not None:
        try:
            return answers.parse(options.answer_tokens)
        except answers.AnswerLengthError as error:
            raise UserError(str(error)) from None
    return answers.parse(f"fixed:{options.max_tokens}") if options.max_tokens is not None else None


def _validate_fleet(options: BenchOptions) -> None:
    if options.gpus is not None and options.gpus < 1:
        raise UserError(f"--gpus {options.gpus} must be at least 1")
    if options.gpus is not None and options.replicas != 1:
        raise UserError(
            f"--gpus counts the GPUs of one data-parallel server; --replicas {options.replicas} already means "
            f"{options.replicas} GPUs: give one of them"
        )
    if options.gpus is not None and len(dict.fromkeys(options.hosts)) > 1:
        raise UserError("--gpus N counts the GPUs of one data-parallel server: give one --host")
    if (options.gpus or 1) > 1 and options.single_gpu is None:
        raise UserError(
            f"--gpus {options.gpus} needs --single-gpu RESULT.json, a bench of one GPU at the same load: "
            "a data-parallel server's GPUs cannot be measured one at a time"
        )
    if options.single_gpu is not None and options.replicas < 2 and (options.gpus or 1) < 2:
        raise UserError("--single-gpu sets a fleet against one GPU: add --replicas N or --gpus N (2 or more)")


def request_body(page: BenchPage, options: BenchOptions) -> bytes:
    """A page's request the model card's way (the image and nothing else), sampling sent explicitly; in
    grounding mode the text ``grounding`` after the image, and the profile's chat template arguments."""
    return json.dumps(request_fields(page, options), separators=(",", ":")).encode()


def request_bodies(pages: Sequence[BenchPage], options: BenchOptions) -> Bodies:
    """Every page's request; with a drawn answer length each request gets its own max_tokens (answers.py)."""
    lengths = answer_lengths(options)
    if lengths is None or lengths.kind == "fixed":
        return {page.label: request_body(page, options) for page in pages}
    return AnswerBodies({page.label: request_fields(page, options) for page in pages}, lengths, options.seed)


def request_fields(page: BenchPage, options: BenchOptions) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "image_url", "image_url": {"url": page.data_url}}]
    if options.request_mode == GROUNDING:  # the profile's sampling and chat template arguments apply as in plain
        content = grounding_content(page.data_url)
    body: dict[str, Any] = {
        "model": options.config.model.served,
        "messages": [{"role": "user", "content": content}],
        "temperature": sampling(options)["temperature"],
        "top_p": sampling(options)["top_p"],
        "max_tokens": sampling(options)["max_tokens"],
        "stream": options.stream,
    }
    if options.model_profile.chat_template_kwargs:  # the Qwen3.5-based LightOnOCR-3: no thinking preamble
        body["chat_template_kwargs"] = dict(options.model_profile.chat_template_kwargs)
    if options.stream:
        body["stream_options"] = {"include_usage": True}
    if answer_lengths(options) is not None:
        body["ignore_eos"] = True  # vLLM's own sampling parameter: every answer is exactly max_tokens long
    return body


def sampling(options: BenchOptions) -> dict[str, Any]:
    """The profile's sampling (the `sampling` section for LightOnOCR-1 and -2), with --temperature and
    --max-tokens (or a drawn answer length) on top."""
    configured = options.model_profile.sampling
    lengths = answer_lengths(options)
    return {
        "temperature": options.temperature if options.temperature is not None else configured["temperature"],
        "top_p": configured["top_p"],
        # A drawn length: the largest it can be (each request sends its own; settings.answer_tokens says how).
        "max_tokens": lengths.high if lengths is not None else configured["max_tokens"],
        "ignore_eos": lengths is not None,
    }


def accuracy_judgement(options: BenchOptions, pages: Sequence[BenchPage]) -> tuple[bool, str]:
    if options.config.model.random_weights:
        return False, "the served model has random weights (tiny model): its text cannot be judged"
    if answer_lengths(options) is not None:
        return False, (
            "a fixed output length (--max-tokens) or a drawn one (--answer-tokens), sent with ignore_eos, writes "
            "on past the page's end"
        )
    if not any(page.sample is not None for page in pages):
        return False, "no page has ground truth"
    return True, "every answer graded against its page's ground truth and thresholds"


def resolve_targets(options: BenchOptions) -> list[Target]:
    try:
        hosts = options.hosts or [options.config.check.host]
        return resolve_fleet(list(dict.fromkeys(hosts)), options.replicas, options.config, options.insecure)
    except targets.TargetError as error:
        raise UserError(str(error)) from None


def prepare_pages(options: BenchOptions) -> list[BenchPage]:
    """The pages to send, at the profile's page size when they are the bundled samples."""
    source = options.page_source
    if source is bench_pages.sample_pages:
        source = functools.partial(bench_pages.sample_pages, longest=options.model_profile.longest_edge)
    try:
        return bench_pages.select(source(), options.pages)
    except (bench_pages.PageSelectionError, samples.SampleError) as error:
        raise UserError(str(error)) from None


class Unusable(Exception):
    """A server that cannot be benchmarked: unreachable, refusing the key, or not serving the model."""


class Down(Unusable):
    """A server that cannot be reached at all: in a fleet of replicas, one that is down."""


def ask_server(target: Target, model_name: str) -> Server:
    client = VllmClient(target)
    try:
        models = client.get("/v1/models", timeout=min(target.timeout, 30))
        if models.status in (401, 403):
            detail, hint = key_refusal(target, models.status, "/v1/models")
            raise Unusable(f"{target.label}: {detail}: {hint.rstrip('.')}")
        if models.status != 200:
            raise Unusable(f"{target.label}: /v1/models answered HTTP {models.status}: {models.error_message()}")
        data = dig(models.json(), "data")
        if not isinstance(data, list):
            shown = shape_of(data)
            raise Unusable(f"{target.label}: /v1/models answered 200 but its data is {shown}, not a list of models")
        listed = [m for m in data if isinstance(m, dict)]
        entry = next((m for m in listed if m.get("id") == model_name), None)
        if entry is None:
            served = ", ".join(str(m.get("id")) for m in listed) or "nothing"
            raise Unusable(
                f"{target.label} does not serve {model_name!r} (it serves {served}): pass --model with that id, "
                "or --tiny for the tiny model"
            )
        version = client.get("/version", timeout=min(target.timeout, 30))
        vllm_version = typed(dig(version.json(), "version"), str) if version.status == 200 else None
    except Unreachable as error:
        raise Down(f"cannot reach {error}") from None
    except BadAnswer as error:  # an HTML page, a body cut short or far too long: said in one line
        raise Unusable(f"{target.label}: {error}") from None
    except ValueError:
        raise Unusable(f"{target.label}: /v1/models did not answer JSON: is this a vLLM server?") from None
    finally:
        client.close()
    length = entry.get("max_model_len")
    return Server(target, ServerFacts(vllm_version, length if isinstance(length, int) else None))


def provenance(options: BenchOptions, servers: Sequence[Server], started: float) -> dict[str, Any]:
    """The same block as the check reports: tool, model, weights, sampling, samples digest, servers, times."""
    finished = time.time()
    try:
        digest = samples.samples_digest()
    except (OSError, ValueError):
        digest = None
    return {
        # The client's cores bound what it can drive: a bench result keeps them beside the tool's versions.
        "tool": {**tool_provenance(), "cpu_count": os.cpu_count()},
        "model": options.config.model.served,
        "weights": options.config.model.weights,
        "sampling": sampling(options),
        # the figures are this profile's: pages/s of a LightOnOCR-3-4B and of a -2-1B are not comparable
        "profile": options.model_profile.provenance(),
        "samples_digest": digest,
        "servers": [server_provenance(s.target.label, s.facts) for s in servers],
        "started": started,
        "finished": finished,
        "started_at": iso_utc(started),
        "finished_at": iso_utc(finished),
    }


def gpu_hour_price(options: BenchOptions) -> float | None:
    """The price of one server-hour, or None to leave the cost out (bench.gpu_hour_price 0)."""
    return options.config.bench.gpu_hour_price or None


def mode_of(options: BenchOptions) -> str:
    return "sweep" if options.sweep else "rate" if options.rate is not None else "concurrency"


def run_bench(options: BenchOptions, *, console: Console, errors: Console) -> int:
    """`invoke bench`; every line it prints goes through the run's redactor (keys, URL passwords, headers)."""
    with redacting(Redactor(), console, errors) as redactor:
        return _run_bench(options, redactor, console=console, errors=errors)


def _run_bench(options: BenchOptions, redactor: Redactor, *, console: Console, errors: Console) -> int:
    objective = validate(options)
    baseline = read_baseline(options.compare)  # a baseline that cannot be read is refused before the run
    resolved = resolve_targets(options)
    for target in resolved:
        redactor.add_target(target)
    options = dataclasses.replace(options, profile=options.profile or resolve_profile(options.config, resolved[0]))
    if options.request_mode == GROUNDING:  # a model without the mode is refused before any page is sent
        require_grounding(options.model_profile, options.config.model.served)
    pages = prepare_pages(options)  # rendered and encoded here, before any clock starts
    card = resolve_card(options, resolved)  # an unknown --gpu is refused before any server is asked
    if any(target.verify is False for target in resolved):
        print_warning(errors, INSECURE_WARNING)
    single_file = read_single_gpu(options.single_gpu)  # refused before the run, as the baseline
    try:
        servers = ask_servers(resolved, options, errors)
    except Unusable as error:
        print_error(errors, str(error))
        return EXIT_UNREACHABLE
    graded, note = accuracy_judgement(options, pages)
    bodies = request_bodies(pages, options)
    mode = mode_of(options)
    requests_per_point = (
        options.requests
        if options.requests is not None
        else None
        if options.duration
        else options.config.bench.requests
    )
    if options.waves is not None:
        requests_per_point = None
    budget = per_gpu_budget(
        options, Budget(requests_per_point, options.duration, options.warmup, options.ramp, options.waves)
    )
    requests_per_point = budget.requests
    cancel = CancelToken(options.config.bench.deadline or None)
    started = time.time()
    single: SingleGpu | None = single_file
    down = frozenset(server.target.label for server in servers if server.down)
    phase = Phase(options, pages, bodies, budget, mode, objective, cancel, down=down)
    with SignalGuard(cancel):  # both phases: the first Ctrl-C stops the run, what finished is kept
        if options.replicas > 1 and single is None:
            single = _one_gpu_phase(phase, servers, console)
            if not cancel.is_set():
                console.print(f"phase 2 of 2: the fleet, {len(resolved)} replicas at once", markup=False)
        references, steps = phase.measure(resolved, console, graded=graded, scale=options.gpus or 1)
    latency = objective or objectives.latency_only(options.config.bench.page_seconds_max)
    builder = ResultBuilder(
        graded=graded,
        economics=lambda servers: Economics(gpu_hour_price(options), latency.request_meets, servers),
        objective=objective,
        references=references,
        limit=point_limit(options, card),
    )
    settings = _settings(options, mode, steps, pages, sampling(options), graded, note, latency, budget)
    settings["deadline_s"] = options.config.bench.deadline or None
    settings["max_error_rate"] = options.config.bench.max_error_rate
    settings["gpu"] = card.as_dict()
    hosts = [builder.host(target, steps) for target in resolved]
    for host, target in zip(hosts, resolved, strict=True):
        host["gone"] = phase.gone.get(target.label)  # judged gone mid-run (liveness.py), else null
    stopped = cancel.reason or (SERVER_GONE if any(host["gone"] for host in hosts) else "")
    fleet = builder.fleet(resolved, steps) if len(resolved) > 1 else None
    result = assemble(
        settings=settings,
        provenance=provenance(options, servers, started),
        hosts=hosts,
        fleet=fleet,
        targets=resolved,
        scaling=scaling_of(options, single, (fleet or hosts[0])["summary"]["loads"]),
        stopped=stopped or None,
    )
    render_table(console, result)
    render_fleet(console, result)
    for warning in client_warnings(result):
        print_warning(errors, f"{warning}: the figures may be the client's limit")
    finished = not cancel.is_set() or cancel.reason == SERVER_GONE
    code, line = verdict(result) if finished else stopped_verdict(result, cancel)
    console.print(
        line, markup=False, highlight=False, soft_wrap=True, style="bold green" if code == EXIT_OK else "bold red"
    )
    path = options.result_path or Path(options.config.bench.result_dir) / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    try:
        write_result(path, result)
    except OSError as error:
        print_error(errors, f"the result could not be written to {path}: {error.strerror or error}")
        return max(code, EXIT_UNREACHABLE)
    console.print(f"result: {path}", markup=False, soft_wrap=True)
    code = max(code, write_readers(options, result, console=console, errors=errors))
    if cancel.reason == INTERRUPTED:
        return EXIT_INTERRUPTED  # a partial run is compared with no baseline
    if baseline is not None and not cancel.is_set():
        code = max(code, compare_with(baseline, result, console=console, errors=errors))
    return code


def resolve_card(options: BenchOptions, resolved: Sequence[Target]) -> limits.Card:
    """The GPU the figures are held against (limits.py): --gpu, else this machine's for a local server."""
    local = [gpu.name for gpu in hardware.nvidia_gpus()] if not options.gpu else []
    try:
        return limits.resolve_card(options.gpu, [target.host for target in resolved], local)
    except limits.UnknownGpu as error:
        raise UserError(str(error)) from None


def point_limit(options: BenchOptions, card: limits.Card) -> Limit:
    """A point's `limit` object: per GPU (a data-parallel server's load and pages/s split over its --gpus)."""
    shape = limits.served_shape(options.config.model.id, options.model_profile.name)
    gpus = options.gpus or 1

    def limit(records: Sequence[Any], in_flight: int, pages_per_s: float | None) -> dict[str, Any] | None:
        per_gpu = pages_per_s / gpus if pages_per_s is not None else None
        return limits.limit_block(records, in_flight / gpus, card, shape, per_gpu)

    return limit


def per_gpu_budget(options: BenchOptions, budget: Budget) -> Budget:
    """The budget a data-parallel server on `--gpus N` gets: N times the requests (and warm-up) given per GPU,
    as it gets N times the load. Replicas each get the budget as given."""
    scale = options.gpus or 1
    if scale == 1:
        return budget
    requests = budget.requests * scale if budget.requests is not None else None
    warmup = budget.warmup * scale if budget.warmup is not None else None
    return replace(budget, requests=requests, warmup=warmup)


def scaling_of(
    options: BenchOptions, single: SingleGpu | None, totals: Sequence[Mapping[str, Any]]
) -> dict[str, Any] | None:
    """The result's `scaling` object: the fleet's `totals` (its summary loads) against one GPU; None without."""
    if single is None:
        return None
    layout = "replicas" if options.replicas > 1 else "data-parallel"
    return scaling.block(layout=layout, gpus=options.gpus or options.replicas, totals=totals, single=single)


def ask_servers(resolved: Sequence[Target], options: BenchOptions, errors: Console) -> list[Server]:
    """What each server serves. A replica that is down does not stop a fleet's bench: it is said plainly and its
    requests are counted as errors; every replica down, or any answering wrongly, stops it (exit 2)."""
    servers = []
    down: list[tuple[Target, Down]] = []
    for target in resolved:
        try:
            servers.append(ask_server(target, options.config.model.served))
        except Down as error:
            if options.replicas < 2:
                raise
            down.append((target, error))
            servers.append(Server(target, ServerFacts(), down=True))
    if down and len(down) == len(resolved):
        raise Down(f"no replica of {len(resolved)} answers: {down[0][1]}")
    for target, error in down:
        print_warning(
            errors, f"replica {target.label} is down ({error}): it stays in the fleet and its requests count as errors"
        )
    return servers


@dataclass(frozen=True)
class Phase:
    """What every measured phase of a run shares (the one-GPU phase of a fleet, then the fleet): the pages,
    load, settings and the run's stop token."""

    options: BenchOptions
    pages: Sequence[BenchPage]
    bodies: Bodies
    budget: Budget
    mode: str
    objective: objectives.Objective | None
    cancel: CancelToken
    # Why each host judged gone mid-run (liveness.py) stopped answering, by label: filled as the phases run.
    gone: dict[str, str] = field(default_factory=dict)
    down: frozenset[str] = frozenset()  # replicas down before the run: their requests count as errors

    def measure(
        self, targets: Sequence[Target], console: Console, *, graded: bool, scale: int = 1
    ) -> tuple[dict[str, PointRun], list[Step]]:
        """A Bench over ``targets`` with its live progress, run until done or stopped."""
        options = self.options
        with BenchProgress(console, self.budget.requests) as progress:
            bench = Bench(
                targets=list(targets),
                pages=self.pages,
                bodies=self.bodies,
                budget=self.budget,
                stream=options.stream,
                runs=options.runs,
                graded=graded,
                grounding=options.request_mode == GROUNDING,
                load_defaults=Load(1, arrival=options.arrival, seed=options.seed),
                on_record=progress.on_record,
                on_point=progress.on_point,
                stop=self.cancel,
                model=options.config.model.served,
                unwatched=self.down,
            )
            measured = _measure_until_stopped(
                bench, lambda: _measure(bench, options, self.mode, graded, self.objective, scale=scale)
            )
            self.gone.update({label: watch.gone for label, watch in bench.watches.items() if watch.gone})
            return measured


def _one_gpu_phase(phase: Phase, servers: Sequence[Server], console: Console) -> SingleGpu | None:
    """Phase 1 of a replicas bench: the first replica that answered, alone, at the per-replica load: one GPU's
    pages/s measured with the same pages, settings and client as the fleet right after. None when the run was
    stopped (deadline, Ctrl-C) during it: a cut-short phase is no GPU's figure."""
    alone = next((s.target for s in servers if s.facts.vllm_version or s.facts.max_model_len), servers[0].target)
    console.print(f"phase 1 of 2: one GPU, {alone.label} alone, at the load each replica gets next", markup=False)
    _, steps = phase.measure([alone], console, graded=False)
    if phase.cancel.is_set():
        return None
    builder = ResultBuilder(graded=False, economics=lambda n: Economics(servers=n), objective=None, references={})
    return scaling.measured(alone.label, builder.host(alone, steps)["summary"]["loads"])


def read_single_gpu(path: Path | None) -> SingleGpu | None:
    if path is None:
        return None
    from lightonocr_validation.bench.readout import ResultError

    try:
        return scaling.read_single_gpu(path)
    except ResultError as error:
        raise UserError(f"--single-gpu {error}") from None


def render_fleet(console: Console, result: Mapping[str, Any]) -> None:
    """The replicas side by side (pages/s, latency, errors) and the scaling in words, after the tables."""
    table = scaling.replica_table(result)
    if table is not None:
        console.print(table)
    if result.get("scaling"):
        for line in scaling.lines(result["scaling"]):
            console.print(line, markup=False, highlight=False)


def read_baseline(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    from lightonocr_validation.bench.compare import load_baseline
    from lightonocr_validation.bench.readout import ResultError

    try:
        return load_baseline(path)
    except ResultError as error:
        raise UserError(f"--compare {error}") from None


def write_readers(options: BenchOptions, result: Mapping[str, Any], *, console: Console, errors: Console) -> int:
    """The HTML report, the charts and the baseline the options ask for: 0, or 2 when one could not be written
    (as for the check reports: a CI job must not read a missing artifact as a clean pass)."""
    code = EXIT_OK
    wanted: list[tuple[str, Path | None, Callable[[], object]]] = [
        ("HTML report", options.html, lambda: _html(result, options.html)),
        ("charts", options.charts, lambda: _charts(result, options.charts)),
        ("baseline", options.save_baseline, lambda: _baseline(result, options.save_baseline)),
    ]
    for kind, path, write in wanted:
        if path is None:
            continue
        try:
            written = write()
        except OSError as error:
            print_error(errors, f"the {kind} could not be written to {path}: {os_cause(error)}")
            code = EXIT_UNREACHABLE
        except RuntimeError as error:  # ChartsUnavailable: matplotlib is not installed
            print_error(errors, f"the {kind} needs matplotlib: {error}")
            code = EXIT_UNREACHABLE
        else:
            console.print(f"{kind}: {written}", markup=False, soft_wrap=True)
    return code


def _html(result: Mapping[str, Any], path: Path | None) -> Path:
    from lightonocr_validation.bench.html_report import write_html

    assert path is not None
    return write_html(result, path)


def _charts(result: Mapping[str, Any], folder: Path | None) -> str:
    from lightonocr_validation.bench.charts import write_charts

    assert folder is not None
    return ", ".join(str(path) for path in write_charts(result, folder))


def _baseline(result: Mapping[str, Any], path: Path | None) -> Path:
    from lightonocr_validation.bench.compare import write_baseline

    assert path is not None
    return write_baseline(result, path)


def compare_with(baseline: Mapping[str, Any], result: Mapping[str, Any], *, console: Console, errors: Console) -> int:
    from lightonocr_validation.bench.compare import compare_results, render_comparison
    from lightonocr_validation.bench.readout import ResultError

    try:
        comparison = compare_results(baseline, result)
    except ResultError as error:
        print_error(errors, f"--compare: {error}")
        return EXIT_UNREACHABLE
    # A sweep compares dozens of figures: past a screenful, only those that moved are shown.
    console.print(render_comparison(comparison, only_changes=len(comparison.rows) > 40))
    return EXIT_OK if comparison.ok else EXIT_FAILED


def _measure_until_stopped(
    bench: Bench, measure_loads: Callable[[], tuple[dict[str, PointRun], list[Step]]]
) -> tuple[dict[str, PointRun], list[Step]]:
    """Measure (`measure_loads`, over `bench`) in a thread while the main thread, where signals arrive, watches
    the deadline and Ctrl-C (cancel.run_until_stopped). Stopped, the points keep the requests that finished
    (in-flight ones are abandoned and left out) and the loads not reached are dropped: the result holds what
    was measured."""
    measured: dict[str, Any] = {}

    def measure() -> None:
        try:
            measured["references"], measured["steps"] = measure_loads()
        except Cancelled:
            pass  # stopped: what was measured is in `bench`
        except BaseException as error:  # a bug: raised in the main thread, as before the thread
            measured["error"] = error

    run_until_stopped(measure, bench.stop, "bench-measure")
    if "error" in measured:
        raise measured["error"]
    if "steps" in measured:
        return measured["references"], measured["steps"]
    steps = [step for step in bench.measured if any(step.runs.values())]
    return dict(bench.references), steps


def stopped_verdict(result: Mapping[str, Any], cancel: CancelToken) -> tuple[int, str]:
    """A stopped run's exit code and line: 130 interrupted, 1 past the deadline; what was kept is said."""
    kept = sum(p["figures"]["completed"] for host in result["hosts"] for p in host["points"])
    what = f"the result is partial: {kept} answered request(s) measured"
    if cancel.reason == INTERRUPTED:
        return EXIT_INTERRUPTED, f"issue: {cancel.describe()}: {what}"
    return EXIT_FAILED, f"issue: {cancel.describe()}: {what} (raise --deadline, or find why the server is slow)"


def _measure(
    bench: Bench,
    options: BenchOptions,
    mode: str,
    graded: bool,
    objective: objectives.Objective | None,
    scale: int = 1,
) -> tuple[dict[str, PointRun], list[Step]]:
    """Measure the loads the mode asks for; `scale` (a data-parallel server's --gpus) multiplies each load, so
    that the flags stay per GPU and the server gets what would fill each of its GPUs."""

    def measure(load: Load) -> Step:
        rate = load.rate * scale if load.rate is not None else None
        return bench.measure(Load(load.concurrency * scale, rate=rate))

    # Accuracy under load is compared with each page read one at a time; a sweep measures that load itself.
    references = bench.reference() if graded and mode != "sweep" else {}
    if mode == "sweep":
        sweep = Sweep(
            max_concurrency=options.config.bench.max_concurrency,
            min_gain=options.config.bench.min_gain,
            objective=objective,
        )
        return references, run_sweep(sweep, measure)
    if mode == "rate":
        load = Load(options.concurrency or RATE_MAX_IN_FLIGHT, rate=options.rate)
        return references, [measure(load)]
    return references, [measure(Load(options.concurrency or options.config.bench.concurrency))]


def _settings(
    options: BenchOptions,
    mode: str,
    steps: Sequence[Step],
    pages: Sequence[BenchPage],
    sent: Mapping[str, Any],
    graded: bool,
    note: str,
    latency: objectives.Objective,
    budget: Budget,
) -> dict[str, Any]:
    first = next((run for step in steps for runs in step.runs.values() for run in runs), None)
    return {
        "mode": mode,
        "request_mode": options.request_mode,
        "concurrencies": sorted({step.load.concurrency for step in steps}),
        "rate": options.rate,
        "arrival": options.arrival,
        "seed": options.seed,
        "requests_per_point": budget.requests,
        "duration_s": budget.duration_s,
        "warmup_requests": budget.warmup if budget.warmup is not None else (first.warmup_requests if first else 0),
        "max_tokens": sent["max_tokens"],
        "ignore_eos": sent["ignore_eos"],
        # How long the answers were made: a distribution drawn per request, fixed, or left to the model (null).
        "answer_tokens": lengths.as_dict() if (lengths := answer_lengths(options)) is not None else None,
        "ramp_s": budget.ramp_s,
        "waves": budget.waves,
        "temperature": sent["temperature"],
        "top_p": sent["top_p"],
        "stream": options.stream,
        "slo": options.slo,
        "gpu_hour_price": gpu_hour_price(options),
        "runs": options.runs,
        "pages": [page.label for page in pages],
        "page_payload_bytes": {page.label: page.payload_bytes for page in pages},
        "accuracy_judged": graded,
        "accuracy_note": note,
        "goodput_objective": latency.text,
        "sweep_min_gain": options.config.bench.min_gain if mode == "sweep" else None,
    }


def verdict(result: Mapping[str, Any]) -> tuple[int, str]:
    """0, 1 or 2 and the line that says why, from the result alone (as the comparison will read it): a server
    gone mid-run (2), every request or more than bench.max_error_rate of them failed (1), the objective missed
    (1). Figures over failures never exit 0."""
    fleet = len(result["hosts"]) > 1
    for host in result["hosts"]:
        if host.get("gone"):
            kept = sum(p["figures"]["completed"] for p in host["points"])
            whom = f"replica {host['name']}" if fleet else "the server"
            return EXIT_UNREACHABLE, (
                f"issue: {whom} stopped answering mid-run ({shorten(host['gone'], 240)}): the result is partial: "
                f"{kept} answered request(s) measured"
            )
    bound = result["settings"].get("max_error_rate", 0.0)
    for host in result["hosts"]:
        points = host["points"]
        answered = sum(p["figures"]["completed"] for p in points)
        sent = sum(p["figures"]["requests"] for p in points)
        first = next((r["error"] for p in points for r in p.get("requests", []) if r["error"]), "no answer")
        whom = f"replica {host['name']} of {len(result['hosts'])}" if fleet else host["name"]
        if sent and not answered:
            return EXIT_FAILED, f"issue: every request to {whom} failed: {shorten(first, 200)}"
        if not sent:
            return EXIT_FAILED, f"issue: no request was measured on {host['name']}"
        if (sent - answered) / sent > bound:
            return EXIT_FAILED, (
                f"issue: {sent - answered} of {sent} requests to {whom} failed ({(sent - answered) / sent:.1%}, above "
                f"--max-error-rate {bound:g}): {shorten(first, 200)}"
            )
    summaries = [host["summary"] for host in result["hosts"]]
    if result.get("fleet"):
        summaries = [result["fleet"]["summary"]]
    for summary in summaries:
        slo = summary.get("slo")
        if slo and slo["met_at"] is None:
            return EXIT_FAILED, f"issue: the objective {slo['objective']} was met at no load measured"
    return EXIT_OK, "bench: done"
