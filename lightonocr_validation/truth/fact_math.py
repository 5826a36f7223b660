r"""Math facts: is this formula among the answer's equations, as it renders? Decided without a browser.

olmOCR-Bench collects the answer's equations delimited by ``\(...\)``, then ``\[...\]``, then ``$$...$$``, then
``$...$`` (each kind is removed before the next is looked for; every equation is stripped). An equation
identical to the fact's ``math`` passes at once; otherwise olmOCR renders both with KaTeX in a headless Chromium
and passes when the fact's rendering is contained in the equation's (its MathML, or its glyphs with the same
neighbours).

Here the same KaTeX renders both, in QuickJS instead of a browser (``katex_render``), and the fact passes when
its glyphs and layout (``math_glyphs``: what the reader sees, not how the LaTeX spelt it) are a run of an
equation's. So ``mc^2`` is ``mc^{2}``, ``\dfrac`` is ``\frac``, ``\operatorname{f}`` is ``\mathrm{f}`` is
``\text{f}``, ``f'`` is ``f^{\prime}``; a changed exponent, a lost ``\sqrt``, a swapped sign or a turned-over
fraction is another formula. Deliberately, as the oracle test lists:
  * a ``$`` is a delimiter only as Pandoc reads it: an opening ``$`` is followed by a non-space, a closing ``$``
    follows a non-space and is not followed by a digit, and an escaped ``\$`` is never one. So "$5 and $6" is
    two amounts of money, not the equation "5 and ", and it no longer swallows the ``$`` of a real equation
    later on the line (olmOCR's ``\$(.+?)\$`` pairs them up and misses the equation);
  * a radical is a structure here (olmOCR's glyph comparison skips what KaTeX draws as SVG, so its ``\sqrt{2}``
    matches any 2), and a double-struck, fraktur or script letter is another symbol (``\mathbb{R}`` is not
    ``R``; olmOCR compares the characters only);
  * at most ``MAX_RENDERED`` equations of one answer are rendered for one fact, the closest to it in spelling
    first (olmOCR's order), so an answer of thousands of equations costs seconds, not minutes.
"""

from __future__ import annotations

import re

from rapidfuzz import fuzz

from lightonocr_validation.truth.katex_render import render
from lightonocr_validation.truth.math_glyphs import contains, glyphs

MAX_RENDERED = 500

_PARENS = re.compile(r"\\\((.+?)\\\)", re.DOTALL)
_BRACKETS = re.compile(r"\\\[(.+?)\\\]", re.DOTALL)
_DOUBLE_DOLLARS = re.compile(r"(?<!\\)\$\$(.+?)(?<!\\)\$\$", re.DOTALL)
# Pandoc's inline math: $ then a non-space ... a non-space then $, not followed by a digit; \$ is a dollar.
# The body runs to the next unescaped $ (possessive: no backtracking, linear on a huge answer).
_DOLLARS = re.compile(r"(?<![\\$])\$(?=[^\s$])((?:[^$\\]++|\\.)++)(?<=[^\s\\])\$(?!\d)", re.DOTALL)


def equations(text: str, dollars: bool = True) -> list[str]:
    r"""The answer's equations, stripped, in olmOCR's collection order (``dollars=False``: only ``\(``/``\[``).

    >>> equations(r"Price $5 and $6; area $x^2$ and \(y\) and $$z$$")
    ['y', 'z', 'x^2']
    """
    found: list[str] = []
    patterns = [_PARENS, _BRACKETS, *((_DOUBLE_DOLLARS, _DOLLARS) if dollars else ())]
    for pattern in patterns:
        found.extend(m.strip() for m in pattern.findall(text))
        text = pattern.sub("", text)
    return found


def formula(latex: str) -> tuple[str, ...] | None:
    r"""The glyphs ``latex`` renders as, or None when KaTeX cannot render it.

    >>> formula(r"\left( \dfrac{a}{b} \right)^2") == formula(r"(\frac ab)^{2}"), formula(r"\frac{1")
    (True, None)
    """
    rendering = render(latex)
    return None if rendering.error else glyphs(rendering.mathml)


def render_error(latex: str) -> str:
    """Why KaTeX cannot render ``latex`` ('' when it can): a math fact must render, as in olmOCR-Bench."""
    return render(latex).error


def math_present(math: str, text: str, dollars: bool = True) -> bool:
    r"""Whether the answer has an equation equal to ``math``, or rendering with ``math``'s glyphs among its own.

    >>> math_present(r"a^2 + b^2", r"So \[ a^{2}+b^{2} = c^{2} \] holds.")
    True
    >>> math_present(r"a^2 + b^2", r"So \[ a^{3} + b^{2} \] holds.")
    False
    """
    found = equations(text, dollars)
    if math in found:
        return True
    wanted = formula(math)
    if wanted is None:
        return False
    closest = sorted(dict.fromkeys(found), key=lambda e: -fuzz.ratio(e, math))[:MAX_RENDERED]
    return any((got := formula(e)) is not None and contains(got, wanted) for e in closest)


def shown(latex: str) -> str:
    """The characters ``latex`` shows, in reading order (its glyphs without the layout), or ``latex`` itself
    when KaTeX cannot render it.

    >>> shown(r"\\left( \\dfrac{a}{b} \\right)^2"), shown(r"\\frac{1")
    ('(ab)2', '\\\\frac{1')
    """
    tokens = formula(latex)
    if tokens is None:
        return latex
    return "".join(token[0] for token in tokens if len(token) == 1 or token[1] == ":")  # glyphs, not layout


def formulas_as_shown(text: str) -> str:
    """``text`` with every equation (delimited as ``equations`` finds them) replaced by the characters it shows:
    the prose around formulas compared by characters, and each formula by what it renders, whatever its notation.

    >>> formulas_as_shown(r"so $E=mc^2$ and \\[ \\frac{1}{3} \\] hold")
    'so  E=mc2  and  13  hold'
    """
    for pattern in (_PARENS, _BRACKETS, _DOUBLE_DOLLARS, _DOLLARS):
        text = pattern.sub(lambda match: f" {shown(match.group(1).strip())} ", text)
    return text
