"""How long each answer is: one fixed length, or lengths drawn from a stated distribution, one per request.

With every answer forced to the same length a closed loop stays in lockstep: the whole batch is read
(prefill) together, then written (decode) together, wave after wave, which no real traffic does. Real pages
end at different lengths. `--answer-tokens` draws each request's length from a distribution and sends it
as that request's max_tokens with ignore_eos, so the length is exactly the one drawn (random weights never
stop on their own; trained ones would stop early and blur the distribution):

- ``fixed:N``: every answer N tokens (what --max-tokens N sends);
- ``uniform:A-B``: uniform over A..B tokens, both included;
- ``lognormal:MEDIAN,SIGMA[,MAX]``: exp(N(ln MEDIAN, SIGMA)), rounded, kept within 1..MAX (default 4096).

Request i's length is drawn from the run's seed and i alone, so a rerun sends the same lengths in the same
order, and every configuration of a tuning gets the same answers.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass

KINDS = ("fixed", "uniform", "lognormal")
LOGNORMAL_MAX = 4096
_MARK = "__ANSWER_TOKENS__"


class AnswerLengthError(ValueError):
    """A distribution that cannot be read: the message names the form that can."""


FORMS = "fixed:N, uniform:A-B or lognormal:MEDIAN,SIGMA[,MAX]"


@dataclass(frozen=True)
class AnswerLengths:
    kind: str
    low: int  # fixed: the length; uniform: A; lognormal: 1
    high: int  # fixed: the length; uniform: B; lognormal: MAX
    median: float = 0.0
    sigma: float = 0.0

    @property
    def text(self) -> str:
        if self.kind == "fixed":
            return f"fixed:{self.low}"
        if self.kind == "uniform":
            return f"uniform:{self.low}-{self.high}"
        return f"lognormal:{self.median:g},{self.sigma:g},{self.high}"

    @property
    def mean(self) -> float:
        """The distribution's mean length (the lognormal's before clipping: its clipped tail is small)."""
        if self.kind == "lognormal":
            return self.median * math.exp(self.sigma**2 / 2)
        return (self.low + self.high) / 2

    def draw(self, index: int, seed: int = 0) -> int:
        """Request ``index``'s length, from the seed and the index only."""
        if self.kind == "fixed":
            return self.low
        draw = random.Random(f"answer-tokens:{seed}:{index}")
        if self.kind == "uniform":
            return draw.randint(self.low, self.high)
        return max(1, min(self.high, round(draw.lognormvariate(math.log(self.median), self.sigma))))

    def as_dict(self) -> dict[str, object]:
        return {"distribution": self.text, "kind": self.kind, "mean": round(self.mean, 1), "ignore_eos": True}


def parse(spec: str) -> AnswerLengths:
    kind, _, rest = spec.strip().partition(":")
    try:
        if kind == "fixed" and rest.isdigit():
            length = int(rest)
            return _checked(AnswerLengths("fixed", length, length), spec)
        if kind == "uniform" and (match := re.fullmatch(r"(\d+)-(\d+)", rest)):
            return _checked(AnswerLengths("uniform", int(match[1]), int(match[2])), spec)
        if kind == "lognormal":
            parts = [float(p) for p in rest.split(",")]
            if len(parts) in (2, 3) and (len(parts) == 2 or parts[2].is_integer()):
                high = int(parts[2]) if len(parts) == 3 else LOGNORMAL_MAX
                return _checked(AnswerLengths("lognormal", 1, high, parts[0], parts[1]), spec)
    except ValueError:
        pass
    raise AnswerLengthError(f"--answer-tokens {spec!r} is not {FORMS} (e.g. uniform:256-1024)")


def _checked(lengths: AnswerLengths, spec: str) -> AnswerLengths:
    if lengths.low < 1 or lengths.high < lengths.low:
        raise AnswerLengthError(f"--answer-tokens {spec!r}: lengths must be at least 1, and A <= B")
    if lengths.kind == "lognormal" and not (lengths.median >= 1 and lengths.sigma >= 0):
        raise AnswerLengthError(f"--answer-tokens {spec!r}: MEDIAN must be at least 1 and SIGMA 0 or more")
    return lengths


class AnswerBodies:
    """Each page's request with its own answer length: the page's JSON is encoded once (the image is most of
    it) around a mark that each request replaces with its drawn max_tokens."""

    def __init__(self, templates: Mapping[str, dict[str, object]], lengths: AnswerLengths, seed: int = 0) -> None:
        self.lengths = lengths
        self.seed = seed
        self._parts: dict[str, tuple[bytes, bytes]] = {}
        for label, body in templates.items():
            encoded = json.dumps({**body, "max_tokens": _MARK}, separators=(",", ":")).encode()
            before, _, after = encoded.partition(json.dumps(_MARK).encode())
            self._parts[label] = (before, after)

    def body(self, label: str, index: int) -> bytes:
        before, after = self._parts[label]
        return before + str(self.lengths.draw(index, self.seed)).encode() + after
