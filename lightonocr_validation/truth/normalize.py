"""Normalization of OCR Markdown before it is compared, following olmOCR-Bench's ``normalize_text``.

Two renderings of the same page should compare equal when they differ only in ways a reader would not
notice: Unicode composition, typographic quotes and dashes, Markdown emphasis, heading markers, whitespace,
insignificant LaTeX spacing, and HTML table markup (attributes, thead/tbody, whitespace). Every rule is a
small function so a report can say which one made two texts equal.

This is the normalization of the edit-distance metrics (CER, WER, NED). Facts use olmOCR-Bench's own, narrower
normalization (``fact_text``). Math is recognised in ``$$...$$``, ``\\[...\\]``, ``\\(...\\)`` and ``$...$``,
the last as Pandoc reads it (an opening ``$`` before a non-space, a closing ``$`` after a non-space and not
before a digit, ``\\$`` a dollar), so currency ("$5 and $6") is text. ``parse_tables`` reads HTML tables and
Markdown pipe tables; ``normalize_text`` canonicalizes HTML tables only (a pipe table stays text).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser

# --- plain-text rules -------------------------------------------------------------------------------

_PUNCTUATION = str.maketrans(
    {
        "\u2018": "'",  # left single quote
        "\u2019": "'",  # right single quote / typographic apostrophe
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",  # prime, often confused with an apostrophe
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u00ab": '"',  # guillemets: a model may emit either them or ASCII quotes for French text
        "\u00bb": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",  # minus sign
        "\uff3f": "_",
        "\u00a0": " ",  # no-break spaces carry no meaning once whitespace is collapsed
        "\u202f": " ",
        "\u2009": " ",
        "\u00b5": "\u03bc",  # micro sign and Greek mu look identical
        "\u2026": "...",
    }
)


def nfc(text: str) -> str:
    """Compose characters so a base letter plus combining accent equals the precomposed letter.

    >>> nfc("e\\u0301") == "\\u00e9"
    True
    """
    return unicodedata.normalize("NFC", text)


def ascii_punctuation(text: str) -> str:
    """Map typographic quotes, dashes, special spaces and the ellipsis to ASCII.

    >>> ascii_punctuation("\\u201cIt\\u2019s 3\\u20134\\u201d\\u2026")
    '"It\\'s 3-4"...'
    """
    return text.translate(_PUNCTUATION)


def strip_inline_html(text: str) -> str:
    """Drop inline HTML formatting tags and turn ``<br>`` into a space.

    >>> strip_inline_html("a<br/>b <b>bold</b> <em>it</em>")
    'a b bold it'
    """
    text = re.sub(r"<br\s*/?>", " ", text, flags=re.IGNORECASE)
    return re.sub(r"</?(?:b|i|u|em|strong|span|sup|sub)\b[^>]*>", "", text, flags=re.IGNORECASE)


def unify_bullets(text: str) -> str:
    """Write every list bullet as ``- `` (models use ``*``, ``+``, ``•`` interchangeably).

    >>> unify_bullets("• one\\n* two\\n+ three")
    '- one\\n- two\\n- three'
    """
    return re.sub(r"^([ \t]*)(?:[\u2022\u25e6\u25aa\u2023\u00b7*+])[ \t]+", r"\1- ", text, flags=re.MULTILINE)


def strip_heading_markers(text: str) -> str:
    """Remove ``#`` heading markers: whether a line is a heading, and of which level, is optional.

    >>> strip_heading_markers("## Results\\nbody")
    'Results\\nbody'
    """
    return re.sub(r"^[ \t]*#{1,6}[ \t]+", "", text, flags=re.MULTILINE)


def strip_emphasis(text: str) -> str:
    """Remove Markdown bold and italic markers, keeping the words.

    >>> strip_emphasis("**bold** and *it* and __b__ and _i_ but snake_case stays")
    'bold and it and b and i but snake_case stays'
    """
    text = re.sub(r"\*\*(.+?)\*\*", r"\1", text, flags=re.DOTALL)
    text = re.sub(r"(?<!\w)__(.+?)__(?!\w)", r"\1", text, flags=re.DOTALL)
    text = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"\1", text, flags=re.DOTALL)
    return re.sub(r"(?<!\w)_(?!\s)(.+?)(?<!\s)_(?!\w)", r"\1", text, flags=re.DOTALL)


_ESCAPABLE = r"\\`*_{}\[\]()#+\-.!$|<>"
_PRIVATE_BASE = 0xE000  # Unicode private use area: never produced by OCR, safe as a placeholder


def _protect_escapes(text: str) -> str:
    return re.sub(rf"\\([{_ESCAPABLE}])", lambda m: chr(_PRIVATE_BASE + ord(m.group(1))), text)


def _restore_escapes(text: str) -> str:
    return re.sub("[\ue000-\ue07f]", lambda m: chr(ord(m.group(0)) - _PRIVATE_BASE), text)


def unescape_markdown(text: str) -> str:
    """Drop Markdown backslash escapes (LightOnOCR sometimes writes ``\\$`` or ``\\*``).

    >>> unescape_markdown("costs \\\\$5 \\\\* 2")
    'costs $5 * 2'
    """
    return _restore_escapes(_protect_escapes(text))


def collapse_whitespace(text: str) -> str:
    """Turn every run of whitespace, newlines included, into one space and trim the ends.

    >>> collapse_whitespace("  a\\n\\n b\\t c ")
    'a b c'
    """
    return re.sub(r"\s+", " ", text).strip()


def normalize_plain(text: str) -> str:
    """Apply the plain-text rules (no math, no tables) without collapsing whitespace. Escaped characters
    are set aside first so that ``\\*`` is never taken for emphasis."""
    text = _protect_escapes(ascii_punctuation(nfc(text)))
    text = strip_inline_html(text)
    text = unify_bullets(text)
    text = strip_heading_markers(text)
    text = strip_emphasis(text)
    return _restore_escapes(text)


# --- LaTeX ------------------------------------------------------------------------------------------

_LATEX_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|\s+|.", re.DOTALL)
_SPACING_COMMANDS = frozenset({r"\,", r"\;", r"\:", r"\!", r"\ ", r"\quad", r"\qquad", r"\displaystyle"})
_COMMAND_ALIASES = {r"\dfrac": r"\frac", r"\tfrac": r"\frac", r"\le": r"\leq", r"\ge": r"\geq"}


def _latex_tokens(expr: str) -> list[str]:
    return _LATEX_TOKEN.findall(expr)


def latex_drop_sizing(tokens: list[str]) -> list[str]:
    r"""Remove ``\left``/``\right``/``\big``-style sizing: ``\left( x \right)`` means ``(x)``.

    >>> latex_drop_sizing([r"\left", "(", "x", r"\right", ")"])
    ['(', 'x', ')']
    """
    sizing = {
        r"\left",
        r"\right",
        r"\big",
        r"\Big",
        r"\bigg",
        r"\Bigg",
        r"\bigl",
        r"\bigr",
        r"\Bigl",
        r"\Bigr",
    }
    return [t for t in tokens if t not in sizing]


def latex_drop_spacing(tokens: list[str]) -> list[str]:
    r"""Remove spacing commands and ``~``, which change only the look: ``x \, dx`` means ``x dx``.

    >>> latex_drop_spacing(["x", " ", r"\,", " ", "d", "x"])
    ['x', ' ', ' ', 'd', 'x']
    """
    return [t for t in tokens if t not in _SPACING_COMMANDS and t != "~"]


def latex_aliases(tokens: list[str]) -> list[str]:
    r"""Map synonymous commands to one spelling: ``\dfrac`` and ``\tfrac`` are ``\frac``.

    >>> latex_aliases([r"\dfrac", r"\le"])
    ['\\frac', '\\leq']
    """
    return [_COMMAND_ALIASES.get(t, t) for t in tokens]


def latex_brace_scripts(tokens: list[str]) -> list[str]:
    """Brace single-token super- and subscripts: ``x^2`` means ``x^{2}``.

    >>> "".join(latex_brace_scripts(list("x^2_i")))
    'x^{2}_{i}'
    """
    out: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        out.append(token)
        i += 1
        if token in ("^", "_"):
            while i < len(tokens) and tokens[i].isspace():
                i += 1
            if i < len(tokens) and tokens[i] != "{":
                out.extend(["{", tokens[i], "}"])
                i += 1
    return out


def latex_drop_spaces(tokens: list[str]) -> list[str]:
    r"""Remove whitespace, except where it ends a control word before a letter (``\pm b`` is not ``\pmb``).

    >>> "".join(latex_drop_spaces([r"\pm", " ", "b", " ", "+", " ", "c"]))
    '\\pm b+c'
    """
    out: list[str] = []
    for i, token in enumerate(tokens):
        if not token.isspace():
            out.append(token)
            continue
        prev = out[-1] if out else ""
        nxt = next((t for t in tokens[i + 1 :] if not t.isspace()), "")
        if re.fullmatch(r"\\[A-Za-z]+", prev) and nxt[:1].isalpha():
            out.append(" ")
    return out


def canonical_latex(expr: str) -> str:
    r"""Canonical spelling of a LaTeX expression, so equivalent spellings compare equal.

    >>> canonical_latex(r"\left( a^2 + b^2 \right) \, dx") == canonical_latex(r"(a^{2}+b^{2})dx")
    True
    """
    tokens = _latex_tokens(expr)
    for rule in (
        latex_drop_sizing,
        latex_drop_spacing,
        latex_aliases,
        latex_brace_scripts,
        latex_drop_spaces,
    ):
        tokens = rule(tokens)
    return "".join(tokens).strip()


# --- HTML tables ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One table cell as written in the HTML (before spans are expanded)."""

    text: str
    header: bool = False
    colspan: int = 1
    rowspan: int = 1


@dataclass(frozen=True)
class Table:
    """A parsed table (HTML or Markdown pipe): rows of cells as written."""

    rows: tuple[tuple[Cell, ...], ...]

    def grid(self) -> list[list[str]]:
        """Cells laid out on a grid; a spanning cell fills every position it covers, ragged rows padded."""
        placed: dict[tuple[int, int], str] = {}
        for r, row in enumerate(self.rows):
            c = 0
            for cell in row:
                while (r, c) in placed:
                    c += 1
                for dr in range(cell.rowspan):
                    for dc in range(cell.colspan):
                        placed[(r + dr, c + dc)] = cell.text
                c += cell.colspan
        if not placed:
            return []
        height = max(r for r, _ in placed) + 1
        width = max(c for _, c in placed) + 1
        return [[placed.get((r, c), "") for c in range(width)] for r in range(height)]

    def html(self) -> str:
        """Canonical HTML: no attributes but spans, no thead/tbody, no whitespace between tags."""
        parts = ["<table>"]
        for row in self.rows:
            parts.append("<tr>")
            for cell in row:
                tag = "th" if cell.header else "td"
                attrs = (f' colspan="{cell.colspan}"' if cell.colspan > 1 else "") + (
                    f' rowspan="{cell.rowspan}"' if cell.rowspan > 1 else ""
                )
                parts.append(f"<{tag}{attrs}>{cell.text}</{tag}>")
            parts.append("</tr>")
        parts.append("</table>")
        return "".join(parts)


def _span(value: str | None) -> int:
    try:
        return max(1, min(int(value or "1"), 1000))
    except ValueError:
        return 1


class _TableParser(HTMLParser):
    """Collects the tables of a fragment; nested tags inside a cell contribute only their text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[Table] = []
        self._rows: list[tuple[Cell, ...]] | None = None
        self._row: list[Cell] | None = None
        self._cell: dict[str, object] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._rows = []
        elif tag == "tr" and self._rows is not None:
            self._close_row()
            self._row = []
        elif tag in ("td", "th") and self._rows is not None:
            self._close_cell()
            if self._row is None:
                self._row = []
            a = dict(attrs)
            self._cell = {
                "header": tag == "th",
                "colspan": _span(a.get("colspan")),
                "rowspan": _span(a.get("rowspan")),
            }
            self._text = []
        elif tag == "br" and self._cell is not None:
            self._text.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self._close_cell()
        elif tag == "tr":
            self._close_row()
        elif tag == "table" and self._rows is not None:
            self._close_row()
            self.tables.append(Table(tuple(self._rows)))
            self._rows = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._text.append(data)

    def _close_cell(self) -> None:
        if self._cell is None or self._row is None:
            return
        text = collapse_whitespace(normalize_plain_and_math("".join(self._text)))
        self._row.append(
            Cell(
                text,
                bool(self._cell["header"]),
                int(str(self._cell["colspan"])),
                int(str(self._cell["rowspan"])),
            )
        )
        self._cell = None

    def _close_row(self) -> None:
        self._close_cell()
        if self._row is not None and self._rows is not None and self._row:
            self._rows.append(tuple(self._row))
        self._row = None


_TABLE_RE = re.compile(r"<table\b.*?(?:</table\s*>|\Z)", re.IGNORECASE | re.DOTALL)


def parse_tables(text: str) -> list[Table]:
    """Every table in ``text`` in document order: HTML tables (an unterminated one is closed) and Markdown pipe
    tables (a header row, a ``---`` separator row, body rows), with normalized cell text.

    >>> parse_tables("<table><tr><th>A</th></tr><tr><td>1</td></tr></table>")[0].grid()
    [['A'], ['1']]
    >>> parse_tables("| A | B |\\n|:--|--:|\\n| 1 | 2 \\\\| 3 |")[0].grid()
    [['A', 'B'], ['1', '2 | 3']]
    """
    found = [(m.start(), t) for m in _TABLE_RE.finditer(text) for t in parse_html_tables(m.group(0))]
    outside = _TABLE_RE.sub(lambda m: "\n" * m.group(0).count("\n"), text)  # keeps line numbers, drops HTML
    found += [(pos, table) for pos, table in parse_pipe_tables(outside)]
    return [table for _, table in sorted(found, key=lambda item: item[0])]


_PIPE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$")


def _pipe_cells(line: str) -> list[str]:
    line = line.strip()
    line = line[1:] if line.startswith("|") else line
    line = line[:-1] if line.endswith("|") and not line.endswith("\\|") else line
    cells = re.split(r"(?<!\\)\|", line)
    return [collapse_whitespace(normalize_plain_and_math(c.replace("\\|", "|"))) for c in cells]


def parse_pipe_tables(text: str) -> list[tuple[int, Table]]:
    """Markdown pipe tables (GFM: a header row, then a separator row, then rows holding a ``|``), each with the
    offset of its first line; the header row's cells are header cells, ``\\|`` is a literal pipe.

    >>> [t.grid() for _, t in parse_pipe_tables("x\\n| a | b |\\n|---|---|\\n| 1 | 2 |\\ntext")]
    [[['a', 'b'], ['1', '2']]]
    """
    lines = text.split("\n")
    offsets = [0]
    for line in lines[:-1]:
        offsets.append(offsets[-1] + len(line) + 1)
    tables: list[tuple[int, Table]] = []
    i = 0
    while i + 1 < len(lines):
        if "|" in lines[i] and _PIPE_SEPARATOR.match(lines[i + 1]) and "-" in lines[i + 1]:
            rows = [tuple(Cell(t, header=True) for t in _pipe_cells(lines[i]))]
            j = i + 2
            while j < len(lines) and "|" in lines[j] and lines[j].strip():
                rows.append(tuple(Cell(t) for t in _pipe_cells(lines[j])))
                j += 1
            tables.append((offsets[i], Table(tuple(rows))))
            i = j
        else:
            i += 1
    return tables


def parse_html_tables(text: str) -> list[Table]:
    """Every HTML table in ``text``, with normalized cell text (an unterminated table is closed).

    >>> parse_html_tables("<table><tr><td>a</td><td>b</td></tr></table>")[0].grid()
    [['a', 'b']]
    """
    tables: list[Table] = []
    for match in _TABLE_RE.finditer(text):
        fragment = match.group(0)
        if not re.search(r"</table\s*>\s*$", fragment, flags=re.IGNORECASE):
            fragment += "</table>"
        parser = _TableParser()
        parser.feed(fragment)
        parser.close()
        tables.extend(parser.tables)
    return tables


def table_to_plain(table: Table) -> str:
    """A table as plain text, one row a line, cells separated by spaces (what a plain OCR engine reads).

    >>> table_to_plain(parse_tables("<table><tr><td>a</td><td>b</td></tr></table>")[0])
    'a b'
    """
    return "\n".join(" ".join(cell.text for cell in row) for row in table.rows)


# --- whole documents --------------------------------------------------------------------------------

# Inline ``$...$`` follows Pandoc: the opening ``$`` is followed by a non-space, the closing one follows a
# non-space and is not followed by a digit, and ``\$`` is a dollar. So "$5 and $6" stays two amounts of money.
_MATH_RE = re.compile(
    r"(?<!\\)\$\$(?P<d1>.+?)(?<!\\)\$\$|\\\[(?P<d2>.+?)\\\]|\\\((?P<i1>.+?)\\\)"
    r"|(?<![\\$])\$(?=[^\s$])(?P<i2>(?:[^$\\\n]++|\\.)++)(?<=[^\s\\])\$(?!\d)",
    re.DOTALL,
)


def normalize_plain_and_math(text: str) -> str:
    """Normalize text that has no tables: LaTeX spans are canonicalized, the rest gets the plain rules."""
    out: list[str] = []
    pos = 0
    for match in _MATH_RE.finditer(text):
        out.append(normalize_plain(text[pos : match.start()]))
        display = match.group("d1") if match.group("d1") is not None else match.group("d2")
        if display is not None:
            out.append(f" $${canonical_latex(ascii_punctuation(nfc(display)))}$$ ")
        else:
            inline = match.group("i1") if match.group("i1") is not None else match.group("i2")
            out.append(f"${canonical_latex(ascii_punctuation(nfc(inline)))}$")
        pos = match.end()
    out.append(normalize_plain(text[pos:]))
    return "".join(out)


def normalize_text(text: str) -> str:
    """The normalization every comparison uses: plain rules, canonical LaTeX, canonical HTML tables,
    then whitespace collapsed.

    >>> normalize_text("## Title\\n\\n**Bold** \\u201cquote\\u201d $x^2$")
    'Title Bold "quote" $x^{2}$'
    """
    out: list[str] = []
    pos = 0
    for match in _TABLE_RE.finditer(text):
        out.append(normalize_plain_and_math(text[pos : match.start()]))
        out.extend(f" {table.html()} " for table in parse_html_tables(match.group(0)))
        pos = match.end()
    out.append(normalize_plain_and_math(text[pos:]))
    return collapse_whitespace("".join(out))


def latex_to_plain(expr: str) -> str:
    r"""LaTeX as the characters a reader sees, for comparison with plain OCR: fractions become
    "numerator denominator", scripts lose their markers, symbols become Unicode.

    >>> latex_to_plain(r"x = \frac{-b \pm \sqrt{b^{2} - 4ac}}{2a}")
    'x = -b ± √b2 - 4ac 2a'
    """
    expr = _flatten_fracs(expr)
    expr = re.sub(r"\\[A-Za-z]+", lambda m: _LATEX_SYMBOLS.get(m.group(0), " "), expr)
    expr = re.sub(r"\\.", " ", expr)
    return collapse_whitespace(re.sub(r"[{}^_]", "", expr))


def _brace_group(expr: str, start: int) -> tuple[str, int]:
    """The contents of the brace group opening at ``start`` (or the single character there) and the index
    after it."""
    if start >= len(expr) or expr[start] != "{":
        return expr[start : start + 1], start + 1
    depth = 0
    for i in range(start, len(expr)):
        depth += {"{": 1, "}": -1}.get(expr[i], 0)
        if depth == 0:
            return expr[start + 1 : i], i + 1
    return expr[start + 1 :], len(expr)


def _flatten_fracs(expr: str) -> str:
    match = re.search(r"\\[dt]?frac\s*", expr)
    if match is None:
        return expr
    numerator, after = _brace_group(expr, match.end())
    denominator, end = _brace_group(expr, after)
    flat = f"{expr[: match.start()]} {_flatten_fracs(numerator)} {_flatten_fracs(denominator)} "
    return flat + _flatten_fracs(expr[end:])


_LATEX_SYMBOLS = {r"\pm": "±", r"\sqrt": "√", r"\int": "∫", r"\sum": "Σ", r"\times": "\u00d7", r"\cdot": "·"}


def to_plain_text(text: str) -> str:
    """Normalized text with tables flattened to cell text and LaTeX turned into the characters shown,
    for comparing against an engine that reads only characters (Tesseract).

    >>> to_plain_text("Sum: $a^{2} + b$ <table><tr><td>x</td><td>y</td></tr></table>")
    'Sum: a2 + b x y'
    """
    out: list[str] = []
    pos = 0
    for match in _TABLE_RE.finditer(text):
        out.append(text[pos : match.start()])
        out.extend(f"\n{table_to_plain(t)}\n" for t in parse_html_tables(match.group(0)))
        pos = match.end()
    out.append(text[pos:])
    flat = "".join(out)
    flat = _MATH_RE.sub(lambda m: " " + latex_to_plain(next(g for g in m.groups() if g is not None)) + " ", flat)
    return normalize_text(flat)
