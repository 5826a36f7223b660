r"""Math facts: is this LaTeX expression among the answer's equations? Decided without a browser.

olmOCR-Bench collects the answer's equations delimited by ``\(...\)``, then ``\[...\]``, then ``$$...$$``, then
``$...$`` (each kind is removed before the next is looked for; every equation is stripped). An equation
identical to the fact's ``math`` passes at once; otherwise olmOCR renders both with KaTeX in a headless Chromium
and passes when the fact's rendering is contained in the equation's (its MathML, or its glyphs with the same
neighbours).

Here, deliberately:
  * no browser: the project's grading stays pure Python and fast (a browser costs seconds per answer and a
    system package). Containment is judged on canonical LaTeX (``normalize.canonical_latex``: sizing and
    spacing commands dropped, ``\dfrac``/``\tfrac`` are ``\frac``, ``x^2`` is ``x^{2}``, insignificant spaces
    dropped): the fact's canonical form must be a substring of an equation's. Spellings that KaTeX renders
    alike but canonical LaTeX keeps apart (``\frac12`` and ``\frac{1}{2}``, ``\mathrm{d}`` and ``d``) fail here
    and pass in olmOCR; the oracle test lists them;
  * a ``$`` is a delimiter only as Pandoc reads it: an opening ``$`` is followed by a non-space, a closing ``$``
    follows a non-space and is not followed by a digit, and an escaped ``\$`` is never one. So "$5 and $6" is
    two amounts of money, not the equation "5 and ", and it no longer swallows the ``$`` of a real equation
    later on the line (olmOCR's ``\$(.+?)\$`` pairs them up and misses the equation).
"""

from __future__ import annotations

import re

from lightonocr_validation.accuracy.normalize import canonical_latex

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


def canonical_math(expr: str) -> str:
    r"""The form two equations are compared in.

    >>> canonical_math(r"\left( \dfrac{a}{b} \right)^2") == canonical_math(r"(\frac{a}{b})^{2}")
    True
    """
    return canonical_latex(expr.strip())


def math_present(math: str, text: str, dollars: bool = True) -> bool:
    r"""Whether the answer has an equation equal to ``math``, or containing it once both are canonical.

    >>> math_present(r"a^2 + b^2", r"So \[ a^{2} + b^{2} = c^{2} \] holds.")
    True
    >>> math_present(r"a^2 + b^2", r"So \[ a^{3} + b^{2} \] holds.")
    False
    """
    found = equations(text, dollars)
    if math in found:
        return True
    wanted = canonical_math(math)
    return bool(wanted) and any(wanted in canonical_math(e) for e in found)
