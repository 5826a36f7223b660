"""Read a JSON answer whatever its shape: a missing key, a string where a list was expected, null anywhere.

A server answers what it answers; the checks must turn any shape into a result, never into an
AttributeError. `dig` walks a path and gives None where the shape differs; `kind` names what was found
instead, for a one-line reason.
"""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


def dig(value: Any, *path: str | int) -> Any:
    """``value[path[0]][path[1]]...``, or None as soon as a step does not fit (a key of a non-object, an
    index of a non-list or past its end)."""
    for step in path:
        if isinstance(step, int) and not isinstance(step, bool):
            value = value[step] if isinstance(value, list) and -len(value) <= step < len(value) else None
        else:
            value = value.get(step) if isinstance(value, dict) else None
        if value is None:
            return None
    return value


def typed(value: Any, kind: type[T] | tuple[type, ...], default: T | None = None) -> T | None:
    """``value`` when it is of ``kind`` (bool is not taken for int), else ``default``."""
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        return default
    return value if isinstance(value, kind) else default


def kind(value: Any) -> str:
    """What a JSON value is, in words: "a string", "null", "a list of 3", "an object"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
