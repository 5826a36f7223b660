"""`invoke bench` against the fake vLLM: every request accounted for, warm-up left out, figures that add up,
the sweep's stopping rule, the SLO search, intervals over runs, seeded arrivals, and bad input."""

from __future__ import annotations

import io
import itertools
import json
import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from lightonocr_validation.bench import slo
from lightonocr_validation.bench.command import run_bench
from lightonocr_validation.bench.options import BenchOptions
from lightonocr_validation.bench.plan import Step, Sweep, bisect, run_sweep, slo_summary
from lightonocr_validation.check.verdict import EXIT_CHECK_FAILED, EXIT_OK, EXIT_UNREACHABLE
from lightonocr_validation.core.config import apply_flags
from lightonocr_validation.core.errors import UserError
from lightonocr_validation.load.driver import Budget, arrival_offsets
from lightonocr_validation.load.figures import distribution, interval95, percentile
from lightonocr_validation.load.pages import BenchPage
from lightonocr_validation.load.records import Load, PointRun, RequestRecord
from lightonocr_validation.load.transport import Exchange
from tests.conftest import CONFIG, SETTINGS
from tests.fakevllm.server import FakeVllm, Faults
from tests.processes import free_port, run_invoke

ROOT = Path(__file__).resolve().parents[2]
PAGE_COUNT = 13  # pages of the bundled sample set


def bench(tmp_path: Path, *urls: str, **overrides: Any) -> tuple[int, dict[str, Any] | None, str]:
    """Run `invoke bench`'s body in-process against ``urls``; the exit code, the result JSON and the output."""
    path = tmp_path / "result.json"
    keys = ("max_concurrency", "gpu_hour_price", "max_error_rate")
    settings = {key: overrides.pop(key) for key in keys if key in overrides}
    config = apply_flags(CONFIG, "bench", ROOT, timeout=20.0, **settings)
    options = BenchOptions(config=config, hosts=list(urls), result_path=path, **{"requests": 13, **overrides})
    out = io.StringIO()
    console = Console(file=out, width=120)
    code = run_bench(options, console=console, errors=console)
    return code, json.loads(path.read_text()) if path.is_file() else None, out.getvalue()


def served(fake: FakeVllm) -> float:
    """Chat completions the fake answered, whatever their finish reason."""
    return sum(value for key, value in fake.counters.items() if key.startswith("vllm:request_success_total/"))


def ordered(summary: dict[str, float] | None) -> bool:
    assert summary is not None
    values = [summary[f"p{q}"] for q in (50, 90, 95, 99)]
    return values == sorted(values)


# --- figures ------------------------------------------------------------------------------------------


def test_percentiles_interpolate_between_ranks_as_numpy_does() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert percentile(values, 50) == 2.5
    assert percentile(values, 90) == pytest.approx(3.7)
    assert percentile([5.0], 99) == 5.0
    summary = distribution([4.0, 1.0, 3.0, 2.0])
    assert summary == {"mean": 2.5, "p50": 2.5, "p90": pytest.approx(3.7), "p95": pytest.approx(3.85), "p99": 3.97}
    assert distribution([]) is None


def test_the_interval_is_students_t_over_runs() -> None:
    low, high = interval95([1.0, 2.0, 3.0])
    half = 4.303 * 1.0 / math.sqrt(3)  # t(0.975, 2 df) * sd / sqrt(n)
    assert (low, high) == (pytest.approx(2 - half), pytest.approx(2 + half))
    assert interval95([2.0]) is None
    assert interval95([2.0, 2.0]) == (2.0, 2.0)


def test_objectives_parse_and_refuse_what_they_cannot_read() -> None:
    objective = slo.parse("p95_e2e<=20s, p99_ttft<=500ms")
    assert [(b.statistic, b.metric, b.seconds) for b in objective.bounds] == [
        ("p95", "e2e", 20.0),
        ("p99", "ttft", 0.5),
    ]
    assert objective.needs_stream
    for bad in ("fast", "p95_e2e<20s", "p42_e2e<=1s", "p95_queue<=1s", "p95_e2e<=0s"):
        with pytest.raises(slo.ObjectiveError, match="slo"):
            slo.parse(bad)


def test_an_objective_holds_only_when_every_request_was_answered() -> None:
    objective = slo.parse("p95_e2e<=1s")
    good = {"completed": 10, "errors": 0, "e2e_s": {"p95": 0.9}}
    assert objective.met_by(good)
    assert not objective.met_by({**good, "e2e_s": {"p95": 1.1}})
    assert not objective.met_by({**good, "errors": 1})


# --- plans, with a measuring function instead of a server --------------------------------------------------

PAGE = BenchPage("page", "data:", 1, 1)


def synthetic_step(load: Load, pages_per_s: float, e2e: float, errors: int = 0, runs: int = 1) -> Step:
    """A step whose pooled figures are ``pages_per_s`` and an e2e of ``e2e`` for every request."""
    records = [RequestRecord(PAGE, 0.0, Exchange(status=200, e2e_s=e2e)) for _ in range(10)]
    records += [RequestRecord(PAGE, 0.0, Exchange(status=500, e2e_s=e2e, error="HTTP 500")) for _ in range(errors)]
    point = PointRun("host", load, 1, 0.0, duration_s=10 / pages_per_s, records=records)
    return Step(load, {"host": [point] * runs})


def test_a_sweep_doubles_until_pages_per_second_stop_rising_by_five_percent() -> None:
    throughput = {1: 1.0, 2: 2.0, 4: 3.9, 8: 4.0, 16: 8.0}
    seen: list[int] = []

    def measure(load: Load) -> Step:
        seen.append(load.concurrency)
        return synthetic_step(load, throughput[load.concurrency], 1.0)

    steps = run_sweep(Sweep(max_concurrency=256), measure)
    assert seen == [1, 2, 4, 8]  # 8 gave 4.0 pages/s, under 3.9 * 1.05: no point going further
    assert "rose less than 5%" in steps[-1].stopped_because


def test_a_sweep_stops_at_the_first_failed_request_and_at_its_ceiling() -> None:
    seen: list[int] = []

    def measure(load: Load) -> Step:
        seen.append(load.concurrency)
        return synthetic_step(load, float(load.concurrency), 1.0, errors=int(load.concurrency >= 4))

    steps = run_sweep(Sweep(max_concurrency=256), measure)
    assert seen == [1, 2, 4]
    assert "1 request(s) failed" in steps[-1].stopped_because
    steps = run_sweep(Sweep(max_concurrency=5), lambda load: synthetic_step(load, 10.0 * load.concurrency, 1.0))
    assert [s.load.concurrency for s in steps] == [1, 2, 4]
    assert "largest concurrency" in steps[-1].stopped_because


def test_the_slo_search_finds_the_highest_concurrency_that_meets_the_objective() -> None:
    objective = slo.parse("p95_e2e<=1s")
    seen: list[int] = []

    def measure(load: Load) -> Step:  # latency grows with load: 0.1 s per request in flight
        seen.append(load.concurrency)
        return synthetic_step(load, float(load.concurrency), 0.1 * load.concurrency)

    steps = run_sweep(Sweep(max_concurrency=256, objective=objective), measure)
    assert seen == [1, 2, 4, 8, 16, 12, 10, 11]  # doubling, then bisection between 8 (met) and 16 (missed)
    summary = slo_summary(objective, [(s.load, s.figures()) for s in steps])
    assert summary["met_at"] == {"concurrency": 10}
    assert summary["pages_per_s"] == pytest.approx(10.0)
    # Missed at the first load: nothing meets it, and the search has nowhere to look.
    assert bisect(objective, measure, 1, 2) == []


# --- rate mode ---------------------------------------------------------------------------------------------


def test_arrivals_are_evenly_spaced_or_poisson_from_the_seed() -> None:
    constant = arrival_offsets(Load(4, rate=4.0), Budget(requests=5))
    assert constant == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])
    poisson = arrival_offsets(Load(4, rate=4.0, arrival="poisson", seed=7), Budget(requests=200))
    assert poisson == arrival_offsets(Load(4, rate=4.0, arrival="poisson", seed=7), Budget(requests=200))
    assert poisson != arrival_offsets(Load(4, rate=4.0, arrival="poisson", seed=8), Budget(requests=200))
    gaps = [b - a for a, b in itertools.pairwise(poisson)]
    assert len(set(gaps)) == len(gaps)  # random gaps, not a fixed step
    assert sum(gaps) / len(gaps) == pytest.approx(0.25, rel=0.25)  # mean gap 1/rate
    by_time = arrival_offsets(Load(4, rate=10.0), Budget(requests=None, duration_s=1.0))
    assert len(by_time) == 10 and by_time[-1] < 1.0


def test_rate_mode_sends_each_request_at_its_seeded_moment(fake_vllm, tmp_path: Path) -> None:
    fake = fake_vllm()
    code, result, _ = bench(tmp_path, fake.url, rate=20.0, arrival="poisson", seed=3, requests=12)
    assert code == EXIT_OK
    records = result["hosts"][0]["points"][0]["requests"]
    expected = arrival_offsets(Load(12, rate=20.0, arrival="poisson", seed=3), Budget(requests=12))
    assert [r["scheduled_s"] for r in records] == pytest.approx(expected)
    assert all(r["start_s"] >= r["scheduled_s"] for r in records)
    assert result["settings"]["mode"] == "rate" and result["settings"]["arrival"] == "poisson"


# --- against the fake server ---------------------------------------------------------------------------


def test_every_request_is_accounted_for_and_warm_up_is_left_out(fake_vllm, tmp_path: Path) -> None:
    fake = fake_vllm()
    code, result, output = bench(tmp_path, fake.url, concurrency=3, requests=20, warmup=5)
    assert code == EXIT_OK, output
    host = result["hosts"][0]
    (point,) = host["points"]
    figures = point["figures"]
    # The server answered the reference pass (each page once), the warm-up and the measured requests;
    # only the measured ones are in the point, and they all started after its clock did.
    assert served(fake) == len(host["reference"]["requests"]) + 5 + 20
    assert len(host["reference"]["requests"]) == PAGE_COUNT
    assert figures["requests"] == len(point["requests"]) == 20
    assert figures["completed"] == 20 and figures["errors"] == 0 and figures["error_rate"] == 0.0
    assert all(r["start_s"] >= 0 for r in point["requests"])
    assert result["settings"]["warmup_requests"] == 5
    for name in ("e2e_s", "ttft_s", "itl_s", "client_s"):
        assert ordered(figures[name]), name
    assert figures["pages_per_s"] == pytest.approx(20 / point["duration_s"])
    last_end = max(r["start_s"] + r["e2e_s"] for r in point["requests"])
    assert point["duration_s"] == pytest.approx(last_end)
    assert all(r["ttft_s"] <= r["e2e_s"] for r in point["requests"])
    # Output tokens come from the usage the stream ends with.
    assert all(r["output_tokens"] and r["prompt_tokens"] for r in point["requests"] if r["page"] != "blank-01")


def test_a_healthy_reading_is_accurate_under_load_and_a_broken_one_is_not(fake_vllm, tmp_path: Path) -> None:
    healthy = bench(tmp_path, fake_vllm().url, concurrency=2, requests=13)[1]
    figures = healthy["hosts"][0]["points"][0]["figures"]
    assert figures["accuracy"] == 1.0 and figures["accuracy_vs_c1"] == 1.0
    assert figures["accurate_goodput_pages_per_s"] == pytest.approx(figures["pages_per_s"])
    broken = bench(tmp_path, fake_vllm(Faults(wrong_text=True)).url, concurrency=2, requests=13)[1]
    figures = broken["hosts"][0]["points"][0]["figures"]
    assert figures["accuracy"] < 0.5
    assert figures["accurate_goodput_pages_per_s"] < figures["pages_per_s"]
    assert any(r["accurate"] is False and r["cer"] > 0 for r in broken["hosts"][0]["points"][0]["requests"])


def test_errors_and_truncations_are_counted_apart(fake_vllm, tmp_path: Path) -> None:
    code, result, _ = bench(tmp_path, fake_vllm(Faults(fail_sample="table-01")).url, requests=26, max_error_rate=0.1)
    figures = result["hosts"][0]["points"][0]["figures"]
    assert code == EXIT_OK  # failures within --max-error-rate are a figure, not a failed run
    assert figures["errors"] == 2 and figures["error_rate"] == pytest.approx(2 / 26)
    failed = [r for r in result["hosts"][0]["points"][0]["requests"] if r["error"]]
    assert {r["page"] for r in failed} == {"table-01"} and {r["status"] for r in failed} == {500}
    assert figures["truncation_rate"] == 0.0
    truncated = bench(tmp_path, fake_vllm(Faults(truncate=True)).url, requests=13)[1]
    figures = truncated["hosts"][0]["points"][0]["figures"]
    assert figures["truncation_rate"] == 1.0 and figures["errors"] == 0


def test_an_error_rate_above_the_bound_fails_the_run(fake_vllm, tmp_path: Path) -> None:
    url = fake_vllm(Faults(fail_sample="table-01")).url  # 2 of 26 requests answered HTTP 500: 7.7 %
    code, result, output = bench(tmp_path, url, requests=26)  # bench.max_error_rate's default, 0.05
    assert code == EXIT_CHECK_FAILED and result is not None and result["settings"]["max_error_rate"] == 0.05
    assert "issue: 2 of 26 requests to" in output and "(7.7%, above --max-error-rate 0.05): HTTP 500" in output
    assert bench(tmp_path, url, requests=26, max_error_rate=0.08)[0] == EXIT_OK  # 7.7 % is within 8 %
    assert bench(tmp_path, fake_vllm().url, requests=13, max_error_rate=0.0)[0] == EXIT_OK  # no error at all


def test_streamed_tokens_give_time_to_first_token_and_inter_token_latency(fake_vllm, tmp_path: Path) -> None:
    fake = fake_vllm(Faults(token_delay=0.004))
    result = bench(tmp_path, fake.url, pages=["receipt-01"], requests=2, concurrency=1)[1]
    point = result["hosts"][0]["points"][0]
    for record in point["requests"]:
        assert record["itl_s"] >= 0.004 * 0.9  # events were sent 4 ms apart
        assert record["ttft_s"] < record["e2e_s"] - 0.004 * (record["output_tokens"] - 2)
    assert point["figures"]["itl_s"]["p50"] >= 0.004 * 0.9


def test_no_stream_has_no_first_token_figures(fake_vllm, tmp_path: Path) -> None:
    result = bench(tmp_path, fake_vllm().url, stream=False, requests=13)[1]
    figures = result["hosts"][0]["points"][0]["figures"]
    assert figures["ttft_s"] is None and figures["itl_s"] is None and ordered(figures["e2e_s"])
    assert figures["accuracy"] == 1.0


def test_a_fixed_output_length_sends_ignore_eos_and_does_not_judge_accuracy(fake_vllm, tmp_path: Path) -> None:
    fake = fake_vllm()
    code, result, output = bench(tmp_path, fake.url, max_tokens=8, temperature=0.0, requests=13)
    assert code == EXIT_OK
    settings = result["settings"]
    assert (settings["max_tokens"], settings["ignore_eos"], settings["temperature"]) == (8, True, 0.0)
    assert not settings["accuracy_judged"] and "fixed output length" in settings["accuracy_note"]
    figures = result["hosts"][0]["points"][0]["figures"]
    assert figures["accuracy"] is None and figures["accurate_goodput_pages_per_s"] is None
    assert result["hosts"][0]["reference"] is None  # nothing to compare with: no reference pass was sent
    assert "accuracy not judged" in output


def test_runs_give_an_interval_for_each_figure(fake_vllm, tmp_path: Path) -> None:
    result = bench(tmp_path, fake_vllm().url, runs=3, requests=13, gpu_hour_price=2.0)[1]
    host = result["hosts"][0]
    assert [p["run"] for p in host["points"]] == [1, 2, 3]
    low, high = host["summary"]["intervals"]["pages_per_s"]["concurrency=4"]
    runs = [p["figures"]["pages_per_s"] for p in host["points"]]
    assert low <= sum(runs) / 3 <= high
    assert "e2e_s.p95" in host["summary"]["intervals"]
    cost = host["points"][0]["figures"]["cost_per_1000_pages"]
    assert cost == pytest.approx(2.0 / 3600 / host["points"][0]["figures"]["pages_per_s"] * 1000)


def test_a_sweep_against_the_fake_stops_and_grades_against_concurrency_one(fake_vllm, tmp_path: Path) -> None:
    fake = fake_vllm(Faults(delay=0.02))
    code, result, output = bench(tmp_path, fake.url, sweep=True, max_concurrency=4, requests=8)
    assert code == EXIT_OK, output
    loads = [p["concurrency"] for p in result["hosts"][0]["points"]]
    assert loads[0] == 1 and loads == sorted(loads) and max(loads) <= 4
    assert all(p["figures"]["accuracy_vs_c1"] == 1.0 for p in result["hosts"][0]["points"])
    assert result["hosts"][0]["reference"] is None  # the sweep's own first load is the reference
    assert result["hosts"][0]["summary"]["stopped_because"]


def test_an_objective_missed_at_every_load_exits_1(fake_vllm, tmp_path: Path) -> None:
    code, result, output = bench(tmp_path, fake_vllm(Faults(delay=0.05)).url, slo="p95_e2e<=10ms", requests=8)
    assert code == EXIT_CHECK_FAILED
    assert result["hosts"][0]["summary"]["slo"]["met_at"] is None
    assert "issue: the objective p95_e2e<=0.01s was met at no load" in output
    code, result, _ = bench(tmp_path, fake_vllm().url, slo="p95_e2e<=20s", requests=8)
    assert code == EXIT_OK and result["hosts"][0]["summary"]["slo"]["met_at"] == {"concurrency": 4}


def test_every_request_failing_exits_1_never_0(fake_vllm, tmp_path: Path) -> None:
    # max_tokens above the server's max_model_len: each request is refused with 400.
    code, result, output = bench(tmp_path, fake_vllm(Faults(max_model_len=2048)).url, requests=8)
    assert code == EXIT_CHECK_FAILED
    assert result["hosts"][0]["points"][0]["figures"]["completed"] == 0
    assert "every request to" in output and "max_tokens=4096 cannot be greater" in output


def test_a_fleet_has_figures_per_host_and_totals(fake_vllm, tmp_path: Path) -> None:
    first, second = fake_vllm(), fake_vllm()
    code, result, _ = bench(tmp_path, first.url, second.url, requests=13, gpu_hour_price=1.0)
    assert code == EXIT_OK
    fleet = result["fleet"]["points"][0]["figures"]
    hosts = [h["points"][0]["figures"] for h in result["hosts"]]
    assert fleet["requests"] == sum(h["requests"] for h in hosts) == 26
    # The hosts ran at the same time: the fleet's pages/s is more than either host's.
    assert fleet["pages_per_s"] > max(h["pages_per_s"] for h in hosts)
    assert fleet["cost_per_1000_pages"] == pytest.approx(2 * 1.0 / 3600 / fleet["pages_per_s"] * 1000)


def test_the_api_key_is_sent_and_never_written(fake_vllm, tmp_path: Path, monkeypatch) -> None:
    key = "sk-bench-secret-0042"
    fake = fake_vllm(api_key=key)
    monkeypatch.setenv("VLLM_API_KEY", key)
    code, result, output = bench(tmp_path, fake.url, requests=4)
    assert code == EXIT_OK and result["hosts"][0]["points"][0]["figures"]["completed"] == 4
    assert key not in output + (tmp_path / "result.json").read_text()
    monkeypatch.setenv("VLLM_API_KEY", "sk-wrong-key-0000")
    code, result, output = bench(tmp_path / "wrong", fake.url, requests=4)
    assert code == EXIT_UNREACHABLE and result is None
    refused = "/v1/models answered 401: the server refused the API key read from VLLM_API_KEY: VLLM_API_KEY must hold"
    assert refused in output and "sk-wrong" not in output


def test_a_model_the_server_does_not_serve_is_bad_input(fake_vllm, tmp_path: Path) -> None:
    fake = fake_vllm(Faults(served_name="other-model"))
    code, _, output = bench(tmp_path, fake.url)
    assert code == EXIT_UNREACHABLE
    assert "does not serve 'lightonai/LightOnOCR-2-1B' (it serves other-model): pass --model" in output


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"sweep": True, "rate": 2.0}, "give one of them"),
        ({"requests": 5, "duration": 3.0}, "give one of them"),
        ({"concurrency": 0}, "--concurrency 0 must be at least 1"),
        ({"slo": "fast"}, "write it as p95_e2e<=20s"),
        ({"slo": "p95_ttft<=1s", "stream": False}, "drop --no-stream"),
        ({"arrival": "poisson"}, "add --rate"),
        ({"pages": ["nope-01"]}, "unknown page nope-01"),
    ],
)
def test_bad_options_are_refused_before_anything_is_sent(
    tmp_path: Path, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace("+", r"\+")):
        bench(tmp_path, "http://127.0.0.1:9", **overrides)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--concurrency", "many"], "--concurrency 'many' is not a whole number"),
        (["--sweep", "--rate", "2"], "give one of them"),
        (["--slo", "p95<=2"], "write it as p95_e2e<=20s"),
    ],
)
def test_bad_input_on_the_command_line_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = run_invoke("bench", "--port", str(free_port()), *args, env=_env())
    assert result.returncode == EXIT_UNREACHABLE
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_unreachable_server_exits_2_naming_the_cause(tmp_path: Path) -> None:
    result = run_invoke("bench", "--port", str(free_port()), "--json", str(tmp_path / "r.json"), env=_env())
    assert result.returncode == EXIT_UNREACHABLE
    assert "connection refused" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "r.json").exists()


def _env() -> dict[str, str]:
    import os

    return {key: value for key, value in os.environ.items() if key != "VLLM_API_KEY"} | {"COLUMNS": "120"}


def test_worker_pool_reuses_one_connection_per_worker(fake_vllm, tmp_path: Path, monkeypatch) -> None:
    opened: list[object] = []
    import urllib3.connectionpool

    original: Callable[..., Any] = urllib3.connectionpool.HTTPConnectionPool._new_conn

    def counting(pool: Any) -> Any:
        opened.append(pool)
        return original(pool)

    monkeypatch.setattr(urllib3.connectionpool.HTTPConnectionPool, "_new_conn", counting)
    code, _, _ = bench(tmp_path, fake_vllm().url, concurrency=3, requests=30, warmup=3)
    assert code == EXIT_OK
    # The preflight's client (1) and the reference pass's single worker (1), then one per worker of the point,
    # and the server time probe's two /metrics readings (at the point's start and end).
    assert len(opened) == 1 + 1 + 3 + 2


def test_the_perf_check_fails_when_pages_fail_under_load_and_skips_random_weights(fake_vllm, run_checks) -> None:
    from checks.load import PRF002
    from lightonocr_validation.check.base import Status

    url = fake_vllm(Faults(fail_sample="table-01")).url
    checked = run_checks(url, selected=[PRF002], perf=replace(SETTINGS.perf, requests=12, concurrency=3))
    result = checked.by_id["PRF002"]
    assert result.status is Status.FAIL and "failed at concurrency 3" in result.detail and "table-01" in result.detail
    assert checked.verdict.exit_code == EXIT_CHECK_FAILED
    healthy = run_checks(fake_vllm().url, selected=[PRF002], perf=replace(SETTINGS.perf, requests=12, concurrency=3))
    assert healthy.by_id["PRF002"].status is Status.PASS and healthy.by_id["PRF002"].data["errors"] == 0
    assert not PRF002.essential
    skipped = run_checks(fake_vllm().url, selected=[PRF002], weights="random").by_id["PRF002"]
    assert skipped.status is Status.SKIP and "random weights" in skipped.detail


@pytest.mark.slow
def test_reports_are_written_and_a_slower_run_is_a_regression(fake_vllm, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    code, _, output = bench(
        tmp_path / "fast",
        fake_vllm().url,
        requests=13,
        save_baseline=baseline,
        html=tmp_path / "report.html",
        charts=tmp_path / "charts",
    )
    assert code == EXIT_OK, output
    assert "requests" not in json.loads(baseline.read_text())["hosts"][0]["points"][0]
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in (tmp_path / "charts").iterdir()) == [
        "latency-distribution.png",
        "latency.png",
        "throughput.png",
    ]
    _, _, output = bench(tmp_path / "again", fake_vllm().url, requests=13, compare=baseline)
    assert "against the baseline" in output
    slow, _, output = bench(tmp_path / "slow", fake_vllm(Faults(delay=0.3)).url, requests=13, compare=baseline)
    assert slow == EXIT_CHECK_FAILED
    assert "regression(s) against the baseline" in output and "pages/s" in output


def test_a_baseline_that_cannot_be_read_is_refused_before_the_run(tmp_path: Path) -> None:
    (tmp_path / "old.json").write_text("{not json")
    with pytest.raises(UserError, match=r"--compare .*old\.json: not JSON"):
        bench(tmp_path, "http://127.0.0.1:9", compare=tmp_path / "old.json")


def test_a_point_by_duration_stops_sending_at_its_end_and_counts_what_was_in_flight(fake_vllm, tmp_path: Path) -> None:
    code, result, _ = bench(tmp_path, fake_vllm(Faults(delay=0.05)).url, requests=None, duration=0.6, concurrency=2)
    assert code == EXIT_OK
    point = result["hosts"][0]["points"][0]
    assert result["settings"]["duration_s"] == 0.6 and result["settings"]["requests_per_point"] is None
    assert all(r["start_s"] < 0.6 for r in point["requests"])  # nothing was sent after the end...
    assert point["duration_s"] >= 0.6  # ...and what was in flight was finished and counted
    assert point["figures"]["requests"] == len(point["requests"]) >= 4


def test_timing_without_the_text_sees_the_same_events_as_parsing_them(fake_vllm) -> None:
    from lightonocr_validation.bench.options import request_body
    from lightonocr_validation.load.pages import sample_pages
    from lightonocr_validation.load.transport import send
    from lightonocr_validation.vllm.client import Target, configured_session

    fake = fake_vllm(Faults(token_delay=0.001))
    page = next(p for p in sample_pages() if p.label == "receipt-01")
    options = BenchOptions(config=CONFIG)
    target = Target(base_url=fake.url)
    session = configured_session(target)
    url = f"{fake.url}/v1/chat/completions"
    parsed = send(session, target, url, request_body(page, options), stream=True)
    timed = send(session, target, url, request_body(page, options), stream=True, keep_text=False)
    assert parsed.ok and timed.ok
    # Only the last event (it carries the finish reason) is parsed when the text is not kept.
    assert len(parsed.text) > 100 and parsed.text.endswith(timed.text) and len(timed.text) < 20
    assert len(timed.gaps) == len(parsed.gaps) > 10
    assert (timed.finish_reason, timed.output_tokens) == (parsed.finish_reason, parsed.output_tokens)
    assert timed.ttft_s is not None and timed.ttft_s < timed.e2e_s
