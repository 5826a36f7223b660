"""Run `invoke ARGS` through the project's Program in this process, with nothing reaching a network or a server.

`run_check`, `run_bench` and `run_tune` are replaced by their input checks alone (selection, targets, bench
options: everything they refuse before the first request), so an argv that passes the edge ends there with
exit 0. serve is always a dry run, stop reads a pid file that does not exist.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import tasks
from lightonocr_validation.bench import command as bench_command
from lightonocr_validation.bench import options as bench_options
from lightonocr_validation.bench import servers as bench_servers
from lightonocr_validation.check import command as check_command
from lightonocr_validation.check import registry
from lightonocr_validation.core.cli import Program
from lightonocr_validation.core.errors import UserError
from lightonocr_validation.tune import command as tuning
from lightonocr_validation.vllm import targets

DOCUMENTED_CODES = (0, 1, 2, 130)


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def first_error_line(self) -> str:
        return (self.stderr.strip().splitlines() or [""])[0]


def _check_edge(options: check_command.CheckOptions, **_: Any) -> int:
    try:
        registry.select(options.only, options.skip, options.tags)
        for host in options.hosts or [options.config.check.host]:
            targets.resolve(host, options.config.check, insecure=options.insecure)
    except (registry.SelectionError, targets.TargetError) as error:
        raise UserError(str(error)) from None
    return 0


def _bench_edge(options: bench_options.BenchOptions, **_: Any) -> int:
    bench_options.validate(options)
    bench_servers.resolve_targets(options)
    return 0


@contextlib.contextmanager
def offline(tmp: Path) -> Iterator[None]:
    with (
        mock.patch.object(check_command, "run_check", _check_edge),
        mock.patch.object(bench_command, "run_bench", _bench_edge),
        mock.patch.object(tuning, "run_tune", lambda options, **_: 0),
        mock.patch.dict(os.environ, {"INVOKE_SERVER_PID_FILE": str(tmp / "none.pid"), "NO_COLOR": "1"}),
    ):
        yield


def run_program(argv: Sequence[str], *, project_root: Path, env: Mapping[str, str] | None = None) -> Run:
    """`invoke ARGV` as the project's Program runs it (invoke.yaml read from `project_root`)."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with (
        mock.patch.dict(os.environ, dict(env or {})),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            Program(tasks, project_root).run(["invoke", *argv])
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    return Run(code, out.getvalue(), err.getvalue())
