"""docs/checks.md: every registered check, in the order it runs, with what its failure means and the fix."""

from __future__ import annotations

import importlib
import inspect
from collections import defaultdict
from pathlib import Path
from typing import Any

from lightonocr_validation.core.markdown import NONE, code, table
from lightonocr_validation.docs import sources
from lightonocr_validation.docs.markers import empty_block

PATH = "docs/checks.md"

TEMPLATE = f"""# Checks

<!-- Generated from lightonocr_validation/check/registry.py by `nox -s docs` (or `invoke docs`). Only the text between
     generated:begin and generated:end markers is rewritten; edit the rest freely. -->

`invoke check` runs these against a server, in this order, and ends with one verdict (docs/tasks.md,
"Exit codes"). Select with `--only ID`, `--skip ID` and `--tag TAG` (a tag or a family);
`invoke check --list` prints the same list.

- A check whose `requires` did not pass is skipped, and says which.
- A check that needs trained weights is skipped against the random-weight tiny model: the verdict is then
  `skip-no-gpu`, never `validated`.
- Every essential check must pass for `validated`: a skip there leaves the question open.

{empty_block("check-list")}

## By tag

{empty_block("check-tags")}

## Each check

{empty_block("checks")}
"""


def registered(root: Path) -> tuple[type[Any], ...]:
    with sources.importable_root(root):
        registry = importlib.import_module("lightonocr_validation.check.registry")
    return tuple(registry.CHECKS)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _anchor(check: type[Any]) -> str:
    return f"[{check.id}](#{check.id.lower()})"


def render_check_list(checks: tuple[type[Any], ...]) -> str:
    rows = [
        (
            _anchor(check),
            check.family,
            check.title(),
            ", ".join(sorted(check.tags)) or NONE,
            _yes(check.essential),
            _yes(check.needs_trained_weights),
        )
        for check in checks
    ]
    headers = ["Id", "Family", "Title", "Tags", "Essential", "Needs trained weights"]
    return f"{len(checks)} checks are registered.\n\n" + table(headers, rows)


def render_tags(checks: tuple[type[Any], ...]) -> str:
    by_tag: dict[str, list[str]] = defaultdict(list)
    for check in checks:
        for tag in sorted({*check.tags, check.family}):
            by_tag[tag].append(_anchor(check))
    rows = [(code(f"--tag {tag}"), ", ".join(ids)) for tag, ids in sorted(by_tag.items())]
    return table(["Selection", "Checks"], rows)


def render_checks(checks: tuple[type[Any], ...]) -> str:
    sections = []
    for check in checks:
        requires = ", ".join(f"[{needed}](#{needed.lower()})" for needed in check.requires) or NONE
        facts = [
            f"- Family: {check.family}",
            f"- Tags: {', '.join(code(tag) for tag in sorted(check.tags)) or NONE}",
            f"- Requires: {requires}",
            f"- Needs trained weights: {_yes(check.needs_trained_weights)}",
            f"- Essential: {_yes(check.essential)}",
            f"- Failing means: {check.failure}",
            f"- Hint: {check.hint}",
        ]
        # A docstring's body (after the title) says how the check judges and why: one paragraph here.
        body = " ".join((inspect.getdoc(check) or "").split("\n\n", 1)[1:]).split()
        judged = f"{' '.join(body)}\n\n" if body else ""
        sections.append(f"### {check.id}\n\n**{check.title()}**\n\n{judged}" + "\n".join(facts))
    return "\n\n".join(sections)


def blocks(root: Path) -> dict[str, str]:
    checks = registered(root)
    return {
        "check-list": render_check_list(checks),
        "check-tags": render_tags(checks),
        "checks": render_checks(checks),
    }
