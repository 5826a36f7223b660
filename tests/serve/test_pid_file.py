"""The pid file: whatever lies at its path reads as our record or as one line naming the file and the fix."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lightonocr_validation.core.errors import EXIT_USAGE, UserError
from lightonocr_validation.serve import pid_file
from lightonocr_validation.serve.pid_file import PidRecord, ServerRecord


def _server(pid: int = 4242, port: int = 8000, **changes: object) -> ServerRecord:
    fields: dict[str, object] = {
        "pid": pid,
        "start_time": 123456,
        "pgid": pid,
        "argv": ("/env/bin/python", "/env/bin/vllm", "serve", "m", "--port", str(port)),
        "base_url": f"http://127.0.0.1:{port}",
        "port": port,
        "gpu": "1",
        "log": f"/logs/vllm-serve.{port}.log",
    }
    return ServerRecord(**{**fields, **changes})  # type: ignore[arg-type]


def _refusal(path: Path) -> str:
    with pytest.raises(UserError) as caught:
        pid_file.read(path)
    assert caught.value.code == EXIT_USAGE
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    return message


def test_a_written_record_reads_back_the_same(tmp_path: Path) -> None:
    path = tmp_path / "serve" / "vllm-serve.pid"
    record = PidRecord(mode="replicas", model="m", servers=(_server(4242, 8000), _server(4243, 8001, gpu="3")))
    pid_file.write(path, record)
    assert pid_file.read(path) == record
    assert json.loads(path.read_text())["version"] == 2
    assert [p.name for p in path.parent.iterdir()] == ["vllm-serve.pid"]  # no temporary file left


def test_a_failed_write_leaves_the_previous_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "vllm-serve.pid"
    first = PidRecord(mode="single", model="m", servers=(_server(),))
    pid_file.write(path, first)
    broken = PidRecord(mode="single", model="m", servers=(_server(gpu=object()),))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pid_file.write(path, broken)
    assert pid_file.read(path) == first
    assert [p.name for p in tmp_path.iterdir()] == ["vllm-serve.pid"]


def test_no_file_is_no_record(tmp_path: Path) -> None:
    assert pid_file.read(tmp_path / "absent.pid") is None


def test_the_one_server_format_written_before_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "old.pid"
    old = {
        "pid": 4242,
        "base_url": "http://127.0.0.1:8011",
        "model": "m",
        "log_file": "/logs/vllm-serve.log",
        "command": ["vllm", "serve", "m", "--port", "8011"],
    }
    path.write_text(json.dumps(old))
    record = pid_file.read(path)
    assert record is not None and record.mode == "single" and record.model == "m"
    (server,) = record.servers
    assert (server.pid, server.port, server.start_time, server.legacy) == (4242, 8011, None, True)
    assert server.argv == ("vllm", "serve", "m", "--port", "8011") and server.log == "/logs/vllm-serve.log"


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"garbage{", "not JSON"),
        (b'{"pid": "abc"}', "pid 'abc' is not a whole number"),
        (b"[1,2]", "a JSON list, not an object"),
        (b"{}", "pid null is not a whole number"),
        (b'{"pid": -5}', "pid -5 is out of range"),
        (b'{"pid": 0}', "pid 0 is out of range"),
        (b'{"pid": 1}', "(1 is init)"),
        (b'{"pid": true}', "pid true is not a whole number"),
        (b'{"pid": 4242.0}', "pid 4242.0 is not a whole number"),
        (b'{"pid": 99999999999999999999999}', "pid 99999999999999999999999 is out of range"),
        (b'{"pid": 1e999}', "pid Infinity is not a whole number"),
        (b"9" * 5000, "not JSON"),  # past Python's digit limit for int()
        (b"[" * 100_000, "not JSON"),  # nested past the parser's recursion limit
        (b"\xff\xfe{\x00", "not UTF-8 text"),
        (b"", "not JSON"),
        (b'{"version": 3, "servers": []}', "version 3, this tool reads 2"),
        (b'{"version": 2, "mode": "swarm", "servers": []}', "mode 'swarm' is not one of"),
        (b'{"version": 2, "mode": "replicas", "servers": []}', "no list of servers"),
        (b'{"version": 2, "mode": "replicas", "servers": [7]}', "a server entry is 7"),
        (b'{"version": 2, "mode": "single", "servers": [{"pid": 5, "pgid": 6}]}', "pgid 6 is not pid 5"),
    ],
)
def test_content_that_is_not_our_record_is_one_line_naming_the_file_and_the_fix(
    tmp_path: Path, content: bytes, why: str
) -> None:
    path = tmp_path / "vllm-serve.pid"
    path.write_bytes(content)
    message = _refusal(path)
    assert why in message and "delete it" in message


def test_a_directory_at_the_path_is_named_as_one(tmp_path: Path) -> None:
    path = tmp_path / "vllm-serve.pid"
    path.mkdir()
    assert "is a directory: remove it, or set server.pid_file" in _refusal(path)


def test_an_unreadable_pid_file_says_why_and_what_to_do(tmp_path: Path) -> None:
    # A socket at the path cannot be opened, even by root (chmod 000 does not stop root).
    path = tmp_path / "vllm-serve.pid"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(path))
        message = _refusal(path)
    assert message.startswith(f"cannot read the pid file {path} (") and "fix its permissions, or delete it" in message


def _entry(draw_pid: int) -> dict[str, object]:
    return {
        "pid": draw_pid,
        "start_time": 1,
        "pgid": draw_pid,
        "argv": ["vllm"],
        "base_url": "http://127.0.0.1:8000",
        "port": 8000,
        "gpu": None,
        "log": "l",
    }


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=64),
        json_values.map(lambda value: json.dumps(value).encode()),
        st.dictionaries(st.sampled_from(["pid", "base_url", "model", "command", "log_file"]), json_values).map(
            lambda value: json.dumps(value).encode()
        ),
        st.fixed_dictionaries(
            {"version": st.just(2), "mode": st.sampled_from(["single", "replicas", "x"])},
            optional={"servers": st.lists(st.integers().map(_entry) | json_values, max_size=3), "model": json_values},
        ).map(lambda value: json.dumps(value).encode()),
    )
)
def test_any_content_reads_as_a_record_or_one_line_with_exit_2(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("pid") / "vllm-serve.pid"
    path.write_bytes(data)
    try:
        record = pid_file.read(path)
    except UserError as error:
        assert error.code == EXIT_USAGE and "\n" not in str(error) and str(path) in str(error)
        return
    assert record is not None and record.servers
    for server in record.servers:
        assert 2 <= server.pid <= pid_file.PID_MAX and server.pgid == server.pid


def test_a_huge_file_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "vllm-serve.pid"
    path.write_bytes(b" " * (pid_file.MAX_BYTES + 1))
    assert "larger than 256 KiB" in _refusal(path)
