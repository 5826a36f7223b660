"""Make report data safe to write: plain JSON values only, no secrets, times in ISO 8601 UTC.

Every report (JSON, JUnit, Markdown) is rendered from the one dict `json_report.report_dict` builds, and
that dict passes through here once; so what one report may contain, all may, and nothing else.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import PurePath
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from lightonocr_validation.core.redaction import REDACTED, Redactor, target_secrets

__all__ = ["REDACTED", "iso_utc", "jsonable", "public_url", "redact", "target_secrets"]


def jsonable(value: Any) -> Any:
    """`value` as JSON's own types: sets and tuples become lists, paths and unknown objects strings, NaN and
    infinities null (JSON has no such numbers, and `json.dumps` would write invalid `NaN`)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(jsonable(key)): jsonable(item) for key, item in value.items()}
    if isinstance(value, set | frozenset):
        # Sorted by text, so the same run gives the same file whatever the set's hash order.
        return sorted((jsonable(item) for item in value), key=str)
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable({f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.repr})
    return str(value)


def redact(value: Any, secrets: Iterable[str]) -> Any:
    """`value` (already `jsonable`) with every occurrence of each secret, in each of its written forms
    (lightonocr_validation/core/redaction.py), replaced, and every URL's password masked."""
    return Redactor(secrets).value(value)


def public_url(url: str) -> str:
    """The URL without user name and password (https://user:pw@host/ -> https://host/)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def iso_utc(epoch: float | None) -> str | None:
    """Seconds since the epoch as ISO 8601 in UTC, to the millisecond: 2025-01-31T12:00:00.123Z."""
    if epoch is None or not math.isfinite(epoch):
        return None
    moment = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def render_json(report: Mapping[str, Any]) -> str:
    # allow_nan=False: a NaN that slipped past `jsonable` fails here, not in the reader's parser.
    return json.dumps(jsonable(report), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
