"""`invoke stop`, and the guard that keeps `invoke serve` and `invoke tune` from starting beside a server of ours.

Before any signal, each recorded server is proven to be the process we started (processes.prove): a pid
now held by another program is left alone and the stale record removed (exit 0: no server of ours runs,
which is what `invoke stop` is for). A process that started when ours did but now runs another command
line, or leads no group, is not signalled and the record is kept (exit 2): that takes a person to decide.
All proven servers stop in parallel, with one grace period; Ctrl-C during the stop kills them at once (130).
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from lightonocr_validation.core.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    UserError,
    print_error,
    print_warning,
)
from lightonocr_validation.serve import pid_file, processes
from lightonocr_validation.serve.pid_file import PidRecord, ServerRecord


def _proofs(record: PidRecord) -> list[tuple[ServerRecord, processes.Proof]]:
    return [(s, processes.prove(s.pid, s.start_time, s.argv, legacy=s.legacy)) for s in record.servers]


def _changed_line(server: ServerRecord, proof: processes.Proof, path: Path) -> str:
    assert proof.live is not None
    now = (
        f"runs `{proof.live.program}`"
        if proof.live.pgid == server.pid
        else f"leads no process group of its own (group {proof.live.pgid})"
    )
    return (
        f"pid {server.pid} started when the recorded server did but now {now}: not signalled; if it is the "
        f"server, stop it with `kill -TERM -- -{server.pid}`, then delete {path}"
    )


def _reused_line(server: ServerRecord, proof: processes.Proof) -> str:
    assert proof.live is not None
    return (
        f"the recorded server (pid {server.pid}, {server.base_url}) is gone: pid {server.pid} now belongs to "
        f"another program (`{proof.live.program}`), left alone"
    )


def guard_no_server_running(path: Path, *, errors: Console) -> None:
    """Refuse (exit 2) when the pid file proves a server of ours runs; a stale file is removed, not obeyed."""
    record = pid_file.read(path)
    if record is None:
        return
    proofs = _proofs(record)
    for server, proof in proofs:
        if proof.state == processes.CHANGED:
            raise UserError(_changed_line(server, proof, path), EXIT_USAGE)
    ours = [server for server, proof in proofs if proof.state == processes.OURS]
    if ours:
        pids = ", ".join(str(s.pid) for s in ours)
        urls = ", ".join(s.base_url for s in ours)
        raise UserError(
            f"{'servers we started are' if len(ours) > 1 else 'a server we started is'} already running "
            f"(pid{'s' if len(ours) > 1 else ''} {pids}, {urls}): "
            f"`invoke stop` first",
            EXIT_USAGE,
        )
    pid_file.remove(path)
    why = "; ".join(
        f"pid {server.pid} now runs `{proof.live.program}`" if proof.live else f"pid {server.pid} is gone"
        for server, proof in proofs
    )
    errors.print(f"removed the stale pid file {path}: no server it names is running ({why})", markup=False)


def run_stop(path: Path, grace: float, *, console: Console, errors: Console) -> int:
    record = pid_file.read(path)
    if record is None:
        console.print("no detached server to stop", markup=False)
        return EXIT_OK
    proofs = _proofs(record)
    ours = [server for server, proof in proofs if proof.state == processes.OURS]
    if any(proof.weak for server, proof in proofs if proof.state == processes.OURS):
        print_warning(
            errors,
            f"{path} records no start time (an older pid file, or a system without /proc and ps): the server is "
            f"proven by its command line and process group only",
        )
    with processes.HurryOnSignal() as hurry:
        outcome = processes.stop_groups([s.pid for s in ours], grace, hurry=hurry.requested) if ours else None
    code = EXIT_OK
    if outcome is not None:
        pids = ", ".join(f"{s.pid} ({s.base_url})" if len(ours) > 1 else str(s.pid) for s in ours)
        children = "its children" if len(ours) == 1 else "their children"
        how = "killed at once (interrupted)" if hurry.requested() else "stopped"
        console.print(
            f"{how} pid{'s' if len(ours) > 1 else ''} {pids} and {children} in {outcome.seconds:.1f} s",
            markup=False,
            soft_wrap=True,
        )
        if outcome.survivors:
            print_error(errors, f"still running after SIGKILL: pids {', '.join(map(str, outcome.survivors))}")
            code = EXIT_FAILED
        if hurry.requested():
            code = EXIT_INTERRUPTED
    one = len(proofs) == 1
    for server, proof in proofs:
        if proof.state == processes.GONE:
            console.print(f"pid {server.pid} was no longer running", markup=False)
        elif proof.state == processes.REUSED:
            removed = f"; removed the stale pid file {path}" if one else ""
            console.print(_reused_line(server, proof) + removed, markup=False, soft_wrap=True)
    changed = [(server, proof) for server, proof in proofs if proof.state == processes.CHANGED]
    for server, proof in changed:
        print_error(errors, _changed_line(server, proof, path))
    if changed:
        return EXIT_USAGE
    pid_file.remove(path)
    if not one and any(proof.state == processes.REUSED for _, proof in proofs):
        console.print(f"removed the stale pid file {path}", markup=False)
    return code
