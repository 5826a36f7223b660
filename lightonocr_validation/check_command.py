"""`invoke check`: resolve the hosts, run the selected checks, render them once, write the reports.

Kept apart from tasks.py so that it can be tested without invoke, and so that tasks.py stays a list of
actions with their flags.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from rich.console import Console
from rich.table import Table

from checks import page_answers, registry
from checks.base import Status
from checks.page_answers import UserPageInput
from lightonocr_validation import samples, targets, user_pages
from lightonocr_validation.context import PerfSettings, RequestSettings
from lightonocr_validation.report import console as console_report
from lightonocr_validation.report.json_report import report_dict, write_json
from lightonocr_validation.report.junit import write_junit
from lightonocr_validation.report.markdown import write_markdown
from lightonocr_validation.report.serialize import iso_utc, public_url
from lightonocr_validation.runner import HostRun, run_hosts
from lightonocr_validation.verdict import combine, verdict_for

TOOL_NAME = "lightonocr-validation"
TOOL_VERSION = "0.1.0"
# A report that could not be written: at least this exit code (see write_reports).
EXIT_REPORT = 2


class UsageError(ValueError):
    """Bad input: nothing ran. The message names the cause and the fix."""


@dataclass(frozen=True)
class CheckOptions:
    hosts: Sequence[str]
    port: int
    model_name: str
    weights: str
    sampling: Mapping[str, Any]
    profiles: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    api_key_env: str = "VLLM_API_KEY"
    only: Sequence[str] = ()
    skip: Sequence[str] = ()
    tags: Sequence[str] = ()
    report_json: Path | None = None
    junit: Path | None = None
    report_md: Path | None = None
    insecure: bool = False
    timeout: float = 300.0
    page_concurrency: int = 4
    page_seconds_max: float = 60.0
    determinism_runs: int = 3
    # `--pages DIR`: the user's own pages instead of the bundled samples; scored, not graded page by page.
    pages: Path | None = None
    pages_score_min: float = 0.70
    pages_cer_max: float = 0.10
    burst_concurrency: int = 64
    burst_concurrency_random_weights: int = 16
    perf: PerfSettings = field(default_factory=PerfSettings)


def list_checks(console: Console) -> None:
    table = Table(title="Checks (run in this order)")
    for column in ("id", "family", "title", "tags", "needs"):
        table.add_column(column)
    for check in registry.CHECKS:
        needs = ", ".join(check.requires) + (" trained weights" if check.needs_trained_weights else "")
        table.add_row(check.id, check.family, check.title(), ", ".join(sorted(check.tags)), needs.strip())
    console.print(table)


def run_check(options: CheckOptions, *, console: Console, errors: Console) -> int:
    try:
        selected = registry.select(options.only, options.skip, options.tags)
        resolved = [
            targets.resolve(
                host,
                port=options.port,
                profiles=options.profiles,
                default_api_key_env=options.api_key_env,
                timeout=options.timeout,
                insecure=options.insecure,
            )
            for host in dict.fromkeys(options.hosts)
        ]
    except (registry.SelectionError, targets.TargetError) as error:
        raise UsageError(str(error)) from None
    pages = _user_pages(options)
    if any(target.verify is False for target in resolved):
        errors.print(
            "warning: TLS certificates are not verified (--insecure): anyone on the path can read "
            "and change the traffic, the API key included",
            markup=False,
            style="yellow",
        )
    settings = RequestSettings(
        model_name=options.model_name,
        temperature=float(options.sampling["temperature"]),
        top_p=float(options.sampling["top_p"]),
        max_tokens=int(options.sampling["max_tokens"]),
        weights=options.weights,
        page_concurrency=options.page_concurrency,
        page_seconds_max=options.page_seconds_max,
        determinism_runs=options.determinism_runs,
        pages_dir=str(options.pages.resolve()) if options.pages else "",
        pages_score_min=options.pages_score_min,
        pages_cer_max=options.pages_cer_max,
        burst_concurrency=options.burst_concurrency,
        burst_concurrency_random_weights=options.burst_concurrency_random_weights,
        perf=options.perf,
    )
    started = time.time()
    with console_report.LiveProgress(console) as progress:
        runs = run_hosts(resolved, settings, selected, on_progress=progress, on_pages=progress.pages)
    essential = frozenset(
        check.id for check in selected if check.essential and (check.essential_on_user_pages or not options.pages)
    )
    verdicts = [verdict_for(run.results, essential, registered=len(registry.CHECKS)) for run in runs]
    overall = combine(verdicts)
    console_report.render_summary(console, runs, verdicts, overall)
    provenance = build_provenance(runs, settings, started)
    if options.pages:
        provenance["samples_digest"] = None  # the bundled samples were not sent
        provenance["pages"] = {
            "dir": str(options.pages.resolve()),
            "layout": user_pages.layout_of(options.pages),
            "pages": len(pages),
            "tests": sum(len(page.user.tests) for page in pages),
            "score_min": options.pages_score_min,
            "cer_max": options.pages_cer_max,
        }
    report = report_dict(runs, verdicts, overall, provenance)
    return max(overall.exit_code, write_reports(options, report, console=console, errors=errors))


def _user_pages(options: CheckOptions) -> tuple[UserPageInput, ...]:
    """Load and validate ``--pages`` before anything is sent: a bad folder is a usage error (exit 2)."""
    if options.pages is None:
        return ()
    if not 0 <= options.pages_score_min <= 1:
        raise UsageError(f"check.pages_score_min is {options.pages_score_min}; give a share between 0 and 1")
    if options.pages_cer_max < 0:
        raise UsageError(f"check.pages_cer_max is {options.pages_cer_max}; give a non-negative CER")
    try:
        return page_answers.user_pages(str(options.pages.resolve()), options.pages_cer_max)
    except user_pages.PagesError as error:
        raise UsageError(str(error)) from None


def write_reports(options: CheckOptions, report: Mapping[str, Any], *, console: Console, errors: Console) -> int:
    """Write the requested reports, all from the same dict; 0, or EXIT_REPORT when one could not be written.

    The reports are written after the checks ran and the verdict was printed, so a bad path is not a usage
    error (UsageError would discard a finished run): each report is tried, a failure is one line on stderr
    naming the path and the cause, and the exit code becomes at least 2, because a CI job that gates on a
    missing JUnit file or uploads a missing artifact must not read the run as a clean pass.
    """
    code = 0
    wanted = (
        ("JSON", options.report_json, write_json),
        ("JUnit", options.junit, write_junit),
        ("Markdown", options.report_md, write_markdown),
    )
    for kind, path, writer in wanted:
        if path is None:
            continue
        try:
            writer(path, report)
        except OSError as error:
            errors.print(
                f"error: the {kind} report could not be written to {path}: {_cause(error)}",
                markup=False,
                style="bold red",
                soft_wrap=True,
            )
            code = EXIT_REPORT
        else:
            console.print(f"report: {path}", markup=False, soft_wrap=True)
    return code


def _cause(error: OSError) -> str:
    """ "Permission denied (/ro/reports)": the OS's words and the file it was about, on one line."""
    cause = error.strerror or str(error) or type(error).__name__
    return f"{cause} ({error.filename})" if error.filename else cause


def build_provenance(runs: Sequence[HostRun], settings: RequestSettings, started: float) -> dict[str, Any]:
    """What a reader needs to trust or reproduce the verdict: versions, model, sampling, samples, times.

    Each server's facts come from the checks that asked for them (RDY003: /version, MOD001: the model's
    max_model_len); a check that did not run or errored leaves null, never a guess.
    """
    servers = []
    for run in runs:
        data = {r.check_id: r.data for r in run.results if r.status is not Status.ERROR}
        servers.append(
            {
                "host": public_url(run.target.label),
                "vllm_version": data.get("RDY003", {}).get("version"),
                "max_model_len": data.get("MOD001", {}).get("max_model_len"),
            }
        )
    finished = time.time()
    return {
        "tool": {
            "name": TOOL_NAME,
            "version": TOOL_VERSION,
            "python": platform.python_version(),
            "requests": requests.__version__,
            "platform": platform.platform(terse=True),
        },
        "model": settings.model_name,
        "weights": settings.weights,
        "sampling": {
            "temperature": settings.temperature,
            "top_p": settings.top_p,
            "max_tokens": settings.max_tokens,
        },
        "samples_digest": _samples_digest(),
        "servers": servers,
        "started": started,
        "finished": finished,
        "started_at": iso_utc(started),
        "finished_at": iso_utc(finished),
    }


def _samples_digest() -> str | None:
    # A report must be written even when the sample set is broken (its checks say so): null, not a crash.
    try:
        return samples.samples_digest()
    except (OSError, ValueError):
        return None
