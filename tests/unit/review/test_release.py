"""Release gating: candidate-facing report.md and JSON show review points and overrides only once released."""

from __future__ import annotations

import json
from pathlib import Path

from grader.results.report import markdown
from grader.review import release
from grader.review.desk import ReviewDesk


def _review_then(desk: ReviewDesk) -> None:
    desk.override("run-1", "tests-pass", "3", "the failing test needs the network", "Ada")
    desk.override("run-1", "holdout", "1", "leaked <b>labels</b>", "Ada")
    desk.score_manual("run-1", "problem", "1.5", "clear | motivated", "Ada")


def test_before_release_the_candidate_sees_the_automatic_report_only(desk: ReviewDesk, db_path: Path) -> None:
    _review_then(desk)
    report, _ = desk.open_run("run-1")
    md, as_json = release.released_outputs(db_path, report)
    assert md == markdown.render(report)
    data = json.loads(as_json)
    assert "review" not in data and data["score"] == 5 and data["passed"] is False
    assert "network" not in md and "Review" not in md


def test_after_release_the_candidate_sees_review_points_overrides_and_the_new_verdict(
        desk: ReviewDesk, db_path: Path) -> None:
    _review_then(desk)
    desk.release("run-1", "Grace")
    report, _ = desk.open_run("run-1")
    md, as_json = release.released_outputs(db_path, report)
    assert "## Review" in md and "Released by Grace" in md and "**PASSED**" in md
    assert "Score after review: 6.0 / 8.0" in md
    assert "Total with review points: 7.5 / 10.0" in md
    assert "**tests-pass** changed to 3.0/3.0: the failing test needs the network" in md
    assert "clear &#124; motivated" in md  # escaped like every Markdown cell
    assert "awaits a reviewer" not in md  # the manual item is scored now
    data = json.loads(as_json)
    assert data["score"] == 6 and data["passed"] is True and data["missed_required"] == []
    assert data["review"]["automatic"]["score"] == 5 and data["review"]["reviewed"]["total"] == 7.5
    assert [e["action"] for e in data["review"]["audit"]] == ["override", "override", "score", "release"]


def test_a_hidden_check_changed_by_review_is_counted_never_named_in_markdown(desk: ReviewDesk, db_path: Path) -> None:
    _review_then(desk)
    desk.release("run-1", "Grace")
    md, _ = release.released_outputs(db_path, desk.open_run("run-1")[0])
    assert "holdout" not in md and "labels" not in md
    assert "1 hidden check changed by review" in md


def test_the_stored_automatic_report_is_unchanged_after_release(desk: ReviewDesk) -> None:
    before = desk.open_run("run-1")[0]
    _review_then(desk)
    desk.release("run-1", "Grace")
    assert desk.open_run("run-1")[0] == before
