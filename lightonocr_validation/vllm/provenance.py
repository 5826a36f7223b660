"""What a report records of where it ran: the tool, and what each server said about itself.

Check and bench reports write the same blocks, from here.
"""

from __future__ import annotations

import platform
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from lightonocr_validation.core.serialize import public_url

# The project runs from its checkout (pyproject.toml: package = false): its name and version are read from
# there, not written again here.
with (Path(__file__).resolve().parents[2] / "pyproject.toml").open("rb") as _handle:
    _PROJECT = tomllib.load(_handle)["project"]
TOOL_NAME: str = _PROJECT["name"]
TOOL_VERSION: str = _PROJECT["version"]


@dataclass(frozen=True)
class ServerFacts:
    """What a server said about itself in the answers the checks asked for (for the report's provenance).

    None where the question was not asked or not answered: never a guess, and never a request of its own.
    """

    vllm_version: str | None = None
    max_model_len: int | None = None


def tool_provenance() -> dict[str, str]:
    """Which tool, on which Python and platform, wrote a report: the same block in check and bench reports."""
    return {
        "name": TOOL_NAME,
        "version": TOOL_VERSION,
        "python": platform.python_version(),
        "requests": requests.__version__,
        "platform": platform.platform(terse=True),
    }


def server_provenance(label: str, facts: ServerFacts) -> dict[str, Any]:
    """One server's entry in a report's provenance (check and bench write the same)."""
    return {"host": public_url(label), "vllm_version": facts.vllm_version, "max_model_len": facts.max_model_len}
