"""The readers against a result the bench driver really wrote (benchcore's `invoke bench` on two fake vLLM
servers: a sweep of concurrency 1, 2, 4 with two runs and a fleet), not only against hand-built ones.

Regenerate tests/bench/data/bench-result-fake-fleet.json when the result schema gains a field the readers use.
"""

from __future__ import annotations

import re
from pathlib import Path

from lightonocr_validation.bench.charts import chart_svgs, write_charts
from lightonocr_validation.bench.compare import Verdict, compare_results, load_baseline
from lightonocr_validation.bench.html_report import render_html
from lightonocr_validation.bench.readout import series_of
from tests.bench.bench_results import scale

RECORDED = Path(__file__).parent / "data" / "bench-result-fake-fleet.json"


def test_a_recorded_result_is_charted_and_reported(tmp_path: Path) -> None:
    result = load_baseline(RECORDED)
    assert [p.name for p in write_charts(result, tmp_path)] == [
        "throughput.png",
        "latency.png",
        "latency-distribution.png",
    ]
    hosts = [host["name"] for host in result["hosts"]]
    ids = {chart.name: set(re.findall(r'<g id="([^"]+)"', svg)) for chart, svg in chart_svgs(result)}
    assert {"series-fleet", "series-fleet-interval"} <= ids["throughput"]
    assert all(f"series-{re.sub(r'[^a-z0-9]+', '-', h).strip('-')}" in ids["latency"] for h in hosts)
    text = render_html(result)
    assert all(h in text for h in hosts) and text.count('<tr class="mean">') == 3 * 3  # 3 loads, 2 hosts + fleet


def test_a_recorded_result_uses_the_pooled_figures_and_intervals() -> None:
    result = load_baseline(RECORDED)
    fleet = next(s for s in series_of(result) if s.name == "fleet")
    (load, *_) = fleet.loads
    pooled = next(entry for entry in result["fleet"]["summary"]["loads"] if entry["concurrency"] == load.value)
    assert fleet.value("pages_per_s", load) == pooled["figures"]["pages_per_s"]
    assert fleet.interval("e2e_s.p95", load) is not None


def test_a_recorded_result_against_itself_and_a_slower_copy() -> None:
    result = load_baseline(RECORDED)
    assert compare_results(result, result).ok
    for host in result["hosts"] + [result["fleet"]]:
        host["summary"].pop("intervals")  # no interval: the tolerance alone judges
        host["summary"].pop("loads")
    slower = scale(result, "pages_per_s", 0.5)
    comparison = compare_results(result, slower)
    assert not comparison.ok
    assert {row.figure.label for row in comparison.regressions} == {"pages/s"}
    assert {row.verdict for row in comparison.rows if row.figure.label == "pages/s" and row.host == "fleet"} == {
        Verdict.SAME
    }  # the fleet's own points were not slowed
