"""Turn what the user typed after --host into a Target: a profile name, a URL, a host name or an address.

Profiles live in the configuration (`check.hosts` in invoke.yaml): URL, the *name* of the environment
variable holding the API key, CA bundle, client certificate, extra headers, timeout. A key is never
taken from a flag or a file of ours, so it cannot land in shell history, process lists or reports.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from lightonocr_validation.core.config import CheckSettings, Config
from lightonocr_validation.vllm.client import Target, key_variable_state

INSECURE_WARNING = (
    "TLS certificates are not verified (--insecure): anyone on the path can read and change the traffic, "
    "the API key included"
)
PROFILE_KEYS = {
    "url",
    "api_key_env",
    "ca_bundle",
    "client_cert",
    "client_key",
    "headers",
    "timeout",
    "insecure",
}


class TargetError(ValueError):
    """--host or a profile is not usable; the message names the cause and the fix."""


def resolve(host: str, check: CheckSettings, *, insecure: bool = False) -> Target:
    """The Target `host` names under the check.* settings (port, profiles, key variable, timeout)."""
    port, profiles, default_api_key_env, timeout = check.port, check.hosts, check.api_key_env, check.timeout
    host = host.strip()
    if not host:
        raise TargetError("--host is empty: give a host name, an IP address, a URL or a profile name")
    if host in profiles:
        return _from_profile(host, profiles[host], default_api_key_env, timeout, insecure)
    base_url = _base_url(host, port)
    if _looks_like_a_profile_name(host) and not _resolves(host):
        raise TargetError(_no_such_profile(host, profiles))
    return Target(
        base_url=base_url,
        name=host,
        api_key=_api_key(default_api_key_env, required=False),
        api_key_env=default_api_key_env,
        verify=not insecure,
        timeout=timeout,
    )


def _looks_like_a_profile_name(host: str) -> bool:
    """One word (`remote-gpu`): a profile's name as often as a host's. A dotted name, an address or a URL is
    meant as a host, and keeps the DNS finding of RDY001 when it does not resolve."""
    if "://" in host or "." in host or ":" in host:
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return False


def _resolves(name: str) -> bool:
    try:
        socket.getaddrinfo(name, None)
    except (socket.gaierror, UnicodeError):
        return False
    return True


def _no_such_profile(host: str, profiles: Mapping[str, Any]) -> str:
    """--host NAME that is neither a profile nor a host: said before any check runs, with how to write one."""
    defined = f"defines {', '.join(sorted(profiles))}" if profiles else "defines none"
    return (
        f"--host {host} is not a host profile (invoke.yaml's check.hosts {defined}) and no host of that name "
        f"resolves: add check.hosts.{host} with its url, api_key_env and ca_bundle to invoke.yaml, as "
        f"invoke.example.yaml shows (or run invoke -f invoke.example.yaml ...), or give a URL or an IP address"
    )


def _base_url(host: str, port: int) -> str:
    if "://" in host:
        parts = urlsplit(host)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TargetError(f"{host!r} is not an http(s) URL: write it as https://host[:port][/base/path]")
        return host.rstrip("/")
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if "/" in host or " " in host:
            raise TargetError(
                f"{host!r} is neither a host name nor a URL: add the scheme, http:// or https://"
            ) from None
        if ":" in host:  # host:port (a bare IPv6 address was read above): the port would be doubled
            name, _, given = host.rpartition(":")
            raise TargetError(
                f"{host!r} holds a port: write --host {name} --port {given}, or the URL http://{host}"
            ) from None
        return f"http://{host}:{port}"
    return f"http://[{address}]:{port}" if address.version == 6 else f"http://{address}:{port}"


def _from_profile(
    name: str, profile: Mapping[str, Any], default_api_key_env: str, timeout: float, insecure: bool
) -> Target:
    if "api_key" in profile:
        raise TargetError(f"host profile {name!r}: name the variable holding the key in api_key_env")
    unknown = set(profile) - PROFILE_KEYS
    if unknown:
        raise TargetError(
            f"host profile {name!r} has unknown keys {sorted(unknown)}: the keys are {sorted(PROFILE_KEYS)}"
        )
    if not profile.get("url"):
        raise TargetError(f"host profile {name!r} has no url: add check.hosts.{name}.url to invoke.yaml")
    verify: bool | str = True
    if profile.get("ca_bundle"):
        verify = _existing_file(name, "ca_bundle", profile["ca_bundle"])
    if insecure or profile.get("insecure"):
        verify = False
    cert: str | tuple[str, str] | None = None
    if profile.get("client_cert"):
        cert_file = _existing_file(name, "client_cert", profile["client_cert"])
        cert = (
            (cert_file, _existing_file(name, "client_key", profile["client_key"]))
            if profile.get("client_key")
            else cert_file
        )
    headers = profile.get("headers") or {}
    if not isinstance(headers, Mapping):
        raise TargetError(f"host profile {name!r}: headers must be a mapping of header name to value")
    key_env = profile.get("api_key_env") or default_api_key_env
    return Target(
        base_url=_base_url(str(profile["url"]), 0),
        name=name,
        api_key=_api_key(key_env, required=bool(profile.get("api_key_env"))),
        api_key_env=key_env,
        verify=verify,
        client_cert=cert,
        headers=tuple((str(k), str(v)) for k, v in headers.items()),
        timeout=float(profile.get("timeout") or timeout),
    )


def _api_key(variable: str, *, required: bool) -> str:
    value = os.environ.get(variable, "")
    if required and not value:
        state = key_variable_state(variable)
        raise TargetError(f"the API key variable {variable} {state}: export {variable}=<the server's --api-key>")
    return value


def _existing_file(profile: str, key: str, value: Any) -> str:
    path = Path(os.path.expanduser(str(value)))
    if not path.is_file():
        raise TargetError(f"host profile {profile!r}: {key} {str(path)!r} does not exist")
    return str(path)


MAX_PORT = 65535


def resolve_replicas(host: str, check: CheckSettings, replicas: int, *, insecure: bool = False) -> list[Target]:
    """The `replicas` servers `host` names at its port, port+1, ..., as `invoke serve --replicas N` binds them.

    One replica is the host itself. From two on each replica is named by its own address (a profile's name with
    the port), so that reports, progress lines and comparisons tell them apart; key, CA bundle and headers are
    the host's for every replica."""
    target = resolve(host, check, insecure=insecure)
    check_replicas(replicas, _port_of(target.base_url))
    if replicas == 1:
        return [target]
    profile = host.strip() in check.hosts
    fleet = []
    for index in range(replicas):
        url = _with_port(target.base_url, _port_of(target.base_url) + index)
        name = f"{target.name}:{_port_of(url)}" if profile else url
        fleet.append(dataclasses.replace(target, base_url=url, name=name))
    return fleet


def check_replicas(replicas: int, first_port: int) -> None:
    """--replicas N: at least one, and the last replica's port (first_port + N - 1) a port that exists."""
    if replicas < 1:
        raise TargetError(f"--replicas {replicas} must be at least 1 (the servers at port, port+1, ...)")
    last = first_port + replicas - 1
    if last > MAX_PORT:
        raise TargetError(
            f"--replicas {replicas} from port {first_port} reaches port {last}, past {MAX_PORT}: "
            f"give at most {MAX_PORT - first_port + 1} replicas, or a lower port"
        )


def _port_of(base_url: str) -> int:
    parts = urlsplit(base_url)
    return parts.port or (443 if parts.scheme == "https" else 80)


def _with_port(base_url: str, port: int) -> str:
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@{host}:{port}" if credentials else f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def resolve_fleet(hosts: Sequence[str], replicas: int, config: Config, insecure: bool) -> list[Target]:
    """The targets of --host (repeated) or, with --replicas N, of one host's N consecutive ports."""
    if replicas != 1 and len(hosts) > 1:
        raise TargetError(
            f"--replicas {replicas} expands one host into its consecutive ports: give one --host, not {len(hosts)}"
        )
    if replicas != 1:
        return resolve_replicas(hosts[0], config.check, replicas, insecure=insecure)
    return [resolve(host, config.check, insecure=insecure) for host in hosts]
