"""The essential checks, computed once (check/registry.py) for the verdict, the guide and the tests."""

from __future__ import annotations

from lightonocr_validation.check.registry import CHECKS, essential_ids


def test_the_essential_set_leaves_out_what_users_own_pages_cannot_answer() -> None:
    on_samples = essential_ids(CHECKS)
    on_user_pages = essential_ids(CHECKS, user_pages=True)
    not_on_user_pages = {check.id for check in CHECKS if check.essential and not check.essential_on_user_pages}
    assert not_on_user_pages and not_on_user_pages <= on_samples
    assert on_user_pages == on_samples - not_on_user_pages
    assert not {check.id for check in CHECKS if not check.essential} & on_samples
