"""The pages a run sends, as inputs: the bundled samples or the user's `--pages`, each rendered and encoded once
per process at the model profile's page size. Shared by the check wing (its page answers) and the load wing
(bench), so neither imports the other."""

from __future__ import annotations

import collections
import functools
import threading
from dataclasses import dataclass
from pathlib import Path

from lightonocr_validation.pages.image import LONGEST_SIDE, png_data_url
from lightonocr_validation.pages.samples import Sample, load_manifest
from lightonocr_validation.pages.user_pages import Unread, UserPage, load_page_set


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


def chosen_pages(
    pages_dir: str | None, cer_max: float, samples_root: str, longest: int = LONGEST_SIDE
) -> tuple[PageInput | UserPageInput, ...]:
    """The user's pages at ``pages_dir`` when given, else the sample set at ``samples_root``, at ``longest`` px."""
    if pages_dir:
        with _RENDER_LOCK:
            return user_pages(pages_dir, cer_max, longest)
    return sample_pages(samples_root, longest)
