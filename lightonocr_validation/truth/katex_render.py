"""What a LaTeX formula renders as: KaTeX's MathML, without a browser.

olmOCR-Bench judges a math fact by rendering it with KaTeX in Chromium. Here the same KaTeX (``vendor/katex.min.js``,
0.16.21, byte for byte the copy olmOCR bundles; MIT licence in ``vendor/KATEX-LICENSE``) runs in QuickJS, an
embedded JavaScript engine (the ``quickjs-ng`` wheel, 2.5 MB, no network, no system program), and returns KaTeX's
MathML: the formula as KaTeX parsed it, every macro expanded (``\\dfrac``, ``\\operatorname``, ``\\left``, ``'``).
Loading KaTeX takes about 0.1 s once per process; a formula then renders in about a millisecond.

Display mode, as olmOCR renders. KaTeX's limits stay on (``maxExpand`` 1000 macro expansions), and a formula that
runs past ``TIME_LIMIT_S`` or is longer than ``MAX_SOURCE`` characters is reported as not rendering, so a hostile
answer costs bounded time.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

VENDOR = Path(__file__).with_name("vendor")
KATEX_JS = VENDOR / "katex.min.js"
KATEX_VERSION = "0.16.21"
TIME_LIMIT_S = 2.0
MAX_SOURCE = 20_000
REQUIREMENT = "quickjs-ng>=0.17"  # as pyproject.toml lists it
_MEMORY_LIMIT = 256 * 1024 * 1024

# KaTeX's default strict mode warns through console.warn, which QuickJS does not define.
_WRAPPER = """
var console = {log: function () {}, warn: function () {}, error: function () {}};
function render(tex) {
  try {
    return JSON.stringify([katex.renderToString(tex, {displayMode: true, throwOnError: true, output: "mathml"}), ""]);
  } catch (e) {
    return JSON.stringify(["", String(e && e.message || e)]);
  }
}
"""


@dataclass(frozen=True)
class Rendering:
    """KaTeX's MathML for one formula, or why it did not render (``error``)."""

    mathml: str
    error: str = ""


@functools.cache
def _katex():  # -> quickjs.Function; imported here so that a process without math facts never loads QuickJS
    import quickjs

    # quickjs.Function runs every call on one worker thread of its own, under a lock: QuickJS is single-threaded.
    function = quickjs.Function("render", KATEX_JS.read_text(encoding="utf-8") + _WRAPPER)
    function.set_time_limit(TIME_LIMIT_S)
    function.set_memory_limit(_MEMORY_LIMIT)
    return function


@functools.lru_cache(maxsize=4096)
def render(latex: str) -> Rendering:
    r"""KaTeX's MathML for ``latex`` (display mode), or the reason it does not render.

    >>> render(r"x^2").mathml.count("<msup>"), render(r"\frac{1").error.split(":")[0]
    (1, 'KaTeX parse error')
    """
    if len(latex) > MAX_SOURCE:
        return Rendering("", f"longer than {MAX_SOURCE} characters")
    try:
        import quickjs

        katex = _katex()
    except ImportError:  # an environment built before the dependency: one line naming the fix, not a traceback
        return Rendering("", f"KaTeX runs in QuickJS, which is not installed: pip install '{REQUIREMENT}'")
    try:
        # No full garbage collection after each call (quickjs.Function's default): over KaTeX's heap it costs
        # some 70 ms a formula; QuickJS frees by reference counting and collects cycles on its own schedule.
        mathml, error = json.loads(katex(latex, run_gc=False))
    except quickjs.JSException as exc:  # the time or memory limit, not a KaTeX error
        return Rendering("", str(exc))
    return Rendering(mathml, error)
