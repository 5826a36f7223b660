"""`invoke tune` as a person runs it, against a stand-in `vllm` whose speed and failures follow its flags.

The stand-in serves the fake vLLM (tests/fakevllm) on the --port it is given. What the flags do to it
(fixed here, so the best configuration is known before the run):
- `--max-num-batched-tokens 4096`: each page answers in 0.05 s instead of the default 1.2 s (the fastest);
- `--async-scheduling`: 0.5 s (faster than the card's, slower than the best);
- `--max-num-batched-tokens 32768`: the engine dies once two pages are in flight and logs CUDA's out of
  memory line, as vLLM 0.26 did on an H200 (/health answered 200 before);
- an unknown flag: exits at start with argparse's line, as `vllm serve` does.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from lightonocr_validation.tune.grid import ENCODER_GRID, VARLEN_PROOF, GridError, load_grid, parse_grid, select
from tests.processes import ROOT, alive, free_port, run_invoke, signals_at_default

STAND_IN_VLLM = textwrap.dedent(
    """\
    #!{python}
    import json, os, sys, threading, time
    sys.path.insert(0, {root!r})
    from tests.fakevllm.server import FakeVllm, Faults

    args = sys.argv[1:]
    with open(os.environ["STAND_IN_STARTS"], "a") as starts:
        lever = os.environ.get("LIGHTONOCR_PIXTRAL_ATTENTION")
        starts.write(json.dumps({{"pid": os.getpid(), "args": args, "lever": lever}}) + "\\n")
    if os.environ.get("STAND_IN_DIE"):
        print("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", flush=True)
        sys.exit(1)
    if "--no-such-flag" in args:
        print("vllm serve: error: unrecognized arguments: --no-such-flag", flush=True)
        sys.exit(2)
    value = lambda flag: args[args.index(flag) + 1] if flag in args else None
    faults = Faults(delay=float(os.environ.get("STAND_IN_DELAY", "1.2")))
    if value("--max-num-batched-tokens") == "4096":
        faults.delay = 0.05
    if "--async-scheduling" in args:
        faults.delay = 0.5
    if lever == "varlen":  # the plugin's lever (vllm_plugin/), read from the server's environment
        faults.delay = 0.02
        print("INFO [__init__.py:45] LightOnOCR plugin: Pixtral's encoder attends page by page", flush=True)
    if value("--max-num-batched-tokens") == "32768":
        faults.dies_at_in_flight = 2
    fake = FakeVllm(faults, model=value("--served-model-name"), port=int(value("--port")))
    with fake:
        print("INFO: Application startup complete.", flush=True)
        with fake._engine:  # woken the moment the engine dies, as vLLM logs its error then
            fake._engine.wait_for(lambda: fake.engine_dead)
        print("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 3.52 GiB", flush=True)
        print("ERROR: EngineCore encountered a fatal error.", flush=True)
        while True:
            time.sleep(1)  # the API server stays up and answers /health with 503, as vLLM's does
    """
)

GRID = [
    {"name": "async", "args": ["--async-scheduling"], "reason": "faster than the card's"},
    {"name": "rejected", "args": "--no-such-flag 1", "reason": "a flag this vLLM does not know"},
    {"name": "big-prefill", "args": ["--max-num-batched-tokens", 32768], "reason": "dies under load"},
    {"name": "small-prefill", "args": ["--max-num-batched-tokens", "4096"], "reason": "the fastest"},
]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    executable = tmp_path / "vllm"
    executable.write_text(STAND_IN_VLLM.format(python=sys.executable, root=str(ROOT)))
    executable.chmod(0o755)
    return {
        **os.environ,
        "INVOKE_SERVER_EXECUTABLE": str(executable),
        "INVOKE_SERVER_PORT": str(free_port()),
        "INVOKE_SERVER_PID_FILE": str(tmp_path / "server.pid"),
        "INVOKE_SERVER_STOP_TIMEOUT": "5",
        "STAND_IN_STARTS": str(tmp_path / "starts.jsonl"),
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }


def _tune(env: dict[str, str], tmp_path: Path, *args: str, configurations: list[dict] = GRID) -> Any:
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps(configurations))
    return run_invoke(
        "tune",
        "--grid",
        str(grid),
        "--device",
        "cpu",
        "--concurrency",
        "4",
        "--requests",
        "8",
        "--warmup",
        "0",
        "--max-tokens",
        "16",
        "--out",
        str(tmp_path / "out"),
        *args,
        env=env,
        timeout=240,
    )


def _starts(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (tmp_path / "starts.jsonl").read_text().splitlines()]


def test_the_sweep_picks_the_fastest_records_failures_and_stops_every_server(
    env: dict[str, str], tmp_path: Path
) -> None:
    result = _tune(env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    summary = json.loads((tmp_path / "out" / "tune.json").read_text())
    by_name = {record["name"]: record for record in summary["configurations"]}
    # The card's flags first, then the file's configurations in order; each started once with its flags.
    assert list(by_name) == ["card", "async", "rejected", "big-prefill", "small-prefill"]
    starts = _starts(tmp_path)
    assert len(starts) == 5
    assert [s["args"][-2:] for s in starts][-1] == ["--max-num-batched-tokens", "4096"]
    assert "--async-scheduling" not in starts[0]["args"] and "--max-num-batched-tokens" not in starts[0]["args"]

    assert summary["best"]["name"] == "small-prefill"
    assert summary["best"]["args"] == ["--max-num-batched-tokens", "4096"]
    card_rate = by_name["card"]["figures"]["pages_per_s"]
    best_rate = by_name["small-prefill"]["figures"]["pages_per_s"]
    assert best_rate > by_name["async"]["figures"]["pages_per_s"] > card_rate
    assert summary["gain_over_card"] == pytest.approx(best_rate / card_rate - 1)

    rejected = by_name["rejected"]
    assert rejected["status"] == "failed" and "exited with code 2 during start-up" in rejected["cause"]
    assert rejected["diagnosis"]["key"] == "unknown-flag"
    died = by_name["big-prefill"]
    assert died["status"] == "failed" and died["cause"].startswith("the server died under load")
    assert died["diagnosis"]["key"] == "out-of-memory"
    assert died["figures"]["errors"] > 0

    for name in ("card", "async", "small-prefill"):
        record = by_name[name]
        assert record["status"] == "ok" and record["figures"]["errors"] == 0
        assert record["figures"]["completed"] == 8 and record["figures"]["concurrency"] == 4
        assert record["start_s"] is not None and record["figures"]["e2e_p50_s"] > 0
        bench = json.loads(Path(record["bench_result"]).read_text())
        assert bench["settings"]["max_tokens"] == 16 and bench["settings"]["ignore_eos"] is True
    assert summary["settings"] == {
        "concurrency": 4,
        "max_tokens": 16,
        "requests": 8,
        "warmup": 0,
        "start_timeout_s": 600.0,
    }
    # Every server was stopped: no stand-in process is left, and the port is free for the next start.
    assert not any(alive(start["pid"]) for start in starts)
    assert "small-prefill" in result.stdout and "going on" in result.stderr
    assert "server.profiles.tuned" in result.stdout


def test_a_second_run_resumes_and_only_measures_what_is_missing(env: dict[str, str], tmp_path: Path) -> None:
    first = _tune(env, tmp_path, "--only", "card,async")
    assert first.returncode == 0, first.stdout + first.stderr
    summary = json.loads((tmp_path / "out" / "tune.json").read_text())
    assert [r["status"] for r in summary["configurations"]] == ["ok", "ok", "not run", "not run", "not run"]
    assert "not measured yet: rejected, big-prefill, small-prefill" in summary["conclusion"]
    second = _tune(env, tmp_path, "--only", "async,small-prefill")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "already measured" in second.stdout
    assert len(_starts(tmp_path)) == 3  # card, async, then small-prefill only
    summary = json.loads((tmp_path / "out" / "tune.json").read_text())
    assert summary["best"]["name"] == "small-prefill"


def test_a_failing_card_configuration_exits_1(env: dict[str, str], tmp_path: Path) -> None:
    result = _tune({**env, "STAND_IN_DIE": "1"}, tmp_path, "--only", "card,async")
    assert result.returncode == 1, result.stdout + result.stderr
    summary = json.loads((tmp_path / "out" / "tune.json").read_text())
    assert [r["status"] for r in summary["configurations"][:2]] == ["failed", "failed"]
    assert summary["configurations"][0]["diagnosis"]["key"] == "out-of-memory"
    assert summary["best"] is None and summary["gain_over_card"] is None
    assert "no configuration was measured without errors" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grid", "no-such-grid"], "--grid 'no-such-grid' is neither a built-in grid (encoder, steady) nor a file"),
        (["--only", "nope"], "--only nope: not in the grid"),
        (["--concurrency", "0"], "--concurrency 0 is out of range: write a number of at least 1"),
        (["--requests", "many"], "--requests 'many' is not a whole number"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(env: dict[str, str], tmp_path: Path, args: list[str], message: str) -> None:
    result = run_invoke("tune", "--device", "cpu", "--out", str(tmp_path / "out"), *args, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert not (tmp_path / "starts.jsonl").exists()  # refused before any server started


def test_the_built_in_grid_starts_with_the_card_and_gives_each_candidate_a_reason() -> None:
    grid = load_grid("encoder")
    assert grid[0].name == "card" and grid[0].args == ()
    assert 3 <= len(grid) <= 5  # each start costs 110-170 s on an H200: about 15 minutes in all
    assert all(candidate.reason for candidate in grid)
    assert len({candidate.args for candidate in ENCODER_GRID}) == len(ENCODER_GRID)


def test_a_grid_file_is_read_as_json_or_yaml_and_the_card_always_leads(tmp_path: Path) -> None:
    yaml_grid = tmp_path / "grid.yaml"
    yaml_grid.write_text("- name: card\n  args: [--enforce-eager]\n- name: seqs\n  args: --max-num-seqs 128\n")
    grid = load_grid(str(yaml_grid))
    # A file cannot redefine the baseline: "card" is always the card's own command.
    assert [(c.name, c.args) for c in grid] == [("card", ()), ("seqs", ("--max-num-seqs", "128"))]
    with pytest.raises(GridError, match="used twice"):
        parse_grid([{"name": "a"}, {"name": "a"}])
    with pytest.raises(GridError, match="needs a name"):
        parse_grid([{"args": []}])
    with pytest.raises(GridError, match="letters, digits"):
        parse_grid([{"name": "../escape"}])
    assert [c.name for c in select(grid, ["seqs"])] == ["seqs"]


def test_a_configurations_env_reaches_its_server_alone_and_the_advice_names_it(
    env: dict[str, str], tmp_path: Path
) -> None:
    lever = {"LIGHTONOCR_PIXTRAL_ATTENTION": "varlen"}
    configurations = [
        # 0.5 s a page against the lever's 0.02: which one is best never rests on timing noise (the same flags,
        # 0.05 against 0.02, once lost to a loaded machine).
        {"name": "async", "args": "--async-scheduling"},
        {"name": "lever", "args": "--max-num-batched-tokens 4096", "env": lever},
    ]
    # server.profile tuned, whose server.profile_env switches the lever on for `invoke serve`, changes nothing here.
    result = _tune({**env, "INVOKE_SERVER_PROFILE": "tuned"}, tmp_path, configurations=configurations)
    assert result.returncode == 0, result.stdout + result.stderr
    # Only the configuration that asks for the lever gets it; the card and the flags-only one run without.
    assert [s["lever"] for s in _starts(tmp_path)] == [None, None, "varlen"]
    summary = json.loads((tmp_path / "out" / "tune.json").read_text())
    assert [c["env"] for c in summary["configurations"]] == [{}, {}, {"LIGHTONOCR_PIXTRAL_ATTENTION": "varlen"}]
    assert summary["best"]["name"] == "lever"
    # The profile's own environment, not server.env (which every profile gets, the card's too).
    assert (
        'to serve it: set server.profiles.tuned in invoke.yaml to ["--max-num-batched-tokens", "4096"] and '
        'server.profile_env.tuned to {"LIGHTONOCR_PIXTRAL_ATTENTION": "varlen"}, then `invoke serve --profile tuned`'
    ) in result.stdout
    assert "server.env" not in result.stdout


def test_a_lever_whose_proof_is_not_logged_is_failed_and_never_measured(env: dict[str, str], tmp_path: Path) -> None:
    lever = {"LIGHTONOCR_PIXTRAL_ATTENTION": "varlen"}
    configurations = [
        # The stand-in logs the plugin's line when the switch is on: the lever took.
        {"name": "took", "args": [], "env": lever, "log_proof": VARLEN_PROOF},
        # Switched on, but the proof asked for never comes (as when the plugin is not installed beside vLLM).
        {"name": "missing", "args": [], "env": lever, "log_proof": "LightOnOCR plugin: something else"},
    ]
    result = _tune(env, tmp_path, configurations=configurations)
    assert result.returncode == 0, result.stdout + result.stderr
    by_name = {c["name"]: c for c in json.loads((tmp_path / "out" / "tune.json").read_text())["configurations"]}
    assert by_name["took"]["status"] == "ok" and by_name["took"]["log_proof"] == VARLEN_PROOF
    missing = by_name["missing"]
    assert missing["status"] == "failed" and missing["figures"] is None and missing["bench_result"] is None
    assert missing["cause"].startswith("the lever did not take: the server's log never says")
    assert len(_starts(tmp_path)) == 3 and not any(alive(s["pid"]) for s in _starts(tmp_path))
    assert json.loads((tmp_path / "out" / "tune.json").read_text())["best"]["name"] == "took"


def test_a_grid_env_is_a_mapping_and_never_a_secret() -> None:
    (candidate,) = parse_grid([{"name": "a", "env": {"LIGHTONOCR_PIXTRAL_ATTENTION": "varlen", "N": 2}}])
    assert candidate.env == (("LIGHTONOCR_PIXTRAL_ATTENTION", "varlen"), ("N", "2"))
    with pytest.raises(GridError, match="env must be a mapping"):
        parse_grid([{"name": "a", "env": ["X=1"]}])
    with pytest.raises(GridError, match="VLLM_API_KEY, which looks like a secret"):
        parse_grid([{"name": "a", "env": {"VLLM_API_KEY": "s3cret"}}])
    steady = {c.name: c for c in load_grid("steady")}
    assert dict(steady["tuned-varlen"].env) == {"LIGHTONOCR_PIXTRAL_ATTENTION": "varlen"}
    assert steady["tuned-varlen"].args == steady["tuned"].args and steady["tuned"].env == ()
    assert steady["tuned-varlen"].log_proof == steady["varlen-batched-8192"].log_proof == VARLEN_PROOF
    assert parse_grid([{"name": "a", "log_proof": "x"}])[0].log_proof == "x"


def test_serve_profile_tuned_is_the_cards_command_plus_the_measured_flags(env: dict[str, str], tmp_path: Path) -> None:
    card = run_invoke("serve", "--dry-run", env=env)
    tuned = run_invoke("serve", "--dry-run", "--profile", "tuned", env=env)
    assert card.returncode == tuned.returncode == 0
    # docs/gpu.md: the measured flags appended to the card's command, and the plugin's switch (server.profile_env)
    # in the environment the server gets, shown before the executable; nothing else changed.
    flags = " --compilation-config.compile_mm_encoder=true --max-num-batched-tokens 4096"
    switched = re.sub(r"(\S*vllm serve )", r"LIGHTONOCR_PIXTRAL_ATTENTION=varlen \1", card.stdout.strip(), count=1)
    assert tuned.stdout.strip() == switched + flags
    # server.env wins over the profile's, and a secret-looking variable's value is never shown.
    settings = tmp_path / "invoke.yaml"
    settings.write_text("server:\n  env: {LIGHTONOCR_PIXTRAL_ATTENTION: 'off', HF_TOKEN: hf_s3cret_value}\n")
    off = run_invoke("-f", str(settings), "serve", "--dry-run", "--profile", "tuned", env=env)
    assert off.returncode == 0, off.stderr
    assert "LIGHTONOCR_PIXTRAL_ATTENTION=off " in off.stdout and "HF_TOKEN=(redacted) " in off.stdout
    assert "varlen" not in off.stdout and "s3cret" not in off.stdout + off.stderr
    unknown = run_invoke("serve", "--dry-run", "--profile", "fastest", env=env)
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == "error: --profile 'fastest' is not one of card, tuned: add it to server.profiles"


def test_a_profile_adds_its_flags_after_the_model_and_before_the_double_dash() -> None:
    from dataclasses import replace

    import pytest

    from lightonocr_validation.core.config import defaults
    from lightonocr_validation.core.errors import UserError

    server = replace(defaults().server, profiles={"card": [], "tuned": ["--max-num-batched-tokens", 4096]})
    assert replace(server, profile="tuned").profile_args() == ("--max-num-batched-tokens", "4096")
    assert server.profile_args() == ()  # server.profile: card
    with pytest.raises(UserError, match=r"server\.profiles\.tuned is '--x': write a list"):
        replace(server, profile="tuned", profiles={"tuned": "--x"}).profile_args()


def test_sigterm_mid_measurement_stops_the_server_and_keeps_what_was_measured(
    env: dict[str, str], tmp_path: Path
) -> None:
    # A lent GPU's command limit ends `timeout 570 invoke tune ...` with SIGTERM: no server may outlive it.
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps(GRID))
    args = ["--grid", str(grid), "--device", "cpu", "--concurrency", "2", "--requests", "4", "--warmup", "0"]
    tune = subprocess.Popen(
        [sys.executable, "-m", "invoke", "tune", *args, "--out", str(tmp_path / "out")],
        cwd=ROOT,
        env={**env, "STAND_IN_DELAY": "60"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=signals_at_default,
    )
    try:
        health = f"http://127.0.0.1:{env['INVOKE_SERVER_PORT']}/health"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _answers(health):
            time.sleep(0.2)
        time.sleep(3)  # ready, then the bench's requests are in flight (each takes 60 s)
        tune.send_signal(signal.SIGTERM)
        stdout, stderr = tune.communicate(timeout=60)
    finally:
        if tune.poll() is None:
            tune.kill()
    assert tune.returncode == 130, stdout + stderr  # EXIT_INTERRUPTED: told apart from a failure
    assert stderr.strip().splitlines()[-1].startswith("error: interrupted: the server was stopped")
    assert "Traceback" not in stderr
    assert not any(alive(start["pid"]) for start in _starts(tmp_path))
    assert not (tmp_path / "out" / "configs" / "card.json").exists()  # half a measurement is not a record


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False
