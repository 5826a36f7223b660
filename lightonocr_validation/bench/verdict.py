"""A bench's exit code and its last line, from the result alone (as a later comparison reads it): figures over
failures, a server gone mid-run or a missed objective never exit 0."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightonocr_validation.core.cancel import INTERRUPTED, CancelToken
from lightonocr_validation.core.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_UNREACHABLE, shorten


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


def stopped_verdict(result: Mapping[str, Any], cancel: CancelToken) -> tuple[int, str]:
    """A stopped run's exit code and line: 130 interrupted, 1 past the deadline; what was kept is said."""
    kept = sum(p["figures"]["completed"] for host in result["hosts"] for p in host["points"])
    what = f"the result is partial: {kept} answered request(s) measured"
    if cancel.reason == INTERRUPTED:
        return EXIT_INTERRUPTED, f"issue: {cancel.describe()}: {what}"
    return EXIT_FAILED, f"issue: {cancel.describe()}: {what} (raise --deadline, or find why the server is slow)"
