"""One HTTP client for a vLLM server, local or remote: every call carries the same auth, TLS and headers.

The peers' users keep asking for the API key on the health check too, for self-signed TLS and for base
paths (peers.md); here all of them live in one `Target`, and every request, `/health` included, goes
through `VllmClient.request`. The API key is held in memory only and is scrubbed from every error text.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3

from lightonocr_validation.cancel import Cancelled, CancelToken, RequestBound, WatchedAdapter
from lightonocr_validation.errors import shorten

# Connections kept per host: as many as the largest burst of pages a check keeps in flight.
POOL_SIZE = 128


class Unreachable(Exception):
    """The server could not be reached at all. `kind` tells DNS, refused, TLS, timeout and other apart."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Target:
    """Where a server is and how to talk to it."""

    base_url: str  # scheme://host:port[/base/path], no trailing slash
    name: str = ""  # what the user typed: a profile name, a host, a URL
    api_key: str = field(default="", repr=False)
    verify: bool | str = True  # False (--insecure) or a CA bundle path
    client_cert: str | tuple[str, str] | None = None
    headers: tuple[tuple[str, str], ...] = ()
    timeout: float = 300.0

    @property
    def label(self) -> str:
        return self.name or self.base_url

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""


@dataclass(frozen=True)
class Response:
    status: int
    text: str
    seconds: float
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.text)

    def error_message(self) -> str:
        """vLLM's error text: `{"error": {"message": ...}}` (newer) or `{"message": ...}` (older)."""
        try:
            body = self.json()
        except ValueError:
            return self.text[:300]
        if isinstance(body, dict):
            error = body.get("error", body)
            if isinstance(error, dict) and "message" in error:
                return str(error["message"])
            if "message" in body:
                return str(body["message"])
        return self.text[:300]


@dataclass(frozen=True)
class StreamResult:
    status: int
    chunks: int
    text: str
    first_token_seconds: float | None
    seconds: float
    finish_reason: str | None
    done_marker: bool
    error: str = ""
    # The `usage` object of the stream's usage chunk (sent when stream_options.include_usage is asked), and
    # whether that chunk was the last event before [DONE], where the OpenAI protocol puts it.
    usage: dict[str, Any] | None = None
    usage_last: bool = False


def configured_session(target: Target) -> requests.Session:
    """A session that carries the target's auth, TLS and headers; `invoke bench` opens one per worker."""
    session = requests.Session()
    session.trust_env = True  # proxies from the environment, as curl would
    # One pooled connection per request in flight: a burst keeps 64 pages in flight (SRV009), and
    # requests' default pool of 10 would drop the others' connections with a warning on stderr.
    # Watched: a request's connection can be shut down when it passes its total time or the run is stopped.
    pooled = WatchedAdapter(pool_connections=1, pool_maxsize=POOL_SIZE)
    session.mount("http://", pooled)
    session.mount("https://", pooled)
    headers = dict(target.headers)
    if target.api_key:
        headers["Authorization"] = f"Bearer {target.api_key}"
    session.headers.update(headers)
    session.verify = target.verify
    if target.client_cert:
        session.cert = target.client_cert
    if target.verify is False:
        # The user asked for --insecure and was warned once; don't repeat it on every request.
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    return session


class VllmClient:
    """Every request is bounded in all by the target's timeout (not only per socket read, as requests does),
    and abandoned at once when ``cancel`` is stopped: then it raises `Cancelled`, never `Unreachable`."""

    def __init__(self, target: Target, cancel: CancelToken | None = None) -> None:
        self.target = target
        self.cancel = cancel or CancelToken()
        self._session = configured_session(target)

    def close(self) -> None:
        self._session.close()

    def url(self, path: str) -> str:
        return f"{self.target.base_url}/{path.lstrip('/')}"

    def request(self, method: str, path: str, *, json_body: Any = None, timeout: float | None = None) -> Response:
        started = time.perf_counter()
        seconds = timeout or self.target.timeout
        with self.cancel.bound(seconds) as bound:
            try:
                reply = self._session.request(method, self.url(path), json=json_body, timeout=seconds)
            except requests.RequestException as error:
                raise self._failure(error, bound) from None
        return Response(reply.status_code, reply.text, time.perf_counter() - started, dict(reply.headers))

    def get(self, path: str, timeout: float | None = None) -> Response:
        return self.request("GET", path, timeout=timeout)

    def post(self, path: str, body: Any, timeout: float | None = None) -> Response:
        return self.request("POST", path, json_body=body, timeout=timeout)

    def stream_chat(self, body: dict[str, Any]) -> StreamResult:
        """POST a streaming chat completion and read its server-sent events to the end."""
        started = time.perf_counter()
        first: float | None = None
        chunks, parts, finish, done = 0, [], None, False
        usage: dict[str, Any] | None = None
        usage_last = False
        try:
            with (
                self.cancel.bound(self.target.timeout) as bound,
                self._session.post(
                    self.url("/v1/chat/completions"),
                    json={**body, "stream": True},
                    stream=True,
                    timeout=self.target.timeout,
                ) as reply,
            ):
                if reply.status_code != 200:
                    text = reply.text
                    error = Response(reply.status_code, text, 0.0, {}).error_message()
                    return StreamResult(
                        reply.status_code, 0, "", None, time.perf_counter() - started, None, False, error
                    )
                for line in _sse_data_lines(reply.iter_lines(decode_unicode=True)):
                    if line == "[DONE]":
                        done = True
                        break
                    event = json.loads(line)
                    usage_last = isinstance(event.get("usage"), dict)
                    if usage_last:
                        usage = event["usage"]
                    for choice in event.get("choices", []):
                        delta = (choice.get("delta") or {}).get("content") or ""
                        if delta and first is None:
                            first = time.perf_counter() - started
                        parts.append(delta)
                        finish = choice.get("finish_reason") or finish
                    chunks += 1
                status = reply.status_code
        except requests.RequestException as error:
            raise self._failure(error, bound) from None
        return StreamResult(
            status, chunks, "".join(parts), first, time.perf_counter() - started, finish, done, "", usage, usage_last
        )

    def _failure(self, error: requests.RequestException, bound: RequestBound) -> BaseException:
        """Why the request failed: the run was stopped (Cancelled), it ran past its total time, or the
        connection's own error."""
        if bound.cancelled:
            return Cancelled(self.cancel.reason)
        if bound.expired:
            return too_slow(self.target, bound.seconds)
        return unreachable(self.target, error)


def too_slow(target: Target, seconds: float) -> Unreachable:
    """A request that was still unfinished after ``seconds`` in all (a server that answers byte by byte keeps
    every single read under the timeout)."""
    message = (
        f"{target.label}: no complete answer within {seconds:g} s (--timeout bounds the whole request): "
        "the server answers too slowly, or hangs"
    )
    return Unreachable("timeout", message.replace(target.api_key, "***") if target.api_key else message)


def unreachable(target: Target, error: requests.RequestException) -> Unreachable:
    """The connection error as an Unreachable whose message names the cause, with the API key scrubbed."""
    kind, cause = classify_connection_error(error)
    message = f"{target.label}: {cause}"
    if target.api_key:
        message = message.replace(target.api_key, "***")
    return Unreachable(kind, message)


def _sse_data_lines(lines: Iterator[str]) -> Iterator[str]:
    for line in lines:
        if line and line.startswith("data:"):
            yield line[len("data:") :].strip()


def classify_connection_error(error: requests.RequestException) -> tuple[str, str]:
    """Tell DNS, refused, TLS, timeout and the rest apart, each with a cause a person can act on."""
    chain = _exception_chain(error)
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain) or isinstance(
        error, requests.exceptions.SSLError
    ):
        detail = next((str(e) for e in chain if isinstance(e, ssl.SSLError)), "TLS handshake failed")
        return (
            "tls",
            f"TLS verification failed ({one_line(detail)}): pass the server's CA bundle, or --insecure",
        )
    if any(isinstance(e, socket.gaierror) for e in chain) or "Name or service not known" in str(error):
        return "dns", "the host name does not resolve (DNS): check the spelling, or give an IP address or URL"
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return "timeout", "connecting timed out: a firewall drops the traffic, or the host is down"
    if isinstance(error, requests.exceptions.ReadTimeout):
        return "timeout", "the server accepted the connection but did not answer in time"
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "Connection refused" in str(error):
        return "refused", "connection refused: nothing listens on that port (not started, or still loading)"
    if isinstance(error, requests.exceptions.ConnectionError):
        return "connection", f"the connection failed: {one_line(str(error))}"
    return "other", one_line(str(error))


def _exception_chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        pending.extend(
            [
                current.__cause__,
                current.__context__,
                *(a for a in current.args if isinstance(a, BaseException)),
            ]
        )
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            pending.append(reason)
    return seen


# A result's detail is one line: the one shortening helper, under the name the checks know.
one_line = shorten
