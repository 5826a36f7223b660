"""An instant stand-in for vLLM's chat completions endpoint: it answers at once, so only the client is measured.

    python benchmarks/instant_vllm.py --port 8123 [--tokens 16] [--ttft 0.2 --itl 0.01] [--model NAME]

It reads each request whole (a page upload of hundreds of kilobytes included) and answers with vLLM 0.32.0's
shapes: a `chat.completion` JSON body, or with `"stream": true` the same server-sent events vLLM sends
(a role chunk, one chunk per token, the finish chunk, the usage chunk when `stream_options.include_usage`
asks for it, then `data: [DONE]`), in chunked transfer encoding as uvicorn sends them. `/v1/models` and
`/version` answer too, so `invoke bench` can run against it unchanged.

The answers are built once at start: the server's own cost per request is parsing a request head and
writing bytes, so it runs in its own process and stays far from being the bottleneck. Used by
benchmarks/client_throughput.py.

With `--ttft` and `--itl` it answers like a server of known speed instead: the first token after ttft
seconds, then one every itl seconds, whatever the load, so every client should measure an end-to-end
latency of ttft + (tokens - 1) * itl and concurrency / that many requests per second. benchmarks/vs_vllm_bench.py
uses it to check that `invoke bench` and `vllm bench serve` measure the same thing where the truth is known.

With `--capacity K --service S` it is a GPU of known capacity: at most K completions are served at once, each
holding its slot S seconds (before its pacing, if any), the others wait for a slot: K / S pages/s whatever
the load. `--ports N` listens on port, port+1, ..., port+N-1 in front of those same K slots: N "replicas"
that are really one GPU. benchmarks/fleet_scaling.py uses both to show scaling efficiency both ways.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import subprocess
import sys
import time

MODEL = "lightonocr-instant"  # the served name /v1/models lists; --model changes it
PROMPT_TOKENS = 2377  # a US Letter page at 1540 px (lightonocr-facts.md)


def _compact(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def completion_body(tokens: int) -> bytes:
    text = "word " * tokens
    return _compact(
        {
            "id": "chatcmpl-instant",
            "object": "chat.completion",
            "created": 0,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None, "reasoning": None},
                    "logprobs": None,
                    "finish_reason": "length",
                    "stop_reason": None,
                }
            ],
            "usage": {
                "prompt_tokens": PROMPT_TOKENS,
                "total_tokens": PROMPT_TOKENS + tokens,
                "completion_tokens": tokens,
            },
        }
    )


def stream_events(tokens: int, include_usage: bool) -> bytes:
    """The SSE body in HTTP/1.1 chunks, one chunk per event as uvicorn writes them."""
    return b"".join(stream_chunks(tokens, include_usage))


def stream_chunks(tokens: int, include_usage: bool) -> list[bytes]:
    """The SSE body as its HTTP chunks: the role event, one per token, then usage, [DONE] and the last chunk."""
    head = {"id": "chatcmpl-instant", "object": "chat.completion.chunk", "created": 0, "model": MODEL}
    events = [{**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}]
    for number in range(tokens):
        last = number == tokens - 1
        choice = {
            "index": 0,
            "delta": {"content": "word "},
            "logprobs": None,
            "finish_reason": "length" if last else None,
        }
        events.append({**head, "choices": [choice]})
    if include_usage:
        usage = {"prompt_tokens": PROMPT_TOKENS, "total_tokens": PROMPT_TOKENS + tokens, "completion_tokens": tokens}
        events.append({**head, "choices": [], "usage": usage})
    chunks = []
    for event in [*(b"data: " + _compact(e) + b"\n\n" for e in events), b"data: [DONE]\n\n"]:
        chunks.append(f"{len(event):x}\r\n".encode() + event + b"\r\n")
    return [*chunks, b"0\r\n\r\n"]


def _response(status: str, content_type: str, body: bytes, *, chunked: bool = False) -> bytes:
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}"
    return f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\n{length}\r\n\r\n".encode() + body


class Answers:
    def __init__(
        self,
        tokens: int,
        ttft: float = 0.0,
        itl: float = 0.0,
        model: str = MODEL,
        capacity: int = 0,
        service: float = 0.0,
    ) -> None:
        self.tokens, self.ttft, self.itl = tokens, ttft, itl
        # Completion slots shared by every port of this process: one GPU's worth (None: no limit).
        self.slots = asyncio.Semaphore(capacity) if capacity else None
        self.service = service
        self.stream_head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
        self.stream_head += b"Transfer-Encoding: chunked\r\n\r\n"
        self.stream_usage_chunks = stream_chunks(tokens, True)
        self.stream_chunks = stream_chunks(tokens, False)
        self.plain = _response("200 OK", "application/json", completion_body(tokens))
        self.stream_usage = _response(
            "200 OK", "text/event-stream; charset=utf-8", stream_events(tokens, True), chunked=True
        )
        self.stream = _response(
            "200 OK", "text/event-stream; charset=utf-8", stream_events(tokens, False), chunked=True
        )
        models = {"object": "list", "data": [{"id": model, "object": "model", "max_model_len": 16384}]}
        self.models = _response("200 OK", "application/json", _compact(models))
        self.version = _response("200 OK", "application/json", b'{"version":"0.32.0"}')
        self.health = _response("200 OK", "application/json", b"")
        self.missing = _response("404 Not Found", "application/json", b'{"detail":"Not Found"}')


class Connection(asyncio.Protocol):
    def __init__(self, answers: Answers) -> None:
        self.answers = answers
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.path = ""
        self.needed = -1  # bytes of head and body of the request being read; -1 while its head is incomplete

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.needed < 0:
                end = self.buffer.find(b"\r\n\r\n", 0, 65536)
                if end < 0:
                    return
                head = bytes(self.buffer[:end]).decode("latin-1")
                self.path = head.split(" ", 2)[1]
                length = 0
                for line in head.split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                self.needed = end + 4 + length
                self.body_start = end + 4
            if len(self.buffer) < self.needed:
                return
            body = bytes(self.buffer[self.body_start : self.needed])
            del self.buffer[: self.needed]
            self.needed = -1
            assert self.transport is not None
            if self.answers.slots is not None and self.path == "/v1/chat/completions":
                asyncio.get_running_loop().create_task(self.in_slot(self.path, body))
            elif self.answers.ttft or self.answers.itl:
                asyncio.get_running_loop().create_task(self.paced(self.path, body))
            else:
                self.transport.write(self.answer(self.path, body))

    async def in_slot(self, path: str, body: bytes) -> None:
        """A completion once a slot is free, holding it for the service time and the answer's pacing."""
        assert self.answers.slots is not None
        async with self.answers.slots:
            await asyncio.sleep(self.answers.service)
            await self.paced(path, body)

    async def paced(self, path: str, body: bytes) -> None:
        """The answer as a server that computes would send it: the first token after ttft, then one every itl."""
        assert self.transport is not None
        answers = self.answers
        streamed = path == "/v1/chat/completions" and (b'"stream":true' in body or b'"stream": true' in body)
        if not streamed:
            if path == "/v1/chat/completions":
                await asyncio.sleep(answers.ttft + answers.itl * max(answers.tokens - 1, 0))
            self.transport.write(self.answer(path, body))
            return
        chunks = answers.stream_usage_chunks if b"include_usage" in body else answers.stream_chunks
        await asyncio.sleep(answers.ttft)
        # The role chunk goes with the first token, as vLLM sends it; the rest (usage, [DONE]) with the last.
        self.transport.write(answers.stream_head + chunks[0] + chunks[1])
        for chunk in chunks[2 : 1 + answers.tokens]:
            await asyncio.sleep(answers.itl)
            self.transport.write(chunk)
        self.transport.write(b"".join(chunks[1 + answers.tokens :]))

    def answer(self, path: str, body: bytes) -> bytes:
        if path == "/v1/chat/completions":
            # A byte search, not a JSON parse: the answer must cost nothing next to the client's work.
            if b'"stream":true' in body or b'"stream": true' in body:
                return self.answers.stream_usage if b"include_usage" in body else self.answers.stream
            return self.answers.plain
        routes = {"/v1/models": self.answers.models, "/version": self.answers.version, "/health": self.answers.health}
        return routes.get(path, self.answers.missing)


async def serve(
    port: int,
    tokens: int,
    ttft: float = 0.0,
    itl: float = 0.0,
    model: str = MODEL,
    capacity: int = 0,
    service: float = 0.0,
    ports: int = 1,
) -> None:
    answers = Answers(tokens, ttft, itl, model, capacity, service)
    loop = asyncio.get_running_loop()
    servers = [
        await loop.create_server(lambda: Connection(answers), "127.0.0.1", number, backlog=1024)
        for number in range(port, port + ports)
    ]
    stop = loop.create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, lambda: stop.done() or stop.set_result(None))
    pace = f", first token after {ttft:g} s, then one every {itl:g} s" if ttft or itl else ""
    pace += f", {capacity} at once for {service:g} s each" if capacity else ""
    where = f"{port}-{port + ports - 1}" if ports > 1 else str(port)
    print(f"instant vLLM on 127.0.0.1:{where} ({tokens} tokens an answer{pace})", flush=True)
    await stop
    for server in servers:
        server.close()
        await server.wait_closed()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def launch(port: int, *options: str, timeout: float = 10.0, ports: int = 1) -> subprocess.Popen[bytes]:
    """This server in its own process on 127.0.0.1:``port`` (and the next ``ports - 1``) with ``options``,
    returned once it listens on every one: the benchmarks' stand-in. The caller terminates it."""
    command = [sys.executable, __file__, "--port", str(port), "--ports", str(ports), *options]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    waiting = list(range(port, port + ports))
    while waiting and time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", waiting[0]), timeout=0.2).close()
            waiting.pop(0)
        except OSError:
            time.sleep(0.05)
    if not waiting:
        return server
    server.terminate()
    raise SystemExit(f"benchmark: the instant server did not listen on {waiting[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tokens", type=int, default=16, help="output tokens of every answer")
    parser.add_argument("--ttft", type=float, default=0.0, help="seconds before the first token (default: none)")
    parser.add_argument("--itl", type=float, default=0.0, help="seconds between tokens (default: none)")
    parser.add_argument("--model", default=MODEL, help="the model id /v1/models lists")
    parser.add_argument("--capacity", type=int, default=0, help="completions served at once (default: no limit)")
    parser.add_argument("--service", type=float, default=0.0, help="seconds each completion holds its slot")
    parser.add_argument("--ports", type=int, default=1, help="listen on port ... port+N-1, sharing the capacity")
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.tokens, args.ttft, args.itl, args.model, args.capacity, args.service, args.ports))


if __name__ == "__main__":
    main()
