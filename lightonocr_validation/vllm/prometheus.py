"""Just enough of the Prometheus text format to read vLLM's /metrics: samples with labels and values."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_SAMPLE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


def parse(text: str) -> list[Sample]:
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if not match:
            continue
        try:
            value = float(match.group(3))
        except ValueError:
            continue
        labels = {key: value_.replace('\\"', '"') for key, value_ in _LABEL.findall(match.group(2) or "")}
        samples.append(Sample(match.group(1), labels, value))
    return samples


def total(samples: list[Sample], *names: str) -> float | None:
    """Sum of the first of ``names`` present (metric names changed across vLLM releases), over all label
    sets (one per engine); None when none is exported."""
    for name in names:
        values = [s.value for s in samples if s.name == name and not math.isnan(s.value)]
        if values:
            return sum(values)
    return None


def label(samples: list[Sample], name: str, key: str) -> str | None:
    return next((s.labels[key] for s in samples if s.name == name and key in s.labels), None)
