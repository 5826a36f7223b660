"""The JSON report: every check's result and the verdict, with the run's provenance.

The schema is versioned (`schema`); docs/report-schema.md describes each field. Version 1.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lightonocr_validation.runner import HostRun
from lightonocr_validation.verdict import Verdict

SCHEMA_VERSION = 1


def report_dict(
    runs: Sequence[HostRun], verdicts: Sequence[Verdict], overall: Verdict, provenance: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "schema": SCHEMA_VERSION,
        "verdict": {"word": overall.word, "line": overall.line, "exit_code": overall.exit_code},
        "provenance": dict(provenance),
        "hosts": [
            {
                "host": run.target.label,
                "base_url": run.target.base_url,
                "verdict": {"word": verdict.word, "line": verdict.line, "exit_code": verdict.exit_code},
                "started": run.started,
                "finished": run.finished,
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
                        "data": r.data,
                    }
                    for r in run.results
                ],
            }
            for run, verdict in zip(runs, verdicts, strict=True)
        ],
    }


def write_json(path: Path, report: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
