"""Pure scoring rules: when a check is skipped, and how a report's score and verdict follow."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

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


class Score(NamedTuple):
    score: float
    passed: bool
    missed_required: tuple[str, ...] = ()


def score_checks(checks: Sequence[CheckResult], *, graded: bool, max_score: float, pass_mark: float) -> Score:
    """The points the checks earned and whether the submission passes: the score reaches the pass mark and
    every required check passed. A run that ended in error (``graded`` false) never passes."""
    score = round(sum(check.points for check in checks), 4)
    missed = tuple(check.id for check in checks if check.required and check.status is not Status.passed)
    reaches_mark = score >= pass_mark * max_score - 1e-9
    return Score(score=score, passed=graded and reaches_mark and not missed, missed_required=missed)


def score_report(report: Report) -> Report:
    """A copy of ``report`` with its score and verdict computed from its checks."""
    score = score_checks(report.checks, graded=report.outcome == "graded", max_score=report.max_score,
                         pass_mark=report.pass_mark)
    return report.model_copy(update=score._asdict())


def result_from_outcome(check: CheckSpec, section: str, outcome: CheckOutcome, seconds: float) -> CheckResult:
    """A check type's outcome with the rubric's identity and points: partial credit only for pass/fail."""
    fraction = outcome.score_fraction if outcome.status in (Status.passed, Status.failed) else 0.0
    return CheckResult(
        id=check.id, title=check.title, section=section, type=check.type, status=outcome.status,
        points=round(check.points * fraction, 4), max_points=check.points, message=outcome.message,
        evidence=outcome.evidence, visibility=check.visibility, hint=check.hint, duration_s=seconds,
        required=check.required,
    )
