"""The cohort as a reviewer reads it: one row per submission (its latest grading, or every grading), sorted,
filtered and searched, and per lab how often each check passed.

Pure functions over stored runs and their reviews; the web pages and any export read these.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from grader.models import Report, Status
from grader.results.store import StoredRun
from grader.review import rules
from grader.review.model import Review

VERDICTS = ("passed", "not passed", "not graded")
REVIEW_STATUSES = ("not reviewed", "in review", "released")
SORT_KEYS = ("candidate", "lab", "score", "verdict", "status", "graded")
_ARCHIVE_SUFFIX = re.compile(r"(\.git|\.zip|\.tar\.gz|\.tgz|\.tar)$")


def candidate_name(source: str | None) -> str:
    """Who a submission belongs to, as far as its source says: the last part of its path or URL
    (``https://host/alice/capstone.git`` → ``alice/capstone``, ``/subs/bob`` → ``bob``)."""
    if not source:
        return "(unknown)"
    text = source.rstrip("/")
    if "://" in text or text.startswith("git@"):
        parts = [p for p in re.split(r"[/:]", text) if p]
        return _ARCHIVE_SUFFIX.sub("", "/".join(parts[-2:]))
    return _ARCHIVE_SUFFIX.sub("", PurePosixPath(text).name) or text


def verdict_of(run: StoredRun, passed: bool) -> str:
    if run.outcome != "graded":
        return "not graded"
    return "passed" if passed else "not passed"


@dataclass(frozen=True)
class CohortRow:
    """One grading in the cohort table: automatic score, score after review, verdict and review status."""

    run: StoredRun
    candidate: str
    review_status: str
    reviewed_score: float  # overrides applied (the automatic score when not reviewed)
    verdict: str  # after review

    @property
    def graded_at(self) -> str:
        return self.run.finished_at or self.run.started_at


@dataclass(frozen=True)
class CohortQuery:
    """What the reviewer asked of the table: filters, a search text, the sort column and direction."""

    lab: str = ""
    verdict: str = ""
    status: str = ""
    search: str = ""
    sort: str = "graded"
    descending: bool = True
    every_grading: bool = False  # else the latest grading of each submission only


def cohort_rows(reports: Iterable[tuple[StoredRun, Report]], reviews: dict[str, Review]) -> list[CohortRow]:
    """A row per stored run, with the totals its review gives."""
    rows = []
    for run, report in reports:
        review = reviews.get(run.run_id) or Review(run.run_id)
        totals = rules.totals(report, review)
        rows.append(CohortRow(run=run, candidate=candidate_name(run.submission_source),
                              review_status=review.status, reviewed_score=totals.reviewed_score,
                              verdict=verdict_of(run, totals.reviewed_passed)))
    return rows


def select(rows: Sequence[CohortRow], query: CohortQuery) -> list[CohortRow]:
    """The rows the query asks for, in its order. Newest first among equals."""
    chosen = list(rows) if query.every_grading else latest_per_submission(rows)
    needle = query.search.strip().casefold()
    chosen = [
        row for row in chosen
        if (not query.lab or row.run.lab_id == query.lab)
        and (not query.verdict or row.verdict == query.verdict)
        and (not query.status or row.review_status == query.status)
        and (not needle or needle in _searchable(row))
    ]
    chosen.sort(key=lambda row: row.graded_at, reverse=True)
    key = query.sort if query.sort in SORT_KEYS else "graded"
    chosen.sort(key=_SORTERS[key], reverse=query.descending)
    return chosen


def latest_per_submission(rows: Sequence[CohortRow]) -> list[CohortRow]:
    """The newest grading of each (lab, submission source)."""
    latest: dict[tuple[str, str], CohortRow] = {}
    for row in rows:
        key = (row.run.lab_id, row.run.submission_source or row.run.run_id)
        if key not in latest or row.graded_at > latest[key].graded_at:
            latest[key] = row
    return list(latest.values())


def _searchable(row: CohortRow) -> str:
    run = row.run
    return " ".join([row.candidate, run.run_id, run.lab_id, run.submission_source or "",
                     run.submission_digest or ""]).casefold()


_SORTERS = {
    "candidate": lambda row: row.candidate.casefold(),
    "lab": lambda row: row.run.lab_id,
    "score": lambda row: row.reviewed_score / row.run.max_score if row.run.max_score else 0.0,
    "verdict": lambda row: VERDICTS.index(row.verdict),
    "status": lambda row: REVIEW_STATUSES.index(row.review_status),
    "graded": lambda row: row.graded_at,
}


@dataclass(frozen=True)
class CheckPassRate:
    """How many gradings of a lab passed one check (manual items and runs not graded left out)."""

    check_id: str
    title: str
    passed: int
    counted: int

    @property
    def rate(self) -> float:
        return self.passed / self.counted if self.counted else 0.0


def pass_rates(reports: Iterable[Report]) -> dict[str, list[CheckPassRate]]:
    """lab id → each automatic check's pass rate over the given gradings, in rubric order."""
    tallies: dict[str, dict[str, list[int]]] = {}
    titles: dict[tuple[str, str], str] = {}
    for report in reports:
        if report.outcome != "graded":
            continue
        lab = report.lab.get("id", "")
        for check in report.checks:
            if check.status is Status.manual:
                continue
            tally = tallies.setdefault(lab, {}).setdefault(check.id, [0, 0])
            tally[0] += check.status is Status.passed
            tally[1] += 1
            titles[(lab, check.id)] = check.title
    return {lab: [CheckPassRate(check_id, titles[(lab, check_id)], passed, counted)
                  for check_id, (passed, counted) in checks.items()]
            for lab, checks in sorted(tallies.items())}
