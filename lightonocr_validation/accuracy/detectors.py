"""Pure detectors of degenerate OCR output: repetition loops and one character crowding out the text.

They judge text only, so they are unit-tested on their own and used by the degeneration checks. Both are
tuned not to fire on ordinary documents (table markup, dotted leaders, rules of dashes, forms) and to fire
on what users report from LightOnOCR: a phrase or line repeated until max_tokens, and "!!!!...".
"""

from __future__ import annotations

import re
from collections import Counter

from lightonocr_validation.core.errors import shorten

# A unit of up to 64 characters repeated back to back at least 9 times; the shortest unit is reported
# ("the " rather than "the the ").
LOOP_MAX_UNIT = 64
LOOP_MIN_COPIES = 9
# A loop covers at least this much text; shorter repeats are layout (a rule of dashes, "| --- | --- |").
LOOP_MIN_CHARS = 160
# The same non-empty line this many times in a row (for lines longer than the unit above).
LOOP_MIN_LINES = 8
# One non-whitespace character is "dominant" at this share of all non-whitespace characters...
DOMINANT_SHARE = 0.8
DOMINANT_MIN_CHARS = 200  # short pages may be mostly a rule of dashes or a row of dots
# ...or when it runs unbroken this long anywhere (a loop after a long, correct start).
DOMINANT_RUN = 400
_LONG_RUN = re.compile(r"(\S)\1{" + str(DOMINANT_RUN - 1) + ",}")


def repetition_loop(text: str) -> str | None:
    """Describe the first repetition loop in ``text`` (a phrase or line repeated back to back), else None."""
    return _periodic_run(text) or _repeated_line(text)


def _periodic_run(text: str) -> str | None:
    """A stretch of at least ``LOOP_MIN_CHARS`` that repeats a unit of up to ``LOOP_MAX_UNIT`` characters
    at least ``LOOP_MIN_COPIES`` times.

    A regular expression with a back-reference does this in one line but costs about 0.2 s per page; this
    compares slices at checkpoints instead: a periodic stretch of length >= ``need`` contains, for period p,
    some checkpoint c (every need // 3 characters) with text[c:c+w] == text[c+p:c+p+w], w = need // 3.
    """
    size = len(text)
    for period in range(1, LOOP_MAX_UNIT + 1):
        need = max(LOOP_MIN_CHARS, LOOP_MIN_COPIES * period)
        window = step = need // 3
        checkpoint = 0
        while checkpoint + period + window <= size:
            if text[checkpoint : checkpoint + window] != text[checkpoint + period : checkpoint + period + window]:
                checkpoint += step
                continue
            start, end = _extend(text, period, checkpoint, checkpoint + period + window)
            unit = text[start : start + period]
            if end - start >= need and unit.strip():
                return f"{_show(unit)} repeated {(end - start) // period} times ({end - start} characters)"
            checkpoint = end
    return None


def _extend(text: str, period: int, start: int, end: int) -> tuple[int, int]:
    """Grow the periodic stretch [start, end) both ways: a unit at a time, then a character at a time."""
    while start >= period and text[start - period : start] == text[start : start + period]:
        start -= period
    while start > 0 and text[start - 1] == text[start - 1 + period]:
        start -= 1
    while end + period <= len(text) and text[end : end + period] == text[end - period : end]:
        end += period
    while end < len(text) and text[end] == text[end - period]:
        end += 1
    return start, end


def _repeated_line(text: str) -> str | None:
    """The same non-empty line many times in a row (blank lines between copies ignored): catches loops
    whose line is longer than the periodic search's unit."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    run_start = 0
    for index in range(1, len(lines) + 1):
        if index < len(lines) and lines[index] == lines[run_start]:
            continue
        run = index - run_start
        if run >= LOOP_MIN_LINES and run * len(lines[run_start]) >= LOOP_MIN_CHARS:
            return f"line {_show(lines[run_start])} repeated {run} times in a row"
        run_start = index
    return None


def dominant_character(text: str) -> str | None:
    """Describe a single character that crowds out the text ("!!!!..."), else None.

    Whitespace is ignored (a page of blank lines is the empty-output check's business).
    """
    counts = Counter(text)
    for char in [char for char in counts if char.isspace()]:
        del counts[char]
    visible = counts.total()
    if visible >= DOMINANT_MIN_CHARS:
        char, count = counts.most_common(1)[0]
        share = count / visible
        if share >= DOMINANT_SHARE:
            return f"{char!r} is {share:.0%} of the {visible} visible characters"
    run = _LONG_RUN.search(text)
    if run is not None:
        return f"{run.group(1)!r} repeated {len(run.group(0))} times in a row"
    return None


def _show(text: str, limit: int = 40) -> str:
    return repr(shorten(text, limit, one_line=False))
