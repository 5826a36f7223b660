"""Tables laid out the way olmOCR-Bench's table facts see them (written here from its documented behaviour).

This layout is NOT the span-expanded grid of ``normalize.Table.grid()`` (which the cell score uses); it keeps
olmOCR's quirks, because a table fact's verdict depends on them:

HTML tables (every ``<table>``; rows are its ``<tr>``, cells its ``<td>``/``<th>``):
  * a cell's text is its text content with ``<br>`` as a newline, stripped;
  * a ``colspan`` cell takes ONE position in its own row (the next cell follows it directly), while in the
    rows below it covers with a rowspan, its first column repeats its text and its other columns are empty;
  * positions covered from above are inserted only before a cell of the row, never after the row's last cell;
    rows are padded with empty cells to the widest row;
  * header rows: rows inside ``<thead>``, rows holding a ``<th>``, rows a ``<th>`` spans down into;
    header columns: every column a ``<th>`` covers;
  * column headings: each ``<th>``'s text for every column it covers, and a spanning ``<th>`` also heads every
    column from its own to the end of each data row; row headings: the text of header-column cells, of
    ``<td>`` cells spanning down in a header column, and of ``<th>`` spanning down.

Markdown pipe tables: two or more consecutive lines holding a ``|``; the first row made only of ``-``, ``:``,
spaces and pipes is dropped, as is any line made only of those; cells split on ``|`` and stripped, one empty
cell removed at each end; the first row heads every column and the first column heads every row below it.
A pipe table needs no separator row here (olmOCR does not ask for one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class FactTable:
    """Cells on olmOCR's grid plus the header information its heading relations use."""

    data: list[list[str]]
    header_rows: set[int] = field(default_factory=set)
    header_cols: set[int] = field(default_factory=set)
    col_headers: dict[int, list[str]] = field(default_factory=dict)
    row_headers: dict[int, list[str]] = field(default_factory=dict)

    @property
    def height(self) -> int:
        return len(self.data)

    @property
    def width(self) -> int:
        return len(self.data[0]) if self.data else 0


def _pad(rows: list[list[str]]) -> list[list[str]]:
    width = max((len(r) for r in rows), default=0)
    return [r + [""] * (width - len(r)) for r in rows]


# --- Markdown pipe tables ---------------------------------------------------------------------------


def _is_rule(line: str) -> bool:
    return bool(line.strip()) and all(c in "- :|" for c in line)


def _pipe_rows(lines: list[str]) -> list[list[str]]:
    separator = next(
        (i for i, line in enumerate(lines) if (bare := line.replace("|", "").strip()) and set(bare) <= set("- :")),
        None,
    )
    rows = []
    for i, line in enumerate(lines):
        if i == separator or _is_rule(line):
            continue
        cells = [c.strip() for c in line.split("|")]
        if cells and cells[0] == "":
            cells = cells[1:]
        if cells and cells[-1] == "":
            cells = cells[:-1]
        if cells:
            rows.append(cells)
    return rows


def pipe_tables(text: str) -> list[FactTable]:
    """Markdown pipe tables as olmOCR reads them.

    >>> pipe_tables("| A | B |\\n|---|---|\\n| 1 | 2 |")[0].data
    [['A', 'B'], ['1', '2']]
    """
    blocks: list[list[str]] = []
    current: list[str] = []
    for line in text.strip().split("\n"):
        if "|" in line:
            current.append(line)
            continue
        if current:
            blocks.append(current)
        current = []
    if current:
        blocks.append(current)
    tables = []
    for block in blocks:
        rows = _pipe_rows(block) if len(block) >= 2 else []
        if not rows:
            continue
        data = _pad(rows)
        width = len(data[0])
        tables.append(
            FactTable(
                data=data,
                header_rows={0},
                header_cols={0} if width else set(),
                col_headers={c: [data[0][c]] for c in range(width)},
                row_headers={r: [data[r][0]] for r in range(1, len(data))} if width else {},
            )
        )
    return tables


# --- HTML tables ------------------------------------------------------------------------------------


@dataclass
class _RawCell:
    header: bool
    rowspan: int
    colspan: int
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.parts).strip()


@dataclass
class _RawRow:
    in_thead: bool
    cells: list[_RawCell] = field(default_factory=list)


def _span(value: str | None) -> int:
    try:
        return max(1, min(int(value or "1"), 1000))
    except ValueError:
        return 1


class _RawTableParser(HTMLParser):
    """Rows and cells of every table, as written (nested tables are read as part of their cell's text)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[_RawRow]] = []
        self._depth = 0
        self._thead = False
        self._cell: _RawCell | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._depth += 1
            if self._depth == 1:
                self.tables.append([])
        elif self._depth != 1:
            if tag == "br" and self._cell is not None:
                self._cell.parts.append("\n")
        elif tag == "thead":
            self._thead = True
        elif tag == "tr":
            self._cell = None
            self.tables[-1].append(_RawRow(self._thead))
        elif tag in ("td", "th") and self.tables[-1]:
            a = dict(attrs)
            self._cell = _RawCell(tag == "th", _span(a.get("rowspan")), _span(a.get("colspan")))
            self.tables[-1][-1].cells.append(self._cell)
        elif tag == "br" and self._cell is not None:
            self._cell.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" and self._cell is not None:
            self._cell.parts.append("\n")
        elif tag not in ("table", "tr", "td", "th", "thead"):
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._depth:
            self._depth -= 1
            if self._depth == 0:
                self._cell = None
                self._thead = False
        elif self._depth == 1 and tag == "thead":
            self._thead = False
        elif self._depth == 1 and tag in ("td", "th", "tr"):
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.parts.append(data)


def _layout(rows: list[_RawRow]) -> FactTable | None:
    data: list[list[str]] = []
    header_rows = {i for i, row in enumerate(rows) if row.in_thead}
    header_cols: set[int] = set()
    col_headers: dict[int, list[str]] = {}
    row_headers: dict[int, list[str]] = {}
    covered: dict[tuple[int, int], str] = {}
    spanning_headings: dict[str, set[int]] = {}  # a colspan <th>'s text -> the columns it covers
    tall_headings: dict[str, set[int]] = {}  # a rowspan <th>'s text -> the rows it covers
    for r, row in enumerate(rows):
        out: list[str] = []
        c = 0
        if any(cell.header for cell in row.cells):
            header_rows.add(r)
        for cell in row.cells:
            while (r, c) in covered:
                out.append(covered[(r, c)])
                c += 1
            text = cell.text
            out.append(text)
            for dr in range(cell.rowspan):
                for dc in range(cell.colspan):
                    if dr or dc:
                        covered[(r + dr, c + dc)] = text if dc == 0 else ""
            if cell.header:
                header_cols.update(range(c, c + cell.colspan))
                header_rows.update(r + dr for dr in range(1, cell.rowspan) if r + dr < len(rows))
                for col in range(c, c + cell.colspan):
                    col_headers.setdefault(col, []).append(text)
                    if text and cell.colspan > 1:
                        spanning_headings.setdefault(text, set()).add(col)
                if text and cell.rowspan > 1:
                    tall_headings.setdefault(text, set()).update(range(r, r + cell.rowspan))
            elif cell.rowspan > 1 and c in header_cols:
                for dr in range(1, cell.rowspan):
                    if r + dr < len(rows):
                        row_headers.setdefault(r + dr, []).append(text)
            c += cell.colspan
        data.append(out)
    if not data:
        return None

    def add(headings: dict[int, list[str]], key: int, text: str) -> None:
        if text not in headings.setdefault(key, []):
            headings[key].append(text)

    for text, columns in spanning_headings.items():
        for col in columns:
            for r, row in enumerate(data):
                if r not in header_rows:
                    for j in range(col, len(row)):
                        add(col_headers, j, text)
    for text, covered_rows in tall_headings.items():
        for r in covered_rows:
            if r < len(data):
                add(row_headers, r, text)
    for col in header_cols:
        for r, row in enumerate(data):
            if col < len(row) and row[col].strip():
                add(row_headers, r, row[col])
    return FactTable(_pad(data), header_rows, header_cols, col_headers, row_headers)


def html_tables(text: str) -> list[FactTable]:
    """HTML tables as olmOCR reads them: a colspan takes one position in its own row.

    >>> html = '<tr><td colspan="2">A</td><td>B</td></tr><tr><td>1</td><td>2</td><td>3</td></tr>'
    >>> html_tables(f"<table>{html}</table>")[0].data
    [['A', 'B', ''], ['1', '2', '3']]
    """
    if "<table" not in text.lower():
        return []
    parser = _RawTableParser()
    parser.feed(text)
    parser.close()
    return [t for t in (_layout(rows) for rows in parser.tables) if t is not None]


def fact_tables(text: str, markdown: bool = True) -> list[FactTable]:
    """Every table a table fact looks at: pipe tables (unless ``markdown`` is False), then HTML tables."""
    return [*(pipe_tables(text) if markdown else []), *html_tables(text)]
