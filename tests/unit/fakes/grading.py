"""Grading the unit lab against the fake engine, and reading what the run left."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from grader.models import Report
from grader.paths import project_paths
from grader.run.orchestrate import GradeOptions, GradeOutcome, grade_submission
from grader.run.state import RunObserver

from .engine import FakeEngine
from .lab import write_lab
from .sandbox import Script

RUN_ID = "run1"


class RecordingObserver(RunObserver):
    """Keeps the run's log lines."""

    def __init__(self) -> None:
        self.logs: list[str] = []

    def log(self, message: str) -> None:
        self.logs.append(message)


def grade_unit_lab(folder: Path, *scripts: Script, engine: FakeEngine | None = None, retries: int = 0,
                   observer: RunObserver | None = None, clock: Callable[[], float] = time.monotonic,
                   manifest: str | None = None) -> GradeOutcome:
    """Grade the unit lab's full-marks submission (with ``manifest`` as its capstone.yaml, when given) on a fake
    engine answering from ``scripts``; the JSON report goes to ``folder/out``."""
    lab, submission = write_lab(folder / f"lab-{retries}", retries)
    if manifest is not None:
        (submission / "capstone.yaml").write_text(manifest)
    options = GradeOptions(out_dir=folder / "out", formats=("json",), store=False)
    return grade_submission(str(submission), str(lab), project_paths(), engine or FakeEngine(*scripts), options,
                            observer=observer, clock=clock, run_id=RUN_ID)


def written_report(folder: Path) -> Report:
    """The report a grading wrote to ``folder/out``."""
    return Report.model_validate_json((folder / "out" / "report.json").read_text())


def statuses(report: Report) -> dict[str, str]:
    """Check id → status of every check in the report."""
    return {check.id: check.status.value for check in report.checks}
