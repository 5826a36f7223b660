"""`invoke check`: resolve the hosts, run the selected checks, render them once, write the reports.

Kept apart from tasks.py so that it can be tested without invoke, and so that tasks.py stays a list of
actions with their flags.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from lightonocr_validation.check import registry
from lightonocr_validation.check.base import Check
from lightonocr_validation.check.context import RequestSettings
from lightonocr_validation.check.report import console as console_report
from lightonocr_validation.check.report.json_report import report_dict, write_json
from lightonocr_validation.check.report.junit import write_junit
from lightonocr_validation.check.report.markdown import write_markdown
from lightonocr_validation.check.runner import HostRun, run_hosts
from lightonocr_validation.check.verdict import combine, fleet_verdict, interrupted_before_any_check, verdict_for
from lightonocr_validation.core import interrupts, model_profiles
from lightonocr_validation.core.cancel import INTERRUPTED, CancelToken
from lightonocr_validation.core.config import CheckSettings, Config
from lightonocr_validation.core.errors import (
    EXIT_INTERRUPTED,
    EXIT_UNREACHABLE,
    UserError,
    os_cause,
    print_error,
    print_warning,
)
from lightonocr_validation.core.interrupts import SignalGuard
from lightonocr_validation.core.redaction import Redactor, redacting
from lightonocr_validation.core.serialize import iso_utc, public_url
from lightonocr_validation.pages import inputs, samples, user_pages
from lightonocr_validation.pages.inputs import UserPageInput
from lightonocr_validation.vllm import targets
from lightonocr_validation.vllm.provenance import server_provenance, tool_provenance
from lightonocr_validation.vllm.served_profile import resolve_profile
from lightonocr_validation.vllm.targets import INSECURE_WARNING, resolve_fleet

# Request rounds a full run sends besides the page set (readiness, model, serving, determinism, the burst,
# streaming, PRF002): measured, a run against a server that takes 1 s per request lasts 19-20 s with 13 pages
# at 4 in flight (4 page rounds).
FIXED_REQUEST_ROUNDS = 16


@dataclass(frozen=True)
class CheckOptions:
    """One `invoke check` run: the configuration (flags applied), and the flags that are not settings."""

    config: Config
    hosts: Sequence[str] = ()  # --host, repeated; none: check.host
    only: Sequence[str] = ()
    skip: Sequence[str] = ()
    tags: Sequence[str] = ()
    report_json: Path | None = None
    junit: Path | None = None
    report_md: Path | None = None
    insecure: bool = False
    # `--pages DIR`: the user's own pages instead of the bundled samples; scored, not graded page by page.
    pages: Path | None = None
    # `--replicas N`: the servers at the host's port, port+1, ...: each its verdict, and the fleet's.
    replicas: int = 1
    # `--mode plain|grounding`: only the plain-mode checks, or only the grounding ones (and what they
    # require); "" runs both (a model without grounding skips those checks, saying so).
    mode: str = ""


def list_checks(console: Console) -> None:
    table = Table(title="Checks (run in this order)")
    for column in ("id", "family", "title", "tags", "needs"):
        table.add_column(column)
    for check in registry.CHECKS:
        needs = ", ".join(check.requires) + (" trained weights" if check.needs_trained_weights else "")
        table.add_row(check.id, check.family, check.title(), ", ".join(sorted(check.tags)), needs.strip())
    console.print(table)


def run_check(options: CheckOptions, *, console: Console, errors: Console) -> int:
    """`invoke check`; every line it prints goes through the run's redactor (keys, URL passwords, headers):
    what a server echoes back (a 401 body with the key, say) is redacted on the terminal as in the reports.

    Ctrl-C at any moment, from the first line to the last (one SignalGuard over all of it, and the hold of
    interrupts.py before): before the run (a Ctrl-C held while invoke loaded, or one while the pages load or the
    samples render), every check is "not run" and the reports asked for are written, marked partial; during
    the run, what finished is reported; once the run is over, the verdict and the reports under way are
    written whole. Each way: exit 130, and the verdict line says so."""
    cancel = CancelToken()
    with redacting(Redactor(), console, errors) as redactor, SignalGuard(cancel) as guard:
        return _run_check(options, redactor, cancel, guard, console=console, errors=errors)


def _run_check(
    options: CheckOptions,
    redactor: Redactor,
    cancel: CancelToken,
    guard: SignalGuard,
    *,
    console: Console,
    errors: Console,
) -> int:
    started = time.time()
    pages_dir = str(options.pages.resolve()) if options.pages else ""
    settings: RequestSettings | None = None
    selected: list[type[Check]] = []
    resolved: list[targets.Target] = []
    runs: list[HostRun] | None = None
    pages: tuple[UserPageInput, ...] = ()
    deadline: float | None = None
    try:
        if interrupts.held_signal():  # pressed while invoke loaded: held until now (interrupts.hold_signals)
            cancel.stop(INTERRUPTED, interrupts.held_signal())
        try:
            selected = registry.select(options.only, options.skip, options.tags)
            hosts = options.hosts or [options.config.check.host]
            resolved = resolve_fleet(list(dict.fromkeys(hosts)), options.replicas, options.config, options.insecure)
        except (registry.SelectionError, targets.TargetError) as error:
            raise UserError(str(error)) from None
        for target in resolved:
            redactor.add_target(target)
        if not cancel.is_set():  # the profile may ask the server; the pages take seconds: not once stopped
            profile = resolve_profile(options.config, resolved[0])
            selected = registry.checks_for_mode(selected, options.mode, profile, options.config.model.served)
            settings = RequestSettings.from_config(options.config, pages_dir, profile=profile)
            pages = _user_pages(options, profile.longest_edge)
            for page in _unread_pages(options, profile.longest_edge):
                print_warning(errors, f"page left out: {page.line()}")
            if any(target.verify is False for target in resolved):
                print_warning(errors, INSECURE_WARNING)
            pages_sent = _pages_sent(pages, profile.longest_edge)
            deadline = options.config.check.deadline or auto_deadline(options.config.check, pages_sent)
            cancel.start_deadline(deadline)
            with console_report.LiveProgress(console) as progress:
                runs = run_hosts(
                    resolved, settings, selected, on_progress=progress, on_pages=progress.pages, cancel=cancel
                )
    except KeyboardInterrupt:  # before the run began (the run itself turns Ctrl-C into a stopped token)
        cancel.stop(INTERRUPTED, cancel.signal_name or "SIGINT")
    if settings is None:  # stopped before the profile was known: the reports name the default model's
        settings = RequestSettings.from_config(options.config, pages_dir, profile=model_profiles.default())
    if runs is None:  # stopped before the run: every selected check of every host "not run: interrupted"
        runs = run_hosts(resolved, settings, selected, cancel=cancel)
    guard.finished()  # from here a first Ctrl-C lets the verdict and the reports be written whole
    run = _Run(runs, selected, pages, settings, started, deadline, cancel)
    return _report(options, run, console=console, errors=errors)


@dataclass(frozen=True)
class _Run:
    """What a run did, as far as it got: what the verdict and the reports are made of."""

    runs: list[HostRun]
    selected: Sequence[type[Check]]
    pages: Sequence[UserPageInput]
    settings: RequestSettings
    started: float
    deadline: float | None
    cancel: CancelToken


def _report(options: CheckOptions, run: _Run, *, console: Console, errors: Console) -> int:
    """The verdict, the table and the reports asked for, from the runs as far as they got; the exit code."""
    runs, selected, pages, cancel = run.runs, run.selected, run.pages, run.cancel
    essential = registry.essential_ids(selected, user_pages=options.pages is not None)
    verdicts = [verdict_for(host.results, essential, registered=len(registry.CHECKS)) for host in runs]
    overall = combine(verdicts) if runs or cancel.reason != INTERRUPTED else interrupted_before_any_check()
    provenance = build_provenance(runs, run.settings, run.started, deadline_s=run.deadline)
    if options.replicas > 1 and runs:
        overall = fleet_verdict(verdicts, [host.target.label for host in runs])
        provenance["fleet"] = {"replicas": options.replicas, "hosts": [public_url(h.target.label) for h in runs]}
    if options.pages:
        provenance["samples_digest"] = None  # the bundled samples were not sent
        provenance["pages"] = {
            "dir": str(options.pages.resolve()),
            "layout": user_pages.layout_of(options.pages),
            "pages": len(pages),  # none when stopped before they were read
            "tests": sum(len(page.user.tests) for page in pages),
            "score_min": options.config.check.pages_score_min,
            "cer_max": options.config.check.pages_cer_max,
        }
    # built and redacted once, for every renderer
    report = report_dict(runs, verdicts, overall, provenance, stopped=cancel.reason or None)
    console_report.render_summary(console, report)
    written = write_reports(options, report, console=console, errors=errors)
    if cancel.reason == INTERRUPTED:
        return EXIT_INTERRUPTED  # whatever the verdict so far: a wrapper tells Ctrl-C from a finding by it
    return max(overall.exit_code, written)


def auto_deadline(check: CheckSettings, pages: int) -> float:
    """check.deadline's "auto": one timeout for the request in flight, plus every request round of a full
    run at the slowest pace a healthy server may have (PRF001's page_seconds_max, or the timeout when
    shorter): the page set's rounds of page_concurrency pages, and FIXED_REQUEST_ROUNDS for the rest."""
    rounds = FIXED_REQUEST_ROUNDS + math.ceil(pages / max(1, check.page_concurrency))
    return check.timeout + rounds * min(check.timeout, check.page_seconds_max)


def _pages_sent(chosen: Sequence[UserPageInput], longest: int) -> int:
    """Pages a run sends: the user's (--pages), else the bundled samples', rendered here, before anything is
    sent (once: the run reuses them). A sample file that cannot be read is input to the run, like a page of
    --pages: one line naming the file and the fix, exit 2, not five checks blaming the server."""
    if chosen:
        return len(chosen)
    try:
        return len(inputs.sample_pages(str(samples.SAMPLES_DIR), longest))
    except samples.SampleError as error:
        raise UserError(str(error)) from None


def _unread_pages(options: CheckOptions, longest: int) -> tuple[user_pages.Unread, ...]:
    """The pages of ``--pages`` left out because they cannot be read (after `_user_pages` loaded the set)."""
    if options.pages is None:
        return ()
    return inputs.user_page_set(str(options.pages.resolve()), options.config.check.pages_cer_max, longest)[1]


def _user_pages(options: CheckOptions, longest: int) -> tuple[UserPageInput, ...]:
    """Load and validate ``--pages`` before anything is sent: a bad folder is a usage error (exit 2)."""
    if options.pages is None:
        return ()
    check = options.config.check
    if not 0 <= check.pages_score_min <= 1:
        raise UserError(f"check.pages_score_min is {check.pages_score_min}; give a share between 0 and 1")
    if check.pages_cer_max < 0:
        raise UserError(f"check.pages_cer_max is {check.pages_cer_max}; give a non-negative CER")
    try:
        return inputs.user_pages(str(options.pages.resolve()), check.pages_cer_max, longest)
    except user_pages.PagesError as error:
        raise UserError(str(error)) from None


def write_reports(options: CheckOptions, report: Mapping[str, Any], *, console: Console, errors: Console) -> int:
    """Write the requested reports, all from the same dict; 0, or EXIT_UNREACHABLE (2) when one could not be written.

    The reports are written after the checks ran and the verdict was printed, so a bad path is not a usage
    error (UserError would discard a finished run): each report is tried, a failure is one line on stderr
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
            print_error(errors, f"the {kind} report could not be written to {path}: {os_cause(error)}")
            code = EXIT_UNREACHABLE
        else:
            console.print(f"report: {path}", markup=False, soft_wrap=True)
    return code


def build_provenance(
    runs: Sequence[HostRun], settings: RequestSettings, started: float, *, deadline_s: float | None = None
) -> dict[str, Any]:
    """What a reader needs to trust or reproduce the verdict: versions, model, sampling, samples, times.

    Each server's facts are what it answered to /version and /v1/models when a check asked (HostRun.facts);
    a question nobody asked, or that got no usable answer, leaves null, never a guess.
    """
    servers = [server_provenance(run.target.label, run.facts) for run in runs]
    finished = time.time()
    return {
        "tool": tool_provenance(),
        "model": settings.model_name,
        "weights": settings.model.weights,
        "sampling": dataclasses.asdict(settings.sampling),
        "profile": settings.model_profile.provenance(),
        "samples_digest": _samples_digest(),
        "servers": servers,
        "started": started,
        "finished": finished,
        "started_at": iso_utc(started),
        "finished_at": iso_utc(finished),
        "deadline_s": deadline_s,
    }


def _samples_digest() -> str | None:
    # A report must be written even when the sample set is broken (its checks say so): null, not a crash.
    try:
        return samples.samples_digest()
    except (OSError, ValueError):
        return None
