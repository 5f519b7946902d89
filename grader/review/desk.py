"""The reviewer's actions on a graded run: score a manual item, override a check, release the grade.

Each action reads the run's report and review, applies the rules, and appends one entry to the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from grader.errors import BadInputError
from grader.models import CheckResult, Report
from grader.results.store import ResultStore
from grader.review import rules
from grader.review.model import Action, Review, ReviewChange
from grader.review.store import ReviewStore, StaleReview

REVIEWER_NAME_LIMIT = 80


class RunNotFound(BadInputError):
    """No stored run has this id."""


def utc_now() -> str:
    """The current time as the audit log writes it."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def check_reviewer(name: str) -> str:
    """A reviewer's name as the audit log records it: stripped, not empty, short, printable."""
    stripped = " ".join(name.split())
    if not stripped:
        raise rules.ReviewRefused("enter your name: every change is recorded under it")
    if len(stripped) > REVIEWER_NAME_LIMIT or not stripped.isprintable():
        raise rules.ReviewRefused(f"a reviewer's name is printable text of at most {REVIEWER_NAME_LIMIT} characters")
    return stripped


@dataclass
class ReviewDesk:
    """The review actions over one results store and its review tables."""

    results: ResultStore
    reviews: ReviewStore
    clock: Callable[[], str] = utc_now

    def open_run(self, run_id: str) -> tuple[Report, Review]:
        """The stored report of a run and its review, or RunNotFound."""
        report = self.results.get(run_id)
        if report is None:
            raise RunNotFound(f"no graded run {run_id!r} in {self.results.path}")
        return report, self.reviews.review(run_id)

    def score_manual(self, run_id: str, check_id: str, points: str, comment: str, reviewer: str,
                     seen_entries: int | None = None) -> ReviewChange:
        """Set the points (and a comment) of a manual item. ``seen_entries``: the length of the audit log the
        reviewer saw when deciding (a page's form carries it); another change since then refuses this one."""
        report, review = self._open_unchanged(run_id, seen_entries)
        check = _check(report, check_id)
        value = rules.parse_points(points)
        rules.check_manual_score(check, value, review)
        mark = review.marks.get(check_id)
        change = ReviewChange(run_id=run_id, action=Action.score, reviewer=check_reviewer(reviewer), at=self.clock(),
                              check_id=check_id, old_points=mark.points if mark else None, new_points=value,
                              text=rules.check_text(comment, "comment", required=False))
        self.reviews.append(change, expected_entries=len(review.changes))
        return change

    def override(self, run_id: str, check_id: str, points: str, reason: str, reviewer: str,
                 seen_entries: int | None = None) -> ReviewChange:
        """Change the points a check counts, with a reason; the automatic result stays in the report."""
        report, review = self._open_unchanged(run_id, seen_entries)
        check = _check(report, check_id)
        value = rules.parse_points(points)
        why = rules.check_text(reason, "reason for the override", required=True)
        rules.check_override(check, value, review)
        old = rules.points_counted(check, review.marks.get(check_id))
        change = ReviewChange(run_id=run_id, action=Action.override, reviewer=check_reviewer(reviewer),
                              at=self.clock(), check_id=check_id, old_points=old, new_points=value, text=why)
        self.reviews.append(change, expected_entries=len(review.changes))
        return change

    def release(self, run_id: str, reviewer: str, seen_entries: int | None = None) -> ReviewChange:
        """Mark the grade final: from now on candidate-facing outputs include the review."""
        report, review = self._open_unchanged(run_id, seen_entries)
        rules.check_release(report, review)
        totals = rules.totals(report, review)
        change = ReviewChange(run_id=run_id, action=Action.release, reviewer=check_reviewer(reviewer), at=self.clock(),
                              old_points=totals.automatic_score, new_points=totals.total_with_review)
        self.reviews.append(change, expected_entries=len(review.changes))
        return change

    def _open_unchanged(self, run_id: str, seen_entries: int | None) -> tuple[Report, Review]:
        report, review = self.open_run(run_id)
        if seen_entries is not None and seen_entries != len(review.changes):
            raise StaleReview(run_id)
        return report, review


def _check(report: Report, check_id: str) -> CheckResult:
    found = next((c for c in report.checks if c.id == check_id), None)
    if found is None:
        raise rules.ReviewRefused(f"run {report.run_id} has no check {check_id!r}")
    return found
