"""LaTeX formulas rasterised with matplotlib's mathtext (Computer Modern, its own TeX layout rules).

Reproducible: mathtext rasterises with the FreeType and the fonts bundled in the matplotlib wheel, and every
rcParam it reads is set here from matplotlib's built-in defaults, so a user's matplotlibrc changes nothing.
The version is pinned in pyproject's ``samples`` group; another one may place a glyph one pixel away.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import matplotlib
import numpy as np
from matplotlib.font_manager import FontProperties
from matplotlib.mathtext import MathTextParser
from PIL import Image

MATH_FONTS = "cm"  # Computer Modern, as TeX sets formulas


@dataclass(frozen=True)
class Formula:
    """A rendered formula: ``ink`` is an L image (255 where the ink is), ``depth`` its pixels below the baseline."""

    ink: Image.Image
    depth: int

    @property
    def width(self) -> int:
        return self.ink.width

    @property
    def ascent(self) -> int:
        return self.ink.height - self.depth


def _rc() -> dict[str, object]:
    defaults = matplotlib.rcParamsDefault
    return {key: defaults[key] for key in defaults if key.startswith(("mathtext.", "text."))}


@functools.cache
def render(latex: str, size: float, display: bool = False) -> Formula:
    """``latex`` (without dollars) at ``size`` pixels. Display formulas set fractions full size, as TeX's
    display style does (mathtext's ``\\frac`` is always text style)."""
    source = latex.replace(r"\frac", r"\dfrac") if display else latex
    with matplotlib.rc_context(_rc()):
        parsed = MathTextParser("agg").parse(
            f"${source}$", dpi=72, prop=FontProperties(size=size, math_fontfamily=MATH_FONTS)
        )
    ink = Image.fromarray(np.ascontiguousarray(parsed.image, dtype=np.uint8))  # 2-D uint8: mode L
    return Formula(ink, round(parsed.depth))
