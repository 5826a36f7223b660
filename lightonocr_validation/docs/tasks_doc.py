"""docs/tasks.md: every invoke task, its arguments, exit codes, examples, and the configuration keys."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from invoke import Collection, Task

from lightonocr_validation.check import verdict
from lightonocr_validation.core import config, errors, settings
from lightonocr_validation.core.markdown import NONE, code, fenced, rst_to_markdown, table, value
from lightonocr_validation.docs import sources
from lightonocr_validation.docs.markers import empty_block

PATH = "docs/tasks.md"
BLOCKS = ("task-list", "tasks", "exit-codes", "configuration")

# Examples are hand-picked: the task objects cannot say which invocation is typical. A task added
# without one still gets documented, with `invoke --help NAME` as its example.
EXAMPLES: dict[str, list[tuple[str, str]]] = {
    "serve": [
        ("invoke serve --dry-run", "print the exact vllm serve command and exit"),
        ("invoke serve --detach", "start the model card's command, return once the model is listed"),
        ("invoke serve --tiny --device cpu --detach", "the random-weight tiny model on vLLM's CPU build"),
        ("invoke serve --full-size --detach", "LightOnOCR-2-1B's full size with random weights, on a GPU"),
        ("invoke serve --port 8001 -- --max-num-seqs 64", "arguments after -- go to vllm serve"),
        ("invoke serve --replicas 2 --detach", "two servers, GPU 0 on port 8000 and GPU 1 on 8001"),
        ("invoke serve --data-parallel-size 2 --detach", "one server on port 8000 over two GPUs (vLLM's DP)"),
    ],
    "stop": [("invoke stop", "stop every server `invoke serve --detach` started, each proven ours first")],
    "check": [
        ("invoke check", "the local server (check.host, check.port)"),
        ("invoke check --host remote-gpu --report-json reports/remote.json", "a profile from invoke.yaml"),
        ("invoke check --tag smoke", "only the quick checks"),
        ("invoke check --pages ~/olmOCR-bench/bench_data", "score olmOCR-Bench, or a folder of your own pages"),
        ("invoke check --list", "every check, without contacting a server"),
        ("invoke check --replicas 2", "the servers at port and port+1: a verdict each and the fleet's"),
    ],
    "bench": [
        ("invoke bench", "4 pages in flight, 64 measured pages, every answer graded"),
        ('invoke bench --sweep --slo "p95_e2e<=20s" --gpu-hour-price 2', "the most pages/s within the objective"),
        ("invoke bench --rate 5 --arrival poisson --duration 120 --runs 3", "5 pages/s for 2 min, 3 times"),
        ("invoke bench --max-tokens 1024 --temperature 0 --tiny", "fixed output length, as vllm bench serve"),
        ("invoke bench --replicas 2 --concurrency 64", "one GPU alone, then both replicas: scaling efficiency"),
    ],
    "tiny-model": [
        ("invoke tiny-model", "build the random-weight checkpoint into tiny_model.path"),
        ("invoke tiny-model --full-size", "the full-size configuration and tokenizer, no weights"),
    ],
    "samples": [("invoke samples --check", "prove the committed sample pages are what the code builds")],
    "docs": [("invoke docs", "regenerate docs/"), ("invoke docs --check", "fail when docs/ is stale")],
}

TEMPLATE = f"""# Invoke tasks

<!-- Generated from tasks.py and lightonocr_validation/core/settings.py by `nox -s docs` (or `invoke docs`).
     Only the text between generated:begin and generated:end markers is rewritten; edit the rest freely. -->

Invoke owns actions, nox owns environments: run these tasks inside an environment that has vLLM (the one
`nox -s validate` builds, `.nox/validate-cpu` or `.nox/validate-gpu`), from the repository root.
`invoke --list` lists them, `invoke --help TASK` shows one.

{empty_block("task-list")}

## Tasks

{empty_block("tasks")}

## Exit codes

{empty_block("exit-codes")}

## Configuration

Every default below can be overridden, lowest precedence first:

1. `invoke.yaml` beside tasks.py (or `invoke.json`, `invoke.py`), for example

   ```yaml
   server:
     port: 8001
     max_model_len: 8192
   check:
     hosts:
       remote-gpu:
         url: https://ocr.example.com
         api_key_env: REMOTE_GPU_API_KEY
   ```

2. `INVOKE_*` environment variables, named after the key path (`INVOKE_SERVER_PORT=8001`), read as
   text like a flag: numbers in ASCII digits, switches as `true`/`false`, `yes`/`no`, `on`/`off` or `1`/`0`;
   a list or a mapping cannot be written in one variable, so those keys are set in `invoke.yaml` only;
3. the task's flags, where a flag exists (its help names the key it overrides).

Every value is checked against the "Accepts" column before anything runs: a value out of range, from any
of these sources, is one line naming the key or the flag and exit 2.

{empty_block("configuration")}
"""


def task_entries(collection: Collection, prefix: str = "") -> Iterator[tuple[str, Task]]:
    """(name as typed on the command line, task), sub-collections as `sub.task`, sorted by name."""
    for name in sorted(collection.tasks):
        yield prefix + name, collection.tasks[name]
    for name in sorted(collection.collections):
        yield from task_entries(collection.collections[name], f"{prefix}{name}.")


def arguments(task: Task) -> list[Any]:
    """The task's invoke Arguments, without consuming its help (get_arguments pops it from the dict)."""
    clone = copy.copy(task)
    clone.help = dict(task.help)
    return clone.get_arguments(ignore_unknown_help=True)


def _annotation(task: Task, attr_name: str) -> str:
    parameter = inspect.signature(task.body).parameters.get(attr_name)
    if parameter is None or parameter.annotation is inspect.Parameter.empty:
        return ""
    text = (
        parameter.annotation
        if isinstance(parameter.annotation, str)
        else getattr(parameter.annotation, "__name__", str(parameter.annotation))
    )
    return text.replace(" | None", "").replace("None | ", "")


def _type(task: Task, argument: Any) -> str:
    if argument.kind is bool:
        return "flag"
    annotated = _annotation(task, argument.attr_name or argument.name)
    if argument.kind is list:
        inner = annotated.removeprefix("list[").removesuffix("]") if annotated.startswith("list[") else "str"
        return f"{inner}, repeatable"
    return annotated or argument.kind.__name__


def _default(argument: Any) -> str:
    if argument.kind is bool:
        return "on" if argument.default else "off"
    if argument.default in (None, [], ""):
        return NONE
    return code(argument.default)


def _flags(argument: Any) -> str:
    return ", ".join(code(("--" if len(name) > 1 else "-") + name) for name in argument.names)


def _docstring(task: Task) -> tuple[str, str]:
    text = rst_to_markdown(inspect.getdoc(task.body) or "")
    summary, _, rest = text.partition("\n")
    return summary.strip(), rest.strip()


def render_task_list(collection: Collection) -> str:
    rows = [
        (f"[{code('invoke ' + name)}](#invoke-{name.replace('.', '')})", _docstring(task)[0])
        for name, task in task_entries(collection)
    ]
    return table(["Task", "What it does"], rows)


def render_tasks(collection: Collection) -> str:
    sections = []
    for name, task in task_entries(collection):
        summary, rest = _docstring(task)
        parts = [f"### invoke {name}", summary]
        if rest:
            parts.append(rest)
        args = arguments(task)
        if args:
            parts.append(
                table(
                    ["Flag", "Type", "Default", "Help"],
                    [(_flags(arg), _type(task, arg), _default(arg), arg.help or "") for arg in args],
                )
            )
        else:
            parts.append("No arguments.")
        examples = EXAMPLES.get(name) or [(f"invoke --help {name}", "its arguments")]
        parts.append(fenced("\n".join(f"{command}   # {why}" for command, why in examples), "bash"))
        sections.append("\n\n".join(parts))
    return "\n\n".join(sections)


def render_exit_codes(tasks_module: Any) -> str:
    rows = [(str(number), code(name), why) for name, number, why in errors.EXIT_CODES]
    verdict_lines = sources.docstring_bullets(verdict)
    return "\n\n".join(
        [
            "Every task (lightonocr_validation/core/errors.py):",
            table(["Code", "Constant", "Meaning"], rows),
            "`invoke check` ends with its verdict's code (lightonocr_validation/check/verdict.py):",
            "\n".join(f"- {rst_to_markdown(line)}" for line in verdict_lines),
        ]
    )


# Tables of rows: each row is one leaf (the model profiles: the guide's Models table shows their columns).
ROW_TABLES = (("model_profiles",),)


def _leaves(data: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Configuration leaves in settings' order; an empty mapping is a leaf (filled in invoke.yaml)."""
    for key, item in data.items():
        if isinstance(item, dict) and item and path not in ROW_TABLES:
            yield from _leaves(item, (*path, key))
        else:
            yield (*path, key), item


def render_configuration() -> str:
    notes = {tuple(key.split(".")): note for key, note in settings.NOTES.items()}
    rows = []
    for path, default in _leaves(settings.DEFAULTS):
        settable = not isinstance(default, list | tuple | dict)
        variable = code("INVOKE_" + "_".join(path).upper()) if settable else "invoke.yaml only"
        # A leaf inherits its parent's note when it has none of its own.
        note = next((notes[path[:n]] for n in range(len(path), 0, -1) if path[:n] in notes), "")
        rows.append((code(".".join(path)), value(default), variable, _accepts(".".join(path), default), note))
    return table(["Key", "Default", "Environment variable", "Accepts", "What it is"], rows)


def _accepts(key: str, default: Any) -> str:
    """What config.load lets through for a key: its range (config.RANGES), a switch, text that may not be empty."""
    if key in config.RANGES:
        whole = config.setting_type(key) is int
        return config.RANGES[key].describe().replace("a number", "a whole number" if whole else "a number")
    if isinstance(default, bool):
        return "true or false"
    if key in config.NOT_EMPTY:
        return "text, not empty"
    return NONE


def blocks(root: Path) -> dict[str, str]:
    tasks_module = sources.load_tasks(root)
    collection = tasks_module.ns
    return {
        "task-list": render_task_list(collection),
        "tasks": render_tasks(collection),
        "exit-codes": render_exit_codes(tasks_module),
        "configuration": render_configuration(),
    }
