"""The cohort table's rows: candidate names, latest grading per submission, filters, search, sort, pass rates."""

from __future__ import annotations

import pytest

from grader.models import Report, Status, SubmissionInfo
from grader.results.store import StoredRun
from grader.review import cohort
from grader.review.model import Action, Review, ReviewChange

from .conftest import check, sample_report


@pytest.mark.parametrize(("source", "name"), [
    ("https://git.example.invalid/alice/capstone.git", "alice/capstone"),
    ("git@host.invalid:bob/mlops.git", "bob/mlops"),
    ("/submissions/carol/", "carol"),
    ("/submissions/dave.zip", "dave"),
    ("/submissions/erin.tar.gz", "erin"),
    (None, "(unknown)"),
])
def test_a_candidate_is_named_after_the_last_part_of_the_source(source: str | None, name: str) -> None:
    assert cohort.candidate_name(source) == name


def _graded(run_id: str, source: str, score: float, at: str, lab: str = "lab-a") -> tuple[StoredRun, Report]:
    submission = SubmissionInfo(source=source, kind="directory", digest=f"sha256:{run_id}", files=1, bytes=1)
    report = sample_report(run_id, submission=submission, score=score, passed=score >= 6,
                           missed_required=(), finished_at=at, lab={"id": lab, "version": "1"})
    run = StoredRun(run_id=run_id, lab_id=lab, lab_version="1", submission_source=source,
                    submission_digest=f"sha256:{run_id}", score=score, max_score=8, passed=score >= 6,
                    outcome="graded", started_at=at, finished_at=at)
    return run, report


ROWS = cohort.cohort_rows([
    _graded("a1", "/s/alice", 3, "2026-12-01T10:00"),
    _graded("a2", "/s/alice", 7, "2026-12-02T10:00"),  # alice's latest
    _graded("b1", "/s/bob", 5, "2026-12-01T11:00"),
    _graded("c1", "/s/carol", 8, "2026-12-01T12:00", lab="lab-b"),
], {"b1": Review("b1", (ReviewChange(run_id="b1", action=Action.override, reviewer="Ada", at="t",
                                     check_id="tests-pass", old_points=0, new_points=3, text="flaky"),))})


def _ids(query: cohort.CohortQuery) -> list[str]:
    return [row.run.run_id for row in cohort.select(ROWS, query)]


def test_the_table_shows_the_latest_grading_of_each_submission_newest_first() -> None:
    assert _ids(cohort.CohortQuery()) == ["a2", "c1", "b1"]
    assert _ids(cohort.CohortQuery(every_grading=True)) == ["a2", "c1", "b1", "a1"]


def test_filters_search_and_sort_combine() -> None:
    assert _ids(cohort.CohortQuery(lab="lab-a", sort="candidate", descending=False)) == ["a2", "b1"]
    assert _ids(cohort.CohortQuery(search="CAROL")) == ["c1"]
    assert _ids(cohort.CohortQuery(status="in review")) == ["b1"]
    # b1 counts 8 after review; ties stay newest first
    assert _ids(cohort.CohortQuery(sort="score", descending=False)) == ["a2", "c1", "b1"]


def test_a_row_shows_the_score_and_verdict_after_review() -> None:
    bob = next(row for row in ROWS if row.run.run_id == "b1")
    assert (bob.run.score, bob.reviewed_score, bob.verdict, bob.review_status) == (5, 8, "passed", "in review")


def test_pass_rates_count_automatic_checks_of_graded_runs_only() -> None:
    passing = sample_report("p", checks=(check("readme", Status.passed, 2, 2), check("m", Status.manual, 0, 1)))
    failing = sample_report("f", checks=(check("readme", Status.failed, 0, 2), check("m", Status.manual, 0, 1)))
    broken = sample_report("e", outcome="error", checks=(check("readme", Status.error, 0, 2),))
    rates = cohort.pass_rates([passing, failing, broken])["lab-a"]
    assert [(r.check_id, r.passed, r.counted, r.rate) for r in rates] == [("readme", 1, 2, 0.5)]
