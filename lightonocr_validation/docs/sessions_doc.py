"""docs/sessions.md: every nox session, from nox's own registry, and the options sessions parse."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from lightonocr_validation.core.cli_options import OptionSet
from lightonocr_validation.core.markdown import NONE, code, fenced, rst_to_markdown, table
from lightonocr_validation.docs import sources
from lightonocr_validation.docs.markers import empty_block

PATH = "docs/sessions.md"

# What a session does with the arguments after `--` that its own parser does not take: the code
# passes them on, but only prose can say to whom. Every session needs a note: generation fails without one.
POSARGS_NOTES = {
    "validate": "Arguments after `--` go to the session it picks (`validate-gpu` or `validate-cpu`).",
    "validate-gpu": "Arguments after `--` that are not its options go to `invoke check` (docs/tasks.md).",
    "validate-cpu": "Arguments after `--` that are not its options go to `invoke check` (docs/tasks.md).",
    "wheelhouse": "Arguments after `--` are its options, `--out` required: e.g. `nox -s wheelhouse -- --vllm 0.26.0 "
    "--have torch==2.11.0 --have numpy==2.5.2 --out ../wheelhouse` on a connected machine, then "
    "`nox -s validate-gpu -- --vllm 0.26.0 --wheelhouse ../wheelhouse` on the offline one.",
    "tests": "Arguments after `--` go to pytest, e.g. `nox -s tests -- -k docs`.",
    "unit": "Arguments after `--` go to pytest, e.g. `nox -s unit -- -k docs`; a `-m` there replaces the "
    "session's marker selection.",
    "lint": "No arguments after `--`.",
    "docs": "Arguments after `--` go to `invoke docs`: `nox -s docs -- --check` writes nothing and fails "
    "when docs/ is stale.",
}

TEMPLATE = f"""# Nox sessions

<!-- Generated from noxfile.py by `nox -s docs` (or `invoke docs`). Only the text between generated:begin
     and generated:end markers is rewritten; edit the rest freely. -->

Nox owns environments, invoke owns actions: each session builds (or reuses) an isolated environment with
uv, installs what it needs, and runs invoke tasks or tools inside it. `nox --list` lists the sessions,
`nox -s NAME` runs one, and arguments after `--` reach the session.

{empty_block("session-list")}

## Sessions

{empty_block("sessions")}
"""


def _python(func: Any) -> str:
    python = getattr(func, "python", None)
    if python is False:
        return "none (runs in nox's own interpreter)"
    if python in (None, True):
        return "nox's interpreter"
    return ", ".join(python) if isinstance(python, list | tuple) else str(python)


def _summary(func: Any) -> tuple[str, str]:
    text = rst_to_markdown(inspect.getdoc(getattr(func, "func", func)) or "")
    summary, _, rest = text.partition("\n")
    return summary.strip(), rest.strip()


def _runs_with_plain_nox(name: str, func: Any, module: Any) -> str:
    chosen = getattr(getattr(module, "nox", None), "options", None)
    selected = getattr(chosen, "sessions", None)
    if selected:
        return "yes" if name in selected else "no"
    return "yes" if getattr(func, "default", True) else "no"


def render_options(option_set: OptionSet) -> str:
    rows = [
        (code(option.usage), "off" if option.switch or option.default is None else code(option.default), option.help)
        for option in option_set.options
    ]
    return table(["Option", "Default", "Help"], rows)


def _posargs_note(name: str) -> str:
    try:
        return POSARGS_NOTES[name]
    except KeyError:
        raise ValueError(
            f"nox session {name!r} has no note on its arguments after `--`: add one to POSARGS_NOTES in "
            "lightonocr_validation/docs/sessions_doc.py"
        ) from None


def render_session_list(loaded: sources.NoxSessions) -> str:
    rows = [
        (
            f"[{code(name)}](#{name})",
            _python(func),
            ", ".join(sorted(getattr(func, "tags", []) or [])) or NONE,
            _runs_with_plain_nox(name, func, loaded.module),
            _summary(func)[0],
        )
        for name, func in loaded.sessions.items()
    ]
    options = getattr(loaded.module.nox, "options", None)
    selected = list(getattr(options, "sessions", None) or [])
    lead = f"`nox` alone runs {', '.join(code(name) for name in selected)}. " if selected else ""
    backend = getattr(options, "default_venv_backend", None)
    lead += f"Environments are built with {code(backend)}" if backend else "Environments are built by nox"
    reuse = getattr(options, "reuse_venv", None)
    lead += f" and reused ({code('reuse_venv = ' + repr(reuse))})." if reuse else "."
    return lead + "\n\n" + table(["Session", "Python", "Tags", "Runs with plain `nox`", "What it does"], rows)


def render_sessions(loaded: sources.NoxSessions) -> str:
    sections = []
    for name, func in loaded.sessions.items():
        summary, rest = _summary(func)
        parts = [f"### {name}", summary]
        if rest:
            parts.append(rest)
        tags = ", ".join(code(tag) for tag in sorted(getattr(func, "tags", []) or [])) or NONE
        parts.append(
            f"Python: {_python(func)} · tags: {tags} · `default={getattr(func, 'default', True)}` in its "
            "decorator (a session list in `nox.options.sessions` takes precedence)"
        )
        option_set = sources.session_options(loaded.module, name)
        if option_set is not None:
            parts.append(f"Its own options (`nox -s {name} -- OPTIONS`):")
            parts.append(render_options(option_set))
        parts.append(_posargs_note(name))
        parts.append(fenced(f"nox -s {name}", "bash"))
        sections.append("\n\n".join(parts))
    return "\n\n".join(sections)


def blocks(root: Path) -> dict[str, str]:
    loaded = sources.load_nox_sessions(root)
    return {"session-list": render_session_list(loaded), "sessions": render_sessions(loaded)}
