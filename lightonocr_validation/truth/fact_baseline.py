"""olmOCR-Bench's baseline fact: the answer is not blank, does not end in a loop, has no disallowed characters.

Semantics (as olmOCR's ``baseline`` test, on the raw answer, not normalized):
  * the answer's size is its number of alphanumeric characters (``str.isalnum``);
  * with ``max_length`` set (a blank-page fact) only that counts: the answer passes when its size is at most
    ``max_length``; with ``max_length_skips_image_alt_tags`` Markdown images ``![alt](src)`` are not counted;
  * otherwise an answer without any alphanumeric character fails;
  * repeats: whitespace runs become one space; for n = 1..5 the last n characters are counted back-to-back at
    the end of the text; more than ``max_repeats`` (default 30) repetitions of any of them fails;
  * disallowed characters (unless ``check_disallowed_characters`` is False): CJK ideographs, hiragana,
    katakana and the emoji blocks U+1F300-1F5FF, U+1F600-1F64F, U+1F680-1F6FF, U+1F1E0-1F1FF.
"""

from __future__ import annotations

import re

_DISALLOWED = re.compile(
    "[\u4e00-\u9fff\u3040-\u309f\u30a0-\u30ff\U0001f600-\U0001f64f\U0001f300-\U0001f5ff"
    "\U0001f680-\U0001f6ff\U0001f1e0-\U0001f1ff]"
)
_IMAGE = re.compile(r"!\[.*?\]\(.*?\)")
_NOT_ALPHANUMERIC = re.compile(r"[\W_]+")
MAX_NGRAM = 5


def alphanumeric_count(text: str, skip_images: bool = False) -> int:
    """Number of alphanumeric characters, Markdown images left out on request.

    >>> alphanumeric_count("a, b! ![logo](x.png)"), alphanumeric_count("a, b! ![logo](x.png)", skip_images=True)
    (10, 2)
    """
    if skip_images:
        text = _IMAGE.sub("", text)
    # re's \w is exactly str.isalnum() plus "_", so this counts isalnum characters at C speed.
    return len(_NOT_ALPHANUMERIC.sub("", text))


def tail_repeats(text: str, max_ngram: int = MAX_NGRAM) -> list[int]:
    """For n = 1..max_ngram: how many times the last n characters repeat back-to-back at the end of the text
    (whitespace runs collapsed first). Found by a binary search on ``endswith``, so a 4 MB loop costs
    milliseconds.

    >>> tail_repeats("abcabcabcabc"), tail_repeats("abc", 4)
    ([1, 1, 4, 1, 1], [1, 1, 1, 0])
    """
    text = re.sub(r"\s{2,}|[^\S ]", " ", text)  # whitespace runs to one space, rewriting only what changes
    counts = []
    for size in range(1, max_ngram + 1):
        if len(text) < size:
            counts.append(0)
            continue
        unit = text[-size:]
        # Gallop up while the text still ends with unit * count, then binary-search the last step: the cost
        # follows the length of the loop, not of the answer.
        low, high = 1, 2
        while high * size <= len(text) and text.endswith(unit * high):
            low, high = high, high * 2
        high = min(high - 1, len(text) // size)
        while low < high:
            middle = (low + high + 1) // 2
            if text.endswith(unit * middle):
                low = middle
            else:
                high = middle - 1
        counts.append(low)
    return counts


def disallowed_characters(text: str) -> list[str]:
    """Every CJK, kana or emoji character of the text, in order.

    >>> disallowed_characters("ok \u4e2d\u6587 \U0001f600")
    ['\u4e2d', '\u6587', '\U0001f600']
    """
    return _DISALLOWED.findall(text)


def baseline_problem(
    text: str,
    *,
    max_length: int | None = None,
    skip_images: bool = False,
    max_repeats: int = 30,
    check_disallowed: bool = True,
) -> str:
    """The first baseline problem of ``text`` as one line, or "" when there is none.

    >>> baseline_problem("fine text"), baseline_problem("ab" * 40)
    ('', 'the answer ends with 40 repeats of a 2-character sequence (max 30)')
    """
    size = alphanumeric_count(text, skip_images)
    if max_length is not None:
        if size > max_length:
            return f"{size} alphanumeric characters on a page expected blank (max {max_length})"
        return ""
    if size == 0:
        return "the answer has no alphanumeric character"
    for n, count in enumerate(tail_repeats(text), start=1):
        if count > max_repeats:
            return f"the answer ends with {count} repeats of a {n}-character sequence (max {max_repeats})"
    found = disallowed_characters(text) if check_disallowed else []
    if found:
        return f"disallowed characters {''.join(dict.fromkeys(found))[:20]!r}"
    return ""
