"""`invoke serve`: start one server or a fleet (fleet.py), watch them become ready, detach or serve.

Every port is checked free first, then each server starts in a process group of its own, and all are
watched together until each lists the model; one that dies at start stops the others and is diagnosed from
its log. Detached, the pid file (pid_file.py) records each server's identity for `invoke stop`
(stop.py); in the foreground, Ctrl-C (or SIGTERM) stops every group and exits 130, and a second
Ctrl-C during that stop kills them at once.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from lightonocr_validation.core.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, UserError, print_warning
from lightonocr_validation.core.redaction import Redactor, redacting
from lightonocr_validation.serve import advice, pid_file, processes
from lightonocr_validation.serve import process as serving
from lightonocr_validation.serve.fleet import SINGLE, Plan, PlannedServer, check_ports_free
from lightonocr_validation.serve.pid_file import PidRecord, ServerRecord
from lightonocr_validation.serve.stop import guard_no_server_running
from lightonocr_validation.vllm.client import Target, VllmClient


@dataclass(frozen=True)
class ServeOptions:
    plan: Plan
    model_name: str  # the id the servers list
    env: Mapping[str, str]  # on top of ours, for every server
    pid_file: Path
    detach: bool
    startup_timeout: float
    stop_timeout: float
    api_key: str = field(default="", repr=False)  # readiness asks /v1/models with the key the servers have


@dataclass
class Started:
    planned: PlannedServer
    running: serving.RunningServer
    record: ServerRecord
    stopped: bool = False


def run_serve(options: ServeOptions, *, console: Console, errors: Console) -> int:
    """`invoke serve`; every line it prints (the servers' log tails included) goes through a redactor that
    knows the API key the servers were given."""
    with redacting(Redactor([options.api_key] if options.api_key else []), console, errors):
        return _run_serve(options, console=console, errors=errors)


def _run_serve(options: ServeOptions, *, console: Console, errors: Console) -> int:
    guard_no_server_running(options.pid_file, errors=errors)
    check_ports_free(options.plan)
    started: list[Started] = []
    try:
        for planned in options.plan.servers:
            console.print(f"$ {planned.rendered(options.env)}", markup=False, soft_wrap=True)
            started.append(_start(planned, options))
        _wait_all(started, options, console=console, errors=errors)
        _say_plugin_not_loaded(started, options, errors=errors)  # detached or not: the ready logs say it
        if options.detach:
            _record(started, options, errors=errors)
            _print_detached(started, options, console)
            return EXIT_OK
        console.print("serving until interrupted (Ctrl-C)", markup=False)
        dead = _wait_any_exit(started)
        _stop(started, options.stop_timeout)
        raise UserError(
            f"{_name(options.plan, dead.planned)} exited with code {dead.running.process.returncode}"
            + ("; the others were stopped" if len(started) > 1 else "")
            + (f"; its log: {dead.planned.log_file}" if options.plan.mode == SINGLE else ""),
            EXIT_FAILED,
        )
    except KeyboardInterrupt:
        return _interrupted(started, options, errors=errors)
    except BaseException:
        _stop(started, options.stop_timeout)
        raise


def _say_plugin_not_loaded(started: Sequence[Started], options: ServeOptions, *, errors: Console) -> None:
    """A switch in the environment proves nothing by itself: the ready servers' logs say whether the plugin took."""
    note = advice.plugin_not_loaded({**os.environ, **options.env}, [s.planned.log_file for s in started])
    if note:
        print_warning(errors, note)


def _start(planned: PlannedServer, options: ServeOptions) -> Started:
    env = {**options.env, **planned.env}
    process = serving.start(planned.command, host=planned.host, port=planned.port, log_file=planned.log_file, env=env)
    running = serving.RunningServer(
        process=process,
        command=planned.command,
        log_file=planned.log_file,
        base_url=planned.base_url,
        model_name=options.model_name,
        stages=serving.Stages(),
        api_key=options.api_key,
    )
    # What the kernel says about it now, while the pid is certainly ours: what `invoke stop` proves later.
    live = processes.identify_started(process.pid)
    record = ServerRecord(
        pid=process.pid,
        start_time=live.start_time if live else None,
        pgid=process.pid,
        argv=live.argv if live and live.argv else tuple(planned.command),
        base_url=planned.base_url,
        port=planned.port,
        gpu=planned.gpu,
        log=str(planned.log_file),
    )
    return Started(planned, running, record)


def _name(plan: Plan, planned: PlannedServer) -> str:
    return plan.describe(planned)


def _wait_all(started: Sequence[Started], options: ServeOptions, *, console: Console, errors: Console) -> None:
    """Watch every server until each lists the model; the first to die or time out stops them all."""
    clients = [VllmClient(Target(s.running.base_url, api_key=options.api_key, timeout=5.0)) for s in started]
    stages = ["process"] * len(started)
    try:
        with console.status("starting", spinner="dots") as status:
            while True:
                for index, (server, client) in enumerate(zip(started, clients, strict=True)):
                    if stages[index] != "model":
                        try:
                            stages[index] = serving.check_progress(
                                server.running, client, timeout=options.startup_timeout
                            )
                        except serving.ServeError as error:
                            _stop(started, options.stop_timeout)
                            raise _start_failure(error, server, options.plan, errors) from None
                status.update(_progress(started, stages))
                if all(stage == "model" for stage in stages):
                    break
                time.sleep(serving.POLL_SECONDS)
    finally:
        for client in clients:
            client.close()
    _print_ready(started, options, console)


def _progress(started: Sequence[Started], stages: Sequence[str]) -> str:
    elapsed = max(s.running.stages.elapsed for s in started)
    if len(started) == 1:
        return f"{serving.STAGE_NAMES[stages[0]]} · {elapsed:.0f} s (log: {started[0].planned.log_file})"
    pairs = zip(started, stages, strict=True)
    each = "; ".join(f"{s.planned.index}: {serving.STAGE_NAMES[stage]}" for s, stage in pairs)
    return f"{each} · {elapsed:.0f} s"


def _start_failure(error: serving.ServeError, server: Started, plan: Plan, errors: Console) -> UserError:
    """The log's last lines on stderr, and the one line: which server, what happened, the known cause and fix."""
    name = _name(plan, server.planned)
    if error.log_tail:
        where = "the server log" if plan.mode == SINGLE else f"the log of {name}"
        errors.print(f"last lines of {where}:", markup=False)
        for line in error.log_tail[-25:]:
            errors.print(f"  | {line}", markup=False, soft_wrap=True)
    message = str(error) if plan.mode == SINGLE else f"{name}: {error} (the others were stopped)"
    if error.diagnosis:
        message += f": {error.diagnosis.cause}; fix: {error.diagnosis.fix}"
    return UserError(message, error.code)


def _print_ready(started: Sequence[Started], options: ServeOptions, console: Console) -> None:
    if len(started) == 1:
        previous = 0.0
        for stage, seconds in started[0].running.stages.reached.items():
            console.print(
                f"  {serving.STAGE_NAMES[stage]:<28} {seconds:7.1f} s  (+{seconds - previous:.1f} s)",
                markup=False,
            )
            previous = seconds
        console.print(
            f"ready: {options.model_name} at {started[0].running.base_url} after {previous:.1f} s", markup=False
        )
        return
    for server in started:
        ready_at = server.running.stages.reached.get("model", server.running.stages.elapsed)
        console.print(
            f"ready: {_name(options.plan, server.planned)} at {server.running.base_url} after {ready_at:.1f} s",
            markup=False,
            soft_wrap=True,
        )


def _record(started: Sequence[Started], options: ServeOptions, *, errors: Console) -> None:
    if any(s.record.start_time is None for s in started):
        print_warning(
            errors,
            "this system tells no process start time: `invoke stop` will prove the servers by their command "
            "line and process group only",
        )
    elif processes.START_TIME_SOURCE != processes.PRECISE_SOURCE:
        print_warning(
            errors,
            f"no /proc here: start times come from {processes.START_TIME_SOURCE}, to the second; `invoke stop` "
            f"proves the servers by them, their command lines and process groups",
        )
    record = PidRecord(
        mode=options.plan.mode, model=options.model_name, servers=tuple(_settled(s.record) for s in started)
    )
    pid_file.write(options.pid_file, record)


def _settled(record: ServerRecord) -> ServerRecord:
    """The record with the command line the ready server runs. A `vllm` that is a wrapper script (a pyenv
    shim, `exec python3 -m vllm...`) execs once more after start: same pid, same start time, new command
    line. The one recorded is the server's own, read now that it answers; the start time proves it is still
    the process we started."""
    live = processes.identify(record.pid)
    if live is None or live.start_time != record.start_time or not live.argv:
        return record
    return dataclasses.replace(record, argv=live.argv)


def _print_detached(started: Sequence[Started], options: ServeOptions, console: Console) -> None:
    if len(started) == 1:
        server = started[0]
        console.print(
            f"serving {options.model_name} at {server.running.base_url} (pid {server.record.pid}, log "
            f"{server.planned.log_file}); stop it with `invoke stop`",
            markup=False,
        )
        return
    urls = ", ".join(s.running.base_url for s in started)
    pids = ", ".join(str(s.record.pid) for s in started)
    console.print(
        f"serving {options.model_name} on {len(started)} replicas at {urls} (pids {pids}); "
        f"stop them with `invoke stop`",
        markup=False,
        soft_wrap=True,
    )


def _wait_any_exit(started: Sequence[Started]) -> Started:
    while True:
        for server in started:
            if server.running.process.poll() is not None:
                return server
        time.sleep(serving.POLL_SECONDS)


def _stop(
    started: Sequence[Started], grace: float, hurry: processes.HurryOnSignal | None = None
) -> processes.StopOutcome | None:
    """Stop every server we started and still hold, in parallel, with one grace period."""
    todo = [s for s in started if not s.stopped]
    if not todo:
        return None
    with hurry or processes.HurryOnSignal() as signals:
        outcome = processes.stop_groups([s.record.pid for s in todo], grace, hurry=signals.requested)
    for server in todo:
        server.stopped = True
        server.running.process.poll()  # reaped: no zombie left behind
    return outcome


def _interrupted(started: Sequence[Started], options: ServeOptions, *, errors: Console) -> int:
    """Ctrl-C or SIGTERM: stop every group (a second one kills at once), one line, exit 130."""
    live = [s for s in started if not s.stopped]
    if not live:
        errors.print("interrupted: no server was running", markup=False)
        return EXIT_INTERRUPTED
    hurry = processes.HurryOnSignal()
    outcome = _stop(live, options.stop_timeout, hurry)
    assert outcome is not None
    what = _what(live)
    logs = ", ".join(str(s.planned.log_file) for s in live)
    log_word = "its log" if len(live) == 1 else "their logs"
    if hurry.requested():
        line = f"interrupted again: killed {what} at once; {log_word}: {logs}"
    else:
        killed = f" (killed after the {options.stop_timeout:g} s grace)" if outcome.killed else ""
        line = f"interrupted: stopped {what} in {outcome.seconds:.1f} s{killed}; {log_word}: {logs}"
    if outcome.survivors:
        line += f"; still running: pids {', '.join(map(str, outcome.survivors))}: kill -KILL them"
    errors.print(line, markup=False, soft_wrap=True)
    return EXIT_INTERRUPTED


def _what(servers: Sequence[Started]) -> str:
    if len(servers) == 1:
        return f"the server (pid {servers[0].record.pid} and its process group)"
    pids = ", ".join(str(s.record.pid) for s in servers)
    return f"{len(servers)} servers (pids {pids} and their process groups)"
