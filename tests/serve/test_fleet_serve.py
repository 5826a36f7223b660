"""Serving N GPUs: the commands, ports, GPUs and logs of replicas and of one data-parallel server."""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path

import pytest

from lightonocr_validation.core.config import ModelSettings, ServerSettings, defaults
from lightonocr_validation.core.errors import EXIT_USAGE, UserError
from lightonocr_validation.core.hardware import Gpu
from lightonocr_validation.serve import fleet as fleet_serve
from lightonocr_validation.serve.process import build_command

LOG = Path("/state/vllm-serve.log")
H200 = Gpu("NVIDIA H200", 143771)


def _settings(**server: object) -> tuple[ModelSettings, ServerSettings]:
    return defaults().model, replace(defaults().server, **server)


def _plan(
    replicas: int | None = None, data_parallel_size: int | None = None, visible: str | None = None, **server: object
) -> fleet_serve.Plan:
    model, settings = _settings(**server)
    return fleet_serve.plan(
        model,
        settings,
        ["--enforce-eager"],
        replicas=replicas,
        data_parallel_size=data_parallel_size,
        log_file=LOG,
        visible=visible,
    )


def _flag(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def test_one_server_is_the_command_it_always_was() -> None:
    plan = _plan(port=8000)
    (server,) = plan.servers
    model, settings = _settings(port=8000)
    assert plan.mode == fleet_serve.SINGLE and server.command == build_command(model, settings, ["--enforce-eager"])
    assert server.gpu is None and server.env == {} and server.log_file == LOG
    assert server.rendered().startswith("vllm serve ")  # no CUDA_VISIBLE_DEVICES of ours


def test_replicas_get_one_gpu_one_port_and_one_log_each() -> None:
    plan = _plan(replicas=3, port=8000)
    assert plan.mode == fleet_serve.REPLICAS and plan.size == 3
    assert [s.port for s in plan.servers] == [8000, 8001, 8002]
    assert [_flag(s.command, "--port") for s in plan.servers] == ["8000", "8001", "8002"]
    assert [s.env for s in plan.servers] == [{"CUDA_VISIBLE_DEVICES": g} for g in ("0", "1", "2")]
    assert [s.log_file.name for s in plan.servers] == [f"vllm-serve.{p}.log" for p in (8000, 8001, 8002)]
    assert [s.base_url for s in plan.servers] == fleet_serve.fleet_urls("127.0.0.1", 8000, 3)
    # Everything else is the same command: the fleet is one configuration.
    for server in plan.servers:
        assert "--data-parallel-size" not in server.command and server.command[-1] == "--enforce-eager"
        assert [w for w in server.command if w != _flag(server.command, "--port")] == [
            w for w in plan.servers[0].command if w != "8000"
        ]
    assert plan.servers[1].rendered().startswith("CUDA_VISIBLE_DEVICES=1 vllm serve ")


def test_replicas_take_the_users_own_gpu_list_in_order() -> None:
    plan = _plan(replicas=2, visible="GPU-7a1c, 5,6")
    assert [s.gpu for s in plan.servers] == ["GPU-7a1c", "5"]


def test_data_parallel_is_one_server_on_one_port_with_vllms_flag() -> None:
    plan = _plan(data_parallel_size=2, port=8100, visible="3,5,6")
    (server,) = plan.servers
    assert plan.mode == fleet_serve.DATA_PARALLEL and plan.size == 2
    assert _flag(server.command, "--data-parallel-size") == "2" and _flag(server.command, "--port") == "8100"
    assert server.command[-1] == "--enforce-eager"  # the user's own flags still come last, and win
    assert server.gpu == "3,5" and server.log_file == LOG
    assert server.rendered().startswith("CUDA_VISIBLE_DEVICES=3,5 vllm serve ")


def test_one_replica_is_one_server() -> None:
    assert _plan(replicas=1).mode == fleet_serve.SINGLE
    assert _plan(data_parallel_size=1).mode == fleet_serve.SINGLE


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"replicas": 0}, "--replicas 0 is not a number of GPUs: write 1 or more"),
        ({"data_parallel_size": -2}, "--data-parallel-size -2 is not a number of GPUs"),
        ({"replicas": 2, "data_parallel_size": 2}, "--replicas and --data-parallel-size are two ways"),
        ({"replicas": 3, "port": 65534}, "3 servers from port 65534 need ports up to 65536, past 65535"),
    ],
)
def test_bad_sizes_are_one_line_and_exit_2(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(UserError, match=message) as caught:
        _plan(**kwargs)
    assert caught.value.code == EXIT_USAGE


@pytest.mark.parametrize(
    ("gpus", "visible", "asked", "fits"),
    [
        ([H200, H200], None, 2, True),
        ([H200], None, 2, False),
        ([], None, 2, False),
        ([H200] * 4, "2,3", 2, True),
        ([H200] * 4, "2", 2, False),  # the user's list leaves one
        ([H200], "0,1", 2, False),  # a list longer than what the driver sees gains nothing
    ],
)
def test_the_gpu_count_is_checked_against_what_the_machine_lets_us_use(
    gpus: list[Gpu], visible: str | None, asked: int, fits: bool
) -> None:
    for plan in (_plan(replicas=asked, visible=visible), _plan(data_parallel_size=asked, visible=visible)):
        if fits:
            fleet_serve.check_gpus(plan, gpus, visible)
            continue
        with pytest.raises(UserError, match=f"needs {asked} GPUs, this machine has") as caught:
            fleet_serve.check_gpus(plan, gpus, visible)
        assert caught.value.code == EXIT_USAGE and "--device cpu" in str(caught.value)


def test_a_single_server_needs_no_gpu_count() -> None:
    fleet_serve.check_gpus(_plan(), [], None)


def test_every_port_is_checked_before_anything_starts() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        busy = listener.getsockname()[1]
        plan = _plan(replicas=2, port=busy - 1)
        with pytest.raises(UserError, match="already in use") as caught:
            fleet_serve.check_ports_free(plan)
    assert caught.value.code == EXIT_USAGE and str(busy) in str(caught.value)


def test_the_rendered_command_shows_the_environment_it_adds_and_hides_secret_values() -> None:
    server = _plan(replicas=2).servers[1]
    shown = server.rendered({"LIGHTONOCR_PIXTRAL_ATTENTION": "varlen", "VLLM_API_KEY": "k3y-value", "A": "x y"})
    assert shown.startswith(
        "LIGHTONOCR_PIXTRAL_ATTENTION=varlen VLLM_API_KEY=(redacted) A='x y' CUDA_VISIBLE_DEVICES=1 vllm serve "
    )
    assert "k3y-value" not in shown
