"""Generated (seeded) fact cases for comparing our fact engine with olmOCR-Bench's scorer.

Each case is an answer (the model's Markdown) and one fact in olmOCR-Bench's jsonl form. The generators aim at
the boundaries: fuzzy near misses around ``max_diffs``, case, ``first_n``/``last_n`` windows, repeated
occurrences for ``order``, pipe and HTML tables with spans, headings and empty cells, every math delimiter,
currency and escaped dollars, looping endings and disallowed characters; last, the math pairs of math_pairs.py
(formulas written in notation that renders alike or not).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

WORDS = [
    "river",
    "stone",
    "table",
    "garden",
    "budget",
    "council",
    "harbour",
    "meeting",
    "lantern",
    "winter",
    "copper",
    "valley",
    "ledger",
    "orchard",
    "signal",
    "market",
    "bridge",
    "candle",
    "pepper",
    "silver",
    "meadow",
    "timber",
    "quarry",
    "violet",
    "basket",
    "saddle",
    "thistle",
    "anchor",
]
STYLES = ("{w}", "**{w}**", "*{w}*", "_{w}_", "__{w}__", "<b>{w}</b>", "<i>{w}</i>")
TYPOGRAPHY = {"'": "\u2019", '"': "\u201c", "-": "\u2013"}


@dataclass(frozen=True)
class Case:
    id: str
    answer: str
    fact: dict[str, object]


def _mutate(rng: random.Random, text: str, edits: int) -> str:
    chars = list(text)
    for _ in range(edits):
        op = rng.choice("sid") if len(chars) > 2 else "i"
        at = rng.randrange(len(chars)) if chars else 0
        if op == "s" and chars:
            chars[at] = rng.choice("xqzk")
        elif op == "d" and chars:
            del chars[at]
        else:
            chars.insert(at, rng.choice("xqzk"))
    return "".join(chars)


def _sentence(rng: random.Random, n: int) -> list[str]:
    return [rng.choice(WORDS) for _ in range(n)]


def _styled(rng: random.Random, words: list[str]) -> str:
    return " ".join(rng.choice(STYLES).format(w=w) if rng.random() < 0.2 else w for w in words)


def presence_cases(rng: random.Random, count: int) -> list[Case]:
    cases = []
    for i in range(count):
        words = _sentence(rng, rng.randint(6, 40))
        answer = _styled(rng, words)
        if rng.random() < 0.3:
            answer = "# " + answer.replace(" ", "\n", 2)
        start = rng.randrange(len(words))
        text = " ".join(words[start : start + rng.randint(1, 6)])
        kind = rng.choice(("present", "absent"))
        fact: dict[str, object] = {"type": kind, "text": text}
        roll = rng.random()
        if roll < 0.35:  # a near miss around the allowed number of differences
            fact["max_diffs"] = rng.randint(0, 3)
            edits = int(fact["max_diffs"]) + rng.choice((-1, 0, 0, 1)) if fact["max_diffs"] else 1
            fact["text"] = _mutate(rng, text, edits)
        elif roll < 0.5:  # case
            fact["case_sensitive"] = rng.random() < 0.5
            fact["text"] = text.upper() if rng.random() < 0.5 else text.title()
        elif roll < 0.7:  # windows around where the text is
            where = len(" ".join(words[:start]))
            if rng.random() < 0.5:
                fact["first_n"] = max(1, where + rng.randint(-5, len(text) + 5))
            if rng.random() < 0.5 or "first_n" not in fact:
                fact["last_n"] = max(1, len(answer) - where + rng.randint(-5, 5))
        elif roll < 0.78:  # a text that is not there, or longer than the whole answer
            fact["text"] = " ".join(_sentence(rng, rng.randint(1, 3))) + " zebra"
            if rng.random() < 0.5:
                answer = " ".join(words[:2])
                fact["text"] = answer + " and more words besides"
        elif roll < 0.9:  # typography and markup on one side only
            styled = text
            for plain, fancy in TYPOGRAPHY.items():
                styled = styled.replace(plain, fancy)
            answer = answer + f"\n\nIt\u2019s \u201c{text}\u201d \u2013 ok"
            fact["text"] = f'It\'s "{styled}" - ok'
        else:  # math and dollars as LightOnOCR writes them
            amount = rng.randint(2, 99)
            variant = rng.choice(("escaped", "parens", "brackets", "plain"))
            shown = {
                "escaped": f"costs \\${amount} today",
                "parens": f"area \\(x^{amount}\\) here",
                "brackets": f"area \\[x^{amount}\\] here",
                "plain": f"costs ${amount} and ${amount + 1} today",
            }[variant]
            answer = answer + "\n\n" + shown
            fact["text"] = {
                "escaped": f"costs ${amount} today",
                "parens": f"area $x^{amount}$ here",
                "brackets": f"area $$x^{amount}$$ here",
                "plain": f"costs ${amount} and ${amount + 1} today",
            }[variant]
        cases.append(Case(f"{kind}-{i:03d}", answer, fact))
    return cases


def order_cases(rng: random.Random, count: int) -> list[Case]:
    cases = []
    for i in range(count):
        a, b = rng.sample(WORDS, 2)
        a_text, b_text = f"{a} {rng.choice(WORDS)}", f"{b} {rng.choice(WORDS)}"
        # Both texts (one of them perhaps misspelt), in either order, some repeated: any pair of occurrences counts.
        mentions = [
            rng.choice((a_text, a_text, _mutate(rng, a_text, 1))),
            rng.choice((b_text, b_text, _mutate(rng, b_text, 2))),
        ]
        mentions += rng.choices((a_text, b_text, _mutate(rng, a_text, 1)), k=rng.randint(0, 2))
        rng.shuffle(mentions)
        parts = [" ".join(_sentence(rng, rng.randint(0, 5)))]
        for mention in mentions:
            parts.append(mention)
            parts.append(" ".join(_sentence(rng, rng.randint(0, 4))))
        answer = " ".join(p for p in parts if p)
        if rng.random() < 0.3:
            answer = answer.replace(" ", "\n", 3)
        max_diffs = rng.choice((0, 0, 1, 2))
        before, after = (a_text, b_text) if rng.random() < 0.5 else (b_text, a_text)
        if rng.random() < 0.2:
            after = before.split()[1] + " " + after.split()[0]  # overlapping texts
        fact = {"type": "order", "before": before, "after": after, "max_diffs": max_diffs}
        cases.append(Case(f"order-{i:03d}", answer, fact))
    return cases


def _cell_text(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.12:
        return ""
    if roll < 0.3:
        return f"{rng.randint(1, 999)}.{rng.randint(0, 99):02d}"
    return rng.choice(WORDS) + (f" {rng.choice(WORDS)}" if rng.random() < 0.3 else "")


def _html_table(rng: random.Random, grid: list[list[str]]) -> str:
    rows_html = []
    skip: set[tuple[int, int]] = set()
    thead = rng.random() < 0.4
    for r, row in enumerate(grid):
        cells = []
        for c, text in enumerate(row):
            if (r, c) in skip:
                continue
            tag = "th" if (r == 0 or (c == 0 and rng.random() < 0.3)) else "td"
            attrs = ""
            if rng.random() < 0.12 and c + 1 < len(row):
                attrs += ' colspan="2"'
                skip.add((r, c + 1))
            if rng.random() < 0.12 and r + 1 < len(grid):
                attrs += ' rowspan="2"'
                skip.add((r + 1, c))
                if 'colspan="2"' in attrs:
                    skip.add((r + 1, c + 1))
            inner = text if rng.random() < 0.9 else text.replace(" ", "<br>")
            cells.append(f"<{tag}{attrs}>{inner}</{tag}>")
        row_html = "<tr>" + "".join(cells) + "</tr>"
        if thead and r == 0:
            row_html = f"<thead>{row_html}</thead><tbody>"
        rows_html.append(row_html)
    return "<table>" + "".join(rows_html) + ("</tbody>" if thead else "") + "</table>"


def _pipe_table(rng: random.Random, grid: list[list[str]]) -> str:
    lines = ["| " + " | ".join(row) + " |" for row in grid]
    lines.insert(1, "|" + "|".join(rng.choice(("---", ":--", "--:", ":-:")) for _ in grid[0]) + "|")
    if rng.random() < 0.2:
        lines = [line.strip("|") for line in lines]
    return "\n".join(lines)


def table_cases(rng: random.Random, count: int) -> list[Case]:
    cases = []
    relations = ("up", "down", "left", "right", "top_heading", "left_heading")
    for i in range(count):
        height, width = rng.randint(2, 5), rng.randint(2, 4)
        grid = [[_cell_text(rng) for _ in range(width)] for _ in range(height)]
        kind = rng.choice(("html", "html", "pipe", "both"))
        tables = []
        if kind in ("html", "both"):
            tables.append(_html_table(rng, grid))
        if kind in ("pipe", "both"):
            tables.append(_pipe_table(rng, grid))
        answer = "Intro text\n\n" + "\n\nBetween\n\n".join(tables) + "\n\nAfter"
        if rng.random() < 0.1:
            answer = "No table here, only text about " + " ".join(_sentence(rng, 5))
        r, c = rng.randrange(height), rng.randrange(width)
        fact: dict[str, object] = {"type": "table", "cell": grid[r][c] or rng.choice(WORDS)}
        for relation in rng.sample(relations, rng.randint(1, 2)):
            dr, dc = {"up": (-1, 0), "down": (1, 0), "left": (0, -1), "right": (0, 1)}.get(relation, (0, 0))
            if relation == "top_heading":
                rr, cc = 0, c
            elif relation == "left_heading":
                rr, cc = r, 0
            else:
                rr, cc = min(max(r + dr, 0), height - 1), min(max(c + dc, 0), width - 1)
            value = grid[rr][cc] if rng.random() < 0.75 else _cell_text(rng)
            if value:
                fact[relation] = value
        if rng.random() < 0.25:
            fact["max_diffs"] = rng.randint(1, 2)
            fact["cell"] = _mutate(rng, str(fact["cell"]), rng.randint(0, 2))
        cases.append(Case(f"table-{i:03d}", answer, fact))
    return cases


EQUATIONS = (
    r"x^2 + y^2 = z^2",
    r"\frac{a}{b}",
    r"\sum_{i=1}^{n} i",
    r"\sqrt{2}",
    r"e^{i\pi} + 1 = 0",
    r"\alpha + \beta",
)
RESPELLINGS = {
    r"x^2 + y^2 = z^2": (r"x^{2}+y^{2}=z^{2}", r"x^2+y^2=z^2", r"x^3 + y^2 = z^2"),
    r"\frac{a}{b}": (r"\dfrac{a}{b}", r"\frac{a}{c}", r"\left(\frac{a}{b}\right)"),
    r"\sum_{i=1}^{n} i": (r"\sum_{i=1}^{n}i", r"\sum_{i=0}^{n} i"),
    r"\sqrt{2}": (r"\sqrt{2}\,", r"\sqrt{3}"),
    r"e^{i\pi} + 1 = 0": (r"e^{i \pi}+1=0", r"e^{i\pi} - 1 = 0"),
    r"\alpha + \beta": (r"\alpha+\beta", r"\alpha + \gamma"),
}


def math_cases(rng: random.Random, count: int) -> list[Case]:
    cases = []
    delimiters = (("$", "$"), ("$$", "$$"), ("\\(", "\\)"), ("\\[", "\\]"))
    for i in range(count):
        wanted = rng.choice(EQUATIONS)
        written = rng.choice((wanted, *RESPELLINGS[wanted]))
        left, right = rng.choice(delimiters)
        body = f"The relation {left}{written}{right} holds."
        noise = rng.choice(
            (
                "",
                f"It costs ${rng.randint(2, 9)} and ${rng.randint(10, 99)} per unit.",
                f"It costs \\${rng.randint(2, 9)} each.",
                f"From ${rng.randint(2, 9)} to",
            )
        )
        answer = "\n\n".join(p for p in (noise, body) if p) if rng.random() < 0.5 else f"{noise} {body}"
        cases.append(Case(f"math-{i:03d}", answer, {"type": "math", "math": wanted}))
    return cases


def baseline_cases(rng: random.Random, count: int) -> list[Case]:
    cases = []
    for i in range(count):
        text = " ".join(_sentence(rng, rng.randint(3, 20)))
        fact: dict[str, object] = {"type": "baseline"}
        roll = rng.random()
        if roll < 0.3:
            unit = rng.choice(("a", "ab", "abc ", "la la ", "12345", "\n- "))
            text += unit * rng.randint(5, 40)
            if rng.random() < 0.4:
                fact["max_repeats"] = rng.randint(5, 30)
        elif roll < 0.5:
            cjk_kana_emoji_or_accents = (
                "\u4e2d\u6587",
                "\u3072\u3089",
                "\u30ab\u30bf",
                "\U0001f600",
                "\U0001f680",
                "\u00e9",
            )
            text += rng.choice(cjk_kana_emoji_or_accents)
            if rng.random() < 0.3:
                fact["check_disallowed_characters"] = False
        elif roll < 0.75:
            text = rng.choice(("", "  \n ", "12", "Page 3", "![logo of the firm](logo.png)", text))
            fact["max_length"] = rng.randint(0, 12)
            if rng.random() < 0.5:
                fact["max_length_skips_image_alt_tags"] = True
        elif roll < 0.85:
            text = rng.choice(("", " \n\t", "---", "| | |"))
        cases.append(Case(f"baseline-{i:03d}", text, fact))
    return cases


def generate(seed: int = 20261129) -> list[Case]:
    """Every generated case, the same ones for the same seed (the math pairs last, so the others keep their ids)."""
    from tests.accuracy.math_pairs import math_pairs  # it builds its cases from Case, defined here

    rng = random.Random(seed)
    return [
        *presence_cases(rng, 220),
        *order_cases(rng, 120),
        *table_cases(rng, 200),
        *math_cases(rng, 60),
        *baseline_cases(rng, 100),
        *(pair.case for pair in math_pairs(rng)),
    ]
