"""What candidates see of a review: nothing until the grade is released, then the reviewed points.

Candidate-facing outputs call these instead of rendering the stored report directly:

- :func:`candidate_report` — the Report with released review points applied (checks' points, score, verdict,
  a note in each reviewed check's message); the report unchanged while the review is not released;
- :func:`candidate_markdown` — ``report.md`` of that report, with a "Review" section once released;
- :func:`candidate_json` — ``report.json``'s object of that report, with a ``review`` key once released;
- :func:`released_outputs` — the same for a run in a results store, by run id (exports call this).

Hidden checks stay hidden: the Markdown's review section counts changes to them without naming them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grader.models import CheckResult, Report, Status, Visibility
from grader.results.report import markdown
from grader.results.report.text import format_points
from grader.review import rules
from grader.review.model import Action, Review
from grader.review.store import ReviewStore


def candidate_report(report: Report, review: Review) -> Report:
    """``report`` with the released review applied; ``report`` itself while the review is not released."""
    if not review.released:
        return report
    totals = rules.totals(report, review)
    checks = tuple(_reviewed_check(reviewed) for reviewed in rules.reviewed_checks(report, review))
    return report.model_copy(update={"checks": checks, "score": totals.reviewed_score,
                                     "passed": totals.reviewed_passed, "missed_required": totals.missed_required})


def candidate_markdown(report: Report, review: Review) -> str:
    """``report.md`` for the candidate: the review's points and a "Review" section only once released."""
    text = markdown.render(candidate_report(report, review))
    if not review.released:
        return text
    return text.rstrip("\n") + "\n\n" + "\n".join(_review_section(report, review)) + "\n"


def candidate_json(report: Report, review: Review) -> dict[str, Any]:
    """``report.json``'s object for the candidate: with a ``review`` key (totals and audit log) once released."""
    data: dict[str, Any] = candidate_report(report, review).model_dump(mode="json")
    if review.released:
        data["review"] = review_json(report, review)
    return data


def review_json(report: Report, review: Review) -> dict[str, Any]:
    """The review of a run as JSON: status, totals before and after review, and the whole audit log."""
    totals = rules.totals(report, review)
    release = review.release
    return {
        "run_id": report.run_id,
        "status": review.status,
        "released_at": release.at if release else None,
        "released_by": release.reviewer if release else None,
        "automatic": {"score": totals.automatic_score, "max_score": totals.max_score,
                      "passed": totals.automatic_passed},
        "reviewed": {"score": totals.reviewed_score, "max_score": totals.max_score,
                     "passed": totals.reviewed_passed, "missed_required": list(totals.missed_required),
                     "review_points": totals.review_points, "review_points_max": totals.review_points_max,
                     "total": totals.total_with_review, "max_total": totals.max_with_review},
        "audit": [change.as_json() for change in review.changes],
    }


def released_outputs(db_path: Path, report: Report) -> tuple[str, str]:
    """report.md and report.json texts of a stored run for the candidate, reading its review from the store."""
    with ReviewStore(db_path) as reviews:
        review = reviews.review(report.run_id)
    as_json = json.dumps(candidate_json(report, review), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    return candidate_markdown(report, review), as_json


def _reviewed_check(reviewed: rules.ReviewedCheck) -> CheckResult:
    mark, check = reviewed.mark, reviewed.check
    if mark is None:
        return check
    points = f"{format_points(mark.points)}/{format_points(check.max_points)}"
    if mark.action is Action.score:
        note = f"Reviewer awarded {points}" + (f": {mark.text}" if mark.text else ".")
    else:
        note = f"Changed by review from {format_points(check.points)} to {points}: {mark.text}"
    update: dict[str, object] = {"points": mark.points, "message": f"{check.message}\n{note}"}
    if reviewed.is_manual:  # scored now: shown like a partial automatic check, no longer "awaits a reviewer"
        update["status"] = Status.passed if mark.points >= check.max_points - 1e-9 else Status.failed
    return check.model_copy(update=update)


def _review_section(report: Report, review: Review) -> list[str]:
    escape = markdown.escape_md
    totals = rules.totals(report, review)
    release = review.release
    assert release is not None
    verdict = "PASSED" if totals.reviewed_passed else "NOT PASSED"
    lines = ["## Review", "",
             f"Released by {escape(release.reviewer)} on {escape(release.at)}. Result after review: **{verdict}**.",
             "",
             f"- Automatic score: {format_points(totals.automatic_score)} / {format_points(totals.max_score)}",
             f"- Score after review: {format_points(totals.reviewed_score)} / {format_points(totals.max_score)}"]
    if totals.review_points_max:
        lines += [f"- Review points (manual items): {format_points(totals.review_points)} / "
                  f"{format_points(totals.review_points_max)}",
                  f"- Total with review points: {format_points(totals.total_with_review)} / "
                  f"{format_points(totals.max_with_review)}"]
    by_id = {c.id: c for c in report.checks}
    public, hidden = [], 0
    for check_id, mark in review.marks.items():
        check = by_id.get(check_id)
        if check is None:
            continue
        if check.visibility is Visibility.hidden:
            hidden += 1
            continue
        what = "awarded" if mark.action is Action.score else "changed to"
        reason = f": {escape(mark.text)}" if mark.text else ""
        public.append(f"- **{escape(check_id)}** {what} {format_points(mark.points)}/"
                      f"{format_points(check.max_points)}{reason}")
    if public or hidden:
        lines += ["", "Points set by the reviewer:", "", *public]
        if hidden:
            lines.append(f"- {hidden} hidden check{'s' if hidden > 1 else ''} changed by review")
    return lines
