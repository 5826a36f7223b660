"""A task's flags declared once, as a group: a frozen dataclass whose fields are the flags, each with its help.

invoke builds a task's flags from its body's parameters (name, default) and a `help` dict. Tasks that take
the same flags (check and bench: which server and how; serve and tune: what to serve) would repeat both.
Instead, a body names a group as one parameter (`target: TargetFlags`); `flag_task` shows invoke the
group's fields in its place (through the body's `__signature__`, which `inspect.signature` reads), hands
the body the group built from them, and gives invoke the help dict from the fields, a task's own wording
over it where one task says it differently.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any

import invoke


def flag(help: str, default: Any = None) -> Any:
    """A field of a flag group: its default (None: the configuration's, or the flag left out) and its help."""
    return dataclasses.field(default=default, metadata={"help": help})


def flag_help(group: type) -> dict[str, str]:
    """{"served-model-name": "..."}: a group's help, by the flag's name as typed."""
    return {field.name.replace("_", "-"): field.metadata["help"] for field in dataclasses.fields(group)}


def flag_task(*, help: Mapping[str, str] | None = None, **options: Any) -> Callable[[Callable[..., Any]], invoke.Task]:
    """`invoke.task` for a body some of whose parameters are flag groups: each group's fields become flags (in
    its place), lists among them repeatable; `help` is the task's own help, over its groups'."""

    def decorate(body: Callable[..., Any]) -> invoke.Task:
        hints = typing.get_type_hints(body)
        groups = {name: hint for name, hint in hints.items() if dataclasses.is_dataclass(hint)}
        parameters: list[inspect.Parameter] = []
        task_help: dict[str, str] = {}
        for parameter in inspect.signature(body).parameters.values():
            group = groups.get(parameter.name)
            if group is None:
                parameters.append(parameter.replace(annotation=hints.get(parameter.name, parameter.annotation)))
                continue
            group_hints = typing.get_type_hints(group)
            for field in dataclasses.fields(group):
                parameters.append(
                    inspect.Parameter(
                        field.name,
                        parameter.POSITIONAL_OR_KEYWORD,
                        default=field.default,
                        annotation=group_hints[field.name],
                    )
                )
            task_help |= flag_help(group)

        @functools.wraps(body)
        def run(c: Any, **flags: Any) -> Any:
            for name, group in groups.items():
                fields = [field.name for field in dataclasses.fields(group)]
                flags[name] = group(**{key: flags.pop(key) for key in fields if key in flags})
            return body(c, **flags)

        # What invoke and typing.get_type_hints read: the flags, not the groups.
        run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        run.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
        repeatable = [parameter.name for parameter in parameters if _is_list(parameter.annotation)]
        return invoke.task(run, help={**task_help, **(help or {})}, iterable=repeatable, **options)

    return decorate


def _is_list(hint: Any) -> bool:
    """`list[str] | None`: a repeatable flag."""
    return typing.get_origin(hint) is list or any(typing.get_origin(arg) is list for arg in typing.get_args(hint))
