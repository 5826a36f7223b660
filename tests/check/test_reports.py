"""The reporters: JUnit XML, Markdown, JSON and the console summary, from hand-built results on two hosts."""

from __future__ import annotations

import io
import json
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from rich.console import Console

from lightonocr_validation.check.base import Result, Status
from lightonocr_validation.check.command import CheckOptions, build_provenance, write_reports
from lightonocr_validation.check.report.console import render_summary
from lightonocr_validation.check.report.json_report import SCHEMA_VERSION, report_dict, write_json
from lightonocr_validation.check.report.junit import render_junit
from lightonocr_validation.check.report.markdown import escape, render_markdown
from lightonocr_validation.check.runner import HostRun
from lightonocr_validation.check.verdict import combine, verdict_for
from lightonocr_validation.core.errors import EXIT_UNREACHABLE
from lightonocr_validation.core.serialize import iso_utc, jsonable, render_json
from lightonocr_validation.vllm.client import Target
from lightonocr_validation.vllm.provenance import TOOL_VERSION, ServerFacts
from tests.conftest import CONFIG, SETTINGS

SECRET = "sk-secret-123"
MODEL = "lightonai/LightOnOCR-2-1B"
OCR_HINT = "Serve with the model card's chat template and flags."


def result(
    check_id: str,
    family: str,
    status: Status,
    detail: str,
    *,
    figure: str = "",
    hint: str = "",
    data: dict | None = None,
    host: str = "",
) -> Result:
    title = f"title of {check_id}"
    return Result(check_id, title, family, status, detail, figure, 0.25, hint, data or {}, host)


def make_runs() -> list[HostRun]:
    gpu_a = Target("http://gpu-a:8000", name="gpu-a", api_key=SECRET)
    gpu_b = Target("https://ocr.example.com/base", name="gpu-b")
    run_a = HostRun(
        gpu_a,
        (
            result("RDY001", "readiness", Status.PASS, "answered HTTP 200 in 12 ms", figure="12 ms"),
            result("RDY003", "readiness", Status.PASS, "vLLM 0.11.2", data={"version": "0.11.2"}),
            result("MOD001", "model", Status.PASS, "listed", data={"max_model_len": 16384}),
            result("OCR001", "ocr", Status.FAIL, "CER 0.31 | limit 0.05", figure="0.31", hint=OCR_HINT),
            result("OCR002", "ocr", Status.SKIP, "needs OCR001 (title of OCR001), which did not pass"),
            result("OCR003", "ocr", Status.ERROR, "KeyError: 'choices'", hint="Read the server log."),
        ),
        1_700_000_000.0,
        1_700_000_012.5,
        ServerFacts(vllm_version="0.11.2", max_model_len=16384),
    )
    run_b = HostRun(
        gpu_b,
        (
            result("RDY001", "readiness", Status.PASS, "answered HTTP 200 in 40 ms", figure="40 ms"),
            result("RDY003", "readiness", Status.PASS, "vLLM 0.11.0", data={"version": "0.11.0"}),
        ),
        1_700_000_000.0,
        1_700_000_003.0,
        ServerFacts(vllm_version="0.11.0"),
    )
    return [run_a, run_b]


def make_report(runs: list[HostRun] | None = None) -> dict:
    runs = runs or make_runs()
    verdicts = [verdict_for(run.results) for run in runs]
    overall = combine(verdicts)
    report = report_dict(runs, verdicts, overall, build_provenance(runs, SETTINGS, 1_700_000_000.0))
    return report


def test_junit_has_one_suite_per_host_and_the_right_counts() -> None:
    report = make_report()
    root = ET.fromstring(render_junit(report).encode("utf-8"))
    assert root.tag == "testsuites"
    assert {key: root.get(key) for key in ("tests", "failures", "errors", "skipped")} == {
        "tests": "8",
        "failures": "1",
        "errors": "1",
        "skipped": "1",
    }
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["gpu-a", "gpu-b"]
    assert [s.get("tests") for s in suites] == ["6", "2"]
    assert suites[0].get("time") == "12.500"

    cases = {case.get("name"): case for case in suites[0].findall("testcase")}
    failed = cases["OCR001 title of OCR001"]
    assert failed.get("classname") == "ocr"
    assert failed.get("time") == "0.250"
    failure = failed.find("failure")
    assert failure is not None and failure.get("message") == "CER 0.31 | limit 0.05"
    assert OCR_HINT in (failure.text or "")
    assert cases["OCR002 title of OCR002"].find("skipped").get("message").startswith("needs OCR001")
    assert cases["OCR003 title of OCR003"].find("error") is not None
    assert list(cases["RDY001 title of RDY001"].iter("failure")) == []

    properties = {p.get("name"): p.get("value") for p in suites[0].iter("property")}
    assert properties["vllm_version"] == "0.11.2"
    assert properties["max_model_len"] == "16384"
    assert properties["model"] == MODEL
    assert properties["sampling.temperature"] == "0.2"
    assert re.fullmatch(r"[0-9a-f]{64}", properties["samples_digest"])
    assert properties["verdict"] == report["verdict"]["line"]
    assert {p.get("name"): p.get("value") for p in suites[1].iter("property")}["vllm_version"] == "0.11.0"


def test_junit_stays_valid_xml_when_a_detail_holds_control_characters() -> None:
    runs = [
        HostRun(
            Target("http://h:8000"),
            (result("OCR001", "ocr", Status.FAIL, "got \x00\x1b[31m<b>&amp;</b>\x07", hint="h"),),
            0.0,
            1.0,
        )
    ]
    report = make_report(runs)
    failure = ET.fromstring(render_junit(report).encode("utf-8")).find(".//failure")
    assert failure is not None and failure.get("message") == "got [31m<b>&amp;</b>"


def test_markdown_puts_the_verdict_first_and_escapes_table_cells() -> None:
    report = make_report()
    text = render_markdown(report)
    lines = text.splitlines()
    assert lines[0].startswith(f"**{escape(report['verdict']['line'])}**")
    assert "(exit code 1)" in lines[0]
    assert "readiness 4/4 · model 1/1 · ocr 0/3" in lines[2]
    row = next(line for line in lines if line.startswith("| OCR001 "))
    assert r"CER 0.31 \| limit 0.05" in row
    assert len(re.findall(r"(?<!\\)\|", row)) == 7  # six cells: the escaped pipe does not split one
    assert "| vLLM version | gpu-a: 0.11.2; gpu-b: 0.11.0 |" in lines
    todo = text.split("## What to do", 1)[1]
    assert OCR_HINT in todo and "Read the server log." in todo
    assert "RDY001" not in todo and "OCR002" not in todo


def test_markdown_escape_keeps_one_line_and_no_markup() -> None:
    assert escape("a|b\nc <script>*x*") == r"a\|b<br>c &lt;script&gt;\*x\*"


def test_json_keeps_schema_1_with_provenance_and_round_trips(tmp_path: Path) -> None:
    report = make_report()
    assert report["schema"] == SCHEMA_VERSION == 1
    assert report["generated_by"] == f"lightonocr-validation {TOOL_VERSION}"
    provenance = report["provenance"]
    assert {
        "tool",
        "model",
        "weights",
        "sampling",
        "samples_digest",
        "servers",
        "started",
        "finished",
        "started_at",
        "finished_at",
    } <= provenance.keys()
    assert {"name", "version", "python", "requests"} <= provenance["tool"].keys()
    assert provenance["sampling"] == {"temperature": 0.2, "top_p": 0.9, "max_tokens": 4096}
    assert provenance["servers"][0] == {"host": "gpu-a", "vllm_version": "0.11.2", "max_model_len": 16384}
    assert provenance["servers"][1]["max_model_len"] is None
    assert provenance["started_at"] == "2023-11-14T22:13:20.000Z"
    host = report["hosts"][0]
    assert host["counts"] == {"pass": 3, "fail": 1, "skip": 1, "error": 1}
    assert [c["status"] for c in host["checks"]] == ["pass", "pass", "pass", "fail", "skip", "error"]
    assert json.loads(render_json(report)) == report
    path = tmp_path / "deep" / "folder" / "report.json"
    write_json(path, report)
    assert json.loads(path.read_text(encoding="utf-8")) == report
    assert [p.name for p in path.parent.iterdir()] == ["report.json"]  # no partial file left behind


def test_json_turns_any_check_data_into_json() -> None:
    runs = [
        HostRun(
            Target("http://h:8000"),
            (
                result(
                    "RDY001",
                    "readiness",
                    Status.PASS,
                    "ok",
                    data={
                        "nan": math.nan,
                        "inf": -math.inf,
                        "tags": {"b", "a"},
                        "path": Path("/tmp/x"),
                        "status": Status.FAIL,
                        "pair": (1, 2.5),
                        "raw": b"\x00\x01",
                        3: "int key",
                    },
                ),
            ),
            0.0,
            1.0,
        )
    ]
    report = make_report(runs)
    data = json.loads(render_json(report))["hosts"][0]["checks"][0]["data"]
    assert data == {
        "nan": None,
        "inf": None,
        "tags": ["a", "b"],
        "path": "/tmp/x",
        "status": "fail",
        "pair": [1, 2.5],
        "raw": "<2 bytes>",
        "3": "int key",
    }
    assert jsonable({"x": float("nan")}) == {"x": None}


def test_no_report_contains_the_api_key(tmp_path: Path) -> None:
    leaky = Target(
        "https://user:pw-secret-456@gpu-c:8000",
        name="gpu-c",
        api_key="other-key-789",
        headers=(("Authorization", "Bearer hdr-secret-000"), ("X-Tenant", "acme")),
    )
    # An error text that echoed the key: the reporters must still not write it.
    echoed = result("RDY001", "readiness", Status.ERROR, f"401 for key {SECRET} and other-key-789", hint="h")
    runs = [*make_runs(), HostRun(leaky, (echoed,), 0.0, 1.0)]
    report = make_report(runs)
    texts = {"json": render_json(report), "junit": render_junit(report), "markdown": render_markdown(report)}
    paths = [tmp_path / "r.json", tmp_path / "r.xml", tmp_path / "r.md"]
    options = CheckOptions(
        config=CONFIG,
        hosts=["gpu-a"],
        report_json=paths[0],
        junit=paths[1],
        report_md=paths[2],
    )
    quiet = Console(file=io.StringIO(), width=100)
    assert write_reports(options, report, console=quiet, errors=quiet) == 0
    texts |= {path.name: path.read_text(encoding="utf-8") for path in paths}
    # The terminal renders the same redacted dict: it shows no more than the reports.
    terminal = Console(record=True, width=300)
    render_summary(terminal, report)
    texts["console"] = terminal.export_text()
    for name, text in texts.items():
        for secret in (SECRET, "other-key-789", "hdr-secret-000", "pw-secret-456"):
            assert secret not in text, f"{secret} leaked into the {name} report"
        assert "401 for key (redacted)" in text
    assert report["hosts"][2]["base_url"] == "https://gpu-c:8000"  # no user:password in the URL
    assert all("X-Tenant" not in text for text in texts.values())  # headers are never serialized


def test_an_unwritable_report_path_is_one_error_line_and_exit_2(tmp_path: Path) -> None:
    report = make_report()
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be", encoding="utf-8")
    good = tmp_path / "ok" / "report.md"
    options = CheckOptions(
        config=CONFIG,
        hosts=["gpu-a"],
        report_json=blocker / "report.json",
        report_md=good,
    )
    console = Console(record=True, width=200)
    errors = Console(record=True, width=200)
    assert write_reports(options, report, console=console, errors=errors) == EXIT_UNREACHABLE == 2
    error_lines = errors.export_text().strip().splitlines()
    assert len(error_lines) == 1
    assert str(blocker / "report.json") in error_lines[0] and "JSON" in error_lines[0]
    assert "Not a directory" in error_lines[0] or "exists" in error_lines[0]
    assert good.read_text(encoding="utf-8").startswith("**issue")  # the other report is still written
    assert f"report: {good}" in console.export_text()


def test_provenance_comes_from_the_servers_answers_not_from_check_data() -> None:
    run = HostRun(
        Target("http://h:8000"),
        (result("RDY003", "readiness", Status.ERROR, "boom", data={"version": "9.9.9"}),),
        0.0,
        1.0,
    )
    provenance = build_provenance([run], SETTINGS, 0.0)
    assert provenance["servers"] == [{"host": "http://h:8000", "vllm_version": None, "max_model_len": None}]
    assert iso_utc(0.0) == "1970-01-01T00:00:00.000Z"
    assert iso_utc(math.nan) is None


def test_console_summary_fits_100_columns_with_each_check_and_the_verdict_last() -> None:
    runs = make_runs()
    overall = combine([verdict_for(run.results) for run in runs])
    console = Console(record=True, width=100)
    render_summary(console, make_report(runs))
    text = console.export_text()
    lines = [line for line in text.splitlines() if line.strip()]
    assert all(len(line) <= 100 for line in lines)
    for check_id in ("RDY001", "RDY003", "MOD001", "OCR001", "OCR002", "OCR003"):
        assert check_id in text
    assert sum("RDY001" in line for line in lines) == 2  # one row per host
    # Check by check: both hosts' RDY001 rows come before any RDY003 row.
    first_rows = [line.split("│")[1].strip() for line in lines if "RDY00" in line]
    assert first_rows[:2] == ["gpu-a", "gpu-b"]
    assert "hint: Serve with the" in text
    assert "readiness 4/4 · model 1/1 · ocr 0/3" in text
    assert lines[-1] == overall.line
    assert overall.line.startswith("issue: OCR001")


@pytest.mark.parametrize("several", [False, True])
def test_console_summary_omits_the_host_column_for_one_host(several: bool) -> None:
    runs = make_runs() if several else make_runs()[:1]
    console = Console(record=True, width=100)
    render_summary(console, make_report(runs))
    header = next(line for line in console.export_text().splitlines() if "status" in line)
    assert ("host" in header) is several


def test_a_partial_selection_says_so_in_the_verdict() -> None:
    from lightonocr_validation.check.base import Result, Status

    passed = Result("RDY001", "The server answers HTTP", "readiness", Status.PASS, "200", "", 0.1, "")
    assert verdict_for([passed], registered=23).line == "validated: 1 check passed; only 1 of 23 checks were selected"
    assert verdict_for([passed], registered=1).line == "validated: 1 check passed"
