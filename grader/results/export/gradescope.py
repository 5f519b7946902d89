"""``gradescope/<candidate>/results.json``: the Gradescope autograder results format, per submission.

Top level: ``score``, ``execution_time`` (seconds), ``output`` (the candidate's Markdown report, shown as
Markdown), ``visibility`` and ``tests``; one test per check with ``score``, ``max_score``, ``status``
(``passed``/``failed``), ``name``, ``number``, ``output``, ``tags`` and ``visibility``. A public check is
``visible``; a hidden one is ``hidden`` on Gradescope too, and is neither named nor explained (its points
still count, as in report.md). Manual-review items are left out: they are outside the automatic score.
A submission whose grading ended in an error gets score 0 and the reason as output.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grader.models import CheckResult, Report, Status
from grader.models.rubric import Visibility
from grader.results.export.entries import CohortEntry
from grader.results.report import markdown
from grader.results.report.text import clean_text

FOLDER = "gradescope"
FILENAME = "results.json"


def write(entries: Sequence[CohortEntry], out_dir: Path) -> list[Path]:
    """One results.json per candidate under ``out_dir/gradescope/<candidate>/``."""
    written = []
    for entry in entries:
        folder = out_dir / FOLDER / entry.file_stem
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / FILENAME
        path.write_text(json.dumps(results(entry), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


def results(entry: CohortEntry) -> dict[str, Any]:
    """The results.json content for one candidate."""
    report = entry.report
    if report is None or report.outcome == "error":
        reason = entry.error or (report.error if report else None) or "the submission was not graded"
        return {"score": 0.0, "output": clean_text(f"The grader could not grade this submission: {reason}"),
                "output_format": "text", "visibility": "visible", "tests": []}
    tests = [_test(number, check) for number, check in enumerate(_scored(report), start=1)]
    return {
        "score": report.score,
        "execution_time": round(report.timing.get("total", 0.0)),
        "output": markdown.render(report),
        "output_format": "md",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def _scored(report: Report) -> list[CheckResult]:
    return [check for check in report.checks if check.status is not Status.manual]


def _test(number: int, check: CheckResult) -> dict[str, Any]:
    hidden = check.visibility is Visibility.hidden
    test: dict[str, Any] = {
        "score": check.points,
        "max_score": check.max_points,
        "status": "passed" if check.status is Status.passed else "failed",
        "number": str(number),
        "visibility": "hidden" if hidden else "visible",
    }
    if hidden:
        return {**test, "name": f"Hidden check {number}", "output": ""}
    output = check.message if check.status is Status.passed or not check.hint else f"{check.message}\n\n{check.hint}"
    return {**test, "name": clean_text(check.title), "output": clean_text(output), "output_format": "text",
            "tags": [check.section, check.type]}
