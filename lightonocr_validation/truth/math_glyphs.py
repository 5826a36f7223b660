r"""A rendered formula as what a reader sees: its glyphs, in their places on the page, and nothing else.

KaTeX's MathML (``katex_render``) still records how the LaTeX was written where the page shows no difference:
``\left(`` is ``<mo fence="true">(``, ``\dfrac`` adds an ``<mstyle>``, ``\,`` an ``<mspace>``, ``\mathrm{d}`` a
``mathvariant``, ``\operatorname`` an invisible function application, ``{}`` an ``<mrow>``. ``glyphs`` keeps what
changes the picture:

  * every visible character, one token each (``sin`` as an operator, as text or as letters is ``s i n``: the same
    ink), in the face it is drawn in only where the face makes another symbol (double-struck, fraktur, script:
    ``\mathbb{R}`` is not ``R``); italic, upright, bold and sans are one letter in another face;
  * the layout: a superscript, a fraction, a root, an accent, a matrix is a structure token, each of its parts a
    group; ``(a b)^c`` and ``a^{bc}`` stay apart, and a fraction with no bar (``\binom``) is not a fraction;
  * no spacing, no sizing, no invisible operators, no grouping that draws nothing.

Two formulas render alike when their glyph sequences are equal; a fact's formula is in an equation when its
sequence is a run of the equation's (olmOCR-Bench: the fact's MathML inside the equation's, or the fact's glyphs
among the equation's with the same neighbours).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

# Layout elements whose children are separate parts (base and script, numerator and denominator, ...).
_PARTS = frozenset({"msup", "msub", "msubsup", "mfrac", "mroot", "munder", "mover", "munderover", "mmultiscripts"})
# Elements that only group, space or style: their children are read as one run.
_TRANSPARENT = frozenset({"math", "semantics", "mrow", "mstyle", "mpadded", "merror"})
_INVISIBLE_ELEMENTS = frozenset({"annotation", "annotation-xml", "mspace", "mphantom", "none", "mprescripts"})
_TOKENS = frozenset({"mi", "mn", "mo", "mtext", "ms"})
# Faces that make another symbol (U+211D is not R); every other mathvariant is the same letter.
_SYMBOL_FACES = frozenset({"double-struck", "fraktur", "bold-fraktur", "script", "bold-script"})
_INVISIBLE_CHARS = frozenset("\u200b\u2060\u2061\u2062\u2063\u2064\ufeff")
# Attributes that change the picture: a bar-less fraction, the kind of enclosure.
_SHAPES = ("linethickness", "notation")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _token(element: ET.Element, out: list[str]) -> None:
    face = element.get("mathvariant", "")
    for char in element.text or "":
        if char.isspace() or char in _INVISIBLE_CHARS:
            continue
        out.append(f"{char}:{face}" if face in _SYMBOL_FACES else char)


def _fenced(element: ET.Element) -> bool:
    """``\\left( ... \\right)``: a row that ends with a fence."""
    last = element[-1] if len(element) else None
    return _local(element.tag) == "mrow" and last is not None and last.get("fence") == "true"


def _walk(element: ET.Element, out: list[str]) -> None:
    tag = _local(element.tag)
    if tag in ("msup", "msub", "msubsup") and len(element) and _fenced(element[0]):
        # A script on \left(...\right) is drawn after the closing fence, as on a plain ``)``: read it so.
        base, *scripts = list(element)
        *inside, closing = list(base)
        for child in inside:
            _walk(child, out)
        element = ET.Element(element.tag, element.attrib)
        element.extend([closing, *scripts])
    if tag in _INVISIBLE_ELEMENTS:
        return
    if tag in _TOKENS:
        _token(element, out)
        return
    if tag in _TRANSPARENT or tag == "span":
        for child in element:
            _walk(child, out)
        return
    shape = "".join(f" {name}={element.get(name)}" for name in _SHAPES if element.get(name) is not None)
    out.append(f"<{tag}{shape}")
    parts = [[child] for child in element] if tag in _PARTS else [list(element)]
    for part in parts:
        out.append("<<")
        for child in part:
            _walk(child, out)
        out.append(">>")
    out.append(f"{tag}>")


def glyphs(mathml: str) -> tuple[str, ...]:
    r"""The glyph tokens of KaTeX's MathML (its ``<span class="katex">`` or a bare ``<math>``).

    >>> from lightonocr_validation.truth.katex_render import render
    >>> glyphs(render(r"\left( \dfrac{a}{b} \right)^{2}").mathml) == glyphs(render(r"(\frac ab)^2").mathml)
    True
    >>> " ".join(glyphs(render(r"x^2").mathml))
    '<msup << x >> << 2 >> msup>'
    """
    out: list[str] = []
    _walk(ET.fromstring(mathml), out)
    return tuple(out)


_SEPARATOR = "\x1f"


def contains(whole: tuple[str, ...], part: tuple[str, ...]) -> bool:
    """Whether ``part`` is a run of consecutive tokens of ``whole``.

    >>> contains(("a", "=", "b", "+", "c"), ("b", "+", "c")), contains(("1", "2"), ("2", "1"))
    (True, False)
    """
    return f"{_SEPARATOR}{_SEPARATOR.join(part)}{_SEPARATOR}" in f"{_SEPARATOR}{_SEPARATOR.join(whole)}{_SEPARATOR}"
