"""`invoke check` and `invoke bench` over a fleet (`--replicas N`, `--gpus N`): a verdict per replica and the
fleet's, figures per replica and in total, and the scaling efficiency, against fake vLLMs on consecutive ports.

Scaling is measurable without a GPU because the fakes have a known capacity: each serves at most `capacity`
completions at once, `service_s` seconds each, so one fake's pages/s is capacity / service_s whatever the
client does. Two such fakes are two GPUs (efficiency near 1); two ports in front of one shared set of slots are
two replicas that are really one GPU (efficiency near 0.5). The bounds are wide on purpose: the figures are
sleeps, not speed, but the machine is shared.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from lightonocr_validation.bench import scaling
from lightonocr_validation.bench.command import run_bench
from lightonocr_validation.bench.compare import compare_results, render_comparison
from lightonocr_validation.bench.html_report import render_html
from lightonocr_validation.bench.live import client_warnings
from lightonocr_validation.bench.options import BenchOptions
from lightonocr_validation.bench.readout import Load
from lightonocr_validation.check import registry
from lightonocr_validation.check.command import CheckOptions, run_check
from lightonocr_validation.check.verdict import EXIT_CHECK_FAILED, EXIT_OK, EXIT_UNREACHABLE
from lightonocr_validation.core.config import apply_flags
from lightonocr_validation.core.errors import UserError
from tests.conftest import CONFIG
from tests.fakevllm.server import FakeVllm, Faults
from tests.processes import free_ports, run_invoke

ROOT = Path(__file__).resolve().parents[2]
CAPACITY = 2  # completions one fake GPU serves at once
SERVICE_S = 0.25  # seconds each holds its slot: one fake GPU serves CAPACITY / SERVICE_S = 8 pages/s
# "Two GPUs" scale near 1, "one GPU behind two ports" near 0.5. The one-GPU run is eight pages in about a second,
# and its client's first page pays for warming up, so a loaded machine moves it by a fifth (a CI run measured
# 1.19): the bounds keep the two cases apart (and a double count, 2.0, out), not the decimals.
SCALES, HALVES = (0.75, 1.4), (0.35, 0.65)


@pytest.fixture
def fleet() -> Iterator[Any]:
    """Start fakes on consecutive ports: fleet(count, shared=False, down=()) -> the first port."""
    with ExitStack() as stack:

        def start(count: int, *, shared: bool = False, down: tuple[int, ...] = (), capacity: int = CAPACITY) -> int:
            base = free_ports(count)
            slots = threading.Semaphore(capacity) if shared else None
            for index in range(count):
                if index not in down:
                    faults = Faults(capacity=capacity, service_s=SERVICE_S)
                    stack.enter_context(FakeVllm(faults, port=base + index, slots=slots))
            return base

        yield start


def bench(tmp_path: Path, port: int, **overrides: Any) -> tuple[int, dict[str, Any] | None, str]:
    path = tmp_path / "result.json"
    config = apply_flags(CONFIG, "bench", ROOT, timeout=20.0, port=port)
    settings = {"requests": 8, "concurrency": CAPACITY, "pages": ["prose-01"], "warmup": 0, **overrides}
    options = BenchOptions(config=config, hosts=["127.0.0.1"], result_path=path, **settings)
    out = io.StringIO()
    console = Console(file=out, width=140)
    code = run_bench(options, console=console, errors=console)
    return code, json.loads(path.read_text()) if path.is_file() else None, out.getvalue()


# --- the efficiency itself -------------------------------------------------------------------------------


def _totals(*pairs: tuple[int, float]) -> list[dict[str, Any]]:
    return [{"concurrency": c, "rate": None, "figures": {"pages_per_s": p, "e2e_s": {"p95": 1.0}}} for c, p in pairs]


def test_efficiency_is_the_total_over_n_times_one_gpu_at_the_same_load_per_gpu() -> None:
    one = scaling.SingleGpu("measured", "a", {Load("concurrency", 4): {"pages_per_s": 5.0}})
    perfect = scaling.block(layout="replicas", gpus=2, totals=_totals((4, 10.0)), single=one)
    wasted = scaling.block(layout="replicas", gpus=2, totals=_totals((4, 5.0)), single=one)
    assert perfect["loads"][0]["efficiency"] == pytest.approx(1.0)
    assert wasted["loads"][0]["efficiency"] == pytest.approx(0.5)
    assert (wasted["loads"][0]["total_pages_per_s"], wasted["loads"][0]["single_gpu_pages_per_s"]) == (5.0, 5.0)
    # A data-parallel server got 2 x 4 in flight: its load per GPU is 4, set against one GPU at 4.
    dp = scaling.block(layout="data-parallel", gpus=2, totals=_totals((8, 9.0)), single=one)
    assert dp["loads"][0]["concurrency"] == 4 and dp["loads"][0]["efficiency"] == pytest.approx(0.9)


def test_a_load_one_gpu_was_not_measured_at_has_no_efficiency_but_the_peaks_do() -> None:
    one = scaling.SingleGpu("file: x", "a", {Load("concurrency", 1): {"pages_per_s": 2.0}})
    seen = scaling.block(layout="replicas", gpus=2, totals=_totals((4, 6.0)), single=one)
    assert seen["loads"][0]["efficiency"] is None
    assert seen["peak"] == {"total_pages_per_s": 6.0, "single_gpu_pages_per_s": 2.0, "efficiency": 1.5}
    assert scaling.efficiency(6.0, 0.0, 2) is None  # one GPU served nothing: no ratio, not a division by zero


# --- bench over replicas ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("shared", "low", "high"), [(False, *SCALES), (True, *HALVES)])
def test_two_replicas_scale_when_they_are_two_gpus_and_not_when_they_are_one(
    fleet, tmp_path: Path, shared: bool, low: float, high: float
) -> None:
    port = fleet(2, shared=shared)
    code, result, output = bench(tmp_path, port, replicas=2)
    assert code == EXIT_OK, output
    block = result["scaling"]
    (load,) = block["loads"]
    assert block["layout"] == "replicas" and block["gpus"] == 2 and load["concurrency"] == CAPACITY
    assert low <= load["efficiency"] <= high, output
    # The two figures it is made of: one GPU measured alone first (about 8 pages/s), and the fleet's total.
    assert block["single_gpu"]["source"].startswith(f"measured: http://127.0.0.1:{port} alone")
    assert load["single_gpu_pages_per_s"] == pytest.approx(CAPACITY / SERVICE_S, rel=0.3)
    assert load["efficiency"] == pytest.approx(load["total_pages_per_s"] / (2 * load["single_gpu_pages_per_s"]))
    # Per replica and in total: each replica got the per-replica load, the fleet twice the requests.
    hosts = [host["summary"]["loads"][0]["figures"] for host in result["hosts"]]
    assert [host["url"] for host in result["hosts"]] == [f"http://127.0.0.1:{port + i}" for i in (0, 1)]
    assert [h["requests"] for h in hosts] == [8, 8] and [h["errors"] for h in hosts] == [0, 0]
    total = result["fleet"]["summary"]["loads"][0]["figures"]
    assert total["requests"] == 16 and total["pages_per_s"] == pytest.approx(load["total_pages_per_s"])
    assert "phase 1 of 2: one GPU" in output and "fleet of 2 replicas: per replica and in total" in output
    assert "scaling efficiency" in output and f"{load['efficiency']:.0%}" in output


def test_a_replica_that_is_down_is_said_and_its_requests_count_as_errors(fleet, tmp_path: Path) -> None:
    port = fleet(2, down=(1,))
    code, result, output = bench(tmp_path, port, replicas=2)
    assert code == EXIT_CHECK_FAILED
    assert f"replica http://127.0.0.1:{port + 1} is down (cannot reach" in output
    down = result["hosts"][1]["summary"]["loads"][0]["figures"]
    assert (down["requests"], down["errors"], down["completed"]) == (8, 8, 0)
    assert result["hosts"][0]["summary"]["loads"][0]["figures"]["errors"] == 0
    assert f"issue: every request to replica http://127.0.0.1:{port + 1} of 2 failed" in output
    assert "8 of 8" in output  # the per-replica table: its errors out of its requests
    # One GPU was measured on the replica that answered, not on the one that is down.
    assert result["scaling"]["single_gpu"]["host"] == f"http://127.0.0.1:{port}"


def test_every_replica_down_is_unreachable(tmp_path: Path) -> None:
    code, result, output = bench(tmp_path, free_ports(2), replicas=2)
    assert code == EXIT_UNREACHABLE and result is None and "no replica of 2 answers: cannot reach" in output
    assert "is down" not in output  # one line for the whole fleet, not a warning per replica first


def test_rate_mode_deals_one_stream_round_robin(fleet, tmp_path: Path) -> None:
    port = fleet(2)
    code, result, _ = bench(tmp_path, port, replicas=2, rate=8.0, concurrency=None, requests=6)
    assert code == EXIT_OK
    scheduled = [[r["scheduled_s"] for r in host["points"][0]["requests"]] for host in result["hosts"]]
    # 16 requests/s over the fleet, dealt in turn: replica 0 at 0, 1/8, 2/8 ... and replica 1 between them.
    assert scheduled[0] == pytest.approx([i / 8 for i in range(6)])
    assert scheduled[1] == pytest.approx([1 / 16 + i / 8 for i in range(6)])
    assert result["scaling"]["loads"][0]["rate"] == 8


def test_a_one_gpu_result_file_skips_the_first_phase(fleet, tmp_path: Path) -> None:
    alone = fleet(1)
    code, _, _ = bench(tmp_path / "one", alone)
    assert code == EXIT_OK
    single = tmp_path / "one" / "result.json"
    port = fleet(2)
    code, result, output = bench(tmp_path / "two", port, replicas=2, single_gpu=single)
    assert code == EXIT_OK and "phase 1" not in output
    assert result["scaling"]["single_gpu"]["source"] == f"file: {single}"
    assert SCALES[0] <= result["scaling"]["loads"][0]["efficiency"] <= SCALES[1]


@pytest.mark.parametrize(("capacity", "low", "high"), [(2 * CAPACITY, *SCALES), (CAPACITY, *HALVES)])
def test_a_data_parallel_server_is_set_against_a_one_gpu_result(
    fleet, tmp_path: Path, capacity: int, low: float, high: float
) -> None:
    code, _, _ = bench(tmp_path / "one", fleet(1))
    assert code == EXIT_OK
    single = tmp_path / "one" / "result.json"
    # One address, `capacity` slots: a --data-parallel-size 2 server (2 GPUs' worth) or one that is not.
    code, result, output = bench(tmp_path / "dp", fleet(1, capacity=capacity), gpus=2, single_gpu=single)
    assert code == EXIT_OK, output
    point = result["hosts"][0]["points"][0]
    assert point["concurrency"] == 2 * CAPACITY and point["figures"]["requests"] == 2 * 8  # flags are per GPU
    (load,) = result["scaling"]["loads"]
    assert result["scaling"]["layout"] == "data-parallel" and load["concurrency"] == CAPACITY
    assert low <= load["efficiency"] <= high, output
    assert "one data-parallel server on 2 GPUs" in output


def test_the_scaling_reaches_the_html_report_and_the_comparison(fleet, tmp_path: Path) -> None:
    port = fleet(2)
    code, result, _ = bench(tmp_path, port, replicas=2)
    assert code == EXIT_OK
    page = render_html(result)
    assert 'id="scaling"' in page and "scaling efficiency" in page
    slower = json.loads(json.dumps(result))
    slower["scaling"]["loads"][0]["efficiency"] *= 0.7
    comparison = compare_results(result, slower)
    rows = [row for row in comparison.rows if row.host == "scaling"]
    assert [row.verdict.value for row in rows] == ["worse"] and not comparison.ok
    assert compare_results(result, result).ok
    out = io.StringIO()
    Console(file=out, width=160).print(render_comparison(comparison))
    assert "scaling efficiency" in out.getvalue()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"replicas": 0}, "--replicas 0 must be at least 1"),
        ({"replicas": 70000}, "reaches port"),
        ({"gpus": 2}, "--gpus 2 needs --single-gpu RESULT.json"),
        ({"gpus": 0}, "--gpus 0 must be at least 1"),
        ({"gpus": 2, "replicas": 2}, "give one of them"),
        ({"single_gpu": Path("x.json")}, "add --replicas N or --gpus N"),
        ({"replicas": 2, "single_gpu": Path("/no/such.json")}, "--single-gpu /no/such.json: cannot read it"),
    ],
)
def test_impossible_fleets_are_refused_before_anything_is_sent(
    tmp_path: Path, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        bench(tmp_path, 8000, **overrides)


# --- check over replicas ---------------------------------------------------------------------------------


def check(port: int, replicas: int, tmp_path: Path) -> tuple[int, dict[str, Any], str]:
    config = apply_flags(CONFIG, "check", ROOT, port=port, timeout=20.0)
    report = tmp_path / "report.json"
    markdown = tmp_path / "report.md"
    options = CheckOptions(
        config=config,
        hosts=["127.0.0.1"],
        only=["RDY001", "MOD001"],
        replicas=replicas,
        report_json=report,
        report_md=markdown,
    )
    out = io.StringIO()
    code = run_check(options, console=Console(file=out, width=200), errors=Console(file=out, width=200))
    return code, json.loads(report.read_text()), out.getvalue() + markdown.read_text()


def test_check_gives_each_replica_its_verdict_and_the_fleet_its_own(fleet, tmp_path: Path) -> None:
    code, report, output = check(fleet(2), 2, tmp_path)
    assert code == EXIT_OK
    assert [host["verdict"]["word"] for host in report["hosts"]] == ["validated", "validated"]
    assert report["verdict"]["line"].startswith("validated: fleet of 2 replicas, each: ")
    assert report["provenance"]["fleet"]["replicas"] == 2
    assert "2 replicas of one server" in output  # the Markdown report's provenance


def test_check_with_a_replica_down_does_not_validate_the_fleet(fleet, tmp_path: Path) -> None:
    port = fleet(3, down=(2,))
    code, report, output = check(port, 3, tmp_path)
    assert code == EXIT_UNREACHABLE
    words = [(host["base_url"], host["verdict"]["line"].split(":")[0]) for host in report["hosts"]]
    assert [word for _, word in words] == ["validated", "validated", "issue"]
    assert "server unreachable" in report["hosts"][2]["verdict"]["line"]
    line = report["verdict"]["line"]
    assert line.startswith(f"issue: fleet of 3 replicas: 1 of 3 not validated (http://127.0.0.1:{port + 2})")
    assert line in output
    assert len(registry.CHECKS) > 2  # a partial selection, so the lines say so


# --- the command line --------------------------------------------------------------------------------------


@pytest.mark.parametrize("task", ["check", "bench"])
@pytest.mark.parametrize(
    ("replicas", "message"),
    [("0", "--replicas 0 must be at least 1"), ("70000", "--replicas 70000 from port 8000 reaches port 77999")],
)
def test_bad_replica_counts_are_one_line_and_exit_2(task: str, replicas: str, message: str) -> None:
    import os

    env = {key: value for key, value in os.environ.items() if not key.startswith("INVOKE_")} | {"COLUMNS": "200"}
    result = run_invoke(task, "--port", "8000", "--replicas", replicas, env=env)
    assert result.returncode == EXIT_UNREACHABLE
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_replicas_expand_one_host_only() -> None:
    config = apply_flags(CONFIG, "check", ROOT, port=8000)
    with pytest.raises(UserError, match="--replicas 3 expands one host into its consecutive ports: give one --host"):
        run_check(CheckOptions(config=config, hosts=["a", "b"], replicas=3), console=Console(), errors=Console())


def test_a_replica_that_answered_nothing_raises_no_client_warning() -> None:
    def host(name: str, completed: int) -> dict[str, Any]:
        figures = {"client_cpu_share": 0.9, "completed": completed}
        return {"name": name, "summary": {"loads": [{"concurrency": 4, "figures": figures}]}}

    warnings = client_warnings({"hosts": [host("up", 8), host("down", 0)]})
    assert warnings == ["up at concurrency 4: the client used 90% of the cores"]
