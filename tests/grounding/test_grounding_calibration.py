"""Every seeded grounding answer of every drawn page is judged as its case expects: healthy ones pass, broken
ones fail (lightonocr_validation/grounding/calibration.py; the table is in docs/accuracy.md)."""

from __future__ import annotations

import functools

from lightonocr_validation.grounding import boxes
from lightonocr_validation.grounding.calibration import calibrate, margins, worst_healthy_offset
from lightonocr_validation.grounding.readings import BROKEN, HEALTHY


@functools.cache
def _cells():
    return calibrate(seeds=range(3))


def test_every_healthy_answer_passes_and_every_broken_one_fails():
    wrong = [(c.case.name, c.sample.id, c.judgement.problems()) for c in _cells() if not c.right]
    assert not wrong
    assert {c.case.name for c in _cells()} == {case.name for case in (*HEALTHY, *BROKEN)}


def test_the_box_thresholds_leave_room_both_ways():
    for margin in margins(_cells()):
        assert margin.broken_best < margin.threshold <= margin.healthy_worst, margin
    assert worst_healthy_offset(_cells()) < boxes.OFFSET_MAX
