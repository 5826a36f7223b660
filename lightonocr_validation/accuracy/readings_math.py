r"""Formulas as readings write them: healthy in another notation that KaTeX renders alike, broken as another formula.

A trained model writes LaTeX its own way: ``mc^2`` for ``mc^{2}``, no spaces where TeX ignores them, ``\dfrac``
in display math, ``\left( \right)``, ``\mathrm{d}x``. ``respell`` rewrites a formula with a random (seeded)
selection of such rewrites (KaTeX's documentation: optional braces, spacing commands, ``\dfrac``/``\tfrac``,
``\frac13``, ``\left``/``\bigl``, font commands on one letter, ``\operatorname``/``\mathrm``/``\text``,
``\limits`` in display, ``\displaystyle``, ``{}`` grouping). ``BREAKS`` each change what renders, once: an
exponent, a sign, a term, a fraction turned over, a radical lost; None where a formula has nothing to change.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

Rewrite = Callable[[str, random.Random], str]

_CONTROL_WORD = re.compile(r"\\[A-Za-z]+$")
_LONE_LETTER = re.compile(r"(?<![\\A-Za-z{])([A-Za-z])(?![A-Za-z}])")


def _unbrace_scripts(latex: str, rng: random.Random) -> str:
    """``c^{2}`` as ``c^2``: braces around a one-character script are optional."""
    return re.sub(r"([\^_])\{(\w)\}", r"\1\2", latex)


def _drop_spaces(latex: str, rng: random.Random) -> str:
    """No spaces: TeX ignores them in math, but after a control word before a letter (``\\pm b``)."""

    def space(match: re.Match[str]) -> str:
        before, after = latex[: match.start()], latex[match.end() : match.end() + 1]
        return " " if _CONTROL_WORD.search(before) and after.isalpha() else ""

    return re.sub(r" +", space, latex)


def _add_spaces(latex: str, rng: random.Random) -> str:
    """Spaces around ``=`` and ``+``, and after the number of ``4ac``."""
    latex = re.sub(r"\s*(?<!\\)([=+])\s*", r" \1 ", latex)
    return re.sub(r"(?<=\d)(?=[a-z])", " ", latex)


def _fraction_style(latex: str, rng: random.Random) -> str:
    """``\\frac`` as ``\\dfrac`` or ``\\tfrac``: the same fraction, in another size."""
    return latex.replace(r"\frac", rng.choice((r"\dfrac", r"\tfrac")))


def _short_fractions(latex: str, rng: random.Random) -> str:
    """``\\frac{1}{3}`` as ``\\frac13``: one-character arguments need no braces."""
    return re.sub(r"\\frac\{(\w)\}\{(\w)\}", r"\\frac\1\2", latex)


def _sized_parens(latex: str, rng: random.Random) -> str:
    """``(`` ``)`` as ``\\left( \\right)`` or ``\\bigl( \\bigr)``."""
    left, right = rng.choice(((r"\left(", r"\right)"), (r"\bigl(", r"\bigr)")))
    return latex.replace("(", left).replace(")", right)


def _thin_spaces(latex: str, rng: random.Random) -> str:
    """``\\,`` taken out where there is one, put around ``=`` where there is none."""
    if r"\," in latex:
        return latex.replace(r"\,", "")
    return latex.replace("=", r"\,=\,", 1)


def _group(latex: str, rng: random.Random) -> str:
    """A lone letter in braces: ``{E} = mc^2``; a group that draws nothing."""
    return _LONE_LETTER.sub(r"{\1}", latex, count=1)


def _font_letter(latex: str, rng: random.Random) -> str:
    """A lone letter in its own face, ``\\mathit{E}``, or the ``d`` of ``dx`` upright (``\\mathrm``,
    ``\\text``, ``\\operatorname``): the same letter."""
    if re.search(r"\bdx\b", latex):
        command = rng.choice((r"\mathrm", r"\text", r"\operatorname"))
        return re.sub(r"\bdx\b", lambda _: command + "{d}x", latex, count=1)
    return _LONE_LETTER.sub(lambda match: r"\mathit{" + match.group(1) + "}", latex, count=1)


def _display(latex: str, rng: random.Random) -> str:
    """``\\limits`` on a sum (its display default), or ``\\displaystyle`` before the formula."""
    if r"\sum_" in latex:
        return latex.replace(r"\sum_", r"\sum\limits_")
    return r"\displaystyle " + latex


REWRITES: tuple[Rewrite, ...] = (
    _unbrace_scripts,
    _drop_spaces,
    _add_spaces,
    _fraction_style,
    _short_fractions,
    _sized_parens,
    _thin_spaces,
    _group,
    _font_letter,
    _display,
)


def respell(latex: str, rng: random.Random) -> str:
    """``latex`` in another notation that renders alike: a random selection of ``REWRITES``, at least one
    that changes the spelling."""
    rewrites = list(REWRITES)
    rng.shuffle(rewrites)
    chosen = rewrites[: rng.randint(1, len(rewrites))]
    written = latex
    for rewrite in chosen:
        written = rewrite(written, rng)
    for rewrite in rewrites[len(chosen) :]:
        if written != latex:
            break
        written = rewrite(written, rng)
    return written


# --- broken: one change that makes another formula -----------------------------------------------------


def _brace_end(latex: str, start: int) -> int:
    """The index after the brace group opening at ``start``."""
    depth = 0
    for i in range(start, len(latex)):
        depth += {"{": 1, "}": -1}.get(latex[i], 0)
        if depth == 0:
            return i + 1
    return len(latex)


def _pick(rng: random.Random, matches: list[re.Match[str]]) -> re.Match[str] | None:
    return rng.choice(matches) if matches else None


def wrong_exponent(latex: str, rng: random.Random) -> str | None:
    """One exponent one higher: ``c^{2}`` as ``c^{3}``."""
    match = _pick(rng, list(re.finditer(r"\^\{?(\d)", latex)))
    if match is None:
        return None
    digit = str((int(match.group(1)) + 1) % 10)
    return latex[: match.start(1)] + digit + latex[match.end(1) :]


def swapped_sign(latex: str, rng: random.Random) -> str | None:
    """One ``+`` as ``-`` or the other way round."""
    match = _pick(rng, list(re.finditer(r"(?<![\\^])[+-]", latex)))
    if match is None:
        return None
    return latex[: match.start()] + ("-" if match.group(0) == "+" else "+") + latex[match.end() :]


def dropped_term(latex: str, rng: random.Random) -> str | None:
    """One added or subtracted term lost: ``a^{2} + b^{2} = c^{2}`` as ``a^{2} = c^{2}``."""
    match = _pick(rng, list(re.finditer(r"\s*[+-]\s*(?:[^\s{}=+-]|\{[^{}]*\})+", latex)))
    if match is None:
        return None
    return latex[: match.start()] + latex[match.end() :]


def turned_fraction(latex: str, rng: random.Random) -> str | None:
    """One fraction turned over: ``\\frac{1}{3}`` as ``\\frac{3}{1}``."""
    match = _pick(rng, list(re.finditer(r"\\frac(?=\{)", latex)))
    if match is None:
        return None
    middle = _brace_end(latex, match.end())
    end = _brace_end(latex, middle)
    return latex[: match.end()] + latex[middle:end] + latex[match.end() : middle] + latex[end:]


def lost_root(latex: str, rng: random.Random) -> str | None:
    """One ``\\sqrt`` lost, its argument kept: ``\\sqrt{b^{2} - 4ac}`` as ``{b^{2} - 4ac}``."""
    match = _pick(rng, list(re.finditer(r"\\sqrt(?=\{)", latex)))
    if match is None:
        return None
    return latex[: match.start()] + latex[match.end() :]


# name -> (what the case does, the change)
BREAKS: dict[str, tuple[str, Callable[[str, random.Random], str | None]]] = {
    "one exponent changed": ("one formula with an exponent one higher (`c^{2}` as `c^{3}`)", wrong_exponent),
    "one sign swapped": ("one formula with a `+` as `-` or a `-` as `+`", swapped_sign),
    "one term dropped": ("one formula without one of its added terms (`a^{2} = c^{2}`)", dropped_term),
    "one fraction turned over": ("one formula with a fraction upside down (`\\frac{3}{1}`)", turned_fraction),
    "one \\sqrt lost": ("one formula without its radical (`{b^{2} - 4ac}`)", lost_root),
}
