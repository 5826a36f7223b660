"""`--compare`: a regression is flagged, an improvement or noise within tolerance is not; bad input is named."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from rich.console import Console

from lightonocr_validation.bench.compare import (
    Tolerance,
    Tolerances,
    Verdict,
    compare_results,
    load_baseline,
    make_baseline,
    render_comparison,
    write_baseline,
)
from lightonocr_validation.bench.readout import Load, ResultError
from tests.bench.bench_results import make_result, scale, set_figure

STEADY = "steady pages/s"  # n/a in the synthetic results: they carry no steady block


def _verdicts(comparison, figure: str) -> set[Verdict]:
    return {row.verdict for row in comparison.rows if row.figure.label == figure}


def _text(comparison) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=160, no_color=True).print(render_comparison(comparison))
    return buffer.getvalue()


def test_the_same_result_has_no_regression() -> None:
    result = make_result(("local", "gpu-2"), fleet=True)
    comparison = compare_results(result, result)
    assert comparison.ok and comparison.unmatched == [] and comparison.notes == []
    assert {row.verdict for row in comparison.rows if row.host != "fleet" and row.figure.label != STEADY} == {
        Verdict.SAME
    }
    # The fleet's points hold totals and the slowest host's latency, not TTFT or accuracy; these synthetic
    # results have no steady state (test_bench_steady.py compares real ones).
    fleet_without = {"TTFT p50", "TTFT p95", "truncation rate", "accuracy", "accurate goodput", STEADY}
    assert {row.figure.label for row in comparison.rows if row.verdict is Verdict.NOT_APPLICABLE} == fleet_without
    # 12 figures x 3 loads x (2 hosts + the fleet), less the fleet's figures it does not have (n/a rows).
    assert len(comparison.rows) == 12 * 3 * 3
    assert "no regression against the baseline" in _text(comparison)


@pytest.mark.parametrize(
    ("figure", "factor", "label"),
    [
        ("pages_per_s", 0.85, "pages/s"),  # -15 % throughput, beyond 10 %
        ("output_tokens_per_s", 0.85, "output tokens/s"),
        ("accurate_goodput_pages_per_s", 0.85, "accurate goodput"),
        ("e2e_s.p95", 1.25, "e2e p95"),  # +25 % latency, beyond 15 %
        ("e2e_s.p50", 1.25, "e2e p50"),
        ("e2e_s.p99", 1.25, "e2e p99"),
        ("ttft_s.p50", 2.0, "TTFT p50"),
        ("ttft_s.p95", 2.0, "TTFT p95"),
    ],
)
def test_worse_beyond_tolerance_is_a_regression_and_better_is_not(figure: str, factor: float, label: str) -> None:
    old = make_result()
    worse = compare_results(old, scale(old, figure, factor))
    assert not worse.ok
    assert {row.figure.label for row in worse.regressions} == {label}
    assert _verdicts(worse, label) == {Verdict.WORSE}
    assert f"{len(worse.regressions)} regression(s)" in _text(worse)

    better = compare_results(old, scale(old, figure, 1 / factor))
    assert better.ok and _verdicts(better, label) == {Verdict.BETTER}


@pytest.mark.parametrize(("figure", "factor"), [("pages_per_s", 0.93), ("e2e_s.p95", 1.12), ("ttft_s.p95", 1.1)])
def test_noise_within_tolerance_is_the_same(figure: str, factor: float) -> None:
    old = make_result()
    comparison = compare_results(old, scale(old, figure, factor))
    assert comparison.ok
    assert {row.verdict for row in comparison.rows if row.figure.label != STEADY} == {Verdict.SAME}


def test_latency_has_an_absolute_floor() -> None:
    """A 5 ms TTFT doubling to 10 ms is +100 % but inside the 10 ms floor: not a regression."""
    old = set_figure(make_result(), "ttft_s.p50", 0.005)
    assert compare_results(old, set_figure(old, "ttft_s.p50", 0.010)).ok
    assert not compare_results(old, set_figure(old, "ttft_s.p50", 0.030)).ok


def test_any_new_error_or_truncation_is_a_regression() -> None:
    old = make_result()
    errors = compare_results(old, set_figure(old, "error_rate", 1 / 16))
    assert [row.figure.label for row in errors.regressions] == ["error rate"] * 3
    truncated = compare_results(old, set_figure(old, "truncation_rate", 1 / 16))
    assert {row.figure.label for row in truncated.regressions} == {"truncation rate"}
    fewer = compare_results(set_figure(old, "error_rate", 0.25), old)
    assert fewer.ok and _verdicts(fewer, "error rate") == {Verdict.BETTER}


def test_accuracy_may_lose_up_to_two_points() -> None:
    old = make_result()
    assert compare_results(old, set_figure(old, "accuracy", 0.985)).ok
    drop = compare_results(old, set_figure(old, "accuracy", 0.9))
    assert {row.figure.label for row in drop.regressions} == {"accuracy"}


def test_only_one_host_regressing_is_named() -> None:
    old = make_result(("local", "gpu-2"))
    comparison = compare_results(old, scale(old, "pages_per_s", 0.5, host="gpu-2"))
    assert {row.host for row in comparison.regressions} == {"gpu-2"}
    assert "gpu-2 concurrency 1 pages/s -50.0%" in _text(comparison)
    buffer = io.StringIO()
    Console(file=buffer, width=160, no_color=True).print(render_comparison(comparison, only_changes=True))
    short = buffer.getvalue()
    assert short.count("worse") == 3 and not re.search(r"│\s*same\s*│", short)
    assert f"{len(comparison.rows) - 3} figures the same or not comparable are not shown" in short


def test_overlapping_intervals_are_noise_not_a_regression() -> None:
    old = make_result(runs=3)
    new = scale(old, "pages_per_s", 0.85)
    # Intervals as wide as the runs were noisy: the -15 % is inside their overlap.
    for result in (old, new):
        for host in result["hosts"]:
            intervals = host["summary"]["intervals"]["pages_per_s"]
            for key, (low, high) in intervals.items():
                intervals[key] = [low * 0.8, high * 1.2]
    comparison = compare_results(old, new)
    assert comparison.ok and _verdicts(comparison, "pages/s") == {Verdict.NOISE}

    # Tight intervals that do not overlap: the same change is a regression.
    tight = compare_results(make_result(runs=3), scale(make_result(runs=3), "pages_per_s", 0.85))
    assert _verdicts(tight, "pages/s") == {Verdict.WORSE}


def test_intervals_of_two_runs_do_not_hide_a_regression() -> None:
    # Two runs give Student's t with one degree of freedom: intervals wide enough to cover a real drop.
    old = make_result(runs=2)
    new = scale(old, "pages_per_s", 0.6)
    for result in (old, new):
        for host in result["hosts"]:
            intervals = host["summary"]["intervals"]["pages_per_s"]
            for key, (low, high) in intervals.items():
                intervals[key] = [low * 0.3, high * 3.0]
    comparison = compare_results(old, new)
    assert not comparison.ok and _verdicts(comparison, "pages/s") == {Verdict.WORSE}


def test_loads_and_hosts_on_one_side_are_reported() -> None:
    old = make_result(("local", "gpu-2"), (1, 2, 4))
    new = make_result(("local", "gpu-3"), (2, 4, 8))
    comparison = compare_results(old, new)
    assert sorted(comparison.unmatched) == [
        "gpu-2: in the baseline only",
        "gpu-3: in the new result only",
        "local at concurrency 1: in the baseline only",
        "local at concurrency 8: in the new result only",
    ]
    assert {row.load for row in comparison.rows} == {Load("concurrency", 2), Load("concurrency", 4)}
    assert "not compared: local at concurrency 8: in the new result only" in _text(comparison)


def test_one_host_each_is_compared_whatever_its_name() -> None:
    comparison = compare_results(make_result(("h200",)), make_result(("local",)))
    assert comparison.rows and comparison.unmatched == []
    assert comparison.notes == ["host 'local' compared with the baseline's host 'h200'"]


def test_hosts_named_apart_pair_in_order() -> None:
    """A fleet's hosts are often named by URL, whose ports change between runs."""
    old = make_result(("http://127.0.0.1:40001", "http://127.0.0.1:40002"))
    new = scale(make_result(("http://127.0.0.1:50001", "http://127.0.0.1:50002")), "pages_per_s", 0.5)
    new["hosts"][0]["points"] = old["hosts"][0]["points"]  # the first host unchanged, the second slower
    comparison = compare_results(old, new)
    assert comparison.unmatched == [] and len(comparison.notes) == 2
    assert {row.host for row in comparison.regressions} == {"http://127.0.0.1:50002"}


def test_differing_settings_are_noted() -> None:
    old = make_result()
    new = make_result()
    new["settings"]["max_tokens"] = 2048
    new["provenance"]["weights"] = "random"
    notes = compare_results(old, new).notes
    assert any(note.startswith("max_tokens differs: 1024 in the baseline, 2048 now") for note in notes)
    assert any(note.startswith("weights differs") for note in notes)


def test_no_common_load_is_an_error() -> None:
    with pytest.raises(ResultError, match=r"no host and load in common.*run the bench at the baseline's loads"):
        compare_results(make_result(concurrencies=(1, 2)), make_result(concurrencies=(4, 8)))


def test_not_a_result_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ResultError, match="the baseline: schema"):
        compare_results({"schema": "something/else"}, make_result())
    garbled = tmp_path / "old.json"
    garbled.write_text("{not json", encoding="utf-8")
    with pytest.raises(ResultError, match=r"old.json: not JSON"):
        load_baseline(garbled)
    with pytest.raises(ResultError, match="cannot read it"):
        load_baseline(tmp_path / "missing.json")


def test_custom_tolerances_change_the_verdict() -> None:
    old = make_result()
    new = scale(old, "pages_per_s", 0.85)
    assert compare_results(old, new, Tolerances(throughput=Tolerance(relative=0.20))).ok
    assert not compare_results(old, new, Tolerances(throughput=Tolerance(relative=0.05))).ok


def test_a_baseline_file_carries_its_tolerances(tmp_path: Path) -> None:
    result = make_result()
    path = write_baseline(result, tmp_path / "baseline.json", Tolerances(throughput=Tolerance(relative=0.20)))
    baseline = load_baseline(path)
    assert all(point.get("requests") is None for point in baseline["hosts"][0]["points"])
    assert baseline["tolerances"]["throughput"] == {"relative": 0.2, "absolute": 0.0}
    new = scale(result, "pages_per_s", 0.85)
    assert compare_results(baseline, new).ok  # the baseline's 20 %, not the default 10 %
    assert not compare_results(make_baseline(result), new).ok  # no tolerances in it: the defaults


@pytest.mark.parametrize(
    "tolerances",
    [{"speed": {"relative": 0.1}}, {"latency": {"relative": -1}}, {"latency": 0.1}, {"latency": {"rel": 0.1}}],
)
def test_bad_tolerances_are_named(tmp_path: Path, tolerances: dict) -> None:
    baseline = make_baseline(make_result())
    baseline["tolerances"] = tolerances
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(baseline), encoding="utf-8")
    with pytest.raises(ResultError, match="tolerances"):
        load_baseline(path)


def test_pooled_figures_are_compared_when_the_result_has_them() -> None:
    """`summary.loads` holds each load's figures over all runs' requests: preferred to the mean of the runs."""
    old = make_result(runs=2)
    new = make_result(runs=2)
    for host in new["hosts"]:
        pooled = [{"concurrency": c, "rate": None, "figures": {"pages_per_s": 0.1}} for c in (1, 2, 4)]
        host["summary"]["loads"] = pooled
        host["summary"]["intervals"] = {}  # else the old intervals, still overlapping, would call it noise
    comparison = compare_results(old, new)
    assert _verdicts(comparison, "pages/s") == {Verdict.WORSE}
    assert {row.new for row in comparison.rows if row.figure.label == "pages/s"} == {0.1}


def test_the_committed_h200_baseline_compares_with_itself_and_catches_a_slower_server() -> None:
    # docs/gpu.md's sweep on the H200: a later run is judged against it with `invoke bench --compare`.
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "baselines" / "h200-vllm-0.26.0-card.json"
    baseline = load_baseline(path)
    same = compare_results(baseline, baseline)
    assert same.ok and not same.unmatched
    assert {row.load.value for row in same.rows} >= {1, 2, 4, 8, 16, 32, 64}
    slower = compare_results(baseline, scale(baseline, "pages_per_s", 0.8))
    assert not slower.ok and _verdicts(slower, "pages/s") == {Verdict.WORSE}
