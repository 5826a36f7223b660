"""Replace the text between `<!-- generated:begin NAME -->` and `<!-- generated:end NAME -->`, nothing else.

Hand-written prose around the markers is kept byte for byte, so a document can mix explanation with
blocks rendered from the code. A marker without its generator, or a generator without its marker, is an
error: silently dropping either would let the document drift from the code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

BEGIN = "<!-- generated:begin {name} -->"
END = "<!-- generated:end {name} -->"

_BLOCK = re.compile(
    r"^<!-- generated:begin (?P<name>[\w-]+) -->\n(?P<body>.*?)^<!-- generated:end (?P=name) -->$",
    re.MULTILINE | re.DOTALL,
)
_ANY_MARKER = re.compile(r"^<!-- generated:(?:begin|end) ([\w-]+) -->$", re.MULTILINE)


class MarkerError(ValueError):
    """The markers of a document and the blocks its generator renders do not match."""


def empty_block(name: str) -> str:
    """A placeholder pair of markers, for templates: the generator fills it."""
    return f"{BEGIN.format(name=name)}\n{END.format(name=name)}"


def names(text: str) -> list[str]:
    return [match["name"] for match in _BLOCK.finditer(text)]


def fill(text: str, blocks: Mapping[str, str], *, document: str = "the document") -> str:
    """`text` with every generated block replaced by `blocks[name]`; everything else untouched."""
    found = names(text)
    duplicates = sorted({name for name in found if found.count(name) > 1})
    if duplicates:
        raise MarkerError(f"{document}: generated blocks appear more than once: {', '.join(duplicates)}")
    unpaired = sorted(set(_ANY_MARKER.findall(text)) - set(found))
    if unpaired:
        raise MarkerError(f"{document}: markers without their begin/end partner: {', '.join(unpaired)}")
    unknown = sorted(set(found) - set(blocks))
    if unknown:
        listed = ", ".join(unknown)
        raise MarkerError(f"{document}: no generator renders the blocks {listed}; remove their markers")
    missing = sorted(set(blocks) - set(found))
    if missing:
        lines = ", ".join(f"{BEGIN.format(name=name)} … {END.format(name=name)}" for name in missing)
        raise MarkerError(f"{document}: add the markers for the generated blocks {lines}")

    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        # Blank lines around the body so Markdown never glues a table or list to the HTML comment.
        body = blocks[name].strip("\n")
        return f"{BEGIN.format(name=name)}\n\n{body}\n\n{END.format(name=name)}"

    return _BLOCK.sub(replace, text)
