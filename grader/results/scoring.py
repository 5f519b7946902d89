"""Pure scoring rules: when a check is skipped, and how a report's score and verdict follow."""

from __future__ import annotations

from collections.abc import Mapping

from grader.models import CheckOutcome, CheckResult, CheckSpec, Report, Status

_WHY = {Status.failed: "failed", Status.error: "could not be decided", Status.skipped: "was skipped",
        Status.manual: "awaits a reviewer"}


def skip_reason(check: CheckSpec, done: Mapping[str, CheckResult]) -> str | None:
    """Why ``check`` must be skipped (a needed check did not pass), or None to evaluate it."""
    for needed in check.needs:
        result = done[needed]
        if result.status != Status.passed:
            return f"skipped because {needed!r} {_WHY[result.status]}"
    return None


def score_report(report: Report) -> None:
    """Sum the points and decide ``passed``; a run that ended in error never passes."""
    report.score = round(sum(c.points for c in report.checks), 4)
    report.passed = report.outcome == "graded" and report.score >= report.pass_mark * report.max_score - 1e-9


def result_from_outcome(check: CheckSpec, section: str, outcome: CheckOutcome, seconds: float) -> CheckResult:
    """A check type's outcome with the rubric's identity and points: partial credit only for pass/fail."""
    fraction = outcome.score_fraction if outcome.status in (Status.passed, Status.failed) else 0.0
    return CheckResult(
        id=check.id, title=check.title, section=section, type=check.type, status=outcome.status,
        points=round(check.points * fraction, 4), max_points=check.points, message=outcome.message,
        evidence=outcome.evidence, visibility=check.visibility, hint=check.hint, duration_s=seconds,
    )
