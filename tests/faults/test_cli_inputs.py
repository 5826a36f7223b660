"""Bad input at the edge (flags, INVOKE_*, invoke.yaml, profiles, sample and page files, invoke's own parse
errors): one line naming the cause and the fix, exit 2, no traceback. The real `invoke` binary first (what a
person types), then the same cases in-process through the project's Program (cli.py)."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import signal
import struct
import subprocess
import sys
import time
import types
import typing
import zlib
from pathlib import Path

import pytest
from invoke import Collection, task

import tasks
from lightonocr_validation.core import cli, config, errors
from lightonocr_validation.pages.samples import SAMPLES_DIR, SampleError, load_manifest
from lightonocr_validation.pages.user_pages import PagesError, load_pages
from tests.doors.test_tasks_cli import STAND_IN_VLLM
from tests.faults.cli_harness import offline, run_program
from tests.processes import ROOT, alive, free_port

INVOKE = Path(sys.executable).parent / "invoke"


def invoke_binary(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The stock `invoke` script of this environment, from the repository root, as a person runs it."""
    return subprocess.run(
        [str(INVOKE), *args],
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "300", **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "env", "first_line"),
    [
        (["check", "--bogus"], {}, "error: check has no option --bogus: see invoke check --help"),
        (["check", "--port"], {}, "error: --port needs a value: write --port VALUE, see invoke check --help"),
        (["nosuchtask"], {}, "error: there is no task 'nosuchtask': see invoke --list"),
        (["check", "--host", "127.0.0.1:8001", "--replicas", "2"], {}, "error: '127.0.0.1:8001' holds a port"),
        (["bench", "--host", "127.0.0.1:8001"], {}, "error: '127.0.0.1:8001' holds a port: write --host 127.0.0.1"),
        (["check", "--port", "abc"], {}, "error: --port 'abc' is not a whole number"),
        (["check", "--port", "99999"], {}, "error: --port 99999 is out of range: write a number from 1 to 65535"),
        (["check", "--timeout", "-1"], {}, "error: --timeout -1 is out of range: write a number above 0"),
        (["check", "--timeout", "0"], {}, "error: --timeout 0 is out of range"),
        (["serve", "--dry-run", "--port", "-5"], {}, "error: --port -5 is out of range"),
        (["serve", "--device", "quantum"], {}, "error: --device 'quantum' is not one of auto, cuda, cpu"),
        (["serve", "--dry-run", "--device", "quantum"], {}, "error: --device 'quantum' is not one of"),
        (["bench", "--seed", "x"], {}, "error: --seed 'x' is not a whole number"),
        (["check"], {"INVOKE_CHECK_PORT": "abc"}, "error: check.port 'abc' is not a whole number"),
        (["check"], {"INVOKE_CHECK_TIMEOUT": "soon"}, "error: check.timeout 'soon' is not a number"),
        (["serve", "--dry-run"], {"INVOKE_SERVER_EXTRA_ARGS": "x"}, "error: INVOKE_SERVER_EXTRA_ARGS: server"),
    ],
)
def test_the_invoke_binary_refuses_bad_input_in_one_line_with_exit_2(
    args: list[str], env: dict[str, str], first_line: str
) -> None:
    result = invoke_binary(*args, env=env)
    assert result.returncode == errors.EXIT_USAGE, result.stdout + result.stderr
    assert result.stderr.strip().splitlines()[0].startswith(first_line), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_the_invoke_binary_still_lists_helps_and_completes() -> None:
    listing = invoke_binary("--list")
    assert listing.returncode == 0 and "  check " in listing.stdout
    assert invoke_binary("-l").stdout == listing.stdout
    helped = invoke_binary("--help", "check")
    assert helped.returncode == 0 and "--report-json" in helped.stdout
    assert invoke_binary("check", "--help").stdout == helped.stdout
    completed = invoke_binary("--complete", "--", "invoke", "check", "--po")
    assert completed.returncode == 0 and "--port" in completed.stdout.split()
    module = subprocess.run(
        [sys.executable, "-m", "invoke", "check", "--bogus"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert module.returncode == 2 and module.stderr.startswith("error: check has no option --bogus")


def test_false_in_the_environment_is_false() -> None:
    # Stock invoke casts any text but "0" and "" to True for a boolean setting.
    dry = invoke_binary("serve", "--dry-run", env={"INVOKE_SERVER_ENABLE_PREFIX_CACHING": "false"})
    assert dry.returncode == 0 and "--no-enable-prefix-caching" in dry.stdout
    dry = invoke_binary("serve", "--dry-run", env={"INVOKE_SERVER_ENABLE_PREFIX_CACHING": "on"})
    assert dry.returncode == 0 and "--no-enable-prefix-caching" not in dry.stdout


def test_a_runtime_config_file_with_broken_yaml_is_named_with_its_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("check:\n  port: [1\n", encoding="utf-8")
    result = invoke_binary("-f", str(broken), "check")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {broken}, line 3: "), result.stderr


@pytest.mark.parametrize(
    ("yaml", "first_line"),
    [
        ("check:\n  port: [1\n", "invoke.yaml, line 3: expected ',' or ']'"),
        ("check:\n  port: abc\n", "check.port 'abc' is not a whole number"),
        ("check:\n  port: 0\n", "check.port 0 is out of range"),
        ("check: 5\n", "check in "),
        ("- a\n- b\n", "invoke.yaml holds ['a', 'b']: write a mapping of sections"),
        ("sever:\n  port: 8001\n", "invoke.yaml: 'sever' is not a section: the sections are bench, check"),
        ("check:\n  timeout: -3\n", "check.timeout -3 is out of range: write a number above 0"),
        ('check:\n  hosts:\n    remote-gpu: "https://x"\n', "check.hosts.remote-gpu is 'https://x': write a mapping"),
        ('server:\n  profiles:\n    tuned: "--foo"\n', "server.profiles.tuned is '--foo': write a list of vllm flags"),
        ('server:\n  profile_env:\n    tuned: "varlen"\n', "server.profile_env.tuned in "),  # a section
        (
            'server:\n  profile_env:\n    fast: "varlen"\n',
            "server.profile_env.fast is 'varlen': write a mapping of environment variables, e.g. {",
        ),
        ("server:\n  host: ''\n", "server.host is empty"),
        ("sampling:\n  top_p: 1.5\n", "sampling.top_p 1.5 is out of range"),
    ],
)
def test_a_bad_invoke_yaml_is_one_line_naming_the_key_or_line(tmp_path: Path, yaml: str, first_line: str) -> None:
    (tmp_path / "invoke.yaml").write_text(yaml, encoding="utf-8")
    with offline(tmp_path):
        result = run_program(["serve", "--dry-run"], project_root=tmp_path)
    assert result.code == 2, result
    assert result.first_error_line.startswith("error: ") and first_line in result.first_error_line, result.stderr


def test_an_invoke_yaml_is_read_from_the_project_root(tmp_path: Path) -> None:
    (tmp_path / "invoke.yaml").write_text("server:\n  port: 8123\n  enable_prefix_caching: 'yes'\n", encoding="utf-8")
    with offline(tmp_path):
        result = run_program(["serve", "--dry-run"], project_root=tmp_path)
    assert result.code == 0 and "--port 8123 " in result.stdout and "--no-enable-prefix-caching" not in result.stdout


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("INVOKE_SERVER_PORT", "8000.5", "server.port '8000.5' is not a whole number"),
        ("INVOKE_SERVER_PORT", "٨٠٠٠", "is not a whole number"),  # Python's int() reads Arabic-Indic digits
        ("INVOKE_CHECK_TIMEOUT", "nan", "check.timeout 'nan' is not a number"),
        ("INVOKE_CHECK_TIMEOUT", "inf", "check.timeout 'inf' is not a number"),
        ("INVOKE_SERVER_GPU_MEMORY_UTILIZATION", "0", "out of range: write a number above 0 and up to 1"),
        ("INVOKE_SERVER_ENABLE_PREFIX_CACHING", "maybe", "write true or false"),
        ("INVOKE_SERVER_ENV", "A=1", "server.env is a mapping, which an environment variable cannot hold"),
    ],
)
def test_a_bad_invoke_variable_is_one_line(tmp_path: Path, variable: str, value: str, message: str) -> None:
    with offline(tmp_path):
        result = run_program(["serve", "--dry-run"], project_root=tmp_path, env={variable: value})
    assert result.code == 2 and result.first_error_line.startswith("error: ") and message in result.stderr, result


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bench", "--concurrency", "0"], "--concurrency 0 is out of range"),
        (["bench", "--rate", "-1"], "--rate -1 is out of range"),
        (["bench", "--duration", "1e999"], "--duration '1e999' is not a number"),
        (["bench", "--runs", "0"], "--runs 0 is out of range"),
        (["bench", "--warmup", "-1"], "--warmup -1 is out of range"),
        (["bench", "--max-concurrency", "0"], "--max-concurrency 0 is out of range"),
        (["bench", "--gpu-hour-price", "-2"], "--gpu-hour-price -2 is out of range"),
        (["bench", "--temperature", "-0.5"], "--temperature -0.5 is out of range"),
        (["stop", "--timeout", "-1"], "--timeout -1 is out of range"),
        (["tune", "--requests", "0"], "--requests 0 is out of range"),
        (["tune", "--start-timeout", "0"], "--start-timeout 0 is out of range"),
        (["tune", "--device", "tpu"], "--device 'tpu' is not one of"),
        (["serve", "--dry-run", "--timeout", "0"], "--timeout 0 is out of range"),
        (["serve", "--dry-run", "--host", ""], "--host is empty"),
        (["check", "--tiny=x"], "check takes no word 'x'"),
    ],
)
def test_every_numeric_flag_is_checked_where_flags_are_applied(tmp_path: Path, args: list[str], message: str) -> None:
    with offline(tmp_path):
        result = run_program(args, project_root=tmp_path)
    assert result.code == 2 and result.first_error_line.startswith("error: ") and message in result.stderr, result


def _program_over(body: types.FunctionType) -> types.ModuleType:
    module = types.ModuleType("interrupted_tasks")
    module.ns = Collection(task(body))  # type: ignore[attr-defined]
    return module


def test_ctrl_c_reaching_the_program_is_130_with_a_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    def work(c: object) -> None:
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as stopped:
        cli.Program(_program_over(work), tmp_path).run(["invoke", "work"])
    assert stopped.value.code == errors.EXIT_INTERRUPTED == 130
    assert capsys.readouterr().err.startswith("error: interrupted (Ctrl-C)")


def test_hand_over_runs_only_under_the_stock_program(monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli.launched_by_stock_invoke(["/venv/bin/invoke", "check"])
    assert cli.launched_by_stock_invoke(["/venv/bin/inv"])
    assert cli.launched_by_stock_invoke(["/venv/lib/site-packages/invoke/__main__.py", "--list"])
    assert not cli.launched_by_stock_invoke(["/venv/bin/pytest", "tests"])
    monkeypatch.setattr(cli, "_running", True)
    assert not cli.launched_by_stock_invoke(["/venv/bin/invoke", "check"])


# --- sample and page files -------------------------------------------------------------------------------


def _broken_copy_of_samples(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "samples"
    root.mkdir()
    for path in SAMPLES_DIR.iterdir():
        if path.is_file():
            (root / path.name).write_bytes(path.read_bytes())
    first = next(sample for sample in load_manifest(root) if not sample.is_pdf)
    data = first.file.read_bytes()
    first.file.write_bytes(data[: len(data) // 2])
    return root, first.file


def test_a_truncated_bundled_sample_names_the_file_and_invoke_samples(tmp_path: Path) -> None:
    root, broken = _broken_copy_of_samples(tmp_path)
    sample = next(s for s in load_manifest(root) if s.file == broken)
    with pytest.raises(SampleError) as raised:
        sample.pages()
    assert str(broken) in str(raised.value) and "`invoke samples`" in str(raised.value)
    healthy = next(s for s in load_manifest(root) if s.file != broken and not s.is_pdf)
    assert len(healthy.pages()) == 1  # the other pages still read: only the broken file is blamed


def _png_with_corrupt_data(source: Path, target: Path) -> None:
    """A PNG whose chunk checksums hold but whose compressed pixels do not: verify() passes it, load() fails."""
    data = bytearray(source.read_bytes())
    at = data.index(b"IDAT") - 4
    length = struct.unpack(">I", data[at : at + 4])[0]
    start = at + 8
    data[start + 10 : start + 40] = bytes(30)  # zeros in the middle of the deflate stream
    crc = zlib.crc32(bytes(data[at + 4 : start + length])) & 0xFFFFFFFF
    data[start + length : start + length + 4] = struct.pack(">I", crc)
    target.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["truncated", "corrupt-data"])
def test_a_broken_page_of_the_users_is_refused_before_anything_is_sent(tmp_path: Path, damage: str) -> None:
    pages = tmp_path / "pages"
    pages.mkdir()
    source = next(s for s in load_manifest() if not s.is_pdf)
    (pages / "page.md").write_text(source.ground_truth[0], encoding="utf-8")
    if damage == "truncated":
        (pages / "page.png").write_bytes(source.file.read_bytes()[:3000])
    else:
        _png_with_corrupt_data(source.file, pages / "page.png")
    with pytest.raises(PagesError) as raised:
        load_pages(pages)
    assert str(pages / "page.png") in str(raised.value) and "replace it or remove it" in str(raised.value)
    result = invoke_binary("check", "--pages", str(pages), "--port", "1")
    assert result.returncode == 2 and result.stderr.startswith(f"error: {pages / 'page.png'}: not a readable image")


def test_ctrl_c_that_invoke_run_turns_into_a_value_error_is_still_130(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def work(c: object) -> None:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:  # as invoke's runner does when the child's stdin is already closed
            raise ValueError("I/O operation on closed file") from None

    with pytest.raises(SystemExit) as stopped:
        cli.Program(_program_over(work), tmp_path).run(["invoke", "work"])
    assert stopped.value.code == 130 and capsys.readouterr().err.startswith("error: interrupted (Ctrl-C)")

    def buggy(c: object) -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):  # anything else is not swallowed
        cli.Program(_program_over(buggy), tmp_path).run(["invoke", "buggy"])


# --- the range table -------------------------------------------------------------------------------------


def _numeric_settings() -> set[str]:
    def walk(cls: type, prefix: str) -> set[str]:
        found = set()
        for name, hint in typing.get_type_hints(cls).items():
            if dataclasses.is_dataclass(hint):
                found |= walk(hint, f"{prefix}{name}.")
            elif hint in (int, float):
                found.add(prefix + name)
        return found

    return walk(config.Config, "")


def test_every_numeric_setting_has_a_range_and_every_range_a_setting() -> None:
    assert set(config.RANGES) == _numeric_settings()


def _outside(rule: config.Range) -> float:
    if rule.low is not None:
        return rule.low if rule.open_low else rule.low - 1
    assert rule.high is not None
    return rule.high + 1


@pytest.mark.parametrize("key", sorted(config.RANGES))
def test_a_setting_out_of_range_from_the_environment_is_refused_naming_it(tmp_path: Path, key: str) -> None:
    value = _outside(config.RANGES[key])
    variable = "INVOKE_" + key.replace(".", "_").upper()
    with offline(tmp_path):
        result = run_program(["serve", "--dry-run"], project_root=tmp_path, env={variable: f"{value:g}"})
    assert result.code == 2 and result.first_error_line.startswith(f"error: {key} {value:g} is out of range: write ")


# --- what the exit code table says about a dying server --------------------------------------------------


def test_a_server_dying_after_it_was_ready_ends_serve_with_the_documented_code(tmp_path: Path) -> None:
    """docs/tasks.md (errors.EXIT_CODES): serve exits 1 when the server process exits, at start-up or later."""
    executable = tmp_path / "vllm"
    executable.write_text(STAND_IN_VLLM.format(python=sys.executable))
    executable.chmod(0o755)
    port = free_port()
    env = {
        **os.environ,
        "INVOKE_SERVER_EXECUTABLE": str(executable),
        "INVOKE_SERVER_PORT": str(port),
        "INVOKE_SERVER_PID_FILE": str(tmp_path / "server.pid"),
        "INVOKE_SERVER_LOG_FILE": str(tmp_path / "server.log"),
        "INVOKE_SERVER_STOP_TIMEOUT": "3",
        "STAND_IN_PIDS": str(tmp_path / "pids.json"),
        "NO_COLOR": "1",
    }
    serve = subprocess.Popen(
        [str(INVOKE), "serve", "--device", "cpu"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    pids: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "pids.json").is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(3)  # past readiness: serving until interrupted
        pids = json.loads((tmp_path / "pids.json").read_text())
        os.kill(pids[0], signal.SIGKILL)
        stdout, stderr = serve.communicate(timeout=60)
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
        # The stand-in's worker ignores SIGTERM and outlives its dead leader (serve's stop looks the group up
        # by the reaped leader's pid, the procs branch's concern): end it here, by the pid it wrote.
        for pid in pids[1:]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    assert b"ready:" in stdout
    documented = dict((name, code) for name, code, _ in errors.EXIT_CODES)["EXIT_FAILED"]
    meaning = next(text for name, _, text in errors.EXIT_CODES if name == "EXIT_FAILED")
    assert "serve: the server process exited, at start-up or later" in meaning
    assert serve.returncode == documented == 1, stderr
    assert stderr.decode().strip().splitlines()[-1].startswith("error: the server exited with code -9")


@pytest.mark.parametrize(
    ("name", "message"),
    [("missing.yaml", "no such configuration file"), ("settings.toml", "invoke reads no such configuration file")],
)
def test_a_runtime_config_file_that_cannot_be_read_is_named(tmp_path: Path, name: str, message: str) -> None:
    path = tmp_path / name
    if name.endswith(".toml"):
        path.write_text("[check]\nport = 8001\n", encoding="utf-8")
    result = invoke_binary("-f", str(path), "serve", "--dry-run")
    assert result.returncode == 2 and result.stderr.startswith(f"error: {path}: {message}"), result.stderr


@pytest.mark.parametrize("name", sorted(tasks.ns.tasks))
def test_every_numeric_flag_of_every_task_has_a_range(name: str) -> None:
    """A numeric flag either sets a configuration key (config.FLAG_KEYS, ranged in RANGES) or is read with
    config.flag_value (ranged in FLAG_RANGES): a new flag without a range fails here, naming it."""
    keys = config.FLAG_KEYS.get(name.replace("-", "_"), {})
    numeric = {int, float, int | None, float | None}
    for parameter, hint in typing.get_type_hints(tasks.ns.tasks[name].body).items():
        if hint not in numeric:
            continue
        if parameter in keys:
            assert keys[parameter] in config.RANGES, f"{name} --{parameter}: {keys[parameter]} has no range"
        else:
            flag = "--" + parameter.replace("_", "-")
            assert flag in config.FLAG_RANGES, f"{name} {flag}: add it to config.FLAG_RANGES"


def test_a_broken_bundled_sample_stops_check_before_anything_is_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bundled samples are input to the run, like --pages: a page that cannot be read is one line naming
    the file and `invoke samples`, exit 2, before any request (not five failed checks blaming the server)."""
    from rich.console import Console

    from lightonocr_validation.check.command import CheckOptions, run_check
    from lightonocr_validation.core.errors import UserError
    from lightonocr_validation.pages import samples
    from tests.fakevllm.server import FakeVllm

    root, broken = _broken_copy_of_samples(tmp_path)
    monkeypatch.setattr(samples, "SAMPLES_DIR", root)
    report = tmp_path / "r.json"
    with FakeVllm() as fake:
        options = CheckOptions(config=config.defaults(), hosts=[fake.url], report_json=report)
        with pytest.raises(UserError) as raised:
            run_check(options, console=Console(file=io.StringIO()), errors=Console(file=io.StringIO()))
        assert fake.counters.get("vllm:prompt_tokens_total", 0) == 0, "no page may be sent"
    assert raised.value.code == errors.EXIT_USAGE
    assert str(raised.value).startswith(f"{broken}: the sample page cannot be read")
    assert "`invoke samples`" in str(raised.value)
