"""One chat completion, sent and timed the way `vllm bench serve` times it, with the client's own cost apart.

The body is bytes built before the clock starts (pages are encoded once); the session is the worker's own,
so its connection is reused. Times: `e2e_s` from just before the request is written to the end of the answer;
`ttft_s` to the first event that carries a choice (vLLM sends the role chunk with the first token, and
`vllm bench serve` counts from it too); inter-token gaps between later choice events. `client_s` is the CPU
time this thread spent on the request (writing the upload, reading and parsing the answer): what the client
costs, as opposed to the time it waits for the server.
"""

from __future__ import annotations

import codecs
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import requests
import urllib3

from lightonocr_validation.core.cancel import Cancelled, CancelToken
from lightonocr_validation.core.shape import dig
from lightonocr_validation.vllm.client import (
    DEFAULT_CAP,
    BadAnswer,
    Response,
    Target,
    answer_cap,
    bound_failure,
    capped_pieces,
    one_line,
)
from lightonocr_validation.vllm.liveness import HostWatch

JSON_HEADERS = {"Content-Type": "application/json"}
_decode = json.JSONDecoder().decode  # on text: json.loads on bytes first guesses their encoding, every event
READ_SIZE = 65536
# The body's max_tokens, read from its end (request_body puts it after the page): parsing a megabyte of
# JSON per request to find it would cost more than the request's own client time.
_MAX_TOKENS = re.compile(rb'"max_tokens":\s*(\d+)')
PATH = "/v1/chat/completions"


def body_cap(body: bytes, *, stream: bool) -> tuple[int, str]:
    """client.answer_cap for a body already encoded."""
    found = _MAX_TOKENS.search(body, max(0, len(body) - 4096)) or _MAX_TOKENS.search(body)
    return answer_cap(PATH, {"max_tokens": int(found.group(1))} if found else {}, stream=stream)


@dataclass(slots=True)
class Exchange:
    """What one request got back. ``status`` 0: no HTTP answer (the connection failed, named in ``error``)."""

    status: int = 0
    text: str = ""
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    e2e_s: float = 0.0
    ttft_s: float | None = None
    gaps: list[float] = field(default_factory=list)
    client_s: float = 0.0
    error: str | None = None
    # The run was stopped (deadline, Ctrl-C) while this request was in flight: it did not finish, and is left
    # out of every figure rather than counted as a failure of the server.
    abandoned: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


def send(
    session: requests.Session,
    target: Target,
    url: str,
    body: bytes,
    *,
    stream: bool,
    keep_text: bool = True,
    cancel: CancelToken | None = None,
    watch: HostWatch | None = None,
) -> Exchange:
    """Send ``body`` and time its answer. ``keep_text`` False: the answer's text is not needed (it is not graded),
    so streamed token events are timed without being parsed. The whole exchange is bounded by the target's
    timeout, and abandoned when ``cancel`` stops (the session must be `configured_session`'s, whose
    connections can be shut down). ``watch`` (liveness.HostWatch) is told whether the server answered; a
    request in flight when it judges the server gone is abandoned, like one the run's stop cut."""
    cpu_started = time.thread_time()
    started = time.perf_counter()
    exchange = Exchange()
    bound = (cancel or CancelToken()).bound(target.timeout, watch)
    try:
        with bound:
            if stream:
                _streamed(session, target, url, body, started, exchange, keep_text)
            else:
                _whole(session, target, url, body, exchange)
    except Cancelled:
        exchange.abandoned = True
        exchange.error = "abandoned: the run was stopped"
    except (requests.RequestException, BadAnswer, urllib3.exceptions.HTTPError) as error:
        failure = bound_failure(target, error, bound)
        if isinstance(failure, Cancelled) or bound.dropped:
            # The watchdog shut the socket: the run's stop, or the server judged gone, not this request's fault
            exchange.abandoned = True
            exchange.error = "abandoned: the run was stopped"
        elif isinstance(failure, BadAnswer):  # cut short, too long, dripped: the server's fault, said in one line
            exchange.error = one_line(str(failure), 200)
        else:
            exchange.error = str(failure)
    except (ValueError, UnicodeDecodeError) as error:  # a body or an event that is not JSON
        exchange.error = f"malformed answer: {one_line(str(error), 120)}"
    if watch is not None and exchange.status:
        watch.answered()
    exchange.e2e_s = time.perf_counter() - started
    exchange.client_s = time.thread_time() - cpu_started
    return exchange


def _whole(session: requests.Session, target: Target, url: str, body: bytes, exchange: Exchange) -> None:
    started = time.perf_counter()
    with session.post(url, data=body, headers=JSON_HEADERS, timeout=target.timeout, stream=True) as reply:
        exchange.status = reply.status_code
        if reply.status_code != 200:
            exchange.error = f"HTTP {reply.status_code}: {_message(reply, target)}"
            return
        content = b"".join(capped_pieces(reply, PATH, *body_cap(body, stream=False), started, target.timeout))
    answer = json.loads(content)
    text = dig(answer, "choices", 0, "message", "content")
    exchange.text = text if isinstance(text, str) else ""
    finish = dig(answer, "choices", 0, "finish_reason")
    exchange.finish_reason = finish if isinstance(finish, str) else None
    _usage(dig(answer, "usage"), exchange)


def _streamed(
    session: requests.Session,
    target: Target,
    url: str,
    body: bytes,
    started: float,
    exchange: Exchange,
    keep_text: bool,
) -> None:
    with session.post(url, data=body, headers=JSON_HEADERS, timeout=target.timeout, stream=True) as reply:
        exchange.status = reply.status_code
        if reply.status_code != 200:
            exchange.error = f"HTTP {reply.status_code}: {_message(reply, target)}"
            return
        parts: list[str] = []
        gaps = exchange.gaps
        last: float | None = None
        done = False
        pending = ""
        utf8 = codecs.getincrementaldecoder("utf-8")()  # a character may straddle two reads
        raw = reply.raw
        # uvicorn writes one event per HTTP chunk and urllib3 hands each chunk over as it arrives, so the time
        # taken after a read is the event's arrival time. read_chunked directly: iter_content's two generator
        # layers cost a fifth of the client's time on long answers.
        chunked = raw.chunked and raw.supports_chunked_reads()
        cap, basis = body_cap(body, stream=True)
        received = 0
        for data in _pieces(reply, chunked):
            now = time.perf_counter()
            received += len(data)
            if received > cap:
                exchange.error = f"the server sent more than {cap} bytes for {basis}: reading stopped there"
                return
            *lines, pending = (pending + utf8.decode(data)).split("\n")
            for line in lines:
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if not keep_text and '"finish_reason":null' in payload and '"choices":[{' in payload:
                    # A token mid-answer, when the text is not graded: its arrival time is all that counts, and
                    # parsing a thousand events a page would make the client the bottleneck.
                    if last is None:
                        exchange.ttft_s = now - started
                    else:
                        gaps.append(now - last)
                    last = now
                    continue
                if payload == "[DONE]":
                    done = True
                    continue
                event = _decode(payload)
                if not isinstance(event, dict):
                    raise ValueError(f"a stream event is not a JSON object: {payload[:60]!r}")
                choices = event.get("choices")
                if isinstance(choices, list) and choices:
                    if last is None:
                        exchange.ttft_s = now - started
                    else:
                        gaps.append(now - last)
                    last = now
                    content = dig(choices, 0, "delta", "content")
                    parts.append(content if isinstance(content, str) else "")
                    finish = dig(choices, 0, "finish_reason")
                    exchange.finish_reason = finish if isinstance(finish, str) else exchange.finish_reason
                if event.get("usage"):
                    _usage(event["usage"], exchange)
        exchange.text = "".join(parts)
        if not done:
            exchange.error = "the stream ended without data: [DONE]"


def _pieces(reply: requests.Response, chunked: bool) -> Iterator[bytes]:
    """The stream's bytes as they come; a connection broken mid-stream (the server gone, or the run's watchdog
    shutting the socket on Ctrl-C) is a stream cut short, never urllib3's own exception reaching the user."""
    try:
        yield from reply.raw.read_chunked(READ_SIZE) if chunked else reply.iter_content(READ_SIZE)
    except (urllib3.exceptions.ProtocolError, requests.exceptions.ChunkedEncodingError) as error:
        raise BadAnswer(
            "truncated", f"{PATH}: the server cut its stream short: the connection broke ({one_line(str(error), 120)})"
        ) from None


def _usage(usage: object, exchange: Exchange) -> None:
    if isinstance(usage, dict):
        prompt, output = usage.get("prompt_tokens"), usage.get("completion_tokens")
        exchange.prompt_tokens = prompt if isinstance(prompt, int) else None
        exchange.output_tokens = output if isinstance(output, int) else None


def _message(reply: requests.Response, target: Target) -> str:
    """vLLM's error message of a non-200 answer, its body read with the cap of an error answer."""
    pieces = capped_pieces(reply, PATH, DEFAULT_CAP, PATH, time.perf_counter(), target.timeout)
    text = b"".join(pieces).decode("utf-8", errors="replace")
    return one_line(Response(reply.status_code, text, 0.0, {}).error_message(), 200)
