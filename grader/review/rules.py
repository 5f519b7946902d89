"""The review's pure rules: what a reviewer may set, and the totals and verdict that follow.

Points are set within a check's bounds (0 to its ``max_points``); an override needs a reason; a manual item
is scored, not overridden; a released grade is final. The automatic ``score`` and ``passed`` of a report are
never changed: the reviewed values are computed beside them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from grader.errors import BadInputError
from grader.models import CheckResult, Report, Status
from grader.review.model import Mark, Review

TEXT_LIMIT = 2000  # characters of a comment or a reason


class ReviewRefused(BadInputError):
    """A reviewer's change that the rules do not allow; the message says why and what is allowed."""


def parse_points(text: str) -> float:
    """Points typed by a reviewer (``2``, ``1.5``, ``1,5``) as a number, or ReviewRefused."""
    cleaned = text.strip().replace(",", ".")
    if not cleaned:
        raise ReviewRefused("enter the points as a number")
    try:
        value = float(cleaned)
    except ValueError:
        raise ReviewRefused(f"points must be a number, not {text.strip()[:40]!r}") from None
    if not math.isfinite(value):
        raise ReviewRefused("points must be a finite number")
    return round(value, 4)


def check_text(text: str, what: str, *, required: bool) -> str:
    """A comment or reason, stripped and within :data:`TEXT_LIMIT`; required ones must not be empty."""
    stripped = text.strip()
    if required and not stripped:
        raise ReviewRefused(f"a {what} is required")
    if len(stripped) > TEXT_LIMIT:
        raise ReviewRefused(f"the {what} is {len(stripped)} characters long; keep it under {TEXT_LIMIT}")
    return stripped


def check_open(review: Review) -> None:
    """Refuse any change to a released grade."""
    release = review.release
    if release is not None:
        raise ReviewRefused(f"this grade was released by {release.reviewer} at {release.at} and is final")


def check_bounds(check: CheckResult, points: float) -> None:
    """Refuse points outside 0 … the check's maximum."""
    if not 0 <= points <= check.max_points:
        raise ReviewRefused(f"{check.id}: points must be between 0 and {check.max_points:g}, not {points:g}")


def check_manual_score(check: CheckResult, points: float, review: Review) -> None:
    """A manual item's points: open review, a manual check, within bounds."""
    check_open(review)
    if check.status is not Status.manual:
        raise ReviewRefused(f"{check.id} is not a manual item: change its points with an override and a reason")
    check_bounds(check, points)


def check_override(check: CheckResult, points: float, review: Review) -> None:
    """An override's points: open review, not a manual item, within bounds, different from what counts now."""
    check_open(review)
    if check.status is Status.manual:
        raise ReviewRefused(f"{check.id} is a manual item: score it instead of overriding it")
    check_bounds(check, points)
    current = points_counted(check, review.marks.get(check.id))
    if math.isclose(points, current):
        raise ReviewRefused(f"{check.id} already counts {current:g} points")


def check_release(report: Report, review: Review) -> None:
    """A release: open review, a graded run, every manual item scored."""
    check_open(review)
    if report.outcome != "graded":
        raise ReviewRefused("this run ended in an error and was not graded: grade the submission again first")
    marks = review.marks
    unscored = [c.id for c in report.checks if c.status is Status.manual and c.id not in marks]
    if unscored:
        raise ReviewRefused(f"score every manual item before releasing; still unscored: {', '.join(unscored)}")


def points_counted(check: CheckResult, mark: Mark | None) -> float:
    """The points a check counts after review: the reviewer's when set, else the automatic ones."""
    return mark.points if mark is not None else check.points


@dataclass(frozen=True)
class ReviewedCheck:
    """One check with the points it counts after review and the reviewer's mark, if any."""

    check: CheckResult
    points: float
    mark: Mark | None

    @property
    def is_manual(self) -> bool:
        return self.check.status is Status.manual


@dataclass(frozen=True)
class Totals:
    """A run's totals: automatic, with overrides, and with the manual items' review points."""

    automatic_score: float
    max_score: float
    automatic_passed: bool
    reviewed_score: float  # the automatic checks' points with overrides applied
    review_points: float  # awarded on manual items
    review_points_max: float
    reviewed_passed: bool
    missed_required: tuple[str, ...]

    @property
    def total_with_review(self) -> float:
        return round(self.reviewed_score + self.review_points, 4)

    @property
    def max_with_review(self) -> float:
        return round(self.max_score + self.review_points_max, 4)


def reviewed_checks(report: Report, review: Review) -> list[ReviewedCheck]:
    """Every check of the report, in rubric order, with the points it counts after review."""
    marks = review.marks
    return [ReviewedCheck(check, points_counted(check, marks.get(check.id)), marks.get(check.id))
            for check in report.checks]


def totals(report: Report, review: Review) -> Totals:
    """The totals and the verdict after review. Manual items' points are added beside the score, as in the
    rubric (``review_points``); the verdict is the pass mark over the automatic checks, overrides applied,
    with every required check passed (an override to full points counts as passed)."""
    checks = reviewed_checks(report, review)
    automatic = [c for c in checks if not c.is_manual]
    manual = [c for c in checks if c.is_manual]
    # The automatic score plus each override's difference: a run nobody overrode keeps its score exactly.
    reviewed_score = round(report.score + sum(c.points - c.check.points for c in automatic if c.mark), 4)
    missed = _missed_required(automatic)
    reaches_mark = reviewed_score >= report.pass_mark * report.max_score - 1e-9
    return Totals(
        automatic_score=report.score, max_score=report.max_score, automatic_passed=report.passed,
        reviewed_score=reviewed_score, review_points=round(sum(c.points for c in manual), 4),
        review_points_max=round(sum(c.check.max_points for c in manual), 4),
        reviewed_passed=report.outcome == "graded" and reaches_mark and not missed, missed_required=missed,
    )


def _missed_required(checks: Sequence[ReviewedCheck]) -> tuple[str, ...]:
    def passes(c: ReviewedCheck) -> bool:
        if c.mark is not None:
            return c.points >= c.check.max_points - 1e-9
        return c.check.status is Status.passed

    return tuple(c.check.id for c in checks if c.check.required and not passes(c))
