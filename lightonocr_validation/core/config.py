"""The typed configuration: built once per task from invoke's tree, flags applied on top, then passed down.

Sources, lowest first: `settings.DEFAULTS` (from settings.SETTINGS, the one table of defaults, ranges and
documentation), then `invoke.yaml` and `INVOKE_*` variables (invoke layers those), then a task's flags
(`apply_flags`). `load`
checks every value's type once, here: a bad value is one line naming the key or the flag and the fix
(`UserError`, exit 2), never a traceback deep in a check. After that, every reader gets frozen objects.

The classes mirror `settings.DEFAULTS` section by section and give each key its type (a test keeps them in
step): a new setting is one `Setting` row in settings.SETTINGS (default, range, documentation) plus a typed field
here, and the code that reads it.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightonocr_validation.core.errors import EXIT_USAGE, UserError, shorten
from lightonocr_validation.core.settings import (
    AT_LEAST_ONE,
    DEFAULTS,
    NOT_NEGATIVE,
    POSITIVE,
    SETTINGS,
    Range,
)

# Seconds, 0 or more, where "auto" (read as 0) asks for the derived default: check.deadline, bench.deadline.
AutoSeconds = typing.NewType("AutoSeconds", float)


@dataclass(frozen=True)
class ModelSettings:
    id: str  # what `vllm serve` loads: a hub id or a local checkpoint folder
    served_name: str  # the id the server lists and requests name; "" = id
    weights: str  # "trained" or "random"
    profile: str = ""  # a row of model_profiles (--model-profile); "" = told by the name or config.json

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
    profiles: Mapping[str, tuple[str, ...]]  # name -> extra `vllm serve` flags; read through profile_args
    profile_env: Mapping[str, Mapping[str, str]]  # name -> the server's environment when that profile is served
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

    def chosen_env(self) -> Mapping[str, str]:
        """The server's environment the chosen profile adds (server.profile_env); none for most profiles."""
        return self.profile_env.get(self.profile, {})


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
    hosts: Mapping[str, Mapping[str, Any]]  # host profiles: each a mapping here, its keys checked by targets.resolve
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
    max_error_rate: float
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
    # name -> row; typed and checked by model_profiles.table, which every task goes through
    model_profiles: Mapping[str, Mapping[str, Any]]
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
    loaded = _build(Config, tree, "")
    _check_profile_env(loaded.server)
    return loaded


def _check_profile_env(server: ServerSettings) -> None:
    """An environment for a profile server.profiles does not have would never be served: a typo, said at once."""
    stray = next((name for name in server.profile_env if name not in server.profiles), None)
    if stray is not None:
        raise UserError(
            f"server.profile_env.{stray} is the environment of no profile: name one of {', '.join(server.profiles)}"
            " (server.profiles), or add that profile there (in invoke.yaml or its INVOKE_ variable)",
            EXIT_USAGE,
        )


def defaults() -> Config:
    return load(DEFAULTS)


# The range of every numeric setting, and the text settings that must not be empty, as settings.SETTINGS
# declares them: a value out of range is one line naming the key, or the flag it came from, and the range (exit 2).
RANGES: dict[str, Range] = {setting.key: setting.range for setting in SETTINGS if setting.range is not None}
NOT_EMPTY = frozenset(setting.key for setting in SETTINGS if setting.not_empty)
# What an entry of a mapping of settings looks like, for the one line that says so when it does not.
ENTRY_EXAMPLES: dict[str, str] = {setting.key: setting.entry for setting in SETTINGS if setting.entry}

# Flags that are not settings (read with flag_value), and their ranges; None: any whole number.
FLAG_RANGES: dict[str, Range | None] = {
    "--concurrency": AT_LEAST_ONE,
    "--requests": AT_LEAST_ONE,
    "--warmup": NOT_NEGATIVE,
    "--max-tokens": AT_LEAST_ONE,
    "--rate": POSITIVE,
    "--duration": POSITIVE,
    "--temperature": NOT_NEGATIVE,
    "--runs": AT_LEAST_ONE,
    "--waves": POSITIVE,
    "--ramp": NOT_NEGATIVE,
    "--seed": None,
    "--gpus": AT_LEAST_ONE,
    "--replicas": None,  # targets.resolve_replicas and fleet_serve.plan say what 0 or a port past 65535 means
    "--data-parallel-size": None,  # fleet_serve.plan: at least 1, not with --replicas
}

DEVICES = ("auto", "cuda", "cpu")


def setting_type(key: str) -> Any:
    """The typed class's hint for a dotted key ("server.port" -> int), for the docs and the tests."""
    hint: Any = Config
    for part in key.split("."):
        hint = typing.get_type_hints(hint)[part]
    return hint


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
        "model_profile": "model.profile",
    },
    "stop": {"timeout": "server.stop_timeout"},
    "tiny_model": {"model_profile": "model.profile"},
    # check --model is the id the server must list (what `serve --served-model-name` set), not weights.
    "check": {
        "port": "check.port",
        "timeout": "check.timeout",
        "model": "model.served_name",
        "deadline": "check.deadline",
        "model_profile": "model.profile",
    },
    "bench": {
        "port": "check.port",
        "timeout": "check.timeout",
        "deadline": "bench.deadline",
        "model": "model.served_name",
        "max_concurrency": "bench.max_concurrency",
        "gpu_hour_price": "bench.gpu_hour_price",
        "model_profile": "model.profile",
        "max_error_rate": "bench.max_error_rate",
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
        "model_profile": "model.profile",
    },
}


def apply_flags(
    config: Config, task: str, root: Path, *, tiny: bool = False, full_size: bool = False, **flags: Any
) -> Config:
    """`config` with a task's flags on top: `--tiny`/`--full-size` first (they name a model), then each flag
    in FLAG_KEYS[task]. A flag's bad value is one line naming the flag (exit 2)."""
    if tiny and full_size:
        raise UserError("--tiny and --full-size name two different models: choose one", EXIT_USAGE)
    local = local_model(config, tiny=tiny, full_size=full_size, profile=flags.get("model_profile"))
    if local is not None:
        # Its path is relative to the repository, and `vllm serve` runs from anywhere: made absolute here.
        model = ModelSettings(
            id=str((root / local.path).resolve()),
            served_name=local.served_name,
            weights="random",
            profile=local.profile,
        )
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
        typed = _value(hints[key], value, "--" + name.replace("_", "-"), flag=True, key=keys[name])
        config = dataclasses.replace(config, **{section: dataclasses.replace(current, **{key: typed})})
    return config


@dataclass(frozen=True)
class LocalModel:
    """The tiny or full-size model of one profile: where it is built, the name it is served as."""

    path: str
    served_name: str
    serve_args: tuple[str, ...]
    profile: str  # the row of model_profiles it stands for
    architecture: str
    full_size: bool


def local_model(config: Config, *, tiny: bool, full_size: bool, profile: str | None = None) -> LocalModel | None:
    """The model `--tiny` or `--full-size` names, for the profile chosen (`--model-profile`, model.profile, else
    the default LightOnOCR-2-1B, whose folders and names are tiny_model.* and full_size_model.* as they are).

    A tiny model is one per architecture (a suffix for qwen3_5); a full-size one per profile, served under a
    name that says the profile (lightonocr-3-4b-random-weights), so a check finds its profile by the name."""
    from lightonocr_validation.core import model_profiles
    from lightonocr_validation.core.settings import DEFAULT_MODEL_PROFILE

    if not (tiny or full_size):
        return None
    name = (profile or config.model.profile or DEFAULT_MODEL_PROFILE).strip()
    chosen = model_profiles.named(name, config)
    settings = config.tiny_model if tiny else config.full_size_model
    path, served = settings.path, settings.served_name
    if tiny and chosen.architecture != "pixtral":
        path, served = f"{path}-{chosen.architecture}", f"{served}-{chosen.architecture}"
    if full_size and chosen.name != DEFAULT_MODEL_PROFILE:
        slug = chosen.name.lower()
        path, served = f"{path}-{slug.removeprefix('lightonocr-')}", f"{slug}-random-weights"
    return LocalModel(path, served, settings.serve_args, chosen.name, chosen.architecture, full_size)


def flag_value(flag: str, value: Any, kind: type[int] | type[float]) -> Any:
    """A flag that is not a setting, read as `kind` and checked against FLAG_RANGES (None stays None): a typo
    or a number out of range is one line, not a traceback or a server blamed for it."""
    if value is None:
        return None
    number = _value(kind, value, flag, flag=True)
    _check_range(FLAG_RANGES.get(flag), number, flag, "")  # a test finds each flag read here in FLAG_RANGES
    return number


def flag_choice(flag: str, value: str, choices: tuple[str, ...]) -> str:
    """A flag whose value is one of `choices`, checked before anything runs (a dry run included)."""
    if value not in choices:
        raise UserError(f"{flag} {value!r} is not one of {', '.join(choices)}: e.g. {flag} {choices[0]}", EXIT_USAGE)
    return value


def _build(cls: type[Any], tree: Mapping[str, Any], path: str) -> Any:
    if not hasattr(tree, "items"):  # a Mapping, or invoke's DataProxy
        raise UserError(f"{path} is {tree!r}: it is a section of keys; see docs/tasks.md", EXIT_USAGE)
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    if path:  # invoke keeps its own sections (run, tasks, ...) beside ours at the top: only ours are read
        unknown = sorted(str(key) for key in set(tree) - set(names))
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
            values[name] = _value(hint, tree[name], key, flag=False, key=key)
    return cls(**values)


def _value(hint: Any, value: Any, name: str, *, flag: bool, key: str = "") -> Any:
    """`value` as `hint` says, checked against the key's range, or one line naming the key (or flag) and the fix.

    Text (a flag, an INVOKE_* variable) is read strictly: ASCII digits for numbers, a finite number, and
    true/false, yes/no, on/off or 1/0 for switches."""
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
        text = str(value).strip().lower()
        if text in TRUE_WORDS or text in FALSE_WORDS:
            return text in TRUE_WORDS
        raise UserError(f"{name} is {value!r}: write true or false{where}", EXIT_USAGE)
    if hint in (int, float):
        number = _number(hint, value)
        if number is None:
            noun = "a whole number" if hint is int else "a number"
            example = (8000 if name.endswith("port") else 4) if hint is int else 2.5
            raise UserError(f"{name} {_shown(value)} is not {noun}: write e.g. {name} {example}{where}", EXIT_USAGE)
        _check_range(RANGES.get(key), number, name, where)
        return number
    if hint is str:
        if isinstance(value, Mapping | list | tuple):
            raise UserError(f"{name} is {_shown(value)}: write one value{where}", EXIT_USAGE)
        text = "" if value is None else str(value)
        if key in NOT_EMPTY and not text.strip():
            raise UserError(f"{name} is empty: give it a value{where}", EXIT_USAGE)
        return text
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, list | tuple):
            example = ENTRY_EXAMPLES.get(key.rpartition(".")[0], "a list, e.g. [--enforce-eager]")
            raise UserError(f"{name} is {_shown(value)}: write {example}{where}", EXIT_USAGE)
        return tuple(str(item) for item in value)
    if origin in (Mapping, dict) or hint in (Mapping, dict):
        if value is None:
            return {}
        if not hasattr(value, "items"):
            raise UserError(f"{name} is {_shown(value)}: write a mapping of keys to values{where}", EXIT_USAGE)
        item_hint = (typing.get_args(hint) or (str, Any))[1]
        if item_hint is str:
            return _environment(value, name, where)
        if item_hint is Any:
            return {str(k): _plain(item) for k, item in value.items()}
        if typing.get_origin(item_hint) in (Mapping, dict) and any(not hasattr(i, "items") for i in value.values()):
            entry, item = next((k, i) for k, i in value.items() if not hasattr(i, "items"))
            example = ENTRY_EXAMPLES.get(key, "a mapping of keys to values")
            raise UserError(f"{name}.{entry} is {_shown(item)}: write {example}{where}", EXIT_USAGE)
        return {
            str(k): _value(item_hint, item, f"{name}.{k}", flag=flag, key=f"{key}.{k}") for k, item in value.items()
        }
    if hint is Any:
        return _plain(value)
    raise TypeError(f"config: no reader for {name}: {hint!r}")


def _environment(value: Any, name: str, where: str) -> dict[str, str]:
    """An environment (server.env, a profile's, cpu.env): every value is text, one value a variable. A list or
    mapping is refused without quoting it: an environment may hold a token."""
    nested = next((k for k, item in value.items() if hasattr(item, "items") or isinstance(item, list | tuple)), None)
    if nested is not None:
        kind = "a mapping" if hasattr(value[nested], "items") else "a list"
        raise UserError(f"{name}.{nested} is {kind}: write one value{where}", EXIT_USAGE)
    return {str(k): str(item) for k, item in value.items()}


TRUE_WORDS = ("true", "yes", "on", "1")
FALSE_WORDS = ("false", "no", "off", "0")
# A number as typed: ASCII digits only (Python's int() also takes other scripts' digits and "1_000").
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def _number(kind: type[int] | type[float], value: Any) -> int | float | None:
    """`value` as a finite `kind`, or None when it is not one (a bool is not a number here)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 100 or not (_INTEGER if kind is int else _DECIMAL).fullmatch(text):
            return None
        value = int(text) if kind is int else float(text)
    if isinstance(value, float):
        if not math.isfinite(value) or (kind is int and not value.is_integer()):
            return None
        return kind(value)
    if isinstance(value, int):
        return value if kind is int else (float(value) if abs(value) < 10**300 else None)
    return None


def _check_range(rule: Range | None, number: float, name: str, where: str) -> None:
    if rule is not None and not rule.holds(number):
        shown = _shown(number) if isinstance(number, int) else f"{number:g}"
        raise UserError(f"{name} {shown} is out of range: write {rule.describe()}{where}", EXIT_USAGE)


def _shown(value: Any) -> str:
    """A value as the message quotes it: repr, cut short (a pasted file must not fill the terminal)."""
    return shorten(repr(_plain(value)), 80, one_line=False)


def _plain(value: Any) -> Any:
    """Invoke's DataProxy objects as plain dicts and lists."""
    if hasattr(value, "items"):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
