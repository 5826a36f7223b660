"""Build the `vllm serve` command, start it, watch it become ready, and stop its whole process tree.

The command is the model card's, rendered from the configuration (settings.py), so the guide, the dry
run and the real server are the same command. The server runs in a session of its own: vLLM spawns an
engine process and workers, and stopping the session's process group stops all of them.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lightonocr_validation.core.config import ModelSettings, ServerSettings
from lightonocr_validation.core.errors import EXIT_FAILED, EXIT_USAGE, UserError
from lightonocr_validation.core.shape import dig
from lightonocr_validation.serve import processes
from lightonocr_validation.vllm.client import Response, Target, Unreachable, VllmClient
from lightonocr_validation.vllm.diagnose import KnownFailure, diagnose

POLL_SECONDS = 0.5


class ServeError(UserError):
    """A server could not be started or stopped; `code` is one of errors.EXIT_*."""

    def __init__(
        self,
        message: str,
        exit_code: int = EXIT_FAILED,
        log_tail: Sequence[str] = (),
        diagnosis: KnownFailure | None = None,
    ):
        super().__init__(message, exit_code)
        self.log_tail = list(log_tail)
        self.diagnosis = diagnosis


def build_command(model: ModelSettings, server: ServerSettings, extra: Sequence[str] = ()) -> list[str]:
    """The `vllm serve` argv for this configuration."""
    command = [
        server.executable,
        "serve",
        model.id,
        "--host",
        server.host,
        "--port",
        str(server.port),
        "--served-model-name",
        model.served,
        "--limit-mm-per-prompt",
        server.limit_mm_per_prompt,
        "--mm-processor-cache-gb",
        _number(server.mm_processor_cache_gb),
        "--enable-prefix-caching" if server.enable_prefix_caching else "--no-enable-prefix-caching",
    ]
    if server.gpu_memory_utilization != 0.9:  # vLLM's own default is not repeated
        command += ["--gpu-memory-utilization", _number(server.gpu_memory_utilization)]
    if server.max_model_len:
        command += ["--max-model-len", str(server.max_model_len)]
    extra_args = [str(arg) for arg in (*server.extra_args, *extra)]
    refuse_key_in_arguments(extra_args)
    return command + extra_args


def refuse_key_in_arguments(args: Sequence[str]) -> None:
    """`--api-key K` would put the key in the process's arguments (`ps`, /proc, vLLM's logged args) and in the
    pid file's recorded command line: refused, the variable vLLM reads instead is named."""
    if any(arg == "--api-key" or arg.startswith("--api-key=") for arg in args):
        raise UserError(
            f"--api-key on vllm's command line is visible to every user of the machine (ps) and in its log: "
            f"export {API_KEY_VARIABLE}=... instead (vLLM reads it, and check and bench send it)",
            EXIT_USAGE,
        )


def _number(value: Any) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() else str(number)


def render(command: Sequence[str]) -> str:
    return shlex.join(command)


def resolve_executable(name: str) -> str:
    """`vllm` from the environment running this code first, then from PATH.

    `.nox/validate-cpu/bin/invoke serve` must serve that environment's vLLM even when the environment is
    not activated, and not another vLLM that happens to be on PATH.
    """
    if os.sep in name:
        return name
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name) or name


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        return probe.connect_ex((host, port)) == 0


@dataclass
class Stages:
    """When each start-up stage was reached, in seconds since the process started."""

    started_at: float = field(default_factory=time.monotonic)
    reached: dict[str, float] = field(default_factory=dict)

    def mark(self, stage: str) -> None:
        self.reached.setdefault(stage, time.monotonic() - self.started_at)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started_at


STAGE_NAMES = {
    "process": "process started",
    "listening": "port accepts connections",
    "healthy": "/health answered 200",
    "model": "model listed in /v1/models",
}


# vLLM takes its API key from this variable when --api-key is not given: a key there never shows in `ps`;
# readiness and the checks send the same key.
API_KEY_VARIABLE = "VLLM_API_KEY"


def local_url(host: str, port: int) -> str:
    """The URL this machine reaches a server bound to ``host`` at: a wildcard bind answers on loopback, and
    an IPv6 address goes in brackets."""
    connect = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return f"http://[{connect}]:{port}" if ":" in connect else f"http://{connect}:{port}"


@dataclass
class RunningServer:
    process: subprocess.Popen[bytes]
    command: list[str]
    log_file: Path
    base_url: str
    model_name: str
    stages: Stages
    # The key the server was started with (vLLM reads VLLM_API_KEY): readiness asks /v1/models with it.
    api_key: str = field(default="", repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid


def start(
    command: Sequence[str],
    *,
    host: str,
    port: int,
    log_file: Path,
    env: Mapping[str, str],
) -> subprocess.Popen[bytes]:
    if port_in_use(host, port):
        raise ServeError(
            f"port {port} on {host} is already in use: stop what listens there (invoke stop, if it is ours) "
            f"or choose another port with --port",
            exit_code=EXIT_USAGE,
        )
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("wb") as log:
        try:
            return subprocess.Popen(
                [resolve_executable(command[0]), *command[1:]],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **env},
                start_new_session=True,  # its own process group: one signal reaches every worker
            )
        except FileNotFoundError:
            raise ServeError(
                f"`{command[0]}` was not found: install vLLM (`nox -s validate` does, or "
                f"`uv pip install vllm==0.11.2` on a GPU machine), or set server.executable",
                exit_code=EXIT_USAGE,
            ) from None


def wait_until_ready(
    server: RunningServer,
    *,
    timeout: float,
    on_progress: Callable[[str, Stages], None] = lambda stage, stages: None,
) -> None:
    """Poll until /health answers 200 and the model is listed; raise ServeError when the process dies."""
    client = VllmClient(Target(server.base_url, api_key=server.api_key, timeout=5.0))
    try:
        while True:
            stage = check_progress(server, client, timeout=timeout)
            on_progress(stage, server.stages)
            if stage == "model":
                return
            time.sleep(POLL_SECONDS)
    finally:
        client.close()


def check_progress(server: RunningServer, client: VllmClient, *, timeout: float) -> str:
    """One look at a starting server: the stage it reached; ServeError when it died or ran out of time."""
    server.stages.mark("process")
    if server.process.poll() is not None:
        tail = log_tail(server.log_file)
        raise ServeError(
            f"the server exited with code {server.process.returncode} during start-up",
            log_tail=tail,
            diagnosis=diagnose(tail),
        )
    if server.stages.elapsed > timeout:
        stage = max(server.stages.reached, key=list(STAGE_NAMES).index)
        tail = log_tail(server.log_file)
        raise ServeError(
            f"the server was not ready after {timeout:.0f} s (stage: {STAGE_NAMES[stage]}): raise "
            f"server.startup_timeout if it is still downloading or compiling",
            log_tail=tail,
            diagnosis=diagnose(tail),
        )
    return _probe(client, server.model_name, server.stages)


def _probe(client: VllmClient, model_name: str, stages: Stages) -> str:
    try:
        health = client.get("/health")
    except Unreachable:
        return "process"
    stages.mark("listening")
    if health.status != 200:
        return "listening"
    stages.mark("healthy")
    models = client.get("/v1/models")
    if models.status == 401:
        raise ServeError(
            "the server answers /v1/models with 401: it requires an API key this process does not have; "
            "export VLLM_API_KEY with the key it was started with",
            exit_code=EXIT_USAGE,
        )
    if models.status == 200 and any(dig(m, "id") == model_name for m in _listing(models)):
        stages.mark("model")
        return "model"
    return "healthy"


def _listing(models: Response) -> list[Any]:
    """The model list of a /v1/models answer, [] for any other shape (a starting server answers oddly)."""
    try:
        data = dig(models.json(), "data")
    except ValueError:
        return []
    return data if isinstance(data, list) else []


def stop_process_group(pid: int, grace: float) -> bool:
    """SIGTERM the process group led by `pid`, then SIGKILL what is left after `grace` seconds.

    For a server this process started and still holds (its pid cannot have been reused while unreaped);
    a recorded pid is proven first (processes.prove, serve_command.run_stop). Returns True when something was
    running. A pid that leads no group is left alone: only whole groups we started are signalled.
    """
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return False
    if pgid != pid:
        return False
    processes.stop_groups([pgid], grace)
    return True


def log_tail(path: Path, lines: int = 40) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    return text.splitlines()[-lines:]


def log_holds(log_file: Path, line: str) -> bool:
    """Whether the server's log says `line` (read whole: a plugin's line comes early, before the model loads)."""
    try:
        return line in log_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
