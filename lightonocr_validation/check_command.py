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

from rich.console import Console
from rich.table import Table

from checks import registry
from checks.base import Status
from lightonocr_validation import targets
from lightonocr_validation.context import RequestSettings
from lightonocr_validation.report import console as console_report
from lightonocr_validation.report.json_report import report_dict, write_json
from lightonocr_validation.runner import HostRun, run_hosts
from lightonocr_validation.verdict import Verdict, combine, verdict_for

TOOL_VERSION = "0.1.0"


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
    if any(target.verify is False for target in resolved):
        errors.print("warning: TLS certificates are not verified (--insecure): anyone on the path can read "
                     "and change the traffic, the API key included", markup=False, style="yellow")
    settings = RequestSettings(
        model_name=options.model_name,
        temperature=float(options.sampling["temperature"]),
        top_p=float(options.sampling["top_p"]),
        max_tokens=int(options.sampling["max_tokens"]),
        weights=options.weights,
    )
    started = time.time()
    with console_report.LiveProgress(console) as progress:
        runs = run_hosts(resolved, settings, selected, on_progress=progress)
    essential = frozenset(check.id for check in selected if check.essential)
    verdicts = [verdict_for(run.results, essential) for run in runs]
    overall = combine(verdicts)
    console_report.render_summary(console, runs, verdicts, overall)
    provenance = build_provenance(runs, settings, started)
    report = report_dict(runs, verdicts, overall, provenance)
    for path, writer in ((options.report_json, write_json),):
        if path is not None:
            writer(path, report)
            console.print(f"report: {path}", markup=False)
    return overall.exit_code


def build_provenance(runs: Sequence[HostRun], settings: RequestSettings, started: float) -> dict[str, Any]:
    """What a reader needs to trust or reproduce the verdict: versions, model, sampling, samples, times."""
    servers = []
    for run in runs:
        data = {r.check_id: r.data for r in run.results if r.status is not Status.ERROR}
        servers.append({
            "host": run.target.label,
            "vllm_version": data.get("RDY003", {}).get("version"),
            "max_model_len": data.get("MOD001", {}).get("max_model_len"),
        })
    return {
        "tool": {"name": "lightonocr-validation", "version": TOOL_VERSION, "python": platform.python_version()},
        "model": settings.model_name,
        "weights": settings.weights,
        "sampling": {"temperature": settings.temperature, "top_p": settings.top_p, "max_tokens": settings.max_tokens},
        "servers": servers,
        "started": started,
        "finished": time.time(),
    }
