"""The sample pages as requests, and the server's answers to them, shared by the OCR-judging checks.

Every sample page is sent once per host, the model card's way, and the answers are kept in the context:
the format, token-count, accuracy, degeneration and latency checks all judge the same answers, so a run
costs one request per page, not one per page per check.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightonocr_validation.check.context import CheckContext
from lightonocr_validation.pages.image import LONGEST_SIDE, png_data_url
from lightonocr_validation.pages.samples import SAMPLES_DIR, Sample, load_manifest
from lightonocr_validation.pages.user_pages import Unread, UserPage, load_page_set
from lightonocr_validation.vllm.client import LONGEST_TOKEN_BYTES, BadAnswer, Response
from lightonocr_validation.vllm.client import one_line as client_one_line


@dataclass(frozen=True)
class PageInput:
    sample: Sample
    page: int  # 0-based page of the sample
    width: int
    height: int
    data_url: str

    @property
    def label(self) -> str:
        return self.sample.id if self.sample.page_count == 1 else f"{self.sample.id} p{self.page + 1}"


class UserPageInput:
    """A page of the user's set (``invoke check --pages``), read like a sample page.

    Memory is bounded whatever the pages: a page is decoded once, scaled once to the size it is sent at, and
    only its encoded payload is kept, in a cache of PAYLOADS_KEPT pages shared by the set (olmOCR-Bench's 1400
    pages would hold gigabytes of PNG); one page is decoded at a time (a 10,000 px scan takes hundreds of MB
    while it is decoded), and the threads that want the same page at once (a burst of 64) wait for the one
    that renders it rather than each decoding it."""

    def __init__(self, user: UserPage, cer_max: float, longest: int = LONGEST_SIDE) -> None:
        self.user = user
        self.longest = longest  # the model profile's page size
        self.sample = user.as_sample(cer_max)
        self.page = 0  # the Sample holds this one page
        self._size: tuple[int, int] | None = None

    @property
    def label(self) -> str:
        return self.user.id

    @property
    def data_url(self) -> str:
        return _payload(self)

    @property
    def width(self) -> int:
        return self._rendered_size()[0]

    @property
    def height(self) -> int:
        return self._rendered_size()[1]

    def _rendered_size(self) -> tuple[int, int]:
        if self._size is None:
            _payload(self)
        assert self._size is not None
        return self._size


# The encoded pages kept (PNG at 1540 px: 1-4 MB each), least recently sent dropped first.
PAYLOADS_KEPT = 16
_PAYLOADS: collections.OrderedDict[tuple[str, int, int], str] = collections.OrderedDict()
_DECODE_LOCK = threading.Lock()  # one page decoded at a time: the payload cache is read and filled under it


def _payload(page: UserPageInput) -> str:
    key = (str(page.user.file), page.user.page, page.longest)
    with _DECODE_LOCK:
        payload = _PAYLOADS.get(key)
        if payload is None:
            image = page.user.image(page.longest)
            page._size = image.size
            payload = png_data_url(image)
            del image  # the bitmap goes now: only the payload is kept
            _PAYLOADS[key] = payload
            while len(_PAYLOADS) > PAYLOADS_KEPT:
                _PAYLOADS.popitem(last=False)
        _PAYLOADS.move_to_end(key)
        return payload


@dataclass(frozen=True)
class PageAnswer:
    """One page's reply. ``problem`` is empty when the reply is a well-formed chat completion."""

    page: PageInput | UserPageInput
    status: int
    seconds: float
    text: str
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    problem: str


# Hosts of a fleet are checked in parallel threads and all ask for the pages at once: render them once.
_RENDER_LOCK = threading.Lock()


def sample_pages(root: str, longest: int = LONGEST_SIDE) -> tuple[PageInput, ...]:
    """Every page of the sample set at ``root`` at ``longest`` px (the model profile's page size), rendered
    and encoded once per process (the samples do not change while a run lasts, and a fleet shares them)."""
    with _RENDER_LOCK:
        return _render_pages(root, longest)


@functools.cache
def _render_pages(root: str, longest: int) -> tuple[PageInput, ...]:
    inputs: list[PageInput] = []
    for sample in load_manifest(Path(root)):
        for number, image in enumerate(sample.pages(longest)):
            inputs.append(PageInput(sample, number, image.width, image.height, png_data_url(image)))
    return tuple(inputs)


def user_pages(folder: str, cer_max: float, longest: int = LONGEST_SIDE) -> tuple[UserPageInput, ...]:
    """The user's pages at ``folder`` that can be read, loaded once per process (hosts of a fleet share them)."""
    return user_page_set(folder, cer_max, longest)[0]


@functools.cache
def user_page_set(
    folder: str, cer_max: float, longest: int = LONGEST_SIDE
) -> tuple[tuple[UserPageInput, ...], tuple[Unread, ...]]:
    """The user's pages at ``folder``, and those left out because they cannot be read (each with its reason),
    sent at ``longest`` px (the model profile's page size)."""
    pages, unread = load_page_set(Path(folder))
    return tuple(UserPageInput(page, cer_max, longest) for page in pages), tuple(unread)


def pages_of(ctx: CheckContext) -> tuple[PageInput | UserPageInput, ...]:
    longest = ctx.profile.longest_edge
    if ctx.settings.pages_dir:
        with _RENDER_LOCK:
            return user_pages(ctx.settings.pages_dir, ctx.settings.check.pages_cer_max, longest)
    return sample_pages(str(ctx.samples_root or SAMPLES_DIR), longest)


def image_content(data_url: str) -> list[dict[str, Any]]:
    """The message content the model card sends: the page image and nothing else (a text prompt is echoed)."""
    return [{"type": "image_url", "image_url": {"url": data_url}}]


def send_page(
    ctx: CheckContext,
    page: PageInput | UserPageInput,
    content: Callable[[str], list[dict[str, Any]]] = image_content,
    **overrides: Any,
) -> PageAnswer:
    """The page's answer; one the server cut short, made too long or sent as HTML is an answer with a problem.
    ``content`` builds the message from the page's data URL (a grounding request adds its text)."""
    body = ctx.chat_body(content(page.data_url), **overrides)
    try:
        reply = ctx.client.post("/v1/chat/completions", body)
    except BadAnswer as error:
        return PageAnswer(page, error.status, 0.0, "", None, None, None, one_line(str(error), 300))
    return impossible_length(parse_answer(page, reply), body.get("max_tokens"))


def impossible_length(answer: PageAnswer, max_tokens: object) -> PageAnswer:
    """The answer, with a problem when its text is longer than ``max_tokens`` tokens can be.

    No token of LightOnOCR's vocabulary is longer than client.LONGEST_TOKEN_BYTES, so a longer text was not
    generated by the model within max_tokens (a proxy or a broken server added to it). Saying so here also
    bounds the graders' work: they read at most max_tokens x 128 bytes a page, whatever the server sends."""
    if answer.problem or not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens <= 0:
        return answer
    size, most = len(answer.text.encode("utf-8")), max_tokens * LONGEST_TOKEN_BYTES
    if size <= most:
        return answer
    problem = (
        f"the text is {size} bytes for max_tokens={max_tokens}: at most {most} bytes are possible "
        f"({LONGEST_TOKEN_BYTES} bytes a token at most); not graded"
    )
    return dataclasses.replace(answer, text="", problem=problem)


def parse_answer(page: PageInput | UserPageInput, reply: Response) -> PageAnswer:
    if reply.status != 200:
        return PageAnswer(
            page,
            reply.status,
            reply.seconds,
            "",
            None,
            None,
            None,
            f"HTTP {reply.status}: {said(reply)}",
        )
    try:
        body = reply.json()
    except ValueError as error:  # NotJson: says what came instead (an HTML page, another content type)
        return PageAnswer(page, reply.status, reply.seconds, "", None, None, None, one_line(str(error), 300))
    text, finish, prompt, completion, problem = _completion_fields(body)
    return PageAnswer(page, reply.status, reply.seconds, text, finish, prompt, completion, problem)


def _completion_fields(body: Any) -> tuple[str, str | None, int | None, int | None, str]:
    """Text, finish_reason, prompt and completion tokens of a chat completion, and what is malformed."""
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return "", None, None, None, "no choices in the reply"
    message = choices[0].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    finish = choices[0].get("finish_reason")
    usage = body.get("usage")
    prompt = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    completion = usage.get("completion_tokens") if isinstance(usage, dict) else None
    prompt = prompt if isinstance(prompt, int) else None
    completion = completion if isinstance(completion, int) else None
    problems = []
    if not isinstance(content, str):
        problems.append("choices[0].message.content is not a string")
    if finish not in ("stop", "length"):
        problems.append(f"finish_reason is {finish!r}")
    if prompt is None or completion is None:
        problems.append("usage.prompt_tokens/completion_tokens missing")
    return (
        content if isinstance(content, str) else "",
        finish if isinstance(finish, str) else None,
        prompt,
        completion,
        "; ".join(problems),
    )


def page_answers(ctx: CheckContext) -> tuple[PageAnswer, ...]:
    """Every sample page's answer, sent once per context with a few requests in flight."""
    return sent_pages(ctx, "page_answers", lambda page: send_page(ctx, page))


def sent_pages(
    ctx: CheckContext, key: str, send_one: Callable[[PageInput | UserPageInput], PageAnswer]
) -> tuple[PageAnswer, ...]:
    """Every page sent with ``send_one``, once per context under ``key``, with a few requests in flight."""

    def send_all() -> tuple[PageAnswer, ...]:
        pages = pages_of(ctx)
        done = 0
        progress = threading.Lock()

        def send(page: PageInput | UserPageInput) -> PageAnswer:
            nonlocal done
            answer = send_one(page)
            if ctx.on_pages is not None:
                with progress:
                    done += 1
                    ctx.on_pages(done, len(pages))
            return answer

        with ThreadPoolExecutor(max_workers=max(1, ctx.settings.check.page_concurrency)) as pool:
            return tuple(pool.map(send, pages))

    return ctx.memo(key, send_all)


def answered(ctx: CheckContext) -> list[PageAnswer]:
    """The well-formed answers: the checks that judge text judge only those (the format check reports
    the others)."""
    return [answer for answer in page_answers(ctx) if not answer.problem]


def first_text_page(ctx: CheckContext) -> PageInput | UserPageInput:
    """The first single-page sample that has text: the page that probes caches, streaming and determinism."""
    pages = pages_of(ctx)
    return next((p for p in pages if p.sample.expect != "empty" and p.sample.page_count == 1), pages[0])


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line, cut to ``limit`` characters (longer than the client's default: details quote text)."""
    return client_one_line(text, limit)


def said(reply: Response) -> str:
    """What a reply said, for a detail: vLLM's error message, or just that it was a completion."""
    if 200 <= reply.status < 300:
        return "a completion"
    return one_line(reply.error_message() or "no body", 200)


def listing(labels: list[str], limit: int = 4) -> str:
    shown = ", ".join(labels[:limit])
    return shown + (f" and {len(labels) - limit} more" if len(labels) > limit else "")
