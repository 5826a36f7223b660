"""Text normalization and fuzzy search for facts, with olmOCR-Bench's semantics (written here, not copied).

Facts are judged on text normalized the way olmOCR-Bench's ``normalize_text`` does it, in this order:
``<br>``/``<br/>`` become a space; every whitespace run becomes one space (the ends are not trimmed);
``**x**`` and ``__x__`` lose their markers; ``<b>``, ``</b>``, ``<i>``, ``</i>`` are dropped; then ``*x*`` and
``_x_`` lose theirs (shortest pairs, anywhere: ``a_b c_d`` becomes ``ab cd`` on both sides of a comparison);
NFC composition; typographic single/double quotes, low quotes, dashes (en, em, figure, non-breaking hyphen,
minus) and the fullwidth low line map to ASCII, the micro sign to Greek mu.

Two rules are added in front of olmOCR's, because LightOnOCR writes them and olmOCR's own ground truth does not:
  * ``\\$`` (a Markdown-escaped dollar) is a plain ``$``;
  * ``\\(x\\)`` is written ``$x$`` and ``\\[x\\]`` ``$$x$$``, so a fact written with one math delimiter holds
    for an answer that uses another.
olmOCR keeps both as written (the oracle test lists the cases where that changes a verdict).

Fuzzy matching is olmOCR's, to the float:
  * present/absent: ``partial_ratio(text, output) / 100 >= 1 - max_diffs / len(text)`` (rapidfuzz's Indel-based
    best-window similarity, which also means a fact text LONGER than the whole answer is judged against the
    answer as a window of itself); an exact substring is found first, without the fuzzy search;
  * order: Levenshtein matches of at most ``max_diffs`` edits, overlapping matches grouped and each group
    represented by its best match (fewest edits, then longest), as fuzzysearch's ``find_near_matches`` does.
"""

from __future__ import annotations

import functools
import heapq
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

_OLMOCR_CHARACTERS = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\uff3f": "_",
        "\u2013": "-",
        "\u2014": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2212": "-",
        "\u00b5": "\u03bc",
    }
)

_DISPLAY_PARENS = re.compile(r"\\\[(.+?)\\\]", re.DOTALL)
_INLINE_PARENS = re.compile(r"\\\((.+?)\\\)", re.DOTALL)


def unify_math_delimiters(text: str) -> str:
    r"""Write ``\(x\)`` as ``$x$`` and ``\[x\]`` as ``$$x$$`` and unescape ``\$`` (our addition to olmOCR).

    >>> unify_math_delimiters(r"area \(x^2\) costs \$5 \[y\]")
    'area $x^2$ costs $5 $$y$$'
    """
    text = _DISPLAY_PARENS.sub(r"$$\1$$", text)
    text = _INLINE_PARENS.sub(r"$\1$", text)
    return text.replace("\\$", "$")


def olmocr_normalize(text: str) -> str:
    """olmOCR-Bench's normalization alone (see the module docstring for its rules).

    >>> olmocr_normalize("**Bold**  and\\n_it_ \u2014 \u201cq\u201d")
    'Bold and it - "q"'
    """
    text = re.sub(r"<br/?>", " ", text)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\*\*(.*?)\*\*", r"\1", text)
    text = re.sub(r"__(.*?)__", r"\1", text)
    text = re.sub(r"</?[bi]>", "", text)
    text = re.sub(r"\*(.*?)\*", r"\1", text)
    text = re.sub(r"_(.*?)_", r"\1", text)
    return unicodedata.normalize("NFC", text).translate(_OLMOCR_CHARACTERS)


@functools.lru_cache(maxsize=16)  # every fact of a page normalizes the same answer: do it once
def fact_normalize(text: str) -> str:
    r"""The normalization facts use: our delimiter rules, then olmOCR's.

    >>> fact_normalize(r"Total: \$5 and \(a_1\)")
    'Total: $5 and $a_1$'
    """
    return olmocr_normalize(unify_math_delimiters(text))


def similarity_threshold(text: str, max_diffs: int) -> float:
    """olmOCR's threshold for a text allowed ``max_diffs`` differences: ``1 - max_diffs / len(text)``.

    >>> similarity_threshold("abcd", 1)
    0.75
    """
    return 1.0 - (max_diffs / (len(text) if text else 1))


def present_ratio(needle: str, haystack: str) -> float:
    """olmOCR's best-window similarity (0..1) of ``needle`` in ``haystack``; 1.0 at once for a substring.

    >>> present_ratio("world", "hello world"), round(present_ratio("wrld", "hello world"), 3)
    (1.0, 0.857)
    """
    if needle and needle in haystack:
        return 1.0
    return fuzz.partial_ratio(needle, haystack) / 100.0


def cell_similarity(expected: str, got: str) -> float:
    """olmOCR's similarity of two table cells: rapidfuzz's Indel ratio, 0..1.

    >>> cell_similarity("abcd", "abcd"), cell_similarity("abcd", "abce")
    (1.0, 0.75)
    """
    return fuzz.ratio(expected, got) / 100.0


# A group of overlapping near matches is examined over at most this many starts: on hostile, endlessly
# repeating text one group can span megabytes, and its best match is then taken from its first stretch.
MAX_GROUP_STARTS = 4096
# A fuzzy search examines at most this many candidate starts (places where a piece of the pattern occurs
# exactly), then gives up as if nothing more were there. Real answers come nowhere near it (a 40-character fact
# with 4 differences has 8-character pieces); text made of one piece repeated a million times does, and is
# then judged in about a second instead of minutes. olmOCR has no such bound.
MAX_CANDIDATE_STARTS = 100_000


@dataclass(frozen=True, order=True)
class Match:
    """One approximate occurrence: ``text[start:end]`` is ``dist`` edits away from the pattern."""

    start: int
    end: int
    dist: int


def _candidate_starts(pattern: str, text: str, max_diffs: int, reverse: bool) -> Iterator[int]:
    """Starts where a match of at most ``max_diffs`` edits may begin, in text order (or reversed).

    Pigeonhole: cut the pattern into ``max_diffs + 1`` pieces; a match with that many edits keeps one piece
    intact, so it starts within ``max_diffs`` of (piece position - piece offset). Only those few starts are
    examined, which keeps the search linear in practice on a multi-megabyte answer.
    """
    pieces = max_diffs + 1
    size = len(pattern) // pieces
    offsets = [i * size for i in range(pieces)]
    streams = []
    for offset in offsets:
        piece = pattern[offset : offset + size] if offset != offsets[-1] else pattern[offset:]
        streams.append(_piece_hits(piece, text, offset, reverse))
    merged = heapq.merge(*streams, reverse=reverse)
    seen_until = None
    yielded = 0
    for anchor in merged:
        span = range(anchor - max_diffs, anchor + max_diffs + 1)
        if reverse:
            span = span[::-1]
        for start in span:
            if not 0 <= start < len(text):
                continue
            if seen_until is not None and (start >= seen_until if reverse else start <= seen_until):
                continue
            seen_until = start
            yielded += 1
            if yielded > MAX_CANDIDATE_STARTS:
                return
            yield start


def _piece_hits(piece: str, text: str, offset: int, reverse: bool) -> Iterator[int]:
    if reverse:
        end = len(text)
        while (hit := text.rfind(piece, 0, end)) >= 0:
            yield hit - offset
            end = hit + len(piece) - 1
    else:
        pos = 0
        while (hit := text.find(piece, pos)) >= 0:
            yield hit - offset
            pos = hit + 1


def _matches_at(pattern: str, text: str, start: int, max_diffs: int) -> list[Match]:
    # A match of length L is at least d(pattern, text[start:start+len(pattern)]) - |L - len(pattern)| edits
    # away, so one comparison rules most starts out before the 2 * max_diffs + 1 lengths are tried.
    if Levenshtein.distance(pattern, text[start : start + len(pattern)], score_cutoff=2 * max_diffs) > 2 * max_diffs:
        return []
    found = []
    for length in range(max(1, len(pattern) - max_diffs), len(pattern) + max_diffs + 1):
        if start + length > len(text):
            break
        dist = Levenshtein.distance(pattern, text[start : start + length], score_cutoff=max_diffs)
        if dist <= max_diffs:
            found.append(Match(start, start + length, dist))
    return found


def _best(group: list[Match]) -> Match:
    return min(group, key=lambda m: (m.dist, -(m.end - m.start), m.start))


def first_match(pattern: str, text: str, max_diffs: int) -> Match | None:
    """The best match of the first group of overlapping near matches (exact search when ``max_diffs`` is 0).

    >>> first_match("world", "a wrld and a world", 1)
    Match(start=2, end=6, dist=1)
    """
    if max_diffs == 0:
        at = text.find(pattern)
        return Match(at, at + len(pattern), 0) if at >= 0 else None
    group: list[Match] = []
    group_end = -1
    examined = 0  # starts examined since the group began
    for start in _candidate_starts(pattern, text, max_diffs, reverse=False):
        if group:
            examined += 1
            if start >= group_end or examined > MAX_GROUP_STARTS:
                break
        for match in _matches_at(pattern, text, start, max_diffs):
            group.append(match)
            group_end = max(group_end, match.end)
    return _best(group) if group else None


def last_match(pattern: str, text: str, max_diffs: int) -> Match | None:
    """The best match of the last group of overlapping near matches.

    >>> last_match("world", "a world and a wrld", 1)
    Match(start=14, end=18, dist=1)
    """
    if max_diffs == 0:
        at = text.rfind(pattern)
        return Match(at, at + len(pattern), 0) if at >= 0 else None
    group: list[Match] = []
    pending: list[Match] = []  # matches left of the group so far; an earlier, longer match may join them to it
    group_start = len(text) + 1
    longest = len(pattern) + max_diffs
    examined = 0  # starts examined since the group began
    for start in _candidate_starts(pattern, text, max_diffs, reverse=True):
        if group:
            examined += 1
            if start + longest <= group_start or examined > MAX_GROUP_STARTS:
                break
        for match in _matches_at(pattern, text, start, max_diffs):
            if group and match.end <= group_start:
                pending.append(match)
                continue
            group.append(match)
            group_start = min(group_start, match.start)
            joined = [m for m in pending if m.end > group_start]
            while joined:
                group.extend(joined)
                pending = [m for m in pending if m.end <= group_start]
                group_start = min(group_start, *(m.start for m in joined))
                joined = [m for m in pending if m.end > group_start]
    return _best(group) if group else None
