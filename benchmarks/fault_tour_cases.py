"""The faults of issues 12 and 18 (and a few found on the way), each a function that plays it and states its facts.

Grouped as the issue groups them; `CASES` keeps the order, which numbers the table's rows. Each case
returns the `Run` of the command a person would type, with the facts particular to that fault (the
judgement common to every row is in fault_tour.py).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import certifi
from fault_tour_runs import PASSWORD, RAW_ERRORS, REPORT_NAMES, ROOT, SERVER_KEY, VERDICT, VLLM_KEY, Live, Run, Tour

from lightonocr_validation.core.interrupts import AGAIN_LINE, FIRST_LINE
from lightonocr_validation.vllm.liveness import PROBE_SECONDS
from tests.fakevllm.server import FakeVllm, Faults
from tests.faults.hostile import Hostile, Scripted, self_signed_bundle
from tests.faults.test_hostile_pages import blank_png
from tests.processes import alive, free_ports

# --- the faults -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    group: str
    fault: str
    expected: int
    play: Callable[[Tour, Path], Run]
    bad_input: bool = False  # the first line must be `error: ...`


CASES: list[Case] = []


def case(group: str, fault: str, expected: int, *, bad_input: bool = False) -> Callable[[Any], Any]:
    def register(play: Callable[[Tour, Path], Run]) -> Callable[[Tour, Path], Run]:
        CASES.append(Case(group, fault, expected, play, bad_input))
        return play

    return register


def check_against(tour: Tour, folder: Path, url: str, *flags: str, env: dict[str, str] | None = None) -> Run:
    """`invoke check --host URL FLAGS`, with the three reports written into ``folder``."""
    args = ["check", "--host", url, *flags]
    run = tour.invoke([*args, *tour.check_reports(folder)], env=env, shown="invoke " + shlex.join(args))
    run.written = tour.written(folder)
    return run


def hostile_check(tour: Tour, folder: Path, switch: str, *flags: str, **options: Any) -> Run:
    with Hostile(switch, **options) as server:
        tour.ports.add(server.port)
        return check_against(tour, folder, server.url, *flags)


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def report(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / "r.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def check_status(folder: Path, check_id: str) -> tuple[str, str]:
    for host in report(folder).get("hosts", []):
        for check in host.get("checks", []):
            if check.get("id") == check_id:
                return check.get("status", ""), check.get("detail", "")
    return "", ""


def unreachable_verdict(run: Run) -> None:
    run.fact(run.cause_line().startswith("issue: server unreachable"), "the verdict is not `server unreachable`")


def no_raw_errors(run: Run) -> None:
    raw = [name for name in RAW_ERRORS if name in run.output]
    run.fact(not raw, f"a raw exception name reaches the user: {', '.join(raw)}")


def partial_reports(run: Run, folder: Path, stopped: str) -> None:
    written = report(folder)
    run.fact(written.get("partial") is True and written.get("stopped") == stopped,
             f"the JSON report is not marked partial ({stopped})")  # fmt: skip
    junit = (folder / "r.xml").read_text(encoding="utf-8") if (folder / "r.xml").exists() else ""
    run.fact('name="partial" value="true"' in junit, "the JUnit report is not marked partial")
    markdown = (folder / "r.md").read_text(encoding="utf-8") if (folder / "r.md").exists() else ""
    run.fact("PARTIAL REPORT" in markdown, "the Markdown report is not marked partial")


def auto_deadline(timeout: float, pages: int = 13, concurrency: int = 4, page_seconds_max: float = 60) -> float:
    """check.deadline's documented default (docs/tasks.md): timeout + (16 + ceil(pages / page_concurrency)) *
    min(timeout, page_seconds_max)."""
    return timeout + (16 + -(-pages // concurrency)) * min(timeout, page_seconds_max)


# Slack over a documented bound: starting invoke, writing the reports, a loaded two-core machine.
SLACK_S = 15.0


# Already handled before issue 12: re-verified.
HANDLED = "already handled (re-verified)"


def check_port(tour: Tour, folder: Path, port: int | str, *flags: str) -> Run:
    """`invoke check --port PORT FLAGS` (the default host, 127.0.0.1), the three reports into ``folder``."""
    args = ["check", "--port", str(port), *flags]
    run = tour.invoke([*args, *tour.check_reports(folder)], shown="invoke " + shlex.join(args))
    run.written = tour.written(folder)
    return run


@case(HANDLED, "refused port (nothing listens)", 2)
def refused_port(tour: Tour, folder: Path) -> Run:
    run = check_port(tour, folder, tour.port())
    unreachable_verdict(run)
    return run


@case(HANDLED, "unknown host", 2)
def unknown_host(tour: Tour, folder: Path) -> Run:
    run = check_against(tour, folder, "nosuchhost.invalid")
    unreachable_verdict(run)
    run.fact(run.says("does not resolve"), "DNS is not named")
    return run


@case(HANDLED, "401: the server wants another key (fake vLLM with --api-key)", 1)
def answer_401(tour: Tour, folder: Path) -> Run:
    with FakeVllm(api_key=SERVER_KEY) as fake:
        tour.ports.add(port_of(fake.url))
        run = check_against(tour, folder, fake.url)
    run.fact(run.says("API key"), "the API key is not named as the cause")
    return run


def scripted_check(tour: Tour, folder: Path, status: int) -> Run:
    with Scripted() as server:
        body = {"error": {"message": f"answer {status} to everything", "type": "Error", "code": status}}
        server.answer(status, {"Content-Type": "application/json"}, json.dumps(body).encode())
        tour.ports.add(port_of(server.url))
        run = check_against(tour, folder, server.url)
    run.fact(run.says(f"answered {status}"), f"the verdict does not name the {status}")
    return run


for _status in (403, 404, 500, 503):
    case(HANDLED, f"{_status} to every request", 1)(
        lambda tour, folder, status=_status: scripted_check(tour, folder, status)
    )


@case(HANDLED, "server killed (SIGKILL) mid-run, during OCR001", 2)
def killed_mid_run(tour: Tour, folder: Path) -> Run:
    port = tour.port()
    server = tour.child_fake(port, delay=0.5)
    args = ["check", "--port", str(port)]
    live = tour.start([*args, *tour.check_reports(folder)])
    reached = live.wait_for(live.printed("MOD002"))
    server.kill()
    server.wait()
    run = live.finish(Run("invoke " + shlex.join(args) + "   # server killed after MOD002"))
    run.fact(reached, "the run never reached MOD002")
    run.written = tour.written(folder)
    unreachable_verdict(run)
    return run


@case(HANDLED, "unwritable report path (/proc)", 2)
def report_in_proc(tour: Tour, folder: Path) -> Run:
    with FakeVllm() as fake:
        tour.ports.add(port_of(fake.url))
        run = tour.invoke(["check", "--host", fake.url, "--only", "RDY001", "--report-json", "/proc/x.json"])
    run.fact(run.says("/proc/x.json"), "the report path is not named")
    return run


@case(HANDLED, "report path in a folder that cannot be made (a file stands there)", 2)
def report_under_a_file(tour: Tour, folder: Path) -> Run:
    # The tour may run as root, whom a read-only folder does not stop: a file where the folder should be does.
    blocker = folder / "taken"
    blocker.write_text("a file, not a folder\n")
    with FakeVllm() as fake:
        tour.ports.add(port_of(fake.url))
        run = tour.invoke(["check", "--host", fake.url, "--only", "RDY001", "--report-json", f"{blocker}/r.json"])
    run.fact(run.says(f"{blocker}"), "the report path is not named")
    return run


@case(HANDLED, "fleet: --replicas 2, the second port closed", 2)
def fleet_one_down(tour: Tour, folder: Path) -> Run:
    port = free_ports(2)
    tour.ports.add(port)
    with FakeVllm(port=port):
        run = check_port(tour, folder, port, "--replicas", "2")
    run.fact(run.cause_line().startswith("issue: fleet of 2 replicas: 1 of 2 not validated"),
             "the fleet's verdict does not name the replica down")  # fmt: skip
    return run


# Safety.
SAFETY = "safety"


@case(SAFETY, "`invoke stop`, stale pid file: the pid is a live unrelated process", 0)
def stale_pid(tour: Tour, folder: Path) -> Run:
    env = tour.stand_in(folder)
    stranger = tour.stranger()
    port = int(env["INVOKE_SERVER_PORT"])
    entry = {
        "pid": stranger.pid, "start_time": 1, "pgid": stranger.pid, "argv": ["vllm", "serve", "m", "--port", str(port)],
        "base_url": f"http://127.0.0.1:{port}", "port": port, "gpu": "0", "log": "x",
    }  # fmt: skip
    (folder / "server.pid").write_text(json.dumps({"version": 2, "mode": "replicas", "model": "m", "servers": [entry]}))
    run = tour.invoke(["stop"], env=env, shown="invoke stop   # pid file names a live `sleep 600`")
    run.fact(stranger.poll() is None and alive(stranger.pid), "the stranger was signalled")
    run.fact(not (folder / "server.pid").exists(), "the stale pid file was kept")
    return run


def hanging_check(tour: Tour, folder: Path, *signals: int, flags: tuple[str, ...] = ()) -> tuple[Run, FakeVllm]:
    """`invoke check` against a fake whose POSTs hang; each signal sent once a page is in flight (and, after
    the first, once the run said it is stopping)."""
    with FakeVllm(Faults(hang=True)) as fake:
        port = str(port_of(fake.url))
        tour.ports.add(int(port))
        args = ["check", "--port", port, *flags]
        live = tour.start([*args, *tour.check_reports(folder)])
        in_flight = live.wait_for(lambda: fake.counters.get("fake:hung_posts", 0) >= 1)
        names = []
        for index, number in enumerate(signals):
            if index:
                live.wait_for(live.printed(FIRST_LINE), 10)
            live.signal(number)
            names.append(signal.Signals(number).name)
        run = live.finish(Run("invoke " + shlex.join(args) + f"   # {' then '.join(names)} with a page in flight"))
        run.fact(in_flight, "no page was ever in flight")
    run.written = tour.written(folder)
    return run, fake


@case(SAFETY, "Ctrl-C once during `invoke check`", 130)
def ctrl_c_check(tour: Tour, folder: Path) -> Run:
    run, _ = hanging_check(tour, folder, signal.SIGINT)
    run.fact(run.cause_line().startswith("issue: interrupted"), "no verdict so far")
    partial_reports(run, folder, "interrupted")
    return run


@case(SAFETY, "Ctrl-C twice during `invoke check`", 130)
def ctrl_c_twice_check(tour: Tour, folder: Path) -> Run:
    run, _ = hanging_check(tour, folder, signal.SIGINT, signal.SIGINT)
    run.fact(AGAIN_LINE in run.output, f"no `{AGAIN_LINE}` line")
    run.fact(not (folder / "r.json").exists(), "a report was written after the second Ctrl-C (documented: none)")
    return run


@case(SAFETY, "SIGTERM during `invoke check` (added)", 130)
def sigterm_check(tour: Tour, folder: Path) -> Run:
    run, _ = hanging_check(tour, folder, signal.SIGTERM)
    partial_reports(run, folder, "interrupted")
    return run


def foreground_serve(tour: Tour, folder: Path, env: dict[str, str], act: Callable[[Live], str]) -> Run:
    """`invoke serve --device cpu` with the stand-in, ``act`` once it serves; no stand-in process may survive."""
    args = ["serve", "--device", "cpu"]
    live = tour.start(args, env=env)
    serving = live.wait_for(live.printed("serving until interrupted (Ctrl-C)"))
    what = act(live) if serving else "never served"
    run = live.finish(Run("invoke " + shlex.join(args) + f"   # stand-in vllm; {what}"))
    run.fact(serving, "the stand-in server never served")
    pids = [pid for info in (folder / "stand-in").glob("*.json") for pid in json.loads(info.read_text())["pids"]]
    tour.pids.update(pids)
    survivors = [pid for pid in pids if alive(pid)]
    run.fact(pids and not survivors, f"server processes left running: {survivors}")
    return run


def ctrl_c(times: int) -> Callable[[Live], str]:
    def act(live: Live) -> str:
        live.signal(signal.SIGINT)
        if times > 1:
            time.sleep(0.5)  # inside the stop's grace: the stand-in's worker ignores SIGTERM
            live.signal(signal.SIGINT)
        return "Ctrl-C" + (" twice" if times > 1 else "")

    return act


@case(SAFETY, "Ctrl-C in `invoke serve` (stand-in vllm)", 130)
def ctrl_c_serve(tour: Tour, folder: Path) -> Run:
    return foreground_serve(tour, folder, tour.stand_in(folder), ctrl_c(1))


@case(SAFETY, "Ctrl-C twice in `invoke serve`, a 120 s stop grace (added)", 130)
def ctrl_c_twice_serve(tour: Tour, folder: Path) -> Run:
    run = foreground_serve(tour, folder, tour.stand_in(folder, INVOKE_SERVER_STOP_TIMEOUT="120"), ctrl_c(2))
    run.fact(run.wall < 60, f"the second Ctrl-C did not end the 120 s grace ({run.wall:.0f} s)")
    return run


BENCH_LOAD = ["--max-tokens", "8", "--concurrency", "2", "--requests", "100000", "--warmup", "0"]


@case(SAFETY, "Ctrl-C in `invoke bench`", 130)
def ctrl_c_bench(tour: Tour, folder: Path) -> Run:
    with FakeVllm(Faults(delay=0.05)) as fake:
        port = str(port_of(fake.url))
        tour.ports.add(int(port))
        args = ["bench", "--port", port, *BENCH_LOAD, "--json", str(folder / "b.json")]
        live = tour.start(args)

        def answered() -> float:
            counters = fake.counters
            return sum(v for k, v in counters.items() if k.startswith("vllm:request_success_total/"))

        measuring = live.wait_for(lambda: answered() >= 6)
        live.signal(signal.SIGINT)
        run = live.finish(Run("invoke " + shlex.join(args) + "   # Ctrl-C after 6 answers"))
    run.fact(measuring, "the bench never got 6 answers")
    run.written = tour.written(folder)
    try:
        result = json.loads((folder / "b.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        result = {}
    run.fact(result.get("partial") is True and result.get("stopped") == "interrupted", "b.json is not marked partial")
    return run


# Secrets.
SECRETS_GROUP = "secrets"


@case(SECRETS_GROUP, "the key echoed in a 401 body (VLLM_API_KEY set)", 1)
def echo_401(tour: Tour, folder: Path) -> Run:
    # OCR001 alone: /v1/models is not asked, so the page requests' 401 body (the echo) is what the user reads.
    run = hostile_check(tour, folder, "echo401", "--only", "OCR001")
    run.fact(run.says("Unauthorized: Bearer (redacted)"), "the echoed key is not shown redacted")
    return run


@case(SECRETS_GROUP, "the key echoed in a 500 body (VLLM_API_KEY set)", 1)
def echo_500(tour: Tour, folder: Path) -> Run:
    run = hostile_check(tour, folder, "echo500", "--only", "OCR001")
    run.fact(run.says("HTTP 500: Internal error while handling"), "the 500's message is not shown")
    return run


@case(SECRETS_GROUP, "a password in the URL (http://user:pw@127.0.0.1:PORT)", 0)
def password_in_url(tour: Tour, folder: Path) -> Run:
    with Hostile("") as server:
        tour.ports.add(server.port)
        url = f"http://user:{PASSWORD}@127.0.0.1:{server.port}"
        return check_against(tour, folder, url)


@case(SECRETS_GROUP, "a URL password echoed in a 401 body (added)", 1)
def password_echoed(tour: Tour, folder: Path) -> Run:
    with Hostile("echo401") as server:
        tour.ports.add(server.port)
        run = check_against(tour, folder, f"http://user:{PASSWORD}@127.0.0.1:{server.port}", "--only", "OCR001")
    run.fact(run.says("Basic (redacted)"), "the echoed credentials are not shown redacted")
    return run


@case(SECRETS_GROUP, "`invoke serve -- --api-key X` (stand-in vllm)", 2, bad_input=True)
def serve_api_key(tour: Tour, folder: Path) -> Run:
    env = tour.stand_in(folder)
    run = tour.invoke(["serve", "--device", "cpu", "--", "--api-key", VLLM_KEY], env=env)
    run.fact(not list((folder / "stand-in").glob("*.json")), "a server was started")
    run.fact(run.says("VLLM_API_KEY"), "the fix (VLLM_API_KEY) is not named")
    return run


# TLS.
TLS = "TLS"


def tls_check(tour: Tour, folder: Path, *flags: str, env: dict[str, str] | None = None, profile: bool = False) -> Run:
    with Hostile("tls") as server:
        tour.ports.add(server.port)
        if not profile:
            return check_against(tour, folder, server.url, *flags, env=env)
        config = folder / "invoke.yaml"
        bundle = self_signed_bundle(server)
        config.write_text(f"check:\n  hosts:\n    tlsbox:\n      url: {server.url}\n      ca_bundle: {bundle}\n")
        args = ["-f", str(config), "check", "--host", "tlsbox", *flags]
        run = tour.invoke([*args, *tour.check_reports(folder)], env=env, shown="invoke " + shlex.join(args))
        run.written = [path for path in tour.written(folder) if path.name in REPORT_NAMES]
        return run


@case(TLS, "--insecure with REQUESTS_CA_BUNDLE set (to certifi's bundle)", 0)
def insecure_requests_bundle(tour: Tour, folder: Path) -> Run:
    run = tls_check(tour, folder, "--insecure", env=tour.env(REQUESTS_CA_BUNDLE=certifi.where()))
    run.command = "REQUESTS_CA_BUNDLE=$CERTIFI " + run.command
    return run


@case(TLS, "--insecure with CURL_CA_BUNDLE set (to certifi's bundle)", 0)
def insecure_curl_bundle(tour: Tour, folder: Path) -> Run:
    run = tls_check(tour, folder, "--insecure", env=tour.env(CURL_CA_BUNDLE=certifi.where()))
    run.command = "CURL_CA_BUNDLE=$CERTIFI " + run.command
    return run


@case(TLS, "a profile's ca_bundle, REQUESTS_CA_BUNDLE set to another bundle", 0)
def profile_bundle(tour: Tour, folder: Path) -> Run:
    run = tls_check(tour, folder, env=tour.env(REQUESTS_CA_BUNDLE=certifi.where()), profile=True)
    run.command = "REQUESTS_CA_BUNDLE=$CERTIFI " + run.command
    return run


def plain_port(tour: Tour, folder: Path, *flags: str) -> Run:
    with Hostile("") as server:
        tour.ports.add(server.port)
        run = check_against(tour, folder, f"https://127.0.0.1:{server.port}", *flags)
    run.fact(run.says("plain HTTP"), "the cause (a plain-HTTP port) is not named")
    run.fact(not any("--insecure" in line for line in run.lines() if "plain HTTP" in line),
             "a plain-HTTP port is met with advice to use --insecure")  # fmt: skip
    unreachable_verdict(run)
    return run


@case(TLS, "https:// to a plain-HTTP port", 2)
def https_to_plain(tour: Tour, folder: Path) -> Run:
    return plain_port(tour, folder)


@case(TLS, "https:// to a plain-HTTP port, with --insecure", 2)
def https_to_plain_insecure(tour: Tour, folder: Path) -> Run:
    return plain_port(tour, folder, "--insecure")


@case(TLS, "http:// to the TLS port", 2)
def http_to_tls(tour: Tour, folder: Path) -> Run:
    with Hostile("tls") as server:
        tour.ports.add(server.port)
        run = check_against(tour, folder, f"http://127.0.0.1:{server.port}")
    run.fact(run.says("speaks TLS"), "the cause (a TLS port) is not named")
    unreachable_verdict(run)
    return run


# Time.
TIME = "time"


@case(TIME, "every POST hangs, --timeout 3", 2)
def hang_timeout(tour: Tour, folder: Path) -> Run:
    run = hostile_check(tour, folder, "hang", "--timeout", "3")
    bound = auto_deadline(3)
    run.fact(run.wall <= bound + SLACK_S, f"{run.wall:.0f} s, past the documented auto deadline {bound:.0f} s")
    unreachable_verdict(run)
    return run


@case(TIME, "every POST hangs, --deadline 10 (default --timeout 300)", 1)
def hang_deadline(tour: Tour, folder: Path) -> Run:
    run = hostile_check(tour, folder, "hang", "--deadline", "10")
    run.fact(run.wall <= 10 + SLACK_S, f"{run.wall:.0f} s for a 10 s deadline")
    run.fact(run.cause_line().startswith("issue: the run's deadline passed"), "the verdict does not name the deadline")
    partial_reports(run, folder, "deadline")
    return run


@case(TIME, "an answer dripped a byte every 0.05 s, --timeout 3", 1)
def drip(tour: Tour, folder: Path) -> Run:
    run = hostile_check(tour, folder, "drip", "--only", "OCR001", "--timeout", "3")
    run.fact(run.says("drips its answer"), "the drip is not named")
    run.fact(run.wall <= auto_deadline(3) + SLACK_S, f"{run.wall:.0f} s")
    return run


def huge(tour: Tour, folder: Path, size: int, *flags: str) -> Run:
    run = hostile_check(tour, folder, "huge", *flags, size=size)
    status, detail = check_status(folder, "OCR001")
    run.fact(status == "fail" and "at most 3211264 bytes are possible" in detail,
             f"OCR001 is {status or 'missing'}, not failed on the byte bound for max_tokens 4096")  # fmt: skip
    return run


@case(TIME, "a 50 MB answer to every page (hostile huge, size 50 000 000)", 1)
def huge_50(tour: Tour, folder: Path) -> Run:
    return huge(tour, folder, 50_000_000)


@case(TIME, "a 4 MB answer to every page (hostile huge, size 4 000 000)", 1)
def huge_4(tour: Tour, folder: Path) -> Run:
    return huge(tour, folder, 4_000_000)


@case(TIME, "OCR001 alone vs a 4 MB answer to a 4096-token request", 1)
def huge_ocr001(tour: Tour, folder: Path) -> Run:
    return huge(tour, folder, 4_000_000, "--only", "OCR001")


# Tracebacks: bad input, one line, exit 2.
TRACEBACKS = "tracebacks"


def bad_input(tour: Tour, args: list[str], env: dict[str, str] | None = None, shown: str = "", cwd: Path = ROOT) -> Run:
    run = tour.invoke(args, env=env, shown=shown, cwd=cwd)
    run.fact(len([line for line in run.lines() if line.startswith("error:")]) == 1, "not exactly one error line")
    return run


@case(TRACEBACKS, "--port abc", 2, bad_input=True)
def port_abc(tour: Tour, folder: Path) -> Run:
    return bad_input(tour, ["check", "--port", "abc"])


@case(TRACEBACKS, "--timeout abc", 2, bad_input=True)
def timeout_abc(tour: Tour, folder: Path) -> Run:
    return bad_input(tour, ["check", "--timeout", "abc"])


@case(TRACEBACKS, "INVOKE_CHECK_PORT=abc", 2, bad_input=True)
def env_port_abc(tour: Tour, folder: Path) -> Run:
    return bad_input(tour, ["check"], tour.env(INVOKE_CHECK_PORT="abc"), "INVOKE_CHECK_PORT=abc invoke check")


def project_yaml(tour: Tour, text: str, args: list[str]) -> Run:
    """`invoke ARGS` in a copy of the checkout whose invoke.yaml (the project's own) holds ``text``."""
    copy = tour.checkout_copy()
    (copy / "invoke.yaml").write_text(text, encoding="utf-8")
    try:
        return bad_input(tour, args, shown=f"invoke {shlex.join(args)}   # invoke.yaml: {text!r}", cwd=copy)
    finally:
        (copy / "invoke.yaml").unlink()


@case(TRACEBACKS, "a malformed invoke.yaml", 2, bad_input=True)
def malformed_yaml(tour: Tour, folder: Path) -> Run:
    run = project_yaml(tour, "check:\n  port: [1\n", ["check"])
    run.fact(run.says("invoke.yaml, line 3"), "the file and line are not named")
    return run


@case(TRACEBACKS, "a non-numeric port in invoke.yaml", 2, bad_input=True)
def yaml_port_abc(tour: Tour, folder: Path) -> Run:
    run = project_yaml(tour, "check:\n  port: abc\n", ["check"])
    run.fact(run.says("check.port"), "the key is not named")
    return run


def broken_pid_file(tour: Tour, folder: Path, content: str) -> Run:
    env = tour.stand_in(folder)
    (folder / "server.pid").write_text(content)
    run = bad_input(tour, ["stop"], env, f"invoke stop   # pid file holds {content}")
    run.fact(run.says("delete it"), "the fix (delete it) is not named")
    return run


for _content in ("garbage{", '{"pid": "abc"}', "[1,2]"):
    case(TRACEBACKS, f"pid file holding `{_content}`", 2, bad_input=True)(
        lambda tour, folder, content=_content: broken_pid_file(tour, folder, content)
    )


@case(TRACEBACKS, "`invoke serve --dry-run --port abc`", 2, bad_input=True)
def serve_port_abc(tour: Tour, folder: Path) -> Run:
    return bad_input(tour, ["serve", "--dry-run", "--port", "abc"])


# Wrong words or codes.
WORDS = "wrong words or codes"


@case(WORDS, "a truncated chunked body (hostile truncated)", 1)
def truncated(tour: Tour, folder: Path) -> Run:
    run = hostile_check(tour, folder, "truncated", "--only", "OCR001")
    run.fact(run.says("cut its answer short"), "the cut body is not named")
    run.fact("unreachable" not in run.output, "a cut body is called unreachable")
    no_raw_errors(run)
    return run


@case(WORDS, "HTML with 200 on every path (hostile html)", 1)
def html(tour: Tour, folder: Path) -> Run:
    run = hostile_check(tour, folder, "html")
    run.fact(run.says("HTML page"), "the HTML answer is not named")
    no_raw_errors(run)
    return run


@case(WORDS, "/v1/models with data as a string (hostile data)", 1)
def data_string(tour: Tour, folder: Path) -> Run:
    run = hostile_check(tour, folder, "data", "--only", "MOD001")
    run.fact(run.says("data is a string"), "the shape is not named")
    no_raw_errors(run)
    return run


@case(WORDS, "--timeout -1", 2, bad_input=True)
def timeout_negative(tour: Tour, folder: Path) -> Run:
    run = bad_input(tour, ["check", "--timeout", "-1"])
    run.fact(run.first_line().startswith("error: --timeout"), "not blamed on the flag")
    return run


@case(WORDS, "--port 99999", 2, bad_input=True)
def port_out_of_range(tour: Tour, folder: Path) -> Run:
    run = bad_input(tour, ["check", "--port", "99999"])
    run.fact(run.first_line().startswith("error: --port"), "not blamed on the flag")
    return run


@case(WORDS, "an unknown flag (invoke check --bogus)", 2, bad_input=True)
def unknown_flag(tour: Tour, folder: Path) -> Run:
    return bad_input(tour, ["check", "--bogus"])


@case(WORDS, "MOD001's hint: the server lists another model name", 1)
def mod001_hint(tour: Tour, folder: Path) -> Run:
    with FakeVllm(Faults(served_name="ocr-prod")) as fake:
        tour.ports.add(port_of(fake.url))
        run = check_against(tour, folder, fake.url, "--only", "MOD001")
        _, detail = check_status(folder, "MOD001")
        hint = next((c.get("hint", "") for h in report(folder).get("hosts", []) for c in h["checks"]), "")
        # Every flag the hint names exists: in the task a quoted `invoke TASK ...` names, else in invoke serve
        # (vllm's serving flags, which invoke serve passes on).
        unknown = []
        for task, words in re.findall(r"`invoke (\w+)([^`]*)`", hint):
            unknown += [flag for flag in re.findall(r"--[a-z][a-z-]+", words) if flag not in tour.help(task)]
        loose = re.sub(r"`invoke [^`]*`", "", hint)
        unknown += [flag for flag in re.findall(r"(?<![\w-])--[a-z][a-z-]+", loose) if flag not in tour.help("serve")]
        run.fact(hint and not unknown, f"MOD001's hint names flags that do not exist: {unknown or hint!r}")
        run.fact("ocr-prod" in detail, "the listed name is not shown")
        # The hint's own fix, followed: the check passes.
        fixed = tour.invoke(["check", "--host", fake.url, "--only", "MOD001", "--model", "ocr-prod"])
        run.fact(fixed.code == 0, f"the hint's fix, invoke check --model ocr-prod, exits {fixed.code}")
    return run


@case(WORDS, "a host profile written as a string in invoke.yaml", 2, bad_input=True)
def profile_string(tour: Tour, folder: Path) -> Run:
    run = project_yaml(tour, 'check:\n  hosts:\n    remote-gpu: "https://x"\n', ["check", "--host", "remote-gpu"])
    run.fact("unknown keys" not in run.output, "the string is read as keys")
    return run


def truncated_png(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


@case(WORDS, "a truncated PNG in --pages DIR", 2, bad_input=True)
def pages_truncated(tour: Tour, folder: Path) -> Run:
    pages = folder / "pages"
    pages.mkdir()
    shutil.copy(ROOT / "samples" / "prose-01.png", pages / "letter.png")
    shutil.copy(ROOT / "samples" / "prose-01.md", pages / "letter.md")
    truncated_png(pages / "letter.png")
    with FakeVllm() as fake:
        tour.ports.add(port_of(fake.url))
        run = bad_input(tour, ["check", "--host", fake.url, "--pages", str(pages)])
    run.fact(run.says(str(pages / "letter.png")), "the file is not named")
    return run


@case(WORDS, "a truncated bundled sample PNG (in a copy of the checkout)", 2, bad_input=True)
def sample_truncated(tour: Tour, folder: Path) -> Run:
    copy = tour.checkout_copy()
    sample = copy / "samples" / "prose-01.png"
    original = sample.read_bytes()
    truncated_png(sample)
    try:
        with FakeVllm() as fake:
            tour.ports.add(port_of(fake.url))
            shown = f"invoke check --host {fake.url}   # samples/prose-01.png cut to a third"
            run = tour.invoke(["check", "--host", fake.url], cwd=copy, shown=shown)
    finally:
        sample.write_bytes(original)
    run.fact(run.says("prose-01.png"), "the file is not named")
    run.fact(len([line for line in run.lines() if line.startswith("error:")]) == 1, "not exactly one error line")
    return run


@case(WORDS, "`invoke serve --dry-run --port -5`", 2, bad_input=True)
def serve_port_negative(tour: Tour, folder: Path) -> Run:
    return bad_input(tour, ["serve", "--dry-run", "--port", "-5"])


@case(WORDS, "`invoke serve --device quantum` (stand-in vllm)", 2, bad_input=True)
def device_quantum(tour: Tour, folder: Path) -> Run:
    run = bad_input(tour, ["serve", "--device", "quantum"], tour.stand_in(folder))
    run.fact(not list((folder / "stand-in").glob("*.json")), "a server was started")
    return run


@case(WORDS, "a server dying in the foreground of `invoke serve` (docs/tasks.md: exit 1)", 1)
def serve_dies(tour: Tour, folder: Path) -> Run:
    def kill_server(live: Live) -> str:
        (info,) = (folder / "stand-in").glob("*.json")
        os.kill(json.loads(info.read_text())["pids"][0], signal.SIGKILL)
        return "its server SIGKILLed"

    run = foreground_serve(tour, folder, tour.stand_in(folder), kill_server)
    documented = "A server that dies at start (any replica: the others are stopped) exits 1"
    tasks_doc = " ".join((ROOT / "docs" / "tasks.md").read_text(encoding="utf-8").split())
    run.fact(documented in tasks_doc and "the server process exited, at start-up or later" in tasks_doc,
             "docs/tasks.md no longer says a dying server exits 1")  # fmt: skip
    return run


# Added: the hostile server's other switches, and the same key refused by bench.
ADDED = "added"


@case(ADDED, "the connection reset before any answer (hostile reset)", 2)
def reset(tour: Tour, folder: Path) -> Run:
    run = hostile_check(tour, folder, "reset")
    run.fact(run.says("without answering"), "the reset is not named")
    no_raw_errors(run)
    return run


@case(ADDED, "a stream of garbage SSE lines (hostile sse)", 1)
def sse(tour: Tour, folder: Path) -> Run:
    run = hostile_check(tour, folder, "sse", "--only", "SRV005")
    run.fact(run.says("not JSON"), "the garbage is not named")
    no_raw_errors(run)
    return run


@case(ADDED, "/v1/models answered text/plain `OK` (hostile ctype)", 1)
def ctype(tour: Tour, folder: Path) -> Run:
    run = hostile_check(tour, folder, "ctype", "--only", "MOD001")
    run.fact(run.says("text/plain"), "the content type is not named")
    return run


@case(ADDED, "`invoke bench` with a key the server refuses (docs: exit 2)", 2)
def bench_401(tour: Tour, folder: Path) -> Run:
    with FakeVllm(api_key=SERVER_KEY) as fake:
        port = str(port_of(fake.url))
        tour.ports.add(int(port))
        run = tour.invoke(["bench", "--port", port, "--requests", "2", "--json", str(folder / "b.json")])
    run.written = tour.written(folder)
    run.fact(run.says("refused the API key"), "the refused key is not named")
    return run


def host_with_port(tour: Tour, folder: Path, task: str, *flags: str) -> Run:
    """--host HOST:PORT, the form a person writes from a URL bar or another tool's docs; a healthy fake there."""
    with FakeVllm() as fake:
        port = str(port_of(fake.url))
        tour.ports.add(int(port))
        report_flags = tour.check_reports(folder) if task == "check" else ["--json", str(folder / "b.json")]
        args = [task, "--host", f"127.0.0.1:{port}", *flags]
        run = bad_input(tour, [*args, *report_flags], shown="invoke " + shlex.join(args))
    run.fact(run.says("--port"), "the fix (--port or a URL) is not named")
    no_raw_errors(run)
    return run


@case(ADDED, "--host 127.0.0.1:PORT (a port in --host)", 2, bad_input=True)
def host_port_check(tour: Tour, folder: Path) -> Run:
    return host_with_port(tour, folder, "check")


@case(ADDED, "--host 127.0.0.1:PORT --replicas 2", 2, bad_input=True)
def host_port_replicas(tour: Tour, folder: Path) -> Run:
    return host_with_port(tour, folder, "check", "--replicas", "2")


@case(ADDED, "`invoke bench --host 127.0.0.1:PORT`", 2, bad_input=True)
def host_port_bench(tour: Tour, folder: Path) -> Run:
    return host_with_port(tour, folder, "bench", "--requests", "2")


@case(ADDED, "an unknown task (invoke nosuchtask)", 2, bad_input=True)
def unknown_task(tour: Tour, folder: Path) -> Run:
    return bad_input(tour, ["nosuchtask"])


# Issue 18: bench, check and --pages under faults (branch faults).
FAULTS = "issue 18: faults"


def child_fake_answered(port: int) -> float:
    """Completions a fake in another process (Tour.child_fake) has answered, read from its /metrics."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
            text = reply.read().decode()
    except OSError:
        return 0.0
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(SUCCESS_METRIC))


SUCCESS_METRIC = "vllm:request_success_total{"


def bench_result(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / "b.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def bench_killed(tour: Tour, folder: Path, *budget: str) -> Run:
    """`invoke bench` against a fake in its own process, SIGKILLed 6 s into the measurement."""
    port = tour.port()
    server = tour.child_fake(port, delay=0.0)
    args = ["bench", "--port", str(port), *budget, "--max-tokens", "8", "--warmup", "0"]
    live = tour.start([*args, "--json", str(folder / "b.json")])
    measuring = live.wait_for(lambda: child_fake_answered(port) >= 1)
    time.sleep(6)
    server.kill()
    server.wait()
    run = live.finish(Run("invoke " + shlex.join(args) + "   # the server SIGKILLed 6 s into the measurement"))
    run.fact(measuring, "the bench never measured")
    run.written = tour.written(folder)
    result = bench_result(folder)
    figures = [point["figures"] for host in result.get("hosts", []) for point in host["points"]]
    errors = sum(f["errors"] for f in figures)
    run.fact(run.cause_line().startswith("issue: the server stopped answering mid-run"), "the cause is not named")
    run.fact(result.get("stopped") == "server_gone", "the result is not marked stopped: server_gone")
    run.fact(sum(f["completed"] for f in figures) > 0, "nothing measured before the kill")
    run.fact(errors <= 16, f"{errors} requests sent to the dead server (stop sending once it is judged gone)")
    return run


@case(FAULTS, "bench: the server SIGKILLed 6 s into --duration 30", 2)
def bench_killed_duration(tour: Tour, folder: Path) -> Run:
    run = bench_killed(tour, folder, "--duration", "30")
    run.fact(run.wall < 30, f"{run.wall:.0f} s: the run went on for its 30 s")
    return run


# The issue's --requests 3000 against the real server; the fake vLLM answers about 450 a second, so 3000 could
# all be done before the kill at 6 s on an idle machine (exit 0 then says nothing about a dead server).
@case(FAULTS, "bench: the server SIGKILLed 6 s into --requests 20000", 2)
def bench_killed_requests(tour: Tour, folder: Path) -> Run:
    return bench_killed(tour, folder, "--requests", "20000")


@case(FAULTS, "bench: Ctrl-C while streamed answers arrive (a fast server)", 130)
def ctrl_c_streamed_bench(tour: Tour, folder: Path) -> Run:
    with FakeVllm(Faults(token_delay=0.01)) as fake:  # each answer a stream of 64 events: Ctrl-C lands mid-stream
        port = str(port_of(fake.url))
        tour.ports.add(int(port))
        load = ["--max-tokens", "64", "--concurrency", "2", "--requests", "100000", "--warmup", "0"]
        args = ["bench", "--port", port, *load, "--json", str(folder / "b.json")]
        live = tour.start(args)
        answered = lambda: sum(v for k, v in fake.counters.items() if k.startswith("vllm:request_success_total/"))  # noqa: E731
        measuring = live.wait_for(lambda: answered() >= 6)
        live.signal(signal.SIGINT)
        run = live.finish(Run("invoke " + shlex.join(args) + "   # Ctrl-C mid-stream after 6 answers"))
    run.fact(measuring, "the bench never got 6 answers")
    run.written = tour.written(folder)
    result = bench_result(folder)
    run.fact(result.get("partial") is True and result.get("stopped") == "interrupted", "b.json is not marked partial")
    no_raw_errors(run)
    return run


@case(FAULTS, "bench: every POST hangs, --requests 8 --timeout 3", 2)
def bench_hang(tour: Tour, folder: Path) -> Run:
    with FakeVllm(Faults(hang=True)) as fake:
        port = str(port_of(fake.url))
        tour.ports.add(int(port))
        args = ["bench", "--port", port, "--requests", "8", "--timeout", "3"]
        run = tour.invoke([*args, "--json", str(folder / "b.json")], shown="invoke " + shlex.join(args))
        hung = fake.counters.get("fake:hung_posts", 0)
    run.written = tour.written(folder)
    run.fact(run.cause_line().startswith("issue: the server stopped answering mid-run (judged hung"), "not named")
    run.fact(hung <= 2, f"{hung:.0f} POSTs sent to the hung server: one request and the probe are enough")
    bound = 3 + PROBE_SECONDS
    run.fact(run.wall <= bound + SLACK_S, f"{run.wall:.0f} s, past one timeout and the probe ({bound:g} s)")
    return run


def check_hang(tour: Tour, folder: Path, timeout: int) -> Run:
    with FakeVllm(Faults(hang=True)) as fake:
        tour.ports.add(port_of(fake.url))
        run = check_against(tour, folder, fake.url, "--timeout", str(timeout))
        hung = fake.counters.get("fake:hung_posts", 0)
    unreachable_verdict(run)
    run.fact(run.says(f"judged hung: a request got no answer within {timeout} s"), "the judgement is not named")
    skipped = [c for h in report(folder).get("hosts", []) for c in h["checks"] if c.get("skip_reason") == "server_gone"]
    run.fact(len(skipped) >= 15, f"{len(skipped)} checks skipped as not run once the server was judged hung")
    run.fact(hung <= 5, f"{hung:.0f} POSTs sent: OCR001's pages in flight and the probe are enough")
    bound = timeout + PROBE_SECONDS
    run.fact(run.wall <= bound + SLACK_S, f"{run.wall:.0f} s, past one timeout and the probe ({bound:g} s)")
    return run


for _timeout in (3, 10):
    case(FAULTS, f"check: every POST hangs, --timeout {_timeout}: one timeout, then nothing waits", 2)(
        lambda tour, folder, timeout=_timeout: check_hang(tour, folder, timeout)
    )


@case(FAULTS, "check: a server slow on one page (4 s, --timeout 2) is not judged gone", 2)
def check_slow_page(tour: Tour, folder: Path) -> Run:
    with FakeVllm(Faults(slow_sample="prose-01", slow_seconds=4)) as fake:
        tour.ports.add(port_of(fake.url))
        run = check_against(tour, folder, fake.url, "--timeout", "2", "--only", "OCR001,SRV006,SRV007")
    run.fact("judged" not in run.output, "the slow server was judged gone")
    run.fact(check_status(folder, "SRV007")[0] == "pass", "the checks after the slow page did not run")
    return run


def pages_check(tour: Tour, folder: Path, pages: Path, *flags: str) -> Run:
    with FakeVllm() as fake:
        tour.ports.add(port_of(fake.url))
        return check_against(tour, folder, fake.url, "--pages", str(pages), *flags)


def receipt_and(folder: Path) -> Path:
    """A folder of pages holding a readable page (the receipt sample), for the hostile one to sit beside."""
    pages = folder / "pages"
    pages.mkdir()
    shutil.copy(ROOT / "samples" / "receipt-01.png", pages / "receipt.png")
    shutil.copy(ROOT / "samples" / "receipt-01.md", pages / "receipt.md")
    return pages


def left_out(run: Run, folder: Path, name: str, words: str) -> None:
    line = next((line for line in run.lines() if line.startswith("warning: page left out:") and name in line), "")
    run.fact(words in line, f"no `warning: page left out:` line naming {name} and `{words}`")
    status, _ = check_status(folder, "OCR001")
    run.fact(status == "pass", "the readable page was not judged")


@case(FAULTS, "--pages: a Latin-1 .md beside a PNG (and a good page)", 1)
def pages_latin1(tour: Tour, folder: Path) -> Run:
    pages = receipt_and(folder)
    shutil.copy(ROOT / "samples" / "prose-01.png", pages / "letter.png")
    (pages / "letter.md").write_bytes("Réunion du comité, été 2024\n".encode("latin-1"))
    run = pages_check(tour, folder, pages, "--only", "OCR001,OCR003")
    left_out(run, folder, "letter.md", "not UTF-8 (byte 0xe9")
    run.fact(run.says("iconv -f latin1 -t utf-8 letter.md"), "the fix is not given")
    return run


@case(FAULTS, "--pages: a 40,000 x 40,000 px PNG (and a good page)", 1)
def pages_bomb(tour: Tour, folder: Path) -> Run:
    pages = receipt_and(folder)
    blank_png(pages / "bomb.png", 40_000, 40_000)
    (pages / "bomb.md").write_text("x\n", encoding="utf-8")
    run = pages_check(tour, folder, pages, "--only", "OCR001,OCR003")
    left_out(run, folder, "bomb.png", "40000 x 40000 px, above the 150 Mpx a page may have (checked before decoding)")
    run.command += f"   # bomb.png: {(pages / 'bomb.png').stat().st_size // 1000} KB on disk"
    return run


# A folder of ordinary scans must never take a machine down: one 10,000 px page, the whole check, within this.
BIG_PAGE_RSS_MAX = 1_500_000_000


@case(FAULTS, "--pages: one 10,000 x 10,000 px page with an empty .md (the whole check, SRV009 included)", 1)
def pages_big(tour: Tour, folder: Path) -> Run:
    pages = folder / "pages"
    pages.mkdir()
    blank_png(pages / "big.png", 10_000, 10_000)
    (pages / "big.md").write_text("", encoding="utf-8")
    with FakeVllm() as fake:
        tour.ports.add(port_of(fake.url))
        args = ["check", "--host", fake.url, "--pages", str(pages)]
        run, peak = tour.invoke_measured([*args, *tour.check_reports(folder)], folder)
    run.command = "invoke " + shlex.join(args) + f"   # peak RSS {peak / 1e9:.2f} GB"
    run.written = tour.written(folder)
    run.fact(0 < peak <= BIG_PAGE_RSS_MAX, f"peak RSS {peak / 1e9:.2f} GB, past {BIG_PAGE_RSS_MAX / 1e9:g} GB")
    run.fact(check_status(folder, "SRV009")[0] == "pass", "SRV009's burst of the page did not pass")
    run.fact(VERDICT.match(run.cause_line()) is not None, "no verdict")
    return run


@case(FAULTS, "`invoke serve --replicas 999` on the CPU (stand-in vllm)", 2, bad_input=True)
def serve_999(tour: Tour, folder: Path) -> Run:
    env = tour.stand_in(folder)
    run = bad_input(tour, ["serve", "--device", "cpu", "--replicas", "999"], env)
    run.fact(run.first_line().startswith("error: --replicas 999 on the CPU: this machine runs at most"), "no bound")
    run.fact(run.says("lower --replicas to"), "the fix is not named")
    run.fact(not list((folder / "stand-in").glob("*.json")), "a server was started")
    run.fact(not list(folder.glob("vllm-serve*.log")), "server logs were written")
    return run


# Issue 18's first touch: built on branch firsttouch; these rows pass once it is merged.
FIRST_TOUCH = "issue 18: first touch (branch firsttouch)"


@case(FIRST_TOUCH, "`invoke check --host remote-gpu` without a profile", 2, bad_input=True)
def remote_gpu_no_profile(tour: Tour, folder: Path) -> Run:
    copy = tour.checkout_copy()
    run = bad_input(tour, ["check", "--host", "remote-gpu"], cwd=copy)
    run.fact(run.says("invoke.yaml"), "invoke.yaml (where profiles are written) is not named")
    run.fact("does not resolve (DNS)" not in run.output, "answered as a DNS failure")
    return run


@case(FIRST_TOUCH, "a 401 with the key variable unset (VLLM_API_KEY not set)", 1)
def answer_401_unset(tour: Tour, folder: Path) -> Run:
    with FakeVllm(api_key=SERVER_KEY) as fake:
        tour.ports.add(port_of(fake.url))
        env = {k: v for k, v in tour.env().items() if k != "VLLM_API_KEY"}
        run = check_against(tour, folder, fake.url, env=env)
    run.command = "env -u VLLM_API_KEY " + run.command
    run.fact("VLLM_API_KEY is not set" in run.cause_line(), "the verdict does not name the variable read, unset")
    return run


@case(FIRST_TOUCH, "Ctrl-C in the first second of `invoke check`", 130)
def ctrl_c_first_second(tour: Tour, folder: Path) -> Run:
    with FakeVllm() as fake:
        tour.ports.add(port_of(fake.url))
        args = ["check", "--host", fake.url]
        live = tour.start([*args, *tour.check_reports(folder)])
        time.sleep(0.5)
        live.signal(signal.SIGINT)
        run = live.finish(Run("invoke " + shlex.join(args) + "   # Ctrl-C 0.5 s after the start"))
    run.written = tour.written(folder)
    partial_reports(run, folder, "interrupted")
    return run


@case(FIRST_TOUCH, "the verdict line piped at 80 columns (COLUMNS=80)", 2)
def verdict_80_columns(tour: Tour, folder: Path) -> Run:
    args = ["check", "--host", "nosuchhost.invalid"]
    shown = "invoke " + shlex.join(args) + " | cat   # COLUMNS=80"
    run = tour.invoke([*args, *tour.check_reports(folder)], env=tour.env(COLUMNS="80"), shown=shown)
    verdict = run.cause_line()
    run.fact(verdict.startswith("issue: server unreachable") and verdict.endswith("give an IP address or URL"),
             "the verdict is not one whole line")  # fmt: skip
    return run
