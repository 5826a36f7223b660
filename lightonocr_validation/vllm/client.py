"""One HTTP client for a vLLM server, local or remote: every call carries the same auth, TLS and headers.

The peers' users keep asking for the API key on the health check too, for self-signed TLS and for base
paths (peers.md); here all of them live in one `Target`, and every request, `/health` included, goes
through `VllmClient.request`. The API key is held in memory only and is scrubbed from every error text.

Whatever a server sends back, the client answers with a `Response`, an `Unreachable` (no HTTP answer) or a
`BadAnswer` (an answer no vLLM server sends: cut short, far too long, an HTML page, a broken stream), each
with one line a person can act on; nothing else escapes. Bodies are read with a cap in bytes (`answer_cap`),
so a hostile or broken server cannot fill the memory or the graders' time.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import socket
import ssl
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3

from lightonocr_validation.core.cancel import Cancelled, CancelToken, RequestBound, WatchedAdapter
from lightonocr_validation.core.errors import shorten
from lightonocr_validation.core.redaction import Redactor

# Connections kept per host: as many as the largest burst of pages a check keeps in flight.
POOL_SIZE = 128


# --- how many bytes an answer may have -------------------------------------------------------------------
# The longest token of LightOnOCR's vocabulary, in bytes. Its decoder is Qwen3's byte-level BPE: 151,643
# regular tokens grown from tiktoken's cl100k_base (lightonocr-facts.md, Qwen's tokenizer notes), whose
# longest tokens are runs of spaces, dashes or '=' well under 128 bytes; Qwen's added merges are words of a
# few CJK characters (3 bytes each). *Unverified here*: the real vocabulary cannot be downloaded to this
# machine, so the bound is 128 bytes, above any token of that family, and the caps below add room again.
LONGEST_TOKEN_BYTES = 128
# One byte of a token written in a JSON string takes at most 6 bytes (a control character as \u00XX); a
# multi-byte character takes its own bytes, fewer than 6 per byte. So one token is at most 768 bytes of JSON.
MAX_BYTES_PER_TOKEN = LONGEST_TOKEN_BYTES * 6
# Everything of a chat completion but the text (id, usage, the fields vLLM 0.32.0 sends: about 700 bytes
# recorded), with room for a long model name and future fields.
ENVELOPE_BYTES = 64 * 1024
# A streamed answer repeats the envelope of a chunk (about 250 bytes recorded, the model name included) for
# every token event.
STREAM_EVENT_BYTES = 1024
# When a request names no max_tokens, vLLM allows up to max_model_len; LightOnOCR's is 16384 at most.
DEFAULT_MAX_TOKENS = 16384
# Bodies that carry no generated text: vLLM's /v1/models is under 1 KB, /metrics about 60 KB with one engine
# (recorded); a server with many engines and labels stays far under these.
CAPS = {"/metrics": 16 * 1024 * 1024, "/v1/models": 1024 * 1024}
DEFAULT_CAP = 1024 * 1024  # /health, /version, error answers
READ_CHUNK = 64 * 1024


def answer_cap(path: str, body: Any, *, stream: bool = False) -> tuple[int, str]:
    """The most bytes an answer to ``body`` at ``path`` can have, and what it is derived from (for the message)."""
    if path.rstrip("/").endswith("/chat/completions"):
        max_tokens = body.get("max_tokens") if isinstance(body, Mapping) else None
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens <= 0:
            max_tokens = DEFAULT_MAX_TOKENS
        per_token = MAX_BYTES_PER_TOKEN + (STREAM_EVENT_BYTES if stream else 0)
        return max_tokens * per_token + ENVELOPE_BYTES, f"max_tokens={max_tokens}"
    return CAPS.get(path.rstrip("/"), DEFAULT_CAP), path


class Unreachable(Exception):
    """The server could not be reached at all. `kind` tells DNS, refused, TLS, timeout and other apart."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class BadAnswer(Exception):
    """The server answered, but not as a vLLM server can: cut short, too long, HTML, a broken stream.

    The runner records it as a failed check (the server is up and answering wrongly), never as unreachable.
    `kind`: truncated, too_large, slow, not_json, stream, shape. `status`: the HTTP status, 0 if unknown."""

    def __init__(self, kind: str, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


class NotJson(BadAnswer, ValueError):
    """A body that should be vLLM's JSON and is not; a ValueError too, as json.loads' own error is."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__("not_json", message, status)


@dataclass(frozen=True)
class Target:
    """Where a server is and how to talk to it."""

    base_url: str  # scheme://host:port[/base/path], no trailing slash
    name: str = ""  # what the user typed: a profile name, a host, a URL
    api_key: str = field(default="", repr=False)
    # The environment variable the key was read from (a profile's api_key_env, else check.api_key_env), named
    # when the server refuses: which variable to set is the fix, the key itself is never shown.
    api_key_env: str = ""
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
    path: str = ""  # what was asked for, for the messages

    def json(self) -> Any:
        """The body as JSON; `NotJson` (a ValueError) naming what came instead: an HTML page, another type."""
        try:
            return json.loads(self.text)
        except ValueError as error:
            raise NotJson(
                not_json_reason(self.path, self.status, self.text, self.headers, error), self.status
            ) from None

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


def not_json_reason(path: str, status: int, text: str, headers: Mapping[str, str], error: Exception) -> str:
    """Why a body is not the JSON vLLM sends, in words that point at the likely cause."""
    kind = next((value for key, value in headers.items() if key.lower() == "content-type"), "")
    where = f"{path} answered {status}" if path else f"the server answered {status}"
    start = text.lstrip()[:200].lower()
    if "html" in kind.lower() or start.startswith(("<!doctype", "<html", "<head", "<body")):
        return (
            f"{where} with an HTML page, not vLLM's JSON: is the URL a proxy or web UI? "
            "Give --host the address of vLLM's API itself (its --port, or the proxy's path to it)"
        )
    if not text.strip():
        return f"{where} with an empty body, not vLLM's JSON"
    shown = f"content type {kind}" if kind else "no content type"
    return f"{where} with a body that is not JSON ({shown}, {one_line(str(error), 80)}): {one_line(text, 80)!r}"


class TargetSession(requests.Session):
    """A session whose TLS settings are the target's, whatever the environment says.

    requests lets REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE replace the session's `verify` whenever a request
    does not pass its own (Session.merge_environment_settings): `--insecure` and a profile's ca_bundle would
    be silently ignored. Here an explicit choice (False, or a CA bundle path) wins; proxies and the
    default CA bundle still come from the environment, as curl's would."""

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> dict[str, Any]:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if verify is None and self.verify is not True:
            settings["verify"] = self.verify
        if cert is None and self.cert is not None:
            settings["cert"] = self.cert
        return settings


def configured_session(target: Target) -> requests.Session:
    """A session that carries the target's auth, TLS and headers; `invoke bench` opens one per worker."""
    session = TargetSession()
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

    def __init__(self, target: Target, cancel: CancelToken | None = None, watch: Any = None) -> None:
        self.target = target
        self.cancel = cancel or CancelToken()
        # A liveness.HostWatch: told whether each request got an answer; once it judges the server gone, no
        # request is sent and those in flight are dropped (None: no judgement, every request waits).
        self.watch = watch
        self._session = configured_session(target)

    def close(self) -> None:
        self._session.close()

    def url(self, path: str) -> str:
        return f"{self.target.base_url}/{path.lstrip('/')}"

    def request(self, method: str, path: str, *, json_body: Any = None, timeout: float | None = None) -> Response:
        started = time.perf_counter()
        limit = timeout or self.target.timeout
        with (
            self._bounded(limit),
            self._session.request(method, self.url(path), json=json_body, timeout=limit, stream=True) as reply,
        ):
            cap, basis = answer_cap(path, json_body)
            data = b"".join(self._chunks(reply, path, cap, basis, started, limit))
            text = data.decode(reply.encoding or "utf-8", errors="replace")
        return Response(reply.status_code, text, time.perf_counter() - started, dict(reply.headers), path)

    def get(self, path: str, timeout: float | None = None) -> Response:
        return self.request("GET", path, timeout=timeout)

    def post(self, path: str, body: Any, timeout: float | None = None) -> Response:
        return self.request("POST", path, json_body=body, timeout=timeout)

    def stream_chat(self, body: dict[str, Any]) -> StreamResult:
        """POST a streaming chat completion and read its server-sent events to the end.

        A server that breaks the stream (a line that is not a JSON object, an answer cut short or far too
        long) raises `BadAnswer` naming it."""
        path = "/v1/chat/completions"
        started = time.perf_counter()
        first: float | None = None
        chunks, parts, finish, done = 0, [], None, False
        usage: dict[str, Any] | None = None
        usage_last = False
        limit = self.target.timeout
        with (
            self._bounded(limit),
            self._session.post(self.url(path), json={**body, "stream": True}, stream=True, timeout=limit) as reply,
        ):
            cap, basis = answer_cap(path, body, stream=True)
            pieces = self._chunks(reply, path, cap, basis, started, limit)
            if reply.status_code != 200:
                text = b"".join(pieces).decode("utf-8", errors="replace")
                error = Response(reply.status_code, text, 0.0, dict(reply.headers), path).error_message()
                return StreamResult(reply.status_code, 0, "", None, time.perf_counter() - started, None, False, error)
            if "html" in reply.headers.get("Content-Type", "").lower():
                text = b"".join(pieces).decode("utf-8", errors="replace")
                reason = not_json_reason(path, 200, text, dict(reply.headers), ValueError("HTML"))
                raise NotJson(reason, 200)
            for line in _sse_data_lines(_lines(pieces)):
                if line == "[DONE]":
                    done = True
                    break
                event = _event(line)
                usage_last = isinstance(event.get("usage"), dict)
                if usage_last:
                    usage = event["usage"]
                choices = event.get("choices")
                for choice in choices if isinstance(choices, list) else []:
                    if not isinstance(choice, dict):
                        raise BadAnswer("stream", f"the stream carried a choice that is not an object: {line[:80]!r}")
                    delta = choice.get("delta")
                    content = delta.get("content") if isinstance(delta, dict) else None
                    content = content if isinstance(content, str) else ""
                    if content and first is None:
                        first = time.perf_counter() - started
                    parts.append(content)
                    reason = choice.get("finish_reason")
                    finish = reason if isinstance(reason, str) and reason else finish
                chunks += 1
            status = reply.status_code
        return StreamResult(
            status, chunks, "".join(parts), first, time.perf_counter() - started, finish, done, "", usage, usage_last
        )

    def _chunks(
        self, reply: requests.Response, path: str, cap: int, basis: str, started: float, limit: float
    ) -> Iterator[bytes]:
        return capped_pieces(reply, path, cap, basis, started, limit)

    @contextlib.contextmanager
    def _bounded(self, seconds: float) -> Iterator[RequestBound]:
        """One request inside the run's token (its whole time bounded, abandoned when the run stops), its
        failures named by `bound_failure`."""
        if self.watch is not None:
            self.watch.raise_if_gone()
        with self.cancel.bound(seconds, self.watch) as bound:
            try:
                yield bound
            except (requests.RequestException, BadAnswer) as error:
                failure = bound_failure(self.target, error, bound)
                if isinstance(failure, BadAnswer) and self.watch is not None:
                    self.watch.answered()  # it answered, wrongly
                raise failure from None
            if self.watch is not None:
                self.watch.answered()


def bound_failure(target: Target, error: requests.RequestException | BadAnswer, bound: RequestBound) -> BaseException:
    """Why a request sent inside ``bound`` failed, for the client and the bench's transport alike: the run was
    stopped (`Cancelled`: not a finding); its time was up (a body cut by the watchdog is an answer still coming,
    the server up but stalling, not the server's truncation; no answer at all is `too_slow`); else the error
    itself (a bad answer, or the connection's `Unreachable`). A request without an answer is told to the bound's
    watch (liveness.HostWatch), which may judge the server gone and answer with that judgement instead."""
    if bound.cancelled:
        return Cancelled(bound.token.reason)
    if bound.dropped:  # the server was judged gone while this request waited (liveness.py)
        return bound.watch.unreachable()
    if isinstance(error, BadAnswer):
        if bound.expired and error.kind == "truncated":
            return BadAnswer(
                "slow",
                f"the server was still sending its answer after {bound.seconds:g} s, past the time one request "
                "may take (--timeout): it stalls or drips its answer",
                error.status,
            )
        return error
    failure = too_slow(target, bound.seconds) if bound.expired else unreachable(target, error)
    return bound.watch.failed(failure) if bound.watch is not None else failure


def capped_pieces(
    reply: requests.Response, path: str, cap: int, basis: str, started: float, limit: float
) -> Iterator[bytes]:
    """The body's bytes as they arrive, stopped with `BadAnswer` past ``cap`` bytes, past ``limit``
    seconds in all (a server that drips its answer byte by byte never trips the per-read timeout), or
    when the connection closes before the body's end."""
    received = 0
    announced = _content_length(reply)
    if announced is not None and announced > cap:
        raise BadAnswer("too_large", _too_large(path, announced, cap, basis, exact=True), reply.status_code)
    try:
        for data in _raw_pieces(reply):
            received += len(data)
            if received > cap:
                raise BadAnswer("too_large", _too_large(path, received, cap, basis, exact=False), reply.status_code)
            elapsed = time.perf_counter() - started
            if elapsed > limit:
                raise BadAnswer(
                    "slow",
                    f"{path}: the server was still sending its answer after {elapsed:.0f} s ({received} bytes "
                    f"so far), past the {limit:g} s one request may take (--timeout): it drips its answer",
                    reply.status_code,
                )
            yield data
    except (requests.exceptions.ChunkedEncodingError, urllib3.exceptions.ProtocolError) as error:
        raise BadAnswer(
            "truncated",
            f"{path}: the server cut its answer short{f' after {received} bytes' if received else ''} (HTTP "
            f"{reply.status_code}): the connection closed before the body's end ({_cut_cause(error)}); a proxy's "
            "time limit or a worker that died mid-answer does this",
            reply.status_code,
        ) from None
    except (requests.exceptions.ContentDecodingError, urllib3.exceptions.DecodeError):
        raise BadAnswer(
            "not_json",
            f"{path}: the answer's compression (Content-Encoding) is broken after {received} bytes",
            reply.status_code,
        ) from None
    except (requests.exceptions.ConnectionError, urllib3.exceptions.ReadTimeoutError) as error:
        if "timed out" not in str(error):
            raise
        raise BadAnswer(
            "slow",
            f"{path}: the server stopped sending mid-answer for more than {limit:g} s after {received} bytes "
            "(--timeout)",
            reply.status_code,
        ) from None


def _raw_pieces(reply: requests.Response) -> Iterator[bytes]:
    """Decoded body bytes as soon as the socket has them (a chunk, or what one read returns): the caller
    checks the size and time limits between pieces, even when a server sends a byte at a time."""
    raw = reply.raw
    if raw.chunked and raw.supports_chunked_reads():
        yield from raw.read_chunked(READ_CHUNK, decode_content=True)
        return
    while True:
        data = raw.read1(READ_CHUNK, decode_content=True)
        if not data:
            # read1 returns b"" at the end; urllib3 checks a Content-Length body's length only in read().
            raw.read(0, decode_content=True)
            return
        yield data


def _content_length(reply: requests.Response) -> int | None:
    value = reply.headers.get("Content-Length", "")
    return int(value) if value.isdigit() else None


def _too_large(path: str, size: int, cap: int, basis: str, *, exact: bool) -> str:
    sent = f"{_megabytes(size)}" if exact else f"more than {_megabytes(cap)}"
    if basis.startswith("max_tokens"):
        return (
            f"{path}: the server sent {sent} for {basis}: at most {cap} bytes are possible "
            f"({MAX_BYTES_PER_TOKEN} bytes a token at most, plus the JSON around them); reading stopped there"
        )
    return f"{path}: the server sent {sent}, where vLLM's answer is at most {cap} bytes; reading stopped there"


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size} bytes"


def _cut_cause(error: Exception) -> str:
    chain = _exception_chain(error)
    if any(isinstance(e, ConnectionResetError) for e in chain):
        return "reset by the peer"
    if any(type(e).__name__ in ("IncompleteRead", "InvalidChunkLength") for e in chain):
        return "fewer bytes than announced"
    return "closed"


def _lines(pieces: Iterator[bytes]) -> Iterator[str]:
    """Text lines of a byte stream; a character split between two pieces is joined first."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    for data in pieces:
        *lines, pending = (pending + decoder.decode(data)).split("\n")
        yield from (line.rstrip("\r") for line in lines)
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending.rstrip("\r")


def _event(line: str) -> dict[str, Any]:
    """One SSE event's JSON object; `BadAnswer` for a line that is not one."""
    try:
        event = json.loads(line)
    except ValueError:
        raise BadAnswer("stream", f"the stream carried a data: line that is not JSON: {one_line(line, 80)!r}") from None
    if not isinstance(event, dict):
        raise BadAnswer("stream", f"the stream carried a data: line that is not a JSON object: {one_line(line, 80)!r}")
    return event


def too_slow(target: Target, seconds: float) -> Unreachable:
    """A request that was still unfinished after ``seconds`` in all (a server that answers byte by byte keeps
    every single read under the timeout)."""
    message = (
        f"{target.label}: no complete answer within {seconds:g} s (--timeout bounds the whole request): "
        "the server answers too slowly, or hangs"
    )
    return Unreachable("timeout", message.replace(target.api_key, "***") if target.api_key else message)


def unreachable(target: Target, error: requests.RequestException) -> Unreachable:
    """The connection error as an Unreachable whose message names the cause, with the target's secrets
    (API key, URL password, header values) redacted."""
    kind, cause = classify_connection_error(error)
    mixup = _scheme_mixup(target, kind, error)
    if mixup:
        kind, cause = "tls", mixup
    elif kind == "tls" and target.verify is False:
        cause = cause.replace(", or --insecure", "")
    redactor = Redactor()
    redactor.add_target(target)
    return Unreachable(kind, redactor(f"{target.label}: {cause}"))


def _sse_data_lines(lines: Iterator[str]) -> Iterator[str]:
    for line in lines:
        if line and line.startswith("data:"):
            yield line[len("data:") :].strip()


def _scheme_mixup(target: Target, kind: str, error: requests.RequestException) -> str:
    """The cause when the URL's scheme is not what the port speaks ("" when it is not that): https:// to a
    plain-HTTP port fails in the TLS handshake, http:// to a TLS port gets the connection reset. Told apart
    by the error and then a probe of the port, which answers the question for certain."""
    parts = urlsplit(target.base_url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    if kind in ("dns", "refused") or not host:
        return ""
    chain = _exception_chain(error)
    verification = any(isinstance(e, ssl.SSLCertVerificationError) for e in chain)
    if parts.scheme == "https" and not verification and _speaks_plain_http(host, port):
        plain = target.base_url.replace("https://", "http://", 1)
        return f"the port speaks plain HTTP, not TLS: use http:// ({plain})"
    if parts.scheme == "http" and kind in ("connection", "other") and _speaks_tls(host, port):
        secure = target.base_url.replace("http://", "https://", 1)
        return f"the port speaks TLS: use https:// ({secure})"
    return ""


PROBE_SECONDS = 3.0


def _speaks_plain_http(host: str, port: int) -> bool:
    """Whether ``host:port`` answers a plain HTTP request with an HTTP status line."""
    try:
        with socket.create_connection((host, port), timeout=PROBE_SECONDS) as sock:
            sock.settimeout(PROBE_SECONDS)
            sock.sendall(f"HEAD / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode("ascii", "replace"))
            return sock.recv(5) == b"HTTP/"
    except OSError:
        return False


def _speaks_tls(host: str, port: int) -> bool:
    """Whether ``host:port`` completes a TLS handshake (certificate not checked: only the protocol matters)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((host, port), timeout=PROBE_SECONDS) as sock,
            context.wrap_socket(sock, server_hostname=host),
        ):
            return True
    except ssl.SSLError as error:
        # A server that wants a client certificate still speaks TLS; a plain one gives "wrong version number".
        return "CERTIFICATE" in str(error).upper() and "WRONG_VERSION" not in str(error).upper()
    except OSError:
        return False


def classify_connection_error(error: requests.RequestException) -> tuple[str, str]:
    """Tell DNS, refused, TLS, timeout and the rest apart, each with a cause a person can act on."""
    chain = _exception_chain(error)
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain) or isinstance(
        error, requests.exceptions.SSLError
    ):
        detail = next((str(e) for e in chain if isinstance(e, ssl.SSLError)), "TLS handshake failed")
        if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain):
            return (
                "tls",
                f"TLS verification failed ({one_line(detail)}): give the server's CA bundle (ca_bundle in "
                "the host's profile), or --insecure",
            )
        return "tls", f"the TLS handshake failed ({one_line(detail)})"
    if any(isinstance(e, socket.gaierror) for e in chain) or "Name or service not known" in str(error):
        return "dns", "the host name does not resolve (DNS): check the spelling, or give an IP address or URL"
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return "timeout", "connecting timed out: a firewall drops the traffic, or the host is down"
    if isinstance(error, requests.exceptions.ReadTimeout):
        return "timeout", "the server accepted the connection but did not answer in time"
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "Connection refused" in str(error):
        return "refused", "connection refused: nothing listens on that port (not started, or still loading)"
    if any(isinstance(e, ConnectionResetError) for e in chain):
        return "connection", "the server reset the connection without answering (a crashed worker, or a proxy)"
    if any(type(e).__name__ == "RemoteDisconnected" for e in chain):
        return "connection", "the server closed the connection without answering (a crashed worker, or a proxy)"
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


def key_variable_state(variable: str) -> str:
    """ "is not set" / "is empty" / "holds a key": what the variable the key is read from held (never the key)."""
    value = os.environ.get(variable)
    if value is None:
        return "is not set"
    return "is empty" if not value else "holds a key"


def key_refusal(target: Target, status: int, path: str) -> tuple[str, str]:
    """A 401 or 403 as (detail, hint): the variable the key was read from, and whether it held one, so that
    the fix is the right variable, not the model name or the server log; the key itself is never shown."""
    variable = target.api_key_env or "VLLM_API_KEY"
    if target.api_key:
        detail = f"{path} answered {status}: the server refused the API key read from {variable}"
        hint = f"{variable} must hold the server's --api-key: it is the variable read for {target.label}."
    else:
        detail = f"{path} answered {status}: the server wants an API key, and none was sent ({variable} " + (
            f"{key_variable_state(variable)})"
        )
        hint = (
            f"export {variable}=<the server's --api-key>: {variable} is the variable read for {target.label} "
            "(a check.hosts profile names its own in api_key_env, as invoke.example.yaml shows)."
        )
    return detail, hint
