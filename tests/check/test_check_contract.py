"""The check contract in one place each: the essential set (check/registry.py), a Result from its Outcome."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from lightonocr_validation.check import registry
from lightonocr_validation.check.base import Check, Outcome, Result, Status
from lightonocr_validation.check.registry import CHECKS, essential_ids

ROOT = Path(__file__).resolve().parents[2]


def test_the_essential_set_leaves_out_what_users_own_pages_cannot_answer() -> None:
    on_samples = essential_ids(CHECKS)
    on_user_pages = essential_ids(CHECKS, user_pages=True)
    not_on_user_pages = {check.id for check in CHECKS if check.essential and not check.essential_on_user_pages}
    assert not_on_user_pages and not_on_user_pages <= on_samples
    assert on_user_pages == on_samples - not_on_user_pages
    assert not {check.id for check in CHECKS if not check.essential} & on_samples


def test_a_result_carries_every_field_of_its_outcome() -> None:
    outcome = Outcome(Status.ERROR, "refused", "1 s", {"kind": "x"}, unreachable="refused")
    result = Result.of(CHECKS[0], outcome, seconds=1.5, hint="", host="h")
    assert {field.name: getattr(result, field.name) for field in dataclasses.fields(Outcome)} == vars(outcome)
    assert (result.check_id, result.seconds, result.host) == (CHECKS[0].id, 1.5, "h")


def test_every_check_written_in_checks_is_registered_and_every_family_listed() -> None:
    families = {path.stem for path in (ROOT / "checks").glob("*.py")} - {"__init__"}
    assert {family.__name__.removeprefix("checks.") for family in registry.FAMILIES} == families
    written = {
        value
        for family in registry.FAMILIES
        for value in vars(family).values()
        if isinstance(value, type)
        and issubclass(value, Check)
        and value.__module__ == family.__name__
        and not value.__name__.startswith("_")  # a family's private base (grounding's _EachPage) runs nothing
    }
    assert written == set(CHECKS)
