"""The bench charts: PNG files that decode, the same bytes for the same result, every series and interval drawn."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from PIL import Image

from lightonocr_validation.bench.charts import ChartsUnavailable, build_charts, chart_svgs, series_id, write_charts
from lightonocr_validation.bench.readout import ResultError, check_result, series_of
from tests.bench.bench_results import make_result


def _ids(result: dict) -> dict[str, set[str]]:
    return {chart.name: set(re.findall(r'<g id="([^"]+)"', svg)) for chart, svg in chart_svgs(result)}


def test_pngs_are_written_and_decode(tmp_path: Path) -> None:
    paths = write_charts(make_result(("local", "gpu-2"), fleet=True), tmp_path / "charts")
    assert [p.name for p in paths] == ["throughput.png", "latency.png", "latency-distribution.png"]
    for path in paths:
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            assert image.format == "PNG" and image.width == 700 and image.height >= 400


@pytest.mark.slow
def test_the_same_result_gives_the_same_bytes(tmp_path: Path) -> None:
    result = make_result(runs=2)
    first = [p.read_bytes() for p in write_charts(result, tmp_path / "a")]
    second = [p.read_bytes() for p in write_charts(result, tmp_path / "b")]
    assert first == second
    assert [svg for _, svg in chart_svgs(result)] == [svg for _, svg in chart_svgs(result)]
    assert b"Date" not in b"".join(first) and all("<dc:date>" not in svg for _, svg in chart_svgs(result))
    # A different result is a different picture: the comparison above can fail.
    other = [p.read_bytes() for p in write_charts(make_result(runs=2, seed=1), tmp_path / "c")]
    assert other[0] != first[0]


def test_every_host_and_the_fleet_is_a_series() -> None:
    ids = _ids(make_result(("local", "gpu-2"), fleet=True))
    for host in ("local", "gpu-2", "fleet"):
        assert series_id("series", host) in ids["throughput"]
        assert series_id("series", host) in ids["latency"]
    assert "goodput-local" in ids["throughput"] and "goodput-fleet" not in ids["throughput"]
    assert {"cdf-local-e2e-0", "cdf-gpu-2-ttft-2"} <= ids["latency-distribution"]
    assert not any(i.startswith("cdf-fleet") for i in ids["latency-distribution"])


def test_intervals_are_error_bars_only_with_runs() -> None:
    with_runs = _ids(make_result(runs=3))
    assert "series-local-interval" in with_runs["throughput"] and "series-local-interval" in with_runs["latency"]
    single = _ids(make_result(runs=1))
    assert not any(i.endswith("-interval") for ids in single.values() for i in ids)


def test_slo_line_drawn_when_near_the_data() -> None:
    near = make_result()
    near["settings"]["slo"] = "p95_e2e<=1.5s"
    assert "slo" in _ids(near)["latency"]
    far = make_result()  # 20 s against latencies near 1 s: it would flatten the chart
    assert "slo" not in _ids(far)["latency"]


def test_no_ttft_without_streaming_and_no_distribution_without_requests() -> None:
    ids = _ids(make_result(stream=False))
    assert not any("-ttft-" in i for i in ids["latency-distribution"])
    assert [chart.name for chart in build_charts(make_result(with_requests=False))] == ["throughput", "latency"]


def test_rate_mode_uses_the_rate_as_load() -> None:
    result = make_result()
    for point in result["hosts"][0]["points"]:
        # In rate mode the concurrency is only the cap on requests in flight, the same at every rate.
        point["rate"], point["concurrency"] = point["concurrency"] * 0.5, 64
    (series,) = series_of(result)
    assert [load.label for load in series.loads] == ["0.5 req/s", "1 req/s", "2 req/s"]
    assert "series-local" in _ids(result)["throughput"]


def test_without_matplotlib_a_one_line_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ChartsUnavailable, match=r"matplotlib is not installed.*matplotlib>=3\.9"):
        write_charts(make_result(), tmp_path)


@pytest.mark.parametrize(
    ("bad", "cause"),
    [
        ([], "not a bench result"),
        ({"schema": "lightonocr-validation/bench/2", "hosts": []}, "schema"),
        ({"schema": "lightonocr-validation/bench/1", "hosts": []}, "no hosts"),
        ({"schema": "lightonocr-validation/bench/1", "hosts": [{"name": "a"}]}, "no `points`"),
        ({"schema": "lightonocr-validation/bench/1", "hosts": [{"name": "a", "points": [{}]}]}, "no `figures`"),
        (
            {"schema": "lightonocr-validation/bench/1", "hosts": [{"name": "a", "points": [{"figures": {}}]}]},
            "neither a concurrency nor a rate",
        ),
    ],
)
def test_a_malformed_result_is_named(bad: object, cause: str) -> None:
    with pytest.raises(ResultError, match=re.escape(cause)):
        check_result(bad)
    check_result(make_result())  # and a good one passes
