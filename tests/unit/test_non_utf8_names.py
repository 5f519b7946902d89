"""A file name that is not UTF-8 is the candidate's own business: it is graded, shown escaped in every report
format and the store, and never ends a run as an infrastructure failure."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from grader.models import CheckResult, Report, Status, SubmissionInfo
from grader.models.safe_text import escape_surrogates
from grader.results.report import write_reports
from grader.results.store import ResultStore

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
from fakes import exited, grade_unit_lab, passing_script  # noqa: E402

NAME = os.fsdecode(b"data-\xff\xfe.csv")  # what Python makes of the bytes: lone surrogates


def test_bad_bytes_become_escapes_and_good_text_stays():
    assert escape_surrogates(NAME) == "data-\\xff\\xfe.csv"
    assert escape_surrogates({"files": [NAME], NAME: 1}) == {"files": ["data-\\xff\\xfe.csv"], "data-\\xff\\xfe.csv": 1}
    assert escape_surrogates("naïve ✓") == "naïve ✓"
    assert escape_surrogates("\ud800") == "\\ud800"


def result_naming(name: str) -> CheckResult:
    return CheckResult(id="data", title="Data committed", section="s", type="file", status=Status.failed, points=0,
                       max_points=1, message=f"{name} is empty", evidence={"matched": [name]})


@pytest.mark.parametrize("fmt", ["json", "md", "html"])
def test_every_report_format_and_the_store_take_a_non_utf8_name(tmp_path, fmt):
    report = Report(grader_version="t", run_id="r1", lab={"id": "lab"}, rubric={}, started_at="now", max_score=1,
                    submission=SubmissionInfo(source=f"/tmp/{NAME}", kind="directory", digest="sha256:x", files=1,
                                              bytes=1),
                    checks=[result_naming(NAME)])
    written = write_reports(report, tmp_path / "out", (fmt,))
    text = written[fmt].read_text(encoding="utf-8")
    assert "data-" in text and "xff" in text
    with ResultStore(tmp_path / "results.sqlite3") as store:
        store.save(report)
        assert [run.run_id for run in store.list(None, 10)] == ["r1"]


def test_a_run_whose_step_prints_a_non_utf8_name_is_graded_and_reported(tmp_path):
    script = passing_script(evaluate=lambda spec: exited(spec, 1, stderr=f"cannot read {NAME}\n"))
    outcome = grade_unit_lab(tmp_path, script)

    assert outcome.report.outcome == "graded"
    step = next(step for step in outcome.report.steps if step.id == "evaluate")
    assert step.stderr == "cannot read data-\\xff\\xfe.csv\n"
    assert "data-\\\\xff\\\\xfe.csv" in (tmp_path / "out" / "report.json").read_text()
    json.loads((tmp_path / "out" / "report.json").read_text())
