"""The one configuration: which source wins (flag > INVOKE_* > invoke.yaml > default), bad values, exit codes.

The tasks run in-process here (invoke's MockContext with a real invoke Config), with `run_check` and
`run_bench` replaced by recorders: what reaches them is what the task resolved. test_tasks_cli.py runs the
same tasks as real `invoke` processes.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path
from typing import Any

import pytest
from invoke import Config, Exit, MockContext

import tasks
from lightonocr_validation.bench import command as bench_command
from lightonocr_validation.check import command as check_command
from lightonocr_validation.core import config as config_module
from lightonocr_validation.core.config import Config as TypedConfig
from lightonocr_validation.core.config import apply_flags, defaults, load
from lightonocr_validation.core.errors import EXIT_FAILED, EXIT_USAGE, UserError
from lightonocr_validation.core.settings import DEFAULTS


def context(tmp_path: Path, yaml: str = "", **env: str) -> MockContext:
    """A context whose configuration is layered as `invoke` layers it: DEFAULTS, invoke.yaml, INVOKE_*."""
    if yaml:
        (tmp_path / "invoke.yaml").write_text(yaml, encoding="utf-8")
    settings = Config(project_location=str(tmp_path))
    settings.load_collection(tasks.ns.configuration())
    settings.load_project()
    settings.load_shell_env()
    return MockContext(config=settings)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What `invoke check` and `invoke bench` hand to their command modules; they return `code`."""
    seen: dict[str, Any] = {"code": 0}

    def record(options: Any, **_: Any) -> int:
        seen["options"] = options
        return seen["code"]

    monkeypatch.setattr(check_command, "run_check", record)
    monkeypatch.setattr(bench_command, "run_bench", record)
    return seen


def test_defaults_come_from_settings_defaults_and_nothing_else() -> None:
    configured = defaults()
    assert configured.check.timeout == DEFAULTS["check"]["timeout"]
    assert configured.bench.perf.requests == DEFAULTS["bench"]["perf"]["requests"]
    assert configured.model.served == DEFAULTS["model"]["id"]


def test_every_default_has_a_typed_field_and_every_field_a_default() -> None:
    def keys(cls: type[Any], prefix: str = "") -> set[str]:
        found = set()
        for field, hint in typing.get_type_hints(cls).items():
            if dataclasses.is_dataclass(hint):
                found |= keys(hint, f"{prefix}{field}.")
            else:
                found.add(prefix + field)
        return found

    def leaves(tree: dict[str, Any], prefix: str = "") -> set[str]:
        found = set()
        for key, item in tree.items():
            mappings = (
                "server.env",
                "server.profiles",
                "server.profile_env",
                "cpu.env",
                "model_profiles",
            )  # free keys: one Mapping
            nested = isinstance(item, dict) and item and f"{prefix}{key}" not in mappings
            found |= leaves(item, f"{prefix}{key}.") if nested else {prefix + key}
        return found

    assert keys(TypedConfig) == leaves(DEFAULTS)


@pytest.mark.parametrize(
    ("yaml", "env", "flag", "expected"),
    [
        ("", {}, None, 300.0),  # the default
        ("check:\n  timeout: 100\n", {}, None, 100.0),  # invoke.yaml over the default
        ("check:\n  timeout: 100\n", {"INVOKE_CHECK_TIMEOUT": "200"}, None, 200.0),  # INVOKE_* over invoke.yaml
        ("check:\n  timeout: 100\n", {"INVOKE_CHECK_TIMEOUT": "200"}, 50.0, 50.0),  # the flag over all
    ],
)
def test_a_flag_wins_over_env_over_yaml_over_the_default(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    recorded: dict[str, Any],
    yaml: str,
    env: dict,
    flag: Any,
    expected: float,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    tasks.check(context(tmp_path, yaml), timeout=flag)
    assert recorded["options"].config.check.timeout == expected
    tasks.bench(context(tmp_path, yaml), timeout=flag)
    assert recorded["options"].config.check.timeout == expected


def test_check_model_is_the_served_id_to_expect_and_serve_model_the_weights(
    tmp_path: Path, recorded: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    tasks.check(context(tmp_path, "model:\n  served_name: ocr\n"), model="other-id")
    assert recorded["options"].config.model.served == "other-id"
    tasks.check(context(tmp_path), tiny=True)
    model = recorded["options"].config.model
    assert (model.served, model.weights) == (DEFAULTS["tiny_model"]["served_name"], "random")
    # bench names the full-size random-weight model as check does: its provenance must not say "trained".
    tasks.bench(context(tmp_path), full_size=True)
    model = recorded["options"].config.model
    assert (model.served, model.weights) == (DEFAULTS["full_size_model"]["served_name"], "random")
    capsys.readouterr()
    tasks.serve(context(tmp_path, "model:\n  served_name: ocr\n"), model="/models/mine", dry_run=True)
    command = capsys.readouterr().out
    assert "vllm serve /models/mine " in command and "--served-model-name /models/mine" in command
    tasks.serve(context(tmp_path), tiny=True, dry_run=True)
    command = capsys.readouterr().out
    tiny_path = (tasks.ROOT / DEFAULTS["tiny_model"]["path"]).resolve()
    assert f"vllm serve {tiny_path} " in command and "--enforce-eager" in command


@pytest.mark.parametrize(
    ("yaml", "message"),
    [
        ("check:\n  timeout: soon\n", "check.timeout 'soon' is not a number"),
        ("check:\n  timout: 5\n", "check.timout is not a setting"),
        ("bench:\n  perf:\n    requests: 2.5\n", "bench.perf.requests 2.5 is not a whole number"),
        ("server:\n  extra_args: --enforce-eager\n", "server.extra_args is '--enforce-eager': write a list"),
        # A profile's environment: each variable one value, and only for a profile server.profiles has.
        (
            "server:\n  profile_env:\n    tuned:\n      A: [1]\n",
            "server.profile_env.tuned.A is a list: write one value",
        ),
        ("server:\n  profile_env:\n    tunned:\n      A: '1'\n", "server.profile_env.tunned is the environment of no"),
    ],
)
def test_a_bad_configuration_value_is_one_line_naming_the_key_and_exit_2(
    tmp_path: Path, recorded: dict[str, Any], capsys: pytest.CaptureFixture[str], yaml: str, message: str
) -> None:
    with pytest.raises(Exit) as stopped:
        tasks.check(context(tmp_path, yaml))
    assert stopped.value.code == EXIT_USAGE and "options" not in recorded
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {message}"), lines


def test_serve_gives_every_server_the_chosen_profiles_environment_under_server_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lightonocr_validation.serve import command as serve_command

    served: list[Any] = []
    monkeypatch.setattr(serve_command, "run_serve", lambda options, **_: served.append(options) or 0)
    monkeypatch.setattr(tasks, "_stop_on_sigterm", lambda: None)  # not in the test's own process
    monkeypatch.setattr(tasks.setup, "check_fits", lambda *_: None)  # two GPUs this machine has not
    tasks.serve(context(tmp_path, "server:\n  profile: tuned\n"), device="cuda", replicas=2)
    (options,) = served
    assert options.env == {"LIGHTONOCR_PIXTRAL_ATTENTION": "varlen"} and len(options.plan.servers) == 2
    yaml = "server:\n  profile: tuned\n  env:\n    LIGHTONOCR_PIXTRAL_ATTENTION: 'off'\n"
    tasks.serve(context(tmp_path, yaml), device="cuda")
    assert served[-1].env == {"LIGHTONOCR_PIXTRAL_ATTENTION": "off"}
    (tmp_path / "invoke.yaml").unlink()
    tasks.serve(context(tmp_path), device="cuda")  # the card's profile: no environment of its own
    assert served[-1].env == {}


def test_a_bad_flag_value_names_the_flag_and_exits_2(
    tmp_path: Path, recorded: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(Exit) as stopped:
        tasks.bench(context(tmp_path), concurrency="four")
    assert stopped.value.code == EXIT_USAGE
    assert capsys.readouterr().err.startswith("error: --concurrency 'four' is not a whole number")
    with pytest.raises(Exit) as stopped:
        tasks.check(context(tmp_path), port="http")
    assert stopped.value.code == EXIT_USAGE
    assert capsys.readouterr().err.startswith("error: --port 'http' is not a whole number")
    with pytest.raises(Exit) as stopped:
        tasks.check(context(tmp_path), tiny=True, full_size=True)
    assert stopped.value.code == EXIT_USAGE
    assert "options" not in recorded


@pytest.mark.parametrize("code", [0, EXIT_FAILED, EXIT_USAGE])
def test_the_commands_exit_code_is_the_tasks(tmp_path: Path, recorded: dict[str, Any], code: int) -> None:
    recorded["code"] = code
    for task in (tasks.check, tasks.bench):
        if code:
            with pytest.raises(Exit) as stopped:
                task(context(tmp_path))
            assert stopped.value.code == code
        else:
            task(context(tmp_path))


def test_apply_flags_refuses_a_flag_it_has_no_key_for() -> None:
    with pytest.raises(TypeError, match="no configuration key"):
        apply_flags(defaults(), "check", tasks.ROOT, concurrency=4)
    with pytest.raises(UserError, match="--timeout 'x' is not a number"):
        apply_flags(defaults(), "stop", tasks.ROOT, timeout="x")
    assert apply_flags(defaults(), "stop", tasks.ROOT, timeout="7").server.stop_timeout == 7.0


def test_load_reads_invokes_tree_and_leaves_invokes_own_sections() -> None:
    tree = {**DEFAULTS, "run": {"echo": True}, "tasks": {}}
    assert load(tree) == config_module.defaults()


def test_a_flag_help_that_names_a_setting_shows_its_default_from_the_table() -> None:
    """No default typed again: a help's "(default: KEY, VALUE" is settings.default_of(KEY), and a flag that
    overrides a setting (config_module.FLAG_KEYS) names that one."""
    from lightonocr_validation.core import settings

    named = 0
    for name, task in tasks.ns.tasks.items():
        for flag, text in task.help.items():
            for key in re.findall(r"\(default: ([\w.]+)[,)]", text):
                if key in settings.BY_KEY:
                    named += 1
                    assert settings.default_of(key).removesuffix(")") in text, (name, flag, key)
            key = config_module.FLAG_KEYS.get(name.replace("-", "_"), {}).get(flag.replace("-", "_"))
            assert key is None or f"(default: {key}" in text, (name, flag, key)
    assert named >= len({key for keys in config_module.FLAG_KEYS.values() for key in keys.values()})


def test_a_flag_group_is_flags_to_invoke_and_one_object_to_the_task() -> None:
    """check and bench take TargetFlags alike: its fields are their flags, with the group's help unless a task
    says it its own way, and the body is handed the group built from them."""
    from lightonocr_validation.docs.tasks_doc import arguments  # get_arguments would consume the task's help

    fields = [field.name for field in dataclasses.fields(tasks.TargetFlags)]
    for name in ("check", "bench"):
        flags = {argument.attr_name or argument.name for argument in arguments(tasks.ns.tasks[name])}
        assert set(fields) <= flags, name
    assert tasks.ns.tasks["check"].help["port"] == tasks.ns.tasks["bench"].help["port"]
    assert tasks.ns.tasks["check"].help["host"] != tasks.ns.tasks["bench"].help["host"]
