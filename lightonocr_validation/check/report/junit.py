"""JUnit XML for CI systems (Jenkins, GitLab, GitHub test reporters), rendered from the report dict.

One <testsuite> per host, one <testcase> per check: a failed check is a <failure>, a check that crashed or
lost the server an <error>, a skipped one <skipped>. The verdict and the provenance go in each suite's
<properties>, since the Ant schema that these tools follow allows properties only there.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lightonocr_validation.check.report.counts import partial_note, status_counts
from lightonocr_validation.core.files import write_text
from lightonocr_validation.core.serialize import jsonable

# XML 1.0 forbids most control characters even escaped; a server's reply quoted in a detail may hold them,
# and one would make the whole file unreadable to the CI. They are dropped.
COUNTED = ("tests", "failures", "errors", "skipped")
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def render_junit(report: Mapping[str, Any]) -> str:
    report = jsonable(report)
    suites = [_suite(host, report) for host in report.get("hosts", [])]
    totals = {key: sum(int(s.get(key, "0")) for s in suites) for key in COUNTED}
    elapsed = _elapsed(report.get("provenance", {})) or sum(float(s.get("time", "0")) for s in suites)
    root = ET.Element(
        "testsuites",
        {
            "name": _clean(report.get("generated_by") or "lightonocr-validation"),
            **{key: str(value) for key, value in totals.items()},
            "time": _seconds(elapsed),
        },
    )
    root.extend(suites)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(path: Path, report: Mapping[str, Any]) -> None:
    write_text(path, render_junit(report))


def _suite(host: Mapping[str, Any], report: Mapping[str, Any]) -> ET.Element:
    checks = host.get("checks", [])
    counts = status_counts(check.get("status", "") for check in checks)
    attributes = {
        "name": _clean(host.get("host", "")),
        "tests": str(len(checks)),
        "failures": str(counts["fail"]),
        "errors": str(counts["error"]),
        "skipped": str(counts["skip"]),
        "time": _seconds(_elapsed(host) or sum(check.get("seconds") or 0.0 for check in checks)),
        "hostname": _clean(urlsplit(host.get("base_url", "")).hostname or ""),
    }
    if host.get("started_at"):
        # The Ant schema's timestamp has no zone; the value is UTC.
        attributes["timestamp"] = str(host["started_at"])[:19]
    suite = ET.Element("testsuite", attributes)
    properties = ET.SubElement(suite, "properties")
    for name, value in _properties(host, report):
        ET.SubElement(properties, "property", {"name": name, "value": _clean(value)})
    for check in checks:
        suite.append(_case(check))
    return suite


def _properties(host: Mapping[str, Any], report: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    provenance = report.get("provenance") or {}
    server = next((s for s in provenance.get("servers", []) if s.get("host") == host.get("host")), {})
    yield "verdict", (report.get("verdict") or {}).get("line", "")
    yield "partial", "true" if report.get("partial") else "false"
    yield "stopped", _text(report.get("stopped"))
    if report.get("partial"):
        yield "partial_note", partial_note(report)
    yield "host_verdict", (host.get("verdict") or {}).get("line", "")
    yield "generated_by", report.get("generated_by", "")
    yield "vllm_version", _text(server.get("vllm_version"))
    yield "model", _text(provenance.get("model"))
    yield "weights", _text(provenance.get("weights"))
    yield "max_model_len", _text(server.get("max_model_len"))
    for key, value in (provenance.get("sampling") or {}).items():
        yield f"sampling.{key}", _text(value)
    yield "samples_digest", _text(provenance.get("samples_digest"))
    for key, value in (provenance.get("tool") or {}).items():
        yield f"tool.{key}", _text(value)
    yield "started_at", _text(provenance.get("started_at"))
    yield "finished_at", _text(provenance.get("finished_at"))


def _case(check: Mapping[str, Any]) -> ET.Element:
    case = ET.Element(
        "testcase",
        {
            "classname": _clean(check.get("family", "")),
            "name": _clean(f"{check.get('id', '')} {check.get('title', '')}".strip()),
            "time": _seconds(check.get("seconds") or 0.0),
        },
    )
    status, detail, hint = check.get("status"), _clean(check.get("detail", "")), _clean(check.get("hint", ""))
    body = "\n".join(part for part in (detail, f"hint: {hint}" if hint else "") if part)
    if status == "fail":
        ET.SubElement(case, "failure", {"message": detail, "type": "fail"}).text = body
    elif status == "error":
        ET.SubElement(case, "error", {"message": detail, "type": "error"}).text = body
    elif status == "skip":
        ET.SubElement(case, "skipped", {"message": detail})
    out = [f"figure: {check['figure']}"] if check.get("figure") else []
    out.extend(_user_set_lines(check.get("data") or {}))
    if out:
        ET.SubElement(case, "system-out").text = _clean("\n".join(out))
    return case


def _user_set_lines(data: Mapping[str, Any]) -> Iterator[str]:
    """`--pages DIR`: each category's score with its interval, then every failed test, in the check's output."""
    if not isinstance(data.get("results"), list) or not isinstance(data.get("by_category"), dict):
        return
    for name, category in data["by_category"].items():
        yield (
            f"category {name}: {category.get('passed')}/{category.get('tests')} tests, score {category.get('score')} "
            f"(95% CI {category.get('low')}-{category.get('high')})"
        )
    for result in data["results"]:
        if not result.get("passed"):
            yield f"fail {result.get('page')} {result.get('id')} {result.get('fact')}: {result.get('reason')}"


def _elapsed(span: Mapping[str, Any]) -> float | None:
    started, finished = span.get("started"), span.get("finished")
    if isinstance(started, int | float) and isinstance(finished, int | float) and finished >= started:
        return float(finished - started)
    return None


def _seconds(value: float) -> str:
    return f"{max(0.0, float(value)):.3f}"


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _clean(value: Any) -> str:
    return _NOT_XML.sub("", str(value))
