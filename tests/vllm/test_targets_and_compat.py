"""--host resolution (profiles, URLs, addresses, keys) and the version compatibility table."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from lightonocr_validation.core.config import defaults
from lightonocr_validation.vllm import compat
from lightonocr_validation.vllm.targets import PROFILE_KEYS, TargetError, resolve


def _resolve(host: str, profiles: dict | None = None, **kwargs: object):
    check = replace(defaults().check, port=8000, hosts=profiles or {}, api_key_env="VLLM_API_KEY", timeout=60.0)
    return resolve(host, check, **kwargs)


@pytest.mark.parametrize(
    ("host", "base_url"),
    [
        ("localhost", "http://localhost:8000"),
        # A dotted name is meant as a host: left to RDY001, whose finding names DNS, even when it does not resolve.
        ("ocr.validation-host.invalid", "http://ocr.validation-host.invalid:8000"),
        ("10.1.2.3", "http://10.1.2.3:8000"),
        ("::1", "http://[::1]:8000"),
        ("https://ocr.example.com/base/path/", "https://ocr.example.com/base/path"),
        ("http://gpu-box:9000", "http://gpu-box:9000"),
    ],
)
def test_hosts_addresses_and_urls(host: str, base_url: str) -> None:
    assert _resolve(host).base_url == base_url


@pytest.mark.parametrize(
    ("profiles", "defined"),
    [
        ({}, "check.hosts defines none"),
        ({"gpu-b": {"url": "https://b"}, "gpu-a": {"url": "https://a"}}, "defines gpu-a, gpu-b"),
    ],
)
def test_a_word_that_is_neither_a_profile_nor_a_host_names_the_profiles(profiles: dict, defined: str) -> None:
    # `remote-gpu` was sent to DNS, and 25 check lines later the verdict said it does not resolve; nothing said
    # that it is meant to be a profile, or how to write one.
    with pytest.raises(TargetError) as raised:
        _resolve("remote-gpu", profiles)
    message = str(raised.value)
    assert message.startswith("--host remote-gpu is not a host profile (invoke.yaml's ")
    assert defined in message and "check.hosts.remote-gpu" in message and "invoke.example.yaml" in message
    assert "\n" not in message


def test_the_shipped_example_profile_resolves_and_agrees_with_the_guide(monkeypatch: pytest.MonkeyPatch) -> None:
    from invoke.util import yaml

    from lightonocr_validation.docs.guide import EXAMPLE_PROFILES

    text = (Path(__file__).resolve().parents[2] / "invoke.example.yaml").read_text(encoding="utf-8")
    profiles = yaml.safe_load(text)["check"]["hosts"]
    example = profiles["remote-gpu"]
    assert set(example) <= PROFILE_KEYS
    guide = EXAMPLE_PROFILES["remote-gpu"]
    assert {key: guide[key] for key in example} == example  # the same profile the guide shows
    assert f"# ca_bundle: {guide['ca_bundle']}" in text  # shown, commented: a public certificate needs none
    monkeypatch.setenv("REMOTE_GPU_API_KEY", "sk-example-1")
    target = _resolve("remote-gpu", profiles)
    assert (target.base_url, target.api_key_env, target.timeout) == (
        "https://ocr.example.com",
        "REMOTE_GPU_API_KEY",
        120,
    )


def test_a_profile_wins_over_a_host_of_the_same_name(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("REMOTE_GPU_KEY", "sk-secret-123")
    profiles = {
        "remote-gpu": {
            "url": "https://ocr.example.com/v",
            "api_key_env": "REMOTE_GPU_KEY",
            "ca_bundle": str(bundle),
            "headers": {"X-Team": "ocr"},
            "timeout": 30,
        }
    }
    target = _resolve("remote-gpu", profiles)
    assert target.base_url == "https://ocr.example.com/v"
    assert target.api_key == "sk-secret-123" and target.verify == str(bundle)
    assert target.headers == (("X-Team", "ocr"),) and target.timeout == 30.0
    assert "sk-secret-123" not in repr(target)


@pytest.mark.parametrize(("value", "state"), [(None, "is not set"), ("", "is empty")])
def test_a_profile_naming_an_unset_key_variable_says_which(
    monkeypatch: pytest.MonkeyPatch, value: str | None, state: str
) -> None:
    if value is None:
        monkeypatch.delenv("REMOTE_GPU_KEY", raising=False)
    else:
        monkeypatch.setenv("REMOTE_GPU_KEY", value)
    with pytest.raises(TargetError, match=f"REMOTE_GPU_KEY {state}: export REMOTE_GPU_KEY="):
        _resolve("remote-gpu", {"remote-gpu": {"url": "https://x", "api_key_env": "REMOTE_GPU_KEY"}})


def test_the_target_names_the_variable_its_key_was_read_from(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMOTE_GPU_KEY", "sk-1")
    assert _resolve("https://ocr.example.com").api_key_env == "VLLM_API_KEY"
    profiled = _resolve("remote-gpu", {"remote-gpu": {"url": "https://x", "api_key_env": "REMOTE_GPU_KEY"}})
    assert profiled.api_key_env == "REMOTE_GPU_KEY" and profiled.api_key == "sk-1"


@pytest.mark.parametrize("host", ["127.0.0.1:8001", "gpu-box:8001"])
def test_a_host_with_a_port_is_refused_with_the_fix(host: str) -> None:
    # Read as a host name, it became http://HOST:8001:8000: a raw ValueError in RDY001, a traceback with --replicas.
    name = host.split(":")[0]
    with pytest.raises(TargetError, match=f"write --host {name} --port 8001, or the URL http://{host}$"):
        _resolve(host)


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ({"url": "https://x", "api_key": "sk-1"}, "name the variable holding the key in api_key_env"),
        ({"api_key_env": "K"}, "has no url"),
        ({"url": "https://x", "colour": "red"}, "unknown keys"),
        ({"url": "https://x", "ca_bundle": "/no/such/ca.pem"}, "does not exist"),
        ({"url": "ftp://x"}, "is not an http"),
        ({"url": "gpu-box:9000"}, "'gpu-box:9000' holds a port: write --host gpu-box --port 9000, or the URL"),
    ],
)
def test_bad_profiles_are_refused_with_the_fix(profile: dict, message: str) -> None:
    with pytest.raises(TargetError, match=message):
        _resolve("p", {"p": profile})


def test_insecure_turns_verification_off() -> None:
    assert _resolve("https://ocr.example.com", insecure=True).verify is False
    assert _resolve("https://ocr.example.com").verify is True


@pytest.mark.parametrize(
    ("version", "status"),
    [
        ("0.10.2", "avoid"),
        ("0.11.2", "ok"),
        ("0.27.1", "avoid"),
        ("0.29.0", "pin"),
        ("0.30.0", "pin"),
        ("0.32.0+cpu", "ok"),
        ("0.33.0", None),
    ],
)
def test_the_table_knows_the_versions_that_matter(version: str, status: str | None) -> None:
    rule = compat.rule_for(version)
    assert (rule.status if rule else None) == status


def test_pins_come_from_the_table() -> None:
    assert compat.install_pins("0.30.0") == ["transformers==5.16.1"]
    assert compat.install_pins("0.11.2") == []


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("0.32.0+cpu", (0, 32, 0)),
        ("v0.11.1", (0, 11, 1)),
        ("0.10.1.1", (0, 10, 1)),
        ("0.12.0rc1", (0, 12, 0)),
        ("1.2", (1, 2, 0)),
    ],
)
def test_versions_parse(text: str, parsed: tuple[int, int, int]) -> None:
    assert compat.parse_version(text) == parsed


def test_minimum_version() -> None:
    assert not compat.is_supported("0.11.0") and compat.is_supported("0.11.1")
    with pytest.raises(ValueError):
        compat.parse_version("nightly")
