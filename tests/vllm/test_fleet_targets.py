"""--replicas N: one host expanded into the servers at its port, port+1, ..., and the edge's refusals."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lightonocr_validation.core.config import defaults
from lightonocr_validation.vllm.targets import TargetError, resolve_replicas


def _fleet(host: str, replicas: int, profiles: dict | None = None):
    check = replace(defaults().check, port=8000, hosts=profiles or {}, api_key_env="VLLM_API_KEY", timeout=60.0)
    return resolve_replicas(host, check, replicas)


@pytest.mark.parametrize(
    ("host", "urls"),
    [
        ("127.0.0.1", ["http://127.0.0.1:8000", "http://127.0.0.1:8001", "http://127.0.0.1:8002"]),
        ("::1", ["http://[::1]:8000", "http://[::1]:8001", "http://[::1]:8002"]),
        ("http://gpu:9000/base", ["http://gpu:9000/base", "http://gpu:9001/base", "http://gpu:9002/base"]),
        ("https://gpu/v", ["https://gpu:443/v", "https://gpu:444/v", "https://gpu:445/v"]),
    ],
)
def test_replicas_are_the_next_ports_of_the_host(host: str, urls: list[str]) -> None:
    fleet = _fleet(host, 3)
    assert [target.base_url for target in fleet] == urls
    assert len({target.label for target in fleet}) == 3  # each replica has its own name in every report


def test_one_replica_is_the_host_itself() -> None:
    (only,) = _fleet("localhost", 1)
    assert (only.base_url, only.label) == ("http://localhost:8000", "localhost")


def test_a_profile_lends_every_replica_its_key_and_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPU_KEY", "sk-secret")
    profiles = {"box": {"url": "https://box:8443", "api_key_env": "GPU_KEY", "headers": {"X-Team": "ocr"}}}
    fleet = _fleet("box", 2, profiles)
    named = [(t.base_url, t.label) for t in fleet]
    assert named == [("https://box:8443", "box:8443"), ("https://box:8444", "box:8444")]
    assert all(t.api_key == "sk-secret" and t.headers == (("X-Team", "ocr"),) for t in fleet)


@pytest.mark.parametrize(
    ("host", "replicas", "message"),
    [
        ("127.0.0.1", 0, "--replicas 0 must be at least 1"),
        ("127.0.0.1", -2, "--replicas -2 must be at least 1"),
        ("127.0.0.1", 70000, "--replicas 70000 from port 8000 reaches port 77999, past 65535: give at most 57536"),
        ("http://gpu:65535", 2, "--replicas 2 from port 65535 reaches port 65536"),
    ],
)
def test_impossible_replica_counts_are_refused_with_the_fix(host: str, replicas: int, message: str) -> None:
    with pytest.raises(TargetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _fleet(host, replicas)


def test_the_last_port_that_exists_is_accepted() -> None:
    assert _fleet("http://gpu:65534", 2)[-1].base_url == "http://gpu:65535"
