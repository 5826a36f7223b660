"""Serve N GPUs from one configuration: N replicas, or one server with vLLM's data parallelism.

Replicas: N `vllm serve` processes of the same command, replica i on GPU i (`CUDA_VISIBLE_DEVICES`: the i-th
entry of the user's own list when one is set), port `port + i`, log `<log stem>.<port><suffix>`, each in a
process group of its own. `invoke check --replicas N` and `invoke bench --replicas N` reach the same ports
(`fleet_urls`).

Data parallel: one `vllm serve --data-parallel-size N` on one port. vLLM starts N engine processes behind
one API front end (N API server processes by default), engine rank i on the i-th visible GPU; it works for
dense models like LightOnOCR. We hand it the first N visible GPUs explicitly.

One server (neither flag) is what `invoke serve` always did: no CUDA_VISIBLE_DEVICES of ours, the
configured log file.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lightonocr_validation.core.config import ModelSettings, ServerSettings
from lightonocr_validation.core.errors import EXIT_USAGE, UserError
from lightonocr_validation.core.hardware import CPU_SERVER_BYTES, Cpu, Gpu, cpu_servers_max, describe
from lightonocr_validation.core.redaction import REDACTED, names_a_secret
from lightonocr_validation.serve import process as serving

SINGLE, REPLICAS, DATA_PARALLEL = "single", "replicas", "data-parallel"
DEVICES_VARIABLE = "CUDA_VISIBLE_DEVICES"


@dataclass(frozen=True)
class PlannedServer:
    index: int
    command: list[str]
    host: str
    port: int
    gpu: str | None  # the CUDA_VISIBLE_DEVICES it gets; None: it inherits ours
    log_file: Path

    @property
    def base_url(self) -> str:
        return serving.local_url(self.host, self.port)

    @property
    def env(self) -> dict[str, str]:
        return {DEVICES_VARIABLE: self.gpu} if self.gpu is not None else {}

    def rendered(self, env: Mapping[str, str] | None = None) -> str:
        """The command as a shell runs it, with the environment it gets on top of ours (the profile's lever,
        the CPU's settings) and its GPU: `LIGHTONOCR_PIXTRAL_ATTENTION=varlen CUDA_VISIBLE_DEVICES=1 vllm serve …`.
        A value whose name looks like a secret's is shown as (redacted): a dry run's output is often pasted."""
        shown = {**(env or {}), **self.env}
        words = [f"{name}={REDACTED if names_a_secret(name) else shlex.quote(value)}" for name, value in shown.items()]
        return " ".join([*words, serving.render(self.command)])


@dataclass(frozen=True)
class Plan:
    mode: str
    size: int  # GPUs it needs (1 for a single server, which takes whatever vLLM picks)
    servers: tuple[PlannedServer, ...]

    def describe(self, server: PlannedServer) -> str:
        """How messages name one server: `replica 1 (GPU 1, port 8001, log …)`, or just `the server`."""
        if self.mode == REPLICAS:
            return f"replica {server.index} (GPU {server.gpu}, port {server.port}, log {server.log_file})"
        if self.mode == DATA_PARALLEL:
            return f"the data-parallel server (GPUs {server.gpu}, port {server.port}, log {server.log_file})"
        return "the server"


def visible_devices(value: str | None) -> list[str] | None:
    """The entries of a CUDA_VISIBLE_DEVICES value (indexes or UUIDs); None when it is not set."""
    return None if value is None else [entry.strip() for entry in value.split(",") if entry.strip()]


def plan(
    model: ModelSettings,
    server: ServerSettings,
    extra: Sequence[str],
    *,
    replicas: int | None,
    data_parallel_size: int | None,
    log_file: Path,
    visible: str | None,
) -> Plan:
    """The servers to start: their commands, ports, GPUs and logs. Bad sizes are one line, exit 2."""
    if replicas is not None and data_parallel_size is not None:
        raise UserError("--replicas and --data-parallel-size are two ways to use several GPUs: choose one", EXIT_USAGE)
    for flag, value in (("--replicas", replicas), ("--data-parallel-size", data_parallel_size)):
        if value is not None and value < 1:
            raise UserError(f"{flag} {value} is not a number of GPUs: write 1 or more, e.g. {flag} 2", EXIT_USAGE)
    entries = visible_devices(visible)

    def gpus(count: int) -> list[str]:
        # The user's own list wins (its i-th entry for replica i); there are fewer entries than asked for
        # only when check_gpus has not run (a dry run): fall back to the index, as vLLM would.
        return [entries[i] if entries is not None and i < len(entries) else str(i) for i in range(count)]

    if data_parallel_size is not None and data_parallel_size > 1:
        _check_ports(server.port, 1)
        command = serving.build_command(model, server, ["--data-parallel-size", str(data_parallel_size), *extra])
        planned = PlannedServer(0, command, server.host, server.port, ",".join(gpus(data_parallel_size)), log_file)
        return Plan(DATA_PARALLEL, data_parallel_size, (planned,))
    if replicas is not None and replicas > 1:
        _check_ports(server.port, replicas)
        servers = []
        for index, gpu in enumerate(gpus(replicas)):
            settings = dataclasses.replace(server, port=server.port + index)
            command = serving.build_command(model, settings, extra)
            servers.append(
                PlannedServer(index, command, server.host, settings.port, gpu, _log(log_file, settings.port))
            )
        return Plan(REPLICAS, replicas, tuple(servers))
    command = serving.build_command(model, server, extra)
    return Plan(SINGLE, 1, (PlannedServer(0, command, server.host, server.port, None, log_file),))


def _log(log_file: Path, port: int) -> Path:
    """`vllm-serve.log` becomes `vllm-serve.8001.log`: one log per server, named by what tells them apart."""
    return log_file.with_name(f"{log_file.stem}.{port}{log_file.suffix}")


def _check_ports(first: int, count: int) -> None:
    if first + count - 1 > 65535:
        raise UserError(
            f"{count} servers from port {first} need ports up to {first + count - 1}, past 65535: "
            f"choose a lower --port",
            EXIT_USAGE,
        )


def fleet_urls(host: str, port: int, count: int) -> list[str]:
    """The URLs of `count` replicas served from `port` on: the convention `check`/`bench --replicas` share."""
    return [serving.local_url(host, port + index) for index in range(count)]


def check_gpus(plan: Plan, gpus: Sequence[Gpu], visible: str | None) -> None:
    """Refuse (exit 2) a plan that needs more GPUs than this machine lets it use."""
    if plan.mode == SINGLE:
        return
    entries = visible_devices(visible)
    usable = len(gpus) if entries is None else min(len(gpus), len(entries))
    if plan.size <= usable:
        return
    flag = "--replicas" if plan.mode == REPLICAS else "--data-parallel-size"
    seen = describe(list(gpus))
    if entries is not None:
        seen += f"; {DEVICES_VARIABLE}={visible} leaves {usable}"
    raise UserError(
        f"{flag} {plan.size} needs {plan.size} GPUs, this machine has {usable} usable ({seen}): "
        f"lower {flag}, or use --device cpu for a stand-in",
        EXIT_USAGE,
    )


def check_cpu(plan: Plan, cpu: Cpu) -> None:
    """Refuse (exit 2) a fleet of CPU servers this machine cannot run: a core each, and CPU_SERVER_BYTES of
    memory each (hardware.py). Checked before anything starts: 999 servers started to find out is 999 too many."""
    if plan.size == 1:
        return
    most = cpu_servers_max(cpu)
    if plan.size <= most:
        return
    flag = "--replicas" if plan.mode == REPLICAS else "--data-parallel-size"
    memory = f"{cpu.memory_bytes / 2**30:.0f} GiB of memory" if cpu.memory_bytes else "unknown memory"
    raise UserError(
        f"{flag} {plan.size} on the CPU: this machine runs at most {most} CPU vLLM server(s) ({cpu.cores} "
        f"core(s), {memory}; each needs a core and {CPU_SERVER_BYTES / 1e9:g} GB): lower {flag} to {most} or "
        "fewer, or serve on GPUs (--device cuda)",
        EXIT_USAGE,
    )


def check_ports_free(plan: Plan) -> None:
    """Every port free before anything starts: a fleet half started on a busy port is worse than none."""
    busy = [server.port for server in plan.servers if serving.port_in_use(server.host, server.port)]
    if busy:
        names = ", ".join(str(port) for port in busy)
        raise UserError(
            f"port{'s' if len(busy) > 1 else ''} {names} on {plan.servers[0].host} "
            f"{'are' if len(busy) > 1 else 'is'} already in use: stop what listens there (invoke stop, if it "
            f"is ours) or choose another port with --port",
            EXIT_USAGE,
        )
