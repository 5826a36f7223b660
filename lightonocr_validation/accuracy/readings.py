"""Seeded readings of the bundled pages, as a healthy or a broken server would return them.

A trained model never returns the ground truth verbatim, so the thresholds are calibrated on readings that
differ from it the way a real reading does. Each `Case` turns every page's ground truth into one reading:

- healthy cases (`HEALTHY`) make the differences a healthy LightOnOCR makes: a few realistic character
  confusions (rn/m, l/1, O/0, e/c; never a lost accent), line breaks moved, headings re-levelled, emphasis
  added, tables as Markdown pipe tables, math between ``\\(``/``\\[``, typographic punctuation;
- broken cases (`BROKEN`) make the differences a broken server makes: five times as many confusions,
  accents stripped, tables flattened, LaTeX read out as words, the end of the page lost, another page's
  text, every fourth page empty; and one formula that renders otherwise (an exponent, a sign, a term, a
  fraction turned over, a radical lost: `readings_math`), which only the page's math facts can catch.

Healthy readings write every formula in notation that renders alike (`readings_math.respell`), and their
misread characters stay in the prose: a misread inside a formula makes another formula.

A broken transform that does not change a page (no accent to strip on an English page) leaves that page
out of the case: it is reported as not applicable rather than counted as a separated broken reading.
The tests grade every reading and run them through the whole check suite (tests/accuracy/test_calibration.py);
docs/accuracy.md shows the resulting margins (lightonocr_validation/accuracy/calibration.py).
"""

from __future__ import annotations

import math
import random
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lightonocr_validation.accuracy.engine import comparable_text, reference_tables
from lightonocr_validation.accuracy.readings_math import BREAKS, respell
from lightonocr_validation.pages.samples import Sample

HEALTHY_MISREAD_RATE = 0.01
BROKEN_MISREAD_RATE = 0.05
LOST_TAIL = 0.30

# Confusions an OCR model makes on clean print, with their cost in character edits.
CONFUSIONS = (("rn", "m"), ("m", "rn"), ("l", "1"), ("1", "l"), ("O", "0"), ("0", "O"), ("e", "c"), ("c", "e"))
# Markup a confusion must not touch: an HTML tag, a LaTeX command, a math delimiter, a pipe-table rule.
_MARKUP = re.compile(r"<[^>]*>|\\[A-Za-z]+|\\[()\[\]]|\$+|^\|[-:| ]+\|$", re.MULTILINE)
_MATH = re.compile(r"\$\$(.+?)\$\$|\$([^$\n]+?)\$", re.DOTALL)
_HTML_TABLE = re.compile(r"<table\b.*?</table\s*>", re.IGNORECASE | re.DOTALL)
_MISREAD_KEEP = re.compile(f"{_MATH.pattern}|{_MARKUP.pattern}", re.DOTALL | re.MULTILINE)
# Text a typography or emphasis change must leave alone: markup, and math as a whole, in every delimiter (the
# formulas are bracketed before typography runs: an en dash in one is another formula).
_KEEP = re.compile(r"\$\$.+?\$\$|\$[^$\n]+?\$|\\\[.+?\\\]|\\\(.+?\\\)|<[^>]*>|\\[A-Za-z]+", re.DOTALL)


@dataclass(frozen=True)
class Page:
    """One page of the sample set, named as the checks name it (``pdf-01 p2``)."""

    sample: Sample
    page: int

    @property
    def label(self) -> str:
        return self.sample.id if self.sample.page_count == 1 else f"{self.sample.id} p{self.page + 1}"

    @property
    def truth(self) -> str:
        return self.sample.ground_truth[self.page].strip()


def pages_of(samples: Sequence[Sample]) -> list[Page]:
    return [Page(sample, number) for sample in samples for number in range(sample.page_count)]


@dataclass(frozen=True)
class Reading:
    """What a server answered for one page; ``broken`` is None where the case changed nothing that matters
    (the page is then not a test of the broken behaviour)."""

    page: Page
    text: str
    broken: bool | None


@dataclass(frozen=True)
class Case:
    name: str
    healthy: bool
    what: str
    read: Callable[[list[Page], int], list[Reading]]
    by_facts: bool = False  # broken, but caught by a fact, not by the CER bound: one formula changed


def _rng(seed: int, case: str, page: Page) -> random.Random:
    return random.Random(f"{seed}/{case}/{page.label}")


def _free_positions(text: str, pattern: re.Pattern[str] = _MARKUP) -> list[bool]:
    free = [True] * len(text)
    for match in pattern.finditer(text):
        for i in range(match.start(), match.end()):
            free[i] = False
    return free


def misread(text: str, rate: float, rng: random.Random, *, at_least: bool = False) -> str:
    """Apply OCR confusions at random places until they cost ``rate`` of the page's characters in edits
    (rounded down, or up with ``at_least``); markup is never touched, nor a formula (a misread inside one makes
    another formula: the formula cases below do that)."""
    size = len(comparable_text(text))
    budget = math.ceil(rate * size) if at_least else math.floor(rate * size)
    free = _free_positions(text, _MISREAD_KEEP)
    candidates = [
        (i, wrong, right)
        for wrong, right in CONFUSIONS
        for i in (m.start() for m in re.finditer(re.escape(wrong), text))
        if all(free[i : i + len(wrong)])
    ]
    rng.shuffle(candidates)
    used = [False] * len(text)
    chosen: list[tuple[int, str, str]] = []
    for i, wrong, right in candidates:
        cost = max(len(wrong), len(right))  # rn -> m is a substitution and a deletion
        if budget < cost or any(used[i : i + len(wrong)]):
            continue
        for j in range(i, i + len(wrong)):
            used[j] = True
        chosen.append((i, wrong, right))
        budget -= cost
        if budget == 0:
            break
    for i, wrong, right in sorted(chosen, reverse=True):
        text = text[:i] + right + text[i + len(wrong) :]
    return text


def _blocks(text: str) -> list[str]:
    return text.split("\n\n")


def _is_paragraph(block: str) -> bool:
    return "\n" not in block and not block.startswith(("#", "|", "<", "$$", "\\[", "- ")) and len(block) > 60


def reflow(text: str, rng: random.Random) -> str:
    """Move line breaks: paragraphs re-wrapped at a random width, and some paragraphs run together."""
    out: list[str] = []
    for block in _blocks(text):
        if _is_paragraph(block):
            width = rng.randint(30, 90)
            lines: list[str] = []
            # Inline math is one unit: a model does not break a line inside $...$.
            for word in re.findall(r"(?:\$[^$]*\$|\S)+", block):
                if lines and len(lines[-1]) + 1 + len(word) <= width:
                    lines[-1] += " " + word
                else:
                    lines.append(word)
            block = "\n".join(lines)
        out.append(block)
    joined = out[0] if out else ""
    for block in out[1:]:
        joined += ("\n" if rng.random() < 0.3 else "\n\n") + block
    return joined


def relevel(text: str, rng: random.Random) -> str:
    """Headings one level deeper (# -> ##)."""
    return re.sub(r"^(#{1,5}) ", r"#\1 ", text, flags=re.MULTILINE)


def _outside(text: str, pattern: re.Pattern[str], change: Callable[[str], str]) -> str:
    """Apply ``change`` to the text between the matches of ``pattern`` (math, markup), not to them."""
    out: list[str] = []
    pos = 0
    for match in pattern.finditer(text):
        out.append(change(text[pos : match.start()]))
        out.append(match.group(0))
        pos = match.end()
    out.append(change(text[pos:]))
    return "".join(out)


def emphasize(text: str, rng: random.Random) -> str:
    """Put a few words in *italic* or **bold**, as a model does when the print looks emphasized."""
    free = _free_positions(text, _KEEP)
    words = [
        m
        for m in re.finditer(r"(?<![\w'|-])[A-Za-z]{4,}(?![\w'-])", text)
        if all(free[m.start() : m.end()]) and not text[: m.start()].endswith("|")
    ]
    picked = sorted(rng.sample(words, min(5, len(words))), key=lambda m: m.start(), reverse=True)
    for match in picked:
        mark = rng.choice(("*", "**"))
        text = f"{text[: match.start()]}{mark}{match.group(0)}{mark}{text[match.end() :]}"
    return text


def pipe_tables(text: str, rng: random.Random) -> str:
    """HTML tables written as Markdown pipe tables, the first row as the header."""

    def pipe(match: re.Match[str]) -> str:
        rows: list[str] = []
        for grid in reference_tables(match.group(0)):
            head, *body = grid
            rows.append("| " + " | ".join(head) + " |")
            rows.append("|" + "|".join("---" for _ in head) + "|")
            rows.extend("| " + " | ".join(row) + " |" for row in body)
        return "\n".join(rows)

    return _HTML_TABLE.sub(pipe, text)


def math_brackets(text: str, rng: random.Random) -> str:
    """``$$x$$`` as ``\\[x\\]`` and ``$x$`` as ``\\(x\\)``."""

    def bracket(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return f"\\[{match.group(1)}\\]"
        return f"\\({match.group(2)}\\)"

    return _MATH.sub(bracket, text)


def respell_math(text: str, rng: random.Random) -> str:
    """Every formula in another notation that renders alike (``readings_math.respell``)."""

    def rewrite(match: re.Match[str]) -> str:
        display = match.group(1) is not None
        latex = match.group(1) if display else match.group(2)
        mark = "$$" if display else "$"
        return f"{mark}{respell(latex, rng)}{mark}"

    return _MATH.sub(rewrite, text)


def typography(text: str, rng: random.Random) -> str:
    """Typographic apostrophes and quotes, en dashes, no-break hyphens and spaces, an ellipsis."""

    def typeset(part: str) -> str:
        part = re.sub(r'"([^"]*)"', "\u201c\\1\u201d", part)
        part = part.replace("'", "\u2019").replace(" - ", " \u2013 ").replace("...", "\u2026")
        part = re.sub(r"(?<=\w)-(?=\w)", lambda _: "\u2011" if rng.random() < 0.3 else "-", part)
        return re.sub(r" (?=[%€:;?!»])|(?<=«) ", "\u00a0", part)

    return _outside(text, _KEEP, typeset)


def combined(text: str, rng: random.Random) -> str:
    text = misread(text, HEALTHY_MISREAD_RATE, rng)
    for change in (pipe_tables, respell_math, math_brackets, relevel, emphasize, typography, reflow):
        text = change(text, rng)
    return text


def strip_accents(text: str, rng: random.Random) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if unicodedata.category(c) != "Mn"))


def flatten_tables(text: str, rng: random.Random) -> str:
    """Tables read as loose text: one line per row, cells separated by spaces."""

    def flat(match: re.Match[str]) -> str:
        return "\n\n".join("\n".join(" ".join(row) for row in grid) for grid in reference_tables(match.group(0)))

    return _HTML_TABLE.sub(flat, text)


_LATEX_WORDS = {
    r"\pm": " plus or minus ",
    r"\sqrt": " root of ",
    r"\int": " integral ",
    r"\sum": " sum ",
    r"\,": " ",
}


def latex_words(text: str, rng: random.Random) -> str:
    """Math read out as words: no delimiters, fractions as "a over b", scripts as plain characters."""

    def words(match: re.Match[str]) -> str:
        expr = match.group(1) if match.group(1) is not None else match.group(2)
        expr = re.sub(r"\\frac\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}\{([^{}]*)\}", r"\1 over \2", expr)
        for command, said in _LATEX_WORDS.items():
            expr = expr.replace(command, said)
        expr = re.sub(r"[{}_^]", "", expr)
        return re.sub(r" +", " ", expr).strip()

    return _MATH.sub(words, text)


def one_formula(change: Callable[[str, random.Random], str | None]) -> PageChange:
    """A page change that changes one formula of the page (seeded), leaving the page as it is where ``change``
    finds nothing to change in any formula."""

    def page_change(text: str, rng: random.Random) -> str:
        spans = []
        for match in _MATH.finditer(text):
            group = 1 if match.group(1) is not None else 2
            changed = change(match.group(group), rng)
            if changed is not None:
                spans.append((match.start(group), match.end(group), changed))
        if not spans:
            return text
        start, end, changed = rng.choice(spans)
        return text[:start] + changed + text[end:]

    return page_change


def lose_tail(text: str, rng: random.Random) -> str:
    """The last 30 % of the page's lines missing (at least one line)."""
    lines = text.splitlines()
    filled = [i for i, line in enumerate(lines) if line.strip()]
    if not filled:
        return text
    lost = max(1, round(LOST_TAIL * len(filled)))
    return "\n".join(lines[: filled[-lost]]).rstrip()


PageChange = Callable[[str, random.Random], str]


def _each_page(name: str, change: PageChange, healthy: bool) -> Callable[[list[Page], int], list[Reading]]:
    def read(pages: list[Page], seed: int) -> list[Reading]:
        readings = []
        for page in pages:
            text = change(page.truth, _rng(seed, name, page))
            if healthy:
                broken: bool | None = False
            else:
                broken = True if comparable_text(text) != comparable_text(page.truth) else None
            readings.append(Reading(page, text, broken))
        return readings

    return read


def _another_page(pages: list[Page], seed: int) -> list[Reading]:
    """Each page answered with the next page's text (the last with the first's): a mixed-up batch."""
    return [Reading(page, pages[(i + 1) % len(pages)].truth, True) for i, page in enumerate(pages)]


def _every_fourth_empty(pages: list[Page], seed: int) -> list[Reading]:
    """Every fourth page comes back empty; the others are healthy readings."""
    readings = []
    for i, page in enumerate(pages):
        if i % 4 == 3 and page.truth:
            readings.append(Reading(page, "", True))
        else:
            readings.append(Reading(page, combined(page.truth, _rng(seed, "every fourth page empty", page)), False))
    return readings


def _misread_rate(rate: float, at_least: bool) -> PageChange:
    def change(text: str, rng: random.Random) -> str:
        return misread(text, rate, rng, at_least=at_least)

    return change


def _cases() -> list[Case]:
    healthy = [
        ("ground truth", "the ground truth itself", lambda text, rng: text),
        ("1 % misread", "1 % of characters misread (rn/m, l/1, O/0, e/c)", _misread_rate(HEALTHY_MISREAD_RATE, False)),
        ("reflowed", "line breaks moved, paragraphs run together", reflow),
        ("headings re-levelled", "`#` as `##`, `##` as `###`", relevel),
        ("emphasis added", "a few words as `*word*` or `**word**`", emphasize),
        ("pipe tables", "tables as Markdown pipe tables", pipe_tables),
        ("math brackets", "math as `\\(…\\)` and `\\[…\\]` instead of `$…$` and `$$…$$`", math_brackets),
        (
            "math respelled",
            "every formula in notation that renders alike (`mc^2`, `\\dfrac`, `\\left(`, `\\,`)",
            respell_math,
        ),
        ("typography", "typographic quotes, dashes, no-break spaces", typography),
        ("all healthy at once", "every change above, 1 % misread included", combined),
    ]
    broken = [
        ("5 % misread", "5 % of characters misread", _misread_rate(BROKEN_MISREAD_RATE, True)),
        ("accents stripped", "every diacritic dropped", strip_accents),
        ("tables flattened", "tables as loose text", flatten_tables),
        ("LaTeX as words", "math read out as words", latex_words),
        ("last 30 % lost", "the last 30 % of lines missing", lose_tail),
    ]
    cases = [Case(name, True, what, _each_page(name, change, True)) for name, what, change in healthy]
    cases += [Case(name, False, what, _each_page(name, change, False)) for name, what, change in broken]
    cases += [
        Case(name, False, what, _each_page(name, one_formula(change), False), by_facts=True)
        for name, (what, change) in BREAKS.items()
    ]
    cases.append(Case("another page's text", False, "each page answered with the next page's text", _another_page))
    cases.append(Case("every fourth page empty", False, "pages 4, 8, 12 empty, the rest healthy", _every_fourth_empty))
    return cases


CASES: tuple[Case, ...] = tuple(_cases())
HEALTHY = tuple(case for case in CASES if case.healthy)
BROKEN = tuple(case for case in CASES if not case.healthy)


def case(name: str) -> Case:
    return next(c for c in CASES if c.name == name)
