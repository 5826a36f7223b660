"""The one place checks are registered: the order here is the order they run and are reported in."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from checks import burst, degeneration, determinism, grounding, load, model, ocr, performance, readiness, serving
from lightonocr_validation.check.base import Check

CHECKS: tuple[type[Check], ...] = (
    readiness.RDY001,
    readiness.RDY002,
    readiness.RDY003,
    model.MOD001,
    model.MOD002,
    ocr.OCR001,
    ocr.OCR002,
    ocr.OCR003,
    grounding.GRD001,
    grounding.GRD002,
    grounding.GRD003,
    grounding.GRD004,
    grounding.GRD005,
    grounding.GRD006,
    degeneration.DEG001,
    degeneration.DEG002,
    degeneration.DEG003,
    degeneration.DEG004,
    degeneration.DEG005,
    serving.SRV001,
    serving.SRV002,
    serving.SRV003,
    serving.SRV004,
    serving.SRV005,
    serving.SRV006,
    serving.SRV007,
    serving.SRV008,
    burst.SRV009,
    determinism.DET001,
    performance.PRF001,
    load.PRF002,
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
