"""A small graded report (automatic checks, a required one, a hidden one, a manual item) and a review desk
over a results store in a temporary folder, with a clock the tests control."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grader.models import CheckResult, Report, Status, Visibility
from grader.results.store import ResultStore
from grader.review.desk import ReviewDesk
from grader.review.store import ReviewStore


def check(check_id: str, status: Status, points: float, max_points: float, **fields: Any) -> CheckResult:
    fields.setdefault("type", "file")
    return CheckResult(id=check_id, title=f"{check_id} title", section="main", status=status,
                       points=points, max_points=max_points, message=f"{check_id} message", **fields)


def sample_report(run_id: str = "run-1", **changes: Any) -> Report:
    checks = (
        check("readme", Status.passed, 2, 2),
        check("tests-pass", Status.failed, 0, 3, required=True),
        check("holdout", Status.passed, 3, 3, visibility=Visibility.hidden),
        check("problem", Status.manual, 0, 2, type="manual"),
    )
    fields: dict[str, Any] = dict(
        grader_version="test", run_id=run_id, lab={"id": "lab-a", "version": "1", "title": "Lab A"},
        rubric={"id": "lab-a"}, sections={"main": "Main"}, score=5, max_score=8, review_points=0,
        pass_mark=0.7, passed=False, missed_required=("tests-pass",), started_at="2026-12-03T10:00:00+00:00",
        finished_at="2026-12-03T10:01:00+00:00", checks=checks,
    )
    fields.update(changes)
    return Report(**fields)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "results.sqlite3"


@pytest.fixture
def desk(db_path: Path) -> Iterator[ReviewDesk]:
    ticks = itertools.count(1)
    with ResultStore(db_path) as results, ReviewStore(db_path) as reviews:
        results.save(sample_report())
        yield ReviewDesk(results, reviews, clock=lambda: f"2026-12-03T12:00:{next(ticks):02d}+00:00")
