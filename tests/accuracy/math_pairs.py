r"""Generated math pairs: a formula as a fact, and an answer writing it another way, alike or not when rendered.

Each formula comes with spellings that KaTeX renders alike (KaTeX's documentation: optional braces, spaces TeX
ignores, ``\dfrac``/``\tfrac``/``\frac12``/``\over``, ``\left( \right)`` and ``\big``, ``\operatorname``/
``\mathrm``/``\text`` for an operator name, ``'`` for ``^{\prime}``, font commands on one letter, spacing commands,
``\limits`` in display, synonyms such as ``\le``/``\leq``) and with spellings that render another formula (an
exponent changed, a term dropped, a sign swapped, a fraction turned over, ``\sqrt`` lost, a subscript for a
superscript, another letter). A pair is judged both ways round (the respelling as the fact, and as the answer), in
every delimiter, alone or inside a longer equation.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from tests.accuracy.fact_cases import Case

# formula -> (spellings that render alike, spellings that render another formula)
FORMULAS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    r"E = mc^{2}": (
        (r"E=mc^2", r"E = m c^{2}", r"{E} = {m}{c}^{2}", r"E\,=\,mc^2", r"\mathit{E} = mc^2"),
        (r"E = mc^{3}", r"E = mc", r"E = m^{2}c", r"E = mc_{2}", r"E = m \cdot c^{2}", r"E = \sqrt{mc^{2}}"),
    ),
    r"a^{2} + b^{2} = c^{2}": (
        (r"a^2+b^2=c^2", r"{a}^{2} + {b}^{2} = {c}^{2}", r"a^2 + b^2 \;=\; c^2", r"\displaystyle a^2+b^2=c^2"),
        (r"a^{2} - b^{2} = c^{2}", r"a^{2} = c^{2}", r"a^{2} + b^{3} = c^{2}", r"a^{2} + b^{2} = c"),
    ),
    r"x = \frac{-b \pm \sqrt{b^{2} - 4ac}}{2a}": (
        (
            r"x=\dfrac{-b\pm\sqrt{b^2-4ac}}{2a}",
            r"x = \frac{-b \pm \sqrt{b^2 - 4 a c}}{2 a}",
            r"x = {-b \pm \sqrt{b^2-4ac} \over 2a}",
            r"x = \tfrac{-b \pm \sqrt{b^{2}-4ac}}{2a}",
        ),
        (
            r"x = \frac{-b \pm b^{2} - 4ac}{2a}",
            r"x = \frac{2a}{-b \pm \sqrt{b^{2} - 4ac}}",
            r"x = \frac{-b \pm \sqrt{b^{2} + 4ac}}{2a}",
            r"x = \frac{b \pm \sqrt{b^{2} - 4ac}}{2a}",
            r"x = \frac{-b \pm \sqrt{b^{2} - 4ac}}{a}",
        ),
    ),
    r"\int_{0}^{1} x^{2} \, dx = \frac{1}{3}": (
        (
            r"\int_0^1 x^2 dx = \frac13",
            r"\int_{0}^{1}x^{2}\,\mathrm{d}x=\frac{1}{3}",
            r"\int_0^1 x^2 \,\text{d}x = \dfrac{1}{3}",
            r"\int_{0}^{1} {x^{2}} \; dx = {1 \over 3}",
        ),
        (
            r"\int_{0}^{1} x^{3} \, dx = \frac{1}{3}",
            r"\int_{0}^{1} x^{2} \, dx = \frac{3}{1}",
            r"\int_{0}^{2} x^{2} \, dx = \frac{1}{3}",
            r"\int x^{2} \, dx = \frac{1}{3}",
        ),
    ),
    r"\sum_{i=1}^{n} i = \frac{n(n+1)}{2}": (
        (
            r"\sum_{i=1}^n i=\frac{n(n+1)}2",
            r"\sum\limits_{i=1}^{n} i = \frac{n\left(n+1\right)}{2}",
            r"\sum_{i = 1}^{n} i = \dfrac{n (n + 1)}{2}",
            r"\sum_{i=1}^{n}{i} = \frac{n\bigl(n+1\bigr)}{2}",
        ),
        (
            r"\sum_{i=1}^{n} i = \frac{n(n-1)}{2}",
            r"\sum_{i=0}^{n} i = \frac{n(n+1)}{2}",
            r"\sum_{i=1}^{n} i = \frac{2}{n(n+1)}",
            r"\prod_{i=1}^{n} i = \frac{n(n+1)}{2}",
            r"\sum_{i=1}^{n} i = n(n+1)",
        ),
    ),
    r"f'(x) = \lim_{h \to 0} \frac{f(x+h) - f(x)}{h}": (
        (
            r"f^{\prime}(x) = \lim_{h\to0}\frac{f(x+h)-f(x)}{h}",
            r"f'(x)=\lim\limits_{h \rightarrow 0} \dfrac{f(x+h)-f(x)}{h}",
            r"f^\prime(x) = \operatorname*{lim}_{h \to 0} \frac{f(x+h) - f(x)}{h}",
        ),
        (
            r"f(x) = \lim_{h \to 0} \frac{f(x+h) - f(x)}{h}",
            r"f'(x) = \lim_{h \to 0} \frac{f(x+h) + f(x)}{h}",
            r"f'(x) = \lim_{h \to 1} \frac{f(x+h) - f(x)}{h}",
            r"f''(x) = \lim_{h \to 0} \frac{f(x+h) - f(x)}{h}",
        ),
    ),
    r"\sin^{2} \theta + \cos^{2} \theta = 1": (
        (
            r"\sin^2\theta+\cos^2\theta=1",
            r"\operatorname{sin}^2 \theta + \operatorname{cos}^2 \theta = 1",
            r"\mathrm{sin}^{2}\theta + \mathrm{cos}^{2}\theta = 1",
            r"\text{sin}^2 \theta + \text{cos}^2 \theta = 1",
        ),
        (
            r"\sin^{2} \theta - \cos^{2} \theta = 1",
            r"\sin \theta + \cos \theta = 1",
            r"\sin^{2} \theta + \cos^{2} \theta = 0",
            r"\sin^{2} \phi + \cos^{2} \theta = 1",
        ),
    ),
    r"\left| x - y \right| \leq \epsilon": (
        (
            r"|x-y| \le \epsilon",
            r"\lvert x - y \rvert \leq \epsilon",
            r"\bigl|x-y\bigr|\leq\epsilon",
            r"|x - y| \leq \epsilon",
        ),
        (r"|x + y| \leq \epsilon", r"|x - y| \geq \epsilon", r"|x - y| \leq \varepsilon", r"x - y \leq \epsilon"),
    ),
    r"\mathbf{v} \cdot \mathbf{w} = \sum_{k} v_{k} w_{k}": (
        (
            r"\mathbf v\cdot\mathbf w=\sum_k v_k w_k",
            r"\boldsymbol{v} \cdot \boldsymbol{w} = \sum_{k} v_k w_k",
            r"\mathbf{v} \cdotp \mathbf{w} = \sum_{k}{v_{k}}{w_{k}}",
        ),
        (
            r"\mathbf{v} \times \mathbf{w} = \sum_{k} v_{k} w_{k}",
            r"\mathbf{v} \cdot \mathbf{w} = \sum_{k} v^{k} w_{k}",
            r"\mathbf{v} \cdot \mathbf{w} = \sum_{k} w_{k}",
        ),
    ),
    r"\sqrt[3]{x} = x^{1/3}": (
        (r"\sqrt[3]x=x^{1/3}", r"\sqrt[3]{x} = x^{{1}/{3}}", r"\sqrt[3]{x}\ =\ x^{1/3}"),
        (r"\sqrt{x} = x^{1/3}", r"\sqrt[3]{x} = x^{3}", r"\sqrt[2]{x} = x^{1/3}", r"x = x^{1/3}"),
    ),
    r"\binom{n}{k} = \frac{n!}{k!\,(n-k)!}": (
        (r"\binom nk=\frac{n!}{k!(n-k)!}", r"{n \choose k} = \dfrac{n!}{k! \, (n-k)!}"),
        (
            r"\frac{n}{k} = \frac{n!}{k!\,(n-k)!}",
            r"\binom{n}{k} = \frac{n!}{k!\,(n+k)!}",
            r"\binom{n}{k} = \frac{n!}{k!}",
        ),
    ),
    r"x_{1}, \ldots, x_{n}": (
        (r"x_1,\ldots,x_n", r"x_{1},\dots,x_{n}", r"x_1, \mathellipsis, x_n"),
        (r"x^{1}, \ldots, x^{n}", r"x_{1}, \ldots, x_{m}", r"x_{1}, \cdots, x_{n}", r"x_{0}, \ldots, x_{n}"),
    ),
    r"\mathbb{R}^{n}": (
        (r"\mathbb R^n", r"\Bbb{R}^{n}", r"{\mathbb{R}}^n"),
        (r"R^{n}", r"\mathbb{R}^{m}", r"\mathbb{R}_{n}", r"\mathbb{C}^{n}"),
    ),
    r"e^{i\pi} + 1 = 0": (
        (r"e^{i \pi}+1=0", r"{e}^{{i}{\pi}} + 1 = 0", r"e^{i\pi}\!+\!1=0"),
        (r"e^{i\pi} - 1 = 0", r"e^{\pi} + 1 = 0", r"e^{i\pi} + 1 = 1", r"e_{i\pi} + 1 = 0"),
    ),
    r"\frac{\partial u}{\partial t} = \alpha \nabla^{2} u": (
        (
            r"\frac{\partial u}{\partial t}=\alpha\nabla^2u",
            r"\dfrac{\partial u}{\partial t} = \alpha \, \nabla^{2} u",
            r"{\partial u \over \partial t} = \alpha {\nabla}^{2} {u}",
        ),
        (
            r"\frac{\partial t}{\partial u} = \alpha \nabla^{2} u",
            r"\frac{\partial u}{\partial t} = \alpha \nabla u",
            r"\frac{\partial u}{\partial t} = -\alpha \nabla^{2} u",
            r"\frac{d u}{d t} = \alpha \nabla^{2} u",
        ),
    ),
    r"\hat{\beta} = (X^{T} X)^{-1} X^{T} y": (
        (
            r"\hat\beta=(X^TX)^{-1}X^Ty",
            r"\hat{\beta} = \left( X^{T} X \right)^{-1} X^{T} y",
            r"\hat{\beta} = \bigl(X^{T}X\bigr)^{-1} X^{T} y",
            r"\hat{\beta}=\Big(X^T X\Big)^{-1}X^T y",
        ),
        (
            r"\beta = (X^{T} X)^{-1} X^{T} y",
            r"\hat{\beta} = (X^{T} X)^{1} X^{T} y",
            r"\hat{\beta} = (X X^{T})^{-1} X^{T} y",
            r"\hat{\beta} = (X^{T} X)^{-1} X y",
        ),
    ),
    r"P(A \mid B) = \frac{P(B \mid A) \, P(A)}{P(B)}": (
        (
            r"P(A\mid B)=\frac{P(B\mid A)P(A)}{P(B)}",
            r"P\left(A \mid B\right) = \dfrac{P(B \mid A)\,P(A)}{P(B)}",
            r"\mathit{P}(A \mid B) = \frac{P(B \mid A)\;P(A)}{P(B)}",
        ),
        (
            r"P(A \mid B) = \frac{P(A \mid B) \, P(A)}{P(B)}",
            r"P(A \mid B) = \frac{P(B)}{P(B \mid A) \, P(A)}",
            r"P(A \mid B) = \frac{P(B \mid A)}{P(B)}",
            r"P(A \mid B) = P(B \mid A) \, P(A)",
        ),
    ),
    r"\lim_{n \to \infty} \left(1 + \frac{1}{n}\right)^{n} = e": (
        (
            r"\lim_{n\to\infty}(1+\frac1n)^n=e",
            r"\lim\limits_{n \rightarrow \infty} \left(1+\dfrac{1}{n}\right)^n = e",
            r"\operatorname*{lim}_{n\to\infty}\Bigl(1+\frac{1}{n}\Bigr)^{n}=e",
        ),
        (
            r"\lim_{n \to \infty} \left(1 - \frac{1}{n}\right)^{n} = e",
            r"\lim_{n \to \infty} \left(1 + \frac{1}{n}\right) = e",
            r"\lim_{n \to 0} \left(1 + \frac{1}{n}\right)^{n} = e",
            r"\lim_{n \to \infty} \left(1 + n\right)^{n} = e",
        ),
    ),
    r"\nabla \times \vec{E} = -\frac{\partial \vec{B}}{\partial t}": (
        (
            r"\nabla\times\vec E=-\frac{\partial\vec B}{\partial t}",
            r"\nabla \times \vec{E} = - \dfrac{\partial \vec{B}}{\partial t}",
        ),
        (
            r"\nabla \cdot \vec{E} = -\frac{\partial \vec{B}}{\partial t}",
            r"\nabla \times \vec{E} = \frac{\partial \vec{B}}{\partial t}",
            r"\nabla \times E = -\frac{\partial \vec{B}}{\partial t}",
        ),
    ),
    r"\log_{2} 8 = 3": (
        (
            r"\log_2 8=3",
            r"\log_{2}{8} = 3",
            r"\operatorname{log}_{2} 8 = 3",
            r"\mathrm{log}_2 8 = 3",
            r"\text{log}_{2}8=3",
        ),
        (r"\log_{3} 8 = 3", r"\log 8 = 3", r"\log_{2} 8 = 2", r"\log^{2} 8 = 3", r"\ln 8 = 3"),
    ),
}
DELIMITERS = (("$", "$"), ("$$", "$$"), ("\\(", "\\)"), ("\\[", "\\]"))
CONTEXTS = (
    "The relation {eq} holds.",
    "First {other}, then {eq}.",
    "{eq}",
    "We get\n\n{eq}\n\nfor every case.",
)


def _written(rng: random.Random, latex: str, inside: bool) -> str:
    """An equation of the answer: the formula alone, or inside a longer one (a fact may be part of an equation)."""
    if inside:
        return rng.choice((f"{latex}, \\quad n \\geq 1", f"{latex} \\qquad (1)"))
    return latex


@dataclass(frozen=True)
class Pair:
    case: Case
    alike: bool  # the fact and the answer's equation render alike (what the judgement should say)


def math_pairs(rng: random.Random) -> list[Pair]:
    """Every pair, both ways round, each in a random delimiter and context; ids ``math-p000`` on."""
    pairs: list[Pair] = []
    for formula, (alike, different) in FORMULAS.items():
        for spelling in (*alike, *different):
            for fact, shown in ((formula, spelling), (spelling, formula)):
                left, right = rng.choice(DELIMITERS)
                eq = f"{left}{_written(rng, shown, rng.random() < 0.25)}{right}"
                other = rng.choice(("$a > 0$", "\\(b\\)", "the limit"))
                answer = rng.choice(CONTEXTS).format(eq=eq, other=other)
                case = Case(f"math-p{len(pairs):03d}", answer, {"type": "math", "math": fact})
                pairs.append(Pair(case, spelling in alike))
    return pairs
