"""A Fact as the manifest writes it: the inverse of ``parse_fact`` (parse_fact(fact_entry(f)) == f)."""

from __future__ import annotations

from dataclasses import fields

from lightonocr_validation.truth.facts import Fact, accepted_keys

_DEFAULTS = {f.name: f.default for f in fields(Fact)}


def fact_entry(fact: Fact) -> dict[str, object]:
    """The fields that differ from Fact's defaults, in Fact's field order; ``max_diffs`` last, as read."""
    keys = accepted_keys(fact.type)
    entry: dict[str, object] = {"type": fact.type}
    for name, default in _DEFAULTS.items():
        value = getattr(fact, name)
        if name == "neighbours":
            entry.update(value)
        elif name in keys and name != "max_diffs" and value != default:
            entry[name] = value
    if fact.max_diffs:
        entry["max_diffs"] = fact.max_diffs
    return entry
