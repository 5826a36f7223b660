"""Tallies the reporters share: checks by status, and passed-of-run per family for the one-line summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

STATUSES = ("pass", "fail", "skip", "error")


@dataclass(frozen=True)
class FamilyCount:
    family: str
    passed: int
    total: int
    broken: int  # failed or errored
    skipped: int

    @property
    def text(self) -> str:
        return f"{self.family} {self.passed}/{self.total}"


def status_counts(statuses: Iterable[str]) -> dict[str, int]:
    """{"pass": n, "fail": n, "skip": n, "error": n}, every key present."""
    counter = Counter(str(status) for status in statuses)
    return {status: counter.get(status, 0) for status in STATUSES}


def family_counts(results: Iterable[tuple[str, str]]) -> list[FamilyCount]:
    """(family, status) pairs -> one tally per family, in the order the families first ran."""
    tallies: dict[str, Counter[str]] = {}
    for family, status in results:
        tallies.setdefault(family, Counter())[str(status)] += 1
    return [
        FamilyCount(family, t["pass"], sum(t.values()), t["fail"] + t["error"], t["skip"])
        for family, t in tallies.items()
    ]


def family_line(counts: Iterable[FamilyCount]) -> str:
    """ "readiness 3/3 · model 2/2 · ocr 1/3": checks passed of those selected, per family."""
    return " · ".join(count.text for count in counts)


STOPPED_WHY = {"deadline": "the run's deadline passed", "interrupted": "the run was interrupted (Ctrl-C or SIGTERM)"}


def partial_note(report: Mapping[str, Any]) -> str:
    """ "PARTIAL REPORT: the run was interrupted ...; 20 of 23 checks did not finish", or "" for a whole run:
    the same words on the console, in the Markdown and in the JUnit properties."""
    if not report.get("partial"):
        return ""
    checks = [check for host in report.get("hosts") or [] for check in host.get("checks", [])]
    unfinished = sum(bool(check.get("stopped")) for check in checks)
    why = STOPPED_WHY.get(str(report.get("stopped")), "the run stopped early")
    return f"PARTIAL REPORT: {why}; {unfinished} of {len(checks)} checks did not finish"
