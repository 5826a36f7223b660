"""Property tests of the command line: random argv for each task, random INVOKE_* values and random
invoke.yaml text never give a traceback, always a documented exit code, and `error: ...` first when it is 2.

In-process through the project's Program (cli_harness: nothing is served, sent or written), plus a few runs of
the real `invoke` binary. Nothing here reaches a network: serve is a dry run, check and bench end at their
input checks, and no generated word names a task that builds or writes (tiny-model, samples, docs).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import tasks
from lightonocr_validation.core.settings import DEFAULTS
from lightonocr_validation.docs.tasks_doc import arguments
from tests.faults.cli_harness import DOCUMENTED_CODES, Run, offline, run_program
from tests.processes import ROOT

TASKS = ("check", "serve", "bench", "stop", "tune")
# Task names a stray word must not be: these build a model, rebuild the samples or write docs/.
UNSAFE_WORDS = {"tiny-model", "tiny_model", "samples", "docs"}
# Flags left out of the random argv: --tiny/--full-size in tune build a model; --pages walks a folder.
LEFT_OUT = {("tune", "tiny"), ("tune", "full-size"), ("check", "pages")}
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "-5", "0", "1", "99999", "1e999", "nan", "٣", "1_000", " 8 ", "+3", "0x10", "4.0"]),
)
VALUES = st.one_of(TEXT, NUMBERS)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _flags(task: str) -> list[tuple[str, bool]]:
    """(flag as typed, takes a value) for each argument of the task."""
    found = []
    for argument in arguments(tasks.ns.tasks[task]):
        name = argument.names[0]
        if (task, name) not in LEFT_OUT and name not in ("dry-run", "detach"):
            found.append(("--" + name, argument.kind is not bool))
    return found


@st.composite
def argv_for(draw: Any, task: str) -> list[str]:
    words = [task]
    flags = _flags(task)
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["flag", "flag", "flag", "unknown", "stray", "bare"]))
        if kind == "unknown":
            words.append("--" + draw(st.from_regex(r"[a-z][a-z-]{0,10}", fullmatch=True)))
        elif kind == "stray":
            words.append(draw(TEXT))
        else:
            flag, takes_value = draw(st.sampled_from(flags))
            words.append(flag)
            if takes_value and kind == "flag":
                words.append(draw(VALUES))
    if task == "serve":
        words.append("--dry-run")
    assume(not UNSAFE_WORDS & set(words))
    return words


def assert_well_behaved(run: Run) -> None:
    assert run.code in DOCUMENTED_CODES, run
    assert "Traceback" not in run.stdout + run.stderr, run
    if run.code == 2:
        assert run.first_error_line.startswith("error: "), run


@pytest.mark.parametrize("task", TASKS)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_argv_for_each_task(data: st.DataObject, task: str) -> None:
    argv = data.draw(argv_for(task))
    with tempfile.TemporaryDirectory() as folder, offline(Path(folder)):
        assert_well_behaved(run_program(argv, project_root=Path(folder)))


def _leaves(tree: dict[str, Any], path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            found += _leaves(value, (*path, key))
        else:
            found.append((*path, key))
    return found


VARIABLES = ["INVOKE_" + "_".join(path).upper() for path in _leaves(DEFAULTS)]


@SETTINGS
@given(env=st.dictionaries(st.sampled_from(VARIABLES), VALUES, min_size=1, max_size=4))
# Found here once: a model no profile tells warned before the bad --profile's error line.
@example(env={"INVOKE_SERVER_PROFILE": "", "INVOKE_MODEL_ID": "0"})
def test_random_invoke_variables(env: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as folder, offline(Path(folder)):
        run = run_program(["serve", "--dry-run"], project_root=Path(folder), env=env)
    assert_well_behaved(run)
    assert run.code in (0, 2)


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT, st.lists(TEXT, max_size=2))
YAML_TREES = st.dictionaries(
    st.sampled_from([*DEFAULTS, "run", "unknown"]),
    st.one_of(
        SCALARS,
        st.dictionaries(
            st.one_of(TEXT, st.sampled_from(["port", "timeout", "hosts", "profiles"])), SCALARS, max_size=3
        ),
    ),
    max_size=3,
)


def _yaml(tree: dict[str, Any]) -> str:
    from invoke.util import yaml  # invoke's copy of PyYAML: the one the runtime reads invoke.yaml with

    return yaml.safe_dump(tree, allow_unicode=True)


@SETTINGS
@given(text=st.one_of(TEXT, st.text(max_size=80), YAML_TREES.map(_yaml)))
def test_random_invoke_yaml(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder, offline(Path(folder)):
        (Path(folder) / "invoke.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
        run = run_program(["serve", "--dry-run"], project_root=Path(folder))
    assert_well_behaved(run)
    assert run.code in (0, 2)


@settings(max_examples=6, deadline=None)
@given(data=st.data(), task=st.sampled_from(["check", "bench", "serve"]))
def test_the_real_invoke_binary_with_random_argv(data: st.DataObject, task: str) -> None:
    argv = data.draw(argv_for(task))
    if task != "serve":
        argv.append("--no-such-option")  # the run must end at the edge: never a request
    result = subprocess.run(
        [str(Path(sys.executable).parent / "invoke"), *argv],
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1", "INVOKE_SERVER_PID_FILE": "/nonexistent/pid"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert_well_behaved(Run(result.returncode, result.stdout, result.stderr))
