"""A closed-loop point's steady state: the stretch between its ramp-up and its drain, and whether it has one.

A point that keeps C requests in flight starts with all C sent together (or staggered over --ramp) and ends
with the workers stopping one by one. Both ends are ramps: at the start every page is in prefill at once, at
the end the batch empties. Pages/s over the whole point counts them; with one wave (C requests at C in
flight) it is nothing but ramps. The rule used here, written into every result (``RULE``):

- the window opens when the first wave has completed: the C-th request to finish (every worker has had one
  answer back, so the burst of first prefills is over);
- it closes when the drain starts: the moment the last request was sent (no worker sends again after it, so
  fewer than C are in flight from then on);
- steady pages/s = requests that finished inside the window / the window's length;
- the latencies of the steady state are those of the requests that finished inside it. (Those that both
  started and finished inside it were the rule until 2026-12-07: with fixed-length answers a closed loop runs
  in lockstep and the window spans one wave, so one request at most was wholly inside, and its e2e stood as
  p50 and p95 alike.)

A point is steady when it sent at least MIN_WAVES waves (requests >= 3 x concurrency) and its window holds
at least one wave's worth of finished requests; any other point is "one wave" and keeps its whole-point
figures, marked so in every output. Rate-mode points (an open loop) have no waves and no steady block.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lightonocr_validation.load.figures import distribution, pick
from lightonocr_validation.load.records import RequestRecord

MIN_WAVES = 3
STEADY = "steady"
ONE_WAVE = "one wave"
RULE = (
    "window from the C-th request to finish (first wave completed) to the last request sent (drain starts); "
    "pages/s = requests finished inside it / its length; latencies of the requests finished inside it; "
    f"steady when requests >= {MIN_WAVES} x concurrency and the window holds at least C finished requests"
)

# One clock: the records of one run on one host, or of every host of a fleet's run (they start together),
# with the requests each host keeps in flight.
Lane = tuple[Sequence[RequestRecord], int]


@dataclass(frozen=True)
class Window:
    start_s: float
    end_s: float
    finished: list[RequestRecord]  # answered requests that ended inside the window: its rate and latencies

    @property
    def length_s(self) -> float:
        return self.end_s - self.start_s


def window(lanes: Sequence[Lane]) -> Window | None:
    """The steady window of one run (every lane on one clock): from the latest lane's first-wave completion to
    the earliest lane's last send. None when a lane has fewer answers than it keeps in flight, or the window
    is empty (the drain began before the first wave was back)."""
    opens: list[float] = []
    closes: list[float] = []
    for records, concurrency in lanes:
        ends = sorted(r.end_s for r in records if r.ok)
        if concurrency < 1 or len(ends) < concurrency or not records:
            return None
        opens.append(ends[concurrency - 1])
        closes.append(max(r.start_s for r in records))
    start, end = max(opens), min(closes)
    if end <= start:
        return None
    answered = [r for records, _ in lanes for r in records if r.ok]
    finished = [r for r in answered if start < r.end_s <= end]
    return Window(start, end, finished)


def steady_block(runs: Sequence[Sequence[Lane]]) -> dict[str, Any] | None:
    """The `steady` object of a point's figures: ``runs`` are the point's runs (one, or several pooled), each
    its lanes. None for a point without requests or without a concurrency (rate mode)."""
    lanes = [lane for run in runs for lane in run]
    if not lanes or not any(records for records, _ in lanes):
        return None
    sent = sum(len(records) for records, _ in lanes)
    in_flight = sum(concurrency for _, concurrency in lanes) / len(runs)
    waves = sent / len(runs) / in_flight if in_flight else 0.0
    windows = [window(run) for run in runs]
    found = [w for w in windows if w is not None]
    length = sum(w.length_s for w in found)
    finished = [r for w in found for r in w.finished]
    why = _why_not(waves, windows, finished, in_flight * len(runs))
    block: dict[str, Any] = {
        "state": STEADY if not why else ONE_WAVE,
        "why": why or None,
        "waves": round(waves, 2),
        "rule": RULE,
        "window_s": [[round(w.start_s, 3), round(w.end_s, 3)] if w else None for w in windows],
        "window_length_s": length if found else None,
        "finished_in_window": len(finished),
        # Null unless steady: a window under three waves is mostly ramp, and no figure should stand for it.
        "pages_per_s": len(finished) / length if length > 0 and not why else None,
        "output_tokens_per_s": sum(r.output_tokens for r in finished) / length if length > 0 and not why else None,
        "e2e_s": distribution([r.exchange.e2e_s for r in finished]),
        "ttft_s": distribution([r.exchange.ttft_s for r in finished if r.exchange.ttft_s is not None]),
        "itl_s": distribution([gap for r in finished for gap in r.exchange.gaps]),
    }
    return block


def _why_not(waves: float, windows: Sequence[Window | None], finished: Sequence[RequestRecord], wave: float) -> str:
    if waves < MIN_WAVES:
        return f"{waves:.2g} wave(s) sent: steady state needs requests >= {MIN_WAVES} x concurrency"
    if any(w is None for w in windows):
        return "no steady window: the drain began before the first wave was back (or too few answers)"
    if len(finished) < wave:
        return f"the steady window holds {len(finished)} finished request(s), under one wave ({wave:g})"
    return ""


def is_steady(seen: Mapping[str, Any]) -> bool:
    block = seen.get("steady")
    return isinstance(block, Mapping) and block.get("state") == STEADY


def headline(seen: Mapping[str, Any]) -> tuple[float | None, str]:
    """The pages/s a point stands for, and its mark: the steady-state rate of a steady point (mark ""), else
    the whole point's rate marked "one wave" (rate-mode points, without waves, are unmarked)."""
    block = seen.get("steady")
    if isinstance(block, Mapping) and block.get("state") != STEADY:
        return pick(dict(seen), "pages_per_s"), ONE_WAVE
    return headline_figure(seen, "pages_per_s"), ""


def headline_figure(seen: Mapping[str, Any], name: str) -> float | None:
    """A figure ("pages_per_s", "e2e_s.p50") from the steady state when the point has one, else from the whole
    point: what a sweep, tune and the tables show beside the headline."""
    return pick(dict(seen["steady"]) if is_steady(seen) else dict(seen), name)
