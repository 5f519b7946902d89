"""The review's rules: bounds, reasons, who may change what, totals before and after review."""

from __future__ import annotations

import pytest

from grader.models import Status
from grader.review import rules
from grader.review.desk import ReviewDesk, RunNotFound, check_reviewer
from grader.review.model import Action
from grader.review.rules import ReviewRefused

from .conftest import sample_report


@pytest.mark.parametrize(("typed", "value"), [("2", 2.0), (" 1.5 ", 1.5), ("1,5", 1.5), ("0", 0.0)])
def test_points_are_read_as_typed_by_a_reviewer(typed: str, value: float) -> None:
    assert rules.parse_points(typed) == value


@pytest.mark.parametrize(("typed", "says"), [("", "enter the points"), ("two", "must be a number"),
                                             ("nan", "finite"), ("inf", "finite")])
def test_points_that_are_not_a_number_are_refused_with_the_reason(typed: str, says: str) -> None:
    with pytest.raises(ReviewRefused, match=says):
        rules.parse_points(typed)


@pytest.mark.parametrize("points", ["-0.5", "2.5", "100"])
def test_a_manual_score_outside_its_bounds_is_refused_naming_the_bounds(desk: ReviewDesk, points: str) -> None:
    with pytest.raises(ReviewRefused, match=r"problem: points must be between 0 and 2"):
        desk.score_manual("run-1", "problem", points, "", "Ada")
    assert desk.reviews.review("run-1").changes == ()


def test_a_manual_score_within_bounds_is_kept_with_its_comment_and_counts_as_review_points(desk: ReviewDesk) -> None:
    desk.score_manual("run-1", "problem", "1.5", "clear problem statement", "Ada")
    report, review = desk.open_run("run-1")
    mark = review.marks["problem"]
    assert (mark.points, mark.text, mark.reviewer, mark.action) == (1.5, "clear problem statement", "Ada",
                                                                    Action.score)
    totals = rules.totals(report, review)
    assert (totals.automatic_score, totals.reviewed_score, totals.review_points) == (5, 5, 1.5)
    assert (totals.total_with_review, totals.max_with_review) == (6.5, 10)


def test_an_automatic_check_cannot_be_scored_as_a_manual_item(desk: ReviewDesk) -> None:
    with pytest.raises(ReviewRefused, match="not a manual item: change its points with an override"):
        desk.score_manual("run-1", "readme", "1", "", "Ada")


def test_an_override_needs_a_reason(desk: ReviewDesk) -> None:
    with pytest.raises(ReviewRefused, match="reason for the override is required"):
        desk.override("run-1", "tests-pass", "3", "   ", "Ada")


def test_an_override_outside_bounds_is_refused(desk: ReviewDesk) -> None:
    with pytest.raises(ReviewRefused, match="between 0 and 3, not 4"):
        desk.override("run-1", "tests-pass", "4", "flaky test", "Ada")


def test_an_override_to_the_points_already_counted_is_refused(desk: ReviewDesk) -> None:
    with pytest.raises(ReviewRefused, match="already counts 2 points"):
        desk.override("run-1", "readme", "2", "no change", "Ada")


def test_a_manual_item_is_scored_not_overridden(desk: ReviewDesk) -> None:
    with pytest.raises(ReviewRefused, match="is a manual item: score it"):
        desk.override("run-1", "problem", "1", "why", "Ada")


def test_an_override_changes_score_and_verdict_but_never_the_automatic_result(desk: ReviewDesk) -> None:
    desk.override("run-1", "tests-pass", "3", "the test failed on a network blip", "Ada")
    report, review = desk.open_run("run-1")
    assert report.checks[1].points == 0 and report.checks[1].status is Status.failed  # stored report unchanged
    assert report.score == 5 and not report.passed
    totals = rules.totals(report, review)
    assert totals.reviewed_score == 8 and totals.reviewed_passed and totals.missed_required == ()


def test_a_partial_override_of_a_required_check_still_misses_it(desk: ReviewDesk) -> None:
    desk.override("run-1", "tests-pass", "2", "most tests pass", "Ada")
    totals = rules.totals(*desk.open_run("run-1"))
    assert totals.missed_required == ("tests-pass",) and not totals.reviewed_passed


def test_the_audit_log_keeps_who_when_old_new_and_why_of_every_change(desk: ReviewDesk) -> None:
    desk.override("run-1", "readme", "1", "README is a template", "Ada")
    desk.override("run-1", "readme", "1.5", "on second reading", "Grace")
    desk.score_manual("run-1", "problem", "2", "", "Ada")
    entries = [c.as_json() for c in desk.reviews.review("run-1").changes]
    assert [(e["action"], e["check"], e["reviewer"], e["old_points"], e["new_points"], e["text"]) for e in entries] == [
        ("override", "readme", "Ada", 2, 1, "README is a template"),
        ("override", "readme", "Grace", 1, 1.5, "on second reading"),
        ("score", "problem", "Ada", None, 2, ""),
    ]
    assert [e["at"] for e in entries] == [f"2026-12-03T12:00:0{n}+00:00" for n in (1, 2, 3)]


def test_release_needs_every_manual_item_scored(desk: ReviewDesk) -> None:
    with pytest.raises(ReviewRefused, match="still unscored: problem"):
        desk.release("run-1", "Ada")


def test_a_released_grade_is_final(desk: ReviewDesk) -> None:
    desk.score_manual("run-1", "problem", "1", "", "Ada")
    desk.release("run-1", "Ada")
    for attempt in (lambda: desk.score_manual("run-1", "problem", "2", "", "Grace"),
                    lambda: desk.override("run-1", "readme", "0", "copied", "Grace"),
                    lambda: desk.release("run-1", "Grace")):
        with pytest.raises(ReviewRefused, match=r"released by Ada .* and is final"):
            attempt()
    assert desk.reviews.review("run-1").status == "released"


def test_a_run_that_was_not_graded_cannot_be_released(desk: ReviewDesk) -> None:
    desk.results.save(sample_report("run-err", outcome="error", error="engine lost"))
    with pytest.raises(ReviewRefused, match="not graded"):
        desk.release("run-err", "Ada")


def test_a_change_decided_on_an_old_view_is_refused(desk: ReviewDesk) -> None:
    from grader.review.model import ReviewChange
    from grader.review.store import StaleReview

    desk.override("run-1", "readme", "1", "thin", "Ada")
    late = ReviewChange(run_id="run-1", action=Action.override, reviewer="Grace", at="t", check_id="readme",
                        old_points=2, new_points=0, text="saw the old page")
    with pytest.raises(StaleReview, match="reload the page"):
        desk.reviews.append(late, expected_entries=0)


def test_unknown_runs_and_checks_are_named(desk: ReviewDesk) -> None:
    with pytest.raises(RunNotFound, match="no graded run 'nope'"):
        desk.override("nope", "readme", "1", "x", "Ada")
    with pytest.raises(ReviewRefused, match="has no check 'ghost'"):
        desk.override("run-1", "ghost", "1", "x", "Ada")


@pytest.mark.parametrize(("name", "says"), [("  ", "enter your name"), ("x" * 81, "at most 80"),
                                            ("Ada\x1b[31m", "printable")])
def test_a_reviewer_needs_a_printable_name(name: str, says: str) -> None:
    with pytest.raises(ReviewRefused, match=says):
        check_reviewer(name)


def test_review_text_is_bounded(desk: ReviewDesk) -> None:
    with pytest.raises(ReviewRefused, match="keep it under 2000"):
        desk.override("run-1", "readme", "1", "x" * 2001, "Ada")


def test_totals_of_an_unreviewed_run_are_the_automatic_ones() -> None:
    from grader.review.model import Review

    totals = rules.totals(sample_report(), Review("run-1"))
    assert (totals.reviewed_score, totals.review_points, totals.review_points_max) == (5, 0, 2)
    assert not totals.reviewed_passed and totals.missed_required == ("tests-pass",)


def test_a_form_sent_after_someone_else_changed_the_review_is_refused(desk: ReviewDesk) -> None:
    from grader.review.store import StaleReview

    desk.score_manual("run-1", "problem", "1", "", "Ada", seen_entries=0)
    with pytest.raises(StaleReview, match="changed since you opened it"):
        desk.score_manual("run-1", "problem", "2", "", "Grace", seen_entries=0)
    assert desk.reviews.review("run-1").marks["problem"].points == 1
