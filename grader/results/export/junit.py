"""``junit/<candidate>.xml``: one JUnit XML file per submission, one testcase per check.

``testsuite`` is the candidate; a testcase is a check (``classname`` its section, ``name`` its id) with its
duration; a failed check has a ``failure`` (message, then the evidence as JSON), an errored one an ``error``,
a skipped one or a manual-review item ``skipped``. Hidden checks are listed as ``hidden-N`` without message or
evidence, as the candidate's report does. A submission that could not be graded is one errored testcase.
XML is written by ElementTree (escaped), after control characters XML cannot carry are removed.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from grader.models import CheckResult, Status
from grader.models.rubric import Visibility
from grader.results.export.entries import CohortEntry
from grader.results.report.text import clean_text

FOLDER = "junit"
EVIDENCE_LIMIT = 8_000
_NOT_XML = re.compile(r"[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def write(entries: Sequence[CohortEntry], out_dir: Path) -> list[Path]:
    """One XML file per candidate under ``out_dir/junit/``."""
    folder = out_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for entry in entries:
        path = folder / f"{entry.file_stem}.xml"
        path.write_bytes(render(entry))
        written.append(path)
    return written


def _text(value: str) -> str:
    return _NOT_XML.sub("", clean_text(value))


def render(entry: CohortEntry) -> bytes:
    """The JUnit XML document of one candidate."""
    report = entry.report
    suite = ET.Element("testsuite", name=_text(entry.candidate))
    if report is None or report.outcome == "error":
        reason = entry.error or (report.error if report else None) or "the submission was not graded"
        case = ET.SubElement(suite, "testcase", classname="grading", name="grading")
        ET.SubElement(case, "error", message=_text(reason)[:1000]).text = _text(reason)
        suite.attrib.update(tests="1", failures="0", errors="1", skipped="0", time="0")
        return ET.tostring(suite, encoding="utf-8", xml_declaration=True)
    properties = ET.SubElement(suite, "properties")  # first: the JUnit schema wants it before the testcases
    for name, value in (("score", f"{report.score:g}"), ("max_score", f"{report.max_score:g}"),
                        ("passed", str(report.passed).lower()), ("run_id", report.run_id)):
        ET.SubElement(properties, "property", name=name, value=value)
    counts = {"failures": 0, "errors": 0, "skipped": 0}
    hidden_number = 0
    for check in report.checks:
        if check.visibility is Visibility.hidden:
            hidden_number += 1
        kind = _add_case(suite, check, hidden_number)
        if kind:
            counts[kind] += 1
    suite.attrib.update(tests=str(len(report.checks)), time=f"{report.timing.get('total', 0.0):.3f}",
                        **{name: str(count) for name, count in counts.items()})
    return ET.tostring(suite, encoding="utf-8", xml_declaration=True)


def _add_case(suite: ET.Element, check: CheckResult, hidden_number: int) -> str | None:
    hidden = check.visibility is Visibility.hidden
    name = f"hidden-{hidden_number}" if hidden else check.id
    case = ET.SubElement(suite, "testcase", classname=_text(check.section), name=_text(name),
                         time=f"{check.duration_s:.3f}")
    message = "" if hidden else _text(check.message)
    body = "" if hidden else _body(check)
    if check.status is Status.failed:
        ET.SubElement(case, "failure", message=message[:1000], type="fail").text = body
        return "failures"
    if check.status is Status.error:
        ET.SubElement(case, "error", message=message[:1000], type="error").text = body
        return "errors"
    if check.status in (Status.skipped, Status.manual):
        ET.SubElement(case, "skipped", message=message[:1000])
        return "skipped"
    return None


def _body(check: CheckResult) -> str:
    parts = [check.message]
    if check.hint:
        parts.append(f"hint: {check.hint}")
    if check.evidence:
        parts.append("evidence: " + json.dumps(check.evidence, indent=2, ensure_ascii=False, default=str))
    return _text("\n\n".join(parts))[:EVIDENCE_LIMIT]
