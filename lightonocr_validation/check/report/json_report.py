"""The JSON report: every check's result and the verdict, with the run's provenance.

The schema is versioned (`schema`); docs/report-schema.md describes each field. Adding a field keeps the
number; removing, renaming or retyping one bumps it. The dict built here is also what the JUnit and
Markdown reporters render, so all three say the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lightonocr_validation.check.report.counts import status_counts
from lightonocr_validation.check.runner import HostRun
from lightonocr_validation.check.verdict import Verdict
from lightonocr_validation.core.files import write_text
from lightonocr_validation.core.serialize import iso_utc, jsonable, public_url, redact, render_json, target_secrets

SCHEMA_VERSION = 1
DEFAULT_GENERATOR = "lightonocr-validation"


def report_dict(
    runs: Sequence[HostRun],
    verdicts: Sequence[Verdict],
    overall: Verdict,
    provenance: Mapping[str, Any],
    stopped: str | None = None,
) -> dict[str, Any]:
    """The report as plain JSON values, with every host's secrets (API key, credential headers) redacted.
    ``stopped``: why the run ended early ("deadline", "interrupted"), None when it ran to its end."""
    report = {
        "schema": SCHEMA_VERSION,
        "generated_by": _generator(provenance),
        # A check of the selection without a finished result: the report is not the whole run.
        "partial": any(r.stopped for run in runs for r in run.results)
        or (stopped is not None and not any(run.results for run in runs)),  # stopped before any host was named
        "stopped": stopped,
        "verdict": _verdict(overall),
        "provenance": dict(provenance),
        "hosts": [_host(run, verdict) for run, verdict in zip(runs, verdicts, strict=True)],
    }
    secrets = [secret for run in runs for secret in target_secrets(run.target)]
    return redact(jsonable(report), secrets)


def write_json(path: Path, report: Mapping[str, Any]) -> None:
    write_text(path, render_json(report))


def _generator(provenance: Mapping[str, Any]) -> str:
    tool = provenance.get("tool") or {}
    name = tool.get("name") or DEFAULT_GENERATOR
    return f"{name} {tool['version']}" if tool.get("version") else name


def _verdict(verdict: Verdict) -> dict[str, Any]:
    return {"word": verdict.word, "line": verdict.line, "exit_code": verdict.exit_code}


def _host(run: HostRun, verdict: Verdict) -> dict[str, Any]:
    # Only the label and the URL of the Target are read: its api_key, headers and certificates never are.
    return {
        "host": public_url(run.target.label),
        "base_url": public_url(run.target.base_url),
        "verdict": _verdict(verdict),
        "started": run.started,
        "finished": run.finished,
        "started_at": iso_utc(run.started),
        "finished_at": iso_utc(run.finished),
        "counts": status_counts(r.status.value for r in run.results),
        "checks": [
            {
                "id": r.check_id,
                "title": r.title,
                "family": r.family,
                "status": r.status.value,
                "detail": r.detail,
                "figure": r.figure,
                "hint": r.hint,
                "seconds": round(r.seconds, 4),
                "unreachable": r.unreachable,
                "skip_reason": r.skip_reason,
                "stopped": r.stopped,
                "data": r.data,
            }
            for r in run.results
        ],
    }
