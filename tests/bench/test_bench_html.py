"""The bench HTML report: one offline file, escaped, and drawn for real by headless Chromium.

The browser tests FAIL when Chromium is missing: `nox -s tests` installs it (Debian's package), and a skipped
browser test would let a report that no browser can draw pass CI.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from lightonocr_validation.bench.html_report import render_html, write_html
from lightonocr_validation.bench.readout import ResultError
from tests.bench.bench_results import make_result
from tests.bench.browser import INSTALL_HINT, BrowserError, Chromium, chromium_path
from tests.processes import free_port

HOSTILE = '<img src=x onerror="alert(1)">gpu & co'
# What the probe collects once the page has loaded: each chart's box and the boxes of its series' lines.
PROBE = """(() => {
  const charts = [...document.querySelectorAll('figure[id^="chart-"]')].map(figure => {
    const svg = figure.querySelector('svg');
    const box = svg ? svg.getBoundingClientRect() : null;
    const series = svg ? [...svg.querySelectorAll('g[id]')].map(g => {
      const b = g.getBBox();
      return {id: g.id, width: b.width, height: b.height};
    }) : [];
    return {id: figure.id, box: box && {x: box.x + scrollX, y: box.y + scrollY, width: box.width, height: box.height},
            series: series};
  });
  return {charts: charts, title: document.title, scripts: document.scripts.length,
          tables: document.querySelectorAll('table').length, text: document.body.innerText};
})()"""
# matplotlib's default colours of the first two hosts: their lines must be painted in the chart's pixels.
BLUE, ORANGE = (0x1F, 0x77, 0xB4), (0xFF, 0x7F, 0x0E)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    if chromium_path() is None:
        pytest.fail(f"chromium is not installed: {INSTALL_HINT}", pytrace=False)
    try:
        with Chromium(tmp_path_factory.mktemp("chromium-profile")) as chromium:
            yield chromium
    except BrowserError as error:
        pytest.fail(f"chromium cannot run: {error}", pytrace=False)


@pytest.mark.system
def test_the_report_is_drawn_by_chromium_offline(browser: Chromium, tmp_path: Path) -> None:
    result = make_result(("local", "gpu-2"), (1, 2, 4, 8), runs=3, fleet=True)
    report = write_html(result, tmp_path / "bench.html")
    page = browser.open(report.as_uri())
    seen = page.evaluate(PROBE)

    assert page.requested == [report.as_uri()], "the page fetched something besides itself"
    assert page.failed == [] and page.console == []
    assert seen["scripts"] == 0
    charts = {chart["id"]: chart for chart in seen["charts"]}
    assert set(charts) == {"chart-throughput", "chart-latency", "chart-latency-distribution"}
    for chart in charts.values():
        assert chart["box"]["width"] > 300 and chart["box"]["height"] > 150, chart["id"]
    drawn = {s["id"] for chart in charts.values() for s in chart["series"] if s["width"] > 0 and s["height"] > 0}
    for host in ("local", "gpu-2", "fleet"):
        assert f"throughput-series-{host}" in drawn
        assert f"latency-series-{host}" in drawn
    # Three runs per load: the 95 % intervals are drawn as error bars.
    assert {"throughput-series-local-interval", "latency-series-gpu-2-interval"} <= drawn
    assert {f"latency-distribution-cdf-local-{field}-{i}" for field in ("e2e", "ttft") for i in range(4)} <= drawn

    pixels = Image.open(io.BytesIO(page.screenshot(charts["chart-throughput"]["box"]))).convert("RGB")
    assert _count(pixels, BLUE) > 200 and _count(pixels, ORANGE) > 200, "the host lines were not painted"
    assert "gpu-2" in seen["text"] and "pages/s" in seen["text"]


@pytest.mark.system
def test_the_probe_sees_a_page_that_fetches(browser: Chromium, tmp_path: Path) -> None:
    """The offline assertion can fail: a page that loads an outside image is caught, with or without a CSP."""
    outside = f"http://127.0.0.1:{free_port()}/logo.png"
    leaky = tmp_path / "leaky.html"
    leaky.write_text(f'<!DOCTYPE html><html><body><img src="{outside}"></body></html>', encoding="utf-8")
    assert outside in browser.open(leaky.as_uri()).requested

    report = render_html(make_result())
    guarded = tmp_path / "guarded.html"
    guarded.write_text(report.replace("</body>", f'<img src="{outside}"></body>'), encoding="utf-8")
    page = browser.open(guarded.as_uri())
    # The report's Content-Security-Policy refuses the load, and says so.
    assert outside not in page.requested or page.failed
    assert any("Content Security Policy" in line for line in page.console)


@pytest.mark.system
def test_result_text_is_escaped_and_shown(browser: Chromium, tmp_path: Path) -> None:
    result = make_result(("local", HOSTILE))
    result["provenance"]["model"] = "</title><script>alert(2)</script>"
    page = browser.open(write_html(result, tmp_path / "hostile.html").as_uri())
    seen = page.evaluate(PROBE)
    assert seen["scripts"] == 0
    assert HOSTILE in seen["text"]
    assert "<script>alert(2)</script>" in seen["title"]


def test_the_file_holds_no_reference_outside_itself(tmp_path: Path) -> None:
    text = render_html(make_result(("local", "gpu-2"), fleet=True))
    assert "<script" not in text.lower()
    assert not re.search(r"""(?:src|href)\s*=\s*["'](?!#|data:)""", text), "a link or source leaves the file"
    assert "url(http" not in text and "@import" not in text
    assert 'http-equiv="Content-Security-Policy"' in text and "default-src &#x27;none&#x27;" in text
    # Ids are unique across the inline charts, else one chart would draw another's glyphs or clip.
    ids = re.findall(r'\bid="([^"]+)"', text)
    assert len(ids) == len(set(ids))


def test_urls_are_shown_without_credentials() -> None:
    result = make_result()
    result["hosts"][0]["url"] = "https://benchuser:pa55word-xyz@gpu.example.org/v1"
    result["provenance"]["endpoint"] = "https://benchuser:pa55word-xyz@gpu.example.org/v1"
    text = render_html(result)
    assert "pa55word-xyz" not in text and "benchuser" not in text
    assert "https://gpu.example.org/v1" in text


def test_a_result_without_requests_or_streaming_still_renders() -> None:
    text = render_html(make_result(stream=False, with_requests=False))
    assert 'id="chart-throughput"' in text and 'id="chart-latency"' in text
    assert "chart-latency-distribution" not in text


def test_runs_show_a_mean_row_with_the_interval() -> None:
    result = make_result(runs=3)
    low, high = result["hosts"][0]["summary"]["intervals"]["pages_per_s"]["concurrency=2"]
    text = render_html(result)
    assert text.count('<tr class="mean">') == 3  # one per load
    assert f"[{low:.3g} to {high:.3g}]" in text


def test_not_a_result_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ResultError, match="schema"):
        write_html({"schema": 1, "hosts": []}, tmp_path / "x.html")
    assert not (tmp_path / "x.html").exists()


def _count(image: Image.Image, colour: tuple[int, int, int], tolerance: int = 40) -> int:
    data = image.convert("RGB").tobytes()
    pixels = zip(data[0::3], data[1::3], data[2::3], strict=True)
    return sum(1 for pixel in pixels if all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True)))


def test_a_missing_chromium_is_an_error_not_a_skip(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BrowserError, match="apt-get install -y chromium"):
        Chromium(tmp_path / "profile")


def test_the_summary_has_the_fleet_and_no_slo_verdict_without_an_objective() -> None:
    result = make_result(("local", "gpu-2"), fleet=True)
    result["fleet"]["summary"] = {"best_pages_per_s": {"concurrency": 4, "rate": None, "pages_per_s": 12.5}}
    for host in result["hosts"]:
        host["summary"]["slo"] = None
    text = render_html(result)
    summary = text[text.index('id="summary"') : text.index('id="charts"')]
    assert '<td class="text">fleet</td>' in summary and "12.5" in summary
    assert "not met" not in summary
    result["hosts"][0]["summary"]["slo"] = {"objective": "p95_e2e<=1s", "met_at": None, "pages_per_s": None}
    assert "not met" in render_html(result)
