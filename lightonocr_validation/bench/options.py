"""What one `invoke bench` run was asked for (BenchOptions), every combination of flags it refuses with the fix,
and what it sends: each page's request body, the sampling and the answer lengths."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightonocr_validation.bench import slo as objectives
from lightonocr_validation.core.config import Config
from lightonocr_validation.core.errors import UserError
from lightonocr_validation.core.model_profiles import ModelProfile, profile_for
from lightonocr_validation.grounding.mode import GROUNDING, MODES, grounding_content
from lightonocr_validation.load import answers
from lightonocr_validation.load import pages as bench_pages
from lightonocr_validation.load.answers import AnswerBodies, AnswerLengths
from lightonocr_validation.load.driver import Bodies
from lightonocr_validation.load.pages import BenchPage

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


def gpu_hour_price(options: BenchOptions) -> float | None:
    """The price of one server-hour, or None to leave the cost out (bench.gpu_hour_price 0)."""
    return options.config.bench.gpu_hour_price or None


def mode_of(options: BenchOptions) -> str:
    return "sweep" if options.sweep else "rate" if options.rate is not None else "concurrency"
