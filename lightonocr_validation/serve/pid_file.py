"""The pid file: what `invoke serve --detach` started, so that `invoke stop` stops exactly that and nothing else.

One JSON file, version 2, for one server or several::

    {"version": 2, "mode": "single" | "replicas" | "data-parallel", "model": "...",
     "servers": [{"pid", "start_time", "pgid", "argv", "base_url", "port", "gpu", "log"}, ...]}

`start_time` and `argv` are what the kernel said about the process right after it started (processes.py):
with `pgid` they prove, before any signal, that a pid still belongs to that process. The one-server format
written before (`{"pid", "base_url", "model", "log_file", "command"}`) is still read.

Whatever the file holds (a hand edit, a crash, another program's file at that path), reading it gives a
record or one line naming the file and the fix (exit 2); writing replaces it atomically, so a crash never
leaves half a file.
"""

from __future__ import annotations

import contextlib
import json
import shlex
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lightonocr_validation.core.errors import EXIT_USAGE, UserError, shorten
from lightonocr_validation.core.files import write_text

VERSION = 2
MODES = ("single", "replicas", "data-parallel")
# Linux's PID_MAX_LIMIT (2**22): no system hands out larger pids. Pid 1 is init, never a server of ours.
PID_MAX = 4_194_304
# Ours is a few KiB even for eight servers: a larger file is someone else's, and is not read whole.
MAX_BYTES = 256 * 1024


@dataclass(frozen=True)
class ServerRecord:
    pid: int
    start_time: int | str | None
    pgid: int
    argv: tuple[str, ...]
    base_url: str
    port: int
    gpu: str | None  # its CUDA_VISIBLE_DEVICES, when we set one
    log: str
    # Read from the old one-server format: no start time, and `argv` is the command asked for.
    legacy: bool = False


@dataclass(frozen=True)
class PidRecord:
    mode: str
    model: str
    servers: tuple[ServerRecord, ...]


class _Invalid(Exception):
    """What is wrong with the content, in a few words."""


def read(path: Path) -> PidRecord | None:
    """The record at `path`; None when there is none; UserError (exit 2, one line) when it is not ours."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise UserError(
            f"the pid file {path} is a directory: remove it, or set server.pid_file to a file path", EXIT_USAGE
        ) from None
    except OSError as error:
        raise UserError(
            f"cannot read the pid file {path} ({error.strerror or type(error).__name__}): fix its permissions, "
            f"or delete it",
            EXIT_USAGE,
        ) from None
    try:
        if len(data) > MAX_BYTES:
            raise _Invalid(f"larger than {MAX_BYTES // 1024} KiB")
        return _parse(data)
    except _Invalid as why:
        raise UserError(
            f"the pid file {path} is not one `invoke serve --detach` wrote ({why}): delete it "
            f"(rm {shlex.quote(str(path))}); a server it named must then be stopped by hand",
            EXIT_USAGE,
        ) from None


def _parse(data: bytes) -> PidRecord:
    try:
        document = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise _Invalid("not UTF-8 text") from None
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        raise _Invalid("not JSON") from None
    if not isinstance(document, dict):
        raise _Invalid(f"a JSON {type(document).__name__}, not an object")
    if "version" not in document:
        return _parse_legacy(document)
    if document["version"] != VERSION:
        raise _Invalid(f"version {_short(document['version'])}, this tool reads {VERSION}")
    mode = document.get("mode")
    if mode not in MODES:
        raise _Invalid(f"mode {_short(mode)} is not one of {', '.join(MODES)}")
    servers = document.get("servers")
    if not isinstance(servers, list) or not servers:
        raise _Invalid("no list of servers")
    return PidRecord(mode=mode, model=_text(document, "model"), servers=tuple(_server(s) for s in servers))


def _server(entry: Any) -> ServerRecord:
    if not isinstance(entry, dict):
        raise _Invalid(f"a server entry is {_short(entry)}")
    pid = _pid(entry.get("pid"), "pid")
    pgid = _pid(entry.get("pgid"), "pgid")
    if pgid != pid:  # every server runs in a session of its own: it leads its group
        raise _Invalid(f"pgid {pgid} is not pid {pid}")
    start_time = entry.get("start_time")
    if not (start_time is None or (_is_int(start_time) and start_time >= 0) or isinstance(start_time, str)):
        raise _Invalid(f"start_time {_short(start_time)}")
    argv = entry.get("argv")
    if not isinstance(argv, list) or not argv or not all(isinstance(word, str) for word in argv):
        raise _Invalid(f"argv {_short(argv)} is not a list of words")
    port = entry.get("port")
    if not _is_int(port) or not 1 <= port <= 65535:
        raise _Invalid(f"port {_short(port)}")
    gpu = entry.get("gpu")
    if gpu is not None and not isinstance(gpu, str):
        raise _Invalid(f"gpu {_short(gpu)}")
    return ServerRecord(
        pid=pid,
        start_time=start_time,
        pgid=pgid,
        argv=tuple(argv),
        base_url=_text(entry, "base_url"),
        port=port,
        gpu=gpu,
        log=_text(entry, "log"),
    )


def _parse_legacy(document: Mapping[str, Any]) -> PidRecord:
    """`{"pid", "base_url", "model", "log_file", "command"}`: one server, written before version 2."""
    pid = _pid(document.get("pid"), "pid")
    command = document.get("command")
    argv = tuple(command) if isinstance(command, list) and all(isinstance(w, str) for w in command) else ()
    base_url = _text(document, "base_url")
    port = base_url.rpartition(":")[2].rstrip("/")
    server = ServerRecord(
        pid=pid,
        start_time=None,
        pgid=pid,
        argv=argv,
        base_url=base_url,
        port=int(port) if port.isdigit() and 0 < int(port) < 65536 else 0,
        gpu=None,
        log=_text(document, "log_file"),
        legacy=True,
    )
    return PidRecord(mode="single", model=_text(document, "model"), servers=(server,))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _pid(value: Any, name: str) -> int:
    if not _is_int(value):
        raise _Invalid(f"{name} {_short(value)} is not a whole number")
    if not 2 <= value <= PID_MAX:
        raise _Invalid(f"{name} {_short(value)} is out of range: 2 to {PID_MAX} (1 is init)")
    return value


def _text(document: Mapping[str, Any], key: str) -> str:
    value = document.get(key, "")
    if not isinstance(value, str):
        raise _Invalid(f"{key} {_short(value)} is not text")
    return value


def _short(value: Any) -> str:
    return shorten(json.dumps(value) if not isinstance(value, str) else repr(value), 40, one_line=False)


def write(path: Path, record: PidRecord) -> None:
    """Write the record whole or not at all, readable by its owner only."""
    document = {
        "version": VERSION,
        "mode": record.mode,
        "model": record.model,
        "servers": [
            {key: list(value) if key == "argv" else value for key, value in asdict(s).items() if key != "legacy"}
            for s in record.servers
        ],
    }
    write_text(path, json.dumps(document, indent=2) + "\n", mode=0o600)


def remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
