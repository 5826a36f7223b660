"""The registered checks in the order they run and are reported in: families in FAMILIES' order, each
family's checks as written (`@register` in checks/), and the selection by --only, --skip and --tag."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import checks.burst
import checks.degeneration
import checks.determinism
import checks.grounding
import checks.load
import checks.model
import checks.ocr
import checks.performance
import checks.readiness
import checks.serving
from lightonocr_validation.check.base import REGISTERED, Check
from lightonocr_validation.core.errors import UserError
from lightonocr_validation.core.model_profiles import ModelProfile
from lightonocr_validation.grounding.mode import GROUNDING, require_grounding

# The families in the order they run and are reported; within a family, checks run in the order written.
FAMILIES = (
    checks.readiness,
    checks.model,
    checks.ocr,
    checks.grounding,
    checks.degeneration,
    checks.serving,
    checks.burst,
    checks.determinism,
    checks.performance,
    checks.load,
)
_MODULES = [family.__name__ for family in FAMILIES]
CHECKS: tuple[type[Check], ...] = tuple(
    sorted(
        (check for check in REGISTERED if check.__module__ in _MODULES),
        key=lambda check: (_MODULES.index(check.__module__), REGISTERED.index(check)),
    )
)

_ID = re.compile(r"^[A-Z]{3}\d{3}$")


class SelectionError(ValueError):
    """--only, --skip or --tag named something that does not exist."""


def _validate(checks: Sequence[type[Check]]) -> None:
    seen: set[str] = set()
    for check in checks:
        if not _ID.match(check.id) or check.id in seen:
            raise RuntimeError(f"check id {check.id!r} is malformed or registered twice")
        seen.add(check.id)
        for required in check.requires:
            if required not in seen:
                raise RuntimeError(f"{check.id} requires {required}, which is not registered before it")


def all_tags() -> set[str]:
    return {tag for check in CHECKS for tag in check.tags} | {check.family for check in CHECKS}


def select(only: Iterable[str] = (), skip: Iterable[str] = (), tags: Iterable[str] = ()) -> list[type[Check]]:
    """Checks by id (--only, --skip, comma lists allowed) and by tag or family (--tag)."""
    only_ids, skip_ids, wanted_tags = _split(only), _split(skip), _split(tags)
    known = {check.id for check in CHECKS}
    unknown = sorted((only_ids | skip_ids) - known)
    if unknown:
        raise SelectionError(f"unknown check id {', '.join(unknown)}: `invoke check --list` shows them all")
    unknown_tags = sorted(wanted_tags - all_tags())
    if unknown_tags:
        raise SelectionError(f"unknown tag {', '.join(unknown_tags)}: known tags are {', '.join(sorted(all_tags()))}")
    selected = [
        check
        for check in CHECKS
        if (not only_ids or check.id in only_ids)
        and check.id not in skip_ids
        and (not wanted_tags or wanted_tags & (check.tags | {check.family}))
    ]
    if not selected:
        raise SelectionError("the selection leaves no check to run: loosen --only, --skip or --tag")
    return selected


def essential_ids(checks: Iterable[type[Check]], *, user_pages: bool = False) -> frozenset[str]:
    """The checks `validated` needs passed (a skip leaves the question open); on the user's own pages
    (--pages), less those whose question those pages cannot answer (essential_on_user_pages False)."""
    return frozenset(
        check.id for check in checks if check.essential and (check.essential_on_user_pages or not user_pages)
    )


def _split(values: Iterable[str]) -> set[str]:
    return {part.strip() for value in values for part in value.split(",") if part.strip()}


_validate(CHECKS)


def checks_for_mode(
    selected: Sequence[type[Check]], mode: str, profile: ModelProfile, model_name: str
) -> list[type[Check]]:
    """The selected checks of `invoke check --mode`: "" all of them; "plain" all but the grounding family;
    "grounding" the grounding family and what it requires. An explicit grounding mode for a model without
    it is a usage error (one line), not a run of skips."""
    if not mode:
        return list(selected)
    if mode == "plain":
        return _some(mode, [check for check in selected if check.family != GROUNDING])
    require_grounding(profile, model_name)
    wanted = {check.id for check in selected if check.family == GROUNDING}
    by_id = {check.id: check for check in selected}
    pending = list(wanted)
    while pending:  # the checks the grounding ones require, and theirs
        for required in by_id[pending.pop()].requires:
            if required not in wanted and required in by_id:
                wanted.add(required)
                pending.append(required)
    return _some(mode, [check for check in selected if check.id in wanted])


def _some(mode: str, checks: list[type[Check]]) -> list[type[Check]]:
    if not checks:
        raise UserError(f"--mode {mode} leaves no check of the selection to run: loosen --only, --skip or --tag")
    return checks
