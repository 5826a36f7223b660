"""The typed configuration: built once per task from invoke's tree, flags applied on top, then passed down.

Sources, lowest first: `settings.DEFAULTS` (the one place of defaults, and of their documentation), then
`invoke.yaml` and `INVOKE_*` variables (invoke layers those), then a task's flags (`apply_flags`). `load`
checks every value's type once, here: a bad value is one line naming the key or the flag and the fix
(`UserError`, exit 2), never a traceback deep in a check. After that, every reader gets frozen objects.

The classes mirror `settings.DEFAULTS` section by section (a test keeps them in step): a new setting is
its default in DEFAULTS (its documentation in settings.NOTES) plus a typed field here, and the code that reads it.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightonocr_validation.errors import EXIT_USAGE, UserError
from lightonocr_validation.settings import DEFAULTS

# Seconds, 0 or more, where "auto" (read as 0) asks for the derived default: check.deadline, bench.deadline.
AutoSeconds = typing.NewType("AutoSeconds", float)


@dataclass(frozen=True)
class ModelSettings:
    id: str  # what `vllm serve` loads: a hub id or a local checkpoint folder
    served_name: str  # the id the server lists and requests name; "" = id
    weights: str  # "trained" or "random"

    @property
    def served(self) -> str:
        """The id the server lists in /v1/models and requests must name."""
        return self.served_name or self.id

    @property
    def random_weights(self) -> bool:
        return self.weights == "random"


@dataclass(frozen=True)
class ServerSettings:
    executable: str
    host: str
    port: int
    limit_mm_per_prompt: str
    mm_processor_cache_gb: float
    enable_prefix_caching: bool
    gpu_memory_utilization: float
    max_model_len: int
    extra_args: tuple[str, ...]
    profile: str  # which of `profiles` `invoke serve` adds (--profile)
    profiles: Mapping[str, Any]  # name -> extra `vllm serve` flags; read through profile_args
    startup_timeout: float
    stop_timeout: float
    log_file: str
    pid_file: str
    env: Mapping[str, str]

    def profile_args(self) -> tuple[str, ...]:
        """The extra `vllm serve` flags of the chosen profile: a name or value that is not one is one line."""
        if self.profile not in self.profiles:
            raise UserError(
                f"--profile {self.profile!r} is not one of {', '.join(self.profiles)}: add it to server.profiles",
                EXIT_USAGE,
            )
        args = self.profiles[self.profile]
        if isinstance(args, str) or not isinstance(args, list | tuple):
            raise UserError(
                f"server.profiles.{self.profile} is {args!r}: write a list of vllm flags, e.g. [--max-num-seqs, '64']",
                EXIT_USAGE,
            )
        return tuple(str(arg) for arg in args)


@dataclass(frozen=True)
class CpuSettings:
    env: Mapping[str, str]


@dataclass(frozen=True)
class Sampling:
    temperature: float
    top_p: float
    max_tokens: int


@dataclass(frozen=True)
class CheckSettings:
    host: str
    port: int
    timeout: float
    deadline: AutoSeconds  # 0: derived from the pages sent (check_command.auto_deadline)
    hosts: Mapping[str, Mapping[str, Any]]  # host profiles, checked by targets.resolve
    api_key_env: str
    page_concurrency: int
    page_seconds_max: float
    determinism_runs: int
    pages_score_min: float
    pages_cer_max: float
    burst_concurrency: int
    burst_concurrency_random_weights: int


@dataclass(frozen=True)
class PerfSettings:
    """PRF002's short load (bench.perf): pages sent, in flight, and the limits."""

    requests: int
    concurrency: int
    pages_per_s_min: float
    p95_seconds_max: float


@dataclass(frozen=True)
class BenchSettings:
    concurrency: int
    requests: int
    max_concurrency: int
    min_gain: float
    page_seconds_max: float
    gpu_hour_price: float
    result_dir: str
    deadline: AutoSeconds  # 0: no ceiling beyond the plan
    perf: PerfSettings


@dataclass(frozen=True)
class TuneSettings:
    """`invoke tune`'s grid, the fixed load each configuration is measured under, and where records go."""

    grid: str
    concurrency: int
    max_tokens: int
    requests: int
    start_timeout: float
    out: str


@dataclass(frozen=True)
class VllmSettings:
    cuda_version: str
    cuda_python: str
    cpu_version: str
    cpu_python: str


@dataclass(frozen=True)
class LocalModelSettings:
    """A model this toolkit builds itself (the tiny one, the full-size one without weights)."""

    path: str
    served_name: str
    serve_args: tuple[str, ...]


@dataclass(frozen=True)
class Config:
    model: ModelSettings
    server: ServerSettings
    cpu: CpuSettings
    sampling: Sampling
    check: CheckSettings
    bench: BenchSettings
    tune: TuneSettings
    vllm: VllmSettings
    tiny_model: LocalModelSettings
    full_size_model: LocalModelSettings


def load(tree: Mapping[str, Any]) -> Config:
    """The typed configuration from invoke's merged tree (or DEFAULTS itself); every value checked once."""
    return _build(Config, tree, "")


def defaults() -> Config:
    return load(DEFAULTS)


# Each flag that overrides a configuration key, per task: `--port` binds in serve but names the port to
# check in check and bench. A flag left out (None) leaves the configuration's value.
FLAG_KEYS: dict[str, dict[str, str]] = {
    "serve": {
        "host": "server.host",
        "port": "server.port",
        "timeout": "server.startup_timeout",
        "model": "model.id",
        "served_model_name": "model.served_name",
        "profile": "server.profile",
    },
    "stop": {"timeout": "server.stop_timeout"},
    "tiny_model": {},
    # check --model is the id the server must list (what `serve --served-model-name` set), not weights.
    "check": {
        "port": "check.port",
        "timeout": "check.timeout",
        "model": "model.served_name",
        "deadline": "check.deadline",
    },
    "bench": {
        "port": "check.port",
        "timeout": "check.timeout",
        "deadline": "bench.deadline",
        "model": "model.served_name",
        "max_concurrency": "bench.max_concurrency",
        "gpu_hour_price": "bench.gpu_hour_price",
    },
    # tune serves like serve (its --port binds) and measures like bench, with tune.* as the load.
    "tune": {
        "port": "server.port",
        "model": "model.id",
        "served_model_name": "model.served_name",
        "grid": "tune.grid",
        "concurrency": "tune.concurrency",
        "max_tokens": "tune.max_tokens",
        "requests": "tune.requests",
        "start_timeout": "tune.start_timeout",
        "out": "tune.out",
    },
}


def apply_flags(
    config: Config, task: str, root: Path, *, tiny: bool = False, full_size: bool = False, **flags: Any
) -> Config:
    """`config` with a task's flags on top: `--tiny`/`--full-size` first (they name a model), then each flag
    in FLAG_KEYS[task]. A flag's bad value is one line naming the flag (exit 2)."""
    if tiny and full_size:
        raise UserError("--tiny and --full-size name two different models: choose one", EXIT_USAGE)
    local = config.tiny_model if tiny else config.full_size_model if full_size else None
    if local is not None:
        # Its path is relative to the repository, and `vllm serve` runs from anywhere: made absolute here.
        model = ModelSettings(id=str((root / local.path).resolve()), served_name=local.served_name, weights="random")
        config = dataclasses.replace(config, model=model)
    if task in ("serve", "tune") and flags.get("model"):
        # serve --model X serves X under its own name unless --served-model-name says otherwise.
        flags.setdefault("served_model_name", None)
        flags["served_model_name"] = flags["served_model_name"] or ""
    keys = FLAG_KEYS[task]
    unknown = set(flags) - set(keys)
    if unknown:
        raise TypeError(f"apply_flags({task!r}): no configuration key for {sorted(unknown)}")
    for name, value in flags.items():
        if value is None:
            continue
        section, key = keys[name].split(".")
        current = getattr(config, section)
        hints = typing.get_type_hints(type(current))
        typed = _value(hints[key], value, "--" + name.replace("_", "-"), flag=True)
        config = dataclasses.replace(config, **{section: dataclasses.replace(current, **{key: typed})})
    return config


def flag_value(flag: str, value: Any, kind: type[int] | type[float]) -> Any:
    """A flag that is not a setting, read as `kind` (None stays None): a typo is one line, not a traceback."""
    return None if value is None else _value(kind, value, flag, flag=True)


def _build(cls: type[Any], tree: Mapping[str, Any], path: str) -> Any:
    if not hasattr(tree, "items"):  # a Mapping, or invoke's DataProxy
        raise UserError(f"{path} is {tree!r}: it is a section of keys; see docs/tasks.md", EXIT_USAGE)
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    if path:  # invoke keeps its own sections (run, tasks, ...) beside ours at the top: only ours are read
        unknown = sorted(set(tree) - set(names))
        if unknown:
            raise UserError(
                f"{path}.{unknown[0]} is not a setting: the keys of {path} are {', '.join(names)} "
                f"(fix invoke.yaml or the INVOKE_ variable)",
                EXIT_USAGE,
            )
    values = {}
    for name in names:
        key = f"{path}.{name}" if path else name
        if name not in tree:
            raise UserError(f"{key} is missing from the configuration: restore it (settings.DEFAULTS)", EXIT_USAGE)
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            values[name] = _build(hint, tree[name], key)
        else:
            values[name] = _value(hint, tree[name], key, flag=False)
    return cls(**values)


def _value(hint: Any, value: Any, name: str, *, flag: bool) -> Any:
    """`value` as `hint` says, or one line naming the key (or flag) and the fix."""
    where = "" if flag else " (in invoke.yaml or its INVOKE_ variable)"
    origin = typing.get_origin(hint)
    if hint is AutoSeconds:
        if str(value).strip().lower() == "auto":
            return 0.0
        seconds = _value(float, value, name, flag=flag)
        if not 0 <= seconds < float("inf"):
            raise UserError(f"{name} {value!r} must be 0 (or auto) or more seconds: write e.g. {name} 600{where}")
        return seconds
    if hint is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "false", "1", "0", "yes", "no"):
            return str(value).lower() in ("true", "1", "yes")
        raise UserError(f"{name} is {value!r}: write true or false{where}", EXIT_USAGE)
    if hint in (int, float):
        if isinstance(value, bool):
            value = str(value)
        try:
            number = hint(value)
        except (TypeError, ValueError):
            noun = "a whole number" if hint is int else "a number"
            raise UserError(
                f"{name} {value!r} is not {noun}: write e.g. {name} {4 if hint is int else 2.5}{where}", EXIT_USAGE
            ) from None
        if hint is int and isinstance(value, float) and not value.is_integer():
            raise UserError(f"{name} {value!r} is not a whole number: write e.g. {name} 4{where}", EXIT_USAGE)
        return number
    if hint is str:
        if isinstance(value, Mapping | list | tuple):
            raise UserError(f"{name} is {value!r}: write one value{where}", EXIT_USAGE)
        return "" if value is None else str(value)
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, list | tuple):
            raise UserError(f"{name} is {value!r}: write a list, e.g. [--enforce-eager]{where}", EXIT_USAGE)
        return tuple(str(item) for item in value)
    if origin in (Mapping, dict) or hint in (Mapping, dict):
        if value is None:
            return {}
        if not hasattr(value, "items"):
            raise UserError(f"{name} is {value!r}: write a mapping of keys to values{where}", EXIT_USAGE)
        as_text = typing.get_args(hint)[1:] == (str,)  # an environment: every value is text
        return {str(key): str(item) if as_text else _plain(item) for key, item in value.items()}
    raise TypeError(f"config: no reader for {name}: {hint!r}")


def _plain(value: Any) -> Any:
    """Invoke's DataProxy objects as plain dicts and lists."""
    if hasattr(value, "items"):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
