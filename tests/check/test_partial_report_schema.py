"""Property: the report of a stopped run (deadline or Ctrl-C, at any point, on any selection and fleet) is the
report docs/report-schema.md describes, field for field, and says that it is partial in all three formats.

The validator is read from the document's own tables (name and type columns), so a field added to the code
without its line in the document, or documented and not written, fails here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lightonocr_validation.check import registry
from lightonocr_validation.check.base import Result, Status
from lightonocr_validation.check.command import build_provenance
from lightonocr_validation.check.context import RequestSettings
from lightonocr_validation.check.report.json_report import report_dict
from lightonocr_validation.check.report.junit import render_junit
from lightonocr_validation.check.report.markdown import render_markdown
from lightonocr_validation.check.runner import HostRun, stopped_result
from lightonocr_validation.check.verdict import combine, verdict_for
from lightonocr_validation.core import config
from lightonocr_validation.core.cancel import DEADLINE, INTERRUPTED, CancelToken
from lightonocr_validation.core.errors import EXIT_INTERRUPTED
from lightonocr_validation.core.serialize import render_json
from lightonocr_validation.core.settings import DEFAULTS
from lightonocr_validation.vllm.client import Target

SCHEMA_DOC = Path(__file__).resolve().parents[2] / "docs" / "report-schema.md"
SETTINGS = RequestSettings.from_config(config.load(DEFAULTS))
TYPES = {
    "integer": (int,),
    "number": (int, float),
    "string": (str,),
    "boolean": (bool,),
    "object": (dict,),
    "array of objects": (list,),
    "null": (type(None),),
}


def _tables() -> dict[str, dict[str, tuple[tuple[type, ...], bool]]]:
    """Section title -> field name -> (accepted Python types, required)."""
    tables: dict[str, dict[str, tuple[tuple[type, ...], bool]]] = {}
    section = ""
    for line in SCHEMA_DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            section = line.lstrip("#").strip()
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        kind = cells[1]
        required = "(only" not in kind
        accepted: tuple[type, ...] = ()
        for word in re.sub(r"\(.*\)", "", kind).split(" or "):
            accepted += TYPES[word.strip()]
        for name in re.findall(r"`([^`]+)`", cells[0]):
            tables.setdefault(section, {})[name] = (accepted, required)
    return tables


TABLES = _tables()


def _conforms(value: dict[str, Any], table: dict[str, tuple[tuple[type, ...], bool]], where: str) -> None:
    tops = {name.split(".")[0] for name in table}
    assert set(value) <= tops, f"{where}: fields the schema does not document: {sorted(set(value) - tops)}"
    for name, (accepted, required) in table.items():
        node: Any = value
        for part in name.split("."):
            if not isinstance(node, dict) or part not in node:
                node = KeyError
                break
            node = node[part]
        if node is KeyError:
            assert not required, f"{where}: {name} is missing"
            continue
        assert isinstance(node, accepted) and not (isinstance(node, bool) and bool not in accepted), (
            f"{where}: {name} is {node!r}, documented as {accepted}"
        )


def validate(report: dict[str, Any]) -> None:
    _conforms(report, TABLES["Fields"], "report")
    verdict_table = TABLES["verdict (top level and per host)"]
    _conforms(report["verdict"], verdict_table, "verdict")
    _conforms(report["provenance"], TABLES["provenance"], "provenance")
    for host in report["hosts"]:
        _conforms(host, TABLES["hosts[]"], "host")
        _conforms(host["verdict"], verdict_table, "host verdict")
        for check in host["checks"]:
            _conforms(check, TABLES["hosts[].checks[]"], f"check {check.get('id')}")


finished_outcomes = st.tuples(
    st.sampled_from(list(Status)),
    st.text(max_size=40),
    st.sampled_from(["", "", "", "timeout"]),
)


@st.composite
def stopped_runs(draw: st.DrawFn) -> tuple[list[HostRun], str]:
    selected = draw(st.lists(st.sampled_from(registry.CHECKS), min_size=1, max_size=8, unique=True))
    selected.sort(key=registry.CHECKS.index)
    reason = draw(st.sampled_from([DEADLINE, INTERRUPTED]))
    token = CancelToken(draw(st.floats(min_value=1, max_value=5000)))
    token.stop(reason, draw(st.sampled_from(["SIGINT", "SIGTERM"])))
    runs = []
    for number in range(draw(st.integers(min_value=1, max_value=2))):
        stop_at = draw(st.integers(min_value=0, max_value=len(selected)))
        results: list[Result] = []
        for index, check in enumerate(selected):
            if index < stop_at:
                status, detail, unreachable = draw(finished_outcomes)
                results.append(
                    Result(check.id, check.title(), check.family, status, detail, "", 0.1, "", host=f"h{number}",
                           unreachable=unreachable if status is Status.ERROR else "")
                )  # fmt: skip
            else:
                results.append(stopped_result(check, token, started=index == stop_at))
        target = Target(f"http://replica-{number}:8000", name=f"replica-{number}")
        runs.append(HostRun(target, tuple(results), 1.0e9, 1.0e9 + 5))
    return runs, reason


@settings(max_examples=40, deadline=None)
@given(stopped_runs())
def test_a_stopped_runs_report_is_the_documented_schema_and_marked_partial(drawn: tuple[list[HostRun], str]) -> None:
    runs, reason = drawn
    essential = registry.essential_ids(registry.CHECKS)
    verdicts = [verdict_for(run.results, essential, registered=len(registry.CHECKS)) for run in runs]
    overall = combine(verdicts)
    provenance = build_provenance(runs, SETTINGS, 1.0e9, deadline_s=60.0)
    report = json.loads(render_json(report_dict(runs, verdicts, overall, provenance, stopped=reason)))
    validate(report)
    partial = any(result.stopped for run in runs for result in run.results)
    assert report["partial"] is partial and report["stopped"] == reason
    if partial:
        # Never read as a pass; an interrupted run's verdict is the 130 of Ctrl-C.
        assert report["verdict"]["word"] == "issue" and report["verdict"]["exit_code"] != 0
        assert (report["verdict"]["exit_code"] == EXIT_INTERRUPTED) is (reason == INTERRUPTED)
        assert "PARTIAL REPORT" in render_markdown(report).splitlines()[2]
        assert '<property name="partial" value="true"' in render_junit(report)
    for host in report["hosts"]:
        for check in host["checks"]:
            assert check["stopped"] in ("", reason)
            if check["stopped"]:
                assert check["status"] == ("error" if reason == DEADLINE else "skip")
                assert check["detail"].startswith(("not finished: ", "not run: "))


def test_the_validator_catches_a_field_the_schema_does_not_document() -> None:
    """The property above can fail: an undocumented or mistyped field is caught."""
    token = CancelToken(10)
    token.stop(INTERRUPTED, "SIGINT")
    run = HostRun(Target("http://a:1"), (stopped_result(registry.CHECKS[0], token, started=True),), 1.0, 2.0)
    verdict = verdict_for(run.results)
    report = json.loads(render_json(report_dict([run], [verdict], verdict, build_provenance([run], SETTINGS, 1.0))))
    validate(report)
    for broken in ({**report, "interrupted": True}, {**report, "partial": "yes"}):
        try:
            validate(broken)
        except AssertionError:
            continue
        raise AssertionError("a report that breaks the schema was not caught")
