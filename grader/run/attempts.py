"""A run that fails on the grader's side: every check still gets a result, and a retry starts from scratch.

An infrastructure failure (the engine lost or restarted mid-run, an image that would not build) says nothing
about the submission. The run then ends ``outcome: error`` and every check that was not evaluated gets status
``error`` with the reason, never ``fail``, so no point is lost to the candidate's account. A lab with
``retry_on_infrastructure_error`` grades the submission again from the start; ``Report.attempts`` records
every try.
"""

from __future__ import annotations

from grader.models import Attempt, CheckResult, Report, Rubric, Status
from grader.run.pipeline import RunState

NOT_EVALUATED = "not evaluated: the run ended in error on the grader's side, not the submission's fault ({reason})"
INTERRUPTED = "interrupted before grading finished"


def end_in_error(report: Report, rubric: Rubric, reason: str) -> None:
    """Mark the run as failed on the grader's side; checks without a result get ``error`` with the reason."""
    report.outcome, report.error = "error", reason
    evaluated = {check.id for check in report.checks}
    for section in rubric.sections:
        for check in section.checks:
            if check.id in evaluated:
                continue
            report.checks.append(CheckResult(
                id=check.id, title=check.title, section=section.id, type=check.type, status=Status.error,
                points=0, max_points=check.points, message=NOT_EVALUATED.format(reason=reason),
                visibility=check.visibility, hint=None,
            ))
    _keep_rubric_order(report, rubric)


def record_attempt(report: Report, number: int, seconds: float) -> None:
    """Append the try that just ended, with the outcome the report has now."""
    report.attempts.append(Attempt(number=number, outcome=report.outcome, error=report.error,
                                   duration_s=round(seconds, 3)))


def next_attempt(run: RunState, number: int) -> RunState:
    """A clean state for try ``number``: the submission, manifest and intake stay; everything the failed try
    produced goes (results, timings, scratch files such as copied-out artifacts)."""
    report = run.report
    report.outcome, report.error = "graded", None
    report.checks, report.steps, report.services = [], [], []
    report.dependencies = None
    report.timing = {phase: seconds for phase, seconds in report.timing.items() if phase == "intake"}
    scratch = run.scratch / f"attempt-{number}"  # inside the run's scratch folder, removed with it
    scratch.mkdir()
    return RunState(lab=run.lab, report=report, observer=run.observer, clock=run.clock, scratch=scratch,
                    manifest=run.manifest)


def _keep_rubric_order(report: Report, rubric: Rubric) -> None:
    position = {check.id: index for index, check in enumerate(rubric.checks)}
    report.checks.sort(key=lambda result: position.get(result.id, len(position)))
