"""Every `--flag` a check hint, a known server failure's fix or an error message tells the user to type exists.

The messages are read from where they live (the check registry, diagnose.KNOWN_FAILURES, and every error
raised or printed in the source); the flags from what declares them: the invoke tasks, invoke itself, the
nox sessions' option sets, and `vllm serve` (the commands this project builds, and vLLM's own argument
classes, read from the installed vLLM's source without importing it: an import takes 15 s).
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path

import invoke
import pytest

import tasks
from lightonocr_validation.check import registry
from lightonocr_validation.core import config
from lightonocr_validation.docs import sources
from lightonocr_validation.docs.tasks_doc import arguments, task_entries
from lightonocr_validation.serve import process as serve
from lightonocr_validation.tune import grid as tune_grid
from lightonocr_validation.vllm import diagnose, wheelhouse
from tests.processes import ROOT

# vLLM's argument classes are read from the installed vLLM: only the tests session has it (a fresh clone's
# `nox -s unit` failed both tests on "vLLM is part of the test environment").
pytestmark = pytest.mark.vllm

FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
# Calls whose text reaches the user as an error or a warning.
MESSAGE_CALLS = re.compile(r"(Error|^_fail|^print_error|^print_warning|^Exit|^Unusable)$")


def _flags_of(words: object) -> set[str]:
    return set(FLAG.findall(" ".join(map(str, words))))


def invoke_task_flags() -> set[str]:
    names = {name for _, task in task_entries(tasks.ns) for argument in arguments(task) for name in argument.names}
    return {("--" if len(name) > 1 else "-") + name for name in names}


def invoke_core_flags() -> set[str]:
    program = invoke.Program()
    return {"--" + name for argument in program.core_args() + program.task_args() for name in argument.names}


def nox_flags() -> set[str]:
    loaded = sources.load_nox_sessions(ROOT)
    sets = [sources.session_options(loaded.module, name) for name in loaded.sessions]
    sets.append(wheelhouse.option_set("wheelhouse", "0", "3.12"))
    return {option.flag for option_set in sets if option_set is not None for option in option_set.options}


def vllm_flags() -> set[str]:
    """`vllm serve`'s flags: those of every command the project builds, and vLLM's argument classes."""
    cfg = config.defaults()
    built = serve.build_command(cfg.model, dataclasses.replace(cfg.server, max_model_len=8192))
    words = [*built, *cfg.tiny_model.serve_args, *cfg.full_size_model.serve_args]
    words += [arg for args in cfg.server.profiles.values() for arg in args]
    words += [arg for candidates in tune_grid.GRIDS.values() for candidate in candidates for arg in candidate.args]
    flags = _flags_of(words)
    spec = importlib.util.find_spec("vllm")
    assert spec is not None and spec.submodule_search_locations, "vLLM is part of the test environment"
    package = Path(next(iter(spec.submodule_search_locations)))
    for module, classes in (
        ("engine/arg_utils.py", {"EngineArgs"}),
        ("entrypoints/launchers/cli_args.py", {"BaseFrontendArgs", "FrontendArgs"}),
    ):
        tree = ast.parse((package / module).read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name in classes:
                for field in node.body:
                    if isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name):
                        flags.add("--" + field.target.id.replace("_", "-"))
    return flags


def messages() -> Iterator[tuple[str, str]]:
    for check in registry.CHECKS:
        yield f"{check.id}.hint", check.hint
        yield f"{check.id}.failure", check.failure
    for failure in diagnose.KNOWN_FAILURES:
        yield f"diagnose {failure.key}", f"{failure.cause}; {failure.fix}"
    for path in [ROOT / "tasks.py", *(ROOT / "lightonocr_validation").rglob("*.py"), *(ROOT / "checks").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if MESSAGE_CALLS.search(name):
                for part in ast.walk(node):
                    if isinstance(part, ast.Constant) and isinstance(part.value, str):
                        yield f"{path.relative_to(ROOT)}:{node.lineno}", part.value


def test_every_flag_a_message_names_exists() -> None:
    known = invoke_task_flags() | invoke_core_flags() | nox_flags() | vllm_flags()
    found = [(where, flag) for where, text in messages() for flag in FLAG.findall(text)]
    assert len(found) > 40, "the collector finds the messages"
    # vLLM declares a switch once and takes --no-NAME for it too.
    unknown = [(where, flag) for where, flag in found if flag not in known and flag.replace("--no-", "--") not in known]
    assert unknown == [], f"messages name flags nothing declares: {unknown}"


def test_the_collector_would_catch_a_flag_that_does_not_exist() -> None:
    known = invoke_task_flags() | vllm_flags()
    assert "--model-name" not in known and "--bogus" not in known
    assert {"--model", "--served-model-name", "--api-key", "--max-num-seqs", "--enforce-eager"} <= known
