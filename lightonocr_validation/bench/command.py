"""`invoke bench`: check the input, ask each server what it serves, measure, show, write the result, exit.

Exit codes as `invoke check`: 0 the run measured what was asked (and met --slo); 1 the objective was missed,
a comparison found a regression, or every request to a host failed (a benchmark of failures is not a
benchmark: unlike `vllm bench serve`, never 0 then); 2 bad input, or a server that cannot be reached.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from lightonocr_validation.bench import limits, scaling
from lightonocr_validation.bench import slo as objectives
from lightonocr_validation.bench.live import BenchProgress, client_warnings, render_table
from lightonocr_validation.bench.options import (
    BenchOptions,
    accuracy_judgement,
    answer_lengths,
    gpu_hour_price,
    mode_of,
    request_bodies,
    sampling,
    validate,
)
from lightonocr_validation.bench.plan import Step, Sweep, run_sweep
from lightonocr_validation.bench.result import Limit, ResultBuilder, assemble, write_result
from lightonocr_validation.bench.runner import Bench
from lightonocr_validation.bench.scaling import SingleGpu
from lightonocr_validation.bench.servers import Server, Unusable, ask_servers, resolve_targets
from lightonocr_validation.bench.verdict import stopped_verdict, verdict
from lightonocr_validation.bench.writers import (
    compare_with,
    read_baseline,
    read_single_gpu,
    render_fleet,
    write_readers,
)
from lightonocr_validation.core import hardware
from lightonocr_validation.core.cancel import INTERRUPTED, SERVER_GONE, Cancelled, CancelToken, run_until_stopped
from lightonocr_validation.core.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    UserError,
    print_error,
    print_warning,
)
from lightonocr_validation.core.interrupts import SignalGuard
from lightonocr_validation.core.redaction import Redactor, redacting
from lightonocr_validation.core.serialize import iso_utc
from lightonocr_validation.grounding.mode import GROUNDING, require_grounding
from lightonocr_validation.load import pages as bench_pages
from lightonocr_validation.load.driver import RATE_MAX_IN_FLIGHT, Bodies, Budget
from lightonocr_validation.load.figures import Economics
from lightonocr_validation.load.pages import BenchPage
from lightonocr_validation.load.records import Load, PointRun
from lightonocr_validation.pages import samples
from lightonocr_validation.vllm.client import Target
from lightonocr_validation.vllm.provenance import server_provenance, tool_provenance
from lightonocr_validation.vllm.served_profile import resolve_profile
from lightonocr_validation.vllm.targets import INSECURE_WARNING


def prepare_pages(options: BenchOptions) -> list[BenchPage]:
    """The pages to send, at the profile's page size when they are the bundled samples."""
    source = options.page_source
    if source is bench_pages.sample_pages:
        source = functools.partial(bench_pages.sample_pages, longest=options.model_profile.longest_edge)
    try:
        return bench_pages.select(source(), options.pages)
    except (bench_pages.PageSelectionError, samples.SampleError) as error:
        raise UserError(str(error)) from None


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
